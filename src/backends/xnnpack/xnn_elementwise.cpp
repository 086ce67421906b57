// XNNPACK backend: elementwise operators. Binary Add, Sub, Mul, Div, Max, Min with numpy broadcasting (the *_nd_f32
// operators, up to XNN_MAX_TENSOR_DIMS dimensions); unary Relu, Clip, LeakyRelu, Sigmoid, HardSwish, Abs, Neg, Sqrt,
// Floor, Ceil, Elu, Round (the *_nc_f32 operators over the flat tensor); Softmax over the last axis.
// Measured against the reference kernels (one thread, 256 to 262144 elements): XNNPACK is as fast or faster at every
// size (2-15x for Sigmoid, Round, Floor, HardSwish, Softmax), so no size threshold. XNNPACK's binary operators
// parallelise over the outer dimensions of the compressed shape only, so a same-shape or scalar-operand product
// would run on one thread: those are split into one flat chunk per thread, each on its own operator.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/xnnpack/xnn_common.hpp"
#include "ops/kernel_util.hpp"

namespace nnport::xnn {

namespace {

enum class Bin { kAdd, kSub, kMul, kDiv, kMax, kMin };

bool binary_op(const ir::Node& n, Bin* op) {
    static const std::pair<const char*, Bin> kOps[] = {{"Add", Bin::kAdd}, {"Sub", Bin::kSub}, {"Mul", Bin::kMul},
                                                       {"Div", Bin::kDiv}, {"Max", Bin::kMax}, {"Min", Bin::kMin}};
    for (const auto& [name, b] : kOps) {
        if (is_onnx(n, name)) {
            *op = b;
            return true;
        }
    }
    return false;
}

const char* const kUnary[] = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSwish", "Abs",
                              "Neg",  "Sqrt", "Floor",     "Ceil",    "Elu",       "Round"};

bool is_unary(const ir::Node& n) {
    for (const char* u : kUnary) {
        if (is_onnx(n, u)) return true;
    }
    return false;
}

/// A scalar bound of Clip (input i, or the legacy attribute) into *v, left as is when absent; why not usable.
std::string clip_bound(const ir::Node& n, const ConstantFn& constant, size_t i, float* v) {
    const char* name = i == 1 ? "min" : "max";
    if (n.has_attr(name)) {
        *v = attrs_of(n).attr_float(name);
        return {};
    }
    if (!n.input(i)) return {};
    const Tensor* t = constant(n.input(i));
    if (!t) return std::string("Clip ") + name + " is not a constant";
    if (t->dtype() != DType::kFloat32 || t->numel() != 1) return std::string("Clip ") + name + " is not a float32 scalar";
    *v = t->data<float>()[0];
    return {};
}

std::string elementwise_obstacle(const ir::Node& n, const ConstantFn& constant) {
    Bin bin;
    const bool binary = binary_op(n, &bin);
    if (!binary && !is_unary(n) && !is_onnx(n, "Softmax")) return "op not implemented by the XNNPACK backend";
    if (n.outputs().size() != 1 || !n.output(0)) return "expected one output";
    std::string why = need_f32(n.input(0), "input 0");
    if (!why.empty()) return why;
    if (binary) {
        if (n.inputs().size() != 2) return "only two inputs are supported";
        why = need_f32(n.input(1), "input 1");
        if (!why.empty()) return why;
        for (const ir::Value* v : {n.input(0), n.input(1), n.output(0)}) {
            if (v->type.has_shape && v->type.rank() > XNN_MAX_TENSOR_DIMS) {
                return "rank " + std::to_string(v->type.rank()) + " above XNNPACK's " +
                       std::to_string(XNN_MAX_TENSOR_DIMS);
            }
        }
    } else if (is_onnx(n, "Clip")) {
        float lo = -kInf, hi = kInf;
        why = clip_bound(n, constant, 1, &lo);
        if (why.empty()) why = clip_bound(n, constant, 2, &hi);
        if (!why.empty()) return why;
        if (!(lo < hi)) return "Clip with min >= max (XNNPACK needs min < max)";
    } else if (is_onnx(n, "LeakyRelu")) {
        if (!std::isfinite(attrs_of(n).attr_float("alpha"))) return "LeakyRelu alpha is not finite";
    } else if (is_onnx(n, "Elu")) {
        const float alpha = attrs_of(n).attr_float("alpha");
        if (!(alpha > 0.0f) || !std::isnormal(alpha)) return "Elu alpha must be positive and normal for XNNPACK";
    } else if (is_onnx(n, "Softmax")) {
        const ir::ValueType& t = n.input(0)->type;
        if (!t.has_shape || t.dims.empty()) return "Softmax input of unknown or zero rank";
        auto axis = normalize_axis(attrs_of(n).attr_int("axis"), t.rank());
        if (!axis.is_ok() || *axis != t.rank() - 1) return "Softmax over an axis other than the last";
    }
    return {};
}

/// Binary elementwise with broadcasting.
class BinaryKernel final : public BackendKernel {
public:
    BinaryKernel(const ir::Node& n, Bin op) : node_(&n), bin_(op) {}

    /// One operator per thread of the session's pool (flat chunks run side by side).
    Status init(int threads) {
        for (int t = 0; t < std::max(1, threads); ++t) {
            xnn_operator_t op = nullptr;
            xnn_status s = xnn_status_success;
            switch (bin_) {
                case Bin::kAdd: s = xnn_create_add_nd_f32(-kInf, kInf, 0, &op); break;
                case Bin::kSub: s = xnn_create_subtract_nd_f32(-kInf, kInf, 0, &op); break;
                case Bin::kMul: s = xnn_create_multiply_nd_f32(-kInf, kInf, 0, &op); break;
                case Bin::kDiv: s = xnn_create_divide_nd_f32(-kInf, kInf, 0, &op); break;
                case Bin::kMax: s = xnn_create_maximum_nd_f32(0, &op); break;
                case Bin::kMin: s = xnn_create_minimum_nd_f32(0, &op); break;
            }
            if (s != xnn_status_success) return call_error(*node_, "binary create", s);
            ops_.emplace_back(op);
        }
        return Status::ok();
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
        const Tensor& a = ctx.input(0);
        const Tensor& b = ctx.input(1);
        if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32) {
            return ctx.input_error("inputs must be float32");
        }
        NNPORT_ASSIGN_OR_RETURN(Shape out, broadcast_shapes(a.shape(), b.shape()));
        if (static_cast<int64_t>(out.size()) > XNN_MAX_TENSOR_DIMS) {
            return unsupported(node_->describe() + ": rank above XNNPACK's " + std::to_string(XNN_MAX_TENSOR_DIMS));
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out));
        const int64_t n = y->numel();
        if (n == 0) return Status::ok();
        const float *pa = a.data<float>(), *pb = b.data<float>();
        float* py = y->data<float>();
        std::lock_guard<std::mutex> lock(mu_);
        return run_binary(ctx, ops_, a, b, pa, pb, py, n, [this](auto... args) { return run_op(args...); });
    }

private:
    Status run_op(xnn_operator_t op, size_t ra, const size_t* sa, size_t rb, const size_t* sb, const float* pa,
                  const float* pb, float* py, pthreadpool_t tp) const {
        xnn_status s = xnn_status_success;
        switch (bin_) {
            case Bin::kAdd: s = xnn_setup_add_nd_f32(op, ra, sa, rb, sb, pa, pb, py, tp); break;
            case Bin::kSub: s = xnn_setup_subtract_nd_f32(op, ra, sa, rb, sb, pa, pb, py, tp); break;
            case Bin::kMul: s = xnn_setup_multiply_nd_f32(op, ra, sa, rb, sb, pa, pb, py, tp); break;
            case Bin::kDiv: s = xnn_setup_divide_nd_f32(op, ra, sa, rb, sb, pa, pb, py, tp); break;
            case Bin::kMax: s = xnn_setup_maximum_nd_f32(op, ra, sa, rb, sb, pa, pb, py, tp); break;
            case Bin::kMin: s = xnn_setup_minimum_nd_f32(op, ra, sa, rb, sb, pa, pb, py, tp); break;
        }
        if (s != xnn_status_success) return call_error(*node_, "binary setup", s);
        s = xnn_run_operator(op, tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        return Status::ok();
    }

    const ir::Node* node_;
    Bin bin_;
    std::mutex mu_;
    std::vector<OpPtr> ops_;
};

using UnarySetup = xnn_status (*)(xnn_operator_t, size_t, const float*, float*, pthreadpool_t);

/// Unary elementwise over the flat tensor (an nc operator of one channel, run with numel rows: XNNPACK treats
/// that as one contiguous vector and splits it in blocks across threads).
class UnaryKernel final : public BackendKernel {
public:
    explicit UnaryKernel(const ir::Node& n) : node_(&n) {}

    Status init(const ConstantFn& constant) {
        const std::string& t = node_->op_type();
        const AttrAccess a = attrs_of(*node_);
        xnn_operator_t op = nullptr;
        xnn_status s = xnn_status_success;
        if (t == "Relu" || t == "Clip") {
            float lo = 0.0f, hi = kInf;
            if (t == "Clip") {
                lo = -kInf;
                clip_bound(*node_, constant, 1, &lo);
                clip_bound(*node_, constant, 2, &hi);
            }
            s = xnn_create_clamp_nc_f32(1, 1, 1, lo, hi, 0, &op);
            setup_ = xnn_setup_clamp_nc_f32;
        } else if (t == "LeakyRelu") {
            s = xnn_create_leaky_relu_nc_f32(1, 1, 1, a.attr_float("alpha"), 0, &op);
            setup_ = xnn_setup_leaky_relu_nc_f32;
        } else if (t == "Elu") {
            s = xnn_create_elu_nc_f32(1, 1, 1, a.attr_float("alpha"), 0, &op);
            setup_ = xnn_setup_elu_nc_f32;
        } else if (t == "Sigmoid") {
            s = xnn_create_sigmoid_nc_f32(1, 1, 1, 0, &op);
            setup_ = xnn_setup_sigmoid_nc_f32;
        } else if (t == "HardSwish") {
            s = xnn_create_hardswish_nc_f32(1, 1, 1, 0, &op);
            setup_ = xnn_setup_hardswish_nc_f32;
        } else if (t == "Abs") {
            s = xnn_create_abs_nc_f32(1, 1, 1, 0, &op);
            setup_ = xnn_setup_abs_nc_f32;
        } else if (t == "Neg") {
            s = xnn_create_negate_nc_f32(1, 1, 1, 0, &op);
            setup_ = xnn_setup_negate_nc_f32;
        } else if (t == "Sqrt") {
            s = xnn_create_square_root_nc_f32(1, 1, 1, 0, &op);
            setup_ = xnn_setup_square_root_nc_f32;
        } else if (t == "Floor") {
            s = xnn_create_floor_nc_f32(1, 1, 1, 0, &op);
            setup_ = xnn_setup_floor_nc_f32;
        } else if (t == "Ceil") {
            s = xnn_create_ceiling_nc_f32(1, 1, 1, 0, &op);
            setup_ = xnn_setup_ceiling_nc_f32;
        } else if (t == "Round") {
            s = xnn_create_bankers_rounding_nc_f32(1, 1, 1, 0, &op);
            setup_ = xnn_setup_bankers_rounding_nc_f32;
        } else {
            return internal_error(node_->describe() + ": not a unary op of the XNNPACK backend");
        }
        if (s != xnn_status_success) return call_error(*node_, "unary create", s);
        op_.reset(op);
        return Status::ok();
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32) return ctx.input_error("input must be float32");
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x.shape()));
        if (y->numel() == 0) return Status::ok();
        std::lock_guard<std::mutex> lock(mu_);
        const pthreadpool_t tp = threadpool(ctx, x.numel(), kElementsPerThread);
        xnn_status s = setup_(op_.get(), static_cast<size_t>(x.numel()), x.data<float>(), y->data<float>(), tp);
        if (s != xnn_status_success) return call_error(*node_, "unary setup", s);
        s = xnn_run_operator(op_.get(), tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        return Status::ok();
    }

private:
    const ir::Node* node_;
    UnarySetup setup_ = nullptr;
    std::mutex mu_;
    OpPtr op_;
};

/// Softmax over the last axis: rows of `channels` (the operator is made per row length).
class SoftmaxKernel final : public BackendKernel {
public:
    explicit SoftmaxKernel(const ir::Node& n) : node_(&n) {}

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() < 1) return ctx.input_error("input must be float32, rank >= 1");
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x.shape()));
        if (y->numel() == 0) return Status::ok();
        const int64_t c = x.shape().back();
        std::lock_guard<std::mutex> lock(mu_);
        if (!op_ || channels_ != c) {
            xnn_operator_t op = nullptr;
            const size_t cs = static_cast<size_t>(c);
            const xnn_status s = xnn_create_softmax_nc_f32(cs, cs, cs, 0, &op);
            if (s != xnn_status_success) return call_error(*node_, "xnn_create_softmax_nc_f32", s);
            op_.reset(op);
            channels_ = c;
        }
        const pthreadpool_t tp = threadpool(ctx, x.numel(), kElementsPerThread);
        xnn_status s = xnn_setup_softmax_nc_f32(op_.get(), static_cast<size_t>(x.numel() / c), x.data<float>(),
                                                y->data<float>(), tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_setup_softmax_nc_f32", s);
        s = xnn_run_operator(op_.get(), tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        return Status::ok();
    }

private:
    const ir::Node* node_;
    std::mutex mu_;
    OpPtr op_;
    int64_t channels_ = -1;
};

}  // namespace

Support elementwise_supports(const ir::Node& n, const ConstantFn& constant) {
    const std::string why = elementwise_obstacle(n, constant);
    if (!why.empty()) return Support::no(why);
    return Support::yes();
}

Result<KernelPtr> elementwise_prepare(const ir::Node& n, const PrepareContext& ctx) {
    Bin bin;
    if (binary_op(n, &bin)) {
        auto k = std::make_unique<BinaryKernel>(n, bin);
        NNPORT_RETURN_IF_ERROR(k->init(ctx.threads));
        return KernelPtr(std::move(k));
    }
    if (is_onnx(n, "Softmax")) return KernelPtr(std::make_unique<SoftmaxKernel>(n));
    auto k = std::make_unique<UnaryKernel>(n);
    NNPORT_RETURN_IF_ERROR(k->init(ctx.constant));
    return KernelPtr(std::move(k));
}

}  // namespace nnport::xnn

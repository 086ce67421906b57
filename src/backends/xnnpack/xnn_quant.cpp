// XNNPACK backend: int8 quantization operators. QuantizeLinear float32 -> uint8/int8 and DequantizeLinear
// uint8/int8 -> float32 with a constant per-tensor scale and zero point (xnn_create_convert_nc_f32_qu8/_qs8 and
// xnn_create_convert_nc_qu8_f32/_qs8_f32, one channel run with numel rows: XNNPACK treats that as one contiguous
// vector and splits it in blocks across threads); com.nnport QLinearAdd with constant per-tensor parameters and an
// Identity, Relu or Clip activation (xnn_create_add_nd_qu8/_qs8, the activation as the output range).
//
// Differences from the reference kernels (tested in XnnInt8.*):
// - QuantizeLinear: XNNPACK multiplies by a float32 reciprocal of the scale where ONNX divides, so the result is off
//   by one step where x / scale lies within about an ulp of a rounding boundary (n + 0.5); a NaN input gives the
//   type's maximum (XNNPACK's min(x, max) returns max for NaN) where the reference gives the minimum.
// - DequantizeLinear: exact ((x - zp) as float times the scale, like the reference).
// - QLinearAdd: XNNPACK requantizes in fixed point, which can differ from the reference's float arithmetic by one
//   quantization step; XNNPACK takes A_scale / C_scale and B_scale / C_scale only in [2^-10, 2^8) (declined outside).
#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/xnnpack/xnn_common.hpp"
#include "ops/kernel_util.hpp"
#include "ops/quant_util.hpp"

namespace nnport::xnn {

namespace {

bool is_int8(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

/// Why input i of `n` (named `what`) is not a constant float32 scale XNNPACK can take (empty: it is); the value.
std::string scale_obstacle(const ir::Node& n, const ConstantFn& constant, size_t i, const char* what, float* v) {
    const ir::Value* in = n.input(i);
    if (!in) return std::string(what) + " is missing";
    const Tensor* t = constant(in);
    if (!t) return std::string(what) + " is not a constant";
    if (t->dtype() != DType::kFloat32) return std::string(what) + " is " + dtype_name(t->dtype()) + " (float32 only)";
    if (t->numel() != 1) return std::string(what) + " is not a scalar (per-axis quantization is not supported)";
    *v = t->data<float>()[0];
    if (!(*v > 0.0f) || !std::isnormal(*v) || !std::isnormal(1.0f / *v)) {
        return std::string(what) + " must be positive and normal with a normal reciprocal";
    }
    return {};
}

/// Why input i (a zero point of type `type`, 0 when absent) does not fit (empty: it does); the value.
std::string zero_point_obstacle(const ir::Node& n, const ConstantFn& constant, size_t i, const char* what, DType type,
                                int32_t* v) {
    *v = 0;
    const ir::Value* in = i < n.inputs().size() ? n.input(i) : nullptr;
    if (!in) return {};
    const Tensor* t = constant(in);
    if (!t) return std::string(what) + " is not a constant";
    if (t->dtype() != type) {
        return std::string(what) + " is " + dtype_name(t->dtype()) + ", expected " + dtype_name(type);
    }
    if (t->numel() != 1) return std::string(what) + " is not a scalar (per-axis quantization is not supported)";
    *v = quant::zero_point_values(t)[0];
    return {};
}

/// Per-tensor parameters of a QuantizeLinear / DequantizeLinear node: scale, zero point and the quantized type.
struct QParams {
    float scale = 1.0f;
    int32_t zp = 0;
    DType type = DType::kUInt8;
};

std::string qdq_obstacle(const ir::Node& n, const ConstantFn& constant, bool quantize, QParams* p) {
    if (n.outputs().size() != 1 || !n.output(0)) return "expected one output";
    if (n.inputs().empty() || !n.input(0)) return "x is missing";
    const AttrAccess a = attrs_of(n);
    if (a.attr_int("block_size") != 0) return "blocked quantization (block_size) is not supported";
    const DType x = n.input(0)->type.dtype;
    if (quantize) {
        std::string why = need_f32(n.input(0), "x");
        if (!why.empty()) return why;
        if (a.attr_int("output_dtype") != 0) return "output_dtype is set (only the zero point's type is supported)";
        if (a.has_attr("saturate") && a.attr_int("saturate") != 1) return "saturate=0 is not supported";
        const ir::Value* zp = n.inputs().size() > 2 ? n.input(2) : nullptr;
        p->type = zp ? zp->type.dtype : DType::kUInt8;
        if (!is_int8(p->type)) {
            return std::string("quantizing to ") + dtype_name(p->type) + " (XNNPACK: uint8 and int8 only)";
        }
    } else {
        if (!is_int8(x)) return std::string("x is ") + dtype_name(x) + " (XNNPACK: uint8 and int8 only)";
        p->type = x;
        if (n.output(0)->type.dtype != DType::kFloat32) return "the output is not float32";
    }
    std::string why = scale_obstacle(n, constant, 1, quantize ? "y_scale" : "x_scale", &p->scale);
    if (!why.empty()) return why;
    why = zero_point_obstacle(n, constant, 2, quantize ? "y_zero_point" : "x_zero_point", p->type, &p->zp);
    if (!why.empty()) return why;
    const ir::Value* zp = n.inputs().size() > 2 ? n.input(2) : nullptr;
    if (zp && constant(zp)->shape() != constant(n.input(1))->shape()) {
        return "the zero point's shape differs from the scale's (the reference reports the error)";
    }
    return {};
}

/// QuantizeLinear / DequantizeLinear over the flat tensor.
class ConvertKernel final : public BackendKernel {
public:
    ConvertKernel(const ir::Node& n, bool quantize, const QParams& p) : node_(&n), quantize_(quantize), p_(p) {}

    Status init() {
        xnn_operator_t op = nullptr;
        xnn_status s;
        const bool u8 = p_.type == DType::kUInt8;
        if (quantize_) {
            s = u8 ? xnn_create_convert_nc_f32_qu8(1, 1, 1, p_.scale, static_cast<uint8_t>(p_.zp), 0, 255, 0, &op)
                   : xnn_create_convert_nc_f32_qs8(1, 1, 1, p_.scale, static_cast<int8_t>(p_.zp), -128, 127, 0, &op);
        } else {
            s = u8 ? xnn_create_convert_nc_qu8_f32(1, 1, 1, p_.scale, static_cast<uint8_t>(p_.zp), 0, &op)
                   : xnn_create_convert_nc_qs8_f32(1, 1, 1, p_.scale, static_cast<int8_t>(p_.zp), 0, &op);
        }
        if (s != xnn_status_success) return call_error(*node_, "convert create", s);
        op_.reset(op);
        return Status::ok();
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        const DType in = quantize_ ? DType::kFloat32 : p_.type, out = quantize_ ? p_.type : DType::kFloat32;
        if (x.dtype() != in) return ctx.input_error(std::string("x must be ") + dtype_name(in));
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, out, x.shape()));
        const size_t n = static_cast<size_t>(x.numel());
        if (n == 0) return Status::ok();
        std::lock_guard<std::mutex> lock(mu_);
        const pthreadpool_t tp = threadpool(ctx, x.numel(), kElementsPerThread);
        xnn_status s;
        xnn_operator_t op = op_.get();
        if (quantize_) {
            s = p_.type == DType::kUInt8 ? xnn_setup_convert_nc_f32_qu8(op, n, x.data<float>(), y->data<uint8_t>(), tp)
                                         : xnn_setup_convert_nc_f32_qs8(op, n, x.data<float>(), y->data<int8_t>(), tp);
        } else {
            s = p_.type == DType::kUInt8 ? xnn_setup_convert_nc_qu8_f32(op, n, x.data<uint8_t>(), y->data<float>(), tp)
                                         : xnn_setup_convert_nc_qs8_f32(op, n, x.data<int8_t>(), y->data<float>(), tp);
        }
        if (s != xnn_status_success) return call_error(*node_, "convert setup", s);
        s = xnn_run_operator(op, tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        return Status::ok();
    }

private:
    const ir::Node* node_;
    bool quantize_;
    QParams p_;
    std::mutex mu_;
    OpPtr op_;
};

// ---- QLinearAdd ---------------------------------------------------------------------------------------------------

/// QLinearAdd's constant parameters and output range.
struct AddParams {
    DType type = DType::kUInt8;
    float as = 1, bs = 1, cs = 1;
    int32_t az = 0, bz = 0, cz = 0;
    int32_t lo = 0, hi = 255;  ///< output clamp (the activation)
};

std::string qadd_obstacle(const ir::Node& n, const ConstantFn& constant, AddParams* p) {
    if (n.outputs().size() != 1 || !n.output(0)) return "expected one output";
    if (n.inputs().size() < 7 || !n.input(0) || !n.input(3)) return "A, B and the scales are required";
    p->type = n.input(0)->type.dtype;
    if (!is_int8(p->type)) return std::string("A is ") + dtype_name(p->type) + " (uint8 and int8 only)";
    if (n.input(3)->type.dtype != p->type) return "A and B have different types";
    for (const ir::Value* v : {n.input(0), n.input(3), n.output(0)}) {
        if (v->type.has_shape && v->type.rank() > XNN_MAX_TENSOR_DIMS) {
            return "rank " + std::to_string(v->type.rank()) + " above XNNPACK's " + std::to_string(XNN_MAX_TENSOR_DIMS);
        }
    }
    std::string why = scale_obstacle(n, constant, 1, "A_scale", &p->as);
    if (why.empty()) why = zero_point_obstacle(n, constant, 2, "A_zero_point", p->type, &p->az);
    if (why.empty()) why = scale_obstacle(n, constant, 4, "B_scale", &p->bs);
    if (why.empty()) why = zero_point_obstacle(n, constant, 5, "B_zero_point", p->type, &p->bz);
    if (why.empty()) why = scale_obstacle(n, constant, 6, "C_scale", &p->cs);
    if (why.empty()) why = zero_point_obstacle(n, constant, 7, "C_zero_point", p->type, &p->cz);
    if (!why.empty()) return why;
    for (float r : {p->as / p->cs, p->bs / p->cs}) {
        // xnn_create_add_nd_qu8/_qs8 refuse input-to-output scale ratios outside [2^-10, 2^8).
        if (!(r >= 0x1.0p-10f && r < 0x1.0p+8f)) {
            return "input scale / C_scale = " + std::to_string(r) + " outside XNNPACK's [2^-10, 2^8)";
        }
    }
    auto act = fused::parse_activation(attrs_of(n));
    if (!act.is_ok()) return act.status().message();
    if (!fused::clamp_range(*act)) return "activation must be Identity, Relu or Clip";
    // The reference kernel's bounds: Relu clamps at the zero point, Clip at its quantized bounds.
    quant::activation_bounds(*act, p->cs, p->cz, p->type, p->lo, p->hi);
    if (p->lo >= p->hi) return "the activation's quantized range is empty or one value (XNNPACK needs min < max)";
    return {};
}

/// QLinearAdd with broadcasting. Like the float Add: one operator per thread of the session's pool, so that a
/// same-shape or scalar-operand add (which XNNPACK would run on one thread) is split into flat chunks side by side.
class QAddKernel final : public BackendKernel {
public:
    QAddKernel(const ir::Node& n, const AddParams& p) : node_(&n), p_(p) {}

    Status init(int threads) {
        for (int t = 0; t < std::max(1, threads); ++t) {
            xnn_operator_t op = nullptr;
            const xnn_status s =
                p_.type == DType::kUInt8
                    ? xnn_create_add_nd_qu8(uint8_t(p_.az), p_.as, uint8_t(p_.bz), p_.bs, uint8_t(p_.cz), p_.cs,
                                            uint8_t(p_.lo), uint8_t(p_.hi), 0, &op)
                    : xnn_create_add_nd_qs8(int8_t(p_.az), p_.as, int8_t(p_.bz), p_.bs, int8_t(p_.cz), p_.cs,
                                            int8_t(p_.lo), int8_t(p_.hi), 0, &op);
            if (s != xnn_status_success) return call_error(*node_, "add create", s);
            ops_.emplace_back(op);
        }
        return Status::ok();
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(3));
        const Tensor& a = ctx.input(0);
        const Tensor& b = ctx.input(3);
        if (a.dtype() != p_.type || b.dtype() != p_.type) {
            return ctx.input_error(std::string("A and B must be ") + dtype_name(p_.type));
        }
        NNPORT_ASSIGN_OR_RETURN(Shape out, broadcast_shapes(a.shape(), b.shape()));
        if (static_cast<int64_t>(out.size()) > XNN_MAX_TENSOR_DIMS) {
            return unsupported(node_->describe() + ": rank above XNNPACK's " + std::to_string(XNN_MAX_TENSOR_DIMS));
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, p_.type, out));
        const int64_t n = y->numel();
        if (n == 0) return Status::ok();
        const auto* pa = static_cast<const uint8_t*>(a.raw_data());
        const auto* pb = static_cast<const uint8_t*>(b.raw_data());
        auto* py = static_cast<uint8_t*>(y->raw_data());
        std::lock_guard<std::mutex> lock(mu_);
        return run_binary(ctx, ops_, a, b, pa, pb, py, n, [this](auto... args) { return run_op(args...); });
    }

private:
    /// Bytes of either type (uint8 and int8 have the same size; the operator knows which it is).
    Status run_op(xnn_operator_t op, size_t ra, const size_t* sa, size_t rb, const size_t* sb, const uint8_t* pa,
                  const uint8_t* pb, uint8_t* py, pthreadpool_t tp) const {
        xnn_status s;
        if (p_.type == DType::kUInt8) {
            s = xnn_setup_add_nd_qu8(op, ra, sa, rb, sb, pa, pb, py, tp);
        } else {
            s = xnn_setup_add_nd_qs8(op, ra, sa, rb, sb, reinterpret_cast<const int8_t*>(pa),
                                     reinterpret_cast<const int8_t*>(pb), reinterpret_cast<int8_t*>(py), tp);
        }
        if (s != xnn_status_success) return call_error(*node_, "add setup", s);
        s = xnn_run_operator(op, tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        return Status::ok();
    }

    const ir::Node* node_;
    AddParams p_;
    std::mutex mu_;
    std::vector<OpPtr> ops_;
};

}  // namespace

bool is_quant_op(const ir::Node& n) {
    return is_onnx(n, "QuantizeLinear") || is_onnx(n, "DequantizeLinear") || is_nnport(n, "QLinearAdd");
}

Support quant_supports(const ir::Node& n, const ConstantFn& constant) {
    std::string why;
    if (is_nnport(n, "QLinearAdd")) {
        AddParams p;
        why = qadd_obstacle(n, constant, &p);
    } else {
        QParams p;
        why = qdq_obstacle(n, constant, is_onnx(n, "QuantizeLinear"), &p);
    }
    if (!why.empty()) return Support::no(why);
    return Support::yes();
}

Result<KernelPtr> quant_prepare(const ir::Node& n, const PrepareContext& ctx) {
    if (is_nnport(n, "QLinearAdd")) {
        AddParams p;
        const std::string why = qadd_obstacle(n, ctx.constant, &p);
        if (!why.empty()) return unsupported(n.describe() + ": " + why);
        auto k = std::make_unique<QAddKernel>(n, p);
        NNPORT_RETURN_IF_ERROR(k->init(ctx.threads));
        return KernelPtr(std::move(k));
    }
    const bool quantize = is_onnx(n, "QuantizeLinear");
    QParams p;
    const std::string why = qdq_obstacle(n, ctx.constant, quantize, &p);
    if (!why.empty()) return unsupported(n.describe() + ": " + why);
    auto k = std::make_unique<ConvertKernel>(n, quantize, p);
    NNPORT_RETURN_IF_ERROR(k->init());
    return KernelPtr(std::move(k));
}

}  // namespace nnport::xnn

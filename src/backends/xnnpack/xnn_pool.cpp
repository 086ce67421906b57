// XNNPACK backend: MaxPool, AveragePool and GlobalAveragePool channels-last (xnn_create_max_pooling2d_nhwc_f32,
// xnn_create_average_pooling2d_nhwc_f32, xnn_create_global_average_pooling_nwc_f32), and MaxPool on uint8 / int8
// (xnn_create_max_pooling2d_nhwc_u8 / _s8 with the type's full output range: exact).
//
// Matching ONNX: XNNPACK computes floor-mode output sizes from explicit pads, so ceil_mode becomes extra bottom/right
// padding. XNNPACK's max pooling reads a padded tap as the nearest border pixel (right for undilated windows that
// overlap the input, which pads smaller than the window guarantee; wrong with dilation, so dilated windows must not
// touch padding). Its average pooling divides by the number of real pixels under the window whenever there is any
// padding (and by kH*kW without padding): that is count_include_pad=0 always, and count_include_pad=1 only without
// pads (the ceil_mode overhang is excluded from the count by both). XNNPACK rejects 1x1 windows.
#include <array>
#include <vector>

#include "backends/xnnpack/xnn_common.hpp"
#include "ops/nn_util.hpp"

namespace nnport::xnn {

namespace {

enum class Kind { kMax, kAvg, kGlobalAvg };

bool is_nhwc_pool(const ir::Node& n) { return n.domain() == "com.nnport"; }

Kind kind_of(const ir::Node& n) {
    const std::string& op = n.op_type();
    if (op == "MaxPool" || op == "NhwcMaxPool") return Kind::kMax;
    if (op == "AveragePool" || op == "NhwcAveragePool") return Kind::kAvg;
    return Kind::kGlobalAvg;
}

/// Why a windowed pool does not fit XNNPACK (empty: it does).
std::string window_obstacle(const ir::Node& n, Kind kind) {
    const AttrAccess a = attrs_of(n);
    if (!a.has_attr("kernel_shape")) return "kernel_shape is missing";
    const std::vector<int64_t> k = a.attr_ints("kernel_shape");
    if (k.size() != 2 || k[0] < 1 || k[1] < 1 || k[0] > 0xffff || k[1] > 0xffff) {
        return "kernel_shape must be two positive sizes";
    }
    if (k[0] * k[1] == 1) return "1x1 window (XNNPACK has no 1x1 pooling)";
    const std::vector<int64_t> s = a.has_attr("strides") ? a.attr_ints("strides") : std::vector<int64_t>{1, 1};
    const std::vector<int64_t> d = a.has_attr("dilations") ? a.attr_ints("dilations") : std::vector<int64_t>{1, 1};
    if (s.size() != 2 || d.size() != 2 || s[0] < 1 || s[1] < 1 || d[0] < 1 || d[1] < 1 || d[0] > 0xffff ||
        d[1] > 0xffff) {
        return "strides and dilations must be two positive values";
    }
    const bool dilated = d[0] > 1 || d[1] > 1;
    if (dilated && kind == Kind::kAvg) return "dilated average pooling (XNNPACK has none)";
    std::string auto_pad = a.attr_string("auto_pad");
    if (auto_pad.empty()) auto_pad = "NOTSET";
    if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID") {
        return "unknown auto_pad '" + auto_pad + "'";
    }
    bool padded = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (auto_pad == "NOTSET" && a.has_attr("pads")) {
        const std::vector<int64_t> p = a.attr_ints("pads");
        if (p.size() != 4) return "pads must have 4 values";
        for (size_t i = 0; i < 4; ++i) {
            const int64_t ek = (k[i % 2] - 1) * d[i % 2] + 1;
            if (p[i] < 0) return "pads must be non-negative";
            if (p[i] >= ek) return "padding as large as the window (a window could hold padding only)";
            padded |= p[i] > 0;
        }
    }
    const bool ceil_mode = a.attr_int("ceil_mode") != 0;
    if (dilated && (padded || ceil_mode)) {
        return "dilated max pooling with padding or ceil_mode (XNNPACK reads padded taps of dilated windows from the "
               "border)";
    }
    if (kind == Kind::kAvg && a.attr_int("count_include_pad") != 0 && padded) {
        return "count_include_pad=1 with padding (XNNPACK averages over the real pixels only)";
    }
    if (kind == Kind::kMax) {
        for (size_t i = 1; i < n.outputs().size(); ++i) {
            if (n.output(i)) return "the Indices output is not supported";
        }
    }
    return {};
}

std::string pool_obstacle(const ir::Node& n) {
    if (n.op_type() == "GlobalMaxPool" || n.op_type() == "NhwcGlobalMaxPool") {
        return "XNNPACK (February 2022) has no global max pooling";
    }
    const Kind kind = kind_of(n);
    const ir::Value* x = n.input(0);
    if (kind == Kind::kMax && x && x->type.is_tensor() &&
        (x->type.dtype == DType::kUInt8 || x->type.dtype == DType::kInt8)) {
        if (!x->type.has_shape || x->type.rank() != 4) return "X is not of rank 4 (2-D pooling only)";
        return window_obstacle(n, kind);
    }
    const std::string why = need_f32_rank(x, "X", 4, 4);
    if (!why.empty()) return why + " (2-D pooling only; MaxPool also uint8 and int8)";
    if (kind == Kind::kGlobalAvg) return {};
    return window_obstacle(n, kind);
}

/// Operators keyed by padding and channels, created on first use (a handful at most: the padding changes with the
/// input size only for SAME auto_pad and ceil_mode).
class OpCache {
public:
    using Key = std::array<int64_t, 5>;  // top, right, bottom, left, channels
    template <typename Create>
    Result<xnn_operator_t> get(const Key& key, Create&& create) {
        for (size_t i = 0; i < ops_.size(); ++i) {
            if (ops_[i].first != key) continue;
            if (i) std::swap(ops_[0], ops_[i]);
            return ops_[0].second.get();
        }
        NNPORT_ASSIGN_OR_RETURN(xnn_operator_t op, create());
        if (ops_.size() >= 4) ops_.pop_back();
        ops_.insert(ops_.begin(), {key, OpPtr(op)});
        return op;
    }

private:
    std::vector<std::pair<Key, OpPtr>> ops_;
};

class WindowPoolKernel final : public BackendKernel {
public:
    WindowPoolKernel(const ir::Node& n, Kind kind) : node_(&n), kind_(kind), dtype_(n.input(0)->type.dtype) {
        const AttrAccess a = attrs_of(n);
        kernel_ = a.attr_ints("kernel_shape");
        strides_ = a.has_attr("strides") ? a.attr_ints("strides") : std::vector<int64_t>{1, 1};
        dilations_ = a.has_attr("dilations") ? a.attr_ints("dilations") : std::vector<int64_t>{1, 1};
        ceil_mode_ = a.attr_int("ceil_mode") != 0;
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != dtype_ || x.rank() != 4) {
            return ctx.input_error(std::string("X must be a ") + dtype_name(dtype_) + " [N, H, W, C] tensor");
        }
        NNPORT_ASSIGN_OR_RETURN(nn::Geometry g, nn::window_geometry(ctx, {x.dim(1), x.dim(2)}, kernel_, ceil_mode_));
        OpCache::Key key = {g.pads_begin[0], g.pads_end[1], g.pads_end[0], g.pads_begin[1], x.dim(3)};
        for (size_t i = 0; i < 2; ++i) {
            // Extra bottom/right padding so that XNNPACK's floor-mode size is ONNX's (ceil_mode) size.
            const int64_t ek = (kernel_[i] - 1) * dilations_[i] + 1;
            const int64_t padded = g.in[i] + g.pads_begin[i] + g.pads_end[i];
            const int64_t extra = std::max<int64_t>(0, (g.out[i] - 1) * strides_[i] + ek - padded);
            key[i == 0 ? 2 : 1] += extra;
            if ((padded + extra - ek) / strides_[i] + 1 != g.out[i]) {
                return internal_error(node_->describe() + ": XNNPACK pooling size mismatch");
            }
        }
        for (int64_t v : key) {
            if (v > 0xffffffffll) return unsupported(node_->describe() + ": padding too large for XNNPACK");
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, dtype_, {x.dim(0), g.out[0], g.out[1], x.dim(3)}));
        if (y->numel() == 0) return Status::ok();
        std::lock_guard<std::mutex> lock(mu_);
        NNPORT_ASSIGN_OR_RETURN(xnn_operator_t op, ops_.get(key, [&] { return create(key); }));
        const pthreadpool_t tp = threadpool(ctx, x.numel() + y->numel() * kernel_[0] * kernel_[1], kElementsPerThread);
        const size_t n = static_cast<size_t>(x.dim(0)), h = static_cast<size_t>(x.dim(1)),
                     w = static_cast<size_t>(x.dim(2));
        xnn_status s;
        if (dtype_ == DType::kUInt8) {
            s = xnn_setup_max_pooling2d_nhwc_u8(op, n, h, w, x.data<uint8_t>(), y->data<uint8_t>(), tp);
        } else if (dtype_ == DType::kInt8) {
            s = xnn_setup_max_pooling2d_nhwc_s8(op, n, h, w, x.data<int8_t>(), y->data<int8_t>(), tp);
        } else if (kind_ == Kind::kMax) {
            s = xnn_setup_max_pooling2d_nhwc_f32(op, n, h, w, x.data<float>(), y->data<float>(), tp);
        } else {
            s = xnn_setup_average_pooling2d_nhwc_f32(op, n, h, w, x.data<float>(), y->data<float>(), tp);
        }
        if (s != xnn_status_success) return call_error(*node_, "pooling setup", s);
        s = xnn_run_operator(op, tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        return Status::ok();
    }

private:
    Result<xnn_operator_t> create(const OpCache::Key& k) const {
        xnn_operator_t op = nullptr;
        const auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
        const size_t c = static_cast<size_t>(k[4]);
        xnn_status s;
        if (dtype_ == DType::kUInt8) {
            s = xnn_create_max_pooling2d_nhwc_u8(u(k[0]), u(k[1]), u(k[2]), u(k[3]), u(kernel_[0]), u(kernel_[1]),
                                                 u(strides_[0]), u(strides_[1]), u(dilations_[0]), u(dilations_[1]), c,
                                                 c, c, 0, 255, 0, &op);
        } else if (dtype_ == DType::kInt8) {
            s = xnn_create_max_pooling2d_nhwc_s8(u(k[0]), u(k[1]), u(k[2]), u(k[3]), u(kernel_[0]), u(kernel_[1]),
                                                 u(strides_[0]), u(strides_[1]), u(dilations_[0]), u(dilations_[1]), c,
                                                 c, c, -128, 127, 0, &op);
        } else if (kind_ == Kind::kMax) {
            s = xnn_create_max_pooling2d_nhwc_f32(u(k[0]), u(k[1]), u(k[2]), u(k[3]), u(kernel_[0]), u(kernel_[1]),
                                                  u(strides_[0]), u(strides_[1]), u(dilations_[0]),
                                                  u(dilations_[1]), c, c, c, -kInf, kInf, 0, &op);
        } else {
            s = xnn_create_average_pooling2d_nhwc_f32(u(k[0]), u(k[1]), u(k[2]), u(k[3]), u(kernel_[0]),
                                                      u(kernel_[1]), u(strides_[0]), u(strides_[1]), c, c, c, -kInf,
                                                      kInf, 0, &op);
        }
        if (s != xnn_status_success) return call_error(*node_, "pooling create", s);
        return op;
    }

    const ir::Node* node_;
    Kind kind_;
    DType dtype_;  ///< float32, or uint8 / int8 (max pooling)
    std::vector<int64_t> kernel_, strides_, dilations_;
    bool ceil_mode_ = false;
    std::mutex mu_;
    OpCache ops_;
};

class GlobalAvgPoolKernel final : public BackendKernel {
public:
    explicit GlobalAvgPoolKernel(const ir::Node& n) : node_(&n) {}

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() != 4) {
            return ctx.input_error("X must be a float32 [N, H, W, C] tensor");
        }
        if (x.dim(1) * x.dim(2) == 0) return ctx.input_error("empty spatial extent");
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, {x.dim(0), 1, 1, x.dim(3)}));
        if (y->numel() == 0) return Status::ok();
        std::lock_guard<std::mutex> lock(mu_);
        const size_t c = static_cast<size_t>(x.dim(3));
        NNPORT_ASSIGN_OR_RETURN(xnn_operator_t op, ops_.get({0, 0, 0, 0, x.dim(3)}, [&]() -> Result<xnn_operator_t> {
            xnn_operator_t o = nullptr;
            const xnn_status s = xnn_create_global_average_pooling_nwc_f32(c, c, c, -kInf, kInf, 0, &o);
            if (s != xnn_status_success) return call_error(*node_, "xnn_create_global_average_pooling_nwc_f32", s);
            return o;
        }));
        const pthreadpool_t tp = threadpool(ctx, x.numel(), kElementsPerThread);
        xnn_status s = xnn_setup_global_average_pooling_nwc_f32(op, static_cast<size_t>(x.dim(0)),
                                                                 static_cast<size_t>(x.dim(1) * x.dim(2)),
                                                                 x.data<float>(), y->data<float>(), tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_setup_global_average_pooling_nwc_f32", s);
        s = xnn_run_operator(op, tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        return Status::ok();
    }

private:
    const ir::Node* node_;
    std::mutex mu_;
    OpCache ops_;
};

}  // namespace

Support pool_supports(const ir::Node& n, const ConstantFn&) {
    const std::string why = pool_obstacle(n);
    if (!why.empty()) return Support::no(why);
    return Support::yes(Layout::kNHWC);
}

Result<KernelPtr> pool_prepare(const ir::Node& n, const PrepareContext&) {
    if (!is_nhwc_pool(n)) return internal_error(n.describe() + ": the XNNPACK backend runs pooling channels-last");
    const Kind kind = kind_of(n);
    if (kind == Kind::kGlobalAvg) return KernelPtr(std::make_unique<GlobalAvgPoolKernel>(n));
    return KernelPtr(std::make_unique<WindowPoolKernel>(n, kind));
}

}  // namespace nnport::xnn

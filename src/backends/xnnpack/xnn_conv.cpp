// XNNPACK backend: 2-D convolution (Conv, com.nnport FusedConv) channels-last with xnn_create_convolution2d_nhwc_f32.
// Weights are repacked once from ONNX [M, C/g, kH, kW] to XNNPACK's [g][M/g][kH][kW][C/g]; Relu and Clip become
// the operator's output clamp; other activations and the FusedConv residual Z run in the vectorised epilogue
// (y = act(conv + B + Z)). Padding is always explicit: ONNX pads, or the SAME_UPPER / SAME_LOWER / VALID pads of the
// actual input size, so one operator serves every input shape whose padding is the same (all shapes for NOTSET,
// VALID and stride-1 SAME) and a few operators are cached for shape-dependent SAME padding.
// Two special forms: pointwise convolutions with an epilogue run in pixel bands (the epilogue applied while each band
// is in cache), and depthwise windows XNNPACK 2022 has no micro-kernel for run the backend's own loop
// (xnn_depthwise.cpp) instead of XNNPACK's one-channel-per-group GEMM.
#include <algorithm>
#include <array>
#include <vector>

#include "backends/xnnpack/xnn_common.hpp"
#include "backends/xnnpack/xnn_depthwise.hpp"
#include "ops/nn_util.hpp"

namespace nnport::xnn {

namespace {

bool is_nhwc_conv(const ir::Node& n) { return is_nnport(n, "NhwcConv") || is_nnport(n, "NhwcFusedConv"); }
bool is_fused_conv(const ir::Node& n) { return is_nnport(n, "FusedConv") || is_nnport(n, "NhwcFusedConv"); }

constexpr int64_t kMaxU32 = 0xffffffffll;

/// Why the node's convolution attributes or operands do not fit XNNPACK (empty: they do).
std::string conv_obstacle(const ir::Node& n, const ConstantFn& constant) {
    const bool nhwc = is_nhwc_conv(n), fused = is_fused_conv(n);
    std::string why = need_f32(n.input(0), "X");
    if (!why.empty()) return why;
    const ir::ValueType& xt = n.input(0)->type;
    if (!xt.has_shape || xt.dims.size() != 4) {
        return "only 2-D convolution (rank-4 X) is supported, X is " + xt.to_string();
    }
    if (n.outputs().size() != 1) return "expected one output";
    const Tensor* w = n.input(1) ? constant(n.input(1)) : nullptr;
    if (!w) return "weight W is not a constant (weights are packed when the node is prepared)";
    if (w->dtype() != DType::kFloat32) return std::string("weight W is ") + dtype_name(w->dtype());
    if (w->rank() != 4) return "weight W has rank " + std::to_string(w->rank()) + ", expected 4";
    const int64_t m = w->dim(0), cg = w->dim(1), kh = w->dim(2), kw = w->dim(3);
    if (m <= 0 || cg <= 0 || kh <= 0 || kw <= 0) return "weight W has an empty dimension";
    if (n.input(2)) {
        const Tensor* b = constant(n.input(2));
        if (!b) return "bias B is not a constant";
        if (b->dtype() != DType::kFloat32 || b->rank() != 1 || b->dim(0) != m) {
            return "bias B must be a float32 [" + std::to_string(m) + "] tensor";
        }
    }
    if (fused && n.input(3)) {
        why = need_f32(n.input(3), "residual Z");
        if (!why.empty()) return why;
    }
    const AttrAccess a = attrs_of(n);
    const int64_t group = a.attr_int("group");
    if (group <= 0 || m % group != 0) return "group " + std::to_string(group) + " does not divide M = " + std::to_string(m);
    const ir::Dim& c = xt.dims[nhwc ? 3 : 1];
    if (c.is_static() && c.value != cg * group) {
        return "X has " + std::to_string(c.value) + " channels, W expects " + std::to_string(cg * group);
    }
    if (a.has_attr("kernel_shape") && a.attr_ints("kernel_shape") != std::vector<int64_t>{kh, kw}) {
        return "kernel_shape differs from W's spatial dimensions";
    }
    for (const char* name : {"strides", "dilations"}) {
        if (!a.has_attr(name)) continue;
        const std::vector<int64_t> v = a.attr_ints(name);
        if (v.size() != 2 || v[0] < 1 || v[1] < 1 || v[0] > kMaxU32 || v[1] > kMaxU32) {
            return std::string(name) + " must be two positive values";
        }
    }
    const std::string auto_pad = a.attr_string("auto_pad");
    if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID" &&
        !auto_pad.empty()) {
        return "unknown auto_pad '" + auto_pad + "'";
    }
    if ((auto_pad == "NOTSET" || auto_pad.empty()) && a.has_attr("pads")) {
        const std::vector<int64_t> p = a.attr_ints("pads");
        if (p.size() != 4) return "pads must have 4 values";
        for (int64_t v : p) {
            if (v < 0 || v > kMaxU32) return "pads must be non-negative";
        }
    }
    if (fused) return activation_obstacle(n);
    return {};
}

/// One prepared convolution: packed weights, output clamp and epilogue, operators by padding.
class ConvKernel final : public BackendKernel {
public:
    Status init(const ir::Node& n, const PrepareContext& pc) {
        node_ = &n;
        const Tensor& w = *pc.constant(n.input(1));
        m_ = w.dim(0);
        cg_ = w.dim(1);
        kh_ = w.dim(2);
        kw_ = w.dim(3);
        const AttrAccess a = attrs_of(n);
        group_ = a.attr_int("group");
        strides_ = a.has_attr("strides") ? a.attr_ints("strides") : std::vector<int64_t>{1, 1};
        dilations_ = a.has_attr("dilations") ? a.attr_ints("dilations") : std::vector<int64_t>{1, 1};
        // [M, C/g, kH, kW] -> [M][kH][kW][C/g]; M is already group-major, so this is XNNPACK's [g][M/g][kH][kW][C/g].
        packed_.resize(static_cast<size_t>(w.numel()));
        const float* src = w.data<float>();
        for (int64_t o = 0; o < m_; ++o) {
            for (int64_t c = 0; c < cg_; ++c) {
                for (int64_t y = 0; y < kh_; ++y) {
                    for (int64_t x = 0; x < kw_; ++x) {
                        packed_[static_cast<size_t>(((o * kh_ + y) * kw_ + x) * cg_ + c)] =
                            src[((o * cg_ + c) * kh_ + y) * kw_ + x];
                    }
                }
            }
        }
        if (n.input(2)) {
            const Tensor& b = *pc.constant(n.input(2));
            bias_.assign(b.data<float>(), b.data<float>() + m_);
        }
        fused::Activation act;
        if (is_fused_conv(n)) {
            NNPORT_ASSIGN_OR_RETURN(act, fused::parse_activation(a));
            has_z_ = n.input(3) != nullptr;
        }
        if (has_z_) {
            post_ = act;  // the residual is added after the convolution, so the clamp waits for it too
        } else {
            const ActSplit s = split_activation(act);
            min_ = s.min;
            max_ = s.max;
            post_ = s.post;
        }
        const std::string auto_pad = a.attr_string("auto_pad");
        const bool shape_dependent = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
        // Depthwise windows XNNPACK has no micro-kernel for: the backend's own loop over [kH][kW][C] weights.
        if (cg_ == 1 && group_ == m_ && !xnnpack_has_depthwise_window(kh_ * kw_)) {
            dw_weights_.resize(static_cast<size_t>(m_ * kh_ * kw_));
            for (int64_t ch = 0; ch < m_; ++ch) {
                for (int64_t t = 0; t < kh_ * kw_; ++t) {
                    dw_weights_[static_cast<size_t>(t * m_ + ch)] = w.data<float>()[ch * kh_ * kw_ + t];
                }
            }
            packed_.clear();
            packed_.shrink_to_fit();
            return Status::ok();
        }
        // Pointwise (1x1, stride 1, no padding) with an epilogue: pixel bands, one operator per thread.
        bool no_pads = true;
        if ((auto_pad == "NOTSET" || auto_pad.empty()) && a.has_attr("pads")) {
            for (int64_t p : a.attr_ints("pads")) no_pads &= p == 0;
        }
        if (kh_ == 1 && kw_ == 1 && strides_ == std::vector<int64_t>{1, 1} && no_pads &&
            (has_z_ || post_.kind != fused::Act::kIdentity)) {
            // Per-thread copies of the packed weights only while they are small; larger ones share one operator.
            const int copies = m_ * cg_ * group_ * 4 <= (int64_t{1} << 20) ? std::max(1, pc.threads) : 1;
            for (int t = 0; t < copies; ++t) {
                NNPORT_ASSIGN_OR_RETURN(xnn_operator_t op, create({0, 0, 0, 0}));
                band_ops_.emplace_back(op);
            }
            packed_.clear();
            packed_.shrink_to_fit();
            bias_.clear();
            bias_.shrink_to_fit();
            return Status::ok();
        }
        // Create the operator now when the padding is known; weights are then kept only if shapes may change it.
        const ir::ValueType& xt = n.input(0)->type;
        const bool hw_static = xt.dims[1].is_static() && xt.dims[2].is_static();
        if (!shape_dependent || hw_static) {
            // Explicit pads do not depend on the input size: any size the window fits gives them.
            const std::vector<int64_t> in =
                shape_dependent ? std::vector<int64_t>{xt.dims[1].value, xt.dims[2].value}
                                : std::vector<int64_t>{(kh_ - 1) * dilations_[0] + 1, (kw_ - 1) * dilations_[1] + 1};
            auto geo = nn::window_geometry(a, in, {kh_, kw_}, false);
            if (geo.is_ok()) {
                std::lock_guard<std::mutex> lock(mu_);
                NNPORT_RETURN_IF_ERROR(op_for(pads_of(*geo)).status());
            }
        }
        if (!shape_dependent) {
            packed_.clear();
            packed_.shrink_to_fit();
            bias_.clear();
            bias_.shrink_to_fit();
        }
        return Status::ok();
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() != 4) {
            return ctx.input_error("X must be a float32 [N, H, W, C] tensor, got " + std::string(dtype_name(x.dtype())) +
                                   " " + shape_to_string(x.shape()));
        }
        if (x.dim(3) != cg_ * group_) {
            return ctx.input_error("X has " + std::to_string(x.dim(3)) + " channels, W expects " +
                                   std::to_string(cg_ * group_));
        }
        NNPORT_ASSIGN_OR_RETURN(nn::Geometry geo, nn::window_geometry(ctx, {x.dim(1), x.dim(2)}, {kh_, kw_}, false));
        const Shape out = {x.dim(0), geo.out[0], geo.out[1], m_};
        const Tensor* z = nullptr;
        if (has_z_ && ctx.has_input(3)) {
            NNPORT_RETURN_IF_ERROR(ctx.require_tensor(3));
            z = &ctx.input(3);
            if (z->dtype() != DType::kFloat32 || z->shape() != out) {
                return ctx.input_error("Z " + shape_to_string(z->shape()) + " must be float32 of the output's shape " +
                                       shape_to_string(out));
            }
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out));
        if (y->numel() == 0) return Status::ok();
        if (!band_ops_.empty()) return run_bands(ctx, x, z, *y);
        if (!dw_weights_.empty()) return run_depthwise(ctx, x, geo, z, *y);
        {
            std::lock_guard<std::mutex> lock(mu_);
            NNPORT_ASSIGN_OR_RETURN(xnn_operator_t op, op_for(pads_of(geo)));
            const pthreadpool_t tp = threadpool(ctx, y->numel() * cg_ * kh_ * kw_, kMacsPerThread);
            xnn_status s = xnn_setup_convolution2d_nhwc_f32(op, static_cast<size_t>(x.dim(0)),
                                                            static_cast<size_t>(x.dim(1)),
                                                            static_cast<size_t>(x.dim(2)), x.data<float>(),
                                                            y->data<float>(), tp);
            if (s != xnn_status_success) return call_error(*node_, "xnn_setup_convolution2d_nhwc_f32", s);
            s = xnn_run_operator(op, tp);
            if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        }
        apply_epilogue(post_, y->data<float>(), z ? z->data<float>() : nullptr, y->numel(), ctx.pool());
        return Status::ok();
    }

private:
    using Pads = std::array<int64_t, 4>;  // top, right, bottom, left (XNNPACK's order)

    /// The backend's own depthwise loop, rows split across threads, each row's epilogue applied right after it.
    Status run_depthwise(KernelContext& ctx, const Tensor& x, const nn::Geometry& geo, const Tensor* z, Tensor& y) {
        DepthwiseGeometry g;
        g.n = x.dim(0);
        g.h = x.dim(1);
        g.w = x.dim(2);
        g.c = x.dim(3);
        g.kh = kh_;
        g.kw = kw_;
        g.sh = strides_[0];
        g.sw = strides_[1];
        g.dh = dilations_[0];
        g.dw = dilations_[1];
        g.pt = geo.pads_begin[0];
        g.pl = geo.pads_begin[1];
        g.oh = geo.out[0];
        g.ow = geo.out[1];
        const float* xd = x.data<float>();
        const float* zd = z ? z->data<float>() : nullptr;
        float* yd = y.data<float>();
        const int64_t row = g.ow * g.c;
        auto rows = [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                depthwise_rows(g, xd, dw_weights_.data(), bias_.empty() ? nullptr : bias_.data(), min_, max_, yd, r,
                               r + 1);
                apply_epilogue(post_, yd + r * row, zd ? zd + r * row : nullptr, row, nullptr);
            }
        };
        if (threads_for(ctx, y.numel() * kh_ * kw_, kMacsPerThread) > 1) ctx.parallel_for(g.n * g.oh, rows);
        else rows(0, g.n * g.oh);
        return Status::ok();
    }

    /// Pointwise convolution as bands of output pixels of about 256 KiB, each followed by its epilogue while the band
    /// is still in cache (one pass over memory instead of two). Thread t runs its bands on operator t, or with a
    /// single operator the bands go one after the other, each on all threads.
    Status run_bands(KernelContext& ctx, const Tensor& x, const Tensor* z, Tensor& y) {
        const int64_t pixels = x.numel() / x.dim(3), cin = x.dim(3);
        const int64_t band = std::max<int64_t>(8, (int64_t{1} << 16) / m_);
        const int64_t bands = (pixels + band - 1) / band;
        const float* xd = x.data<float>();
        const float* zd = z ? z->data<float>() : nullptr;
        float* yd = y.data<float>();
        const int64_t macs = y.numel() * cin;
        std::lock_guard<std::mutex> lock(mu_);
        if (band_ops_.size() == 1) {
            const pthreadpool_t tp = threadpool(ctx, macs, kMacsPerThread);
            for (int64_t b = 0; b < bands; ++b) {
                const int64_t p0 = b * band, len = std::min(band, pixels - p0);
                xnn_status s = xnn_setup_convolution2d_nhwc_f32(band_ops_[0].get(), 1, 1, static_cast<size_t>(len),
                                                                xd + p0 * cin, yd + p0 * m_, tp);
                if (s == xnn_status_success) s = xnn_run_operator(band_ops_[0].get(), tp);
                if (s != xnn_status_success) return call_error(*node_, "pointwise convolution band", s);
                apply_epilogue(post_, yd + p0 * m_, zd ? zd + p0 * m_ : nullptr, len * m_, tp ? ctx.pool() : nullptr);
            }
            return Status::ok();
        }
        const int64_t threads = std::min<int64_t>(
            {static_cast<int64_t>(band_ops_.size()), threads_for(ctx, macs, kMacsPerThread), bands});
        std::vector<Status> st(static_cast<size_t>(threads));
        auto work = [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) {
                xnn_operator_t op = band_ops_[static_cast<size_t>(t)].get();
                for (int64_t b = bands * t / threads; b < bands * (t + 1) / threads; ++b) {
                    const int64_t p0 = b * band, len = std::min(band, pixels - p0);
                    xnn_status s = xnn_setup_convolution2d_nhwc_f32(op, 1, 1, static_cast<size_t>(len), xd + p0 * cin,
                                                                    yd + p0 * m_, nullptr);
                    if (s == xnn_status_success) s = xnn_run_operator(op, nullptr);
                    if (s != xnn_status_success) {
                        st[static_cast<size_t>(t)] = call_error(*node_, "pointwise convolution band", s);
                        break;
                    }
                    apply_epilogue(post_, yd + p0 * m_, zd ? zd + p0 * m_ : nullptr, len * m_, nullptr);
                }
            }
        };
        if (threads > 1) ctx.parallel_for(threads, work);
        else work(0, 1);
        for (const Status& s : st) NNPORT_RETURN_IF_ERROR(s);
        return Status::ok();
    }

    static Pads pads_of(const nn::Geometry& g) {
        return {g.pads_begin[0], g.pads_end[1], g.pads_end[0], g.pads_begin[1]};
    }

    /// The operator for `p`, created on first use (caller holds mu_). Keeps the 4 most recent paddings.
    Result<xnn_operator_t> op_for(const Pads& p) {
        for (size_t i = 0; i < ops_.size(); ++i) {
            if (ops_[i].first != p) continue;
            if (i) std::swap(ops_[0], ops_[i]);
            return ops_[0].second.get();
        }
        if (packed_.empty()) {
            return internal_error(node_->describe() + ": padding changed for a convolution created with fixed pads");
        }
        NNPORT_ASSIGN_OR_RETURN(xnn_operator_t op, create(p));
        if (ops_.size() >= 4) ops_.pop_back();
        ops_.insert(ops_.begin(), {p, OpPtr(op)});
        return op;
    }

    /// A new operator with padding `p` from the packed weights.
    Result<xnn_operator_t> create(const Pads& p) const {
        for (int64_t v : p) {
            if (v > kMaxU32) return unsupported(node_->describe() + ": padding too large for XNNPACK");
        }
        xnn_operator_t op = nullptr;
        const xnn_status s = xnn_create_convolution2d_nhwc_f32(
            static_cast<uint32_t>(p[0]), static_cast<uint32_t>(p[1]), static_cast<uint32_t>(p[2]),
            static_cast<uint32_t>(p[3]), static_cast<uint32_t>(kh_), static_cast<uint32_t>(kw_),
            static_cast<uint32_t>(strides_[0]), static_cast<uint32_t>(strides_[1]),
            static_cast<uint32_t>(dilations_[0]), static_cast<uint32_t>(dilations_[1]), static_cast<uint32_t>(group_),
            static_cast<size_t>(cg_), static_cast<size_t>(m_ / group_), static_cast<size_t>(cg_ * group_),
            static_cast<size_t>(m_), packed_.data(), bias_.empty() ? nullptr : bias_.data(), min_, max_, 0, &op);
        if (s != xnn_status_success) return call_error(*node_, "xnn_create_convolution2d_nhwc_f32", s);
        return op;
    }

    const ir::Node* node_ = nullptr;
    int64_t m_ = 0, cg_ = 0, kh_ = 0, kw_ = 0, group_ = 1;
    std::vector<int64_t> strides_, dilations_;
    std::vector<float> packed_, bias_;  // kept only while new paddings may need new operators
    float min_ = -kInf, max_ = kInf;
    fused::Activation post_;
    bool has_z_ = false;
    std::mutex mu_;
    std::vector<std::pair<Pads, OpPtr>> ops_;
    std::vector<OpPtr> band_ops_;  // pointwise with an epilogue: one operator per thread (or one shared)
    std::vector<float> dw_weights_;  // own depthwise loop: weights [kH][kW][C]
};

}  // namespace

Support conv_supports(const ir::Node& n, const ConstantFn& constant) {
    const std::string why = conv_obstacle(n, constant);
    if (!why.empty()) return Support::no(why);
    return Support::yes(Layout::kNHWC);
}

Result<KernelPtr> conv_prepare(const ir::Node& n, const PrepareContext& ctx) {
    if (!is_nhwc_conv(n)) return internal_error(n.describe() + ": the XNNPACK backend runs convolutions channels-last");
    auto k = std::make_unique<ConvKernel>();
    NNPORT_RETURN_IF_ERROR(k->init(n, ctx));
    return KernelPtr(std::move(k));
}

}  // namespace nnport::xnn

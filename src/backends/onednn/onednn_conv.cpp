// oneDNN convolution: Conv / FusedConv (answered channels-last) and NhwcConv / NhwcFusedConv. Activations run as
// nhwc memory; the constant weights are reordered once into the layout the primitive prefers (format `any`); bias is
// the primitive's bias; the residual Z is a `sum` post-op (the output is first filled with Z) ahead of the activation's
// eltwise post-ops. A primitive depends on the input's spatial size, so primitives are cached per input shape and the
// static shape's is created at prepare time.

#include "backends/conv_support.hpp"
#include "backends/onednn/onednn_common.hpp"
#include "backends/onednn/onednn_kernels.hpp"
#include "backends/xnnpack/xnn_common.hpp"
#include "ops/nn_util.hpp"

namespace nnport::onednn {

namespace {

using fconv::is_fused;
using fconv::is_nhwc;

struct ConvEntry {
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
    dnnl::memory weights;
    dnnl::memory::desc src_md, dst_md;
    Shape out_shape;
    int threads = 1;
    dnnl::reorder::primitive_desc z_copy_pd;  ///< Z -> output (FusedConv with a residual)
    dnnl::reorder z_copy;
};

class ConvKernel final : public BackendKernel {
public:
    ConvKernel(const ir::Node& node, const PrepareContext& ctx, Tensor w, Tensor bias, fused::Activation act)
        : nhwc_(is_nhwc(node)),
          has_z_(is_fused(node) && node.input(3) != nullptr),
          threads_(ctx.threads),
          act_(act),
          w_(std::move(w)),
          bias_(std::move(bias)) {
        AttrAccess a(node, *node.def);
        m_ = w_.dim(0);
        cg_ = w_.dim(1);
        kh_ = w_.dim(2);
        kw_ = w_.dim(3);
        group_ = a.attr_int("group");
        const dims wd = group_ > 1 ? dims{group_, m_ / group_, cg_, kh_, kw_} : dims{m_, cg_, kh_, kw_};
        weights_ = WeightCache(dnnl::memory::desc(wd, dt::f32, group_ > 1 ? tag::goihw : tag::oihw), w_.raw_data());
    }

    /// Creates the primitive for the input's static shape, when known.
    Status warm_up(const ir::Node& node) {
        const std::vector<int64_t> d = static_dims(node.input(0));
        if (d.size() != 4) return Status::ok();
        AttrAccess a(node, *node.def);
        return entry_for(a, d).status();
    }

    Status run(KernelContext& ctx) override {
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() != 4) {
            return ctx.input_error("X must be a rank-4 float32 tensor, got " + std::string(dtype_name(x.dtype())) +
                                   " " + shape_to_string(x.shape()));
        }
        const int64_t c = x.dim(nhwc_ ? 3 : 1);
        if (c != cg_ * group_) {
            return ctx.input_error("X has " + std::to_string(c) + " channels, the weights expect " +
                                   std::to_string(cg_ * group_));
        }
        NNPORT_ASSIGN_OR_RETURN(std::shared_ptr<const ConvEntry> e, entry_for(ctx, x.shape()));
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, e->out_shape));
        if (has_z_) {
            if (!ctx.has_input(3)) return ctx.input_error("Z is missing");
            const Tensor& z = ctx.input(3);
            if (z.dtype() != DType::kFloat32 || z.shape() != e->out_shape) {
                return ctx.input_error("Z " + shape_to_string(z.shape()) + " must be float32 with the output's shape " +
                                       shape_to_string(e->out_shape));
            }
        }
        if (x.numel() == 0 || y->numel() == 0) return Status::ok();
        try {
            set_threads(e->threads);
            if (has_z_ && ctx.input(3).raw_data() != y->raw_data()) {
                // Z into the output for the sum post-op, copied by a oneDNN reorder on the same OpenMP threads (the
                // session's pool here would leave its workers spinning against the convolution's).
                execute(e->z_copy, e->z_copy_pd,
                        {{DNNL_ARG_FROM, wrap(e->dst_md, ctx.input(3).raw_data())},
                         {DNNL_ARG_TO, wrap(e->dst_md, y->raw_data())}});
            }
            std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, wrap(e->src_md, x.raw_data())},
                                                          {DNNL_ARG_WEIGHTS, e->weights},
                                                          {DNNL_ARG_DST, wrap(e->dst_md, y->raw_data())}};
            if (bias_.defined()) args.emplace(DNNL_ARG_BIAS, wrap(bias_md(), bias_.raw_data()));
            execute(e->prim, e->pd, std::move(args));
        } catch (const dnnl::error& err) {
            return error_status(ctx.node(), "convolution", err);
        }
        // Swish / SiLU over the finished output by nnport's vector epilogue (the XNNPACK backend's): oneDNN 2.6's
        // swish post-op costs about 16 cycles per 16 outputs here, the epilogue about 10 even with its own pass over
        // the output. Measured on efficientnet_b0 at one thread: the post-op took 1.44 ms of 5.6 ms per run.
        if (act_.kind == fused::Act::kSwish)
            xnn::apply_epilogue(act_, y->data<float>(), nullptr, y->numel(), ctx.pool());
        return Status::ok();
    }

    /// The residual Z: the sum post-op accumulates into the output, so it may already hold Z (no copy then).
    int inplace_input() const override { return has_z_ ? 3 : -1; }

private:
    dnnl::memory::desc bias_md() const { return dnnl::memory::desc({m_}, dt::f32, tag::x); }

    Result<std::shared_ptr<const ConvEntry>> entry_for(const AttrAccess& a, const Shape& xs) {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto e = cache_.find(xs)) return e;
        const int64_t n = xs[0], h = xs[nhwc_ ? 1 : 2], w = xs[nhwc_ ? 2 : 3], c = xs[nhwc_ ? 3 : 1];
        NNPORT_ASSIGN_OR_RETURN(nn::Geometry g, nn::window_geometry(a, {h, w}, {kh_, kw_}, false));
        auto e = std::make_shared<ConvEntry>();
        const tag t = nhwc_ ? tag::nhwc : tag::nchw;
        e->src_md = dnnl::memory::desc({n, c, h, w}, dt::f32, t);
        e->dst_md = dnnl::memory::desc({n, m_, g.out[0], g.out[1]}, dt::f32, t);
        e->out_shape = nhwc_ ? Shape{n, g.out[0], g.out[1], m_} : Shape{n, m_, g.out[0], g.out[1]};
        const dims wd = group_ > 1 ? dims{group_, m_ / group_, cg_, kh_, kw_} : dims{m_, cg_, kh_, kw_};
        const dnnl::memory::desc w_any(wd, dt::f32, tag::any);
        const dims strides = {g.strides[0], g.strides[1]};
        const dims dil = {g.dilations[0] - 1, g.dilations[1] - 1};  // oneDNN counts the gaps: ONNX dilation - 1
        const dims pl = {g.pads_begin[0], g.pads_begin[1]}, pr = {g.pads_end[0], g.pads_end[1]};
        // A depthwise convolution does about a quarter of a dense one's multiply-adds per second (memory-bound: one
        // input channel per output channel), so it is worth a second thread at a quarter of the MACs. Measured at 2
        // threads: mobilenet_v3_small 0.613 -> 0.572 ms, efficientnet_b0 3.36 -> 3.29 ms (minimums).
        const double dw_cost = cg_ == 1 && group_ > 1 ? 4.0 : 1.0;
        e->threads =
            threads_for(double(n) * g.out[0] * g.out[1] * m_ * cg_ * kh_ * kw_ * dw_cost, kMacsPerThread, threads_);
        try {
            set_threads(e->threads);
            using cf = dnnl::convolution_forward;
            const cf::desc d = bias_.defined()
                                   ? cf::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              e->src_md, w_any, bias_md(), e->dst_md, strides, dil, pl, pr)
                                   : cf::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              e->src_md, w_any, e->dst_md, strides, dil, pl, pr);
            dnnl::primitive_attr attr = base_attr();
            dnnl::post_ops po;
            if (has_z_) po.append_sum(1.0f);
            if (act_.kind != fused::Act::kSwish) append_activation(po, act_);  // Swish: after, see run()
            attr.set_post_ops(po);
            e->pd = cf::primitive_desc(d, attr, engine());
            e->prim = cf(e->pd);
            if (has_z_) {
                e->z_copy_pd = dnnl::reorder::primitive_desc(engine(), e->dst_md, engine(), e->dst_md, base_attr());
                e->z_copy = dnnl::reorder(e->z_copy_pd);
            }
            e->weights = weights_.get(e->pd.weights_desc());
        } catch (const dnnl::error& err) {
            return error_status(a.node(), "creating a convolution", err);
        }
        std::shared_ptr<const ConvEntry> ce = e;
        cache_.put(xs, ce);
        return ce;
    }

    bool nhwc_, has_z_;
    int threads_;
    fused::Activation act_;
    Tensor w_, bias_;
    int64_t m_ = 0, cg_ = 0, kh_ = 0, kw_ = 0, group_ = 1;
    std::mutex mu_;
    ShapeCache<ConvEntry> cache_;
    WeightCache weights_;
};

}  // namespace

Result<std::unique_ptr<BackendKernel>> conv_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = fconv::supports(node, ctx.constant);
    if (!s.ok) return unsupported("onednn: " + node.describe() + ": " + s.reason);
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fconv::activation(node));
    const Tensor* w = ctx.constant(node.input(1));
    const Tensor* b = node.input(2) ? ctx.constant(node.input(2)) : nullptr;
    auto k = std::make_unique<ConvKernel>(node, ctx, *w, b ? *b : Tensor(), act);
    NNPORT_RETURN_IF_ERROR(k->warm_up(node));
    return std::unique_ptr<BackendKernel>(std::move(k));
}

}  // namespace nnport::onednn

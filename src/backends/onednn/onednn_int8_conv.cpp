// oneDNN int8 convolution: com.nnport QLinearFusedConv (answered channels-last) and NhwcQLinearFusedConv. uint8 or
// int8 activations as nhwc memory, int8 weights (zero point 0, per tensor or per output channel) reordered once into
// the primitive's layout (with oneDNN's s8s8 / zero-point compensation), int32 bias, output scales
// x_scale * w_scale[m] / y_scale per channel, the activation as an eltwise post-op in output steps (Relu; Clip with
// its bounds divided by y_scale) and the input and output zero points as run-time zero points. On AVX-512 VNNI CPUs
// oneDNN runs these with VPDPBUSD. Results equal the reference kernel's except where the float32 requantization
// rounds a value the reference (double) puts on the other side of a tie: at most one step.

#include "backends/onednn/onednn_common.hpp"
#include "backends/onednn/onednn_int8.hpp"
#include "backends/onednn/onednn_kernels.hpp"
#include "ops/nn_util.hpp"

namespace nnport::onednn {

namespace {

using qconv::is_nhwc;

struct Int8ConvEntry {
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
    dnnl::memory weights;
    dnnl::memory::desc src_md, dst_md;
    Shape out_shape;
    int threads = 1;
};

using QuantParams = qconv::Params;

class Int8ConvKernel final : public BackendKernel {
public:
    Int8ConvKernel(const ir::Node& node, const PrepareContext& ctx, Tensor w, Tensor bias, QuantParams qp,
                   fused::Activation act)
        : nhwc_(is_nhwc(node)), threads_(ctx.threads), act_(act), qp_(std::move(qp)), w_(std::move(w)),
          bias_(std::move(bias)) {
        AttrAccess a(node, *node.def);
        m_ = w_.dim(0);
        cg_ = w_.dim(1);
        kh_ = w_.dim(2);
        kw_ = w_.dim(3);
        group_ = a.attr_int("group");
        weights_ = WeightCache(dnnl::memory::desc(wdims(), dt::s8, group_ > 1 ? tag::goihw : tag::oihw), w_.raw_data());
        x_zp_ = qp_.x_zp;
        y_zp_ = qp_.y_zp;
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
        if (x.dtype() != qp_.x_type || x.rank() != 4) {
            return ctx.input_error("x must be a rank-4 " + std::string(dtype_name(qp_.x_type)) + " tensor, got " +
                                   dtype_name(x.dtype()) + " " + shape_to_string(x.shape()));
        }
        const int64_t c = x.dim(nhwc_ ? 3 : 1);
        if (c != cg_ * group_) {
            return ctx.input_error("x has " + std::to_string(c) + " channels, the weights expect " +
                                   std::to_string(cg_ * group_));
        }
        NNPORT_ASSIGN_OR_RETURN(std::shared_ptr<const Int8ConvEntry> e, entry_for(ctx, x.shape()));
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, qp_.y_type, e->out_shape));
        if (x.numel() == 0 || y->numel() == 0) return Status::ok();
        try {
            set_threads(e->threads);
            execute(e->prim, e->pd,
                    int8_args(e->src_md, x.raw_data(), e->weights, e->dst_md, y->raw_data(), &x_zp_, &y_zp_, bias_md(),
                              bias_));
        } catch (const dnnl::error& err) {
            return error_status(ctx.node(), "int8 convolution", err);
        }
        return Status::ok();
    }

private:
    dims wdims() const { return group_ > 1 ? dims{group_, m_ / group_, cg_, kh_, kw_} : dims{m_, cg_, kh_, kw_}; }
    dnnl::memory::desc bias_md() const { return dnnl::memory::desc({m_}, dt::s32, tag::x); }

    Result<std::shared_ptr<const Int8ConvEntry>> entry_for(const AttrAccess& a, const Shape& xs) {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto e = cache_.find(xs)) return e;
        const int64_t n = xs[0], h = xs[nhwc_ ? 1 : 2], w = xs[nhwc_ ? 2 : 3], c = xs[nhwc_ ? 3 : 1];
        NNPORT_ASSIGN_OR_RETURN(nn::Geometry g, nn::window_geometry(a, {h, w}, {kh_, kw_}, false));
        auto e = std::make_shared<Int8ConvEntry>();
        const tag t = nhwc_ ? tag::nhwc : tag::nchw;
        e->src_md = dnnl::memory::desc({n, c, h, w}, int8_dt(qp_.x_type), t);
        e->dst_md = dnnl::memory::desc({n, m_, g.out[0], g.out[1]}, int8_dt(qp_.y_type), t);
        e->out_shape = nhwc_ ? Shape{n, g.out[0], g.out[1], m_} : Shape{n, m_, g.out[0], g.out[1]};
        const dnnl::memory::desc w_any(wdims(), dt::s8, tag::any);
        const dims strides = {g.strides[0], g.strides[1]};
        const dims dil = {g.dilations[0] - 1, g.dilations[1] - 1};  // oneDNN counts the gaps: ONNX dilation - 1
        const dims pl = {g.pads_begin[0], g.pads_begin[1]}, pr = {g.pads_end[0], g.pads_end[1]};
        // int8 multiply-adds run about four times as fast as float ones: a thread needs four times the work.
        e->threads = threads_for(double(n) * g.out[0] * g.out[1] * m_ * cg_ * kh_ * kw_, 4 * kMacsPerThread, threads_);
        try {
            set_threads(e->threads);
            using cf = dnnl::convolution_forward;
            const cf::desc d = bias_.defined()
                                   ? cf::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              e->src_md, w_any, bias_md(), e->dst_md, strides, dil, pl, pr)
                                   : cf::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              e->src_md, w_any, e->dst_md, strides, dil, pl, pr);
            const dnnl::primitive_attr attr = int8_attr(qp_.out_scales, true, act_, qp_.y_scale);
            e->pd = cf::primitive_desc(d, attr, engine());
            e->prim = cf(e->pd);
            e->weights = weights_.get(e->pd.weights_desc());
        } catch (const dnnl::error& err) {
            return error_status(a.node(), "creating an int8 convolution", err);
        }
        std::shared_ptr<const Int8ConvEntry> ce = e;
        cache_.put(xs, ce);
        return ce;
    }

    bool nhwc_;
    int threads_;
    fused::Activation act_;
    QuantParams qp_;
    Tensor w_, bias_;
    int32_t x_zp_ = 0, y_zp_ = 0;  ///< zero points passed at run time (oneDNN reads them from these)
    int64_t m_ = 0, cg_ = 0, kh_ = 0, kw_ = 0, group_ = 1;
    std::mutex mu_;
    ShapeCache<Int8ConvEntry> cache_;
    WeightCache weights_;
};

}  // namespace

bool is_int8_conv(const ir::Node& node) { return qconv::is_qconv(node); }

Support int8_conv_supports(const ir::Node& node, const ConstantFn& constant) { return qconv::supports(node, constant); }

Result<std::unique_ptr<BackendKernel>> int8_conv_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = int8_conv_supports(node, ctx.constant);
    if (!s.ok) return unsupported("onednn: " + node.describe() + ": " + s.reason);
    NNPORT_ASSIGN_OR_RETURN(QuantParams qp, qconv::params(node, ctx.constant));
    const Tensor& w = *qp.w;
    const Tensor bias = qp.bias ? *qp.bias : Tensor();
    const fused::Activation act = qp.act;
    auto k = std::make_unique<Int8ConvKernel>(node, ctx, w, bias, std::move(qp), act);
    NNPORT_RETURN_IF_ERROR(k->warm_up(node));
    return std::unique_ptr<BackendKernel>(std::move(k));
}

}  // namespace nnport::onednn

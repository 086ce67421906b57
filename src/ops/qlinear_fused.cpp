// nnport's quantized fused convolution (domain com.nnport), written by the fuse_qdq pass for DequantizeLinear ->
// Conv [-> Relu | Clip] -> QuantizeLinear: QLinearFusedConv has QLinearConv's inputs and attributes plus FusedConv's
// `activation` (Identity, Relu or Clip). The activation is applied after requantization as a clamp of the quantized
// output, which is exact: rounding is monotone, so round(relu(v) / s) + zp == max(round(v / s) + zp, zp) and likewise
// for Clip's bounds. NhwcQLinearFusedConv is its channels-last twin (x and y as [N, H, W, C], weights keep
// [M, C/group, kH, kW]) for the partitioner. The reference kernels run ONNX QLinearConv's kernel and clamp; backends
// (oneDNN) run them as int8 convolutions.
#include "ops/fused_util.hpp"
#include "ops/quant_util.hpp"
#include "ops/tensor_util.hpp"

namespace nnport {

const OpDef& op_def_QLinearConv();

namespace {

constexpr int kToNchw[4] = {0, 3, 1, 2};
constexpr int kToNhwc[4] = {0, 2, 3, 1};

/// Reads the activation and checks it is one the quantized conv applies as a clamp.
Result<fused::Activation> quant_activation(const AttrAccess& a) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fused::parse_activation(a));
    if (act.kind != fused::Act::kIdentity && act.kind != fused::Act::kRelu && act.kind != fused::Act::kClip) {
        return a.error("activation must be Identity, Relu or Clip (a clamp of the quantized output)");
    }
    return act;
}

Status fused_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(quant_activation(ctx).status());
    return op_def_QLinearConv().infer(ctx);
}

/// Channels-last inference: output [N, oH, oW, M] from the NCHW geometry.
Status nhwc_fused_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(quant_activation(ctx).status());
    const ir::ValueType& x = ctx.input_type(0);
    const ir::ValueType& w = ctx.input_type(3);
    const DType out = ctx.has_input(7) ? ctx.input_type(7).dtype : x.dtype;
    if (out != DType::kUInt8 && out != DType::kInt8) {
        return ctx.error(std::string("y_zero_point must be uint8 or int8, got ") + dtype_name(out));
    }
    if (!x.has_shape || !w.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(out));
        return Status::ok();
    }
    if (x.dims.size() != 4 || w.dims.size() != 4) {
        return ctx.error("x must be rank 4 [N, H, W, C] and w rank 4, got " + x.to_string() + " and " + w.to_string());
    }
    auto get = [](const ir::Dim& d) { return d.is_static() ? d.value : int64_t{-1}; };
    if (!w.dims[2].is_static() || !w.dims[3].is_static()) return ctx.error("w must have static spatial dims");
    NNPORT_ASSIGN_OR_RETURN(nn::Geometry g, nn::window_geometry(ctx, {get(x.dims[1]), get(x.dims[2])},
                                                                {w.dims[2].value, w.dims[3].value}, false));
    ir::ValueType t = ir::ValueType::tensor(out, {x.dims[0], ir::Dim(), ir::Dim(), w.dims[0]});
    for (size_t i = 0; i < 2; ++i) t.dims[i + 1] = g.out[i] >= 0 ? ir::Dim(g.out[i]) : ctx.new_dim();
    ctx.set_output(0, t);
    return Status::ok();
}

Shape permuted_shape(const Shape& s, const int (&perm)[4]) {
    return {s[size_t(perm[0])], s[size_t(perm[1])], s[size_t(perm[2])], s[size_t(perm[3])]};
}

/// x permuted by `perm` into a new contiguous tensor.
Result<Tensor> permute(const KernelContext& ctx, const Tensor& x, const int (&perm)[4]) {
    const Shape shape = permuted_shape(x.shape(), perm);
    const std::vector<int64_t> in = strides_of(x.shape());
    std::vector<int64_t> st(4);
    for (size_t i = 0; i < 4; ++i) st[i] = in[size_t(perm[i])];
    NNPORT_ASSIGN_OR_RETURN(Tensor t, Tensor::create(x.dtype(), shape));
    NNPORT_RETURN_IF_ERROR(strided_copy(ctx, x, 0, shape, st, t));
    return t;
}

template <typename Q>
void clamp_output(Q* y, int64_t n, int32_t lo, int32_t hi) {
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<Q>(std::clamp<int32_t>(y[i], lo, hi));
}

/// The quantized bounds [lo, hi] of the activation for output scale `ys` and zero point `zp` of dtype `t`.
void activation_bounds(const fused::Activation& act, double ys, int32_t zp, DType t, int32_t& lo, int32_t& hi) {
    quant::quant_range(t, lo, hi);
    const int32_t qlo = lo, qhi = hi;
    if (act.kind == fused::Act::kRelu) lo = std::max(lo, zp);
    if (act.kind == fused::Act::kClip) {
        lo = std::max(lo, quant::quantize_value<double>(act.p0 / ys, zp, qlo, qhi));
        hi = std::min(hi, quant::quantize_value<double>(act.p1 / ys, zp, qlo, qhi));
    }
}

/// QLinearConv on NCHW data (x already NCHW), then the activation's clamp; returns the NCHW result.
Result<Tensor> run_nchw(KernelContext& ctx, const RtValue* x) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, quant_activation(ctx));
    std::vector<const RtValue*> ins(ctx.num_inputs(), nullptr);
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        if (ctx.has_input(i)) ins[i] = &ctx.input_value(i);
    }
    ins[0] = x;
    std::vector<RtValue> outs(1);
    KernelContext inner(ctx.node(), op_def_QLinearConv(), std::move(ins), &outs, ctx.subgraphs(), ctx.pool());
    NNPORT_RETURN_IF_ERROR(op_def_QLinearConv().kernel(inner));
    Tensor y = std::move(outs[0].tensor);
    if (act.kind == fused::Act::kIdentity || y.numel() == 0) return y;
    const double ys = ctx.input(6).item_as_double();
    const int32_t zp = ctx.has_input(7) ? quant::zero_point_values(&ctx.input(7))[0] : 0;
    int32_t lo, hi;
    activation_bounds(act, ys, zp, y.dtype(), lo, hi);
    NNPORT_DISPATCH_QUANT(y.dtype(), Q, ctx, clamp_output<Q>(y.data<Q>(), y.numel(), lo, hi));
    return y;
}

Status fused_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_ASSIGN_OR_RETURN(Tensor y, run_nchw(ctx, &ctx.input_value(0)));
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, y.dtype(), y.shape()));
    if (y.numel() > 0) std::memcpy(out->raw_data(), y.raw_data(), y.nbytes());
    return Status::ok();
}

Status nhwc_fused_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    if (ctx.input(0).rank() != 4) {
        return ctx.input_error("x must be rank 4 [N, H, W, C], got " + shape_to_string(ctx.input(0).shape()));
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor xt, permute(ctx, ctx.input(0), kToNchw));
    const RtValue x(std::move(xt));
    NNPORT_ASSIGN_OR_RETURN(Tensor y, run_nchw(ctx, &x));
    NNPORT_ASSIGN_OR_RETURN(Tensor yt, permute(ctx, y, kToNhwc));
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, yt.dtype(), yt.shape()));
    if (yt.numel() > 0) std::memcpy(out->raw_data(), yt.raw_data(), yt.nbytes());
    return Status::ok();
}

OpDef fused_def(const char* name, InferFn infer, KernelFn kernel, const char* doc) {
    const OpDef& base = op_def_QLinearConv();
    OpDef o;
    o.name = name;
    o.domain = "com.nnport";
    o.since_version = 1;
    o.min_inputs = base.min_inputs;
    o.max_inputs = base.max_inputs;
    o.attrs = base.attrs;
    for (const AttrSpec& s : fused::activation_attrs()) o.attrs.push_back(s);
    o.infer = infer;
    o.kernel = kernel;
    o.input0_types = base.input0_types;
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_QLinearFusedConv() {
    static const OpDef d = fused_def("QLinearFusedConv", fused_infer, fused_kernel,
                                     "nnport fused op: QLinearConv's inputs and attributes, then `activation` "
                                     "(Identity, Relu or Clip with activation_params) as a clamp of the quantized "
                                     "output; written by fuse_qdq for DequantizeLinear -> Conv -> QuantizeLinear.");
    return d;
}

const OpDef& op_def_NhwcQLinearFusedConv() {
    static const OpDef d = fused_def("NhwcQLinearFusedConv", nhwc_fused_infer, nhwc_fused_kernel,
                                     "nnport channels-last QLinearFusedConv (2-D): x [N, H, W, C], w [M, C/group, kH, "
                                     "kW], y [N, oH, oW, M]; written by the partitioner for NHWC backends.");
    return d;
}

}  // namespace nnport

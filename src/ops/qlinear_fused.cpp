// nnport's quantized fused convolution (domain com.nnport), written by the fuse_qdq pass for DequantizeLinear ->
// Conv [-> Relu | Clip] -> QuantizeLinear: QLinearFusedConv has QLinearConv's inputs and attributes plus FusedConv's
// `activation` (Identity, Relu or Clip). The activation is applied after requantization as a clamp of the quantized
// output, which is exact: rounding is monotone, so round(relu(v) / s) + zp == max(round(v / s) + zp, zp) and likewise
// for Clip's bounds. NhwcQLinearFusedConv is its channels-last twin (x and y as [N, H, W, C], weights keep
// [M, C/group, kH, kW]) for the partitioner. The reference kernels run ONNX QLinearConv's kernel and clamp; backends
// (oneDNN) run them as int8 convolutions.
//
// QLinearAdd (written by fuse_qdq for DequantizeLinear(a) + DequantizeLinear(b) -> Add [-> Relu | Clip] ->
// QuantizeLinear) has ONNX Runtime's com.microsoft QLinearAdd inputs (A, A_scale, A_zero_point, B, B_scale,
// B_zero_point, C_scale, C_zero_point; per-tensor parameters, numpy broadcasting) plus the same `activation`. The
// reference kernel computes exactly what the float path it replaces computes: float (A - A_zp) * A_scale plus
// float (B - B_zp) * B_scale, divided by C_scale, rounded half to even, plus C_zp, saturated, clamped.
//
// QGemm (written by fuse_qdq for DequantizeLinear(a) x DequantizeLinear(w int8 constant) [+ bias] -> Gemm [-> Relu |
// Clip] [-> QuantizeLinear]) has ONNX Runtime's com.microsoft QGemm inputs (A, a_scale, a_zero_point, B, b_scale,
// b_zero_point, C, y_scale, y_zero_point; b's parameters per tensor or per output column, C int32 with scale
// a_scale * b_scale and zero point 0) and attributes (alpha, transA, transB), plus the `activation`: Y =
// a_scale * b_scale[n] * (alpha * sum_k (A - a_zp)(B - b_zp[n]) + C) then the activation, float32 without y_scale,
// else quantized to y_zero_point's type.
#include "ops/elementwise_util.hpp"
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
    quant::activation_bounds(act, ys, zp, y.dtype(), lo, hi);
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


// ---- QLinearAdd ----

Status qadd_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(quant_activation(ctx).status());
    const ir::ValueType& a = ctx.input_type(0);
    const ir::ValueType& b = ctx.input_type(3);
    if (a.dtype != DType::kUndefined && a.dtype != DType::kUInt8 && a.dtype != DType::kInt8) {
        return ctx.error(std::string("A must be uint8 or int8, got ") + dtype_name(a.dtype));
    }
    NNPORT_RETURN_IF_ERROR(ew_infer_same_dtype(ctx, 0, 3));
    for (size_t i : {size_t{1}, size_t{4}, size_t{6}}) {
        const ir::ValueType& s = ctx.input_type(i);
        if (s.dtype != DType::kUndefined && s.dtype != DType::kFloat32) {
            return ctx.error("input " + std::to_string(i) + " (a scale) must be float32, got " + dtype_name(s.dtype));
        }
    }
    for (size_t i : {size_t{2}, size_t{5}, size_t{7}}) {
        if (ctx.has_input(i)) NNPORT_RETURN_IF_ERROR(ew_infer_same_dtype(ctx, 0, i));
    }
    auto r = broadcast_types({&a, &b}, a.dtype);
    if (!r.is_ok()) return ctx.error(r.status().message());
    ctx.set_output(0, std::move(r).value());
    return Status::ok();
}

/// One per-tensor parameter: a float32 scale (positive, finite) or a zero point of the data type (0 when absent).
Result<float> scalar_scale(const KernelContext& ctx, size_t i) {
    const Tensor& s = ctx.input(i);
    if (s.dtype() != DType::kFloat32 || s.numel() != 1) {
        return ctx.input_error("input " + std::to_string(i) + " must be one float32 scale, got " +
                               std::string(dtype_name(s.dtype())) + " " + shape_to_string(s.shape()));
    }
    const float v = s.data<float>()[0];
    if (!(v > 0.0f) || !std::isfinite(v)) return ctx.input_error("scale " + std::to_string(i) + " must be > 0");
    return v;
}

Result<int32_t> scalar_zero_point(const KernelContext& ctx, size_t i, DType t) {
    if (!ctx.has_input(i)) return 0;
    const Tensor& z = ctx.input(i);
    if (z.dtype() != t || z.numel() != 1) {
        return ctx.input_error("input " + std::to_string(i) + " must be one " + dtype_name(t) + " zero point, got " +
                               dtype_name(z.dtype()) + " " + shape_to_string(z.shape()));
    }
    return quant::zero_point_values(&z)[0];
}

template <typename Q>
Status qadd_run(KernelContext& ctx, const Tensor& a, const Tensor& b, const BroadcastPlan& p) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, quant_activation(ctx));
    NNPORT_ASSIGN_OR_RETURN(const float as, scalar_scale(ctx, 1));
    NNPORT_ASSIGN_OR_RETURN(const float bs, scalar_scale(ctx, 4));
    NNPORT_ASSIGN_OR_RETURN(const float ys, scalar_scale(ctx, 6));
    const DType t = a.dtype();
    NNPORT_ASSIGN_OR_RETURN(const int32_t az, scalar_zero_point(ctx, 2, t));
    NNPORT_ASSIGN_OR_RETURN(const int32_t bz, scalar_zero_point(ctx, 5, t));
    NNPORT_ASSIGN_OR_RETURN(const int32_t yz, scalar_zero_point(ctx, 7, t));
    int32_t lo, hi, tlo, thi;
    quant::activation_bounds(act, ys, yz, t, lo, hi);
    quant::quant_range(t, tlo, thi);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, t, p.out_shape));
    const Q* pa = a.data<Q>();
    const Q* pb = b.data<Q>();
    Q* py = out->data<Q>();
    auto op = [&](Q x, Q y) {
        const float v = static_cast<float>(int32_t(x) - az) * as + static_cast<float>(int32_t(y) - bz) * bs;
        return static_cast<Q>(std::clamp(quant::quantize_value<float>(v / ys, yz, tlo, thi), lo, hi));
    };
    for_each_row<2>(ctx, p, 4, [&](int64_t o, const int64_t* off, const int64_t* st, int64_t n) {
        binary_row(py + o, pa + off[0], st[0], pb + off[1], st[1], n, op);
    });
    return Status::ok();
}

Status qadd_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 2));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(3));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(4));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(6));
    NNPORT_RETURN_IF_ERROR(ew_require_same_dtype(ctx, 0, 3));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(3);
    auto plan = make_broadcast_plan({&a.shape(), &b.shape()});
    if (!plan.is_ok()) return ctx.input_error(plan.status().message());
    switch (a.dtype()) {
        case DType::kUInt8: return qadd_run<uint8_t>(ctx, a, b, plan.value());
        case DType::kInt8: return qadd_run<int8_t>(ctx, a, b, plan.value());
        default: return ctx.input_error(std::string("A must be uint8 or int8, got ") + dtype_name(a.dtype()));
    }
}

// ---- QGemm ----

Status qgemm_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(quant_activation(ctx).status());
    const ir::ValueType& a = ctx.input_type(0);
    const ir::ValueType& b = ctx.input_type(3);
    for (const ir::ValueType* t : {&a, &b}) {
        if (t->dtype != DType::kUndefined && t->dtype != DType::kUInt8 && t->dtype != DType::kInt8) {
            return ctx.error(std::string("A and B must be uint8 or int8, got ") + dtype_name(t->dtype));
        }
        if (t->has_shape && t->dims.size() != 2) return ctx.error("A and B must be rank 2, got " + t->to_string());
    }
    DType out = DType::kFloat32;
    if (ctx.has_input(7)) out = ctx.has_input(8) ? ctx.input_type(8).dtype : DType::kUInt8;
    if (out != DType::kFloat32 && out != DType::kUInt8 && out != DType::kInt8 && out != DType::kUndefined) {
        return ctx.error(std::string("y_zero_point must be uint8 or int8, got ") + dtype_name(out));
    }
    ir::ValueType y = ir::ValueType::tensor(out, {ir::Dim(), ir::Dim()});
    y.dims[0] = a.has_shape ? a.dims[ctx.attr_int("transA") ? 1 : 0] : ctx.new_dim();
    y.dims[1] = b.has_shape ? b.dims[ctx.attr_int("transB") ? 0 : 1] : ctx.new_dim();
    ctx.set_output(0, y);
    return Status::ok();
}

/// One value or one per column (n values) of a B parameter, as a vector of n (float or int) values.
template <typename T>
Result<std::vector<T>> per_column(const KernelContext& ctx, size_t i, int64_t n, const char* what) {
    const Tensor& t = ctx.input(i);
    if (t.numel() != 1 && !(t.rank() == 1 && t.dim(0) == n)) {
        return ctx.input_error(std::string(what) + " must hold one value or one per output column (" +
                               std::to_string(n) + "), got " + shape_to_string(t.shape()));
    }
    std::vector<T> v(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) v[size_t(j)] = static_cast<T>(t.item_as_double(t.numel() == 1 ? 0 : j));
    return v;
}

template <typename QA, typename QB>
Status qgemm_run(KernelContext& ctx, const Tensor& a, const Tensor& b) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, quant_activation(ctx));
    const bool ta = ctx.attr_int("transA") != 0, tb = ctx.attr_int("transB") != 0;
    const float alpha = ctx.attr_float("alpha");
    const int64_t m = a.dim(ta ? 1 : 0), k = a.dim(ta ? 0 : 1), n = b.dim(tb ? 0 : 1);
    if (b.dim(tb ? 1 : 0) != k) {
        return ctx.input_error("A " + shape_to_string(a.shape()) + " and B " + shape_to_string(b.shape()) +
                               " do not multiply (transA " + std::to_string(ta) + ", transB " + std::to_string(tb) +
                               ")");
    }
    NNPORT_ASSIGN_OR_RETURN(const float as, scalar_scale(ctx, 1));
    NNPORT_ASSIGN_OR_RETURN(const int32_t az, scalar_zero_point(ctx, 2, a.dtype()));
    NNPORT_ASSIGN_OR_RETURN(std::vector<float> bs, per_column<float>(ctx, 4, n, "b_scale"));
    if (ctx.input(4).dtype() != DType::kFloat32) return ctx.input_error("b_scale must be float32");
    std::vector<int32_t> bz(static_cast<size_t>(n), 0);
    if (ctx.has_input(5)) {
        if (ctx.input(5).dtype() != b.dtype()) return ctx.input_error("b_zero_point must have B's type");
        NNPORT_ASSIGN_OR_RETURN(bz, per_column<int32_t>(ctx, 5, n, "b_zero_point"));
    }
    const Tensor* c = ctx.has_input(6) ? &ctx.input(6) : nullptr;
    if (c && (c->dtype() != DType::kInt32 ||
              !(c->numel() == 1 || (c->rank() >= 1 && c->rank() <= 2 && c->shape().back() == n &&
                                    (c->rank() == 1 || c->dim(0) == 1 || c->dim(0) == m))))) {
        return ctx.input_error("C must be int32 broadcastable to [M, N] = [" + std::to_string(m) + ", " +
                               std::to_string(n) + "], got " + dtype_name(c->dtype()) + " " +
                               shape_to_string(c->shape()));
    }
    const bool quantized = ctx.has_input(7);
    float ys = 1.0f;
    int32_t yz = 0, lo = 0, hi = 0, tlo = 0, thi = 0;
    DType yt = DType::kFloat32;
    if (quantized) {
        NNPORT_ASSIGN_OR_RETURN(ys, scalar_scale(ctx, 7));
        yt = ctx.has_input(8) ? ctx.input(8).dtype() : DType::kUInt8;
        if (yt != DType::kUInt8 && yt != DType::kInt8) return ctx.input_error("y_zero_point must be uint8 or int8");
        NNPORT_ASSIGN_OR_RETURN(yz, scalar_zero_point(ctx, 8, yt));
        quant::activation_bounds(act, ys, yz, yt, lo, hi);
        quant::quant_range(yt, tlo, thi);
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, yt, {m, n}));
    const QA* pa = a.data<QA>();
    const QB* pb = b.data<QB>();
    const int64_t sam = ta ? 1 : k, sak = ta ? m : 1, sbk = tb ? 1 : n, sbn = tb ? k : 1;
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
            int64_t acc = 0;
            for (int64_t q = 0; q < k; ++q) {
                acc += int64_t(int32_t(pa[i * sam + q * sak]) - az) * (int32_t(pb[q * sbk + j * sbn]) - bz[size_t(j)]);
            }
            const int64_t cv = c ? static_cast<int64_t>(c->data<int32_t>()[c->numel() == 1 ? 0
                                                                           : (c->rank() == 2 && c->dim(0) == m ? i * n + j : j)])
                                 : 0;
            const float scale = as * bs[size_t(j)];
            row[size_t(j)] = scale * (alpha == 1.0f ? static_cast<float>(acc + cv)
                                                    : alpha * static_cast<float>(acc) + static_cast<float>(cv));
        }
        if (!quantized) {
            fused::apply_activation(act, row.data(), n);
            std::memcpy(y->data<float>() + i * n, row.data(), static_cast<size_t>(n) * sizeof(float));
            continue;
        }
        NNPORT_DISPATCH_QUANT(yt, Q, ctx, {
            Q* py = y->data<Q>() + i * n;
            for (int64_t j = 0; j < n; ++j) {
                py[j] = static_cast<Q>(std::clamp(quant::quantize_value<float>(row[size_t(j)] / ys, yz, tlo, thi), lo, hi));
            }
        });
    }
    return Status::ok();
}

Status qgemm_kernel(KernelContext& ctx) {
    for (size_t i : {size_t{0}, size_t{1}, size_t{3}, size_t{4}}) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(3);
    if (a.rank() != 2 || b.rank() != 2) {
        return ctx.input_error("A and B must be rank 2, got " + shape_to_string(a.shape()) + " and " +
                               shape_to_string(b.shape()));
    }
    const bool au = a.dtype() == DType::kUInt8, bu = b.dtype() == DType::kUInt8;
    if ((!au && a.dtype() != DType::kInt8) || (!bu && b.dtype() != DType::kInt8)) {
        return ctx.input_error(std::string("A and B must be uint8 or int8, got ") + dtype_name(a.dtype()) + " and " +
                               dtype_name(b.dtype()));
    }
    if (au) return bu ? qgemm_run<uint8_t, uint8_t>(ctx, a, b) : qgemm_run<uint8_t, int8_t>(ctx, a, b);
    return bu ? qgemm_run<int8_t, uint8_t>(ctx, a, b) : qgemm_run<int8_t, int8_t>(ctx, a, b);
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

const OpDef& op_def_QLinearAdd() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "QLinearAdd";
        o.domain = "com.nnport";
        o.since_version = 1;
        o.min_inputs = 7;
        o.max_inputs = 8;
        o.attrs = fused::activation_attrs();
        o.infer = qadd_infer;
        o.kernel = qadd_kernel;
        o.input0_types = {DType::kUInt8, DType::kInt8};
        o.inplace_elementwise = true;
        o.doc = "nnport fused op: C = saturate(round((A_scale * (A - A_zero_point) + B_scale * (B - B_zero_point)) / "
                "C_scale) + C_zero_point) with numpy broadcasting (ONNX Runtime's com.microsoft QLinearAdd inputs), "
                "then `activation` (Identity, Relu or Clip) as a clamp of the quantized output; written by fuse_qdq "
                "for DequantizeLinear + DequantizeLinear -> Add -> QuantizeLinear.";
        return o;
    }();
    return d;
}

const OpDef& op_def_QGemm() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "QGemm";
        o.domain = "com.nnport";
        o.since_version = 1;
        o.min_inputs = 5;
        o.max_inputs = 9;
        o.attrs = {AttrSpec::f("alpha", 1.0f), AttrSpec::i("transA", 0), AttrSpec::i("transB", 0)};
        for (const AttrSpec& a : fused::activation_attrs()) o.attrs.push_back(a);
        o.infer = qgemm_infer;
        o.kernel = qgemm_kernel;
        o.input0_types = {DType::kUInt8, DType::kInt8};
        o.doc = "nnport fused op: ONNX Runtime's com.microsoft QGemm inputs and attributes (b per tensor or per output "
                "column, int32 C with scale a_scale * b_scale), Y = a_scale * b_scale[n] * (alpha * (A - a_zp)(B - "
                "b_zp) + C), then `activation` (Identity, Relu or Clip); float32 without y_scale, else quantized; "
                "written by fuse_qdq for DequantizeLinear -> Gemm [-> QuantizeLinear].";
        return o;
    }();
    return d;
}

}  // namespace nnport

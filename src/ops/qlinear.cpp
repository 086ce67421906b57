// QLinearMatMul and QLinearConv: int32 accumulation of zero-point-adjusted operands, then requantization
// y = saturate(round_half_even(acc * (x_scale * w_scale / y_scale)) + y_zero_point).
#include "ops/quant_util.hpp"

namespace nnport {

namespace {

/// Rows (or planes) of output per parallel task below which requantization stays on the calling thread.
constexpr int64_t kParallelMin = 1 << 15;

Status check_int8(const KernelContext& ctx, const Tensor& t, const char* what) {
    if (t.dtype() != DType::kUInt8 && t.dtype() != DType::kInt8) {
        return ctx.input_error(std::string(what) + " must be uint8 or int8, got " + dtype_name(t.dtype()));
    }
    return Status::ok();
}

Status check_scale(const KernelContext& ctx, size_t i, const char* what) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const DType t = ctx.input(i).dtype();
    if (t != DType::kFloat32 && t != DType::kFloat64) {
        return ctx.input_error(std::string(what) + " must be a float tensor, got " + dtype_name(t));
    }
    return Status::ok();
}

Status check_single(const KernelContext& ctx, const Tensor* t, const char* what) {
    if (t && t->numel() != 1) {
        return ctx.input_error(std::string(what) + " must hold one value, got " + shape_to_string(t->shape()));
    }
    return Status::ok();
}

const Tensor* optional_input(const KernelContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; }

/// Output type: y_zero_point's dtype, else x's.
Result<DType> qlinear_out_dtype(const AttrAccess& a, DType x, DType y_zp) {
    const DType t = y_zp != DType::kUndefined ? y_zp : x;
    if (t != DType::kUndefined && !quant::is_quant_type(t)) {
        return a.error(std::string("y_zero_point must be uint8 or int8, got ") + dtype_name(t));
    }
    return t;
}

Result<DType> infer_out_dtype(InferContext& ctx) {
    return qlinear_out_dtype(ctx, ctx.input_type(0).dtype,
                             ctx.has_input(7) ? ctx.input_type(7).dtype : DType::kUndefined);
}

// ---- QLinearMatMul ----

Status qlinear_matmul_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(DType dt, infer_out_dtype(ctx));
    return quant::matmul_infer_dims(ctx, 0, 3, dt);
}

/// y_scale / y_zero_point of a matmul: one value or one per row of the output.
Result<quant::MatParam> output_row_param(const KernelContext& ctx, const Tensor& p, int64_t m, const char* what) {
    NNPORT_ASSIGN_OR_RETURN(quant::MatParam r, quant::mat_param(ctx, p, Shape{m, 1}, true, what));
    if (r.kind == 2) r.kind = 1;  // [M, 1] is per row as well
    return r;
}

template <typename Q>
void requantize_matmul(const KernelContext& ctx, const int32_t* acc, Q* y, const quant::MatMulShape& s,
                       const quant::MatParam (&ps)[3], const std::vector<float> (&sv)[3], const quant::MatParam& pz,
                       const std::vector<int32_t>& zv) {
    int32_t lo, hi;
    quant::quant_range(DTypeOf<Q>::value, lo, hi);
    const int64_t rows = static_cast<int64_t>(s.off_a.size()) * s.m, n = s.n;
    auto run = [&](int64_t r0, int64_t r1) {
        for (int64_t row = r0; row < r1; ++row) {
            const int64_t i = row / s.m, r = row % s.m;
            const float fa = sv[0][static_cast<size_t>(ps[0].index(s.off_a[static_cast<size_t>(i)], r))];
            const float fy = sv[2][static_cast<size_t>(ps[2].index(0, r))];
            const int32_t z = zv[static_cast<size_t>(pz.index(0, r))];
            const float* fb = sv[1].data() + (ps[1].kind == 0 ? 0 : ps[1].index(s.off_b[static_cast<size_t>(i)], 0));
            const int32_t* __restrict ar = acc + row * n;
            Q* __restrict yr = y + row * n;
            if (ps[1].kind == 0) {
                const double mult = static_cast<double>(fa * fb[0] / fy);
                for (int64_t c = 0; c < n; ++c) {
                    yr[c] = static_cast<Q>(quant::quantize_value<double>(static_cast<double>(ar[c]) * mult, z, lo, hi));
                }
            } else {
                for (int64_t c = 0; c < n; ++c) {
                    const double mult = static_cast<double>(fa * fb[c] / fy);
                    yr[c] = static_cast<Q>(quant::quantize_value<double>(static_cast<double>(ar[c]) * mult, z, lo, hi));
                }
            }
        }
    };
    if (rows * n < kParallelMin) run(0, rows); else ctx.parallel_for(rows, run);
}

Status qlinear_matmul_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(3));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(3);
    NNPORT_RETURN_IF_ERROR(check_int8(ctx, a, "a"));
    NNPORT_RETURN_IF_ERROR(check_int8(ctx, b, "b"));
    NNPORT_RETURN_IF_ERROR(check_scale(ctx, 1, "a_scale"));
    NNPORT_RETURN_IF_ERROR(check_scale(ctx, 4, "b_scale"));
    NNPORT_RETURN_IF_ERROR(check_scale(ctx, 6, "y_scale"));
    const Tensor* y_zp = optional_input(ctx, 7);
    NNPORT_ASSIGN_OR_RETURN(DType out, qlinear_out_dtype(ctx, a.dtype(), y_zp ? y_zp->dtype() : DType::kUndefined));
    NNPORT_ASSIGN_OR_RETURN(quant::MatMulShape s, quant::matmul_shape(ctx, a.shape(), b.shape()));
    Shape as = a.shape(), bs = b.shape();
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    quant::MatParam ps[3], pz;
    NNPORT_ASSIGN_OR_RETURN(ps[0], quant::mat_param(ctx, ctx.input(1), as, true, "a_scale"));
    NNPORT_ASSIGN_OR_RETURN(ps[1], quant::mat_param(ctx, ctx.input(4), bs, false, "b_scale"));
    NNPORT_ASSIGN_OR_RETURN(ps[2], output_row_param(ctx, ctx.input(6), s.m, "y_scale"));
    if (y_zp) {
        NNPORT_ASSIGN_OR_RETURN(pz, output_row_param(ctx, *y_zp, s.m, "y_zero_point"));
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor acc, Tensor::create(DType::kInt32, {shape_numel(s.out)}));
    NNPORT_RETURN_IF_ERROR(
        quant::int_matmul(ctx, a, optional_input(ctx, 2), b, optional_input(ctx, 5), s, acc.data<int32_t>()));
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, out, s.out));
    if (y->numel() == 0) return Status::ok();
    const std::vector<float> sv[3] = {quant::scale_values<float>(ctx.input(1)),
                                      quant::scale_values<float>(ctx.input(4)),
                                      quant::scale_values<float>(ctx.input(6))};
    const std::vector<int32_t> zv = quant::zero_point_values(y_zp);
    NNPORT_DISPATCH_QUANT(out, Q, ctx,
                          requantize_matmul<Q>(ctx, acc.data<int32_t>(), y->data<Q>(), s, ps, sv, pz, zv));
    return Status::ok();
}

// ---- QLinearConv ----

Status qlinear_conv_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(DType dt, infer_out_dtype(ctx));
    return nn::conv_infer_common(ctx, 3, dt);
}

template <typename Q>
void requantize_conv(const KernelContext& ctx, const int32_t* acc, Q* y, int64_t planes, int64_t m, int64_t size,
                     const int32_t* bias, const std::vector<double>& mult, int32_t zp) {
    int32_t lo, hi;
    quant::quant_range(DTypeOf<Q>::value, lo, hi);
    auto run = [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const int64_t oc = p % m;
            const int64_t b = bias ? bias[oc] : 0;
            const double f = mult[static_cast<size_t>(oc)];
            const int32_t* __restrict ar = acc + p * size;
            Q* __restrict yr = y + p * size;
            for (int64_t i = 0; i < size; ++i) {
                yr[i] = static_cast<Q>(quant::quantize_value<double>(static_cast<double>(ar[i] + b) * f, zp, lo, hi));
            }
        }
    };
    if (planes * size < kParallelMin) run(0, planes); else ctx.parallel_for(planes, run);
}

Status qlinear_conv_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(3));
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(3);
    NNPORT_RETURN_IF_ERROR(check_int8(ctx, x, "x"));
    NNPORT_RETURN_IF_ERROR(check_int8(ctx, w, "w"));
    NNPORT_RETURN_IF_ERROR(check_scale(ctx, 1, "x_scale"));
    NNPORT_RETURN_IF_ERROR(check_scale(ctx, 4, "w_scale"));
    NNPORT_RETURN_IF_ERROR(check_scale(ctx, 6, "y_scale"));
    const Tensor* y_zp = optional_input(ctx, 7);
    NNPORT_ASSIGN_OR_RETURN(DType out, qlinear_out_dtype(ctx, x.dtype(), y_zp ? y_zp->dtype() : DType::kUndefined));
    NNPORT_RETURN_IF_ERROR(check_single(ctx, &ctx.input(1), "x_scale"));
    NNPORT_RETURN_IF_ERROR(check_single(ctx, &ctx.input(6), "y_scale"));
    NNPORT_RETURN_IF_ERROR(check_single(ctx, y_zp, "y_zero_point"));
    NNPORT_ASSIGN_OR_RETURN(nn::ConvShape s, nn::conv_shape(ctx, x, w));
    const Tensor& w_scale = ctx.input(4);
    if (w_scale.numel() != 1 && (w_scale.rank() != 1 || w_scale.dim(0) != s.m)) {
        return ctx.input_error("w_scale must hold one value or one per output channel (" + std::to_string(s.m) +
                               "), got " + shape_to_string(w_scale.shape()));
    }
    const Tensor* bias = optional_input(ctx, 8);
    if (bias && (bias->dtype() != DType::kInt32 || bias->rank() != 1 || bias->dim(0) != s.m)) {
        return ctx.input_error("B must be a 1-D int32 tensor of " + std::to_string(s.m) + " values");
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor acc, Tensor::create(DType::kInt32, s.out_shape));
    if (acc.numel() > 0) {
        NNPORT_RETURN_IF_ERROR(
            quant::int_conv(ctx, x, optional_input(ctx, 2), w, optional_input(ctx, 5), s, acc.data<int32_t>()));
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, out, s.out_shape));
    if (y->numel() == 0) return Status::ok();
    // Per output channel multiplier, formed in float as the reference does, applied in double.
    const float xs = static_cast<float>(ctx.input(1).item_as_double());
    const float ys = static_cast<float>(ctx.input(6).item_as_double());
    const std::vector<float> ws = quant::scale_values<float>(w_scale);
    std::vector<double> mult(static_cast<size_t>(s.m));
    for (int64_t oc = 0; oc < s.m; ++oc) {
        mult[static_cast<size_t>(oc)] = static_cast<double>(xs * ws[ws.size() == 1 ? 0 : static_cast<size_t>(oc)] / ys);
    }
    const int32_t zp = quant::zero_point_values(y_zp)[0];
    const int64_t size = shape_numel(s.out_shape) / (s.n * s.m);
    NNPORT_DISPATCH_QUANT(out, Q, ctx,
                          requantize_conv<Q>(ctx, acc.data<int32_t>(), y->data<Q>(), s.n * s.m, s.m, size,
                                             bias ? bias->data<int32_t>() : nullptr, mult, zp));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_QLinearMatMul() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "QLinearMatMul";
        o.since_version = 10;
        o.min_inputs = o.max_inputs = 8;
        o.infer = qlinear_matmul_infer;
        o.kernel = qlinear_matmul_kernel;
        o.input0_types = {DType::kUInt8, DType::kInt8};
        o.doc = "Quantized matmul: int32 accumulation, requantized with a_scale * b_scale / y_scale (per tensor, per "
                "row of a / y or per column of b), rounding half to even, saturating.";
        return o;
    }();
    return d;
}

const OpDef& op_def_QLinearConv() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "QLinearConv";
        o.since_version = 10;
        o.min_inputs = 8;
        o.max_inputs = 9;
        o.attrs = {AttrSpec::s("auto_pad", "NOTSET"), AttrSpec::ints("dilations"), AttrSpec::i("group", 1),
                   AttrSpec::ints("kernel_shape"), AttrSpec::ints("pads"), AttrSpec::ints("strides")};
        o.infer = qlinear_conv_infer;
        o.kernel = qlinear_conv_kernel;
        o.input0_types = {DType::kUInt8, DType::kInt8};
        o.doc = "Quantized convolution: int32 accumulation plus int32 bias, requantized with x_scale * w_scale[m] / "
                "y_scale (per-channel weight scales and zero points), rounding half to even, saturating.";
        return o;
    }();
    return d;
}

}  // namespace nnport

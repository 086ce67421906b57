// QuantizeLinear, DequantizeLinear (per-tensor, per-axis and blocked) and DynamicQuantizeLinear.
#include <algorithm>

#include "ops/quant_util.hpp"

namespace nnport {

namespace {

using quant::ParamLayout;

/// Elements per task below which kernels run on the calling thread.
constexpr int64_t kParallelMin = 1 << 15;

/// Calls fn(row, i0, i1) over x viewed as [rows, inner] (rows = outer * dim), split across threads.
template <typename F>
void for_each_segment(const KernelContext& ctx, const ParamLayout& l, int64_t numel, F&& fn) {
    auto run = [&](int64_t e0, int64_t e1) {
        for (int64_t e = e0; e < e1;) {
            const int64_t row = e / l.inner, i0 = e % l.inner, i1 = std::min(l.inner, i0 + (e1 - e));
            fn(row, i0, i1);
            e += i1 - i0;
        }
    };
    if (numel < kParallelMin) run(0, numel); else ctx.parallel_for(numel, run);
}

/// Declared element type of input i (before the executor's float16 -> float32 conversion).
DType declared_dtype(const KernelContext& ctx, size_t i) {
    const ir::Value* v = ctx.node().input(i);
    return v ? v->type.dtype : DType::kUndefined;
}

bool is_half(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

// ---- QuantizeLinear ----

/// Output type: the zero point's dtype, else output_dtype (opset 21), else uint8.
Result<DType> quantize_out_dtype(const AttrAccess& a, DType zp) {
    const int64_t od = a.attr_int("output_dtype");
    if (od != 0 && !dtype_is_valid(static_cast<int32_t>(od))) {
        return unsupported(a.node().describe() + ": output_dtype " + std::to_string(od) + " is not supported");
    }
    if (od != 0 && zp != DType::kUndefined && static_cast<DType>(od) != zp) {
        return a.error(std::string("output_dtype ") + dtype_name(static_cast<DType>(od)) +
                       " differs from the zero point's dtype " + dtype_name(zp));
    }
    const DType t = zp != DType::kUndefined ? zp : (od != 0 ? static_cast<DType>(od) : DType::kUInt8);
    if (!quant::is_quant_type(t)) {
        return unsupported(a.node().describe() + ": quantizing to " + dtype_name(t) +
                           " is not supported (uint8, int8, uint16, int16)");
    }
    return t;
}

Status quantize_infer(InferContext& ctx) {
    const DType zp = ctx.has_input(2) ? ctx.input_type(2).dtype : DType::kUndefined;
    NNPORT_ASSIGN_OR_RETURN(DType dt, quantize_out_dtype(ctx, zp));
    const ir::ValueType& xt = ctx.input_type(0);
    ctx.set_output(0, xt.has_shape ? ir::ValueType::tensor(dt, xt.dims) : ir::ValueType::tensor(dt));
    return Status::ok();
}

/// y = saturate(rint(x / scale) + zp); `half` rounds the quotient to that type first (float16 / bfloat16 division).
template <typename X, typename C, typename Q>
void quantize_run(const KernelContext& ctx, const X* x, const C* scale, const int32_t* zp, Q* y, const ParamLayout& l,
                  int64_t numel, DType half) {
    int32_t lo, hi;
    quant::quant_range(DTypeOf<Q>::value, lo, hi);
    auto div = [half](C v, C s) {
        C q = v / s;
        if (half == DType::kFloat16) q = static_cast<C>(Float16::to_float(Float16::from_float(static_cast<float>(q))));
        if (half == DType::kBFloat16) {
            q = static_cast<C>(BFloat16::to_float(BFloat16::from_float(static_cast<float>(q))));
        }
        return q;
    };
    for_each_segment(ctx, l, numel, [&](int64_t row, int64_t i0, int64_t i1) {
        const int64_t base = l.base(row / l.dim, row % l.dim), step = l.inner_step();
        const X* __restrict xr = x + row * l.inner;
        Q* __restrict yr = y + row * l.inner;
        if (step == 0 && half == DType::kUndefined) {
            const C s = scale[base];
            const int32_t z = zp[base];
            for (int64_t i = i0; i < i1; ++i) {
                yr[i] = static_cast<Q>(quant::quantize_value<C>(static_cast<C>(xr[i]) / s, z, lo, hi));
            }
        } else {
            for (int64_t i = i0; i < i1; ++i) {
                const int64_t p = base + i * step;
                yr[i] = static_cast<Q>(quant::quantize_value<C>(div(static_cast<C>(xr[i]), scale[p]), zp[p], lo, hi));
            }
        }
    });
}

template <typename X, typename C>
Status quantize_typed(KernelContext& ctx, const Tensor& x, const Tensor& s, const Tensor* zp, DType out,
                      const ParamLayout& l, DType half) {
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, out, x.shape()));
    const std::vector<C> sv = quant::scale_values<C>(s);
    std::vector<int32_t> zv = quant::zero_point_values(zp);
    if (!zp) zv.assign(sv.size(), 0);
    NNPORT_DISPATCH_QUANT(out, Q, ctx,
                          quantize_run<X, C, Q>(ctx, x.data<X>(), sv.data(), zv.data(), y->data<Q>(), l, x.numel(),
                                                half));
    return Status::ok();
}

Status quantize_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& s = ctx.input(1);
    const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    NNPORT_ASSIGN_OR_RETURN(DType out, quantize_out_dtype(ctx, zp ? zp->dtype() : DType::kUndefined));
    const DType st = s.dtype();
    if (st != DType::kFloat32 && st != DType::kFloat64 && st != DType::kInt32) {
        return ctx.input_error(std::string("y_scale must be a float tensor, got ") + dtype_name(st));
    }
    NNPORT_ASSIGN_OR_RETURN(ParamLayout l, quant::param_layout(ctx, x.shape(), s, zp, ctx.attr_int("axis"),
                                                               ctx.attr_int("block_size")));
    const DType dx = declared_dtype(ctx, 0), ds = declared_dtype(ctx, 1);
    const DType half = is_half(dx) && dx == ds ? ds : DType::kUndefined;
    switch (x.dtype()) {
        case DType::kFloat32:
            if (st == DType::kFloat32) return quantize_typed<float, float>(ctx, x, s, zp, out, l, half);
            return quantize_typed<float, double>(ctx, x, s, zp, out, l, half);
        case DType::kFloat64: return quantize_typed<double, double>(ctx, x, s, zp, out, l, half);
        case DType::kInt32: return quantize_typed<int32_t, double>(ctx, x, s, zp, out, l, half);
        default:
            return unsupported(ctx.node().describe() + ": quantizing " + dtype_name(x.dtype()) + " is not supported");
    }
}

// ---- DequantizeLinear ----

Status dequantize_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    if (ctx.has_input(2)) {
        const DType zp = ctx.input_type(2).dtype;
        if (zp != DType::kUndefined && xt.dtype != DType::kUndefined && zp != xt.dtype) {
            return ctx.error(std::string("x_zero_point dtype ") + dtype_name(zp) + " differs from x dtype " +
                             dtype_name(xt.dtype));
        }
    }
    DType dt = ctx.input_type(1).dtype;
    if (dt == DType::kUndefined) dt = DType::kFloat32;
    if (!dtype_is_float(dt)) return ctx.error(std::string("x_scale must be a float tensor, got ") + dtype_name(dt));
    ctx.set_output(0, xt.has_shape ? ir::ValueType::tensor(dt, xt.dims) : ir::ValueType::tensor(dt));
    return Status::ok();
}

template <typename Q, typename C>
void dequantize_run(const KernelContext& ctx, const Q* x, const C* scale, const int32_t* zp, C* y, const ParamLayout& l,
                    int64_t numel) {
    for_each_segment(ctx, l, numel, [&](int64_t row, int64_t i0, int64_t i1) {
        const int64_t base = l.base(row / l.dim, row % l.dim), step = l.inner_step();
        const Q* __restrict xr = x + row * l.inner;
        C* __restrict yr = y + row * l.inner;
        if (step == 0) {
            const C s = scale[base];
            const int64_t z = zp[base];
            for (int64_t i = i0; i < i1; ++i) yr[i] = static_cast<C>(static_cast<int64_t>(xr[i]) - z) * s;
        } else {
            for (int64_t i = i0; i < i1; ++i) {
                const int64_t p = base + i;
                yr[i] = static_cast<C>(static_cast<int64_t>(xr[i]) - zp[p]) * scale[p];
            }
        }
    });
}

template <typename C>
Status dequantize_typed(KernelContext& ctx, const Tensor& x, const Tensor& s, const Tensor* zp, const ParamLayout& l) {
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, s.dtype(), x.shape()));
    const std::vector<C> sv = quant::scale_values<C>(s);
    std::vector<int32_t> zv = quant::zero_point_values(zp);
    if (!zp) zv.assign(sv.size(), 0);
    if (x.dtype() == DType::kInt32) {
        dequantize_run<int32_t, C>(ctx, x.data<int32_t>(), sv.data(), zv.data(), y->data<C>(), l, x.numel());
        return Status::ok();
    }
    NNPORT_DISPATCH_QUANT(x.dtype(), Q, ctx,
                          dequantize_run<Q, C>(ctx, x.data<Q>(), sv.data(), zv.data(), y->data<C>(), l, x.numel()));
    return Status::ok();
}

Status dequantize_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& s = ctx.input(1);
    const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    NNPORT_RETURN_IF_ERROR(quant::check_zero_point_dtype(ctx, zp, x.dtype(), "x_zero_point"));
    if (!quant::is_quant_type(x.dtype()) && x.dtype() != DType::kInt32) {
        return unsupported(ctx.node().describe() + ": dequantizing " + dtype_name(x.dtype()) + " is not supported");
    }
    NNPORT_ASSIGN_OR_RETURN(ParamLayout l, quant::param_layout(ctx, x.shape(), s, zp, ctx.attr_int("axis"),
                                                               ctx.attr_int("block_size")));
    switch (s.dtype()) {
        case DType::kFloat32: return dequantize_typed<float>(ctx, x, s, zp, l);
        case DType::kFloat64: return dequantize_typed<double>(ctx, x, s, zp, l);
        default: return ctx.input_error(std::string("x_scale must be a float tensor, got ") + dtype_name(s.dtype()));
    }
}

// ---- DynamicQuantizeLinear ----

Status dynamic_quantize_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    ctx.set_output(0, xt.has_shape ? ir::ValueType::tensor(DType::kUInt8, xt.dims)
                                   : ir::ValueType::tensor(DType::kUInt8));
    ctx.set_output(1, ir::ValueType::tensor(DType::kFloat32, Shape{}));
    ctx.set_output(2, ir::ValueType::tensor(DType::kUInt8, Shape{}));
    return Status::ok();
}

Status dynamic_quantize_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32) {
        return ctx.input_error(std::string("x must be float32, got ") + dtype_name(x.dtype()));
    }
    const int64_t n = x.numel();
    const float* xd = x.data<float>();
    // Range over fixed blocks (deterministic whatever the thread count), NaN ignored.
    constexpr int64_t kBlocks = 64;
    float bmin[kBlocks], bmax[kBlocks];
    const int64_t per = (n + kBlocks - 1) / kBlocks;
    auto reduce = [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            float lo = 0.0f, hi = 0.0f;  // the range always includes 0
            for (int64_t i = b * per, e = std::min(n, (b + 1) * per); i < e; ++i) {
                lo = xd[i] < lo ? xd[i] : lo;
                hi = xd[i] > hi ? xd[i] : hi;
            }
            bmin[b] = lo;
            bmax[b] = hi;
        }
    };
    if (n < kParallelMin) reduce(0, kBlocks); else ctx.parallel_for(kBlocks, reduce);
    float minx = 0.0f, maxx = 0.0f;
    for (int64_t b = 0; b < kBlocks; ++b) {
        minx = std::min(minx, bmin[b]);
        maxx = std::max(maxx, bmax[b]);
    }
    // An all-zero input gives an empty range: scale 1 (zero point 0, y 0) instead of a division by zero.
    const float scale = maxx == minx ? 1.0f : (maxx - minx) / 255.0f;
    float zpf = 0.0f - minx / scale;
    zpf = zpf >= 0.0f ? std::min(zpf, 255.0f) : 0.0f;
    const int32_t zp = quant::quantize_value<float>(zpf, 0, 0, 255);
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kUInt8, x.shape()));
    uint8_t* yd = y->data<uint8_t>();
    auto quantize = [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            yd[i] = static_cast<uint8_t>(quant::quantize_value<float>(xd[i] / scale, zp, 0, 255));
        }
    };
    if (n < kParallelMin) quantize(0, n); else ctx.parallel_for(n, quantize);
    if (ctx.has_output(1)) ctx.set_output(1, Tensor::scalar<float>(scale));
    if (ctx.has_output(2)) ctx.set_output(2, Tensor::scalar<uint8_t>(static_cast<uint8_t>(zp)));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_QuantizeLinear() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "QuantizeLinear";
        o.since_version = 10;
        o.min_inputs = 2;
        o.max_inputs = 3;
        o.attrs = {AttrSpec::i("axis", 1), AttrSpec::i("block_size", 0), AttrSpec::i("output_dtype", 0),
                   AttrSpec::i("saturate", 1)};
        o.infer = quantize_infer;
        o.kernel = quantize_kernel;
        o.input0_types = {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64, DType::kInt32};
        o.doc = "y = saturate(round_half_even(x / y_scale) + y_zero_point) to uint8/int8/uint16/int16; per-tensor, "
                "per-axis or blocked scales (float8/int4 outputs are not supported).";
        return o;
    }();
    return d;
}

const OpDef& op_def_DequantizeLinear() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "DequantizeLinear";
        o.since_version = 10;
        o.min_inputs = 2;
        o.max_inputs = 3;
        o.attrs = {AttrSpec::i("axis", 1), AttrSpec::i("block_size", 0)};
        o.infer = dequantize_infer;
        o.kernel = dequantize_kernel;
        o.input0_types = {DType::kUInt8, DType::kInt8, DType::kUInt16, DType::kInt16, DType::kInt32};
        // float16/bfloat16 scales: computed in float32, the output rounded back to the scale's type.
        o.doc = "y = (x - x_zero_point) * x_scale with the scale's float type; per-tensor, per-axis or blocked.";
        return o;
    }();
    return d;
}

const OpDef& op_def_DynamicQuantizeLinear() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "DynamicQuantizeLinear";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 1;
        o.min_outputs = o.max_outputs = 3;
        o.infer = dynamic_quantize_infer;
        o.kernel = dynamic_quantize_kernel;
        o.input0_types = {DType::kFloat32};
        o.doc = "uint8 quantization with scale and zero point from the input's range (extended to include 0).";
        return o;
    }();
    return d;
}

}  // namespace nnport

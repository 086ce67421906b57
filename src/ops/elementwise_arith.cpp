// Broadcasting arithmetic: Add, Sub, Mul, Div, Pow, Mod. Integer results wrap (two's complement); integer division
// and modulo by zero are reported as input errors.
#include "ops/elementwise_util.hpp"

namespace nnport {

namespace {

Status same_dtype_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ew_infer_same_dtype(ctx, 0, 1));
    return infer_broadcast_same_dtype(ctx);
}

OpDef binary_def(const char* name, int since, KernelFn kernel, const char* doc, std::vector<AttrSpec> attrs = {}) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    o.min_inputs = o.max_inputs = 2;
    o.attrs = std::move(attrs);
    o.infer = same_dtype_infer;
    o.kernel = kernel;
    o.input0_types = numeric_types();
    o.inplace_elementwise = true;  // binary_kernel: y[i] = f(a[i'], b[i'']), operands read before y[i] is written
    o.doc = doc;
    return o;
}

/// Checks two same-dtype tensor inputs and returns them.
Status binary_inputs(const KernelContext& ctx, const Tensor** a, const Tensor** b) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 2));
    NNPORT_RETURN_IF_ERROR(ew_require_same_dtype(ctx, 0, 1));
    *a = &ctx.input(0);
    *b = &ctx.input(1);
    return Status::ok();
}

/// Same-dtype numeric op: `op` is a generic callable (T, T) -> T.
template <typename Op>
Status numeric_binary(KernelContext& ctx, const Op& op) {
    const Tensor *a = nullptr, *b = nullptr;
    NNPORT_RETURN_IF_ERROR(binary_inputs(ctx, &a, &b));
    NNPORT_DISPATCH_NUMERIC(a->dtype(), T, ctx, return binary_kernel<T, T, T>(ctx, *a, *b, a->dtype(), op));
    return Status::ok();
}

template <typename T>
Status check_no_zero(const KernelContext& ctx, const Tensor& b) {
    const T* p = static_cast<const T*>(b.raw_data());
    for (int64_t i = 0; i < b.numel(); ++i) {
        if (p[i] == T(0)) return ctx.input_error("integer division by zero");
    }
    return Status::ok();
}

/// Integer power by squaring (wrapping); negative exponents give the truncated 1 / base^-e.
template <typename T>
T int_pow(T base, int64_t e) {
    if (e < 0) {
        if (base == T(1)) return T(1);
        if constexpr (std::is_signed_v<T>) {
            if (base == T(-1)) return (e & 1) ? T(-1) : T(1);
        }
        return T(0);
    }
    T r = T(1);
    while (e > 0) {
        if (e & 1) r = mul_wrap(r, base);
        base = mul_wrap(base, base);
        e >>= 1;
    }
    return r;
}

/// base^e for any numeric base with a float64 exponent (used when the exponent's dtype differs from the base's).
template <typename T>
T pow_mixed(T base, double e) {
    if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(std::pow(static_cast<double>(base), e));
    } else {
        if (e == std::trunc(e) && std::fabs(e) < 9.2e18) return int_pow(base, static_cast<int64_t>(e));
        return float_to_int<T>(std::pow(static_cast<double>(base), e));
    }
}

/// Converts a numeric tensor to float64 (exponents of another dtype than the base).
Result<Tensor> to_float64(const KernelContext& ctx, const Tensor& t) {
    NNPORT_ASSIGN_OR_RETURN(Tensor out, Tensor::create(DType::kFloat64, t.shape()));
    double* o = out.data<double>();
    NNPORT_DISPATCH_NUMERIC(t.dtype(), E, ctx, {
        const E* p = static_cast<const E*>(t.raw_data());
        for (int64_t i = 0; i < t.numel(); ++i) o[i] = static_cast<double>(p[i]);
    });
    return out;
}

}  // namespace

static Status add_kernel(KernelContext& ctx) {
    return numeric_binary(ctx, [](auto x, auto y) { return add_wrap(x, y); });
}
static Status sub_kernel(KernelContext& ctx) {
    return numeric_binary(ctx, [](auto x, auto y) { return sub_wrap(x, y); });
}
static Status mul_kernel(KernelContext& ctx) {
    return numeric_binary(ctx, [](auto x, auto y) { return mul_wrap(x, y); });
}

template <typename T>
static Status div_typed(KernelContext& ctx, const Tensor& a, const Tensor& b) {
    if constexpr (std::is_floating_point_v<T>) {
        return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T y) { return x / y; });
    } else {
        NNPORT_RETURN_IF_ERROR(check_no_zero<T>(ctx, b));
        return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T y) -> T {
            if constexpr (std::is_signed_v<T>) {
                if (y == T(-1)) return neg_wrap(x);  // INT_MIN / -1 overflows
            }
            return static_cast<T>(x / y);  // truncates toward zero, as C
        });
    }
}

static Status div_kernel(KernelContext& ctx) {
    const Tensor *a = nullptr, *b = nullptr;
    NNPORT_RETURN_IF_ERROR(binary_inputs(ctx, &a, &b));
    NNPORT_DISPATCH_NUMERIC(a->dtype(), T, ctx, return div_typed<T>(ctx, *a, *b));
    return Status::ok();
}

const OpDef& op_def_Add() {
    static const OpDef d = binary_def("Add", 7, add_kernel, "a + b with broadcasting.");
    return d;
}
const OpDef& op_def_Sub() {
    static const OpDef d = binary_def("Sub", 7, sub_kernel, "a - b with broadcasting.");
    return d;
}
const OpDef& op_def_Mul() {
    static const OpDef d = binary_def("Mul", 7, mul_kernel, "a * b with broadcasting.");
    return d;
}
const OpDef& op_def_Div() {
    static const OpDef d = binary_def("Div", 7, div_kernel, "a / b with broadcasting; integers truncate.");
    return d;
}

template <typename T>
static Status pow_typed(KernelContext& ctx, const Tensor& a, const Tensor& b) {
    if constexpr (std::is_floating_point_v<T>) {
        if (b.numel() == 1) {
            // Common exponents (x^2 in norms and variances) without a pow call.
            const T e = b.data<T>()[0];
            if (e == T(2)) return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T) { return x * x; });
            if (e == T(3)) return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T) { return x * x * x; });
            if (e == T(1)) return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T) { return x; });
        }
        return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T y) { return std::pow(x, y); }, 8);
    } else {
        return binary_kernel<T, T, T>(ctx, a, b, a.dtype(),
                                      [](T x, T y) { return int_pow(x, static_cast<int64_t>(y)); }, 4);
    }
}

static Status pow_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 2));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != b.dtype()) {
        NNPORT_ASSIGN_OR_RETURN(Tensor e, to_float64(ctx, b));
        NNPORT_DISPATCH_NUMERIC(a.dtype(), T, ctx,
                                return binary_kernel<T, T, double>(
                                    ctx, a, e, a.dtype(), [](T x, double y) { return pow_mixed(x, y); }, 8));
        return Status::ok();
    }
    NNPORT_DISPATCH_NUMERIC(a.dtype(), T, ctx, return pow_typed<T>(ctx, a, b));
    return Status::ok();
}

const OpDef& op_def_Pow() {
    static const OpDef d = [] {
        OpDef o = binary_def("Pow", 7, pow_kernel, "base ^ exponent; the exponent may have another dtype.");
        o.infer = infer_broadcast_same_dtype;  // output dtype = base dtype
        return o;
    }();
    return d;
}

template <typename T>
static Status mod_typed(KernelContext& ctx, const Tensor& a, const Tensor& b, bool fmod) {
    if constexpr (std::is_floating_point_v<T>) {
        if (fmod) return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T y) { return std::fmod(x, y); });
        // fmod=0 on floats (not allowed by the spec, accepted here): the result takes the divisor's sign.
        return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T y) {
            T r = std::fmod(x, y);
            if (r != T(0) && ((r < T(0)) != (y < T(0)))) r += y;
            return r;
        });
    } else {
        NNPORT_RETURN_IF_ERROR(check_no_zero<T>(ctx, b));
        if constexpr (!std::is_signed_v<T>) {
            return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T y) { return static_cast<T>(x % y); });
        } else {
            if (fmod) {
                return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T y) -> T {
                    return y == T(-1) ? T(0) : static_cast<T>(x % y);  // sign of the dividend; INT_MIN % -1 is 0
                });
            }
            return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), [](T x, T y) -> T {
                if (y == T(-1)) return T(0);
                T r = static_cast<T>(x % y);
                if (r != T(0) && ((r < T(0)) != (y < T(0)))) r = static_cast<T>(r + y);  // sign of the divisor
                return r;
            });
        }
    }
}

static Status mod_kernel(KernelContext& ctx) {
    const Tensor *a = nullptr, *b = nullptr;
    NNPORT_RETURN_IF_ERROR(binary_inputs(ctx, &a, &b));
    const int64_t fmod = ctx.attr_int("fmod");
    if (fmod != 0 && fmod != 1) return ctx.error("fmod must be 0 or 1");
    NNPORT_DISPATCH_NUMERIC(a->dtype(), T, ctx, return mod_typed<T>(ctx, *a, *b, fmod != 0));
    return Status::ok();
}

const OpDef& op_def_Mod() {
    static const OpDef d = [] {
        OpDef o = binary_def("Mod", 10, mod_kernel, "Remainder: fmod=1 C fmod, fmod=0 sign of the divisor (Python).",
                             {AttrSpec::i("fmod", 0)});
        return o;
    }();
    return d;
}

}  // namespace nnport

// One-input elementwise math ops: Abs, Neg, rounding, roots, exp/log, trigonometric and hyperbolic functions,
// Erf, Sign, Not, IsNaN, IsInf, BitwiseNot.
#include "ops/elementwise_util.hpp"

namespace nnport {

namespace {

OpDef unary_def(const char* name, int since, KernelFn kernel, const char* doc, std::vector<DType> types,
                InferFn infer = infer_same_as_input0) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    o.min_inputs = o.max_inputs = 1;
    o.infer = infer;
    o.kernel = kernel;
    o.input0_types = std::move(types);
    o.inplace_elementwise = true;  // unary_kernel: y[i] = f(x[i])
    o.doc = doc;
    return o;
}

Status infer_bool_like_input0(InferContext& ctx) {
    ir::ValueType t = ctx.input_type(0);
    if (t.kind == ir::ValueType::Kind::kUnknown) t = ir::ValueType::tensor(DType::kBool);
    t.dtype = DType::kBool;
    ctx.set_output(0, std::move(t));
    return Status::ok();
}

std::vector<DType> bool_types() { return {DType::kBool}; }

std::vector<DType> int_types() {
    return {DType::kInt8, DType::kInt16, DType::kInt32, DType::kInt64,
            DType::kUInt8, DType::kUInt16, DType::kUInt32, DType::kUInt64};
}

std::vector<DType> signed_types() {
    return {DType::kFloat16, DType::kBFloat16, DType::kFloat32, DType::kFloat64,
            DType::kInt8,    DType::kInt16,    DType::kInt32,   DType::kInt64};
}

}  // namespace

// Float-only math: `expr` is evaluated with x of type T (float or double); `cost` weighs the parallel threshold.
#define NNPORT_EW_FLOAT_UNARY(Name, since, cost, expr, doc_)                                             \
    static Status Name##_kernel(KernelContext& ctx) {                                                    \
        return float_map(                                                                              \
            ctx, [](auto x) { using T = decltype(x); return static_cast<T>(expr); }, cost);              \
    }                                                                                                    \
    const OpDef& op_def_##Name() {                                                                       \
        static const OpDef d = unary_def(#Name, since, Name##_kernel, doc_, float_types());              \
        return d;                                                                                        \
    }

NNPORT_EW_FLOAT_UNARY(Reciprocal, 6, 1, T(1) / x, "1 / x.")
NNPORT_EW_FLOAT_UNARY(Floor, 6, 1, std::floor(x), "Round toward -inf.")
NNPORT_EW_FLOAT_UNARY(Ceil, 6, 1, std::ceil(x), "Round toward +inf.")
NNPORT_EW_FLOAT_UNARY(Round, 11, 1, std::nearbyint(x), "Round to nearest, ties to even.")
NNPORT_EW_FLOAT_UNARY(Sqrt, 6, 2, std::sqrt(x), "Square root.")
NNPORT_EW_FLOAT_UNARY(Exp, 6, 8, std::exp(x), "e^x.")
NNPORT_EW_FLOAT_UNARY(Log, 6, 8, std::log(x), "Natural logarithm.")
NNPORT_EW_FLOAT_UNARY(Sin, 7, 8, std::sin(x), "Sine.")
NNPORT_EW_FLOAT_UNARY(Cos, 7, 8, std::cos(x), "Cosine.")
NNPORT_EW_FLOAT_UNARY(Tan, 7, 8, std::tan(x), "Tangent.")
NNPORT_EW_FLOAT_UNARY(Asin, 7, 8, std::asin(x), "Arcsine.")
NNPORT_EW_FLOAT_UNARY(Acos, 7, 8, std::acos(x), "Arccosine.")
NNPORT_EW_FLOAT_UNARY(Atan, 7, 8, std::atan(x), "Arctangent.")
NNPORT_EW_FLOAT_UNARY(Sinh, 9, 8, std::sinh(x), "Hyperbolic sine.")
NNPORT_EW_FLOAT_UNARY(Cosh, 9, 8, std::cosh(x), "Hyperbolic cosine.")
NNPORT_EW_FLOAT_UNARY(Asinh, 9, 8, std::asinh(x), "Inverse hyperbolic sine.")
NNPORT_EW_FLOAT_UNARY(Acosh, 9, 8, std::acosh(x), "Inverse hyperbolic cosine.")
NNPORT_EW_FLOAT_UNARY(Atanh, 9, 8, std::atanh(x), "Inverse hyperbolic tangent.")
NNPORT_EW_FLOAT_UNARY(Erf, 9, 8, std::erf(x), "Gauss error function.")

#undef NNPORT_EW_FLOAT_UNARY

static Status abs_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, return unary_kernel<T, T>(ctx, x, x.dtype(), [](auto v) {
        using V = decltype(v);
        if constexpr (std::is_floating_point_v<V>) return std::fabs(v);
        else if constexpr (std::is_signed_v<V>) return v < 0 ? neg_wrap(v) : v;  // |INT_MIN| wraps to INT_MIN
        else return v;
    }));
    return Status::ok();
}

const OpDef& op_def_Abs() {
    static const OpDef d = unary_def("Abs", 6, abs_kernel, "Absolute value.", numeric_types());
    return d;
}

static Status neg_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_DISPATCH_SIGNED(x.dtype(), T, ctx,
                           return unary_kernel<T, T>(ctx, x, x.dtype(), [](T v) -> T { return neg_wrap(v); }));
    return Status::ok();
}

const OpDef& op_def_Neg() {
    static const OpDef d = unary_def("Neg", 6, neg_kernel, "-x (signed types).", signed_types());
    return d;
}

static Status sign_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, return unary_kernel<T, T>(ctx, x, x.dtype(), [](auto v) {
        using V = decltype(v);
        if (v > V(0)) return V(1);
        if constexpr (std::is_signed_v<V>) {
            if (v < V(0)) return V(-1);
        }
        return v == V(0) ? V(0) : v;  // NaN stays NaN
    }));
    return Status::ok();
}

const OpDef& op_def_Sign() {
    static const OpDef d = unary_def("Sign", 9, sign_kernel, "-1, 0 or 1 by the sign of x.", numeric_types());
    return d;
}

static Status not_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kBool) return ctx.input_error("Not needs a bool tensor");
    return unary_kernel<bool, bool>(ctx, x, DType::kBool, [](bool v) { return !v; });
}

const OpDef& op_def_Not() {
    static const OpDef d = unary_def("Not", 1, not_kernel, "Logical negation.", bool_types());
    return d;
}

static Status bitwise_not_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_DISPATCH_INT(x.dtype(), T, ctx,
                        return unary_kernel<T, T>(ctx, x, x.dtype(), [](T v) { return static_cast<T>(~v); }));
    return Status::ok();
}

const OpDef& op_def_BitwiseNot() {
    static const OpDef d = unary_def("BitwiseNot", 18, bitwise_not_kernel, "Bitwise complement.", int_types());
    return d;
}

static Status isnan_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx,
                          return unary_kernel<bool, T>(ctx, x, DType::kBool, [](T v) { return std::isnan(v); }));
    return Status::ok();
}

const OpDef& op_def_IsNaN() {
    static const OpDef d =
        unary_def("IsNaN", 9, isnan_kernel, "True where x is NaN.", float_types(), infer_bool_like_input0);
    return d;
}

static Status isinf_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    const bool neg = ctx.attr_int("detect_negative") != 0, pos = ctx.attr_int("detect_positive") != 0;
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, return unary_kernel<bool, T>(ctx, x, DType::kBool, [=](T v) {
        return std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
    }));
    return Status::ok();
}

const OpDef& op_def_IsInf() {
    static const OpDef d = [] {
        OpDef o = unary_def("IsInf", 10, isinf_kernel, "True where x is an infinity of a selected sign.",
                            float_types(), infer_bool_like_input0);
        o.attrs = {AttrSpec::i("detect_negative", 1), AttrSpec::i("detect_positive", 1)};
        return o;
    }();
    return d;
}

}  // namespace nnport

// Pointwise activation functions with scalar attributes: Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh,
// Elu, Selu, Celu, ThresholdedRelu, Softplus, Softsign, Mish, Gelu, Shrink.
#include "ops/elementwise_util.hpp"

namespace nnport {

namespace {

OpDef act_def(const char* name, int since, KernelFn kernel, const char* doc, std::vector<AttrSpec> attrs = {}) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    o.min_inputs = o.max_inputs = 1;
    o.attrs = std::move(attrs);
    o.infer = infer_same_as_input0;
    o.kernel = kernel;
    o.input0_types = float_types();
    o.inplace_elementwise = true;  // unary_kernel: y[i] = f(x[i])
    o.doc = doc;
    return o;
}

/// log(1 + e^x) without overflow for large |x|.
template <typename T>
inline T softplus(T x) {
    return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

/// 1 / (1 + e^-x) without overflow for large |x|.
template <typename T>
inline T sigmoid(T x) {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
}

}  // namespace

static Status relu_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    // NaN passes through (v < 0 is false), as numpy's maximum(x, 0) does.
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, return unary_kernel<T, T>(ctx, x, x.dtype(), [](auto v) {
        using V = decltype(v);
        if constexpr (std::is_signed_v<V>) return v < V(0) ? V(0) : v;
        else return v;
    }));
    return Status::ok();
}

const OpDef& op_def_Relu() {
    static const OpDef d = [] {
        OpDef o = act_def("Relu", 6, relu_kernel, "max(x, 0).");
        o.input0_types = numeric_types();
        return o;
    }();
    return d;
}

static Status leaky_relu_kernel(KernelContext& ctx) {
    const double alpha = ctx.attr_float("alpha");
    return float_map(ctx, [=](auto x) {
        using T = decltype(x);
        return x < T(0) ? static_cast<T>(alpha) * x : x;
    });
}

const OpDef& op_def_LeakyRelu() {
    static const OpDef d =
        act_def("LeakyRelu", 6, leaky_relu_kernel, "x if x >= 0 else alpha * x.", {AttrSpec::f("alpha", 0.01f)});
    return d;
}

static Status sigmoid_kernel(KernelContext& ctx) {
    return float_map(ctx, [](auto x) { return sigmoid(x); }, 8);
}

const OpDef& op_def_Sigmoid() {
    static const OpDef d = act_def("Sigmoid", 6, sigmoid_kernel, "1 / (1 + e^-x).");
    return d;
}

static Status hard_sigmoid_kernel(KernelContext& ctx) {
    const double alpha = ctx.attr_float("alpha"), beta = ctx.attr_float("beta");
    return float_map(ctx, [=](auto x) {
        using T = decltype(x);
        return std::min(T(1), std::max(T(0), static_cast<T>(alpha) * x + static_cast<T>(beta)));
    });
}

const OpDef& op_def_HardSigmoid() {
    static const OpDef d = act_def("HardSigmoid", 6, hard_sigmoid_kernel, "max(0, min(1, alpha * x + beta)).",
                                   {AttrSpec::f("alpha", 0.2f), AttrSpec::f("beta", 0.5f)});
    return d;
}

static Status hard_swish_kernel(KernelContext& ctx) {
    return float_map(ctx, [](auto x) {
        using T = decltype(x);
        return x * std::min(T(1), std::max(T(0), x / T(6) + T(0.5)));
    });
}

const OpDef& op_def_HardSwish() {
    static const OpDef d = act_def("HardSwish", 14, hard_swish_kernel, "x * HardSigmoid(x; 1/6, 0.5).");
    return d;
}

static Status tanh_kernel(KernelContext& ctx) {
    return float_map(ctx, [](auto x) { return std::tanh(x); }, 8);
}

const OpDef& op_def_Tanh() {
    static const OpDef d = act_def("Tanh", 6, tanh_kernel, "Hyperbolic tangent.");
    return d;
}

static Status elu_kernel(KernelContext& ctx) {
    const double alpha = ctx.attr_float("alpha");
    return float_map(ctx, [=](auto x) {
        using T = decltype(x);
        return x < T(0) ? static_cast<T>(alpha) * std::expm1(x) : x;
    }, 8);
}

const OpDef& op_def_Elu() {
    static const OpDef d =
        act_def("Elu", 6, elu_kernel, "x if x >= 0 else alpha * (e^x - 1).", {AttrSpec::f("alpha", 1.0f)});
    return d;
}

static Status selu_kernel(KernelContext& ctx) {
    const double alpha = ctx.attr_float("alpha"), gamma = ctx.attr_float("gamma");
    return float_map(ctx, [=](auto x) {
        using T = decltype(x);
        return static_cast<T>(gamma) * (x > T(0) ? x : static_cast<T>(alpha) * std::expm1(x));
    }, 8);
}

const OpDef& op_def_Selu() {
    static const OpDef d = act_def("Selu", 6, selu_kernel, "gamma * (x if x > 0 else alpha * (e^x - 1)).",
                                   {AttrSpec::f("alpha", 1.67326319217681884765625f),
                                    AttrSpec::f("gamma", 1.05070102519989013671875f)});
    return d;
}

static Status celu_kernel(KernelContext& ctx) {
    const double alpha = ctx.attr_float("alpha");
    if (alpha == 0.0) return ctx.error("alpha must not be 0");
    return float_map(ctx, [=](auto x) {
        using T = decltype(x);
        const T a = static_cast<T>(alpha);
        return std::max(T(0), x) + std::min(T(0), a * std::expm1(x / a));
    }, 8);
}

const OpDef& op_def_Celu() {
    static const OpDef d = act_def("Celu", 12, celu_kernel, "max(0, x) + min(0, alpha * (e^(x/alpha) - 1)).",
                                   {AttrSpec::f("alpha", 1.0f)});
    return d;
}

static Status thresholded_relu_kernel(KernelContext& ctx) {
    const double alpha = ctx.attr_float("alpha");
    return float_map(ctx, [=](auto x) {
        using T = decltype(x);
        return x > static_cast<T>(alpha) ? x : T(0);
    });
}

const OpDef& op_def_ThresholdedRelu() {
    static const OpDef d = act_def("ThresholdedRelu", 10, thresholded_relu_kernel, "x if x > alpha else 0.",
                                   {AttrSpec::f("alpha", 1.0f)});
    return d;
}

static Status softplus_kernel(KernelContext& ctx) {
    return float_map(ctx, [](auto x) { return softplus(x); }, 16);
}

const OpDef& op_def_Softplus() {
    static const OpDef d = act_def("Softplus", 1, softplus_kernel, "log(1 + e^x).");
    return d;
}

static Status softsign_kernel(KernelContext& ctx) {
    return float_map(ctx, [](auto x) {
        using T = decltype(x);
        return x / (T(1) + std::fabs(x));
    });
}

const OpDef& op_def_Softsign() {
    static const OpDef d = act_def("Softsign", 1, softsign_kernel, "x / (1 + |x|).");
    return d;
}

static Status mish_kernel(KernelContext& ctx) {
    return float_map(ctx, [](auto x) { return x * std::tanh(softplus(x)); }, 24);
}

const OpDef& op_def_Mish() {
    static const OpDef d = act_def("Mish", 18, mish_kernel, "x * tanh(softplus(x)).");
    return d;
}

static Status gelu_kernel(KernelContext& ctx) {
    const std::string approx = ctx.attr_string("approximate");
    if (approx == "tanh") {
        return float_map(ctx, [](auto x) {
            using T = decltype(x);
            const T k = static_cast<T>(0.7978845608028654);  // sqrt(2 / pi)
            return T(0.5) * x * (T(1) + std::tanh(k * (x + static_cast<T>(0.044715) * x * x * x)));
        }, 16);
    }
    if (approx != "none") return ctx.error("approximate must be 'none' or 'tanh', got '" + approx + "'");
    return float_map(ctx, [](auto x) {
        using T = decltype(x);
        return T(0.5) * x * (T(1) + std::erf(x * static_cast<T>(0.7071067811865476)));
    }, 16);
}

const OpDef& op_def_Gelu() {
    static const OpDef d = act_def("Gelu", 20, gelu_kernel, "Gaussian error linear unit (exact or tanh approximation).",
                                   {AttrSpec::s("approximate", "none")});
    return d;
}

template <typename T>
static Status shrink_typed(KernelContext& ctx, const Tensor& x, double bias, double lambd) {
    if constexpr (std::is_floating_point_v<T>) {
        const T b = static_cast<T>(bias), l = static_cast<T>(lambd);
        return unary_kernel<T, T>(ctx, x, x.dtype(), [=](T v) { return v < -l ? v + b : (v > l ? v - b : T(0)); });
    } else {
        // Integer inputs: compare and shift in double, then convert back (wrapping like a Cast).
        return unary_kernel<T, T>(ctx, x, x.dtype(), [=](T v) {
            const double d = static_cast<double>(v);
            return d < -lambd ? float_to_int<T>(d + bias) : (d > lambd ? float_to_int<T>(d - bias) : T(0));
        });
    }
}

static Status shrink_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    const double bias = ctx.attr_float("bias"), lambd = ctx.attr_float("lambd");
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, return shrink_typed<T>(ctx, x, bias, lambd));
    return Status::ok();
}

const OpDef& op_def_Shrink() {
    static const OpDef d = [] {
        OpDef o = act_def("Shrink", 9, shrink_kernel, "x + bias if x < -lambd, x - bias if x > lambd, else 0.",
                          {AttrSpec::f("bias", 0.0f), AttrSpec::f("lambd", 0.5f)});
        o.input0_types = numeric_types();
        return o;
    }();
    return d;
}

}  // namespace nnport

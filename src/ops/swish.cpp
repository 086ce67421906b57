// Swish (opset 24): x * sigmoid(alpha * x).
#include "ops/elementwise_util.hpp"

namespace nnport {

namespace {

Status swish_kernel(KernelContext& ctx) {
    const double alpha = ctx.attr_float("alpha");
    return float_map(
        ctx,
        [alpha](auto x) {
            using T = decltype(x);
            const T z = static_cast<T>(alpha) * x;
            // sigmoid(z) without overflow: for z < 0 use e^z / (1 + e^z).
            if (z >= T(0)) return x / (T(1) + std::exp(-z));
            const T e = std::exp(z);
            return x * e / (T(1) + e);
        },
        8);
}

}  // namespace

const OpDef& op_def_Swish() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Swish";
        o.since_version = 24;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::f("alpha", 1.0f)};
        o.infer = infer_same_as_input0;
        o.kernel = swish_kernel;
        o.input0_types = float_types();
        o.doc = "x * sigmoid(alpha * x).";
        return o;
    }();
    return d;
}

}  // namespace nnport

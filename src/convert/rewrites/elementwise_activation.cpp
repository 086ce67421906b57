// Smooth and hard activation rewrites of the conversion catalogue (targets/rewrites.json): HardSwish, HardSigmoid,
// Swish, Gelu (exact decompositions, and the approximate erf -> tanh substitution with its error recorded), Mish and
// Softplus spelled with the element-wise ops a target has. Each returns false, leaving the graph alone, when the
// node does not match.
#include <cmath>

#include "convert/rewrite.hpp"
#include "convert/rewrites/rewrite_helpers.hpp"
#include "passes/pass_util.hpp"

namespace nnport::convert {

using passes::is_op;

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

/// The float dtype of input 0 when `n` is `op_type` of the default domain with only output 0 in use.
std::optional<DType> unary_float(const ir::Node* n, const char* op_type) {
    if (!is_op(n, op_type) || !rw::only_first_output_used(*n)) return std::nullopt;
    return rw::float_dtype(n->input(0));
}

/// Gelu's `approximate` attribute ("none" by default).
std::string gelu_mode(const ir::Node& n) {
    const ir::Attribute* a = rw::attr_or_default(n, "approximate");
    return a && a->type == ir::AttrType::kString ? a->s : "none";
}

/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with Mul, Add and Tanh.
ir::Value* gelu_tanh(rw::SubgraphBuilder& b, ir::Value* x) {
    ir::Value* cube = b.op("Mul", {b.op("Mul", {x, x}), x});
    ir::Value* inner = b.op("Add", {x, b.op("Mul", {cube, b.scalar(kGeluCubic)})});
    ir::Value* t = b.op("Tanh", {b.op("Mul", {inner, b.scalar(kSqrt2OverPi)})});
    return b.op("Mul", {b.op("Mul", {x, b.op("Add", {t, b.scalar(1.0)})}), b.scalar(0.5)});
}

double gelu_erf_value(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_value(double x) { return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x))); }

/// The error of the tanh form against the exact Gelu: over the calibration samples of x when there are any, else
/// the worst case over all x (the difference vanishes beyond |x| = 10: both are 0 or x to double precision) and,
/// for the relative RMS, its value for unit-normal inputs.
Result<ApproxRecord> gelu_tanh_error(const ir::Node& n, RewriteContext& ctx) {
    ApproxRecord rec;
    rec.rewrite = "gelu_erf_to_tanh";
    rec.node = n.name();
    double err2 = 0, ref2 = 0;
    auto add = [&](double x, double weight) {
        const double want = gelu_erf_value(x), d = gelu_tanh_value(x) - want;
        rec.max_abs_error = std::max(rec.max_abs_error, std::fabs(d));
        err2 += weight * d * d;
        ref2 += weight * want * want;
    };
    if (ctx.samples) {
        auto s = ctx.samples(n.input(0));
        if (!s.is_ok()) return s.status().with_context("calibration samples of '" + n.input(0)->name() + "'");
        for (const Tensor& t : *s) {
            if (!dtype_is_float(t.dtype())) return invalid_argument("calibration samples of Gelu input are not float");
            for (int64_t i = 0; i < t.numel(); ++i) add(t.item_as_double(i), 1.0);
        }
    } else {
        const double step = 1e-4;
        for (double x = -10.0; x <= 10.0; x += step) add(x, std::exp(-0.5 * x * x) * step);
    }
    rec.rel_rms_error = ref2 > 0 ? std::sqrt(err2 / ref2) : 0.0;
    return rec;
}

}  // namespace

Result<bool> rewrite_hardswish_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "HardSwish");
    if (!dt) return false;
    ir::Value* x = n->input(0);
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    ir::Value* gate = b.clip(b.op("Add", {x, b.scalar(3.0)}), 0.0, 6.0);
    return b.replace(n, b.op("Mul", {b.op("Mul", {x, gate}), b.scalar(1.0 / 6.0)}));
}

Result<bool> rewrite_hardswish_via_hardsigmoid(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "HardSwish");
    if (!dt) return false;
    ir::Value* x = n->input(0);
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    ir::Attributes a;
    a["alpha"] = ir::Attribute::make_float(1.0f / 6.0f);
    a["beta"] = ir::Attribute::make_float(0.5f);
    return b.replace(n, b.op("Mul", {x, b.op("HardSigmoid", {x}, std::move(a))}));
}

Result<bool> rewrite_hardsigmoid_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "HardSigmoid");
    const ir::Attribute* alpha = rw::attr_or_default(*n, "alpha");
    const ir::Attribute* beta = rw::attr_or_default(*n, "beta");
    if (!dt || !alpha || !beta) return false;
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    ir::Value* lin = b.op("Add", {b.op("Mul", {n->input(0), b.scalar(alpha->f)}), b.scalar(beta->f)});
    return b.replace(n, b.clip(lin, 0.0, 1.0));
}

Result<bool> rewrite_swish_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "Swish");
    const ir::Attribute* alpha = rw::attr_or_default(*n, "alpha");
    if (!dt) return false;
    const double a = alpha ? alpha->f : 1.0;
    ir::Value* x = n->input(0);
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    ir::Value* z = a == 1.0 ? x : b.op("Mul", {x, b.scalar(a)});
    return b.replace(n, b.op("Mul", {x, b.op("Sigmoid", {z})}));
}

Result<bool> rewrite_gelu_erf_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "Gelu");
    if (!dt || gelu_mode(*n) != "none") return false;
    ir::Value* x = n->input(0);
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    ir::Value* e = b.op("Erf", {b.op("Mul", {x, b.scalar(1.0 / std::sqrt(2.0))})});
    return b.replace(n, b.op("Mul", {b.op("Mul", {x, b.op("Add", {e, b.scalar(1.0)})}), b.scalar(0.5)}));
}

Result<bool> rewrite_gelu_tanh_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "Gelu");
    if (!dt || gelu_mode(*n) != "tanh") return false;
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    return b.replace(n, gelu_tanh(b, n->input(0)));
}

Result<bool> rewrite_gelu_erf_to_tanh(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "Gelu");
    if (!dt || gelu_mode(*n) != "none") return false;
    // Measured before the graph changes: the samples come from the model as it is now.
    NNPORT_ASSIGN_OR_RETURN(ApproxRecord rec, gelu_tanh_error(*n, ctx));
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    NNPORT_ASSIGN_OR_RETURN(bool done, b.replace(n, gelu_tanh(b, n->input(0))));
    ctx.approx.push_back(std::move(rec));
    return done;
}

Result<bool> rewrite_mish_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "Mish");
    if (!dt) return false;
    ir::Value* x = n->input(0);
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    return b.replace(n, b.op("Mul", {x, b.op("Tanh", {b.op("Softplus", {x})})}));
}

Result<bool> rewrite_softplus_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const std::optional<DType> dt = unary_float(n, "Softplus");
    // log(exp(x) + 1) overflows where exp(x) does. With only Exp, Add and Log there is no branch to keep large x
    // linear, so float16 (exp overflows from x = 11.1) is declined; float32 and wider hold up to x = 88.7.
    if (!dt || *dt == DType::kFloat16) return false;
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    return b.replace(n, b.op("Log", {b.op("Add", {b.op("Exp", {n->input(0)}), b.scalar(1.0)})}));
}

}  // namespace nnport::convert

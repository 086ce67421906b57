// Exact element-wise rewrites of the conversion catalogue (targets/rewrites.json): arithmetic (Sub, Neg, Div,
// Reciprocal, Pow) and piecewise-linear activations (LeakyRelu, PRelu, Clip) spelled with the ops a target has.
// Each checks that the node matches and returns false, leaving the graph alone, when it does not.
#include <cmath>
#include <limits>

#include "convert/rewrite.hpp"
#include "convert/rewrites/rewrite_helpers.hpp"
#include "passes/pass_util.hpp"

namespace nnport::convert {

using passes::is_op;

namespace {

/// True for dtypes Neg accepts (floats and signed integers).
bool negatable(DType dt) { return dtype_is_float(dt) || (dtype_is_integer(dt) && dtype_is_signed(dt)); }

/// The smallest positive normal value of a float dtype (reciprocals below it lose precision).
double min_normal(DType dt) {
    switch (dt) {
        case DType::kFloat16:
            return 6.103515625e-05;
        case DType::kFloat64:
            return std::numeric_limits<double>::min();
        default:
            return std::numeric_limits<float>::min();  // float32 and bfloat16 share the exponent range
    }
}

/// A Clip bound (input 1 = min, 2 = max): nullopt in `value` when absent; false when present but not a constant
/// scalar. Nodes not adapted by the importer may still carry the pre-opset-11 attributes.
bool clip_bound(const ir::Node& n, size_t i, std::optional<double>& value) {
    value.reset();
    if (const ir::Value* v = n.input(i)) {
        value = rw::const_scalar(v);
        return value.has_value();
    }
    if (const ir::Attribute* a = n.attr(i == 1 ? "min" : "max"); a && a->type == ir::AttrType::kFloat) value = a->f;
    return true;
}

/// True when Pow(x, e) has x's shape (a scalar exponent of rank 0, or one whose rank does not exceed x's), so a
/// replacement computed from x alone keeps the output shape.
bool exponent_keeps_shape(const ir::Node& n) {
    std::optional<Tensor> e = rw::const_value(n.input(1));
    if (!e || e->numel() != 1) return false;
    const int64_t xr = n.input(0)->type.rank();
    return e->rank() == 0 || (xr >= 0 && e->rank() <= xr);
}

/// Pow(x, c) with a float x and a constant scalar exponent `want` (any numeric dtype).
bool is_pow_with(const ir::Node* n, double want) {
    if (!is_op(n, "Pow") || !n->input(0) || !rw::float_dtype(n->input(0)) || !rw::only_first_output_used(*n))
        return false;
    const std::optional<double> e = rw::const_scalar(n->input(1));
    return e && *e == want && exponent_keeps_shape(*n);
}

}  // namespace

Result<bool> rewrite_sub_const_to_add(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Sub") || !n->input(0) || !rw::only_first_output_used(*n)) return false;
    std::optional<Tensor> c = rw::const_value(n->input(1));
    if (!c) return false;
    auto neg = rw::negate_tensor(*c);
    if (!neg.is_ok()) return false;  // not a numeric constant
    rw::SubgraphBuilder b(g, *n, ctx, c->dtype());
    return b.replace(n, b.op("Add", {n->input(0), b.constant(std::move(neg).value(), "neg")}));
}

Result<bool> rewrite_sub_to_add_neg(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Sub") || !n->input(0) || !n->input(1) || !rw::only_first_output_used(*n)) return false;
    const DType dt = n->input(1)->type.dtype;
    if (!negatable(dt)) return false;  // Neg has no unsigned form
    rw::SubgraphBuilder b(g, *n, ctx, dt);
    return b.replace(n, b.op("Add", {n->input(0), b.op("Neg", {n->input(1)})}));
}

Result<bool> rewrite_neg_to_mul(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Neg") || !n->input(0) || !rw::only_first_output_used(*n)) return false;
    const DType dt = n->input(0)->type.dtype;
    if (!negatable(dt)) return false;
    rw::SubgraphBuilder b(g, *n, ctx, dt);
    return b.replace(n, b.op("Mul", {n->input(0), b.scalar(-1.0)}));
}

Result<bool> rewrite_div_const_to_mul(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Div") || !n->input(0) || !rw::only_first_output_used(*n)) return false;
    std::optional<Tensor> c = rw::const_value(n->input(1));
    if (!c || !dtype_is_float(c->dtype()) || !rw::float_dtype(n->output(0))) return false;
    std::vector<double> r = rw::values_of(*c);
    for (double& v : r) v = 1.0 / v;
    auto rt = rw::tensor_of(c->dtype(), c->shape(), r);
    if (!rt.is_ok()) return false;
    // x * (1/c) stays within an ulp or so of x / c only while 1/c is a normal number of the dtype: a divisor so
    // small that its reciprocal overflows, or so large that it is subnormal, would change results.
    const double tiny = min_normal(c->dtype());
    for (int64_t i = 0; i < c->numel(); ++i) {
        const double cv = c->item_as_double(i), rv = rt->item_as_double(i);
        if (std::isfinite(cv) && cv != 0.0 && (!std::isfinite(rv) || std::fabs(rv) < tiny)) return false;
    }
    rw::SubgraphBuilder b(g, *n, ctx, c->dtype());
    return b.replace(n, b.op("Mul", {n->input(0), b.constant(std::move(rt).value(), "recip")}));
}

Result<bool> rewrite_reciprocal_to_div(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Reciprocal") || !rw::only_first_output_used(*n)) return false;
    const std::optional<DType> dt = rw::float_dtype(n->input(0));
    if (!dt) return false;
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    return b.replace(n, b.op("Div", {b.scalar(1.0), n->input(0)}));
}

Result<bool> rewrite_leakyrelu_to_max(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "LeakyRelu") || !rw::only_first_output_used(*n)) return false;
    const std::optional<DType> dt = rw::float_dtype(n->input(0));
    const ir::Attribute* a = rw::attr_or_default(*n, "alpha");
    // Max(x, alpha x) picks x for x >= 0 and alpha x below only when 0 <= alpha <= 1.
    if (!dt || !a || a->type != ir::AttrType::kFloat || !(a->f >= 0.0f && a->f <= 1.0f)) return false;
    ir::Value* x = n->input(0);
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    return b.replace(n, b.op("Max", {x, b.op("Mul", {x, b.scalar(a->f)})}));
}

Result<bool> rewrite_prelu_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "PRelu") || !n->input(1) || !rw::only_first_output_used(*n)) return false;
    const std::optional<DType> dt = rw::float_dtype(n->input(0));
    if (!dt) return false;
    // Relu(x) - slope * Relu(-x): for x < 0 that is 0 - slope * (-x) = slope * x exactly (negation is exact).
    ir::Value* x = n->input(0);
    rw::SubgraphBuilder b(g, *n, ctx, *dt);
    ir::Value* neg_part = b.op("Mul", {n->input(1), b.op("Relu", {b.op("Neg", {x})})});
    return b.replace(n, b.op("Sub", {b.op("Relu", {x}), neg_part}));
}

Result<bool> rewrite_clip_to_relu(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Clip") || !n->input(0) || !rw::only_first_output_used(*n)) return false;
    const DType dt = n->input(0)->type.dtype;
    // Relu takes integers only from opset 14.
    if (!(dtype_is_float(dt) || (dtype_is_integer(dt) && dtype_is_signed(dt) && ctx.pass_ctx.opset() >= 14)))
        return false;
    std::optional<double> lo, hi;
    if (!clip_bound(*n, 1, lo) || !clip_bound(*n, 2, hi)) return false;
    if (!lo || *lo != 0.0 || (hi && !(std::isinf(*hi) && *hi > 0))) return false;
    rw::SubgraphBuilder b(g, *n, ctx, dt);
    return b.replace(n, b.op("Relu", {n->input(0)}));
}

Result<bool> rewrite_clip_to_max_min(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Clip") || !n->input(0) || !rw::only_first_output_used(*n)) return false;
    const DType dt = n->input(0)->type.dtype;
    if (!dtype_is_float(dt) && !dtype_is_integer(dt)) return false;
    std::optional<double> lo, hi;
    if (!clip_bound(*n, 1, lo) || !clip_bound(*n, 2, hi) || (!lo && !hi)) return false;
    // Fresh rank-0 bounds in x's dtype: a [1]-shaped bound would broadcast a rank-0 x to [1].
    rw::SubgraphBuilder b(g, *n, ctx, dt);
    ir::Value* y = n->input(0);
    if (lo) y = b.op("Max", {y, b.scalar(*lo)});
    if (hi) y = b.op("Min", {y, b.scalar(*hi)});
    return b.replace(n, y);
}

Result<bool> rewrite_pow2_to_mul(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_pow_with(n, 2.0)) return false;
    rw::SubgraphBuilder b(g, *n, ctx, n->input(0)->type.dtype);
    return b.replace(n, b.op("Mul", {n->input(0), n->input(0)}));
}

Result<bool> rewrite_pow_half_to_sqrt(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_pow_with(n, 0.5)) return false;
    rw::SubgraphBuilder b(g, *n, ctx, n->input(0)->type.dtype);
    return b.replace(n, b.op("Sqrt", {n->input(0)}));
}

}  // namespace nnport::convert

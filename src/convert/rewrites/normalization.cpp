// Exact normalization rewrites of the conversion catalogue (targets/rewrites.json): inference BatchNormalization as
// a per-channel scale and shift, LayerNormalization and InstanceNormalization as mean/variance arithmetic, and
// Softmax/LogSoftmax as max-shifted exponentials. Each returns false, leaving the graph alone, when the node does not
// match (training mode, used statistics outputs, unknown ranks the axes depend on, non-constant per-channel params).
#include <cmath>

#include "convert/rewrite.hpp"
#include "convert/rewrites/rewrite_helpers.hpp"
#include "passes/pass_util.hpp"

namespace nnport::convert {

using passes::is_op;

namespace {

/// The float dtype and rank of input 0 when `n` is `op_type` with only output 0 in use (rank -1: unknown).
std::optional<std::pair<DType, int64_t>> float_input(const ir::Node* n, const char* op_type) {
    if (!is_op(n, op_type) || !rw::only_first_output_used(*n)) return std::nullopt;
    const std::optional<DType> dt = rw::float_dtype(n->input(0));
    if (!dt) return std::nullopt;
    return std::make_pair(*dt, n->input(0)->type.rank());
}

/// A per-channel parameter of C values as a [C, 1, ..., 1] constant of rank `rank` - 1 in `dtype` (it then broadcasts
/// over an [N, C, ...] input); nullopt unless `v` is a constant with C elements.
std::optional<Tensor> per_channel(const ir::Value* v, int64_t c, int64_t rank, DType dtype,
                                  const std::vector<double>* values = nullptr) {
    std::vector<double> data;
    if (values) {
        data = *values;
    } else {
        std::optional<Tensor> t = rw::const_value(v);
        if (!t || t->numel() != c || !dtype_is_float(t->dtype())) return std::nullopt;
        data = rw::values_of(*t);
    }
    Shape shape(static_cast<size_t>(rank - 1), 1);
    shape[0] = c;
    auto r = rw::tensor_of(dtype, shape, data);
    if (!r.is_ok()) return std::nullopt;
    return std::move(r).value();
}

/// The channel count C of an [N, C, ...] input of known rank >= `min_rank`, from the shape or else from `param`'s
/// element count; nullopt when neither tells or they disagree.
std::optional<int64_t> channels(const ir::Value* x, int64_t min_rank, const ir::Value* param) {
    const ir::ValueType& t = x->type;
    if (t.rank() < min_rank) return std::nullopt;
    std::optional<Tensor> p = rw::const_value(param);
    if (!p) return std::nullopt;
    if (t.dims[1].is_static() && t.dims[1].value != p->numel()) return std::nullopt;
    return p->numel();
}

/// The axes Softmax/LogSoftmax normalize over: from opset 13 the one `axis` (default -1); before, the input is
/// coerced to 2-D at `axis` (default 1), which is the same as normalizing over every axis from `axis` on.
std::optional<std::vector<int64_t>> softmax_axes(const ir::Node& n, int64_t rank) {
    const ir::Attribute* a = n.attr("axis");
    if (n.opset > 0 && n.opset < 13) return rw::axes_to_end(a ? a->i : 1, rank);
    const int64_t axis = a ? a->i : -1;
    if (rank >= 0 && (axis < -rank || axis >= rank)) return std::nullopt;
    return std::vector<int64_t>{axis};
}

/// Builds x - max(x) and sum(exp(x - max(x))) over `axes` (keepdims); returns {shifted, exps, sum}.
struct SoftmaxParts {
    ir::Value* shifted;
    ir::Value* exps;
    ir::Value* sum;
};
SoftmaxParts softmax_parts(rw::SubgraphBuilder& b, ir::Value* x, const std::vector<int64_t>& axes) {
    SoftmaxParts p;
    p.shifted = b.op("Sub", {x, b.reduce("ReduceMax", x, axes)});
    p.exps = b.op("Exp", {p.shifted});
    p.sum = b.reduce("ReduceSum", p.exps, axes);
    return p;
}

/// (x - mean) / sqrt(var + eps) over `axes` (biased variance, as the ONNX normalizations define it).
ir::Value* standardize(rw::SubgraphBuilder& b, ir::Value* x, const std::vector<int64_t>& axes, double eps) {
    ir::Value* d = b.op("Sub", {x, b.reduce("ReduceMean", x, axes)});
    ir::Value* var = b.reduce("ReduceMean", b.op("Mul", {d, d}), axes);
    return b.op("Div", {d, b.op("Sqrt", {b.op("Add", {var, b.scalar(eps)})})});
}

double float_attr(const ir::Node& n, const char* name, double fallback) {
    const ir::Attribute* a = rw::attr_or_default(n, name);
    return a && a->type == ir::AttrType::kFloat ? a->f : fallback;
}

}  // namespace

Result<bool> rewrite_batchnorm_to_mul_add(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const auto in = float_input(n, "BatchNormalization");
    if (!in || n->inputs().size() < 5) return false;
    const auto [dt, rank] = *in;
    const ir::Attribute* training = rw::attr_or_default(*n, "training_mode");
    if (training && training->i != 0) return false;
    const std::optional<int64_t> c = channels(n->input(0), 2, n->input(1));
    if (!c) return false;
    std::vector<std::vector<double>> p;  // scale, bias, mean, var
    for (size_t i = 1; i < 5; ++i) {
        std::optional<Tensor> t = rw::const_value(n->input(i));
        if (!t || t->numel() != *c || !dtype_is_float(t->dtype())) return false;
        p.push_back(rw::values_of(*t));
    }
    // The reference kernel's arithmetic: a = scale / sqrt(var + eps) and b = bias - mean * a in double, then
    // x * a + b in the input's dtype, so the result is bit-identical.
    const double eps = float_attr(*n, "epsilon", 1e-5);
    std::vector<double> a(static_cast<size_t>(*c)), sh(static_cast<size_t>(*c));
    for (size_t k = 0; k < a.size(); ++k) {
        a[k] = p[0][k] / std::sqrt(p[3][k] + eps);
        sh[k] = p[1][k] - p[2][k] * a[k];
    }
    std::optional<Tensor> at = per_channel(nullptr, *c, rank, dt, &a);
    std::optional<Tensor> bt = per_channel(nullptr, *c, rank, dt, &sh);
    if (!at || !bt) return false;
    rw::SubgraphBuilder b(g, *n, ctx, dt);
    ir::Value* scaled = b.op("Mul", {n->input(0), b.constant(std::move(*at), "scale")});
    return b.replace(n, b.op("Add", {scaled, b.constant(std::move(*bt), "shift")}));
}

Result<bool> rewrite_layernorm_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    // Declines when Mean or InvStdDev (outputs 1, 2) are used: the decomposition computes neither as such.
    const auto in = float_input(n, "LayerNormalization");
    if (!in || !n->input(1)) return false;
    const auto [dt, rank] = *in;
    const ir::Attribute* axis = rw::attr_or_default(*n, "axis");
    const std::optional<std::vector<int64_t>> axes = rw::axes_to_end(axis ? axis->i : -1, rank);
    if (!axes) return false;
    // stash_type=1 asks for float32 statistics; for float16 inputs the decomposition computes them in float16, as
    // every exporter's pre-opset-17 LayerNorm pattern does (the difference is at float16 rounding level).
    rw::SubgraphBuilder b(g, *n, ctx, dt);
    ir::Value* y = b.op("Mul", {standardize(b, n->input(0), *axes, float_attr(*n, "epsilon", 1e-5)), n->input(1)});
    if (n->input(2)) y = b.op("Add", {y, n->input(2)});
    return b.replace(n, y);
}

Result<bool> rewrite_instancenorm_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const auto in = float_input(n, "InstanceNormalization");
    if (!in || !n->input(1) || !n->input(2)) return false;
    const auto [dt, rank] = *in;
    // Rank >= 3: with no spatial axes ReduceMean would reduce over everything.
    const std::optional<int64_t> c = channels(n->input(0), 3, n->input(1));
    if (!c) return false;
    std::optional<Tensor> scale = per_channel(n->input(1), *c, rank, dt);
    std::optional<Tensor> bias = per_channel(n->input(2), *c, rank, dt);
    if (!scale || !bias) return false;
    std::vector<int64_t> axes;
    for (int64_t a = 2; a < rank; ++a) axes.push_back(a);
    rw::SubgraphBuilder b(g, *n, ctx, dt);
    ir::Value* y = standardize(b, n->input(0), axes, float_attr(*n, "epsilon", 1e-5));
    y = b.op("Mul", {y, b.constant(std::move(*scale), "scale")});
    return b.replace(n, b.op("Add", {y, b.constant(std::move(*bias), "bias")}));
}

Result<bool> rewrite_softmax_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const auto in = float_input(n, "Softmax");
    if (!in) return false;
    const std::optional<std::vector<int64_t>> axes = softmax_axes(*n, in->second);
    if (!axes) return false;
    rw::SubgraphBuilder b(g, *n, ctx, in->first);
    const SoftmaxParts p = softmax_parts(b, n->input(0), *axes);
    return b.replace(n, b.op("Div", {p.exps, p.sum}));
}

Result<bool> rewrite_logsoftmax_decompose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    const auto in = float_input(n, "LogSoftmax");
    if (!in) return false;
    const std::optional<std::vector<int64_t>> axes = softmax_axes(*n, in->second);
    if (!axes) return false;
    rw::SubgraphBuilder b(g, *n, ctx, in->first);
    const SoftmaxParts p = softmax_parts(b, n->input(0), *axes);
    return b.replace(n, b.op("Sub", {p.shifted, b.op("Log", {p.sum})}));
}

}  // namespace nnport::convert

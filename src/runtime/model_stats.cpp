// Model statistics.
#include "runtime/model_stats.hpp"

namespace nnport {

static int64_t numel_of(const ir::Value* v) {
    if (!v || !v->type.is_static()) return -1;
    return shape_numel(v->type.static_shape());
}

/// FLOPs of one node, or -1 when shapes are unknown.
static int64_t node_flops(const ir::Node& n) {
    // The optimizer's fused nodes (com.nnport FusedConv/FusedGemm/FusedMatMul) cost what the op they extend costs.
    const bool fused = n.domain() == "com.nnport" && n.op_type().rfind("Fused", 0) == 0;
    const std::string op = fused ? n.op_type().substr(5) : n.op_type();
    const int64_t out = numel_of(n.output(0));
    if (op == "Conv" || op == "ConvTranspose" || op == "ConvInteger" || op == "QLinearConv") {
        const ir::Value* w = n.input(op == "QLinearConv" ? 3 : 1);
        const int64_t wn = numel_of(w);
        if (out < 0 || wn < 0 || !w->type.has_shape || w->type.dims.empty()) return -1;
        if (op == "ConvTranspose") {
            const int64_t in = numel_of(n.input(0));
            const int64_t cin = w->type.dims[0].value;
            return in < 0 || cin <= 0 ? -1 : 2 * in * (wn / cin);
        }
        const int64_t cout = w->type.dims[0].value;
        return cout <= 0 ? -1 : 2 * out * (wn / cout);
    }
    if (op == "MatMul" || op == "Gemm" || op == "MatMulInteger" || op == "QLinearMatMul") {
        const ir::Value* a = n.input(0);
        if (out < 0 || !a || !a->type.has_shape || a->type.dims.empty()) return -1;
        int64_t k = a->type.dims.back().value;
        if (op == "Gemm" && n.has_attr("transA") && n.attr("transA")->i) k = a->type.dims.front().value;
        return k < 0 ? -1 : 2 * out * k;
    }
    if (op == "LSTM" || op == "GRU" || op == "RNN") {
        // Per time step and direction: gates = X·Wᵀ + H·Rᵀ, i.e. 2·batch·(numel(W) + numel(R)) / directions each.
        const ir::Value* x = n.input(0);
        const int64_t xn = numel_of(x), wn = numel_of(n.input(1)), rn = numel_of(n.input(2));
        if (xn < 0 || wn < 0 || rn < 0 || x->type.dims.empty()) return -1;
        const int64_t in = x->type.dims.back().value;
        return in <= 0 ? 0 : 2 * (xn / in) * (wn + rn);
    }
    if (op == "Constant" || op == "Shape" || op == "Reshape" || op == "Identity" || op == "Flatten" ||
        op == "Squeeze" || op == "Unsqueeze") {
        return 0;
    }
    return out < 0 ? -1 : out;  // elementwise-like: one op per output element
}

static void walk(const ir::Graph& g, ModelStats& s) {
    for (const auto& v : g.values()) {
        if (v->has_initializer()) {
            s.parameter_count += v->initializer().numel();
            s.parameter_bytes += static_cast<int64_t>(v->initializer().nbytes());
        }
    }
    for (const auto& n : g.nodes()) {
        ++s.node_count;
        ++s.op_histogram[n->domain().empty() ? n->op_type() : n->domain() + "." + n->op_type()];
        const int64_t f = node_flops(*n);
        if (f < 0) ++s.nodes_without_flops;
        else s.flops += f;
        for (const ir::Graph* sg : n->subgraphs()) walk(*sg, s);
    }
}

ModelStats compute_stats(const ir::Graph& g) {
    ModelStats s;
    walk(g, s);
    return s;
}

}  // namespace nnport

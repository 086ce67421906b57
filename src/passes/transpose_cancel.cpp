// transpose_cancel: Transpose(Transpose(x)) becomes one Transpose of x with the composed permutation, or x itself
// when the two cancel (so a Transpose and its inverse disappear wherever they meet, also when the first one has
// other consumers); a chain of Reshape/Flatten/Squeeze/Unsqueeze ending in a static shape becomes one Reshape of the
// chain's input; a Transpose that only moves dims of size 1 (the order of the others kept) becomes a Reshape, so it
// can merge with a following Flatten/Reshape. Earlier links that nothing else uses are removed.
#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {
namespace {

bool is_reshape_like(const ir::Node* n) {
    return is_op(n, "Reshape") || is_op(n, "Flatten") || is_op(n, "Squeeze") || is_op(n, "Unsqueeze");
}

void remove_if_dead(ir::Graph& g, ir::Node* n) {
    for (const ir::Value* o : n->outputs()) {
        if (value_needed(o)) return;
    }
    g.remove_node(n);
}

/// Transpose `n` fed by Transpose `t1`: reads t1's input directly with the composed permutation.
bool compose_transposes(ir::Graph& g, ir::Node* n, ir::Node* t1, PassContext& ctx) {
    ir::Value* x = t1->input(0);
    const std::vector<int64_t> p1 = transpose_perm(*t1, x->type.is_tensor() ? x->type.rank() : -1);
    const std::vector<int64_t> p2 = transpose_perm(*n, static_cast<int64_t>(p1.size()));
    if (p1.empty() || p2.size() != p1.size()) return false;
    const std::vector<int64_t> c = compose_perm(p1, p2);
    const std::string what = t1->describe() + " + " + n->describe();
    if (is_identity_perm(c) && forward_input(g, n, x)) {
        ctx.record(what + " cancel");
    } else {
        n->set_input(0, x);
        n->attrs["perm"] = ir::Attribute::make_ints(c);
        ctx.record(what + " composed");
    }
    remove_if_dead(g, t1);
    return true;
}

/// Reshape-like `n` fed by reshape-like `r1`, with a static output shape: one Reshape of r1's input.
Result<bool> merge_reshapes(ir::Graph& g, ir::Node* n, ir::Node* r1, PassContext& ctx) {
    const ir::ValueType& t = n->output(0)->type;
    // The new Reshape takes over the output's uses; a value read by a subgraph by name cannot be taken over.
    if (!t.is_static() || (!is_op(n, "Reshape") && n->output(0)->is_captured())) return false;
    const Shape shape = t.static_shape();
    for (int64_t d : shape) {
        if (d == 0) return false;  // a 0 in a Reshape shape means "copy" unless allowzero: not worth the cases
    }
    ir::Value* x = r1->input(0);
    ir::Value* target =
        add_constant(g, n->name() + "_shape", Tensor::from_vector<int64_t>({int64_t(shape.size())}, shape));
    const std::string what = r1->describe() + " + " + n->describe() + " -> Reshape " + shape_to_string(shape);
    if (is_op(n, "Reshape")) {
        n->set_input(0, x);
        n->set_input(1, target);
    } else {
        NNPORT_ASSIGN_OR_RETURN(ir::Node * r, make_node(g, ctx, "Reshape", "", n->name() + "_reshape", {x, target}));
        r->output(0)->type = t;
        if (!replace_value(g, n->output(0), r->output(0))) return internal_error("transpose_cancel: replace failed");
        g.remove_node(n);
    }
    ctx.record(what);
    remove_if_dead(g, r1);
    return true;
}

/// A Transpose that keeps the memory order (only size-1 dims move) becomes a Reshape to its output shape (at most one
/// dim unknown, written -1).
Result<bool> transpose_as_reshape(ir::Graph& g, ir::Node* n, PassContext& ctx) {
    const ir::ValueType& it = n->input(0)->type;
    const ir::ValueType& ot = n->output(0)->type;
    if (!it.has_shape || !ot.has_shape || n->output(0)->is_captured()) return false;
    const std::vector<int64_t> perm = transpose_perm(*n, static_cast<int64_t>(it.dims.size()));
    if (perm.size() != it.dims.size() || is_identity_perm(perm)) return false;
    int64_t last = -1;
    for (int64_t p : perm) {
        const ir::Dim& d = it.dims[static_cast<size_t>(p)];
        if (d.is_static() && d.value == 1) continue;
        if (p < last) return false;  // a dim that is not 1 changes place: the data moves
        last = p;
    }
    std::vector<int64_t> shape;
    int unknown = 0;
    for (const ir::Dim& d : ot.dims) {
        if (d.is_static() && d.value == 0) return false;
        shape.push_back(d.is_static() ? d.value : -1);
        unknown += d.is_static() ? 0 : 1;
    }
    if (unknown > 1) return false;
    ir::Value* target =
        add_constant(g, n->name() + "_shape", Tensor::from_vector<int64_t>({int64_t(shape.size())}, shape));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r,
                            make_node(g, ctx, "Reshape", "", n->name() + "_reshape", {n->input(0), target}));
    r->output(0)->type = ot;
    if (!replace_value(g, n->output(0), r->output(0))) {
        g.remove_node(r);
        return false;
    }
    ctx.record(n->describe() + " moves only size-1 dims -> Reshape " + shape_to_string(shape));
    g.remove_node(n);
    return true;
}

class TransposeCancelPass : public Pass {
public:
    const char* name() const override { return "transpose_cancel"; }
    const char* description() const override {
        return "composes Transpose pairs (removing those that cancel) and merges Reshape/Flatten/Squeeze/Unsqueeze "
               "chains with a static result into one Reshape";
    }
    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        // Producers before consumers: a rewrite at a node removes only nodes before it (already visited).
        NNPORT_RETURN_IF_ERROR(g.topo_sort());
        std::vector<ir::Node*> nodes;
        for (const auto& n : g.nodes()) nodes.push_back(n.get());
        bool changed = false;
        for (ir::Node* n : nodes) {
            ir::Value* in = n->input(0);
            if (in && is_op(n, "Transpose")) {
                NNPORT_ASSIGN_OR_RETURN(bool c, transpose_as_reshape(g, n, ctx));
                if (c) {
                    changed = true;
                    continue;
                }
            }
            ir::Node* p = in ? in->producer() : nullptr;
            if (!p || p->graph() != &g) continue;
            if (is_op(n, "Transpose") && is_op(p, "Transpose")) {
                changed = compose_transposes(g, n, p, ctx) || changed;
            } else if (is_reshape_like(n) && is_reshape_like(p)) {
                NNPORT_ASSIGN_OR_RETURN(bool c, merge_reshapes(g, n, p, ctx));
                changed = c || changed;
            }
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_transpose_cancel_pass() { return std::make_unique<TransposeCancelPass>(); }

}  // namespace nnport::passes

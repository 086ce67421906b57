// Structural verifier: run after import and after every pass in test builds.
#include <unordered_set>

#include "ir/graph.hpp"

namespace nnport::ir {

static Status verify_graph(const Graph& g, std::unordered_set<const Value*>& visible_outer) {
    const std::string where = "graph '" + g.name() + "'";
    std::unordered_set<const Value*> defined;
    std::unordered_set<std::string> names;
    for (const auto& v : g.values()) {
        if (!names.insert(v->name()).second) return invalid_model(where + ": value '" + v->name() + "' defined twice");
    }
    for (const Value* v : g.inputs()) {
        if (!v) return invalid_model(where + ": null graph input");
        defined.insert(v);
    }
    for (const auto& v : g.values()) {
        if (v->has_initializer()) {
            if (v->producer()) return invalid_model(where + ": initializer '" + v->name() + "' is also a node output");
            defined.insert(v.get());
        }
    }
    for (const Value* r : g.outer_refs()) {
        if (!r->outer() || !visible_outer.count(r->outer())) {
            return invalid_model(where + ": '" + r->name() + "' refers to a value not defined in an enclosing scope");
        }
        defined.insert(r);
    }
    std::unordered_set<const Node*> seen_nodes;
    for (const auto& n : g.nodes()) {
        for (size_t i = 0; i < n->inputs().size(); ++i) {
            const Value* v = n->inputs()[i];
            if (!v) continue;
            if (v->graph() != &g) {
                return invalid_model(where + ": " + n->describe() + " input '" + v->name() + "' belongs to another graph");
            }
            if (!defined.count(v)) {
                if (v->producer() && !seen_nodes.count(v->producer()) && v->producer()->graph() == &g) {
                    return invalid_model(where + ": " + n->describe() + " uses '" + v->name() +
                                         "' before it is produced (cycle or wrong order)");
                }
                return invalid_model(where + ": " + n->describe() + " input '" + v->name() + "' is not defined");
            }
        }
        for (const Value* v : n->outputs()) {
            if (!v) continue;
            if (v->producer() != n.get()) {
                return invalid_model(where + ": output '" + v->name() + "' of " + n->describe() + " has another producer");
            }
            if (!defined.insert(v).second) {
                return invalid_model(where + ": value '" + v->name() + "' is assigned more than once");
            }
        }
        seen_nodes.insert(n.get());
        // Subgraphs see everything defined so far in this graph and in enclosing ones.
        std::unordered_set<const Value*> inner_visible = visible_outer;
        inner_visible.insert(defined.begin(), defined.end());
        for (const Graph* sg : n->subgraphs()) {
            Status st = verify_graph(*sg, inner_visible);
            if (!st.is_ok()) return st.with_context(n->describe());
        }
    }
    std::unordered_set<const Value*> outs;
    for (const Value* v : g.outputs()) {
        if (!v) return invalid_model(where + ": null graph output");
        if (!defined.count(v)) return invalid_model(where + ": output '" + v->name() + "' is never produced");
    }
    return Status::ok();
}

Status verify(const Graph& g) {
    std::unordered_set<const Value*> none;
    return verify_graph(g, none);
}

}  // namespace nnport::ir

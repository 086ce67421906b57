// dead_code / dead_code_final: removes nodes whose outputs nothing needs (not used, not graph outputs, not read by a
// subgraph), initializers nothing reads (graph inputs stay: they are part of the model's interface), and clears
// unused optional outputs of ops whose kernels then skip that work (Dropout mask, MaxPool indices, RNN/GRU/LSTM
// sequences and states, LayerNormalization statistics, Unique extras). BatchNormalization is not on that list: before
// opset 14 its extra outputs select training mode. The same pass runs early (order 130) and last (order 990).
#include <cstring>

#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {
namespace {

/// Output indices that may be omitted without changing what the op computes for its other outputs.
std::vector<size_t> optional_outputs(const ir::Node& n) {
    if (!n.domain().empty()) return {};
    const std::string& op = n.op_type();
    if (op == "Dropout" || op == "MaxPool") return {1};
    if (op == "LSTM") return {0, 1, 2};
    if (op == "GRU" || op == "RNN") return {0, 1};
    if (op == "LayerNormalization") return {1, 2};
    if (op == "Unique") return {1, 2, 3};
    return {};
}

/// Rebuilds `n` without the outputs in `drop`; the kept outputs keep their names and uses. Returns false (graph
/// unchanged) when a kept output is read by a subgraph by name.
bool drop_outputs(ir::Graph& g, ir::Node* n, const std::vector<size_t>& drop) {
    std::vector<std::string> names;
    for (size_t i = 0; i < n->outputs().size(); ++i) {
        const ir::Value* o = n->output(i);
        const bool dropped = std::find(drop.begin(), drop.end(), i) != drop.end();
        if (o && !dropped && o->is_captured()) return false;
        names.push_back(!o || dropped ? "" : g.unique_name(o->name() + "_kept"));
    }
    auto made = g.add_node(n->op_type(), n->domain(), n->name(), n->inputs(), names);
    if (!made.is_ok()) return false;
    ir::Node* nn = *made;
    nn->attrs = n->attrs;
    nn->def = n->def;
    nn->opset = n->opset;
    nn->doc_string = n->doc_string;
    std::vector<std::pair<ir::Value*, ir::Value*>> kept;
    for (size_t i = 0; i < names.size(); ++i) {
        if (nn->output(i)) kept.emplace_back(n->output(i), nn->output(i));
    }
    for (auto& [from, to] : kept) {
        to->type = from->type;
        g.replace_all_uses(from, to);
    }
    g.remove_node(n);
    for (auto& [from, to] : kept) {
        const std::string name = from->name();
        // Cannot fail: the old value gives up `name` first. Were it to, only the name would differ.
        if (g.rename_value(from, g.unique_name(name + "_dropped")).is_ok()) (void)g.rename_value(to, name);
    }
    return true;
}

class DeadCodePass : public Pass {
public:
    explicit DeadCodePass(const char* name) : name_(name) {}
    const char* name() const override { return name_; }
    const char* description() const override {
        return "removes nodes whose outputs are unused, unused initializers, and unused optional outputs (Dropout "
               "mask, MaxPool indices, RNN states, LayerNormalization statistics)";
    }
    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        bool changed = false;
        for (bool again = true; again;) {
            again = false;
            std::vector<ir::Node*> dead;
            for (const auto& n : g.nodes()) {
                bool needed = false;
                for (const ir::Value* o : n->outputs()) needed = needed || value_needed(o);
                if (!needed) dead.push_back(n.get());
            }
            for (ir::Node* n : dead) {
                ctx.record("removed " + n->describe());
                g.remove_node(n);
                again = changed = true;
            }
        }
        std::vector<ir::Node*> nodes;
        for (const auto& n : g.nodes()) nodes.push_back(n.get());
        for (ir::Node* n : nodes) {
            std::vector<size_t> drop;
            for (size_t i : optional_outputs(*n)) {
                if (n->output(i) && !value_needed(n->output(i))) drop.push_back(i);
            }
            const std::string what = n->describe();
            if (!drop.empty() && drop_outputs(g, n, drop)) {
                ctx.record("cleared " + std::to_string(drop.size()) + " unused output(s) of " + what);
                changed = true;
            }
        }
        int unused = 0;
        for (const ir::Value* v : g.initializers()) {
            if (!value_needed(v) && !v->is_graph_input()) {
                ctx.record("removed initializer '" + v->name() + "'");
                ++unused;
            }
        }
        if (unused > 0) {
            g.remove_unused_values();  // drops values without producer, uses or graph role: the unused initializers
            changed = true;
        }
        return changed;
    }

private:
    const char* name_;
};

}  // namespace

std::unique_ptr<Pass> make_dead_code_pass() { return std::make_unique<DeadCodePass>("dead_code"); }
std::unique_ptr<Pass> make_dead_code_final_pass() { return std::make_unique<DeadCodePass>("dead_code_final"); }

}  // namespace nnport::passes

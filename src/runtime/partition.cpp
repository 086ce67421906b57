// Partitioning implementation: backend choice per node, channels-last rewrite, kernel preparation.
#include "runtime/partition.hpp"

#include <map>
#include <set>

#include "passes/pass_util.hpp"
#include "passes/pipeline.hpp"

namespace nnport {

namespace {

/// The channels-last twin of a node's op, or nullptr if it has none.
const char* nhwc_twin(const ir::Node& n) {
    const bool onnx = n.domain().empty() || n.domain() == "ai.onnx";
    if (n.domain() == passes::kNnportDomain && n.op_type() == "FusedConv") return "NhwcFusedConv";
    if (!onnx) return nullptr;
    static const std::map<std::string, const char*> twins = {
        {"Conv", "NhwcConv"},
        {"MaxPool", "NhwcMaxPool"},
        {"AveragePool", "NhwcAveragePool"},
        {"GlobalAveragePool", "NhwcGlobalAveragePool"},
        {"GlobalMaxPool", "NhwcGlobalMaxPool"},
    };
    auto it = twins.find(n.op_type());
    return it == twins.end() ? nullptr : it->second;
}

bool is_nhwc_form(const ir::Node& n) {
    return n.domain() == passes::kNnportDomain && n.op_type().rfind("Nhwc", 0) == 0;
}

bool is_conv_like(const ir::Node& n) { return n.op_type() == "Conv" || n.op_type() == "FusedConv"; }

/// Why the node cannot take the channels-last form (empty: it can).
std::string layout_obstacle(const ir::Node& n) {
    if (!nhwc_twin(n)) return "no channels-last form of this op";
    const ir::Value* x = n.input(0);
    if (!x || !x->type.has_shape || x->type.dims.size() != 4) return "channels-last form needs a rank-4 input";
    for (size_t i = 1; i < n.outputs().size(); ++i) {
        if (n.output(i)) return "channels-last form has no second output (MaxPool Indices)";
    }
    if (n.output(0) && n.output(0)->is_captured()) return "output read by a subgraph";
    return {};
}

/// Whether `p` is a channels-last node, or a layout-transparent op (elementwise, Concat) fed by one within `depth`
/// hops: a pooling node there keeps the region channels-last instead of adding two conversions.
bool behind_channels_last(const ir::Node* p, const std::set<const ir::Node*>& chosen, int depth) {
    if (!p || depth < 0) return false;
    if (chosen.count(p)) return true;
    const bool transparent = (p->def && p->def->inplace_elementwise) || p->op_type() == "Concat";
    if (!transparent) return false;
    for (const ir::Value* v : p->inputs()) {
        if (v && behind_channels_last(v->producer(), chosen, depth - 1)) return true;
    }
    return false;
}

ConstantFn constants() {
    return [](const ir::Value* v) { return passes::constant_of(v); };
}

ir::Attribute perm_attr(std::vector<int64_t> p) { return ir::Attribute::make_ints(std::move(p)); }

/// Replaces `n` by Transpose -> Nhwc twin -> Transpose.
Status rewrite_nhwc(ir::Graph& g, ir::Node* n, const passes::PassContext& pctx) {
    auto transpose = [&](ir::Value* v, const std::string& base, std::vector<int64_t> perm) -> Result<ir::Value*> {
        NNPORT_ASSIGN_OR_RETURN(ir::Node * t, passes::make_node(g, pctx, "Transpose", "", base, {v}));
        t->attrs["perm"] = perm_attr(std::move(perm));
        return t->output(0);
    };
    std::vector<ir::Value*> ins = n->inputs();
    NNPORT_ASSIGN_OR_RETURN(ins[0], transpose(ins[0], n->name() + "_to_nhwc", {0, 2, 3, 1}));
    if (n->op_type() == "FusedConv" && ins.size() > 3 && ins[3]) {
        NNPORT_ASSIGN_OR_RETURN(ins[3], transpose(ins[3], n->name() + "_z_to_nhwc", {0, 2, 3, 1}));
    }
    NNPORT_ASSIGN_OR_RETURN(ir::Node * m, passes::make_node(g, pctx, nhwc_twin(*n), passes::kNnportDomain,
                                                            n->name().empty() ? std::string("nhwc") : n->name(), ins));
    m->attrs = n->attrs;
    m->opset = n->opset;  // the NCHW op's version decides its attribute semantics (the reference kernel runs it)
    NNPORT_ASSIGN_OR_RETURN(ir::Value * back, transpose(m->output(0), n->name() + "_to_nchw", {0, 3, 1, 2}));
    if (!passes::replace_value(g, n->output(0), back)) {
        return internal_error(n->describe() + ": cannot rewire its output for the channels-last form");
    }
    g.remove_node(n);
    return Status::ok();
}

int count_transposes(const ir::Graph& g) {
    int k = 0;
    for (const auto& n : g.nodes()) k += passes::is_op(n.get(), "Transpose") ? 1 : 0;
    return k;
}

/// Step 1-2: rewrites the main graph's nodes that the first supporting backend wants channels-last.
Result<int> apply_layouts(ir::Model& model, const std::vector<const Backend*>& backends) {
    ir::Graph& g = *model.graph;
    const ConstantFn constant = constants();
    std::set<const ir::Node*> chosen;
    for (const auto& np : g.nodes()) {
        const ir::Node& n = *np;
        if (!nhwc_twin(n) || !layout_obstacle(n).empty()) continue;
        for (const Backend* b : backends) {
            const Support s = b->supports(n, constant);
            if (!s.ok) continue;
            if (s.layout == Layout::kNHWC) {
                // Pooling alone is not worth two conversions: it goes channels-last only behind a channels-last
                // conv (through elementwise ops that keep the layout).
                const bool worth = is_conv_like(n) || behind_channels_last(n.input(0)->producer(), chosen, 4);
                if (worth) chosen.insert(&n);
            }
            break;  // the first backend that supports the node decides its layout
        }
    }
    if (chosen.empty()) return 0;
    passes::PassContext pctx;
    pctx.model = &model;
    std::vector<ir::Node*> todo;
    for (const auto& np : g.nodes()) {
        if (chosen.count(np.get())) todo.push_back(np.get());
    }
    for (ir::Node* n : todo) NNPORT_RETURN_IF_ERROR(rewrite_nhwc(g, n, pctx));
    g.remove_unused_values();
    NNPORT_RETURN_IF_ERROR(g.topo_sort());
    // Cancel the Transposes between neighbouring channels-last nodes.
    for (int round = 0; round < 6; ++round) {
        bool changed = false;
        for (const char* pass : {"cse", "transpose_cancel", "transpose_sink", "dead_code"}) {
            passes::PassContext ctx;
            NNPORT_ASSIGN_OR_RETURN(bool c, passes::run_pass(model, pass, ctx));
            changed |= c;
        }
        if (!changed) break;
    }
    return static_cast<int>(todo.size());
}

void collect_nodes(const ir::Graph& g, std::vector<const ir::Node*>& out) {
    for (const auto& n : g.nodes()) {
        out.push_back(n.get());
        for (const ir::Graph* sg : n->subgraphs()) collect_nodes(*sg, out);
    }
}

}  // namespace

Result<std::unique_ptr<Partition>> partition_model(ir::Model& model, const std::vector<const Backend*>& backends,
                                                   ThreadPool* pool) {
    auto p = std::make_unique<Partition>();
    p->backends_ = backends;
    bool only_ref = true;
    for (const Backend* b : backends) only_ref &= b == &reference_backend();
    if (!only_ref) {
        const int before = count_transposes(*model.graph);
        NNPORT_ASSIGN_OR_RETURN(p->stats_.layout_nodes, apply_layouts(model, backends));
        p->stats_.boundary_transposes = count_transposes(*model.graph) - before;
    }
    const ConstantFn constant = constants();
    PrepareContext pc;
    pc.constant = constant;
    pc.pool = pool;
    pc.threads = pool ? pool->num_threads() : 1;
    std::vector<const ir::Node*> nodes;
    collect_nodes(*model.graph, nodes);
    for (const ir::Node* n : nodes) {
        NodeAssignment a;
        std::string why;
        for (const Backend* b : backends) {
            Support s = b->supports(*n, constant);
            if (s.ok && s.layout == Layout::kNHWC && !is_nhwc_form(*n)) {
                s = Support::no("runs it channels-last only, and it stays NCHW here (" +
                                (nhwc_twin(*n) ? layout_obstacle(*n) + ", or pooling without a channels-last conv"
                                               : std::string("no channels-last form")) + ")");
            }
            if (!s.ok) {
                why += (why.empty() ? "" : "; ") + std::string(b->name()) + ": " + s.reason;
                continue;
            }
            auto k = b->prepare(*n, pc);
            if (!k.is_ok()) {
                why += (why.empty() ? "" : "; ") + std::string(b->name()) + ": prepare failed: " + k.status().message();
                continue;
            }
            a.backend = b;
            a.kernel = std::move(*k);
            break;
        }
        if (!a.backend) return unsupported(n->describe() + ": no backend can run it (" + why + ")");
        a.fallback_reason = std::move(why);
        p->stats_.per_backend[std::string(a.backend->name())]++;
        p->stats_.nodes++;
        p->nodes_.emplace(n, std::move(a));
    }
    return p;
}

}  // namespace nnport

// Partitioning implementation: backend choice per node, channels-last rewrite, kernel preparation.
#include "runtime/partition.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"
#include "passes/pipeline.hpp"

namespace nnport {

namespace {

/// The channels-last twin of a node's op, or nullptr if it has none.
const char* nhwc_twin(const ir::Node& n) {
    const bool onnx = n.domain().empty() || n.domain() == "ai.onnx";
    if (n.domain() == passes::kNnportDomain && n.op_type() == "FusedConv") return "NhwcFusedConv";
    if (n.domain() == passes::kNnportDomain && n.op_type() == "QLinearFusedConv") return "NhwcQLinearFusedConv";
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

bool is_conv_like(const ir::Node& n) {
    return n.op_type() == "Conv" || n.op_type() == "FusedConv" || n.op_type() == "QLinearFusedConv";
}

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

/// A QuantizeLinear / DequantizeLinear with scalar (per-tensor) scale and zero point: elementwise, any layout.
bool per_tensor_qdq(const ir::Node& n) {
    if (!passes::is_op(&n, "QuantizeLinear") && !passes::is_op(&n, "DequantizeLinear")) return false;
    for (size_t i = 1; i < n.inputs().size(); ++i) {
        if (n.input(i) && n.input(i)->type.rank() != 0) return false;
    }
    return n.inputs().size() >= 2 && n.input(1);
}

/// Whether `p` is a channels-last node, or a layout-transparent op (elementwise, Concat, per-tensor Q/DQ) fed by one
/// within `depth` hops: a pooling node there keeps the region channels-last instead of adding two conversions.
bool behind_channels_last(const ir::Node* p, const std::set<const ir::Node*>& chosen, int depth) {
    if (!p || depth < 0) return false;
    if (chosen.count(p)) return true;
    const bool transparent =
        (p->def && p->def->inplace_elementwise) || p->op_type() == "Concat" || per_tensor_qdq(*p);
    if (!transparent) return false;
    for (const ir::Value* v : p->inputs()) {
        if (v && behind_channels_last(v->producer(), chosen, depth - 1)) return true;
    }
    return false;
}

ConstantFn constants() {
    return [](const ir::Value* v) {
        // Through Identity: exporters pass shared initializers through Identity nodes (a conv's bias in torch's
        // squeezenet and convnext exports), which only the optimizer removes; at level 0 the value is still that
        // constant, and the backend's kernel keeps its own copy of it.
        for (int hops = 0; v && hops < 16 && !passes::constant_of(v); ++hops) {
            const ir::Node* p = v->producer();
            if (!p || p->op_type() != "Identity" || !p->domain().empty() || p->inputs().size() != 1) break;
            v = p->input(0);
        }
        return passes::constant_of(v);
    };
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

/// Inference BatchNormalizations left on rank-4 data (no conv before them to fold into: DenseNet's pre-activation
/// blocks) become Mul + Add by per-channel constants, which the transpose passes move through, so they stay inside
/// channels-last regions instead of forcing two conversions each.
Result<int> batchnorm_to_affine(ir::Graph& g, const passes::PassContext& pctx) {
    std::vector<ir::Node*> bns;
    for (const auto& n : g.nodes()) {
        if (!passes::is_op(n.get(), "BatchNormalization") || !n->def) continue;
        if (n->outputs().size() > 1 && std::any_of(n->outputs().begin() + 1, n->outputs().end(),
                                                   [](const ir::Value* v) { return v != nullptr; }))
            continue;
        if (passes::attrs_of(*n).attr_int("training_mode") != 0) continue;
        const ir::Value* x = n->input(0);
        if (!x || x->type.dtype != DType::kFloat32 || !x->type.has_shape || x->type.dims.size() != 4) continue;
        bns.push_back(n.get());
    }
    int done = 0;
    for (ir::Node* bn : bns) {
        std::vector<float> sc, sh;
        if (!passes::batchnorm_affine(bn, sc, sh)) continue;
        const int64_t c = static_cast<int64_t>(sc.size());
        ir::Value* scale = passes::add_constant(g, bn->name() + "_scale", Tensor::from_vector<float>({c, 1, 1}, sc));
        ir::Value* shift = passes::add_constant(g, bn->name() + "_shift", Tensor::from_vector<float>({c, 1, 1}, sh));
        NNPORT_ASSIGN_OR_RETURN(ir::Node * mul,
                                passes::make_node(g, pctx, "Mul", "", bn->name() + "_mul", {bn->input(0), scale}));
        NNPORT_ASSIGN_OR_RETURN(ir::Node * add,
                                passes::make_node(g, pctx, "Add", "", bn->name() + "_add", {mul->output(0), shift}));
        mul->output(0)->type = add->output(0)->type = bn->output(0)->type;
        if (!passes::replace_value(g, bn->output(0), add->output(0))) {
            g.remove_node(add);
            g.remove_node(mul);
            continue;
        }
        g.remove_node(bn);
        ++done;
    }
    return done;
}

/// Gives every node that reads a shared Transpose its own copy (graph outputs keep the original).
Status split_shared_transposes(ir::Graph& g, const passes::PassContext& pctx) {
    std::vector<ir::Node*> shared;
    for (const auto& n : g.nodes()) {
        if (passes::is_op(n.get(), "Transpose") && n->output(0)->uses().size() > 1) shared.push_back(n.get());
    }
    for (ir::Node* t : shared) {
        const std::vector<ir::Use> uses = t->output(0)->uses();
        const bool keep_first = !t->output(0)->is_graph_output();
        for (size_t k = keep_first ? 1 : 0; k < uses.size(); ++k) {
            NNPORT_ASSIGN_OR_RETURN(ir::Node * c, passes::make_node(g, pctx, "Transpose", "", t->name(), {t->input(0)}));
            c->attrs = t->attrs;
            c->output(0)->type = t->output(0)->type;
            uses[k].node->set_input(static_cast<size_t>(uses[k].index), c->output(0));
        }
    }
    return g.topo_sort();  // the copies were appended after their readers
}

/// Transpose(QuantizeLinear(x)) -> QuantizeLinear(Transpose(x)) for a per-tensor Q read only by the Transpose: the
/// layout conversion in front of an int8 model's first convolution then moves float32 data (the cpu backend's
/// register transposes) instead of int8 data (the reference kernel). Exact: Q is elementwise.
Result<int> hoist_transposes_above_quantize(ir::Graph& g, const passes::PassContext& pctx) {
    std::vector<ir::Node*> ts;
    for (const auto& n : g.nodes()) {
        if (!passes::is_op(n.get(), "Transpose")) continue;
        ir::Node* q = n->input(0) ? n->input(0)->producer() : nullptr;
        if (!q || !passes::is_op(q, "QuantizeLinear") || !per_tensor_qdq(*q) || q->outputs().size() != 1) continue;
        if (q->output(0)->uses().size() != 1 || q->output(0)->is_graph_output() || q->output(0)->is_captured()) continue;
        if (q->input(0)->type.dtype != DType::kFloat32) continue;
        ts.push_back(n.get());
    }
    for (ir::Node* t : ts) {
        ir::Node* q = t->input(0)->producer();
        NNPORT_ASSIGN_OR_RETURN(ir::Node * nt, passes::make_node(g, pctx, "Transpose", "", t->name(), {q->input(0)}));
        nt->attrs = t->attrs;
        q->set_input(0, nt->output(0));
        q->output(0)->type = ir::ValueType();  // its layout changed: inference starts afresh
        if (!passes::replace_value(g, t->output(0), q->output(0))) {
            return internal_error(t->describe() + ": cannot move it above " + q->describe());
        }
        g.remove_node(t);
    }
    if (!ts.empty()) NNPORT_RETURN_IF_ERROR(g.topo_sort());
    return static_cast<int>(ts.size());
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
    passes::PassContext pctx;
    pctx.model = &model;
    bool has_conv = false;
    for (const auto& np : g.nodes()) has_conv |= is_conv_like(*np) && layout_obstacle(*np).empty();
    if (has_conv) {
        NNPORT_ASSIGN_OR_RETURN(int bns, batchnorm_to_affine(g, pctx));
        if (bns > 0) NNPORT_RETURN_IF_ERROR(g.topo_sort());
    }
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
                const bool worth = is_conv_like(n) || behind_channels_last(n.input(0)->producer(), chosen, 8);
                if (worth) chosen.insert(&n);
            }
            break;  // the first backend that supports the node decides its layout
        }
    }
    if (chosen.empty()) return 0;

    std::vector<ir::Node*> todo;
    for (const auto& np : g.nodes()) {
        if (chosen.count(np.get())) todo.push_back(np.get());
    }
    for (ir::Node* n : todo) NNPORT_RETURN_IF_ERROR(rewrite_nhwc(g, n, pctx));
    g.remove_unused_values();
    NNPORT_RETURN_IF_ERROR(g.topo_sort());
    // Cancel the Transposes between neighbouring channels-last nodes. A Transpose read by several nodes (DenseNet's
    // features feed every later Concat of their block) is first split into one copy per reader, so each copy can
    // move down its own path; CSE merges the copies that stay.
    for (int round = 0; round < 8; ++round) {
        NNPORT_RETURN_IF_ERROR(split_shared_transposes(g, pctx));
        bool changed = false;
        for (const char* pass : {"transpose_cancel", "transpose_sink", "dead_code"}) {
            passes::PassContext ctx;
            NNPORT_ASSIGN_OR_RETURN(bool c, passes::run_pass(model, pass, ctx));
            changed |= c;
        }
        if (!changed) break;
    }
    NNPORT_RETURN_IF_ERROR(hoist_transposes_above_quantize(g, pctx).status());
    // The BatchNormalizations that folded into no convolution are Mul -> Add by channel vectors now, along the last
    // axis where the region is channels-last: one ScaleShift pass instead of two (three with the ReLU after them).
    for (const char* pass : {"fuse_scale_shift", "cse", "dead_code"}) {
        passes::PassContext ctx;
        NNPORT_RETURN_IF_ERROR(passes::run_pass(model, pass, ctx).status());
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

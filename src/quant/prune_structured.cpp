// Structured pruning: the lowest-L1 output channels of each Conv are removed together with the matching channels of
// every per-channel op, depthwise conv and consumer their values reach; convs whose channels reach anything else are
// left alone.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "passes/pass_util.hpp"
#include "quant/prune_impl.hpp"

namespace nnport::quant::prune_detail {

namespace {

/// Everything that must shrink with one conv's output channels.
struct ChannelPlan {
    ir::Node* producer = nullptr;
    std::vector<ir::Node*> batchnorms;  ///< inputs 1..4 sliced on axis 0
    std::vector<ir::Node*> depthwise;   ///< weight and bias sliced on axis 0, group = kept
    std::vector<ir::Node*> consumers;   ///< Conv: weight axis 1; Gemm: weight's input-feature axis
    std::string reason;                 ///< non-empty: the conv cannot be pruned
};

bool is_passthrough(const ir::Node* n) {
    static const char* kOps[] = {"Relu",     "Clip",     "LeakyRelu", "Sigmoid",           "HardSigmoid",  "HardSwish",
                                 "Tanh",     "Elu",      "Selu",      "MaxPool",           "AveragePool",  "Dropout",
                                 "Identity", "Softplus", "Mish",      "GlobalAveragePool", "GlobalMaxPool"};
    for (const char* op : kOps) {
        if (passes::is_op(n, op)) return true;
    }
    return false;
}

/// A constant float32 weight used by this node alone (so slicing it changes nothing else).
bool own_constant(const ir::Value* v) {
    const Tensor* t = passes::constant_of(v);
    return t && t->dtype() == DType::kFloat32 && v->uses().size() == 1 && !v->is_graph_output();
}

bool own_or_absent(const ir::Value* v) { return v == nullptr || own_constant(v); }

int64_t group_of(const ir::Node* n) { return passes::attrs_of(*n).attr_int("group"); }

/// Follows value `v` (carrying the pruned channels on axis 1) through all its uses. `spatial_one`: a global pool
/// was passed, so a Flatten keeps channel c as feature c.
void trace(const ir::Value* v, ChannelPlan& p, bool spatial_one, int depth = 0) {
    if (!p.reason.empty()) return;
    if (depth > 64) {
        p.reason = "its channels reach too long a chain of ops";
        return;
    }
    if (v->is_graph_output()) {
        p.reason = "its channels reach the graph output '" + v->name() + "'";
        return;
    }
    if (v->is_captured()) {
        p.reason = "its output is read by a subgraph";
        return;
    }
    for (const ir::Use& u : v->uses()) {
        ir::Node* n = u.node;
        const std::string who = n->describe();
        if (n->def == nullptr) {
            p.reason = "its channels reach " + who + ", an unknown op";
        } else if (u.index != 0) {
            p.reason = "its channels reach " + who + " (input " + std::to_string(u.index) + ")";
        } else if (passes::is_op(n, "BatchNormalization")) {
            bool ok = n->outputs().size() == 1 || n->output(1) == nullptr;
            for (size_t i = 1; i <= 4; ++i) ok = ok && own_constant(n->input(i));
            if (!ok) {
                p.reason = "its channels reach " + who + " whose parameters are not its own constants";
            } else {
                p.batchnorms.push_back(n);
                trace(n->output(0), p, spatial_one, depth + 1);
            }
        } else if (is_passthrough(n)) {
            const bool global = passes::is_op(n, "GlobalAveragePool") || passes::is_op(n, "GlobalMaxPool");
            for (const ir::Value* out : n->outputs()) {
                if (out && out == n->output(0))
                    trace(out, p, spatial_one || global, depth + 1);
                else if (out && !out->uses().empty())
                    p.reason = "its channels reach a second output of " + who;
            }
        } else if (passes::is_op(n, "Conv")) {
            const Tensor* w = passes::constant_of(n->input(1));
            const int64_t groups = group_of(n);
            if (!own_constant(n->input(1)) || !own_or_absent(n->input(2)) || !w || w->rank() < 3) {
                p.reason = "its channels reach " + who + " whose weights are not its own float32 constants";
            } else if (groups == 1) {
                p.consumers.push_back(n);
            } else if (w->dim(1) == 1 && w->dim(0) == groups) {
                p.depthwise.push_back(n);
                trace(n->output(0), p, spatial_one, depth + 1);
            } else {
                p.reason = "its channels reach the grouped " + who + " (only depthwise convs follow the channels)";
            }
        } else if (passes::is_op(n, "Flatten") && spatial_one && passes::attrs_of(*n).attr_int("axis") == 1) {
            for (const ir::Use& f : n->output(0)->uses()) {
                ir::Node* gm = f.node;
                const bool gemm = passes::is_op(gm, "Gemm") && f.index == 0 &&
                                  passes::attrs_of(*gm).attr_int("transA") == 0 && own_constant(gm->input(1));
                if (!gemm) {
                    p.reason = "its channels reach " + gm->describe() + " after " + who;
                    return;
                }
                p.consumers.push_back(gm);
            }
            if (n->output(0)->is_graph_output()) p.reason = "its channels reach the graph output after " + who;
        } else {
            p.reason = "its channels reach " + who;
        }
        if (!p.reason.empty()) return;
    }
}

/// Output channels of `w` [O, ...] to keep: the O - floor(s * O) with the largest L1 norms (at least one), ascending.
std::vector<int64_t> channels_to_keep(const Tensor& w, double sparsity) {
    const int64_t o = w.dim(0), per = w.numel() / std::max<int64_t>(o, 1);
    std::vector<double> l1(static_cast<size_t>(o), 0.0);
    for (int64_t c = 0; c < o; ++c) {
        for (int64_t i = 0; i < per; ++i) l1[static_cast<size_t>(c)] += std::fabs(w.data<float>()[c * per + i]);
    }
    const int64_t drop = std::min<int64_t>(static_cast<int64_t>(std::floor(sparsity * static_cast<double>(o))), o - 1);
    std::vector<int64_t> idx(static_cast<size_t>(o));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return l1[a] > l1[b]; });
    idx.resize(static_cast<size_t>(o - drop));
    std::sort(idx.begin(), idx.end());
    return idx;
}

void slice_input(ir::Node* n, size_t i, int64_t axis, const std::vector<int64_t>& keep) {
    ir::Value* v = n->input(i);
    if (v == nullptr) return;
    v->set_initializer(slice_axis(*passes::constant_of(v), axis, keep));
}

void apply_plan(const ChannelPlan& p, const std::vector<int64_t>& keep) {
    slice_input(p.producer, 1, 0, keep);
    slice_input(p.producer, 2, 0, keep);
    for (ir::Node* bn : p.batchnorms) {
        for (size_t i = 1; i <= 4; ++i) slice_input(bn, i, 0, keep);
    }
    for (ir::Node* dw : p.depthwise) {
        slice_input(dw, 1, 0, keep);
        slice_input(dw, 2, 0, keep);
        dw->attrs["group"] = ir::Attribute::make_int(static_cast<int64_t>(keep.size()));
    }
    for (ir::Node* c : p.consumers) {
        const bool gemm = passes::is_op(c, "Gemm");
        const int64_t axis = gemm ? (passes::attrs_of(*c).attr_int("transB") != 0 ? 1 : 0) : 1;
        slice_input(c, 1, axis, keep);
    }
}

}  // namespace

Tensor slice_axis(const Tensor& t, int64_t axis, const std::vector<int64_t>& keep) {
    Shape shape = t.shape();
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= shape[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < t.rank(); ++d) inner *= shape[static_cast<size_t>(d)];
    const int64_t n = shape[static_cast<size_t>(axis)];
    shape[static_cast<size_t>(axis)] = static_cast<int64_t>(keep.size());
    Tensor out = std::move(Tensor::create(DType::kFloat32, shape)).value();
    const float* src = t.data<float>();
    float* dst = out.data<float>();
    for (int64_t o = 0; o < outer; ++o) {
        for (size_t k = 0; k < keep.size(); ++k) {
            std::copy_n(src + (o * n + keep[k]) * inner, inner,
                        dst + (o * static_cast<int64_t>(keep.size()) + k) * inner);
        }
    }
    return out;
}

Result<StructuredResult> prune_structured(ir::Graph& g, const PruneOptions& o, const std::set<std::string>& exclude,
                                          PruneReport& r) {
    StructuredResult res;
    int candidates = 0;
    std::vector<ir::Node*> convs;
    for (const auto& n : g.nodes()) {
        if (passes::is_op(n.get(), "Conv") && n->def != nullptr) convs.push_back(n.get());
    }
    for (ir::Node* n : convs) {
        const Tensor* w = passes::constant_of(n->input(1));
        if (!w || w->dtype() != DType::kFloat32 || w->rank() < 3 || group_of(n) != 1) continue;
        ++candidates;
        if (exclude.count(n->name())) {
            r.skipped.push_back({n->name(), n->op_type(), "excluded"});
            continue;
        }
        ChannelPlan p;
        p.producer = n;
        if (!own_constant(n->input(1)) || !own_or_absent(n->input(2))) {
            p.reason = "its weights are shared with another node";
        } else {
            trace(n->output(0), p, false);
        }
        if (p.reason.empty() && p.consumers.empty()) p.reason = "its channels reach no conv or Gemm to shrink";
        if (!p.reason.empty()) {
            r.skipped.push_back({n->name(), n->op_type(), p.reason});
            continue;
        }
        const std::vector<int64_t> keep = channels_to_keep(*w, o.sparsity);
        PrunedLayer l{n->name(), n->op_type(), w->numel(), 0, w->dim(0), static_cast<int64_t>(keep.size()), keep, {}};
        for (ir::Node* c : p.consumers) {
            l.consumers.push_back(c->name());
            if (std::find(res.consumers.begin(), res.consumers.end(), c) == res.consumers.end()) {
                res.consumers.push_back(c);
            }
        }
        res.kept_out[n] = keep;
        if (static_cast<int64_t>(keep.size()) < w->dim(0)) apply_plan(p, keep);
        r.layers.push_back(std::move(l));
    }
    if (candidates == 0) {
        return invalid_argument(
            "prune: no prunable layer (structured pruning needs a Conv with group 1 and a "
            "constant float32 weight)");
    }
    // Refit in graph order so each refit sees the refitted layers before it.
    std::map<const ir::Node*, size_t> order;
    for (size_t i = 0; i < g.nodes().size(); ++i) order[g.nodes()[i].get()] = i;
    std::sort(res.consumers.begin(), res.consumers.end(),
              [&](const ir::Node* a, const ir::Node* b) { return order[a] < order[b]; });
    return res;
}

}  // namespace nnport::quant::prune_detail

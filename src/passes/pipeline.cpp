// The optimizer pipeline. Passes are listed in pass_list.inc with an order number; the ranges are:
//   100-199  clean-up: no-op removal, constant folding, shape-computation folding, dead code, CSE   (level 1)
//   200-299  exact algebra: BatchNorm / Mul / Add folded into Conv, ConvTranspose, Gemm, MatMul    (level 1)
//   300-399  pattern fusion: MatMul+Add -> Gemm, LayerNorm, GELU, attention                        (level 2)
//            and, at 350, FC <-> 1x1 Conv by backend preference (level 3), before activations fuse into either
//            and, at 360, channel Concat -> 1x1 Conv split into summed Convs (level 3), so the sums fuse as residuals
//   400-499  activation and residual fusion into Conv / Gemm / MatMul, per-channel affine + clamp   (level 2)
//   500-599  layout: Transpose sinking                                                             (level 3)
//   900-999  final clean-up (dead code, unused initializers)                                       (level 1)
// The whole sequence repeats until a round changes nothing (fusions expose folding and vice versa).
#include "passes/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "passes/pass_util.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::passes {

#define NNPORT_PASS(factory, order, level) std::unique_ptr<Pass> make_##factory##_pass();
#include "passes/pass_list.inc"
#undef NNPORT_PASS

namespace {

constexpr int kMaxRounds = 4;

const std::vector<PassEntry>& entries() {
    static const std::vector<PassEntry> list = [] {
        std::vector<PassEntry> l;
#define NNPORT_PASS(factory, order, level) l.push_back(PassEntry{order, level, &make_##factory##_pass});
#include "passes/pass_list.inc"
#undef NNPORT_PASS
        std::stable_sort(l.begin(), l.end(), [](const PassEntry& a, const PassEntry& b) { return a.order < b.order; });
        return l;
    }();
    return list;
}

void collect_graphs(ir::Graph& g, std::vector<ir::Graph*>& out) {
    out.push_back(&g);
    for (const auto& n : g.nodes()) {
        for (ir::Graph* sg : n->subgraphs()) collect_graphs(*sg, out);
    }
}

int64_t initializer_bytes(const ir::Graph& g) {
    int64_t b = 0;
    for (const ir::Value* v : g.initializers()) b += static_cast<int64_t>(v->initializer().nbytes());
    for (const auto& n : g.nodes()) {
        for (const ir::Graph* sg : n->subgraphs()) b += initializer_bytes(*sg);
    }
    return b;
}

/// Runs one pass over every graph of the model, then restores the invariants the next pass relies on.
Result<bool> run_on_model(Pass& pass, ir::Model& model, PassContext& ctx, bool verify_each) {
    ctx.current_pass = pass.name();
    std::vector<ir::Graph*> graphs;
    collect_graphs(*model.graph, graphs);
    // Innermost graphs first: a pass on an outer graph may delete a node together with its subgraphs.
    std::reverse(graphs.begin(), graphs.end());
    std::vector<ir::Graph*> changed_graphs;
    for (ir::Graph* g : graphs) {
        auto r = pass.run(*g, ctx);
        if (!r.is_ok()) return r.status().with_context(std::string("optimizer pass ") + pass.name());
        if (*r) changed_graphs.push_back(g);
    }
    if (changed_graphs.empty()) return false;
    model.graph->recount_captures();
    for (ir::Graph* g : changed_graphs) {
        Status st = g->topo_sort();
        if (!st.is_ok()) return st.with_context(std::string("optimizer pass ") + pass.name());
        g->remove_unused_values();
    }
    if (verify_each) {
        Status st = ir::verify(*model.graph);
        if (!st.is_ok())
            return internal_error(std::string("optimizer pass ") + pass.name() + " broke the graph: " + st.message());
    }
    ConstantMap consts;
    Status st = infer_graph(*model.graph, consts);
    if (!st.is_ok())
        return internal_error(std::string("optimizer pass ") + pass.name() +
                              " left a graph that fails type inference: " + st.message());
    return true;
}

}  // namespace

void PassContext::record(const std::string& what) { changes[current_pass].push_back(what); }

std::vector<std::unique_ptr<Pass>> all_passes() {
    std::vector<std::unique_ptr<Pass>> out;
    for (const PassEntry& e : entries()) out.push_back(e.make());
    return out;
}

int pass_level(const std::string& name) {
    for (const PassEntry& e : entries()) {
        if (e.make()->name() == name) return e.level;
    }
    return -1;
}

Result<bool> run_pass(ir::Model& model, const std::string& pass_name, PassContext& ctx) {
    for (const PassEntry& e : entries()) {
        std::unique_ptr<Pass> p = e.make();
        if (p->name() != pass_name) continue;
        ctx.model = &model;
        ConstantMap consts;
        NNPORT_RETURN_IF_ERROR(infer_graph(*model.graph, consts));
        return run_on_model(*p, model, ctx, true);
    }
    return invalid_argument("no optimizer pass named '" + pass_name + "'");
}

Status optimize(ir::Model& model, const OptimizeOptions& options, OptimizeReport* report) {
    if (options.level < 0 || options.level > kMaxLevel) {
        return invalid_argument("optimization level must be 0.." + std::to_string(kMaxLevel) + ", got " +
                                std::to_string(options.level));
    }
    std::vector<std::pair<std::unique_ptr<Pass>, PassStats>> passes;
    for (const PassEntry& e : entries()) {
        std::unique_ptr<Pass> p = e.make();
        const bool disabled =
            std::find(options.disabled.begin(), options.disabled.end(), p->name()) != options.disabled.end();
        if (e.level > options.level || disabled) continue;
        PassStats s;
        s.name = p->name();
        passes.emplace_back(std::move(p), std::move(s));
    }
    for (const std::string& d : options.disabled) {
        if (pass_level(d) < 0) return invalid_argument("no optimizer pass named '" + d + "'");
    }
    if (passes.empty()) return Status::ok();
    ConstantMap consts;
    NNPORT_RETURN_IF_ERROR(infer_graph(*model.graph, consts));
    const int64_t nodes_before = count_nodes(*model.graph);
    const int64_t bytes_before = initializer_bytes(*model.graph);
    PassContext ctx;
    ctx.model = &model;
    ctx.level = options.level;
    ctx.allow_custom_ops = options.allow_custom_ops;
    for (int round = 0; round < kMaxRounds && !passes.empty(); ++round) {
        bool any = false;
        for (auto& [pass, stats] : passes) {
            const auto t0 = std::chrono::steady_clock::now();
            NNPORT_ASSIGN_OR_RETURN(bool changed, run_on_model(*pass, model, ctx, options.verify_each));
            stats.ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            stats.runs++;
            any = any || changed;
        }
        if (!any) break;
    }
    bool custom = false;
    model.graph->for_each_node_recursive([&custom](ir::Node& n) { custom = custom || n.domain() == kNnportDomain; });
    if (custom) model.opset_imports[kNnportDomain] = 1;
    if (report) {
        report->nodes_before = nodes_before;
        report->nodes_after = count_nodes(*model.graph);
        report->initializer_bytes_before = bytes_before;
        report->initializer_bytes_after = initializer_bytes(*model.graph);
        report->passes.clear();
        for (auto& [pass, stats] : passes) {
            stats.changes = ctx.changes[stats.name];
            report->passes.push_back(std::move(stats));
        }
    }
    return Status::ok();
}

std::string OptimizeReport::to_text() const {
    std::ostringstream os;
    os << "nodes: " << nodes_before << " -> " << nodes_after << ", initializer bytes: " << initializer_bytes_before
       << " -> " << initializer_bytes_after << "\n";
    for (const PassStats& p : passes) {
        if (p.changes.empty()) continue;
        os << "  " << p.name << ": " << p.changes.size() << " change" << (p.changes.size() == 1 ? "" : "s") << "\n";
    }
    return os.str();
}

}  // namespace nnport::passes

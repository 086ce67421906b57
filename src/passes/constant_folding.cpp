// constant_folding: evaluates nodes whose inputs are all constants through their reference kernels and replaces them
// by initializers (Constant nodes included). The output values keep their names, so a folded graph output becomes an
// initializer that is also a graph output (legal ONNX; the exporter writes both).
//
// Size policy, so folding never blows a model up: Constant nodes always fold (their data is in the model already);
// any other node is skipped when one output would exceed 64 MiB, or when its outputs exceed both 1 MiB and twice the
// bytes of its inputs (ConstantOfShape/Expand/Tile/Range of large shapes stay nodes that materialize at run time).
// Half types are handled as the executor does (OpDef::half_via_float): float16/bfloat16 inputs reach the kernel as
// float32 and float32 outputs are converted back to the output's inferred type.
#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {
namespace {

constexpr int64_t kMaxOutputBytes = int64_t{64} << 20;
constexpr int64_t kGrowthFloorBytes = int64_t{1} << 20;

int64_t bytes_of(const Tensor& t) { return t.numel() * static_cast<int64_t>(dtype_size(t.dtype())); }

/// Output sizes from the inferred types; false when an output type is not a static tensor or breaks the policy.
bool within_size_policy(const ir::Node& n, int64_t in_bytes) {
    int64_t out_bytes = 0;
    for (const ir::Value* o : n.outputs()) {
        if (!o) continue;
        if (!o->type.is_tensor() || !o->type.is_static() || o->type.dtype == DType::kUndefined) return false;
        const int64_t numel = shape_numel(o->type.static_shape());
        if (numel < 0) return false;
        const int64_t b = numel * static_cast<int64_t>(dtype_size(o->type.dtype));
        if (b > kMaxOutputBytes) return false;
        out_bytes += b;
    }
    return !(out_bytes > 2 * in_bytes && out_bytes > kGrowthFloorBytes);
}

class ConstantFoldingPass : public Pass {
public:
    const char* name() const override { return "constant_folding"; }
    const char* description() const override {
        return "turns Constant nodes and nodes whose inputs are all constant into initializers, evaluated by the "
               "reference kernels (skips outputs over 64 MiB and >1 MiB outputs more than twice their inputs)";
    }
    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        std::vector<ir::Node*> nodes;
        for (const auto& n : g.nodes()) nodes.push_back(n.get());
        bool changed = false;
        for (ir::Node* n : nodes) {
            const OpDef* d = n->def;
            if (!d || !d->foldable || !d->kernel || !n->subgraphs().empty()) continue;
            bool needed = false, constant = true;
            int64_t in_bytes = 0;
            for (const ir::Value* o : n->outputs()) needed = needed || value_needed(o);
            for (const ir::Value* v : n->inputs()) {
                if (!v) continue;
                const Tensor* t = constant_of(v);
                constant = constant && t != nullptr;
                if (t) in_bytes += bytes_of(*t);
            }
            if (!needed || !constant) continue;
            if (!is_op(n, "Constant") && !within_size_policy(*n, in_bytes)) continue;
            if (is_op(n, "Constant") && (!n->output(0) || !n->output(0)->type.is_tensor())) continue;
            std::vector<Tensor> values = evaluate_node(*n, constant_of);
            if (values.empty()) continue;
            std::string what = n->describe() + " ->";
            for (const ir::Value* o : n->outputs()) {
                if (value_needed(o)) what += " '" + o->name() + "'";
            }
            replace_node_by_constants(g, n, std::move(values));
            ctx.record(what);
            changed = true;
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_constant_folding_pass() { return std::make_unique<ConstantFoldingPass>(); }

}  // namespace nnport::passes

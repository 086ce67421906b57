// cse: common-subexpression elimination. Identical small initializers (same dtype, shape and bytes, at most 4 KiB,
// not graph inputs) merge first, so that their consumers become identical; then nodes with the same op, domain,
// opset, attributes (compared by value, tensors by bytes) and the same inputs merge, in topological order so that
// merges cascade in one sweep. Never merged: ops that are not `foldable` (random) and ops with subgraphs.
#include <cstring>
#include <unordered_map>

#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {
namespace {

constexpr size_t kMaxMergedInitializerBytes = 4096;

void put(std::string& k, const void* p, size_t n) { k.append(static_cast<const char*>(p), n); }
template <typename T>
void put(std::string& k, const T& v) {
    put(k, &v, sizeof(v));
}
void put_str(std::string& k, const std::string& s) {
    put(k, s.size());
    k += s;
}

/// Appends a tensor's dtype, shape and contents; false for tensors that cannot be compared by bytes.
bool put_tensor(std::string& k, const Tensor& t) {
    if (!t.defined()) {
        put(k, int32_t{-1});
        return true;
    }
    put(k, static_cast<int32_t>(t.dtype()));
    put(k, t.rank());
    for (int64_t d : t.shape()) put(k, d);
    if (t.dtype() == DType::kString) {
        for (int64_t i = 0; i < t.numel(); ++i) put_str(k, t.strings()[i]);
    } else {
        put(k, t.raw_data(), t.nbytes());
    }
    return true;
}

/// A key equal for two attribute maps exactly when they are equal; false if one cannot be compared (graphs).
bool put_attrs(std::string& k, const ir::Attributes& attrs) {
    for (const auto& [name, a] : attrs) {
        put_str(k, name);
        put(k, static_cast<int32_t>(a.type));
        switch (a.type) {
            case ir::AttrType::kFloat:
                put(k, a.f);
                break;
            case ir::AttrType::kInt:
                put(k, a.i);
                break;
            case ir::AttrType::kString:
                put_str(k, a.s);
                break;
            case ir::AttrType::kTensor:
                put_tensor(k, a.t);
                break;
            case ir::AttrType::kFloats:
                put(k, a.floats.size());
                put(k, a.floats.data(), a.floats.size() * sizeof(float));
                break;
            case ir::AttrType::kInts:
                put(k, a.ints.size());
                put(k, a.ints.data(), a.ints.size() * sizeof(int64_t));
                break;
            case ir::AttrType::kStrings:
                put(k, a.strings.size());
                for (const std::string& s : a.strings) put_str(k, s);
                break;
            case ir::AttrType::kTensors:
                put(k, a.tensors.size());
                for (const Tensor& t : a.tensors) put_tensor(k, t);
                break;
            case ir::AttrType::kTypeProto:
                put_str(k, a.type_proto.to_string());
                break;
            case ir::AttrType::kUndefined:
                break;
            default:
                return false;  // graphs, sparse tensors
        }
    }
    return true;
}

/// Merges duplicate small initializers of `g`; returns the number merged.
int merge_initializers(ir::Graph& g, PassContext& ctx) {
    std::unordered_map<std::string, ir::Value*> seen;
    int merged = 0;
    for (ir::Value* v : g.initializers()) {
        const Tensor& t = v->initializer();
        if (v->is_graph_input() || t.dtype() == DType::kString || t.nbytes() > kMaxMergedInitializerBytes) continue;
        std::string k;
        put_tensor(k, t);
        auto [it, inserted] = seen.emplace(k, v);
        if (inserted || v->uses().empty()) continue;
        const std::string name = v->name();
        if (replace_value(g, v, it->second)) {
            ctx.record("initializer '" + name + "' = '" + it->second->name() + "'");
            ++merged;
        }
    }
    return merged;
}

class CsePass : public Pass {
public:
    const char* name() const override { return "cse"; }
    const char* description() const override {
        return "merges identical small initializers, then nodes with the same op, attributes and inputs "
               "(never random ops or ops with subgraphs)";
    }
    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        bool changed = merge_initializers(g, ctx) > 0;
        std::unordered_map<std::string, ir::Node*> seen;
        std::vector<ir::Node*> nodes;
        for (const auto& n : g.nodes()) nodes.push_back(n.get());
        for (ir::Node* n : nodes) {
            if (!n->def || !n->def->foldable || !n->subgraphs().empty()) continue;
            std::string k;
            put_str(k, n->op_type());
            put_str(k, n->domain());
            put(k, n->opset);
            if (!put_attrs(k, n->attrs)) continue;
            put(k, n->inputs().size());
            for (const ir::Value* v : n->inputs()) put(k, v);
            put(k, n->outputs().size());
            for (const ir::Value* v : n->outputs()) put(k, v != nullptr);
            auto [it, inserted] = seen.emplace(k, n);
            if (inserted) continue;
            ir::Node* keep = it->second;
            const std::string what = n->describe() + " = " + keep->describe();
            bool any = false;
            for (size_t i = 0; i < n->outputs().size(); ++i) {
                ir::Value* o = n->output(i);
                if (o && value_needed(o) && replace_value(g, o, keep->output(i))) any = true;
            }
            if (!any) continue;
            bool needed = false;
            for (const ir::Value* o : n->outputs()) needed = needed || value_needed(o);
            if (!needed) g.remove_node(n);
            ctx.record(what);
            changed = true;
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_cse_pass() { return std::make_unique<CsePass>(); }

}  // namespace nnport::passes

// Helpers shared by optimizer passes.
#include "passes/pass_util.hpp"

#include <algorithm>

namespace nnport::passes {

Result<ir::Node*> make_node(ir::Graph& g, const PassContext& ctx, const std::string& op_type, const std::string& domain,
                            const std::string& base, const std::vector<ir::Value*>& inputs, int num_outputs) {
    const OpDef* def = find_op(domain, op_type);
    if (!def) return internal_error("optimizer: no op " + (domain.empty() ? "" : domain + ".") + op_type);
    std::vector<std::string> outs;
    for (int i = 0; i < num_outputs; ++i)
        outs.push_back(g.unique_name(num_outputs == 1 ? base : base + "_" + std::to_string(i)));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * n, g.add_node(op_type, domain, g.unique_name(base), inputs, outs));
    n->def = def;
    if (domain.empty() || domain == "ai.onnx") {
        n->opset = static_cast<int>(ctx.opset());
    } else {
        const int64_t v = ctx.model ? ctx.model->opset(domain) : 0;
        n->opset = v > 0 ? static_cast<int>(v) : 1;
    }
    return n;
}

ir::Value* add_constant(ir::Graph& g, const std::string& base, Tensor t) {
    ir::ValueType type = ir::ValueType::tensor(t.dtype(), t.shape());
    ir::Value* v = g.add_value(g.unique_name(base), type).value();
    v->set_initializer(std::move(t));
    return v;
}

const Tensor* constant_of(const ir::Value* v) {
    if (!v) return nullptr;
    while (v->outer() && !v->has_initializer()) v = v->outer();
    if (!v->has_initializer() || v->is_graph_input()) return nullptr;
    return &v->initializer();
}

std::optional<double> scalar_of(const ir::Value* v) {
    const Tensor* t = constant_of(v);
    if (!t || t->numel() != 1) return std::nullopt;
    switch (t->dtype()) {
        case DType::kFloat32:
            return t->data<float>()[0];
        case DType::kFloat64:
            return t->data<double>()[0];
        case DType::kFloat16:
            return static_cast<float>(t->data<Float16>()[0]);
        case DType::kBFloat16:
            return static_cast<float>(t->data<BFloat16>()[0]);
        case DType::kInt64:
            return static_cast<double>(t->data<int64_t>()[0]);
        case DType::kInt32:
            return t->data<int32_t>()[0];
        default:
            return std::nullopt;
    }
}

bool single_use(const ir::Value* v) { return v && v->uses().size() == 1 && !v->is_graph_output() && !v->is_captured(); }

ir::Node* sole_consumer(const ir::Value* v) { return single_use(v) ? v->uses()[0].node : nullptr; }

bool is_op(const ir::Node* n, const char* op_type) {
    return n && n->op_type() == op_type && (n->domain().empty() || n->domain() == "ai.onnx");
}

bool replace_value(ir::Graph& g, ir::Value* from, ir::Value* to) {
    if (from == to) return true;
    // Subgraphs refer to outer values by name: a captured value cannot be replaced without rewriting them.
    if (from->is_captured()) return false;
    if (from->is_graph_output()) {
        // The graph output keeps its name: `to` takes it, which needs `to` to be a plain intermediate of this graph.
        if (to->graph() != &g || !to->producer() || to->is_graph_output() || to->is_graph_input() ||
            to->is_captured()) {
            return false;
        }
        const std::string name = from->name();
        if (!g.rename_value(from, g.unique_name(name + "_replaced")).is_ok()) return false;
        if (!g.rename_value(to, name).is_ok()) return false;
    }
    g.replace_all_uses(from, to);
    return true;
}

void replace_output(ir::Node* n, ir::Value* from, ir::Value* to) {
    ir::Graph* g = n->graph();
    if (!replace_value(*g, from, to)) return;
    for (const ir::Value* o : n->outputs()) {
        if (o && (!o->uses().empty() || o->is_graph_output() || o->is_captured())) return;
    }
    g->remove_node(n);
}

int remove_dead_nodes(ir::Graph& g) {
    int removed = 0;
    bool again = true;
    while (again) {
        again = false;
        std::vector<ir::Node*> dead;
        for (const auto& np : g.nodes()) {
            bool used = false;
            for (const ir::Value* o : np->outputs()) {
                used = used || (o && (!o->uses().empty() || o->is_graph_output() || o->is_captured()));
            }
            if (!used) dead.push_back(np.get());
        }
        for (ir::Node* n : dead) {
            g.remove_node(n);
            ++removed;
            again = true;
        }
    }
    return removed;
}

int64_t count_nodes(const ir::Graph& g) {
    int64_t n = 0;
    g.for_each_node_recursive([&n](ir::Node&) { ++n; });
    return n;
}

Result<Tensor> to_float32(const Tensor& t) {
    if (t.dtype() == DType::kFloat32) return t.clone();
    NNPORT_ASSIGN_OR_RETURN(Tensor out, Tensor::create(DType::kFloat32, t.shape()));
    float* o = out.data<float>();
    const int64_t n = t.numel();
    switch (t.dtype()) {
        case DType::kFloat64:
            for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(t.data<double>()[i]);
            break;
        case DType::kFloat16:
            for (int64_t i = 0; i < n; ++i) o[i] = t.data<Float16>()[i];
            break;
        case DType::kBFloat16:
            for (int64_t i = 0; i < n; ++i) o[i] = t.data<BFloat16>()[i];
            break;
        default:
            return invalid_argument(std::string("not a float tensor: ") + dtype_name(t.dtype()));
    }
    return out;
}

Result<Tensor> from_float32(const Tensor& t, DType dtype) {
    if (t.dtype() != DType::kFloat32) return invalid_argument("from_float32: input is not float32");
    if (dtype == DType::kFloat32) return t;
    NNPORT_ASSIGN_OR_RETURN(Tensor out, Tensor::create(dtype, t.shape()));
    const float* s = t.data<float>();
    const int64_t n = t.numel();
    switch (dtype) {
        case DType::kFloat64:
            for (int64_t i = 0; i < n; ++i) out.data<double>()[i] = s[i];
            break;
        case DType::kFloat16:
            for (int64_t i = 0; i < n; ++i) out.data<Float16>()[i] = Float16(s[i]);
            break;
        case DType::kBFloat16:
            for (int64_t i = 0; i < n; ++i) out.data<BFloat16>()[i] = BFloat16(s[i]);
            break;
        default:
            return invalid_argument(std::string("not a float dtype: ") + dtype_name(dtype));
    }
    return out;
}

}  // namespace nnport::passes

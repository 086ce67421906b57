// Helpers shared by the folding and fusion passes.
#include "passes/fusion_util.hpp"

#include <algorithm>

#include "passes/pass_util.hpp"

namespace nnport::passes {

const Tensor* const_tensor(const ir::Value* v) {
    if (const Tensor* t = constant_of(v)) return t;
    if (!v) return nullptr;
    while (v->outer() && !v->producer()) v = v->outer();
    const ir::Node* p = v->producer();
    if (!is_op(p, "Constant")) return nullptr;
    const ir::Attribute* a = p->attr("value");
    return a && a->type == ir::AttrType::kTensor ? &a->t : nullptr;
}

std::optional<double> const_scalar(const ir::Value* v) {
    const Tensor* t = const_tensor(v);
    if (!t || t->numel() != 1) return std::nullopt;
    switch (t->dtype()) {
        case DType::kFloat32:
        case DType::kFloat64:
        case DType::kFloat16:
        case DType::kBFloat16:
        case DType::kInt64:
        case DType::kInt32:
            return t->item_as_double(0);
        default:
            return std::nullopt;
    }
}

std::optional<double> scalar_operand(const ir::Value* c, const ir::Value* x) {
    const Tensor* t = const_tensor(c);
    const int64_t r = rank_of(x);
    if (!t || r < 0 || t->rank() > r) return std::nullopt;
    return const_scalar(c);
}

std::optional<Tensor> const_f32(const ir::Value* v) {
    const Tensor* t = const_tensor(v);
    if (!t) return std::nullopt;
    const DType d = t->dtype();
    if (d != DType::kFloat32 && d != DType::kFloat64 && d != DType::kFloat16 && d != DType::kBFloat16) {
        return std::nullopt;
    }
    auto r = to_float32(*t);
    if (!r.is_ok()) return std::nullopt;
    return std::move(r).value();
}

ir::Value* other_input(const ir::Node* n, const ir::Value* x) {
    if (!n || n->inputs().size() != 2) return nullptr;
    if (n->input(0) == x) return n->input(1);
    if (n->input(1) == x) return n->input(0);
    return nullptr;
}

int64_t rank_of(const ir::Value* v) { return v && v->type.is_tensor() ? v->type.rank() : -1; }

std::optional<Shape> static_shape_of(const ir::Value* v) {
    if (!v || !v->type.is_tensor() || !v->type.has_shape || !v->type.is_static()) return std::nullopt;
    return v->type.static_shape();
}

bool same_dims(const ir::Value* a, const ir::Value* b) {
    if (!a || !b || !a->type.has_shape || !b->type.has_shape) return false;
    if (a->type.dims.size() != b->type.dims.size()) return false;
    for (size_t i = 0; i < a->type.dims.size(); ++i) {
        const ir::Dim& x = a->type.dims[i];
        const ir::Dim& y = b->type.dims[i];
        if (x.is_static() != y.is_static()) return false;
        if (x.is_static() ? x.value != y.value : (x.param.empty() || x.param != y.param)) return false;
    }
    return true;
}

void remove_dead(ir::Graph& g, const std::vector<ir::Node*>& chain) {
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        ir::Node* n = *it;
        if (!n) continue;
        bool used = false;
        for (const ir::Value* o : n->outputs()) {
            used = used || (o && (!o->uses().empty() || o->is_graph_output() || o->is_captured()));
        }
        if (!used) g.remove_node(n);
    }
}

void scale_columns(Tensor& w, const std::vector<float>& s, bool transposed) {
    float* d = w.data<float>();
    const int64_t rows = w.dim(0), cols = w.dim(1);
    for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) d[i * cols + j] *= s[static_cast<size_t>(transposed ? i : j)];
    }
}

std::optional<Tensor> as_dtype(const Tensor& f32, DType dtype) {
    auto r = from_float32(f32, dtype);
    if (!r.is_ok()) return std::nullopt;
    return std::move(r).value();
}

}  // namespace nnport::passes

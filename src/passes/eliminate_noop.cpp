// eliminate_noop: removes nodes that return their input unchanged (Identity, inference Dropout, same-type Cast,
// shape ops whose output shape equals the input's, identity Transpose, full Slice, zero Pad, single-input
// Concat/Sum/Max/Min/Mean, x+0 / x-0 / x*1 / x/1 that do not broadcast).
//
// Exactness of the arithmetic cases: x * 1 and x / 1 are exact for every x. x + (+0.0) is not: it turns -0.0 into
// +0.0, so a float Add is removed only when its zero constant is -0.0 (x + (-0.0) == x bit for bit), and a float Sub
// only when it subtracts +0.0 (x - (+0.0) == x bit for bit). Integer zeros are always removed.
#include <cmath>

#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {
namespace {

enum class Neutral { kAddZero, kSubZero, kOne };

/// True if every element of `t` is the neutral element: bitwise exact for floats (see the file comment).
bool all_neutral(const Tensor& t, Neutral kind) {
    for (int64_t i = 0; i < t.numel(); ++i) {
        if (dtype_is_float(t.dtype())) {
            double v = 0.0;
            switch (t.dtype()) {
                case DType::kFloat32:
                    v = t.data<float>()[i];
                    break;
                case DType::kFloat64:
                    v = t.data<double>()[i];
                    break;
                case DType::kFloat16:
                    v = static_cast<float>(t.data<Float16>()[i]);
                    break;
                default:
                    v = static_cast<float>(t.data<BFloat16>()[i]);
                    break;
            }
            const bool ok = kind == Neutral::kOne       ? v == 1.0
                            : kind == Neutral::kAddZero ? (v == 0.0 && std::signbit(v))
                                                        : (v == 0.0 && !std::signbit(v));
            if (!ok) return false;
        } else if (dtype_is_integer(t.dtype())) {
            if (t.item_as_int(i) != (kind == Neutral::kOne ? 1 : 0)) return false;
        } else {
            return false;
        }
    }
    return true;
}

/// True if broadcasting the constant `c` against `x` leaves x's shape and dtype unchanged.
bool broadcast_keeps(const ir::Value* x, const Tensor& c) {
    const ir::ValueType& t = x->type;
    if (!t.is_tensor() || !t.has_shape || t.dtype != c.dtype() || c.rank() > t.rank()) return false;
    const size_t off = static_cast<size_t>(t.rank() - c.rank());
    for (size_t i = 0; i < static_cast<size_t>(c.rank()); ++i) {
        const int64_t d = c.shape()[i];
        if (d != 1 && !(t.dims[off + i].is_static() && t.dims[off + i].value == d)) return false;
    }
    return true;
}

bool same_static_shape(const ir::Value* a, const ir::Value* b) {
    return a && b && a->type.is_static() && b->type.is_static() && a->type.static_shape() == b->type.static_shape();
}

bool constant_all(const ir::Value* v, int64_t want) {
    const Tensor* t = constant_of(v);
    if (!t || !dtype_is_integer(t->dtype())) return false;
    for (int64_t i = 0; i < t->numel(); ++i) {
        if (t->item_as_int(i) != want) return false;
    }
    return true;
}

/// Slice that selects every element: unit steps and either equal static shapes or starts 0 with ends past any dim.
bool full_slice(const ir::Node& n) {
    if (n.input(4) && !constant_all(n.input(4), 1)) return false;
    if (same_static_shape(n.input(0), n.output(0))) return true;
    const Tensor* ends = constant_of(n.input(2));
    if (!constant_all(n.input(1), 0) || !ends || !dtype_is_integer(ends->dtype())) return false;
    for (int64_t i = 0; i < ends->numel(); ++i) {
        if (ends->item_as_int(i) < kMaxTensorBytes) return false;  // no dimension can be that large
    }
    return true;
}

/// For a no-op node: the input its output 0 equals, else nullptr.
ir::Value* noop_input(const ir::Node& n) {
    const std::string& op = n.op_type();
    ir::Value* x = n.input(0);
    if (!n.domain().empty() || !x || !n.output(0)) return nullptr;
    if (op == "Identity") return x;
    if (op == "Cast" || op == "CastLike") {
        const DType a = x->type.dtype, b = n.output(0)->type.dtype;
        return x->type.is_tensor() && a != DType::kUndefined && a == b ? x : nullptr;
    }
    if (op == "Reshape" || op == "Expand" || op == "Squeeze" || op == "Unsqueeze" || op == "Flatten") {
        return same_static_shape(x, n.output(0)) ? x : nullptr;
    }
    if (op == "Transpose") {
        const int64_t rank = x->type.is_tensor() ? x->type.rank() : -1;
        const std::vector<int64_t> p = transpose_perm(n, rank);
        return rank == 0 || (!p.empty() && is_identity_perm(p)) ? x : nullptr;
    }
    if (op == "Slice") return full_slice(n) ? x : nullptr;
    if (op == "Pad") return constant_all(n.input(1), 0) ? x : nullptr;
    if (op == "Concat" || op == "Sum" || op == "Max" || op == "Min" || op == "Mean") {
        return n.inputs().size() == 1 ? x : nullptr;
    }
    const bool add = op == "Add", sub = op == "Sub", mul = op == "Mul", div = op == "Div";
    if (!(add || sub || mul || div) || n.inputs().size() != 2) return nullptr;
    const Neutral kind = add ? Neutral::kAddZero : sub ? Neutral::kSubZero : Neutral::kOne;
    for (size_t k = 0; k < 2; ++k) {
        if (k == 0 && (sub || div)) continue;  // 0 - x and 1 / x are not x
        const Tensor* c = constant_of(n.input(k));
        ir::Value* other = n.input(1 - k);
        if (c && other && broadcast_keeps(other, *c) && all_neutral(*c, kind)) return other;
    }
    return nullptr;
}

/// Dropout is the identity when not training (training_mode absent or constant false) or when ratio is 0.
bool dropout_is_identity(const ir::Node& n) {
    std::optional<double> ratio = n.input(1) ? scalar_of(n.input(1)) : std::nullopt;
    if (ratio && *ratio == 0.0) return true;
    if (!n.input(2)) return true;
    const Tensor* t = constant_of(n.input(2));
    return t && t->dtype() == DType::kBool && t->numel() == 1 && !t->data<bool>()[0];
}

/// Removes an inference Dropout; a needed mask becomes an all-true constant (only for a static shape).
bool remove_dropout(ir::Graph& g, ir::Node* n) {
    if (!dropout_is_identity(*n)) return false;
    ir::Value* x = n->input(0);
    ir::Value* mask = n->output(1);
    Tensor ones;
    if (value_needed(mask)) {
        if (!x->type.is_static()) return false;
        auto t = Tensor::create(DType::kBool, x->type.static_shape());
        if (!t.is_ok()) return false;
        ones = std::move(t).value();
        for (int64_t i = 0; i < ones.numel(); ++i) ones.data<bool>()[i] = true;
    }
    if (value_needed(n->output(0)) && !replace_value(g, n->output(0), x)) return false;
    replace_node_by_constants(g, n, {Tensor(), std::move(ones)});
    return true;
}

class EliminateNoopPass : public Pass {
public:
    const char* name() const override { return "eliminate_noop"; }
    const char* description() const override {
        return "removes Identity, inference Dropout, same-type Cast, shape ops that keep the shape, identity "
               "Transpose, full Slice, zero Pad, single-input Concat/Sum/Max/Min/Mean, x*1, x/1, exact x+0 and x-0";
    }
    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        std::vector<ir::Node*> nodes;
        for (const auto& n : g.nodes()) nodes.push_back(n.get());
        bool changed = false;
        for (ir::Node* n : nodes) {
            const std::string what = n->describe();
            bool removed = false;
            if (is_op(n, "Dropout")) {
                removed = remove_dropout(g, n);
            } else if (n->outputs().size() == 1) {
                ir::Value* x = noop_input(*n);
                removed = x && forward_input(g, n, x);
            }
            if (removed) {
                ctx.record(what);
                changed = true;
            }
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_eliminate_noop_pass() { return std::make_unique<EliminateNoopPass>(); }

}  // namespace nnport::passes

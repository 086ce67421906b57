// fuse_layernorm: the decomposed LayerNorm that PyTorch exports before opset 17,
//   m = ReduceMean(x); d = Sub(x, m); v = ReduceMean(Pow(d, 2) | Mul(d, d)); n = Div(d, Sqrt(Add(v, eps)))
//   [y = Mul(n, gamma)] [y = Add(y, beta)]
// over the last k axes becomes one LayerNormalization(x, gamma, beta; axis = -k, epsilon): the standard op at default
// opset >= 17, else nnport's copy in com.nnport when custom ops are allowed.
#include <algorithm>

#include "ops/kernel_util.hpp"
#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

namespace {

/// The (non-negative) axes a keepdims ReduceMean reduces, or empty if not statically known / not keepdims.
std::vector<int64_t> mean_axes(const ir::Node* n, int64_t rank) {
    if (!is_op(n, "ReduceMean") || !n->def || rank < 1) return {};
    const AttrAccess a = attrs_of(*n);
    if (a.attr_int("keepdims") != 1) return {};
    std::vector<int64_t> axes;
    if (n->has_attr("axes")) {
        axes = a.attr_ints("axes");
    } else if (n->input(1)) {
        const Tensor* t = const_tensor(n->input(1));
        if (!t || (t->dtype() != DType::kInt64 && t->dtype() != DType::kInt32)) return {};
        axes = t->to_int_vector();
    }
    for (int64_t& x : axes) {
        if (x < -rank || x >= rank) return {};
        if (x < 0) x += rank;
    }
    std::sort(axes.begin(), axes.end());
    return axes;
}

/// gamma / beta expanded to the normalized shape `norm` (as float32) if constant `c` broadcasts onto x's last dims
/// without enlarging x (rank <= x's rank, dims before the normalized ones 1).
std::optional<Tensor> expand_param(const ir::Value* c, const Shape& norm, int64_t x_rank) {
    auto t = const_f32(c);
    if (!t || t->rank() > x_rank) return std::nullopt;
    const int64_t k = static_cast<int64_t>(norm.size());
    Shape tail(static_cast<size_t>(k), 1);
    for (int64_t i = 0; i < t->rank(); ++i) {
        const int64_t pos = i - (t->rank() - k);  // index within the normalized dims (negative: a leading dim)
        if (pos < 0) {
            if (t->dim(i) != 1) return std::nullopt;
        } else {
            if (t->dim(i) != 1 && t->dim(i) != norm[size_t(pos)]) return std::nullopt;
            tail[size_t(pos)] = t->dim(i);
        }
    }
    Tensor flat = t->reshaped(tail);
    Tensor out = std::move(Tensor::create(DType::kFloat32, norm)).value();
    const std::vector<int64_t> st = broadcast_strides(tail, norm);
    std::vector<int64_t> idx(norm.size(), 0);
    for (int64_t i = 0; i < out.numel(); ++i) {
        int64_t o = 0;
        for (size_t d = 0; d < norm.size(); ++d) o += idx[d] * st[d];
        out.data<float>()[i] = flat.data<float>()[o];
        for (size_t d = norm.size(); d-- > 0;) {
            if (++idx[d] < norm[d]) break;
            idx[d] = 0;
        }
    }
    return out;
}

class FuseLayerNorm : public Pass {
public:
    const char* name() const override { return "fuse_layernorm"; }
    const char* description() const override {
        return "ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul/Add] over the last axes -> LayerNormalization "
               "(com.nnport before opset 17).";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        const bool standard = ctx.opset() >= 17;
        if (!standard && !ctx.allow_custom_ops) return false;
        bool changed = false;
        std::vector<ir::Node*> subs;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "Sub")) subs.push_back(n.get());
        }
        for (ir::Node* sub : subs) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fuse(g, ctx, sub, standard));
            changed = changed || done;
        }
        return changed;
    }

private:
    Result<bool> fuse(ir::Graph& g, PassContext& ctx, ir::Node* sub, bool standard) {
        ir::Value* x = sub->input(0);
        ir::Value* mu = sub->input(1);
        ir::Value* d = sub->output(0);
        ir::Node* mean1 = mu ? mu->producer() : nullptr;
        const int64_t rank = rank_of(x);
        if (!mean1 || mean1->input(0) != x || !single_use(mu) || rank < 1) return false;
        const std::vector<int64_t> axes = mean_axes(mean1, rank);
        if (axes.empty()) return false;
        for (size_t i = 0; i < axes.size(); ++i) {
            if (axes[i] != rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i)) return false;
        }
        // d feeds the square and the division, nothing else.
        if (d->is_graph_output() || d->is_captured()) return false;
        ir::Node *sq = nullptr, *div = nullptr;
        for (const ir::Use& u : d->uses()) {
            if (is_op(u.node, "Div") && u.index == 0) {
                if (div && div != u.node) return false;
                div = u.node;
            } else if ((is_op(u.node, "Pow") && u.index == 0) ||
                       (is_op(u.node, "Mul") && u.node->input(0) == d && u.node->input(1) == d)) {
                if (sq && sq != u.node) return false;
                sq = u.node;
            } else {
                return false;
            }
        }
        if (!sq || !div) return false;
        if (sq->op_type() == "Pow") {
            auto e = scalar_operand(sq->input(1), d);
            if (!e || *e != 2.0) return false;
        }
        ir::Node* mean2 = sole_consumer(sq->output(0));
        if (!mean2 || mean_axes(mean2, rank) != axes || mean2->input(0) != sq->output(0)) return false;
        ir::Node* add_eps = sole_consumer(mean2->output(0));
        if (!is_op(add_eps, "Add")) return false;
        auto eps = scalar_operand(other_input(add_eps, mean2->output(0)), mean2->output(0));
        ir::Node* sqrt = sole_consumer(add_eps->output(0));
        if (!eps || *eps < 0 || !is_op(sqrt, "Sqrt") || !single_use(sqrt->output(0))) return false;
        if (div->input(1) != sqrt->output(0)) return false;
        std::vector<ir::Node*> chain = {mean1, sub, sq, mean2, add_eps, sqrt, div};
        // Optional affine tail.
        Shape norm;
        for (int64_t i = rank - static_cast<int64_t>(axes.size()); i < rank; ++i) {
            const ir::Dim& dim = x->type.dims[size_t(i)];
            if (!dim.is_static()) return false;
            norm.push_back(dim.value);
        }
        ir::Value* y = div->output(0);
        std::optional<Tensor> gamma, beta;
        if (ir::Node* mul = sole_consumer(y); is_op(mul, "Mul")) {
            gamma = expand_param(other_input(mul, y), norm, rank);
            if (gamma) {
                chain.push_back(mul);
                y = mul->output(0);
            }
        }
        if (ir::Node* add = sole_consumer(y); is_op(add, "Add")) {
            beta = expand_param(other_input(add, y), norm, rank);
            if (beta) {
                chain.push_back(add);
                y = add->output(0);
            }
        }
        // gamma and beta cannot enlarge x (expand_param), so y has x's shape.
        if (y->is_captured()) return false;
        const DType dt = x->type.dtype;
        if (!gamma) {
            gamma = Tensor::create(DType::kFloat32, norm).value();
            std::fill(gamma->data<float>(), gamma->data<float>() + gamma->numel(), 1.0f);
        }
        auto gd = as_dtype(*gamma, dt);
        auto bd = beta ? as_dtype(*beta, dt) : std::nullopt;
        if (!gd || (beta && !bd)) return false;
        std::vector<ir::Value*> ins = {x, add_constant(g, div->name() + "_ln_scale", std::move(*gd))};
        if (bd) ins.push_back(add_constant(g, div->name() + "_ln_bias", std::move(*bd)));
        NNPORT_ASSIGN_OR_RETURN(ir::Node * ln, make_node(g, ctx, "LayerNormalization", standard ? "" : kNnportDomain,
                                                         sub->name() + "_layernorm", ins));
        ln->attrs["axis"] = ir::Attribute::make_int(-static_cast<int64_t>(axes.size()));
        ln->attrs["epsilon"] = ir::Attribute::make_float(static_cast<float>(*eps));
        if (!replace_value(g, y, ln->output(0))) {
            g.remove_node(ln);
            return false;
        }
        ctx.record("LayerNormalization from " + sub->describe());
        remove_dead(g, chain);
        return true;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fuse_layernorm_pass() { return std::make_unique<FuseLayerNorm>(); }

}  // namespace nnport::passes

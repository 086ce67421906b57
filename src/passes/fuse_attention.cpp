// fuse_attention: the scaled-dot-product core as PyTorch exports it (nn.MultiheadAttention, torchvision ViT,
// TransformerEncoder):
//   [Mul/Div(Q, c)] -> MatMul(Q, Kt) -> [Mul/Div(c)] -> [Add(mask)] -> Softmax(last axis) -> MatMul(., V)
// becomes one com.nnport ScaledDotProductAttention(Q, K, V[, mask]; scale, k_transposed). Kt may be a Transpose whose
// last two axes come from K's last two swapped: that Transpose is then re-permuted to give K itself (no extra copy).
// Only with custom ops allowed (the standard Attention op needs opset 23 and fixed 3-D/4-D head layouts).
#include <algorithm>

#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

namespace {

/// If `v` is Mul/Div by a scalar constant and single-use: its input, with `scale` multiplied by the factor.
ir::Value* strip_scale(ir::Value* v, double& scale, std::vector<ir::Node*>& nodes) {
    ir::Node* p = v ? v->producer() : nullptr;
    if (!p || !single_use(v) || p->inputs().size() != 2) return v;
    if (is_op(p, "Div")) {
        auto c = scalar_operand(p->input(1), p->input(0));
        if (!c || *c == 0.0 || const_tensor(p->input(0))) return v;
        scale /= *c;
        nodes.push_back(p);
        return p->input(0);
    }
    if (is_op(p, "Mul")) {
        for (int side = 0; side < 2; ++side) {
            auto c = scalar_operand(p->input(size_t(1 - side)), p->input(size_t(side)));
            if (c && !const_tensor(p->input(size_t(side)))) {
                scale *= *c;
                nodes.push_back(p);
                return p->input(size_t(side));
            }
        }
    }
    return v;
}

bool float_type(DType dt) {
    return dt == DType::kFloat32 || dt == DType::kFloat64 || dt == DType::kFloat16 || dt == DType::kBFloat16;
}

class FuseAttention : public Pass {
public:
    const char* name() const override { return "fuse_attention"; }
    const char* description() const override {
        return "MatMul(Q, K^T) -> scale -> [Add mask] -> Softmax -> MatMul(., V) -> com.nnport "
               "ScaledDotProductAttention (custom ops only).";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        if (!ctx.allow_custom_ops) return false;
        bool changed = false;
        std::vector<ir::Node*> sms;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "Softmax")) sms.push_back(n.get());
        }
        for (ir::Node* sm : sms) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fuse(g, ctx, sm));
            changed = changed || done;
        }
        return changed;
    }

private:
    Result<bool> fuse(ir::Graph& g, PassContext& ctx, ir::Node* sm) {
        ir::Value* s = sm->input(0);
        const int64_t rank = rank_of(s);
        if (!sm->def || rank < 2 || !float_type(s->type.dtype)) return false;
        const int64_t axis = attrs_of(*sm).attr_int("axis");
        if (axis != -1 && axis != rank - 1) return false;
        ir::Node* pv = sole_consumer(sm->output(0));
        if (!is_op(pv, "MatMul") || pv->input(0) != sm->output(0) || rank_of(pv->input(1)) < 2) return false;
        std::vector<ir::Node*> nodes = {pv, sm};
        // Optional additive mask: Add(scores, mask) that keeps the scores' shape.
        ir::Value* mask = nullptr;
        ir::Node* p = single_use(s) ? s->producer() : nullptr;
        if (is_op(p, "Add")) {
            ir::Node* a = p;
            for (int side = 0; side < 2 && !mask; ++side) {
                ir::Value* cand = a->input(size_t(side));
                ir::Node* cp = cand ? cand->producer() : nullptr;
                ir::Value* m = a->input(size_t(1 - side));
                const bool scores_like = is_op(cp, "MatMul") || is_op(cp, "Mul") || is_op(cp, "Div");
                if (!scores_like || !single_use(cand) || !m || m->type.dtype != s->type.dtype) continue;
                if (rank_of(m) < 0 || rank_of(m) > rank || !same_dims(cand, s)) continue;
                mask = m;
                s = cand;
            }
            if (!mask) return false;
            nodes.push_back(a);
        }
        // Optional scale on the scores, then the QK product.
        double scale = 1.0;
        ir::Value* qk = strip_scale(s, scale, nodes);
        ir::Node* mm = qk->producer();
        if (!is_op(mm, "MatMul") || !single_use(qk) || rank_of(mm->input(0)) < 2 || rank_of(mm->input(1)) < 2) {
            return false;
        }
        nodes.push_back(mm);
        ir::Value* q = strip_scale(mm->input(0), scale, nodes);
        ir::Value* kt = strip_scale(mm->input(1), scale, nodes);
        ir::Value* v = pv->input(1);
        ir::Value* out = pv->output(0);
        if (out->is_captured() || q == kt) return false;
        // K^T from a Transpose that swaps K's last two axes: take K directly (a re-permuted Transpose, or none).
        ir::Value* k = kt;
        bool k_transposed = true;
        ir::Node* tr = kt->producer();
        std::vector<int64_t> perm;
        if (is_op(tr, "Transpose") && single_use(kt) && tr->def) {
            perm = attrs_of(*tr).attr_ints("perm");
            if (perm.size() == static_cast<size_t>(rank_of(kt)) && perm.size() >= 2) {
                std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
                k_transposed = false;
            }
        }
        const std::string what = "attention at " + sm->describe();
        std::vector<ir::Value*> ins = {q, kt, v};
        if (mask) ins.push_back(mask);
        NNPORT_ASSIGN_OR_RETURN(
            ir::Node * at, make_node(g, ctx, "ScaledDotProductAttention", kNnportDomain, sm->name() + "_sdpa", ins));
        at->attrs["scale"] = ir::Attribute::make_float(static_cast<float>(scale));
        if (!replace_value(g, out, at->output(0))) {
            g.remove_node(at);
            return false;
        }
        if (!k_transposed) {
            bool identity = true;
            for (size_t i = 0; i < perm.size(); ++i) identity = identity && perm[i] == static_cast<int64_t>(i);
            if (identity) {
                k = tr->input(0);
            } else {
                NNPORT_ASSIGN_OR_RETURN(ir::Node * t2,
                                        make_node(g, ctx, "Transpose", "", tr->name() + "_k", {tr->input(0)}));
                t2->attrs["perm"] = ir::Attribute::make_ints(perm);
                k = t2->output(0);
            }
            at->set_input(1, k);
            nodes.push_back(tr);
        } else {
            at->attrs["k_transposed"] = ir::Attribute::make_int(1);
        }
        ctx.record(what);
        // Nodes were collected consumer first: remove in that order.
        std::reverse(nodes.begin(), nodes.end());
        remove_dead(g, nodes);
        return true;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fuse_attention_pass() { return std::make_unique<FuseAttention>(); }

}  // namespace nnport::passes

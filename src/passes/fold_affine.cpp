// fold_affine: a constant per-output-channel Mul / Div / Add / Sub after a Conv, Gemm or MatMul (constant 2-D weight)
// is folded into the producer's weights and bias. Exact only when the constant varies along the output channel
// alone: for Conv shapes [C,1,1] / [1,C,1,1] / scalar (channel axis 1), for Gemm/MatMul [N] / [1,N] / scalar (last
// axis). MatMul has no bias, so only Mul / Div fold into it.
#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

namespace {

/// The per-channel values of constant `c` applied to an output of rank `rank` whose channel axis is `axis` with
/// `channels` entries: c must broadcast only along that axis (dims 1 elsewhere, rank <= output rank). Returns the
/// values expanded to `channels` (a scalar is repeated).
std::optional<std::vector<float>> per_channel(const ir::Value* c, int64_t rank, int64_t axis, int64_t channels) {
    auto t = const_f32(c);
    if (!t || t->rank() > rank || channels <= 0) return std::nullopt;
    const int64_t off = rank - t->rank();  // t's dim i aligns with output axis off + i
    int64_t along = 1;
    for (int64_t i = 0; i < t->rank(); ++i) {
        if (off + i == axis) {
            along = t->dim(i);
        } else if (t->dim(i) != 1) {
            return std::nullopt;
        }
    }
    if (along != 1 && along != channels) return std::nullopt;
    std::vector<float> v(static_cast<size_t>(channels));
    for (int64_t i = 0; i < channels; ++i) v[size_t(i)] = t->data<float>()[along == 1 ? 0 : i];
    return v;
}

class FoldAffine : public Pass {
public:
    const char* name() const override { return "fold_affine"; }
    const char* description() const override {
        return "Folds a constant per-output-channel Mul/Div/Add/Sub after Conv, Gemm or MatMul (constant 2-D weight) "
               "into its weights and bias.";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        bool changed = false;
        std::vector<ir::Node*> cands;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "Mul") || is_op(n.get(), "Div") || is_op(n.get(), "Add") || is_op(n.get(), "Sub")) {
                cands.push_back(n.get());
            }
        }
        for (ir::Node* n : cands) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fold(g, ctx, n));
            changed = changed || done;
        }
        return changed;
    }

private:
    Result<bool> fold(ir::Graph& g, PassContext& ctx, ir::Node* op) {
        // The producer-side operand: Div and Sub only fold with the constant on the right.
        const bool ordered = op->op_type() == "Div" || op->op_type() == "Sub";
        for (int side = 0; side < (ordered ? 1 : 2); ++side) {
            ir::Value* x = op->input(static_cast<size_t>(side));
            ir::Value* c = op->input(static_cast<size_t>(1 - side));
            ir::Node* p = x ? x->producer() : nullptr;
            if (!p || !p->def || !single_use(x) || !const_tensor(c) || op->outputs().size() != 1) continue;
            if (op->output(0)->is_captured() || p->outputs().size() != 1) continue;
            NNPORT_ASSIGN_OR_RETURN(bool done, fold_into(g, ctx, op, p, x, c));
            if (done) return true;
        }
        return false;
    }

    Result<bool> fold_into(ir::Graph& g, PassContext& ctx, ir::Node* op, ir::Node* p, ir::Value* x, ir::Value* c) {
        const bool conv = is_op(p, "Conv"), gemm = is_op(p, "Gemm");
        const bool matmul = is_op(p, "MatMul") && rank_of(p->input(1)) == 2 && rank_of(p->input(0)) >= 2;
        if (!conv && !gemm && !matmul) return false;
        const Tensor* wt = const_tensor(p->input(1));
        if (!wt || wt->dtype() != x->type.dtype || rank_of(x) < 2) return false;
        const bool scale = op->op_type() == "Mul" || op->op_type() == "Div";
        if (matmul && !scale) return false;
        const bool tb = gemm && attrs_of(*p).attr_int("transB") != 0;
        const int64_t rank = rank_of(x), axis = conv ? 1 : rank - 1;
        const int64_t channels = conv ? wt->dim(0) : wt->dim(tb ? 0 : 1);
        auto v = per_channel(c, rank, axis, channels);
        if (!v) return false;
        if (op->op_type() == "Div") {
            for (float& f : *v) {
                if (f == 0.0f) return false;
                f = 1.0f / f;
            }
        }
        if (op->op_type() == "Sub") {
            for (float& f : *v) f = -f;
        }
        auto w = const_f32(p->input(1));
        // The bias: Conv's B, Gemm's beta*C (per-column or scalar only), none for MatMul.
        const double beta = gemm ? attrs_of(*p).attr_float("beta") : 1.0;
        const ir::Value* bias_in = conv ? p->input(2) : (gemm && beta != 0.0 ? p->input(2) : nullptr);
        std::vector<float> bias(static_cast<size_t>(channels), 0.0f);
        if (bias_in) {
            auto b = const_f32(bias_in);
            if (!b || !(b->numel() == 1 || (b->numel() == channels && b->shape().back() == channels))) return false;
            for (int64_t i = 0; i < channels; ++i) {
                bias[size_t(i)] = static_cast<float>(b->data<float>()[b->numel() == 1 ? 0 : i] * beta);
            }
        }
        if (scale) {
            if (conv) {
                const int64_t per = w->numel() / channels;
                for (int64_t o = 0; o < channels; ++o) {
                    for (int64_t i = 0; i < per; ++i) w->data<float>()[o * per + i] *= (*v)[size_t(o)];
                }
            } else {
                scale_columns(*w, *v, tb);
            }
            for (int64_t i = 0; i < channels; ++i) bias[size_t(i)] *= (*v)[size_t(i)];
        } else {
            for (int64_t i = 0; i < channels; ++i) bias[size_t(i)] += (*v)[size_t(i)];
        }
        auto wd = as_dtype(*w, wt->dtype());
        auto bd = as_dtype(Tensor::from_vector<float>({channels}, bias), wt->dtype());
        if (!wd || !bd) return false;
        const std::string what = p->describe() + " + " + op->describe();
        p->set_input(1, add_constant(g, p->name() + "_w_affine", std::move(*wd)));
        if (bias_in || !scale) {
            p->set_input(2, add_constant(g, p->name() + "_b_affine", std::move(*bd)));
            if (gemm) p->attrs["beta"] = ir::Attribute::make_float(1.0f);
        }
        if (!replace_value(g, op->output(0), x)) return internal_error("fold_affine: cannot rewire " + what);
        g.remove_node(op);
        ctx.record(what);
        return true;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fold_affine_pass() { return std::make_unique<FoldAffine>(); }

}  // namespace nnport::passes

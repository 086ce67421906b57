// fold_batchnorm: an inference BatchNormalization with constant statistics after a Conv, ConvTranspose, Gemm or a
// MatMul with a constant 2-D weight is folded into that producer's weights and bias:
//   y = (p(x) - mean) * scale / sqrt(var + eps) + B  =  p'(x)  with  W' = W * s,  b' = b * s + t,
//   s = scale / sqrt(var + eps),  t = B - mean * s   (per output channel).
#include <cmath>

#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

bool batchnorm_affine(const ir::Node* bn, std::vector<float>& s, std::vector<float>& t) {
    std::optional<Tensor> p[4];
    for (int i = 0; i < 4; ++i) {
        p[i] = const_f32(bn->input(static_cast<size_t>(i + 1)));
        if (!p[i] || p[i]->rank() != 1) return false;
    }
    const int64_t c = p[0]->numel();
    for (int i = 1; i < 4; ++i) {
        if (p[i]->numel() != c) return false;
    }
    const double eps = attrs_of(*bn).attr_float("epsilon");
    s.resize(static_cast<size_t>(c));
    t.resize(static_cast<size_t>(c));
    for (int64_t i = 0; i < c; ++i) {
        const double si = p[0]->data<float>()[i] / std::sqrt(static_cast<double>(p[3]->data<float>()[i]) + eps);
        s[static_cast<size_t>(i)] = static_cast<float>(si);
        t[static_cast<size_t>(i)] = static_cast<float>(p[1]->data<float>()[i] - p[2]->data<float>()[i] * si);
    }
    return true;
}

namespace {

/// A 1-D bias of `c` channels: the existing constant bias (or zeros), then b * s + t.
std::optional<Tensor> folded_bias(const ir::Value* bias, const std::vector<float>& s, const std::vector<float>& t) {
    const int64_t c = static_cast<int64_t>(s.size());
    Tensor b = std::move(Tensor::create(DType::kFloat32, {c}, true)).value();
    if (bias) {
        auto old = const_f32(bias);
        if (!old || old->numel() != c) return std::nullopt;
        std::copy(old->data<float>(), old->data<float>() + c, b.data<float>());
    }
    for (int64_t i = 0; i < c; ++i) b.data<float>()[i] = b.data<float>()[i] * s[size_t(i)] + t[size_t(i)];
    return b;
}

/// The new weight for Conv ([M, C/g, k...]) or ConvTranspose ([C, M/g, k...]), scaled per output channel.
std::optional<Tensor> scaled_conv_weight(const ir::Node* p, const std::vector<float>& s) {
    auto w = const_f32(p->input(1));
    if (!w || w->rank() < 3) return std::nullopt;
    const int64_t m = static_cast<int64_t>(s.size()), group = attrs_of(*p).attr_int("group");
    const int64_t inner = w->numel() / (w->dim(0) * w->dim(1));
    float* d = w->data<float>();
    if (is_op(p, "Conv")) {
        if (w->dim(0) != m) return std::nullopt;
        for (int64_t o = 0; o < m; ++o) {
            for (int64_t i = 0; i < w->numel() / m; ++i) d[o * (w->numel() / m) + i] *= s[size_t(o)];
        }
        return w;
    }
    // ConvTranspose: output channel of W[cin, j] is (cin / (C/g)) * (M/g) + j.
    if (group <= 0 || w->dim(0) % group != 0 || w->dim(1) * group != m) return std::nullopt;
    const int64_t cin_g = w->dim(0) / group, mg = w->dim(1);
    for (int64_t ci = 0; ci < w->dim(0); ++ci) {
        for (int64_t j = 0; j < mg; ++j) {
            const float f = s[size_t((ci / cin_g) * mg + j)];
            for (int64_t i = 0; i < inner; ++i) d[(ci * mg + j) * inner + i] *= f;
        }
    }
    return w;
}

class FoldBatchNorm : public Pass {
public:
    const char* name() const override { return "fold_batchnorm"; }
    const char* description() const override {
        return "Folds an inference BatchNormalization with constant statistics into the preceding Conv, "
               "ConvTranspose, Gemm or MatMul (constant 2-D weight; becomes a Gemm) weights and bias.";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        bool changed = false;
        std::vector<ir::Node*> bns;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "BatchNormalization")) bns.push_back(n.get());
        }
        for (ir::Node* bn : bns) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fold(g, ctx, bn));
            changed = changed || done;
        }
        return changed;
    }

private:
    Result<bool> fold(ir::Graph& g, PassContext& ctx, ir::Node* bn) {
        if (!bn->def || attrs_of(*bn).attr_int("training_mode") != 0) return false;
        for (size_t i = 1; i < bn->outputs().size(); ++i) {
            if (bn->output(i)) return false;
        }
        ir::Value* x = bn->input(0);
        ir::Value* y = bn->output(0);
        ir::Node* p = x ? x->producer() : nullptr;
        if (!p || !p->def || !single_use(x) || y->is_captured() || p->outputs().size() != 1) return false;
        if (x->type.dtype != y->type.dtype) return false;
        std::vector<float> s, t;
        if (!batchnorm_affine(bn, s, t)) return false;
        const std::string what = p->describe() + " + " + bn->describe();
        const DType wt =
            p->input(1) && const_tensor(p->input(1)) ? const_tensor(p->input(1))->dtype() : DType::kUndefined;
        if (wt != x->type.dtype) return false;
        if (is_op(p, "Conv") || is_op(p, "ConvTranspose")) {
            auto w = scaled_conv_weight(p, s);
            auto b = w ? folded_bias(p->input(2), s, t) : std::nullopt;
            auto wd = w ? as_dtype(*w, wt) : std::nullopt;
            auto bd = b ? as_dtype(*b, wt) : std::nullopt;
            if (!wd || !bd) return false;
            p->set_input(1, add_constant(g, p->name() + "_w_bn", std::move(*wd)));
            p->set_input(2, add_constant(g, p->name() + "_b_bn", std::move(*bd)));
        } else if (is_op(p, "Gemm") || (is_op(p, "MatMul") && rank_of(p->input(0)) == 2)) {
            // Channel axis 1 of a 2-D output is the Gemm's N.
            auto w = const_f32(p->input(1));
            const bool gemm = is_op(p, "Gemm");
            const bool tb = gemm && attrs_of(*p).attr_int("transB") != 0;
            if (!w || w->rank() != 2 || w->dim(tb ? 0 : 1) != static_cast<int64_t>(s.size())) return false;
            const double beta = gemm ? attrs_of(*p).attr_float("beta") : 0.0;
            const ir::Value* c = gemm && beta != 0.0 ? p->input(2) : nullptr;
            std::vector<float> tb_scaled = t;
            if (c) {
                // y = alpha*A*B + beta*C: C' = C*s + t/beta keeps beta; only per-column (or scalar) C is handled.
                auto cv = const_f32(c);
                if (!cv ||
                    !(cv->numel() == 1 || (cv->numel() == int64_t(s.size()) && cv->shape().back() == cv->numel())))
                    return false;
                for (size_t j = 0; j < s.size(); ++j) {
                    const float cj = cv->data<float>()[cv->numel() == 1 ? 0 : j];
                    tb_scaled[j] = static_cast<float>(cj * s[j] + t[j] / beta);
                }
            }
            scale_columns(*w, s, tb);
            Tensor bias = Tensor::from_vector<float>({static_cast<int64_t>(s.size())}, tb_scaled);
            auto wd = as_dtype(*w, wt);
            auto bd = as_dtype(bias, wt);
            if (!wd || !bd) return false;
            ir::Value* wv = add_constant(g, p->name() + "_w_bn", std::move(*wd));
            ir::Value* bv = add_constant(g, p->name() + "_b_bn", std::move(*bd));
            if (gemm) {
                p->set_input(1, wv);
                p->set_input(2, bv);
                if (!c) p->attrs["beta"] = ir::Attribute::make_float(1.0f);
            } else {
                NNPORT_ASSIGN_OR_RETURN(ir::Node * gm,
                                        make_node(g, ctx, "Gemm", "", p->name() + "_bn", {p->input(0), wv, bv}));
                if (!replace_value(g, x, gm->output(0))) return internal_error("fold_batchnorm: cannot rewire");
                g.remove_node(p);
                x = gm->output(0);
            }
        } else {
            return false;
        }
        if (!replace_value(g, y, x)) return internal_error("fold_batchnorm: cannot rewire " + bn->describe());
        g.remove_node(bn);
        ctx.record(what);
        return true;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fold_batchnorm_pass() { return std::make_unique<FoldBatchNorm>(); }

}  // namespace nnport::passes

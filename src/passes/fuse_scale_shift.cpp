// fuse_scale_shift: Mul(x, s) -> Add(., b), optionally -> Relu / Clip (constant bounds), with s and b constant
// float32 vectors along x's last axis ([C] or [1, ..., 1, C], C static), becomes one com.nnport ScaleShift(x, s, b)
// with that activation: one pass over x instead of two or three. The pattern is an inference BatchNormalization
// (+ ReLU) that follows no convolution once the partitioner has made the region channels-last (DenseNet's norm1 in
// front of every layer), or an exported per-channel affine over the last axis. ScaleShift rounds once (a fused
// multiply-add) where Mul and Add rounded twice: results move by at most one rounding of the product. When x is a
// Concat along the last axis read only by the Mul, the Concat joins in: com.nnport FusedConcat(inputs..., s, b)
// writes each input's rows, transformed, into their channel slice, so the concatenation is written once, not twice
// (DenseNet: Concat -> norm1 -> relu1 in front of every layer).
#include <limits>

#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

namespace {

/// Whether `c` is a constant float32 vector along the last axis of `x`: x float32 with a static last dim C, c of
/// shape [C] or [1, ..., 1, C] and rank not above x's (so it cannot raise x's rank).
bool vector_along_last(const ir::Value* c, const ir::Value* x) {
    const Tensor* t = const_tensor(c);
    if (!t || t->dtype() != DType::kFloat32 || t->rank() < 1 || !x || x->type.dtype != DType::kFloat32) return false;
    if (const_tensor(x)) return false;  // constant folding's business
    const int64_t rank = rank_of(x);
    if (rank < 1 || t->rank() > rank) return false;
    const ir::Dim& last = x->type.dims.back();
    if (!last.is_static() || t->shape().back() != last.value) return false;
    for (int64_t i = 0; i + 1 < t->rank(); ++i) {
        if (t->dim(i) != 1) return false;
    }
    return true;
}

/// Whether `n` is a Concat of two or more float32 inputs along their last axis (rank known).
bool last_axis_concat(const ir::Node* n) {
    if (!is_op(n, "Concat") || n->inputs().size() < 2 || n->outputs().size() != 1) return false;
    const int64_t rank = rank_of(n->output(0));
    const int64_t axis = attrs_of(*n).attr_int("axis");
    if (rank < 1 || (axis != -1 && axis != rank - 1)) return false;
    for (const ir::Value* v : n->inputs()) {
        if (!v || v->type.dtype != DType::kFloat32 || rank_of(v) != rank) return false;
    }
    return true;
}

/// The Relu / Clip (constant bounds) reading `v` alone: its name and bounds; nullptr otherwise.
ir::Node* clamp_after(const ir::Value* v, std::vector<float>& params) {
    if (v->is_graph_output() || v->is_captured()) return nullptr;
    ir::Node* n = sole_consumer(v);
    if (!n || n->input(0) != v || n->outputs().size() != 1) return nullptr;
    if (is_op(n, "Relu")) return n;
    if (!is_op(n, "Clip") || n->has_attr("min") || n->has_attr("max")) return nullptr;
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    for (size_t i = 1; i < 3 && i < n->inputs().size(); ++i) {
        if (!n->input(i)) continue;
        auto c = const_scalar(n->input(i));
        if (!c) return nullptr;
        (i == 1 ? lo : hi) = static_cast<float>(*c);
    }
    if (!(lo <= hi)) return nullptr;
    params = {lo, hi};
    return n;
}

class FuseScaleShift : public Pass {
public:
    const char* name() const override { return "fuse_scale_shift"; }
    const char* description() const override {
        return "x * s + b (+ Relu/Clip) with constant vectors along x's last axis -> com.nnport ScaleShift "
               "(FusedConcat when x is a Concat along that axis).";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        if (!ctx.allow_custom_ops) return false;
        std::vector<ir::Node*> muls;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "Mul") && n->inputs().size() == 2) muls.push_back(n.get());
        }
        bool changed = false;
        for (ir::Node* m : muls) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fuse(g, ctx, m));
            changed = changed || done;
        }
        return changed;
    }

private:
    static Result<bool> fuse(ir::Graph& g, PassContext& ctx, ir::Node* mul) {
        ir::Value* x = nullptr;
        ir::Value* s = nullptr;
        for (size_t i = 0; i < 2 && !x; ++i) {
            if (vector_along_last(mul->input(1 - i), mul->input(i))) {
                x = mul->input(i);
                s = mul->input(1 - i);
            }
        }
        ir::Value* mo = mul->output(0);
        if (!x || mo->is_graph_output() || mo->is_captured()) return false;
        ir::Node* add = sole_consumer(mo);
        if (!is_op(add, "Add") || add->inputs().size() != 2) return false;
        ir::Value* b = other_input(add, mo);
        if (b == mo || !vector_along_last(b, x)) return false;
        std::vector<ir::Node*> chain = {mul, add};
        ir::Value* out = add->output(0);
        std::vector<float> params;
        std::string act = "Identity";
        if (ir::Node* c = clamp_after(out, params)) {
            act = c->op_type();
            chain.push_back(c);
            out = c->output(0);
        }
        if (out->is_captured()) return false;
        // A Concat along the last axis read only here: its inputs go through the affine straight into their slice.
        ir::Node* cat = x->producer();
        if (!last_axis_concat(cat) || x->is_graph_output() || x->is_captured() || !single_use(x)) cat = nullptr;
        std::vector<ir::Value*> ins = {x, s, b};
        if (cat) {
            ins.assign(cat->inputs().begin(), cat->inputs().end());
            ins.push_back(s);
            ins.push_back(b);
            chain.insert(chain.begin(), cat);
        }
        NNPORT_ASSIGN_OR_RETURN(ir::Node * f, make_node(g, ctx, cat ? "FusedConcat" : "ScaleShift", kNnportDomain,
                                                        mul->name() + (cat ? "_concat" : "_scale_shift"), ins));
        if (cat) f->attrs["axis"] = ir::Attribute::make_int(-1);
        f->attrs["activation"] = ir::Attribute::make_string(act);
        if (!params.empty()) f->attrs["activation_params"] = ir::Attribute::make_floats(params);
        f->output(0)->type = out->type;
        if (!replace_value(g, out, f->output(0))) {
            g.remove_node(f);
            return false;
        }
        std::string what = chain[0]->describe();
        for (size_t i = 1; i < chain.size(); ++i) what += " + " + chain[i]->op_type();
        ctx.record(what);
        remove_dead(g, chain);
        return true;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fuse_scale_shift_pass() { return std::make_unique<FuseScaleShift>(); }

}  // namespace nnport::passes

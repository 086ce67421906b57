// fc_conv: fully connected layers <-> 1x1 convolutions, in the direction the backends prefer
// (PassContext::prefer_conv_for_fc).
//   false (default): a Conv with a constant [M,C,1,1] weight, group 1 and zero pads on an [N,C,1,1] input (the
//     squeeze-excitation blocks of MobileNetV3/EfficientNet/RegNet) becomes Flatten -> Gemm(transB=1) -> Unsqueeze.
//     Strides and dilations do not matter: a 1x1 window over a 1x1 input gives one output position either way.
//   true: Flatten/Reshape of an [N,C,1,1] tensor (after a global pooling) -> Gemm with a constant B (alpha = beta = 1,
//     no transA) becomes Conv(1x1) -> Flatten.
// Both compute the same dot products (only the summation order of the kernels may differ).
#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {
namespace {

/// True for a tensor type [N, C, 1, 1] with a static C; returns C.
std::optional<int64_t> pooled_channels(const ir::Value* x) {
    const ir::ValueType& t = x->type;
    if (!t.is_tensor() || t.rank() != 4 || !t.dims[1].is_static()) return std::nullopt;
    if (t.dims[2].value != 1 || t.dims[3].value != 1) return std::nullopt;
    return t.dims[1].value;
}

/// Conv(1x1) on [N,C,1,1] -> Flatten -> Gemm(transB=1) -> Unsqueeze.
Result<bool> conv_to_gemm(ir::Graph& g, PassContext& ctx, ir::Node* n) {
    ir::Value* x = n->input(0);
    const Tensor* w = constant_of(n->input(1));
    const Tensor* b = n->input(2) ? constant_of(n->input(2)) : nullptr;
    const std::optional<int64_t> c = pooled_channels(x);
    if (!c || !w || w->rank() != 4 || w->dim(1) != *c || w->dim(2) != 1 || w->dim(3) != 1) return false;
    if ((n->input(2) && (!b || b->rank() != 1)) || n->output(0)->is_captured()) return false;
    const AttrAccess a = attrs_of(*n);
    for (int64_t p : a.attr_ints("pads")) {
        if (p != 0) return false;
    }
    if (a.attr_int("group") != 1 || (a.attr_string("auto_pad") != "NOTSET" && a.attr_string("auto_pad") != "VALID"))
        return false;
    const int64_t m = w->dim(0);
    ir::Value* wm = add_constant(g, n->input(1)->name() + "_fc", w->reshaped({m, *c}));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * flat, make_node(g, ctx, "Flatten", "", n->name() + "_flat", {x}));
    flat->attrs["axis"] = ir::Attribute::make_int(1);
    std::vector<ir::Value*> gemm_in = {flat->output(0), wm};
    if (n->input(2)) gemm_in.push_back(n->input(2));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * gemm, make_node(g, ctx, "Gemm", "", n->name() + "_gemm", gemm_in));
    gemm->attrs["transB"] = ir::Attribute::make_int(1);
    ir::Value* axes = add_constant(g, n->name() + "_axes", Tensor::from_vector<int64_t>({2}, {2, 3}));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * unsq,
                            make_node(g, ctx, "Unsqueeze", "", n->name() + "_unsq", {gemm->output(0), axes}));
    if (!replace_value(g, n->output(0), unsq->output(0))) return internal_error("fc_conv: cannot replace Conv output");
    ctx.record(n->describe() + " -> Flatten + Gemm + Unsqueeze");
    g.remove_node(n);
    return true;
}

/// Flatten/Reshape of [N,C,1,1] -> Gemm(constant B) becomes Conv(1x1) -> Flatten.
Result<bool> gemm_to_conv(ir::Graph& g, PassContext& ctx, ir::Node* n) {
    ir::Node* f = n->input(0)->producer();
    if (!f || !(is_op(f, "Flatten") || is_op(f, "Reshape")) || n->output(0)->is_captured()) return false;
    ir::Value* x = f->input(0);
    const std::optional<int64_t> c = pooled_channels(x);
    const ir::ValueType& ft = f->output(0)->type;
    if (!c || ft.rank() != 2 || ft.dims[1].value != *c) return false;
    const AttrAccess a = attrs_of(*n);
    const Tensor* bmat = constant_of(n->input(1));
    if (a.attr_int("transA") != 0 || a.attr_float("alpha") != 1.0f || !bmat || bmat->rank() != 2) return false;
    const bool trans_b = a.attr_int("transB") != 0;
    const int64_t m = trans_b ? bmat->dim(0) : bmat->dim(1);
    if ((trans_b ? bmat->dim(1) : bmat->dim(0)) != *c) return false;
    const Tensor* bias = n->input(2) ? constant_of(n->input(2)) : nullptr;
    if (n->input(2) && (!bias || a.attr_float("beta") != 1.0f || bias->numel() != m || bias->shape().back() != m))
        return false;
    Tensor w = trans_b ? *bmat : transpose_tensor(*bmat, {1, 0});
    if (!w.defined()) return false;
    std::vector<ir::Value*> conv_in = {x, add_constant(g, n->input(1)->name() + "_conv", w.reshaped({m, *c, 1, 1}))};
    if (bias) conv_in.push_back(add_constant(g, n->input(2)->name() + "_conv", bias->reshaped({m})));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * conv, make_node(g, ctx, "Conv", "", n->name() + "_conv", conv_in));
    conv->attrs["kernel_shape"] = ir::Attribute::make_ints({1, 1});
    NNPORT_ASSIGN_OR_RETURN(ir::Node * flat, make_node(g, ctx, "Flatten", "", n->name() + "_flat", {conv->output(0)}));
    flat->attrs["axis"] = ir::Attribute::make_int(1);
    if (!replace_value(g, n->output(0), flat->output(0))) return internal_error("fc_conv: cannot replace Gemm output");
    ctx.record(f->describe() + " + " + n->describe() + " -> Conv 1x1 + Flatten");
    g.remove_node(n);
    if (f->output(0)->uses().empty() && !value_needed(f->output(0))) g.remove_node(f);
    return true;
}

class FcConvPass : public Pass {
public:
    const char* name() const override { return "fc_conv"; }
    const char* description() const override {
        return "converts 1x1 Conv on [N,C,1,1] to Gemm, or Flatten+Gemm after pooling to a 1x1 Conv, as the backends "
               "prefer (PassContext::prefer_conv_for_fc)";
    }
    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        // A backend preference of nnport's runtime: a model written for other tools keeps its layers as they are.
        if (!ctx.allow_custom_ops) return false;
        std::vector<ir::Node*> nodes;
        for (const auto& n : g.nodes()) nodes.push_back(n.get());
        bool changed = false;
        for (ir::Node* n : nodes) {
            bool c = false;
            if (!ctx.prefer_conv_for_fc && is_op(n, "Conv")) {
                NNPORT_ASSIGN_OR_RETURN(c, conv_to_gemm(g, ctx, n));
            } else if (ctx.prefer_conv_for_fc && is_op(n, "Gemm")) {
                NNPORT_ASSIGN_OR_RETURN(c, gemm_to_conv(g, ctx, n));
            }
            changed = changed || c;
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fc_conv_pass() { return std::make_unique<FcConvPass>(); }

}  // namespace nnport::passes

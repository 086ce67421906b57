// Structural rewrites of `nnport convert` for dense layers, normalization folding, padding and pooling: each
// re-expresses one node exactly in the ops its catalogue entry (targets/rewrites.json) lists under "needs".
#include <algorithm>
#include <cstring>

#include "convert/rewrites/structural_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::convert {

using passes::attrs_of;
using passes::is_op;
using passes::make_node;

namespace {

/// Gemm(A, B, C) with transA = 0, a constant float B and alpha folded into it: the weight alpha * op(B) as [K, N],
/// and beta * C as a constant (when C is constant) or C itself (beta 1). Empty when the node does not qualify.
struct GemmParts {
    Tensor w;  ///< alpha * op(B), [K, N], float32
    DType dtype = DType::kUndefined;
    ir::Value* c = nullptr;       ///< C when it is used as is (not constant, beta 1)
    std::optional<Tensor> c_f32;  ///< beta * C when C is constant (float32)
};

std::optional<GemmParts> gemm_parts(const ir::Node* n) {
    if (!is_op(n, "Gemm") || !n->def || !rw::outputs_rewirable(n)) return std::nullopt;
    const AttrAccess a = attrs_of(*n);
    if (a.attr_int("transA") != 0) return std::nullopt;
    const ir::Value* x = n->input(0);
    std::optional<Tensor> b = passes::const_f32(n->input(1));
    const DType dt = rw::dtype_of(n->input(1));
    if (!x || !b || b->rank() != 2 || !rw::is_float(dt) || rw::dtype_of(x) != dt) return std::nullopt;
    GemmParts p;
    p.dtype = dt;
    p.w = a.attr_int("transB") ? passes::transpose_tensor(*b, {1, 0}) : *b;
    if (!p.w.defined()) return std::nullopt;
    const float alpha = a.attr_float("alpha"), beta = a.attr_float("beta");
    if (alpha != 1.0f) {
        for (int64_t i = 0; i < p.w.numel(); ++i) p.w.data<float>()[i] *= alpha;
    }
    if (ir::Value* c = n->input(2); c && beta != 0.0f) {
        if (std::optional<Tensor> cf = passes::const_f32(c)) {
            for (int64_t i = 0; i < cf->numel(); ++i) cf->data<float>()[i] *= beta;
            p.c_f32 = std::move(cf);
        } else if (beta == 1.0f && rw::dtype_of(c) == dt) {
            p.c = c;
        } else {
            return std::nullopt;  // beta * C of a computed C needs a Mul, which the rewrite does not use
        }
    }
    return p;
}

}  // namespace

Result<bool> rewrite_gemm_to_matmul_add(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    std::optional<GemmParts> p = gemm_parts(n);
    if (!p) return false;
    ir::Value* w = rw::float_const(g, n->name() + "_w", p->w, p->dtype);
    ir::Value* c = p->c ? p->c : p->c_f32 ? rw::float_const(g, n->name() + "_c", *p->c_f32, p->dtype) : nullptr;
    if (!w || ((p->c_f32) && !c)) return internal_error("cannot convert the Gemm constants back to their dtype");
    NNPORT_ASSIGN_OR_RETURN(ir::Node * mm,
                            make_node(g, ctx.pass_ctx, "MatMul", "", n->name() + "_matmul", {n->input(0), w}));
    ir::Value* y = mm->output(0);
    if (c) {
        NNPORT_ASSIGN_OR_RETURN(ir::Node * add, make_node(g, ctx.pass_ctx, "Add", "", n->name() + "_add", {y, c}));
        y = add->output(0);
    }
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), y));
    return true;
}

Result<bool> rewrite_gemm_to_conv1x1(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    std::optional<GemmParts> p = gemm_parts(n);
    if (!p) return false;
    const int64_t k = p->w.dim(0), m = p->w.dim(1);
    // The bias of a convolution is per output channel: C must be a constant scalar or a row of N values.
    if (p->c) return false;
    std::optional<Tensor> bias;
    if (p->c_f32) {
        const Tensor& c = *p->c_f32;
        const bool row = c.numel() == m && (c.rank() == 1 || (c.rank() == 2 && c.dim(0) == 1));
        if (c.numel() != 1 && !row) return false;
        bias = std::move(Tensor::create(DType::kFloat32, {m})).value();
        for (int64_t j = 0; j < m; ++j) bias->data<float>()[j] = c.data<float>()[c.numel() == 1 ? 0 : j];
    }
    Tensor wc = passes::transpose_tensor(p->w, {1, 0}).reshaped({m, k, 1, 1});
    ir::Value* w = rw::float_const(g, n->name() + "_w", wc, p->dtype);
    ir::Value* b = bias ? rw::float_const(g, n->name() + "_b", *bias, p->dtype) : nullptr;
    if (!w || (bias && !b)) return internal_error("cannot convert the Gemm constants back to their dtype");
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r1,
                            make_node(g, ctx.pass_ctx, "Reshape", "", n->name() + "_nchw",
                                      {n->input(0), rw::i64_const(g, n->name() + "_shape4", {-1, k, 1, 1})}));
    std::vector<ir::Value*> conv_in = {r1->output(0), w};
    if (b) conv_in.push_back(b);
    NNPORT_ASSIGN_OR_RETURN(ir::Node * conv, make_node(g, ctx.pass_ctx, "Conv", "", n->name() + "_conv", conv_in));
    conv->attrs["kernel_shape"] = ir::Attribute::make_ints({1, 1});
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r2,
                            make_node(g, ctx.pass_ctx, "Reshape", "", n->name() + "_2d",
                                      {conv->output(0), rw::i64_const(g, n->name() + "_shape2", {-1, m})}));
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), r2->output(0)));
    return true;
}

Result<bool> rewrite_matmul_to_gemm(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "MatMul") || !rw::outputs_rewirable(n)) return false;
    const ir::Value* a = n->input(0);
    const ir::Value* b = n->input(1);
    if (passes::rank_of(a) != 2 || passes::rank_of(b) != 2 || !passes::const_tensor(b)) return false;
    if (!rw::is_float(rw::dtype_of(a)) || rw::dtype_of(a) != rw::dtype_of(b)) return false;
    NNPORT_ASSIGN_OR_RETURN(ir::Node * gemm,
                            make_node(g, ctx.pass_ctx, "Gemm", "", n->name() + "_gemm", {n->input(0), n->input(1)}));
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), gemm->output(0)));
    return true;
}

Result<bool> rewrite_conv1x1_to_gemm(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Conv") || !n->def || !rw::outputs_rewirable(n)) return false;
    const std::optional<Shape> xs = rw::static_shape(n->input(0));
    const Tensor* w = passes::const_tensor(n->input(1));
    if (!xs || xs->size() < 3 || !w || w->rank() != static_cast<int64_t>(xs->size())) return false;
    for (size_t i = 2; i < xs->size(); ++i) {
        if ((*xs)[i] != 1 || w->dim(static_cast<int64_t>(i)) != 1) return false;
    }
    const AttrAccess a = attrs_of(*n);
    // A 1x1 window on a 1x1 input: strides and dilations do not matter, padding would add positions.
    if (a.attr_int("group") != 1 || w->dim(1) != (*xs)[1] || w->dtype() != rw::dtype_of(n->input(0))) return false;
    for (int64_t p : a.attr_ints("pads")) {
        if (p != 0) return false;
    }
    const int64_t m = w->dim(0), c = w->dim(1);
    ir::Value* w2 = passes::add_constant(g, n->name() + "_w", w->reshaped({m, c}));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r1,
                            make_node(g, ctx.pass_ctx, "Reshape", "", n->name() + "_2d",
                                      {n->input(0), rw::i64_const(g, n->name() + "_shape2", {(*xs)[0], c})}));
    std::vector<ir::Value*> gin = {r1->output(0), w2};
    if (n->input(2)) gin.push_back(n->input(2));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * gemm, make_node(g, ctx.pass_ctx, "Gemm", "", n->name() + "_gemm", gin));
    gemm->attrs["transB"] = ir::Attribute::make_int(1);
    std::vector<int64_t> out_shape = {(*xs)[0], m};
    out_shape.resize(xs->size(), 1);
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r2,
                            make_node(g, ctx.pass_ctx, "Reshape", "", n->name() + "_nchw",
                                      {gemm->output(0), rw::i64_const(g, n->name() + "_shape", out_shape)}));
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), r2->output(0)));
    return true;
}

Result<bool> rewrite_batchnorm_fold_into_conv(ir::Graph& g, ir::Node* n, RewriteContext&) {
    if (!is_op(n, "BatchNormalization") || !n->def || attrs_of(*n).attr_int("training_mode") != 0) return false;
    for (size_t i = 1; i < n->outputs().size(); ++i) {
        if (passes::value_needed(n->output(i))) return false;
    }
    ir::Value* x = n->input(0);
    ir::Node* conv = x ? x->producer() : nullptr;
    if (!is_op(conv, "Conv") || !passes::single_use(x) || !rw::outputs_rewirable(n)) return false;
    std::optional<Tensor> w = passes::const_f32(conv->input(1));
    const DType dt = rw::dtype_of(conv->input(1));
    std::vector<float> s, t;
    if (!w || w->rank() < 3 || !rw::is_float(dt) || dt != rw::dtype_of(x) || !passes::batchnorm_affine(n, s, t))
        return false;
    const int64_t m = w->dim(0);
    if (static_cast<int64_t>(s.size()) != m) return false;
    Tensor bias = std::move(Tensor::create(DType::kFloat32, {m}, true)).value();
    if (conv->input(2)) {
        std::optional<Tensor> b = passes::const_f32(conv->input(2));
        if (!b || b->numel() != m) return false;
        std::copy(b->data<float>(), b->data<float>() + m, bias.data<float>());
    }
    const int64_t per = w->numel() / m;
    for (int64_t o = 0; o < m; ++o) {
        for (int64_t i = 0; i < per; ++i) w->data<float>()[o * per + i] *= s[size_t(o)];
        bias.data<float>()[o] = bias.data<float>()[o] * s[size_t(o)] + t[size_t(o)];
    }
    ir::Value* wv = rw::float_const(g, conv->name() + "_w_bn", *w, dt);
    ir::Value* bv = rw::float_const(g, conv->name() + "_b_bn", bias, dt);
    if (!wv || !bv) return internal_error(std::string("cannot convert the folded weights back to ") + dtype_name(dt));
    conv->set_input(1, wv);
    conv->set_input(2, bv);
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), x));
    return true;
}

Result<bool> rewrite_pad_fold_into_conv(ir::Graph& g, ir::Node* n, RewriteContext&) {
    if (!is_op(n, "Pad") || !n->def || attrs_of(*n).attr_string("mode") != "constant") return false;
    ir::Value* x = n->input(0);
    ir::Value* y = n->output(0);
    const int64_t r = passes::rank_of(x);
    const Tensor* pads_t = passes::const_tensor(n->input(1));
    if (r < 3 || !pads_t || y->is_captured() || y->is_graph_output() || y->uses().empty()) return false;
    if (n->input(2)) {
        std::optional<double> v = passes::const_scalar(n->input(2));
        if (!v || *v != 0.0) return false;
    }
    std::vector<int64_t> axes;
    if (n->input(3)) {
        const Tensor* at = passes::const_tensor(n->input(3));
        if (!at) return false;
        axes = at->to_int_vector();
    } else {
        for (int64_t i = 0; i < r; ++i) axes.push_back(i);
    }
    const std::vector<int64_t> pv = pads_t->to_int_vector();
    if (pv.size() != 2 * axes.size()) return false;
    std::vector<int64_t> begin(size_t(r), 0), end(size_t(r), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
        const int64_t ax = axes[i] < 0 ? axes[i] + r : axes[i];
        if (ax < 0 || ax >= r) return false;
        begin[size_t(ax)] += pv[i];
        end[size_t(ax)] += pv[i + axes.size()];
    }
    for (int64_t i = 0; i < r; ++i) {
        if (begin[size_t(i)] < 0 || end[size_t(i)] < 0) return false;  // negative pads crop: no Conv equivalent
        if (i < 2 && (begin[size_t(i)] != 0 || end[size_t(i)] != 0)) return false;
    }
    std::vector<std::pair<ir::Node*, std::vector<int64_t>>> convs;
    const size_t sp = size_t(r - 2);
    for (const ir::Use& u : y->uses()) {
        ir::Node* c = u.node;
        if (!is_op(c, "Conv") || !c->def || u.index != 0) return false;
        const std::string ap = attrs_of(*c).attr_string("auto_pad");
        if (ap != "NOTSET" && ap != "VALID") return false;
        std::optional<std::vector<int64_t>> old =
            ap == "VALID" ? std::vector<int64_t>(2 * sp, 0) : rw::ints_or(*c, "pads", 2 * sp, 0);
        if (!old) return false;
        for (size_t i = 0; i < sp; ++i) {
            (*old)[i] += begin[i + 2];
            (*old)[i + sp] += end[i + 2];
        }
        convs.emplace_back(c, std::move(*old));
    }
    for (auto& [c, pads] : convs) {
        c->attrs["pads"] = ir::Attribute::make_ints(pads);
        c->attrs.erase("auto_pad");
        c->set_input(0, x);
    }
    g.remove_node(n);
    return true;
}

Result<bool> rewrite_globalavgpool_to_reducemean(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "GlobalAveragePool") || !rw::outputs_rewirable(n)) return false;
    const int64_t r = passes::rank_of(n->input(0));
    if (r < 3) return false;
    std::vector<int64_t> axes;
    for (int64_t i = 2; i < r; ++i) axes.push_back(i);
    // Axes as an input is the canonical (opset 18) form; the exporter writes them as an attribute for older opsets.
    NNPORT_ASSIGN_OR_RETURN(ir::Node * rm, make_node(g, ctx.pass_ctx, "ReduceMean", "", n->name() + "_mean",
                                                     {n->input(0), rw::i64_const(g, n->name() + "_axes", axes)}));
    rm->attrs["keepdims"] = ir::Attribute::make_int(1);
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), rm->output(0)));
    return true;
}

Result<bool> rewrite_reducemean_to_globalavgpool(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "ReduceMean") || !n->def || !rw::outputs_rewirable(n)) return false;
    if (passes::rank_of(n->input(0)) != 4 || !rw::is_float(rw::dtype_of(n->input(0)))) return false;
    if (attrs_of(*n).attr_int("keepdims") == 0) return false;
    std::vector<int64_t> axes = attrs_of(*n).attr_ints("axes");
    if (n->input(1)) {
        const Tensor* t = passes::const_tensor(n->input(1));
        if (!t) return false;
        axes = t->to_int_vector();
    }
    for (int64_t& a : axes) a = a < 0 ? a + 4 : a;
    std::sort(axes.begin(), axes.end());
    if (axes != std::vector<int64_t>{2, 3}) return false;
    NNPORT_ASSIGN_OR_RETURN(ir::Node * gp,
                            make_node(g, ctx.pass_ctx, "GlobalAveragePool", "", n->name() + "_gap", {n->input(0)}));
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), gp->output(0)));
    return true;
}

Result<bool> rewrite_conv_dilation_to_dense(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Conv") || !n->def || !rw::outputs_rewirable(n)) return false;
    const Tensor* w = passes::const_tensor(n->input(1));
    if (!w || w->rank() < 3 || !n->attr("dilations")) return false;
    const size_t sp = size_t(w->rank() - 2);
    const std::vector<int64_t> d = n->attr("dilations")->ints;
    if (d.size() != sp || std::none_of(d.begin(), d.end(), [](int64_t v) { return v > 1; })) return false;
    if (std::any_of(d.begin(), d.end(), [](int64_t v) { return v < 1; })) return false;
    // Zeros are inserted as raw elements: any numeric weight type works.
    Shape ws = w->shape();
    for (size_t i = 0; i < sp; ++i) ws[i + 2] = (ws[i + 2] - 1) * d[i] + 1;
    Tensor dense = std::move(Tensor::create(w->dtype(), ws, true)).value();
    const size_t es = w->nbytes() / size_t(std::max<int64_t>(1, w->numel()));
    const int64_t outer = ws[0] * ws[1];
    // Strides of the old and new kernels per spatial axis.
    std::vector<int64_t> os(sp, 1), ns(sp, 1);
    for (size_t i = sp; i-- > 1;) {
        os[i - 1] = os[i] * w->dim(int64_t(i + 2));
        ns[i - 1] = ns[i] * ws[i + 2];
    }
    const int64_t old_k = w->numel() / std::max<int64_t>(1, outer), new_k = dense.numel() / std::max<int64_t>(1, outer);
    const auto* src = static_cast<const uint8_t*>(w->raw_data());
    auto* dst = static_cast<uint8_t*>(dense.raw_data());
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t k = 0; k < old_k; ++k) {
            int64_t rem = k, off = 0;
            for (size_t i = 0; i < sp; ++i) {
                off += (rem / os[i]) * d[i] * ns[i];
                rem %= os[i];
            }
            std::memcpy(dst + size_t(o * new_k + off) * es, src + size_t(o * old_k + k) * es, es);
        }
    }
    std::vector<ir::Value*> ins = {n->input(0), passes::add_constant(g, n->name() + "_w_dense", std::move(dense))};
    if (n->input(2)) ins.push_back(n->input(2));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * c, make_node(g, ctx.pass_ctx, "Conv", "", n->name() + "_dense", ins));
    c->attrs = n->attrs;
    c->attrs.erase("dilations");
    if (c->attrs.count("kernel_shape"))
        c->attrs["kernel_shape"] = ir::Attribute::make_ints(Shape(ws.begin() + 2, ws.end()));
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), c->output(0)));
    return true;
}

}  // namespace nnport::convert

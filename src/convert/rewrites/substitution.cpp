// Exact substitutions of `nnport convert` (the paper's scenario 2): nearest upsampling as DepthToSpace or as a
// depthwise ConvTranspose, and a strided ConvTranspose as a sub-pixel Conv followed by DepthToSpace (or by Reshape +
// Transpose + Reshape), with the weights rearranged at conversion: same outputs, no retraining.
#include <algorithm>
#include <climits>
#include <cmath>

#include "convert/rewrites/structural_util.hpp"

namespace nnport::convert {

using passes::attrs_of;
using passes::is_op;
using passes::make_node;

namespace rw {

std::optional<ResizeUpscale> resize_upscale(const ir::Node* n, const std::string& mode) {
    if (!is_op(n, "Resize") || !n->def || !outputs_rewirable(n)) return std::nullopt;
    const std::optional<Shape> xs = static_shape(n->input(0));
    const std::optional<Shape> ys = static_shape(n->output(0));
    if (!xs || !ys || xs->size() != 4 || ys->size() != 4 || !is_float(dtype_of(n->input(0)))) return std::nullopt;
    const AttrAccess a = attrs_of(*n);
    ResizeUpscale r;
    r.mode = a.attr_string("mode");
    r.coord = a.attr_string("coordinate_transformation_mode");
    r.nearest = a.attr_string("nearest_mode");
    if (r.mode != mode || r.coord == "tf_crop_and_resize") return std::nullopt;
    if (a.attr_string("keep_aspect_ratio_policy") != "stretch") return std::nullopt;
    r.n = (*xs)[0], r.c = (*xs)[1], r.h = (*xs)[2], r.w = (*xs)[3];
    if ((*ys)[0] != r.n || (*ys)[1] != r.c || r.h <= 0 || r.w <= 0) return std::nullopt;
    if ((*ys)[2] % r.h != 0 || (*ys)[3] % r.w != 0) return std::nullopt;
    r.sh = (*ys)[2] / r.h;
    r.sw = (*ys)[3] / r.w;
    if (r.sh < 1 || r.sw < 1) return std::nullopt;
    // The scales the kernel uses, for the axes the node names (all four unless the opset-18 `axes` says otherwise).
    std::vector<int64_t> axes = a.attr_ints("axes");
    if (axes.empty()) axes = {0, 1, 2, 3};
    for (int64_t& ax : axes) ax = ax < 0 ? ax + 4 : ax;
    std::vector<double> scale(4, 1.0);
    const Tensor* sc = n->input(2) ? passes::const_tensor(n->input(2)) : nullptr;
    const Tensor* sz = n->input(3) ? passes::const_tensor(n->input(3)) : nullptr;
    if (sc && sc->numel() > 0) {
        if (sc->numel() != static_cast<int64_t>(axes.size())) return std::nullopt;
        for (size_t i = 0; i < axes.size(); ++i) scale[size_t(axes[i])] = sc->item_as_double(int64_t(i));
    } else if (sz && sz->numel() == static_cast<int64_t>(axes.size())) {
        for (size_t i = 0; i < axes.size(); ++i) {
            const size_t ax = size_t(axes[i]);
            scale[ax] = static_cast<double>(sz->item_as_int(int64_t(i))) / static_cast<double>((*xs)[ax]);
        }
    } else {
        return std::nullopt;
    }
    // N and C must pass through untouched (the kernel skips an axis of scale 1 and equal length).
    if (scale[0] != 1.0 || scale[1] != 1.0 || r.coord == "tf_half_pixel_for_nn") return std::nullopt;
    r.scale_h = scale[2];
    r.scale_w = scale[3];
    return r;
}

}  // namespace rw

namespace {

/// Source coordinate of output position x along an axis (the ONNX Resize formulas, as src/ops/resize.cpp).
double source_coord(const std::string& coord, double x, double scale, int64_t in_len, int64_t out_len) {
    const double in = static_cast<double>(in_len), out_w = scale * in;
    if (coord == "half_pixel_symmetric") {
        const double adj = static_cast<double>(out_len) / out_w;
        return in / 2 * (1 - adj) + (x + 0.5) / scale - 0.5;
    }
    if (coord == "pytorch_half_pixel") return out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    if (coord == "align_corners") return out_w == 1 ? 0.0 : x * (in - 1) / (out_w - 1);
    if (coord == "asymmetric") return x / scale;
    return (x + 0.5) / scale - 0.5;  // half_pixel
}

/// True if nearest Resize picks input index floor(j / s) for every output j of the axis, i.e. it repeats each input
/// element s times (what DepthToSpace of repeated channels and a ones-kernel ConvTranspose compute).
bool nearest_repeats(const rw::ResizeUpscale& r, double scale, int64_t in_len, int64_t s) {
    for (int64_t j = 0; j < in_len * s; ++j) {
        const double x = source_coord(r.coord, static_cast<double>(j), scale, in_len, in_len * s);
        const double fl = std::floor(x), frac = x - fl;
        bool up = false;
        if (frac != 0) {
            if (r.nearest == "round_prefer_floor")
                up = frac > 0.5;
            else if (r.nearest == "round_prefer_ceil")
                up = frac >= 0.5;
            else if (r.nearest == "ceil")
                up = true;
            else if (r.nearest != "floor")
                return false;
        }
        const int64_t idx = std::clamp<int64_t>(static_cast<int64_t>(fl) + (up ? 1 : 0), 0, in_len - 1);
        if (idx != j / s) return false;
    }
    return true;
}

std::optional<rw::ResizeUpscale> nearest_upscale(const ir::Node* n) {
    std::optional<rw::ResizeUpscale> r = rw::resize_upscale(n, "nearest");
    if (!r || !nearest_repeats(*r, r->scale_h, r->h, r->sh) || !nearest_repeats(*r, r->scale_w, r->w, r->sw))
        return std::nullopt;
    return r;
}

/// One spatial axis of the sub-pixel form of a ConvTranspose (stride s, kernel k, begin pad pt, output length
/// s * (in + e)): output position q*s + r reads input q + a - m with weight tap b + m*s, where r + pt = a*s + b.
/// The Conv covering every phase has T taps, begin pad P and end pad pend.
struct SubpixelAxis {
    int64_t s = 1, k = 1, pt = 0, e = 0;
    int64_t lo = 0, taps = 1, pend = 0;
};

SubpixelAxis plan_axis(int64_t s, int64_t k, int64_t pt, int64_t e) {
    SubpixelAxis p{s, k, pt, e};
    int64_t lo = 0, hi = INT64_MIN;
    for (int64_t r = 0; r < s; ++r) {
        const int64_t a = (r + pt) / s, b = (r + pt) % s;
        if (b >= k) continue;
        const int64_t m = (k - b + s - 1) / s;  // taps of this phase
        lo = std::min(lo, a - m + 1);
        hi = std::max(hi, a);
    }
    p.lo = lo;
    p.taps = hi - lo + 1;
    // Conv output length in + P + pend - T + 1 must be in + e; zero taps at the end keep pend non-negative.
    p.pend = e + lo + p.taps - 1;
    if (p.pend < 0) {
        p.taps -= p.pend;
        p.pend = 0;
    }
    return p;
}

/// The Conv (with rearranged weights and tiled bias) producing the sh*sw output phases of ConvTranspose `n`, phase
/// (rh, rw) in channels [(rh*sw + rw) * M, +M). nullopt when the node is not a 2-D, group-1, undilated
/// ConvTranspose with constant float weights whose output splits evenly into phases.
struct SubpixelPlan {
    SubpixelAxis ax[2];
    int64_t cin = 0, cout = 0;
    Tensor w, b;  ///< float32 Conv weight [sh*sw*M, C, Th, Tw] and bias (undefined if none)
    DType dtype = DType::kUndefined;
};

std::optional<SubpixelPlan> plan_subpixel(const ir::Node* n) {
    if (!is_op(n, "ConvTranspose") || !n->def || !rw::outputs_rewirable(n)) return std::nullopt;
    const AttrAccess a = attrs_of(*n);
    const ir::Value* x = n->input(0);
    std::optional<Tensor> w = passes::const_f32(n->input(1));
    const DType dt = rw::dtype_of(n->input(1));
    if (passes::rank_of(x) != 4 || !w || w->rank() != 4 || !rw::is_float(dt) || rw::dtype_of(x) != dt)
        return std::nullopt;
    if (a.attr_int("group") != 1) return std::nullopt;
    const auto strides = rw::ints_or(*n, "strides", 2, 1), dil = rw::ints_or(*n, "dilations", 2, 1);
    const auto pads = rw::ints_or(*n, "pads", 4, 0), adj = rw::ints_or(*n, "output_padding", 2, 0);
    if (!strides || !dil || !pads || !adj || (*dil)[0] != 1 || (*dil)[1] != 1) return std::nullopt;
    const std::vector<int64_t> ks = a.attr_ints("kernel_shape");
    if (!ks.empty() && ks != std::vector<int64_t>{w->dim(2), w->dim(3)}) return std::nullopt;
    std::vector<int64_t> out_shape = a.attr_ints("output_shape");
    if (out_shape.size() == 4) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (!out_shape.empty() && out_shape.size() != 2) return std::nullopt;
    const std::string auto_pad = a.attr_string("auto_pad");
    const auto& xd = x->type.dims;
    SubpixelPlan p;
    p.dtype = dt;
    p.cin = w->dim(0);
    p.cout = w->dim(1);
    if (xd[1].is_static() && xd[1].value != p.cin) return std::nullopt;
    for (size_t i = 0; i < 2; ++i) {
        const int64_t s = (*strides)[i], k = w->dim(int64_t(i) + 2), in = xd[i + 2].value;
        if (s < 1 || (*adj)[i] < 0 || (*adj)[i] >= s) return std::nullopt;
        int64_t pt = 0, e = 0;
        if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            // Pads derived from the requested output length, as the ConvTranspose kernel derives them.
            if (!xd[i + 2].is_static()) return std::nullopt;
            const int64_t full = s * (in - 1) + (*adj)[i] + k;
            const int64_t target = out_shape.empty() ? in * s : out_shape[i];
            const int64_t total = std::max<int64_t>(0, full - target), small = total / 2;
            pt = auto_pad == "SAME_UPPER" ? small : total - small;
            if (target <= 0 || target % s != 0) return std::nullopt;
            e = target / s - in;
        } else {
            const int64_t pe = auto_pad == "VALID" ? 0 : (*pads)[i + 2];
            pt = auto_pad == "VALID" ? 0 : (*pads)[i];
            if (pt < 0 || pe < 0) return std::nullopt;
            const int64_t num = (*adj)[i] + k - pt - pe;  // output length = s * in + num - s
            if (((num % s) + s) % s != 0) return std::nullopt;
            e = (num - s) / s;
            if (xd[i + 2].is_static() && in + e <= 0) return std::nullopt;
        }
        p.ax[i] = plan_axis(s, k, pt, e);
    }
    const SubpixelAxis &ah = p.ax[0], &aw = p.ax[1];
    const int64_t phases = ah.s * aw.s, m = p.cout, c = p.cin;
    p.w = std::move(Tensor::create(DType::kFloat32, {phases * m, c, ah.taps, aw.taps}, true)).value();
    float* dst = p.w.data<float>();
    const float* src = w->data<float>();
    for (int64_t rh = 0; rh < ah.s; ++rh) {
        const int64_t a_h = (rh + ah.pt) / ah.s, b_h = (rh + ah.pt) % ah.s;
        for (int64_t rw_ = 0; rw_ < aw.s; ++rw_) {
            const int64_t a_w = (rw_ + aw.pt) / aw.s, b_w = (rw_ + aw.pt) % aw.s;
            for (int64_t th = 0; th < ah.taps; ++th) {
                const int64_t mh = a_h - (th + ah.lo), ky = b_h + mh * ah.s;
                if (mh < 0 || ky >= ah.k) continue;
                for (int64_t tw = 0; tw < aw.taps; ++tw) {
                    const int64_t mw = a_w - (tw + aw.lo), kx = b_w + mw * aw.s;
                    if (mw < 0 || kx >= aw.k) continue;
                    for (int64_t o = 0; o < m; ++o) {
                        const int64_t oc = (rh * aw.s + rw_) * m + o;
                        for (int64_t ci = 0; ci < c; ++ci) {
                            dst[((oc * c + ci) * ah.taps + th) * aw.taps + tw] =
                                src[((ci * m + o) * ah.k + ky) * aw.k + kx];
                        }
                    }
                }
            }
        }
    }
    if (n->input(2)) {
        std::optional<Tensor> b = passes::const_f32(n->input(2));
        if (!b || b->numel() != m) return std::nullopt;
        p.b = std::move(Tensor::create(DType::kFloat32, {phases * m})).value();
        for (int64_t i = 0; i < phases * m; ++i) p.b.data<float>()[i] = b->data<float>()[i % m];
    }
    return p;
}

/// Adds the sub-pixel Conv of plan `p` for ConvTranspose `n`; returns its output.
Result<ir::Value*> add_subpixel_conv(ir::Graph& g, ir::Node* n, RewriteContext& ctx, const SubpixelPlan& p) {
    ir::Value* w = rw::float_const(g, n->name() + "_subpixel_w", p.w, p.dtype);
    ir::Value* b = p.b.defined() ? rw::float_const(g, n->name() + "_subpixel_b", p.b, p.dtype) : nullptr;
    if (!w || (p.b.defined() && !b)) return internal_error("cannot convert the rearranged weights back to their dtype");
    std::vector<ir::Value*> ins = {n->input(0), w};
    if (b) ins.push_back(b);
    NNPORT_ASSIGN_OR_RETURN(ir::Node * conv, make_node(g, ctx.pass_ctx, "Conv", "", n->name() + "_subpixel", ins));
    conv->attrs["kernel_shape"] = ir::Attribute::make_ints({p.ax[0].taps, p.ax[1].taps});
    conv->attrs["pads"] = ir::Attribute::make_ints({-p.ax[0].lo, -p.ax[1].lo, p.ax[0].pend, p.ax[1].pend});
    return conv->output(0);
}

}  // namespace

Result<bool> rewrite_resize_nearest_to_depthtospace(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    std::optional<rw::ResizeUpscale> r = nearest_upscale(n);
    if (!r || r->sh != r->sw) return false;
    // DepthToSpace (DCR) of [x, x, ..., x] (s*s copies along channels) puts x[c, h, w] at (h*s + i, w*s + j).
    std::vector<ir::Value*> copies(size_t(r->sh * r->sw), n->input(0));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * cat, make_node(g, ctx.pass_ctx, "Concat", "", n->name() + "_repeat", copies));
    cat->attrs["axis"] = ir::Attribute::make_int(1);
    NNPORT_ASSIGN_OR_RETURN(ir::Node * d2s,
                            make_node(g, ctx.pass_ctx, "DepthToSpace", "", n->name() + "_d2s", {cat->output(0)}));
    d2s->attrs["blocksize"] = ir::Attribute::make_int(r->sh);
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), d2s->output(0)));
    return true;
}

Result<bool> rewrite_resize_nearest_to_convtranspose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    std::optional<rw::ResizeUpscale> r = nearest_upscale(n);
    if (!r) return false;
    Tensor ones = std::move(Tensor::create(DType::kFloat32, {r->c, 1, r->sh, r->sw})).value();
    std::fill(ones.data<float>(), ones.data<float>() + ones.numel(), 1.0f);
    ir::Value* w = rw::float_const(g, n->name() + "_ones", ones, rw::dtype_of(n->input(0)));
    if (!w) return internal_error("cannot build the ConvTranspose weights");
    NNPORT_ASSIGN_OR_RETURN(ir::Node * ct,
                            make_node(g, ctx.pass_ctx, "ConvTranspose", "", n->name() + "_upsample", {n->input(0), w}));
    ct->attrs["group"] = ir::Attribute::make_int(r->c);
    ct->attrs["kernel_shape"] = ir::Attribute::make_ints({r->sh, r->sw});
    ct->attrs["strides"] = ir::Attribute::make_ints({r->sh, r->sw});
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), ct->output(0)));
    return true;
}

Result<bool> rewrite_convtranspose_subpixel(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    std::optional<SubpixelPlan> p = plan_subpixel(n);
    if (!p || p->ax[0].s != p->ax[1].s) return false;  // DepthToSpace has one block size
    NNPORT_ASSIGN_OR_RETURN(ir::Value * y, add_subpixel_conv(g, n, ctx, *p));
    if (p->ax[0].s > 1) {
        NNPORT_ASSIGN_OR_RETURN(ir::Node * d2s,
                                make_node(g, ctx.pass_ctx, "DepthToSpace", "", n->name() + "_d2s", {y}));
        d2s->attrs["blocksize"] = ir::Attribute::make_int(p->ax[0].s);
        y = d2s->output(0);
    }
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), y));
    return true;
}

Result<bool> rewrite_convtranspose_conv_reshape_transpose(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    std::optional<SubpixelPlan> p = plan_subpixel(n);
    const ir::Value* x = n->input(0);
    if (!p || !x->type.dims[2].is_static() || !x->type.dims[3].is_static()) return false;
    const int64_t sh = p->ax[0].s, sw = p->ax[1].s, m = p->cout;
    const int64_t qh = x->type.dims[2].value + p->ax[0].e, qw = x->type.dims[3].value + p->ax[1].e;
    NNPORT_ASSIGN_OR_RETURN(ir::Value * y, add_subpixel_conv(g, n, ctx, *p));
    if (sh * sw > 1) {
        // [N, sh*sw*M, Qh, Qw] -> [N, sh, sw, M, Qh, Qw] -> [N, M, Qh, sh, Qw, sw] -> [N, M, Qh*sh, Qw*sw]
        // (0 in a Reshape shape copies the batch dimension).
        NNPORT_ASSIGN_OR_RETURN(ir::Node * r1,
                                make_node(g, ctx.pass_ctx, "Reshape", "", n->name() + "_phases",
                                          {y, rw::i64_const(g, n->name() + "_shape6", {0, sh, sw, m, qh, qw})}));
        NNPORT_ASSIGN_OR_RETURN(
            ir::Node * t, make_node(g, ctx.pass_ctx, "Transpose", "", n->name() + "_interleave", {r1->output(0)}));
        t->attrs["perm"] = ir::Attribute::make_ints({0, 3, 4, 1, 5, 2});
        NNPORT_ASSIGN_OR_RETURN(
            ir::Node * r2,
            make_node(g, ctx.pass_ctx, "Reshape", "", n->name() + "_merge",
                      {t->output(0), rw::i64_const(g, n->name() + "_shape4", {0, m, qh * sh, qw * sw})}));
        y = r2->output(0);
    }
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), y));
    return true;
}

}  // namespace nnport::convert

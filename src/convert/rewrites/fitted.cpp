// Fitted (approximate) substitutions of `nnport convert`: where no exact form exists, the substitute's parameters are
// fitted layer-wise by least squares to reproduce the original node's outputs on calibration samples (or synthetic
// inputs), and the residual is reported as an ApproxRecord.
//   resize_linear_to_convtranspose_fitted: bilinear integer upscaling -> depthwise ConvTranspose (kernel 2s, stride
//     s, one kernel shared by all channels; the begin pad giving the smallest residual).
//   conv_kernel_shrink_fitted: a Conv whose kernel exceeds the target's limit -> a Conv with the largest allowed
//     kernel, started from the centre crop and refitted per output channel (ridge towards that crop).
#include <algorithm>
#include <cmath>
#include <random>

#include "convert/least_squares.hpp"
#include "convert/rewrites/structural_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::convert {

using passes::attrs_of;
using passes::is_op;
using passes::make_node;

namespace {

constexpr int kSyntheticSamples = 4;
constexpr double kRidge = 1e-6;

/// Float32 samples of `v`: ctx.samples when given (each must have v's static shape), else kSyntheticSamples
/// uniform [-1, 1) tensors of that shape.
Result<std::vector<Tensor>> fit_inputs(RewriteContext& ctx, const ir::Value* v, const Shape& shape) {
    std::vector<Tensor> out;
    if (ctx.samples) {
        NNPORT_ASSIGN_OR_RETURN(std::vector<Tensor> s, ctx.samples(v));
        for (const Tensor& t : s) {
            if (t.shape() != shape) {
                return invalid_argument("calibration sample of '" + v->name() + "' has shape " +
                                        shape_to_string(t.shape()) + ", the model says " + shape_to_string(shape));
            }
            NNPORT_ASSIGN_OR_RETURN(Tensor f, passes::to_float32(t));
            out.push_back(std::move(f));
        }
    }
    if (!out.empty()) return out;
    std::mt19937 rng(12345);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int i = 0; i < kSyntheticSamples; ++i) {
        Tensor t = std::move(Tensor::create(DType::kFloat32, shape)).value();
        for (int64_t j = 0; j < t.numel(); ++j) t.data<float>()[j] = u(rng);
        out.push_back(std::move(t));
    }
    return out;
}

/// Output 0 of node `n` evaluated by its reference kernel with input 0 = `x` (other inputs constant).
Result<Tensor> eval_on(const ir::Node& n, const Tensor& x) {
    std::optional<Tensor> xd = passes::as_dtype(x, rw::dtype_of(n.input(0)));
    if (!xd) return internal_error("cannot convert a sample to the input's dtype");
    std::vector<Tensor> r = passes::evaluate_node(
        n, [&](const ir::Value* v) -> const Tensor* { return v == n.input(0) ? &*xd : passes::const_tensor(v); });
    if (r.empty() || !r[0].defined()) return internal_error("cannot evaluate " + n.describe() + " on a sample");
    return passes::to_float32(r[0]);
}

/// Accumulates max |fit - ref|, sum (fit - ref)^2 and sum ref^2.
struct Residual {
    double max_abs = 0, sq_err = 0, sq_ref = 0;
    void add(double fit, double ref) {
        const double e = fit - ref;
        max_abs = std::max(max_abs, std::fabs(e));
        sq_err += e * e;
        sq_ref += ref * ref;
    }
    double rel_rms() const { return sq_ref > 0 ? std::sqrt(sq_err / sq_ref) : std::sqrt(sq_err); }
};

/// Taps of a stride-s, kernel-2s transposed convolution with begin pad pb along one axis: output position y reads
/// input (y + pb) / s with tap (y + pb) % s, and the input before it with the tap s further on.
int resize_taps(int64_t y, int64_t s, int64_t pb, int64_t in, int64_t* idx, int64_t* tap) {
    const int64_t u = y + pb;
    int cnt = 0;
    for (int64_t j = 0; j < 2; ++j) {
        const int64_t h = u / s - j, t = u % s + j * s;
        if (h >= 0 && h < in) {
            idx[cnt] = h;
            tap[cnt++] = t;
        }
    }
    return cnt;
}

}  // namespace

Result<bool> rewrite_resize_linear_to_convtranspose_fitted(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    std::optional<rw::ResizeUpscale> r = rw::resize_upscale(n, "linear");
    if (!r || r->sh > 8 || r->sw > 8) return false;
    const Shape xs = {r->n, r->c, r->h, r->w};
    NNPORT_ASSIGN_OR_RETURN(std::vector<Tensor> xin, fit_inputs(ctx, n->input(0), xs));
    std::vector<Tensor> ref;
    for (const Tensor& x : xin) {
        NNPORT_ASSIGN_OR_RETURN(Tensor y, eval_on(*n, x));
        ref.push_back(std::move(y));
    }
    const int64_t kh = 2 * r->sh, kw = 2 * r->sw, oh = r->h * r->sh, ow = r->w * r->sw;
    const int64_t planes = static_cast<int64_t>(xin.size()) * r->n * r->c;
    // Every channel shares the kernel: a subset of the planes is plenty for the (2s)^2 unknowns.
    const int64_t use = std::clamp<int64_t>((int64_t{1} << 20) / std::max<int64_t>(1, oh * ow), 1, planes);
    auto plane = [&](const std::vector<Tensor>& ts, int64_t p, int64_t len) {
        const int64_t per = r->n * r->c;
        return ts[size_t(p / per)].data<float>() + (p % per) * len;
    };
    // Output of the candidate kernel `k` with begin pads (pbh, pbw) at (y, x) of plane p.
    auto predict = [&](const std::vector<double>& k, int64_t pbh, int64_t pbw, const float* xp, int64_t y, int64_t x) {
        int64_t ih[2], th[2], iw[2], tw[2];
        const int nh = resize_taps(y, r->sh, pbh, r->h, ih, th), nw = resize_taps(x, r->sw, pbw, r->w, iw, tw);
        double v = 0;
        for (int a = 0; a < nh; ++a) {
            for (int b = 0; b < nw; ++b) v += k[size_t(th[a] * kw + tw[b])] * xp[ih[a] * r->w + iw[b]];
        }
        return v;
    };
    std::vector<double> best;
    int64_t best_h = 0, best_w = 0;
    double best_err = INFINITY;
    for (int64_t pbh = 0; pbh <= r->sh; ++pbh) {
        for (int64_t pbw = 0; pbw <= r->sw; ++pbw) {
            NormalEquations ne(size_t(kh * kw));
            for (int64_t p = 0; p < use; ++p) {
                const float* xp = plane(xin, p, r->h * r->w);
                const float* yp = plane(ref, p, oh * ow);
                for (int64_t y = 0; y < oh; ++y) {
                    for (int64_t x = 0; x < ow; ++x) {
                        int64_t ih[2], th[2], iw[2], tw[2];
                        const int nh = resize_taps(y, r->sh, pbh, r->h, ih, th);
                        const int nw = resize_taps(x, r->sw, pbw, r->w, iw, tw);
                        size_t idx[4];
                        double val[4];
                        size_t cnt = 0;
                        for (int a = 0; a < nh; ++a) {
                            for (int b = 0; b < nw; ++b) {
                                idx[cnt] = size_t(th[a] * kw + tw[b]);
                                val[cnt++] = xp[ih[a] * r->w + iw[b]];
                            }
                        }
                        const double target = yp[y * ow + x];
                        ne.add_sparse_row(idx, val, cnt, &target);
                    }
                }
            }
            NNPORT_ASSIGN_OR_RETURN(std::vector<double> k, ne.solve(kRidge));
            Residual res;
            for (int64_t p = 0; p < use; ++p) {
                const float* xp = plane(xin, p, r->h * r->w);
                const float* yp = plane(ref, p, oh * ow);
                for (int64_t y = 0; y < oh; ++y) {
                    for (int64_t x = 0; x < ow; ++x) res.add(predict(k, pbh, pbw, xp, y, x), yp[y * ow + x]);
                }
            }
            if (res.sq_err < best_err) {
                best_err = res.sq_err;
                best = std::move(k);
                best_h = pbh;
                best_w = pbw;
            }
        }
    }
    Residual all;
    for (int64_t p = 0; p < planes; ++p) {
        const float* xp = plane(xin, p, r->h * r->w);
        const float* yp = plane(ref, p, oh * ow);
        for (int64_t y = 0; y < oh; ++y) {
            for (int64_t x = 0; x < ow; ++x) all.add(predict(best, best_h, best_w, xp, y, x), yp[y * ow + x]);
        }
    }
    Tensor w = std::move(Tensor::create(DType::kFloat32, {r->c, 1, kh, kw})).value();
    for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = static_cast<float>(best[size_t(i % (kh * kw))]);
    ir::Value* wv = rw::float_const(g, n->name() + "_fitted_w", w, rw::dtype_of(n->input(0)));
    if (!wv) return internal_error("cannot convert the fitted weights to the input's dtype");
    NNPORT_ASSIGN_OR_RETURN(ir::Node * ct,
                            make_node(g, ctx.pass_ctx, "ConvTranspose", "", n->name() + "_fitted", {n->input(0), wv}));
    ct->attrs["group"] = ir::Attribute::make_int(r->c);
    ct->attrs["kernel_shape"] = ir::Attribute::make_ints({kh, kw});
    ct->attrs["strides"] = ir::Attribute::make_ints({r->sh, r->sw});
    ct->attrs["pads"] = ir::Attribute::make_ints({best_h, best_w, r->sh - best_h, r->sw - best_w});
    ctx.approx.push_back({"resize_linear_to_convtranspose_fitted", n->name(), all.max_abs, all.rel_rms()});
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), ct->output(0)));
    return true;
}

namespace {

/// Begin and end pads of one spatial axis of a Conv (explicit, VALID, or SAME_* for a static input length).
std::optional<std::pair<int64_t, int64_t>> conv_pads(const std::string& auto_pad, const std::vector<int64_t>& pads,
                                                     size_t i, int64_t in, int64_t k, int64_t s) {
    if (auto_pad == "VALID") return std::make_pair(int64_t{0}, int64_t{0});
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        const int64_t out = (in + s - 1) / s;
        const int64_t total = std::max<int64_t>(0, (out - 1) * s + k - in), small = total / 2;
        const int64_t b = auto_pad == "SAME_UPPER" ? small : total - small;
        return std::make_pair(b, total - b);
    }
    if (auto_pad != "NOTSET") return std::nullopt;
    return std::make_pair(pads[i], pads[i + 2]);
}

}  // namespace

Result<bool> rewrite_conv_kernel_shrink_fitted(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Conv") || !n->def || !rw::outputs_rewirable(n) || !ctx.profile) return false;
    const OpConstraints* lim = ctx.profile->find_op("", "Conv");
    if (!lim) return false;
    const auto kmax_it = lim->attr_max.find("kernel_shape");
    if (kmax_it == lim->attr_max.end() || kmax_it->second < 1) return false;
    const int64_t kmax = kmax_it->second;
    const std::optional<Shape> xs = rw::static_shape(n->input(0));
    std::optional<Tensor> w = passes::const_f32(n->input(1));
    const DType dt = rw::dtype_of(n->input(1));
    if (!xs || xs->size() != 4 || !w || w->rank() != 4 || !rw::is_float(dt) || rw::dtype_of(n->input(0)) != dt)
        return false;
    const AttrAccess a = attrs_of(*n);
    const int64_t group = a.attr_int("group"), m = w->dim(0), cg = w->dim(1);
    if (group < 1 || cg * group != (*xs)[1] || m % group != 0) return false;
    const auto dil = rw::ints_or(*n, "dilations", 2, 1), strides = rw::ints_or(*n, "strides", 2, 1);
    const auto pads = rw::ints_or(*n, "pads", 4, 0);
    if (!dil || !strides || !pads || (*dil)[0] != 1 || (*dil)[1] != 1) return false;
    const int64_t k[2] = {w->dim(2), w->dim(3)};
    if (k[0] <= kmax && k[1] <= kmax) return false;
    int64_t kn[2], crop[2], pb[2], pe[2], out[2];
    for (size_t i = 0; i < 2; ++i) {
        const int64_t in = (*xs)[i + 2], s = (*strides)[i];
        const auto p = conv_pads(a.attr_string("auto_pad"), *pads, i, in, k[i], s);
        if (!p || s < 1 || in + p->first + p->second < k[i]) return false;
        // The kept window k' = min(k, kmax) must see the same positions: crop c0 taps at the start and d - c0 at the
        // end, with the pads shrinking by as much (they may not go negative), as centred as possible.
        kn[i] = std::min(k[i], kmax);
        const int64_t d = k[i] - kn[i], lo = std::max<int64_t>(0, d - p->second), hi = std::min(d, p->first);
        if (lo > hi) return false;
        crop[i] = std::clamp(d / 2, lo, hi);
        pb[i] = p->first - crop[i];
        pe[i] = p->second - (d - crop[i]);
        out[i] = (in + p->first + p->second - k[i]) / s + 1;
    }
    NNPORT_ASSIGN_OR_RETURN(std::vector<Tensor> xin, fit_inputs(ctx, n->input(0), *xs));
    std::vector<Tensor> ref;
    for (const Tensor& x : xin) {
        NNPORT_ASSIGN_OR_RETURN(Tensor y, eval_on(*n, x));
        ref.push_back(std::move(y));
    }
    std::optional<Tensor> bias = n->input(2) ? passes::const_f32(n->input(2)) : std::nullopt;
    if (n->input(2) && (!bias || bias->numel() != m)) return false;
    const int64_t mg = m / group, h = (*xs)[2], wd = (*xs)[3], batch = (*xs)[0];
    const size_t unknowns = size_t(cg * kn[0] * kn[1] + 1);  // the kept taps of one output channel, and its bias
    const int64_t positions = static_cast<int64_t>(xin.size()) * batch * out[0] * out[1];
    // Every position is one row of the design; past a generous multiple of the unknowns, a regular subset does.
    const int64_t step = std::max<int64_t>(1, positions / std::max<int64_t>(4096, 16 * int64_t(unknowns)));
    std::vector<double> patch(unknowns), target(static_cast<size_t>(mg));
    auto fill_patch = [&](int64_t pos, int64_t gi) {
        const int64_t ox = pos % out[1], oy = (pos / out[1]) % out[0], img = pos / (out[0] * out[1]);
        const float* x = xin[size_t(img / batch)].data<float>() + ((img % batch) * (*xs)[1] + gi * cg) * h * wd;
        size_t u = 0;
        for (int64_t ci = 0; ci < cg; ++ci) {
            for (int64_t ty = 0; ty < kn[0]; ++ty) {
                const int64_t iy = oy * (*strides)[0] + ty - pb[0];
                for (int64_t tx = 0; tx < kn[1]; ++tx) {
                    const int64_t ix = ox * (*strides)[1] + tx - pb[1];
                    patch[u++] = (iy >= 0 && iy < h && ix >= 0 && ix < wd) ? x[(ci * h + iy) * wd + ix] : 0.0;
                }
            }
        }
        patch[u] = 1.0;
    };
    auto ref_at = [&](int64_t pos, int64_t oc) {
        const int64_t sp = pos % (out[0] * out[1]), img = pos / (out[0] * out[1]);
        return double(ref[size_t(img / batch)].data<float>()[((img % batch) * m + oc) * out[0] * out[1] + sp]);
    };
    std::vector<double> fitted(size_t(m) * unknowns);  // per output channel: kept taps, then bias
    for (int64_t gi = 0; gi < group; ++gi) {
        NormalEquations ne(unknowns, size_t(mg));
        std::vector<double> prior(unknowns * size_t(mg));
        for (int64_t j = 0; j < mg; ++j) {
            const int64_t oc = gi * mg + j;
            size_t u = 0;
            for (int64_t ci = 0; ci < cg; ++ci) {
                for (int64_t ty = 0; ty < kn[0]; ++ty) {
                    for (int64_t tx = 0; tx < kn[1]; ++tx) {
                        const int64_t src = ((oc * cg + ci) * k[0] + ty + crop[0]) * k[1] + tx + crop[1];
                        prior[u++ * size_t(mg) + size_t(j)] = w->data<float>()[src];
                    }
                }
            }
            prior[u * size_t(mg) + size_t(j)] = bias ? bias->data<float>()[oc] : 0.0;
        }
        for (int64_t pos = 0; pos < positions; pos += step) {
            fill_patch(pos, gi);
            for (int64_t j = 0; j < mg; ++j) target[size_t(j)] = ref_at(pos, gi * mg + j);
            ne.add_row(patch.data(), target.data());
        }
        NNPORT_ASSIGN_OR_RETURN(std::vector<double> sol, ne.solve(kRidge, prior));
        for (int64_t j = 0; j < mg; ++j) {
            for (size_t u = 0; u < unknowns; ++u)
                fitted[size_t(gi * mg + j) * unknowns + u] = sol[u * size_t(mg) + size_t(j)];
        }
    }
    Residual res;
    for (int64_t pos = 0; pos < positions; ++pos) {
        for (int64_t gi = 0; gi < group; ++gi) {
            fill_patch(pos, gi);
            for (int64_t j = 0; j < mg; ++j) {
                const double* f = &fitted[size_t(gi * mg + j) * unknowns];
                double v = 0;
                for (size_t u = 0; u < unknowns; ++u) v += f[u] * patch[u];
                res.add(v, ref_at(pos, gi * mg + j));
            }
        }
    }
    Tensor nw = std::move(Tensor::create(DType::kFloat32, {m, cg, kn[0], kn[1]})).value();
    Tensor nb = std::move(Tensor::create(DType::kFloat32, {m})).value();
    for (int64_t oc = 0; oc < m; ++oc) {
        for (size_t u = 0; u + 1 < unknowns; ++u)
            nw.data<float>()[size_t(oc) * (unknowns - 1) + u] = float(fitted[size_t(oc) * unknowns + u]);
        nb.data<float>()[oc] = float(fitted[size_t(oc) * unknowns + unknowns - 1]);
    }
    ir::Value* wv = rw::float_const(g, n->name() + "_fitted_w", nw, dt);
    ir::Value* bv = rw::float_const(g, n->name() + "_fitted_b", nb, dt);
    if (!wv || !bv) return internal_error("cannot convert the fitted weights to " + std::string(dtype_name(dt)));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * c,
                            make_node(g, ctx.pass_ctx, "Conv", "", n->name() + "_fitted", {n->input(0), wv, bv}));
    c->attrs["group"] = ir::Attribute::make_int(group);
    c->attrs["strides"] = ir::Attribute::make_ints(*strides);
    c->attrs["kernel_shape"] = ir::Attribute::make_ints({kn[0], kn[1]});
    c->attrs["pads"] = ir::Attribute::make_ints({pb[0], pb[1], pe[0], pe[1]});
    ctx.approx.push_back({"conv_kernel_shrink_fitted", n->name(), res.max_abs, res.rel_rms()});
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), c->output(0)));
    return true;
}

}  // namespace nnport::convert

// Normalization ops: BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization, LRN,
// MeanVarianceNormalization, LpNormalization.
#include <cmath>

#include "ops/nn_util.hpp"

namespace nnport {

namespace {

/// Values of a small parameter tensor as doubles.
std::vector<double> as_doubles(const Tensor& t) {
    std::vector<double> v(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.item_as_double(i);
    return v;
}

Status check_param(const KernelContext& ctx, size_t i, int64_t count, const char* what) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    if (ctx.input(i).numel() != count || !dtype_is_float(ctx.input(i).dtype())) {
        return ctx.input_error(std::string(what) + " must hold " + std::to_string(count) + " float values, got " +
                               shape_to_string(ctx.input(i).shape()));
    }
    return Status::ok();
}

/// Mean and biased variance of `n` values (two passes, double accumulation).
template <typename T>
void moments(const T* x, int64_t n, double& mean, double& var) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
    mean = n ? s / static_cast<double>(n) : 0.0;
    double q = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - mean;
        q += d * d;
    }
    var = n ? q / static_cast<double>(n) : 0.0;
}

/// y[i] = x[i] * a + b over n values.
template <typename T>
void affine(const T* __restrict x, T* __restrict y, int64_t n, T a, T b) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

// ---- BatchNormalization -------------------------------------------------------------------------------------

Status batch_norm_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    ctx.set_output(0, xt);
    for (size_t i = 1; i < ctx.num_outputs() && i < 3; ++i) ctx.set_output(i, ctx.input_type(i + 2));
    for (size_t i = 3; i < ctx.num_outputs(); ++i) ctx.set_output(i, ctx.input_type(3));
    return Status::ok();
}

Status batch_norm_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.rank() < 1) return ctx.input_error("input must have rank >= 1");
    const int64_t n = x.dim(0), c = x.rank() > 1 ? x.dim(1) : 1;
    const int64_t inner = (n * c) == 0 ? 0 : x.numel() / (n * c);
    for (size_t i = 1; i < 5; ++i) NNPORT_RETURN_IF_ERROR(check_param(ctx, i, c, "scale, bias, mean and var"));
    const double eps = ctx.attr_float("epsilon"), momentum = ctx.attr_float("momentum");
    // training_mode (opset 14+); older opsets signal training by asking for the extra outputs.
    const bool training = ctx.attr_int("training_mode") != 0 || (ctx.opset() < 14 && ctx.has_output(1));
    std::vector<double> scale = as_doubles(ctx.input(1)), bias = as_doubles(ctx.input(2));
    std::vector<double> mean = as_doubles(ctx.input(3)), var = as_doubles(ctx.input(4));
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        const T* xd = x.data<T>();
        T* yd = y->data<T>();
        std::vector<double> bm(static_cast<size_t>(c)), bv(static_cast<size_t>(c));
        if (training) {
            const double cnt = static_cast<double>(n * inner);
            for (int64_t ch = 0; ch < c; ++ch) {
                double s = 0.0, q = 0.0;
                for (int64_t b = 0; b < n; ++b) {
                    const T* p = xd + (b * c + ch) * inner;
                    for (int64_t i = 0; i < inner; ++i) s += static_cast<double>(p[i]);
                }
                const double mu = cnt > 0 ? s / cnt : 0.0;
                for (int64_t b = 0; b < n; ++b) {
                    const T* p = xd + (b * c + ch) * inner;
                    for (int64_t i = 0; i < inner; ++i) q += (static_cast<double>(p[i]) - mu) * (static_cast<double>(p[i]) - mu);
                }
                bm[size_t(ch)] = mu;
                bv[size_t(ch)] = cnt > 0 ? q / cnt : 0.0;
            }
        } else {
            bm = mean;
            bv = var;
        }
        ctx.parallel_for(n * c, [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                const size_t ch = static_cast<size_t>(p % c);
                const double a = scale[ch] / std::sqrt(bv[ch] + eps);
                affine<T>(xd + p * inner, yd + p * inner, inner, static_cast<T>(a), static_cast<T>(bias[ch] - bm[ch] * a));
            }
        });
        if (training) {
            // Outputs 1, 2: running mean / var; opset < 14 adds saved mean / var as outputs 3, 4.
            for (size_t o = 1; o < 5; ++o) {
                if (!ctx.has_output(o)) continue;
                const DType pdt = ctx.input(3).dtype();
                NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(o, pdt, {c}));
                for (int64_t ch = 0; ch < c; ++ch) {
                    const size_t k = static_cast<size_t>(ch);
                    double v = o == 1   ? mean[k] * momentum + bm[k] * (1.0 - momentum)
                               : o == 2 ? var[k] * momentum + bv[k] * (1.0 - momentum)
                               : o == 3 ? bm[k]
                                        : bv[k];
                    if (pdt == DType::kFloat64) t->data<double>()[ch] = v;
                    else t->data<float>()[ch] = static_cast<float>(v);
                }
            }
        }
    });
    return Status::ok();
}

// ---- InstanceNormalization ----------------------------------------------------------------------------------

Status instance_norm_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2) return ctx.input_error("input must have rank >= 2");
    const int64_t n = x.dim(0), c = x.dim(1);
    const int64_t inner = (n * c) == 0 ? 0 : x.numel() / (n * c);
    NNPORT_RETURN_IF_ERROR(check_param(ctx, 1, c, "scale"));
    NNPORT_RETURN_IF_ERROR(check_param(ctx, 2, c, "bias"));
    const std::vector<double> scale = as_doubles(ctx.input(1)), bias = as_doubles(ctx.input(2));
    const double eps = ctx.attr_float("epsilon");
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        const T* xd = x.data<T>();
        T* yd = y->data<T>();
        ctx.parallel_for(n * c, [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                const size_t ch = static_cast<size_t>(p % c);
                double mu, var;
                moments(xd + p * inner, inner, mu, var);
                const double a = scale[ch] / std::sqrt(var + eps);
                affine<T>(xd + p * inner, yd + p * inner, inner, static_cast<T>(a), static_cast<T>(bias[ch] - mu * a));
            }
        });
    });
    return Status::ok();
}

// ---- LayerNormalization -------------------------------------------------------------------------------------

Status layer_norm_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    ctx.set_output(0, xt);
    const DType st = ctx.attr_int("stash_type") == 1 ? DType::kFloat32 : xt.dtype;
    if (!xt.has_shape) {
        ctx.set_output(1, ir::ValueType::tensor(st));
        ctx.set_output(2, ir::ValueType::tensor(st));
        return Status::ok();
    }
    const int64_t r = static_cast<int64_t>(xt.dims.size());
    auto axis = normalize_axis(ctx.attr_int("axis"), r);
    if (!axis.is_ok()) return ctx.error(axis.status().message());
    std::vector<ir::Dim> d(xt.dims.begin(), xt.dims.begin() + axis.value());
    d.resize(static_cast<size_t>(r), ir::Dim(1));
    ctx.set_output(1, ir::ValueType::tensor(st, d));
    ctx.set_output(2, ir::ValueType::tensor(st, d));
    return Status::ok();
}

/// Expands a parameter tensor broadcastable to `inner_shape` into a dense vector.
Result<std::vector<double>> expand_param(const KernelContext& ctx, const Tensor& p, const Shape& inner_shape) {
    if (!dtype_is_float(p.dtype())) return ctx.input_error("scale/bias must be floats");
    if (p.rank() > static_cast<int64_t>(inner_shape.size())) {
        return ctx.input_error("scale/bias " + shape_to_string(p.shape()) + " has a higher rank than the normalized shape");
    }
    auto b = broadcast_shapes(p.shape(), inner_shape);
    if (!b.is_ok() || b.value() != inner_shape) {
        return ctx.input_error("scale/bias " + shape_to_string(p.shape()) + " does not broadcast to " +
                               shape_to_string(inner_shape));
    }
    const int64_t n = shape_numel(inner_shape);
    std::vector<double> out(static_cast<size_t>(n));
    const std::vector<int64_t> st = broadcast_strides(p.shape(), inner_shape);
    const std::vector<int64_t> own = strides_of(inner_shape);
    for (int64_t i = 0; i < n; ++i) {
        int64_t off = 0, rem = i;
        for (size_t d = 0; d < inner_shape.size(); ++d) {
            off += (rem / own[d]) * st[d];
            rem %= own[d];
        }
        out[static_cast<size_t>(i)] = p.item_as_double(off);
    }
    return out;
}

Status layer_norm_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    auto axis_r = normalize_axis(ctx.attr_int("axis"), x.rank());
    if (!axis_r.is_ok()) return ctx.input_error(axis_r.status().message());
    const int64_t axis = axis_r.value();
    const Shape inner_shape(x.shape().begin() + axis, x.shape().end());
    const int64_t inner = shape_numel(inner_shape), outer = inner == 0 ? 0 : x.numel() / inner;
    NNPORT_ASSIGN_OR_RETURN(std::vector<double> scale, expand_param(ctx, ctx.input(1), inner_shape));
    std::vector<double> bias(static_cast<size_t>(inner), 0.0);
    if (ctx.has_input(2)) {
        NNPORT_ASSIGN_OR_RETURN(bias, expand_param(ctx, ctx.input(2), inner_shape));
    }
    const double eps = ctx.attr_float("epsilon");
    const DType st = ctx.attr_int("stash_type") == 1 ? DType::kFloat32 : x.dtype();
    if (st != DType::kFloat32 && st != DType::kFloat64) return unsupported(ctx.node().describe() + ": stash_type");
    Shape red(x.shape().begin(), x.shape().begin() + axis);
    red.resize(static_cast<size_t>(x.rank()), 1);
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    Tensor* mean_t = nullptr;
    Tensor* inv_t = nullptr;
    if (ctx.has_output(1)) {
        NNPORT_ASSIGN_OR_RETURN(mean_t, ctx.output(1, st, red));
    }
    if (ctx.has_output(2)) {
        NNPORT_ASSIGN_OR_RETURN(inv_t, ctx.output(2, st, red));
    }
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        const T* xd = x.data<T>();
        T* yd = y->data<T>();
        ctx.parallel_for(outer, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                double mu, var;
                moments(xd + r * inner, inner, mu, var);
                const double inv = 1.0 / std::sqrt(var + eps);
                const T* xr = xd + r * inner;
                T* yr = yd + r * inner;
                for (int64_t i = 0; i < inner; ++i) {
                    const size_t k = static_cast<size_t>(i);
                    yr[i] = static_cast<T>((static_cast<double>(xr[i]) - mu) * inv * scale[k] + bias[k]);
                }
                if (mean_t) {
                    if (st == DType::kFloat32) mean_t->data<float>()[r] = static_cast<float>(mu);
                    else mean_t->data<double>()[r] = mu;
                }
                if (inv_t) {
                    if (st == DType::kFloat32) inv_t->data<float>()[r] = static_cast<float>(inv);
                    else inv_t->data<double>()[r] = inv;
                }
            }
        });
    });
    return Status::ok();
}

// ---- GroupNormalization -------------------------------------------------------------------------------------

Status group_norm_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2) return ctx.input_error("input must have rank >= 2");
    const int64_t n = x.dim(0), c = x.dim(1), groups = ctx.attr_int("num_groups");
    if (groups <= 0 || c % groups != 0) return ctx.error("num_groups must be positive and divide the channels");
    const int64_t spatial = (n * c) == 0 ? 0 : x.numel() / (n * c), cg = c / groups;
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(2));
    // Opset 18 takes one scale/bias per group, opset 21 one per channel.
    const int64_t ns = ctx.input(1).numel();
    if (ns != c && ns != groups) return ctx.input_error("scale must have num_groups or C values");
    NNPORT_RETURN_IF_ERROR(check_param(ctx, 1, ns, "scale"));
    NNPORT_RETURN_IF_ERROR(check_param(ctx, 2, ns, "bias"));
    const std::vector<double> scale = as_doubles(ctx.input(1)), bias = as_doubles(ctx.input(2));
    const double eps = ctx.attr_float("epsilon");
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        const T* xd = x.data<T>();
        T* yd = y->data<T>();
        ctx.parallel_for(n * groups, [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                double mu, var;
                const int64_t len = cg * spatial;
                moments(xd + p * len, len, mu, var);
                const double inv = 1.0 / std::sqrt(var + eps);
                const int64_t g = p % groups;
                for (int64_t j = 0; j < cg; ++j) {
                    const size_t k = static_cast<size_t>(ns == c ? g * cg + j : g);
                    const double a = inv * scale[k];
                    const int64_t off = p * len + j * spatial;
                    affine<T>(xd + off, yd + off, spatial, static_cast<T>(a), static_cast<T>(bias[k] - mu * a));
                }
            }
        });
    });
    return Status::ok();
}

// ---- LRN ----------------------------------------------------------------------------------------------------

Status lrn_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2) return ctx.input_error("input must have rank >= 2");
    const int64_t size = ctx.attr_int("size");
    if (size <= 0) return ctx.error("size must be positive");
    const double alpha = ctx.attr_float("alpha"), beta = ctx.attr_float("beta"), bias = ctx.attr_float("bias");
    const int64_t n = x.dim(0), c = x.dim(1), inner = (n * c) == 0 ? 0 : x.numel() / (n * c);
    const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        const T* xd = x.data<T>();
        T* yd = y->data<T>();
        ctx.parallel_for(n * c, [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t b = p / c, ch = p % c;
                const int64_t c0 = std::max<int64_t>(0, ch - lo), c1 = std::min<int64_t>(c - 1, ch + hi);
                for (int64_t i = 0; i < inner; ++i) {
                    double s = 0.0;
                    for (int64_t k = c0; k <= c1; ++k) {
                        const double v = static_cast<double>(xd[(b * c + k) * inner + i]);
                        s += v * v;
                    }
                    yd[p * inner + i] = static_cast<T>(static_cast<double>(xd[p * inner + i]) /
                                                       std::pow(bias + alpha / static_cast<double>(size) * s, beta));
                }
            }
        });
    });
    return Status::ok();
}

// ---- MeanVarianceNormalization ------------------------------------------------------------------------------

Status mvn_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const int64_t r = x.rank();
    std::vector<bool> reduce(static_cast<size_t>(r), false);
    for (int64_t a : ctx.attr_ints("axes")) {
        auto ax = normalize_axis(a, r);
        if (!ax.is_ok()) return ctx.input_error(ax.status().message());
        reduce[static_cast<size_t>(ax.value())] = true;
    }
    // Group index of each element = its position over the kept axes.
    Shape kept_shape;
    for (int64_t d = 0; d < r; ++d) kept_shape.push_back(reduce[size_t(d)] ? 1 : x.dim(d));
    const std::vector<int64_t> gst = broadcast_strides(kept_shape, x.shape());
    const int64_t groups = shape_numel(kept_shape), total = x.numel();
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    if (total == 0) return Status::ok();
    std::vector<int64_t> gidx(static_cast<size_t>(total));
    {
        const std::vector<int64_t> own = strides_of(x.shape());
        for (int64_t i = 0; i < total; ++i) {
            int64_t g = 0, rem = i;
            for (int64_t d = 0; d < r; ++d) {
                g += (rem / own[size_t(d)]) * gst[size_t(d)];
                rem %= own[size_t(d)];
            }
            gidx[size_t(i)] = g;
        }
    }
    const double count = static_cast<double>(total / groups);
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        const T* xd = x.data<T>();
        T* yd = y->data<T>();
        std::vector<double> mean(static_cast<size_t>(groups), 0.0), sq(static_cast<size_t>(groups), 0.0);
        for (int64_t i = 0; i < total; ++i) mean[size_t(gidx[size_t(i)])] += static_cast<double>(xd[i]);
        for (auto& m : mean) m /= count;
        for (int64_t i = 0; i < total; ++i) {
            const double d = static_cast<double>(xd[i]) - mean[size_t(gidx[size_t(i)])];
            sq[size_t(gidx[size_t(i)])] += d * d;
        }
        for (auto& s : sq) s = std::sqrt(s / count) + 1e-9;
        for (int64_t i = 0; i < total; ++i) {
            const size_t g = size_t(gidx[size_t(i)]);
            yd[i] = static_cast<T>((static_cast<double>(xd[i]) - mean[g]) / sq[g]);
        }
    });
    return Status::ok();
}

// ---- LpNormalization ----------------------------------------------------------------------------------------

Status lp_norm_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const int64_t p = ctx.attr_int("p");
    if (p != 1 && p != 2) return ctx.error("p must be 1 or 2");
    auto ax = normalize_axis(ctx.attr_int("axis"), std::max<int64_t>(1, x.rank()));
    if (!ax.is_ok()) return ctx.input_error(ax.status().message());
    const int64_t axis = ax.value();
    const int64_t len = x.rank() == 0 ? 1 : x.dim(axis);
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    const int64_t outer = (len * inner) == 0 ? 0 : x.numel() / (len * inner);
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        const T* xd = x.data<T>();
        T* yd = y->data<T>();
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t i = 0; i < inner; ++i) {
                const int64_t base = o * len * inner + i;
                double s = 0.0;
                for (int64_t k = 0; k < len; ++k) {
                    const double v = static_cast<double>(xd[base + k * inner]);
                    s += p == 1 ? std::fabs(v) : v * v;
                }
                const double norm = p == 1 ? s : std::sqrt(s);
                for (int64_t k = 0; k < len; ++k) {
                    yd[base + k * inner] = norm == 0.0 ? T(0) : static_cast<T>(static_cast<double>(xd[base + k * inner]) / norm);
                }
            }
        }
    });
    return Status::ok();
}

OpDef simple(const char* name, int min_in, int max_in, KernelFn k, std::vector<AttrSpec> attrs, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = 1;
    o.min_inputs = min_in;
    o.max_inputs = max_in;
    o.attrs = std::move(attrs);
    o.infer = infer_same_as_input0;
    o.kernel = k;
    o.input0_types = float_types();
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_BatchNormalization() {
    static const OpDef d = [] {
        OpDef o = simple("BatchNormalization", 5, 5, batch_norm_kernel,
                         {AttrSpec::f("epsilon", 1e-5f), AttrSpec::f("momentum", 0.9f), AttrSpec::i("training_mode", 0)},
                         "Per-channel normalization with given statistics (or batch statistics in training mode).");
        o.max_outputs = 5;
        o.infer = batch_norm_infer;
        return o;
    }();
    return d;
}

const OpDef& op_def_InstanceNormalization() {
    static const OpDef d = simple("InstanceNormalization", 3, 3, instance_norm_kernel, {AttrSpec::f("epsilon", 1e-5f)},
                                  "Normalization over the spatial dims of each (image, channel).");
    return d;
}

const OpDef& op_def_LayerNormalization() {
    static const OpDef d = [] {
        OpDef o = simple("LayerNormalization", 2, 3, layer_norm_kernel,
                         {AttrSpec::i("axis", -1), AttrSpec::f("epsilon", 1e-5f), AttrSpec::i("stash_type", 1)},
                         "Normalization over the trailing dims from `axis`; optional Mean and InvStdDev outputs.");
        o.since_version = 17;
        o.max_outputs = 3;
        o.infer = layer_norm_infer;
        return o;
    }();
    return d;
}

const OpDef& op_def_GroupNormalization() {
    static const OpDef d = [] {
        OpDef o = simple("GroupNormalization", 3, 3, group_norm_kernel,
                         {AttrSpec::f("epsilon", 1e-5f), AttrSpec::none("num_groups", ir::AttrType::kInt, true),
                          AttrSpec::i("stash_type", 1)},
                         "Normalization over channel groups (scale/bias per group as in opset 18, or per channel).");
        o.since_version = 18;
        return o;
    }();
    return d;
}

const OpDef& op_def_LRN() {
    static const OpDef d = simple("LRN", 1, 1, lrn_kernel,
                                  {AttrSpec::f("alpha", 1e-4f), AttrSpec::f("beta", 0.75f), AttrSpec::f("bias", 1.0f),
                                   AttrSpec::none("size", ir::AttrType::kInt, true)},
                                  "Local response normalization across channels.");
    return d;
}

const OpDef& op_def_MeanVarianceNormalization() {
    static const OpDef d = simple("MeanVarianceNormalization", 1, 1, mvn_kernel, {AttrSpec::ints("axes", {0, 2, 3})},
                                  "(X - mean) / (std + 1e-9) over `axes`.");
    return d;
}

const OpDef& op_def_LpNormalization() {
    static const OpDef d = simple("LpNormalization", 1, 1, lp_norm_kernel, {AttrSpec::i("axis", -1), AttrSpec::i("p", 2)},
                                  "Divides by the L1 or L2 norm along `axis`.");
    return d;
}

}  // namespace nnport

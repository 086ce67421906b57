// Pooling: MaxPool (with Indices), AveragePool, LpPool, their Global* forms, and MaxUnpool.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/nn_util.hpp"

namespace nnport {

namespace {

enum class PoolKind { kMax, kAvg, kLp };

/// Geometry of a windowed pool node for input X; kernel from kernel_shape (required).
Result<nn::Geometry> pool_geometry(const AttrAccess& a, const std::vector<int64_t>& in) {
    if (!a.has_attr("kernel_shape")) return a.error("kernel_shape is required");
    return nn::window_geometry(a, in, a.attr_ints("kernel_shape"), a.attr_int("ceil_mode") != 0);
}

Status pool_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    if (!xt.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(xt.dtype));
        if (ctx.num_outputs() > 1) ctx.set_output(1, ir::ValueType::tensor(DType::kInt64));
        return Status::ok();
    }
    if (xt.dims.size() < 3) return ctx.error("input must have rank >= 3");
    NNPORT_ASSIGN_OR_RETURN(nn::Geometry geo, pool_geometry(ctx, nn::spatial_dims_of(xt)));
    std::vector<ir::Dim> dims = nn::output_dims(ctx, xt.dims[0], xt.dims[1], geo.out);
    ctx.set_output(0, ir::ValueType::tensor(xt.dtype, dims));
    if (ctx.num_outputs() > 1) ctx.set_output(1, ir::ValueType::tensor(DType::kInt64, dims));
    return Status::ok();
}

/// Range [lo, hi) of taps k (0..K) whose position base + k*d lies in [lo_bound, hi_bound).
inline void tap_range(int64_t base, int64_t d, int64_t k, int64_t lo_bound, int64_t hi_bound, int64_t& lo,
                      int64_t& hi) {
    nn::valid_range(base - lo_bound, d, hi_bound - lo_bound, k, lo, hi);
}

struct PoolParams {
    nn::Geo3 g;
    int64_t pe[3];  // end pads (for count_include_pad)
    PoolKind kind;
    bool count_include_pad = false;
    double p = 2.0;
    bool col_major = false;  // MaxPool storage_order = 1
};

/// Pools one (n, c) plane. `idx` (optional) receives MaxPool argmax offsets relative to the plane.
template <typename T>
void pool_plane(const T* x, T* y, int64_t* idx, const PoolParams& pp) {
    const nn::Geo3& g = pp.g;
    int64_t o = 0;
    for (int64_t od = 0; od < g.out[0]; ++od) {
        const int64_t bd = od * g.s[0] - g.pb[0];
        int64_t d0, d1;
        tap_range(bd, g.d[0], g.k[0], 0, g.in[0], d0, d1);
        for (int64_t oh = 0; oh < g.out[1]; ++oh) {
            const int64_t bh = oh * g.s[1] - g.pb[1];
            int64_t h0, h1;
            tap_range(bh, g.d[1], g.k[1], 0, g.in[1], h0, h1);
            for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
                const int64_t bw = ow * g.s[2] - g.pb[2];
                int64_t w0, w1;
                tap_range(bw, g.d[2], g.k[2], 0, g.in[2], w0, w1);
                if (pp.kind == PoolKind::kMax) {
                    T best = std::numeric_limits<T>::lowest();
                    int64_t arg = -1;
                    for (int64_t kd = d0; kd < d1; ++kd) {
                        const int64_t id = bd + kd * g.d[0];
                        for (int64_t kh = h0; kh < h1; ++kh) {
                            const int64_t ih = bh + kh * g.d[1];
                            const T* xr = x + (id * g.in[1] + ih) * g.in[2];
                            for (int64_t kw = w0; kw < w1; ++kw) {
                                const int64_t iw = bw + kw * g.d[2];
                                if (xr[iw] > best || arg < 0) {
                                    best = xr[iw];
                                    arg = pp.col_major ? id + ih * g.in[0] + iw * g.in[0] * g.in[1]
                                                       : (id * g.in[1] + ih) * g.in[2] + iw;
                                }
                            }
                        }
                    }
                    y[o] = best;
                    if (idx) idx[o] = arg < 0 ? 0 : arg;
                    continue;
                }
                double acc = 0.0;
                for (int64_t kd = d0; kd < d1; ++kd) {
                    const int64_t id = bd + kd * g.d[0];
                    for (int64_t kh = h0; kh < h1; ++kh) {
                        const T* xr = x + (id * g.in[1] + bh + kh * g.d[1]) * g.in[2];
                        if (pp.kind == PoolKind::kAvg) {
                            for (int64_t kw = w0; kw < w1; ++kw) acc += static_cast<double>(xr[bw + kw * g.d[2]]);
                        } else if (pp.p == 2.0) {
                            for (int64_t kw = w0; kw < w1; ++kw) {
                                const double v = static_cast<double>(xr[bw + kw * g.d[2]]);
                                acc += v * v;
                            }
                        } else {
                            for (int64_t kw = w0; kw < w1; ++kw) {
                                acc += std::pow(std::fabs(static_cast<double>(xr[bw + kw * g.d[2]])), pp.p);
                            }
                        }
                    }
                }
                if (pp.kind == PoolKind::kLp) {
                    y[o] = static_cast<T>(pp.p == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / pp.p));
                    continue;
                }
                int64_t count = (d1 - d0) * (h1 - h0) * (w1 - w0);
                if (pp.count_include_pad) {
                    // Taps inside the padded extent count; those beyond it (ceil_mode overhang) do not.
                    int64_t e0, e1, f0, f1, q0, q1;
                    tap_range(bd, g.d[0], g.k[0], -g.pb[0], g.in[0] + pp.pe[0], e0, e1);
                    tap_range(bh, g.d[1], g.k[1], -g.pb[1], g.in[1] + pp.pe[1], f0, f1);
                    tap_range(bw, g.d[2], g.k[2], -g.pb[2], g.in[2] + pp.pe[2], q0, q1);
                    count = (e1 - e0) * (f1 - f0) * (q1 - q0);
                }
                y[o] = count > 0 ? static_cast<T>(acc / static_cast<double>(count)) : T(0);
            }
        }
    }
}

template <typename T>
void pool_run(const Tensor& x, Tensor& y, Tensor* indices, const PoolParams& pp, const KernelContext& ctx) {
    const int64_t planes = x.dim(0) * x.dim(1), in_s = pp.g.in_size(), out_s = pp.g.out_size();
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    int64_t* id = indices ? indices->data<int64_t>() : nullptr;
    ctx.parallel_for(planes, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            int64_t* ip = id ? id + p * out_s : nullptr;
            pool_plane<T>(xd + p * in_s, yd + p * out_s, ip, pp);
            if (ip) {
                for (int64_t i = 0; i < out_s; ++i) ip[i] += p * in_s;
            }
        }
    });
}

template <PoolKind K>
Status pool_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.rank() < 3) return ctx.input_error("input must have rank >= 3, got " + shape_to_string(x.shape()));
    NNPORT_ASSIGN_OR_RETURN(nn::Geometry geo,
                            pool_geometry(ctx, std::vector<int64_t>(x.shape().begin() + 2, x.shape().end())));
    auto g3 = nn::to_geo3(geo);
    if (!g3.is_ok()) return ctx.error(g3.status().message());
    PoolParams pp;
    pp.g = g3.value();
    const size_t off = 3 - geo.rank();
    for (size_t i = 0; i < 3; ++i) pp.pe[i] = i < off ? 0 : geo.pads_end[i - off];
    pp.kind = K;
    if constexpr (K == PoolKind::kAvg) pp.count_include_pad = ctx.attr_int("count_include_pad") != 0;
    if constexpr (K == PoolKind::kLp) {
        pp.p = static_cast<double>(ctx.attr_int("p"));
        if (pp.p <= 0) return ctx.error("p must be positive");
    }
    if constexpr (K == PoolKind::kMax) {
        const int64_t so = ctx.attr_int("storage_order");
        if (so != 0 && so != 1) return ctx.error("storage_order must be 0 or 1");
        pp.col_major = so == 1;
    }
    Shape out = {x.dim(0), x.dim(1)};
    out.insert(out.end(), geo.out.begin(), geo.out.end());
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), out));
    Tensor* ind = nullptr;
    if (K == PoolKind::kMax && ctx.has_output(1)) {
        NNPORT_ASSIGN_OR_RETURN(ind, ctx.output(1, DType::kInt64, out));
    }
    if (y->numel() == 0) return Status::ok();
    switch (x.dtype()) {
        case DType::kFloat32: pool_run<float>(x, *y, ind, pp, ctx); break;
        case DType::kFloat64: pool_run<double>(x, *y, ind, pp, ctx); break;
        case DType::kInt8:
            if (K != PoolKind::kMax) return unsupported(ctx.node().describe() + ": int8 input");
            pool_run<int8_t>(x, *y, ind, pp, ctx);
            break;
        case DType::kUInt8:
            if (K != PoolKind::kMax) return unsupported(ctx.node().describe() + ": uint8 input");
            pool_run<uint8_t>(x, *y, ind, pp, ctx);
            break;
        default: return unsupported(ctx.node().describe() + ": dtype " + dtype_name(x.dtype()) + " is not supported");
    }
    return Status::ok();
}

std::vector<AttrSpec> window_attrs() {
    return {AttrSpec::s("auto_pad", "NOTSET"), AttrSpec::i("ceil_mode", 0), AttrSpec::ints("dilations"),
            AttrSpec::none("kernel_shape", ir::AttrType::kInts, true), AttrSpec::ints("pads"),
            AttrSpec::ints("strides")};
}

// ---- Global pools -------------------------------------------------------------------------------------------

Status global_pool_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    if (!xt.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(xt.dtype));
        return Status::ok();
    }
    if (xt.dims.size() < 2) return ctx.error("input must have rank >= 2");
    std::vector<ir::Dim> d = {xt.dims[0], xt.dims[1]};
    for (size_t i = 2; i < xt.dims.size(); ++i) d.push_back(ir::Dim(1));
    ctx.set_output(0, ir::ValueType::tensor(xt.dtype, d));
    return Status::ok();
}

template <PoolKind K>
Status global_pool_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2) return ctx.input_error("input must have rank >= 2");
    Shape out = {x.dim(0), x.dim(1)};
    for (int64_t i = 2; i < x.rank(); ++i) out.push_back(1);
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), out));
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t size = planes == 0 ? 0 : x.numel() / planes;
    if (planes == 0) return Status::ok();
    if (size == 0 && K == PoolKind::kMax) return ctx.input_error("cannot take the maximum of an empty window");
    const double p = K == PoolKind::kLp ? static_cast<double>(ctx.attr_int("p")) : 2.0;
    if (p <= 0) return ctx.error("p must be positive");
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        const T* xd = x.data<T>();
        T* yd = y->data<T>();
        ctx.parallel_for(planes, [&](int64_t p0, int64_t p1) {
            for (int64_t pl = p0; pl < p1; ++pl) {
                const T* v = xd + pl * size;
                if constexpr (K == PoolKind::kMax) {
                    T best = v[0];
                    for (int64_t i = 1; i < size; ++i) best = v[i] > best ? v[i] : best;
                    yd[pl] = best;
                } else if constexpr (K == PoolKind::kAvg) {
                    double s = 0.0;
                    for (int64_t i = 0; i < size; ++i) s += static_cast<double>(v[i]);
                    yd[pl] = static_cast<T>(size ? s / static_cast<double>(size) : 0.0);
                } else {
                    double s = 0.0;
                    for (int64_t i = 0; i < size; ++i) s += std::pow(std::fabs(static_cast<double>(v[i])), p);
                    yd[pl] = static_cast<T>(std::pow(s, 1.0 / p));
                }
            }
        });
    });
    return Status::ok();
}

// ---- MaxUnpool ----------------------------------------------------------------------------------------------

Status max_unpool_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    if (ctx.has_input(2)) {
        if (const Tensor* s = ctx.input_constant(2)) {
            ctx.set_output(0, ir::ValueType::tensor(xt.dtype, s->to_int_vector()));
        } else {
            const ir::ValueType& st = ctx.input_type(2);
            if (st.has_shape && st.dims.size() == 1 && st.dims[0].is_static()) {
                ctx.set_output(0, tensor_type_of_rank(ctx, xt.dtype, st.dims[0].value));
            } else {
                ctx.set_output(0, ir::ValueType::tensor(xt.dtype));
            }
        }
        return Status::ok();
    }
    if (!xt.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(xt.dtype));
        return Status::ok();
    }
    if (xt.dims.size() < 3) return ctx.error("input must have rank >= 3");
    if (!ctx.has_attr("kernel_shape")) return ctx.error("kernel_shape is required");
    std::vector<int64_t> in = nn::spatial_dims_of(xt), out(in.size(), -1);
    const std::vector<int64_t> k = ctx.attr_ints("kernel_shape");
    if (k.size() != in.size()) return ctx.error("kernel_shape rank does not match the input");
    const std::vector<int64_t> s = ctx.has_attr("strides") ? ctx.attr_ints("strides") : std::vector<int64_t>(in.size(), 1);
    std::vector<int64_t> pads = ctx.attr_ints("pads");
    if (pads.empty()) pads.assign(2 * in.size(), 0);
    if (s.size() != in.size() || pads.size() != 2 * in.size()) return ctx.error("strides/pads rank mismatch");
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] >= 0) out[i] = (in[i] - 1) * s[i] + k[i] - pads[i] - pads[i + in.size()];
    }
    ctx.set_output(0, ir::ValueType::tensor(xt.dtype, nn::output_dims(ctx, xt.dims[0], xt.dims[1], out)));
    return Status::ok();
}

Status max_unpool_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& ind = ctx.input(1);
    if (x.rank() < 3) return ctx.input_error("input must have rank >= 3");
    if (ind.shape() != x.shape() || ind.dtype() != DType::kInt64) {
        return ctx.input_error("indices must be int64 with the shape of the input");
    }
    const size_t n = static_cast<size_t>(x.rank() - 2);
    const std::vector<int64_t> k = ctx.attr_ints("kernel_shape");
    const std::vector<int64_t> s = ctx.has_attr("strides") ? ctx.attr_ints("strides") : std::vector<int64_t>(n, 1);
    std::vector<int64_t> pads = ctx.attr_ints("pads");
    if (pads.empty()) pads.assign(2 * n, 0);
    if (k.size() != n || s.size() != n || pads.size() != 2 * n) return ctx.error("kernel_shape/strides/pads rank mismatch");
    Shape out = {x.dim(0), x.dim(1)};
    for (size_t i = 0; i < n; ++i) {
        if (k[i] <= 0 || s[i] <= 0 || pads[i] < 0 || pads[i + n] < 0) return ctx.error("bad kernel_shape/strides/pads");
        out.push_back((x.dim(static_cast<int64_t>(i) + 2) - 1) * s[i] + k[i] - pads[i] - pads[i + n]);
    }
    for (int64_t v : out) {
        if (v < 0) return ctx.input_error("negative output size " + shape_to_string(out));
    }
    // Indices always address the default unpooled shape; a larger output_shape zero-pads at the end of each
    // spatial axis (the ONNX reference semantics), so indices are re-based onto the output's strides.
    Shape final_shape = out;
    if (ctx.has_input(2)) {
        std::vector<int64_t> os = ctx.input(2).to_int_vector();
        if (os.size() != out.size() || os[0] != out[0] || os[1] != out[1]) {
            return ctx.input_error("output_shape must have the input's rank, batch and channels");
        }
        for (size_t i = 2; i < os.size(); ++i) {
            if (os[i] < out[i]) return ctx.input_error("output_shape is smaller than the default unpooled shape");
        }
        final_shape.assign(os.begin(), os.end());
    }
    const int64_t total = shape_numel(out);
    const int64_t* id = ind.data<int64_t>();
    for (int64_t i = 0; i < x.numel(); ++i) {
        if (id[i] < 0 || id[i] >= total) return ctx.input_error("index " + std::to_string(id[i]) + " is out of range");
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), final_shape, /*zero=*/true));
    std::vector<int64_t> pos(static_cast<size_t>(x.numel()));
    if (final_shape == out) {
        std::copy(id, id + x.numel(), pos.begin());
    } else {
        const std::vector<int64_t> in_str = strides_of(out), out_str = strides_of(final_shape);
        for (size_t i = 0; i < pos.size(); ++i) {
            int64_t rem = id[i], p = 0;
            for (size_t d = 0; d < out.size(); ++d) {
                p += (rem / in_str[d]) * out_str[d];
                rem %= in_str[d];
            }
            pos[i] = p;
        }
    }
    NNPORT_DISPATCH_BY_SIZE(x.dtype(), T, ctx, {
        if constexpr (!std::is_same_v<T, std::string>) {
            const T* xd = typed_data<T>(x);
            T* yd = typed_data<T>(*y);
            for (size_t i = 0; i < pos.size(); ++i) yd[pos[i]] = xd[i];
        }
    });
    return Status::ok();
}

OpDef make_pool(const char* name) {
    OpDef o;
    o.name = name;
    o.since_version = 1;
    o.min_inputs = o.max_inputs = 1;
    o.attrs = window_attrs();
    o.infer = pool_infer;
    o.input0_types = float_types();
    return o;
}

OpDef make_global(const char* name, KernelFn kernel) {
    OpDef o;
    o.name = name;
    o.since_version = 1;
    o.min_inputs = o.max_inputs = 1;
    o.infer = global_pool_infer;
    o.kernel = kernel;
    o.input0_types = float_types();
    return o;
}

}  // namespace

const OpDef& op_def_MaxPool() {
    static const OpDef d = [] {
        OpDef o = make_pool("MaxPool");
        o.max_outputs = 2;
        o.attrs.push_back(AttrSpec::i("storage_order", 0));
        o.kernel = pool_kernel<PoolKind::kMax>;
        o.input0_types = {DType::kFloat16, DType::kBFloat16, DType::kFloat32, DType::kFloat64, DType::kInt8,
                          DType::kUInt8};
        o.doc = "Max pooling over 1 to 3 spatial dims, optional argmax Indices output.";
        return o;
    }();
    return d;
}

const OpDef& op_def_AveragePool() {
    static const OpDef d = [] {
        OpDef o = make_pool("AveragePool");
        o.attrs.push_back(AttrSpec::i("count_include_pad", 0));
        o.kernel = pool_kernel<PoolKind::kAvg>;
        o.doc = "Average pooling over 1 to 3 spatial dims.";
        return o;
    }();
    return d;
}

const OpDef& op_def_LpPool() {
    static const OpDef d = [] {
        OpDef o = make_pool("LpPool");
        o.attrs.push_back(AttrSpec::i("p", 2));
        o.kernel = pool_kernel<PoolKind::kLp>;
        o.doc = "Lp-norm pooling over 1 to 3 spatial dims.";
        return o;
    }();
    return d;
}

const OpDef& op_def_GlobalAveragePool() {
    static const OpDef d = [] {
        OpDef o = make_global("GlobalAveragePool", global_pool_kernel<PoolKind::kAvg>);
        o.doc = "Mean over all spatial dims.";
        return o;
    }();
    return d;
}

const OpDef& op_def_GlobalMaxPool() {
    static const OpDef d = [] {
        OpDef o = make_global("GlobalMaxPool", global_pool_kernel<PoolKind::kMax>);
        o.doc = "Maximum over all spatial dims.";
        return o;
    }();
    return d;
}

const OpDef& op_def_GlobalLpPool() {
    static const OpDef d = [] {
        OpDef o = make_global("GlobalLpPool", global_pool_kernel<PoolKind::kLp>);
        o.attrs = {AttrSpec::i("p", 2)};
        o.doc = "Lp norm over all spatial dims.";
        return o;
    }();
    return d;
}

const OpDef& op_def_MaxUnpool() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "MaxUnpool";
        o.since_version = 9;
        o.min_inputs = 2;
        o.max_inputs = 3;
        o.attrs = {AttrSpec::none("kernel_shape", ir::AttrType::kInts, true), AttrSpec::ints("pads"),
                   AttrSpec::ints("strides")};
        o.infer = max_unpool_infer;
        o.kernel = max_unpool_kernel;
        o.input0_types = float_types();
        o.doc = "Scatters values back to the positions given by MaxPool indices.";
        return o;
    }();
    return d;
}

}  // namespace nnport

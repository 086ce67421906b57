// Conv: im2col + blocked GEMM (1x1 convs skip im2col), direct loops for depthwise; plus the int32 core of
// ConvInteger / QLinearConv.
#include <algorithm>

#include "ops/gemm_kernel.hpp"
#include "ops/nn_util.hpp"

namespace nnport {

namespace {

/// Floats of im2col buffer per GEMM call at most; bigger convolutions are split over output rows.
constexpr int64_t kMaxColElems = int64_t{4} << 20;

void gemm_t(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
            float* c, int64_t ldc, ThreadPool* pool, const gemm::Epilogue* ep) {
    gemm::sgemm(false, false, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc, pool, ep);
}
void gemm_t(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
            double* c, int64_t ldc, ThreadPool* pool, const gemm::Epilogue* ep) {
    gemm::dgemm(false, false, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc, pool, ep);
}
void gemm_t(int64_t m, int64_t n, int64_t k, const int32_t* a, int64_t lda, const int32_t* b, int64_t ldb,
            int32_t beta, int32_t* c, int64_t ldc, ThreadPool* pool, const gemm::Epilogue* ep) {
    gemm::igemm(m, n, k, a, lda, b, ldb, c, ldc, beta != 0, pool);
    if (ep) (*ep)(0, m, 0, n);
}

/// `ep` (rows = output channels of all images, columns = output positions) shifted to one GEMM's coordinates.
gemm::Epilogue shifted(const gemm::Epilogue* ep, int64_t row0, int64_t col0) {
    return [ep, row0, col0](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        (*ep)(row0 + r0, row0 + r1, col0 + c0, col0 + c1);
    };
}

template <typename T>
T* scratch_for(int64_t count) {
    // Scratch holds floats; larger element types take proportionally more of them.
    static_assert(sizeof(T) % sizeof(float) == 0);
    return reinterpret_cast<T*>(gemm::Scratch::get(2, count * static_cast<int64_t>(sizeof(T) / sizeof(float))));
}

/// Convolution of one (image, group): y[mg, out] (+)= w[mg, cg*ks] * im2col(x[cg]). `ep` (optional) sees the
/// finished blocks with rows offset by `row0`.
template <typename T>
void conv_group(const T* x, const T* w, T* y, int64_t cg, int64_t mg, const nn::Geo3& g, bool has_bias,
                ThreadPool* pool, const gemm::Epilogue* ep, int64_t row0) {
    const int64_t ks = g.k_size(), out = g.out_size(), kdim = cg * ks;
    const T beta = has_bias ? T(1) : T(0);
    const bool pointwise = ks == 1 && g.s[0] == 1 && g.s[1] == 1 && g.s[2] == 1 && g.pb[0] == 0 && g.pb[1] == 0 &&
                           g.pb[2] == 0 && g.out[0] == g.in[0] && g.out[1] == g.in[1] && g.out[2] == g.in[2];
    if (pointwise) {
        const gemm::Epilogue local = ep ? shifted(ep, row0, 0) : gemm::Epilogue();
        gemm_t(mg, out, kdim, w, kdim, x, out, beta, y, out, pool, ep ? &local : nullptr);
        return;
    }
    const int64_t rows = g.out[0] * g.out[1];
    const int64_t chunk = std::max<int64_t>(1, std::min(rows, kMaxColElems / std::max<int64_t>(1, kdim * g.out[2])));
    T* col = scratch_for<T>(kdim * chunk * g.out[2]);
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t r1 = std::min(rows, r0 + chunk), width = (r1 - r0) * g.out[2];
        nn::im2col(x, cg, g, r0, r1, col);
        const gemm::Epilogue local = ep ? shifted(ep, row0, r0 * g.out[2]) : gemm::Epilogue();
        gemm_t(mg, width, kdim, w, kdim, col, width, beta, y + r0 * g.out[2], out, pool, ep ? &local : nullptr);
    }
}

/// Depthwise (one input channel per group): direct loops over one output plane.
template <typename T>
void conv_depthwise_plane(const T* x, const T* w, T* y, T bias, const nn::Geo3& g) {
    const int64_t ow_n = g.out[2];
    std::fill(y, y + g.out_size(), bias);
    for (int64_t od = 0; od < g.out[0]; ++od) {
        for (int64_t oh = 0; oh < g.out[1]; ++oh) {
            T* __restrict yr = y + (od * g.out[1] + oh) * ow_n;
            for (int64_t kd = 0; kd < g.k[0]; ++kd) {
                const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
                if (id < 0 || id >= g.in[0]) continue;
                for (int64_t kh = 0; kh < g.k[1]; ++kh) {
                    const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
                    if (ih < 0 || ih >= g.in[1]) continue;
                    const T* __restrict xr = x + (id * g.in[1] + ih) * g.in[2];
                    const T* wr = w + (kd * g.k[1] + kh) * g.k[2];
                    for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                        const int64_t off = kw * g.d[2] - g.pb[2];
                        int64_t lo, hi;
                        nn::valid_range(off, g.s[2], g.in[2], ow_n, lo, hi);
                        const T wv = wr[kw];
                        if (g.s[2] == 1) {
                            for (int64_t o = lo; o < hi; ++o) yr[o] += wv * xr[o + off];
                        } else {
                            for (int64_t o = lo; o < hi; ++o) yr[o] += wv * xr[o * g.s[2] + off];
                        }
                    }
                }
            }
        }
    }
}

template <typename T>
void conv_run(const T* x, const T* w, const T* bias, T* y, int64_t n, int64_t c, int64_t m, int64_t group,
              const nn::Geo3& g, ThreadPool* pool, const gemm::Epilogue* ep = nullptr) {
    const int64_t cg = c / group, mg = m / group, ks = g.k_size(), in_s = g.in_size(), out_s = g.out_size();
    const int64_t threads = pool ? pool->num_threads() : 1;
    auto run_parallel = [&](int64_t count, const std::function<void(int64_t, int64_t)>& fn) {
        if (pool && count > 1) pool->parallel_for(count, fn); else fn(0, count);
    };
    if (cg == 1 && group > 1) {
        run_parallel(n * m, [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t img = p / m, oc = p % m;
                conv_depthwise_plane(x + (img * c + oc / mg) * in_s, w + oc * ks, y + p * out_s,
                                     bias ? bias[oc] : T(0), g);
                if (ep) (*ep)(p, p + 1, 0, out_s);
            }
        });
        return;
    }
    auto one = [&](int64_t t, ThreadPool* inner) {
        const int64_t img = t / group, gi = t % group;
        T* yg = y + (img * m + gi * mg) * out_s;
        if (bias) {
            for (int64_t j = 0; j < mg; ++j) std::fill(yg + j * out_s, yg + (j + 1) * out_s, bias[gi * mg + j]);
        }
        conv_group(x + (img * c + gi * cg) * in_s, w + gi * mg * cg * ks, yg, cg, mg, g, bias != nullptr, inner, ep,
                   img * m + gi * mg);
    };
    const int64_t tasks = n * group;
    if (tasks >= 2 * threads && threads > 1) {
        // Many independent (image, group) problems: one per thread, single-threaded GEMMs inside.
        run_parallel(tasks, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) one(t, nullptr);
        });
    } else {
        for (int64_t t = 0; t < tasks; ++t) one(t, pool);
    }
}

}  // namespace

namespace nn {

void conv_int32(const int32_t* x, const int32_t* w, int32_t* y, int64_t n, int64_t c, int64_t m, int64_t group,
                const Geo3& g, ThreadPool* pool) {
    conv_run<int32_t>(x, w, nullptr, y, n, c, m, group, g, pool);
}

template <typename T>
void conv_compute(const T* x, const T* w, const T* bias, T* y, const ConvShape& s, ThreadPool* pool,
                  const gemm::Epilogue* epilogue) {
    conv_run<T>(x, w, bias, y, s.n, s.c, s.m, s.group, s.g3, pool, epilogue);
}
template void conv_compute<float>(const float*, const float*, const float*, float*, const ConvShape&, ThreadPool*,
                                  const gemm::Epilogue*);
template void conv_compute<double>(const double*, const double*, const double*, double*, const ConvShape&,
                                   ThreadPool*, const gemm::Epilogue*);

Result<ConvShape> conv_shape(const KernelContext& ctx, const Tensor& x, const Tensor& w) {
    ConvShape s;
    if (x.rank() < 3) return ctx.input_error("input must have rank >= 3, got " + shape_to_string(x.shape()));
    if (w.rank() != x.rank()) {
        return ctx.input_error("weight " + shape_to_string(w.shape()) + " and input " + shape_to_string(x.shape()) +
                               " ranks differ");
    }
    s.n = x.dim(0);
    s.c = x.dim(1);
    s.m = w.dim(0);
    s.group = ctx.attr_int("group");
    if (s.group <= 0) return ctx.error("group must be positive");
    if (s.c % s.group != 0 || w.dim(1) * s.group != s.c || s.m % s.group != 0) {
        return ctx.input_error("channels do not match: input " + shape_to_string(x.shape()) + ", weight " +
                               shape_to_string(w.shape()) + ", group " + std::to_string(s.group));
    }
    std::vector<int64_t> in(x.shape().begin() + 2, x.shape().end()), k(w.shape().begin() + 2, w.shape().end());
    if (ctx.has_attr("kernel_shape") && ctx.attr_ints("kernel_shape") != k) {
        return ctx.input_error("kernel_shape does not match the weight " + shape_to_string(w.shape()));
    }
    NNPORT_ASSIGN_OR_RETURN(s.geo, window_geometry(ctx, in, k, false));
    auto g3 = to_geo3(s.geo);
    if (!g3.is_ok()) return ctx.error(g3.status().message());
    s.g3 = g3.value();
    s.out_shape = {s.n, s.m};
    for (int64_t o : s.geo.out) s.out_shape.push_back(o);
    return s;
}

Status conv_infer_common(InferContext& ctx, size_t w_index, DType dt) {
    const ir::ValueType& xt = ctx.input_type(0);
    const ir::ValueType& wt = ctx.input_type(w_index);
    if (!xt.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(dt));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, static_window(ctx, xt, wt));
    std::vector<int64_t> out(xt.dims.size() - 2, -1);
    if (!kernel.empty()) {
        NNPORT_ASSIGN_OR_RETURN(Geometry geo, window_geometry(ctx, spatial_dims_of(xt), kernel, false));
        out = geo.out;
    }
    const ir::Dim mdim = wt.has_shape ? wt.dims[0] : ctx.new_dim();
    ctx.set_output(0, ir::ValueType::tensor(dt, output_dims(ctx, xt.dims[0], mdim, out)));
    return Status::ok();
}

}  // namespace nn

namespace {

Status conv_infer(InferContext& ctx) { return nn::conv_infer_common(ctx, 1, ctx.input_type(0).dtype); }

Status conv_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& w = ctx.input(1);
    if (w.dtype() != x.dtype()) return ctx.input_error("input and weight dtypes differ");
    NNPORT_ASSIGN_OR_RETURN(nn::ConvShape s, nn::conv_shape(ctx, x, w));
    const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    if (b && (b->dtype() != x.dtype() || b->numel() != s.m || b->rank() != 1)) {
        return ctx.input_error("bias must be a 1-D tensor of " + std::to_string(s.m) + " values of the input dtype");
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), s.out_shape));
    if (y->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx,
                          conv_run<T>(x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, y->data<T>(), s.n, s.c,
                                      s.m, s.group, s.g3, ctx.pool()));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_Conv() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Conv";
        o.since_version = 1;
        o.min_inputs = 2;
        o.max_inputs = 3;
        o.attrs = {AttrSpec::s("auto_pad", "NOTSET"), AttrSpec::ints("dilations"), AttrSpec::i("group", 1),
                   AttrSpec::ints("kernel_shape"), AttrSpec::ints("pads"), AttrSpec::ints("strides")};
        o.infer = conv_infer;
        o.kernel = conv_kernel;
        o.input0_types = float_types();
        o.doc = "N-d convolution (1 to 3 spatial dims): im2col + blocked GEMM; direct loops for depthwise.";
        return o;
    }();
    return d;
}

}  // namespace nnport

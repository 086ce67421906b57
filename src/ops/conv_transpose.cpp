// ConvTranspose: GEMM (W^T x X) into columns, then col2im scatter-add into the output.
#include <algorithm>

#include "ops/gemm_kernel.hpp"
#include "ops/nn_util.hpp"

namespace nnport {

namespace {

constexpr int64_t kMaxColElems = int64_t{4} << 20;

void gemm_wt(int64_t m, int64_t n, int64_t k, const float* w, const float* x, int64_t ldx, float* col,
             ThreadPool* pool) {
    gemm::sgemm(true, false, m, n, k, 1.0f, w, m, x, ldx, 0.0f, col, n, pool);
}
void gemm_wt(int64_t m, int64_t n, int64_t k, const double* w, const double* x, int64_t ldx, double* col,
             ThreadPool* pool) {
    gemm::dgemm(true, false, m, n, k, 1.0, w, m, x, ldx, 0.0, col, n, pool);
}

/// Adds columns of input rows [r0, r1) (a row is one (id, ih) pair) into output channel planes [m0, m1).
template <typename T>
void col2im(const T* col, int64_t m0, int64_t m1, const nn::Geo3& g, int64_t r0, int64_t r1, T* y) {
    const int64_t ks = g.k_size(), iw_n = g.in[2], ld = (r1 - r0) * iw_n;
    for (int64_t mc = m0; mc < m1; ++mc) {
        T* yp = y + mc * g.out_size();
        for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
                for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                    const int64_t kidx = (kd * g.k[1] + kh) * g.k[2] + kw;
                    const T* src = col + (mc * ks + kidx) * ld;
                    const int64_t off = kw * g.d[2] - g.pb[2];
                    int64_t lo, hi;
                    nn::valid_range(off, g.s[2], g.out[2], iw_n, lo, hi);
                    for (int64_t r = r0; r < r1; ++r, src += iw_n) {
                        const int64_t id = r / g.in[1], ih = r % g.in[1];
                        const int64_t od = id * g.s[0] - g.pb[0] + kd * g.d[0];
                        const int64_t oh = ih * g.s[1] - g.pb[1] + kh * g.d[1];
                        if (od < 0 || od >= g.out[0] || oh < 0 || oh >= g.out[1]) continue;
                        T* dst = yp + (od * g.out[1] + oh) * g.out[2];
                        for (int64_t i = lo; i < hi; ++i) dst[i * g.s[2] + off] += src[i];
                    }
                }
            }
        }
    }
}

template <typename T>
void conv_transpose_run(const T* x, const T* w, const T* bias, T* y, int64_t n, int64_t c, int64_t m, int64_t group,
                        const nn::Geo3& g, ThreadPool* pool) {
    const int64_t cg = c / group, mg = m / group, ks = g.k_size(), in_s = g.in_size(), out_s = g.out_size();
    const int64_t rows = g.in[0] * g.in[1], mk = mg * ks;
    const int64_t chunk = std::max<int64_t>(1, std::min(rows, kMaxColElems / std::max<int64_t>(1, mk * g.in[2])));
    const int64_t threads = pool ? pool->num_threads() : 1;
    auto one = [&](int64_t t, ThreadPool* inner) {
        const int64_t img = t / group, gi = t % group;
        T* yg = y + (img * m + gi * mg) * out_s;
        for (int64_t j = 0; j < mg; ++j) std::fill(yg + j * out_s, yg + (j + 1) * out_s, bias ? bias[gi * mg + j] : T(0));
        const T* xg = x + (img * c + gi * cg) * in_s;
        const T* wg = w + gi * cg * mk;
        T* col = reinterpret_cast<T*>(gemm::Scratch::get(2, mk * chunk * g.in[2] * int64_t(sizeof(T) / sizeof(float))));
        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
            const int64_t r1 = std::min(rows, r0 + chunk), width = (r1 - r0) * g.in[2];
            gemm_wt(mk, width, cg, wg, xg + r0 * g.in[2], in_s, col, inner);
            if (inner && mg > 1) {
                inner->parallel_for(mg, [&](int64_t a, int64_t b) { col2im(col, a, b, g, r0, r1, yg); });
            } else {
                col2im(col, 0, mg, g, r0, r1, yg);
            }
        }
    };
    const int64_t tasks = n * group;
    if (pool && threads > 1 && tasks >= 2 * threads) {
        pool->parallel_for(tasks, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) one(t, nullptr);
        });
    } else {
        for (int64_t t = 0; t < tasks; ++t) one(t, pool);
    }
}

Status conv_transpose_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    const ir::ValueType& wt = ctx.input_type(1);
    const DType dt = xt.dtype;
    if (!xt.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(dt));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, nn::static_window(ctx, xt, wt));
    std::vector<int64_t> out(xt.dims.size() - 2, -1);
    if (!kernel.empty()) {
        NNPORT_ASSIGN_OR_RETURN(nn::Geometry geo, nn::transpose_geometry(ctx, nn::spatial_dims_of(xt), kernel));
        out = geo.out;
    }
    ir::Dim mdim = ctx.new_dim();
    if (wt.has_shape && wt.dims[1].is_static()) mdim = ir::Dim(wt.dims[1].value * std::max<int64_t>(1, ctx.attr_int("group")));
    ctx.set_output(0, ir::ValueType::tensor(dt, nn::output_dims(ctx, xt.dims[0], mdim, out)));
    return Status::ok();
}

Status conv_transpose_kernel(KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& w = ctx.input(1);
    if (w.dtype() != x.dtype()) return ctx.input_error("input and weight dtypes differ");
    if (x.rank() < 3 || w.rank() != x.rank()) {
        return ctx.input_error("bad input " + shape_to_string(x.shape()) + " / weight " + shape_to_string(w.shape()));
    }
    const int64_t group = ctx.attr_int("group");
    if (group <= 0) return ctx.error("group must be positive");
    const int64_t n = x.dim(0), c = x.dim(1), m = w.dim(1) * group;
    if (w.dim(0) != c || c % group != 0) {
        return ctx.input_error("channels do not match: input " + shape_to_string(x.shape()) + ", weight " +
                               shape_to_string(w.shape()) + ", group " + std::to_string(group));
    }
    std::vector<int64_t> in(x.shape().begin() + 2, x.shape().end()), k(w.shape().begin() + 2, w.shape().end());
    if (ctx.has_attr("kernel_shape") && ctx.attr_ints("kernel_shape") != k) {
        return ctx.input_error("kernel_shape does not match the weight " + shape_to_string(w.shape()));
    }
    NNPORT_ASSIGN_OR_RETURN(nn::Geometry geo, nn::transpose_geometry(ctx, in, k));
    auto g3 = nn::to_geo3(geo);
    if (!g3.is_ok()) return ctx.error(g3.status().message());
    const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    if (b && (b->dtype() != x.dtype() || b->numel() != m || b->rank() != 1)) {
        return ctx.input_error("bias must be a 1-D tensor of " + std::to_string(m) + " values of the input dtype");
    }
    Shape out_shape = {n, m};
    for (int64_t o : geo.out) out_shape.push_back(o);
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), out_shape));
    if (y->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx,
                          conv_transpose_run<T>(x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, y->data<T>(), n,
                                                c, m, group, g3.value(), ctx.pool()));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_ConvTranspose() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "ConvTranspose";
        o.since_version = 1;
        o.min_inputs = 2;
        o.max_inputs = 3;
        o.attrs = {AttrSpec::s("auto_pad", "NOTSET"), AttrSpec::ints("dilations"), AttrSpec::i("group", 1),
                   AttrSpec::ints("kernel_shape"), AttrSpec::ints("output_padding"), AttrSpec::ints("output_shape"),
                   AttrSpec::ints("pads"), AttrSpec::ints("strides")};
        o.infer = conv_transpose_infer;
        o.kernel = conv_transpose_kernel;
        o.input0_types = float_types();
        o.doc = "Transposed N-d convolution (1 to 3 spatial dims): GEMM + col2im.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Det: determinant of square matrices in the last two dims, by LU decomposition with partial pivoting.
#include <cmath>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

/// Determinant of an n x n row-major matrix (destroys `a`).
double lu_det(double* a, int64_t n) {
    double det = 1.0;
    for (int64_t k = 0; k < n; ++k) {
        int64_t p = k;
        double best = std::fabs(a[k * n + k]);
        for (int64_t i = k + 1; i < n; ++i) {
            const double v = std::fabs(a[i * n + k]);
            if (v > best) {
                best = v;
                p = i;
            }
        }
        if (best == 0.0) return 0.0;
        if (p != k) {
            for (int64_t j = 0; j < n; ++j) std::swap(a[k * n + j], a[p * n + j]);
            det = -det;
        }
        const double piv = a[k * n + k];
        det *= piv;
        for (int64_t i = k + 1; i < n; ++i) {
            const double f = a[i * n + k] / piv;
            if (f == 0.0) continue;
            for (int64_t j = k + 1; j < n; ++j) a[i * n + j] -= f * a[k * n + j];
        }
    }
    return det;
}

template <typename T>
void det_batch(const KernelContext& ctx, const T* x, T* y, int64_t batch, int64_t n) {
    auto body = [&](int64_t b, int64_t e) {
        std::vector<double> m(static_cast<size_t>(n * n));
        for (int64_t i = b; i < e; ++i) {
            for (int64_t k = 0; k < n * n; ++k) m[static_cast<size_t>(k)] = static_cast<double>(x[i * n * n + k]);
            y[i] = static_cast<T>(lu_det(m.data(), n));
        }
    };
    if (batch * n * n * n < (int64_t{1} << 16)) body(0, batch);
    else ctx.parallel_for(batch, body);
}

Status det_infer(InferContext& ctx) {
    const ir::ValueType& in = ctx.input_type(0);
    if (!in.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(in.dtype));
        return Status::ok();
    }
    if (in.rank() < 2) return ctx.error("Det needs a rank >= 2 input");
    const ir::Dim& a = in.dims[in.dims.size() - 2];
    const ir::Dim& b = in.dims.back();
    if (a.is_static() && b.is_static() && a.value != b.value) return ctx.error("Det needs square matrices");
    ctx.set_output(0, ir::ValueType::tensor(in.dtype, std::vector<ir::Dim>(in.dims.begin(), in.dims.end() - 2)));
    return Status::ok();
}

Status det_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2 || x.dim(x.rank() - 1) != x.dim(x.rank() - 2)) {
        return ctx.input_error("Det needs [..., M, M], got " + shape_to_string(x.shape()));
    }
    const int64_t n = x.dim(x.rank() - 1);
    Shape shape(x.shape().begin(), x.shape().end() - 2);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), shape));
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, det_batch<T>(ctx, x.data<T>(), out->data<T>(), out->numel(), n));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_Det() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Det";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 1;
        o.infer = det_infer;
        o.kernel = det_kernel;
        o.input0_types = float_types();
        o.doc = "Determinant of [..., M, M] (LU with partial pivoting, in double).";
        return o;
    }();
    return d;
}

}  // namespace nnport

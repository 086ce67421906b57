// Gemm: Y = alpha * op(A) * op(B) + beta * C with C unidirectionally broadcast to [M, N] (optional).
#include "ops/gemm_kernel.hpp"
#include "ops/nn_util.hpp"

namespace nnport {

namespace {

Status gemm_infer(InferContext& ctx) {
    const ir::ValueType& a = ctx.input_type(0);
    const ir::ValueType& b = ctx.input_type(1);
    const bool ta = ctx.attr_int("transA") != 0, tb = ctx.attr_int("transB") != 0;
    ir::Dim m = ctx.new_dim(), n = ctx.new_dim();
    if (a.has_shape) {
        if (a.dims.size() != 2) return ctx.error("A must be 2-D");
        m = a.dims[ta ? 1 : 0];
    }
    if (b.has_shape) {
        if (b.dims.size() != 2) return ctx.error("B must be 2-D");
        n = b.dims[tb ? 0 : 1];
    }
    if (a.has_shape && b.has_shape) {
        const ir::Dim& ka = a.dims[ta ? 0 : 1];
        const ir::Dim& kb = b.dims[tb ? 1 : 0];
        if (ka.is_static() && kb.is_static() && ka.value != kb.value) return ctx.error("inner dimensions differ");
    }
    ctx.set_output(0, ir::ValueType::tensor(a.dtype, std::vector<ir::Dim>{m, n}));
    return Status::ok();
}

template <typename T>
void gemm_run(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, const T* b, T beta, T* y,
              ThreadPool* pool) {
    const int64_t lda = ta ? m : k, ldb = tb ? k : n;
    if constexpr (std::is_same_v<T, float>) {
        gemm::sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, y, n, pool);
    } else if constexpr (std::is_same_v<T, double>) {
        gemm::dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, y, n, pool);
    } else {
        gemm::naive_gemm<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, y, n);
    }
}

/// Fills y[M, N] with beta * C broadcast.
template <typename T>
void fill_c(const Tensor& c, T beta, T* y, int64_t m, int64_t n) {
    const Shape out = {m, n};
    const std::vector<int64_t> st = broadcast_strides(c.shape(), out);
    const T* cv = c.data<T>();
    for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) y[i * n + j] = static_cast<T>(beta * cv[i * st[0] + j * st[1]]);
    }
}

Status gemm_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.rank() != 2 || b.rank() != 2) return ctx.input_error("A and B must be 2-D");
    if (a.dtype() != b.dtype()) return ctx.input_error("A and B dtypes differ");
    const bool ta = ctx.attr_int("transA") != 0, tb = ctx.attr_int("transB") != 0;
    const int64_t m = a.dim(ta ? 1 : 0), k = a.dim(ta ? 0 : 1), n = b.dim(tb ? 0 : 1);
    if (b.dim(tb ? 1 : 0) != k) {
        return ctx.input_error("A " + shape_to_string(a.shape()) + " and B " + shape_to_string(b.shape()) +
                               " inner dimensions differ");
    }
    const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    if (c) {
        if (c->dtype() != a.dtype()) return ctx.input_error("C dtype differs from A");
        if (c->rank() > 2 || (c->rank() >= 1 && c->shape().back() != 1 && c->shape().back() != n) ||
            (c->rank() == 2 && c->dim(0) != 1 && c->dim(0) != m)) {
            return ctx.input_error("C " + shape_to_string(c->shape()) + " cannot be broadcast to [" +
                                   std::to_string(m) + "," + std::to_string(n) + "]");
        }
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, a.dtype(), {m, n}));
    if (y->numel() == 0) return Status::ok();
    const double alpha = ctx.attr_float("alpha"), beta = ctx.attr_float("beta");
    const bool use_c = c && beta != 0.0;
    NNPORT_DISPATCH_NUMERIC(a.dtype(), T, ctx, {
        if (use_c) fill_c<T>(*c, static_cast<T>(beta), y->data<T>(), m, n);
        gemm_run<T>(ta, tb, m, n, k, static_cast<T>(alpha), a.data<T>(), b.data<T>(), use_c ? T(1) : T(0),
                    y->data<T>(), ctx.pool());
    });
    return Status::ok();
}

}  // namespace

const OpDef& op_def_Gemm() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Gemm";
        o.since_version = 1;
        o.min_inputs = 2;
        o.max_inputs = 3;
        o.attrs = {AttrSpec::f("alpha", 1.0f), AttrSpec::f("beta", 1.0f), AttrSpec::i("transA", 0),
                   AttrSpec::i("transB", 0)};
        o.infer = gemm_infer;
        o.kernel = gemm_kernel;
        o.input0_types = {DType::kFloat16, DType::kBFloat16, DType::kFloat32, DType::kFloat64,
                          DType::kInt32,   DType::kInt64,    DType::kUInt32,  DType::kUInt64};
        o.doc = "General matrix multiply with optional broadcast bias C.";
        return o;
    }();
    return d;
}

}  // namespace nnport

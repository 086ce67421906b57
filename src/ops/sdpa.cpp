// com.nnport ScaledDotProductAttention: softmax(scale * Q K^T + mask) V over the last two dims, batch dims broadcast
// as MatMul does. Written by the fuse_attention pass for the attention core that exporters spell as MatMul ->
// Mul/Div -> [Add mask] -> Softmax -> MatMul. The kernel works on 64-row query blocks in parallel over
// (batch x heads x blocks): the scores of one block live in a per-thread scratch, masks are read through broadcast
// strides (never expanded), and both products run on the blocked GEMM.
#include <cmath>
#include <vector>

#include "ops/gemm_kernel.hpp"
#include "ops/kernel_util.hpp"

namespace nnport {

namespace {

constexpr int64_t kRowBlock = 64;

Status sdpa_infer(InferContext& ctx) {
    const ir::ValueType& q = ctx.input_type(0);
    const ir::ValueType& k = ctx.input_type(1);
    const ir::ValueType& v = ctx.input_type(2);
    if (!q.has_shape || !k.has_shape || !v.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(q.dtype));
        return Status::ok();
    }
    if (q.dims.size() < 2 || k.dims.size() < 2 || v.dims.size() < 2) return ctx.error("Q, K and V need rank >= 2");
    const bool kt = ctx.attr_int("k_transposed") != 0;
    const ir::Dim& d_q = q.dims.back();
    const ir::Dim& d_k = kt ? k.dims[k.dims.size() - 2] : k.dims.back();
    const ir::Dim& s_k = kt ? k.dims.back() : k.dims[k.dims.size() - 2];
    const ir::Dim& s_v = v.dims[v.dims.size() - 2];
    if (d_q.is_static() && d_k.is_static() && d_q.value != d_k.value) return ctx.error("Q and K head sizes differ");
    if (s_k.is_static() && s_v.is_static() && s_k.value != s_v.value) return ctx.error("K and V lengths differ");
    auto batch_of = [](const ir::ValueType& t) {
        return ir::ValueType::tensor(t.dtype, std::vector<ir::Dim>(t.dims.begin(), t.dims.end() - 2));
    };
    const ir::ValueType bq = batch_of(q), bk = batch_of(k), bv = batch_of(v);
    auto bt = broadcast_types({&bq, &bk, &bv}, q.dtype);
    if (!bt.is_ok()) return ctx.error("batch dims do not broadcast: " + bt.status().message());
    std::vector<ir::Dim> out = bt.value().dims;
    out.push_back(q.dims[q.dims.size() - 2]);
    out.push_back(v.dims.back());
    for (auto& x : out) {
        if (!x.is_static() && x.param.empty()) x = ctx.new_dim();
    }
    ctx.set_output(0, ir::ValueType::tensor(q.dtype, std::move(out)));
    return Status::ok();
}

void gemm_t(bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
            int64_t ldb, float* c, int64_t ldc) {
    gemm::sgemm(false, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc, nullptr);
}
void gemm_t(bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda, const double* b,
            int64_t ldb, double* c, int64_t ldc) {
    gemm::dgemm(false, tb, m, n, k, alpha, a, lda, b, ldb, 0.0, c, ldc, nullptr);
}

/// Row softmax exactly as the Softmax op computes it (a row of -inf gives NaN there too).
template <typename T>
void softmax_row(T* s, int64_t n) {
    T m = s[0];
    for (int64_t j = 1; j < n; ++j) m = s[j] > m ? s[j] : m;
    T sum = 0;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = std::exp(s[j] - m);
        sum += s[j];
    }
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < n; ++j) s[j] *= inv;
}

/// Offsets (in elements) of each batch index of `batch` into a tensor whose leading dims are `dims` (right-aligned,
/// broadcast where 1), in units of `unit`-element matrices, or element strides when `unit` is 0.
std::vector<int64_t> batch_offsets(const Shape& dims, const Shape& batch, int64_t unit) {
    Shape full(batch.size() - dims.size(), 1);
    full.insert(full.end(), dims.begin(), dims.end());
    const std::vector<int64_t> st = broadcast_strides(full, batch);
    const int64_t nb = shape_numel(batch);
    std::vector<int64_t> off(static_cast<size_t>(nb));
    std::vector<int64_t> idx(batch.size(), 0);
    for (int64_t i = 0; i < nb; ++i) {
        int64_t o = 0;
        for (size_t d = 0; d < batch.size(); ++d) o += idx[d] * st[d];
        off[static_cast<size_t>(i)] = unit > 0 ? o * unit : o;
        for (size_t d = batch.size(); d-- > 0;) {
            if (++idx[d] < batch[d]) break;
            idx[d] = 0;
        }
    }
    return off;
}

Status sdpa_kernel(KernelContext& ctx) {
    for (size_t i = 1; i < 3; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& q = ctx.input(0);
    const Tensor& k = ctx.input(1);
    const Tensor& v = ctx.input(2);
    if (k.dtype() != q.dtype() || v.dtype() != q.dtype()) return ctx.input_error("Q, K and V dtypes differ");
    if (q.rank() < 2 || k.rank() < 2 || v.rank() < 2) return ctx.input_error("Q, K and V need rank >= 2");
    const bool kt = ctx.attr_int("k_transposed") != 0;
    const int64_t L = q.dim(q.rank() - 2), D = q.dim(q.rank() - 1);
    const int64_t S = kt ? k.dim(k.rank() - 1) : k.dim(k.rank() - 2);
    const int64_t Dk = kt ? k.dim(k.rank() - 2) : k.dim(k.rank() - 1);
    const int64_t Dv = v.dim(v.rank() - 1);
    if (Dk != D)
        return ctx.input_error("Q " + shape_to_string(q.shape()) + " and K " + shape_to_string(k.shape()) +
                               " head sizes differ");
    if (v.dim(v.rank() - 2) != S) return ctx.input_error("K and V sequence lengths differ");
    const Shape qb(q.shape().begin(), q.shape().end() - 2), kb(k.shape().begin(), k.shape().end() - 2),
        vb(v.shape().begin(), v.shape().end() - 2);
    auto b1 = broadcast_shapes(qb, kb);
    if (!b1.is_ok()) return ctx.input_error(b1.status().message());
    auto b2 = broadcast_shapes(b1.value(), vb);
    if (!b2.is_ok()) return ctx.input_error(b2.status().message());
    const Shape batch = b2.value();
    Shape out = batch;
    out.push_back(L);
    out.push_back(Dv);
    Shape scores_shape = batch;
    scores_shape.push_back(L);
    scores_shape.push_back(S);
    const Tensor* mask = ctx.has_input(3) ? &ctx.input(3) : nullptr;
    std::vector<int64_t> mst;
    if (mask) {
        if (mask->dtype() != q.dtype()) return ctx.input_error("mask must have Q's dtype (additive mask)");
        auto mb = broadcast_shapes(mask->shape(), scores_shape);
        if (mask->rank() > static_cast<int64_t>(scores_shape.size()) || !mb.is_ok() || mb.value() != scores_shape) {
            return ctx.input_error("mask " + shape_to_string(mask->shape()) + " does not broadcast to the scores " +
                                   shape_to_string(scores_shape));
        }
        mst = broadcast_strides(mask->shape(), scores_shape);
    }
    if (S > kMaxTensorBytes / static_cast<int64_t>(kRowBlock * sizeof(double))) {
        return ctx.input_error("sequence length " + std::to_string(S) + " is too long");
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, q.dtype(), out));
    if (y->numel() == 0) return Status::ok();
    const double scale = ctx.has_attr("scale") ? ctx.attr_float("scale") : 1.0 / std::sqrt(static_cast<double>(D));
    const std::vector<int64_t> qo = batch_offsets(qb, batch, L * D), ko = batch_offsets(kb, batch, S * D),
                               vo = batch_offsets(vb, batch, S * Dv);
    std::vector<int64_t> mo;
    int64_t m_row = 0, m_col = 0;
    if (mask) {
        const std::vector<int64_t> bst(mst.begin(), mst.end() - 2);
        mo.assign(static_cast<size_t>(shape_numel(batch)), 0);
        std::vector<int64_t> idx(batch.size(), 0);
        for (size_t i = 0; i < mo.size(); ++i) {
            for (size_t d = 0; d < batch.size(); ++d) mo[i] += idx[d] * bst[d];
            for (size_t d = batch.size(); d-- > 0;) {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
        m_row = mst[mst.size() - 2];
        m_col = mst.back();
    }
    const int64_t nb = shape_numel(batch), nblk = (L + kRowBlock - 1) / kRowBlock;
    NNPORT_DISPATCH_FLOAT(q.dtype(), T, ctx, {
        const T* qd = q.data<T>();
        const T* kd = k.data<T>();
        const T* vd = v.data<T>();
        const T* md = mask ? mask->data<T>() : nullptr;
        T* yd = y->data<T>();
        ctx.parallel_for(nb * nblk, [&](int64_t t0, int64_t t1) {
            std::vector<T> scores(static_cast<size_t>(std::min(kRowBlock, L) * S));
            for (int64_t t = t0; t < t1; ++t) {
                const size_t b = static_cast<size_t>(t / nblk);
                const int64_t i0 = (t % nblk) * kRowBlock, rows = std::min(kRowBlock, L - i0);
                T* sc = scores.data();
                gemm_t(!kt, rows, S, D, static_cast<T>(scale), qd + qo[b] + i0 * D, D, kd + ko[b], kt ? S : D, sc, S);
                for (int64_t r = 0; r < rows; ++r) {
                    T* s = sc + r * S;
                    if (md) {
                        const T* mrow = md + mo[b] + (i0 + r) * m_row;
                        if (m_col == 1) {
                            for (int64_t j = 0; j < S; ++j) s[j] += mrow[j];
                        } else {
                            for (int64_t j = 0; j < S; ++j) s[j] += mrow[0];
                        }
                    }
                    softmax_row(s, S);
                }
                gemm_t(false, rows, Dv, S, T(1), sc, S, vd + vo[b], Dv, yd + (static_cast<int64_t>(b) * L + i0) * Dv,
                       Dv);
            }
        });
    });
    return Status::ok();
}

}  // namespace

const OpDef& op_def_ScaledDotProductAttention() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "ScaledDotProductAttention";
        o.domain = "com.nnport";
        o.since_version = 1;
        o.min_inputs = 3;
        o.max_inputs = 4;
        o.attrs = {AttrSpec::none("scale", ir::AttrType::kFloat), AttrSpec::i("k_transposed", 0)};
        o.infer = sdpa_infer;
        o.kernel = sdpa_kernel;
        o.input0_types = float_types();
        o.doc =
            "nnport fused op: softmax(scale * Q K^T + mask) V; Q [..., L, D], K [..., S, D] ([..., D, S] when "
            "k_transposed), V [..., S, Dv], additive mask broadcast to [..., L, S]; scale defaults to 1/sqrt(D).";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Attention (opsets 23/24): scaled dot-product attention over 3-D or 4-D Q/K/V with MHA/GQA/MQA heads, boolean or
// additive masks, causal masking, in-op KV-cache concatenation (past/present), softcap and the QK debug output.
//
// Semantics follow the ONNX reference (onnx/reference/ops/op_attention.py) after the 2026 errata (onnx#8068):
// scores = scale * Q K^T -> softcap -> + bias (mask, causal, nonpad) -> softmax -> * V. GQA repeats each KV head
// for a contiguous group of query heads. Causal masking is offset by the past length (or, with nonpad_kv_seqlen
// and no past, bottom-right aligned). A query row whose scores are all -inf produces a zero output row (the
// errata), while qk_matmul_output mode 3 keeps the NaN the plain softmax gives. qk_matmul_output modes:
// 0 = scale*QK, 1 = scale*QK + bias, 2 = softcap(scale*QK) + bias (the softmax input), 3 = softmax.
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/attention_util.hpp"
#include "ops/gemm_kernel.hpp"

namespace nnport {

namespace {

constexpr int64_t kRowBlock = 64;  // query rows per task: bounds the score scratch to kRowBlock x total_seq

std::vector<int64_t> dims_of(const ir::ValueType& t) {
    std::vector<int64_t> d;
    for (const ir::Dim& x : t.dims) d.push_back(x.is_static() ? x.value : -1);
    return d;
}

/// A computed dim, or a fresh symbol when unknown.
ir::Dim dim_or_new(InferContext& ctx, int64_t v) { return v >= 0 ? ir::Dim(v) : ctx.new_dim(); }

Status attention_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(attn::check_attrs(ctx));
    const ir::ValueType& qt = ctx.input_type(0);
    const ir::ValueType& kt = ctx.input_type(1);
    const ir::ValueType& vt = ctx.input_type(2);
    const DType dt = qt.dtype;
    const DType vdt = vt.dtype != DType::kUndefined ? vt.dtype : dt;
    if (!qt.has_shape || !kt.has_shape || !vt.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(dt));
        for (size_t i = 1; i < 4; ++i) {
            if (!ctx.has_output(i)) continue;
            std::vector<ir::Dim> d(4);
            for (auto& x : d) x = ctx.new_dim();
            ctx.set_output(i, ir::ValueType::tensor(i == 1 ? kt.dtype : i == 2 ? vdt : dt, std::move(d)));
        }
        return Status::ok();
    }
    const ir::ValueType* pk = ctx.has_input(4) ? &ctx.input_type(4) : nullptr;
    const ir::ValueType* pv = ctx.has_input(5) ? &ctx.input_type(5) : nullptr;
    if ((pk == nullptr) != (pv == nullptr)) return ctx.error("past_key and past_value must be given together");
    const std::vector<int64_t> pkd = pk && pk->has_shape ? dims_of(*pk) : std::vector<int64_t>{};
    const std::vector<int64_t> pvd = pv && pv->has_shape ? dims_of(*pv) : std::vector<int64_t>{};
    NNPORT_ASSIGN_OR_RETURN(attn::Dims a, attn::resolve(ctx, dims_of(qt), dims_of(kt), dims_of(vt), pk != nullptr,
                                                        pk && pk->has_shape ? &pkd : nullptr,
                                                        pv && pv->has_shape ? &pvd : nullptr));
    if (ctx.has_input(3)) {
        const ir::ValueType& mt = ctx.input_type(3);
        if (mt.has_shape) NNPORT_RETURN_IF_ERROR(attn::check_mask_dims(ctx, dims_of(mt), a));
    }
    const ir::Dim batch = qt.dims[0];
    const ir::Dim q_seq = a.rank3 ? qt.dims[1] : qt.dims[2];
    const ir::Dim q_heads = dim_or_new(ctx, a.q_heads);
    const ir::Dim kv_heads = dim_or_new(ctx, a.kv_heads);
    const ir::Dim total = (pk == nullptr) ? (a.rank3 ? kt.dims[1] : kt.dims[2]) : dim_or_new(ctx, a.total);
    const ir::Dim head = dim_or_new(ctx, a.head), v_head = dim_or_new(ctx, a.v_head);
    if (a.rank3) {
        const int64_t hidden = a.q_heads >= 0 && a.v_head >= 0 ? a.q_heads * a.v_head : -1;
        ctx.set_output(0, ir::ValueType::tensor(dt, {batch, q_seq, dim_or_new(ctx, hidden)}));
    } else {
        ctx.set_output(0, ir::ValueType::tensor(dt, {batch, qt.dims[1], q_seq, v_head}));
    }
    ctx.set_output(1, ir::ValueType::tensor(kt.dtype, {batch, kv_heads, total, head}));
    ctx.set_output(2, ir::ValueType::tensor(vdt, {batch, kv_heads, total, v_head}));
    ctx.set_output(3, ir::ValueType::tensor(dt, {batch, q_heads, q_seq, total}));
    return Status::ok();
}

inline void gemm_nt(bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float* c, int64_t ldc) {
    gemm::sgemm(false, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc, nullptr);
}
inline void gemm_nt(bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                    const double* b, int64_t ldb, double* c, int64_t ldc) {
    gemm::dgemm(false, tb, m, n, k, alpha, a, lda, b, ldb, 0.0, c, ldc, nullptr);
}

/// In-place softmax of one row in precision A; returns false (row zeroed) if every score is -inf.
template <typename T, typename A>
bool softmax_row(T* s, int64_t n) {
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < n; ++j) m = s[j] > m ? s[j] : m;
    if (n == 0 || m == -std::numeric_limits<T>::infinity()) {
        std::fill(s, s + n, T(0));
        return false;
    }
    A sum = 0;
    for (int64_t j = 0; j < n; ++j) {
        const A e = std::exp(static_cast<A>(s[j]) - static_cast<A>(m));
        s[j] = static_cast<T>(e);
        sum += e;
    }
    const A inv = A(1) / sum;
    for (int64_t j = 0; j < n; ++j) s[j] = static_cast<T>(static_cast<A>(s[j]) * inv);
    return true;
}

template <typename T>
Status attention_typed(KernelContext& ctx, const attn::Dims& a, const attn::Inputs<T>& in, const attn::Options& o) {
    const int64_t B = a.batch, Hq = a.q_heads, Hkv = a.kv_heads, Sq = a.q_seq, Skv = a.kv_seq, P = a.past;
    const int64_t Tt = a.total, D = a.head, Dv = a.v_head, group = Hq / Hkv;
    // The per-task score scratch is kRowBlock x total_seq; K/V with empty heads can claim any length cheaply.
    if (Tt > kMaxTensorBytes / static_cast<int64_t>(kRowBlock * sizeof(T))) {
        return ctx.input_error("total sequence length " + std::to_string(Tt) + " is too long");
    }
    const Shape y_shape = a.rank3 ? Shape{B, Sq, Hq * Dv} : Shape{B, Hq, Sq, Dv};
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DTypeOf<T>::value, y_shape));
    T* qk = nullptr;
    if (ctx.has_output(3)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(3, DTypeOf<T>::value, {B, Hq, Sq, Tt}));
        qk = t->data<T>();
    }
    // Present caches: outputs when requested; a scratch concatenation when only the past makes them necessary.
    Tensor present[2];
    const T* kv_src[2] = {in.k, in.v};
    const T* past_src[2] = {in.past_k, in.past_v};
    const int64_t width[2] = {D, Dv};
    for (int i = 0; i < 2; ++i) {
        if (!ctx.has_output(static_cast<size_t>(i + 1)) && !past_src[i]) continue;
        const Shape ps{B, Hkv, Tt, width[i]};
        if (ctx.has_output(static_cast<size_t>(i + 1))) {
            NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(static_cast<size_t>(i + 1), DTypeOf<T>::value, ps));
            present[i] = *t;
        } else {
            NNPORT_ASSIGN_OR_RETURN(present[i], Tensor::create(DTypeOf<T>::value, ps));
        }
        attn::concat_cache(past_src[i], kv_src[i], present[i].data<T>(), B, Hkv, P, Skv, width[i], a.rank3);
    }
    // Nothing to compute (a zero-sized dim): skip the loops, whose trip counts may still be huge.
    if (y->numel() == 0 && (!qk || B * Hq * Sq * Tt == 0)) return Status::ok();
    // Row strides of the per-head matrices (3-D inputs are [B, S, H*D]: heads interleave within a row).
    const int64_t q_ld = a.rank3 ? Hq * D : D, y_ld = a.rank3 ? Hq * Dv : Dv;
    const bool k_cat = past_src[0] != nullptr, v_cat = past_src[1] != nullptr;
    const int64_t k_ld = k_cat || !a.rank3 ? D : Hkv * D, v_ld = v_cat || !a.rank3 ? Dv : Hkv * Dv;
    const T* kbase = k_cat ? present[0].data<T>() : in.k;
    const T* vbase = v_cat ? present[1].data<T>() : in.v;
    const int64_t k_rows = k_cat ? Tt : Skv, v_rows = v_cat ? Tt : Skv;
    auto head_ptr = [](auto* base, bool r3, int64_t b, int64_t h, int64_t heads, int64_t rows, int64_t w) {
        return r3 ? base + b * rows * heads * w + h * w : base + (b * heads + h) * rows * w;
    };
    const T neg_inf = -std::numeric_limits<T>::infinity();
    const T cap = static_cast<T>(o.softcap);
    const bool wide = o.softmax_double || std::is_same_v<T, double>;
    const int64_t nblk = (Sq + kRowBlock - 1) / kRowBlock;
    T* yd = y->data<T>();
    ctx.parallel_for(B * Hq * nblk, [&](int64_t t0, int64_t t1) {
        std::vector<T> scores(static_cast<size_t>(kRowBlock * Tt)), bias(static_cast<size_t>(Tt));
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t blk = t % nblk, h = (t / nblk) % Hq, b = t / (nblk * Hq), hk = h / group;
            const int64_t i0 = blk * kRowBlock, rows = std::min(kRowBlock, Sq - i0);
            const T* qp = head_ptr(in.q, a.rank3, b, h, Hq, Sq, D) + i0 * q_ld;
            const T* kp = head_ptr(kbase, a.rank3 && !k_cat, b, hk, Hkv, k_rows, D);
            const T* vp = head_ptr(vbase, a.rank3 && !v_cat, b, hk, Hkv, v_rows, Dv);
            T* yp = head_ptr(yd, a.rank3, b, h, Hq, Sq, Dv) + i0 * y_ld;
            const int64_t valid = in.nonpad ? in.nonpad[b] : Tt;
            const int64_t offset = k_cat || !in.nonpad ? P : in.nonpad[b] - Sq;
            // Without the QK output, columns that every row of the block masks out are skipped entirely.
            int64_t ncol = Tt;
            if (!qk) {
                ncol = std::min(ncol, valid);
                if (in.mask) ncol = std::min(ncol, in.mask_len);
                if (o.causal) ncol = std::max<int64_t>(0, std::min(ncol, i0 + rows + offset));
            }
            T* S = scores.data();
            gemm_nt(true, rows, ncol, D, static_cast<T>(o.scale), qp, q_ld, kp, k_ld, S, Tt);
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t gi = i0 + r;
                T* s = S + r * Tt;
                T* qrow = qk ? qk + ((b * Hq + h) * Sq + gi) * Tt : nullptr;
                if (qrow && o.mode == 0) std::memcpy(qrow, s, static_cast<size_t>(Tt) * sizeof(T));
                T* bs = bias.data();
                const bool masked = in.mask || o.causal || in.nonpad;
                if (masked) {
                    std::fill(bs, bs + ncol, T(0));
                    if (in.mask) {
                        const T* mrow = in.mask + b * in.mask_sb + h * in.mask_sh + gi * in.mask_sq;
                        const int64_t mk = std::min(ncol, in.mask_len);
                        for (int64_t j = 0; j < mk; ++j) bs[j] = mrow[j];
                        for (int64_t j = mk; j < ncol; ++j) bs[j] = neg_inf;  // a short mask is padded with -inf
                    }
                    if (o.causal) {
                        for (int64_t j = std::max<int64_t>(0, gi + offset + 1); j < ncol; ++j) bs[j] = neg_inf;
                    }
                    for (int64_t j = valid; j < ncol; ++j) bs[j] = neg_inf;
                }
                if (qrow && o.mode == 1) {
                    for (int64_t j = 0; j < ncol; ++j) qrow[j] = masked ? s[j] + bs[j] : s[j];
                }
                if (o.softcap > 0) {
                    for (int64_t j = 0; j < ncol; ++j) s[j] = cap * std::tanh(s[j] / cap);
                }
                if (masked) {
                    for (int64_t j = 0; j < ncol; ++j) s[j] += bs[j];
                }
                if (qrow && o.mode == 2) std::memcpy(qrow, s, static_cast<size_t>(Tt) * sizeof(T));
                const bool live = wide ? softmax_row<T, double>(s, ncol) : softmax_row<T, float>(s, ncol);
                if (qrow && o.mode == 3) {
                    if (live) std::memcpy(qrow, s, static_cast<size_t>(Tt) * sizeof(T));
                    else std::fill(qrow, qrow + Tt, std::numeric_limits<T>::quiet_NaN());
                }
            }
            gemm_nt(false, rows, Dv, ncol, T(1), S, Tt, vp, v_ld, yp, y_ld);
        }
    });
    return Status::ok();
}

Status attention_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(attn::check_attrs(ctx));
    for (size_t i = 1; i < 3; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& q = ctx.input(0);
    const Tensor& k = ctx.input(1);
    const Tensor& v = ctx.input(2);
    if (k.dtype() != q.dtype() || v.dtype() != q.dtype()) {
        return ctx.input_error("Q, K and V of different element types are not supported");
    }
    const bool has_pk = ctx.has_input(4), has_pv = ctx.has_input(5);
    if (has_pk != has_pv) return ctx.input_error("past_key and past_value must be given together");
    const Tensor* pk = has_pk ? &ctx.input(4) : nullptr;
    const Tensor* pv = has_pv ? &ctx.input(5) : nullptr;
    if ((pk && pk->dtype() != q.dtype()) || (pv && pv->dtype() != q.dtype())) {
        return ctx.input_error("past_key/past_value must have Q's element type");
    }
    NNPORT_ASSIGN_OR_RETURN(attn::Dims a, attn::resolve(ctx, q.shape(), k.shape(), v.shape(), has_pk,
                                                        pk ? &pk->shape() : nullptr, pv ? &pv->shape() : nullptr));
    const attn::Options o = attn::options(ctx, a.head);
    const int64_t* nonpad = nullptr;
    if (ctx.has_input(6)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(6));
        NNPORT_ASSIGN_OR_RETURN(nonpad, attn::check_nonpad(ctx, ctx.input(6), a));
    }
    NNPORT_DISPATCH_FLOAT(q.dtype(), T, ctx, {
        attn::Inputs<T> in;
        in.q = q.data<T>();
        in.k = k.data<T>();
        in.v = v.data<T>();
        in.past_k = pk ? pk->data<T>() : nullptr;
        in.past_v = pv ? pv->data<T>() : nullptr;
        in.nonpad = nonpad;
        std::vector<T> mask_buf;
        if (ctx.has_input(3)) {
            NNPORT_RETURN_IF_ERROR(ctx.require_tensor(3));
            NNPORT_RETURN_IF_ERROR(attn::additive_mask<T>(ctx, ctx.input(3), a, mask_buf, in));
        }
        NNPORT_RETURN_IF_ERROR(attention_typed<T>(ctx, a, in, o));
    });
    return Status::ok();
}

}  // namespace

const OpDef& op_def_Attention() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Attention";
        o.since_version = 23;
        o.min_inputs = 3;
        o.max_inputs = 7;
        o.min_outputs = 1;
        o.max_outputs = 4;
        o.attrs = {AttrSpec::i("is_causal", 0),
                   AttrSpec::none("kv_num_heads", ir::AttrType::kInt),
                   AttrSpec::none("q_num_heads", ir::AttrType::kInt),
                   AttrSpec::i("qk_matmul_output_mode", 0),
                   AttrSpec::none("scale", ir::AttrType::kFloat),
                   AttrSpec::f("softcap", 0.0f),
                   AttrSpec::none("softmax_precision", ir::AttrType::kInt)};
        o.infer = attention_infer;
        o.kernel = attention_kernel;
        o.input0_types = float_types();
        o.doc = "softmax(softcap(scale * Q K^T) + mask) V with GQA, causal masking and an in-op KV cache.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Quant family helpers: parameter layouts, integer matmul/conv cores (see quant_util.hpp).
#include "ops/quant_util.hpp"

#include <algorithm>

#include "ops/gemm_kernel.hpp"

namespace nnport::quant {

bool is_quant_type(DType t) {
    return t == DType::kUInt8 || t == DType::kInt8 || t == DType::kUInt16 || t == DType::kInt16;
}

void quant_range(DType t, int32_t& lo, int32_t& hi) {
    switch (t) {
        case DType::kUInt8: lo = 0; hi = 255; break;
        case DType::kInt8: lo = -128; hi = 127; break;
        case DType::kUInt16: lo = 0; hi = 65535; break;
        case DType::kInt16: lo = -32768; hi = 32767; break;
        default: lo = INT32_MIN; hi = INT32_MAX; break;
    }
}

Result<ParamLayout> param_layout(const AttrAccess& a, const Shape& x, const Tensor& scale, const Tensor* zero_point,
                                 int64_t axis, int64_t block_size) {
    if (zero_point && zero_point->shape() != scale.shape()) {
        return a.input_error("zero point shape " + shape_to_string(zero_point->shape()) + " differs from scale shape " +
                             shape_to_string(scale.shape()));
    }
    if (block_size < 0) return a.error("block_size must be non-negative, got " + std::to_string(block_size));
    ParamLayout l;
    l.inner = shape_numel(x);
    if (scale.numel() == 1) return l;  // per tensor, whatever the scale's rank
    const int64_t rank = static_cast<int64_t>(x.size());
    auto ax = normalize_axis(axis, rank);
    if (!ax.is_ok()) {
        return a.error("axis " + std::to_string(axis) + " is out of range for input rank " + std::to_string(rank));
    }
    const size_t axi = static_cast<size_t>(ax.value());
    l.per_tensor = false;
    l.outer = 1;
    l.inner = 1;
    for (size_t d = 0; d < axi; ++d) l.outer *= x[d];
    for (size_t d = axi + 1; d < x.size(); ++d) l.inner *= x[d];
    l.dim = x[axi];
    if (block_size == 0) {
        if (scale.rank() != 1 || scale.dim(0) != l.dim) {
            return a.input_error("per-axis scale must be 1-D with " + std::to_string(l.dim) + " values (input " +
                                 shape_to_string(x) + ", axis " + std::to_string(axis) + "), got " +
                                 shape_to_string(scale.shape()));
        }
        return l;
    }
    l.block = block_size;
    l.blocks = (l.dim + block_size - 1) / block_size;
    bool ok = scale.rank() == rank;
    for (size_t d = 0; ok && d < x.size(); ++d) ok = scale.dim(static_cast<int64_t>(d)) == (d == axi ? l.blocks : x[d]);
    if (!ok) {
        return a.input_error("blocked scale " + shape_to_string(scale.shape()) + " must match input " +
                             shape_to_string(x) + " except for " + std::to_string(l.blocks) + " blocks along axis " +
                             std::to_string(axis));
    }
    return l;
}

std::vector<int32_t> zero_point_values(const Tensor* zp) {
    if (!zp) return {0};
    std::vector<int32_t> v(static_cast<size_t>(zp->numel()));
    for (int64_t i = 0; i < zp->numel(); ++i) v[static_cast<size_t>(i)] = static_cast<int32_t>(zp->item_as_int(i));
    return v;
}

Status check_zero_point_dtype(const AttrAccess& a, const Tensor* zp, DType want, const char* what) {
    if (zp && zp->dtype() != want) {
        return a.input_error(std::string(what) + " has dtype " + dtype_name(zp->dtype()) + ", expected " +
                             dtype_name(want));
    }
    return Status::ok();
}

Result<MatParam> mat_param(const AttrAccess& a, const Tensor& p, const Shape& shape, bool rows, const char* what) {
    MatParam r;
    if (p.numel() == 1) return r;
    const size_t rank = shape.size();
    if (rank >= 2) {
        r.len = rows ? shape[rank - 2] : shape[rank - 1];
        if (p.rank() == 1 && p.dim(0) == r.len) {
            r.kind = 1;
            return r;
        }
        Shape want = shape;
        want[rows ? rank - 1 : rank - 2] = 1;
        if (p.shape() == want) {
            r.kind = 2;
            return r;
        }
    }
    return a.input_error(std::string(what) + " " + shape_to_string(p.shape()) + " must hold one value or one per " +
                         (rows ? "row" : "column") + " of its operand " + shape_to_string(shape));
}

Result<MatMulShape> matmul_shape(const AttrAccess& a, const Shape& a0, const Shape& b0) {
    if (a0.empty() || b0.empty()) return a.input_error("operands must have rank >= 1");
    Shape as = a0, bs = b0;
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    MatMulShape s;
    s.m = as[as.size() - 2];
    s.k = as.back();
    s.n = bs.back();
    if (bs[bs.size() - 2] != s.k) {
        return a.input_error("shapes " + shape_to_string(a0) + " and " + shape_to_string(b0) + " are not aligned");
    }
    const Shape ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    auto bc = broadcast_shapes(ba, bb);
    if (!bc.is_ok()) return a.input_error(bc.status().message());
    const Shape batch = bc.value();
    s.out = batch;
    if (a0.size() > 1) s.out.push_back(s.m);
    if (b0.size() > 1) s.out.push_back(s.n);
    s.mats_a = shape_numel(ba);
    s.mats_b = shape_numel(bb);
    const int64_t total = shape_numel(s.out);
    if (total < 0) return a.input_error("output shape " + shape_to_string(s.out) + " is too large");
    if (total == 0) return s;  // nothing to compute: the batch may be huge while a matrix is empty
    const int64_t nb = shape_numel(batch);
    Shape fa(batch.size() - ba.size(), 1), fb(batch.size() - bb.size(), 1);
    fa.insert(fa.end(), ba.begin(), ba.end());
    fb.insert(fb.end(), bb.begin(), bb.end());
    const std::vector<int64_t> sa = broadcast_strides(fa, batch), sb = broadcast_strides(fb, batch);
    s.off_a.resize(static_cast<size_t>(nb));
    s.off_b.resize(static_cast<size_t>(nb));
    std::vector<int64_t> idx(batch.size(), 0);
    for (int64_t i = 0; i < nb; ++i) {
        int64_t oa = 0, ob = 0;
        for (size_t d = 0; d < batch.size(); ++d) {
            oa += idx[d] * sa[d];
            ob += idx[d] * sb[d];
        }
        s.off_a[static_cast<size_t>(i)] = oa;
        s.off_b[static_cast<size_t>(i)] = ob;
        for (size_t d = batch.size(); d-- > 0;) {
            if (++idx[d] < batch[d]) break;
            idx[d] = 0;
        }
    }
    return s;
}

Status matmul_infer_dims(InferContext& ctx, size_t a_index, size_t b_index, DType out) {
    const ir::ValueType& at = ctx.input_type(a_index);
    const ir::ValueType& bt = ctx.input_type(b_index);
    if (!at.has_shape || !bt.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(out));
        return Status::ok();
    }
    if (at.dims.empty() || bt.dims.empty()) return ctx.error("operands must have rank >= 1");
    std::vector<ir::Dim> ad = at.dims, bd = bt.dims;
    if (ad.size() == 1) ad.insert(ad.begin(), ir::Dim(1));
    if (bd.size() == 1) bd.push_back(ir::Dim(1));
    const ir::Dim& ka = ad.back();
    const ir::Dim& kb = bd[bd.size() - 2];
    if (ka.is_static() && kb.is_static() && ka.value != kb.value) {
        return ctx.error("inner dimensions " + std::to_string(ka.value) + " and " + std::to_string(kb.value) +
                         " differ");
    }
    const ir::ValueType ba = ir::ValueType::tensor(out, std::vector<ir::Dim>(ad.begin(), ad.end() - 2));
    const ir::ValueType bb = ir::ValueType::tensor(out, std::vector<ir::Dim>(bd.begin(), bd.end() - 2));
    auto bt2 = broadcast_types({&ba, &bb}, out);
    if (!bt2.is_ok()) return ctx.error(bt2.status().message());
    std::vector<ir::Dim> d = bt2.value().dims;
    if (at.dims.size() > 1) d.push_back(ad[ad.size() - 2]);
    if (bt.dims.size() > 1) d.push_back(bd.back());
    for (auto& x : d) {
        if (!x.is_static() && x.param.empty()) x = ctx.new_dim();
    }
    ctx.set_output(0, ir::ValueType::tensor(out, d));
    return Status::ok();
}

namespace {

/// y = x - zp for `mats` matrices [rows, cols]; the zero point varies along rows (per_row) or columns.
template <typename T>
void widen(const T* x, int32_t* y, int64_t mats, int64_t rows, int64_t cols, const MatParam& p, const int32_t* zp,
           bool per_row) {
    for (int64_t mat = 0; mat < mats; ++mat) {
        for (int64_t r = 0; r < rows; ++r) {
            const T* __restrict xr = x + (mat * rows + r) * cols;
            int32_t* __restrict yr = y + (mat * rows + r) * cols;
            if (per_row || p.kind == 0) {
                const int32_t z = zp[per_row ? p.index(mat, r) : 0];
                for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<int32_t>(xr[c]) - z;
            } else {
                const int32_t* __restrict zr = zp + p.index(mat, 0);
                for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<int32_t>(xr[c]) - zr[c];
            }
        }
    }
}

Status widen_tensor(const KernelContext& ctx, const Tensor& t, int32_t* y, int64_t mats, int64_t rows, int64_t cols,
                    const MatParam& p, const std::vector<int32_t>& zp, bool per_row) {
    NNPORT_DISPATCH_QUANT(t.dtype(), T, ctx, widen<T>(t.data<T>(), y, mats, rows, cols, p, zp.data(), per_row));
    return Status::ok();
}

void batched_igemm(const int32_t* a, const int32_t* b, int32_t* c, const MatMulShape& s, ThreadPool* pool) {
    const int64_t nb = static_cast<int64_t>(s.off_a.size());
    const int64_t mk = s.m * s.k, kn = s.k * s.n, mn = s.m * s.n;
    bool a_dense = s.mats_b == 1;
    for (int64_t i = 0; a_dense && i < nb; ++i) a_dense = s.off_a[static_cast<size_t>(i)] == i;
    if (a_dense) {
        // B shared by every batch and A in order: one tall GEMM parallel over all rows.
        gemm::igemm(nb * s.m, s.n, s.k, a, s.k, b, s.n, c, s.n, false, pool);
        return;
    }
    const int64_t threads = pool ? pool->num_threads() : 1;
    auto one = [&](int64_t i, ThreadPool* inner) {
        gemm::igemm(s.m, s.n, s.k, a + s.off_a[static_cast<size_t>(i)] * mk, s.k,
                    b + s.off_b[static_cast<size_t>(i)] * kn, s.n, c + i * mn, s.n, false, inner);
    };
    if (pool && threads > 1 && nb >= 2 * threads) {
        pool->parallel_for(nb, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) one(i, nullptr);
        });
    } else {
        for (int64_t i = 0; i < nb; ++i) one(i, pool);
    }
}

}  // namespace

Status int_matmul(KernelContext& ctx, const Tensor& a, const Tensor* a_zp, const Tensor& b, const Tensor* b_zp,
                  const MatMulShape& s, int32_t* c) {
    NNPORT_RETURN_IF_ERROR(check_zero_point_dtype(ctx, a_zp, a.dtype(), "a_zero_point"));
    NNPORT_RETURN_IF_ERROR(check_zero_point_dtype(ctx, b_zp, b.dtype(), "b_zero_point"));
    MatParam pa, pb;
    if (a_zp) {
        NNPORT_ASSIGN_OR_RETURN(pa, mat_param(ctx, *a_zp, a.shape(), true, "a_zero_point"));
    }
    if (b_zp) {
        NNPORT_ASSIGN_OR_RETURN(pb, mat_param(ctx, *b_zp, b.shape(), false, "b_zero_point"));
    }
    if (s.off_a.empty()) return Status::ok();
    NNPORT_ASSIGN_OR_RETURN(Tensor a32, Tensor::create(DType::kInt32, {a.numel()}));
    NNPORT_ASSIGN_OR_RETURN(Tensor b32, Tensor::create(DType::kInt32, {b.numel()}));
    NNPORT_RETURN_IF_ERROR(
        widen_tensor(ctx, a, a32.data<int32_t>(), s.mats_a, s.m, s.k, pa, zero_point_values(a_zp), true));
    NNPORT_RETURN_IF_ERROR(
        widen_tensor(ctx, b, b32.data<int32_t>(), s.mats_b, s.k, s.n, pb, zero_point_values(b_zp), false));
    batched_igemm(a32.data<int32_t>(), b32.data<int32_t>(), c, s, ctx.pool());
    return Status::ok();
}

void activation_bounds(const fused::Activation& act, double ys, int32_t zp, DType t, int32_t& lo, int32_t& hi) {
    quant_range(t, lo, hi);
    const int32_t qlo = lo, qhi = hi;
    if (act.kind == fused::Act::kRelu) lo = std::max(lo, zp);
    if (act.kind == fused::Act::kClip) {
        lo = std::max(lo, quantize_value<double>(act.p0 / ys, zp, qlo, qhi));
        hi = std::min(hi, quantize_value<double>(act.p1 / ys, zp, qlo, qhi));
    }
}

Status int_conv(KernelContext& ctx, const Tensor& x, const Tensor* x_zp, const Tensor& w, const Tensor* w_zp,
                const nn::ConvShape& s, int32_t* y) {
    NNPORT_RETURN_IF_ERROR(check_zero_point_dtype(ctx, x_zp, x.dtype(), "x_zero_point"));
    NNPORT_RETURN_IF_ERROR(check_zero_point_dtype(ctx, w_zp, w.dtype(), "w_zero_point"));
    if (x_zp && x_zp->numel() != 1) {
        return ctx.input_error("x_zero_point must hold one value, got " + shape_to_string(x_zp->shape()));
    }
    MatParam pw;
    if (w_zp && w_zp->numel() != 1) {
        if (w_zp->rank() != 1 || w_zp->dim(0) != s.m) {
            return ctx.input_error("w_zero_point must hold one value or one per output channel (" +
                                   std::to_string(s.m) + "), got " + shape_to_string(w_zp->shape()));
        }
        pw.kind = 1;
        pw.len = s.m;
    }
    if (s.m == 0) return Status::ok();
    NNPORT_ASSIGN_OR_RETURN(Tensor x32, Tensor::create(DType::kInt32, {x.numel()}));
    NNPORT_ASSIGN_OR_RETURN(Tensor w32, Tensor::create(DType::kInt32, {w.numel()}));
    NNPORT_RETURN_IF_ERROR(
        widen_tensor(ctx, x, x32.data<int32_t>(), 1, 1, x.numel(), MatParam{}, zero_point_values(x_zp), true));
    NNPORT_RETURN_IF_ERROR(
        widen_tensor(ctx, w, w32.data<int32_t>(), 1, s.m, w.numel() / s.m, pw, zero_point_values(w_zp), true));
    nn::conv_int32(x32.data<int32_t>(), w32.data<int32_t>(), y, s.n, s.c, s.m, s.group, s.g3, ctx.pool());
    return Status::ok();
}

}  // namespace nnport::quant

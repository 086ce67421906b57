// MatMul: numpy-style batched matrix product (1-D operands promoted and squeezed, batch dims broadcast).
#include <algorithm>

#include "ops/gemm_kernel.hpp"
#include "ops/nn_util.hpp"

namespace nnport {

namespace {

/// Output dims of MatMul for (possibly symbolic) operand dims; error on a definite mismatch.
Result<std::vector<ir::Dim>> matmul_dims(const std::vector<ir::Dim>& a, const std::vector<ir::Dim>& b) {
    if (a.empty() || b.empty()) return invalid_model("MatMul operands must have rank >= 1");
    std::vector<ir::Dim> ad = a, bd = b;
    if (ad.size() == 1) ad.insert(ad.begin(), ir::Dim(1));
    if (bd.size() == 1) bd.push_back(ir::Dim(1));
    const ir::Dim& ka = ad.back();
    const ir::Dim& kb = bd[bd.size() - 2];
    if (ka.is_static() && kb.is_static() && ka.value != kb.value) {
        return invalid_model("inner dimensions " + std::to_string(ka.value) + " and " + std::to_string(kb.value) +
                             " differ");
    }
    ir::ValueType ba = ir::ValueType::tensor(DType::kFloat32, std::vector<ir::Dim>(ad.begin(), ad.end() - 2));
    ir::ValueType bb = ir::ValueType::tensor(DType::kFloat32, std::vector<ir::Dim>(bd.begin(), bd.end() - 2));
    NNPORT_ASSIGN_OR_RETURN(ir::ValueType bt, broadcast_types({&ba, &bb}, DType::kFloat32));
    std::vector<ir::Dim> out = bt.dims;
    if (a.size() > 1) out.push_back(ad[ad.size() - 2]);
    if (b.size() > 1) out.push_back(bd.back());
    return out;
}

Status matmul_infer(InferContext& ctx) {
    const ir::ValueType& a = ctx.input_type(0);
    const ir::ValueType& b = ctx.input_type(1);
    if (!a.has_shape || !b.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(a.dtype));
        return Status::ok();
    }
    auto dims = matmul_dims(a.dims, b.dims);
    if (!dims.is_ok()) return ctx.error(dims.status().message());
    std::vector<ir::Dim> d = std::move(dims).value();
    for (auto& x : d) {
        if (!x.is_static() && x.param.empty()) x = ctx.new_dim();
    }
    ctx.set_output(0, ir::ValueType::tensor(a.dtype, d));
    return Status::ok();
}

template <typename T>
void mm(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c, ThreadPool* pool, const gemm::Epilogue* ep,
        int64_t row0) {
    gemm::Epilogue local;
    const gemm::Epilogue* e = ep;
    if (ep && row0 != 0) {
        local = [ep, row0](int64_t r0, int64_t r1, int64_t c0, int64_t c1) { (*ep)(row0 + r0, row0 + r1, c0, c1); };
        e = &local;
    }
    if constexpr (std::is_same_v<T, float>) {
        gemm::sgemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n, pool, e);
    } else if constexpr (std::is_same_v<T, double>) {
        gemm::dgemm(false, false, m, n, k, 1.0, a, k, b, n, 0.0, c, n, pool, e);
    } else {
        gemm::naive_gemm<T>(false, false, m, n, k, T(1), a, k, b, n, T(0), c, n);
        if (e) (*e)(0, m, 0, n);
    }
}

/// The batched product; `ep` sees blocks of C viewed as [batches * m, n].
template <typename T>
void matmul_run(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, const Shape& batch,
                const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, ThreadPool* pool,
                const gemm::Epilogue* ep = nullptr) {
    const int64_t nb = shape_numel(batch);
    // Batch offsets of A and B for each output batch index.
    std::vector<int64_t> offa(static_cast<size_t>(nb)), offb(static_cast<size_t>(nb));
    {
        std::vector<int64_t> idx(batch.size(), 0);
        for (int64_t i = 0; i < nb; ++i) {
            int64_t oa = 0, ob = 0;
            for (size_t d = 0; d < batch.size(); ++d) {
                oa += idx[d] * sa[d];
                ob += idx[d] * sb[d];
            }
            offa[static_cast<size_t>(i)] = oa;
            offb[static_cast<size_t>(i)] = ob;
            for (size_t d = batch.size(); d-- > 0;) {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
    }
    const int64_t threads = pool ? pool->num_threads() : 1;
    if (pool && threads > 1 && nb >= 2 * threads) {
        pool->parallel_for(nb, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) {
                mm<T>(m, n, k, a + offa[size_t(i)] * m * k, b + offb[size_t(i)] * k * n, c + i * m * n, nullptr, ep,
                      i * m);
            }
        });
    } else {
        for (int64_t i = 0; i < nb; ++i) {
            mm<T>(m, n, k, a + offa[size_t(i)] * m * k, b + offb[size_t(i)] * k * n, c + i * m * n, pool, ep, i * m);
        }
    }
}

}  // namespace

namespace nn {

Result<MatMulShape> matmul_shape(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
    if (a.dtype() != b.dtype()) return ctx.input_error("operand dtypes differ");
    if (a.rank() < 1 || b.rank() < 1) return ctx.input_error("operands must have rank >= 1");
    Shape as = a.shape(), bs = b.shape();
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    MatMulShape s;
    s.m = as[as.size() - 2];
    s.k = as.back();
    s.n = bs.back();
    if (bs[bs.size() - 2] != s.k) {
        return ctx.input_error("shapes " + shape_to_string(a.shape()) + " and " + shape_to_string(b.shape()) +
                               " are not aligned");
    }
    Shape ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    auto bc = broadcast_shapes(ba, bb);
    if (!bc.is_ok()) return ctx.input_error(bc.status().message());
    s.batch = bc.value();
    s.out = s.batch;
    if (a.rank() > 1) s.out.push_back(s.m);
    if (b.rank() > 1) s.out.push_back(s.n);
    // Batch strides in units of whole matrices (0 where broadcast).
    Shape ba_full(s.batch.size() - ba.size(), 1), bb_full(s.batch.size() - bb.size(), 1);
    ba_full.insert(ba_full.end(), ba.begin(), ba.end());
    bb_full.insert(bb_full.end(), bb.begin(), bb.end());
    s.sa = broadcast_strides(ba_full, s.batch);
    s.sb = broadcast_strides(bb_full, s.batch);
    // B shared by every batch and A contiguous: one tall GEMM instead of many.
    const bool b_shared = std::all_of(s.sb.begin(), s.sb.end(), [](int64_t x) { return x == 0; });
    s.tall = b_shared && ba_full == s.batch && !s.batch.empty();
    return s;
}

template <typename T>
void matmul_compute(const T* a, const T* b, T* c, const MatMulShape& s, ThreadPool* pool,
                    const gemm::Epilogue* epilogue) {
    if (s.tall) {
        matmul_run<T>(a, b, c, shape_numel(s.batch) * s.m, s.n, s.k, {}, {}, {}, pool, epilogue);
    } else {
        matmul_run<T>(a, b, c, s.m, s.n, s.k, s.batch, s.sa, s.sb, pool, epilogue);
    }
}
template void matmul_compute<float>(const float*, const float*, float*, const MatMulShape&, ThreadPool*,
                                    const gemm::Epilogue*);
template void matmul_compute<double>(const double*, const double*, double*, const MatMulShape&, ThreadPool*,
                                     const gemm::Epilogue*);

}  // namespace nn

namespace {

Status matmul_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    NNPORT_ASSIGN_OR_RETURN(nn::MatMulShape s, nn::matmul_shape(ctx, a, b));
    NNPORT_ASSIGN_OR_RETURN(Tensor * c, ctx.output(0, a.dtype(), s.out));
    if (c->numel() == 0) return Status::ok();
    if (s.tall) {
        NNPORT_DISPATCH_NUMERIC(a.dtype(), T, ctx,
                                matmul_run<T>(a.data<T>(), b.data<T>(), c->data<T>(), shape_numel(s.batch) * s.m, s.n,
                                              s.k, {}, {}, {}, ctx.pool()));
        return Status::ok();
    }
    NNPORT_DISPATCH_NUMERIC(a.dtype(), T, ctx,
                            matmul_run<T>(a.data<T>(), b.data<T>(), c->data<T>(), s.m, s.n, s.k, s.batch, s.sa, s.sb,
                                          ctx.pool()));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_MatMul() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "MatMul";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 2;
        o.infer = matmul_infer;
        o.kernel = matmul_kernel;
        o.input0_types = {DType::kFloat16, DType::kBFloat16, DType::kFloat32, DType::kFloat64,
                          DType::kInt32,   DType::kInt64,    DType::kUInt32,  DType::kUInt64};
        o.doc = "Matrix product with numpy batch broadcasting; float32 uses the blocked SGEMM.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Blocked matrix multiplication used by MatMul, Gemm, Conv and ConvTranspose (float32 fast path, simple others).
#pragma once

#include <cstdint>
#include <functional>
#include <type_traits>

#include "core/thread_pool.hpp"

namespace nnport::gemm {

/// Called on each finished block of C, rows [r0, r1) and columns [c0, c1) in C's coordinates, while the block is
/// still in cache: fused ops add bias / residual and apply their activation there. Blocks are disjoint and may be
/// finished concurrently on different threads; every element of C is in exactly one block.
using Epilogue = std::function<void(int64_t r0, int64_t r1, int64_t c0, int64_t c1)>;

/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
/// beta == 0 overwrites C without reading it. `pool` may be nullptr (single thread); never pass a pool from
/// inside one of its own parallel_for bodies (the pool is not re-entrant). `epilogue` (optional) runs on each
/// finished block of C.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, ThreadPool* pool,
           const Epilogue* epilogue = nullptr);

/// Same contract in double precision (straightforward loops; the epilogue runs per block of rows).
void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc, ThreadPool* pool,
           const Epilogue* epilogue = nullptr);

/// C[M,N] (+)= A[M,K] * B[K,N] in int32 (row-major, no transposes); `accumulate` false overwrites C.
void igemm(int64_t m, int64_t n, int64_t k, const int32_t* a, int64_t lda, const int32_t* b, int64_t ldb, int32_t* c,
           int64_t ldc, bool accumulate, ThreadPool* pool);

/// Plain loops for other element types (integers): C = alpha * op(A) * op(B) + beta * C, integer products wrap.
template <typename T>
void naive_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                int64_t ldb, T beta, T* c, int64_t ldc) {
    // Unsigned arithmetic of at least 32 bits: wrap-around instead of signed overflow.
    using U = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
    for (int64_t i = 0; i < m; ++i) {
        T* cr = c + i * ldc;
        for (int64_t j = 0; j < n; ++j) cr[j] = beta == T(0) ? T(0) : static_cast<T>(U(beta) * U(cr[j]));
        for (int64_t p = 0; p < k; ++p) {
            const U av = U(alpha) * U(ta ? a[p * lda + i] : a[i * lda + p]);
            for (int64_t j = 0; j < n; ++j) cr[j] = static_cast<T>(U(cr[j]) + av * U(tb ? b[j * ldb + p] : b[p * ldb + j]));
        }
    }
}

/// A per-thread reusable float buffer (grow-only; large ones are released after use by the caller's scope).
class Scratch {
public:
    /// Slot 0/1 are used by sgemm itself; callers use slots >= 2.
    static float* get(int slot, int64_t count);
};

}  // namespace nnport::gemm

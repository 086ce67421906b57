// Blocked SGEMM (Goto-style: packed A/B panels, 6x16 register micro-kernel) plus simple double/int32 GEMMs.
//
// The micro-kernel is written with GCC vector extensions so the compiler maps it to whatever SIMD the target has
// (SSE2 / NEON at the baseline). On x86-64 an AVX2+FMA clone of the same kernel is selected at run time with
// __builtin_cpu_supports, so the library needs no -march flag and still uses 256-bit FMA where the CPU has it.
#include "ops/gemm_kernel.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace nnport::gemm {

namespace {

constexpr int64_t kMr = 6;        // rows of the micro-tile
constexpr int64_t kNr = 16;       // columns of the micro-tile (packed B panel width)
constexpr int64_t kKc = 256;      // depth of one cache block
constexpr int64_t kMcPanels = 16; // micro-panels of A per parallel tile (96 rows)
constexpr int64_t kNcPanels = 16; // micro-panels of B per parallel tile (256 columns)

#if defined(__GNUC__) || defined(__clang__)
#define NNPORT_GEMM_VEC 1
typedef float v4f __attribute__((vector_size(16)));
#if defined(__x86_64__)
#define NNPORT_GEMM_AVX2 1
typedef float v8f __attribute__((vector_size(32)));
#endif
#endif

/// Writes (or adds) a 6 x `cols` block from `src` (row stride 16) into C.
inline void store_tile(const float* src, float* c, int64_t ldc, int64_t rows, int64_t cols, bool acc) {
    for (int64_t i = 0; i < rows; ++i) {
        float* cr = c + i * ldc;
        const float* sr = src + i * kNr;
        if (acc) {
            for (int64_t j = 0; j < cols; ++j) cr[j] += sr[j];
        } else {
            for (int64_t j = 0; j < cols; ++j) cr[j] = sr[j];
        }
    }
}

#if NNPORT_GEMM_VEC
/// 6x8 half of the micro-kernel with 4-wide vectors (12 accumulators fit in 16 SIMD registers).
inline void ukernel_6x8_v4(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                           int64_t ldc, bool acc) {
    v4f c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {};
    v4f c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
    for (int64_t p = 0; p < kc; ++p) {
        v4f b0, b1;
        std::memcpy(&b0, b, sizeof(b0));
        std::memcpy(&b1, b + 4, sizeof(b1));
        c00 += b0 * a[0]; c01 += b1 * a[0];
        c10 += b0 * a[1]; c11 += b1 * a[1];
        c20 += b0 * a[2]; c21 += b1 * a[2];
        c30 += b0 * a[3]; c31 += b1 * a[3];
        c40 += b0 * a[4]; c41 += b1 * a[4];
        c50 += b0 * a[5]; c51 += b1 * a[5];
        a += kMr;
        b += kNr;
    }
#define NNPORT_STORE_ROW4(i, x0, x1)                                   \
    do {                                                               \
        float* r = c + (i) * ldc;                                      \
        if (acc) {                                                     \
            v4f t0, t1;                                                \
            std::memcpy(&t0, r, sizeof(t0));                           \
            std::memcpy(&t1, r + 4, sizeof(t1));                       \
            t0 += x0;                                                  \
            t1 += x1;                                                  \
            std::memcpy(r, &t0, sizeof(t0));                           \
            std::memcpy(r + 4, &t1, sizeof(t1));                       \
        } else {                                                       \
            std::memcpy(r, &x0, sizeof(x0));                           \
            std::memcpy(r + 4, &x1, sizeof(x1));                       \
        }                                                              \
    } while (0)
    NNPORT_STORE_ROW4(0, c00, c01);
    NNPORT_STORE_ROW4(1, c10, c11);
    NNPORT_STORE_ROW4(2, c20, c21);
    NNPORT_STORE_ROW4(3, c30, c31);
    NNPORT_STORE_ROW4(4, c40, c41);
    NNPORT_STORE_ROW4(5, c50, c51);
#undef NNPORT_STORE_ROW4
}

void ukernel_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
    ukernel_6x8_v4(kc, a, b, c, ldc, acc);
    ukernel_6x8_v4(kc, a, b + 8, c + 8, ldc, acc);
}
#else
void ukernel_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
    float t[kMr * kNr] = {};
    for (int64_t p = 0; p < kc; ++p) {
        for (int64_t i = 0; i < kMr; ++i) {
            for (int64_t j = 0; j < kNr; ++j) t[i * kNr + j] += a[p * kMr + i] * b[p * kNr + j];
        }
    }
    store_tile(t, c, ldc, kMr, kNr, acc);
}
#endif

#if NNPORT_GEMM_AVX2
__attribute__((target("avx2,fma"))) void ukernel_avx2(int64_t kc, const float* __restrict a,
                                                      const float* __restrict b, float* __restrict c, int64_t ldc,
                                                      bool acc) {
    v8f c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {};
    v8f c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
    for (int64_t p = 0; p < kc; ++p) {
        v8f b0, b1;
        std::memcpy(&b0, b, sizeof(b0));
        std::memcpy(&b1, b + 8, sizeof(b1));
        c00 += b0 * a[0]; c01 += b1 * a[0];
        c10 += b0 * a[1]; c11 += b1 * a[1];
        c20 += b0 * a[2]; c21 += b1 * a[2];
        c30 += b0 * a[3]; c31 += b1 * a[3];
        c40 += b0 * a[4]; c41 += b1 * a[4];
        c50 += b0 * a[5]; c51 += b1 * a[5];
        a += kMr;
        b += kNr;
    }
#define NNPORT_STORE_ROW8(i, x0, x1)                                   \
    do {                                                               \
        float* r = c + (i) * ldc;                                      \
        if (acc) {                                                     \
            v8f t0, t1;                                                \
            std::memcpy(&t0, r, sizeof(t0));                           \
            std::memcpy(&t1, r + 8, sizeof(t1));                       \
            t0 += x0;                                                  \
            t1 += x1;                                                  \
            std::memcpy(r, &t0, sizeof(t0));                           \
            std::memcpy(r + 8, &t1, sizeof(t1));                       \
        } else {                                                       \
            std::memcpy(r, &x0, sizeof(x0));                           \
            std::memcpy(r + 8, &x1, sizeof(x1));                       \
        }                                                              \
    } while (0)
    NNPORT_STORE_ROW8(0, c00, c01);
    NNPORT_STORE_ROW8(1, c10, c11);
    NNPORT_STORE_ROW8(2, c20, c21);
    NNPORT_STORE_ROW8(3, c30, c31);
    NNPORT_STORE_ROW8(4, c40, c41);
    NNPORT_STORE_ROW8(5, c50, c51);
#undef NNPORT_STORE_ROW8
}
#endif

using UKernel = void (*)(int64_t, const float*, const float*, float*, int64_t, bool);

UKernel select_ukernel() {
#if NNPORT_GEMM_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ukernel_avx2;
#endif
    return ukernel_generic;
}

void run_parallel(ThreadPool* pool, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    if (pool && n > 1) {
        pool->parallel_for(n, fn);
    } else if (n > 0) {
        fn(0, n);
    }
}

/// Packs rows [i0, i0+6) of alpha*op(A) (all K) as k-major groups of 6; missing rows are zero.
void pack_a_panel(bool ta, const float* a, int64_t lda, int64_t m, int64_t k, int64_t i0, float alpha, float* dst) {
    const int64_t rows = std::min(kMr, m - i0);
    if (ta) {
        for (int64_t p = 0; p < k; ++p) {
            const float* src = a + p * lda + i0;
            float* d = dst + p * kMr;
            int64_t r = 0;
            for (; r < rows; ++r) d[r] = alpha * src[r];
            for (; r < kMr; ++r) d[r] = 0.0f;
        }
    } else {
        for (int64_t r = 0; r < kMr; ++r) {
            if (r < rows) {
                const float* src = a + (i0 + r) * lda;
                for (int64_t p = 0; p < k; ++p) dst[p * kMr + r] = alpha * src[p];
            } else {
                for (int64_t p = 0; p < k; ++p) dst[p * kMr + r] = 0.0f;
            }
        }
    }
}

/// Packs columns [j0, j0+16) of op(B) (all K) as k-major groups of 16; missing columns are zero.
void pack_b_panel(bool tb, const float* b, int64_t ldb, int64_t n, int64_t k, int64_t j0, float* dst) {
    const int64_t cols = std::min(kNr, n - j0);
    if (!tb) {
        for (int64_t p = 0; p < k; ++p) {
            const float* src = b + p * ldb + j0;
            float* d = dst + p * kNr;
            if (cols == kNr) {
                std::memcpy(d, src, sizeof(float) * kNr);
            } else {
                int64_t j = 0;
                for (; j < cols; ++j) d[j] = src[j];
                for (; j < kNr; ++j) d[j] = 0.0f;
            }
        }
    } else {
        for (int64_t j = 0; j < kNr; ++j) {
            if (j < cols) {
                const float* src = b + (j0 + j) * ldb;
                for (int64_t p = 0; p < k; ++p) dst[p * kNr + j] = src[p];
            } else {
                for (int64_t p = 0; p < k; ++p) dst[p * kNr + j] = 0.0f;
            }
        }
    }
}

#if NNPORT_GEMM_VEC
float dot(const float* __restrict x, const float* __restrict y, int64_t k) {
    v4f s0 = {}, s1 = {}, s2 = {}, s3 = {};
    int64_t p = 0;
    for (; p + 16 <= k; p += 16) {
        v4f x0, x1, x2, x3, y0, y1, y2, y3;
        std::memcpy(&x0, x + p, 16);
        std::memcpy(&x1, x + p + 4, 16);
        std::memcpy(&x2, x + p + 8, 16);
        std::memcpy(&x3, x + p + 12, 16);
        std::memcpy(&y0, y + p, 16);
        std::memcpy(&y1, y + p + 4, 16);
        std::memcpy(&y2, y + p + 8, 16);
        std::memcpy(&y3, y + p + 12, 16);
        s0 += x0 * y0;
        s1 += x1 * y1;
        s2 += x2 * y2;
        s3 += x3 * y3;
    }
    v4f s = (s0 + s1) + (s2 + s3);
    float r = (s[0] + s[1]) + (s[2] + s[3]);
    for (; p < k; ++p) r += x[p] * y[p];
    return r;
}
#else
float dot(const float* x, const float* y, int64_t k) {
    float r = 0.0f;
    for (int64_t p = 0; p < k; ++p) r += x[p] * y[p];
    return r;
}
#endif

void axpy(float s, const float* __restrict x, float* __restrict y, int64_t n) {
    for (int64_t j = 0; j < n; ++j) y[j] += s * x[j];
}

/// out[i*n + j] = sum_k arows[i][k] * op(B)(k, j) for i < m (m small): the matrix-vector shaped case.
void small_m(int64_t m, int64_t n, int64_t k, const float* const* arows, const float* b, int64_t ldb, bool tb,
             float* out, ThreadPool* pool) {
    constexpr int64_t kChunk = 256;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    run_parallel(pool, chunks, [&](int64_t c0, int64_t c1) {
        for (int64_t ch = c0; ch < c1; ++ch) {
            const int64_t j0 = ch * kChunk, j1 = std::min(n, j0 + kChunk);
            if (tb) {
                for (int64_t j = j0; j < j1; ++j) {
                    for (int64_t i = 0; i < m; ++i) out[i * n + j] = dot(arows[i], b + j * ldb, k);
                }
            } else {
                for (int64_t i = 0; i < m; ++i) std::fill(out + i * n + j0, out + i * n + j1, 0.0f);
                for (int64_t p = 0; p < k; ++p) {
                    const float* brow = b + p * ldb + j0;
                    for (int64_t i = 0; i < m; ++i) axpy(arows[i][p], brow, out + i * n + j0, j1 - j0);
                }
            }
        }
    });
}

void sgemm_blocked(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc, ThreadPool* pool,
                   const Epilogue* epilogue) {
    static const UKernel ukernel = select_ukernel();
    const int64_t mp = (m + kMr - 1) / kMr, np = (n + kNr - 1) / kNr;
    float* pa = Scratch::get(0, mp * kMr * k);
    float* pb = Scratch::get(1, np * kNr * k);
    run_parallel(pool, mp, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) pack_a_panel(ta, a, lda, m, k, p * kMr, alpha, pa + p * kMr * k);
    });
    run_parallel(pool, np, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) pack_b_panel(tb, b, ldb, n, k, q * kNr, pb + q * kNr * k);
    });
    const int64_t mt = (mp + kMcPanels - 1) / kMcPanels, nt = (np + kNcPanels - 1) / kNcPanels;
    run_parallel(pool, mt * nt, [&](int64_t t0, int64_t t1) {
        alignas(64) float tmp[kMr * kNr];
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t pm0 = (t % mt) * kMcPanels, pm1 = std::min(mp, pm0 + kMcPanels);
            const int64_t qn0 = (t / mt) * kNcPanels, qn1 = std::min(np, qn0 + kNcPanels);
            if (beta != 0.0f && beta != 1.0f) {
                const int64_t i1 = std::min(m, pm1 * kMr), j0 = qn0 * kNr, j1 = std::min(n, qn1 * kNr);
                for (int64_t i = pm0 * kMr; i < i1; ++i) {
                    for (int64_t j = j0; j < j1; ++j) c[i * ldc + j] *= beta;
                }
            }
            for (int64_t k0 = 0; k0 < k; k0 += kKc) {
                const int64_t kc = std::min(kKc, k - k0);
                const bool acc = k0 > 0 || beta != 0.0f;
                for (int64_t q = qn0; q < qn1; ++q) {
                    const float* bp = pb + q * kNr * k + k0 * kNr;
                    const int64_t j = q * kNr, cols = std::min(kNr, n - j);
                    for (int64_t p = pm0; p < pm1; ++p) {
                        const float* ap = pa + p * kMr * k + k0 * kMr;
                        const int64_t i = p * kMr, rows = std::min(kMr, m - i);
                        float* cp = c + i * ldc + j;
                        if (rows == kMr && cols == kNr) {
                            ukernel(kc, ap, bp, cp, ldc, acc);
                        } else {
                            ukernel(kc, ap, bp, tmp, kNr, false);
                            store_tile(tmp, cp, ldc, rows, cols, acc);
                        }
                    }
                }
            }
            // The tile (at most 96 x 256) is finished and still in L2: rows of up to 256 columns vectorize well.
            if (epilogue) (*epilogue)(pm0 * kMr, std::min(m, pm1 * kMr), qn0 * kNr, std::min(n, qn1 * kNr));
        }
    });
}

}  // namespace

float* Scratch::get(int slot, int64_t count) {
    struct Buf {
        std::unique_ptr<float[]> data;
        int64_t cap = 0;
    };
    thread_local Buf bufs[4];
    Buf& bf = bufs[slot & 3];
    if (count > bf.cap) {
        bf.data.reset(new float[static_cast<size_t>(count)]);
        bf.cap = count;
    }
    return bf.data.get();
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, ThreadPool* pool, const Epilogue* epilogue) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        }
        if (epilogue) (*epilogue)(0, m, 0, n);
        return;
    }
    if (static_cast<double>(m) * n * k < 32768.0) pool = nullptr;  // not worth waking threads
    if (m > 4 && n > 4) {
        sgemm_blocked(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pool, epilogue);
        return;
    }
    // A thin product: no packing, dot/axpy loops over the long dimension. A short N is the transposed problem
    // C^T = op(B)^T op(A)^T, so both are one routine whose "rows" are the short side.
    const bool swap = m > 4;
    const int64_t rm = swap ? n : m, rn = swap ? m : n;
    const bool rows_t = swap ? !tb : ta;      // is row r of the short operand strided in memory?
    const float* rsrc = swap ? b : a;
    const int64_t rld = swap ? ldb : lda;
    const float* other = swap ? a : b;
    const int64_t old = swap ? lda : ldb;
    const bool other_t = swap ? !ta : tb;
    float* rowbuf = Scratch::get(0, rm * k + rm * rn);
    float* out = rowbuf + rm * k;
    const float* rows[4];
    for (int64_t r = 0; r < rm; ++r) {
        if (rows_t) {
            for (int64_t p = 0; p < k; ++p) rowbuf[r * k + p] = rsrc[p * rld + r];
            rows[r] = rowbuf + r * k;
        } else {
            rows[r] = rsrc + r * rld;
        }
    }
    small_m(rm, rn, k, rows, other, old, other_t, out, pool);
    for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
            const float v = alpha * (swap ? out[j * rn + i] : out[i * rn + j]);
            float& cv = c[i * ldc + j];
            cv = beta == 0.0f ? v : v + beta * cv;
        }
    }
    if (epilogue) (*epilogue)(0, m, 0, n);
}

void dgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc, ThreadPool* pool,
           const Epilogue* epilogue) {
    if (m <= 0 || n <= 0) return;
    if (static_cast<double>(m) * n * k < 32768.0) pool = nullptr;
    run_parallel(pool, m, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            double* cr = c + i * ldc;
            for (int64_t j = 0; j < n; ++j) cr[j] = beta == 0.0 ? 0.0 : beta * cr[j];
            for (int64_t p = 0; p < k; ++p) {
                const double av = alpha * (ta ? a[p * lda + i] : a[i * lda + p]);
                if (!tb) {
                    const double* br = b + p * ldb;
                    for (int64_t j = 0; j < n; ++j) cr[j] += av * br[j];
                } else {
                    for (int64_t j = 0; j < n; ++j) cr[j] += av * b[j * ldb + p];
                }
            }
        }
        if (epilogue) (*epilogue)(i0, i1, 0, n);
    });
}

void igemm(int64_t m, int64_t n, int64_t k, const int32_t* a, int64_t lda, const int32_t* b, int64_t ldb, int32_t* c,
           int64_t ldc, bool accumulate, ThreadPool* pool) {
    if (m <= 0 || n <= 0) return;
    if (static_cast<double>(m) * n * k < 32768.0) pool = nullptr;
    run_parallel(pool, m, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            int32_t* __restrict cr = c + i * ldc;
            if (!accumulate) std::fill(cr, cr + n, 0);
            for (int64_t p = 0; p < k; ++p) {
                // Unsigned arithmetic: int32 products wrap (as other runtimes do) instead of overflowing.
                const uint32_t av = static_cast<uint32_t>(a[i * lda + p]);
                if (av == 0) continue;
                const int32_t* __restrict br = b + p * ldb;
                for (int64_t j = 0; j < n; ++j) {
                    cr[j] = static_cast<int32_t>(static_cast<uint32_t>(cr[j]) + av * static_cast<uint32_t>(br[j]));
                }
            }
        }
    });
}

}  // namespace nnport::gemm

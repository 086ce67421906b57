// The cpu backend's AVX2 + FMA kernels, compiled for that instruction set by `#pragma GCC target` below the includes
// (nothing from a header is built for it); only called when the CPU has it.
#include "backends/cpu/cpu_kernels.hpp"

#if defined(__x86_64__) || defined(__i386__)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace nnport::cpu {

namespace {

#pragma GCC push_options
#pragma GCC target("avx2,fma")

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/// Integer lane mask selecting lanes [0, n) of 8 (n clamped to [0, 8]), for maskload / maskstore.
inline __m256i lanes(int64_t n) {
    const int32_t c = static_cast<int32_t>(n < 0 ? 0 : n > 8 ? 8 : n);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// ---- GEMM -------------------------------------------------------------------------------------------------------

/// C[MR x 16] = alpha * A[MR x k] B[k x 16], the columns of B and C limited by the lane masks m0 (0-7), m1 (8-15).
template <int MR, bool kFull>
void tile(int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          __m256i m0, __m256i m1) {
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; ++p) {
        const __m256 b0 = kFull ? _mm256_loadu_ps(b + p * ldb) : _mm256_maskload_ps(b + p * ldb, m0);
        const __m256 b1 = kFull ? _mm256_loadu_ps(b + p * ldb + 8) : _mm256_maskload_ps(b + p * ldb + 8, m1);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const __m256 av = _mm256_broadcast_ss(a + r * lda + p);
            acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
        }
    }
    const __m256 al = _mm256_set1_ps(alpha);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
        if (kFull) {
            _mm256_storeu_ps(c + r * ldc, _mm256_mul_ps(acc0[r], al));
            _mm256_storeu_ps(c + r * ldc + 8, _mm256_mul_ps(acc1[r], al));
        } else {
            _mm256_maskstore_ps(c + r * ldc, m0, _mm256_mul_ps(acc0[r], al));
            _mm256_maskstore_ps(c + r * ldc + 8, m1, _mm256_mul_ps(acc1[r], al));
        }
    }
}

constexpr int64_t kMr = 6;

template <bool kFull>
void panel(int64_t m, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
           int64_t ldc, __m256i m0, __m256i m1) {
    int64_t i0 = 0;
    for (; i0 + kMr <= m; i0 += kMr) tile<kMr, kFull>(k, alpha, a + i0 * lda, lda, b, ldb, c + i0 * ldc, ldc, m0, m1);
    const float* ai = a + i0 * lda;
    float* ci = c + i0 * ldc;
    switch (m - i0) {
        case 5: tile<5, kFull>(k, alpha, ai, lda, b, ldb, ci, ldc, m0, m1); break;
        case 4: tile<4, kFull>(k, alpha, ai, lda, b, ldb, ci, ldc, m0, m1); break;
        case 3: tile<3, kFull>(k, alpha, ai, lda, b, ldb, ci, ldc, m0, m1); break;
        case 2: tile<2, kFull>(k, alpha, ai, lda, b, ldb, ci, ldc, m0, m1); break;
        case 1: tile<1, kFull>(k, alpha, ai, lda, b, ldb, ci, ldc, m0, m1); break;
        default: break;
    }
}

void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
          float* c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        if (n - j0 >= 16) {
            panel<true>(m, k, alpha, a, lda, b + j0, ldb, c + j0, ldc, lanes(8), lanes(8));
        } else {
            panel<false>(m, k, alpha, a, lda, b + j0, ldb, c + j0, ldc, lanes(n - j0), lanes(n - j0 - 8));
        }
    }
}

// ---- softmax ----------------------------------------------------------------------------------------------------

/// e^x for x <= 0 (or NaN, which stays NaN): clamped at -87.33 where 2^n is still a normal float (results below
/// e^-87.33 become 0), reduced by ln 2 in two parts, a degree-6 Cephes polynomial, 2^n built in the exponent bits.
inline __m256 exp_nonpos(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    const __m256 tiny = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(lo, x);  // the second operand is returned for NaN
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

inline float hmax(__m256 v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

inline float hsum(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

void softmax(float* s, int64_t n, const float* mask, int64_t mask_step) {
    if (n <= 0) return;
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vmax = ninf;
    const __m256 mask_all = mask && mask_step == 0 ? _mm256_set1_ps(mask[0]) : _mm256_setzero_ps();
    for (int64_t j = 0; j < n; j += 8) {
        const __m256i t = lanes(n - j);
        __m256 x = _mm256_maskload_ps(s + j, t);
        if (mask) {
            x = _mm256_add_ps(x, mask_step ? _mm256_maskload_ps(mask + j, t) : mask_all);
            _mm256_maskstore_ps(s + j, t, x);
        }
        vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(ninf, x, _mm256_castsi256_ps(t)));
    }
    const float m = hmax(vmax);
    if (!std::isfinite(m)) {
        softmax_exact(s, n);
        return;
    }
    const __m256 vm = _mm256_set1_ps(m);
    __m256 vsum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; j += 8) {
        const __m256i t = lanes(n - j);
        const __m256 e = _mm256_and_ps(exp_nonpos(_mm256_sub_ps(_mm256_maskload_ps(s + j, t), vm)),
                                       _mm256_castsi256_ps(t));
        _mm256_maskstore_ps(s + j, t, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(vsum));
    for (int64_t j = 0; j < n; j += 8) {
        const __m256i t = lanes(n - j);
        _mm256_maskstore_ps(s + j, t, _mm256_mul_ps(_mm256_maskload_ps(s + j, t), inv));
    }
}

// ---- transpose --------------------------------------------------------------------------------------------------

inline void block8(const float* in, int64_t ldi, float* out, int64_t ldo) {
    __m256 r[8], t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + i * ldi);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 2
    for (int g = 0; g < 2; ++g) {
        r[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
        _mm256_storeu_ps(out + c * ldo, _mm256_permute2f128_ps(r[c], r[4 + c], 0x20));
        _mm256_storeu_ps(out + (4 + c) * ldo, _mm256_permute2f128_ps(r[c], r[4 + c], 0x31));
    }
}

/// Edges of a tile that do not fill 8 x 8 blocks, element by element.
inline void edge(const float* in, int64_t ldi, float* out, int64_t ldo, int64_t r0, int64_t r1, int64_t c0,
                 int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
        for (int64_t r = r0; r < r1; ++r) out[c * ldo + r] = in[r * ldi + c];
    }
}

void transpose(const float* in, int64_t ldi, float* out, int64_t ldo, int64_t rows, int64_t cols) {
    if (rows < 4 || cols < 4) {  // skinny (a channel shuffle's 2 x C/2 per pixel): no 8 x 8 blocks
        edge(in, ldi, out, ldo, 0, rows, 0, cols);
        return;
    }
    constexpr int64_t tb = 64;  // 64 x 64 tiles: few pages and lines of both matrices in flight
    for (int64_t rb = 0; rb < rows; rb += tb) {
        const int64_t re = min64(rb + tb, rows), re8 = rb + (re - rb) / 8 * 8;
        for (int64_t cb = 0; cb < cols; cb += tb) {
            const int64_t ce = min64(cb + tb, cols), ce8 = cb + (ce - cb) / 8 * 8;
            for (int64_t r0 = rb; r0 < re8; r0 += 8) {
                for (int64_t c0 = cb; c0 < ce8; c0 += 8) block8(in + r0 * ldi + c0, ldi, out + c0 * ldo + r0, ldo);
            }
            edge(in, ldi, out, ldo, rb, re8, ce8, ce);
            edge(in, ldi, out, ldo, re8, re, cb, ce);
        }
    }
}

// ---- LSTM cell --------------------------------------------------------------------------------------------------

inline __m256 abs8(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

/// 1 / (1 + e^-x) from e = e^-|x| without overflow: 1 / (1 + e) for x >= 0, e / (1 + e) below.
inline __m256 sigmoid8(__m256 x) {
    const __m256 e = exp_nonpos(_mm256_sub_ps(_mm256_setzero_ps(), abs8(x)));
    const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_blendv_ps(r, _mm256_mul_ps(e, r), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

/// tanh: (1 - t) / (1 + t) with t = e^-2|x| and the sign of x; below |x| = 0.2 the odd Taylor polynomial to x^9.
inline __m256 tanh8(__m256 x) {
    const __m256 a = abs8(x), one = _mm256_set1_ps(1.0f);
    const __m256 t = exp_nonpos(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
    const __m256 big = _mm256_div_ps(_mm256_sub_ps(one, t), _mm256_add_ps(one, t));
    const __m256 a2 = _mm256_mul_ps(a, a);
    __m256 p = _mm256_set1_ps(62.0f / 2835.0f);
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-17.0f / 315.0f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(2.0f / 15.0f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-1.0f / 3.0f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, a2), a, a);
    const __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.2f), _CMP_LT_OQ));
    return _mm256_or_ps(r, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
}

void lstm_cell(const float* g, float* c, float* h_out, int64_t h) {
    for (int64_t j = 0; j < h; j += 8) {
        const __m256i t = lanes(h - j);
        const __m256 i = sigmoid8(_mm256_maskload_ps(g + j, t));
        const __m256 o = sigmoid8(_mm256_maskload_ps(g + h + j, t));
        const __m256 f = sigmoid8(_mm256_maskload_ps(g + 2 * h + j, t));
        const __m256 z = tanh8(_mm256_maskload_ps(g + 3 * h + j, t));
        const __m256 cn = _mm256_fmadd_ps(f, _mm256_maskload_ps(c + j, t), _mm256_mul_ps(i, z));
        _mm256_maskstore_ps(c + j, t, cn);
        _mm256_maskstore_ps(h_out + j, t, _mm256_mul_ps(o, tanh8(cn)));
    }
}

template <bool kS, bool kB, bool kClamp>
void row_affine_op(const float* x, int64_t ldx, const float* s, const float* b, float* y, int64_t ldy, int64_t rows,
                   int64_t c, float lo, float hi) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * ldx;
        float* yr = y + r * ldy;
        for (int64_t j = 0; j < c; j += 8) {
            const __m256i t = lanes(c - j);
            __m256 v = _mm256_maskload_ps(xr + j, t);
            if constexpr (kS && kB) {
                v = _mm256_fmadd_ps(v, _mm256_maskload_ps(s + j, t), _mm256_maskload_ps(b + j, t));
            } else if constexpr (kS) {
                v = _mm256_mul_ps(v, _mm256_maskload_ps(s + j, t));
            } else if constexpr (kB) {
                v = _mm256_add_ps(v, _mm256_maskload_ps(b + j, t));
            }
            if constexpr (kClamp) v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v));  // NaN (second operand) passes
            _mm256_maskstore_ps(yr + j, t, v);
        }
    }
}

void panel_gemm(const PanelGemm& g) {
    // One row at a time: 8 accumulators of 8 columns cover a panel.
    const __m256 vlo = _mm256_set1_ps(g.lo), vhi = _mm256_set1_ps(g.hi);
    for (int64_t i = 0; i < g.m; ++i) {
        for (int64_t pg = g.g0; pg < g.g1; ++pg) {
            const float* wg = g.w + pg * g.taps * g.k * kPanel;
            __m256 acc[8];
            for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_ps();
            for (int64_t t = 0; t < g.taps; ++t) {
                const float* ai = g.rows ? g.rows[t * g.ld_rows + i] : g.a + i * g.lda;
                if (ai == g.zero) continue;
                const float* wt = wg + t * g.k * kPanel;
                for (int64_t p = 0; p < g.k; ++p) {
                    const __m256 av = _mm256_set1_ps(ai[p]);
                    for (int v = 0; v < 8; ++v) {
                        acc[v] = _mm256_fmadd_ps(av, _mm256_loadu_ps(wt + p * kPanel + v * 8), acc[v]);
                    }
                }
            }
            const int64_t c0 = pg * kPanel;
            for (int v = 0; v < 8; ++v) {
                const int64_t c = c0 + v * 8;
                if (c >= g.n) break;
                const __m256i t = lanes(g.n - c);
                __m256 r = acc[v];
                if (g.bias) r = _mm256_add_ps(r, _mm256_maskload_ps(g.bias + c, t));
                if (g.z) r = _mm256_add_ps(r, _mm256_maskload_ps(g.z + i * g.ldz + c, t));
                r = _mm256_min_ps(vhi, _mm256_max_ps(vlo, r));  // NaN (the second operand) passes
                _mm256_maskstore_ps(g.y + i * g.ldy + c, t, r);
            }
        }
    }
}

void row_affine(const float* x, int64_t ldx, const float* s, const float* b, float* y, int64_t ldy, int64_t rows,
                int64_t c, float lo, float hi) {
    const bool clamp = lo > -std::numeric_limits<float>::infinity() || hi < std::numeric_limits<float>::infinity();
    const int kind = (s ? 4 : 0) | (b ? 2 : 0) | (clamp ? 1 : 0);
    using Fn =
        void (*)(const float*, int64_t, const float*, const float*, float*, int64_t, int64_t, int64_t, float, float);
    static constexpr Fn kFns[8] = {row_affine_op<false, false, false>, row_affine_op<false, false, true>,
                                   row_affine_op<false, true, false>,  row_affine_op<false, true, true>,
                                   row_affine_op<true, false, false>,  row_affine_op<true, false, true>,
                                   row_affine_op<true, true, false>,   row_affine_op<true, true, true>};
    kFns[kind](x, ldx, s, b, y, ldy, rows, c, lo, hi);
}

#pragma GCC pop_options

}  // namespace

const Kernels& kernels_avx2() {
    // The int8 kernels have no AVX2 build: the cpu backend only takes them on AVX-512 VNNI + VBMI CPUs.
    static const Kernels k{Isa::kAvx2,       gemm,           softmax,    transpose, lstm_cell,
                           qdw_row_portable, qgemv_portable, row_affine, panel_gemm};
    return k;
}

}  // namespace nnport::cpu

#pragma GCC diagnostic pop

#else  // not x86: never selected (best_isa() is portable), the entry exists for the linker

namespace nnport::cpu {
const Kernels& kernels_avx2() { return kernels_portable(); }
}  // namespace nnport::cpu

#endif

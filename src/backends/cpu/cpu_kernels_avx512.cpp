// The cpu backend's AVX-512 kernels (F, BW, DQ, VL and FMA), compiled for that instruction set by `#pragma GCC
// target` below the includes, so that nothing from a header is built for it; only called when the CPU has it.
// GCC 12 reports its own _mm512_undefined_ps() inside some intrinsics as (maybe-)uninitialized (false positives).
#include "backends/cpu/cpu_kernels.hpp"

#if defined(__x86_64__) || defined(__i386__)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace nnport::cpu {

namespace {

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/// Lanes [0, n) of 16 (n in [0, 16]).
inline __mmask16 lanes(int64_t n) {
    return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// ---- GEMM -------------------------------------------------------------------------------------------------------

/// C[MR x 32] = alpha * A[MR x k] B[k x 32] with the columns of B and C limited by the masks m0 (0-15), m1 (16-31).
template <int MR>
void tile(int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          __mmask16 m0, __mmask16 m1) {
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; ++p) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b + p * ldb);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + p * ldb + 16);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            const __m512 av = _mm512_set1_ps(a[r * lda + p]);
            acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
        }
    }
    const __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
        _mm512_mask_storeu_ps(c + r * ldc, m0, _mm512_mul_ps(acc0[r], al));
        _mm512_mask_storeu_ps(c + r * ldc + 16, m1, _mm512_mul_ps(acc1[r], al));
    }
}

constexpr int64_t kMr = 8;

void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
          float* c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < n; j0 += 32) {
        const __mmask16 m0 = lanes(n - j0), m1 = lanes(n - j0 - 16 > 0 ? n - j0 - 16 : 0);
        const float* bj = b + j0;
        float* cj = c + j0;
        int64_t i0 = 0;
        for (; i0 + kMr <= m; i0 += kMr) tile<kMr>(k, alpha, a + i0 * lda, lda, bj, ldb, cj + i0 * ldc, ldc, m0, m1);
        const float* ai = a + i0 * lda;
        float* ci = cj + i0 * ldc;
        switch (m - i0) {
            case 7: tile<7>(k, alpha, ai, lda, bj, ldb, ci, ldc, m0, m1); break;
            case 6: tile<6>(k, alpha, ai, lda, bj, ldb, ci, ldc, m0, m1); break;
            case 5: tile<5>(k, alpha, ai, lda, bj, ldb, ci, ldc, m0, m1); break;
            case 4: tile<4>(k, alpha, ai, lda, bj, ldb, ci, ldc, m0, m1); break;
            case 3: tile<3>(k, alpha, ai, lda, bj, ldb, ci, ldc, m0, m1); break;
            case 2: tile<2>(k, alpha, ai, lda, bj, ldb, ci, ldc, m0, m1); break;
            case 1: tile<1>(k, alpha, ai, lda, bj, ldb, ci, ldc, m0, m1); break;
            default: break;
        }
    }
}

// ---- softmax ----------------------------------------------------------------------------------------------------

/// e^x for x <= 0 (or NaN, which stays NaN): x is clamped at -104 (e^-104 is 0 in float32), reduced by ln 2 in two
/// parts, a degree-6 Cephes polynomial on |r| <= ln2/2, and 2^n applied by scalef (exact, denormals included).
inline __m512 exp_nonpos(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);  // the second operand is returned for NaN
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

void softmax(float* s, int64_t n, const float* mask, int64_t mask_step) {
    if (n <= 0) return;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 vmax = ninf;
    const __m512 mask_all = mask && mask_step == 0 ? _mm512_set1_ps(mask[0]) : _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 t = lanes(n - j);
        __m512 x = _mm512_mask_loadu_ps(ninf, t, s + j);
        if (mask) {
            x = _mm512_add_ps(x, mask_step ? _mm512_maskz_loadu_ps(t, mask + j) : mask_all);
            _mm512_mask_storeu_ps(s + j, t, x);
        }
        vmax = _mm512_mask_max_ps(vmax, t, vmax, x);
    }
    const float m = _mm512_reduce_max_ps(vmax);
    if (!std::isfinite(m)) {
        softmax_exact(s, n);
        return;
    }
    const __m512 vm = _mm512_set1_ps(m);
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 t = lanes(n - j);
        const __m512 e = exp_nonpos(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, s + j), vm));
        _mm512_mask_storeu_ps(s + j, t, e);
        vsum = _mm512_mask_add_ps(vsum, t, vsum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 t = lanes(n - j);
        _mm512_mask_storeu_ps(s + j, t, _mm512_mul_ps(_mm512_maskz_loadu_ps(t, s + j), inv));
    }
}

// ---- transpose --------------------------------------------------------------------------------------------------

/// A 16 x 16 block: rows [0, rv) of `in` (columns [0, cv)) become columns of `out` (rows [0, cv)). kFull: rv = cv = 16.
template <bool kFull>
inline void block16(const float* in, int64_t ldi, float* out, int64_t ldo, int64_t rv, int64_t cv) {
    __m512 r[16], t[16];
    const __mmask16 cm = lanes(cv);
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
        if (kFull) r[i] = _mm512_loadu_ps(in + i * ldi);
        else r[i] = i < rv ? _mm512_maskz_loadu_ps(cm, in + i * ldi) : _mm512_setzero_ps();
    }
    // Pairs of rows interleaved within 128-bit lanes.
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // Groups of 4 rows: r[4g + c] holds, in lane l, rows 4g..4g+3 of column 4l + c.
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
        r[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    // Lanes across groups: column 4l + c is lane l of r[c], r[4 + c], r[8 + c], r[12 + c].
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
        const __m512 v = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88), w = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
        const __m512 v2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        const __m512 w2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
        t[c] = _mm512_shuffle_f32x4(v, v2, 0x88);       // column c
        t[8 + c] = _mm512_shuffle_f32x4(v, v2, 0xDD);   // column 8 + c
        t[4 + c] = _mm512_shuffle_f32x4(w, w2, 0x88);   // column 4 + c
        t[12 + c] = _mm512_shuffle_f32x4(w, w2, 0xDD);  // column 12 + c
    }
    const __mmask16 rm = lanes(rv);
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) {
        if (kFull) _mm512_storeu_ps(out + j * ldo, t[j]);
        else if (j < cv) _mm512_mask_storeu_ps(out + j * ldo, rm, t[j]);
    }
}

/// Three rows of 16 columns interleaved into 48 contiguous floats (planar RGB to pixel-interleaved): output vector k
/// takes element e = 16k + i from row e % 3, column e / 3, by one two-source permute (rows 0, 1) and one masked
/// permute (row 2).
struct Interleave3 {
    __m512i ab[3], c[3];
    __mmask16 from_c[3];
    Interleave3() {
        for (int k = 0; k < 3; ++k) {
            alignas(64) int32_t ab_idx[16], c_idx[16];
            __mmask16 m = 0;
            for (int i = 0; i < 16; ++i) {
                const int e = 16 * k + i, row = e % 3, col = e / 3;
                ab_idx[i] = row == 1 ? 16 + col : col;
                c_idx[i] = col;
                if (row == 2) m = static_cast<__mmask16>(m | (1u << i));
            }
            ab[k] = _mm512_load_si512(ab_idx);
            c[k] = _mm512_load_si512(c_idx);
            from_c[k] = m;
        }
    }
};

void interleave3(const float* in, int64_t ldi, float* out, int64_t cols) {
    static const Interleave3 t;
    int64_t c0 = 0;
    for (; c0 + 16 <= cols; c0 += 16) {
        const __m512 a = _mm512_loadu_ps(in + c0), b = _mm512_loadu_ps(in + ldi + c0),
                     c = _mm512_loadu_ps(in + 2 * ldi + c0);
        for (int k = 0; k < 3; ++k) {
            const __m512 v = _mm512_permutex2var_ps(a, t.ab[k], b);
            _mm512_storeu_ps(out + 3 * c0 + 16 * k, _mm512_mask_permutexvar_ps(v, t.from_c[k], t.c[k], c));
        }
    }
    for (; c0 < cols; ++c0) {
        for (int64_t r = 0; r < 3; ++r) out[c0 * 3 + r] = in[r * ldi + c0];
    }
}

void transpose(const float* in, int64_t ldi, float* out, int64_t ldo, int64_t rows, int64_t cols) {
    if (rows == 3 && ldo == 3) {  // an RGB image to channels-last, the input conversion of most CNNs
        interleave3(in, ldi, out, cols);
        return;
    }
    if (rows < 4 || cols < 4) {  // skinny (a channel shuffle's 2 x C/2 per pixel): a 16 x 16 block would be mostly masked
        for (int64_t c = 0; c < cols; ++c) {
            for (int64_t r = 0; r < rows; ++r) out[c * ldo + r] = in[r * ldi + c];
        }
        return;
    }
    constexpr int64_t tb = 64;  // 64 x 64 tiles: few pages and lines of both matrices in flight
    for (int64_t rb = 0; rb < rows; rb += tb) {
        const int64_t re = min64(rb + tb, rows);
        for (int64_t cb = 0; cb < cols; cb += tb) {
            const int64_t ce = min64(cb + tb, cols);
            for (int64_t r0 = rb; r0 < re; r0 += 16) {
                const int64_t rv = min64(16, re - r0);
                int64_t c0 = cb;
                if (rv == 16) {
                    for (; c0 + 16 <= ce; c0 += 16) {
                        block16<true>(in + r0 * ldi + c0, ldi, out + c0 * ldo + r0, ldo, 16, 16);
                    }
                }
                for (; c0 < ce; c0 += 16) {
                    block16<false>(in + r0 * ldi + c0, ldi, out + c0 * ldo + r0, ldo, rv, min64(16, ce - c0));
                }
            }
        }
    }
}

// ---- LSTM cell --------------------------------------------------------------------------------------------------

inline __m512 abs16(__m512 x) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x); }

/// 1 / (1 + e^-x) from e = e^-|x| without overflow: 1 / (1 + e) for x >= 0, e / (1 + e) below.
inline __m512 sigmoid16(__m512 x) {
    const __m512 e = exp_nonpos(_mm512_sub_ps(_mm512_setzero_ps(), abs16(x)));
    const __m512 r = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    return _mm512_mask_mul_ps(r, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), e, r);
}

/// tanh: (1 - t) / (1 + t) with t = e^-2|x| and the sign of x; below |x| = 0.2 the odd Taylor polynomial to x^9
/// (relative accuracy where 1 - t cancels).
inline __m512 tanh16(__m512 x) {
    const __m512 a = abs16(x), one = _mm512_set1_ps(1.0f);
    const __m512 t = exp_nonpos(_mm512_mul_ps(a, _mm512_set1_ps(-2.0f)));
    __m512 r = _mm512_div_ps(_mm512_sub_ps(one, t), _mm512_add_ps(one, t));
    const __m512 a2 = _mm512_mul_ps(a, a);
    __m512 p = _mm512_set1_ps(62.0f / 2835.0f);
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-17.0f / 315.0f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(2.0f / 15.0f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-1.0f / 3.0f));
    const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, a2), a, a);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.2f), _CMP_LT_OQ), r, small);
    return _mm512_or_ps(r, _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));
}

void lstm_cell(const float* g, float* c, float* h_out, int64_t h) {
    for (int64_t j = 0; j < h; j += 16) {
        const __mmask16 t = lanes(h - j);
        const __m512 i = sigmoid16(_mm512_maskz_loadu_ps(t, g + j));
        const __m512 o = sigmoid16(_mm512_maskz_loadu_ps(t, g + h + j));
        const __m512 f = sigmoid16(_mm512_maskz_loadu_ps(t, g + 2 * h + j));
        const __m512 z = tanh16(_mm512_maskz_loadu_ps(t, g + 3 * h + j));
        const __m512 cn = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(t, c + j), _mm512_mul_ps(i, z));
        _mm512_mask_storeu_ps(c + j, t, cn);
        _mm512_mask_storeu_ps(h_out + j, t, _mm512_mul_ps(o, tanh16(cn)));
    }
}

#pragma GCC pop_options

// ---- int8 depthwise convolution and matrix-vector product (AVX-512 VNNI and VBMI on top of the above) ---------

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512vbmi,avx2,fma")

/// The vertical tap quads of padded columns [0, r.cols) for the 16 channels at c and taps 4g .. 4g + 3: byte 4k + t
/// of column p's 64 is x' of channel c + k in row 4g + t. Rows past kh repeat row 4g (their weights are 0): the
/// first broadcast fills all four lanes with it. FLIP: int8 input (x' = x + 128).
template <bool FLIP>
void qdw_build(const QDwRow& r, int64_t g, int64_t c, uint8_t* q) {
    // Lanes 4t..4t+3 (32-bit) hold row t's 16 channels; the byte permutation makes byte 4k + t = channel k of row t.
    alignas(64) static constexpr uint8_t kIdx[64] = {0,  16, 32, 48, 1,  17, 33, 49, 2,  18, 34, 50, 3,  19, 35, 51,
                                                     4,  20, 36, 52, 5,  21, 37, 53, 6,  22, 38, 54, 7,  23, 39, 55,
                                                     8,  24, 40, 56, 9,  25, 41, 57, 10, 26, 42, 58, 11, 27, 43, 59,
                                                     12, 28, 44, 60, 13, 29, 45, 61, 14, 30, 46, 62, 15, 31, 47, 63};
    const __m512i idx = _mm512_load_si512(kIdx);
    const int64_t taps = std::min<int64_t>(4, r.kh - 4 * g);
    const uint8_t* src[4];
    for (int64_t t = 0; t < 4; ++t) src[t] = r.rows[4 * g + (t < taps ? t : 0)] + c;
    const int64_t p0 = std::min(r.pad, r.cols), p1 = std::min(r.pad + r.w_in, r.cols), cols = r.cols, ch = r.ch;
    const int64_t pad = r.pad;
    const __m512i zp = _mm512_set1_epi8(static_cast<char>(r.x_zp));
    for (int64_t p = 0; p < p0; ++p) _mm512_storeu_si512(q + p * 64, zp);
    const __mmask16 m = lanes(ch - c);
    auto load = [](const uint8_t* a) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(a)); };
    for (int64_t p = p0; p < p1; ++p) {
        const int64_t off = (p - pad) * ch;
        __m512i v;
        if (m == 0xFFFF) {
            v = _mm512_broadcast_i32x4(load(src[0] + off));
            if (taps > 1) v = _mm512_mask_broadcast_i32x4(v, 0x00F0, load(src[1] + off));
            if (taps > 2) v = _mm512_mask_broadcast_i32x4(v, 0x0F00, load(src[2] + off));
            if (taps > 3) v = _mm512_mask_broadcast_i32x4(v, 0xF000, load(src[3] + off));
        } else {  // the last channels: masked loads stay inside the rows
            v = _mm512_castsi128_si512(_mm_maskz_loadu_epi8(m, src[0] + off));
            v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, src[1] + off), 1);
            v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, src[2] + off), 2);
            v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, src[3] + off), 3);
        }
        v = _mm512_permutexvar_epi8(idx, v);
        if (FLIP) v = _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));
        _mm512_storeu_si512(q + p * 64, v);
    }
    for (int64_t p = p1; p < cols; ++p) _mm512_storeu_si512(q + p * 64, zp);
}

/// clamp(round_half_even(acc * scale) + zp, lo, hi) as bytes. With |acc * scale| < 2^22, one fused multiply-add of
/// 1.5 * 2^23 rounds the exact product once, half to even, into a float whose bits are 0x4B400000 plus the result.
struct Requant {
    __m512 scale;
    __m512i bits_minus_zp, lo, hi;
};

inline __m128i requant16(__m512i acc, const Requant& r) {
    const __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), r.scale, _mm512_set1_ps(12582912.0f));
    const __m512i q = _mm512_sub_epi32(_mm512_castps_si512(f), r.bits_minus_zp);
    return _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(q, r.lo), r.hi));
}

/// N output columns from o of one 16-channel block: N independent accumulators.
template <int KG, int N>
inline void qdw_cols(const uint8_t* const* q, const __m512i* w, __m512i bias, int64_t o, int64_t step, int64_t ch,
                     __mmask16 m, const Requant& rq, uint8_t* __restrict y) {
    __m512i acc[N];
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) acc[j] = bias;
#pragma GCC unroll 16
    for (int k = 0; k < KG; ++k) {
        const uint8_t* qk = q[k] + o * step;
#pragma GCC unroll 8
        for (int j = 0; j < N; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_loadu_si512(qk + j * step), w[k]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) _mm_mask_storeu_epi8(y + (o + j) * ch, m, requant16(acc[j], rq));
}

/// The last `rest` (< 8) output columns from o, as one qdw_cols<KG, rest>.
template <int KG, int N = 7>
inline void qdw_tail(int64_t rest, const uint8_t* const* q, const __m512i* w, __m512i bias, int64_t o, int64_t step,
                     int64_t ch, __mmask16 m, const Requant& rq, uint8_t* __restrict y) {
    if constexpr (N > 0) {
        if (rest == N)
            qdw_cols<KG, N>(q, w, bias, o, step, ch, m, rq, y);
        else
            qdw_tail<KG, N - 1>(rest, q, w, bias, o, step, ch, m, rq, y);
    }
}

/// Output columns of one 16-channel block with the KG = groups * kw weight quads in registers, eight at a time and
/// the rest together. The fields of r are copied to locals first: the byte stores could alias them.
template <int KG>
void qdw_block(const QDwRow& r, int64_t c, __mmask16 m, const Requant& rq, uint8_t* out) {
    __m512i w[KG];
    const uint8_t* q[KG];  // the column of output 0 for each weight quad
#pragma GCC unroll 16
    for (int k = 0; k < KG; ++k) {
        w[k] = _mm512_loadu_si512(r.w + (k * r.cp + c) * 4);
        q[k] = r.scratch + ((k / r.kw) * r.cols + (k % r.kw) * r.dw) * 64;
    }
    const __m512i bias = _mm512_loadu_si512(r.bias + c);
    const int64_t step = r.sw * 64, ch = r.ch, ow = r.ow;
    uint8_t* __restrict y = out + c;
    int64_t o = 0;
    for (; o + 8 <= ow; o += 8) qdw_cols<KG, 8>(q, w, bias, o, step, ch, m, rq, y);
    qdw_tail<KG>(ow - o, q, w, bias, o, step, ch, m, rq, y);
}

void qdw_row(const QDwRow& r) {
    uint8_t* out = static_cast<uint8_t*>(r.out);
    const int64_t groups = (r.kh + 3) / 4, kg = groups * r.kw;
    for (int64_t c = 0; c < r.cp; c += 16) {
        for (int64_t g = 0; g < groups; ++g) {
            if (r.flip)
                qdw_build<true>(r, g, c, r.scratch + g * r.cols * 64);
            else
                qdw_build<false>(r, g, c, r.scratch + g * r.cols * 64);
        }
        const __mmask16 m = lanes(r.ch - c);
        const Requant rq{_mm512_loadu_ps(r.scale + c), _mm512_set1_epi32(0x4B400000 - r.zp), _mm512_set1_epi32(r.lo),
                         _mm512_set1_epi32(r.hi)};
        if (kg == 3) {  // 3 x 3 (kh <= 4, kw = 3)
            qdw_block<3>(r, c, m, rq, out);
        } else if (kg == 10) {  // 5 x 5
            qdw_block<10>(r, c, m, rq, out);
        } else {
            const __m512i bias = _mm512_loadu_si512(r.bias + c);
            for (int64_t o = 0; o < r.ow; ++o) {
                __m512i acc = bias;
                for (int64_t k = 0; k < kg; ++k) {
                    const uint8_t* q = r.scratch + ((k / r.kw) * r.cols + o * r.sw + (k % r.kw) * r.dw) * 64;
                    acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(q), _mm512_loadu_si512(r.w + (k * r.cp + c) * 4));
                }
                _mm_mask_storeu_epi8(out + o * r.ch + c, m, requant16(acc, rq));
            }
        }
    }
}

/// Four 16-column blocks of the matrix-vector product at once (the same broadcast of a), NB of them valid.
template <int NB>
inline void qgemv_blocks(const uint8_t* a, const int8_t* w, int64_t kp, __m512i* acc) {
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) acc[j] = _mm512_setzero_si512();
    for (int64_t k = 0; k < kp; k += 4) {
        int32_t quad;
        std::memcpy(&quad, a + k, sizeof quad);
        const __m512i av = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
        for (int j = 0; j < NB; ++j) {
            acc[j] = _mm512_dpbusd_epi32(acc[j], av, _mm512_loadu_si512(w + j * kp * 16 + k * 16));
        }
    }
}

void qgemv(const uint8_t* a, const int8_t* w, const int32_t* bias, const float* scale, int64_t kp, int64_t n0,
           int64_t n1, float lo, float hi, float* y) {
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int64_t n = n0; n < n1; n += 64) {
        const int64_t nb = std::min<int64_t>(4, (n1 - n + 15) / 16);
        __m512i acc[4];
        const int8_t* wn = w + (n / 16) * kp * 16;
        switch (nb) {
            case 4:
                qgemv_blocks<4>(a, wn, kp, acc);
                break;
            case 3:
                qgemv_blocks<3>(a, wn, kp, acc);
                break;
            case 2:
                qgemv_blocks<2>(a, wn, kp, acc);
                break;
            default:
                qgemv_blocks<1>(a, wn, kp, acc);
                break;
        }
        for (int64_t j = 0; j < nb; ++j) {
            const int64_t c = n + j * 16;
            const __mmask16 m = lanes(n1 - c);
            const __m512i s = _mm512_add_epi32(acc[j], _mm512_maskz_loadu_epi32(m, bias + c));
            const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_maskz_loadu_ps(m, scale + c));
            _mm512_mask_storeu_ps(y + c, m, _mm512_min_ps(vhi, _mm512_max_ps(vlo, v)));
        }
    }
}

// ---- per-row broadcast binary ----------------------------------------------------------------------------------

template <bool kS, bool kB, bool kClamp>
inline __m512 affine16(__m512 v, const float* s, const float* b, __mmask16 m, __m512 vlo, __m512 vhi) {
    if constexpr (kS && kB) {
        v = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m, s), _mm512_maskz_loadu_ps(m, b));
    } else if constexpr (kS) {
        v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, s));
    } else if constexpr (kB) {
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b));
    }
    if constexpr (kClamp) v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v));  // NaN (the second operand) passes
    return v;
}

template <bool kS, bool kB, bool kClamp>
void row_affine_op(const float* x, int64_t ldx, const float* s, const float* b, float* y, int64_t ldy, int64_t rows,
                   int64_t c, float lo, float hi) {
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * ldx;
        float* yr = y + r * ldy;
        int64_t j = 0;
        for (; j + 16 <= c; j += 16) {
            const __m512 v = _mm512_loadu_ps(xr + j);
            _mm512_storeu_ps(yr + j, affine16<kS, kB, kClamp>(v, kS ? s + j : s, kB ? b + j : b, 0xFFFF, vlo, vhi));
        }
        if (j < c) {
            const __mmask16 m = lanes(c - j);
            const __m512 v = _mm512_maskz_loadu_ps(m, xr + j);
            _mm512_mask_storeu_ps(yr + j, m, affine16<kS, kB, kClamp>(v, kS ? s + j : s, kB ? b + j : b, m, vlo, vhi));
        }
    }
}

// ---- rows of A against packed panels of B (fully connected layers, convolutions) --------------------------------

/// Rows of the largest tile: 6 x 4 accumulators, 4 registers of B and a broadcast of A fit the 32 registers.
constexpr int64_t kTileRows = 6;

/// One segment of a tile's sum: MR rows (k floats from row pointers + offset) against `len` consecutive rows of a
/// panel starting at `w`.
struct TileSeg {
    const float* rows[kTileRows];
    const float* w;
    int64_t len;
};

/// MR rows of A against one 64-column panel, over the segments `seg[0, ns)`. The sums start from 0 (`first`) or from
/// the partial sums in part[i * 64] and end in the epilogue (`last`: bias, residual, clamp into y) or back in `part`.
/// Output columns [c0, c0 + 64), rows row0 + i. While it runs, `pf_lines` cache lines from `pf` are prefetched (about
/// one per step), for the tile that reads them next.
template <int MR>
void panel_tile(const TileSeg* seg, int64_t ns, bool first, bool last, float* part, const PanelGemm& g, int64_t row0,
                int64_t c0, const char* pf, int64_t pf_lines) {
    __m512 acc[MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
        for (int v = 0; v < 4; ++v)
            acc[i][v] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(part + i * kPanel + 16 * v);
    }
    int64_t steps = 0;
    for (int64_t a = 0; a < ns; ++a) steps += seg[a].len;
    const int64_t pf_step = pf_lines > 0 && steps > 0 ? (pf_lines + steps - 1) / steps : 0;  // lines per step
    int64_t pf_next = 0;
    for (int64_t a = 0; a < ns; ++a) {
        const float* ai[MR];
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i) ai[i] = seg[a].rows[i];
        const float* wt = seg[a].w;
        for (int64_t p = 0; p < seg[a].len; ++p) {
            const float* wp = wt + p * kPanel;
            const __m512 w0 = _mm512_loadu_ps(wp), w1 = _mm512_loadu_ps(wp + 16), w2 = _mm512_loadu_ps(wp + 32),
                         w3 = _mm512_loadu_ps(wp + 48);
            for (int64_t q = 0; q < pf_step && pf_next < pf_lines; ++q, ++pf_next) {
                _mm_prefetch(pf + pf_next * 64, _MM_HINT_T1);
            }
#pragma GCC unroll 6
            for (int i = 0; i < MR; ++i) {
                const __m512 av = _mm512_set1_ps(ai[i][p]);
                acc[i][0] = _mm512_fmadd_ps(av, w0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(av, w1, acc[i][1]);
                acc[i][2] = _mm512_fmadd_ps(av, w2, acc[i][2]);
                acc[i][3] = _mm512_fmadd_ps(av, w3, acc[i][3]);
            }
        }
    }
    if (!last) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i) {
            for (int v = 0; v < 4; ++v) _mm512_storeu_ps(part + i * kPanel + 16 * v, acc[i][v]);
        }
        return;
    }
    const __m512 vlo = _mm512_set1_ps(g.lo), vhi = _mm512_set1_ps(g.hi);
    for (int v = 0; v < 4; ++v) {
        const int64_t c = c0 + v * 16;
        if (c >= g.n) break;
        const __mmask16 msk = lanes(g.n - c);
        const __m512 b = g.bias ? _mm512_maskz_loadu_ps(msk, g.bias + c) : _mm512_setzero_ps();
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i) {
            __m512 r = g.bias ? _mm512_add_ps(acc[i][v], b) : acc[i][v];
            if (g.z) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(msk, g.z + (row0 + i) * g.ldz + c));
            r = _mm512_min_ps(vhi, _mm512_max_ps(vlo, r));  // NaN (the second operand) passes
            _mm512_mask_storeu_ps(g.y + (row0 + i) * g.ldy + c, msk, r);
        }
    }
}

using PanelTileFn = void (*)(const TileSeg*, int64_t, bool, bool, float*, const PanelGemm&, int64_t, int64_t,
                             const char*, int64_t);

void panel_gemm(const PanelGemm& g) {
    static constexpr PanelTileFn kTiles[kTileRows + 1] = {nullptr,       panel_tile<1>, panel_tile<2>, panel_tile<3>,
                                                          panel_tile<4>, panel_tile<5>, panel_tile<6>};
    // Tiles of balanced sizes (differing by one row at most): 49 rows are 4 x 6 + 5 x 5, not 8 x 6 + 1.
    const int64_t tiles = (g.m + kTileRows - 1) / kTileRows;
    if (tiles == 0) return;
    // The sum over taps x k steps runs in chunks whose rows of the panel stay in L2 while every tile passes over them
    // (partial sums in g.part between chunks); the next chunk is prefetched a slice per tile.
    const int64_t steps = g.taps * g.k;
    const int64_t chunks = steps > 0 ? (steps + kPanelChunkSteps - 1) / kPanelChunkSteps : 1;
    const int64_t panel_floats = steps * kPanel;
    TileSeg seg[kMaxTaps];
    for (int64_t pg = g.g0; pg < g.g1; ++pg) {
        const float* wg = g.w + pg * panel_floats;
        for (int64_t ch = 0; ch < chunks; ++ch) {
            const int64_t q0 = steps * ch / chunks, q1 = steps * (ch + 1) / chunks;
            // What the tiles of this chunk prefetch: the next chunk of this panel or the first of the next panel.
            const bool more = ch + 1 < chunks || pg + 1 < g.g1;
            const int64_t next_steps = ch + 1 < chunks ? steps * (ch + 2) / chunks - q1 : steps / chunks;
            const char* next = more ? reinterpret_cast<const char*>(wg + q1 * kPanel) : nullptr;
            const int64_t next_lines = more ? next_steps * kPanel * int64_t{sizeof(float)} / 64 : 0;
            const int64_t pf_per_tile = tiles > 1 ? (next_lines + tiles - 1) / tiles : 0;
            for (int64_t ti = 0; ti < tiles; ++ti) {
                const int64_t r0 = g.m * ti / tiles, r1 = g.m * (ti + 1) / tiles;
                // The taps' segments within [q0, q1), without taps whose rows here are all padding.
                int64_t ns = 0;
                for (int64_t tap = g.k > 0 ? q0 / g.k : g.taps; tap < g.taps && tap * g.k < q1; ++tap) {
                    const int64_t p0 = max64(q0 - tap * g.k, 0), p1 = min64(q1 - tap * g.k, g.k);
                    bool padding = g.zero != nullptr;
                    TileSeg& sg = seg[ns];
                    for (int64_t i = r0; i < r1; ++i) {
                        const float* row = g.rows ? g.rows[tap * g.ld_rows + i] : g.a + i * g.lda;
                        sg.rows[i - r0] = row + p0;
                        padding = padding && row == g.zero;
                    }
                    sg.w = wg + (tap * g.k + p0) * kPanel;
                    sg.len = p1 - p0;
                    if (!padding && sg.len > 0) ++ns;
                }
                const int64_t first_line = ti * pf_per_tile;
                const int64_t lines = next ? max64(0, min64(pf_per_tile, next_lines - first_line)) : 0;
                kTiles[r1 - r0](seg, ns, ch == 0, ch + 1 == chunks, chunks > 1 ? g.part + r0 * kPanel : nullptr, g, r0,
                                pg * kPanel, next ? next + first_line * 64 : nullptr, lines);
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

const Kernels& kernels_avx512() {
    // The int8 kernels need VNNI and VBMI as well (the cpu backend only takes their ops when the CPU has them).
    const bool vnni = has_vnni_vbmi();
    static const Kernels k{Isa::kAvx512,
                           gemm,
                           softmax,
                           transpose,
                           lstm_cell,
                           vnni ? qdw_row : qdw_row_portable,
                           vnni ? qgemv : qgemv_portable,
                           row_affine,
                           panel_gemm};
    return k;
}

}  // namespace nnport::cpu

#pragma GCC diagnostic pop

#else  // not x86: never selected (best_isa() is portable), the entry exists for the linker

namespace nnport::cpu {
const Kernels& kernels_avx512() { return kernels_portable(); }
}  // namespace nnport::cpu

#endif

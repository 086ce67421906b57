// The XNNPACK backend's own channels-last depthwise convolution, for the windows XNNPACK 2022 has no depthwise
// micro-kernel for (it has 1, 4, 9 and 25 taps; any other window, e.g. ConvNeXt's 7x7, falls back to a grouped GEMM
// with one channel per group, 50x slower than this loop). Vectorised over channels with GCC vector extensions, compiled
// for AVX-512F, AVX2/FMA and the baseline and chosen at run time.
#include <algorithm>

#include "backends/xnnpack/xnn_depthwise.hpp"

#include "backends/xnnpack/xnn_common.hpp"
#include "ops/nn_util.hpp"

namespace nnport::xnn {

namespace {

typedef float v4 __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

// Unaligned loads and stores of V (memcpy compiles to vmovups; helper functions taking or returning vectors would
// change the ABI outside the target-specific functions).
#define NNPORT_LD(p)                                 \
    ({                                               \
        V v_;                                        \
        __builtin_memcpy(&v_, (p), sizeof(V));       \
        v_;                                          \
    })
#define NNPORT_ST(p, v)                              \
    do {                                             \
        const V t_ = (v);                            \
        __builtin_memcpy((p), &t_, sizeof(V));       \
    } while (0)

/// Rows [r0, r1) of the N*OH output rows. Channels in vectors of L = sizeof(V)/4 (four at a time where they fit),
/// the remainder one by one; taps outside the input (padding) are skipped.
template <typename V>
[[gnu::always_inline]] inline void rows_impl(const DepthwiseGeometry& g, const float* x, const float* w,
                                             const float* bias, float lo, float hi, float* y, int64_t r0, int64_t r1) {
    constexpr int64_t L = sizeof(V) / sizeof(float);
    const int64_t c = g.c;
    V vlo, vhi;
    for (int64_t i = 0; i < L; ++i) {
        vlo[i] = lo;
        vhi[i] = hi;
    }
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / g.oh, oy = r % g.oh;
        const int64_t iy0 = oy * g.sh - g.pt;
        int64_t ky0, ky1;
        nn::valid_range(iy0, g.dh, g.h, g.kh, ky0, ky1);
        float* yrow = y + r * g.ow * c;
        // Interior columns (every kx tap inside the input) four at a time: each weight vector serves four pixels.
        int64_t in_lo, in_hi;  // ox with ix0 >= 0 and ix0 + (kw - 1) * dw <= w - 1
        nn::valid_range(-g.pl, g.sw, g.w - (g.kw - 1) * g.dw, g.ow, in_lo, in_hi);
        const int64_t quads = c % L == 0 ? (in_hi - in_lo) / 4 : 0;
        const int64_t step = g.sw * c;
        for (int64_t q = 0; q < quads; ++q) {
            const int64_t ox = in_lo + 4 * q, ix0 = ox * g.sw - g.pl;
            float* yo = yrow + ox * c;
            for (int64_t ch = 0; ch < c; ch += L) {
                V a0 = {}, a1 = {}, a2 = {}, a3 = {};
                if (bias) a0 = a1 = a2 = a3 = NNPORT_LD(bias + ch);
                for (int64_t ky = ky0; ky < ky1; ++ky) {
                    const float* xr = x + ((n * g.h + iy0 + ky * g.dh) * g.w + ix0) * c + ch;
                    const float* wr = w + ky * g.kw * c + ch;
                    for (int64_t kx = 0; kx < g.kw; ++kx) {
                        const V wv = NNPORT_LD(wr + kx * c);
                        const float* xp = xr + kx * g.dw * c;
                        a0 += wv * NNPORT_LD(xp);
                        a1 += wv * NNPORT_LD(xp + step);
                        a2 += wv * NNPORT_LD(xp + 2 * step);
                        a3 += wv * NNPORT_LD(xp + 3 * step);
                    }
                }
                a0 = a0 < vlo ? vlo : a0;
                a1 = a1 < vlo ? vlo : a1;
                a2 = a2 < vlo ? vlo : a2;
                a3 = a3 < vlo ? vlo : a3;
                NNPORT_ST(yo + ch, a0 > vhi ? vhi : a0);
                NNPORT_ST(yo + c + ch, a1 > vhi ? vhi : a1);
                NNPORT_ST(yo + 2 * c + ch, a2 > vhi ? vhi : a2);
                NNPORT_ST(yo + 3 * c + ch, a3 > vhi ? vhi : a3);
            }
        }
        for (int64_t ox = 0; ox < g.ow; ++ox) {
            if (ox == in_lo && quads > 0) ox += 4 * quads;  // done above
            if (ox >= g.ow) break;
            const int64_t ix0 = ox * g.sw - g.pl;
            int64_t kx0, kx1;
            nn::valid_range(ix0, g.dw, g.w, g.kw, kx0, kx1);
            float* yo = yrow + ox * c;
            int64_t ch = 0;
            for (; ch + 4 * L <= c; ch += 4 * L) {
                V a0 = {}, a1 = {}, a2 = {}, a3 = {};
                if (bias) {
                    a0 = NNPORT_LD(bias + ch);
                    a1 = NNPORT_LD(bias + ch + L);
                    a2 = NNPORT_LD(bias + ch + 2 * L);
                    a3 = NNPORT_LD(bias + ch + 3 * L);
                }
                for (int64_t ky = ky0; ky < ky1; ++ky) {
                    const float* xr = x + ((n * g.h + iy0 + ky * g.dh) * g.w) * c + ch;
                    const float* wr = w + ky * g.kw * c + ch;
                    for (int64_t kx = kx0; kx < kx1; ++kx) {
                        const float* xp = xr + (ix0 + kx * g.dw) * c;
                        const float* wp = wr + kx * c;
                        a0 += NNPORT_LD(wp) * NNPORT_LD(xp);
                        a1 += NNPORT_LD(wp + L) * NNPORT_LD(xp + L);
                        a2 += NNPORT_LD(wp + 2 * L) * NNPORT_LD(xp + 2 * L);
                        a3 += NNPORT_LD(wp + 3 * L) * NNPORT_LD(xp + 3 * L);
                    }
                }
                a0 = a0 < vlo ? vlo : a0;
                a1 = a1 < vlo ? vlo : a1;
                a2 = a2 < vlo ? vlo : a2;
                a3 = a3 < vlo ? vlo : a3;
                NNPORT_ST(yo + ch, a0 > vhi ? vhi : a0);
                NNPORT_ST(yo + ch + L, a1 > vhi ? vhi : a1);
                NNPORT_ST(yo + ch + 2 * L, a2 > vhi ? vhi : a2);
                NNPORT_ST(yo + ch + 3 * L, a3 > vhi ? vhi : a3);
            }
            for (; ch + L <= c; ch += L) {
                V a = bias ? NNPORT_LD(bias + ch) : V{};
                for (int64_t ky = ky0; ky < ky1; ++ky) {
                    const float* xr = x + ((n * g.h + iy0 + ky * g.dh) * g.w) * c + ch;
                    const float* wr = w + ky * g.kw * c + ch;
                    for (int64_t kx = kx0; kx < kx1; ++kx) a += NNPORT_LD(wr + kx * c) * NNPORT_LD(xr + (ix0 + kx * g.dw) * c);
                }
                a = a < vlo ? vlo : a;
                NNPORT_ST(yo + ch, a > vhi ? vhi : a);
            }
            for (; ch < c; ++ch) {
                float a = bias ? bias[ch] : 0.0f;
                for (int64_t ky = ky0; ky < ky1; ++ky) {
                    const float* xr = x + ((n * g.h + iy0 + ky * g.dh) * g.w) * c + ch;
                    const float* wr = w + ky * g.kw * c + ch;
                    for (int64_t kx = kx0; kx < kx1; ++kx) a += wr[kx * c] * xr[(ix0 + kx * g.dw) * c];
                }
                a = a < lo ? lo : a;
                yo[ch] = a > hi ? hi : a;
            }
        }
    }
}

__attribute__((target("avx512f"))) void rows_avx512(const DepthwiseGeometry& g, const float* x, const float* w,
                                                    const float* bias, float lo, float hi, float* y, int64_t r0,
                                                    int64_t r1) {
    rows_impl<v16>(g, x, w, bias, lo, hi, y, r0, r1);
}

__attribute__((target("avx2,fma"))) void rows_avx2(const DepthwiseGeometry& g, const float* x, const float* w,
                                                   const float* bias, float lo, float hi, float* y, int64_t r0,
                                                   int64_t r1) {
    rows_impl<v8>(g, x, w, bias, lo, hi, y, r0, r1);
}

void rows_baseline(const DepthwiseGeometry& g, const float* x, const float* w, const float* bias, float lo, float hi,
                   float* y, int64_t r0, int64_t r1) {
    rows_impl<v4>(g, x, w, bias, lo, hi, y, r0, r1);
}

#undef NNPORT_LD
#undef NNPORT_ST

}  // namespace

bool xnnpack_has_depthwise_window(int64_t taps) { return taps == 1 || taps == 4 || taps == 9 || taps == 25; }

void depthwise_rows(const DepthwiseGeometry& g, const float* x, const float* w, const float* bias, float lo, float hi,
                    float* y, int64_t r0, int64_t r1) {
    switch (simd_level()) {
        case 2: rows_avx512(g, x, w, bias, lo, hi, y, r0, r1); return;
        case 1: rows_avx2(g, x, w, bias, lo, hi, y, r0, r1); return;
        default: rows_baseline(g, x, w, bias, lo, hi, y, r0, r1); return;
    }
}

}  // namespace nnport::xnn

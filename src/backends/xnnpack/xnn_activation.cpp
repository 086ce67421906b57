// The XNNPACK backend's output epilogue: y = act(y + z) over a finished output, for the activations XNNPACK cannot
// fuse as an output clamp (and for the residual add of FusedConv).
// AVX-512F or AVX2/FMA loops chosen at run time by CPU features (no -march flag needed), the portable
// fused::apply_activation elsewhere.
// GCC 12 reports its own _mm512_undefined_ps() inside _mm512_min_ps/_mm512_max_ps as maybe-uninitialized (a false
// positive at the intrinsic's location in the header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <atomic>

#include "backends/xnnpack/xnn_common.hpp"
#include "core/thread_pool.hpp"

namespace nnport::xnn {

namespace {

using fused::Act;

#define NNPORT_AVX2 __attribute__((target("avx2,fma")))

// ---- vector math (8 floats) ---------------------------------------------------------------------------------------

/// e^x, Cephes-style: range reduction by ln 2 in two parts and a degree-6 polynomial (about 1 ulp); inputs are
/// clamped to the range with finite, normal results.
NNPORT_AVX2 inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.0f));
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
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

NNPORT_AVX2 inline __m256 abs8(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

/// 1 / (1 + e^-x) without overflow: e = e^-|x|, then 1/(1+e) or e/(1+e) by sign.
NNPORT_AVX2 inline __m256 sigmoid8(__m256 x) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), abs8(x)));
    const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(r, _mm256_mul_ps(e, r), neg);
}

/// tanh: an odd Taylor polynomial below |x| = 0.2 (keeps relative accuracy near 0), (1 - t) / (1 + t) with
/// t = e^-2|x| above.
NNPORT_AVX2 inline __m256 tanh8(__m256 x) {
    const __m256 a = abs8(x);
    const __m256 t = exp8(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 big = _mm256_div_ps(_mm256_sub_ps(one, t), _mm256_add_ps(one, t));
    const __m256 a2 = _mm256_mul_ps(a, a);
    __m256 p = _mm256_set1_ps(62.0f / 2835.0f);
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-17.0f / 315.0f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(2.0f / 15.0f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-1.0f / 3.0f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, a2), a, a);
    const __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.2f), _CMP_LT_OQ));
    return _mm256_or_ps(r, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));  // sign of x
}

/// 0.5 x (1 + erf(x / sqrt 2)) with erfc(|u|) by Abramowitz-Stegun 7.1.26 (absolute error below 1.5e-7):
/// 1 + erf(u) = 2 - erfc(u) for u >= 0 and erfc(-u) for u < 0.
NNPORT_AVX2 inline __m256 gelu8(__m256 x) {
    const __m256 u = _mm256_mul_ps(x, _mm256_set1_ps(0.7071067811865476f));
    const __m256 z = abs8(u);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(z, _mm256_set1_ps(0.3275911f), one));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    const __m256 erfc = _mm256_mul_ps(p, exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(z, z))));
    const __m256 neg = _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 one_plus_erf = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), erfc, neg);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), one_plus_erf);
}

/// 0.5 x (1 + tanh(v)) = x * sigmoid(2v), v = sqrt(2/pi) (x + 0.044715 x^3).
NNPORT_AVX2 inline __m256 gelu_tanh8(__m256 x) {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    const __m256 v = _mm256_mul_ps(_mm256_fmadd_ps(x3, _mm256_set1_ps(0.044715f), x),
                                   _mm256_set1_ps(2.0f * 0.7978845608028654f));
    return _mm256_mul_ps(x, sigmoid8(v));
}

/// One activation on 8 floats.
template <Act K>
NNPORT_AVX2 inline __m256 act8(__m256 v, __m256 p0, __m256 p1) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    if constexpr (K == Act::kIdentity) {
        return v;
    } else if constexpr (K == Act::kRelu) {
        return _mm256_max_ps(v, zero);
    } else if constexpr (K == Act::kClip) {
        return _mm256_min_ps(_mm256_max_ps(v, p0), p1);
    } else if constexpr (K == Act::kLeakyRelu) {
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, p0), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    } else if constexpr (K == Act::kSigmoid) {
        return sigmoid8(v);
    } else if constexpr (K == Act::kHardSigmoid) {
        return _mm256_min_ps(one, _mm256_max_ps(zero, _mm256_fmadd_ps(v, p0, p1)));
    } else if constexpr (K == Act::kHardSwish) {
        const __m256 g = _mm256_fmadd_ps(v, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
        return _mm256_mul_ps(v, _mm256_min_ps(one, _mm256_max_ps(zero, g)));
    } else if constexpr (K == Act::kSwish) {
        return _mm256_mul_ps(v, sigmoid8(_mm256_mul_ps(v, p0)));
    } else if constexpr (K == Act::kGelu) {
        return gelu8(v);
    } else if constexpr (K == Act::kGeluTanh) {
        return gelu_tanh8(v);
    } else {
        static_assert(K == Act::kTanh);
        return tanh8(v);
    }
}

/// y = act(y + z) over [0, n); the tail goes through masked loads and stores so every element takes the same path.
template <Act K>
NNPORT_AVX2 void run8(float* y, const float* z, int64_t n, float a0, float a1) {
    const __m256 p0 = _mm256_set1_ps(a0), p1 = _mm256_set1_ps(a1);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(y + i);
        if (z) v = _mm256_add_ps(v, _mm256_loadu_ps(z + i));
        _mm256_storeu_ps(y + i, act8<K>(v, p0, p1));
    }
    if (i < n) {
        const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)), idx);
        __m256 v = _mm256_maskload_ps(y + i, mask);
        if (z) v = _mm256_add_ps(v, _mm256_maskload_ps(z + i, mask));
        _mm256_maskstore_ps(y + i, mask, act8<K>(v, p0, p1));
    }
}

// ---- the same with 16 floats (AVX-512F): reciprocals by rcp14 and one Newton step (about 2^-28 relative) -----------

#define NNPORT_AVX512 __attribute__((target("avx512f")))

/// e^(x - n ln 2) for n = round(x / ln 2): the reduction by ln 2 in two parts and the degree-6 polynomial.
NNPORT_AVX512 inline __m512 exp16_reduced(__m512 x, __m512 n) {
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    return _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
}

NNPORT_AVX512 inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_scalef_ps(exp16_reduced(x, n), n);
}

/// 1 / d: rcp14 refined by one Newton-Raphson step.
NNPORT_AVX512 inline __m512 recip16(__m512 d) {
    const __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

NNPORT_AVX512 inline __m512 sigmoid16(__m512 x) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
    const __m512 r = recip16(_mm512_add_ps(_mm512_set1_ps(1.0f), e));
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_mul_ps(r, neg, e, r);
}

/// x * sigmoid(alpha x), as x / (1 + e^t) with t = -alpha x clamped to [-87.3, 88.3] (so 2^n below stays a normal
/// number: beyond the clamp the result is 0 or x to float32 precision, or off by under 1e-36). e^t: n = round(t log2
/// e) by the 1.5 * 2^23 shifter, whose low bits, shifted into the exponent field, are 2^n (cheaper than roundscale
/// and scalef), exp16_reduced, then recip16. Relative error under 3e-7 where the
/// result is above 1e-30; about 10 cycles per 16 lanes where sigmoid16's form takes 12 (Zen 5), which matters
/// because efficientnet_b0 spends a fifth of a run here.
NNPORT_AVX512 inline __m512 swish16(__m512 x, __m512 alpha) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 t = _mm512_min_ps(
        _mm512_set1_ps(88.3f),
        _mm512_max_ps(_mm512_set1_ps(-87.3f), _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), alpha), x)));
    const __m512 shifter = _mm512_set1_ps(12583039.0f);  // 1.5 * 2^23 + 127: v's low bits are n + 127
    const __m512 v = _mm512_fmadd_ps(t, _mm512_set1_ps(1.44269504088896341f), shifter);
    const __m512 p = exp16_reduced(t, _mm512_sub_ps(v, shifter));
    const __m512 two_n = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(v), 23));
    return _mm512_mul_ps(x, recip16(_mm512_fmadd_ps(p, two_n, one)));
}

NNPORT_AVX512 inline __m512 with_sign_of(__m512 v, __m512 x) {
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int>(0x80000000u)));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), sign));
}

NNPORT_AVX512 inline __m512 tanh16(__m512 x) {
    const __m512 a = _mm512_abs_ps(x);
    const __m512 t = exp16(_mm512_mul_ps(a, _mm512_set1_ps(-2.0f)));
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 big = _mm512_mul_ps(_mm512_sub_ps(one, t), recip16(_mm512_add_ps(one, t)));
    const __m512 a2 = _mm512_mul_ps(a, a);
    __m512 p = _mm512_set1_ps(62.0f / 2835.0f);
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-17.0f / 315.0f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(2.0f / 15.0f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-1.0f / 3.0f));
    const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, a2), a, a);
    const __m512 r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.2f), _CMP_LT_OQ), big, small);
    return with_sign_of(r, x);
}

NNPORT_AVX512 inline __m512 gelu16(__m512 x) {
    const __m512 u = _mm512_mul_ps(x, _mm512_set1_ps(0.7071067811865476f));
    const __m512 z = _mm512_abs_ps(u);
    const __m512 t = recip16(_mm512_fmadd_ps(z, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    const __m512 erfc = _mm512_mul_ps(p, exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(z, z))));
    const __mmask16 neg = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 one_plus_erf = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), erfc), erfc);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), one_plus_erf);
}

template <Act K>
NNPORT_AVX512 inline __m512 act16(__m512 v, __m512 p0, __m512 p1) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    if constexpr (K == Act::kIdentity) {
        return v;
    } else if constexpr (K == Act::kRelu) {
        return _mm512_max_ps(v, zero);
    } else if constexpr (K == Act::kClip) {
        return _mm512_min_ps(_mm512_max_ps(v, p0), p1);
    } else if constexpr (K == Act::kLeakyRelu) {
        return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, p0);
    } else if constexpr (K == Act::kSigmoid) {
        return sigmoid16(v);
    } else if constexpr (K == Act::kHardSigmoid) {
        return _mm512_min_ps(one, _mm512_max_ps(zero, _mm512_fmadd_ps(v, p0, p1)));
    } else if constexpr (K == Act::kHardSwish) {
        const __m512 g = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
        return _mm512_mul_ps(v, _mm512_min_ps(one, _mm512_max_ps(zero, g)));
    } else if constexpr (K == Act::kSwish) {
        return swish16(v, p0);
    } else if constexpr (K == Act::kGelu) {
        return gelu16(v);
    } else if constexpr (K == Act::kGeluTanh) {
        const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
        const __m512 w = _mm512_mul_ps(_mm512_fmadd_ps(x3, _mm512_set1_ps(0.044715f), v),
                                       _mm512_set1_ps(2.0f * 0.7978845608028654f));
        return _mm512_mul_ps(v, sigmoid16(w));
    } else {
        static_assert(K == Act::kTanh);
        return tanh16(v);
    }
}

template <Act K>
NNPORT_AVX512 void run16(float* y, const float* z, int64_t n, float a0, float a1) {
    const __m512 p0 = _mm512_set1_ps(a0), p1 = _mm512_set1_ps(a1);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(y + i);
        if (z) v = _mm512_add_ps(v, _mm512_loadu_ps(z + i));
        _mm512_storeu_ps(y + i, act16<K>(v, p0, p1));
    }
    if (i < n) {
        const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
        __m512 v = _mm512_maskz_loadu_ps(mask, y + i);
        if (z) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, z + i));
        _mm512_mask_storeu_ps(y + i, mask, act16<K>(v, p0, p1));
    }
}

using RunFn = void (*)(float*, const float*, int64_t, float, float);

RunFn avx512_fn(Act k) {
    switch (k) {
        case Act::kIdentity: return run16<Act::kIdentity>;
        case Act::kRelu: return run16<Act::kRelu>;
        case Act::kClip: return run16<Act::kClip>;
        case Act::kLeakyRelu: return run16<Act::kLeakyRelu>;
        case Act::kSigmoid: return run16<Act::kSigmoid>;
        case Act::kHardSigmoid: return run16<Act::kHardSigmoid>;
        case Act::kHardSwish: return run16<Act::kHardSwish>;
        case Act::kSwish: return run16<Act::kSwish>;
        case Act::kGelu: return run16<Act::kGelu>;
        case Act::kGeluTanh: return run16<Act::kGeluTanh>;
        case Act::kTanh: return run16<Act::kTanh>;
    }
    return nullptr;
}

RunFn avx2_fn(Act k) {
    switch (k) {
        case Act::kIdentity: return run8<Act::kIdentity>;
        case Act::kRelu: return run8<Act::kRelu>;
        case Act::kClip: return run8<Act::kClip>;
        case Act::kLeakyRelu: return run8<Act::kLeakyRelu>;
        case Act::kSigmoid: return run8<Act::kSigmoid>;
        case Act::kHardSigmoid: return run8<Act::kHardSigmoid>;
        case Act::kHardSwish: return run8<Act::kHardSwish>;
        case Act::kSwish: return run8<Act::kSwish>;
        case Act::kGelu: return run8<Act::kGelu>;
        case Act::kGeluTanh: return run8<Act::kGeluTanh>;
        case Act::kTanh: return run8<Act::kTanh>;
    }
    return nullptr;
}

/// Portable path: the residual add, then the reference activation formulas.
void run_portable(const fused::Activation& a, float* y, const float* z, int64_t n) {
    if (z) {
        for (int64_t i = 0; i < n; ++i) y[i] += z[i];
    }
    fused::apply_activation(a, y, n);
}

}  // namespace

namespace {
std::atomic<int> g_simd_cap{2};
}  // namespace

int simd_level() {
    static const int best = [] {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) return 2;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
        return 0;
    }();
    return std::min(best, g_simd_cap.load(std::memory_order_relaxed));
}

int limit_simd_level(int level) { return g_simd_cap.exchange(std::clamp(level, 0, 2)); }

void apply_epilogue(const fused::Activation& a, float* y, const float* z, int64_t n, ThreadPool* pool) {
    if (n <= 0 || (a.kind == Act::kIdentity && !z)) return;
    const int level = simd_level();
    const RunFn fn = level == 2 ? avx512_fn(a.kind) : level == 1 ? avx2_fn(a.kind) : nullptr;
    auto body = [&](int64_t b, int64_t e) {
        if (fn) fn(y + b, z ? z + b : nullptr, e - b, a.p0, a.p1);
        else run_portable(a, y + b, z ? z + b : nullptr, e - b);
    };
    // Chunks of 4096 floats (16 KiB, a multiple of the vector width) keep the tail path to the very end.
    constexpr int64_t kChunk = 4096;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    if (!pool || pool->num_threads() <= 1 || n < 2 * kElementsPerThread) {
        body(0, n);
        return;
    }
    pool->parallel_for(chunks, [&](int64_t c0, int64_t c1) { body(c0 * kChunk, std::min(n, c1 * kChunk)); });
}

}  // namespace nnport::xnn

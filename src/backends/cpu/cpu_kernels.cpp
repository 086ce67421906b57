// The cpu backend's instruction-set choice and its portable kernels (plain C++ that the compiler vectorises for the
// baseline instruction set).
#include "backends/cpu/cpu_kernels.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

namespace nnport::cpu {

namespace {

std::atomic<int> g_isa_cap{2};

Isa detect() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma")) {
        return Isa::kAvx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
    return Isa::kPortable;
}

// ---- portable kernels ---------------------------------------------------------------------------------------------

// GCC/Clang vector extensions: 4 floats, SSE registers at the x86-64 baseline (and NEON or scalar code elsewhere).
typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) {
    v4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store4(float* p, v4 v) { std::memcpy(p, &v, sizeof v); }

/// C[MR x 8] = alpha * A[MR x k] B[k x 8]; only the first nr (<= 8) columns of B are read and of C written.
template <int MR>
void tile_portable(int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int64_t nr) {
    v4 acc[MR][2] = {};
    for (int64_t p = 0; p < k; ++p) {
        v4 b0, b1;
        if (nr == 8) {
            b0 = load4(b + p * ldb);
            b1 = load4(b + p * ldb + 4);
        } else {
            float t[8] = {};
            std::memcpy(t, b + p * ldb, static_cast<size_t>(nr) * sizeof(float));
            b0 = load4(t);
            b1 = load4(t + 4);
        }
        for (int r = 0; r < MR; ++r) {
            const float av = a[r * lda + p];
            acc[r][0] += av * b0;
            acc[r][1] += av * b1;
        }
    }
    for (int r = 0; r < MR; ++r) {
        float t[8];
        store4(t, alpha * acc[r][0]);
        store4(t + 4, alpha * acc[r][1]);
        std::memcpy(c + r * ldc, t, static_cast<size_t>(nr) * sizeof(float));
    }
}

void gemm_portable(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float* c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < n; j0 += 8) {
        const int64_t nr = std::min<int64_t>(8, n - j0);
        int64_t i0 = 0;
        for (; i0 + 4 <= m; i0 += 4) tile_portable<4>(k, alpha, a + i0 * lda, lda, b + j0, ldb, c + i0 * ldc + j0, ldc, nr);
        const float* ai = a + i0 * lda;
        float* ci = c + i0 * ldc + j0;
        switch (m - i0) {
            case 3: tile_portable<3>(k, alpha, ai, lda, b + j0, ldb, ci, ldc, nr); break;
            case 2: tile_portable<2>(k, alpha, ai, lda, b + j0, ldb, ci, ldc, nr); break;
            case 1: tile_portable<1>(k, alpha, ai, lda, b + j0, ldb, ci, ldc, nr); break;
            default: break;
        }
    }
}

void add_mask(float* s, int64_t n, const float* mask, int64_t mask_step) {
    if (!mask) return;
    if (mask_step == 0) {
        const float v = mask[0];
        for (int64_t j = 0; j < n; ++j) s[j] += v;
    } else {
        for (int64_t j = 0; j < n; ++j) s[j] += mask[j];
    }
}

void softmax_portable(float* s, int64_t n, const float* mask, int64_t mask_step) {
    add_mask(s, n, mask, mask_step);
    softmax_exact(s, n);
}

void transpose_portable(const float* in, int64_t ldi, float* out, int64_t ldo, int64_t rows, int64_t cols) {
    constexpr int64_t kTile = 16;
    for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
        const int64_t r1 = std::min(r0 + kTile, rows);
        for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
            const int64_t c1 = std::min(c0 + kTile, cols);
            for (int64_t c = c0; c < c1; ++c) {
                for (int64_t r = r0; r < r1; ++r) out[c * ldo + r] = in[r * ldi + c];
            }
        }
    }
}

}  // namespace

void row_affine_portable(const float* x, int64_t ldx, const float* s, const float* b, float* y, int64_t ldy,
                         int64_t rows, int64_t c, float lo, float hi) {
    const bool clamp = lo > -std::numeric_limits<float>::infinity() || hi < std::numeric_limits<float>::infinity();
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * ldx;
        float* yr = y + r * ldy;
        for (int64_t j = 0; j < c; ++j) {
            float v = s && b ? std::fma(xr[j], s[j], b[j]) : (s ? xr[j] * s[j] : (b ? xr[j] + b[j] : xr[j]));
            // max(lo, v) then min(hi, v) as the vector builds: NaN passes through.
            if (clamp) {
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
            }
            yr[j] = v;
        }
    }
}

void panel_gemm_portable(const PanelGemm& g) {
    float acc[kPanel];
    for (int64_t i = 0; i < g.m; ++i) {
        for (int64_t pg = g.g0; pg < g.g1; ++pg) {
            const float* wg = g.w + pg * g.taps * g.k * kPanel;
            for (int64_t j = 0; j < kPanel; ++j) acc[j] = 0.0f;
            for (int64_t t = 0; t < g.taps; ++t) {
                const float* ai = g.rows ? g.rows[t * g.ld_rows + i] : g.a + i * g.lda;
                if (ai == g.zero) continue;
                const float* wt = wg + t * g.k * kPanel;
                for (int64_t p = 0; p < g.k; ++p) {
                    const float av = ai[p];
                    for (int64_t j = 0; j < kPanel; ++j) acc[j] += av * wt[p * kPanel + j];
                }
            }
            const int64_t c0 = pg * kPanel, j1 = std::min(kPanel, g.n - c0);
            for (int64_t j = 0; j < j1; ++j) {
                float v = acc[j];
                if (g.bias) v += g.bias[c0 + j];
                if (g.z) v += g.z[i * g.ldz + c0 + j];
                v = v < g.lo ? g.lo : v;  // max(lo, v) then min(hi, v) as the vector builds: NaN passes through
                v = v > g.hi ? g.hi : v;
                g.y[i * g.ldy + c0 + j] = v;
            }
        }
    }
}

void lstm_cell_exact(const float* g, float* c, float* h_out, int64_t h) {
    auto sigmoid = [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
    for (int64_t j = 0; j < h; ++j) {
        const float i = sigmoid(g[j]), o = sigmoid(g[h + j]), f = sigmoid(g[2 * h + j]), z = std::tanh(g[3 * h + j]);
        c[j] = f * c[j] + i * z;
        h_out[j] = o * std::tanh(c[j]);
    }
}

void softmax_exact(float* s, int64_t n) {
    if (n <= 0) return;
    float m = s[0];
    for (int64_t j = 1; j < n; ++j) m = s[j] > m ? s[j] : m;
    float sum = 0;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = std::exp(s[j] - m);
        sum += s[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; ++j) s[j] *= inv;
}

void qdw_row_portable(const QDwRow& r) {
    uint8_t* out = static_cast<uint8_t*>(r.out);
    for (int64_t o = 0; o < r.ow; ++o) {
        for (int64_t c = 0; c < r.ch; ++c) {
            int32_t acc = r.bias[c];
            for (int64_t i = 0; i < r.kh; ++i) {
                for (int64_t j = 0; j < r.kw; ++j) {
                    const int64_t col = o * r.sw + j * r.dw - r.pad;
                    const int32_t x =
                        col < 0 || col >= r.w_in ? r.x_zp : (r.rows[i][col * r.ch + c] ^ (r.flip ? 0x80 : 0));
                    acc += x * r.w[(((i / 4) * r.kw + j) * r.cp + c) * 4 + i % 4];
                }
            }
            // |acc| < 2^24 and the scale has a 24-bit significand: the product is exact in double.
            const double v = std::nearbyint(static_cast<double>(acc) * static_cast<double>(r.scale[c]));
            out[o * r.ch + c] = static_cast<uint8_t>(std::clamp(static_cast<int32_t>(v) + r.zp, r.lo, r.hi));
        }
    }
}

void qgemv_portable(const uint8_t* a, const int8_t* w, const int32_t* bias, const float* scale, int64_t kp, int64_t n0,
                    int64_t n1, float lo, float hi, float* y) {
    for (int64_t n = n0; n < n1; ++n) {
        const int8_t* wn = w + (n / 16) * kp * 16 + (n % 16) * 4;
        int32_t acc = bias[n];
        for (int64_t k = 0; k < kp; ++k) acc += int32_t{a[k]} * int32_t{wn[(k / 4) * 64 + k % 4]};
        const float v = static_cast<float>(acc) * scale[n];
        const float t = lo > v ? lo : v;  // as max(lo, v) and min(hi, t) in the AVX-512 build
        y[n] = hi < t ? hi : t;
    }
}

bool has_vnni_vbmi() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
    }();
    return has;
#else
    return false;
#endif
}

Isa best_isa() {
    static const Isa best = detect();
    return best;
}

Isa isa() { return static_cast<Isa>(std::min(static_cast<int>(best_isa()), g_isa_cap.load())); }

int limit_isa(int level) { return g_isa_cap.exchange(std::clamp(level, 0, 2)); }

const char* isa_name(Isa i) {
    switch (i) {
        case Isa::kAvx512: return "AVX-512";
        case Isa::kAvx2: return "AVX2";
        case Isa::kPortable: break;
    }
    return "portable";
}

const Kernels& kernels_portable() {
    static const Kernels k{Isa::kPortable,   gemm_portable,  softmax_portable,    transpose_portable, lstm_cell_exact,
                           qdw_row_portable, qgemv_portable, row_affine_portable, panel_gemm_portable};
    return k;
}

const Kernels& kernels(Isa i) {
    switch (i) {
        case Isa::kAvx512: return kernels_avx512();
        case Isa::kAvx2: return kernels_avx2();
        case Isa::kPortable: break;
    }
    return kernels_portable();
}

}  // namespace nnport::cpu

// nnport's own float32 CPU kernels (the "cpu" backend): the primitives its ops are built from, in three builds
// chosen at run time by CPU features. The AVX-512 and AVX2 versions live in their own files compiled for those
// instruction sets with `#pragma GCC target` (the library itself stays baseline x86-64); the portable version is plain
// C++. Every entry has the same contract in all three.
#pragma once

#include <cstdint>
#include <limits>

namespace nnport::cpu {

enum class Isa : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

/// The best instruction set this CPU has (AVX-512: F, BW, DQ, VL; AVX2: with FMA).
Isa best_isa();
/// Whether the CPU has AVX-512 VNNI and VBMI (the int8 kernels' AVX-512 builds need them).
bool has_vnni_vbmi();
/// The instruction set the kernels use now: best_isa(), capped by limit_isa().
Isa isa();
const char* isa_name(Isa i);
/// Test hook: caps the instruction set (0 portable, 1 AVX2, 2 AVX-512; the CPU's best stays the upper bound) for
/// every later kernel call, including those of sessions already created. Returns the previous cap.
int limit_isa(int level);

struct QDwRow;
struct PanelGemm;

struct Kernels {
    Isa isa;
    /// C[m x n] = alpha * A[m x k] B[k x n]; all row-major with leading dimensions lda, ldb, ldc (C is overwritten).
    void (*gemm)(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float* c, int64_t ldc);
    /// s[0, n) += mask (mask_step 1: mask[j]; 0: mask[0] for every j; mask null: nothing), then an in-place softmax.
    /// A row whose maximum is not finite (+inf, -inf everywhere, NaN) takes softmax_exact: NaNs as the reference.
    void (*softmax)(float* s, int64_t n, const float* mask, int64_t mask_step);
    /// out[c * ldo + r] = in[r * ldi + c] for r < rows, c < cols (a 2-D transpose between strided matrices).
    void (*transpose)(const float* in, int64_t ldi, float* out, int64_t ldo, int64_t rows, int64_t cols);
    /// One LSTM cell update over h elements with the default activations: g holds the pre-activations of the gates
    /// i, o, f, c (ONNX order, h each); c = sigmoid(f) c + sigmoid(i) tanh(g_c), then h_out = sigmoid(o) tanh(c).
    void (*lstm_cell)(const float* g, float* c, float* h_out, int64_t h);
    /// One output row of an int8 depthwise convolution (QDwRow); bit-exact with the reference kernel.
    void (*qdw_row)(const QDwRow& r);
    /// An int8 matrix-vector product, outputs [n0, n1) (n0 a multiple of 16): y[n] = clamp(float(acc + bias[n]) *
    /// scale[n], lo, hi) as max(lo, .) then min(hi, .), with acc = sum over k < kp of a[k] * w[((n / 16) * kp / 4 +
    /// k / 4) * 64 + (n % 16) * 4 + k % 4] (a uint8, kp a multiple of 4, w int8 packed in 16-column by 4-row blocks).
    /// The caller guarantees |acc + bias| < 2^31.
    void (*qgemv)(const uint8_t* a, const int8_t* w, const int32_t* bias, const float* scale, int64_t kp, int64_t n0,
                  int64_t n1, float lo, float hi, float* y);
    /// y[r * ldy + j] = clamp(x[r * ldx + j] * s[j] + b[j], lo, hi) for r < rows, j < c, with s null meaning 1 and
    /// b null meaning 0: one rounding per element (a fused multiply-add when both are given), so every build gives
    /// the same result, and the reference's for Mul or Add alone. The clamp is max(lo, .) then min(hi, .) and keeps
    /// NaN (as Relu and Clip do); lo = -inf, hi = +inf leave values as they are. y may be x (with ldy = ldx).
    void (*row_affine)(const float* x, int64_t ldx, const float* s, const float* b, float* y, int64_t ldy, int64_t rows,
                       int64_t c, float lo, float hi);
    /// Rows of A against panels of a packed B, with bias, residual and clamp (PanelGemm): fully connected layers and
    /// convolutions.
    void (*panel_gemm)(const PanelGemm& g);
};
/// Columns of the panels of Kernels::panel_gemm.
constexpr int64_t kPanel = 64;
/// The most taps of Kernels::panel_gemm (a 7 x 7 window has 49).
constexpr int64_t kMaxTaps = 64;
/// Steps of the sum (taps x k) from which Kernels::panel_gemm needs PanelGemm::part: 512 KiB of a panel.
constexpr int64_t kPanelChunkSteps = 2048;

/// Kernels::panel_gemm: for rows i < m and the columns j < n of panels [g0, g1) of a packed B,
///   y[i * ldy + j] = clamp(((S(i, j)) + bias[j]) + z[i * ldz + j], lo, hi),
///   S(i, j) = sum over taps t < taps, then p < k, of A_t(i, p) * B(t * k + p, j),
/// with A_t(i, p) = rows[t * ld_rows + i][p] (rows null: one tap, a[i * lda + p]), B(q, j) = w[((j / 64) * taps * k +
/// q) * 64 + j % 64] (64-column panels, zero past n), bias null meaning 0 and z null meaning no residual. The sums run
/// in that order from 0 (the vector builds round once per step, a fused multiply-add). A row equal to `zero` (k zeros:
/// a convolution's padding) contributes 0 * B; a build may skip it, or a tap whose rows in a tile are all `zero`
/// (with a finite B the sum then differs at most in the sign of a zero). The clamp is max(lo, .) then min(hi, .) and
/// keeps NaN. z may be y (ldz = ldy): each element is read before it is written. The AVX-512 build tiles the rows by up
/// to 6 and, while one panel is used by several tiles, prefetches the next panel (or chunk, below) a slice per tile, so
/// weights that come from memory arrive while the current panel is computed. Over more than kPanelChunkSteps steps of
/// taps x k it runs the sum in chunks (so that the rows of a panel that every tile reads stay in L2) and keeps the
/// partial sums of rows i in part[i * 64, i * 64 + 64), which the caller provides then (m x 64 floats, per thread);
/// stored and reloaded as floats, they leave the results unchanged.
struct PanelGemm {
    const float* a = nullptr;
    int64_t lda = 0;
    const float* const* rows = nullptr;
    int64_t taps = 1, ld_rows = 0;
    const float* zero = nullptr;
    float* part = nullptr;
    int64_t m = 0, k = 0;
    const float* w = nullptr;
    int64_t g0 = 0, g1 = 0, n = 0;
    const float* bias = nullptr;
    const float* z = nullptr;
    int64_t ldz = 0;
    float* y = nullptr;
    int64_t ldy = 0;
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
};

/// One output row of an int8 depthwise convolution (kernel kh x kw, channels-last). Padded input column p (p <
/// cols) is input column p - pad of rows[i] (i < kh), and x_zero_point outside [0, w); rows of the vertical padding
/// are rows of x_zero_point. With x' = x (uint8) or x + 128 (int8, `flip`): acc = bias[c] + sum over i, j of
/// x'[rows[i]][(o * sw + j * dw) - pad][c] * weight[i][j][c], and out[o * ch + c] = clamp(round_half_even(acc *
/// scale[c]) + zp, lo, hi) for o < ow, c < ch; bias holds the folded zero point (bias - x'_zero_point * sum of the
/// channel's weights). The caller guarantees |acc| < 2^24 and |acc * scale[c]| < 2^22, so the product is rounded
/// exactly. The AVX-512 VNNI build multiplies four vertical taps per instruction (their bytes side by side in
/// `scratch`, groups = ceil(kh / 4) of them a column).
struct QDwRow {
    const uint8_t* const* rows;  ///< kh input rows (w * ch bytes each), uint8 or int8
    const int8_t* w;             ///< [groups][kw][cp][4]: w[g][j][c][t] = weight (4g + t, j) of c; 0 beyond kh
    const int32_t* bias;         ///< [cp]
    const float* scale;          ///< [cp]
    uint8_t* scratch;            ///< groups * cols * 64 bytes
    int64_t w_in = 0, pad = 0, cols = 0, ow = 0, ch = 0, cp = 0, kh = 0, kw = 0, sw = 1, dw = 1;
    uint8_t x_zp = 0;                  ///< x' zero point (after the flip)
    bool flip = false;                 ///< int8 input: x' = x + 128
    int32_t zp = 0, lo = 0, hi = 255;  ///< output zero point and clamp (type range narrowed by the activation)
    void* out = nullptr;               ///< ow * ch int8 or uint8 values (the clamp keeps them in the type's range)
};

/// The portable row_affine and panel_gemm.
void row_affine_portable(const float* x, int64_t ldx, const float* s, const float* b, float* y, int64_t ldy,
                         int64_t rows, int64_t c, float lo, float hi);
void panel_gemm_portable(const PanelGemm& g);
/// The portable qdw_row and qgemv (the AVX-512 builds' results are identical).
void qdw_row_portable(const QDwRow& r);
void qgemv_portable(const uint8_t* a, const int8_t* w, const int32_t* bias, const float* scale, int64_t kp, int64_t n0,
                    int64_t n1, float lo, float hi, float* y);

/// The kernels of an instruction set (the CPU must have it).
const Kernels& kernels(Isa i);
/// The kernels of isa().
inline const Kernels& kernels() { return kernels(isa()); }

const Kernels& kernels_portable();
const Kernels& kernels_avx2();
const Kernels& kernels_avx512();

/// The scalar LSTM cell (std::exp / std::tanh), the portable entry and the reference for the vector ones.
void lstm_cell_exact(const float* g, float* c, float* h_out, int64_t h);

/// The reference's row softmax, exactly (std::exp, max by comparisons from s[0]), for rows without a finite maximum.
void softmax_exact(float* s, int64_t n);

}  // namespace nnport::cpu

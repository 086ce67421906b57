// nnport's own float32 CPU kernels (the "cpu" backend): the primitives its ops are built from, in three builds
// chosen at run time by CPU features. The AVX-512 and AVX2 versions live in their own files compiled for those
// instruction sets with `#pragma GCC target` (the library itself stays baseline x86-64); the portable version is plain
// C++. Every entry has the same contract in all three.
#pragma once

#include <cstdint>

namespace nnport::cpu {

enum class Isa : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

/// The best instruction set this CPU has (AVX-512: F, BW, DQ, VL; AVX2: with FMA).
Isa best_isa();
/// The instruction set the kernels use now: best_isa(), capped by limit_isa().
Isa isa();
const char* isa_name(Isa i);
/// Test hook: caps the instruction set (0 portable, 1 AVX2, 2 AVX-512; the CPU's best stays the upper bound) for
/// every later kernel call, including those of sessions already created. Returns the previous cap.
int limit_isa(int level);

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
};

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

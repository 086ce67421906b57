// Fused-op helpers: the activations FusedConv / FusedGemm / FusedMatMul apply (named by the `activation` attribute
// with `activation_params`, as ONNX Runtime's com.microsoft FusedConv) and the output epilogue that adds bias and
// residual and applies the activation to one finished block of the output while it is in cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ops/op_def.hpp"

namespace nnport::fused {

/// The activations a fused op can apply after its product.
enum class Act {
    kIdentity,
    kRelu,
    kClip,
    kLeakyRelu,
    kSigmoid,
    kHardSigmoid,
    kHardSwish,
    kSwish,
    kGelu,
    kGeluTanh,
    kTanh
};

/// A resolved activation: kind and up to two parameters (Clip: min, max; LeakyRelu: alpha; HardSigmoid: alpha, beta;
/// Swish: alpha).
struct Activation {
    Act kind = Act::kIdentity;
    float p0 = 0.0f, p1 = 0.0f;
};

/// Activation names accepted by the `activation` attribute (for docs and messages).
const std::vector<std::string>& activation_names();

/// Reads the `activation` and `activation_params` attributes: a known name, and either no parameters (defaults) or
/// exactly as many as the activation takes. Errors name the node.
Result<Activation> parse_activation(const AttrAccess& a);

/// The output shape of a FusedConcat run (inputs X1..Xk, scale, shift; along the last axis), after checking what
/// its kernels rely on: k >= 1 float32 tensors of one rank >= 1 that agree but in the last dim, and scale and shift
/// float32 vectors of the output's channels ([C] or [1, ..., 1, C]). Errors name the node. Defined in fused.cpp.
Result<Shape> fused_concat_shape(KernelContext& ctx);

/// The range [lo, hi] an activation amounts to when it is a clamp of its input: Identity (-inf, inf), Relu [0, inf),
/// Clip [min, max]; nullopt for the others. For kernels that apply an activation as an output clamp.
inline std::optional<std::pair<float, float>> clamp_range(const Activation& a) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    switch (a.kind) {
        case Act::kIdentity:
            return std::pair{-kInf, kInf};
        case Act::kRelu:
            return std::pair{0.0f, kInf};
        case Act::kClip:
            return std::pair{a.p0, a.p1};
        default:
            return std::nullopt;
    }
}

/// The common attributes of the fused ops.
inline std::vector<AttrSpec> activation_attrs() {
    return {AttrSpec::s("activation", "Identity"), AttrSpec::floats("activation_params")};
}

namespace detail {
template <typename T>
inline T sigmoid(T x) {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
}
}  // namespace detail

/// Applies `a` in place to x[0, n). Formulas match the standalone activation ops.
template <typename T>
void apply_activation(const Activation& a, T* __restrict x, int64_t n) {
    const T p0 = static_cast<T>(a.p0), p1 = static_cast<T>(a.p1);
    switch (a.kind) {
        case Act::kIdentity:
            return;
        case Act::kRelu:
            for (int64_t i = 0; i < n; ++i) x[i] = x[i] < T(0) ? T(0) : x[i];
            return;
        case Act::kClip:
            for (int64_t i = 0; i < n; ++i) x[i] = x[i] < p0 ? p0 : (x[i] > p1 ? p1 : x[i]);
            return;
        case Act::kLeakyRelu:
            for (int64_t i = 0; i < n; ++i) x[i] = x[i] < T(0) ? p0 * x[i] : x[i];
            return;
        case Act::kSigmoid:
            for (int64_t i = 0; i < n; ++i) x[i] = detail::sigmoid(x[i]);
            return;
        case Act::kHardSigmoid:
            for (int64_t i = 0; i < n; ++i) x[i] = std::min(T(1), std::max(T(0), p0 * x[i] + p1));
            return;
        case Act::kHardSwish:
            for (int64_t i = 0; i < n; ++i) x[i] = x[i] * std::min(T(1), std::max(T(0), x[i] / T(6) + T(0.5)));
            return;
        case Act::kSwish:
            for (int64_t i = 0; i < n; ++i) x[i] = x[i] * detail::sigmoid(p0 * x[i]);
            return;
        case Act::kGelu:
            for (int64_t i = 0; i < n; ++i) {
                x[i] = T(0.5) * x[i] * (T(1) + std::erf(x[i] * static_cast<T>(0.7071067811865476)));
            }
            return;
        case Act::kGeluTanh:
            for (int64_t i = 0; i < n; ++i) {
                const T v = x[i];
                x[i] =
                    T(0.5) * v *
                    (T(1) + std::tanh(static_cast<T>(0.7978845608028654) * (v + static_cast<T>(0.044715) * v * v * v)));
            }
            return;
        case Act::kTanh:
            for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
            return;
    }
}

/// The work a fused op does on a finished block of its output y, viewed as a row-major [rows, ld] matrix:
/// y += row_bias[r % bias_period] (per channel), y += col_bias[c] (per column), y += z (same layout), then the
/// activation. Use as a gemm::Epilogue (callable on disjoint blocks from several threads).
template <typename T>
struct OutputEpilogue {
    T* y = nullptr;
    int64_t ld = 0;
    const T* row_bias = nullptr;
    int64_t bias_period = 1;
    const T* col_bias = nullptr;
    const T* z = nullptr;
    Activation act;

    void operator()(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
        const int64_t n = c1 - c0;
        for (int64_t r = r0; r < r1; ++r) {
            T* __restrict yr = y + r * ld + c0;
            if (row_bias) {
                const T b = row_bias[r % bias_period];
                for (int64_t j = 0; j < n; ++j) yr[j] += b;
            }
            if (col_bias) {
                const T* __restrict cb = col_bias + c0;
                for (int64_t j = 0; j < n; ++j) yr[j] += cb[j];
            }
            if (z) {
                const T* __restrict zr = z + r * ld + c0;
                for (int64_t j = 0; j < n; ++j) yr[j] += zr[j];
            }
            apply_activation(act, yr, n);
        }
    }
    /// True if there is nothing to do (no bias, residual or activation).
    bool empty() const { return !row_bias && !col_bias && !z && act.kind == Act::kIdentity; }
};

}  // namespace nnport::fused

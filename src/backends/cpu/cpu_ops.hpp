// The cpu backend's op families: each answers supports() for its nodes and prepares their kernels.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include "backends/backend.hpp"
#include "backends/cpu/cpu_kernels.hpp"

namespace nnport::cpu {

using KernelPtr = std::unique_ptr<BackendKernel>;

/// True if `node` is `domain`::`op` ("" = ai.onnx).
inline bool is_op(const ir::Node& node, const char* domain, const char* op) {
    return node.op_type() == op && node.domain() == domain;
}

/// com.nnport ScaledDotProductAttention.
bool is_attention(const ir::Node& node);
Support attention_supports(const ir::Node& node, const ConstantFn& constant);
Result<KernelPtr> attention_prepare(const ir::Node& node, const PrepareContext& ctx);

/// Transpose.
bool is_transpose(const ir::Node& node);
Support transpose_supports(const ir::Node& node, const ConstantFn& constant);
Result<KernelPtr> transpose_prepare(const ir::Node& node, const PrepareContext& ctx);

/// LSTM (default activations, constant weights).
bool is_lstm(const ir::Node& node);
Support lstm_supports(const ir::Node& node, const ConstantFn& constant);
Result<KernelPtr> lstm_prepare(const ir::Node& node, const PrepareContext& ctx);

/// Mul / Add of a float32 tensor and a vector along its last axis, com.nnport ScaleShift with vectors along the last
/// axis and FusedConcat along the last axis (cpu_rowaffine.cpp).
bool is_row_affine(const ir::Node& node);
Support row_affine_supports(const ir::Node& node, const ConstantFn& constant);
Result<KernelPtr> row_affine_prepare(const ir::Node& node, const PrepareContext& ctx);

/// Gemm / com.nnport FusedGemm with a constant B and at most 4 rows of A (cpu_gemv.cpp).
bool is_gemv(const ir::Node& node);
Support gemv_supports(const ir::Node& node, const ConstantFn& constant);
Result<KernelPtr> gemv_prepare(const ir::Node& node, const PrepareContext& ctx);

/// float32 Conv / FusedConv (fconv::is_conv) with large constant weights, channels-last (cpu_conv.cpp).
Support conv_supports(const ir::Node& node, const ConstantFn& constant);
Result<KernelPtr> conv_prepare(const ir::Node& node, const PrepareContext& ctx);

/// B [k x n], b(q, j) its element q, j, packed as Kernels::panel_gemm reads it: 64-column panels, zero past n.
template <class F>
std::vector<float> pack_panels(int64_t k, int64_t n, F b) {
    const int64_t panels = (n + kPanel - 1) / kPanel;
    std::vector<float> w(static_cast<size_t>(panels * k * kPanel), 0.0f);
    for (int64_t j = 0; j < n; ++j) {
        for (int64_t q = 0; q < k; ++q) w[static_cast<size_t>(((j / kPanel) * k + q) * kPanel + j % kPanel)] = b(q, j);
    }
    return w;
}

/// How many parts to split `macs` multiply-adds into: one per `per_part`, at least 1, at most `most` and `threads`.
inline int64_t parts_for(double macs, double per_part, int64_t most, int threads) {
    return std::clamp<int64_t>(static_cast<int64_t>(macs / per_part), 1, std::min<int64_t>(most, threads));
}

/// Runs fn over parts [0, parts) on the session's threads, or on the calling thread for one part.
inline void run_parts(KernelContext& ctx, int64_t parts, const std::function<void(int64_t, int64_t)>& fn) {
    if (parts > 1)
        ctx.parallel_for(parts, fn);
    else
        fn(0, 1);
}

/// Support::yes() on CPUs with AVX-512 VNNI and VBMI, which the int8 kernels need; else the reason.
Support int8_kernels_available();

/// com.nnport QLinearFusedConv / NhwcQLinearFusedConv, depthwise (cpu_qdwconv.cpp).
bool is_qdwconv(const ir::Node& node);
Support qdwconv_supports(const ir::Node& node, const ConstantFn& constant);
Result<KernelPtr> qdwconv_prepare(const ir::Node& node, const PrepareContext& ctx);

/// com.nnport QGemm with a few rows and a float32 output (cpu_qgemv.cpp).
bool is_qgemv(const ir::Node& node);
Support qgemv_supports(const ir::Node& node, const ConstantFn& constant);
Result<KernelPtr> qgemv_prepare(const ir::Node& node, const PrepareContext& ctx);

}  // namespace nnport::cpu

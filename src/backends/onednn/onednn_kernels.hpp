// The oneDNN backend's op families: each answers supports() for its nodes and prepares their kernels.
#pragma once

#include <memory>

#include "backends/backend.hpp"

namespace nnport::onednn {

/// True if `node` is `domain`::`op` ("" = ai.onnx).
inline bool is_op(const ir::Node& node, const char* domain, const char* op) {
    return node.op_type() == op && node.domain() == domain;
}

/// Conv, com.nnport FusedConv and their channels-last twins NhwcConv / NhwcFusedConv (2-D): fconv::is_conv nodes that
/// fconv::supports accepts.
Result<std::unique_ptr<BackendKernel>> conv_prepare(const ir::Node& node, const PrepareContext& ctx);

/// com.nnport QLinearFusedConv and its channels-last twin NhwcQLinearFusedConv (2-D, int8 weights).
bool is_int8_conv(const ir::Node& node);
Support int8_conv_supports(const ir::Node& node, const ConstantFn& constant);
Result<std::unique_ptr<BackendKernel>> int8_conv_prepare(const ir::Node& node, const PrepareContext& ctx);

/// com.nnport QGemm (int8 fully connected: transA 0, alpha 1, constant int8 B with zero point 0).
bool is_int8_gemm(const ir::Node& node);
Support int8_gemm_supports(const ir::Node& node, const ConstantFn& constant);
Result<std::unique_ptr<BackendKernel>> int8_gemm_prepare(const ir::Node& node, const PrepareContext& ctx);

/// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (2-D) and their Nhwc* twins.
bool is_pool(const ir::Node& node);
Support pool_supports(const ir::Node& node, const ConstantFn& constant);
Result<std::unique_ptr<BackendKernel>> pool_prepare(const ir::Node& node, const PrepareContext& ctx);

/// MatMul, Gemm, com.nnport FusedGemm and FusedMatMul.
bool is_matmul(const ir::Node& node);
Support matmul_supports(const ir::Node& node, const ConstantFn& constant);
Result<std::unique_ptr<BackendKernel>> matmul_prepare(const ir::Node& node, const PrepareContext& ctx);

/// LayerNormalization (ai.onnx and com.nnport) over the last axis, and Softmax.
bool is_norm(const ir::Node& node);
Support norm_supports(const ir::Node& node, const ConstantFn& constant);
Result<std::unique_ptr<BackendKernel>> norm_prepare(const ir::Node& node, const PrepareContext& ctx);

}  // namespace nnport::onednn

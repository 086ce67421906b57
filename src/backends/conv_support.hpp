// What a backend needs to run a float32 2-D convolution (ai.onnx Conv, com.nnport FusedConv and their channels-last
// NhwcConv / NhwcFusedConv form): the checks every such kernel shares (float32 input of rank 4, constant float32
// weights and bias, a known activation, a residual Z of the output's rank, group and channels consistent, a valid
// window). Used by the oneDNN and the cpu backends.
#pragma once

#include <vector>

#include "backends/backend.hpp"
#include "ops/fused_util.hpp"

namespace nnport::fconv {

/// ai.onnx Conv or com.nnport FusedConv / NhwcConv / NhwcFusedConv.
bool is_conv(const ir::Node& node);
/// com.nnport NhwcConv / NhwcFusedConv (x, Z and y channels-last).
bool is_nhwc(const ir::Node& node);
/// com.nnport FusedConv / NhwcFusedConv (activation attributes, optional residual Z as input 3).
bool is_fused(const ir::Node& node);

/// Spatial sizes (H, W) of the input in the node's layout, -1 where unknown. The input has rank 4.
std::vector<int64_t> input_hw(const ir::Node& node);

/// Whether a float32 convolution kernel can run `node`: the shared checks above. Answers channels-last.
Support supports(const ir::Node& node, const ConstantFn& constant);

/// The node's activation (Identity for Conv / NhwcConv).
Result<fused::Activation> activation(const ir::Node& node);

}  // namespace nnport::fconv

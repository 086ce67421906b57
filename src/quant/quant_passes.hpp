// Internal graph rewrites of the quantizer: QDQ planning and insertion (int8) and float16 conversion.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "quant/quantize.hpp"

namespace nnport::quant {

/// Nodes that take int8 weights and quantized activations (Conv, Gemm, MatMul).
bool is_compute_op(const ir::Node& n);

/// What static int8 quantization would touch in a graph.
struct QdqPlan {
    /// Conv/Gemm/MatMul nodes that can be quantized (float32, constant weights or two activations), by name.
    std::vector<std::string> compute;
    /// Nodes QDQ propagates through (Relu, MaxPool, Add, Concat, Reshape, ...), by name.
    std::vector<std::string> propagate;
    /// Compute nodes that cannot be quantized, with the reason.
    std::vector<KeptNode> declined;
};

/// Finds the quantizable nodes of the main graph; nodes named in `exclude` are left out (reported as declined).
QdqPlan plan_qdq(const ir::Graph& g, const std::set<std::string>& exclude);

/// Activation tensors the enabled nodes need quantized and that take their own range (data-movement outputs share
/// their input's and are not listed), in graph order.
std::vector<std::string> tensors_to_calibrate(const ir::Graph& g, const std::set<std::string>& enabled);

/// Inserts QuantizeLinear/DequantizeLinear pairs for the activations of the `enabled` nodes (ranges by tensor name,
/// from tensors_to_calibrate), int8 per-channel weights with a DequantizeLinear and int32 biases. With
/// `weights_only`, only the weights of enabled compute nodes are quantized (activations stay float). Raises the
/// model's opset to 13 when lower (per-channel DequantizeLinear). Appends converted nodes and used ranges to `report`.
Status insert_qdq(ir::Model& model, const std::set<std::string>& enabled, const std::map<std::string, TensorRange>& ranges,
                  DType activation_type, bool weights_only, QuantizeReport* report);

/// Float values produced by nodes fp16 conversion may convert (their ranges decide overflow), in graph order.
std::vector<std::string> fp16_candidate_values(const ir::Graph& g);

/// Converts the main graph to float16 (inputs and outputs keep float32 through Casts); sensitive ops (unless
/// !options.fp16_keep_sensitive), excluded nodes and nodes whose outputs reach options.fp16_overflow_threshold in
/// `observed` stay float32 and are reported with the reason.
Status convert_fp16(ir::Model& model, const QuantizeOptions& options, const std::map<std::string, TensorRange>& observed,
                    QuantizeReport* report);

}  // namespace nnport::quant

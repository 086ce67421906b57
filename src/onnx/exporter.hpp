// ONNX export: IR -> ModelProto, lowering canonical forms back to the model's opset.
#pragma once

#include <string>

#include "ir/graph.hpp"

namespace nnport::onnx_export {

struct ExportOptions {
    /// Default-domain opset to write; 0 = the model's own (raised to 7, the oldest opset nnport writes).
    int64_t opset = 0;
    /// Store initializers of at least `external_min_bytes` in this file (relative to the model's folder).
    /// Empty = only when the model would exceed protobuf's 2 GiB limit, then "<model file>.data".
    std::string external_data_file;
    size_t external_min_bytes = 1024;
    /// Write inferred types of intermediate values as value_info.
    bool value_info = true;
};

/// Serializes to a file (and an external data file next to it if needed).
Status save_model(const ir::Model& m, const std::string& path, const ExportOptions& options = {});
/// Serializes to bytes; fails if the model needs external data.
Result<std::string> serialize_model(const ir::Model& m, const ExportOptions& options = {});

}  // namespace nnport::onnx_export

// ONNX model import: protobuf -> IR, with opset adaptation and external data.
#pragma once

#include <memory>
#include <string>

#include "ir/graph.hpp"

namespace nnport::onnx_import {

/// Reads and converts an ONNX file. Errors name the file, the node and the reason.
Result<std::unique_ptr<ir::Model>> load_model(const std::string& path);
/// Converts a serialized model. `base_dir` resolves external data ("" forbids it); `source` names it in messages.
Result<std::unique_ptr<ir::Model>> load_model_from_memory(const void* data, size_t size, const std::string& base_dir,
                                                          const std::string& source);

}  // namespace nnport::onnx_import

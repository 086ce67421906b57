// Conversion between onnx::TensorProto and Tensor, including external data.
#pragma once

#include <string>

#include "nnport/tensor.hpp"
#include "onnx/proto.hpp"

namespace nnport::onnx_import {

/// Converts a TensorProto. `base_dir` is the model's folder for external data ("" forbids external data).
/// Checks that the stored data size matches the shape and that external files stay inside base_dir.
Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& base_dir);
/// Converts a Tensor to a TensorProto (raw_data for numbers, string_data for strings).
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* p);
/// Reads a .pb file holding one TensorProto.
Result<Tensor> read_tensor_pb(const std::string& path, std::string* name_out = nullptr);

}  // namespace nnport::onnx_import

// NumPy .npy reading and writing (format versions 1-3, little-endian, C order).
#pragma once

#include <string>

#include "nnport/tensor.hpp"

namespace nnport::io {

/// Reads a .npy file. Strings ('<U') become string tensors; bool, ints, float16/32/64 map directly.
Result<Tensor> read_npy(const std::string& path);
/// Writes a .npy file. bfloat16 is stored as its raw bits ('<u2'); strings as fixed-width '<U'.
Status write_npy(const std::string& path, const Tensor& t);

}  // namespace nnport::io

// Helpers shared by the folding and fusion passes: constants (initializers or Constant nodes), shapes, operand
// lookup in commutative ops, and removal of the nodes a fusion made dead.
#pragma once

#include <optional>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/tensor.hpp"

namespace nnport::passes {

/// The constant data of `v`: an initializer (as constant_of) or the `value` tensor of a Constant node; else nullptr.
const Tensor* const_tensor(const ir::Value* v);

/// A one-element float or integer constant as double (initializer or Constant node).
std::optional<double> const_scalar(const ir::Value* v);

/// const_scalar of `c` used as an operand next to `x`, provided it cannot broadcast x to a higher rank (c's rank <=
/// x's known rank).
std::optional<double> scalar_operand(const ir::Value* c, const ir::Value* x);

/// A float32 copy of a float constant (float16/bfloat16/float64 converted); nullopt if `v` is not a float constant.
std::optional<Tensor> const_f32(const ir::Value* v);

/// Per-channel scale s and shift t of an inference BatchNormalization, y = x * s + t (false unless its parameters
/// are constant 1-D floats of one length). Defined in fold_batchnorm.cpp.
bool batchnorm_affine(const ir::Node* bn, std::vector<float>& s, std::vector<float>& t);

/// True if |a - b| <= rel * |b|.
inline bool near(double a, double b, double rel = 1e-4) { return (a > b ? a - b : b - a) <= rel * (b < 0 ? -b : b); }

/// For a two-input node with `x` as one operand: the other operand (x itself if both are x; nullptr if x is not an
/// input or the node does not have exactly two inputs).
ir::Value* other_input(const ir::Node* n, const ir::Value* x);

/// Rank of a tensor value's type; -1 if unknown.
int64_t rank_of(const ir::Value* v);

/// The static shape of `v` if every dim is known.
std::optional<Shape> static_shape_of(const ir::Value* v);

/// True if both values have known ranks and identical dims (static sizes equal, symbols equal by name).
bool same_dims(const ir::Value* a, const ir::Value* b);

/// Removes the nodes of `chain` whose outputs are all unused (last first, so a chain in order dies completely).
void remove_dead(ir::Graph& g, const std::vector<ir::Node*>& chain);

/// Multiplies column `j` (the output dim) of a 2-D weight by s[j]: W is [K, N], or [N, K] when `transposed`.
void scale_columns(Tensor& w, const std::vector<float>& s, bool transposed);

/// Converts a float32 tensor to `dtype` (a float type); returns nullopt on failure.
std::optional<Tensor> as_dtype(const Tensor& f32, DType dtype);

}  // namespace nnport::passes

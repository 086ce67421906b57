// Helpers shared by the sequence, optional and control-flow ops: slicing/stacking tensors along an axis, type merging.
#pragma once

#include <vector>

#include "ops/kernel_util.hpp"

namespace nnport {

/// Copies n elements (any dtype, strings too) from src[src_off...] to dst[dst_off...].
void copy_elements(const Tensor& src, int64_t src_off, Tensor& dst, int64_t dst_off, int64_t n);

/// Elements [start, start + len) of `x` along `axis` (the axis kept, with size len).
Result<Tensor> slice_along_axis(const Tensor& x, int64_t axis, int64_t start, int64_t len);

/// Element `index` of `x` along `axis`, with that axis removed.
Result<Tensor> take_along_axis(const Tensor& x, int64_t axis, int64_t index);

/// Concatenates `items` along `axis` (already normalized); with `new_axis`, stacks them along a new axis at `axis`.
/// All items must share the dtype and all other dims. `items` must not be empty.
Result<Tensor> concat_tensors(const std::vector<Tensor>& items, int64_t axis, bool new_axis);

/// Combines two inferred types of one value (e.g. the two If branches): equal parts kept, differing dims symbolic,
/// differing ranks unknown. An unknown side yields the other.
ir::ValueType merge_types(InferContext& ctx, const ir::ValueType& a, const ir::ValueType& b);

/// Same kind, dtype and rank as `t`, with every dim a fresh symbol (for values whose shape may change per iteration).
ir::ValueType relax_dims(InferContext& ctx, const ir::ValueType& t);

/// Input i of a kernel as any value, or nullptr when the input is omitted.
inline const RtValue* optional_input(const KernelContext& ctx, size_t i) {
    if (i >= ctx.num_inputs() || ctx.node().input(i) == nullptr) return nullptr;
    return &ctx.input_value(i);
}

/// A scalar integer input (int32/int64, one element) as int64.
Result<int64_t> scalar_int_input(const KernelContext& ctx, size_t i, const char* what);

/// The mutable subgraph held in attribute `name` (inference sets the types of its formal inputs).
ir::Graph* mutable_graph_attr(InferContext& ctx, const char* name);

/// Sets the formal input i of body `g` to `t` where the model leaves it untyped (or without dtype/shape).
void type_body_input(ir::Graph& g, size_t i, const ir::ValueType& t);

/// The inferred type of body output i (unknown if there is none).
const ir::ValueType& body_output_type(const ir::Graph& g, size_t i);

/// Runs body `g` with `inputs`, checking the number of outputs.
Result<std::vector<RtValue>> run_body(const KernelContext& ctx, const ir::Graph& g, std::vector<RtValue> inputs,
                                      size_t want_outputs);

/// Reads a one-element condition tensor (bool, or numeric: non-zero is true).
Result<bool> read_condition(const KernelContext& ctx, const RtValue& v, const char* what);

/// Stacks per-iteration outputs along a new axis; with no iterations, an empty tensor shaped from `type`.
Result<Tensor> stack_outputs(const KernelContext& ctx, const std::vector<Tensor>& items, int64_t axis,
                             const ir::ValueType& type);

}  // namespace nnport

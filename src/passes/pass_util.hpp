// Helpers shared by optimizer passes: creating nodes and constants, reading constants and attributes, use checks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/status.hpp"
#include "ops/op_def.hpp"
#include "passes/pass.hpp"

namespace nnport::passes {

/// Creates a node with fresh, unique output names derived from `base` (one per output; "" in `outputs` = omitted),
/// resolves its OpDef and sets its opset (the model's opset of that domain; 1 for nnport's own domain).
/// Fails if the op is unknown.
Result<ir::Node*> make_node(ir::Graph& g, const PassContext& ctx, const std::string& op_type, const std::string& domain,
                            const std::string& base, const std::vector<ir::Value*>& inputs, int num_outputs = 1);

/// Adds a constant (initializer) value named after `base`.
ir::Value* add_constant(ir::Graph& g, const std::string& base, Tensor t);

/// The constant data of `v` if it is an initializer that cannot be overridden at run time (not a graph input),
/// following captured outer values; else nullptr.
const Tensor* constant_of(const ir::Value* v);

/// A scalar float read from a constant of any float/int dtype with exactly one element.
std::optional<double> scalar_of(const ir::Value* v);

/// True if `v` has exactly one use and is not a graph output (so its producer may be rewritten freely).
bool single_use(const ir::Value* v);

/// The only node using `v` (nullptr unless single_use(v)).
ir::Node* sole_consumer(const ir::Value* v);

/// True if `n` is an op of the default ONNX domain with this type.
bool is_op(const ir::Node* n, const char* op_type);

/// Typed attribute access with schema defaults (the node's OpDef must be set).
inline AttrAccess attrs_of(const ir::Node& n) { return AttrAccess(n, *n.def); }

/// Makes every use of `from` use `to` (graph outputs too, keeping the output's name by renaming `to`). Returns false
/// and changes nothing when the name cannot be kept (`to` is a graph input, initializer, another output or a value of
/// an enclosing graph): the caller must then leave the graph as it was.
bool replace_value(ir::Graph& g, ir::Value* from, ir::Value* to);

/// replace_value(from -> to), then removes `n` if all its outputs are unused.
void replace_output(ir::Node* n, ir::Value* from, ir::Value* to);

/// Removes nodes whose outputs are all unused (repeatedly), except nodes with side effects none of ours have.
/// Returns the number removed.
int remove_dead_nodes(ir::Graph& g);

/// Node count of a graph including its subgraphs.
int64_t count_nodes(const ir::Graph& g);

/// A float32 copy of a float tensor (float16/bfloat16/float64 converted); an error for other dtypes.
Result<Tensor> to_float32(const Tensor& t);
/// Converts a float32 tensor to `dtype` (float16/bfloat16/float64/float32).
Result<Tensor> from_float32(const Tensor& t, DType dtype);

}  // namespace nnport::passes

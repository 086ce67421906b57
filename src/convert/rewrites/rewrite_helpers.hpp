// Shared pieces of the element-wise, activation and normalization rewrites (src/convert/rewrites/*.cpp): reading
// constants, typed constant tensors, and a builder for the replacement subgraph that keeps the replaced node's
// output name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "convert/rewrite.hpp"
#include "ir/graph.hpp"
#include "nnport/status.hpp"

namespace nnport::convert::rw {

/// The value of `v` when it is known at conversion: an initializer that is not an overridable graph input (following
/// captured outer values), or the output of a Constant node with a `value` / `value_float(s)` / `value_int(s)`
/// attribute. nullopt otherwise. (Tensors share their storage: the copy is cheap.)
std::optional<Tensor> const_value(const ir::Value* v);

/// The single element of a constant (any numeric dtype) as a double; nullopt unless const_value has one element.
std::optional<double> const_scalar(const ir::Value* v);

/// The elements of a numeric tensor as doubles (int64 beyond 2^53 loses precision; callers use it for floats).
std::vector<double> values_of(const Tensor& t);

/// A tensor of `dtype` and `shape` from doubles (floats rounded to nearest, integers truncated); an error for
/// non-numeric dtypes or a size mismatch.
Result<Tensor> tensor_of(DType dtype, Shape shape, const std::vector<double>& values);

/// The element-wise negation of a numeric tensor in its own dtype (integers wrap as two's complement, so
/// a + neg(c) == a - c also for unsigned and the most negative value); an error for other dtypes.
Result<Tensor> negate_tensor(const Tensor& t);

/// The float dtype of `v` (float16/bfloat16/float32/float64), or nullopt when unknown or not a float.
std::optional<DType> float_dtype(const ir::Value* v);

/// True when output 0 of `n` can be replaced keeping its name (present, not read by a subgraph by name) and every
/// other output is unused (no uses, not a graph output, not captured).
bool only_first_output_used(const ir::Node& n);

/// A node attribute with the schema default applied; nullptr if neither exists.
const ir::Attribute* attr_or_default(const ir::Node& n, const std::string& name);

/// The axes from `axis` to the last one: {axis, ..., -1} for a negative axis (any rank), {axis, ..., rank-1} for a
/// non-negative one (needs rank >= 0). nullopt when the rank is needed but unknown or `axis` is out of range.
std::optional<std::vector<int64_t>> axes_to_end(int64_t axis, int64_t rank);

/// Builds the replacement of one node. Every method records the first error and then returns nullptr, so a rewrite
/// writes its subgraph as nested calls and checks once, in replace(). Constants take the builder's dtype. New nodes
/// are named after the replaced node and get the model's opset (passes::make_node); multi-input forms that older
/// opsets spell as attributes (Reduce* axes, Clip bounds) are built in nnport's canonical input form, which the ONNX
/// exporter lowers for the model's opset.
class SubgraphBuilder {
public:
    SubgraphBuilder(ir::Graph& g, const ir::Node& n, RewriteContext& ctx, DType dtype);

    /// A node of the default domain with one output; nullptr if an input is null or creation fails.
    ir::Value* op(const std::string& op_type, const std::vector<ir::Value*>& inputs, ir::Attributes attrs = {});
    /// A scalar constant of the builder's dtype.
    ir::Value* scalar(double v);
    /// A constant holding `t` (any dtype).
    ir::Value* constant(Tensor t, const std::string& suffix = "const");
    /// `op_type` (ReduceMean/ReduceMax/ReduceSum...) over `axes` with keepdims=1; axes as an int64 input.
    ir::Value* reduce(const std::string& op_type, ir::Value* x, const std::vector<int64_t>& axes);
    /// Clip(x, lo, hi) with the bounds as scalar constants of the builder's dtype (nullopt: that side unbounded).
    ir::Value* clip(ir::Value* x, std::optional<double> lo, std::optional<double> hi);

    /// Makes every use of `n`'s output 0 (graph output included, name kept) use `result` and removes `n`. Returns
    /// the first error met while building, or an internal error when the output cannot be replaced.
    Result<bool> replace(ir::Node* n, ir::Value* result);

private:
    std::string base(const std::string& op_type) const;

    ir::Graph& g_;
    RewriteContext& ctx_;
    std::string name_;
    DType dtype_;
    Status status_;
};

}  // namespace nnport::convert::rw

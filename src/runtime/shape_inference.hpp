// Whole-graph shape and type inference with small-constant propagation (run at load).
#pragma once

#include <unordered_map>

#include "ir/graph.hpp"
#include "nnport/status.hpp"

namespace nnport {

/// Values whose contents are known at load time (initializers excluded).
using ConstantMap = std::unordered_map<const ir::Value*, Tensor>;

/// Checks each node against its OpDef (input/output counts, attribute types) and infers every value's
/// type in execution order, descending into subgraphs. Small constant subexpressions (e.g. the
/// Shape→Gather→Concat chains exporters emit) are evaluated through the reference kernels into `consts`.
Status infer_graph(ir::Graph& g, ConstantMap& consts);

/// Options of the tolerant variant below.
struct InferOptions {
    /// Nodes of unknown ops (custom layers) keep the types the model declares for their outputs instead of failing;
    /// nodes whose inputs are then untyped keep their declared types too. For analysis (nnport check), not execution.
    bool skip_unknown_ops = false;
};

/// infer_graph with options.
Status infer_graph(ir::Graph& g, ConstantMap& consts, const InferOptions& options);

/// Validates a node against its schema (counts, attribute types, required attributes).
Status check_node_schema(const ir::Node& n);

}  // namespace nnport

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

/// Validates a node against its schema (counts, attribute types, required attributes).
Status check_node_schema(const ir::Node& n);

}  // namespace nnport

// Helpers shared by the clean-up, folding and layout passes: forwarding a node's input, turning node outputs into
// constants, and permutation arithmetic for Transpose rewrites.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/tensor.hpp"

namespace nnport::passes {

/// True if `v` is needed: it has uses, is a graph output or is read by a subgraph.
bool value_needed(const ir::Value* v);

/// Makes every use of output `out_index` of `n` use `in` instead and removes `n` when none of its outputs is needed.
/// Returns false (graph unchanged) when replace_value refuses (the output name could not be kept).
bool forward_input(ir::Graph& g, ir::Node* n, ir::Value* in, size_t out_index = 0);

/// Removes `n` and turns each of its needed outputs into an initializer holding `values[i]` (names, uses and graph
/// output positions are kept: the same Value objects become constants). `values` is indexed like n->outputs().
void replace_node_by_constants(ir::Graph& g, ir::Node* n, std::vector<Tensor> values);

/// Evaluates `n` (foldable, with a kernel, no subgraphs) on known inputs through its reference kernel, converting
/// half-type inputs and outputs as the executor does (OpDef::half_via_float). `input` returns each present input's
/// data. Returns one tensor per output (undefined for omitted outputs), or an empty vector when an input is unknown,
/// the kernel fails (the error is left for run time to report) or a result disagrees with the inferred type.
std::vector<Tensor> evaluate_node(const ir::Node& n, const std::function<const Tensor*(const ir::Value*)>& input);

/// The permutation of a Transpose node (its `perm`, or the reversed axes for `rank` when absent); empty when it
/// cannot be known (no perm and unknown rank) or is not a permutation.
std::vector<int64_t> transpose_perm(const ir::Node& n, int64_t rank);
bool is_identity_perm(const std::vector<int64_t>& p);
/// q with q[p[i]] = i.
std::vector<int64_t> inverse_perm(const std::vector<int64_t>& p);
/// The single permutation equal to Transpose(perm = first) followed by Transpose(perm = second).
std::vector<int64_t> compose_perm(const std::vector<int64_t>& first, const std::vector<int64_t>& second);

/// Transposes a numeric tensor (out dim i = in dim perm[i]); an undefined tensor for strings or a bad perm.
Tensor transpose_tensor(const Tensor& t, const std::vector<int64_t>& perm);

}  // namespace nnport::passes

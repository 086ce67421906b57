// Internals of prune_model shared by its source files: tensor slicing, the unstructured and structured pruners and
// the least-squares refit of a pruned layer's consumers.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/status.hpp"
#include "quant/calibration.hpp"
#include "quant/prune.hpp"

namespace nnport::quant::prune_detail {

/// The float32 tensor `t` keeping only the indices `keep` (ascending) of dimension `axis`.
Tensor slice_axis(const Tensor& t, int64_t axis, const std::vector<int64_t>& keep);

/// Zeroes the smallest-magnitude weights of every Conv/Gemm/MatMul with a constant float32 weight not in `exclude`
/// (per layer or with one global threshold), filling report.layers and the totals. Fails when nothing is prunable.
Status prune_unstructured(ir::Graph& g, const PruneOptions& o, const std::set<std::string>& exclude, PruneReport& r);

/// Result of structured pruning: nodes whose input channels shrank (to refit) and each pruned conv's kept output
/// channels (indices into the original channels).
struct StructuredResult {
    std::vector<ir::Node*> consumers;
    std::map<const ir::Node*, std::vector<int64_t>> kept_out;
};

/// Removes output channels of convs as prune_model documents, filling report.layers and report.skipped.
Result<StructuredResult> prune_structured(ir::Graph& g, const PruneOptions& o, const std::set<std::string>& exclude,
                                          PruneReport& r);

/// Refits each of `consumers` (Conv group 1 or Gemm of `model`, in graph order) so that its output on `samples`
/// matches the output of the same-named node of `original` (restricted to the kept output channels of
/// s.kept_out). Consumers that cannot be refitted (auto_pad, non-2-D convs, Gemm with alpha/beta != 1) are left.
Status refit_consumers(ir::Model& model, const ir::Model& original, const StructuredResult& s,
                       const std::vector<Feeds>& samples, const PruneOptions& o, PruneReport& r);

}  // namespace nnport::quant::prune_detail

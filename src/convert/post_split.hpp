// Scenario 3 of the paper: moving trailing nodes a target cannot run into a post-processing model that nnport runs
// on the host, and packing several target outputs into one for targets that allow a single output.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/status.hpp"

namespace nnport::convert {

/// Where one tensor lies in a packed output.
struct PackedTensor {
    std::string name;
    DType dtype = DType::kUndefined;
    std::vector<int64_t> shape;
    int64_t offset = 0, count = 0;  ///< in elements of the packed tensor
};

/// The result of a split: the model for the target and the post-processing model (null when nothing moved and
/// nothing was packed).
struct SplitModels {
    std::unique_ptr<ir::Model> target, post;
    std::vector<std::string> moved;    ///< names of the nodes moved to post-processing
    std::vector<std::string> cut;      ///< tensors crossing from the target to the host
    std::vector<PackedTensor> packed;  ///< non-empty when the target's outputs were packed into one
    std::string packed_name;           ///< the packed output's name
};

/// Splits `m` (the main graph; types inferred): the nodes named in `moved` (closed downstream: every consumer of a
/// moved node is moved) go to the post model. The target model outputs every tensor the host needs (cut tensors and
/// original outputs computed on the target); the post model takes those (and graph inputs its nodes read) and
/// outputs exactly the original outputs in the original order. With `pack`, and more than one target output, the
/// target outputs are flattened and concatenated into one (they must share a dtype and have static shapes), and
/// the post model starts by slicing them apart; the manifest is also stored in the post model's metadata
/// ("nnport.packed_outputs"). Fails, naming the tensor, when that is impossible.
Result<SplitModels> split_post_processing(const ir::Model& m, const std::set<std::string>& moved, bool pack);

/// The manifest as JSON text.
std::string packed_manifest_json(const SplitModels& s);

}  // namespace nnport::convert

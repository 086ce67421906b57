// Proving a conversion: sample inputs (a --data folder and seeded random ones), running a model (or a converted
// model plus its post-processing model) on them, comparing outputs, and finding the first intermediate tensor where
// two models diverge.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/status.hpp"
#include "nnport/tensor.hpp"

namespace nnport::convert {

/// One set of graph inputs, by name.
using Feeds = std::vector<std::pair<std::string, Tensor>>;

/// Sample inputs of `m`: every sample of `data_dir` (if not empty) followed by `random` seeded random ones.
/// `data_dir` holds either one sample (files named after the inputs, `<input>.npy` or `.pb`, or the ONNX test-data
/// layout `input_<k>.pb`) or one sub-folder per sample in that layout. Symbolic dims of random samples are 1.
/// Errors name the file: unknown input, wrong shape or dtype, missing input, empty folder.
Result<std::vector<Feeds>> make_samples(const ir::Model& m, const std::string& data_dir, int random, uint64_t seed);

/// A deep copy of a model (through serialization; value_info is not kept: types are re-inferred).
Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& m);

/// Runs `m` (a copy) on each sample with no graph optimization (default backends), returning the graph outputs
/// plus the values named in `extra` (in that order; a name not in the main graph is an error).
Result<std::vector<std::vector<Tensor>>> run_samples(const ir::Model& m, const std::vector<Feeds>& samples,
                                                     const std::vector<std::string>& extra = {});

/// Runs a converted model and then its post-processing model (null: none), as `nnport run --post` does: the post
/// model's inputs are fed from the first model's outputs, or from the original inputs, by name. Returns the final
/// outputs (the post model's, or the first model's without one).
Result<std::vector<std::vector<Tensor>>> run_pair(const ir::Model& main, const ir::Model* post,
                                                  const std::vector<Feeds>& samples);

/// Per-output agreement of two runs over all samples.
struct OutputAgreement {
    std::string name;
    double max_abs = 0, max_rel = 0;  ///< max over samples; rel = max_abs / max |reference|
    double min_cosine = 1;
};

/// The agreement of `got` with `want` (indexed [sample][output]); outputs named by `names`. Fails on shape or dtype
/// mismatches, naming the output.
Result<std::vector<OutputAgreement>> compare_runs(const std::vector<std::vector<Tensor>>& got,
                                                  const std::vector<std::vector<Tensor>>& want,
                                                  const std::vector<std::string>& names);

/// Where two models first disagree.
struct Divergence {
    bool found = false;
    std::string value;    ///< the first tensor (in the original's execution order) over the tolerance
    std::string node;     ///< its producer in the original model ("Op 'name'")
    double max_rel = 0;   ///< its relative error
    int compared = 0;     ///< tensors with the same name in both models that were compared
};

/// Compares every tensor that has the same name, shape and dtype in both models (on the first sample), in the
/// original's execution order, and returns the first whose relative error exceeds `tol`.
Result<Divergence> first_divergence(const ir::Model& original, const ir::Model& converted, const Feeds& sample,
                                    double tol);

}  // namespace nnport::convert

// Model pruning: unstructured magnitude pruning of Conv/Gemm/MatMul weights, structured output-channel pruning of
// convolutions (with their consumers' input channels), and a least-squares refit of the consumers on calibration data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/image.hpp"
#include "ir/graph.hpp"
#include "nnport/compress.hpp"
#include "nnport/status.hpp"
#include "quant/quantize.hpp"

namespace nnport::quant {

/// Options of prune_model.
struct PruneOptions {
    /// Fraction in [0, 1) of weights (unstructured) or of each conv's output channels (structured) to remove.
    double sparsity = 0.5;
    /// Remove whole output channels of convolutions (the model gets smaller and faster) instead of zeroing weights.
    bool structured = false;
    /// Unstructured: one magnitude threshold over all layers (false: the same fraction in every layer).
    bool global = false;
    /// Structured: refit every consumer whose input channels were removed by least squares so its output on the
    /// calibration samples matches the unpruned model's.
    bool refit = false;
    /// Ridge of the refit, relative to the mean diagonal of the normal equations; pulls towards the pruned weights.
    double ridge = 1e-3;
    /// Calibration folder (see load_calibration_dir); used when `calibration_data` is empty.
    std::string data_dir;
    /// How images in data_dir become inputs.
    io::ImagePreprocess images;
    /// Calibration inputs for the refit and the evaluation. Empty and no data_dir: `synthetic_samples` fixed-seed
    /// random inputs of the declared types.
    std::vector<Feeds> calibration_data;
    int synthetic_samples = 8;
    /// Node names left unpruned (structured: convs whose output channels are kept).
    std::vector<std::string> exclude;
    /// Compare the pruned model's outputs with the original's on the calibration inputs.
    bool evaluate = true;
    /// Backends and threads of the calibration and evaluation runs (see SessionOptions).
    std::string backends;
    int threads = 0;
};

// The report types are public (include/nnport/compress.hpp).
using nnport::PrunedLayer;
using nnport::PruneReport;
using nnport::SkippedLayer;

/// Prunes `model` in place as `options` say, filling `report` (may be null). Weights must be float32 constants.
/// Structured pruning removes the lowest-L1 output channels of every Conv (group 1) whose output reaches only
/// per-channel ops (BatchNormalization, activations, pools, Dropout/Identity), depthwise convs (pruned with it and
/// followed further), convs (input channels removed) and, after a global pool and Flatten, a Gemm (its input
/// features removed). A conv whose channels reach anything else (Add, Mul, Concat, Reshape, a graph output, a
/// weight shared with another node) is left unpruned and listed in report->skipped, which keeps residual blocks
/// and concatenations consistent. Errors: sparsity outside [0, 1), an unknown excluded node, no prunable layer,
/// calibration data that does not fit the model.
Status prune_model(ir::Model& model, const PruneOptions& options, PruneReport* report);

}  // namespace nnport::quant

// nnport public C++ API for compression: float16 conversion and int8 quantization (dynamic, or static calibrated on
// a folder of inputs or images) to standard QDQ ONNX, and magnitude / structured pruning, of a model file: the calls
// behind `nnport quantize` and `nnport prune`.
//
//   nnport::QuantizeRequest q;
//   q.model = "mobilenet_v2.onnx";
//   q.output = "mobilenet_v2_int8.onnx";
//   q.data_dir = "calib/";  // .npy/.pb tensors or images; empty: synthetic inputs
//   q.images.mean = {0.485f, 0.456f, 0.406f};
//   q.images.stddev = {0.229f, 0.224f, 0.225f};
//   auto r = nnport::quantize_model_file(q);  // r->report.sqnr_db, r->file_bytes_after, ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nnport/status.hpp"

namespace nnport {

/// How calibration images in a data folder become model inputs: resized (bilinear) to the input's H x W, or with
/// resize_short > 0 the shorter side to resize_short and the centre cropped; then (pixel * scale - mean[c]) /
/// stddev[c] (one value, or one per channel), RGB (BGR with `bgr`), laid out as the input ("auto": from its shape,
/// "nchw" or "nhwc"). uint8 inputs get the resized pixels.
struct ImagePreprocessing {
    float scale = 1.0f / 255.0f;
    std::vector<float> mean = {0.0f};
    std::vector<float> stddev = {1.0f};
    bool bgr = false;
    int64_t resize_short = 0;
    std::string layout = "auto";
};

/// Calibrated range and chosen quantization parameters of one activation tensor.
struct TensorRange {
    std::string name;
    float min = 0.0f, max = 0.0f;  ///< observed
    float lo = 0.0f, hi = 0.0f;    ///< range the calibration method chose
    float scale = 0.0f;
    int32_t zero_point = 0;
};

/// A node left in float, and why.
struct KeptNode {
    std::string name;
    std::string op_type;
    std::string reason;
};

/// Output error of quantizing one layer alone.
struct LayerSensitivity {
    std::string name;
    std::string op_type;
    double sqnr_db = 0.0;  ///< output signal-to-quantization-noise ratio; lower = more sensitive
};

/// What quantization did.
struct QuantizeReport {
    int64_t weight_bytes_before = 0;  ///< bytes of all initializers before
    int64_t weight_bytes_after = 0;
    std::vector<std::string> quantized_nodes;   ///< nodes converted (fp16) or given int8 weights
    std::vector<KeptNode> kept_float;           ///< nodes left in float (fp16: float32), with reasons
    std::vector<TensorRange> ranges;            ///< per quantized activation tensor (static int8) or observed (fp16)
    std::vector<LayerSensitivity> sensitivity;  ///< most sensitive first (with `sensitivity` / `max_error`)
    int calibration_samples = 0;
    bool synthetic_data = false;
    /// Quantized vs float32 outputs on the calibration inputs (all outputs and samples together).
    double sqnr_db = 0.0;
    double cosine = 0.0;
    double relative_rms = 0.0;
    bool evaluated = false;
};

/// What to quantize and how (the options of `nnport quantize`).
struct QuantizeRequest {
    std::string model;                 ///< float32 .onnx
    std::string output;                ///< the QDQ (or float16) .onnx written
    std::string mode = "int8-static";  ///< "fp16", "int8-dynamic" or "int8-static"
    std::string data_dir;              ///< calibration folder; empty: `synthetic_samples` random inputs
    ImagePreprocessing images;         ///< for images in data_dir
    int synthetic_samples = 4;
    std::string calibration = "minmax";     ///< "minmax", "percentile", "entropy" or "mse"
    double percentile = 99.99;              ///< kept by "percentile"
    std::string activation_type = "uint8";  ///< int8-static activations: "uint8" (asymmetric) or "int8" (symmetric)
    std::vector<std::string> exclude;       ///< node names kept in float
    bool sensitivity = false;               ///< int8-static: measure each layer quantized alone
    double max_error = 0.0;                 ///< int8-static: > 0 keeps the most sensitive layers in float until the
                                            ///< outputs' relative RMS error is at most this
    bool fp16_keep_sensitive = true;        ///< fp16: Softmax, reductions, normalizations stay float32
    std::string backends;                   ///< of the calibration runs ("" = the default list)
    int threads = 0;                        ///< of the calibration runs (0 = the machine's cores)
    std::string external_data;              ///< store large initializers in this file next to `output`
};

struct QuantizeResult {
    QuantizeReport report;
    int64_t file_bytes_before = 0;  ///< the model file (and its external data)
    int64_t file_bytes_after = 0;
};

/// Quantizes `req.model` into `req.output`. Errors (nothing written): unreadable model, output = input, bad mode or
/// method, calibration data that does not fit (naming the file), a node the mode cannot handle.
Result<QuantizeResult> quantize_model_file(const QuantizeRequest& req);

/// What pruning did to one layer.
struct PrunedLayer {
    std::string name;
    std::string op_type;
    int64_t weights = 0;          ///< weight elements (unstructured) / before (structured)
    int64_t zeros = 0;            ///< unstructured: zero weights after pruning
    int64_t channels_before = 0;  ///< structured: output channels
    int64_t channels_after = 0;
    std::vector<int64_t> kept;           ///< structured: the kept output channels (original indices, ascending)
    std::vector<std::string> consumers;  ///< structured: nodes whose input channels shrank with this layer's
};

/// A node not pruned, and why.
struct SkippedLayer {
    std::string name;
    std::string op_type;
    std::string reason;
};

/// What pruning did.
struct PruneReport {
    std::vector<PrunedLayer> layers;
    std::vector<SkippedLayer> skipped;
    std::vector<std::string> refitted;  ///< consumers refitted by least squares
    int64_t weight_bytes_before = 0;    ///< bytes of all initializers
    int64_t weight_bytes_after = 0;
    int64_t weights_total = 0;  ///< unstructured: prunable weight elements and how many are zero
    int64_t weights_zero = 0;
    int calibration_samples = 0;
    bool synthetic_data = false;
    /// Pruned vs original outputs on the calibration inputs (float outputs, all samples).
    bool evaluated = false;
    double relative_rms = 0.0;
    double cosine = 0.0;
    /// Fraction of rows of rank-2 outputs [N, classes > 1] whose argmax agrees; negative when there are none.
    double top1_agreement = -1.0;
};

/// What to prune and how (the options of `nnport prune`).
struct PruneRequest {
    std::string model;
    std::string output;
    double sparsity = 0.5;    ///< fraction of weights (or, structured, of each conv's output channels), in [0, 1)
    bool structured = false;  ///< remove whole conv output channels and the consumers' input channels
    bool global = false;      ///< unstructured: one magnitude threshold over all layers
    bool refit = false;       ///< structured: refit the consumers by least squares on the calibration inputs
    std::string data_dir;     ///< calibration folder; empty: `synthetic_samples` random inputs
    ImagePreprocessing images;
    int synthetic_samples = 8;
    std::vector<std::string> exclude;  ///< node names left unpruned
    std::string backends;
    int threads = 0;
};

struct PruneResult {
    PruneReport report;
    int64_t file_bytes_before = 0;
    int64_t file_bytes_after = 0;
};

/// Prunes `req.model` into `req.output`. Errors (nothing written): unreadable model, output = input, sparsity
/// outside [0, 1), --refit without structured, calibration data that does not fit, no prunable layer.
Result<PruneResult> prune_model_file(const PruneRequest& req);

}  // namespace nnport

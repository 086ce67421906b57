// Calibration for quantization: loading calibration inputs, running a model with intermediate values as extra
// outputs, range collection (min/max, histograms) and the range choosers (min-max, percentile, entropy, MSE).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/image.hpp"
#include "ir/graph.hpp"
#include "nnport/status.hpp"
#include "quant/quantize.hpp"

namespace nnport::quant {

/// Reads calibration samples from `dir`. Each subfolder is one sample holding one .npy/.pb or image file per model
/// input (bound by file stem, by the name stored in a .pb, or by position among sorted files, e.g. input_0.pb);
/// files directly in `dir` are one sample each when the model has a single input. Images (io::is_image_file) become
/// the input's tensor through `images` (io::read_image). Every tensor is checked against the input's declared dtype
/// and static dims. Errors name the file and the reason (empty folder included).
Result<std::vector<Feeds>> load_calibration_dir(const ir::Graph& g, const std::string& dir,
                                                const io::ImagePreprocess& images = {});

/// `n` fixed-seed random samples of the graph's declared inputs (uniform [-1, 1) for floats; dynamic dims 1).
Result<std::vector<Feeds>> synthetic_samples(const ir::Graph& g, int n);

/// A deep copy of a model (through serialization), with types inferred.
Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& model);

/// How calibration and evaluation runs execute.
struct RunConfig {
    std::string backends;
    int threads = 0;
};

/// Runs a copy of `model` (unoptimized, so every value keeps its name) once per sample with the values `names` as
/// extra outputs, and calls `visit(sample, k, tensor)` for each value names[k]. Unknown names fail.
Status run_with_outputs(const ir::Model& model, const std::vector<std::string>& names,
                        const std::vector<Feeds>& samples, const RunConfig& config,
                        const std::function<Status(size_t, size_t, const Tensor&)>& visit);

/// Runs `model` (a copy, unoptimized) on every sample; the graph outputs per sample.
Result<std::vector<std::vector<Tensor>>> run_outputs(const ir::Model& model, const std::vector<Feeds>& samples,
                                                     const RunConfig& config);

/// A histogram of float values over [lo, hi] (values outside land in the end bins).
struct Histogram {
    float lo = 0.0f, hi = 0.0f;
    std::vector<double> counts;
    Histogram(float lo_, float hi_, int bins) : lo(lo_), hi(hi_), counts(static_cast<size_t>(bins), 0.0) {}
    /// Adds values (`absolute`: their magnitudes).
    void add(const float* x, int64_t n, bool absolute);
    double bin_width() const { return (static_cast<double>(hi) - lo) / static_cast<double>(counts.size()); }
};

/// Scale and zero point for an activation range: kUInt8 asymmetric over [min(lo, 0), max(hi, 0)], kInt8 symmetric
/// over max(|lo|, |hi|). An empty range gets scale 1 and zero point 0.
void activation_params(float lo, float hi, DType type, float& scale, int32_t& zero_point);

/// [lo, hi] between the (100 - p)th and pth percentiles of a value histogram.
std::pair<float, float> percentile_range(const Histogram& h, double p);
/// The clipping threshold of a magnitude histogram (over [0, max|x|], TensorRT's 2048 bins) whose KL divergence
/// after quantization into `levels` levels is smallest (TensorRT / ONNX Runtime): candidates from max(levels / 2,
/// bins / 16) bins up to all of them, the clipped tail folded into the last kept bin, ONNX Runtime's smoothing of
/// empty bins, the first bin (exact zeros of Relu outputs) counted like the second, ties to the wider range.
float entropy_threshold(const Histogram& abs_hist, int levels);
/// The range [lo, hi] cut to [-t, t] (t up to max(|lo|, |hi|)) of a value histogram with the smallest expected
/// squared error after quantization to `type`.
std::pair<float, float> mse_range(const Histogram& h, DType type);

/// Collects ranges of the float tensors `names` of `model` over `samples` and chooses each tensor's [lo, hi] by
/// `method` (minmax: one run per sample; the others a second run for histograms). Fills min, max, lo, hi.
Result<std::vector<TensorRange>> calibrate(const ir::Model& model, const std::vector<std::string>& names,
                                           const std::vector<Feeds>& samples, CalibrationMethod method,
                                           double percentile, DType activation_type, const RunConfig& config);

}  // namespace nnport::quant

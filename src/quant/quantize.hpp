// Model quantization: float16 conversion and int8 (dynamic weight-only, static with calibration) to standard QDQ ONNX.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/compress.hpp"
#include "nnport/status.hpp"
#include "nnport/tensor.hpp"

namespace nnport::quant {

/// What quantize_model produces.
enum class QuantMode {
    kFp16,         ///< float16 weights and activations; sensitive and overflowing ops stay float32
    kInt8Dynamic,  ///< int8 per-channel weights (DequantizeLinear before the float op), float activations
    kInt8Static,   ///< int8 per-channel weights, calibrated per-tensor activations, int32 bias (QDQ)
};

/// How a tensor's range is chosen from calibration data.
enum class CalibrationMethod {
    kMinMax,      ///< the observed minimum and maximum
    kPercentile,  ///< clip at the given percentile of the observed values (both tails)
    kEntropy,     ///< the clipping threshold minimising the KL divergence of the quantized histogram (TensorRT)
    kMse,         ///< the clipping range minimising the expected squared quantization error
};

/// One set of model inputs (name -> tensor), e.g. one calibration sample.
using Feeds = std::vector<std::pair<std::string, Tensor>>;

/// Options of quantize_model.
struct QuantizeOptions {
    QuantMode mode = QuantMode::kInt8Static;
    CalibrationMethod calibration = CalibrationMethod::kMinMax;
    /// Percentile kept by kPercentile (per tail: values beyond it on either side are clipped).
    double percentile = 99.99;
    /// Activation type of static int8: kUInt8 (asymmetric, zero point from the range) or kInt8 (symmetric, zero 0).
    DType activation_type = DType::kUInt8;
    /// Calibration inputs. Empty: `synthetic_samples` fixed-seed random inputs of the declared types.
    std::vector<Feeds> calibration_data;
    int synthetic_samples = 4;
    /// Node names kept in float (int8: not quantized; fp16: kept float32).
    std::vector<std::string> exclude;
    /// Static int8: measure every quantizable layer alone (output SQNR vs float32) into QuantizeReport::sensitivity.
    bool sensitivity = false;
    /// Static int8 accuracy budget: > 0 keeps the most sensitive layers in float until the output relative RMS
    /// error (||q - f|| / ||f|| over all outputs and samples) is at most this. 0: no budget.
    double max_error = 0.0;
    /// fp16: keep Softmax, reductions, normalizations and exponentials in float32.
    bool fp16_keep_sensitive = true;
    /// fp16: a node whose float output reaches this magnitude on calibration data stays float32 (float16's largest
    /// finite value is 65504; the margin leaves room for inputs larger than the calibration data's).
    double fp16_overflow_threshold = 16384.0;
    /// Backends of the calibration and evaluation runs ("" = the default list; see SessionOptions::backends).
    std::string backends;
    /// Threads of the calibration and evaluation runs (0 = the machine's cores).
    int threads = 0;
};

// The report types are public (include/nnport/compress.hpp).
using nnport::KeptNode;
using nnport::LayerSensitivity;
using nnport::QuantizeReport;
using nnport::TensorRange;

/// Quantizes `model` in place as `options.mode` says, filling `report` (may be null). The model must hold float32
/// weights; calibration runs it in nnport's runtime. Errors name the node or the calibration input and the reason.
Status quantize_model(ir::Model& model, const QuantizeOptions& options, QuantizeReport* report);

/// Sum of the bytes of every initializer of the main graph and its subgraphs.
int64_t initializer_bytes(const ir::Model& model);

/// Parses "fp16", "int8-dynamic", "int8-static".
Result<QuantMode> parse_mode(const std::string& s);
/// Parses "minmax", "percentile", "entropy", "mse".
Result<CalibrationMethod> parse_calibration(const std::string& s);

}  // namespace nnport::quant

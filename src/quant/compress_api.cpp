// Public compression API (include/nnport/compress.hpp): quantize_model_file and prune_model_file over the library's
// quantize_model / prune_model, with calibration folders (tensors or images) and the output checks of the CLI.
#include <filesystem>

#include "io/image.hpp"
#include "io/output_paths.hpp"
#include "nnport/compress.hpp"
#include "onnx/exporter.hpp"
#include "onnx/importer.hpp"
#include "quant/calibration.hpp"
#include "quant/prune.hpp"
#include "quant/quantize.hpp"

namespace nnport {

namespace {

/// Bytes of a model file plus its external data files (0 when unreadable).
int64_t model_file_bytes(const std::string& path, const std::vector<std::string>& external) {
    namespace fs = std::filesystem;
    std::error_code ec;
    int64_t total = static_cast<int64_t>(fs::file_size(path, ec));
    if (ec) return 0;
    for (const std::string& f : external) {
        const auto n = fs::file_size(fs::path(path).parent_path() / f, ec);
        if (!ec) total += static_cast<int64_t>(n);
    }
    return total;
}

Result<io::ImagePreprocess> image_preprocess(const ImagePreprocessing& p) {
    io::ImagePreprocess o;
    o.scale = p.scale;
    o.mean = p.mean;
    o.stddev = p.stddev;
    o.bgr = p.bgr;
    o.resize_short = p.resize_short;
    using L = io::ImagePreprocess::Layout;
    if (p.layout == "auto")
        o.layout = L::kAuto;
    else if (p.layout == "nchw")
        o.layout = L::kNchw;
    else if (p.layout == "nhwc")
        o.layout = L::kNhwc;
    else
        return invalid_argument("image layout '" + p.layout + "': expected auto, nchw or nhwc");
    if (o.mean.empty() || o.stddev.empty()) return invalid_argument("image mean and std need at least one value");
    for (float s : o.stddev) {
        if (s == 0.0f) return invalid_argument("image std (--image-std): a standard deviation of 0");
    }
    return o;
}

}  // namespace

Result<QuantizeResult> quantize_model_file(const QuantizeRequest& req) {
    if (req.model.empty() || req.output.empty()) return invalid_argument("quantize needs a model and an output file");
    NNPORT_RETURN_IF_ERROR(io::check_output_paths(req.model, req.output, req.external_data));
    quant::QuantizeOptions o;
    NNPORT_ASSIGN_OR_RETURN(o.mode, quant::parse_mode(req.mode));
    NNPORT_ASSIGN_OR_RETURN(o.calibration, quant::parse_calibration(req.calibration));
    if (req.activation_type != "uint8" && req.activation_type != "int8") {
        return invalid_argument("activation type '" + req.activation_type + "': expected uint8 or int8");
    }
    o.percentile = req.percentile;
    o.activation_type = req.activation_type == "int8" ? DType::kInt8 : DType::kUInt8;
    o.exclude = req.exclude;
    o.sensitivity = req.sensitivity;
    o.max_error = req.max_error;
    o.synthetic_samples = req.synthetic_samples;
    o.fp16_keep_sensitive = req.fp16_keep_sensitive;
    o.backends = req.backends;
    o.threads = req.threads;
    NNPORT_ASSIGN_OR_RETURN(io::ImagePreprocess images, image_preprocess(req.images));
    NNPORT_ASSIGN_OR_RETURN(auto model, onnx_import::load_model(req.model));
    if (!req.data_dir.empty()) {
        NNPORT_ASSIGN_OR_RETURN(o.calibration_data, quant::load_calibration_dir(*model->graph, req.data_dir, images));
    }
    QuantizeResult r;
    NNPORT_RETURN_IF_ERROR(quant::quantize_model(*model, o, &r.report).with_context(req.model));
    onnx_export::ExportOptions eo;
    eo.external_data_file = req.external_data;
    eo.value_info = false;  // intermediate types are re-inferred by every reader; the bytes count against the size
    NNPORT_RETURN_IF_ERROR(onnx_export::save_model(*model, req.output, eo).with_context(req.output));
    r.file_bytes_before = model_file_bytes(req.model, model->external_data_files);
    std::vector<std::string> out_external;
    if (!req.external_data.empty()) out_external.push_back(req.external_data);
    r.file_bytes_after = model_file_bytes(req.output, out_external);
    return r;
}

Result<PruneResult> prune_model_file(const PruneRequest& req) {
    if (req.model.empty() || req.output.empty()) return invalid_argument("prune needs a model and an output file");
    NNPORT_RETURN_IF_ERROR(io::check_output_paths(req.model, req.output, ""));
    if (req.refit && !req.structured)
        return invalid_argument("refit needs structured pruning (--refit needs --structured)");
    if (req.global && req.structured) {
        return invalid_argument("a global threshold applies to unstructured pruning only (--global with --structured)");
    }
    quant::PruneOptions o;
    o.sparsity = req.sparsity;
    o.structured = req.structured;
    o.global = req.global;
    o.refit = req.refit;
    o.data_dir = req.data_dir;
    NNPORT_ASSIGN_OR_RETURN(o.images, image_preprocess(req.images));
    o.exclude = req.exclude;
    o.synthetic_samples = req.synthetic_samples;
    o.backends = req.backends;
    o.threads = req.threads;
    NNPORT_ASSIGN_OR_RETURN(auto model, onnx_import::load_model(req.model));
    PruneResult r;
    NNPORT_RETURN_IF_ERROR(quant::prune_model(*model, o, &r.report).with_context(req.model));
    onnx_export::ExportOptions eo;
    eo.value_info = false;
    NNPORT_RETURN_IF_ERROR(onnx_export::save_model(*model, req.output, eo).with_context(req.output));
    r.file_bytes_before = model_file_bytes(req.model, model->external_data_files);
    r.file_bytes_after = model_file_bytes(req.output, {});
    return r;
}

}  // namespace nnport

// `nnport quantize MODEL -o OUT.onnx --mode fp16|int8-dynamic|int8-static [--data DIR] [--calibration M] ...`:
// float16 conversion or int8 quantization to a standard QDQ ONNX model, with a size and accuracy report.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "image_options.hpp"
#include "model_io.hpp"
#include "nnport/compress.hpp"
#include "plugin_option.hpp"

namespace nnport::cli {

namespace {

struct QuantizeArgs {
    std::vector<std::string> plugins;  ///< --plugin
    std::string model;
    std::string out;
    std::string mode;
    std::string data;
    std::string calibration = "minmax";
    double percentile = 99.99;
    std::string activation_type = "uint8";
    std::vector<std::string> exclude;
    bool sensitivity = false;
    double max_error = 0.0;
    int samples = 4;
    bool report = false;
    bool fp16_all = false;
    std::string backends;
    int threads = 0;
    std::string external_data;
    ImageOptions images;
};

void print_report(const QuantizeArgs& a, const QuantizeReport& r, int64_t in_bytes, int64_t out_bytes) {
    std::cout << "mode " << a.mode << ": " << r.quantized_nodes.size() << " node(s) "
              << (a.mode == "fp16" ? "converted to float16" : "with int8 weights") << "\n";
    std::cout << "calibration: " << r.calibration_samples << " sample(s)"
              << (r.synthetic_data ? " of synthetic data (uniform [-1, 1); pass --data for real inputs)" : "")
              << (a.mode == "int8-static" ? ", method " + a.calibration : "") << "\n";
    std::cout << "weights: " << mib(r.weight_bytes_before) << " -> " << mib(r.weight_bytes_after) << "\n";
    if (in_bytes > 0 && out_bytes > 0) {
        std::cout << "file: " << mib(in_bytes) << " -> " << mib(out_bytes) << " (" << std::fixed
                  << std::setprecision(3) << static_cast<double>(out_bytes) / static_cast<double>(in_bytes)
                  << " x)\n";
    }
    if (!r.kept_float.empty()) {
        std::cout << "kept in " << (a.mode == "fp16" ? "float32" : "float") << ":\n";
        for (const KeptNode& k : r.kept_float) {
            std::cout << "    " << k.op_type << " '" << k.name << "': " << k.reason << "\n";
        }
    }
    if (!r.sensitivity.empty()) {
        std::cout << "sensitivity (output SQNR with only this layer quantized, most sensitive first):\n";
        for (const LayerSensitivity& s : r.sensitivity) {
            std::cout << "    " << std::setw(8) << std::fixed << std::setprecision(2) << s.sqnr_db << " dB  "
                      << s.op_type << " '" << s.name << "'\n";
        }
    }
    if (a.report && !r.ranges.empty()) {
        std::cout << (a.mode == "fp16" ? "observed ranges:\n" : "activation ranges (observed / chosen, scale, zero point):\n");
        for (const TensorRange& t : r.ranges) {
            std::cout << "    " << t.name << ": [" << t.min << ", " << t.max << "]";
            if (a.mode != "fp16") {
                std::cout << " / [" << t.lo << ", " << t.hi << "]  scale " << t.scale << "  zero point "
                          << t.zero_point;
            }
            std::cout << "\n";
        }
    }
    if (r.evaluated) {
        std::cout << "accuracy vs float32 on the calibration inputs: SQNR " << std::fixed << std::setprecision(2)
                  << r.sqnr_db << " dB, cosine " << std::setprecision(6) << r.cosine << ", relative RMS error "
                  << std::setprecision(5) << r.relative_rms << "\n";
    }
}

int quantize_command(const QuantizeArgs& a) {
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    if (a.model.empty() || a.out.empty()) return fail(invalid_argument("quantize needs MODEL and -o OUT.onnx"));
    QuantizeRequest req;
    req.model = a.model;
    req.output = a.out;
    req.mode = a.mode;
    req.data_dir = a.data;
    auto images = image_preprocessing(a.images);
    if (!images.is_ok()) return fail(images.status());
    req.images = images.value();
    req.synthetic_samples = a.samples;
    req.calibration = a.calibration;
    req.percentile = a.percentile;
    req.activation_type = a.activation_type;
    req.exclude = a.exclude;
    req.sensitivity = a.sensitivity;
    req.max_error = a.max_error;
    req.fp16_keep_sensitive = !a.fp16_all;
    req.backends = a.backends;
    req.threads = a.threads;
    req.external_data = a.external_data;
    auto r = quantize_model_file(req);
    if (!r.is_ok()) return fail(r.status());
    print_report(a, r->report, r->file_bytes_before, r->file_bytes_after);
    std::cout << "wrote " << a.out << "\n";
    return kExitOk;
}

}  // namespace

void setup_quantize(CLI::App& app, Action& action) {
    auto args = std::make_shared<QuantizeArgs>();
    CLI::App* c = app.add_subcommand("quantize", "Quantize a model (fp16, int8 dynamic or static) to standard QDQ ONNX");
    c->add_option("model", args->model, "ONNX model file");
    c->add_option("-o,--output", args->out, "Output .onnx file");
    c->add_option("--mode", args->mode, "fp16, int8-dynamic (int8 weights) or int8-static (calibrated QDQ)")
        ->required()
        ->check(CLI::IsMember({"fp16", "int8-dynamic", "int8-static"}));
    c->add_option("--data", args->data,
                  "Calibration folder: one .npy/.pb or image (PNG, JPEG, BMP, PPM ...; see --image-*) per sample "
                  "(single-input models) or one subfolder per sample with a file per input (default: synthetic data)");
    c->add_option("--calibration", args->calibration, "Range method of int8-static")
        ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}));
    c->add_option("--percentile", args->percentile, "Percentile kept by --calibration percentile (default 99.99)")
        ->check(CLI::Range(50.0, 100.0));
    c->add_option("--activation-type", args->activation_type,
                  "int8-static activations: uint8 (asymmetric, default) or int8 (symmetric)")
        ->check(CLI::IsMember({"uint8", "int8"}));
    c->add_option("--exclude", args->exclude, "Nodes to keep in float, comma-separated")->delimiter(',');
    c->add_flag("--sensitivity", args->sensitivity,
                "int8-static: report each layer's output SQNR when quantized alone");
    c->add_option("--max-error", args->max_error,
                  "int8-static: keep the most sensitive layers in float until the outputs' relative RMS error is at "
                  "most this (e.g. 0.05)")
        ->check(CLI::Range(0.0, 1e9));
    c->add_option("--samples", args->samples, "Synthetic calibration samples when --data is not given (default 4)")
        ->check(CLI::Range(1, 100000));
    c->add_flag("--report", args->report, "List every activation's range, scale and zero point");
    c->add_flag("--fp16-all", args->fp16_all, "fp16: convert sensitive ops (Softmax, reductions, norms) as well");
    c->add_option("--backend", args->backends, backend_option_help())->check(backend_list_validator());
    c->add_option("--threads", args->threads, "Threads of the calibration runs (default: all cores)")
        ->check(CLI::Range(0, 1024));
    c->add_option("--external-data", args->external_data, "Store large initializers in this file (relative)");
    add_image_options(c, &args->images);
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return quantize_command(*args); }; });
}

}  // namespace nnport::cli

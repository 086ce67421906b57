// `nnport prune MODEL -o OUT.onnx --sparsity S [--structured [--refit]] [--global] [--data DIR] ...`: magnitude or
// channel pruning with a size and output-agreement report.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "image_options.hpp"
#include "model_io.hpp"
#include "nnport/compress.hpp"
#include "plugin_option.hpp"

namespace nnport::cli {

namespace {

struct PruneArgs {
    std::vector<std::string> plugins;  ///< --plugin
    std::string model;
    std::string out;
    double sparsity = -1.0;
    bool structured = false;
    bool global = false;
    bool refit = false;
    std::string data;
    std::vector<std::string> exclude;
    int samples = 8;
    bool report = false;
    std::string backends;
    int threads = 0;
    ImageOptions images;
};

void print_report(const PruneArgs& a, const PruneReport& r, int64_t in_bytes, int64_t out_bytes) {
    std::cout << std::fixed;
    if (a.structured) {
        int64_t before = 0, after = 0;
        for (const PrunedLayer& l : r.layers) {
            before += l.channels_before;
            after += l.channels_after;
        }
        std::cout << "structured: " << r.layers.size() << " conv(s) pruned, " << after << " of " << before
                  << " output channels kept; " << r.skipped.size() << " node(s) left as they were\n";
        if (a.refit) std::cout << "refitted " << r.refitted.size() << " consumer(s) by least squares\n";
    } else {
        std::cout << (a.global ? "unstructured (global threshold): " : "unstructured (per layer): ") << r.layers.size()
                  << " layer(s), " << r.weights_zero << " of " << r.weights_total << " weights zero ("
                  << std::setprecision(1)
                  << 100.0 * static_cast<double>(r.weights_zero) /
                         static_cast<double>(std::max<int64_t>(1, r.weights_total))
                  << "%); the zeros are stored densely (they compress well, but the file is not smaller yet)\n";
    }
    if (a.report) {
        for (const PrunedLayer& l : r.layers) {
            std::cout << "    " << l.op_type << " '" << l.name << "': ";
            if (a.structured) {
                std::cout << l.channels_after << "/" << l.channels_before << " channels kept";
                for (const std::string& c : l.consumers) std::cout << (c == l.consumers.front() ? " -> " : ", ") << c;
            } else {
                std::cout << std::setprecision(1)
                          << 100.0 * static_cast<double>(l.zeros) / static_cast<double>(l.weights) << "% zero of "
                          << l.weights;
            }
            std::cout << "\n";
        }
        for (const SkippedLayer& s : r.skipped) {
            std::cout << "    skipped " << s.op_type << " '" << s.name << "': " << s.reason << "\n";
        }
    }
    std::cout << "weights: " << mib(r.weight_bytes_before) << " -> " << mib(r.weight_bytes_after) << "\n";
    if (in_bytes > 0 && out_bytes > 0) {
        std::cout << "file: " << mib(in_bytes) << " -> " << mib(out_bytes) << " (" << std::setprecision(3)
                  << static_cast<double>(out_bytes) / static_cast<double>(in_bytes) << " x)\n";
    }
    if (r.evaluated) {
        std::cout << "agreement with the original on " << r.calibration_samples
                  << (r.synthetic_data ? " synthetic sample(s) (pass --data for real inputs)"
                                       : " calibration sample(s)")
                  << ": relative RMS error " << std::setprecision(5) << r.relative_rms << ", cosine "
                  << std::setprecision(6) << r.cosine;
        if (r.top1_agreement >= 0) std::cout << ", top-1 agreement " << std::setprecision(3) << r.top1_agreement;
        std::cout << "\n";
    }
}

int prune_command(const PruneArgs& a) {
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    if (a.model.empty() || a.out.empty()) return fail(invalid_argument("prune needs MODEL and -o OUT.onnx"));
    PruneRequest req;
    req.model = a.model;
    req.output = a.out;
    req.sparsity = a.sparsity;
    req.structured = a.structured;
    req.global = a.global;
    req.refit = a.refit;
    req.data_dir = a.data;
    auto images = image_preprocessing(a.images);
    if (!images.is_ok()) return fail(images.status());
    req.images = images.value();
    req.exclude = a.exclude;
    req.synthetic_samples = a.samples;
    req.backends = a.backends;
    req.threads = a.threads;
    auto r = prune_model_file(req);
    if (!r.is_ok()) return fail(r.status());
    print_report(a, r->report, r->file_bytes_before, r->file_bytes_after);
    std::cout << "wrote " << a.out << "\n";
    return kExitOk;
}

}  // namespace

void setup_prune(CLI::App& app, Action& action) {
    auto args = std::make_shared<PruneArgs>();
    CLI::App* c = app.add_subcommand("prune", "Prune a model: zero small weights, or remove conv output channels");
    c->add_option("model", args->model, "ONNX model file");
    c->add_option("-o,--output", args->out, "Output .onnx file");
    c->add_option("--sparsity", args->sparsity,
                  "Fraction of weights (or, with --structured, of each conv's output channels) to remove, in [0, 1)")
        ->required();
    c->add_flag("--structured", args->structured,
                "Remove whole output channels of convs and the matching input channels of their consumers");
    c->add_flag("--global", args->global, "Unstructured: one magnitude threshold over all layers (default: per layer)");
    c->add_flag("--refit", args->refit,
                "Structured: refit the consumers of pruned convs by least squares on the calibration inputs");
    c->add_option("--data", args->data,
                  "Calibration folder for --refit and the agreement report: one .npy/.pb or image (see --image-*) per "
                  "sample or one subfolder per sample (default: synthetic data)");
    c->add_option("--exclude", args->exclude, "Nodes to leave unpruned, comma-separated")->delimiter(',');
    c->add_option("--samples", args->samples, "Synthetic samples when --data is not given (default 8)")
        ->check(CLI::Range(1, 100000));
    c->add_flag("--report", args->report, "List every layer's sparsity or kept channels and the skipped nodes");
    c->add_option("--backend", args->backends, backend_option_help())->check(backend_list_validator());
    c->add_option("--threads", args->threads, "Threads of the calibration runs (default: all cores)")
        ->check(CLI::Range(0, 1024));
    add_image_options(c, &args->images);
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return prune_command(*args); }; });
}

}  // namespace nnport::cli

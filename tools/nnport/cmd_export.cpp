// `nnport export MODEL -o OUT.onnx [--opset N] [--external-data FILE]`: import, check and infer, then write ONNX again.
#include <iostream>

#include "commands.hpp"
#include "nnport/nnport.hpp"
#include "onnx/exporter.hpp"
#include "plugin_option.hpp"

namespace nnport::cli {

namespace {

struct ExportArgs {
    std::string model;
    std::string out;
    int64_t opset = 0;
    std::string external_data;
    size_t external_min_bytes = 1024;
    bool no_value_info = false;
    std::vector<std::string> plugins;  ///< --plugin
};

int export_command(const ExportArgs& a) {
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    Status paths = check_output_paths(a.model, a.out, a.external_data);
    if (!paths.is_ok()) return fail(paths);
    SessionOptions opts;
    opts.threads = 1;
    opts.optimization_level = 0;  // export writes the model as given; `nnport optimize` writes an optimized one
    opts.backends = "ref";        // no channels-last rewrite either
    auto sr = Session::load(a.model, opts);
    if (!sr.is_ok()) return fail(sr.status());
    onnx_export::ExportOptions eo;
    eo.opset = a.opset;
    eo.external_data_file = a.external_data;
    eo.external_min_bytes = a.external_min_bytes;
    eo.value_info = !a.no_value_info;
    Status st = onnx_export::save_model(sr.value()->model(), a.out, eo);
    if (!st.is_ok()) return fail(st.with_context(a.out));
    std::cout << "wrote " << a.out << "\n";
    return kExitOk;
}

}  // namespace

void setup_export(CLI::App& app, Action& action) {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* c = app.add_subcommand("export", "Import a model (any opset), check it, and write it back as ONNX");
    c->add_option("model", args->model, "ONNX model file")->required();
    c->add_option("-o,--output", args->out, "Output .onnx file")->required();
    c->add_option("--opset", args->opset, "Default-domain opset to write (default: the model's, at least 7)")
        ->check(CLI::Range(int64_t{7}, int64_t{30}));
    c->add_option("--external-data", args->external_data,
                  "Store initializers in this file, relative to the output's folder (default: only above 2 GiB)");
    c->add_option("--external-min-bytes", args->external_min_bytes,
                  "With --external-data: smallest initializer moved out (default 1024)");
    c->add_flag("--no-value-info", args->no_value_info, "Do not write inferred intermediate types");
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return export_command(*args); }; });
}

}  // namespace nnport::cli

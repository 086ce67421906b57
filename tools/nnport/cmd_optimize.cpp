// `nnport optimize MODEL -o OUT.onnx [--level N] [--keep-fused] [--disable P,..] [--report] [--list]`: runs the
// graph optimizer and writes a standard ONNX model (nnport's fused ops only with --keep-fused).
#include <iostream>

#include "commands.hpp"
#include "onnx/exporter.hpp"
#include "onnx/importer.hpp"
#include "passes/pipeline.hpp"
#include "plugin_option.hpp"

namespace nnport::cli {

namespace {

struct OptimizeArgs {
    std::string model;
    std::string out;
    int level = passes::kDefaultLevel;
    bool keep_fused = false;
    bool report = false;
    bool list = false;
    std::vector<std::string> disabled;
    int64_t opset = 0;
    std::string external_data;
    std::vector<std::string> plugins;  ///< --plugin
};

int list_passes() {
    for (const auto& p : passes::all_passes()) {
        std::cout << "level " << passes::pass_level(p->name()) << "  " << p->name() << "\n    " << p->description()
                  << "\n";
    }
    return kExitOk;
}

int optimize_command(const OptimizeArgs& a) {
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    if (a.list) return list_passes();
    if (a.model.empty() || a.out.empty()) return fail(invalid_argument("optimize needs MODEL and -o OUT.onnx"));
    Status paths = check_output_paths(a.model, a.out, a.external_data);
    if (!paths.is_ok()) return fail(paths);
    auto mr = onnx_import::load_model(a.model);
    if (!mr.is_ok()) return fail(mr.status());
    ir::Model& model = *mr.value();
    passes::OptimizeOptions oo;
    oo.level = a.level;
    oo.allow_custom_ops = a.keep_fused;
    oo.disabled = a.disabled;
    passes::OptimizeReport rep;
    Status st = passes::optimize(model, oo, &rep);
    if (!st.is_ok()) return fail(st.with_context(a.model));
    onnx_export::ExportOptions eo;
    eo.opset = a.opset;
    eo.external_data_file = a.external_data;
    st = onnx_export::save_model(model, a.out, eo);
    if (!st.is_ok()) return fail(st.with_context(a.out));
    std::cout << rep.to_text();
    if (a.report) {
        for (const passes::PassStats& p : rep.passes) {
            std::cout << p.name << " (" << p.runs << " run" << (p.runs == 1 ? "" : "s") << ", " << p.ms << " ms)\n";
            for (const std::string& c : p.changes) std::cout << "    " << c << "\n";
        }
    }
    std::cout << "wrote " << a.out << "\n";
    return kExitOk;
}

}  // namespace

void setup_optimize(CLI::App& app, Action& action) {
    auto args = std::make_shared<OptimizeArgs>();
    CLI::App* c = app.add_subcommand("optimize", "Optimize a model (folding, fusion, layout) and write it as ONNX");
    c->add_option("model", args->model, "ONNX model file");
    c->add_option("-o,--output", args->out, "Output .onnx file");
    c->add_option("--level", args->level, "0 none, 1 basic, 2 extended (fusions), 3 all (default)")
        ->check(CLI::Range(0, passes::kMaxLevel));
    c->add_flag("--keep-fused", args->keep_fused,
                "Emit nnport's fused ops (domain com.nnport); the default output uses standard ONNX ops only");
    c->add_option("--disable", args->disabled, "Passes to skip (see --list)")->delimiter(',');
    c->add_flag("--report", args->report, "List every change each pass made");
    c->add_flag("--list", args->list, "List the passes with their level and what they do");
    c->add_option("--opset", args->opset, "Default-domain opset to write (default: the model's)")
        ->check(CLI::Range(int64_t{7}, int64_t{30}));
    c->add_option("--external-data", args->external_data, "Store large initializers in this file (relative)");
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return optimize_command(*args); }; });
}

}  // namespace nnport::cli

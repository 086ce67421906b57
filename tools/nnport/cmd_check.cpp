// `nnport check MODEL --target T [--json] [--html FILE]`: what the target cannot run and which scenario resolves it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "convert/checker.hpp"
#include "plugin_option.hpp"

namespace nnport::cli {

namespace {

struct CheckArgs {
    std::string model;
    std::string target;
    std::string targets_dir;
    std::string html;
    bool json = false;
    std::vector<std::string> plugins;  ///< --plugin
};

/// Lays out `dot_text` with Graphviz (`dot -Tsvg`); fails clearly when dot is not installed.
Result<std::string> run_dot(const std::string& dot_text) {
    namespace fs = std::filesystem;
    if (std::system("command -v dot >/dev/null 2>&1") != 0) {
        return unsupported("--html needs Graphviz 'dot' on PATH (Debian: apt-get install graphviz)");
    }
    std::error_code ec;
    const fs::path tmp = fs::temp_directory_path(ec) / ("nnport_check_" + std::to_string(::getpid()));
    const std::string in = tmp.string() + ".dot", out = tmp.string() + ".svg";
    {
        std::ofstream f(in);
        if (!f) return io_error(in + ": cannot write");
        f << dot_text;
    }
    const std::string cmd = "dot -Tsvg '" + in + "' -o '" + out + "' 2>/dev/null";
    const int rc = std::system(cmd.c_str());
    std::ifstream s(out);
    std::stringstream svg;
    svg << s.rdbuf();
    fs::remove(in, ec);
    fs::remove(out, ec);
    if (rc != 0 || svg.str().empty()) return internal_error("dot failed to lay out the graph");
    return svg.str();
}

int check_command(const CheckArgs& a) {
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    auto dir = convert::find_targets_dir(a.targets_dir);
    if (!dir.is_ok()) return fail(dir.status());
    auto profile = convert::load_profile(dir.value(), a.target);
    if (!profile.is_ok()) return fail(profile.status());
    auto catalogue = convert::load_rewrites(dir.value());
    if (!catalogue.is_ok()) return fail(catalogue.status());
    auto cm = convert::load_model_for_check(a.model);
    if (!cm.is_ok()) return fail(cm.status());
    const convert::CheckReport r =
        convert::check_model(*cm.value().model, cm.value().consts, profile.value(), catalogue.value());
    if (!a.html.empty()) {
        auto svg = run_dot(convert::report_graph_dot(*cm.value().model->graph, r));
        if (!svg.is_ok()) return fail(svg.status());
        std::ofstream f(a.html);
        if (!f) return fail(io_error(a.html + ": cannot write"));
        f << convert::report_to_html(r, svg.value());
        if (!f) return fail(io_error(a.html + ": write failed"));
    }
    std::cout << (a.json ? convert::report_to_json(r) + "\n" : convert::report_to_text(r));
    return r.exit_code();
}

}  // namespace

void setup_check(CLI::App& app, Action& action) {
    auto args = std::make_shared<CheckArgs>();
    CLI::App* c = app.add_subcommand(
        "check",
        "Check a model against a target profile: unsupported nodes, the violated constraint and the scenario that "
        "resolves each ((1) exact rewrite, (2) substitution, (3) post-processing, (4) custom layer).\n"
        "Exit codes: 0 the model runs on the target as is; 3 it needs conversion (nnport convert); 1 error "
        "(unknown target, unreadable model); 2 usage.");
    c->add_option("model", args->model, "ONNX model file")->required();
    c->add_option("--target,-t", args->target, "Target profile name (see nnport targets)")->required();
    c->add_flag("--json", args->json, "Machine-readable report");
    c->add_option("--html", args->html, "Also write a self-contained HTML report with the graph (needs Graphviz dot)");
    c->add_option("--targets-dir", args->targets_dir,
                  "Folder of target profiles (default: $NNPORT_TARGETS_DIR or the installed targets/)");
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return check_command(*args); }; });
}

}  // namespace nnport::cli

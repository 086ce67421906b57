// `nnport convert MODEL --target T -o OUT.onnx`: makes a model fit a target with the paper's four scenarios and
// verifies the result against the original.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "nnport/convert.hpp"
#include "plugin_option.hpp"

namespace nnport::cli {

namespace {

struct ConvertArgs {
    ConvertRequest req;
    std::vector<std::string> shapes, plugins;
    std::string report;
    bool json = false;
};

/// "name=1x3x224x224" -> (name, dims).
Status parse_shape(const std::string& s, std::map<std::string, std::vector<int64_t>>& out) {
    const size_t eq = s.rfind('=');
    if (eq == std::string::npos || eq == 0) return invalid_argument("--input-shape " + s + ": expected NAME=D1xD2...");
    std::vector<int64_t> dims;
    std::string rest = s.substr(eq + 1);
    size_t pos = 0;
    while (pos <= rest.size()) {
        const size_t x = rest.find('x', pos);
        const std::string d = rest.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
        if (d.empty() || d.find_first_not_of("0123456789") != std::string::npos || d.size() > 12)
            return invalid_argument("--input-shape " + s + ": '" + d + "' is not a dimension");
        dims.push_back(std::stoll(d));
        if (x == std::string::npos) break;
        pos = x + 1;
    }
    out[s.substr(0, eq)] = dims;
    return Status::ok();
}

int convert_command(ConvertArgs& a) {
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    if (Status st = check_output_paths(a.req.model, a.req.output, ""); !st.is_ok()) return fail(st);
    for (const std::string& s : a.shapes) {
        if (Status st = parse_shape(s, a.req.input_shapes); !st.is_ok()) return fail(st);
    }
    auto r = convert_model_file(a.req);
    if (!r.is_ok()) return fail(r.status());
    if (!a.report.empty()) {
        std::ofstream f(a.report);
        f << r->report_json << "\n";
        if (!f) return fail(io_error(a.report + ": cannot write"));
    }
    if (a.json) {
        std::cout << r->report_json << "\n";
        return r->exit_code;
    }
    std::cout << r->report_text;
    if (r->exit_code == 1) {
        std::cout << "nothing written\n";
        return r->exit_code;
    }
    std::cout << "wrote " << a.req.output;
    if (!r->post_output.empty()) {
        std::cout << " and " << r->post_output << " (run both: nnport run " << a.req.output << " --post "
                  << r->post_output << ")";
    }
    if (!r->test_vectors_dir.empty()) std::cout << "; custom-layer test vectors in " << r->test_vectors_dir;
    std::cout << "\n";
    return r->exit_code;
}

}  // namespace

void setup_convert(CLI::App& app, Action& action) {
    auto args = std::make_shared<ConvertArgs>();
    CLI::App* c = app.add_subcommand(
        "convert",
        "Convert a model for a target profile: (1) exact rewrites, (2) substitutions (fitted ones need "
        "--allow-approx), (3) trailing nodes moved to a host post-processing model (OUT.post.onnx), (4) custom layers "
        "listed with test vectors. The result is verified against the original on --data and random samples.\n"
        "Exit codes: 0 converted (or runs as is); 3 converted but needs custom layers on the target; 1 the "
        "conversion failed (nothing written) or an error; 2 usage.");
    c->add_option("model", args->req.model, "ONNX model file")->required();
    c->add_option("--target,-t", args->req.target, "Target profile name (see nnport targets)")->required();
    c->add_option("-o,--output", args->req.output, "Converted model file")->required();
    c->add_option("--data", args->req.data_dir,
                  "Folder of sample inputs (NAME.npy/.pb or input_<k>.pb, or one sub-folder per sample) for "
                  "fitting and verification");
    c->add_option("--samples", args->req.random_samples, "Random samples in addition to --data (default 3)")
        ->check(CLI::Range(0, 1000));
    c->add_flag("--allow-approx", args->req.allow_approx,
                "Accept approximate (fitted) substitutions; their residual error is reported");
    c->add_option("--input-shape", args->shapes, "NAME=D1xD2x...: pin an input's shape; repeatable");
    c->add_option("--tolerance", args->req.tolerance,
                  "Relative error (max |diff| / max |reference|) an exact conversion must stay within (default 1e-5)");
    c->add_option("--post-output", args->req.post_output, "Post-processing model file (default OUT.post.onnx)");
    c->add_option("--test-vectors", args->req.test_vectors_dir, "Folder for custom-layer test vectors (default OUT_test_vectors)");
    c->add_option("--report", args->report, "Also write the JSON report to this file");
    c->add_flag("--json", args->json, "Print the JSON report instead of text");
    c->add_option("--targets-dir", args->req.targets_dir,
                  "Folder of target profiles (default: $NNPORT_TARGETS_DIR or the installed targets/)");
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return convert_command(*args); }; });
}

}  // namespace nnport::cli

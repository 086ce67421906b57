// nnport CLI entry point: parses the command line and dispatches to a subcommand.
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>

#include "backends/backend.hpp"
#include "commands.hpp"
#include "io/output_paths.hpp"
#include "nnport/nnport.hpp"

namespace nnport::cli {

int fail(const Status& st) {
    std::cerr << "nnport: " << st.message() << "\n";
    return kExitError;
}

CLI::Validator backend_list_validator() {
    return CLI::Validator(
        [](const std::string& list) {
            if (list.empty()) return std::string("--backend needs at least one name");
            auto r = parse_backend_list(list);
            return r.is_ok() ? std::string() : r.status().message();
        },
        "LIST");
}

std::string backend_option_help() {
    std::string known;
    for (const Backend* b : all_backends()) known += (known.empty() ? "" : ", ") + std::string(b->name());
    return "Backends in order of preference, comma-separated; each node runs on the first that supports it, the "
           "reference backend runs the rest (known: " + known + "; default: all of them in this order)";
}

Status check_output_paths(const std::string& model, const std::string& out, const std::string& external_data) {
    return io::check_output_paths(model, out, external_data);
}

}  // namespace nnport::cli

int main(int argc, char** argv) {
    using namespace nnport::cli;
    CLI::App app{"nnport: import, check, convert, optimize and run ONNX models on the device in front of you"};
    app.require_subcommand(1);
    app.set_version_flag("--version", nnport::version());
    Action action;
    setup_run(app, action);
    setup_inspect(app, action);
    setup_bench(app, action);
    setup_ops(app, action);
    setup_export(app, action);
    setup_targets(app, action);
    setup_check(app, action);
    setup_optimize(app, action);
    setup_convert(app, action);
    setup_quantize(app, action);
    setup_prune(app, action);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }
    try {
        return action ? action() : kExitUsage;
    } catch (const std::exception& e) {
        std::cerr << "nnport: internal error: " << e.what() << "\n";
        return kExitError;
    }
}

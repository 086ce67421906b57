// CLI subcommand registration. Each cmd_<verb>.cpp adds its subcommand and returns an exit code when run.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "nnport/status.hpp"

namespace nnport::cli {

/// Exit codes of the CLI contract.
enum ExitCode { kExitOk = 0, kExitError = 1, kExitUsage = 2 };

/// A subcommand's action, set by its setup function and called after parsing.
using Action = std::function<int()>;

void setup_run(CLI::App& app, Action& action);
void setup_inspect(CLI::App& app, Action& action);
void setup_bench(CLI::App& app, Action& action);
void setup_ops(CLI::App& app, Action& action);
void setup_export(CLI::App& app, Action& action);
void setup_targets(CLI::App& app, Action& action);
void setup_check(CLI::App& app, Action& action);
void setup_optimize(CLI::App& app, Action& action);
void setup_convert(CLI::App& app, Action& action);
void setup_quantize(CLI::App& app, Action& action);
void setup_prune(CLI::App& app, Action& action);

/// CLI11 check of a --backend list ("xnnpack,onednn,ref"): every name known and available on this machine.
CLI::Validator backend_list_validator();
/// Help text of --backend, listing the compiled-in backends.
std::string backend_option_help();

/// Prints "nnport: <message>" to stderr and returns kExitError.
int fail(const Status& st);

/// For commands that write a model: refuses to overwrite the input model and an external data file path that is
/// absolute or leaves the output's folder.
Status check_output_paths(const std::string& model, const std::string& out, const std::string& external_data);

}  // namespace nnport::cli

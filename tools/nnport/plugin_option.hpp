// The --plugin option every model-loading subcommand takes: custom-op libraries loaded before the model.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "nnport/status.hpp"

namespace nnport::cli {

/// Adds `--plugin LIB.so` (repeatable) to `sub`, collecting the paths into `*paths`.
void add_plugin_option(CLI::App* sub, std::vector<std::string>* paths);

/// Loads each plugin in order (include/nnport/plugin.h); the first failure is returned, naming the file.
Status load_plugins(const std::vector<std::string>& paths);

}  // namespace nnport::cli

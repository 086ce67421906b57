// The --plugin option: registration on a subcommand and loading through the runtime's plugin loader.
#include "plugin_option.hpp"

#include "runtime/plugin.hpp"

namespace nnport::cli {

void add_plugin_option(CLI::App* sub, std::vector<std::string>* paths) {
    sub->add_option("--plugin", *paths,
                    "Custom-op plugin (shared library, see docs/PLUGINS.md) to load before the model; repeatable");
}

Status load_plugins(const std::vector<std::string>& paths) {
    for (const std::string& p : paths) NNPORT_RETURN_IF_ERROR(load_plugin(p));
    return Status::ok();
}

}  // namespace nnport::cli

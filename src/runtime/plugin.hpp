// Custom-op plugins: loading shared libraries written against include/nnport/plugin.h (conversion scenario 4).
#pragma once

#include <string>
#include <vector>

#include "nnport/status.hpp"
#include "ops/op_def.hpp"

namespace nnport {

/// Loads the plugin at `path` (dlopen), checks its ABI version, calls its nnport_plugin_init and adds the ops it
/// registers to the op registry (find_op, all_ops), where import, inference, the reference backend, export and the
/// generated "nnport" target profile find them. Loading a file already loaded does nothing. All-or-nothing: a plugin
/// whose init fails, or any of whose ops is malformed or already defined, registers no op. Errors name the file:
/// missing file (io error), not a shared library, not an nnport plugin (no init or ABI symbol), ABI version
/// mismatch, op already defined, init returned an error. Plugins stay loaded until the process exits. Load plugins
/// before loading models that use them, and not while another thread is loading a model.
Status load_plugin(const std::string& path);

/// Canonical paths of the plugins loaded so far, in load order.
std::vector<std::string> loaded_plugins();

/// The plugin file that registered `def`, or "" for a compiled-in op.
std::string plugin_of(const OpDef& def);

}  // namespace nnport

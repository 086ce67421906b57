// Internal to the plugin loader: the host side of include/nnport/plugin.h (callback tables, the trampoline infer and
// kernel every plugin op's OpDef points at, and the table from OpDef to the plugin's callbacks).
#pragma once

#include <string>

#include "nnport/plugin.h"
#include "ops/op_def.hpp"

namespace nnport::plugin_detail {

/// What the host keeps of one registered plugin op besides its OpDef.
struct PluginOp {
    std::string file;  ///< the plugin's canonical path, for messages
    int since_version = 1;
    nnport_plugin_status (*infer)(void*, nnport_plugin_infer_ctx*) = nullptr;
    nnport_plugin_status (*compute)(void*, nnport_plugin_compute_ctx*) = nullptr;
    void* user = nullptr;
};

/// Fills every member of the host table except abi_version, struct_size, nnport_version, registrar and register_op.
void fill_host_callbacks(nnport_plugin_host* host);

/// Clears the calling thread's plugin error message (before calling into a plugin).
void clear_error();
/// The message the plugin set with host->set_error since clear_error(), or "error code N" if it set none.
std::string take_error(nnport_plugin_status rc);
/// A Status with the code `rc` maps to (unknown codes: internal) and `message`.
Status status_of(nnport_plugin_status rc, std::string message);

/// Links a registered OpDef to its plugin callbacks (before the OpDef is visible in the registry).
void bind_op(const OpDef* def, PluginOp op);
/// The plugin callbacks of `def`, or nullptr for an op that no plugin registered.
const PluginOp* op_of(const OpDef* def);

/// The InferFn and KernelFn of every plugin op: look up the op's callbacks by ctx.def() and call them.
Status infer_trampoline(InferContext& ctx);
Status kernel_trampoline(KernelContext& ctx);

}  // namespace nnport::plugin_detail

// Ops registered at run time (plugins), next to the compiled-in registry of registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ops/op_def.hpp"

namespace nnport {

/// Adds `def` to the registry: find_op() finds it and all_ops() lists it after the compiled-in ops, until the process
/// exits. Fails (invalid argument) if an op of that domain and type is already defined. Register before models that
/// use the op are loaded, and not while another thread iterates all_ops().
Status register_dynamic_op(std::unique_ptr<OpDef> def);

/// A dynamically registered op by normalized domain ("" for ai.onnx) and type; nullptr if none.
const OpDef* find_dynamic_op(const std::string& domain, const std::string& op_type);

/// `builtin` followed by the dynamically registered ops (just `builtin` while there are none).
const std::vector<const OpDef*>& with_dynamic_ops(const std::vector<const OpDef*>& builtin);

}  // namespace nnport

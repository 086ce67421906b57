// The implementations behind the rewrite catalogue (targets/rewrites.json): one function per catalogue entry that
// `nnport convert` applies to a node the target cannot run (the paper's scenarios 1 and 2).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "convert/target_profile.hpp"
#include "ir/graph.hpp"
#include "nnport/status.hpp"
#include "passes/pass.hpp"

namespace nnport::convert {

/// What an approximate (fitted) substitution reports about its own residual error on the calibration samples.
struct ApproxRecord {
    std::string rewrite, node;
    double max_abs_error = 0;  ///< over the calibration samples, at the replaced node's output
    double rel_rms_error = 0;  ///< ||fit - original|| / ||original||
};

/// What a rewrite may read and report while it runs.
struct RewriteContext {
    /// For passes::make_node (model opsets); allow_custom_ops is false: converted models are standard ONNX.
    passes::PassContext pass_ctx;
    /// The target being converted for (limits such as kernel sizes); may be null in unit tests.
    const TargetProfile* profile = nullptr;
    /// Sample values of a tensor of the graph being rewritten, computed by running the model as it is now on the
    /// calibration inputs (`--data` or synthetic). Fitted substitutions use them; null when none are available.
    std::function<Result<std::vector<Tensor>>(const ir::Value*)> samples;
    /// Fitted substitutions append their residual here.
    std::vector<ApproxRecord> approx;
};

/// One rewrite: applies to node `n` of graph `g` if it matches, replacing it by an equivalent subgraph. Returns true
/// when applied, false when the node does not match (the graph is then unchanged), an error when matching succeeded
/// but the replacement could not be built. New nodes go through passes::make_node; node order does not matter (the
/// driver sorts and re-infers types after each rewrite). Output values keep their names (passes::replace_value).
using RewriteFn = Result<bool> (*)(ir::Graph& g, ir::Node* n, RewriteContext& ctx);

struct RewriteImpl {
    const char* name;  ///< the catalogue entry's name
    RewriteFn fn;
};

/// Applies `impl` to node `n` of `g` (the main graph of `model` or one of its subgraphs) and, when it applied, puts
/// the model back in order: topological sort, unused values dropped, IR verified, types re-inferred. An error names
/// the rewrite and the node.
Result<bool> apply_rewrite(ir::Model& model, ir::Graph& g, ir::Node* n, const RewriteImpl& impl, RewriteContext& ctx);

/// Every node-level rewrite implemented, in no particular order.
const std::vector<RewriteImpl>& rewrite_impls();
/// The implementation of a catalogue entry, or nullptr.
const RewriteImpl* find_rewrite_impl(const std::string& name);

// Declarations of the implementations (src/convert/rewrites/*.cpp), listed in rewrites_*.inc.
#define NNPORT_REWRITE(name) Result<bool> rewrite_##name(ir::Graph& g, ir::Node* n, RewriteContext& ctx);
#include "convert/rewrites/rewrites_elementwise.inc"
#include "convert/rewrites/rewrites_structural.inc"
#undef NNPORT_REWRITE

}  // namespace nnport::convert

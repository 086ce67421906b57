// The optimizer pipeline: all passes in their order, run to a fixed point over a model.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/status.hpp"
#include "passes/pass.hpp"

namespace nnport::passes {

struct OptimizeOptions {
    int level = kDefaultLevel;
    bool allow_custom_ops = true;
    /// Pass names to skip.
    std::vector<std::string> disabled;
    /// Run the IR verifier after every pass (tests; cheap enough to leave on in tools).
    bool verify_each = true;
};

/// What one pass did over the whole run.
struct PassStats {
    std::string name;
    int runs = 0;
    std::vector<std::string> changes;
    double ms = 0.0;
};

struct OptimizeReport {
    int64_t nodes_before = 0, nodes_after = 0;
    int64_t initializer_bytes_before = 0, initializer_bytes_after = 0;
    std::vector<PassStats> passes;  ///< in pipeline order (passes that ran)
    /// A human-readable summary, one line per pass that changed something.
    std::string to_text() const;
};

/// The registered passes in pipeline order (all levels).
std::vector<std::unique_ptr<Pass>> all_passes();
/// The level at which a pass is enabled (-1 if unknown).
int pass_level(const std::string& name);

/// Optimizes `model` in place: runs the passes enabled at `options.level`, in order, repeating the sequence until
/// nothing changes (at most a few rounds), re-inferring types after each change. Fails only on an internal error
/// (a pass producing an invalid graph is reported with the pass name).
Status optimize(ir::Model& model, const OptimizeOptions& options = {}, OptimizeReport* report = nullptr);

/// Runs a single pass by name on `model` (with subgraphs) and re-infers types; for tests and tools.
Result<bool> run_pass(ir::Model& model, const std::string& pass_name, PassContext& ctx);

}  // namespace nnport::passes

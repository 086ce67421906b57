// The optimizer's pass interface: a pass rewrites one graph; the pipeline driver runs passes in order, descends into
// subgraphs, re-infers types after every change and records what each pass did.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/status.hpp"

namespace nnport::passes {

/// The domain of nnport's own fused ops (FusedConv, FusedGemm, ...). Standard ONNX tools do not know it.
inline constexpr const char* kNnportDomain = "com.nnport";

/// Optimization levels, as ONNX Runtime's: 0 none, 1 basic (exact graph clean-ups and folding), 2 extended
/// (fusions), 3 layout and backend-preference rewrites.
inline constexpr int kMaxLevel = 3;
inline constexpr int kDefaultLevel = 3;

/// What the pipeline knows while passes run.
struct PassContext {
    const ir::Model* model = nullptr;
    int level = kDefaultLevel;
    /// May passes emit nodes of nnport's own domain (fused ops)? True when the result runs in nnport's runtime
    /// (sessions, `optimize --keep-fused`); false when it must load in other tools (`nnport optimize`), which also
    /// turns off rewrites made only for our backends' preferences (fc_conv).
    bool allow_custom_ops = true;
    /// Backend preference for fully connected layers: true when the backends in use run a 1x1 Conv faster than a
    /// Gemm/MatMul (set from the chosen backends; the reference backend prefers Gemm).
    bool prefer_conv_for_fc = false;

    /// Opset of the default domain of the model being optimized.
    int64_t opset() const { return model ? model->opset("") : 0; }

    /// Records one change made by the running pass (`what` is a short description, e.g. "Conv 'c1' + Relu 'r1'").
    void record(const std::string& what);

    // Filled by the driver.
    std::string current_pass;
    std::map<std::string, std::vector<std::string>> changes;  ///< pass name -> changes, in order
};

/// One graph rewrite. Passes are stateless: all state lives in the graph and the context.
class Pass {
public:
    virtual ~Pass() = default;
    /// Short snake_case name used in reports and `--disable` lists.
    virtual const char* name() const = 0;
    /// One line saying what the pass matches and does (for `nnport optimize --list` and docs/OPTIMIZER.md).
    virtual const char* description() const = 0;
    /// Runs on one graph (the driver calls it for the main graph and every subgraph). Returns whether the graph
    /// changed. New nodes must be created through passes::make_node (pass_util.hpp) so their OpDef and opset are set;
    /// node order does not matter (the driver topologically sorts after each pass).
    virtual Result<bool> run(ir::Graph& g, PassContext& ctx) = 0;
};

/// A pass in the pipeline: its position (passes run in increasing `order`) and the lowest level that enables it.
struct PassEntry {
    int order;
    int level;
    std::unique_ptr<Pass> (*make)();
};

}  // namespace nnport::passes

// `nnport check`: which nodes of a model a target cannot run, why, and which of the paper's four scenarios resolves
// each (1 exact rewrite, 2 substitution, 3 post-processing split, 4 custom layer), with a summary verdict.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "convert/target_profile.hpp"
#include "ir/graph.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::convert {

/// The four resolution scenarios of the paper (section IV-B); kNone only for issues that need no action.
enum class Scenario { kNone = 0, kExactRewrite = 1, kSubstitution = 2, kPostProcess = 3, kCustomLayer = 4 };

/// "exact rewrite", "substitution", "post-processing", "custom layer".
const char* scenario_name(Scenario s);

/// One violated constraint.
struct Violation {
    /// op_missing, opset, dtype, rank, attr, attr_max, const_input, dynamic_shape, broadcast, outputs, group, pads,
    /// max_rank.
    std::string kind;
    std::string detail;  ///< human-readable: what the node has and what the target allows
};

/// A node the target cannot run as is.
struct NodeIssue {
    std::string name, op, domain;
    std::vector<Violation> violations;
    Scenario scenario = Scenario::kNone;
    std::string rewrite;                    ///< chosen catalogue entry (scenarios 1 and 2)
    std::string rewrite_kind;               ///< its kind: exact, substitution, approximate
    std::vector<std::string> alternatives;  ///< other applicable rewrites
    std::vector<std::string> moved_nodes;   ///< scenario 3: the node and everything after it
    int cut_tensors = 0;                    ///< scenario 3: tensors crossing the cut (packed if single-output)
    std::string resolution;                 ///< one line: what the converter would do
    bool in_subgraph = false;               ///< the node sits in an If/Loop/Scan body
};

/// A model-level issue (opset, outputs, input shapes, resolution, batch, interface dtypes).
struct ModelIssue {
    std::string kind, detail;
    Scenario scenario = Scenario::kNone;
    std::string rewrite;
    std::string resolution;
};

/// Summary verdict.
enum class Verdict { kRunsAsIs, kConvertibleExactly, kConvertibleApproximately, kNeedsCustomLayers };

/// "runs as is", "convertible exactly", "convertible approximately", "needs custom layers".
const char* verdict_name(Verdict v);

/// The result of checking one model against one profile.
struct CheckReport {
    std::string model, target, target_version;
    int node_count = 0;
    std::vector<NodeIssue> nodes;
    std::vector<ModelIssue> model_issues;
    Verdict verdict = Verdict::kRunsAsIs;
    /// Issues (node and model) per scenario, indexed by Scenario.
    std::array<int, 5> scenario_counts{};
    /// Process exit code of `nnport check`: 0 runs as is, 3 needs conversion.
    int exit_code() const { return verdict == Verdict::kRunsAsIs ? 0 : 3; }
};

/// A model loaded for checking: imported, types inferred (unknown ops tolerated), small constants evaluated.
struct CheckModel {
    std::unique_ptr<ir::Model> model;
    ConstantMap consts;
};

/// Loads an ONNX file for checking; errors name the file.
Result<CheckModel> load_model_for_check(const std::string& path);
/// Infers types of an in-memory model for checking (unknown ops keep declared types).
Status prepare_model_for_check(ir::Model& model, ConstantMap& consts);

/// Checks every node of `model` (types inferred) against `profile` and classifies each issue with `catalogue`.
CheckReport check_model(const ir::Model& model, const ConstantMap& consts, const TargetProfile& profile,
                        const RewriteCatalogue& catalogue);

/// The report as JSON text (for --json and tools).
std::string report_to_json(const CheckReport& r);
/// The report as readable text.
std::string report_to_text(const CheckReport& r);
/// Graphviz DOT of the main graph with offending nodes coloured by scenario.
std::string report_graph_dot(const ir::Graph& g, const CheckReport& r);
/// A self-contained HTML page: summary, issue table and the graph drawing `svg` (output of `dot -Tsvg`) inline.
std::string report_to_html(const CheckReport& r, const std::string& svg);

}  // namespace nnport::convert

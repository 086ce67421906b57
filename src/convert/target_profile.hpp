// Target profiles: what a deployment target (TFLite, TNN, TensorRT...) accepts, loaded from targets/*.json, and the
// rewrite catalogue (targets/rewrites.json). The schema is documented in targets/README.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nnport/status.hpp"

namespace nnport::convert {

/// Where a profile's data came from.
struct ProfileSource {
    std::string title;    ///< document or file, e.g. "onnx-tensorrt docs/operators.md"
    std::string url;      ///< where it lives
    std::string version;  ///< version of the document / target it describes
    std::string read;     ///< date the list was read (YYYY-MM-DD)
};

/// An allowed attribute value: profiles list strings ("nearest") or integers (0).
struct AttrValue {
    bool is_string = false;
    std::string s;
    int64_t i = 0;
    bool operator==(const AttrValue& o) const { return is_string == o.is_string && s == o.s && i == o.i; }
    std::string to_string() const { return is_string ? s : std::to_string(i); }
};

/// What the target accepts for one op. Every field is optional: an absent field means "no documented limit".
struct OpConstraints {
    std::optional<std::pair<int, int>> opset;             ///< op-level opset range (inclusive)
    std::vector<std::string> dtypes;                      ///< element types of input 0 (nnport dtype names); empty: any
    std::optional<std::pair<int, int>> rank;              ///< allowed rank range of input 0
    std::map<std::string, std::vector<AttrValue>> attrs;  ///< attribute -> allowed values (schema defaults apply)
    std::map<std::string, int64_t> attr_max;  ///< int/ints attribute -> maximum element (kernel_shape, strides...)
    std::vector<int> const_inputs;            ///< input indices that must be constant (initializer / folded)
    bool static_shapes = false;               ///< every input and output shape must be known
    std::string broadcast = "numpy";          ///< "numpy" (any), "scalar" (scalar or equal shapes), "none"
    int max_outputs = -1;                     ///< how many leading outputs may be used (-1: all)
    std::string group;                        ///< "" (any) or "1_or_depthwise"
    bool symmetric_pads = false;              ///< begin and end pads must be equal
    std::string via;                          ///< the target's own op(s) this ONNX op becomes
    std::string notes;                        ///< documented restrictions not checked mechanically
    bool inferred = false;                    ///< support deduced, not stated by the source
};

/// One target profile.
struct TargetProfile {
    std::string name, display_name, version;
    std::vector<ProfileSource> sources;
    std::vector<std::string> unknown;                ///< what the sources do not say
    std::optional<std::pair<int, int>> opset_range;  ///< ai.onnx opsets accepted
    std::vector<std::string> dtypes;                 ///< element types of graph inputs/outputs
    bool single_output_only = false;
    bool static_shapes_required = false;
    std::optional<std::pair<int64_t, int64_t>> max_input_resolution;  ///< (height, width) of image inputs
    std::optional<int> max_rank;
    std::optional<int64_t> max_batch;
    /// Key: op type for ai.onnx, "domain:Op" otherwise.
    std::map<std::string, OpConstraints> ops;
    std::string file;  ///< file it was loaded from ("" for generated profiles)

    /// The constraints of an op, or nullptr if the target lacks it. `domain` "" or "ai.onnx" is the default domain.
    const OpConstraints* find_op(const std::string& domain, const std::string& op_type) const;
};

/// One entry of the rewrite catalogue: a replacement `nnport convert` implements.
struct Rewrite {
    std::string name;
    std::string kind;                    ///< "exact", "substitution" or "approximate"
    std::string replaces;                ///< op type; "*" any op; "<model>" / "<outputs>" model-level
    std::vector<std::string> needs;      ///< ops the target must support
    std::vector<int> when_const_inputs;  ///< inputs that must be constant
    std::map<std::string, std::vector<AttrValue>> when_attrs;  ///< attribute values required
    std::vector<std::string> when_predicates;                  ///< named conditions (see checker.cpp)
    std::vector<std::string> fixes;                            ///< violation kinds it resolves; empty: any
    std::string doc;
};

/// The rewrite catalogue.
struct RewriteCatalogue {
    std::vector<Rewrite> rewrites;
    std::string file;
};

/// The predicate names a rewrite may use (checked at load so a typo is an error, not a silent never-applies).
const std::vector<std::string>& known_rewrite_predicates();

/// Parses a profile; errors name `source` (the file) and the field ("ops.Conv.attrs.auto_pad: ...").
Result<TargetProfile> parse_profile(const std::string& json_text, const std::string& source);
/// Reads and parses one profile file.
Result<TargetProfile> load_profile_file(const std::string& path);
/// Parses the rewrite catalogue.
Result<RewriteCatalogue> parse_rewrites(const std::string& json_text, const std::string& source);

/// The profile of nnport itself, generated from the op registry (all_ops(), opset from OpDef::since_version).
TargetProfile nnport_profile();

/// The targets directory: `override_dir` if set, else $NNPORT_TARGETS_DIR, else `targets/` next to the running binary
/// or one level up, else the source tree's targets/ (compile-time NNPORT_SOURCE_DIR). Fails if none exists.
Result<std::string> find_targets_dir(const std::string& override_dir = "");

/// Every profile in `dir` (*.json except rewrites.json) plus the generated nnport profile, sorted by name.
Result<std::vector<TargetProfile>> load_all_profiles(const std::string& dir);
/// One profile by name ("nnport" is generated); the error lists the available names.
Result<TargetProfile> load_profile(const std::string& dir, const std::string& name);
/// dir/rewrites.json.
Result<RewriteCatalogue> load_rewrites(const std::string& dir);

}  // namespace nnport::convert

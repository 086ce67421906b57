// `nnport convert`: makes a model fit a target profile with the paper's four scenarios -- (1) exact rewrites,
// (2) substitutions (exact, or fitted by least squares with --allow-approx), (3) moving trailing nodes into a host
// post-processing model, (4) custom layers (listed, with test vectors) -- and proves the result numerically.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convert/checker.hpp"
#include "convert/rewrite.hpp"
#include "convert/target_profile.hpp"
#include "convert/verify.hpp"

namespace nnport::convert {

struct ConvertOptions {
    bool allow_approx = false;  ///< accept fitted/approximate substitutions (their residual is reported)
    std::string data_dir;       ///< calibration and verification samples (see make_samples); "" = random only
    int random_samples = 3;     ///< seeded random samples used in addition to data_dir's
    uint64_t seed = 1;
    /// Input shapes to pin (input name -> dims); other symbolic dims are pinned to 1 when the target needs static
    /// shapes.
    std::map<std::string, std::vector<int64_t>> input_shapes;
    double exact_tol = 1e-5;  ///< exact conversions must match within this relative error (max |diff| / max |ref|)
    int max_rounds = 16;      ///< check -> rewrite rounds before giving up
};

/// One rewrite the converter applied.
struct AppliedRewrite {
    std::string rewrite, kind, node, op;
};

/// Everything a conversion did and measured.
struct ConvertResult {
    std::unique_ptr<ir::Model> model;  ///< for the target (standard ONNX)
    std::unique_ptr<ir::Model> post;   ///< host post-processing model (scenario 3 or unpacking), or null
    int64_t opset = 0;                 ///< default-domain opset the models are written at
    CheckReport before, after;         ///< the original and the converted model against the profile
    std::vector<AppliedRewrite> applied;
    std::vector<ApproxRecord> approx;
    std::vector<std::string> moved, cut;  ///< scenario 3: nodes moved to the host, tensors crossing the cut
    std::string manifest_json;            ///< packed outputs' manifest ("" when not packed)
    std::vector<NodeIssue> custom_layers; ///< scenario 4: nodes the target must implement itself
    std::vector<std::string> problems;    ///< why the conversion could not complete (empty on success)
    // Verification.
    int samples = 0;
    std::vector<OutputAgreement> agreement;
    bool verified = false;  ///< outputs within tolerance (exact_tol when exact)
    Divergence divergence;  ///< first diverging tensor when verification failed
    std::string divergence_rewrite;  ///< the rewrite that produced that tensor, when known

    bool exact() const { return approx.empty(); }
    /// "runs as is", "converted exactly", "converted approximately", "needs custom layers", "failed".
    std::string status() const;
    /// 0 converted (or runs as is), 3 needs custom layers, 1 failed.
    int exit_code() const;
};

/// Converts the model at `path` for `profile`. Returns an error only for unreadable input or internal failures;
/// a conversion that cannot complete returns a result with `problems` filled and exit_code() 1.
Result<ConvertResult> convert_model(const std::string& path, const TargetProfile& profile,
                                    const RewriteCatalogue& catalogue, const ConvertOptions& options);

/// Writes the inputs and expected outputs of every custom-layer node (run on the original model, first sample) as
/// .npy under dir/<node name>/ (input_<k>.npy, output_<k>.npy) plus dir/test_vectors.json listing them.
Status write_custom_layer_vectors(const std::string& path, const ConvertResult& r, const ConvertOptions& options,
                                  const std::string& dir);

/// Human-readable and JSON reports.
std::string convert_report_text(const ConvertResult& r);
std::string convert_report_json(const ConvertResult& r);

}  // namespace nnport::convert

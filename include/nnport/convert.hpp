// nnport public C++ API for deployment targets: convert a model for a target profile (the paper's four scenarios,
// verified against the original), and run a converted model together with its host post-processing model.
//
//   nnport::ConvertRequest req;
//   req.model = "model.onnx"; req.target = "tflite"; req.output = "model_tflite.onnx";
//   auto r = nnport::convert_model_file(req);        // r->status: "converted exactly", ...
//   auto s = nnport::PostProcessedSession::load(req.output, r->post_output);  // post_output may be ""
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nnport/nnport.hpp"

namespace nnport {

/// What to convert, for which target, and where to write it.
struct ConvertRequest {
    std::string model;   ///< input ONNX file
    std::string target;  ///< profile name (`nnport targets`)
    std::string output;  ///< converted model file
    /// Post-processing model file (scenario 3 / output unpacking); "" = OUTPUT with ".post.onnx".
    std::string post_output;
    /// Custom-layer test vectors folder; "" = OUTPUT stem + "_test_vectors".
    std::string test_vectors_dir;
    std::string data_dir;     ///< sample inputs for fitting and verification ("" = random samples only)
    std::string targets_dir;  ///< profiles folder ("" = $NNPORT_TARGETS_DIR or the installed targets/)
    int random_samples = 3;
    bool allow_approx = false;  ///< accept fitted substitutions
    double tolerance = 1e-5;    ///< exact conversions must match within this relative error
    std::map<std::string, std::vector<int64_t>> input_shapes;  ///< inputs to pin
};

/// What a conversion did.
struct ConvertOutcome {
    /// "runs as is", "converted exactly", "converted approximately", "needs custom layers" or "failed".
    std::string status;
    int exit_code = 0;  ///< 0 converted, 3 needs custom layers, 1 failed (nothing written)
    bool exact = true;
    bool verified = false;
    double max_rel_error = 0;  ///< worst output, max |diff| / max |reference|, over all samples
    std::string post_output;   ///< the post-processing model written, or ""
    std::string test_vectors_dir;  ///< where custom-layer test vectors were written, or ""
    std::string report_text, report_json;
};

/// Converts `req.model` for `req.target`, verifies it and writes the files (only when the conversion did not fail).
/// Errors: unreadable model, unknown target, unwritable output.
Result<ConvertOutcome> convert_model_file(const ConvertRequest& req);

/// A converted model and its post-processing model, run as one: the post model's inputs are fed from the first
/// model's outputs (by name), or else from the caller's inputs; the outputs are the post model's (the original
/// model's outputs, in order).
class PostProcessedSession {
public:
    /// `post` may be "" (then this is a plain session).
    static Result<std::unique_ptr<PostProcessedSession>> load(const std::string& model, const std::string& post,
                                                              const SessionOptions& options = {});
    /// Inputs of the first model.
    const std::vector<TensorInfo>& inputs() const;
    /// Final outputs (the post model's, or the first model's without one).
    const std::vector<TensorInfo>& outputs() const;
    Result<std::vector<Tensor>> run(const std::vector<std::pair<std::string, Tensor>>& inputs) const;
    Result<std::vector<RtValue>> run_values(const std::vector<std::pair<std::string, RtValue>>& inputs) const;
    const Session& main() const { return *main_; }
    const Session* post() const { return post_.get(); }

private:
    PostProcessedSession() = default;
    std::unique_ptr<Session> main_, post_;
};

}  // namespace nnport

// The public conversion API (include/nnport/convert.hpp): convert_model_file and PostProcessedSession.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "convert/convert.hpp"
#include "nnport/convert.hpp"
#include "onnx/exporter.hpp"

namespace nnport {

namespace {

std::string sibling(const std::string& out, const std::string& suffix) {
    std::filesystem::path p(out);
    return (p.parent_path() / (p.stem().string() + suffix)).string();
}

Status write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    if (!f) return io_error(path + ": cannot write");
    return Status::ok();
}

bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec;
    return std::filesystem::exists(b, ec) && std::filesystem::equivalent(a, b, ec);
}

}  // namespace

Result<ConvertOutcome> convert_model_file(const ConvertRequest& req) {
    if (req.output.empty()) return invalid_argument("convert: no output file given");
    NNPORT_ASSIGN_OR_RETURN(std::string dir, convert::find_targets_dir(req.targets_dir));
    NNPORT_ASSIGN_OR_RETURN(convert::TargetProfile profile, convert::load_profile(dir, req.target));
    NNPORT_ASSIGN_OR_RETURN(convert::RewriteCatalogue catalogue, convert::load_rewrites(dir));
    convert::ConvertOptions o;
    o.allow_approx = req.allow_approx;
    o.data_dir = req.data_dir;
    o.random_samples = req.random_samples;
    o.input_shapes = req.input_shapes;
    o.exact_tol = req.tolerance;
    if (o.random_samples <= 0 && o.data_dir.empty()) {
        return invalid_argument("convert: no samples to verify with (give --data or at least one random sample)");
    }
    NNPORT_ASSIGN_OR_RETURN(convert::ConvertResult r, convert::convert_model(req.model, profile, catalogue, o));
    ConvertOutcome out;
    out.status = r.status();
    out.exit_code = r.exit_code();
    out.exact = r.exact();
    out.verified = r.verified;
    for (const convert::OutputAgreement& a : r.agreement) out.max_rel_error = std::max(out.max_rel_error, a.max_rel);
    if (r.exit_code() != 1) {
        const std::string post = req.post_output.empty() ? sibling(req.output, ".post.onnx") : req.post_output;
        for (const std::string& f : {req.output, post}) {
            if (same_file(req.model, f)) return invalid_argument(f + ": refusing to overwrite the input model");
        }
        onnx_export::ExportOptions eo;
        eo.opset = r.opset;
        NNPORT_RETURN_IF_ERROR(onnx_export::save_model(*r.model, req.output, eo));
        if (r.post) {
            NNPORT_RETURN_IF_ERROR(onnx_export::save_model(*r.post, post));
            out.post_output = post;
        }
        if (!r.manifest_json.empty()) {
            NNPORT_RETURN_IF_ERROR(write_text(sibling(req.output, ".manifest.json"), r.manifest_json + "\n"));
        }
        if (!r.custom_layers.empty()) {
            out.test_vectors_dir =
                req.test_vectors_dir.empty() ? sibling(req.output, "_test_vectors") : req.test_vectors_dir;
            NNPORT_RETURN_IF_ERROR(convert::write_custom_layer_vectors(req.model, r, o, out.test_vectors_dir));
        }
    }
    out.report_text = convert::convert_report_text(r);
    out.report_json = convert::convert_report_json(r);
    return out;
}

Result<std::unique_ptr<PostProcessedSession>> PostProcessedSession::load(const std::string& model,
                                                                        const std::string& post,
                                                                        const SessionOptions& options) {
    auto s = std::unique_ptr<PostProcessedSession>(new PostProcessedSession());
    NNPORT_ASSIGN_OR_RETURN(s->main_, Session::load(model, options));
    if (!post.empty()) {
        NNPORT_ASSIGN_OR_RETURN(s->post_, Session::load(post, options));
        for (const TensorInfo& in : s->post_->inputs()) {
            const auto& mo = s->main_->outputs();
            const auto& mi = s->main_->inputs();
            auto named = [&](const TensorInfo& t) { return t.name == in.name; };
            if (std::none_of(mo.begin(), mo.end(), named) && std::none_of(mi.begin(), mi.end(), named)) {
                return invalid_argument(post + ": post-processing input '" + in.name + "' is neither an output nor "
                                        "an input of " + model);
            }
        }
    }
    return s;
}

const std::vector<TensorInfo>& PostProcessedSession::inputs() const { return main_->inputs(); }

const std::vector<TensorInfo>& PostProcessedSession::outputs() const {
    return post_ ? post_->outputs() : main_->outputs();
}

Result<std::vector<RtValue>> PostProcessedSession::run_values(
    const std::vector<std::pair<std::string, RtValue>>& inputs) const {
    NNPORT_ASSIGN_OR_RETURN(std::vector<RtValue> first, main_->run_values(inputs));
    if (!post_) return first;
    std::vector<std::pair<std::string, RtValue>> feeds;
    for (const TensorInfo& in : post_->inputs()) {
        const auto& mo = main_->outputs();
        bool found = false;
        for (size_t i = 0; i < mo.size() && !found; ++i) {
            if (mo[i].name == in.name) {
                feeds.emplace_back(in.name, first[i]);
                found = true;
            }
        }
        for (size_t i = 0; i < inputs.size() && !found; ++i) {
            if (inputs[i].first == in.name) {
                feeds.emplace_back(in.name, inputs[i].second);
                found = true;
            }
        }
        if (!found) return invalid_argument("post-processing input '" + in.name + "' was not fed");
    }
    return post_->run_values(feeds);
}

Result<std::vector<Tensor>> PostProcessedSession::run(const std::vector<std::pair<std::string, Tensor>>& inputs) const {
    std::vector<std::pair<std::string, RtValue>> in;
    for (const auto& [n, t] : inputs) in.emplace_back(n, RtValue(t));
    NNPORT_ASSIGN_OR_RETURN(std::vector<RtValue> out, run_values(in));
    std::vector<Tensor> ts;
    for (RtValue& v : out) {
        if (!v.is_tensor()) return invalid_argument("run(): an output is not a tensor; use run_values()");
        ts.push_back(std::move(v.tensor));
    }
    return ts;
}

}  // namespace nnport

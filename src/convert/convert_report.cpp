// `nnport convert` reports (text and JSON) and the custom-layer test vectors.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "convert/convert.hpp"
#include "io/npy.hpp"
#include "onnx/importer.hpp"

namespace nnport::convert {

namespace {

std::string fmt_err(double v) {
    if (v < 0) return "n/a";
    std::ostringstream o;
    o << std::setprecision(3) << v;
    return o.str();
}

/// A node name as a folder name: characters other than letters, digits, '-', '_' and '.' become '_', and a name
/// of dots only gets a prefix (node names are model data and must not lead outside the test-vector folder).
std::string safe_dir_name(const std::string& name) {
    std::string s;
    for (char ch : name) s += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.') ? ch : '_';
    if (s.empty() || s.find_first_not_of('.') == std::string::npos) s = "node_" + s;
    return s;
}

}  // namespace

std::string convert_report_text(const ConvertResult& r) {
    std::ostringstream o;
    o << r.before.model << " -> " << r.before.target << " " << r.before.target_version << ": " << r.status() << "\n";
    o << "before: " << verdict_name(r.before.verdict) << " (" << r.before.nodes.size() << " node issue(s), "
      << r.before.model_issues.size() << " model issue(s)); after: " << verdict_name(r.after.verdict) << "\n";
    if (!r.applied.empty()) {
        std::map<std::string, int> counts;
        for (const AppliedRewrite& a : r.applied) counts[a.rewrite + " (" + a.kind + ")"]++;
        o << "rewrites applied (" << r.applied.size() << "):\n";
        for (const auto& [name, n] : counts) o << "  " << n << " x " << name << "\n";
    }
    for (const ApproxRecord& a : r.approx) {
        o << "approximation: " << a.rewrite << " on '" << a.node << "': max abs error " << fmt_err(a.max_abs_error)
          << ", relative RMS " << fmt_err(a.rel_rms_error) << " on the calibration samples\n";
    }
    if (!r.moved.empty()) {
        o << "post-processing (scenario 3): " << r.moved.size() << " node(s) moved to the host:";
        for (const std::string& m : r.moved) o << " " << m;
        o << "\n  tensors crossing the cut:";
        for (const std::string& c : r.cut) o << " " << c;
        o << "\n";
    }
    if (!r.manifest_json.empty()) o << "outputs packed into one: " << r.manifest_json << "\n";
    for (const NodeIssue& c : r.custom_layers) {
        o << "custom layer (scenario 4): " << c.op << " '" << c.name << "'";
        if (!c.violations.empty()) o << ": " << c.violations.front().detail;
        o << "\n";
    }
    if (!r.agreement.empty()) {
        o << "verification on " << r.samples << " sample(s):\n";
        for (const OutputAgreement& a : r.agreement) {
            o << "  " << a.name << ": max abs " << fmt_err(a.max_abs) << ", max rel " << fmt_err(a.max_rel)
              << ", cosine " << std::setprecision(8) << a.min_cosine << "\n";
        }
    }
    for (const std::string& p : r.problems) o << "error: " << p << "\n";
    return o.str();
}

std::string convert_report_json(const ConvertResult& r) {
    nlohmann::json j;
    j["model"] = r.before.model;
    j["target"] = r.before.target;
    j["target_version"] = r.before.target_version;
    j["status"] = r.status();
    j["exact"] = r.exact();
    j["opset"] = r.opset;
    j["verdict_before"] = verdict_name(r.before.verdict);
    j["verdict_after"] = verdict_name(r.after.verdict);
    j["rewrites"] = nlohmann::json::array();
    for (const AppliedRewrite& a : r.applied)
        j["rewrites"].push_back({{"rewrite", a.rewrite}, {"kind", a.kind}, {"node", a.node}, {"op", a.op}});
    j["approximations"] = nlohmann::json::array();
    for (const ApproxRecord& a : r.approx) {
        j["approximations"].push_back({{"rewrite", a.rewrite},
                                       {"node", a.node},
                                       {"max_abs_error", a.max_abs_error},
                                       {"rel_rms_error", a.rel_rms_error}});
    }
    j["post_processing"] = {{"moved_nodes", r.moved}, {"cut_tensors", r.cut}};
    if (!r.manifest_json.empty()) j["packed_outputs"] = nlohmann::json::parse(r.manifest_json);
    j["custom_layers"] = nlohmann::json::array();
    for (const NodeIssue& c : r.custom_layers) {
        j["custom_layers"].push_back(
            {{"name", c.name}, {"op", c.op}, {"domain", c.domain},
             {"violation", c.violations.empty() ? "" : c.violations.front().detail}});
    }
    j["verification"] = {{"samples", r.samples}, {"passed", r.verified}, {"outputs", nlohmann::json::array()}};
    for (const OutputAgreement& a : r.agreement) {
        j["verification"]["outputs"].push_back(
            {{"name", a.name}, {"max_abs", a.max_abs}, {"max_rel", a.max_rel}, {"min_cosine", a.min_cosine}});
    }
    if (r.divergence.found) {
        j["verification"]["first_divergence"] = {{"tensor", r.divergence.value},
                                                 {"node", r.divergence.node},
                                                 {"max_rel", r.divergence.max_rel},
                                                 {"rewrite", r.divergence_rewrite}};
    }
    j["problems"] = r.problems;
    j["exit_code"] = r.exit_code();
    return j.dump(1);
}

Status write_custom_layer_vectors(const std::string& path, const ConvertResult& r, const ConvertOptions& options,
                                  const std::string& dir) {
    namespace fs = std::filesystem;
    if (r.custom_layers.empty()) return Status::ok();
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> original, onnx_import::load_model(path));
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> model, clone_model(*r.model));
    NNPORT_ASSIGN_OR_RETURN(std::vector<Feeds> samples, make_samples(*model, options.data_dir, 1, options.seed));
    samples.resize(1);
    nlohmann::json index = nlohmann::json::array();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return io_error(dir + ": cannot create: " + ec.message());
    for (const NodeIssue& c : r.custom_layers) {
        const ir::Node* node = nullptr;
        model->graph->for_each_node_recursive([&](ir::Node& n) {
            if (!node && n.name() == c.name) node = &n;
        });
        if (!node || node->graph() != model->graph.get()) continue;  // subgraph nodes: no vectors
        std::vector<std::string> ins, outs;
        for (const ir::Value* v : node->inputs()) {
            if (v) ins.push_back(v->name());
        }
        for (const ir::Value* v : node->outputs()) {
            if (v) outs.push_back(v->name());
        }
        // Prefer the original model's values (the issue asks for vectors captured from it); fall back to the
        // converted model for tensors a rewrite created.
        std::vector<std::string> all = ins;
        all.insert(all.end(), outs.begin(), outs.end());
        std::vector<Tensor> values;
        bool from_original = std::all_of(all.begin(), all.end(), [&](const std::string& n) {
            return original->graph->find_value(n) != nullptr;
        });
        const ir::Model& src = from_original ? *original : *model;
        std::vector<std::string> extra;
        for (const std::string& n : all) {
            const ir::Value* v = src.graph->find_value(n);
            if (!v->has_initializer()) extra.push_back(n);
        }
        NNPORT_ASSIGN_OR_RETURN(auto runs, run_samples(src, samples, extra));
        const size_t base = src.graph->outputs().size();
        const std::string sub = safe_dir_name(c.name);
        const fs::path nd = fs::path(dir) / sub;
        fs::create_directories(nd, ec);
        nlohmann::json entry = {{"node", c.name}, {"op", c.op}, {"domain", c.domain}, {"inputs", {}}, {"outputs", {}}};
        size_t k = 0;
        for (size_t i = 0; i < all.size(); ++i) {
            const ir::Value* v = src.graph->find_value(all[i]);
            const Tensor& t = v->has_initializer() ? v->initializer() : runs[0][base + k++];
            const bool is_in = i < ins.size();
            const std::string file = (is_in ? "input_" + std::to_string(i) : "output_" + std::to_string(i - ins.size())) + ".npy";
            NNPORT_RETURN_IF_ERROR(io::write_npy((nd / file).string(), t));
            entry[is_in ? "inputs" : "outputs"].push_back({{"tensor", all[i]}, {"file", sub + "/" + file}});
        }
        index.push_back(entry);
    }
    std::ofstream f(fs::path(dir) / "test_vectors.json");
    f << index.dump(1) << "\n";
    if (!f) return io_error(dir + "/test_vectors.json: write failed");
    return Status::ok();
}

}  // namespace nnport::convert

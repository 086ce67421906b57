// `nnport convert` reports (text and JSON) and the custom-layer test vectors.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
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
    // Each node's tensors come from the original model (as the issue asks) when all of them exist there, else from
    // the converted model (tensors a rewrite created). Both models run once, with every needed tensor as an output.
    struct Vectors {
        const NodeIssue* issue;
        std::vector<std::string> ins, outs;
        bool from_original;
    };
    std::vector<Vectors> nodes;
    std::vector<std::string> extra[2];  // [0] converted, [1] original
    for (const NodeIssue& c : r.custom_layers) {
        const ir::Node* node = nullptr;
        model->graph->for_each_node_recursive([&](ir::Node& n) {
            if (!node && n.name() == c.name) node = &n;
        });
        if (!node || node->graph() != model->graph.get()) continue;  // subgraph nodes: no vectors
        Vectors v{&c, {}, {}, true};
        for (const ir::Value* x : node->inputs()) {
            if (x) v.ins.push_back(x->name());
        }
        for (const ir::Value* x : node->outputs()) {
            if (x) v.outs.push_back(x->name());
        }
        for (const auto* list : {&v.ins, &v.outs}) {
            for (const std::string& n : *list) v.from_original &= original->graph->find_value(n) != nullptr;
        }
        const ir::Model& src = v.from_original ? *original : *model;
        for (const auto* list : {&v.ins, &v.outs}) {
            for (const std::string& n : *list) {
                std::vector<std::string>& e = extra[v.from_original];
                if (!src.graph->find_value(n)->has_initializer() && std::find(e.begin(), e.end(), n) == e.end())
                    e.push_back(n);
            }
        }
        nodes.push_back(std::move(v));
    }
    std::map<std::string, Tensor> values[2];
    for (int k = 0; k < 2; ++k) {
        if (extra[k].empty()) continue;
        const ir::Model& src = k ? *original : *model;
        NNPORT_ASSIGN_OR_RETURN(auto runs, run_samples(src, samples, extra[k]));
        const size_t base = src.graph->outputs().size();
        for (size_t i = 0; i < extra[k].size(); ++i) values[k][extra[k][i]] = runs[0][base + i];
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return io_error(dir + ": cannot create: " + ec.message());
    nlohmann::json index = nlohmann::json::array();
    for (const Vectors& v : nodes) {
        const ir::Model& src = v.from_original ? *original : *model;
        const std::string sub = safe_dir_name(v.issue->name);
        const fs::path nd = fs::path(dir) / sub;
        fs::create_directories(nd, ec);
        if (ec) return io_error(nd.string() + ": cannot create: " + ec.message());
        nlohmann::json entry = {{"node", v.issue->name}, {"op", v.issue->op}, {"domain", v.issue->domain},
                                {"source", v.from_original ? "original" : "converted"},
                                {"inputs", nlohmann::json::array()}, {"outputs", nlohmann::json::array()}};
        for (int side = 0; side < 2; ++side) {
            const std::vector<std::string>& names = side ? v.outs : v.ins;
            for (size_t i = 0; i < names.size(); ++i) {
                const ir::Value* x = src.graph->find_value(names[i]);
                const Tensor& t = x->has_initializer() ? x->initializer() : values[v.from_original].at(names[i]);
                const std::string file = (side ? "output_" : "input_") + std::to_string(i) + ".npy";
                NNPORT_RETURN_IF_ERROR(io::write_npy((nd / file).string(), t));
                entry[side ? "outputs" : "inputs"].push_back({{"tensor", names[i]}, {"file", sub + "/" + file}});
            }
        }
        index.push_back(entry);
    }
    std::ofstream f(fs::path(dir) / "test_vectors.json");
    f << index.dump(1) << "\n";
    if (!f) return io_error(dir + "/test_vectors.json: write failed");
    return Status::ok();
}

}  // namespace nnport::convert

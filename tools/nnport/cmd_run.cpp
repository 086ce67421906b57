// `nnport run MODEL [-i FILE]... [-i NAME=FILE]... [-o DIR] [--threads N]`
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "io/input_files.hpp"
#include "io/npy.hpp"
#include "ir/graph.hpp"
#include "nnport/nnport.hpp"

namespace nnport::cli {

namespace fs = std::filesystem;

namespace {

struct RunArgs {
    std::string model;
    std::vector<std::string> inputs;
    std::string out_dir;
    int threads = 0;
};

/// File-name-safe form of an output name.
std::string sanitize(const std::string& name) {
    std::string s;
    for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
    if (s.empty() || s[0] == '.') s = "_" + s;
    return s;
}

std::string summarize(const Tensor& t) {
    std::string s = std::string(dtype_name(t.dtype())) + shape_to_string(t.shape());
    if (t.dtype() == DType::kString || t.numel() == 0) return s;
    double mn = t.item_as_double(0), mx = mn, sum = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
        const double v = t.item_as_double(i);
        mn = std::min(mn, v);
        mx = std::max(mx, v);
        sum += v;
    }
    s += " min=" + std::to_string(mn) + " max=" + std::to_string(mx) + " mean=" + std::to_string(sum / static_cast<double>(t.numel()));
    s += " first=[";
    for (int64_t i = 0; i < std::min<int64_t>(t.numel(), 5); ++i) s += (i ? ", " : "") + std::to_string(t.item_as_double(i));
    return s + "]";
}

int run_command(const RunArgs& a) {
    SessionOptions opts;
    opts.threads = a.threads;
    auto sr = Session::load(a.model, opts);
    if (!sr.is_ok()) return fail(sr.status());
    const Session& s = *sr.value();
    const ir::Graph& g = *s.model().graph;
    std::vector<const ir::Value*> feedable;
    for (const ir::Value* v : g.inputs()) {
        if (!v->has_initializer()) feedable.push_back(v);
    }
    std::map<std::string, RtValue> feeds;
    size_t position = 0;
    for (const std::string& spec : a.inputs) {
        std::string name, file = spec;
        const auto eq = spec.find('=');
        if (eq != std::string::npos && !fs::exists(spec)) {
            name = spec.substr(0, eq);
            file = spec.substr(eq + 1);
        }
        const ir::Value* target = nullptr;
        if (!name.empty()) {
            target = g.find_value(name);
            if (!target || !target->is_graph_input()) {
                return fail(invalid_argument(a.model + ": the model has no input named '" + name + "'"));
            }
        }
        // Read once without type knowledge to learn an embedded name; sequences need the type.
        const ir::Value* pos_target = position < feedable.size() ? feedable[position] : nullptr;
        const ir::Value* hint = target ? target : pos_target;
        auto lv = io::read_value_file(file, hint ? &hint->type : nullptr);
        if (!lv.is_ok()) return fail(lv.status());
        if (!target && !lv->embedded_name.empty()) {
            const ir::Value* by_name = g.find_value(lv->embedded_name);
            if (by_name && by_name->is_graph_input()) target = by_name;
        }
        if (!target) {
            if (!pos_target) {
                return fail(invalid_argument(file + ": more input files than the model has inputs (" +
                                             std::to_string(feedable.size()) + ")"));
            }
            target = pos_target;
        }
        if (name.empty()) ++position;
        // bfloat16 has no numpy dtype: .npy files (ours included) and some ONNX test data carry its bits as uint16.
        if (target->type.is_tensor() && target->type.dtype == DType::kBFloat16 && lv->value.is_tensor() &&
            lv->value.tensor.dtype() == DType::kUInt16) {
            const Tensor& bits = lv->value.tensor;
            lv->value = RtValue(Tensor::view(DType::kBFloat16, bits.shape(), bits.clone().storage()));
        }
        if (feeds.count(target->name())) return fail(invalid_argument(file + ": input '" + target->name() + "' is given twice"));
        feeds[target->name()] = std::move(lv->value);
    }
    uint64_t seed = 0x6e6e706f7274ULL;
    for (const ir::Value* v : feedable) {
        ++seed;
        if (feeds.count(v->name())) continue;
        auto rv = io::random_value(v->type, seed);
        if (!rv.is_ok()) return fail(rv.status().with_context(a.model + ": input '" + v->name() + "'"));
        std::cerr << "nnport: notice: input '" << v->name() << "' not given; using random " << v->type.to_string()
                  << " (seed " << seed << ")\n";
        feeds[v->name()] = std::move(rv).value();
    }
    std::vector<std::pair<std::string, RtValue>> feed_list(feeds.begin(), feeds.end());
    auto out = s.run_values(feed_list);
    if (!out.is_ok()) return fail(out.status().with_context(a.model));
    const auto& outs = out.value();
    if (a.out_dir.empty()) {
        for (size_t i = 0; i < outs.size(); ++i) {
            const std::string& name = g.outputs()[i]->name();
            if (outs[i].is_tensor()) {
                std::cout << name << ": " << summarize(outs[i].tensor) << "\n";
            } else if (outs[i].is_sequence()) {
                std::cout << name << ": sequence of " << outs[i].sequence.size() << " tensors\n";
            } else {
                std::cout << name << ": none\n";
            }
        }
        return kExitOk;
    }
    std::error_code ec;
    fs::create_directories(a.out_dir, ec);
    if (ec) return fail(io_error(a.out_dir + ": cannot create directory"));
    nlohmann::json j;
    j["outputs"] = nlohmann::json::array();
    std::set<std::string> used;
    auto unique_file = [&](const std::string& base) {
        std::string f = base;
        for (int k = 1; used.count(f); ++k) f = base + "_" + std::to_string(k);
        used.insert(f);
        return f;
    };
    for (size_t i = 0; i < outs.size(); ++i) {
        const std::string& name = g.outputs()[i]->name();
        nlohmann::json o;
        o["name"] = name;
        if (outs[i].is_tensor()) {
            const std::string file = unique_file(sanitize(name)) + ".npy";
            Status st = io::write_npy((fs::path(a.out_dir) / file).string(), outs[i].tensor);
            if (!st.is_ok()) return fail(st);
            o["file"] = file;
            o["dtype"] = dtype_name(outs[i].tensor.dtype());
            o["shape"] = outs[i].tensor.shape();
        } else if (outs[i].is_sequence()) {
            o["kind"] = "sequence";
            o["dtype"] = dtype_name(outs[i].seq_dtype);
            o["files"] = nlohmann::json::array();
            o["shapes"] = nlohmann::json::array();
            const std::string base = unique_file(sanitize(name));
            for (size_t k = 0; k < outs[i].sequence.size(); ++k) {
                const std::string file = base + "." + std::to_string(k) + ".npy";
                Status st = io::write_npy((fs::path(a.out_dir) / file).string(), outs[i].sequence[k]);
                if (!st.is_ok()) return fail(st);
                o["files"].push_back(file);
                o["shapes"].push_back(outs[i].sequence[k].shape());
            }
        } else {
            o["kind"] = "none";
            o["file"] = nullptr;
        }
        j["outputs"].push_back(o);
    }
    std::ofstream jf(fs::path(a.out_dir) / "outputs.json");
    jf << j.dump(2) << "\n";
    if (!jf) return fail(io_error(a.out_dir + "/outputs.json: write failed"));
    return kExitOk;
}

}  // namespace

void setup_run(CLI::App& app, Action& action) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* c = app.add_subcommand("run", "Run a model on input files (.pb or .npy) or random inputs");
    c->add_option("model", args->model, "ONNX model file")->required();
    c->add_option("-i,--input", args->inputs, "Input FILE or NAME=FILE (.pb TensorProto or .npy); repeatable");
    c->add_option("-o,--output-dir", args->out_dir, "Write each output as DIR/<name>.npy and DIR/outputs.json");
    c->add_option("--threads", args->threads, "Worker threads (default: physical cores)")->check(CLI::NonNegativeNumber);
    c->callback([args, &action] { action = [args] { return run_command(*args); }; });
}

}  // namespace nnport::cli

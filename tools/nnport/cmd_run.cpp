// `nnport run MODEL [-i FILE]... [-i NAME=FILE]... [--shape NAME=DxD...]... [-o DIR] [--threads N]`
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "nnport/convert.hpp"
#include "io/npy.hpp"
#include "ir/graph.hpp"
#include "model_io.hpp"
#include "nnport/nnport.hpp"
#include "plugin_option.hpp"

namespace nnport::cli {

namespace fs = std::filesystem;

namespace {

struct RunArgs {
    std::string model;
    std::vector<std::string> inputs;
    std::vector<std::string> shapes;
    std::string out_dir;
    int threads = 0;
    int level = 3;
    bool no_memory_plan = false;
    std::string backends;
    std::vector<std::string> plugins;  ///< --plugin
    std::string post;                  ///< --post: post-processing model run after this one
};

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
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    SessionOptions opts;
    opts.threads = a.threads;
    opts.optimization_level = a.level;
    opts.memory_planning = !a.no_memory_plan;
    opts.backends = a.backends;
    auto sr = PostProcessedSession::load(a.model, a.post, opts);
    if (!sr.is_ok()) return fail(sr.status());
    const PostProcessedSession& pair = *sr.value();
    const Session& s = pair.main();
    std::vector<std::string> out_names;
    for (const TensorInfo& t : pair.outputs()) out_names.push_back(t.name);
    const ir::Graph& g = *s.model().graph;
    FeedOptions fo;
    fo.inputs = a.inputs;
    fo.shapes = a.shapes;
    auto feeds = make_feeds(g, a.model, fo);
    if (!feeds.is_ok()) return fail(feeds.status());
    auto out = pair.run_values(feed_pairs(*feeds));
    if (!out.is_ok()) return fail(out.status().with_context(a.model));
    const auto& outs = out.value();
    if (a.out_dir.empty()) {
        for (size_t i = 0; i < outs.size(); ++i) {
            const std::string& name = out_names[i];
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
        const std::string& name = out_names[i];
        nlohmann::json o;
        o["name"] = name;
        if (outs[i].is_tensor()) {
            const std::string file = unique_file(output_file_stem(name)) + ".npy";
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
            const std::string base = unique_file(output_file_stem(name));
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
    c->add_option("--shape", args->shapes, "NAME=D1xD2x...: shape of a random input with symbolic dims; repeatable");
    c->add_option("--post", args->post,
                  "Post-processing model from nnport convert (OUT.post.onnx): run after MODEL, fed by its outputs; "
                  "the outputs printed or written are the post model's");
    c->add_option("-o,--output-dir", args->out_dir, "Write each output as DIR/<name>.npy and DIR/outputs.json");
    c->add_option("--threads", args->threads, "Worker threads (default: physical cores)")->check(CLI::NonNegativeNumber);
    c->add_option("--backend", args->backends, backend_option_help())->check(backend_list_validator());
    c->add_option("--level", args->level, "Graph optimization level: 0 none, 1 basic, 2 extended, 3 all (default)")
        ->check(CLI::Range(0, 3));
    c->add_flag("--no-memory-plan", args->no_memory_plan, "Allocate every tensor on the heap (no planned arena)");
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return run_command(*args); }; });
}

}  // namespace nnport::cli

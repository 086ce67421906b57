// `nnport inspect MODEL [--json] [--graph]`: inputs/outputs, op histogram, opsets, parameters, FLOPs.
// `nnport inspect --memory MODEL [--json] [--shape NAME=DxD...]`: the static memory plan of the optimized graph.
#include <algorithm>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "ir/graph.hpp"
#include "model_io.hpp"
#include "nnport/nnport.hpp"
#include "onnx/importer.hpp"
#include "plugin_option.hpp"
#include "runtime/executor.hpp"
#include "runtime/memory_arena.hpp"
#include "runtime/model_stats.hpp"

namespace nnport::cli {

namespace {

struct InspectArgs {
    std::string model;
    bool json = false;
    bool graph = false;
    bool memory = false;
    std::vector<std::string> shapes;
    int level = 3;
    bool partition = false;
    std::string backends;  ///< empty: "ref" for the model summary, the default list for --partition and --memory
    std::vector<std::string> plugins;  ///< --plugin
};

nlohmann::json value_json(const ir::Value& v) {
    nlohmann::json j;
    j["name"] = v.name();
    j["type"] = v.type.to_string();
    j["dtype"] = dtype_name(v.type.dtype);
    nlohmann::json shape = nlohmann::json::array();
    for (const ir::Dim& d : v.type.dims) {
        if (d.is_static()) shape.push_back(d.value);
        else shape.push_back(d.param.empty() ? "?" : d.param);
    }
    j["shape"] = v.type.has_shape ? shape : nlohmann::json(nullptr);
    return j;
}

/// The memory plan the session makes for the given (or declared, symbolic dims = 1) input shapes.
int memory_command(const InspectArgs& a, const Session& s) {
    const ir::Graph& g = *s.model().graph;
    FeedOptions fo;
    fo.shapes = a.shapes;
    fo.notify_random = false;
    auto feeds = make_feeds(g, a.model, fo);
    if (!feeds.is_ok()) return fail(feeds.status());
    std::vector<RtValue> bound(g.inputs().size());
    nlohmann::json inputs = nlohmann::json::object();
    bool dynamic = false;
    for (size_t i = 0; i < g.inputs().size(); ++i) {
        const ir::Value* v = g.inputs()[i];
        for (const ir::Dim& d : v->type.dims) dynamic = dynamic || !d.is_static();
        if (!v->type.has_shape && !v->has_initializer()) dynamic = true;
        for (const Feed& f : feeds.value()) {
            if (f.name != v->name()) continue;
            bound[i] = f.value;
            if (f.value.is_tensor()) inputs[f.name] = f.value.tensor.shape();
        }
    }
    auto gp = GraphPlan::build(g);
    if (!gp.is_ok()) return fail(gp.status().with_context(a.model));
    const bool from_types =
        plan_memory(plan_steps(*gp.value()), slot_descs_from_types(*gp.value(), bind_symbols(*gp.value(), bound)))
            .complete;
    MemoryPlanCache cache(*gp.value(), 1, 0, false);
    Executor ex(nullptr);
    auto pr = cache.plan_for(bound, ex);
    if (!pr.is_ok()) return fail(pr.status().with_context(a.model));
    const MemoryPlan& p = *pr.value();
    const double ratio = p.lower_bound_bytes ? static_cast<double>(p.arena_bytes) / p.lower_bound_bytes : 1.0;
    nlohmann::json j;
    j["model"] = a.model;
    j["arena_bytes"] = p.arena_bytes;
    j["lower_bound_bytes"] = p.lower_bound_bytes;
    j["naive_bytes"] = p.naive_bytes;
    j["ratio"] = ratio;
    j["tensors"] = p.tensors;
    j["inplace"] = p.inplace;
    j["views"] = p.views;
    j["dynamic"] = dynamic;
    j["sizes_from"] = from_types ? "types" : "run";
    j["inputs"] = inputs;
    if (a.json) {
        std::cout << j.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << fmt::format("model        {}\n", a.model);
    std::cout << "inputs      ";
    for (const auto& [name, shape] : inputs.items()) {
        std::cout << " " << name << "=" << shape_to_string(shape.get<Shape>());
    }
    std::cout << (dynamic ? " (dynamic: the plan is made per input shape)" : "") << "\n";
    std::cout << fmt::format("arena        {} ({} bytes)\n", mib(p.arena_bytes), p.arena_bytes);
    std::cout << fmt::format("lower bound  {} ({} bytes; most bytes live at once)\n", mib(p.lower_bound_bytes),
                             p.lower_bound_bytes);
    std::cout << fmt::format("naive        {} ({} bytes; one allocation per tensor)\n", mib(p.naive_bytes),
                             p.naive_bytes);
    std::cout << fmt::format("ratio        {:.3f} (arena / lower bound)\n", ratio);
    std::cout << fmt::format("tensors      {} planned, {} in place, {} views; sizes from {}\n", p.tensors, p.inplace,
                             p.views, from_types ? "inferred types" : "a run");
    return kExitOk;
}

/// Which backend runs each node, and why a node fell back.
int partition_command(const InspectArgs& a, const Session& s) {
    const std::vector<NodePlacement> ps = s.placements();
    std::map<std::string, int> per_backend;
    int fallbacks = 0, transposes = 0;
    for (const NodePlacement& p : ps) {
        per_backend[p.backend]++;
        fallbacks += p.fallback_reason.empty() ? 0 : 1;
        transposes += p.op_type == "Transpose" ? 1 : 0;
    }
    std::string order;
    for (const std::string& b : s.backends()) order += (order.empty() ? "" : ",") + b;
    if (a.json) {
        nlohmann::json j;
        j["model"] = a.model;
        j["backends"] = s.backends();
        j["nodes_per_backend"] = per_backend;
        j["fallbacks"] = fallbacks;
        j["transposes"] = transposes;
        j["nodes"] = nlohmann::json::array();
        for (const NodePlacement& p : ps) {
            j["nodes"].push_back({{"name", p.name}, {"op", p.op_type}, {"backend", p.backend},
                                  {"fallback_reason", p.fallback_reason}});
        }
        std::cout << j.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << fmt::format("model      {}\nbackends   {} (preference order)\nnodes      {}", a.model, order, ps.size());
    for (const auto& [b, n] : per_backend) std::cout << fmt::format(", {} on {}", n, b);
    std::cout << fmt::format("\nTransposes {} (layout conversions and the model's own)\n\n", transposes);
    size_t wn = 4, wo = 2;
    for (const NodePlacement& p : ps) wn = std::max(wn, p.name.size()), wo = std::max(wo, p.op_type.size());
    wn = std::min<size_t>(wn, 48);
    for (const NodePlacement& p : ps) {
        std::cout << fmt::format("{:<{}}  {:<{}}  {:<8}", p.name, wn, p.op_type, wo, p.backend);
        if (!p.fallback_reason.empty()) std::cout << "  fell back: " << p.fallback_reason;
        std::cout << "\n";
    }
    return kExitOk;
}

int inspect_command(const InspectArgs& a) {
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    if (!a.memory && !a.shapes.empty()) return fail(invalid_argument("--shape is only used with --memory"));
    if (a.memory && a.partition) return fail(invalid_argument("--memory and --partition are separate views; pick one"));
    SessionOptions opts;
    opts.threads = 1;
    opts.optimization_level = a.level;
    opts.backends = a.backends.empty() && !a.memory && !a.partition ? "ref" : a.backends;
    auto sr = Session::load(a.model, opts);
    if (!sr.is_ok()) return fail(sr.status());
    if (a.memory) return memory_command(a, *sr.value());
    if (a.partition) return partition_command(a, *sr.value());
    const ir::Model& m = sr.value()->model();
    const ir::Graph& g = *m.graph;
    const ModelStats st = compute_stats(g);
    nlohmann::json j;
    j["model"] = a.model;
    j["ir_version"] = m.ir_version;
    j["producer"] = m.producer_name + (m.producer_version.empty() ? "" : " " + m.producer_version);
    j["opsets"] = nlohmann::json::object();
    for (const auto& [d, v] : m.opset_imports) j["opsets"][d.empty() ? "ai.onnx" : d] = v;
    j["inputs"] = nlohmann::json::array();
    for (const ir::Value* v : g.inputs()) {
        if (!v->has_initializer()) j["inputs"].push_back(value_json(*v));
    }
    j["outputs"] = nlohmann::json::array();
    for (const ir::Value* v : g.outputs()) j["outputs"].push_back(value_json(*v));
    j["nodes"] = st.node_count;
    j["op_histogram"] = st.op_histogram;
    j["parameters"] = st.parameter_count;
    j["parameter_bytes"] = st.parameter_bytes;
    j["flops"] = st.flops;
    j["nodes_without_flops"] = st.nodes_without_flops;
    if (a.json) {
        std::cout << j.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << fmt::format("model      {}\nproducer   {}\nir_version {}\n", a.model, j["producer"].get<std::string>(),
                             m.ir_version);
    std::cout << "opsets    ";
    for (const auto& [d, v] : m.opset_imports) std::cout << " " << (d.empty() ? "ai.onnx" : d) << "=" << v;
    std::cout << "\ninputs\n";
    for (const ir::Value* v : g.inputs()) {
        if (!v->has_initializer()) std::cout << "  " << v->name() << ": " << v->type.to_string() << "\n";
    }
    std::cout << "outputs\n";
    for (const ir::Value* v : g.outputs()) std::cout << "  " << v->name() << ": " << v->type.to_string() << "\n";
    std::cout << fmt::format("parameters {} ({:.2f} MiB)\n", st.parameter_count,
                             static_cast<double>(st.parameter_bytes) / (1 << 20));
    std::cout << fmt::format("flops      {:.3f} GFLOPs{}\n", static_cast<double>(st.flops) / 1e9,
                             st.nodes_without_flops ? fmt::format(" ({} nodes with dynamic shapes not counted)",
                                                                  st.nodes_without_flops)
                                                    : "");
    std::cout << "nodes      " << st.node_count << "\nops\n";
    std::vector<std::pair<int64_t, std::string>> ops;
    for (const auto& [k, v] : st.op_histogram) ops.emplace_back(-v, k);
    std::sort(ops.begin(), ops.end());
    for (const auto& [c, k] : ops) std::cout << fmt::format("  {:<28} {}\n", k, -c);
    if (a.graph) std::cout << "\n" << ir::to_text(g);
    return kExitOk;
}

}  // namespace

void setup_inspect(CLI::App& app, Action& action) {
    auto args = std::make_shared<InspectArgs>();
    CLI::App* c = app.add_subcommand("inspect", "Describe a model: inputs, outputs, ops, parameters, FLOPs");
    c->add_option("model", args->model, "ONNX model file")->required();
    c->add_flag("--json", args->json, "Machine-readable output");
    c->add_flag("--graph", args->graph, "Also print the graph as text");
    c->add_flag("--memory", args->memory,
                "Print the static memory plan instead: arena, lower bound (peak live bytes), naive total");
    c->add_flag("--partition", args->partition,
                "Print which backend runs each node (and why a node fell back to a later backend) instead");
    c->add_option("--backend", args->backends,
                  backend_option_help() + "; without --partition/--memory the summary describes the model on ref")
        ->check(backend_list_validator());
    c->add_option("--level", args->level, "Graph optimization level of the session: 0 none ... 3 all (default)")
        ->check(CLI::Range(0, 3));
    c->add_option("--shape", args->shapes,
                  "NAME=D1xD2x...: input shape to plan for with --memory (symbolic dims default to 1); repeatable");
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return inspect_command(*args); }; });
}

}  // namespace nnport::cli

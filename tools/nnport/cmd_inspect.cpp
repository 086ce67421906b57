// `nnport inspect MODEL [--json]`: inputs/outputs, op histogram, opsets, parameters, FLOPs.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "ir/graph.hpp"
#include "nnport/nnport.hpp"
#include "onnx/importer.hpp"
#include "runtime/model_stats.hpp"

namespace nnport::cli {

namespace {

struct InspectArgs {
    std::string model;
    bool json = false;
    bool graph = false;
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

int inspect_command(const InspectArgs& a) {
    SessionOptions opts;
    opts.threads = 1;
    auto sr = Session::load(a.model, opts);
    if (!sr.is_ok()) return fail(sr.status());
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
    c->callback([args, &action] { action = [args] { return inspect_command(*args); }; });
}

}  // namespace nnport::cli

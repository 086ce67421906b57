// Pieces of the `nnport bench` report.
#include "bench_report.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "onnx/importer.hpp"
#include "runtime/metrics.hpp"
#include "runtime/model_stats.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::cli {

namespace fs = std::filesystem;

namespace {

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    const size_t e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

nlohmann::json machine_info() {
    nlohmann::json j;
    std::string cpu;
    std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
    std::string physical_id, flags;
    std::ifstream f("/proc/cpuinfo");
    for (std::string line; std::getline(f, line);) {
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
        if (key == "model name" && cpu.empty()) cpu = value;
        if (key == "physical id") physical_id = value;
        if (key == "core id") cores.insert({physical_id, value});
        if (key == "flags" && flags.empty()) flags = " " + value + " ";
    }
    j["cpu"] = cpu.empty() ? "unknown" : cpu;
    j["logical_cpus"] = std::thread::hardware_concurrency();
    j["physical_cores"] = cores.empty() ? nlohmann::json(nullptr) : nlohmann::json(cores.size());
    nlohmann::json simd = nlohmann::json::array();
    for (const char* feat : {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                             "amx_tile", "asimd", "sve"}) {
        if (flags.find(std::string(" ") + feat + " ") != std::string::npos) simd.push_back(feat);
    }
    j["simd"] = simd;
    utsname u{};
    if (uname(&u) == 0) j["os"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
    return j;
}

std::string utc_now_iso8601() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

PeakRss peak_rss() {
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);) {
        if (line.rfind("VmHWM:", 0) == 0) {
            std::istringstream is(line.substr(6));
            int64_t kb = 0;
            if (is >> kb) return {kb * 1024, "VmHWM"};
        }
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return {static_cast<int64_t>(ru.ru_maxrss) * 1024, "ru_maxrss"};
}

int64_t model_bytes(const std::string& path, const ir::Model& m) {
    std::error_code ec;
    auto size = [&](const fs::path& p) {
        const auto n = fs::file_size(p, ec);
        return ec ? int64_t{0} : static_cast<int64_t>(n);
    };
    int64_t total = size(path);
    for (const std::string& f : m.external_data_files) total += size(fs::path(m.base_dir) / f);
    return total;
}

Result<FlopCount> count_flops(const std::string& path, const std::vector<Feed>& feeds) {
    NNPORT_ASSIGN_OR_RETURN(auto model, onnx_import::load_model(path));
    ir::Graph& g = *model->graph;
    for (const Feed& f : feeds) {
        ir::Value* v = g.find_value(f.name);
        if (v && f.value.is_tensor()) v->type = ir::ValueType::tensor(f.value.tensor.dtype(), f.value.tensor.shape());
    }
    ConstantMap consts;
    NNPORT_RETURN_IF_ERROR(infer_graph(g, consts));
    const ModelStats st = compute_stats(g);
    return FlopCount{st.flops, st.nodes_without_flops};
}

Result<nlohmann::json> accuracy_report(const std::string& dir, const ir::Graph& g, const std::vector<RtValue>& outs) {
    std::vector<std::string> names;
    std::vector<size_t> index;
    for (size_t i = 0; i < outs.size(); ++i) {
        if (!outs[i].is_tensor()) continue;
        names.push_back(g.outputs()[i]->name());
        index.push_back(i);
    }
    NNPORT_ASSIGN_OR_RETURN(auto refs, read_reference_outputs(dir, names));
    nlohmann::json j;
    j["reference"] = dir;
    j["outputs"] = nlohmann::json::array();
    double max_abs = 0.0, max_rel = 0.0, min_cos = 1.0;
    int64_t nonfinite = 0;
    for (size_t k = 0; k < names.size(); ++k) {
        auto d = compare_outputs(outs[index[k]].tensor, refs[k].tensor);
        if (!d.is_ok()) {
            return invalid_argument("output '" + names[k] + "' against reference " + refs[k].file + ": " +
                                    d.status().message());
        }
        nlohmann::json o;
        o["name"] = names[k];
        o["reference_file"] = refs[k].file;
        o["elements"] = d->count;
        o["max_abs"] = d->max_abs;
        o["max_rel"] = d->max_rel;
        o["cosine"] = d->cosine;
        o["nonfinite_mismatches"] = d->nonfinite_mismatches;
        o["top1_agreement"] = d->classifier ? nlohmann::json(d->top1_agreement) : nlohmann::json(nullptr);
        j["outputs"].push_back(o);
        max_abs = std::max(max_abs, d->max_abs);
        max_rel = std::max(max_rel, d->max_rel);
        min_cos = std::min(min_cos, d->cosine);
        nonfinite += d->nonfinite_mismatches;
    }
    j["max_abs"] = max_abs;
    j["max_rel"] = max_rel;
    j["min_cosine"] = min_cos;
    j["nonfinite_mismatches"] = nonfinite;
    return j;
}

nlohmann::json profile_json(const RunProfile& p, double run_ms) {
    const double denom = run_ms > 0.0 ? run_ms : 1.0;
    const double runs = p.runs > 0 ? static_cast<double>(p.runs) : 1.0;
    std::vector<size_t> order(p.nodes.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return p.nodes[a].total_ms > p.nodes[b].total_ms; });
    nlohmann::json j;
    j["runs"] = p.runs;
    j["run_ms"] = run_ms;
    double in_nodes = 0.0;
    j["nodes"] = nlohmann::json::array();
    for (size_t i : order) {
        const RunProfile::Node& n = p.nodes[i];
        in_nodes += n.total_ms;
        j["nodes"].push_back({{"name", n.name.empty() ? fmt::format("{}#{}", n.op_type, i) : n.name},
                              {"op", n.op_type},
                              {"backend", n.backend},
                              {"index", i},
                              {"total_ms", n.total_ms},
                              {"ms_per_run", n.total_ms / runs},
                              {"percent", 100.0 * n.total_ms / denom},
                              {"calls", n.calls}});
    }
    struct OpTotal {
        double ms = 0.0;
        int64_t nodes = 0;
        std::set<std::string> backends;
    };
    std::map<std::string, OpTotal> ops;
    for (const RunProfile::Node& n : p.nodes) {
        OpTotal& t = ops[n.op_type];
        t.ms += n.total_ms;
        ++t.nodes;
        t.backends.insert(n.backend);
    }
    std::vector<std::pair<std::string, OpTotal>> by_time(ops.begin(), ops.end());
    std::stable_sort(by_time.begin(), by_time.end(),
                     [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    j["ops"] = nlohmann::json::array();
    for (const auto& [op, t] : by_time) {
        std::string backends;
        for (const std::string& b : t.backends) backends += (backends.empty() ? "" : ",") + b;
        j["ops"].push_back({{"op", op},
                            {"backend", backends},
                            {"nodes", t.nodes},
                            {"total_ms", t.ms},
                            {"ms_per_run", t.ms / runs},
                            {"percent", 100.0 * t.ms / denom}});
    }
    j["outside_nodes_ms"] = std::max(0.0, run_ms - in_nodes);  // input checks, frame set-up, timers
    return j;
}

std::string profile_text(const nlohmann::json& profile, size_t top) {
    std::string s = fmt::format("profile     {} runs; % of the measured run time\n", profile["runs"].get<int64_t>());
    const auto row = [&s](const std::string& name, const std::string& op, const nlohmann::json& r, const char* count) {
        s += fmt::format("  {:<36} {:<22} {:<8} {:>10.3f} {:>10.3f} {:>6.1f}% {:>6}\n", name, op,
                         r["backend"].get<std::string>(), r["total_ms"].get<double>(), r["ms_per_run"].get<double>(),
                         r["percent"].get<double>(), r[count].get<int64_t>());
    };
    const char* head = "  {:<36} {:<22} {:<8} {:>10} {:>10} {:>7} {:>6}\n";
    const auto& nodes = profile["nodes"];
    s += fmt::format(fmt::runtime(head), "node", "op", "backend", "total ms", "ms/run", "% run", "calls");
    for (size_t i = 0; i < nodes.size() && i < top; ++i) {
        std::string name = nodes[i]["name"].get<std::string>();
        if (name.size() > 36) name = name.substr(0, 33) + "...";
        row(name, nodes[i]["op"].get<std::string>(), nodes[i], "calls");
    }
    if (nodes.size() > top) s += fmt::format("  ... {} more nodes (--json lists all)\n", nodes.size() - top);
    s += fmt::format(fmt::runtime(head), "op type", "", "backend", "total ms", "ms/run", "% run", "nodes");
    for (const auto& o : profile["ops"]) row(o["op"].get<std::string>(), "", o, "nodes");
    return s;
}

Status write_chrome_trace(const std::string& file, const RunProfile& p, const std::vector<RunSpan>& runs,
                          const nlohmann::json& meta) {
    nlohmann::json events = nlohmann::json::array();
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", "nnport bench"}}}});
    for (size_t r = 0; r < runs.size(); ++r) {
        events.push_back({{"name", fmt::format("run {}", r)},
                          {"cat", "run"},
                          {"ph", "X"},
                          {"ts", runs[r].start_us},
                          {"dur", runs[r].dur_us},
                          {"pid", 1},
                          {"tid", 1},
                          {"args", {{"iteration", r}}}});
    }
    for (const RunProfile::Event& e : p.events) {
        const RunProfile::Node& n = p.nodes.at(e.node);
        events.push_back({{"name", n.name.empty() ? fmt::format("{}#{}", n.op_type, e.node) : n.name},
                          {"cat", n.op_type},
                          {"ph", "X"},
                          {"ts", e.start_us},
                          {"dur", e.dur_us},
                          {"pid", 1},
                          {"tid", 1},
                          {"args", {{"op", n.op_type}, {"backend", n.backend}, {"node_index", e.node}}}});
    }
    nlohmann::json j;
    j["traceEvents"] = std::move(events);
    j["displayTimeUnit"] = "ms";
    j["otherData"] = meta;
    std::ofstream f(file);
    f << j.dump() << "\n";
    if (!f) return io_error(file + ": cannot write the trace");
    return Status::ok();
}

}  // namespace nnport::cli

// `nnport bench MODEL [--backend LIST] [--threads N] [--warmup W] [--iters N | --seconds S] [--json] [--profile]
// [--trace FILE] [--reference DIR] [-i FILE]... [--shape NAME=DxD...]...`: load time, first-run time, latency
// distribution, throughput, peak memory, model size, FLOPs, accuracy against reference outputs, per-node profile.
// The JSON report (schema_version 1) keeps its keys across backends and versions; see docs/PERFORMANCE.md.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench_report.hpp"
#include "commands.hpp"
#include "ir/graph.hpp"
#include "model_io.hpp"
#include "nnport/nnport.hpp"
#include "plugin_option.hpp"
#include "runtime/metrics.hpp"

namespace nnport::cli {

namespace {

/// Trace events kept at most (about 100 bytes each in the file); later runs are timed but not traced.
constexpr size_t kMaxTraceEvents = 1'000'000;

struct BenchArgs {
    std::string model;
    std::string backends;
    int threads = 0;
    int warmup = 3;
    int iters = 0;
    double seconds = 0.0;
    bool json = false;
    bool profile = false;
    std::string trace;
    std::string reference;
    std::vector<std::string> inputs;
    std::vector<std::string> shapes;
    bool no_memory_plan = false;
    int level = 3;
    std::vector<std::string> plugins;  ///< --plugin
};

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

/// CPU time of the whole process (all threads) in ms: with latency, shows how much CPU a run got on a shared machine.
double process_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

int64_t steady_ns(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

nlohmann::json latency_json(const LatencySummary& l) {
    return {{"min", l.min}, {"median", l.median}, {"mean", l.mean},    {"p90", l.p90},
            {"p99", l.p99}, {"max", l.max},       {"stddev", l.stddev}};
}

void print_text(const nlohmann::json& j, const BenchArgs& a) {
    const auto& l = j["latency_ms"];
    std::string out = fmt::format(
        "model       {}  ({:.2f} MiB)\nbackend     {}, {} threads\nload        {:.1f} ms\nfirst run   {:.2f} ms\n"
        "latency     min {:.3f}  median {:.3f}  p90 {:.3f}  p99 {:.3f}  mean {:.3f}  sd {:.3f} ms  ({} runs)\n"
        "throughput  {:.2f} /s at the median (batch {}), {:.2f} /s over the run\n"
        "CPU time    median {:.3f} ms per run; {:.2f} cores busy on average\n",
        j["model"].get<std::string>(), j["model_bytes"].get<double>() / (1 << 20), j["backend"].get<std::string>(),
        j["threads"].get<int>(), j["load_ms"].get<double>(), j["first_run_ms"].get<double>(), l["min"].get<double>(),
        l["median"].get<double>(), l["p90"].get<double>(), l["p99"].get<double>(), l["mean"].get<double>(),
        l["stddev"].get<double>(), j["iterations"].get<int64_t>(), j["throughput_per_s"].get<double>(),
        j["batch"].get<int64_t>(), j["throughput_measured_per_s"].get<double>(), j["cpu_ms"]["median"].get<double>(),
        j["cpu_utilization"].get<double>());
    if (!j["flops"].is_null()) {
        out += fmt::format("compute     {:.3f} GFLOPs per run, {:.2f} GFLOP/s at the median{}\n",
                           j["flops"].get<double>() / 1e9, j["gflops_per_s"].get<double>(),
                           j["flops_uncounted_nodes"].get<int64_t>() > 0
                               ? fmt::format(" ({} nodes not counted)", j["flops_uncounted_nodes"].get<int64_t>())
                               : "");
    }
    out += fmt::format("peak RSS    {:.1f} MiB ({})\n", j["peak_rss_bytes"].get<double>() / (1 << 20),
                       j["peak_rss_source"].get<std::string>());
    if (!j["accuracy"].is_null()) {
        for (const auto& o : j["accuracy"]["outputs"]) {
            out += fmt::format("accuracy    {}: max_abs {:.3g}  max_rel {:.3g}  cosine {:.6f}{}\n",
                               o["name"].get<std::string>(), o["max_abs"].get<double>(), o["max_rel"].get<double>(),
                               o["cosine"].get<double>(),
                               o["top1_agreement"].is_null()
                                   ? ""
                                   : fmt::format("  top-1 agreement {:.3f}", o["top1_agreement"].get<double>()));
        }
    }
    if (!j["profile"].is_null()) out += profile_text(j["profile"], 25);
    if (!a.trace.empty()) out += fmt::format("trace       {}\n", a.trace);
    std::cout << out;
}

int bench_command(const BenchArgs& a) {
    if (Status st = load_plugins(a.plugins); !st.is_ok()) return fail(st);
    SessionOptions opts;
    opts.backends = a.backends;
    opts.threads = a.threads;
    opts.memory_planning = !a.no_memory_plan;
    opts.optimization_level = a.level;
    const auto t_load = Clock::now();
    auto sr = Session::load(a.model, opts);
    if (!sr.is_ok()) return fail(sr.status());
    const double load_ms = ms_since(t_load);
    const Session& s = *sr.value();
    const ir::Graph& g = *s.model().graph;
    std::string backend;
    for (const std::string& b : s.backends()) backend += (backend.empty() ? "" : ",") + b;
    nlohmann::json backend_nodes = nlohmann::json::object();
    for (const NodePlacement& p : s.placements()) {
        backend_nodes[p.backend] = backend_nodes.value(p.backend, 0) + 1;
    }
    FeedOptions fo;
    fo.inputs = a.inputs;
    fo.shapes = a.shapes;
    fo.notify_random = false;  // the report lists every input and its source
    auto feeds = make_feeds(g, a.model, fo);
    if (!feeds.is_ok()) return fail(feeds.status());
    const auto pairs = feed_pairs(*feeds);

    double first_ms = 0.0;
    nlohmann::json accuracy = nullptr;
    {  // the first run's outputs are freed before measuring
        const auto t_first = Clock::now();
        auto first = s.run_values(pairs);
        if (!first.is_ok()) return fail(first.status().with_context(a.model));
        first_ms = ms_since(t_first);
        if (!a.reference.empty()) {
            auto acc = accuracy_report(a.reference, g, *first);
            if (!acc.is_ok()) return fail(acc.status().with_context(a.model));
            accuracy = std::move(acc).value();
        }
    }
    for (int i = 0; i < a.warmup; ++i) {
        if (auto r = s.run_values(pairs); !r.is_ok()) return fail(r.status().with_context(a.model));
    }
    const bool profiling = a.profile || !a.trace.empty();
    RunProfile profile;
    profile.record_events = !a.trace.empty();
    std::vector<RunSpan> spans;
    std::vector<double> lat, cpu;
    const int64_t max_iters = a.iters > 0 ? a.iters : (a.seconds > 0 ? INT64_MAX : 20);
    const auto t_all = Clock::now();
    profile.origin_ns = steady_ns(t_all);
    for (int64_t i = 0; i < max_iters; ++i) {
        const double c0 = process_cpu_ms();
        const auto t0 = Clock::now();
        auto r = s.run_values(pairs, profiling ? &profile : nullptr);
        const double ms = ms_since(t0);
        cpu.push_back(process_cpu_ms() - c0);
        if (!r.is_ok()) return fail(r.status().with_context(a.model));
        lat.push_back(ms);
        if (profile.record_events) {
            spans.push_back({static_cast<double>(steady_ns(t0) - profile.origin_ns) / 1e3, ms * 1e3});
            if (profile.events.size() >= kMaxTraceEvents) profile.record_events = false;
        }
        if (a.seconds > 0 && ms_since(t_all) >= a.seconds * 1000.0) break;
    }
    const double total_ms = ms_since(t_all);
    const PeakRss rss = peak_rss();  // before the FLOP count imports the model a second time

    const LatencySummary l = summarize_latencies(lat);
    int64_t batch = 1;
    if (!feeds->empty() && feeds->front().value.is_tensor() && feeds->front().value.tensor.rank() >= 1) {
        batch = feeds->front().value.tensor.shape()[0];
    }
    nlohmann::json j;
    j["schema_version"] = 1;
    j["nnport_version"] = version();
    j["date"] = utc_now_iso8601();
    j["machine"] = machine_info();
    j["model"] = a.model;
    j["model_bytes"] = model_bytes(a.model, s.model());
    j["backend"] = backend;
    j["backend_nodes"] = backend_nodes;
    j["threads"] = s.threads();
    j["optimization_level"] = opts.optimization_level;
    j["memory_planning"] = opts.memory_planning;
    j["inputs"] = nlohmann::json::array();
    for (const Feed& f : *feeds) {
        nlohmann::json in = {{"name", f.name}, {"source", f.source}};
        if (f.value.is_tensor()) {
            in["dtype"] = dtype_name(f.value.tensor.dtype());
            in["shape"] = f.value.tensor.shape();
        }
        j["inputs"].push_back(in);
    }
    j["batch"] = batch;
    j["warmup"] = a.warmup;
    j["iterations"] = l.count;
    j["load_ms"] = load_ms;
    j["first_run_ms"] = first_ms;
    j["latency_ms"] = latency_json(l);
    j["latencies_ms"] = lat;
    const LatencySummary c = summarize_latencies(cpu);
    j["cpu_ms"] = {{"min", c.min}, {"median", c.median}, {"mean", c.mean}};
    j["cpu_times_ms"] = cpu;
    double cpu_total = 0.0, wall_total = 0.0;
    for (size_t i = 0; i < lat.size(); ++i) cpu_total += cpu[i], wall_total += lat[i];
    // 1.0 = one core busy for the whole run; on a dedicated machine close to the threads in use.
    j["cpu_utilization"] = wall_total > 0 ? cpu_total / wall_total : 0.0;
    j["throughput_per_s"] = l.median > 0 ? 1000.0 * static_cast<double>(batch) / l.median : 0.0;
    j["throughput_measured_per_s"] = 1000.0 * static_cast<double>(batch * l.count) / total_ms;
    j["peak_rss_bytes"] = rss.bytes;
    j["peak_rss_source"] = rss.source;
    auto flops = count_flops(a.model, *feeds);
    j["flops"] = flops.is_ok() ? nlohmann::json(flops->flops) : nlohmann::json(nullptr);
    j["flops_uncounted_nodes"] = flops.is_ok() ? nlohmann::json(flops->uncounted_nodes) : nlohmann::json(nullptr);
    j["gflops_per_s"] = flops.is_ok() && l.median > 0
                            ? nlohmann::json(static_cast<double>(flops->flops) / (l.median * 1e6))
                            : nlohmann::json(nullptr);
    j["accuracy"] = accuracy;
    double run_ms = 0.0;
    for (double v : lat) run_ms += v;
    j["profile"] = profiling ? profile_json(profile, run_ms) : nlohmann::json(nullptr);
    if (!a.trace.empty()) {
        const nlohmann::json meta = {{"model", a.model},
                                     {"backend", backend},
                                     {"threads", s.threads()},
                                     {"nnport_version", version()},
                                     {"traced_runs", spans.size()}};
        if (Status st = write_chrome_trace(a.trace, profile, spans, meta); !st.is_ok()) return fail(st);
    }
    if (a.json) {
        std::cout << j.dump(2) << "\n";
    } else {
        print_text(j, a);
    }
    return kExitOk;
}

}  // namespace

void setup_bench(CLI::App& app, Action& action) {
    auto args = std::make_shared<BenchArgs>();
    CLI::App* c =
        app.add_subcommand("bench", "Measure load time, latency, throughput, memory, accuracy and per-node time");
    c->add_option("model", args->model, "ONNX model file")->required();
    c->add_option("--backend", args->backends, backend_option_help())->check(backend_list_validator());
    c->add_option("--threads", args->threads, "Worker threads (default: physical cores)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--warmup", args->warmup, "Untimed runs after the first run (default 3)")
        ->check(CLI::NonNegativeNumber);
    auto* it = c->add_option("--iters", args->iters, "Timed runs (default 20)")->check(CLI::PositiveNumber);
    c->add_option("--seconds", args->seconds, "Run for this long instead of a fixed count")
        ->check(CLI::PositiveNumber)
        ->excludes(it);
    c->add_option("-i,--input", args->inputs, "Input FILE or NAME=FILE (.pb or .npy); default: random, fixed seed");
    c->add_option("--shape", args->shapes, "NAME=D1xD2x...: shape of a random input with symbolic dims; repeatable");
    c->add_option("--reference", args->reference,
                  "Folder of reference outputs (from `nnport run -o` or another runtime): report the accuracy delta");
    c->add_flag("--profile", args->profile, "Time every node: per-node and per-op-type table");
    c->add_option("--trace", args->trace, "Write a Chrome trace (chrome://tracing, Perfetto) of the timed runs");
    c->add_flag("--json", args->json, "Machine-readable output (schema_version 1)");
    c->add_option("--level", args->level, "Graph optimization level: 0 none, 1 basic, 2 extended, 3 all (default)")
        ->check(CLI::Range(0, 3));
    c->add_flag("--no-memory-plan", args->no_memory_plan, "Allocate every tensor on the heap (no planned arena)");
    add_plugin_option(c, &args->plugins);
    c->callback([args, &action] { action = [args] { return bench_command(*args); }; });
}

}  // namespace nnport::cli

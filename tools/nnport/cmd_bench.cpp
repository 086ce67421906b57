// `nnport bench MODEL [--threads N] [--warmup W] [--iters N | --seconds S] [--json]`: latency, throughput, memory.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "io/input_files.hpp"
#include "ir/graph.hpp"
#include "nnport/nnport.hpp"
#include "runtime/model_stats.hpp"

namespace nnport::cli {

namespace {

struct BenchArgs {
    std::string model;
    int threads = 0;
    int warmup = 3;
    int iters = 0;
    double seconds = 0.0;
    bool json = false;
};

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0.0;
    const double idx = p * static_cast<double>(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(idx);
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - static_cast<double>(lo));
}

int64_t peak_rss_bytes() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

int bench_command(const BenchArgs& a) {
    SessionOptions opts;
    opts.threads = a.threads;
    const auto t_load = Clock::now();
    auto sr = Session::load(a.model, opts);
    if (!sr.is_ok()) return fail(sr.status());
    const double load_ms = ms_since(t_load);
    const Session& s = *sr.value();
    const ir::Graph& g = *s.model().graph;
    std::vector<std::pair<std::string, RtValue>> feeds;
    uint64_t seed = 0x6e6e706f7274ULL;
    for (const ir::Value* v : g.inputs()) {
        ++seed;
        if (v->has_initializer()) continue;
        auto rv = io::random_value(v->type, seed);
        if (!rv.is_ok()) return fail(rv.status().with_context(a.model));
        feeds.emplace_back(v->name(), std::move(rv).value());
    }
    const auto t_first = Clock::now();
    auto first = s.run_values(feeds);
    if (!first.is_ok()) return fail(first.status().with_context(a.model));
    const double first_ms = ms_since(t_first);
    for (int i = 0; i < a.warmup; ++i) {
        if (auto r = s.run_values(feeds); !r.is_ok()) return fail(r.status());
    }
    std::vector<double> lat;
    const int iters = a.iters > 0 ? a.iters : (a.seconds > 0 ? 1 << 30 : 20);
    const auto t_all = Clock::now();
    for (int i = 0; i < iters; ++i) {
        const auto t0 = Clock::now();
        if (auto r = s.run_values(feeds); !r.is_ok()) return fail(r.status());
        lat.push_back(ms_since(t0));
        if (a.seconds > 0 && ms_since(t_all) >= a.seconds * 1000.0) break;
    }
    const double total_ms = ms_since(t_all);
    std::vector<double> sorted = lat;
    std::sort(sorted.begin(), sorted.end());
    std::error_code ec;
    int64_t model_bytes = static_cast<int64_t>(std::filesystem::file_size(a.model, ec));
    const ModelStats st = compute_stats(g);
    nlohmann::json j;
    j["model"] = a.model;
    j["backend"] = "ref";
    j["threads"] = s.threads();
    j["iterations"] = lat.size();
    j["load_ms"] = load_ms;
    j["first_run_ms"] = first_ms;
    j["latency_ms"] = {{"min", sorted.front()},
                       {"median", percentile(sorted, 0.5)},
                       {"p90", percentile(sorted, 0.9)},
                       {"p99", percentile(sorted, 0.99)},
                       {"mean", total_ms / static_cast<double>(lat.size())}};
    j["throughput_per_s"] = 1000.0 * static_cast<double>(lat.size()) / total_ms;
    j["peak_rss_bytes"] = peak_rss_bytes();
    j["model_bytes"] = model_bytes;
    j["flops"] = st.flops;
    j["gflops_per_s"] = static_cast<double>(st.flops) / (percentile(sorted, 0.5) * 1e6);
    if (a.json) {
        std::cout << j.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << fmt::format(
        "model       {}\nbackend     ref, {} threads\nload        {:.1f} ms\nfirst run   {:.2f} ms\n"
        "latency     min {:.2f}  median {:.2f}  p90 {:.2f}  p99 {:.2f} ms  ({} runs)\n"
        "throughput  {:.2f} /s\ncompute     {:.3f} GFLOPs, {:.2f} GFLOP/s at the median\n"
        "peak RSS    {:.1f} MiB\nmodel file  {:.2f} MiB\n",
        a.model, s.threads(), load_ms, first_ms, sorted.front(), percentile(sorted, 0.5), percentile(sorted, 0.9),
        percentile(sorted, 0.99), lat.size(), j["throughput_per_s"].get<double>(), static_cast<double>(st.flops) / 1e9,
        j["gflops_per_s"].get<double>(), static_cast<double>(peak_rss_bytes()) / (1 << 20),
        static_cast<double>(model_bytes) / (1 << 20));
    return kExitOk;
}

}  // namespace

void setup_bench(CLI::App& app, Action& action) {
    auto args = std::make_shared<BenchArgs>();
    CLI::App* c = app.add_subcommand("bench", "Measure load time, latency, throughput and peak memory");
    c->add_option("model", args->model, "ONNX model file")->required();
    c->add_option("--threads", args->threads, "Worker threads (default: physical cores)")->check(CLI::NonNegativeNumber);
    c->add_option("--warmup", args->warmup, "Untimed runs before measuring")->check(CLI::NonNegativeNumber);
    auto* it = c->add_option("--iters", args->iters, "Timed runs (default 20)")->check(CLI::PositiveNumber);
    c->add_option("--seconds", args->seconds, "Run for this long instead of a fixed count")
        ->check(CLI::PositiveNumber)
        ->excludes(it);
    c->add_flag("--json", args->json, "Machine-readable output");
    c->callback([args, &action] { action = [args] { return bench_command(*args); }; });
}

}  // namespace nnport::cli

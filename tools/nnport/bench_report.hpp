// Pieces of the `nnport bench` report: machine and process facts, model size and FLOPs, accuracy against reference
// outputs, the per-node profile and its Chrome trace.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "model_io.hpp"
#include "nnport/nnport.hpp"

namespace nnport::cli {

/// CPU model, logical CPUs, physical cores, SIMD features and OS, from /proc/cpuinfo and uname.
nlohmann::json machine_info();

/// The current UTC time as ISO 8601 ("2024-05-01T12:00:00Z").
std::string utc_now_iso8601();

/// Peak resident set size of this process so far.
struct PeakRss {
    int64_t bytes = 0;
    std::string source;  ///< "VmHWM" (/proc/self/status) or "ru_maxrss" (getrusage) where /proc is missing
};
PeakRss peak_rss();

/// Bytes of the model file plus the external data files `m` was read with.
int64_t model_bytes(const std::string& path, const ir::Model& m);

/// FLOPs of the model as given (before optimization) at the shapes of `feeds`.
struct FlopCount {
    int64_t flops = 0;
    int64_t uncounted_nodes = 0;  ///< nodes whose shapes stayed unknown (their FLOPs are missing)
};
/// Imports `path` again, fixes its inputs to the fed shapes, infers and counts (see runtime/model_stats).
Result<FlopCount> count_flops(const std::string& path, const std::vector<Feed>& feeds);

/// Compares the tensor outputs `outs` of graph `g` with the reference outputs in `dir`. Fails with the output, the
/// file and the reason when a reference is missing or does not match in shape or dtype.
Result<nlohmann::json> accuracy_report(const std::string& dir, const ir::Graph& g, const std::vector<RtValue>& outs);

/// The profile as JSON: nodes sorted by time and per-op-type totals; percentages of `run_ms` (the profiled runs'
/// summed latency).
nlohmann::json profile_json(const RunProfile& p, double run_ms);

/// A readable table of the profile: the `top` slowest nodes, then every op type.
std::string profile_text(const nlohmann::json& profile, size_t top);

/// One timed run, for the trace (microseconds since the profile's origin).
struct RunSpan {
    double start_us = 0.0;
    double dur_us = 0.0;
};

/// Writes a Chrome trace (chrome://tracing, Perfetto): one "X" event per run and per node execution recorded in `p`.
Status write_chrome_trace(const std::string& file, const RunProfile& p, const std::vector<RunSpan>& runs,
                          const nlohmann::json& meta);

}  // namespace nnport::cli

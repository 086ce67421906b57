// nnport public C++ API: load an ONNX model and run it.
//
//   auto s = nnport::Session::load("model.onnx");
//   if (!s.is_ok()) { std::cerr << s.status().to_string(); return 1; }
//   auto out = (*s)->run({{"input", tensor}});
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nnport/dtype.hpp"
#include "nnport/rt_value.hpp"
#include "nnport/status.hpp"
#include "nnport/tensor.hpp"

namespace nnport {

namespace ir {
struct Model;
}

/// nnport version string.
const char* version();

/// Options for creating a session.
struct SessionOptions {
    /// Worker threads for kernels; 0 = the machine's physical cores.
    int threads = 0;
    /// Graph optimization level applied when the session is created: 0 none, 1 basic (folding, clean-up,
    /// exact algebra), 2 extended (fusions), 3 all (layout rewrites). See docs/OPTIMIZER.md.
    int optimization_level = 3;
    /// Place intermediate tensors in one arena per run by a static memory plan (made per input shape, cached);
    /// false allocates every tensor on the heap.
    bool memory_planning = true;
    /// Backends in preference order, comma-separated ("xnnpack,onednn,ref"); each node runs on the first that
    /// supports it and the reference backend ("ref") runs the rest. Empty: every available backend in the default
    /// order (see `nnport inspect --partition`); "ref" alone: the portable reference kernels only.
    std::string backends;
};

/// Which backend runs one node of the main graph (after optimization and partitioning).
struct NodePlacement {
    std::string name;
    std::string op_type;          ///< "domain.Op" outside the default ONNX domain
    std::string backend;
    std::string fallback_reason;  ///< why backends preferred over `backend` declined it (empty if none did)
};

/// Name, element type and shape of a model input or output. Dynamic dims are -1 with a name in dim_names.
struct TensorInfo {
    std::string name;
    DType dtype = DType::kUndefined;
    std::vector<int64_t> shape;
    std::vector<std::string> dim_names;
    bool has_shape = false;
    bool is_tensor = true;  ///< false for sequence/optional values
};

/// Per-node timings of profiled runs (pass one to Session::run_values), summed over every run it was passed to.
/// Only the nodes of the main graph are timed: a control-flow node's time includes its bodies.
struct RunProfile {
    /// One node of the executed (optimized) graph.
    struct Node {
        std::string name;       ///< node name (may be empty)
        std::string op_type;    ///< op type, "domain.Op" outside the default ONNX domain
        std::string backend;    ///< backend whose kernel ran it ("ref" = the reference kernels)
        double total_ms = 0.0;  ///< summed over calls
        int64_t calls = 0;
    };
    /// One execution of a node (recorded only while record_events is true).
    struct Event {
        size_t node = 0;        ///< index into nodes
        double start_us = 0.0;  ///< since origin_ns
        double dur_us = 0.0;
    };
    std::vector<Node> nodes;  ///< in execution order
    std::vector<Event> events;
    bool record_events = false;  ///< set to keep every node execution (for a timeline trace)
    int64_t runs = 0;            ///< successful profiled runs so far
    int64_t origin_ns = -1;      ///< steady-clock time (ns) events count from; if negative, the first run sets it
};

/// A loaded, ready-to-run model. run() is safe to call from several threads at once.
class Session {
public:
    /// Loads an ONNX file (external data is read relative to its folder).
    static Result<std::unique_ptr<Session>> load(const std::string& path, const SessionOptions& options = {});
    /// Loads a serialized ONNX model from memory; `base_dir` resolves external data ("" = none allowed).
    static Result<std::unique_ptr<Session>> load_from_memory(const void* data, size_t size,
                                                            const SessionOptions& options = {},
                                                            const std::string& base_dir = "");
    /// Takes an already built IR model (used by tools and tests).
    static Result<std::unique_ptr<Session>> from_model(std::unique_ptr<ir::Model> model,
                                                       const SessionOptions& options = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Graph inputs that must or may be fed (initializer-backed inputs are listed with `optional`).
    const std::vector<TensorInfo>& inputs() const;
    const std::vector<TensorInfo>& outputs() const;

    /// Runs the model. Inputs by name; outputs in graph output order.
    Result<std::vector<Tensor>> run(const std::vector<std::pair<std::string, Tensor>>& inputs) const;
    /// As run(), for models with sequence or optional inputs/outputs. With `profile`, times every node and adds the
    /// times to it (two clock reads per node). A profile belongs to one session and to one run at a time.
    Result<std::vector<RtValue>> run_values(const std::vector<std::pair<std::string, RtValue>>& inputs,
                                            RunProfile* profile = nullptr) const;

    /// The IR model (for tools: inspect, export).
    const ir::Model& model() const;
    /// Backend of every node of the main graph, in execution order.
    std::vector<NodePlacement> placements() const;
    /// The backends this session uses, in preference order.
    std::vector<std::string> backends() const;
    int threads() const;

private:
    struct Impl;
    explicit Session(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace nnport

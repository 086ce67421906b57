// Executor: runs a prepared graph, each node on the kernel its backend prepared (the OpDef reference kernel for the
// reference backend), freeing each intermediate after its last use (or placing it by the memory plan).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/rt_value.hpp"
#include "ops/op_def.hpp"
#include "runtime/partition.hpp"

namespace nnport {

/// Per-node run statistics (filled when profiling is on).
struct NodeProfile {
    const ir::Node* node = nullptr;
    const char* backend = "ref";  ///< backend whose kernel ran the node
    double total_ms = 0.0;
    int64_t calls = 0;
};

/// One timed execution of a plan step.
struct StepEvent {
    size_t step = 0;
    double start_us = 0.0;  ///< since ExecProfile::origin
    double dur_us = 0.0;
};

/// What a profiled run of a top-level plan records; steps of subgraph bodies count in their control-flow node.
struct ExecProfile {
    std::vector<NodeProfile> steps;  ///< indexed by plan step, summed over runs
    bool record_events = false;      ///< also keep every step execution in `events`
    std::vector<StepEvent> events;
    std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();
};

/// An immutable execution plan for one graph (and, recursively, its subgraphs).
class GraphPlan {
public:
    struct Step {
        const ir::Node* node;
        std::vector<int> in_slots;   ///< -1 for an omitted input
        std::vector<int> out_slots;  ///< -1 for an omitted output
        std::vector<int> release;    ///< slots dead after this step
        std::vector<DType> out_dtypes;  ///< inferred output dtypes (for half conversion)
        BackendKernel* kernel = nullptr;  ///< the backend's prepared kernel; null: the OpDef kernel
        const char* backend = "ref";      ///< name of the backend that runs the node
    };

    /// Builds plans for `g` and every subgraph inside it. With `partition`, nodes run on the kernels it prepared
    /// (it must outlive the plan).
    static Result<std::unique_ptr<GraphPlan>> build(const ir::Graph& g, const Partition* partition = nullptr);

    const ir::Graph& graph() const { return *graph_; }
    int slot_of(const ir::Value* v) const;
    const GraphPlan* subplan(const ir::Graph* g) const;
    /// The steps in execution order.
    const std::vector<Step>& steps() const { return steps_; }
    int num_slots() const { return num_slots_; }
    /// Every value's slot.
    const std::unordered_map<const ir::Value*, int>& slots() const { return slots_; }
    /// Slots that never hold a step's private result: graph inputs and outputs, initializers, outer-scope captures.
    std::vector<int> pinned_slots() const;

private:
    friend class Executor;
    const ir::Graph* graph_ = nullptr;
    std::unordered_map<const ir::Value*, int> slots_;
    int num_slots_ = 0;
    std::vector<Step> steps_;
    std::vector<int> input_slots_, output_slots_;
    std::vector<std::pair<int, Tensor>> constants_;               ///< initializers
    std::vector<std::pair<int, const ir::Value*>> captures_;      ///< slot <- outer value
    std::map<const ir::Graph*, std::unique_ptr<GraphPlan>> subplans_;
};

class ArenaRun;

/// One run's values of one graph.
struct Frame {
    const GraphPlan* plan = nullptr;
    const Frame* parent = nullptr;
    std::vector<RtValue> slots;
    /// The memory plan and arena of this run (top-level graph only; subgraphs run on the heap).
    ArenaRun* arena = nullptr;
    /// The value of an outer-scope ir::Value, looked up through enclosing frames.
    const RtValue* lookup(const ir::Value* v) const;
};

/// Runs plans. Stateless apart from the thread pool: safe to use from several threads at once.
class Executor {
public:
    explicit Executor(ThreadPool* pool) : pool_(pool) {}
    /// Runs `plan` with its graph inputs bound in order (a none value = use the initializer default). With `arena`,
    /// step outputs go where its memory plan puts them (see runtime/memory_arena.hpp).
    Result<std::vector<RtValue>> run(const GraphPlan& plan, std::vector<RtValue> inputs, const Frame* parent,
                                     ExecProfile* profile = nullptr, ArenaRun* arena = nullptr) const;

private:
    Status run_step(const GraphPlan::Step& step, Frame& frame) const;
    ThreadPool* pool_;
};

}  // namespace nnport

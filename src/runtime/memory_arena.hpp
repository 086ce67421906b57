// Runtime side of static memory planning: the plans of a graph cached per input-shape signature, a small pool of
// arenas, and the per-run bookkeeping the executor calls around each step.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nnport/rt_value.hpp"
#include "nnport/status.hpp"
#include "ops/op_def.hpp"
#include "runtime/memory_plan.hpp"

namespace nnport {

class GraphPlan;
class Executor;
struct Frame;

/// The planner's view of `gp`'s steps (in-place and view flags from each node's OpDef).
std::vector<PlanStep> plan_steps(const GraphPlan& gp);

/// Binds the symbolic dims of `gp`'s graph inputs to the dims of the values fed for them (inputs in graph order).
std::map<std::string, int64_t> bind_symbols(const GraphPlan& gp, const std::vector<RtValue>& inputs);

/// Slot descriptions from the inferred value types: static dims, or symbolic dims found in `symbols`; anything else
/// is kUnknown. Pinned slots (graph inputs/outputs, initializers, captures), sequences, optionals and strings are
/// kUnplanned.
std::vector<SlotDesc> slot_descs_from_types(const GraphPlan& gp, const std::map<std::string, int64_t>& symbols);

/// One run's arena and plan. Invariant kept after every step: a value in the arena lies inside its own slot's
/// buffer; anything else in the arena (a kernel passing an input through, a sequence holding an arena tensor, a
/// graph output viewing an intermediate) is copied to the heap at once, so a region is never reused while held.
class ArenaRun {
public:
    /// `arena` may be null (nothing to place). `observe` records every step output's dtype and shape (to complete a
    /// plan made while some sizes were unknown); `check` verifies after each step that no live buffer it does not
    /// write has changed (NNPORT_CHECK_ARENA=1; slow).
    ArenaRun(const GraphPlan& gp, std::shared_ptr<const MemoryPlan> plan, std::shared_ptr<Storage> arena, bool observe,
             bool check);

    const MemoryPlan& plan() const { return *plan_; }
    const std::shared_ptr<const MemoryPlan>& shared_plan() const { return plan_; }
    const std::shared_ptr<Storage>& arena() const { return arena_; }
    bool observing() const { return observe_; }

    /// The placements of step `step`'s outputs; left empty when none is placed.
    void placements(size_t step, std::vector<OutputPlacement>& out) const;
    /// Called once step `step` stored its outputs in `frame`: enforces the invariant, records sizes, checks.
    Status after_step(size_t step, Frame& frame);
    /// Copies every arena-backed tensor among `values` to the heap (graph outputs leaving the run).
    void detach(std::vector<RtValue>& values) const;
    /// What observing saw of each slot (kUnplanned where nothing was seen).
    std::vector<SlotDesc> take_observed() { return std::move(observed_); }

    /// The input signature this run's plan belongs to (set by MemoryPlanCache).
    std::vector<int64_t> signature;

private:
    bool in_arena(const Tensor& t) const { return arena_ && t.storage() == arena_; }
    bool inside_buffer(const Tensor& t, int buffer) const;
    void detach_value(RtValue& v, int buffer) const;
    uint64_t checksum(int buffer) const;
    Status check_step(size_t step);

    const GraphPlan& gp_;
    std::shared_ptr<const MemoryPlan> plan_;
    std::shared_ptr<Storage> arena_;
    bool observe_, check_;
    std::vector<SlotDesc> observed_;
    std::vector<uint64_t> sums_;
    std::vector<char> summed_;
};

/// The memory plans of one graph, one per input-shape signature (least recently used evicted), and idle arenas for
/// reuse. Thread-safe: every run gets its own arena.
class MemoryPlanCache {
public:
    /// `check`: run with ArenaRun's self-check (defaults to the NNPORT_CHECK_ARENA environment variable).
    explicit MemoryPlanCache(const GraphPlan& gp, size_t capacity = 8, size_t idle_arenas = 2);
    MemoryPlanCache(const GraphPlan& gp, size_t capacity, size_t idle_arenas, bool check);

    /// Sets up one run with these inputs (graph order): the plan for their shapes, made now from the inferred types
    /// if the signature is new, and an arena. When the types leave some sizes unknown, the run observes them.
    std::unique_ptr<ArenaRun> begin_run(const std::vector<RtValue>& inputs);
    /// Ends a run: keeps its arena for reuse when nobody else holds it, and after a successful observing run
    /// replaces the signature's plan by a complete one.
    void end_run(std::unique_ptr<ArenaRun> run, bool ok);
    /// The complete plan for these inputs; runs the graph once through `ex` if the types do not give every size.
    Result<std::shared_ptr<const MemoryPlan>> plan_for(const std::vector<RtValue>& inputs, const Executor& ex);

    /// Number of cached signatures.
    size_t size() const;

private:
    struct Entry {
        std::vector<int64_t> signature;
        std::shared_ptr<const MemoryPlan> plan;
    };
    std::shared_ptr<const MemoryPlan> make_plan(const std::vector<SlotDesc>& descs) const;
    void insert_locked(std::vector<int64_t> signature, std::shared_ptr<const MemoryPlan> plan);
    std::shared_ptr<Storage> acquire_arena(size_t bytes);

    const GraphPlan& gp_;
    const std::vector<PlanStep> steps_;
    const size_t capacity_, idle_max_;
    const bool check_;
    mutable std::mutex mu_;
    std::list<Entry> entries_;  ///< most recently used first
    std::vector<std::shared_ptr<Storage>> idle_;
};

}  // namespace nnport

// Static memory planning: lifetimes of a graph's intermediate tensors, in-place and view aliasing, and their offsets
// in one arena (greedy best fit under several orderings, keeping the smallest).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nnport/dtype.hpp"
#include "nnport/tensor.hpp"

namespace nnport {

/// Every arena offset and block size is a multiple of this (kernels may assume 64-byte aligned data).
inline constexpr size_t kArenaAlignment = 64;

/// `bytes` rounded up to kArenaAlignment.
size_t arena_round(size_t bytes);

/// One block to place in an arena: `bytes` live from step `first` to step `last`, both inclusive.
struct ArenaRequest {
    size_t bytes = 0;
    int first = 0;
    int last = 0;
};

/// Offsets of requests in one arena of `bytes` bytes.
struct ArenaLayout {
    std::vector<size_t> offsets;  ///< indexed like the requests
    size_t bytes = 0;             ///< max over requests of offset + size
};

/// Max over steps of the summed bytes of the requests live at that step: no valid layout is smaller.
size_t arena_lower_bound(const std::vector<ArenaRequest>& reqs);

/// Places `reqs` so that requests live at a common step never overlap in memory. Each request goes, in turn, into the
/// smallest gap between the already placed requests that overlap it in time (best fit), or above them. Orders tried:
/// by size, by lifetime, by size x lifetime and by first step; then, while above the lower bound and within a work
/// budget, squeaky-wheel rounds (blocks that ended high move earlier) and random swaps. The smallest layout is kept;
/// the result is deterministic. Offsets are multiples of kArenaAlignment when every request size is.
ArenaLayout assign_offsets(const std::vector<ArenaRequest>& reqs);

/// Empty when `layout` is valid for `reqs`: one aligned offset per request, inside layout.bytes, and no two requests
/// that are live at a common step overlap in memory. Otherwise describes the first violation.
std::string check_layout(const std::vector<ArenaRequest>& reqs, const ArenaLayout& layout);

/// What the planner knows about the value of one slot in one run.
struct SlotDesc {
    enum class Kind {
        kUnplanned,  ///< never in the arena: graph inputs and outputs, initializers, captures, sequences, strings
        kTensor,     ///< a tensor of known dtype and shape
        kUnknown,    ///< a tensor whose size is not known before running (dynamic shapes)
    };
    Kind kind = Kind::kUnknown;
    DType dtype = DType::kUndefined;
    Shape shape;

    static SlotDesc unplanned() { return SlotDesc{Kind::kUnplanned, DType::kUndefined, {}}; }
    static SlotDesc tensor(DType dt, Shape s) { return SlotDesc{Kind::kTensor, dt, std::move(s)}; }
    /// Bytes of the tensor (0 unless kind is kTensor).
    size_t bytes() const;
};

/// One step of the execution order as the planner sees it (see GraphPlan::Step).
struct PlanStep {
    std::vector<int> in_slots;         ///< -1 for an omitted input
    std::vector<int> out_slots;        ///< -1 for an omitted output
    std::vector<int> release;          ///< slots whose last use is this step (reads by subgraphs included)
    bool inplace_elementwise = false;  ///< OpDef::inplace_elementwise
    bool output_views_input0 = false;  ///< OpDef::output_views_input0
    int inplace_input = -1;            ///< BackendKernel::inplace_input: the one input output 0 may reuse, or -1
};

/// Where every planned tensor of one graph lives in the arena of one run.
struct MemoryPlan {
    /// A region of the arena shared by a tensor, the views of it and the tensors computed in place over it.
    struct Buffer {
        size_t offset = 0;
        size_t bytes = 0;  ///< multiple of kArenaAlignment
        int first = 0;     ///< step that writes it first
        int last = 0;      ///< last step that reads any tensor in it
    };
    /// Where one output of one step goes.
    struct StepOutput {
        int buffer = -1;         ///< -1: not placed (heap, or a view of its input)
        int inplace_input = -1;  ///< input index whose buffer this output reuses (in-place), else -1
    };
    std::vector<Buffer> buffers;
    std::vector<int> slot_buffer;                  ///< per slot: the buffer holding its data, -1 if none
    std::vector<std::vector<StepOutput>> outputs;  ///< per step, per output
    size_t arena_bytes = 0;
    size_t lower_bound_bytes = 0;  ///< arena_lower_bound of the buffers
    size_t naive_bytes = 0;        ///< sum of the planned tensors' sizes (one allocation each)
    int tensors = 0;               ///< planned tensors with their own data (views excluded)
    int inplace = 0;               ///< of which computed in place over a dying input
    int views = 0;                 ///< planned outputs that view their input's buffer
    bool complete = true;          ///< false when some tensor's size was unknown (kUnknown), so it is not planned
};

/// Plans `steps` (in execution order) given what is known of each slot. Lifetimes run from the defining step to the
/// step that releases the slot; an output of an output_views_input0 step joins its input's buffer (extending it); an
/// output 0 of an inplace_elementwise step reuses the buffer of an input of identical dtype and shape whose buffer
/// dies at that step and that no other input of the step reads.
MemoryPlan plan_memory(const std::vector<PlanStep>& steps, const std::vector<SlotDesc>& slots);

}  // namespace nnport

// Memory planner: offset assignment against known optima and random lifetimes, lower bounds, in-place and views.
#include "runtime/memory_plan.hpp"

#include <gtest/gtest.h>

#include <random>

namespace nnport {

namespace {

constexpr size_t K = kArenaAlignment;

PlanStep step(std::vector<int> in, std::vector<int> out, std::vector<int> release, bool inplace = false,
              bool view = false) {
    PlanStep s;
    s.in_slots = std::move(in);
    s.out_slots = std::move(out);
    s.release = std::move(release);
    s.inplace_elementwise = inplace;
    s.output_views_input0 = view;
    return s;
}

SlotDesc f32(Shape s) { return SlotDesc::tensor(DType::kFloat32, std::move(s)); }

}  // namespace

TEST(MemoryPlan, LowerBoundIsThePeakOfLiveBytes) {
    EXPECT_EQ(arena_lower_bound({}), 0u);
    // a [0,1], b [1,2], c [2,3]: peaks at a+b (step 1) and b+c (step 2).
    EXPECT_EQ(arena_lower_bound({{K, 0, 1}, {2 * K, 1, 2}, {K, 2, 3}}), 3 * K);
    EXPECT_EQ(arena_lower_bound({{K, 0, 0}, {K, 1, 1}, {K, 2, 2}}), K);
    EXPECT_EQ(arena_lower_bound({{K, 0, 5}, {K, 1, 1}, {3 * K, 5, 6}}), 4 * K);
}

TEST(MemoryPlan, ChainReachesTheLowerBound) {
    // A chain where every tensor dies at its consumer: the optimum is the lower bound, 4 blocks.
    const std::vector<ArenaRequest> reqs = {{K, 0, 1}, {2 * K, 1, 2}, {K, 2, 3}, {3 * K, 3, 4}};
    const ArenaLayout l = assign_offsets(reqs);
    EXPECT_EQ(check_layout(reqs, l), "");
    EXPECT_EQ(l.bytes, 4 * K);
    EXPECT_EQ(arena_lower_bound(reqs), 4 * K);
}

TEST(MemoryPlan, DisjointLifetimesShareOneBlock) {
    const std::vector<ArenaRequest> reqs = {{3 * K, 0, 0}, {K, 1, 1}, {2 * K, 2, 2}, {3 * K, 3, 3}};
    const ArenaLayout l = assign_offsets(reqs);
    EXPECT_EQ(check_layout(reqs, l), "");
    EXPECT_EQ(l.bytes, 3 * K);
    for (size_t off : l.offsets) EXPECT_EQ(off, 0u);
}

TEST(MemoryPlan, InterleavedLifetimesReachTheLowerBound) {
    // Two long-lived blocks (3 units) plus pairs of 1- and 2-unit blocks before and after step 3: the later pair
    // must reuse the earlier pair's places exactly; optimum = lower bound = 6 units.
    const std::vector<ArenaRequest> reqs = {{2 * K, 0, 9}, {K, 0, 2}, {K, 0, 9},
                                            {2 * K, 0, 2}, {K, 3, 9}, {2 * K, 4, 9}};
    const ArenaLayout l = assign_offsets(reqs);
    EXPECT_EQ(check_layout(reqs, l), "");
    EXPECT_EQ(arena_lower_bound(reqs), 6 * K);
    EXPECT_EQ(l.bytes, 6 * K);
}

TEST(MemoryPlan, CheckerRejectsOverlapsAndMisalignment) {
    const std::vector<ArenaRequest> reqs = {{2 * K, 0, 2}, {K, 1, 3}};
    ArenaLayout bad{{0, K}, 3 * K};
    EXPECT_NE(check_layout(reqs, bad).find("overlap"), std::string::npos);
    ArenaLayout unaligned{{0, 2 * K + 8}, 4 * K};
    EXPECT_NE(check_layout(reqs, unaligned).find("aligned"), std::string::npos);
    ArenaLayout too_small{{0, 2 * K}, 2 * K};
    EXPECT_NE(check_layout(reqs, too_small).find("past the arena"), std::string::npos);
    ArenaLayout good{{0, 2 * K}, 3 * K};
    EXPECT_EQ(check_layout(reqs, good), "");
    // Not live at a common step: the same memory is fine.
    EXPECT_EQ(check_layout({{2 * K, 0, 1}, {K, 2, 3}}, ArenaLayout{{0, 0}, 2 * K}), "");
}

TEST(MemoryPlan, RandomLifetimesGiveValidCompactLayouts) {
    std::mt19937 rng(1234);
    double worst = 1.0;
    for (int trial = 0; trial < 200; ++trial) {
        const int n = 1 + static_cast<int>(rng() % 120), steps = 1 + static_cast<int>(rng() % 60);
        std::vector<ArenaRequest> reqs;
        size_t total = 0;
        for (int i = 0; i < n; ++i) {
            const int a = static_cast<int>(rng() % static_cast<unsigned>(steps));
            const int len = static_cast<int>(rng() % 8);
            const size_t bytes = K * (rng() % 4 == 0 ? 0 : 1 + rng() % 40);
            reqs.push_back({bytes, a, std::min(steps - 1, a + len)});
            total += bytes;
        }
        const ArenaLayout l = assign_offsets(reqs);
        ASSERT_EQ(check_layout(reqs, l), "") << "trial " << trial;
        const size_t lb = arena_lower_bound(reqs);
        EXPECT_GE(l.bytes, lb);
        EXPECT_LE(l.bytes, total);
        if (lb > 0) worst = std::max(worst, static_cast<double>(l.bytes) / static_cast<double>(lb));
    }
    EXPECT_LT(worst, 1.15);  // random interval graphs are harder than networks; the improvement rounds stay close
}

TEST(MemoryPlan, PlansAChainWithInPlaceElementwise) {
    // 0: x (graph input) -> 1 = Conv-like; 2 = Relu(1) in place; 3 = Conv-like(2); 4 = graph output.
    const std::vector<PlanStep> steps = {step({0}, {1}, {0}), step({1}, {2}, {1}, true), step({2}, {3}, {2}),
                                         step({3}, {4}, {3})};
    std::vector<SlotDesc> slots = {SlotDesc::unplanned(), f32({4, 16}), f32({4, 16}), f32({4, 32}),
                                   SlotDesc::unplanned()};
    const MemoryPlan p = plan_memory(steps, slots);
    EXPECT_TRUE(p.complete);
    EXPECT_EQ(p.tensors, 3);
    EXPECT_EQ(p.inplace, 1);
    EXPECT_EQ(p.slot_buffer[1], p.slot_buffer[2]);
    EXPECT_EQ(p.outputs[1][0].inplace_input, 0);
    EXPECT_EQ(p.slot_buffer[0], -1);
    EXPECT_EQ(p.slot_buffer[4], -1);
    EXPECT_EQ(p.buffers.size(), 2u);
    EXPECT_EQ(p.naive_bytes, 256u + 256u + 512u);
    EXPECT_EQ(p.lower_bound_bytes, 256u + 512u);
    EXPECT_EQ(p.arena_bytes, p.lower_bound_bytes);
}

TEST(MemoryPlan, NoInPlaceWhenTheInputLivesOnOrDiffers) {
    // 1 = f(x); 2 = Relu(1) but 1 is read again at step 2; 3 = Add(1, 2).
    std::vector<SlotDesc> slots = {SlotDesc::unplanned(), f32({8}), f32({8}), f32({8})};
    MemoryPlan p = plan_memory({step({0}, {1}, {0}), step({1}, {2}, {}, true), step({1, 2}, {3}, {1, 2}, true)}, slots);
    EXPECT_NE(p.slot_buffer[1], p.slot_buffer[2]);
    EXPECT_EQ(p.inplace, 1);  // the Add reuses one of its dying inputs
    EXPECT_TRUE(p.slot_buffer[3] == p.slot_buffer[1] || p.slot_buffer[3] == p.slot_buffer[2]);
    // Broadcast (shape differs) or another dtype: never in place.
    slots = {SlotDesc::unplanned(), f32({1, 8}), f32({4, 8})};
    p = plan_memory({step({0}, {1}, {0}), step({1}, {2}, {1}, true), step({2}, {}, {2})}, slots);
    EXPECT_EQ(p.inplace, 0);
    slots = {SlotDesc::unplanned(), f32({8}), SlotDesc::tensor(DType::kInt32, {8})};
    p = plan_memory({step({0}, {1}, {0}), step({1}, {2}, {1}, true), step({2}, {}, {2})}, slots);
    EXPECT_EQ(p.inplace, 0);
    // Without the flag, no in-place either.
    slots = {SlotDesc::unplanned(), f32({8}), f32({8})};
    p = plan_memory({step({0}, {1}, {0}), step({1}, {2}, {1}, false), step({2}, {}, {2})}, slots);
    EXPECT_EQ(p.inplace, 0);
}

TEST(MemoryPlan, KernelInPlaceInputReusesOnlyThatInput) {
    // A convolution with a residual: 3 = conv(x = 1, z = 2), where 1 and 2 both die at step 2 with 3's shape. Only the
    // kernel's named input (z, index 1 here) may be taken over, never the one it still reads while writing.
    std::vector<SlotDesc> slots = {SlotDesc::unplanned(), f32({8}), f32({8}), f32({8})};
    std::vector<PlanStep> steps = {step({0}, {1}, {}), step({0}, {2}, {0}), step({1, 2}, {3}, {1, 2}),
                                   step({3}, {}, {3})};
    steps[2].inplace_input = 1;
    MemoryPlan p = plan_memory(steps, slots);
    EXPECT_EQ(p.inplace, 1);
    EXPECT_EQ(p.slot_buffer[3], p.slot_buffer[2]);
    EXPECT_EQ(p.outputs[2][0].inplace_input, 1);
    steps[2].inplace_input = 0;  // the other one
    p = plan_memory(steps, slots);
    EXPECT_EQ(p.slot_buffer[3], p.slot_buffer[1]);
    // The same value as another input too (a convolution whose input is also its residual): never in place.
    std::vector<PlanStep> same = {step({0}, {1}, {0}), step({1, 1}, {2}, {1}), step({2}, {}, {2})};
    same[1].inplace_input = 1;
    MemoryPlan q = plan_memory(same, {SlotDesc::unplanned(), f32({8}), f32({8})});
    EXPECT_EQ(q.inplace, 0);
    EXPECT_NE(q.slot_buffer[2], q.slot_buffer[1]);
    // ... while an elementwise op over the same value twice (x + x) still is.
    same[1].inplace_input = -1;
    same[1].inplace_elementwise = true;
    q = plan_memory(same, {SlotDesc::unplanned(), f32({8}), f32({8})});
    EXPECT_EQ(q.inplace, 1);
    // The named input lives on past the step: a buffer of its own.
    steps[2].inplace_input = 1;
    steps[2].release = {1};
    steps[3].release = {2, 3};
    steps[3].in_slots = {3, 2};
    p = plan_memory(steps, slots);
    EXPECT_EQ(p.inplace, 0);
    EXPECT_NE(p.slot_buffer[3], p.slot_buffer[2]);
    EXPECT_NE(p.slot_buffer[3], p.slot_buffer[1]);
}

TEST(MemoryPlan, ViewsExtendTheirBufferAndBlockInPlaceOverAliases) {
    // 1 = f(x); 2 = Reshape(1) (view); 3 = f(2) while 1 is dead; 4 = g(3, 2): the view keeps 1's buffer alive.
    std::vector<SlotDesc> slots = {SlotDesc::unplanned(), f32({2, 8}), f32({16}), f32({16}), f32({16})};
    MemoryPlan p = plan_memory(
        {step({0}, {1}, {0}), step({1}, {2}, {1}, false, true), step({2}, {3}, {}), step({3, 2}, {4}, {2, 3})}, slots);
    EXPECT_EQ(p.views, 1);
    EXPECT_EQ(p.slot_buffer[2], p.slot_buffer[1]);
    EXPECT_EQ(p.outputs[1][0].buffer, -1);  // a view gets no placement of its own
    const MemoryPlan::Buffer& b = p.buffers[static_cast<size_t>(p.slot_buffer[1])];
    EXPECT_EQ(b.first, 0);
    EXPECT_EQ(b.last, 3);
    EXPECT_EQ(p.tensors, 3);
    // Add(view, base) where both alias one buffer: in place over either would clobber the other operand.
    slots = {SlotDesc::unplanned(), f32({16}), f32({16}), f32({16})};
    p = plan_memory(
        {step({0}, {1}, {0}), step({1}, {2}, {}, false, true), step({2, 1}, {3}, {1, 2}, true), step({3}, {}, {3})},
        slots);
    EXPECT_EQ(p.inplace, 0);
    // A view of an unplanned value (a graph input) is not in the arena.
    slots = {f32({16}), f32({4, 4})};
    slots[0] = SlotDesc::unplanned();
    p = plan_memory({step({0}, {1}, {0}, false, true), step({1}, {}, {1})}, slots);
    EXPECT_EQ(p.slot_buffer[1], -1);
    EXPECT_EQ(p.views, 0);
}

TEST(MemoryPlan, UnknownSizesStayOnTheHeapAndMarkThePlanIncomplete) {
    std::vector<SlotDesc> slots = {SlotDesc::unplanned(), SlotDesc{}, f32({8})};
    const MemoryPlan p = plan_memory({step({0}, {1}, {0}), step({1}, {2}, {1}, true), step({2}, {}, {2})}, slots);
    EXPECT_FALSE(p.complete);
    EXPECT_EQ(p.slot_buffer[1], -1);
    EXPECT_EQ(p.inplace, 0);
    EXPECT_EQ(p.tensors, 1);
}

TEST(MemoryPlan, PlannedGraphLayoutsAreValid) {
    // Random DAG-like step lists: the buffers of every plan pass the checker and respect alignment.
    std::mt19937 rng(99);
    for (int trial = 0; trial < 50; ++trial) {
        const int n = 2 + static_cast<int>(rng() % 60);
        std::vector<SlotDesc> slots(static_cast<size_t>(n) + 1);
        slots[0] = SlotDesc::unplanned();
        std::vector<int> last(static_cast<size_t>(n) + 1, 0);
        std::vector<std::vector<int>> ins(static_cast<size_t>(n) + 1);
        for (int v = 1; v <= n; ++v) {
            slots[static_cast<size_t>(v)] = f32({static_cast<int64_t>(1 + rng() % 3), 16});
            const int a = static_cast<int>(rng() % static_cast<unsigned>(v)),
                      b = static_cast<int>(rng() % static_cast<unsigned>(v));
            ins[static_cast<size_t>(v)] = {a, b};
            last[static_cast<size_t>(a)] = std::max(last[static_cast<size_t>(a)], v - 1);
            last[static_cast<size_t>(b)] = std::max(last[static_cast<size_t>(b)], v - 1);
        }
        std::vector<PlanStep> steps;
        for (int v = 1; v <= n; ++v) {
            std::vector<int> rel;
            for (int u = 0; u <= n; ++u) {
                if (last[static_cast<size_t>(u)] == v - 1 && u < v) rel.push_back(u);
            }
            if (v == n) rel.push_back(n);
            steps.push_back(step(ins[static_cast<size_t>(v)], {v}, rel, rng() % 2 == 0, rng() % 5 == 0));
        }
        const MemoryPlan p = plan_memory(steps, slots);
        std::vector<ArenaRequest> reqs;
        for (const auto& b : p.buffers) reqs.push_back({b.bytes, b.first, b.last});
        ArenaLayout l;
        l.bytes = p.arena_bytes;
        for (const auto& b : p.buffers) l.offsets.push_back(b.offset);
        ASSERT_EQ(check_layout(reqs, l), "") << "trial " << trial;
        EXPECT_GE(p.arena_bytes, p.lower_bound_bytes);
        EXPECT_LE(p.arena_bytes, p.naive_bytes);
    }
}

}  // namespace nnport

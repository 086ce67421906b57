// Planned execution: results identical to heap execution through views, in-place ops, pass-through kernels,
// sequences, subgraphs and dynamic shapes; arena reuse across runs; plan cache; the arena self-check.
#include "runtime/memory_arena.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "nnport/nnport.hpp"
#include "runtime/executor.hpp"

namespace nnport {

namespace {

/// Builds small models node by node (opset 18, kernels resolved).
struct Builder {
    std::unique_ptr<ir::Model> model = std::make_unique<ir::Model>();
    ir::Graph* g;
    Builder() {
        model->opset_imports[""] = 18;
        model->graph = std::make_unique<ir::Graph>("g");
        g = model->graph.get();
    }
    ir::Value* input(const std::string& name, DType dt, std::vector<ir::Dim> dims) {
        ir::Value* v = g->add_value(name, ir::ValueType::tensor(dt, std::move(dims))).value();
        g->inputs().push_back(v);
        return v;
    }
    ir::Value* constant(const std::string& name, Tensor t) {
        ir::Value* v = g->add_value(name).value();
        v->set_initializer(std::move(t));
        return v;
    }
    static ir::Node* node(ir::Graph& in, const std::string& op, std::vector<ir::Value*> inputs,
                          std::vector<std::string> outs) {
        ir::Node* n = in.add_node(op, "", op + "_" + outs[0], inputs, outs).value();
        n->opset = 18;
        n->def = find_op("", op);
        return n;
    }
    ir::Value* op(const std::string& op, std::vector<ir::Value*> inputs, const std::string& out) {
        return node(*g, op, std::move(inputs), {out})->output(0);
    }
};

/// x: float[N,3,4,4] (N symbolic when `dynamic`), cond: bool scalar. Exercises every way a value can alias the arena.
std::unique_ptr<ir::Model> aliasing_model(bool dynamic) {
    Builder b;
    ir::Value* x = b.input("x", DType::kFloat32, {dynamic ? ir::Dim::symbol("N") : ir::Dim(2), 3, 4, 4});
    ir::Value* cond = b.input("cond", DType::kBool, {});
    ir::Value* a = b.op("Relu", {x}, "a");
    ir::Value* s = b.op("Sigmoid", {a}, "s");  // a lives on: not in place
    ir::Value* r = b.op("Reshape", {s, b.constant("shape", Tensor::from_vector<int64_t>({2}, {-1, 48}))}, "r");
    ir::Value* t = b.op("Tanh", {r}, "t");                     // in place over the view
    ir::Node* cast = Builder::node(*b.g, "Cast", {t}, {"c"});  // same dtype: passes t through
    cast->attrs["to"] = ir::Attribute::make_int(1);
    ir::Value* c = cast->output(0);
    ir::Value* seq = b.op("SequenceConstruct", {a, t}, "seq");  // holds arena tensors
    ir::Value* d = b.op("Neg", {t}, "d");                       // in place over t: c, seq stale?
    ir::Value* u = b.op("Mul", {a, a}, "u");                    // in place over a
    ir::Value* g0 = b.op("SequenceAt", {seq, b.constant("zero", Tensor::scalar<int64_t>(0))}, "g0");
    ir::Value* g1 = b.op("SequenceAt", {seq, b.constant("one", Tensor::scalar<int64_t>(1))}, "g1");
    ir::Value* f = b.op("Add", {c, g1}, "f");
    ir::Value* h = b.op("Mul", {g0, u}, "h");
    ir::Value* out1 = b.op("Flatten", {h}, "out1");   // graph output viewing h
    ir::Value* out2 = b.op("Identity", {f}, "out2");  // graph output = f itself
    // If: then returns the captured d as is, else Exp(d); the result is used after d dies.
    auto then_g = std::make_shared<ir::Graph>("then", b.g);
    then_g->outputs().push_back(then_g->capture(d));
    auto else_g = std::make_shared<ir::Graph>("else", b.g);
    else_g->outputs().push_back(Builder::node(*else_g, "Exp", {else_g->capture(d)}, {"e"})->output(0));
    ir::Node* iff = Builder::node(*b.g, "If", {cond}, {"branch"});
    iff->attrs["then_branch"] = ir::Attribute::make_graph(then_g);
    iff->attrs["else_branch"] = ir::Attribute::make_graph(else_g);
    ir::Value* out3 = b.op("Sigmoid", {b.op("Relu", {iff->output(0)}, "rb")}, "out3");
    b.g->outputs() = {out1, out2, out3};
    return std::move(b.model);
}

std::unique_ptr<Session> session(std::unique_ptr<ir::Model> m, bool plan) {
    SessionOptions o;
    o.threads = 2;
    o.optimization_level = 0;  // keep the aliasing patterns as built
    o.memory_planning = plan;
    auto s = Session::from_model(std::move(m), o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return std::move(s).value();
}

Tensor input_x(int64_t n, float seed) {
    std::vector<float> v(static_cast<size_t>(n * 48));
    for (size_t i = 0; i < v.size(); ++i) v[i] = seed * (static_cast<float>(i % 17) - 8.0f) / 3.0f;
    return Tensor::from_vector<float>({n, 3, 4, 4}, v);
}

void expect_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].shape(), b[i].shape()) << "output " << i;
        ASSERT_EQ(a[i].dtype(), b[i].dtype());
        EXPECT_EQ(std::memcmp(a[i].raw_data(), b[i].raw_data(), a[i].nbytes()), 0) << "output " << i;
    }
}

}  // namespace

TEST(MemoryArena, PlannedRunsMatchHeapRunsThroughEveryAlias) {
    for (bool dynamic : {false, true}) {
        auto planned = session(aliasing_model(dynamic), true);
        auto heap = session(aliasing_model(dynamic), false);
        std::vector<std::vector<Tensor>> kept;
        for (int it = 0; it < 6; ++it) {
            const int64_t n = dynamic ? 1 + it % 3 : 2;
            const std::vector<std::pair<std::string, Tensor>> in = {{"x", input_x(n, 1.0f + it)},
                                                                    {"cond", Tensor::scalar<bool>(it % 2 == 0)}};
            auto want = heap->run(in);
            auto got = planned->run(in);
            ASSERT_TRUE(want.is_ok()) << want.status().to_string();
            ASSERT_TRUE(got.is_ok()) << got.status().to_string();
            expect_same(got.value(), want.value());
            kept.push_back(got.value());
        }
        // Outputs handed out earlier are never overwritten by later runs reusing the arena.
        for (int it = 0; it < 6; ++it) {
            const int64_t n = dynamic ? 1 + it % 3 : 2;
            auto again = heap->run({{"x", input_x(n, 1.0f + it)}, {"cond", Tensor::scalar<bool>(it % 2 == 0)}});
            expect_same(kept[static_cast<size_t>(it)], again.value());
        }
    }
}

TEST(MemoryArena, PlanUsesViewsInPlaceAndTheSelfCheckPasses) {
    auto s = session(aliasing_model(false), true);
    auto gp = GraphPlan::build(*s->model().graph);
    ASSERT_TRUE(gp.is_ok());
    MemoryPlanCache cache(*gp.value(), 8, 2, /*check=*/true);
    const std::vector<RtValue> in = {RtValue(input_x(2, 1.0f)), RtValue(Tensor::scalar<bool>(true))};
    Executor ex(nullptr);
    {
        // SequenceAt's result has no static shape: the first plan is partial and a run completes it.
        auto run = cache.begin_run(in);
        EXPECT_FALSE(run->plan().complete);
        EXPECT_TRUE(run->observing());
        cache.end_run(std::move(run), false);
    }
    auto plan = cache.plan_for(in, ex);
    ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
    const MemoryPlan& p = *plan.value();
    EXPECT_TRUE(p.complete);
    EXPECT_GE(p.views, 1);    // Reshape
    EXPECT_GE(p.inplace, 4);  // Tanh over the Reshape view, Neg over Tanh, Mul over Relu, Relu over If's result
    EXPECT_LE(p.arena_bytes, p.naive_bytes);
    EXPECT_GE(p.arena_bytes, p.lower_bound_bytes);
    for (bool cond : {true, false}) {
        auto r = cache.begin_run(in);
        std::vector<RtValue> args = {in[0], RtValue(Tensor::scalar<bool>(cond))};
        auto out = ex.run(*gp.value(), args, nullptr, nullptr, r.get());
        ASSERT_TRUE(out.is_ok()) << out.status().to_string();
        for (const RtValue& v : out.value()) EXPECT_NE(v.tensor.storage(), r->arena());  // outputs leave the arena
        cache.end_run(std::move(r), true);
    }
}

TEST(MemoryArena, DynamicShapesArePlannedPerSignatureWithABoundedCache) {
    auto s = session(aliasing_model(true), true);
    auto gp = GraphPlan::build(*s->model().graph);
    ASSERT_TRUE(gp.is_ok());
    MemoryPlanCache cache(*gp.value(), 3, 1, false);
    Executor ex(nullptr);
    for (int64_t n = 1; n <= 5; ++n) {
        const std::vector<RtValue> in = {RtValue(input_x(n, 1.0f)), RtValue(Tensor::scalar<bool>(true))};
        auto plan = cache.plan_for(in, ex);
        ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
        EXPECT_TRUE(plan.value()->complete);
        EXPECT_GT(plan.value()->tensors, 5);
        // The same signature again: the cached plan, not a new one.
        auto same = cache.plan_for(in, ex);
        EXPECT_EQ(same.value().get(), plan.value().get());
        EXPECT_LE(cache.size(), 3u);
    }
    EXPECT_EQ(cache.size(), 3u);
}

TEST(MemoryArena, StrayArenaValuesAreCopiedOutAndCorruptionIsCaught) {
    // a = Relu(x); b = Neg(a); y = Add(a, b): a and b are live together at step 2.
    Builder bld;
    ir::Value* x = bld.input("x", DType::kFloat32, {4, 16});
    ir::Value* a = bld.op("Relu", {x}, "a");
    ir::Value* b = bld.op("Neg", {a}, "b");
    bld.g->outputs() = {bld.op("Add", {a, b}, "y")};
    auto s = session(std::move(bld.model), true);
    auto gp = GraphPlan::build(*s->model().graph);
    ASSERT_TRUE(gp.is_ok());
    const GraphPlan& plan = *gp.value();
    MemoryPlanCache cache(plan, 8, 2, /*check=*/true);
    auto run = cache.begin_run({RtValue(Tensor::from_vector<float>({4, 16}, std::vector<float>(64, 1.0f)))});
    ASSERT_TRUE(run->arena());
    Frame frame;
    frame.plan = &plan;
    frame.slots.resize(static_cast<size_t>(plan.num_slots()));
    auto place = [&](size_t step, float fill) {
        std::vector<OutputPlacement> pl;
        run->placements(step, pl);
        EXPECT_EQ(pl.size(), 1u);
        Tensor t = Tensor::view(DType::kFloat32, {4, 16}, pl[0].storage, pl[0].offset);
        for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = fill;
        return t;
    };
    const int sa = plan.steps()[0].out_slots[0], sb = plan.steps()[1].out_slots[0];
    Tensor ta = place(0, 1.0f);
    frame.slots[static_cast<size_t>(sa)] = RtValue(ta);
    ASSERT_TRUE(run->after_step(0, frame).is_ok());
    // Step 1 "passes a through" as b: the stray arena value is copied to the heap.
    frame.slots[static_cast<size_t>(sb)] = RtValue(ta);
    ASSERT_TRUE(run->after_step(1, frame).is_ok());
    EXPECT_NE(frame.slots[static_cast<size_t>(sb)].tensor.storage(), run->arena());
    EXPECT_EQ(frame.slots[static_cast<size_t>(sa)].tensor.storage(), run->arena());
    // A step that scribbles over a live buffer it does not write is reported.
    Tensor tb = place(1, 2.0f);
    frame.slots[static_cast<size_t>(sb)] = RtValue(tb);
    ASSERT_TRUE(run->after_step(1, frame).is_ok());
    ta.data<float>()[5] = 42.0f;
    Status st = run->after_step(1, frame);
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("arena check"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("'a'"), std::string::npos) << st.message();
}

TEST(MemoryArena, HalfStepsComputedInFloat32StayOffThePlan) {
    // Relu and Sigmoid take float16 through float32: no arena slots for their outputs; Reshape (views) and
    // Identity keep the dtype. Results equal the heap run's.
    auto model = [] {
        Builder b;
        ir::Value* x = b.input("x", DType::kFloat16, {4, 8});
        ir::Value* a = b.op("Relu", {x}, "a");
        ir::Value* r = b.op("Reshape", {a, b.constant("shape", Tensor::from_vector<int64_t>({1}, {32}))}, "r");
        b.g->outputs() = {b.op("Sigmoid", {b.op("Neg", {r}, "n")}, "y")};
        return std::move(b.model);
    };
    auto planned = session(model(), true);
    auto heap = session(model(), false);
    std::vector<Float16> v(32);
    for (size_t i = 0; i < v.size(); ++i) v[i] = Float16(static_cast<float>(i) / 8.0f - 2.0f);
    const Tensor x = Tensor::from_vector<Float16>({4, 8}, v);
    expect_same(planned->run({{"x", x}}).value(), heap->run({{"x", x}}).value());
    auto gp = GraphPlan::build(*planned->model().graph);
    ASSERT_TRUE(gp.is_ok());
    MemoryPlanCache cache(*gp.value(), 8, 2, true);
    auto run = cache.begin_run({RtValue(x)});
    EXPECT_EQ(run->plan().tensors, 0);
    EXPECT_EQ(run->plan().arena_bytes, 0u);
}

TEST(MemoryArena, SessionsRunConcurrentlyWithPlanning) {
    auto s = session(aliasing_model(true), true);
    auto heap = session(aliasing_model(true), false);
    std::vector<std::vector<Tensor>> want;
    for (int t = 0; t < 4; ++t) {
        want.push_back(heap->run({{"x", input_x(1 + t % 3, 1.0f + t)}, {"cond", Tensor::scalar<bool>(t % 2)}}).value());
    }
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int it = 0; it < 20; ++it) {
                auto got = s->run({{"x", input_x(1 + t % 3, 1.0f + t)}, {"cond", Tensor::scalar<bool>(t % 2)}});
                if (!got.is_ok()) {
                    ++errors;
                    continue;
                }
                for (size_t i = 0; i < got.value().size(); ++i) {
                    const Tensor& a = got.value()[i];
                    const Tensor& b = want[static_cast<size_t>(t)][i];
                    if (a.shape() != b.shape() || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) != 0) ++errors;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(errors.load(), 0);
}

}  // namespace nnport

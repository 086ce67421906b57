// Session behaviour: dynamic shapes, input validation, concurrent run().
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "nnport/nnport.hpp"
#include "onnx/proto.hpp"
#include "ops/op_def.hpp"

namespace nnport {

/// y = ReduceSum(x, axes=[1], keepdims=0) with x: float[N, M] symbolic.
static std::unique_ptr<Session> reduce_session() {
    auto m = std::make_unique<ir::Model>();
    m->opset_imports[""] = 18;
    m->graph = std::make_unique<ir::Graph>("g");
    ir::Graph& g = *m->graph;
    ir::Value* x = g.add_value("x", ir::ValueType::tensor(DType::kFloat32, std::vector<ir::Dim>{ir::Dim::symbol("N"), ir::Dim::symbol("M")})).value();
    g.inputs().push_back(x);
    ir::Value* axes = g.add_value("axes").value();
    axes->set_initializer(Tensor::from_vector<int64_t>({1}, {1}));
    ir::Node* n = g.add_node("ReduceSum", "", "sum", {x, axes}, {"y"}).value();
    n->opset = 18;
    n->def = find_op("", "ReduceSum");
    n->attrs["keepdims"] = ir::Attribute::make_int(0);
    g.outputs().push_back(n->output(0));
    SessionOptions o;
    o.threads = 2;
    auto s = Session::from_model(std::move(m), o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return std::move(s).value();
}

static Tensor ramp(int64_t n, int64_t m, float scale) {
    std::vector<float> v(static_cast<size_t>(n * m));
    for (size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(i % 13);
    return Tensor::from_vector<float>({n, m}, v);
}

TEST(Session, DynamicShapesRunAtAnySize) {
    auto s = reduce_session();
    for (auto [n, m] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {64, 129}, {5, 1000}}) {
        auto out = s->run({{"x", ramp(n, m, 1.0f)}});
        ASSERT_TRUE(out.is_ok()) << out.status().to_string();
        ASSERT_EQ(out.value()[0].shape(), Shape({n}));
        float want = 0;
        for (int64_t j = 0; j < m; ++j) want += static_cast<float>(j % 13);
        EXPECT_FLOAT_EQ(out.value()[0].data<float>()[0], want);
    }
}

TEST(Session, RejectsMissingUnknownAndDuplicateInputs) {
    auto s = reduce_session();
    EXPECT_FALSE(s->run({}).is_ok());
    EXPECT_FALSE(s->run({{"z", ramp(1, 1, 1)}}).is_ok());
    EXPECT_FALSE(s->run({{"x", ramp(1, 1, 1)}, {"x", ramp(1, 1, 1)}}).is_ok());
    EXPECT_FALSE(s->run({{"x", Tensor::from_vector<float>({4}, {1, 2, 3, 4})}}).is_ok());
    EXPECT_FALSE(s->run({{"x", Tensor::from_vector<double>({1, 1}, {1})}}).is_ok());
}

TEST(Session, ConcurrentRunsGiveIndependentResults) {
    auto s = reduce_session();
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int it = 0; it < 50; ++it) {
                const int64_t n = 1 + (t + it) % 5, m = 10 + t;
                auto out = s->run({{"x", ramp(n, m, static_cast<float>(t + 1))}});
                if (!out.is_ok() || out.value()[0].numel() != n) {
                    ++errors;
                    continue;
                }
                float want = 0;
                for (int64_t j = 0; j < m; ++j) want += static_cast<float>(t + 1) * static_cast<float>(j % 13);
                if (out.value()[0].data<float>()[0] != want) ++errors;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(errors.load(), 0);
}

}  // namespace nnport

namespace nnport {
namespace {

// An output that is a model constant (a folded subgraph, or Identity of an initializer at level 0) must come back as
// the caller's own copy: writing into it must not change what later runs return.
TEST(Session, OutputsThatAreConstantsAreCopies) {
    for (int level : {0, 3}) {
        onnx::ModelProto m;
        m.set_ir_version(8);
        m.add_opset_import()->set_version(17);
        auto* g = m.mutable_graph();
        auto* c = g->add_initializer();
        c->set_name("c");
        c->set_data_type(onnx::TensorProto::FLOAT);
        c->add_dims(2);
        c->add_float_data(1.0f);
        c->add_float_data(2.0f);
        auto* n = g->add_node();
        n->set_op_type("Identity");
        n->add_input("c");
        n->add_output("y");
        auto* o = g->add_output();
        o->set_name("y");
        const std::string bytes = m.SerializeAsString();
        SessionOptions opts;
        opts.optimization_level = level;
        auto s = Session::load_from_memory(bytes.data(), bytes.size(), opts);
        ASSERT_TRUE(s.is_ok()) << s.status().message();
        auto r1 = (*s)->run({});
        ASSERT_TRUE(r1.is_ok()) << r1.status().message();
        (*r1)[0].data<float>()[0] = 42.0f;
        auto r2 = (*s)->run({});
        ASSERT_TRUE(r2.is_ok());
        EXPECT_EQ((*r2)[0].data<float>()[0], 1.0f) << "level " << level;
    }
}

}  // namespace
}  // namespace nnport

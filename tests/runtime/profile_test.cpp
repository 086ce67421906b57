// Session profiling: per-node totals, events for traces, one profile per session.
#include <gtest/gtest.h>

#include "nnport/nnport.hpp"
#include "ops/op_def.hpp"

namespace nnport {
namespace {

/// y = Neg(Relu(x)) with x: float[4, 8]; `first` and `second` name the nodes.
std::unique_ptr<Session> two_node_session(const std::string& first = "r", const std::string& second = "n") {
    auto m = std::make_unique<ir::Model>();
    m->opset_imports[""] = 17;
    m->graph = std::make_unique<ir::Graph>("g");
    ir::Graph& g = *m->graph;
    ir::Value* x = g.add_value("x", ir::ValueType::tensor(DType::kFloat32, Shape{4, 8})).value();
    g.inputs().push_back(x);
    ir::Node* relu = g.add_node("Relu", "", first, {x}, {"h"}).value();
    relu->opset = 17;
    relu->def = find_op("", "Relu");
    ir::Node* neg = g.add_node("Neg", "", second, {relu->output(0)}, {"y"}).value();
    neg->opset = 17;
    neg->def = find_op("", "Neg");
    g.outputs().push_back(neg->output(0));
    SessionOptions o;
    o.threads = 1;
    o.optimization_level = 0;
    o.backends = "ref";  // the profile names the backend: the reference kernels here
    auto s = Session::from_model(std::move(m), o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return std::move(s).value();
}

std::vector<std::pair<std::string, RtValue>> feeds() {
    std::vector<float> v(32);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) - 16.0f;
    return {{"x", RtValue(Tensor::from_vector<float>({4, 8}, v))}};
}

TEST(RunProfile, SumsNodeTimesOverRuns) {
    auto s = two_node_session();
    RunProfile p;
    for (int i = 0; i < 3; ++i) {
        auto out = s->run_values(feeds(), &p);
        ASSERT_TRUE(out.is_ok()) << out.status().to_string();
        EXPECT_EQ(out->at(0).tensor.data<float>()[31], -15.0f);  // profiling does not change results
    }
    EXPECT_EQ(p.runs, 3);
    ASSERT_EQ(p.nodes.size(), 2u);
    EXPECT_EQ(p.nodes[0].name, "r");
    EXPECT_EQ(p.nodes[0].op_type, "Relu");
    EXPECT_EQ(p.nodes[1].name, "n");
    EXPECT_EQ(p.nodes[1].op_type, "Neg");
    for (const auto& n : p.nodes) {
        EXPECT_EQ(n.backend, "ref");
        EXPECT_EQ(n.calls, 3);
        EXPECT_GT(n.total_ms, 0.0);
    }
    EXPECT_TRUE(p.events.empty());  // events only on request
    EXPECT_GE(p.origin_ns, 0);
}

TEST(RunProfile, RecordsEventsInOrderWhenAsked) {
    auto s = two_node_session();
    RunProfile p;
    p.record_events = true;
    ASSERT_TRUE(s->run_values(feeds(), &p).is_ok());
    ASSERT_TRUE(s->run_values(feeds(), &p).is_ok());
    ASSERT_EQ(p.events.size(), 4u);
    for (size_t i = 0; i < p.events.size(); ++i) {
        EXPECT_EQ(p.events[i].node, i % 2);
        EXPECT_GE(p.events[i].start_us, 0.0);
        EXPECT_GE(p.events[i].dur_us, 0.0);
        if (i > 0) {
            EXPECT_GE(p.events[i].start_us, p.events[i - 1].start_us + p.events[i - 1].dur_us);
        }
    }
    double sum0 = p.events[0].dur_us + p.events[2].dur_us;
    EXPECT_NEAR(p.nodes[0].total_ms * 1000.0, sum0, 1e-6 * sum0 + 1e-9);
}

TEST(RunProfile, RejectsAProfileFromAnotherSession) {
    auto s = two_node_session();
    RunProfile p;
    ASSERT_TRUE(s->run_values(feeds(), &p).is_ok());
    p.nodes.pop_back();  // as if filled by a session with another graph
    auto r = s->run_values(feeds(), &p);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("one profile per session"), std::string::npos) << r.status().to_string();
    EXPECT_EQ(p.runs, 1);
}

TEST(RunProfile, FailedRunLeavesTheProfileUnchanged) {
    auto s = two_node_session();
    RunProfile p;
    auto r = s->run_values({{"x", RtValue(Tensor::from_vector<float>({2}, {1, 2}))}}, &p);
    EXPECT_FALSE(r.is_ok());
    EXPECT_EQ(p.runs, 0);
    EXPECT_TRUE(p.nodes.empty());
}

}  // namespace
}  // namespace nnport

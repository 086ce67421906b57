// If / Loop / Scan / SequenceMap edge cases and rejections (bodies built as ONNX protobuf).
#include <gtest/gtest.h>

#include "ir/graph.hpp"
#include "proto_builder.hpp"

namespace nnport {

using namespace testing;  // NOLINT: test helpers

namespace {

constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kI64 = onnx::TensorProto::INT64;
constexpr int kBool = onnx::TensorProto::BOOL;

/// A branch returning a float constant.
onnx::GraphProto const_branch(const std::string& name, const std::vector<float>& vals, int n_outputs = 1) {
    onnx::GraphProto g;
    g.set_name(name);
    add_const_f32(&g, name + "_c", {static_cast<int64_t>(vals.size())}, vals);
    for (int i = 0; i < n_outputs; ++i) add_output(&g, name + "_c");
    return g;
}

onnx::GraphProto if_model(int then_outputs = 1) {
    onnx::GraphProto g;
    g.set_name("main");
    add_input(&g, "cond", kBool, {});
    auto* n = add_node(&g, "If", {"cond"}, {"y"});
    attr_graph(n, "then_branch", const_branch("then", {1.f, 2.f}, then_outputs));
    attr_graph(n, "else_branch", const_branch("else", {3.f}));
    add_output(&g, "y");
    return g;
}

/// Loop body: iteration number as scan output, carried value passed through, cond_out from `cond_src`.
onnx::GraphProto loop_body(bool cond_false_const) {
    onnx::GraphProto b;
    b.set_name("body");
    add_input(&b, "i", kI64, {});
    add_input(&b, "c_in", kBool, {});
    add_untyped_input(&b, "v_in");
    if (cond_false_const) add_const_bool(&b, "c_out", false);
    else add_node(&b, "Identity", {"c_in"}, {"c_out"});
    add_node(&b, "Identity", {"v_in"}, {"v_out"});
    add_node(&b, "Identity", {"i"}, {"scan"});
    add_output(&b, "c_out");
    add_output(&b, "v_out");
    add_output(&b, "scan");
    return b;
}

onnx::GraphProto loop_model(bool with_m, bool with_cond, bool cond_false_const) {
    onnx::GraphProto g;
    g.set_name("main");
    if (with_m) add_input(&g, "M", kI64, {});
    if (with_cond) add_input(&g, "cond", kBool, {});
    add_input(&g, "v", kF32, {2});
    auto* n = add_node(&g, "Loop", {with_m ? "M" : "", with_cond ? "cond" : "", "v"}, {"v_final", "scans"});
    attr_graph(n, "body", loop_body(cond_false_const));
    add_output(&g, "v_final");
    add_output(&g, "scans");
    return g;
}

RtValue f32(const Shape& s, const std::vector<float>& v) { return RtValue(Tensor::from_vector<float>(s, v)); }
RtValue i64(int64_t v) { return RtValue(Tensor::scalar<int64_t>(v)); }
RtValue boolean(bool v) { return RtValue(Tensor::scalar<bool>(v)); }

}  // namespace

TEST(If, PicksBranchAndInfersMergedShape) {
    auto s = load_graph(if_model());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    const ir::Value* y = s.value()->model().graph->find_value("y");
    ASSERT_TRUE(y->type.is_tensor());
    EXPECT_EQ(y->type.dtype, DType::kFloat32);
    ASSERT_EQ(y->type.rank(), 1);
    EXPECT_FALSE(y->type.dims[0].is_static());  // 2 vs 1 elements
    auto t = s.value()->run_values({{"cond", boolean(true)}});
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    EXPECT_EQ(t.value()[0].tensor.numel(), 2);
    auto f = s.value()->run_values({{"cond", boolean(false)}});
    ASSERT_TRUE(f.is_ok());
    EXPECT_EQ(f.value()[0].tensor.data<float>()[0], 3.f);
}

TEST(If, RejectsBranchOutputCountMismatch) { EXPECT_FALSE(load_graph(if_model(2)).is_ok()); }

TEST(If, RejectsConditionWithSeveralElements) {
    onnx::GraphProto g = if_model();
    g.mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
    RtValue cond(Tensor::from_vector<bool>({2}, {true, false}));
    EXPECT_FALSE(run_graph(g, {{"cond", cond}}).is_ok());
}

TEST(Loop, RunsMIterationsAndStacksScanOutputs) {
    auto out = run_graph(loop_model(true, true, false), {{"M", i64(3)}, {"cond", boolean(true)}, {"v", f32({2}, {5, 6})}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.data<float>()[1], 6.f);
    const Tensor& scans = out.value()[1].tensor;
    ASSERT_EQ(scans.shape(), Shape({3}));
    EXPECT_EQ(scans.data<int64_t>()[2], 2);
}

TEST(Loop, ZeroIterationsGivesEmptyScanOutput) {
    auto out = run_graph(loop_model(true, true, false), {{"M", i64(0)}, {"cond", boolean(true)}, {"v", f32({2}, {5, 6})}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[1].tensor.shape(), Shape({0}));
    EXPECT_EQ(out.value()[1].tensor.dtype(), DType::kInt64);
    auto neg = run_graph(loop_model(true, false, false), {{"M", i64(-5)}, {"v", f32({2}, {5, 6})}});
    ASSERT_TRUE(neg.is_ok()) << neg.status().to_string();
    EXPECT_EQ(neg.value()[1].tensor.numel(), 0);
}

TEST(Loop, FalseConditionInputSkipsBody) {
    auto out = run_graph(loop_model(true, true, false), {{"M", i64(4)}, {"cond", boolean(false)}, {"v", f32({2}, {1, 2})}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[1].tensor.numel(), 0);
}

TEST(Loop, BodyConditionEndsLoopWithoutMOrCondInput) {
    auto out = run_graph(loop_model(false, false, true), {{"v", f32({2}, {1, 2})}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[1].tensor.shape(), Shape({1}));
}

TEST(Loop, RejectsNonScalarTripCount) {
    onnx::GraphProto g = loop_model(true, false, false);
    g.mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
    RtValue m(Tensor::from_vector<int64_t>({2}, {1, 2}));
    EXPECT_FALSE(run_graph(g, {{"M", m}, {"v", f32({2}, {1, 2})}}).is_ok());
}

TEST(Loop, RejectsBodyWithWrongInputCount) {
    onnx::GraphProto g = loop_model(true, true, false);
    auto* body = g.mutable_node(0)->mutable_attribute(0)->mutable_g();
    add_untyped_input(body, "extra");
    EXPECT_FALSE(load_graph(g).is_ok());
}

/// Scan with one state (passed through) and one scan input echoed as a scan output.
onnx::GraphProto scan_model(const std::vector<int64_t>& in_axes, const std::vector<int64_t>& in_dirs,
                            const std::vector<int64_t>& out_axes, const std::vector<int64_t>& out_dirs) {
    onnx::GraphProto b;
    b.set_name("body");
    add_untyped_input(&b, "s_in");
    add_untyped_input(&b, "x_in");
    add_node(&b, "Identity", {"s_in"}, {"s_out"});
    add_node(&b, "Identity", {"x_in"}, {"y"});
    add_output(&b, "s_out");
    add_output(&b, "y");
    onnx::GraphProto g;
    g.set_name("main");
    add_input(&g, "s", kF32, {1});
    add_input(&g, "x", kF32, {2, 3});
    auto* n = add_node(&g, "Scan", {"s", "x"}, {"s_final", "ys"});
    attr_graph(n, "body", b);
    attr_int(n, "num_scan_inputs", 1);
    if (!in_axes.empty()) attr_ints(n, "scan_input_axes", in_axes);
    if (!in_dirs.empty()) attr_ints(n, "scan_input_directions", in_dirs);
    if (!out_axes.empty()) attr_ints(n, "scan_output_axes", out_axes);
    if (!out_dirs.empty()) attr_ints(n, "scan_output_directions", out_dirs);
    add_output(&g, "s_final");
    add_output(&g, "ys");
    return g;
}

TEST(Scan, AxesAndDirections) {
    const RtValue x = f32({2, 3}, {0, 1, 2, 3, 4, 5});
    // Scan along axis 1 in reverse, stack along axis 1: columns reversed.
    auto s = load_graph(scan_model({1}, {1}, {1}, {}));
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    const ir::Value* ys = s.value()->model().graph->find_value("ys");
    ASSERT_EQ(ys->type.rank(), 2);
    EXPECT_EQ(ys->type.dims[0].value, 2);
    EXPECT_EQ(ys->type.dims[1].value, 3);
    auto out = s.value()->run_values({{"s", f32({1}, {7})}, {"x", x}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const Tensor& y = out.value()[1].tensor;
    ASSERT_EQ(y.shape(), Shape({2, 3}));
    EXPECT_EQ(y.data<float>()[0], 2.f);
    EXPECT_EQ(y.data<float>()[3], 5.f);
    EXPECT_EQ(out.value()[0].tensor.data<float>()[0], 7.f);
    // Reverse input and reverse output cancel out; axis -1 means axis 1.
    auto out2 = run_graph(scan_model({-1}, {1}, {-1}, {1}), {{"s", f32({1}, {7})}, {"x", x}});
    ASSERT_TRUE(out2.is_ok()) << out2.status().to_string();
    EXPECT_EQ(out2.value()[1].tensor.data<float>()[1], 1.f);
    // Scan along axis 1, stack along axis 0: a transpose.
    auto out3 = run_graph(scan_model({1}, {}, {0}, {}), {{"s", f32({1}, {7})}, {"x", x}});
    ASSERT_TRUE(out3.is_ok()) << out3.status().to_string();
    EXPECT_EQ(out3.value()[1].tensor.shape(), Shape({3, 2}));
    EXPECT_EQ(out3.value()[1].tensor.data<float>()[1], 3.f);
}

TEST(Scan, RejectsBadAxisAndAttributeLength) {
    EXPECT_FALSE(load_graph(scan_model({2}, {}, {}, {})).is_ok());
    EXPECT_FALSE(load_graph(scan_model({0, 1}, {}, {}, {})).is_ok());
}

TEST(SequenceMap, MapsSequenceWithTensorArgument) {
    onnx::GraphProto b;
    b.set_name("body");
    add_untyped_input(&b, "e");
    add_untyped_input(&b, "t");
    add_node(&b, "Identity", {"e"}, {"e_out"});
    add_node(&b, "Identity", {"t"}, {"t_out"});
    add_output(&b, "e_out");
    add_output(&b, "t_out");
    onnx::GraphProto g;
    g.set_name("main");
    add_input(&g, "a", kF32, {2});
    add_input(&g, "b", kF32, {3});
    add_node(&g, "SequenceConstruct", {"a", "b"}, {"seq"});
    auto* n = add_node(&g, "SequenceMap", {"seq", "a"}, {"s1", "s2"});
    attr_graph(n, "body", b);
    add_output(&g, "s1");
    add_output(&g, "s2");
    auto out = run_graph(g, {{"a", f32({2}, {1, 2})}, {"b", f32({3}, {3, 4, 5})}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    ASSERT_TRUE(out.value()[0].is_sequence());
    ASSERT_EQ(out.value()[0].sequence.size(), 2u);
    EXPECT_EQ(out.value()[0].sequence[1].numel(), 3);
    EXPECT_EQ(out.value()[1].sequence[1].numel(), 2);
}

}  // namespace nnport

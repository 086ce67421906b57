// Sequence and optional op edge cases and rejections.
#include <gtest/gtest.h>

#include "proto_builder.hpp"

namespace nnport {

using namespace testing;  // NOLINT: test helpers

namespace {

constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kI64 = onnx::TensorProto::INT64;

RtValue f32(const Shape& s, const std::vector<float>& v) { return RtValue(Tensor::from_vector<float>(s, v)); }
RtValue i64(int64_t v) { return RtValue(Tensor::scalar<int64_t>(v)); }

/// main(a: float[2], b: float[3], pos: int64) with a sequence [a, b] built in the graph; `tail` adds nodes.
onnx::GraphProto seq_graph() {
    onnx::GraphProto g;
    g.set_name("main");
    add_input(&g, "a", kF32, {2});
    add_input(&g, "b", kF32, {3});
    add_input(&g, "pos", kI64, {});
    add_node(&g, "SequenceConstruct", {"a", "b"}, {"seq"});
    return g;
}

Result<std::vector<RtValue>> run_seq(const onnx::GraphProto& g, int64_t pos) {
    return run_graph(g, {{"a", f32({2}, {1, 2})}, {"b", f32({3}, {3, 4, 5})}, {"pos", i64(pos)}});
}

}  // namespace

TEST(SequenceAt, NegativePositionAndOutOfRange) {
    onnx::GraphProto g = seq_graph();
    add_node(&g, "SequenceAt", {"seq", "pos"}, {"y"});
    add_output(&g, "y");
    auto out = run_seq(g, -1);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.numel(), 3);
    EXPECT_FALSE(run_seq(g, 2).is_ok());
    EXPECT_FALSE(run_seq(g, -3).is_ok());
}

TEST(SequenceInsert, AtEndPositionAndRejectsDtypeMismatch) {
    onnx::GraphProto g = seq_graph();
    add_node(&g, "SequenceInsert", {"seq", "a", "pos"}, {"s2"});
    add_node(&g, "SequenceLength", {"s2"}, {"n"});
    add_output(&g, "s2");
    add_output(&g, "n");
    auto out = run_seq(g, 2);  // position == length appends
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[1].tensor.data<int64_t>()[0], 3);
    EXPECT_EQ(out.value()[0].sequence[2].numel(), 2);
    EXPECT_FALSE(run_seq(g, 3).is_ok());

    onnx::GraphProto bad = seq_graph();
    add_node(&bad, "SequenceInsert", {"seq", "pos"}, {"s2"});  // int64 tensor into a float sequence
    add_output(&bad, "s2");
    EXPECT_FALSE(run_seq(bad, 0).is_ok());
}

TEST(SequenceErase, DefaultsToLastAndRejectsEmpty) {
    onnx::GraphProto g = seq_graph();
    add_node(&g, "SequenceErase", {"seq"}, {"s1"});
    add_node(&g, "SequenceErase", {"s1"}, {"s0"});
    add_node(&g, "SequenceLength", {"s0"}, {"n"});
    add_node(&g, "SequenceErase", {"s0"}, {"bad"});
    add_output(&g, "s1");
    add_output(&g, "bad");
    EXPECT_FALSE(run_seq(g, 0).is_ok());

    onnx::GraphProto ok = seq_graph();
    add_node(&ok, "SequenceErase", {"seq"}, {"s1"});
    add_node(&ok, "SequenceAt", {"s1", "pos"}, {"y"});
    add_output(&ok, "y");
    auto out = run_seq(ok, 0);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.numel(), 2);
}

TEST(SequenceEmpty, HasDtypeAndZeroLength) {
    onnx::GraphProto g;
    g.set_name("main");
    auto* n = add_node(&g, "SequenceEmpty", {}, {"s"});
    attr_int(n, "dtype", onnx::TensorProto::INT64);
    add_node(&g, "SequenceLength", {"s"}, {"n"});
    add_output(&g, "s");
    add_output(&g, "n");
    auto out = run_graph(g, {});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].seq_dtype, DType::kInt64);
    EXPECT_EQ(out.value()[1].tensor.data<int64_t>()[0], 0);
}

TEST(SplitToSequence, ScalarSplitKeepdimsAndRejectsBadSizes) {
    onnx::GraphProto g;
    g.set_name("main");
    add_input(&g, "x", kF32, {5, 2});
    add_input(&g, "split", kI64, {}, false);
    add_node(&g, "SplitToSequence", {"x", "split"}, {"s"});
    add_output(&g, "s");
    const RtValue x = f32({5, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    auto out = run_graph(g, {{"x", x}, {"split", i64(2)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    ASSERT_EQ(out.value()[0].sequence.size(), 3u);
    EXPECT_EQ(out.value()[0].sequence[2].shape(), Shape({1, 2}));
    EXPECT_EQ(out.value()[0].sequence[2].data<float>()[1], 9.f);
    EXPECT_FALSE(run_graph(g, {{"x", x}, {"split", i64(0)}}).is_ok());
    RtValue sizes(Tensor::from_vector<int64_t>({2}, {2, 2}));  // sums to 4, not 5
    EXPECT_FALSE(run_graph(g, {{"x", x}, {"split", sizes}}).is_ok());

    onnx::GraphProto nokeep;
    nokeep.set_name("main");
    add_input(&nokeep, "x", kF32, {5, 2});
    auto* n = add_node(&nokeep, "SplitToSequence", {"x"}, {"s"});
    attr_int(n, "axis", 1);
    attr_int(n, "keepdims", 0);
    add_output(&nokeep, "s");
    auto out2 = run_graph(nokeep, {{"x", x}});
    ASSERT_TRUE(out2.is_ok()) << out2.status().to_string();
    ASSERT_EQ(out2.value()[0].sequence.size(), 2u);
    EXPECT_EQ(out2.value()[0].sequence[1].shape(), Shape({5}));
    EXPECT_EQ(out2.value()[0].sequence[1].data<float>()[4], 9.f);
}

TEST(ConcatFromSequence, ConcatAndNewAxis) {
    onnx::GraphProto g;
    g.set_name("main");
    add_input(&g, "a", kF32, {1, 2});
    add_input(&g, "b", kF32, {1, 2});
    add_node(&g, "SequenceConstruct", {"a", "b"}, {"seq"});
    auto* c = add_node(&g, "ConcatFromSequence", {"seq"}, {"cat"});
    attr_int(c, "axis", -1);
    auto* s = add_node(&g, "ConcatFromSequence", {"seq"}, {"stack"});
    attr_int(s, "axis", 2);  // new last axis: valid range [-3, 2]
    attr_int(s, "new_axis", 1);
    add_output(&g, "cat");
    add_output(&g, "stack");
    auto out = run_graph(g, {{"a", f32({1, 2}, {1, 2})}, {"b", f32({1, 2}, {3, 4})}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), Shape({1, 4}));
    EXPECT_EQ(out.value()[0].tensor.data<float>()[2], 3.f);
    EXPECT_EQ(out.value()[1].tensor.shape(), Shape({1, 2, 2}));
    EXPECT_EQ(out.value()[1].tensor.data<float>()[1], 3.f);
}

TEST(ConcatFromSequence, RejectsMismatchedShapes) {
    onnx::GraphProto g = seq_graph();  // [2] and [3] along a new axis cannot stack
    auto* s = add_node(&g, "ConcatFromSequence", {"seq"}, {"stack"});
    attr_int(s, "axis", 0);
    attr_int(s, "new_axis", 1);
    add_output(&g, "stack");
    EXPECT_FALSE(run_seq(g, 0).is_ok());
}

TEST(Optional, EmptyAndFullOptionals) {
    onnx::GraphProto g;
    g.set_name("main");
    add_input(&g, "x", kF32, {2});
    auto* e = add_node(&g, "Optional", {}, {"empty"});
    attr_tensor_type(e, "type", kF32);
    add_node(&g, "Optional", {"x"}, {"full"});
    add_node(&g, "OptionalHasElement", {"empty"}, {"has_empty"});
    add_node(&g, "OptionalHasElement", {"full"}, {"has_full"});
    add_node(&g, "OptionalHasElement", {"x"}, {"has_plain"});
    add_node(&g, "OptionalGetElement", {"full"}, {"got"});
    add_node(&g, "OptionalHasElement", {}, {"has_none"});
    for (const char* o : {"empty", "has_empty", "has_full", "has_plain", "got", "has_none"}) add_output(&g, o);
    auto out = run_graph(g, {{"x", f32({2}, {1, 2})}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_TRUE(out.value()[0].is_none());
    EXPECT_FALSE(out.value()[1].tensor.data<bool>()[0]);
    EXPECT_TRUE(out.value()[2].tensor.data<bool>()[0]);
    EXPECT_TRUE(out.value()[3].tensor.data<bool>()[0]);
    EXPECT_EQ(out.value()[4].tensor.data<float>()[1], 2.f);
    EXPECT_FALSE(out.value()[5].tensor.data<bool>()[0]);
}

TEST(OptionalGetElement, RejectsEmptyOptional) {
    onnx::GraphProto g;
    g.set_name("main");
    auto* e = add_node(&g, "Optional", {}, {"empty"});
    attr_tensor_type(e, "type", kF32);
    add_node(&g, "OptionalGetElement", {"empty"}, {"y"});
    add_output(&g, "y");
    EXPECT_FALSE(run_graph(g, {}).is_ok());
}

TEST(Optional, RejectsMissingTypeWithoutInput) {
    onnx::GraphProto g;
    g.set_name("main");
    add_node(&g, "Optional", {}, {"empty"});
    add_output(&g, "empty");
    EXPECT_FALSE(load_graph(g).is_ok());
}

}  // namespace nnport

// transpose_sink: Transposes move through elementwise ops (constants permuted), Concat, reductions and Softmax to
// cancel; a move that would not reduce the number of Transposes is not made.
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace basic;
constexpr int F = onnx::TensorProto::FLOAT;
const std::vector<int64_t> kToNhwc = {0, 2, 3, 1}, kToNchw = {0, 3, 1, 2};

TEST(TransposeSink, ThroughUnaryAndConstantBinaryOpsToCancel) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 4, 5});
    attr_ints(add_node(&g, "Transpose", {"x"}, {"t"}), "perm", kToNhwc);  // [1,4,5,3]
    add_node(&g, "Relu", {"t"}, {"r"});
    add_init_f32(&g, "bias", {3});  // per channel, last axis in NHWC
    add_node(&g, "Add", {"r", "bias"}, {"a"});
    add_init_f32(&g, "scale", {5, 3});
    add_node(&g, "Mul", {"scale", "a"}, {"m"});
    add_init_f32(&g, "lo", {}, {-0.2f});
    add_node(&g, "Clip", {"m", "lo"}, {"c"});
    attr_ints(add_node(&g, "Transpose", {"c"}, {"y"}), "perm", kToNchw);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_sink");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "Transpose"), 0) << ir::to_text(*m->graph);
    EXPECT_EQ(const_input(first_node(*m, "Add"), 1)->shape(), (Shape{1, 3, 1, 1}));
    EXPECT_EQ(m->graph->outputs()[0]->name(), "y");
}

TEST(TransposeSink, ThroughAMulByARuntimeChannelScaleToCancel) {
    // Squeeze-and-excitation in a channels-last region: NHWC -> NCHW, Mul by s [N, C, 1, 1] computed at run time,
    // back to NHWC. s permuted only moves size-1 dims: it gets a Reshape and both Transposes go.
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 4, 5, 3});
    add_input(&g, "s", F, {-1, 3, 1, 1});
    attr_ints(add_node(&g, "Transpose", {"x"}, {"t"}), "perm", kToNchw);
    add_node(&g, "Mul", {"t", "s"}, {"m"});
    attr_ints(add_node(&g, "Transpose", {"m"}, {"y"}), "perm", kToNhwc);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_sink");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "Transpose"), 0) << ir::to_text(*m->graph);
    const ir::Node* r = first_node(*m, "Reshape");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(const_input(r, 1)->to_int_vector(), (std::vector<int64_t>{-1, 1, 1, 3}));
}

TEST(TransposeSink, RuntimeOperandWhoseDataWouldMoveStops) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 4, 5, 3});
    add_input(&g, "s", F, {2, 3, 4, 1});  // C and H both > 1: permuting moves data
    attr_ints(add_node(&g, "Transpose", {"x"}, {"t"}), "perm", kToNchw);
    add_node(&g, "Mul", {"t", "s"}, {"m"});
    attr_ints(add_node(&g, "Transpose", {"m"}, {"y"}), "perm", kToNhwc);
    add_output(&g, "y");
    check_pass(make_model(g), "transpose_sink", false);
}

TEST(TransposeSink, ConcatOfTransposedInputsAndPartialCancel) {
    // Two NHWC transposes feed a channel Concat; after it, a transpose back that composes into a partial one.
    onnx::GraphProto g;
    add_input(&g, "a", F, {1, 2, 3, 3});
    add_input(&g, "b", F, {1, 4, 3, 3});
    attr_ints(add_node(&g, "Transpose", {"a"}, {"ta"}), "perm", kToNhwc);
    attr_ints(add_node(&g, "Transpose", {"b"}, {"tb"}), "perm", kToNhwc);
    attr_int(add_node(&g, "Concat", {"ta", "tb"}, {"c"}), "axis", 3);
    add_node(&g, "Sigmoid", {"c"}, {"s"});
    attr_ints(add_node(&g, "Transpose", {"s"}, {"y"}), "perm", {0, 3, 2, 1});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_sink");
    EXPECT_EQ(count_op(*m, "Transpose"), 1);
    EXPECT_EQ(first_node(*m, "Concat")->attr("axis")->i, 1);
}

TEST(TransposeSink, ReductionWithoutKeepdimsMakesThePermutationVanish) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3, 4, 5});
    attr_ints(add_node(&g, "Transpose", {"x"}, {"t"}), "perm", kToNhwc);  // [2,4,5,3]
    add_init_i64(&g, "axes", {2}, {1, 2});
    attr_int(add_node(&g, "ReduceMean", {"t", "axes"}, {"y"}), "keepdims", 0);  // [2,3]
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_sink");
    EXPECT_EQ(count_op(*m, "Transpose"), 0);
    EXPECT_EQ(const_input(first_node(*m, "ReduceMean"), 1)->to_int_vector(), (std::vector<int64_t>{2, 3}));
}

TEST(TransposeSink, ReductionKeepingSomeOrderAndSoftmax) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3, 4, 5});
    attr_ints(add_node(&g, "Transpose", {"x"}, {"t"}), "perm", {3, 1, 0, 2});  // [5,3,2,4]
    attr_int(add_node(&g, "Softmax", {"t"}, {"s"}), "axis", 1);
    add_init_i64(&g, "axes", {1}, {1});
    attr_int(add_node(&g, "ReduceMax", {"s", "axes"}, {"r"}), "keepdims", 0);  // [5,2,4]
    attr_ints(add_node(&g, "Transpose", {"r"}, {"y"}), "perm", {1, 2, 0});     // [2,4,5]: x order without C
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_sink");
    EXPECT_EQ(count_op(*m, "Transpose"), 0) << ir::to_text(*m->graph);
    EXPECT_EQ(first_node(*m, "Softmax")->attr("axis")->i, 1);
}

TEST(TransposeSink, NoMoveWithoutAGain) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 4, 5});
    add_input(&g, "z", F, {1, 4, 5, 3});
    attr_ints(add_node(&g, "Transpose", {"x"}, {"t"}), "perm", kToNhwc);
    add_node(&g, "Relu", {"t"}, {"r"});       // then nothing to meet: y0 is an output
    add_node(&g, "Add", {"r", "z"}, {"y0"});  // a run-time operand blocks the move anyway
    attr_ints(add_node(&g, "Transpose", {"x"}, {"u"}), "perm", kToNhwc);
    add_node(&g, "Exp", {"u"}, {"e"});
    add_node(&g, "Neg", {"e"}, {"y1"});
    add_node(&g, "Abs", {"e"}, {"y2"});  // e has two consumers: the Transpose would be re-inserted
    add_output(&g, "y0");
    add_output(&g, "y1");
    add_output(&g, "y2");
    auto m = check_pass(make_model(g), "transpose_sink", false);
    EXPECT_EQ(count_op(*m, "Transpose"), 2);
}

TEST(TransposeSink, TwoTransposedOperandsMergeIntoOne) {
    onnx::GraphProto g;
    add_input(&g, "a", F, {1, 3, 4, 5});
    add_input(&g, "b", F, {1, 3, 4, 5});
    attr_ints(add_node(&g, "Transpose", {"a"}, {"ta"}), "perm", kToNhwc);
    attr_ints(add_node(&g, "Transpose", {"b"}, {"tb"}), "perm", kToNhwc);
    add_node(&g, "Mul", {"ta", "tb"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_sink");
    EXPECT_EQ(count_op(*m, "Transpose"), 1);
    EXPECT_EQ(m->graph->outputs()[0]->producer()->op_type(), "Transpose");
}

}  // namespace
}  // namespace nnport::testing

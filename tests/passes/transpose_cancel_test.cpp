// transpose_cancel: Transpose pairs cancel or compose, reshape-like chains with a static result merge; dynamic
// chains and output names are respected.
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace basic;
constexpr int F = onnx::TensorProto::FLOAT;

TEST(TransposeCancel, InversePairCancels) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3, 4});
    add_node(&g, "Relu", {"x"}, {"r"});
    attr_ints(add_node(&g, "Transpose", {"r"}, {"t1"}), "perm", {1, 2, 0});
    attr_ints(add_node(&g, "Transpose", {"t1"}, {"t2"}), "perm", {2, 0, 1});
    add_node(&g, "Neg", {"t2"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_cancel");
    EXPECT_EQ(count_op(*m, "Transpose"), 0);
}

TEST(TransposeCancel, PairComposesAndSharedFirstTransposeStays) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3, 4});
    attr_ints(add_node(&g, "Transpose", {"x"}, {"t1"}), "perm", {1, 0, 2});
    attr_ints(add_node(&g, "Transpose", {"t1"}, {"t2"}), "perm", {0, 2, 1});
    add_node(&g, "Transpose", {"t1"}, {"t3"});  // default perm: reversed
    add_node(&g, "Relu", {"t1"}, {"y0"});
    add_output(&g, "y0");
    add_output(&g, "t2");
    add_output(&g, "t3");
    auto m = check_pass(make_model(g), "transpose_cancel");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "Transpose"), 3);
    for (const ir::Value* out : {m->graph->outputs()[1], m->graph->outputs()[2]}) {
        EXPECT_EQ(out->producer()->input(0)->name(), "x") << out->name();
    }
    EXPECT_EQ(m->graph->outputs()[1]->producer()->attr("perm")->ints, (std::vector<int64_t>{1, 2, 0}));
}

TEST(TransposeCancel, ReshapeChainWithStaticResultMerges) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3, 4});
    add_init_i64(&g, "s1", {2}, {6, 4});
    add_node(&g, "Reshape", {"x", "s1"}, {"a"});
    add_init_i64(&g, "ax", {1}, {0});
    add_node(&g, "Unsqueeze", {"a", "ax"}, {"b"});
    attr_int(add_node(&g, "Flatten", {"b"}, {"y"}), "axis", 2);  // [6, 4]... as [1*6, 4]
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_cancel");
    EXPECT_EQ(node_count(*m), 1);
    const ir::Node* r = first_node(*m, "Reshape");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->input(0)->name(), "x");
    EXPECT_EQ(const_input(r, 1)->to_int_vector(), (std::vector<int64_t>{6, 4}));
}

TEST(TransposeCancel, TransposeMovingOnlyUnitDimsBecomesAReshapeAndMergesWithFlatten) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 1, 1, 8});  // NHWC global pooling output, dynamic batch
    attr_ints(add_node(&g, "Transpose", {"x"}, {"t"}), "perm", {0, 3, 1, 2});
    add_node(&g, "Flatten", {"t"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_cancel");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "Transpose"), 0);
    const ir::Node* r = first_node(*m, "Reshape");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(const_input(r, 1)->to_int_vector(), (std::vector<int64_t>{-1, 8, 1, 1}));
}

TEST(TransposeCancel, TransposeMovingDataStays) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 1, 3, 4});
    attr_ints(add_node(&g, "Transpose", {"x"}, {"y"}), "perm", {0, 1, 3, 2});
    add_output(&g, "y");
    check_pass(make_model(g), "transpose_cancel", false);
}

TEST(TransposeCancel, DynamicReshapeChainStays) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 3, 4});
    attr_int(add_node(&g, "Flatten", {"x"}, {"a"}), "axis", 1);
    add_init_i64(&g, "s", {3}, {0, 4, 3});
    add_node(&g, "Reshape", {"a", "s"}, {"y"});
    add_output(&g, "y");
    check_pass(make_model(g), "transpose_cancel", false);
}

TEST(TransposeCancel, InputToOutputPairKeepsTheOutputName) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    add_node(&g, "Transpose", {"x"}, {"t"});
    add_node(&g, "Transpose", {"t"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "transpose_cancel");
    // y cannot become the graph input x: one identity Transpose remains to produce it.
    EXPECT_EQ(count_op(*m, "Transpose"), 1);
    EXPECT_EQ(m->graph->outputs()[0]->producer()->input(0)->name(), "x");
}

}  // namespace
}  // namespace nnport::testing

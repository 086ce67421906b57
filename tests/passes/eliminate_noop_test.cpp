// eliminate_noop: every no-op form is removed, exactly; look-alikes that change values, shapes or names stay.
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace basic;
constexpr int F = onnx::TensorProto::FLOAT;

TEST(EliminateNoop, RemovesEveryNoOpForm) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3, 4});
    add_node(&g, "Relu", {"x"}, {"r"});
    add_node(&g, "Identity", {"r"}, {"a"});
    attr_int(add_node(&g, "Cast", {"a"}, {"b"}), "to", F);
    attr_ints(add_node(&g, "Transpose", {"b"}, {"c"}), "perm", {0, 1, 2});
    add_init_i64(&g, "shape", {3}, {2, 3, 4});
    add_node(&g, "Reshape", {"c", "shape"}, {"d"});
    add_node(&g, "Squeeze", {"d"}, {"e"});
    add_init_i64(&g, "starts", {3}, {0, 0, 0});
    add_init_i64(&g, "ends", {3}, {INT64_MAX, INT64_MAX, INT64_MAX});
    add_node(&g, "Slice", {"e", "starts", "ends"}, {"f"});
    add_init_i64(&g, "pads", {6}, {0, 0, 0, 0, 0, 0});
    add_node(&g, "Pad", {"f", "pads"}, {"h"});
    attr_int(add_node(&g, "Concat", {"h"}, {"i"}), "axis", 1);
    add_node(&g, "Sum", {"i"}, {"j"});
    add_init_f32(&g, "one", {1, 4}, {1, 1, 1, 1});
    add_node(&g, "Mul", {"one", "j"}, {"k"});
    add_init_f32(&g, "one_s", {}, {1.0f});
    add_node(&g, "Div", {"k", "one_s"}, {"l"});
    add_init_f32(&g, "neg_zero", {}, {-0.0f});
    add_node(&g, "Add", {"l", "neg_zero"}, {"m"});
    add_init_f32(&g, "pos_zero", {3, 1}, {0.0f, 0.0f, 0.0f});
    add_node(&g, "Sub", {"m", "pos_zero"}, {"n"});
    add_node(&g, "Dropout", {"n"}, {"o"});
    add_node(&g, "Neg", {"o"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "eliminate_noop");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(node_count(*m), 2) << ir::to_text(*m->graph);  // Relu, Neg
    EXPECT_EQ(changes_of(make_model(g), "eliminate_noop").size(), 14u);
}

TEST(EliminateNoop, KeepsLookAlikesThatChangeSomething) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    add_init_f32(&g, "pos_zero", {}, {0.0f});
    add_init_f32(&g, "neg_zero", {}, {-0.0f});
    add_init_f32(&g, "ones", {2, 2, 3}, std::vector<float>(12, 1.0f));
    add_init_f32(&g, "one", {}, {1.0f});
    add_init_f32(&g, "two", {}, {2.0f});
    add_node(&g, "Add", {"x", "pos_zero"}, {"a"});  // -0.0 + 0.0 is +0.0
    add_node(&g, "Sub", {"a", "neg_zero"}, {"b"});  // x - (-0.0) = x + 0.0
    add_node(&g, "Mul", {"b", "ones"}, {"c"});      // broadcasts to [2,2,3]
    add_node(&g, "Sub", {"pos_zero", "c"}, {"d"});  // 0 - x
    add_node(&g, "Div", {"one", "d"}, {"e"});       // 1 / x
    add_node(&g, "Mul", {"e", "two"}, {"f"});
    attr_ints(add_node(&g, "Transpose", {"f"}, {"h"}), "perm", {0, 2, 1});
    attr_int(add_node(&g, "Cast", {"h"}, {"i"}), "to", onnx::TensorProto::DOUBLE);
    attr_int(add_node(&g, "Cast", {"i"}, {"y"}), "to", F);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "eliminate_noop", false);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(node_count(*m), 9);
}

TEST(EliminateNoop, IntegerZeroAndFullSliceWithStaticShape) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::INT64, {4});
    add_init_i64(&g, "zero", {1}, {0});
    add_node(&g, "Add", {"zero", "x"}, {"a"});
    add_init_i64(&g, "starts", {1}, {-10});
    add_init_i64(&g, "ends", {1}, {4});
    add_node(&g, "Slice", {"a", "starts", "ends"}, {"b"});
    add_node(&g, "Neg", {"b"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "eliminate_noop");
    EXPECT_EQ(node_count(*m), 1);
}

TEST(EliminateNoop, ReversingSliceAndDynamicReshapeStay) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 4});
    add_init_i64(&g, "starts", {1}, {-1});
    add_init_i64(&g, "ends", {1}, {INT64_MIN});
    add_init_i64(&g, "axes", {1}, {1});
    add_init_i64(&g, "steps", {1}, {-1});
    add_node(&g, "Slice", {"x", "starts", "ends", "axes", "steps"}, {"a"});
    add_init_i64(&g, "shape", {2}, {-1, 4});
    add_node(&g, "Reshape", {"a", "shape"}, {"y"});
    add_output(&g, "y");
    check_pass(make_model(g), "eliminate_noop", false);
}

TEST(EliminateNoop, KeepsOutputNamesAndInputToOutputIdentity) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {3});
    add_node(&g, "Identity", {"x"}, {"y0"});  // graph input -> graph output: the name would be lost
    add_node(&g, "Relu", {"x"}, {"r"});
    add_node(&g, "Identity", {"r"}, {"y1"});  // removable: Relu's output takes the name y1
    add_output(&g, "y0");
    add_output(&g, "y1");
    auto m = check_pass(make_model(g), "eliminate_noop");
    EXPECT_EQ(count_op(*m, "Identity"), 1);
    EXPECT_EQ(m->graph->outputs()[1]->producer()->op_type(), "Relu");
}

/// Dropout(ratio 0.3, inference) whose mask is a graph output and feeds a Not; `relu_first` puts a Relu before it.
onnx::GraphProto dropout_graph(bool relu_first) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    if (relu_first) add_node(&g, "Relu", {"x"}, {"r"});
    add_init_f32(&g, "ratio", {}, {0.3f});
    add_node(&g, "Dropout", {relu_first ? "r" : "x", "ratio"}, {"y", "mask"});
    add_node(&g, "Not", {"mask"}, {"nm"});
    add_output(&g, "y");
    add_output(&g, "mask");
    add_output(&g, "nm");
    return g;
}

TEST(EliminateNoop, DropoutMaskBecomesConstantWhenStatic) {
    auto m = check_pass(make_model(dropout_graph(false)), "eliminate_noop", false);  // y would be the input x
    EXPECT_EQ(count_op(*m, "Dropout"), 1);

    auto m2 = check_pass(make_model(dropout_graph(true)), "eliminate_noop");
    EXPECT_EQ(count_op(*m2, "Dropout"), 0);
    const ir::Value* mask = m2->graph->outputs()[1];
    ASSERT_TRUE(mask->has_initializer());
    EXPECT_EQ(mask->name(), "mask");
    EXPECT_EQ(mask->initializer().shape(), (Shape{2, 3}));
}

TEST(EliminateNoop, DropoutStaysInTrainingOrWithDynamicMask) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 3});
    add_node(&g, "Relu", {"x"}, {"r"});
    add_node(&g, "Dropout", {"r"}, {"a", "mask"});  // mask needed, shape dynamic
    add_node(&g, "Not", {"mask"}, {"y1"});
    add_init_f32(&g, "ratio", {}, {0.5f});
    add_init_bool(&g, "train", true);
    attr_int(add_node(&g, "Dropout", {"a", "ratio", "train"}, {"y0"}), "seed", 3);
    add_output(&g, "y0");
    add_output(&g, "y1");
    check_pass(make_model(g), "eliminate_noop", false);
}

TEST(EliminateNoop, DescendsIntoIfBranches) {
    onnx::GraphProto then_g, else_g;
    add_node(&then_g, "Relu", {"x"}, {"t0"});
    add_node(&then_g, "Identity", {"t0"}, {"t1"});
    add_output(&then_g, "t1");
    add_node(&else_g, "Neg", {"x"}, {"e0"});
    add_output(&else_g, "e0");
    onnx::GraphProto g;
    add_input(&g, "c", onnx::TensorProto::BOOL, {});
    add_input(&g, "x", F, {2, 3});
    auto* n = add_node(&g, "If", {"c"}, {"y"});
    attr_graph(n, "then_branch", then_g);
    attr_graph(n, "else_branch", else_g);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "eliminate_noop");
    EXPECT_EQ(count_op_deep(*m, "Identity"), 0);
}

}  // namespace
}  // namespace nnport::testing

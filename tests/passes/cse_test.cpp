// cse: identical nodes and small initializers merge (cascading); different attributes, inputs, random ops and
// outputs whose names must both survive do not.
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace basic;
constexpr int F = onnx::TensorProto::FLOAT;

TEST(Cse, MergesIdenticalNodesAndCascades) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    add_init_f32(&g, "c1", {3}, {1, 2, 3});
    add_init_f32(&g, "c2", {3}, {1, 2, 3});  // same bytes: merged into c1, so the two Muls become identical
    add_node(&g, "Relu", {"x"}, {"r1"});
    add_node(&g, "Relu", {"x"}, {"r2"});
    add_node(&g, "Mul", {"r1", "c1"}, {"m1"});
    add_node(&g, "Mul", {"r2", "c2"}, {"m2"});
    add_node(&g, "Sub", {"m1", "m2"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "cse");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "Relu"), 1);
    EXPECT_EQ(count_op(*m, "Mul"), 1);
    const ir::Node* sub = first_node(*m, "Sub");
    EXPECT_EQ(sub->input(0), sub->input(1));
    EXPECT_EQ(changes_of(make_model(g), "cse").size(), 3u);  // c2, Relu, Mul
}

TEST(Cse, DifferentAttributesInputsOrConstantsStay) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    add_input(&g, "z", F, {2, 3});
    add_init_f32(&g, "c1", {3}, {1, 2, 3});
    add_init_f32(&g, "c2", {3}, {1, 2, 4});
    add_init_f32(&g, "pz", {}, {0.0f});
    add_init_f32(&g, "nz", {}, {-0.0f});  // equal to 0.0 but different bytes
    set_float(add_node(&g, "LeakyRelu", {"x"}, {"a"}), "alpha", 0.1f);
    set_float(add_node(&g, "LeakyRelu", {"x"}, {"b"}), "alpha", 0.2f);
    add_node(&g, "Relu", {"x"}, {"c"});
    add_node(&g, "Relu", {"z"}, {"d"});
    add_node(&g, "Mul", {"x", "c1"}, {"e"});
    add_node(&g, "Mul", {"x", "c2"}, {"f"});
    add_node(&g, "Add", {"x", "pz"}, {"h"});
    add_node(&g, "Add", {"x", "nz"}, {"i"});
    add_node(&g, "Sum", {"a", "b", "c", "d", "e", "f", "h", "i"}, {"y"});
    add_output(&g, "y");
    check_pass(make_model(g), "cse", false);
}

TEST(Cse, RandomOpsAndDistinctOutputNamesStay) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    set_float(add_node(&g, "RandomUniformLike", {"x"}, {"u1"}), "seed", 1.0f);
    set_float(add_node(&g, "RandomUniformLike", {"x"}, {"u2"}), "seed", 1.0f);
    add_node(&g, "Add", {"u1", "u2"}, {"y0"});
    add_node(&g, "Neg", {"x"}, {"y1"});
    add_node(&g, "Neg", {"x"}, {"y2"});  // both graph outputs: merging would lose a name
    add_output(&g, "y0");
    add_output(&g, "y1");
    add_output(&g, "y2");
    auto m = check_pass(make_model(g), "cse", false);
    EXPECT_EQ(count_op(*m, "RandomUniformLike"), 2);
}

TEST(Cse, MergesInsideIfBranches) {
    onnx::GraphProto then_g, else_g;
    add_node(&then_g, "Exp", {"x"}, {"t1"});
    add_node(&then_g, "Exp", {"x"}, {"t2"});
    add_node(&then_g, "Add", {"t1", "t2"}, {"t"});
    add_output(&then_g, "t");
    add_node(&else_g, "Relu", {"x"}, {"e"});
    add_output(&else_g, "e");
    onnx::GraphProto g;
    add_input(&g, "c", onnx::TensorProto::BOOL, {});
    add_input(&g, "x", F, {2});
    auto* n = add_node(&g, "If", {"c"}, {"y"});
    attr_graph(n, "then_branch", then_g);
    attr_graph(n, "else_branch", else_g);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "cse");
    EXPECT_EQ(count_op_deep(*m, "Exp"), 1);
}

}  // namespace
}  // namespace nnport::testing

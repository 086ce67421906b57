// dead_code / dead_code_final: unused nodes and initializers go, unused optional outputs are cleared; graph inputs,
// graph outputs and values read by subgraphs stay.
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace basic;
constexpr int F = onnx::TensorProto::FLOAT;

onnx::GraphProto with_dead_parts() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    add_input(&g, "w", F, {3});
    add_init_f32(&g, "w", {3});          // overridable initializer: part of the interface, kept though unused
    add_init_f32(&g, "unused", {4});     // removed
    add_init_f32(&g, "only_dead", {3});  // used by a dead node only: removed with it
    add_node(&g, "Relu", {"x"}, {"y"});
    add_node(&g, "Mul", {"x", "only_dead"}, {"m"});
    add_node(&g, "Neg", {"m"}, {"dead"});
    add_output(&g, "y");
    return g;
}

TEST(DeadCode, RemovesUnusedNodesAndInitializers) {
    for (const char* pass : {"dead_code", "dead_code_final"}) {
        auto m = check_pass(make_model(with_dead_parts()), pass);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(node_count(*m), 1) << pass;
        EXPECT_EQ(m->graph->find_value("unused"), nullptr) << pass;
        EXPECT_EQ(m->graph->find_value("only_dead"), nullptr) << pass;
        ASSERT_NE(m->graph->find_value("w"), nullptr) << pass;
        EXPECT_EQ(m->graph->inputs().size(), 2u) << pass;
    }
}

TEST(DeadCode, ClearsUnusedOptionalOutputs) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 2, 4, 4});
    auto* p = add_node(&g, "MaxPool", {"x"}, {"p", "idx"});
    attr_ints(p, "kernel_shape", {2, 2});
    add_node(&g, "Dropout", {"p"}, {"y", "mask"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "dead_code");
    ASSERT_NE(m, nullptr);
    for (const char* op : {"MaxPool", "Dropout"}) {
        const ir::Node* n = first_node(*m, op);
        ASSERT_NE(n, nullptr) << op;
        EXPECT_NE(n->output(0), nullptr) << op;
        EXPECT_EQ(n->output(1), nullptr) << op;
    }
    EXPECT_EQ(m->graph->outputs()[0]->producer()->op_type(), "Dropout");
}

TEST(DeadCode, KeepsUsedOptionalOutputsAndOtherOps) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    add_node(&g, "Dropout", {"x"}, {"a", "mask"});
    add_node(&g, "TopK", {"a", "k"}, {"v", "i"});  // TopK's indices are not optional
    add_init_i64(&g, "k", {1}, {2});
    add_output(&g, "v");
    add_output(&g, "mask");
    check_pass(make_model(g), "dead_code", false);
}

TEST(DeadCode, KeepsValuesReadBySubgraphs) {
    onnx::GraphProto then_g, else_g;
    add_node(&then_g, "Neg", {"captured"}, {"t"});
    add_output(&then_g, "t");
    add_node(&else_g, "Relu", {"x"}, {"e"});
    add_output(&else_g, "e");
    onnx::GraphProto g;
    add_input(&g, "c", onnx::TensorProto::BOOL, {});
    add_input(&g, "x", F, {2});
    add_node(&g, "Sigmoid", {"x"}, {"captured"});  // no node uses it, the then-branch does
    add_node(&g, "Exp", {"x"}, {"dead"});
    auto* n = add_node(&g, "If", {"c"}, {"y"});
    attr_graph(n, "then_branch", then_g);
    attr_graph(n, "else_branch", else_g);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "dead_code");
    EXPECT_EQ(count_op(*m, "Sigmoid"), 1);
    EXPECT_EQ(count_op(*m, "Exp"), 0);
}

}  // namespace
}  // namespace nnport::testing

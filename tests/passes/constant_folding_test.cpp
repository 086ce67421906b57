// constant_folding: Constant nodes and all-constant subexpressions become initializers (graph outputs included),
// half types go through float32 as at run time; big materializations, run-time inputs, overridable initializers
// and random ops are left alone.
#include "onnx/exporter.hpp"
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace basic;
constexpr int F = onnx::TensorProto::FLOAT;

TEST(ConstantFolding, ConstantNodesAndConstantChains) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3});
    add_const_f32(&g, "c", {2, 3}, {1, 2, 3, 4, 5, 6});
    add_init_f32(&g, "b", {3}, {0.5f, 1.0f, 2.0f});
    add_node(&g, "Mul", {"c", "b"}, {"cb"});
    add_node(&g, "Sqrt", {"cb"}, {"s"});
    add_node(&g, "Add", {"x", "s"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "constant_folding");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(node_count(*m), 1);
    const Tensor* s = const_input(first_node(*m, "Add"), 1);
    ASSERT_NE(s, nullptr);
    EXPECT_FLOAT_EQ(s->data<float>()[0], std::sqrt(0.5f));
    EXPECT_FLOAT_EQ(s->data<float>()[5], std::sqrt(12.0f));
}

TEST(ConstantFolding, FoldedGraphOutputKeepsItsNameAndExports) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2});
    add_const_f32(&g, "c", {2}, {-1, 4});
    add_node(&g, "Relu", {"c"}, {"y0"});
    add_node(&g, "Neg", {"x"}, {"y1"});
    add_output(&g, "y0");
    add_output(&g, "y1");
    auto m = check_pass(make_model(g), "constant_folding");
    ASSERT_NE(m, nullptr);
    const ir::Value* y0 = m->graph->outputs()[0];
    EXPECT_EQ(y0->name(), "y0");
    ASSERT_TRUE(y0->has_initializer());
    EXPECT_EQ(y0->initializer().data<float>()[1], 4.0f);
    // An initializer that is a graph output is legal ONNX: export, load again and run.
    auto bytes = onnx_export::serialize_model(*m);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
    auto s = Session::load_from_memory(bytes->data(), bytes->size());
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    auto out = (*s)->run({{"x", Tensor::from_vector<float>({2}, {1, 2})}});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    EXPECT_EQ((*out)[0].data<float>()[0], 0.0f);
    EXPECT_EQ((*out)[1].data<float>()[1], -2.0f);
}

TEST(ConstantFolding, HalfInputsGoThroughFloat32) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {3});
    add_init_f16(&g, "h", {3}, {0.1f, -2.5f, 7.0f});
    add_node(&g, "Sigmoid", {"h"}, {"sh"});
    attr_int(add_node(&g, "Cast", {"sh"}, {"sf"}), "to", F);
    add_node(&g, "Mul", {"x", "sf"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "constant_folding");
    EXPECT_EQ(node_count(*m), 1);
    const Tensor* sf = const_input(first_node(*m, "Mul"), 1);
    ASSERT_NE(sf, nullptr);
    EXPECT_EQ(sf->dtype(), DType::kFloat32);
}

TEST(ConstantFolding, SizePolicyKeepsBigMaterializations) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1});
    add_init_i64(&g, "big", {2}, {1024, 1024});  // 4 MiB of float from 16 bytes
    add_node(&g, "ConstantOfShape", {"big"}, {"z"});
    add_init_i64(&g, "small", {1}, {4});
    add_node(&g, "ConstantOfShape", {"small"}, {"z4"});
    add_node(&g, "ReduceSum", {"z"}, {"s"});
    add_node(&g, "ReduceSum", {"z4"}, {"s4"});
    add_node(&g, "Add", {"s", "s4"}, {"t"});
    add_node(&g, "Add", {"x", "t"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "constant_folding");
    EXPECT_EQ(count_op(*m, "ConstantOfShape"), 1);
    EXPECT_EQ(count_op(*m, "ReduceSum"), 1);  // the small one folded with its input
}

TEST(ConstantFolding, LeavesRuntimeOverridableAndRandomValues) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2});
    add_input(&g, "w", F, {2});
    add_init_f32(&g, "w", {2}, {1, 2});  // an initializer that is also a graph input: overridable
    add_node(&g, "Neg", {"w"}, {"nw"});
    add_node(&g, "Relu", {"x"}, {"rx"});
    auto* r = add_node(&g, "RandomUniform", {}, {"u"});
    attr_ints(r, "shape", {2});
    set_float(r, "seed", 5.0f);
    add_node(&g, "Add", {"nw", "rx"}, {"a"});
    add_node(&g, "Add", {"a", "u"}, {"y"});
    add_output(&g, "y");
    check_pass(make_model(g), "constant_folding", false);
}

TEST(ConstantFolding, FoldsInsideLoopBodies) {
    // Loop body: out = x * (c + c) where c is an outer constant; the addition folds inside the body.
    onnx::GraphProto body;
    add_input(&body, "i", onnx::TensorProto::INT64, {});
    add_input(&body, "cond_in", onnx::TensorProto::BOOL, {});
    add_input(&body, "acc", F, {2});
    add_node(&body, "Add", {"c", "c"}, {"cc"});
    add_node(&body, "Mul", {"acc", "cc"}, {"acc_out"});
    add_node(&body, "Identity", {"cond_in"}, {"cond_out"});
    add_output(&body, "cond_out");
    add_output(&body, "acc_out");
    onnx::GraphProto g;
    add_input(&g, "x", F, {2});
    add_init_f32(&g, "c", {2}, {0.5f, 1.5f});
    add_init_i64(&g, "trip", {}, {3});
    add_init_bool(&g, "go", true);
    attr_graph(add_node(&g, "Loop", {"trip", "go", "x"}, {"y"}), "body", body);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "constant_folding");
    EXPECT_EQ(count_op_deep(*m, "Add"), 0);
    EXPECT_EQ(count_op_deep(*m, "Mul"), 1);
}

}  // namespace
}  // namespace nnport::testing

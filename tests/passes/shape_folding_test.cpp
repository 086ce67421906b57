// shape_folding: PyTorch's flatten export collapses to one Reshape (static and dynamic batch), partially static
// shapes fold what is static, Shape start/end and Size fold; shapes that stay dynamic are left alone.
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace basic;
constexpr int F = onnx::TensorProto::FLOAT;

/// x.view(x.size(0), -1) as PyTorch exports it: Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape.
onnx::GraphProto torch_flatten(int64_t batch) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {batch, 3, 4, 5});
    add_node(&g, "Relu", {"x"}, {"r"});
    add_node(&g, "Shape", {"r"}, {"s"});
    add_const_i64(&g, "zero", {}, {0});
    attr_int(add_node(&g, "Gather", {"s", "zero"}, {"n"}), "axis", 0);
    add_const_i64(&g, "ax0", {1}, {0});
    add_node(&g, "Unsqueeze", {"n", "ax0"}, {"n1"});
    add_const_i64(&g, "minus1", {1}, {-1});
    attr_int(add_node(&g, "Concat", {"n1", "minus1"}, {"shape"}), "axis", 0);
    add_node(&g, "Reshape", {"r", "shape"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(ShapeFolding, TorchFlattenWithStaticShapeBecomesOneReshape) {
    auto m = check_pass(make_model(torch_flatten(2)), "shape_folding");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(node_count(*m), 2) << ir::to_text(*m->graph);  // Relu, Reshape
    const Tensor* shape = const_input(first_node(*m, "Reshape"), 1);
    ASSERT_NE(shape, nullptr);
    EXPECT_EQ(shape->to_int_vector(), (std::vector<int64_t>{2, -1}));
}

TEST(ShapeFolding, TorchFlattenWithDynamicBatchCopiesTheDimension) {
    auto m = check_pass(make_model(torch_flatten(-1)), "shape_folding");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(node_count(*m), 2) << ir::to_text(*m->graph);
    const Tensor* shape = const_input(first_node(*m, "Reshape"), 1);
    ASSERT_NE(shape, nullptr);
    EXPECT_EQ(shape->to_int_vector(), (std::vector<int64_t>{0, -1}));
}

TEST(ShapeFolding, PartiallyStaticShapeFoldsTheStaticDims) {
    // y = x.view(-1, x.size(1), x.size(2)) with a dynamic batch: Gathers of static dims fold.
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 6, 4});
    add_node(&g, "Shape", {"x"}, {"s"});
    add_init_i64(&g, "ax0", {1}, {0});
    for (int i : {1, 2}) {
        const std::string k = std::to_string(i);
        add_init_i64(&g, "i" + k, {}, {i});
        add_node(&g, "Gather", {"s", "i" + k}, {"d" + k});
        add_node(&g, "Unsqueeze", {"d" + k, "ax0"}, {"u" + k});
    }
    add_init_i64(&g, "minus1", {1}, {-1});
    attr_int(add_node(&g, "Concat", {"minus1", "u1", "u2"}, {"shape"}), "axis", 0);
    add_node(&g, "Reshape", {"x", "shape"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "shape_folding");
    EXPECT_EQ(node_count(*m), 1) << ir::to_text(*m->graph);
    EXPECT_EQ(const_input(first_node(*m, "Reshape"), 1)->to_int_vector(), (std::vector<int64_t>{-1, 6, 4}));
}

TEST(ShapeFolding, ShapeWithStartEndSizeAndDownstreamOps) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 6, 4, 5});
    auto* s = add_node(&g, "Shape", {"x"}, {"hw"});
    attr_int(s, "start", 2);
    attr_int(s, "end", 4);
    add_node(&g, "ConstantOfShape", {"hw"}, {"zeros"});  // a graph output: becomes an initializer
    add_input(&g, "z", F, {2, 3});
    add_node(&g, "Size", {"z"}, {"n"});
    attr_int(add_node(&g, "Cast", {"n"}, {"nf"}), "to", F);
    add_node(&g, "Mul", {"z", "nf"}, {"y"});
    add_output(&g, "zeros");
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "shape_folding");
    EXPECT_EQ(node_count(*m), 1) << ir::to_text(*m->graph);
    EXPECT_TRUE(m->graph->outputs()[0]->has_initializer());
    EXPECT_EQ(m->graph->outputs()[0]->initializer().shape(), (Shape{4, 5}));
}

TEST(ShapeFolding, DynamicDimensionsOfOtherValuesStay) {
    // Reshape(t, [x.size(0), -1]) where t is not x: the batch cannot be copied in place; Shape(x) is an output.
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 3, 4, 5});
    add_node(&g, "Relu", {"x"}, {"t"});
    add_node(&g, "Shape", {"x"}, {"s"});
    add_const_i64(&g, "zero", {}, {0});
    attr_int(add_node(&g, "Gather", {"s", "zero"}, {"n"}), "axis", 0);
    add_const_i64(&g, "ax0", {1}, {0});
    add_node(&g, "Unsqueeze", {"n", "ax0"}, {"n1"});
    add_const_i64(&g, "minus1", {1}, {-1});
    attr_int(add_node(&g, "Concat", {"n1", "minus1"}, {"shape"}), "axis", 0);
    add_node(&g, "Reshape", {"t", "shape"}, {"y"});
    add_output(&g, "y");
    add_output(&g, "s");
    check_pass(make_model(g), "shape_folding", false);
}

/// Reshape(x, [16, x.size(0) * 4, 16]) for x [N, 16, 64], as attention exports split heads.
onnx::GraphProto heads_reshape() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 16, 64});
    add_node(&g, "Shape", {"x"}, {"s"});
    add_init_i64(&g, "zero", {}, {0});
    attr_int(add_node(&g, "Gather", {"s", "zero"}, {"n"}), "axis", 0);
    add_init_i64(&g, "four", {}, {4});
    add_node(&g, "Mul", {"n", "four"}, {"n4"});
    add_init_i64(&g, "ax0", {1}, {0});
    add_node(&g, "Unsqueeze", {"n4", "ax0"}, {"u"});
    add_init_i64(&g, "sixteen", {1}, {16});
    attr_int(add_node(&g, "Concat", {"sixteen", "u", "sixteen"}, {"shape"}), "axis", 0);
    add_node(&g, "Reshape", {"x", "shape"}, {"y"});
    add_output(&g, "y");
    return g;
}

/// Reshape(x, [x.size(0) * 1, x.size(1) * 64]) for x [N, M, 64]: two unknown elements.
onnx::GraphProto two_unknown_reshape() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, -1, 64});
    add_node(&g, "Shape", {"x"}, {"s"});
    add_init_i64(&g, "ax0", {1}, {0});
    std::vector<std::string> parts;
    for (int i : {0, 1}) {
        const std::string k = std::to_string(i);
        add_init_i64(&g, "i" + k, {}, {i});
        attr_int(add_node(&g, "Gather", {"s", "i" + k}, {"d" + k}), "axis", 0);
        add_init_i64(&g, "f" + k, {}, {i == 0 ? 1 : 64});
        add_node(&g, "Mul", {"d" + k, "f" + k}, {"m" + k});
        add_node(&g, "Unsqueeze", {"m" + k, "ax0"}, {"u" + k});
        parts.push_back("u" + k);
    }
    attr_int(add_node(&g, "Concat", parts, {"shape"}), "axis", 0);
    add_node(&g, "Reshape", {"x", "shape"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(ShapeFolding, OneUnknownElementBecomesMinusOne) {
    auto m = check_pass(make_model(heads_reshape()), "shape_folding");
    EXPECT_EQ(node_count(*m), 1) << ir::to_text(*m->graph);
    EXPECT_EQ(const_input(first_node(*m, "Reshape"), 1)->to_int_vector(), (std::vector<int64_t>{16, -1, 16}));
    check_pass(make_model(two_unknown_reshape()), "shape_folding", false);
}

TEST(ShapeFolding, FoldsInsideIfBranches) {
    onnx::GraphProto then_g, else_g;
    add_node(&then_g, "Shape", {"x"}, {"s"});
    add_output(&then_g, "s");
    add_init_i64(&else_g, "k", {2}, {7, 7});
    add_node(&else_g, "Identity", {"k"}, {"e"});
    add_output(&else_g, "e");
    onnx::GraphProto g;
    add_input(&g, "c", onnx::TensorProto::BOOL, {});
    add_input(&g, "x", F, {2, 3});
    auto* n = add_node(&g, "If", {"c"}, {"y"});
    attr_graph(n, "then_branch", then_g);
    attr_graph(n, "else_branch", else_g);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "shape_folding");
    EXPECT_EQ(count_op_deep(*m, "Shape"), 0);
}

}  // namespace
}  // namespace nnport::testing

// fold_affine: per-output-channel Mul/Div/Add/Sub constants folded into Conv, Gemm and MatMul; shapes that must not.
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

onnx::GraphProto conv_graph(bool bias) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 6, 6});
    add_init_f32(&g, "w", {5, 3, 3, 3});
    std::vector<std::string> ins = {"x", "w"};
    if (bias) {
        add_init_f32(&g, "b", {5});
        ins.push_back("b");
    }
    add_node(&g, "Conv", ins, {"c"});
    return g;
}

TEST(FoldAffine, ConvMulThenAdd) {
    for (bool bias : {true, false}) {
        onnx::GraphProto g = conv_graph(bias);
        add_init_f32(&g, "s", {5, 1, 1});
        add_init_f32(&g, "t", {1, 5, 1, 1});
        add_node(&g, "Mul", {"c", "s"}, {"m"});
        add_node(&g, "Add", {"t", "m"}, {"y"});  // constant on the left
        add_output(&g, "y");
        auto m = check_pass(make_model(g), "fold_affine");
        EXPECT_EQ(count_op(*m, "Mul"), 0);
        EXPECT_EQ(count_op(*m, "Add"), 0);
        EXPECT_EQ(count_op(*m, "Conv"), 1);
    }
}

TEST(FoldAffine, ConvDivByScalarAndSubPerChannel) {
    onnx::GraphProto g = conv_graph(true);
    add_scalar_f32(&g, "s", 4.0f);
    add_init_f32(&g, "t", {5, 1, 1});
    add_node(&g, "Div", {"c", "s"}, {"m"});
    add_node(&g, "Sub", {"m", "t"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "fold_affine");
    EXPECT_EQ(count_op(*m, "Div") + count_op(*m, "Sub"), 0);
}

TEST(FoldAffine, GemmPerColumnScaleAndShift) {
    for (int tb : {0, 1}) {
        onnx::GraphProto g;
        add_input(&g, "a", onnx::TensorProto::FLOAT, {3, 4});
        add_init_f32(&g, "w", tb ? std::vector<int64_t>{6, 4} : std::vector<int64_t>{4, 6});
        add_init_f32(&g, "c", {6});
        auto* n = add_node(&g, "Gemm", {"a", "w", "c"}, {"m"});
        attr_int(n, "transB", tb);
        attr_float(n, "beta", 2.0f);
        add_init_f32(&g, "s", {6});
        add_init_f32(&g, "t", {1, 6});
        add_node(&g, "Mul", {"m", "s"}, {"p"});
        add_node(&g, "Add", {"p", "t"}, {"y"});
        add_output(&g, "y");
        auto m = check_pass(make_model(g), "fold_affine");
        EXPECT_EQ(count_op(*m, "Mul") + count_op(*m, "Add"), 0);
        EXPECT_EQ(count_op(*m, "Gemm"), 1);
    }
}

TEST(FoldAffine, MatMulFoldsScaleButNotShift) {
    onnx::GraphProto g;
    add_input(&g, "a", onnx::TensorProto::FLOAT, {2, 3, 4});
    add_init_f32(&g, "w", {4, 6});
    add_node(&g, "MatMul", {"a", "w"}, {"m"});
    add_init_f32(&g, "s", {6});
    add_init_f32(&g, "t", {6});
    add_node(&g, "Mul", {"s", "m"}, {"p"});
    add_node(&g, "Add", {"p", "t"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "fold_affine");
    EXPECT_EQ(count_op(*m, "Mul"), 0);
    EXPECT_EQ(count_op(*m, "Add"), 1);  // MatMul has no bias to fold a shift into
}

TEST(FoldAffine, DoesNotFoldBroadcastAlongOtherAxes) {
    // [6] aligns with the conv output's width, [1,1,6,1] with its height: neither is per-channel.
    for (const std::vector<int64_t>& shape : {std::vector<int64_t>{4}, std::vector<int64_t>{1, 1, 4, 1}}) {
        onnx::GraphProto g = conv_graph(true);
        add_init_f32(&g, "s", shape);
        add_node(&g, "Mul", {"c", "s"}, {"y"});
        add_output(&g, "y");
        check_pass(make_model(g), "fold_affine", false);
    }
}

TEST(FoldAffine, DoesNotFoldNonConstantsSharedOutputsOrConstantDividend) {
    onnx::GraphProto g = conv_graph(true);
    add_input(&g, "s", onnx::TensorProto::FLOAT, {5, 1, 1});
    add_node(&g, "Mul", {"c", "s"}, {"y"});
    add_output(&g, "y");
    check_pass(make_model(g), "fold_affine", false);

    onnx::GraphProto h = conv_graph(true);
    add_init_f32(&h, "s", {5, 1, 1});
    add_node(&h, "Mul", {"c", "s"}, {"y"});
    add_node(&h, "Relu", {"c"}, {"r"});
    add_output(&h, "y");
    add_output(&h, "r");
    check_pass(make_model(h), "fold_affine", false);

    onnx::GraphProto k = conv_graph(true);
    add_init_f32(&k, "s", {5, 1, 1}, {}, 1.0f, 2.0f);
    add_node(&k, "Div", {"s", "c"}, {"y"});  // s / conv is not affine in the conv output
    add_output(&k, "y");
    check_pass(make_model(k), "fold_affine", false);
}

}  // namespace
}  // namespace nnport::testing

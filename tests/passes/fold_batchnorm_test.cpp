// fold_batchnorm: BatchNormalization folded into Conv, ConvTranspose, Gemm and MatMul; cases that must not fold.
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

/// BatchNormalization over `c` channels reading `x`, writing `y`, with constant parameters.
void add_bn(onnx::GraphProto* g, const std::string& x, const std::string& y, int64_t c, bool const_mean = true) {
    add_init_f32(g, "bn_scale", {c}, {}, 0.5f, 1.5f);
    add_init_f32(g, "bn_b", {c});
    if (const_mean) {
        add_init_f32(g, "bn_mean", {c});
    } else {
        add_input(g, "bn_mean", onnx::TensorProto::FLOAT, {c});
    }
    add_init_f32(g, "bn_var", {c}, {}, 0.2f, 2.0f);
    auto* n = add_node(g, "BatchNormalization", {x, "bn_scale", "bn_b", "bn_mean", "bn_var"}, {y});
    attr_float(n, "epsilon", 1e-3f);
}

onnx::GraphProto conv_bn(bool bias, int64_t group = 1) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 4, 7, 7});
    add_init_f32(&g, "w", {6, 4 / group, 3, 3});
    std::vector<std::string> ins = {"x", "w"};
    if (bias) {
        add_init_f32(&g, "b", {6});
        ins.push_back("b");
    }
    auto* c = add_node(&g, "Conv", ins, {"c"});
    attr_ints(c, "pads", {1, 1, 1, 1});
    attr_int(c, "group", group);
    add_bn(&g, "c", "y", 6);
    add_output(&g, "y");
    return g;
}

TEST(FoldBatchNorm, ConvWithAndWithoutBias) {
    for (bool bias : {true, false}) {
        auto m = check_pass(make_model(conv_bn(bias)), "fold_batchnorm");
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(count_op(*m, "BatchNormalization"), 0);
        EXPECT_EQ(count_op(*m, "Conv"), 1);
        EXPECT_EQ(find_node(*m, "Conv")->inputs().size(), 3u);
    }
}

TEST(FoldBatchNorm, GroupedConv) {
    auto m = check_pass(make_model(conv_bn(true, 2)), "fold_batchnorm");
    EXPECT_EQ(count_op(*m, "BatchNormalization"), 0);
}

TEST(FoldBatchNorm, ConvTransposeScalesItsSecondWeightAxis) {
    for (int64_t group : {1, 2}) {
        onnx::GraphProto g;
        add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 4, 5, 5});
        add_init_f32(&g, "w", {4, 6 / group, 3, 3});  // [Cin, Cout/g, k, k]
        auto* c = add_node(&g, "ConvTranspose", {"x", "w"}, {"c"});
        attr_int(c, "group", group);
        attr_ints(c, "strides", {2, 2});
        add_bn(&g, "c", "y", 6);
        add_output(&g, "y");
        auto m = check_pass(make_model(g), "fold_batchnorm");
        EXPECT_EQ(count_op(*m, "BatchNormalization"), 0) << "group " << group;
    }
}

TEST(FoldBatchNorm, GemmRespectsTransBAndC) {
    for (int tb : {0, 1}) {
        for (bool with_c : {false, true}) {
            onnx::GraphProto g;
            add_input(&g, "a", onnx::TensorProto::FLOAT, {3, 5});
            add_init_f32(&g, "w", tb ? std::vector<int64_t>{4, 5} : std::vector<int64_t>{5, 4});
            std::vector<std::string> ins = {"a", "w"};
            if (with_c) {
                add_init_f32(&g, "c", {4});
                ins.push_back("c");
            }
            auto* n = add_node(&g, "Gemm", ins, {"m"});
            attr_int(n, "transB", tb);
            attr_float(n, "beta", 0.5f);
            add_bn(&g, "m", "y", 4);
            add_output(&g, "y");
            auto m = check_pass(make_model(g), "fold_batchnorm");
            EXPECT_EQ(count_op(*m, "BatchNormalization"), 0);
            EXPECT_EQ(count_op(*m, "Gemm"), 1);
        }
    }
}

TEST(FoldBatchNorm, MatMulWithConstantWeightBecomesGemm) {
    onnx::GraphProto g;
    add_input(&g, "a", onnx::TensorProto::FLOAT, {3, 5});
    add_init_f32(&g, "w", {5, 4});
    add_node(&g, "MatMul", {"a", "w"}, {"m"});
    add_bn(&g, "m", "y", 4);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "fold_batchnorm");
    EXPECT_EQ(count_op(*m, "MatMul"), 0);
    EXPECT_EQ(count_op(*m, "Gemm"), 1);
    EXPECT_EQ(count_op(*m, "BatchNormalization"), 0);
}

TEST(FoldBatchNorm, DoesNotFoldWhenConvOutputIsUsedTwice) {
    onnx::GraphProto g = conv_bn(true);
    add_node(&g, "Relu", {"c"}, {"r"});
    add_output(&g, "r");
    check_pass(make_model(g), "fold_batchnorm", false);
}

TEST(FoldBatchNorm, DoesNotFoldWhenConvOutputIsAGraphOutput) {
    onnx::GraphProto g = conv_bn(true);
    add_output(&g, "c");
    check_pass(make_model(g), "fold_batchnorm", false);
}

TEST(FoldBatchNorm, DoesNotFoldNonConstantStatisticsOrWeights) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 4, 7, 7});
    add_init_f32(&g, "w", {6, 4, 3, 3});
    add_node(&g, "Conv", {"x", "w"}, {"c"});
    add_bn(&g, "c", "y", 6, /*const_mean=*/false);
    add_output(&g, "y");
    check_pass(make_model(g), "fold_batchnorm", false);

    onnx::GraphProto h;
    add_input(&h, "x", onnx::TensorProto::FLOAT, {1, 4, 7, 7});
    add_input(&h, "w", onnx::TensorProto::FLOAT, {6, 4, 3, 3});
    add_node(&h, "Conv", {"x", "w"}, {"c"});
    add_bn(&h, "c", "y", 6);
    add_output(&h, "y");
    check_pass(make_model(h), "fold_batchnorm", false);
}

TEST(FoldBatchNorm, DoesNotFoldMatMulWhoseChannelAxisIsNotTheWeightColumn) {
    // A 3-D MatMul output [2, 4, 4]: BatchNormalization's channel axis 1 is a row axis, not the weight's column.
    onnx::GraphProto g;
    add_input(&g, "a", onnx::TensorProto::FLOAT, {2, 4, 5});
    add_init_f32(&g, "w", {5, 4});
    add_node(&g, "MatMul", {"a", "w"}, {"m"});
    add_bn(&g, "m", "y", 4);
    add_output(&g, "y");
    check_pass(make_model(g), "fold_batchnorm", false);
}

}  // namespace
}  // namespace nnport::testing

// fc_conv: 1x1 Conv on pooled [N,C,1,1] tensors -> Gemm by default, Flatten+Gemm -> 1x1 Conv when the backends
// prefer convolutions; convolutions and Gemms of other shapes stay.
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace basic;
constexpr int F = onnx::TensorProto::FLOAT;

/// A squeeze-excitation block: GlobalAveragePool -> Conv1x1 -> Relu -> Conv1x1 -> Sigmoid -> Mul.
onnx::GraphProto se_block(int64_t batch, bool bias) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {batch, 8, 5, 5});
    add_node(&g, "GlobalAveragePool", {"x"}, {"p"});
    add_init_f32(&g, "w1", {4, 8, 1, 1});
    add_init_f32(&g, "b1", {4});
    add_init_f32(&g, "w2", {8, 4, 1, 1});
    add_init_f32(&g, "b2", {8});
    add_node(&g, "Conv", bias ? std::vector<std::string>{"p", "w1", "b1"} : std::vector<std::string>{"p", "w1"},
             {"c1"});
    add_node(&g, "Relu", {"c1"}, {"r"});
    auto* c2 = add_node(&g, "Conv", {"r", "w2", "b2"}, {"c2"});
    attr_ints(c2, "kernel_shape", {1, 1});
    attr_ints(c2, "strides", {2, 2});  // irrelevant on a 1x1 input
    add_node(&g, "Sigmoid", {"c2"}, {"s"});
    add_node(&g, "Mul", {"x", "s"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(FcConv, PooledOneByOneConvBecomesGemm) {
    for (int64_t batch : {2, -1}) {
        for (bool bias : {true, false}) {
            auto m = check_pass_ctx(make_model(se_block(batch, bias)), "fc_conv", passes::PassContext{});
            ASSERT_NE(m, nullptr);
            EXPECT_EQ(count_op(*m, "Conv"), 0) << batch;
            EXPECT_EQ(count_op(*m, "Gemm"), 2) << batch;
            EXPECT_EQ(first_node(*m, "Gemm")->attr("transB")->i, 1);
        }
    }
}

TEST(FcConv, OtherConvolutionsStay) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 8, 2, 2});
    add_init_f32(&g, "w", {4, 8, 1, 1});
    add_node(&g, "Conv", {"x", "w"}, {"a"});  // input is 2x2, not pooled
    add_input(&g, "p", F, {1, 8, 1, 1});
    add_init_f32(&g, "w3", {4, 8, 3, 3});
    attr_ints(add_node(&g, "Conv", {"p", "w3"}, {"b"}), "pads", {1, 1, 1, 1});  // 3x3 kernel
    add_init_f32(&g, "wg", {8, 4, 1, 1});
    attr_int(add_node(&g, "Conv", {"p", "wg"}, {"c"}), "group", 2);  // grouped
    add_output(&g, "a");
    add_output(&g, "b");
    add_output(&g, "c");
    check_pass_ctx(make_model(g), "fc_conv", passes::PassContext{}, false);
}

onnx::GraphProto pooled_gemm(bool trans_b, bool flatten) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {-1, 8, 5, 5});
    add_node(&g, "GlobalAveragePool", {"x"}, {"p"});
    if (flatten) {
        attr_int(add_node(&g, "Flatten", {"p"}, {"f"}), "axis", 1);
    } else {
        add_init_i64(&g, "shape", {2}, {-1, 8});
        add_node(&g, "Reshape", {"p", "shape"}, {"f"});
    }
    add_init_f32(&g, "w", trans_b ? std::vector<int64_t>{10, 8} : std::vector<int64_t>{8, 10});
    add_init_f32(&g, "b", {10});
    attr_int(add_node(&g, "Gemm", {"f", "w", "b"}, {"y"}), "transB", trans_b ? 1 : 0);
    add_output(&g, "y");
    return g;
}

TEST(FcConv, GemmAfterPoolingBecomesConvWhenPreferred) {
    passes::PassContext ctx;
    ctx.prefer_conv_for_fc = true;
    for (bool trans_b : {true, false}) {
        for (bool flatten : {true, false}) {
            auto m = check_pass_ctx(make_model(pooled_gemm(trans_b, flatten)), "fc_conv", ctx);
            ASSERT_NE(m, nullptr);
            EXPECT_EQ(count_op(*m, "Gemm"), 0);
            EXPECT_EQ(count_op(*m, "Reshape"), 0);
            EXPECT_EQ(count_op(*m, "Conv"), 1);
            EXPECT_EQ(const_input(first_node(*m, "Conv"), 1)->shape(), (Shape{10, 8, 1, 1}));
        }
    }
    // And not by default, nor the other direction when convolutions are preferred.
    check_pass_ctx(make_model(pooled_gemm(true, true)), "fc_conv", passes::PassContext{}, false);
    check_pass_ctx(make_model(se_block(1, true)), "fc_conv", ctx, false);
}

TEST(FcConv, GemmOnUnpooledOrRuntimeWeightsStays) {
    passes::PassContext ctx;
    ctx.prefer_conv_for_fc = true;
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 8});
    add_input(&g, "w", F, {10, 8});
    attr_int(add_node(&g, "Gemm", {"x", "w"}, {"y"}), "transB", 1);
    add_output(&g, "y");
    check_pass_ctx(make_model(g), "fc_conv", ctx, false);
    onnx::GraphProto h = pooled_gemm(true, true);
    set_float(h.mutable_node(2), "alpha", 0.5f);
    check_pass_ctx(make_model(h), "fc_conv", ctx, false);
}

TEST(FcConv, OffForModelsWrittenForOtherTools) {
    passes::PassContext ctx;
    ctx.allow_custom_ops = false;  // `nnport optimize` without --keep-fused
    check_pass_ctx(make_model(se_block(1, true)), "fc_conv", ctx, false);
}

}  // namespace
}  // namespace nnport::testing

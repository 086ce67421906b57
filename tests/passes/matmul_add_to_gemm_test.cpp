// matmul_add_to_gemm: 2-D MatMul + Add(bias) -> Gemm for every bias shape Gemm broadcasts; cases that must not fuse.
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

onnx::GraphProto matmul_add(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& bias_shape,
                            bool bias_is_input = false) {
    onnx::GraphProto g;
    add_input(&g, "a", onnx::TensorProto::FLOAT, a_shape);
    add_init_f32(&g, "w", {a_shape.back(), 5});
    add_node(&g, "MatMul", {"a", "w"}, {"m"});
    if (bias_is_input) {
        add_input(&g, "bias", onnx::TensorProto::FLOAT, bias_shape);
    } else {
        add_init_f32(&g, "bias", bias_shape);
    }
    add_node(&g, "Add", {"bias", "m"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(MatMulAddToGemm, EveryBroadcastableBias) {
    for (const std::vector<int64_t>& b :
         {std::vector<int64_t>{5}, std::vector<int64_t>{1, 5}, std::vector<int64_t>{3, 1}, std::vector<int64_t>{3, 5},
          std::vector<int64_t>{}}) {
        auto m = check_pass(make_model(matmul_add({3, 4}, b)), "matmul_add_to_gemm");
        EXPECT_EQ(count_op(*m, "Gemm"), 1);
        EXPECT_EQ(count_op(*m, "MatMul") + count_op(*m, "Add"), 0);
    }
}

TEST(MatMulAddToGemm, NonConstantBiasAndFlattenInput) {
    auto m = check_pass(make_model(matmul_add({3, 4}, {5}, true)), "matmul_add_to_gemm");
    EXPECT_EQ(count_op(*m, "Gemm"), 1);

    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {2, 3, 2, 2});
    add_node(&g, "Flatten", {"x"}, {"a"});
    add_init_f32(&g, "w", {12, 5});
    add_node(&g, "MatMul", {"a", "w"}, {"m"});
    add_init_f32(&g, "bias", {5});
    add_node(&g, "Add", {"m", "bias"}, {"y"});
    add_output(&g, "y");
    auto f = check_pass(make_model(g), "matmul_add_to_gemm");
    EXPECT_EQ(count_op(*f, "Gemm"), 1);
    EXPECT_EQ(count_op(*f, "Flatten"), 1);
}

TEST(MatMulAddToGemm, DoesNotFuseRank3BiasThatEnlargesOrSharedProduct) {
    check_pass(make_model(matmul_add({2, 3, 4}, {5})), "matmul_add_to_gemm", false);
    check_pass(make_model(matmul_add({3, 4}, {2, 3, 5})), "matmul_add_to_gemm", false);
    onnx::GraphProto g = matmul_add({3, 4}, {5});
    add_output(&g, "m");
    check_pass(make_model(g), "matmul_add_to_gemm", false);
}

}  // namespace
}  // namespace nnport::testing

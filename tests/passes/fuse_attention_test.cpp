// fuse_attention: the exported attention core -> com.nnport ScaledDotProductAttention; layouts, masks, near misses.
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

struct AttnSpec {
    std::vector<int64_t> q = {3, 5, 4}, k_raw = {3, 6, 4}, v = {3, 6, 4};
    std::vector<int64_t> k_perm = {0, 2, 1};  // Kt = Transpose(k_raw, k_perm); empty: k_raw is Kt itself
    bool scale_q = true;                      // Div(Q, 2) before the product, else Mul(scores, 0.5) after
    std::vector<int64_t> mask;                // additive mask input shape (none if empty)
    int64_t axis = -1;
    bool probs_shared = false;
};

onnx::GraphProto attention(const AttnSpec& s) {
    onnx::GraphProto g;
    add_input(&g, "q", onnx::TensorProto::FLOAT, s.q);
    add_input(&g, "k", onnx::TensorProto::FLOAT, s.k_raw);
    add_input(&g, "v", onnx::TensorProto::FLOAT, s.v);
    std::string q = "q", kt = "k";
    if (!s.k_perm.empty()) {
        attr_ints(add_node(&g, "Transpose", {"k"}, {"kt"}), "perm", s.k_perm);
        kt = "kt";
    }
    if (s.scale_q) {
        add_scalar_f32(&g, "two", 2.0f);
        add_node(&g, "Div", {"q", "two"}, {"qs"});
        q = "qs";
    }
    add_node(&g, "MatMul", {q, kt}, {"qk"});
    std::string sc = "qk";
    if (!s.scale_q) {
        add_scalar_f32(&g, "half", 0.5f);
        add_node(&g, "Mul", {"half", "qk"}, {"qks"});
        sc = "qks";
    }
    if (!s.mask.empty()) {
        add_input(&g, "mask", onnx::TensorProto::FLOAT, s.mask);
        add_node(&g, "Add", {sc, "mask"}, {"masked"});
        sc = "masked";
    }
    attr_int(add_node(&g, "Softmax", {sc}, {"p"}), "axis", s.axis);
    add_node(&g, "MatMul", {"p", "v"}, {"y"});
    add_output(&g, "y");
    if (s.probs_shared) add_output(&g, "p");
    return g;
}

TEST(FuseAttention, TransposedKeyIsTakenDirectly) {
    auto m = check_pass(make_model(attention({})), "fuse_attention");
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->graph->nodes().size(), 1u);
    const ir::Node* n = find_node(*m, "ScaledDotProductAttention");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->domain(), "com.nnport");
    EXPECT_NEAR(n->attr("scale")->f, 0.5f, 1e-7);
    EXPECT_EQ(n->attr("k_transposed"), nullptr);
    EXPECT_EQ(n->input(1)->name(), "k");
}

TEST(FuseAttention, ViTLayoutRepermutesKeyTransposeAndAddsMask) {
    AttnSpec s;
    s.k_raw = {6, 3, 4};  // [S, heads, D] as the exporter reshapes it
    s.k_perm = {1, 2, 0};
    s.scale_q = false;
    s.mask = {5, 6};
    auto m = check_pass(make_model(attention(s)), "fuse_attention");
    EXPECT_EQ(count_op(*m, "ScaledDotProductAttention"), 1);
    EXPECT_EQ(count_op(*m, "Softmax") + count_op(*m, "MatMul") + count_op(*m, "Add"), 0);
    ASSERT_EQ(count_op(*m, "Transpose"), 1);
    EXPECT_EQ(find_node(*m, "Transpose")->attr("perm")->ints, (std::vector<int64_t>{1, 0, 2}));
    EXPECT_EQ(find_node(*m, "ScaledDotProductAttention")->inputs().size(), 4u);
}

TEST(FuseAttention, KeyGivenTransposedAndBroadcastBatches) {
    AttnSpec s;
    s.q = {2, 2, 5, 4};
    s.k_raw = {1, 2, 4, 6};  // already K^T, batch 1 broadcast
    s.k_perm = {};
    s.v = {2, 1, 6, 3};
    s.mask = {1, 1, 5, 1};
    auto m = check_pass(make_model(attention(s)), "fuse_attention");
    const ir::Node* n = find_node(*m, "ScaledDotProductAttention");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->attr("k_transposed")->i, 1);
}

TEST(FuseAttention, DoesNotFuseOtherAxisSharedProbabilitiesOrWithoutCustomOps) {
    AttnSpec s;
    s.axis = 1;
    check_pass(make_model(attention(s)), "fuse_attention", false);
    AttnSpec t;
    t.probs_shared = true;
    check_pass(make_model(attention(t)), "fuse_attention", false);
    EXPECT_FALSE(changes_without_custom_ops(make_model(attention({})), "fuse_attention"));
}

TEST(FuseAttention, DoesNotFuseMaskThatEnlargesTheScores) {
    AttnSpec s;
    s.mask = {2, 3, 5, 6};  // scores are [3, 5, 6]: the Add broadcasts them to rank 4
    check_pass(make_model(attention(s)), "fuse_attention", false);
}

}  // namespace
}  // namespace nnport::testing

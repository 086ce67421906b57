// fuse_layernorm: PyTorch's decomposed LayerNorm -> LayerNormalization (standard at opset 17, com.nnport before).
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

struct LnSpec {
    std::vector<int64_t> axes = {-1};
    bool mul_square = false;  // Mul(d, d) instead of Pow(d, 2)
    bool gamma = true, beta = true;
    bool axes_input = false;  // ReduceMean axes as an input (opset 18)
    bool d_is_output = false;
    bool eps_input = false;
};

onnx::GraphProto decomposed_ln(const LnSpec& s) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {2, 3, 4, 5});
    auto mean = [&](const std::string& in, const std::string& out) {
        if (s.axes_input) {
            add_node(&g, "ReduceMean", {in, "axes"}, {out});
        } else {
            attr_ints(add_node(&g, "ReduceMean", {in}, {out}), "axes", s.axes);
        }
    };
    if (s.axes_input) add_init_i64(&g, "axes", {static_cast<int64_t>(s.axes.size())}, s.axes);
    mean("x", "mu");
    add_node(&g, "Sub", {"x", "mu"}, {"d"});
    if (s.mul_square) {
        add_node(&g, "Mul", {"d", "d"}, {"sq"});
    } else {
        add_scalar_f32(&g, "two", 2.0f);
        add_node(&g, "Pow", {"d", "two"}, {"sq"});
    }
    mean("sq", "var");
    if (s.eps_input) {
        add_input(&g, "eps_in", onnx::TensorProto::FLOAT, {});
        add_node(&g, "Exp", {"eps_in"}, {"eps"});  // positive but not a constant
    } else {
        add_scalar_f32(&g, "eps", 1e-5f);
    }
    add_node(&g, "Add", {"var", "eps"}, {"ve"});
    add_node(&g, "Sqrt", {"ve"}, {"sd"});
    std::string y = "n";
    add_node(&g, "Div", {"d", "sd"}, {y});
    const int64_t k = static_cast<int64_t>(s.axes.size());
    const std::vector<int64_t> norm = k == 1 ? std::vector<int64_t>{5} : std::vector<int64_t>{4, 5};
    if (s.gamma) {
        add_init_f32(&g, "gamma", norm);
        add_node(&g, "Mul", {y, "gamma"}, {"scaled"});
        y = "scaled";
    }
    if (s.beta) {
        add_init_f32(&g, "beta", norm);
        add_node(&g, "Add", {"beta", y}, {"shifted"});
        y = "shifted";
    }
    add_node(&g, "Identity", {y}, {"y"});
    add_output(&g, "y");
    if (s.d_is_output) add_output(&g, "d");
    return g;
}

TEST(FuseLayerNorm, StandardOpAtOpset17) {
    auto m = check_pass(make_model(decomposed_ln({}), 17), "fuse_layernorm");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "LayerNormalization"), 1);
    EXPECT_EQ(count_op(*m, "ReduceMean") + count_op(*m, "Sqrt") + count_op(*m, "Div"), 0);
    const ir::Node* ln = find_node(*m, "LayerNormalization");
    EXPECT_EQ(ln->domain(), "");
    EXPECT_EQ(ln->attr("axis")->i, -1);
    EXPECT_NEAR(ln->attr("epsilon")->f, 1e-5f, 1e-12);
}

TEST(FuseLayerNorm, NnportDomainBeforeOpset17WithMulSquareAndNoAffine) {
    LnSpec s;
    s.mul_square = true;
    s.gamma = s.beta = false;
    auto m = check_pass(make_model(decomposed_ln(s), 13), "fuse_layernorm");
    const ir::Node* ln = find_node(*m, "LayerNormalization");
    ASSERT_NE(ln, nullptr);
    EXPECT_EQ(ln->domain(), "com.nnport");
    EXPECT_EQ(count_op(*m, "Mul"), 0);
    EXPECT_FALSE(changes_without_custom_ops(make_model(decomposed_ln(s), 13), "fuse_layernorm"));
}

TEST(FuseLayerNorm, LastTwoAxesAndAxesInput) {
    LnSpec s;
    s.axes = {-2, -1};
    auto m = check_pass(make_model(decomposed_ln(s), 17), "fuse_layernorm");
    EXPECT_EQ(find_node(*m, "LayerNormalization")->attr("axis")->i, -2);
    s.axes = {3};
    s.axes_input = true;
    auto m18 = check_pass(make_model(decomposed_ln(s), 18), "fuse_layernorm");
    EXPECT_EQ(count_op(*m18, "LayerNormalization"), 1);
}

TEST(FuseLayerNorm, GammaOnlyAndBetaOnly) {
    LnSpec s;
    s.beta = false;
    EXPECT_EQ(count_op(*check_pass(make_model(decomposed_ln(s), 17), "fuse_layernorm"), "Mul"), 0);
    s.beta = true;
    s.gamma = false;
    EXPECT_EQ(count_op(*check_pass(make_model(decomposed_ln(s), 17), "fuse_layernorm"), "Add"), 0);
}

TEST(FuseLayerNorm, DoesNotFuseNonTrailingAxesSharedCenteredValueOrVariableEpsilon) {
    LnSpec s;
    s.axes = {1};
    check_pass(make_model(decomposed_ln(s), 17), "fuse_layernorm", false);
    LnSpec t;
    t.d_is_output = true;
    check_pass(make_model(decomposed_ln(t), 17), "fuse_layernorm", false);
    LnSpec u;
    u.eps_input = true;
    check_pass(make_model(decomposed_ln(u), 17), "fuse_layernorm", false);
}

}  // namespace
}  // namespace nnport::testing

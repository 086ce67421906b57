// fuse_gelu: exported exact and tanh GELU forms -> Gelu (standard at opset 20, com.nnport before); near misses.
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

enum class Form { kDivThenHalfLast, kMulHalfFirst, kHalfInside };

/// x * 0.5 * (1 + erf(x / sqrt(2))) in one of the exported associations.
onnx::GraphProto erf_gelu(Form form, float sqrt2 = 1.4142135f, bool erf_shared = false) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {2, 3, 8});
    add_scalar_f32(&g, "one", 1.0f);
    add_scalar_f32(&g, "half", 0.5f);
    if (form == Form::kMulHalfFirst) {
        add_scalar_f32(&g, "inv_sqrt2", 1.0f / sqrt2);
        add_node(&g, "Mul", {"inv_sqrt2", "x"}, {"arg"});
    } else {
        add_scalar_f32(&g, "sqrt2", sqrt2);
        add_node(&g, "Div", {"x", "sqrt2"}, {"arg"});
    }
    add_node(&g, "Erf", {"arg"}, {"e"});
    add_node(&g, "Add", {"one", "e"}, {"a1"});
    switch (form) {
        case Form::kDivThenHalfLast:
            add_node(&g, "Mul", {"x", "a1"}, {"p"});
            add_node(&g, "Mul", {"p", "half"}, {"y"});
            break;
        case Form::kMulHalfFirst:
            add_node(&g, "Mul", {"x", "half"}, {"hx"});
            add_node(&g, "Mul", {"a1", "hx"}, {"y"});
            break;
        case Form::kHalfInside:
            add_node(&g, "Mul", {"a1", "half"}, {"h"});
            add_node(&g, "Mul", {"h", "x"}, {"y"});
            break;
    }
    add_output(&g, "y");
    if (erf_shared) {
        add_node(&g, "Neg", {"e"}, {"ne"});
        add_output(&g, "ne");
    }
    return g;
}

/// 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), x^3 as Pow or as x * (x * x).
onnx::GraphProto tanh_gelu(bool pow) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {4, 16});
    if (pow) {
        add_scalar_f32(&g, "three", 3.0f);
        add_node(&g, "Pow", {"x", "three"}, {"cube"});
    } else {
        add_node(&g, "Mul", {"x", "x"}, {"sq"});
        add_node(&g, "Mul", {"x", "sq"}, {"cube"});
    }
    add_scalar_f32(&g, "c", 0.044715f);
    add_node(&g, "Mul", {"cube", "c"}, {"t"});
    add_node(&g, "Add", {"x", "t"}, {"inner"});
    add_scalar_f32(&g, "k", 0.7978845608f);
    add_node(&g, "Mul", {"k", "inner"}, {"arg"});
    add_node(&g, "Tanh", {"arg"}, {"th"});
    add_scalar_f32(&g, "one", 1.0f);
    add_node(&g, "Add", {"th", "one"}, {"a1"});
    add_scalar_f32(&g, "half", 0.5f);
    add_node(&g, "Mul", {"x", "half"}, {"hx"});
    add_node(&g, "Mul", {"hx", "a1"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(FuseGelu, ExactFormsBeforeOpset20UseNnportDomain) {
    for (Form f : {Form::kDivThenHalfLast, Form::kMulHalfFirst, Form::kHalfInside}) {
        auto m = check_pass(make_model(erf_gelu(f), 13), "fuse_gelu");
        ASSERT_NE(m, nullptr);
        ASSERT_EQ(m->graph->nodes().size(), 1u);
        const ir::Node* n = find_node(*m, "Gelu");
        ASSERT_NE(n, nullptr);
        EXPECT_EQ(n->domain(), "com.nnport");
        EXPECT_EQ(n->attr("approximate"), nullptr);
    }
}

TEST(FuseGelu, StandardOpAtOpset20) {
    auto m = check_pass(make_model(erf_gelu(Form::kDivThenHalfLast), 20), "fuse_gelu");
    EXPECT_EQ(find_node(*m, "Gelu")->domain(), "");
    EXPECT_TRUE(changes_without_custom_ops(make_model(erf_gelu(Form::kDivThenHalfLast), 20), "fuse_gelu"));
    EXPECT_FALSE(changes_without_custom_ops(make_model(erf_gelu(Form::kDivThenHalfLast), 13), "fuse_gelu"));
}

TEST(FuseGelu, TanhApproximation) {
    for (bool pow : {true, false}) {
        auto m = check_pass(make_model(tanh_gelu(pow), 20), "fuse_gelu");
        ASSERT_EQ(m->graph->nodes().size(), 1u);
        EXPECT_EQ(find_node(*m, "Gelu")->attr("approximate")->s, "tanh");
    }
}

TEST(FuseGelu, DoesNotFuseWrongConstantOrSharedIntermediate) {
    check_pass(make_model(erf_gelu(Form::kDivThenHalfLast, 1.5f), 20), "fuse_gelu", false);
    check_pass(make_model(erf_gelu(Form::kDivThenHalfLast, 1.4142135f, true), 20), "fuse_gelu", false);
}

}  // namespace
}  // namespace nnport::testing

// Checker: constraint violations on small graphs and the scenario classification of the paper's section IV.
#include <gtest/gtest.h>

#include "convert/convert_test_util.hpp"

namespace nnport::testing {
namespace {

using convert::Scenario;
using convert::Verdict;

const convert::RewriteCatalogue& catalogue() {
    static const convert::RewriteCatalogue cat = [] {
        auto c = convert::load_rewrites(std::string(NNPORT_SOURCE_DIR) + "/targets");
        EXPECT_TRUE(c.is_ok()) << c.status().message();
        return c.is_ok() ? c.value() : convert::RewriteCatalogue();
    }();
    return cat;
}

Tensor weights(Shape s, float v = 0.1f) {
    std::vector<float> d(static_cast<size_t>(shape_numel(s)), v);
    return Tensor::from_vector<float>(s, d);
}

bool has_violation(const convert::NodeIssue* i, const std::string& kind) {
    if (!i) return false;
    for (const auto& v : i->violations) {
        if (v.kind == kind) return true;
    }
    return false;
}

/// x[1,3,8,8] -> Conv(3->4, 3x3, pad 1) -> Relu -> y
GraphBuilder conv_relu(int64_t k = 3) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3, 8, 8}));
    ir::Value* w = b.constant("w", weights({4, 3, k, k}));
    ir::Attributes a;
    a["pads"] = ir::Attribute::make_ints({k / 2, k / 2, k / 2, k / 2});
    ir::Value* c = b.node("Conv", "conv", {x, w}, a);
    b.output(b.node("Relu", "relu", {c}));
    return b;
}

TEST(Checker, RunsAsIsWhenEverythingIsSupported) {
    GraphBuilder b = conv_relu();
    auto r = b.check(profile_with({"Conv", "Relu"}), catalogue());
    EXPECT_TRUE(r.nodes.empty());
    EXPECT_EQ(r.verdict, Verdict::kRunsAsIs);
    EXPECT_EQ(r.exit_code(), 0);
    EXPECT_EQ(r.node_count, 2);
}

TEST(Checker, MissingOpIsReported) {
    GraphBuilder b = conv_relu();
    auto r = b.check(profile_with({"Relu"}), catalogue());
    const convert::NodeIssue* i = issue_for(r, "conv");
    ASSERT_NE(i, nullptr);
    EXPECT_TRUE(has_violation(i, "op_missing"));
    EXPECT_EQ(i->op, "Conv");
    EXPECT_EQ(r.exit_code(), 3);
}

TEST(Checker, AttributeValueNotAllowed) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3, 4, 4}));
    ir::Value* scales = b.constant("scales", Tensor::from_vector<float>({4}, {1, 1, 2, 2}));
    ir::Attributes a;
    a["mode"] = ir::Attribute::make_string("linear");
    b.output(b.node("Resize", "up", {x, nullptr, scales}, a));
    convert::TargetProfile p = profile_with({"Resize"});
    p.ops["Resize"].attrs["mode"] = {convert::AttrValue{true, "nearest", 0}};
    auto r = b.check(p, catalogue());
    const convert::NodeIssue* i = issue_for(r, "up");
    ASSERT_NE(i, nullptr);
    ASSERT_TRUE(has_violation(i, "attr"));
    EXPECT_NE(i->violations[0].detail.find("mode=linear"), std::string::npos);
    // A default-valued attribute is checked too: Resize's default mode is nearest, which is allowed.
    GraphBuilder d;
    ir::Value* x2 = d.input("x", f32({1, 3, 4, 4}));
    d.output(
        d.node("Resize", "up", {x2, nullptr, d.constant("scales", Tensor::from_vector<float>({4}, {1, 1, 2, 2}))}));
    EXPECT_TRUE(d.check(p, catalogue()).nodes.empty());
}

TEST(Checker, KernelTooBigFromWeightShape) {
    GraphBuilder b = conv_relu(5);  // no kernel_shape attribute: taken from W
    convert::TargetProfile p = profile_with({"Conv", "Relu"});
    p.ops["Conv"].attr_max["kernel_shape"] = 3;
    auto r = b.check(p, catalogue());
    const convert::NodeIssue* i = issue_for(r, "conv");
    ASSERT_TRUE(has_violation(i, "attr_max"));
    EXPECT_NE(i->violations[0].detail.find("kernel_shape 5 exceeds 3"), std::string::npos);
    // A Conv is heavy (not post-processing); no exact form exists, so the fitted kernel shrink is chosen.
    EXPECT_EQ(i->scenario, Scenario::kSubstitution);
    EXPECT_EQ(i->rewrite, "conv_kernel_shrink_fitted");
    EXPECT_EQ(i->rewrite_kind, "approximate");
    EXPECT_EQ(r.verdict, convert::Verdict::kConvertibleApproximately);
    EXPECT_TRUE(conv_relu(3).check(p, catalogue()).nodes.empty());
}

TEST(Checker, DynamicShapeOnStaticOnlyTarget) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({ir::Dim::symbol("N"), 3, 8, 8}));
    ir::Value* c = b.node("Conv", "conv", {x, b.constant("w", weights({4, 3, 1, 1}))});
    b.output(b.node("Relu", "relu", {c}));
    convert::TargetProfile p = profile_with({"Conv", "Relu"});
    p.static_shapes_required = true;
    // Profile-wide: the symbolic input explains every dynamic shape, so one model-level issue covers them.
    auto r0 = b.check(p, catalogue());
    EXPECT_TRUE(r0.nodes.empty());
    ASSERT_EQ(r0.model_issues.size(), 1u);
    EXPECT_EQ(r0.model_issues[0].rewrite, "fix_input_shapes");
    // Op-level: the node itself is reported, resolved by pinning the input shape.
    p.ops["Conv"].static_shapes = true;
    auto r = b.check(p, catalogue());
    ASSERT_TRUE(has_violation(issue_for(r, "conv"), "dynamic_shape"));
    EXPECT_EQ(issue_for(r, "conv")->scenario, Scenario::kExactRewrite);
    EXPECT_EQ(issue_for(r, "conv")->rewrite, "fix_input_shapes");
    ASSERT_EQ(r.model_issues.size(), 1u);
    EXPECT_EQ(r.model_issues[0].kind, "dynamic_shape");
    EXPECT_EQ(r.verdict, Verdict::kConvertibleExactly);
}

TEST(Checker, ShapeArithmeticFoldsOnceInputShapesArePinned) {
    // x[N,3,4] -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape(x): exporters' shape chain.
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({ir::Dim::symbol("N"), 3, 4}));
    ir::Value* shp = b.node("Shape", "shape", {x});
    ir::Value* n0 = b.node("Gather", "gather", {shp, b.constant("zero", Tensor::scalar<int64_t>(0))});
    ir::Value* u = b.node("Unsqueeze", "unsq", {n0, b.constant("ax", Tensor::from_vector<int64_t>({1}, {0}))});
    ir::Value* cat = b.node("Concat", "cat", {u, b.constant("m1", Tensor::from_vector<int64_t>({1}, {-1}))},
                            {{"axis", ir::Attribute::make_int(0)}});
    b.output(b.node("Reshape", "reshape", {x, cat}));
    auto r = b.check(profile_with({"Reshape"}), catalogue());
    for (const char* n : {"shape", "gather", "unsq", "cat"}) {
        const convert::NodeIssue* i = issue_for(r, n);
        ASSERT_NE(i, nullptr) << n;
        EXPECT_EQ(i->rewrite, "constant_folding") << n;
    }
    EXPECT_EQ(r.verdict, Verdict::kConvertibleExactly);
}

TEST(Checker, OpsetOutOfRange) {
    GraphBuilder b = conv_relu();
    convert::TargetProfile p = profile_with({"Conv", "Relu"});
    p.opset_range = std::make_pair(7, 13);
    p.ops["Relu"].opset = std::make_pair(6, 13);
    auto r = b.check(p, catalogue());
    ASSERT_EQ(r.model_issues.size(), 1u);
    EXPECT_EQ(r.model_issues[0].kind, "opset");
    EXPECT_EQ(r.model_issues[0].rewrite, "opset_conversion");
    const convert::NodeIssue* i = issue_for(r, "relu");
    ASSERT_TRUE(has_violation(i, "opset"));
    EXPECT_EQ(i->scenario, Scenario::kExactRewrite);
    EXPECT_EQ(i->rewrite, "opset_conversion");
}

TEST(Checker, PaperFigure3TailMovesToPostProcessing) {
    // conv -> Softmax -> Sub(softmax, relu(conv)) -> Mul(sub, conv): Mul reads the conv output through a skip
    // connection, so two tensors (conv and relu outputs) cross the cut.
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3, 8, 8}));
    ir::Value* c = b.node("Conv", "conv", {x, b.constant("w", weights({4, 3, 1, 1}))});
    ir::Value* r1 = b.node("Relu", "relu", {c});
    ir::Value* s = b.node("Softmax", "softmax", {c});
    ir::Value* d = b.node("Sub", "sub", {s, r1});
    b.output(b.node("Mul", "mul", {d, c}));
    convert::TargetProfile p = profile_with({"Conv", "Relu", "Add", "Reshape", "Concat"});
    p.single_output_only = true;
    auto r = b.check(p, catalogue());
    for (const char* n : {"softmax", "sub", "mul"}) {
        const convert::NodeIssue* i = issue_for(r, n);
        ASSERT_NE(i, nullptr) << n;
        EXPECT_EQ(i->scenario, Scenario::kPostProcess) << n;
    }
    const convert::NodeIssue* sm = issue_for(r, "softmax");
    EXPECT_EQ(sm->moved_nodes, (std::vector<std::string>{"softmax", "sub", "mul"}));
    EXPECT_EQ(sm->cut_tensors, 2);
    EXPECT_NE(sm->resolution.find("packed into one output"), std::string::npos);
    EXPECT_EQ(r.verdict, Verdict::kConvertibleExactly);
    EXPECT_EQ(r.scenario_counts[3], 3);
}

TEST(Checker, SingleOutputTargetWithoutPackingOpsCannotSplit) {
    // Same Figure 3 tail, but the single-output target lacks Reshape/Concat: the two cut tensors cannot be packed,
    // so the tail cannot move to the host and the unsupported nodes need custom layers.
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3, 8, 8}));
    ir::Value* c = b.node("Conv", "conv", {x, b.constant("w", weights({4, 3, 1, 1}))});
    ir::Value* r1 = b.node("Relu", "relu", {c});
    ir::Value* d = b.node("Sub", "sub", {b.node("Softmax", "softmax", {c}), r1});
    b.output(b.node("Mul", "mul", {d, c}));
    convert::TargetProfile p = profile_with({"Conv", "Relu"});
    p.single_output_only = true;
    auto r = b.check(p, catalogue());
    EXPECT_EQ(issue_for(r, "softmax")->scenario, Scenario::kCustomLayer);
    // Every candidate tail (from Softmax, Sub or Mul) reads at least two tensors the target would have to return.
    EXPECT_EQ(r.scenario_counts[3], 0);
    p.ops["Reshape"] = {};
    p.ops["Concat"] = {};
    EXPECT_EQ(issue_for(b.check(p, catalogue()), "softmax")->scenario, Scenario::kPostProcess);
}

TEST(Checker, SubInTheMiddleUsesExactRewrite) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3, 8, 8}));
    ir::Value* y = b.input("y", f32({1, 3, 8, 8}));
    ir::Value* d = b.node("Sub", "sub", {x, y});
    b.output(b.node("Conv", "conv", {d, b.constant("w", weights({4, 3, 1, 1}))}));
    auto r = b.check(profile_with({"Conv", "Add", "Neg"}), catalogue());
    const convert::NodeIssue* i = issue_for(r, "sub");
    ASSERT_NE(i, nullptr);
    EXPECT_EQ(i->scenario, Scenario::kExactRewrite);
    EXPECT_EQ(i->rewrite, "sub_to_add_neg");
    EXPECT_EQ(r.verdict, Verdict::kConvertibleExactly);
    // Without Neg (and without Mul to express it) no rewrite applies and the Conv after it forbids scenario 3.
    auto r2 = b.check(profile_with({"Conv", "Add"}), catalogue());
    EXPECT_EQ(issue_for(r2, "sub")->scenario, Scenario::kCustomLayer);
    // Neg is itself reachable through neg_to_mul when the target has Mul.
    auto r3 = b.check(profile_with({"Conv", "Add", "Mul"}), catalogue());
    EXPECT_EQ(issue_for(r3, "sub")->rewrite, "sub_to_add_neg");
}

TEST(Checker, SubtractConstantBecomesAdd) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3, 8, 8}));
    ir::Value* d = b.node("Sub", "sub", {x, b.constant("mean", weights({1, 3, 1, 1}, 0.5f))});
    b.output(b.node("Conv", "conv", {d, b.constant("w", weights({4, 3, 1, 1}))}));
    auto r = b.check(profile_with({"Conv", "Add"}), catalogue());
    EXPECT_EQ(issue_for(r, "sub")->rewrite, "sub_const_to_add");
}

TEST(Checker, UnknownCustomOpNeedsCustomLayer) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3, 8, 8}));
    ir::Value* c = b.node("Conv", "conv", {x, b.constant("w", weights({3, 3, 1, 1}))});
    ir::Value* m = b.node("MyFancyLayer", "fancy", {c}, {}, "com.example");
    m->type = f32({1, 3, 8, 8});
    b.output(b.node("Conv", "conv2", {m, b.constant("w2", weights({4, 3, 1, 1}))}));
    auto r = b.check(profile_with({"Conv"}), catalogue());
    const convert::NodeIssue* i = issue_for(r, "fancy");
    ASSERT_NE(i, nullptr);
    EXPECT_EQ(i->domain, "com.example");
    EXPECT_EQ(i->scenario, Scenario::kCustomLayer);
    EXPECT_EQ(r.verdict, Verdict::kNeedsCustomLayers);
    // Even as the last node it stays a custom layer: the host runtime cannot run an unknown op either.
    GraphBuilder t;
    ir::Value* x2 = t.input("x", f32({1, 3, 8, 8}));
    t.output(t.node("MyFancyLayer", "fancy", {x2}, {}, "com.example"));
    EXPECT_EQ(issue_for(t.check(profile_with({"Conv"}), catalogue()), "fancy")->scenario, Scenario::kCustomLayer);
}

TEST(Checker, ConvTransposeSubstitution) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 4, 8, 8}));
    ir::Attributes a;
    a["strides"] = ir::Attribute::make_ints({2, 2});
    ir::Value* up = b.node("ConvTranspose", "deconv", {x, b.constant("w", weights({4, 4, 2, 2}))}, a);
    b.output(b.node("Conv", "head", {up, b.constant("w2", weights({2, 4, 1, 1}))}));
    auto r = b.check(profile_with({"Conv", "DepthToSpace"}), catalogue());
    const convert::NodeIssue* i = issue_for(r, "deconv");
    ASSERT_NE(i, nullptr);
    EXPECT_EQ(i->scenario, Scenario::kSubstitution);
    EXPECT_EQ(i->rewrite, "convtranspose_subpixel");
    EXPECT_EQ(r.verdict, Verdict::kConvertibleExactly);
}

TEST(Checker, ApproximateRewriteGivesApproximateVerdict) {
    GraphBuilder b(20);
    ir::Value* x = b.input("x", f32({2, 8}));
    ir::Value* g = b.node("Gelu", "gelu", {x});
    b.output(b.node("MatMul", "mm", {g, b.constant("w", weights({8, 4}))}));
    auto r = b.check(profile_with({"MatMul", "Mul", "Add", "Tanh"}), catalogue());
    const convert::NodeIssue* i = issue_for(r, "gelu");
    ASSERT_NE(i, nullptr);
    EXPECT_EQ(i->rewrite, "gelu_erf_to_tanh");
    EXPECT_EQ(i->rewrite_kind, "approximate");
    EXPECT_EQ(r.verdict, Verdict::kConvertibleApproximately);
    // With Erf the exact decomposition wins.
    auto r2 = b.check(profile_with({"MatMul", "Mul", "Add", "Tanh", "Erf"}), catalogue());
    EXPECT_EQ(issue_for(r2, "gelu")->rewrite, "gelu_erf_decompose");
}

TEST(Checker, ConstInputGroupAndBroadcastConstraints) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 4, 8, 8}));
    ir::Value* w = b.input("w", f32({4, 2, 3, 3}));  // weights fed at run time
    ir::Attributes a;
    a["group"] = ir::Attribute::make_int(2);
    ir::Value* c = b.node("Conv", "conv", {x, w}, a);
    b.output(b.node("Add", "add", {c, b.constant("bias", weights({1, 4, 1, 1}))}));
    convert::TargetProfile p = profile_with({"Conv", "Add"});
    p.ops["Conv"].const_inputs = {1};
    p.ops["Conv"].group = "1_or_depthwise";
    p.ops["Add"].broadcast = "none";
    auto r = b.check(p, catalogue());
    EXPECT_TRUE(has_violation(issue_for(r, "conv"), "const_input"));
    EXPECT_TRUE(has_violation(issue_for(r, "conv"), "group"));
    EXPECT_TRUE(has_violation(issue_for(r, "add"), "broadcast"));
}

TEST(Checker, SingleOutputTargetPacksOutputs) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3}));
    b.output(b.node("Relu", "a", {x}));
    b.output(b.node("Sigmoid", "b", {x}));
    convert::TargetProfile p = profile_with({"Relu", "Sigmoid", "Reshape", "Concat"});
    p.single_output_only = true;
    auto r = b.check(p, catalogue());
    ASSERT_EQ(r.model_issues.size(), 1u);
    EXPECT_EQ(r.model_issues[0].kind, "single_output");
    EXPECT_EQ(r.model_issues[0].rewrite, "pack_outputs");
    EXPECT_EQ(r.verdict, Verdict::kConvertibleExactly);
}

TEST(Checker, ReportsRenderAsJsonTextAndDot) {
    GraphBuilder b = conv_relu();
    auto r = b.check(profile_with({"Conv"}), catalogue());
    const std::string j = convert::report_to_json(r);
    EXPECT_NE(j.find("\"verdict\": \"convertible_exactly\""), std::string::npos) << j;
    EXPECT_NE(j.find("\"op\": \"Relu\""), std::string::npos);
    EXPECT_NE(convert::report_to_text(r).find("verdict convertible exactly"), std::string::npos);
    const std::string dot = convert::report_graph_dot(*b.model().graph, r);
    EXPECT_NE(dot.find("digraph"), std::string::npos);
    EXPECT_NE(dot.find("post-processing"), std::string::npos);
    const std::string html = convert::report_to_html(r, "<?xml version=\"1.0\"?><svg>g</svg>");
    EXPECT_NE(html.find("<svg>g</svg>"), std::string::npos);
    EXPECT_EQ(html.find("<?xml"), std::string::npos);
}

}  // namespace
}  // namespace nnport::testing

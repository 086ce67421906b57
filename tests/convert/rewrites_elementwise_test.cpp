// Element-wise and activation rewrites of `nnport convert` (src/convert/rewrites/elementwise*.cpp): each applies to a
// node named "target", leaves only the catalogue entry's "needs" ops behind, matches the original on random inputs
// (at the opsets where the op's form differs, and in float16/float64), and declines the near misses.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "convert/rewrite_test_util.hpp"
#include "convert/target_profile.hpp"
#include "onnx/exporter.hpp"
#include "passes/fusion_test_util.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::testing {
namespace {

using NodeSetup = std::function<void(onnx::NodeProto*)>;

/// x[shape] (float) -> optional Mul by `scale` -> optional Cast to `elem` -> `op` named "target" (inputs: the
/// tensor, then `extra`) -> Cast back -> y.
onnx::GraphProto unary_graph(const std::string& op, float scale = 1.0f, const NodeSetup& setup = {}, int elem = 0,
                             const std::vector<int64_t>& shape = {2, 3, 4},
                             const std::vector<std::string>& extra = {}) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, shape);
    std::string cur = "x";
    if (scale != 1.0f) {
        add_scalar_f32(&g, "k", scale);
        add_node(&g, "Mul", {cur, "k"}, {"xs"});
        cur = "xs";
    }
    if (elem) {
        attr_int(add_node(&g, "Cast", {cur}, {"xc"}), "to", elem);
        cur = "xc";
    }
    std::vector<std::string> ins = {cur};
    ins.insert(ins.end(), extra.begin(), extra.end());
    onnx::NodeProto* n = add_node(&g, op, ins, {elem ? "t" : "y"});
    n->set_name("target");
    if (setup) setup(n);
    if (elem) attr_int(add_node(&g, "Cast", {"t"}, {"y"}), "to", onnx::TensorProto::FLOAT);
    add_output(&g, "y");
    return g;
}

/// Applies `rewrite` to "target", checks numerics (rtol/atol), that `op` is gone and the needs-only rule.
void expect_rewrite(const onnx::GraphProto& g, int opset, const std::string& rewrite, const std::string& op,
                    double rtol = 1e-5, double atol = 1e-6) {
    SCOPED_TRACE(rewrite + " at opset " + std::to_string(opset));
    auto m = check_rewrite(make_model(g, opset), rewrite, "target", {op}, rtol, atol);
    ASSERT_NE(m, nullptr);
    expect_needs_only(*m, rewrite);
}

void expect_declines(const onnx::GraphProto& g, int opset, const std::string& rewrite) {
    SCOPED_TRACE(rewrite + " at opset " + std::to_string(opset));
    check_rewrite_declines(make_model(g, opset), rewrite, "target");
}

NodeSetup alpha(float a) {
    return [a](onnx::NodeProto* n) { attr_float(n, "alpha", a); };
}

// ---- Arithmetic ------------------------------------------------------------------------------------------------

TEST(ConvertRewriteElementwise, SubConstToAdd) {
    auto g = unary_graph("Sub", 1.0f, {}, 0, {2, 3, 4}, {"c"});
    add_init_f32(&g, "c", {3, 4});
    expect_rewrite(g, 17, "sub_const_to_add", "Sub");
    expect_rewrite(g, 7, "sub_const_to_add", "Sub");
    // Integers negate in their own dtype.
    onnx::GraphProto gi;
    add_input(&gi, "x", onnx::TensorProto::INT64, {2, 5});
    add_init_i64(&gi, "c", {5}, {3, -2, 0, 7, -9});
    add_node(&gi, "Sub", {"x", "c"}, {"y"})->set_name("target");
    add_output(&gi, "y");
    expect_rewrite(gi, 17, "sub_const_to_add", "Sub");
}

TEST(ConvertRewriteElementwise, SubConstToAddDeclinesVariableSubtrahend) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {2, 3});
    add_input(&g, "b", onnx::TensorProto::FLOAT, {2, 3});
    add_node(&g, "Sub", {"x", "b"}, {"y"})->set_name("target");
    add_output(&g, "y");
    expect_declines(g, 17, "sub_const_to_add");
    // ... which sub_to_add_neg handles.
    expect_rewrite(g, 17, "sub_to_add_neg", "Sub");
    expect_rewrite(g, 7, "sub_to_add_neg", "Sub");
}

TEST(ConvertRewriteElementwise, SubToAddNegIntegersAndUnsignedDecline) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::INT32, {4});
    add_input(&g, "b", onnx::TensorProto::INT32, {4});
    add_node(&g, "Sub", {"x", "b"}, {"y"})->set_name("target");
    add_output(&g, "y");
    expect_rewrite(g, 14, "sub_to_add_neg", "Sub");
    onnx::GraphProto u;
    add_input(&u, "x", onnx::TensorProto::UINT8, {4});
    add_input(&u, "b", onnx::TensorProto::UINT8, {4});
    add_node(&u, "Sub", {"x", "b"}, {"y"})->set_name("target");
    add_output(&u, "y");
    expect_declines(u, 14, "sub_to_add_neg");  // Neg has no unsigned form
}

TEST(ConvertRewriteElementwise, NegToMul) {
    expect_rewrite(unary_graph("Neg"), 17, "neg_to_mul", "Neg");
    expect_rewrite(unary_graph("Neg", 1.0f, {}, onnx::TensorProto::DOUBLE), 17, "neg_to_mul", "Neg");
    onnx::GraphProto gi;
    add_input(&gi, "x", onnx::TensorProto::INT64, {6});
    add_node(&gi, "Neg", {"x"}, {"y"})->set_name("target");
    add_output(&gi, "y");
    expect_rewrite(gi, 13, "neg_to_mul", "Neg");
    expect_declines(unary_graph("Abs"), 17, "neg_to_mul");
}

TEST(ConvertRewriteElementwise, DivConstToMul) {
    auto g = unary_graph("Div", 1.0f, {}, 0, {2, 3, 4}, {"c"});
    add_init_f32(&g, "c", {4}, {3.0f, -0.7f, 1e-3f, 250.0f});
    expect_rewrite(g, 17, "div_const_to_mul", "Div");
    expect_rewrite(g, 7, "div_const_to_mul", "Div");
    auto h = unary_graph("Div", 1.0f, {}, onnx::TensorProto::FLOAT16, {2, 3, 4}, {"c16"});
    onnx::TensorProto* c16 = h.add_initializer();
    c16->set_name("c16");
    c16->set_data_type(onnx::TensorProto::FLOAT16);
    c16->add_int32_data(Float16(3.0f).bits);
    expect_rewrite(h, 17, "div_const_to_mul", "Div", 2e-3, 1e-3);
}

TEST(ConvertRewriteElementwise, DivConstToMulDeclines) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {2, 3});
    add_input(&g, "b", onnx::TensorProto::FLOAT, {2, 3});
    add_node(&g, "Div", {"x", "b"}, {"y"})->set_name("target");
    add_output(&g, "y");
    expect_declines(g, 17, "div_const_to_mul");
    // A divisor whose reciprocal overflows float32.
    auto tiny = unary_graph("Div", 1.0f, {}, 0, {2, 3}, {"c"});
    add_init_f32(&tiny, "c", {}, {1e-39f});
    expect_declines(tiny, 17, "div_const_to_mul");
    // Integer division truncates: no reciprocal form.
    onnx::GraphProto gi;
    add_input(&gi, "x", onnx::TensorProto::INT64, {4});
    add_init_i64(&gi, "c", {}, {3});
    add_node(&gi, "Div", {"x", "c"}, {"y"})->set_name("target");
    add_output(&gi, "y");
    expect_declines(gi, 17, "div_const_to_mul");
}

TEST(ConvertRewriteElementwise, ReciprocalToDiv) {
    expect_rewrite(unary_graph("Reciprocal", 3.0f), 17, "reciprocal_to_div", "Reciprocal");
    expect_rewrite(unary_graph("Reciprocal", 3.0f, {}, onnx::TensorProto::DOUBLE), 13, "reciprocal_to_div",
                   "Reciprocal");
    expect_declines(unary_graph("Sqrt"), 17, "reciprocal_to_div");
}

TEST(ConvertRewriteElementwise, PowToMulAndSqrt) {
    auto sq = unary_graph("Pow", 3.0f, {}, 0, {2, 3, 4}, {"e"});
    add_scalar_f32(&sq, "e", 2.0f);
    expect_rewrite(sq, 17, "pow2_to_mul", "Pow");
    expect_rewrite(sq, 11, "pow2_to_mul", "Pow");
    expect_declines(sq, 17, "pow_half_to_sqrt");
    // An int64 exponent 2 (Pow's exponent type is free from opset 12).
    auto si = unary_graph("Pow", 3.0f, {}, 0, {2, 3, 4}, {"e"});
    add_init_i64(&si, "e", {}, {2});
    expect_rewrite(si, 13, "pow2_to_mul", "Pow");

    onnx::GraphProto h;
    add_input(&h, "x", onnx::TensorProto::FLOAT, {3, 4});
    add_node(&h, "Abs", {"x"}, {"a"});  // keeps Pow(x, 0.5) away from NaN
    add_scalar_f32(&h, "e", 0.5f);
    add_node(&h, "Pow", {"a", "e"}, {"y"})->set_name("target");
    add_output(&h, "y");
    expect_rewrite(h, 17, "pow_half_to_sqrt", "Pow");
    expect_declines(h, 17, "pow2_to_mul");
}

TEST(ConvertRewriteElementwise, PowDeclinesOtherExponentsAndShapeChanges) {
    auto cube = unary_graph("Pow", 1.0f, {}, 0, {2, 3}, {"e"});
    add_scalar_f32(&cube, "e", 3.0f);
    expect_declines(cube, 17, "pow2_to_mul");
    // A [1,1,1] exponent broadcasts a rank-2 x to rank 3: x * x would keep rank 2.
    auto wide = unary_graph("Pow", 1.0f, {}, 0, {2, 3}, {"e"});
    add_init_f32(&wide, "e", {1, 1, 1}, {2.0f});
    expect_declines(wide, 17, "pow2_to_mul");
    // A variable exponent.
    onnx::GraphProto v;
    add_input(&v, "x", onnx::TensorProto::FLOAT, {2, 3});
    add_input(&v, "e", onnx::TensorProto::FLOAT, {});
    add_node(&v, "Pow", {"x", "e"}, {"y"})->set_name("target");
    add_output(&v, "y");
    expect_declines(v, 17, "pow2_to_mul");
}

// ---- Piecewise-linear activations ------------------------------------------------------------------------------

TEST(ConvertRewriteElementwise, LeakyReluToMax) {
    expect_rewrite(unary_graph("LeakyRelu", 1.0f, alpha(0.1f)), 17, "leakyrelu_to_max", "LeakyRelu");
    expect_rewrite(unary_graph("LeakyRelu"), 6, "leakyrelu_to_max", "LeakyRelu");  // default alpha 0.01
    expect_rewrite(unary_graph("LeakyRelu", 1.0f, alpha(0.0f), onnx::TensorProto::DOUBLE), 17, "leakyrelu_to_max",
                   "LeakyRelu");
    // Max(x, 2x) is 2x for positive x: not LeakyRelu.
    expect_declines(unary_graph("LeakyRelu", 1.0f, alpha(2.0f)), 17, "leakyrelu_to_max");
    expect_declines(unary_graph("LeakyRelu", 1.0f, alpha(-0.5f)), 17, "leakyrelu_to_max");
}

TEST(ConvertRewriteElementwise, PReluDecompose) {
    auto g = unary_graph("PRelu", 1.0f, {}, 0, {2, 3, 4, 4}, {"slope"});
    add_init_f32(&g, "slope", {3, 1, 1}, {0.25f, -0.5f, 1.5f});
    expect_rewrite(g, 17, "prelu_decompose", "PRelu");
    expect_rewrite(g, 9, "prelu_decompose", "PRelu");
    // A slope computed at run time works the same.
    onnx::GraphProto v;
    add_input(&v, "x", onnx::TensorProto::FLOAT, {2, 5});
    add_input(&v, "s", onnx::TensorProto::FLOAT, {5});
    add_node(&v, "PRelu", {"x", "s"}, {"y"})->set_name("target");
    add_output(&v, "y");
    expect_rewrite(v, 16, "prelu_decompose", "PRelu");
    // Integer PRelu (opset 16): the float decomposition does not apply.
    onnx::GraphProto gi;
    add_input(&gi, "x", onnx::TensorProto::INT32, {4});
    add_input(&gi, "s", onnx::TensorProto::INT32, {4});
    add_node(&gi, "PRelu", {"x", "s"}, {"y"})->set_name("target");
    add_output(&gi, "y");
    expect_declines(gi, 16, "prelu_decompose");
}

/// x -> Clip named "target" with bounds as inputs (opset >= 11; "" omits one) or as attributes (opset < 11).
onnx::GraphProto clip_graph(int opset, std::optional<float> lo, std::optional<float> hi, int elem = 0) {
    onnx::GraphProto g = unary_graph("Clip", 2.0f, {}, elem, {2, 3, 4});
    onnx::NodeProto* n = g.mutable_node(g.node_size() - (elem ? 2 : 1));
    const onnx::TensorProto::DataType dt =
        elem ? static_cast<onnx::TensorProto::DataType>(elem) : onnx::TensorProto::FLOAT;
    if (opset < 11) {
        if (lo) attr_float(n, "min", *lo);
        if (hi) attr_float(n, "max", *hi);
        return g;
    }
    auto bound = [&](const std::string& name, float v) {
        onnx::TensorProto* t = g.add_initializer();
        t->set_name(name);
        t->set_data_type(dt);
        if (dt == onnx::TensorProto::INT32)
            t->add_int32_data(static_cast<int32_t>(v));
        else if (dt == onnx::TensorProto::FLOAT16)
            t->add_int32_data(Float16(v).bits);
        else
            t->add_float_data(v);
    };
    n->add_input(lo ? "lo" : "");
    if (lo) bound("lo", *lo);
    if (hi) {
        n->add_input("hi");
        bound("hi", *hi);
    }
    return g;
}

TEST(ConvertRewriteElementwise, ClipToRelu) {
    expect_rewrite(clip_graph(13, 0.0f, std::nullopt), 13, "clip_to_relu", "Clip");
    expect_rewrite(clip_graph(10, 0.0f, std::nullopt), 10, "clip_to_relu", "Clip");
    expect_rewrite(clip_graph(11, 0.0f, INFINITY), 11, "clip_to_relu", "Clip");
    expect_declines(clip_graph(13, 0.0f, 6.0f), 13, "clip_to_relu");
    expect_declines(clip_graph(13, -1.0f, std::nullopt), 13, "clip_to_relu");
    expect_declines(clip_graph(13, std::nullopt, 1.0f), 13, "clip_to_relu");
}

TEST(ConvertRewriteElementwise, ClipToMaxMin) {
    expect_rewrite(clip_graph(13, -0.5f, 0.75f), 13, "clip_to_max_min", "Clip");
    expect_rewrite(clip_graph(11, std::nullopt, 0.75f), 11, "clip_to_max_min", "Clip");
    expect_rewrite(clip_graph(13, -0.25f, std::nullopt), 13, "clip_to_max_min", "Clip");
    expect_rewrite(clip_graph(6, -0.5f, 0.5f), 6, "clip_to_max_min", "Clip");  // attribute bounds
    expect_rewrite(clip_graph(13, -1.0f, 1.0f, onnx::TensorProto::INT32), 13, "clip_to_max_min", "Clip");
    expect_rewrite(clip_graph(13, -0.5f, 0.5f, onnx::TensorProto::FLOAT16), 13, "clip_to_max_min", "Clip");
    expect_declines(clip_graph(13, std::nullopt, std::nullopt), 13, "clip_to_max_min");
    // A bound computed at run time.
    onnx::GraphProto v;
    add_input(&v, "x", onnx::TensorProto::FLOAT, {2, 3});
    add_input(&v, "lo", onnx::TensorProto::FLOAT, {});
    add_node(&v, "Clip", {"x", "lo"}, {"y"})->set_name("target");
    add_output(&v, "y");
    expect_declines(v, 13, "clip_to_max_min");
    expect_declines(v, 13, "clip_to_relu");
}

TEST(ConvertRewriteElementwise, ClipBuiltBeforeOpset11ExportsWithAttributeBounds) {
    // HardSigmoid at opset 6 becomes Mul, Add and a Clip whose bounds must be min/max attributes there.
    const onnx::ModelProto m = make_model(unary_graph("HardSigmoid", 5.0f), 6);
    auto model = load_ir(m);
    ASSERT_TRUE(model);
    infer_types(*model);
    ASSERT_TRUE(apply_named_rewrite(*model, "hardsigmoid_decompose", "target"));
    auto bytes = onnx_export::serialize_model(*model);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
    onnx::ModelProto out;
    ASSERT_TRUE(out.ParseFromString(*bytes));
    int clips = 0;
    for (const auto& n : out.graph().node()) {
        if (n.op_type() != "Clip") continue;
        ++clips;
        std::set<std::string> attrs;
        for (const auto& a : n.attribute()) attrs.insert(a.name());
        EXPECT_EQ(attrs, (std::set<std::string>{"max", "min"}));
        EXPECT_EQ(n.input_size(), 1);
    }
    EXPECT_EQ(clips, 1);
    const auto feeds = random_feeds(m, 5);
    expect_outputs_close(run_ir(load_ir(out), feeds), run_ir(load_ir(m), feeds), 1e-5, 1e-6);
}

// ---- Smooth activations ----------------------------------------------------------------------------------------

TEST(ConvertRewriteElementwise, HardSwish) {
    for (const char* rw : {"hardswish_decompose", "hardswish_via_hardsigmoid"}) {
        expect_rewrite(unary_graph("HardSwish", 5.0f), 14, rw, "HardSwish");
        expect_rewrite(unary_graph("HardSwish", 5.0f), 18, rw, "HardSwish");
        expect_rewrite(unary_graph("HardSwish", 5.0f, {}, onnx::TensorProto::DOUBLE), 17, rw, "HardSwish");
        expect_rewrite(unary_graph("HardSwish", 5.0f, {}, onnx::TensorProto::FLOAT16), 17, rw, "HardSwish", 4e-3, 4e-3);
        expect_declines(unary_graph("HardSigmoid"), 17, rw);
    }
}

TEST(ConvertRewriteElementwise, HardSigmoidDecompose) {
    expect_rewrite(unary_graph("HardSigmoid", 5.0f), 6, "hardsigmoid_decompose", "HardSigmoid");
    expect_rewrite(unary_graph("HardSigmoid", 5.0f), 17, "hardsigmoid_decompose", "HardSigmoid");
    auto custom = [](onnx::NodeProto* n) {
        attr_float(n, "alpha", 0.3f);
        attr_float(n, "beta", 0.4f);
    };
    expect_rewrite(unary_graph("HardSigmoid", 5.0f, custom), 13, "hardsigmoid_decompose", "HardSigmoid");
    expect_rewrite(unary_graph("HardSigmoid", 5.0f, custom, onnx::TensorProto::DOUBLE), 13, "hardsigmoid_decompose",
                   "HardSigmoid");
    expect_declines(unary_graph("HardSwish"), 17, "hardsigmoid_decompose");
}

TEST(ConvertRewriteElementwise, SwishDecompose) {
    expect_rewrite(unary_graph("Swish", 4.0f), 24, "swish_decompose", "Swish");
    expect_rewrite(unary_graph("Swish", 4.0f, alpha(0.5f)), 24, "swish_decompose", "Swish");
    expect_declines(unary_graph("Sigmoid"), 24, "swish_decompose");
}

NodeSetup approximate(const std::string& mode) {
    return [mode](onnx::NodeProto* n) { attr_string(n, "approximate", mode); };
}

TEST(ConvertRewriteElementwise, GeluDecompositions) {
    expect_rewrite(unary_graph("Gelu", 3.0f), 20, "gelu_erf_decompose", "Gelu");
    expect_rewrite(unary_graph("Gelu", 3.0f, approximate("none"), onnx::TensorProto::DOUBLE), 20, "gelu_erf_decompose",
                   "Gelu");
    expect_rewrite(unary_graph("Gelu", 3.0f, approximate("tanh")), 20, "gelu_tanh_decompose", "Gelu");
    expect_rewrite(unary_graph("Gelu", 3.0f, approximate("tanh"), onnx::TensorProto::FLOAT16), 20,
                   "gelu_tanh_decompose", "Gelu", 4e-3, 4e-3);
    // Each form only for its own `approximate`.
    expect_declines(unary_graph("Gelu", 1.0f, approximate("tanh")), 20, "gelu_erf_decompose");
    expect_declines(unary_graph("Gelu"), 20, "gelu_tanh_decompose");
    expect_declines(unary_graph("Gelu", 1.0f, approximate("tanh")), 20, "gelu_erf_to_tanh");
}

double gelu_error_at(double x) {
    const double exact = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    const double tanh_form = 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    return std::fabs(tanh_form - exact);
}

TEST(ConvertRewriteElementwise, GeluErfToTanhRecordsWorstCaseWithoutSamples) {
    convert::RewriteContext ctx;
    auto m =
        check_rewrite(make_model(unary_graph("Gelu", 4.0f), 20), "gelu_erf_to_tanh", "target", {"Gelu"}, 0.0, 1e-3, &ctx);
    ASSERT_NE(m, nullptr);
    expect_needs_only(*m, "gelu_erf_to_tanh");
    ASSERT_EQ(ctx.approx.size(), 1u);
    EXPECT_EQ(ctx.approx[0].rewrite, "gelu_erf_to_tanh");
    EXPECT_EQ(ctx.approx[0].node, "target");
    // The largest difference of the two forms is 4.73e-4, near x = -2.70.
    EXPECT_NEAR(ctx.approx[0].max_abs_error, gelu_error_at(-2.6989), 1e-6);
    EXPECT_GT(ctx.approx[0].rel_rms_error, 0.0);
    EXPECT_LT(ctx.approx[0].rel_rms_error, 1e-3);
}

TEST(ConvertRewriteElementwise, GeluErfToTanhMeasuresOnSamples) {
    auto model = load_ir(make_model(unary_graph("Gelu", 4.0f), 20));
    ASSERT_TRUE(model);
    infer_types(*model);
    convert::RewriteContext ctx;
    std::string asked;
    ctx.samples = [&](const ir::Value* v) -> Result<std::vector<Tensor>> {
        asked = v->name();
        return std::vector<Tensor>{Tensor::from_vector<float>({3}, {0.0f, 1.0f, -0.5f}),
                                   Tensor::from_vector<float>({1}, {2.0f})};
    };
    ASSERT_TRUE(apply_named_rewrite(*model, "gelu_erf_to_tanh", "target", &ctx));
    EXPECT_EQ(asked, "xs");
    ASSERT_EQ(ctx.approx.size(), 1u);
    double want = 0;
    for (double x : {0.0, 1.0, -0.5, 2.0}) want = std::max(want, gelu_error_at(x));
    EXPECT_NEAR(ctx.approx[0].max_abs_error, want, 1e-9);
    EXPECT_LT(ctx.approx[0].max_abs_error, 4.7e-4);

    // A failing sample source is reported, and the graph is left alone.
    auto again = load_ir(make_model(unary_graph("Gelu", 4.0f), 20));
    ASSERT_TRUE(again);
    infer_types(*again);
    convert::RewriteContext bad;
    bad.samples = [](const ir::Value*) -> Result<std::vector<Tensor>> { return invalid_argument("no data"); };
    const convert::RewriteImpl* impl = convert::find_rewrite_impl("gelu_erf_to_tanh");
    ASSERT_NE(impl, nullptr);
    auto r = convert::apply_rewrite(*again, *again->graph, find_node_named(*again, "target"), *impl, bad);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("no data"), std::string::npos) << r.status().message();
    EXPECT_EQ(count_op(*again, "Gelu"), 1);
    EXPECT_TRUE(bad.approx.empty());
}

TEST(ConvertRewriteElementwise, MishAndSoftplus) {
    expect_rewrite(unary_graph("Mish", 4.0f), 18, "mish_decompose", "Mish");
    expect_rewrite(unary_graph("Mish", 4.0f, {}, onnx::TensorProto::DOUBLE), 18, "mish_decompose", "Mish");
    expect_rewrite(unary_graph("Softplus", 4.0f), 17, "softplus_decompose", "Softplus");
    expect_rewrite(unary_graph("Softplus", 20.0f), 6, "softplus_decompose", "Softplus");
    expect_rewrite(unary_graph("Softplus", 4.0f, {}, onnx::TensorProto::DOUBLE), 17, "softplus_decompose", "Softplus");
    // log(exp(x) + 1) overflows float16 from x = 11.
    expect_declines(unary_graph("Softplus", 1.0f, {}, onnx::TensorProto::FLOAT16), 17, "softplus_decompose");
    expect_declines(unary_graph("Softsign"), 17, "softplus_decompose");
    expect_declines(unary_graph("Softplus"), 18, "mish_decompose");
}

// ---- Every rewrite -----------------------------------------------------------------------------------------------

TEST(ConvertRewriteElementwise, EveryRewriteDeclinesAnotherOp) {
    const char* names[] = {"sub_const_to_add",
                           "sub_to_add_neg",
                           "neg_to_mul",
                           "div_const_to_mul",
                           "reciprocal_to_div",
                           "hardswish_decompose",
                           "hardswish_via_hardsigmoid",
                           "hardsigmoid_decompose",
                           "swish_decompose",
                           "gelu_erf_decompose",
                           "gelu_tanh_decompose",
                           "gelu_erf_to_tanh",
                           "mish_decompose",
                           "softplus_decompose",
                           "leakyrelu_to_max",
                           "prelu_decompose",
                           "clip_to_relu",
                           "clip_to_max_min",
                           "pow2_to_mul",
                           "pow_half_to_sqrt"};
    auto g = unary_graph("Add", 1.0f, {}, 0, {2, 3}, {"c"});
    add_init_f32(&g, "c", {}, {2.0f});
    for (const char* rw : names) {
        ASSERT_NE(convert::find_rewrite_impl(rw), nullptr) << rw;
        expect_declines(g, 20, rw);
    }
}

TEST(ConvertRewriteElementwise, DeclinesWhenASubgraphReadsTheOutput) {
    // y = HardSwish(x) is read by name inside an If branch: its name cannot move to a new value.
    onnx::GraphProto g = unary_graph("HardSwish");
    g.clear_output();
    add_input(&g, "cond", onnx::TensorProto::BOOL, {});
    onnx::GraphProto branch;
    add_node(&branch, "Identity", {"y"}, {"r"});
    add_output(&branch, "r");
    onnx::NodeProto* iff = add_node(&g, "If", {"cond"}, {"z"});
    attr_graph(iff, "then_branch", branch);
    attr_graph(iff, "else_branch", branch);
    add_output(&g, "z");
    expect_declines(g, 17, "hardswish_decompose");
}

}  // namespace
}  // namespace nnport::testing

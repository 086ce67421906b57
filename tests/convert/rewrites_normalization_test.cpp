// Normalization rewrites of `nnport convert` (src/convert/rewrites/normalization.cpp): BatchNormalization as Mul+Add,
// LayerNormalization and InstanceNormalization as mean/variance arithmetic, Softmax/LogSoftmax as max-shifted
// exponentials. Each applies to a node named "target", leaves only the catalogue entry's "needs" ops, matches the
// original on random inputs at the opsets where the forms differ, and declines the near misses.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "convert/convert_test_util.hpp"
#include "convert/rewrite_test_util.hpp"
#include "convert/target_profile.hpp"
#include "onnx/exporter.hpp"
#include "passes/fusion_test_util.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::testing {
namespace {

using NodeSetup = std::function<void(onnx::NodeProto*)>;

/// x[shape] (float, scaled by 3 and shifted by 1 so means and variances are not trivial) -> optional Cast to `elem`
/// -> `op` named "target" (inputs: the tensor, then `params`) -> Cast back -> y.
onnx::GraphProto norm_graph(const std::string& op, const std::vector<int64_t>& shape,
                            const std::vector<std::string>& params, const NodeSetup& setup = {}, int elem = 0) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, shape);
    add_scalar_f32(&g, "k", 3.0f);
    add_scalar_f32(&g, "one", 1.0f);
    add_node(&g, "Mul", {"x", "k"}, {"xs"});
    add_node(&g, "Add", {"xs", "one"}, {"xa"});
    std::string cur = "xa";
    if (elem) {
        attr_int(add_node(&g, "Cast", {cur}, {"xc"}), "to", elem);
        cur = "xc";
    }
    std::vector<std::string> ins = {cur};
    ins.insert(ins.end(), params.begin(), params.end());
    onnx::NodeProto* n = add_node(&g, op, ins, {elem ? "t" : "y"});
    n->set_name("target");
    if (setup) setup(n);
    if (elem) attr_int(add_node(&g, "Cast", {"t"}, {"y"}), "to", onnx::TensorProto::FLOAT);
    add_output(&g, "y");
    return g;
}

/// A float initializer of `dims` converted to `elem` (FLOAT, FLOAT16 or DOUBLE), random in [lo, hi).
void add_param(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims, int elem = 0,
               float lo = -1.0f, float hi = 1.0f) {
    add_init_f32(g, name, dims, {}, lo, hi);
    if (!elem || elem == onnx::TensorProto::FLOAT) return;
    onnx::TensorProto* t = g->mutable_initializer(g->initializer_size() - 1);
    std::vector<float> v(t->float_data().begin(), t->float_data().end());
    t->clear_float_data();
    t->set_data_type(elem);
    for (float f : v) {
        if (elem == onnx::TensorProto::DOUBLE)
            t->add_double_data(f);
        else
            t->add_int32_data(Float16(f).bits);
    }
}

void expect_rewrite(const onnx::GraphProto& g, int opset, const std::string& rewrite, const std::string& op,
                    double rtol = 1e-5, double atol = 1e-6, const std::string& node = "target") {
    SCOPED_TRACE(rewrite + " at opset " + std::to_string(opset));
    auto m = check_rewrite(make_model(g, opset), rewrite, node, {op}, rtol, atol);
    ASSERT_NE(m, nullptr);
    expect_needs_only(*m, rewrite, node);
}

void expect_declines(const onnx::GraphProto& g, int opset, const std::string& rewrite) {
    SCOPED_TRACE(rewrite + " at opset " + std::to_string(opset));
    check_rewrite_declines(make_model(g, opset), rewrite, "target");
}

NodeSetup int_attr(const std::string& name, int64_t v) {
    return [name, v](onnx::NodeProto* n) { attr_int(n, name, v); };
}

// ---- BatchNormalization ------------------------------------------------------------------------------------------

onnx::GraphProto batchnorm(const std::vector<int64_t>& shape, int elem = 0, const NodeSetup& setup = {}) {
    auto g = norm_graph("BatchNormalization", shape, {"scale", "bias", "mean", "var"}, setup, elem);
    const int64_t c = shape[1];
    add_param(&g, "scale", {c}, elem);
    add_param(&g, "bias", {c}, elem);
    add_param(&g, "mean", {c}, elem);
    add_param(&g, "var", {c}, elem, 0.2f, 2.0f);
    return g;
}

TEST(ConvertRewriteNorm, BatchNormToMulAdd) {
    for (int opset : {9, 14, 17})
        expect_rewrite(batchnorm({2, 3, 4, 5}), opset, "batchnorm_to_mul_add", "BatchNormalization");
    expect_rewrite(batchnorm({4, 6}), 17, "batchnorm_to_mul_add", "BatchNormalization");
    expect_rewrite(batchnorm({2, 3, 7}, 0, int_attr("training_mode", 0)), 15, "batchnorm_to_mul_add",
                   "BatchNormalization");
    expect_rewrite(batchnorm({2, 3, 4, 5}, onnx::TensorProto::DOUBLE), 15, "batchnorm_to_mul_add",
                   "BatchNormalization");
    expect_rewrite(batchnorm({2, 3, 4, 5}, onnx::TensorProto::FLOAT16), 15, "batchnorm_to_mul_add",
                   "BatchNormalization", 4e-3, 4e-3);
}

TEST(ConvertRewriteNorm, BatchNormDeclines) {
    // Training mode normalizes with the batch's own statistics.
    expect_declines(batchnorm({2, 3, 4, 4}, 0, int_attr("training_mode", 1)), 15, "batchnorm_to_mul_add");
    // A running mean fed at run time.
    auto g = norm_graph("BatchNormalization", {2, 3, 4}, {"scale", "bias", "mean", "var"});
    add_param(&g, "scale", {3});
    add_param(&g, "bias", {3});
    add_param(&g, "var", {3}, 0, 0.5f, 1.0f);
    add_input(&g, "mean", onnx::TensorProto::FLOAT, {3});
    expect_declines(g, 15, "batchnorm_to_mul_add");
    // Unknown rank: the per-channel constants' shape depends on it.
    GraphBuilder b(15);
    ir::ValueType unranked = ir::ValueType::tensor(DType::kFloat32, std::vector<ir::Dim>{});
    unranked.has_shape = false;
    ir::Value* x = b.input("x", unranked);
    std::vector<ir::Value*> ins = {x};
    for (const char* p : {"s", "b", "m", "v"}) ins.push_back(b.constant(p, Tensor::from_vector<float>({3}, {1, 1, 1})));
    b.output(b.node("BatchNormalization", "target", ins));
    ir::Node* n = find_node_named(b.model(), "target");
    ASSERT_NE(n, nullptr);
    convert::RewriteContext ctx;
    auto r = convert::rewrite_batchnorm_to_mul_add(*b.model().graph, n, ctx);
    ASSERT_TRUE(r.is_ok());
    EXPECT_FALSE(*r);
    EXPECT_EQ(b.model().graph->nodes().size(), 1u);
}

// ---- LayerNormalization ------------------------------------------------------------------------------------------

onnx::GraphProto layernorm(const std::vector<int64_t>& shape, int64_t axis, bool bias, int elem = 0) {
    auto g = norm_graph("LayerNormalization", shape,
                        bias ? std::vector<std::string>{"scale", "bias"} : std::vector<std::string>{"scale"},
                        int_attr("axis", axis), elem);
    std::vector<int64_t> inner(shape.begin() + (axis < 0 ? static_cast<int64_t>(shape.size()) + axis : axis),
                               shape.end());
    add_param(&g, "scale", inner, elem);
    if (bias) add_param(&g, "bias", inner, elem);
    return g;
}

TEST(ConvertRewriteNorm, LayerNormDecompose) {
    // ReduceMean takes its axes as an attribute at opset 17 and as an input from 18.
    for (int opset : {17, 18}) {
        expect_rewrite(layernorm({2, 5, 8}, -1, true), opset, "layernorm_decompose", "LayerNormalization");
        expect_rewrite(layernorm({2, 5, 8}, 1, true), opset, "layernorm_decompose", "LayerNormalization");
        expect_rewrite(layernorm({2, 3, 4, 6}, -2, false), opset, "layernorm_decompose", "LayerNormalization");
    }
    expect_rewrite(layernorm({2, 5, 8}, -1, true, onnx::TensorProto::DOUBLE), 17, "layernorm_decompose",
                   "LayerNormalization");
    expect_rewrite(layernorm({2, 5, 8}, -1, true, onnx::TensorProto::FLOAT16), 17, "layernorm_decompose",
                   "LayerNormalization", 1e-2, 1e-2);
}

TEST(ConvertRewriteNorm, LayerNormDeclinesUsedStatistics) {
    auto g = layernorm({2, 5, 8}, -1, true);
    onnx::NodeProto* n = g.mutable_node(g.node_size() - 1);
    n->add_output("mean");
    add_output(&g, "mean");
    expect_declines(g, 17, "layernorm_decompose");
    // Unused statistics outputs do not matter.
    auto h = layernorm({2, 5, 8}, -1, true);
    h.mutable_node(h.node_size() - 1)->add_output("mean_unused");
    h.mutable_node(h.node_size() - 1)->add_output("inv_std_unused");
    expect_rewrite(h, 17, "layernorm_decompose", "LayerNormalization");
}

// ---- InstanceNormalization ---------------------------------------------------------------------------------------

onnx::GraphProto instancenorm(const std::vector<int64_t>& shape, int elem = 0) {
    auto g = norm_graph("InstanceNormalization", shape, {"scale", "bias"}, {}, elem);
    add_param(&g, "scale", {shape[1]}, elem);
    add_param(&g, "bias", {shape[1]}, elem);
    return g;
}

TEST(ConvertRewriteNorm, InstanceNormDecompose) {
    for (int opset : {6, 17, 18}) {
        expect_rewrite(instancenorm({2, 3, 4, 5}), opset, "instancenorm_decompose", "InstanceNormalization");
        expect_rewrite(instancenorm({2, 4, 9}), opset, "instancenorm_decompose", "InstanceNormalization");
    }
    expect_rewrite(instancenorm({2, 3, 4, 5}, onnx::TensorProto::DOUBLE), 17, "instancenorm_decompose",
                   "InstanceNormalization");
}

TEST(ConvertRewriteNorm, InstanceNormDeclinesVariableScale) {
    auto g = norm_graph("InstanceNormalization", {2, 3, 4, 4}, {"scale", "bias"});
    add_input(&g, "scale", onnx::TensorProto::FLOAT, {3});
    add_param(&g, "bias", {3});
    expect_declines(g, 17, "instancenorm_decompose");
}

// ---- Softmax / LogSoftmax ----------------------------------------------------------------------------------------

onnx::GraphProto softmax(const std::string& op, const std::vector<int64_t>& shape, std::optional<int64_t> axis,
                         int elem = 0) {
    return norm_graph(op, shape, {}, axis ? int_attr("axis", *axis) : NodeSetup{}, elem);
}

TEST(ConvertRewriteNorm, SoftmaxDecompose) {
    for (const char* op : {"Softmax", "LogSoftmax"}) {
        const std::string rw = std::string(op) == "Softmax" ? "softmax_decompose" : "logsoftmax_decompose";
        SCOPED_TRACE(op);
        // ReduceSum's axes move to an input at 13, ReduceMax's at 18.
        for (int opset : {13, 17, 18}) {
            expect_rewrite(softmax(op, {2, 3, 5}, std::nullopt), opset, rw, op);
            expect_rewrite(softmax(op, {2, 3, 5}, 1), opset, rw, op);
            expect_rewrite(softmax(op, {2, 3, 5}, -3), opset, rw, op);
        }
        // Before 13 the default axis is 1 and the input is coerced to 2-D there; the importer spells that as
        // Flatten -> op(axis 1) named "target_2d" -> Reshape (here always: it runs before types are inferred).
        expect_rewrite(softmax(op, {4, 6}, std::nullopt), 11, rw, op, 1e-5, 1e-6, "target_2d");
        expect_rewrite(softmax(op, {2, 3, 5}, 2), 11, rw, op, 1e-5, 1e-6, "target_2d");
        expect_rewrite(softmax(op, {2, 3, 5}, std::nullopt), 11, rw, op, 1e-5, 1e-6, "target_2d");
        expect_rewrite(softmax(op, {2, 3, 5}, -1, onnx::TensorProto::DOUBLE), 17, rw, op);
        expect_rewrite(softmax(op, {2, 3, 5}, -1, onnx::TensorProto::FLOAT16), 17, rw, op, 1e-2, 1e-2);
    }
}

/// Softmax-family node of opset `opset` (not adapted by the importer) on an input of rank `rank` (-1 unknown).
struct LegacyGraph {
    GraphBuilder b;
    ir::Node* n = nullptr;
    LegacyGraph(const std::string& op, int opset, int64_t rank, std::optional<int64_t> axis) : b(opset) {
        std::vector<ir::Dim> dims;
        for (int64_t i = 0; i < rank; ++i) dims.push_back(ir::Dim(3));
        ir::ValueType t = ir::ValueType::tensor(DType::kFloat32, dims);
        t.has_shape = rank >= 0;
        ir::Value* x = b.input("x", t);
        ir::Attributes a;
        if (axis) a["axis"] = ir::Attribute::make_int(*axis);
        b.output(b.node(op, "target", {x}, a));
        n = find_node_named(b.model(), "target");
    }
    /// The axes of the ReduceMax the rewrite built (empty if none).
    std::vector<int64_t> reduce_max_axes() {
        for (const auto& m : b.model().graph->nodes()) {
            if (m->op_type() == "ReduceMax") return m->input(1)->initializer().to_int_vector();
        }
        return {};
    }
};

TEST(ConvertRewriteNorm, SoftmaxBeforeOpset13NormalizesFromAxisToTheEnd) {
    for (const char* op : {"Softmax", "LogSoftmax"}) {
        const convert::RewriteImpl* impl =
            convert::find_rewrite_impl(std::string(op) == "Softmax" ? "softmax_decompose" : "logsoftmax_decompose");
        ASSERT_NE(impl, nullptr);
        {
            LegacyGraph l(op, 11, 4, std::nullopt);  // default axis 1: axes 1..3
            convert::RewriteContext ctx;
            auto r = convert::apply_rewrite(l.b.model(), *l.b.model().graph, l.n, *impl, ctx);
            ASSERT_TRUE(r.is_ok()) << r.status().message();
            EXPECT_TRUE(*r);
            EXPECT_EQ(l.reduce_max_axes(), (std::vector<int64_t>{1, 2, 3}));
        }
        {
            LegacyGraph l(op, 11, -1, -2);  // negative axis: no rank needed
            convert::RewriteContext ctx;
            auto r = convert::apply_rewrite(l.b.model(), *l.b.model().graph, l.n, *impl, ctx);
            ASSERT_TRUE(r.is_ok()) << r.status().message();
            EXPECT_TRUE(*r);
            EXPECT_EQ(l.reduce_max_axes(), (std::vector<int64_t>{-2, -1}));
        }
        {
            LegacyGraph l(op, 11, -1, std::nullopt);  // axis 1 of an unknown rank: declined
            convert::RewriteContext ctx;
            auto r = convert::apply_rewrite(l.b.model(), *l.b.model().graph, l.n, *impl, ctx);
            ASSERT_TRUE(r.is_ok()) << r.status().message();
            EXPECT_FALSE(*r);
            EXPECT_EQ(l.b.model().graph->nodes().size(), 1u);
        }
    }
}

/// Rewrites `node` of `m`, exports the result at the model's opset and checks that the exported model still gives
/// the original's outputs; returns the exported ModelProto.
onnx::ModelProto export_rewritten(const onnx::ModelProto& m, const std::string& rewrite, const std::string& node) {
    onnx::ModelProto out;
    auto model = load_ir(m);
    if (!model) return out;
    infer_types(*model);
    EXPECT_TRUE(apply_named_rewrite(*model, rewrite, node)) << rewrite;
    auto bytes = onnx_export::serialize_model(*model);
    EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
    if (!bytes.is_ok() || !out.ParseFromString(*bytes)) return out;
    EXPECT_EQ(out.opset_import(0).version(), m.opset_import(0).version());
    const auto feeds = random_feeds(m, 5);
    expect_outputs_close(run_ir(load_ir(out), feeds), run_ir(load_ir(m), feeds), 1e-5, 1e-6);
    return out;
}

/// Expects every `op` node of `m` to carry its axes as the attribute (true) or as input 1 (false).
void expect_axes_form(const onnx::ModelProto& m, const std::string& op, bool as_attribute) {
    int seen = 0;
    for (const auto& n : m.graph().node()) {
        if (n.op_type() != op) continue;
        ++seen;
        bool attr = false;
        for (const auto& a : n.attribute()) attr = attr || a.name() == "axes";
        EXPECT_EQ(attr, as_attribute) << op;
        EXPECT_EQ(n.input_size(), as_attribute ? 1 : 2) << op;
    }
    EXPECT_GT(seen, 0) << op;
}

TEST(ConvertRewriteNorm, ExportedReduceAxesFollowTheModelsOpset) {
    // ReduceSum takes axes as an input from opset 13, ReduceMax and ReduceMean from 18.
    auto s11 =
        export_rewritten(make_model(softmax("Softmax", {2, 3, 5}, std::nullopt), 11), "softmax_decompose", "target_2d");
    expect_axes_form(s11, "ReduceMax", true);
    expect_axes_form(s11, "ReduceSum", true);
    auto s13 = export_rewritten(make_model(softmax("LogSoftmax", {2, 3, 5}, 1), 13), "logsoftmax_decompose", "target");
    expect_axes_form(s13, "ReduceMax", true);
    expect_axes_form(s13, "ReduceSum", false);
    auto s18 = export_rewritten(make_model(softmax("Softmax", {2, 3, 5}, 1), 18), "softmax_decompose", "target");
    expect_axes_form(s18, "ReduceMax", false);
    expect_axes_form(s18, "ReduceSum", false);
    auto l17 = export_rewritten(make_model(layernorm({2, 5, 8}, 1, true), 17), "layernorm_decompose", "target");
    expect_axes_form(l17, "ReduceMean", true);
    auto l18 = export_rewritten(make_model(layernorm({2, 5, 8}, 1, true), 18), "layernorm_decompose", "target");
    expect_axes_form(l18, "ReduceMean", false);
}

TEST(ConvertRewriteNorm, EveryRewriteDeclinesAnotherOp) {
    auto g = softmax("Hardmax", {2, 3, 5}, std::nullopt);
    for (const char* rw : {"batchnorm_to_mul_add", "layernorm_decompose", "instancenorm_decompose", "softmax_decompose",
                           "logsoftmax_decompose"}) {
        ASSERT_NE(convert::find_rewrite_impl(rw), nullptr) << rw;
        expect_declines(g, 17, rw);
    }
}

}  // namespace
}  // namespace nnport::testing

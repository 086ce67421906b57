// fuse_activation: Conv/Gemm/MatMul + bias + residual + activation -> FusedConv/FusedGemm/FusedMatMul; near misses.
#include "onnx/exporter.hpp"
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

onnx::GraphProto conv(bool bias = true) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 6, 6});
    add_init_f32(&g, "w", {4, 3, 3, 3});
    std::vector<std::string> ins = {"x", "w"};
    if (bias) {
        add_init_f32(&g, "b", {4});
        ins.push_back("b");
    }
    attr_ints(add_node(&g, "Conv", ins, {"c"}), "pads", {1, 1, 1, 1});
    return g;
}

onnx::GraphProto gemm() {
    onnx::GraphProto g;
    add_input(&g, "a", onnx::TensorProto::FLOAT, {3, 4});
    add_init_f32(&g, "w", {5, 4});
    add_init_f32(&g, "c", {5});
    attr_int(add_node(&g, "Gemm", {"a", "w", "c"}, {"gm"}), "transB", 1);
    return g;
}

const ir::Node* fused(const ir::Model& m, const std::string& op, const std::string& act) {
    const ir::Node* n = find_node(m, op);
    EXPECT_NE(n, nullptr) << op;
    if (!n) return nullptr;
    EXPECT_EQ(n->domain(), "com.nnport");
    EXPECT_EQ(n->attr("activation")->s, act);
    EXPECT_EQ(m.graph->nodes().size(), 1u);
    return n;
}

TEST(FuseActivation, ConvRelu) {
    onnx::GraphProto g = conv();
    add_node(&g, "Relu", {"c"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "fuse_activation");
    fused(*m, "FusedConv", "Relu");
}

TEST(FuseActivation, ResNetBlockConvAddReluAndResidualWithoutBias) {
    for (bool bias : {true, false}) {
        onnx::GraphProto g = conv(bias);
        add_input(&g, "skip", onnx::TensorProto::FLOAT, {1, 4, 6, 6});
        add_node(&g, "Add", {"skip", "c"}, {"s"});
        add_node(&g, "Relu", {"s"}, {"y"});
        add_output(&g, "y");
        auto m = check_pass(make_model(g), "fuse_activation");
        const ir::Node* n = fused(*m, "FusedConv", "Relu");
        ASSERT_EQ(n->inputs().size(), 4u);
        EXPECT_EQ(n->input(2) != nullptr, bias);
        EXPECT_EQ(n->input(3)->name(), "skip");
    }
    onnx::GraphProto g = conv();
    add_input(&g, "skip", onnx::TensorProto::FLOAT, {1, 4, 6, 6});
    add_node(&g, "Add", {"c", "skip"}, {"y"});
    add_output(&g, "y");
    fused(*check_pass(make_model(g), "fuse_activation"), "FusedConv", "Identity");
}

TEST(FuseActivation, GemmWithEveryActivation) {
    struct Case {
        const char* op;
        const char* act;
        int opset;
    };
    for (const Case& c : {Case{"Sigmoid", "Sigmoid", 17}, Case{"Tanh", "Tanh", 17}, Case{"HardSwish", "HardSwish", 17},
                          Case{"LeakyRelu", "LeakyRelu", 17}, Case{"HardSigmoid", "HardSigmoid", 17},
                          Case{"Gelu", "Gelu", 20}, Case{"Clip", "Clip", 17}}) {
        onnx::GraphProto g = gemm();
        std::vector<std::string> ins = {"gm"};
        if (std::string(c.op) == "Clip") {
            add_scalar_f32(&g, "lo", 0.0f);
            add_scalar_f32(&g, "hi", 0.3f);
            ins = {"gm", "lo", "hi"};
        }
        auto* n = add_node(&g, c.op, ins, {"y"});
        if (std::string(c.op) == "LeakyRelu") attr_float(n, "alpha", 0.2f);
        if (std::string(c.op) == "HardSigmoid") attr_float(n, "alpha", 0.3f);
        add_output(&g, "y");
        auto m = check_pass(make_model(g, c.opset), "fuse_activation");
        const ir::Node* f = fused(*m, "FusedGemm", c.act);
        if (std::string(c.op) == "Clip") {
            EXPECT_EQ(f->attr("activation_params")->floats, (std::vector<float>{0.0f, 0.3f}));
        }
        EXPECT_EQ(f->attr("transB")->i, 1);
    }
}

TEST(FuseActivation, SiLUAsMulOfSigmoid) {
    onnx::GraphProto g = conv();
    add_node(&g, "Sigmoid", {"c"}, {"sg"});
    add_node(&g, "Mul", {"sg", "c"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "fuse_activation");
    const ir::Node* n = fused(*m, "FusedConv", "Swish");
    EXPECT_EQ(n->attr("activation_params")->floats, (std::vector<float>{1.0f}));
}

TEST(FuseActivation, MatMulBiasAndGelu) {
    for (bool gelu : {true, false}) {
        onnx::GraphProto g;
        add_input(&g, "a", onnx::TensorProto::FLOAT, {2, 3, 4});
        add_init_f32(&g, "w", {4, 6});
        add_node(&g, "MatMul", {"a", "w"}, {"m"});
        add_init_f32(&g, "bias", {1, 1, 6});
        add_node(&g, "Add", {"bias", "m"}, {gelu ? "h" : "y"});
        if (gelu) add_node(&g, "Gelu", {"h"}, {"y"});
        add_output(&g, "y");
        auto m = check_pass(make_model(g, 20), "fuse_activation");
        const ir::Node* n = fused(*m, "FusedMatMul", gelu ? "Gelu" : "Identity");
        ASSERT_EQ(n->inputs().size(), 3u);
        EXPECT_EQ(n->input(2)->type.dims.size(), 1u);
    }
}

TEST(FuseActivation, ActivationBehindAViewMovesTheViewAfterTheFusedNode) {
    onnx::GraphProto g = gemm();
    add_init_i64(&g, "axes", {2}, {2, 3});
    add_node(&g, "Unsqueeze", {"gm", "axes"}, {"u"});
    add_node(&g, "Sigmoid", {"u"}, {"y"});
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "fuse_activation");
    ASSERT_EQ(m->graph->nodes().size(), 2u);
    const ir::Node* f = find_node(*m, "FusedGemm");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->attr("activation")->s, "Sigmoid");
    const ir::Node* u = find_node(*m, "Unsqueeze");
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(u->input(0), f->output(0));
    EXPECT_EQ(u->output(0)->name(), "y");
}

TEST(FuseActivation, DoesNotFuseSharedOutputsBroadcastResidualVariableClipOrWithoutCustomOps) {
    onnx::GraphProto g = conv();
    add_node(&g, "Relu", {"c"}, {"y"});
    add_output(&g, "y");
    add_output(&g, "c");
    check_pass(make_model(g), "fuse_activation", false);

    onnx::GraphProto h = conv();
    add_input(&h, "skip", onnx::TensorProto::FLOAT, {1, 4, 1, 1});  // broadcasts: not a residual of the same shape
    add_node(&h, "Add", {"c", "skip"}, {"y"});
    add_output(&h, "y");
    check_pass(make_model(h), "fuse_activation", false);

    onnx::GraphProto k = conv();
    add_input(&k, "lo", onnx::TensorProto::FLOAT, {});
    add_node(&k, "Clip", {"c", "lo"}, {"y"});
    add_output(&k, "y");
    check_pass(make_model(k), "fuse_activation", false);

    onnx::GraphProto r = conv();
    add_node(&r, "Relu", {"c"}, {"y"});
    add_output(&r, "y");
    EXPECT_FALSE(changes_without_custom_ops(make_model(r), "fuse_activation"));
}

TEST(FuseActivation, OptimizeExportImportRoundTrip) {
    onnx::GraphProto g = conv();
    add_input(&g, "skip", onnx::TensorProto::FLOAT, {1, 4, 6, 6});
    add_node(&g, "Add", {"c", "skip"}, {"s"});
    add_node(&g, "Relu", {"s"}, {"y"});
    add_output(&g, "y");
    const onnx::ModelProto orig = make_model(g, 17);
    auto model = load_ir(orig);
    ASSERT_NE(model, nullptr);
    ASSERT_TRUE(passes::optimize(*model).is_ok());
    ASSERT_EQ(count_op(*model, "FusedConv"), 1);
    auto bytes = onnx_export::serialize_model(*model);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
    onnx::ModelProto back;
    ASSERT_TRUE(back.ParseFromString(*bytes));
    bool has_domain = false, has_node = false;
    for (const auto& o : back.opset_import())
        has_domain = has_domain || (o.domain() == "com.nnport" && o.version() == 1);
    for (const auto& n : back.graph().node())
        has_node = has_node || (n.op_type() == "FusedConv" && n.domain() == "com.nnport");
    EXPECT_TRUE(has_domain);
    EXPECT_TRUE(has_node);
    const auto feeds = random_feeds(orig, 5);
    expect_outputs_close(run_ir(load_ir(back), feeds), run_ir(load_ir(orig), feeds), 1e-4, 1e-5);
}

}  // namespace
}  // namespace nnport::testing

// Float16 conversion (weights and activations in float16, Casts at the edges, sensitive and overflowing ops kept in
// float32) and dynamic int8 (int8 per-channel weights, float activations).
#include "quant/quant_test_util.hpp"

namespace nnport::testing::quant_test {
namespace {

using basic::const_input;

/// conv_model() with a Softmax 'soft' after the Gemm; output 'prob'.
onnx::ModelProto conv_softmax_model() {
    onnx::ModelProto m = conv_model();
    auto* g = m.mutable_graph();
    g->mutable_output(0)->set_name("prob");
    add_node(g, "Softmax", {"y"}, {"prob"})->set_name("soft");
    return m;
}

quant::QuantizeOptions fp16_options() {
    quant::QuantizeOptions o;
    o.mode = quant::QuantMode::kFp16;
    o.calibration_data = range_samples(2, -1.0f, 1.0f);
    o.backends = "ref";
    o.threads = 1;
    return o;
}

std::vector<Tensor> run_on(const ir::Model& m, const quant::Feeds& f) {
    auto copy = quant::clone_model(m);
    EXPECT_TRUE(copy.is_ok()) << copy.status().message();
    return copy.is_ok() ? run_ir(std::move(copy).value(), f) : std::vector<Tensor>{};
}

TEST(QuantizeFp16, WeightsAndActivationsHalfSensitiveOpsFloat) {
    quant::QuantizeReport rep;
    auto m = quantized(conv_softmax_model(), fp16_options(), &rep);
    ASSERT_NE(m, nullptr);
    // Inputs and outputs keep float32.
    EXPECT_EQ(m->graph->inputs()[0]->type.dtype, DType::kFloat32);
    ASSERT_EQ(m->graph->outputs().size(), 1u);
    EXPECT_EQ(m->graph->outputs()[0]->name(), "prob");
    EXPECT_EQ(m->graph->outputs()[0]->type.dtype, DType::kFloat32);
    const ir::Node* conv = node_named(*m, "conv");
    const ir::Node* cast_in = producer_of(conv, 0);
    ASSERT_TRUE(cast_in && cast_in->op_type() == "Cast");
    EXPECT_EQ(cast_in->attr("to")->i, static_cast<int64_t>(DType::kFloat16));
    // Weights are stored in float16 under their own names.
    ASSERT_NE(const_input(conv, 1), nullptr);
    EXPECT_EQ(conv->input(1)->name(), "w");
    EXPECT_EQ(const_input(conv, 1)->dtype(), DType::kFloat16);
    EXPECT_EQ(const_input(node_named(*m, "fc"), 1)->dtype(), DType::kFloat16);
    EXPECT_EQ(conv->output(0)->type.dtype, DType::kFloat16);
    // Softmax stays float32 behind a Cast and is reported.
    const ir::Node* soft = node_named(*m, "soft");
    const ir::Node* cast_up = producer_of(soft, 0);
    ASSERT_TRUE(cast_up && cast_up->op_type() == "Cast");
    EXPECT_EQ(cast_up->attr("to")->i, static_cast<int64_t>(DType::kFloat32));
    ASSERT_EQ(rep.kept_float.size(), 1u);
    EXPECT_EQ(rep.kept_float[0].name, "soft");
    EXPECT_NE(rep.kept_float[0].reason.find("sensitive"), std::string::npos);
    EXPECT_EQ(rep.quantized_nodes.size(), 5u);
    // Half the bytes.
    EXPECT_EQ(rep.weight_bytes_after * 2, rep.weight_bytes_before);
    EXPECT_TRUE(ir::verify(*m->graph).is_ok());
}

TEST(QuantizeFp16, OutputsCloseToFloat) {
    quant::QuantizeOptions o = fp16_options();
    quant::QuantizeReport rep;
    auto m = quantized(conv_softmax_model(), o, &rep);
    ASSERT_NE(m, nullptr);
    for (const quant::Feeds& f : o.calibration_data) {
        auto want = run_ir(load_ir(conv_softmax_model()), f);
        auto got = run_on(*m, f);
        expect_outputs_close(got, want, 1e-2, 1e-3);
        EXPECT_GT(sqnr_db(got, want), 45.0);
    }
    EXPECT_GT(rep.sqnr_db, 45.0);
    EXPECT_GT(rep.cosine, 0.99999);
}

TEST(QuantizeFp16, ConvertAllTurnsSensitiveOpsHalf) {
    quant::QuantizeOptions o = fp16_options();
    o.fp16_keep_sensitive = false;
    quant::QuantizeReport rep;
    auto m = quantized(conv_softmax_model(), o, &rep);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(rep.kept_float.empty());
    EXPECT_EQ(node_named(*m, "soft")->output(0)->type.dtype, DType::kFloat16);
    // The graph output is a Cast back to float32 that kept the output's name.
    const ir::Value* out = m->graph->outputs()[0];
    EXPECT_EQ(out->name(), "prob");
    ASSERT_TRUE(out->producer() && out->producer()->op_type() == "Cast");
    EXPECT_EQ(out->type.dtype, DType::kFloat32);
    auto want = run_ir(load_ir(conv_softmax_model()), o.calibration_data[0]);
    expect_outputs_close(run_on(*m, o.calibration_data[0]), want, 2e-2, 2e-3);
}

TEST(QuantizeFp16, OverflowingOpStaysFloat32) {
    // x -> MatMul 'mm' -> Mul 'up' (x 1e5: beyond float16's range) -> Mul 'down' (x 1e-4) -> y.
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 4});
    add_init_f32(&g, "w", {4, 4}, {}, -0.5f, 0.5f);
    add_init_f32(&g, "k_up", {}, {100000.0f});
    add_init_f32(&g, "k_down", {}, {1e-4f});
    add_node(&g, "MatMul", {"x", "w"}, {"a"})->set_name("mm");
    add_node(&g, "Mul", {"a", "k_up"}, {"b"})->set_name("up");
    add_node(&g, "Mul", {"b", "k_down"}, {"y"})->set_name("down");
    add_output(&g, "y");
    quant::QuantizeOptions o;
    o.mode = quant::QuantMode::kFp16;
    o.backends = "ref";
    Tensor x = std::move(Tensor::create(DType::kFloat32, {2, 4})).value();
    for (int i = 0; i < 8; ++i) x.data<float>()[i] = i % 2 ? 1.0f : -1.0f;
    o.calibration_data = {{{"x", x}}};
    quant::QuantizeReport rep;
    auto m = quantized(make_model(g), o, &rep);
    ASSERT_NE(m, nullptr);
    // 'up' overflows at its output, 'down' at its input; the MatMul stays float16.
    ASSERT_EQ(rep.kept_float.size(), 2u);
    EXPECT_EQ(rep.kept_float[0].name, "up");
    EXPECT_NE(rep.kept_float[0].reason.find("overflow risk: output 'b'"), std::string::npos)
        << rep.kept_float[0].reason;
    EXPECT_EQ(rep.kept_float[1].name, "down");
    EXPECT_NE(rep.kept_float[1].reason.find("overflow risk: input 'b'"), std::string::npos);
    EXPECT_EQ(node_named(*m, "up")->output(0)->type.dtype, DType::kFloat32);
    EXPECT_EQ(node_named(*m, "down")->output(0)->type.dtype, DType::kFloat32);
    EXPECT_EQ(node_named(*m, "mm")->output(0)->type.dtype, DType::kFloat16);
    auto want = run_ir(load_ir(make_model(g)), o.calibration_data[0]);
    expect_outputs_close(run_on(*m, o.calibration_data[0]), want, 1e-2, 1e-3);
    // With the threshold above every value only the constant beyond float16's range keeps 'up' in float32.
    o.fp16_overflow_threshold = 1e9;
    quant::QuantizeReport all;
    auto m2 = quantized(make_model(g), o, &all);
    ASSERT_NE(m2, nullptr);
    ASSERT_EQ(all.kept_float.size(), 1u);
    EXPECT_EQ(all.kept_float[0].name, "up");
    EXPECT_NE(all.kept_float[0].reason.find("'k_up' exceeds the float16 range"), std::string::npos);
    EXPECT_EQ(node_named(*m2, "down")->output(0)->type.dtype, DType::kFloat16);
}

TEST(QuantizeFp16, ExcludedNodeStaysFloat32) {
    quant::QuantizeOptions o = fp16_options();
    o.exclude = {"fc"};
    quant::QuantizeReport rep;
    auto m = quantized(conv_softmax_model(), o, &rep);
    ASSERT_NE(m, nullptr);
    const ir::Node* fc = node_named(*m, "fc");
    EXPECT_EQ(fc->output(0)->type.dtype, DType::kFloat32);
    EXPECT_EQ(const_input(fc, 1)->dtype(), DType::kFloat32);
    bool found = false;
    for (const auto& k : rep.kept_float) found |= k.name == "fc" && k.reason == "excluded";
    EXPECT_TRUE(found);
}

TEST(QuantizeDynamic, Int8WeightsFloatActivations) {
    quant::QuantizeOptions o;
    o.mode = quant::QuantMode::kInt8Dynamic;
    o.calibration_data = range_samples(2, -1.0f, 1.0f);
    o.backends = "ref";
    quant::QuantizeReport rep;
    auto m = quantized(conv_model(), o, &rep);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "QuantizeLinear"), 0);
    EXPECT_EQ(count_op(*m, "DequantizeLinear"), 2);
    const ir::Node* conv = node_named(*m, "conv");
    EXPECT_EQ(conv->input(0)->name(), "x");
    const ir::Node* wdq = producer_of(conv, 1);
    ASSERT_TRUE(wdq && wdq->op_type() == "DequantizeLinear");
    EXPECT_EQ(wdq->attr("axis")->i, 0);
    EXPECT_EQ(const_input(wdq, 0)->dtype(), DType::kInt8);
    EXPECT_EQ(const_input(wdq, 1)->shape(), (Shape{4}));
    EXPECT_EQ(conv->input(2)->name(), "b") << "bias stays float without a quantized input";
    EXPECT_EQ(rep.quantized_nodes, (std::vector<std::string>{"conv", "fc"}));
    auto want = run_ir(load_ir(conv_model()), o.calibration_data[0]);
    auto copy = quant::clone_model(*m);
    ASSERT_TRUE(copy.is_ok());
    EXPECT_GT(sqnr_db(run_ir(std::move(copy).value(), o.calibration_data[0]), want), 35.0);
    EXPECT_LT(rep.weight_bytes_after * 3, rep.weight_bytes_before);
}

}  // namespace
}  // namespace nnport::testing::quant_test

// Static int8 quantization: QDQ structure, scales and zero points for known data, per-channel weights, int32 bias,
// propagation through Relu/MaxPool/Flatten, exclusion, accuracy, sensitivity and the accuracy budget, errors.
#include <set>

#include "quant/quant_test_util.hpp"

namespace nnport::testing::quant_test {
namespace {

using basic::const_input;

quant::QuantizeOptions static_options(DType act = DType::kUInt8) {
    quant::QuantizeOptions o;
    o.mode = quant::QuantMode::kInt8Static;
    o.activation_type = act;
    o.calibration_data = range_samples(4, -1.0f, 3.0f);
    o.backends = "ref";
    o.threads = 1;
    return o;
}

/// The QuantizeLinear feeding node `n` input `i` through a DequantizeLinear (nullptr if none).
const ir::Node* quantize_before(const ir::Node* n, size_t i) {
    const ir::Node* dq = producer_of(n, i);
    if (!dq || dq->op_type() != "DequantizeLinear") return nullptr;
    const ir::Node* q = producer_of(dq, 0);
    return q && q->op_type() == "QuantizeLinear" ? q : nullptr;
}

TEST(QuantizeStatic, QdqStructureAroundConvReluPoolGemm) {
    quant::QuantizeReport rep;
    auto m = quantized(conv_model(), static_options(), &rep);
    ASSERT_NE(m, nullptr);
    const ir::Node* conv = node_named(*m, "conv");
    const ir::Node* relu = node_named(*m, "relu");
    const ir::Node* pool = node_named(*m, "pool");
    const ir::Node* flat = node_named(*m, "flat");
    const ir::Node* fc = node_named(*m, "fc");
    ASSERT_TRUE(conv && relu && pool && flat && fc);
    // Activations: x before the Conv, after Relu (not between Conv and Relu), after MaxPool and Flatten.
    const ir::Node* qx = quantize_before(conv, 0);
    ASSERT_NE(qx, nullptr);
    EXPECT_EQ(qx->input(0)->name(), "x");
    EXPECT_EQ(relu->input(0), conv->output(0)) << "Conv -> Relu stays float (fused pattern)";
    const ir::Node* qr = quantize_before(pool, 0);
    const ir::Node* qp = quantize_before(flat, 0);
    const ir::Node* qf = quantize_before(fc, 0);
    ASSERT_TRUE(qr && qp && qf);
    EXPECT_EQ(qr->input(0), relu->output(0));
    EXPECT_EQ(count_op(*m, "QuantizeLinear"), 4);
    // Data-movement ops keep their input's scale and zero point.
    EXPECT_EQ(scalar_input(qp, 1), scalar_input(qr, 1));
    EXPECT_EQ(scalar_input(qf, 1), scalar_input(qr, 1));
    EXPECT_EQ(const_input(qp, 2)->data<uint8_t>()[0], const_input(qr, 2)->data<uint8_t>()[0]);
    EXPECT_EQ(const_input(qr, 2)->data<uint8_t>()[0], 0) << "Relu output is non-negative: zero point 0";
    // The graph output keeps its name and float type.
    ASSERT_EQ(m->graph->outputs().size(), 1u);
    EXPECT_EQ(m->graph->outputs()[0]->name(), "y");
    EXPECT_EQ(m->graph->outputs()[0]->type.dtype, DType::kFloat32);
    EXPECT_EQ(rep.quantized_nodes, (std::vector<std::string>{"conv", "fc"}));
    EXPECT_TRUE(ir::verify(*m->graph).is_ok());
}

TEST(QuantizeStatic, QdqPairsShareScaleAndZeroPointInitializers) {
    // Each pair's Q and DQ read the same scale and zero point, and one zero-point initializer serves every pair with
    // that value (Relu, MaxPool and Flatten outputs all have 0): per-tensor copies of either made mobilenet_v2's file
    // miss its size target.
    auto m = quantized(conv_model(), static_options());
    ASSERT_NE(m, nullptr);
    std::set<const ir::Value*> zero_points;
    for (const auto& n : m->graph->nodes()) {
        if (n->op_type() != "QuantizeLinear") continue;
        ASSERT_EQ(n->output(0)->uses().size(), 1u);
        const ir::Node* dq = n->output(0)->uses()[0].node;
        ASSERT_EQ(dq->op_type(), "DequantizeLinear");
        EXPECT_EQ(dq->input(1), n->input(1));
        EXPECT_EQ(dq->input(2), n->input(2));
        zero_points.insert(n->input(2));
    }
    EXPECT_EQ(count_op(*m, "QuantizeLinear"), 4);
    EXPECT_EQ(zero_points.size(), 2u) << "x (zero point 64) and the non-negative rest (0)";
}

TEST(QuantizeStatic, ActivationScaleAndZeroPointFromKnownRange) {
    auto m = quantized(conv_model(), static_options(DType::kUInt8));
    ASSERT_NE(m, nullptr);
    const ir::Node* qx = quantize_before(node_named(*m, "conv"), 0);
    ASSERT_NE(qx, nullptr);
    EXPECT_FLOAT_EQ(scalar_input(qx, 1), 4.0f / 255.0f);  // [-1, 3]
    ASSERT_EQ(const_input(qx, 2)->dtype(), DType::kUInt8);
    EXPECT_EQ(const_input(qx, 2)->data<uint8_t>()[0], 64);  // rint(1 / (4 / 255)) = rint(63.75)

    auto s = quantized(conv_model(), static_options(DType::kInt8));
    ASSERT_NE(s, nullptr);
    const ir::Node* sx = quantize_before(node_named(*s, "conv"), 0);
    ASSERT_NE(sx, nullptr);
    EXPECT_FLOAT_EQ(scalar_input(sx, 1), 3.0f / 127.0f);  // symmetric over max(|-1|, |3|)
    ASSERT_EQ(const_input(sx, 2)->dtype(), DType::kInt8);
    EXPECT_EQ(const_input(sx, 2)->data<int8_t>()[0], 0);
}

TEST(QuantizeStatic, PerChannelWeightsAndInt32Bias) {
    auto m = quantized(conv_model(), static_options());
    ASSERT_NE(m, nullptr);
    const ir::Node* conv = node_named(*m, "conv");
    const ir::Node* wdq = producer_of(conv, 1);
    ASSERT_TRUE(wdq && wdq->op_type() == "DequantizeLinear");
    EXPECT_EQ(wdq->attr("axis")->i, 0);
    EXPECT_EQ(wdq->inputs().size(), 2u) << "symmetric weights: the optional zero point (0) is omitted";
    const Tensor* wq = const_input(wdq, 0);
    const Tensor* ws = const_input(wdq, 1);
    ASSERT_TRUE(wq && ws);
    EXPECT_EQ(wq->dtype(), DType::kInt8);
    EXPECT_EQ(wq->shape(), (Shape{4, 3, 3, 3}));
    ASSERT_EQ(ws->shape(), (Shape{4}));
    for (int c = 0; c < 4; ++c) {
        EXPECT_FLOAT_EQ(ws->data<float>()[c], (c + 1) * 0.1f / 127.0f) << c;
        EXPECT_EQ(wq->data<int8_t>()[c * 27 + 5], 127) << "the channel's largest weight maps to 127";
    }
    // Bias: int32 with scale input_scale * weight_scale[c].
    const ir::Node* bdq = producer_of(conv, 2);
    ASSERT_TRUE(bdq && bdq->op_type() == "DequantizeLinear");
    const Tensor* bq = const_input(bdq, 0);
    const Tensor* bs = const_input(bdq, 1);
    ASSERT_TRUE(bq && bs);
    EXPECT_EQ(bq->dtype(), DType::kInt32);
    const float sx = 4.0f / 255.0f;
    const float bias[4] = {0.1f, -0.2f, 0.05f, 0.3f};
    for (int c = 0; c < 4; ++c) {
        EXPECT_FLOAT_EQ(bs->data<float>()[c], sx * ws->data<float>()[c]);
        EXPECT_EQ(bq->data<int32_t>()[c], static_cast<int32_t>(std::nearbyint(bias[c] / bs->data<float>()[c])));
    }
    // Gemm with transB: weights [10, 64] per output channel along axis 0.
    const ir::Node* fdq = producer_of(node_named(*m, "fc"), 1);
    ASSERT_TRUE(fdq && fdq->op_type() == "DequantizeLinear");
    EXPECT_EQ(fdq->attr("axis")->i, 0);
    EXPECT_EQ(const_input(fdq, 1)->shape(), (Shape{10}));
    EXPECT_EQ(const_input(producer_of(node_named(*m, "fc"), 2), 0)->dtype(), DType::kInt32);
    // The float weights are gone: int8 weights are a quarter of the size.
    EXPECT_EQ(m->graph->find_value("w"), nullptr);
}

TEST(QuantizeStatic, OutputsCloseToFloatAndReportMatchesRun) {
    for (DType act : {DType::kUInt8, DType::kInt8}) {
        quant::QuantizeReport rep;
        quant::QuantizeOptions o = static_options(act);
        auto m = quantized(conv_model(), o, &rep);
        ASSERT_NE(m, nullptr);
        std::vector<Tensor> want, got;
        for (const quant::Feeds& f : o.calibration_data) {
            auto w = run_ir(load_ir(conv_model()), f);
            auto copy = quant::clone_model(*m);
            ASSERT_TRUE(copy.is_ok());
            auto q = run_ir(std::move(copy).value(), f);
            ASSERT_EQ(w.size(), 1u);
            ASSERT_EQ(q.size(), 1u);
            want.push_back(w[0]);
            got.push_back(q[0]);
        }
        const double measured = sqnr_db(got, want);
        EXPECT_GT(measured, 25.0) << dtype_name(act);
        ASSERT_TRUE(rep.evaluated);
        EXPECT_NEAR(rep.sqnr_db, measured, 0.01);
        EXPECT_GT(rep.cosine, 0.99);
        EXPECT_LT(rep.relative_rms, 0.06);
        EXPECT_LT(rep.weight_bytes_after * 3, rep.weight_bytes_before);
    }
}

TEST(QuantizeStatic, ExcludedNodeStaysFloat) {
    quant::QuantizeOptions o = static_options();
    o.exclude = {"fc"};
    quant::QuantizeReport rep;
    auto m = quantized(conv_model(), o, &rep);
    ASSERT_NE(m, nullptr);
    const ir::Node* fc = node_named(*m, "fc");
    EXPECT_EQ(fc->input(1)->name(), "fw");
    EXPECT_EQ(fc->input(2)->name(), "fb");
    EXPECT_EQ(quantize_before(fc, 0), nullptr);
    ASSERT_EQ(rep.kept_float.size(), 1u);
    EXPECT_EQ(rep.kept_float[0].name, "fc");
    EXPECT_EQ(rep.kept_float[0].reason, "excluded");
    EXPECT_NE(quantize_before(node_named(*m, "conv"), 0), nullptr);
}

TEST(QuantizeStatic, SyntheticDataWhenNoneGiven) {
    quant::QuantizeOptions o = static_options();
    o.calibration_data.clear();
    o.synthetic_samples = 3;
    quant::QuantizeReport rep;
    auto m = quantized(conv_model(), o, &rep);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(rep.synthetic_data);
    EXPECT_EQ(rep.calibration_samples, 3);
    const ir::Node* qx = quantize_before(node_named(*m, "conv"), 0);
    ASSERT_NE(qx, nullptr);
    // Synthetic inputs are uniform in [-1, 1): the scale is close to 2 / 255.
    EXPECT_NEAR(scalar_input(qx, 1), 2.0f / 255.0f, 0.05f / 255.0f);
}

TEST(QuantizeStatic, SensitivityRanksLayersAndBudgetKeepsTheWorstInFloat) {
    quant::QuantizeOptions o = static_options();
    o.sensitivity = true;
    quant::QuantizeReport full;
    ASSERT_NE(quantized(conv_model(), o, &full), nullptr);
    ASSERT_EQ(full.sensitivity.size(), 2u);
    EXPECT_LE(full.sensitivity[0].sqnr_db, full.sensitivity[1].sqnr_db);
    EXPECT_GT(full.sensitivity[1].sqnr_db, full.sqnr_db) << "one layer alone loses less than all of them";
    // A budget just below the fully quantized error keeps the most sensitive layer in float.
    o.sensitivity = false;
    o.max_error = full.relative_rms * 0.999;
    quant::QuantizeReport budget;
    auto m = quantized(conv_model(), o, &budget);
    ASSERT_NE(m, nullptr);
    ASSERT_FALSE(budget.kept_float.empty());
    EXPECT_EQ(budget.kept_float[0].name, budget.sensitivity[0].name);
    EXPECT_NE(budget.kept_float[0].reason.find("accuracy budget"), std::string::npos);
    EXPECT_LE(budget.relative_rms, o.max_error);
    // A generous budget keeps everything quantized.
    o.max_error = 0.5;
    quant::QuantizeReport loose;
    ASSERT_NE(quantized(conv_model(), o, &loose), nullptr);
    EXPECT_TRUE(loose.kept_float.empty());
    EXPECT_EQ(loose.quantized_nodes.size(), 2u);
}

TEST(QuantizeStatic, RejectsBadOptions) {
    auto model = load_ir(conv_model());
    quant::QuantizeOptions o = static_options();
    o.exclude = {"no_such_node"};
    Status st = quant::quantize_model(*model, o, nullptr);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("no_such_node"), std::string::npos);
    o = static_options(DType::kInt16);
    st = quant::quantize_model(*model, o, nullptr);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("uint8 or int8"), std::string::npos);
    o = static_options();
    o.max_error = 1e-12;  // unreachable: activations around Relu/MaxPool stay quantized
    st = quant::quantize_model(*model, o, nullptr);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("cannot be met"), std::string::npos);
    EXPECT_FALSE(quant::parse_mode("int4").is_ok());
    EXPECT_FALSE(quant::parse_calibration("median").is_ok());
}

TEST(QuantizeStatic, ConvWithRuntimeWeightsIsDeclined) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 2, 4, 4});
    add_input(&g, "w", F, {2, 2, 1, 1});
    add_node(&g, "Conv", {"x", "w"}, {"y"})->set_name("dyn");
    add_output(&g, "y");
    quant::QuantizeOptions o;
    o.backends = "ref";
    quant::QuantizeReport rep;
    auto m = quantized(make_model(g), o, &rep);
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(rep.kept_float.size(), 1u);
    EXPECT_EQ(rep.kept_float[0].name, "dyn");
    EXPECT_NE(rep.kept_float[0].reason.find("not a float32 constant"), std::string::npos);
    EXPECT_EQ(count_op(*m, "QuantizeLinear"), 0);
}

TEST(QuantizeStatic, MatMulOfTwoActivationsQuantizesBothInputs) {
    onnx::GraphProto g;
    add_input(&g, "a", F, {2, 3});
    add_input(&g, "b", F, {3, 4});
    add_node(&g, "MatMul", {"a", "b"}, {"y"})->set_name("mm");
    add_output(&g, "y");
    quant::QuantizeOptions o;
    o.backends = "ref";
    auto m = quantized(make_model(g), o);
    ASSERT_NE(m, nullptr);
    const ir::Node* mm = node_named(*m, "mm");
    EXPECT_NE(quantize_before(mm, 0), nullptr);
    EXPECT_NE(quantize_before(mm, 1), nullptr);
}

}  // namespace
}  // namespace nnport::testing::quant_test

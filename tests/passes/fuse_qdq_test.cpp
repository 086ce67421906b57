// fuse_qdq: DQ -> Conv [-> Relu/Clip] -> Q becomes QLinearFusedConv, DQ + DQ -> Add [-> Relu] -> Q becomes QLinearAdd
// (bit-exact), MaxPool/Reshape/Flatten between equal Q/DQ
// parameters run on the int8 data; structure, numerics against the unfused QDQ graph and declines. The graphs' outputs
// are the quantized tensors, compared within one step: the unfused graph convolves dequantized values in float32 and
// may round a value within float error of a tie the other way than the integer accumulation does (at most 1% of the
// elements may be off by that step; the data here gives none).
#include <random>

#include "backends/cpu/cpu_kernels.hpp"
#include "passes/fusion_test_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::testing {
namespace {

template <typename T>
void add_init_int(onnx::GraphProto* g, const std::string& name, int elem, const std::vector<int64_t>& dims, int lo,
                  int hi, uint32_t seed = 5) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::mt19937 rng(seed + static_cast<uint32_t>(std::hash<std::string>{}(name)));
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(elem);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t i = 0; i < n; ++i) t->add_int32_data(std::uniform_int_distribution<int>(lo, hi)(rng));
}

void add_scalar_int(onnx::GraphProto* g, const std::string& name, int elem, int v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(elem);
    t->add_int32_data(v);
}

/// How the test graph is quantized.
struct Spec {
    bool act_signed = false;  ///< int8 symmetric activations instead of uint8 asymmetric
    bool per_channel = true;
    int bias = 1;             ///< 0 none, 1 int32 behind DQ, 2 float32 constant
    std::string act;          ///< "", "Relu", "Clip"
    int64_t w_axis = 0;
};

constexpr int kU8 = onnx::TensorProto::UINT8, kI8 = onnx::TensorProto::INT8, kI32 = onnx::TensorProto::INT32;

/// x -> Q -> DQ -> Conv(DQ(w), bias) [-> act] -> Q -> y (quantized output).
onnx::GraphProto qdq_conv(const Spec& s) {
    onnx::GraphProto g;
    const int at = s.act_signed ? kI8 : kU8;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 8, 8});
    const float xs = 2.0f / 255, ws_scalar = 0.01f;
    add_scalar_f32(&g, "xs", xs);
    add_scalar_int(&g, "xz", at, s.act_signed ? 0 : 128);
    add_node(&g, "QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
    add_node(&g, "DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
    add_init_int<int8_t>(&g, "wq", kI8, {4, 3, 3, 3}, -127, 127);
    std::vector<float> ws = {0.008f, 0.011f, 0.009f, 0.012f};
    if (s.per_channel) {
        add_init_f32(&g, "ws", {4}, ws);
    } else {
        add_scalar_f32(&g, "ws", ws_scalar);
    }
    auto* wdq = add_node(&g, "DequantizeLinear", {"wq", "ws"}, {"wd"});
    if (s.per_channel) attr_int(wdq, "axis", s.w_axis);
    std::vector<std::string> ins = {"xd", "wd"};
    if (s.bias == 1) {
        add_init_int<int32_t>(&g, "bq", kI32, {4}, -300, 300);
        std::vector<float> bs;
        for (float w : ws) bs.push_back(xs * (s.per_channel ? w : ws_scalar));
        add_init_f32(&g, "bs", {4}, bs);
        attr_int(add_node(&g, "DequantizeLinear", {"bq", "bs"}, {"bd"}), "axis", 0);
        ins.push_back("bd");
    } else if (s.bias == 2) {
        add_init_f32(&g, "bf", {4}, {0.1f, -0.2f, 0.05f, 0.3f});
        ins.push_back("bf");
    }
    attr_ints(add_node(&g, "Conv", ins, {"c"}), "pads", {1, 1, 1, 1});
    std::string y = "c";
    if (s.act == "Relu") {
        add_node(&g, "Relu", {"c"}, {"a"});
        y = "a";
    } else if (s.act == "Clip") {
        add_scalar_f32(&g, "lo", -0.1f);
        add_scalar_f32(&g, "hi", 0.25f);
        add_node(&g, "Clip", {"c", "lo", "hi"}, {"a"});
        y = "a";
    }
    add_scalar_f32(&g, "ys", 0.004f);
    add_scalar_int(&g, "yz", at, s.act_signed ? 0 : 100);
    add_node(&g, "QuantizeLinear", {y, "ys", "yz"}, {"y"});
    return g;
}

/// Runs the pass and compares with the unfused graph on random inputs within one quantization step.
std::unique_ptr<ir::Model> check_fused(const onnx::ModelProto& m, bool expect_change = true) {
    auto opt = load_ir(m);
    passes::PassContext ctx;
    auto r = passes::run_pass(*opt, "fuse_qdq", ctx);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r.is_ok() && *r, expect_change);
    EXPECT_TRUE(ir::verify(*opt->graph).is_ok());
    for (uint32_t seed : {1u, 2u, 3u}) {
        auto feeds = random_feeds(m, seed);
        auto want = run_ir(load_ir(m), feeds);
        auto again = load_ir(m);
        passes::PassContext c2;
        EXPECT_TRUE(passes::run_pass(*again, "fuse_qdq", c2).is_ok());
        auto got = run_ir(std::move(again), feeds);
        EXPECT_EQ(got.size(), want.size());
        for (size_t k = 0; k < got.size() && k < want.size(); ++k) {
            EXPECT_EQ(got[k].dtype(), want[k].dtype());
            EXPECT_EQ(got[k].shape(), want[k].shape());
            int64_t off = 0;
            for (int64_t i = 0; i < got[k].numel(); ++i) {
                const double d = std::fabs(got[k].item_as_double(i) - want[k].item_as_double(i));
                EXPECT_LE(d, 1.0) << "element " << i;
                off += d > 0;
            }
            EXPECT_LE(off, got[k].numel() / 100);
        }
    }
    return opt;
}

const ir::Node* fused_conv(const ir::Model& m, const std::string& act) {
    const ir::Node* n = find_node(m, "QLinearFusedConv");
    EXPECT_NE(n, nullptr);
    if (!n) return nullptr;
    EXPECT_EQ(n->domain(), "com.nnport");
    EXPECT_EQ(n->attr("activation")->s, act);
    EXPECT_EQ(count_op(m, "Conv"), 0);
    EXPECT_EQ(count_op(m, "DequantizeLinear"), 0);
    EXPECT_EQ(count_op(m, "QuantizeLinear"), 1);  // the input's
    return n;
}

TEST(FuseQdq, ConvReluUint8PerChannelInt32Bias) {
    Spec s;
    s.act = "Relu";
    onnx::GraphProto g = qdq_conv(s);
    add_output(&g, "y");
    auto m = check_fused(make_model(g));
    const ir::Node* n = fused_conv(*m, "Relu");
    ASSERT_NE(n, nullptr);
    ASSERT_EQ(n->inputs().size(), 9u);
    EXPECT_EQ(n->input(3)->name(), "wq");
    EXPECT_EQ(n->input(8)->name(), "bq");
    EXPECT_EQ(n->output(0)->type.dtype, DType::kUInt8);
}

TEST(FuseQdq, Int8SymmetricPerTensorNoBiasNoActivation) {
    Spec s;
    s.act_signed = true;
    s.per_channel = false;
    s.bias = 0;
    onnx::GraphProto g = qdq_conv(s);
    add_output(&g, "y");
    auto m = check_fused(make_model(g));
    const ir::Node* n = fused_conv(*m, "Identity");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->inputs().size(), 8u);
    EXPECT_EQ(n->output(0)->type.dtype, DType::kInt8);
}

TEST(FuseQdq, ClipAndFloatBiasQuantizedByThePass) {
    for (bool act_signed : {false, true}) {
        Spec s;
        s.act = "Clip";
        s.bias = 2;
        s.act_signed = act_signed;
        onnx::GraphProto g = qdq_conv(s);
        add_output(&g, "y");
        auto m = check_fused(make_model(g));
        const ir::Node* n = fused_conv(*m, "Clip");
        ASSERT_NE(n, nullptr);
        EXPECT_EQ(n->attr("activation_params")->floats, (std::vector<float>{-0.1f, 0.25f}));
        EXPECT_EQ(n->input(8)->type.dtype, DType::kInt32);
    }
}

TEST(FuseQdq, PipelineFusesBeforeConstantFoldingAndMaxPoolFlattenRunOnInt8) {
    Spec s;
    s.act = "Relu";
    onnx::GraphProto g = qdq_conv(s);
    // y -> DQ -> MaxPool -> Q -> DQ -> Flatten -> Q (equal parameters) -> out
    add_node(&g, "DequantizeLinear", {"y", "ys", "yz"}, {"yd"});
    attr_ints(add_node(&g, "MaxPool", {"yd"}, {"p"}), "kernel_shape", {2, 2});
    add_node(&g, "QuantizeLinear", {"p", "ys", "yz"}, {"pq"});
    add_node(&g, "DequantizeLinear", {"pq", "ys", "yz"}, {"pd"});
    add_node(&g, "Flatten", {"pd"}, {"f"});
    add_node(&g, "QuantizeLinear", {"f", "ys", "yz"}, {"out"});
    add_output(&g, "out");
    const onnx::ModelProto model = make_model(g);
    auto opt = check_equivalent(model, [](ir::Model& m) {
        passes::OptimizeOptions o;
        ASSERT_TRUE(passes::optimize(m, o).is_ok());
    }, 0, 1.0);
    ASSERT_NE(opt, nullptr);
    fused_conv(*opt, "Relu");
    EXPECT_EQ(count_op(*opt, "MaxPool"), 1);
    EXPECT_EQ(count_op(*opt, "Flatten"), 1);
    EXPECT_EQ(find_node(*opt, "MaxPool")->input(0)->type.dtype, DType::kUInt8);
    EXPECT_EQ(find_node(*opt, "Flatten")->output(0)->type.dtype, DType::kUInt8);
}

/// x -> Q -> DQ -> Gemm(DQ(w int8 per output column), float bias, transB) [-> Relu -> Q] -> y.
onnx::GraphProto qdq_gemm(bool quantized_out) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {2, 6});
    add_scalar_f32(&g, "xs", 2.0f / 255);
    add_scalar_int(&g, "xz", kU8, 128);
    add_node(&g, "QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
    add_node(&g, "DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
    add_init_int<int8_t>(&g, "wq", kI8, {5, 6}, -127, 127);
    add_init_f32(&g, "ws", {5}, {0.01f, 0.02f, 0.015f, 0.005f, 0.03f});
    attr_int(add_node(&g, "DequantizeLinear", {"wq", "ws"}, {"wd"}), "axis", 0);
    add_init_f32(&g, "b", {5}, {0.1f, -0.2f, 0.05f, 0.3f, 0.0f});
    attr_int(add_node(&g, "Gemm", {"xd", "wd", "b"}, {quantized_out ? "g" : "y"}), "transB", 1);
    if (quantized_out) {
        add_node(&g, "Relu", {"g"}, {"r"});
        add_scalar_f32(&g, "ys", 0.01f);
        add_scalar_int(&g, "yz", kU8, 3);
        add_node(&g, "QuantizeLinear", {"r", "ys", "yz"}, {"y"});
    }
    add_output(&g, "y");
    return g;
}

TEST(FuseQdq, GemmBecomesQGemmWithFloatOrQuantizedOutput) {
    for (bool quantized : {false, true}) {
        SCOPED_TRACE(quantized ? "quantized output" : "float output");
        const onnx::ModelProto model = make_model(qdq_gemm(quantized));
        // The bias is rounded to int32 at x_scale * w_scale: off by at most half of that step per output.
        auto m = check_equivalent(model, [](ir::Model& mm) {
            passes::PassContext ctx;
            auto r = passes::run_pass(mm, "fuse_qdq", ctx);
            ASSERT_TRUE(r.is_ok() && *r);
        }, 0, quantized ? 1.0 : 2.0 / 255 * 0.03 / 2 + 1e-5);
        ASSERT_NE(m, nullptr);
        const ir::Node* n = find_node(*m, "QGemm");
        ASSERT_NE(n, nullptr);
        EXPECT_EQ(n->domain(), "com.nnport");
        EXPECT_EQ(n->attr("transB")->i, 1);
        EXPECT_EQ(n->attr("activation")->s, quantized ? "Relu" : "Identity");
        EXPECT_EQ(n->input(6)->type.dtype, DType::kInt32);
        EXPECT_EQ(n->output(0)->type.dtype, quantized ? DType::kUInt8 : DType::kFloat32);
        EXPECT_EQ(count_op(*m, "Gemm"), 0);
        EXPECT_EQ(count_op(*m, "DequantizeLinear"), 0);
    }
}

TEST(FuseQdq, GemmInt8WeightsDequantizedOnceExactly) {
    onnx::GraphProto g;
    add_input(&g, "a", onnx::TensorProto::FLOAT, {2, 6});
    add_init_int<int8_t>(&g, "wq", kI8, {5, 6}, -127, 127);
    add_init_f32(&g, "ws", {5}, {0.01f, 0.02f, 0.015f, 0.005f, 0.03f});
    attr_int(add_node(&g, "DequantizeLinear", {"wq", "ws"}, {"wd"}), "axis", 0);
    attr_int(add_node(&g, "Gemm", {"a", "wd"}, {"y"}), "transB", 1);
    add_output(&g, "y");
    auto m = check_pass(make_model(g), "fuse_qdq", true, 0.0, 0.0);  // exact: the same float32 weights
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "DequantizeLinear"), 0);
    const ir::Node* gemm = find_node(*m, "Gemm");
    ASSERT_NE(gemm, nullptr);
    ASSERT_NE(passes::constant_of(gemm->input(1)), nullptr);
    EXPECT_EQ(passes::constant_of(gemm->input(1))->dtype(), DType::kFloat32);
}

TEST(FuseQdq, DeclinesMaxPoolBetweenDifferentParameters) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 2, 4, 4});
    add_scalar_f32(&g, "s1", 0.01f);
    add_scalar_f32(&g, "s2", 0.02f);
    add_scalar_int(&g, "z", kU8, 10);
    add_node(&g, "QuantizeLinear", {"x", "s1", "z"}, {"q"});
    add_node(&g, "DequantizeLinear", {"q", "s1", "z"}, {"d"});
    attr_ints(add_node(&g, "MaxPool", {"d"}, {"p"}), "kernel_shape", {2, 2});
    add_node(&g, "QuantizeLinear", {"p", "s2", "z"}, {"y"});
    add_output(&g, "y");
    check_fused(make_model(g), false);
}

TEST(FuseQdq, DeclinesNonConstantWeightsFloat16AxisAndBiasScale) {
    {  // weights dequantized from a graph input
        Spec s;
        onnx::GraphProto g = qdq_conv(s);
        for (auto& in : *g.mutable_initializer()) {
            if (in.name() == "wq") in.set_name("wq_unused");
        }
        add_input(&g, "wq", kI8, {4, 3, 3, 3});
        add_output(&g, "y");
        auto m = load_ir(make_model(g));
        passes::PassContext ctx;
        auto r = passes::run_pass(*m, "fuse_qdq", ctx);
        ASSERT_TRUE(r.is_ok());
        EXPECT_FALSE(*r);
    }
    {  // per-channel weight scales along axis 1
        Spec s;
        s.w_axis = 1;
        onnx::GraphProto g = qdq_conv(s);
        for (auto& in : *g.mutable_initializer()) {
            if (in.name() == "wq") {
                in.clear_dims();
                for (int64_t d : {3, 4, 3, 3}) in.add_dims(d);
            }
        }
        add_output(&g, "y");
        auto m = load_ir(make_model(g));
        if (m) {
            passes::PassContext ctx;
            auto r = passes::run_pass(*m, "fuse_qdq", ctx);
            ASSERT_TRUE(r.is_ok());
            EXPECT_FALSE(*r);
        }
    }
    {  // bias scale that is not x_scale * w_scale
        Spec s;
        onnx::GraphProto g = qdq_conv(s);
        for (auto& in : *g.mutable_initializer()) {
            if (in.name() == "bs") in.set_float_data(0, in.float_data(0) * 2);
        }
        add_output(&g, "y");
        check_fused(make_model(g), false);
    }
    {  // float16 activations (scales float16: DQ outputs float16)
        onnx::GraphProto g;
        add_input(&g, "x", onnx::TensorProto::FLOAT16, {1, 3, 8, 8});
        auto* t = g.add_initializer();
        t->set_name("xs");
        t->set_data_type(onnx::TensorProto::FLOAT16);
        t->add_int32_data(0x2000);
        add_scalar_int(&g, "xz", kU8, 128);
        add_node(&g, "QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
        add_node(&g, "DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
        add_init_int<int8_t>(&g, "wq", kI8, {4, 3, 3, 3}, -127, 127);
        auto* ws = g.add_initializer();
        ws->set_name("ws");
        ws->set_data_type(onnx::TensorProto::FLOAT16);
        ws->add_int32_data(0x2000);
        add_node(&g, "DequantizeLinear", {"wq", "ws"}, {"wd"});
        add_node(&g, "Conv", {"xd", "wd"}, {"c"});
        add_node(&g, "QuantizeLinear", {"c", "xs", "xz"}, {"y"});
        add_output(&g, "y");
        auto m = load_ir(make_model(g));
        ASSERT_NE(m, nullptr);
        passes::PassContext ctx;
        auto r = passes::run_pass(*m, "fuse_qdq", ctx);
        ASSERT_TRUE(r.is_ok()) << r.status().message();
        EXPECT_FALSE(*r);
    }
}

TEST(FuseQdq, DeclinesWhenTheFloatOutputIsReadElsewhereOrCustomOpsAreOff) {
    Spec s;
    s.act = "Relu";
    onnx::GraphProto g = qdq_conv(s);
    add_output(&g, "y");
    add_output(&g, "a");  // the float Relu output is also a graph output
    check_fused(make_model(g), false);
    onnx::GraphProto g2 = qdq_conv(s);
    add_output(&g2, "y");
    EXPECT_FALSE(changes_without_custom_ops(make_model(g2), "fuse_qdq"));
}

/// xq = Q(x), zq = Q(z) (z shaped `zshape`, broadcast against x); DQ(xq) + DQ(zq) -> Add [-> act] -> Q -> y.
onnx::GraphProto qdq_add(bool act_signed, const std::string& act, const std::vector<int64_t>& zshape) {
    onnx::GraphProto g;
    const int at = act_signed ? kI8 : kU8;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 5, 4});
    add_input(&g, "z", onnx::TensorProto::FLOAT, zshape);
    add_scalar_f32(&g, "xs", 2.0f / 255);
    add_scalar_int(&g, "xz", at, act_signed ? 0 : 128);
    add_scalar_f32(&g, "zs", 1.3f / 255);
    add_scalar_int(&g, "zz", at, act_signed ? -3 : 90);
    add_node(&g, "QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
    add_node(&g, "QuantizeLinear", {"z", "zs", "zz"}, {"zq"});
    add_node(&g, "DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
    add_node(&g, "DequantizeLinear", {"zq", "zs", "zz"}, {"zd"});
    add_node(&g, "Add", {"xd", "zd"}, {"s"});
    std::string y = "s";
    if (!act.empty()) {
        add_node(&g, act, {"s"}, {"a"});
        y = "a";
    }
    add_scalar_f32(&g, "ys", 2.9f / 255);
    add_scalar_int(&g, "yz", at, act_signed ? 5 : 70);
    add_node(&g, "QuantizeLinear", {y, "ys", "yz"}, {"y"});
    return g;
}

/// The pass's result equals the unfused graph bit for bit on random inputs.
void expect_exact(const onnx::ModelProto& m) {
    for (uint32_t seed : {7u, 8u}) {
        auto feeds = random_feeds(m, seed);
        auto want = run_ir(load_ir(m), feeds);
        auto fused = load_ir(m);
        passes::PassContext ctx;
        ASSERT_TRUE(passes::run_pass(*fused, "fuse_qdq", ctx).is_ok());
        expect_outputs_close(run_ir(std::move(fused), feeds), want, 0, 0);
    }
}

TEST(FuseQdq, ResidualAddBecomesQLinearAddBitExact) {
    for (bool act_signed : {false, true}) {
        for (const std::string& act : {std::string(), std::string("Relu")}) {
            for (const std::vector<int64_t>& zshape : {std::vector<int64_t>{1, 3, 5, 4}, {1, 3, 1, 1}}) {
                SCOPED_TRACE((act_signed ? "int8 " : "uint8 ") + act + " z rank " + std::to_string(zshape[3]));
                onnx::GraphProto g = qdq_add(act_signed, act, zshape);
                add_output(&g, "y");
                const onnx::ModelProto model = make_model(g);
                auto m = check_fused(model);
                ASSERT_NE(m, nullptr);
                const ir::Node* n = find_node(*m, "QLinearAdd");
                ASSERT_NE(n, nullptr);
                EXPECT_EQ(n->domain(), "com.nnport");
                EXPECT_EQ(n->attr("activation")->s, act.empty() ? "Identity" : act);
                EXPECT_EQ(count_op(*m, "Add"), 0);
                EXPECT_EQ(count_op(*m, "DequantizeLinear"), 0);
                EXPECT_EQ(count_op(*m, "QuantizeLinear"), 2);  // the inputs'
                EXPECT_EQ(n->output(0)->type.dtype, act_signed ? DType::kInt8 : DType::kUInt8);
                expect_exact(model);
            }
        }
    }
}

TEST(FuseQdq, AddDeclinesMixedTypesAndAFloatSumReadElsewhere) {
    {  // uint8 + int8 operands
        onnx::GraphProto g = qdq_add(false, "", {1, 3, 5, 4});
        for (auto& in : *g.mutable_initializer()) {
            if (in.name() == "zz") in.set_data_type(kI8);
        }
        add_output(&g, "y");
        check_fused(make_model(g), false);
    }
    {  // the float sum is a graph output too
        onnx::GraphProto g = qdq_add(false, "Relu", {1, 3, 5, 4});
        add_output(&g, "y");
        add_output(&g, "s");
        check_fused(make_model(g), false);
    }
}

TEST(FuseQdq, TransposesAroundQLinearAddSinkAndCancel) {
    // The partitioner's layout conversions around a residual Add between channels-last convolutions: both operands
    // come through a Transpose to NCHW, the sum goes back to NHWC. After fusion the Transposes meet and cancel.
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 5, 4, 3});
    add_input(&g, "z", onnx::TensorProto::FLOAT, {1, 5, 4, 3});
    add_scalar_f32(&g, "s", 0.01f);
    add_scalar_int(&g, "zp", kU8, 128);
    add_node(&g, "QuantizeLinear", {"x", "s", "zp"}, {"xq"});
    add_node(&g, "QuantizeLinear", {"z", "s", "zp"}, {"zq"});
    attr_ints(add_node(&g, "Transpose", {"xq"}, {"xt"}), "perm", {0, 3, 1, 2});
    attr_ints(add_node(&g, "Transpose", {"zq"}, {"zt"}), "perm", {0, 3, 1, 2});
    add_node(&g, "DequantizeLinear", {"xt", "s", "zp"}, {"xd"});
    add_node(&g, "DequantizeLinear", {"zt", "s", "zp"}, {"zd"});
    add_node(&g, "Add", {"xd", "zd"}, {"sum"});
    add_node(&g, "Relu", {"sum"}, {"r"});
    add_node(&g, "QuantizeLinear", {"r", "s", "zp"}, {"q"});
    attr_ints(add_node(&g, "Transpose", {"q"}, {"y"}), "perm", {0, 2, 3, 1});
    add_output(&g, "y");
    const onnx::ModelProto model = make_model(g);
    auto m = load_ir(model);
    ASSERT_NE(m, nullptr);
    for (const char* pass : {"fuse_qdq", "transpose_sink", "dead_code"}) {
        passes::PassContext ctx;
        auto r = passes::run_pass(*m, pass, ctx);
        ASSERT_TRUE(r.is_ok()) << pass << ": " << r.status().message();
    }
    EXPECT_EQ(count_op(*m, "Transpose"), 0) << ir::to_text(*m->graph);
    EXPECT_EQ(count_op(*m, "QLinearAdd"), 1);
    const auto feeds = random_feeds(model, 3);
    expect_outputs_close(run_ir(std::move(m), feeds), run_ir(load_ir(model), feeds), 0, 0);
}

TEST(FuseQdq, TransposeSinksThroughPerTensorDequantizeOnly) {
    for (bool per_axis : {false, true}) {
        onnx::GraphProto g;
        add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 2, 3, 4});
        add_scalar_f32(&g, "s", 0.02f);
        add_scalar_int(&g, "zp", kU8, 10);
        add_node(&g, "QuantizeLinear", {"x", "s", "zp"}, {"xq"});
        attr_ints(add_node(&g, "Transpose", {"xq"}, {"t"}), "perm", {0, 2, 3, 1});  // [1, 3, 4, 2]
        if (per_axis) {
            add_init_f32(&g, "ds", {2}, {0.02f, 0.03f});
            add_init_int<uint8_t>(&g, "dz", kU8, {2}, 10, 10);
            attr_int(add_node(&g, "DequantizeLinear", {"t", "ds", "dz"}, {"d"}), "axis", 3);
        } else {
            add_node(&g, "DequantizeLinear", {"t", "s", "zp"}, {"d"});
        }
        attr_ints(add_node(&g, "Transpose", {"d"}, {"y"}), "perm", {0, 3, 1, 2});
        add_output(&g, "y");
        const onnx::ModelProto model = make_model(g);
        auto m = load_ir(model);
        ASSERT_NE(m, nullptr);
        passes::PassContext ctx;
        auto r = passes::run_pass(*m, "transpose_sink", ctx);
        ASSERT_TRUE(r.is_ok()) << r.status().message();
        EXPECT_EQ(*r, !per_axis);
        EXPECT_EQ(count_op(*m, "Transpose"), per_axis ? 2 : 0) << ir::to_text(*m->graph);
        const auto feeds = random_feeds(model, 4);
        expect_outputs_close(run_ir(std::move(m), feeds), run_ir(load_ir(model), feeds), 0, 0);
    }
}

TEST(FuseQdq, Int8ModelRunsInOneChannelsLastRegionOnTheDefaultBackends) {
    // x -> Q -> DQ -> Conv -> Relu -> Q -> DQ -> GlobalAveragePool -> y: with the default backends the layout
    // conversion moves above the input's QuantizeLinear (float32 data) and the pooling joins the channels-last
    // region through the per-tensor DequantizeLinear, so one Transpose remains.
    Spec s;
    s.act = "Relu";
    onnx::GraphProto g = qdq_conv(s);
    add_node(&g, "DequantizeLinear", {"y", "ys", "yz"}, {"yd"});
    add_node(&g, "GlobalAveragePool", {"yd"}, {"out"});
    add_output(&g, "out");
    const onnx::ModelProto model = make_model(g);
    SessionOptions o;
    o.threads = 1;
    auto sess = Session::from_model(load_ir(model), o);
    ASSERT_TRUE(sess.is_ok()) << sess.status().message();
    int transposes = 0, nhwc = 0;
    for (const NodePlacement& p : (*sess)->placements()) {
        transposes += p.op_type == "Transpose";
        nhwc += p.op_type.find(".Nhwc") != std::string::npos;
    }
    EXPECT_EQ(transposes, 1);
    EXPECT_EQ(nhwc, 2);  // the convolution and the pooling
    for (uint32_t seed : {1u, 2u}) {
        const auto feeds = random_feeds(model, seed);
        auto got = (*sess)->run(feeds);
        ASSERT_TRUE(got.is_ok()) << got.status().message();
        expect_outputs_close(*got, run_ir(load_ir(model), feeds), 0, 0.004 / 64 + 1e-6);  // a step in 1 of 64 means
    }
}

TEST(FuseQdq, DepthwiseSeparableBlockMixesTheCpuAndOneDnnKernelsInOneRegion) {
    // x -> Q -> DQ -> depthwise 3x3 Conv -> Relu -> Q -> DQ -> 1x1 Conv -> Q -> DQ -> y. With the default backends
    // the depthwise convolution runs on the cpu backend's own int8 kernel (AVX-512 VNNI CPUs) and the 1x1 one on
    // oneDNN, both channels-last with no layout conversion between them.
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 16, 10, 10});
    const float xs = 2.0f / 255, s1 = 0.01f, s2 = 0.02f;
    add_scalar_f32(&g, "xs", xs);
    add_scalar_int(&g, "xz", kU8, 128);
    add_node(&g, "QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
    add_node(&g, "DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
    add_init_int<int8_t>(&g, "w1", kI8, {16, 1, 3, 3}, -127, 127, 7);
    std::vector<float> ws1(16), ws2(8);
    for (size_t i = 0; i < ws1.size(); ++i) ws1[i] = 0.004f + 0.0005f * float(i);
    for (size_t i = 0; i < ws2.size(); ++i) ws2[i] = 0.003f + 0.0004f * float(i);
    add_init_f32(&g, "ws1", {16}, ws1);
    attr_int(add_node(&g, "DequantizeLinear", {"w1", "ws1"}, {"w1d"}), "axis", 0);
    auto* dw = add_node(&g, "Conv", {"xd", "w1d"}, {"c1"});
    attr_ints(dw, "pads", {1, 1, 1, 1});
    attr_int(dw, "group", 16);
    add_node(&g, "Relu", {"c1"}, {"r1"});
    add_scalar_f32(&g, "s1", s1);
    add_scalar_int(&g, "z1", kU8, 0);
    add_node(&g, "QuantizeLinear", {"r1", "s1", "z1"}, {"q1"});
    add_node(&g, "DequantizeLinear", {"q1", "s1", "z1"}, {"d1"});
    add_init_int<int8_t>(&g, "w2", kI8, {8, 16, 1, 1}, -127, 127, 8);
    add_init_f32(&g, "ws2", {8}, ws2);
    attr_int(add_node(&g, "DequantizeLinear", {"w2", "ws2"}, {"w2d"}), "axis", 0);
    add_node(&g, "Conv", {"d1", "w2d"}, {"c2"});
    add_scalar_f32(&g, "s2", s2);
    add_scalar_int(&g, "z2", kU8, 120);
    add_node(&g, "QuantizeLinear", {"c2", "s2", "z2"}, {"q2"});
    add_node(&g, "DequantizeLinear", {"q2", "s2", "z2"}, {"y"});
    add_output(&g, "y");
    const onnx::ModelProto model = make_model(g);
    SessionOptions o;
    o.threads = 1;
    auto sess = Session::from_model(load_ir(model), o);
    ASSERT_TRUE(sess.is_ok()) << sess.status().message();
    int transposes = 0, on_cpu = 0, on_onednn = 0;
    for (const NodePlacement& p : (*sess)->placements()) {
        transposes += p.op_type == "Transpose";
        if (p.op_type == "com.nnport.NhwcQLinearFusedConv") {
            on_cpu += p.backend == "cpu";
            on_onednn += p.backend == "onednn";
        }
    }
    const bool vnni = cpu::best_isa() == cpu::Isa::kAvx512 && cpu::has_vnni_vbmi();
    EXPECT_EQ(on_cpu, vnni ? 1 : 0);
    EXPECT_EQ(on_cpu + on_onednn, 2);
    EXPECT_LE(transposes, 2);  // into the region and out of it
    for (uint32_t seed : {1u, 2u}) {
        const auto feeds = random_feeds(model, seed);
        auto got = (*sess)->run(feeds);
        ASSERT_TRUE(got.is_ok()) << got.status().message();
        expect_outputs_close(*got, run_ir(load_ir(model), feeds), 0, s2 + 1e-6);  // within one output step
    }
}

}  // namespace
}  // namespace nnport::testing

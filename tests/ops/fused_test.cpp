// nnport's fused ops (com.nnport FusedConv, FusedGemm, FusedMatMul, ScaleShift, FusedConcat, ScaledDotProductAttention
// and the LayerNormalization / Gelu copies) against the unfused graphs they replace, and rejections.
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

constexpr int kOpset = 20;  // the reference graphs use the standard Gelu

struct ActCase {
    std::string name;
    std::vector<float> params;
};

const std::vector<ActCase>& all_acts() {
    static const std::vector<ActCase> acts = {
        {"Identity", {}},  {"Relu", {}}, {"Clip", {-0.2f, 0.3f}}, {"LeakyRelu", {0.1f}},
        {"Sigmoid", {}},   {"Tanh", {}}, {"HardSwish", {}},       {"HardSigmoid", {0.3f, 0.4f}},
        {"Swish", {1.5f}}, {"Gelu", {}}, {"GeluTanh", {}},
    };
    return acts;
}

/// Appends the standard ops computing activation `a` from `in` to `out`.
void add_activation(onnx::GraphProto* g, const ActCase& a, const std::string& in, const std::string& out) {
    if (a.name == "Clip") {
        add_scalar_f32(g, "clip_lo", a.params[0]);
        add_scalar_f32(g, "clip_hi", a.params[1]);
        add_node(g, "Clip", {in, "clip_lo", "clip_hi"}, {out});
    } else if (a.name == "LeakyRelu") {
        attr_float(add_node(g, "LeakyRelu", {in}, {out}), "alpha", a.params[0]);
    } else if (a.name == "HardSigmoid") {
        auto* n = add_node(g, "HardSigmoid", {in}, {out});
        attr_float(n, "alpha", a.params[0]);
        attr_float(n, "beta", a.params[1]);
    } else if (a.name == "Swish") {
        add_scalar_f32(g, "swish_alpha", a.params[0]);
        add_node(g, "Mul", {in, "swish_alpha"}, {out + "_ax"});
        add_node(g, "Sigmoid", {out + "_ax"}, {out + "_sg"});
        add_node(g, "Mul", {in, out + "_sg"}, {out});
    } else if (a.name == "GeluTanh") {
        attr_string(add_node(g, "Gelu", {in}, {out}), "approximate", "tanh");
    } else {
        add_node(g, a.name, {in}, {out});
    }
}

onnx::NodeProto* add_fused(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& ins,
                           const ActCase& a) {
    auto* n = add_node(g, op, ins, {"y"});
    n->set_domain("com.nnport");
    attr_string(n, "activation", a.name);
    if (!a.params.empty()) attr_floats(n, "activation_params", a.params);
    return n;
}

onnx::ModelProto nnport_model(const onnx::GraphProto& g) { return make_model(g, kOpset, {{"com.nnport", 1}}); }

Result<std::vector<Tensor>> run_model(const onnx::ModelProto& m, const std::vector<std::pair<std::string, Tensor>>& f,
                                      int threads) {
    const std::string bytes = m.SerializeAsString();
    SessionOptions o;
    o.threads = threads;
    o.optimization_level = 0;
    NNPORT_ASSIGN_OR_RETURN(auto s, Session::load_from_memory(bytes.data(), bytes.size(), o));
    return s->run(f);
}

/// Both models give the same outputs on random feeds, single- and multi-threaded.
void expect_same(const onnx::ModelProto& fused, const onnx::ModelProto& ref, double rtol = 1e-4) {
    for (int threads : {1, 4}) {
        const auto feeds = random_feeds(fused, 11);
        auto got = run_model(fused, feeds, threads);
        auto want = run_model(ref, feeds, threads);
        ASSERT_TRUE(got.is_ok()) << got.status().message();
        ASSERT_TRUE(want.is_ok()) << want.status().message();
        expect_outputs_close(*got, *want, rtol, 1e-5);
    }
}

struct ConvCase {
    std::vector<int64_t> x, w;
    int64_t group = 1, stride = 1, pad = 0;
    bool bias = true, z = true;
};

void conv_pair(const ConvCase& c, const ActCase& a) {
    onnx::GraphProto f, r;
    for (onnx::GraphProto* g : {&f, &r}) {
        add_input(g, "x", onnx::TensorProto::FLOAT, c.x);
        add_init_f32(g, "w", c.w);
        if (c.bias) add_init_f32(g, "b", {c.w[0]});
    }
    const int64_t oh = (c.x[2] + 2 * c.pad - c.w[2]) / c.stride + 1, ow = (c.x[3] + 2 * c.pad - c.w[3]) / c.stride + 1;
    const std::vector<int64_t> y_shape = {c.x[0], c.w[0], oh, ow};
    std::vector<std::string> ins = {"x", "w"};
    if (c.bias) ins.push_back("b");
    auto conv_attrs = [&](onnx::NodeProto* n) {
        attr_int(n, "group", c.group);
        attr_ints(n, "strides", {c.stride, c.stride});
        attr_ints(n, "pads", {c.pad, c.pad, c.pad, c.pad});
    };
    conv_attrs(add_node(&r, "Conv", ins, {"c"}));
    std::string cur = "c";
    if (c.z) {
        add_input(&r, "z", onnx::TensorProto::FLOAT, y_shape);
        add_input(&f, "z", onnx::TensorProto::FLOAT, y_shape);
        add_node(&r, "Add", {cur, "z"}, {"s"});
        cur = "s";
        if (!c.bias) ins.push_back("");
        ins.push_back("z");
    }
    add_activation(&r, a, cur, "y");
    conv_attrs(add_fused(&f, "FusedConv", ins, a));
    add_output(&f, "y");
    add_output(&r, "y");
    expect_same(nnport_model(f), make_model(r, kOpset));
}

TEST(FusedConv, MatchesConvAddActivationForEveryActivation) {
    for (const ActCase& a : all_acts()) {
        SCOPED_TRACE(a.name);
        conv_pair({{1, 3, 9, 9}, {5, 3, 3, 3}, 1, 1, 1, true, true}, a);
    }
}

TEST(FusedConv, PointwiseDepthwiseGroupedStridedAndLarge) {
    const ActCase relu{"Relu", {}}, hs{"HardSwish", {}};
    conv_pair({{2, 8, 5, 5}, {6, 8, 1, 1}, 1, 1, 0, false, true}, relu);  // 1x1: GEMM on the input directly
    conv_pair({{1, 6, 8, 8}, {6, 1, 3, 3}, 6, 1, 1, true, false}, hs);    // depthwise: per-plane epilogue
    conv_pair({{1, 6, 8, 8}, {6, 1, 3, 3}, 6, 2, 1, true, true}, relu);
    conv_pair({{1, 8, 9, 9}, {4, 4, 3, 3}, 2, 2, 1, true, true}, hs);         // grouped, strided
    conv_pair({{2, 16, 20, 20}, {40, 16, 3, 3}, 1, 1, 1, true, true}, relu);  // several GEMM tiles, threads
}

void gemm_pair(int64_t m, int ta, int tb, const std::vector<int64_t>& c_shape, const ActCase& a) {
    const int64_t k = 9, n = 21;
    onnx::GraphProto f, r;
    for (onnx::GraphProto* g : {&f, &r}) {
        add_input(g, "a", onnx::TensorProto::FLOAT, ta ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k});
        add_init_f32(g, "w", tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n});
        add_init_f32(g, "c", c_shape);
    }
    auto attrs = [&](onnx::NodeProto* node) {
        attr_int(node, "transA", ta);
        attr_int(node, "transB", tb);
        attr_float(node, "alpha", 0.7f);
        attr_float(node, "beta", 1.3f);
    };
    attrs(add_node(&r, "Gemm", {"a", "w", "c"}, {"g"}));
    add_activation(&r, a, "g", "y");
    attrs(add_fused(&f, "FusedGemm", {"a", "w", "c"}, a));
    add_output(&f, "y");
    add_output(&r, "y");
    expect_same(nnport_model(f), make_model(r, kOpset));
}

TEST(FusedGemm, MatchesGemmActivationForTransposesAndBiasShapes) {
    const ActCase sig{"Sigmoid", {}}, clip{"Clip", {-0.5f, 0.5f}};
    for (int64_t m : {3, 37}) {  // thin (no packing) and blocked paths
        for (int ta : {0, 1}) {
            for (int tb : {0, 1}) gemm_pair(m, ta, tb, {21}, sig);
        }
        for (const std::vector<int64_t>& c : {std::vector<int64_t>{m, 1}, std::vector<int64_t>{m, 21},
                                              std::vector<int64_t>{1}, std::vector<int64_t>{}}) {
            gemm_pair(m, 0, 1, c, clip);
        }
    }
    for (const ActCase& a : all_acts()) gemm_pair(13, 0, 0, {21}, a);
}

void matmul_pair(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape, bool bias,
                 const ActCase& act) {
    onnx::GraphProto f, r;
    for (onnx::GraphProto* g : {&f, &r}) {
        add_input(g, "a", onnx::TensorProto::FLOAT, a_shape);
        add_init_f32(g, "w", b_shape);
        if (bias) add_init_f32(g, "bias", {b_shape.back()});
    }
    add_node(&r, "MatMul", {"a", "w"}, {"m"});
    std::string cur = "m";
    if (bias) {
        add_node(&r, "Add", {"m", "bias"}, {"s"});
        cur = "s";
    }
    add_activation(&r, act, cur, "y");
    std::vector<std::string> ins = {"a", "w"};
    if (bias) ins.push_back("bias");
    add_fused(&f, "FusedMatMul", ins, act);
    add_output(&f, "y");
    add_output(&r, "y");
    expect_same(nnport_model(f), make_model(r, kOpset));
}

TEST(FusedMatMul, MatchesMatMulAddActivationOnTallBatchedAndBroadcastProducts) {
    const ActCase gelu{"Gelu", {}};
    matmul_pair({2, 3, 7, 8}, {8, 20}, true, gelu);  // one tall GEMM
    matmul_pair({3, 7, 8}, {3, 8, 20}, true, gelu);  // per-batch GEMMs: rows offset per batch
    matmul_pair({1, 7, 8}, {4, 8, 20}, false, {"Relu", {}});
    matmul_pair({30, 64}, {64, 50}, true, {"Tanh", {}});
    matmul_pair({2, 3}, {3, 4}, true, {"Identity", {}});  // thin
}

TEST(ScaledDotProductAttention, MatchesDecomposedAttention) {
    for (bool kt : {false, true}) {
        for (bool mask : {false, true}) {
            onnx::GraphProto f, r;
            const int64_t L = 130, S = 70, D = 16;  // L > 64: several query blocks
            for (onnx::GraphProto* g : {&f, &r}) {
                add_input(g, "q", onnx::TensorProto::FLOAT, {2, 3, L, D});
                add_input(g, "k", onnx::TensorProto::FLOAT,
                          kt ? std::vector<int64_t>{1, 3, D, S} : std::vector<int64_t>{1, 3, S, D});
                add_input(g, "v", onnx::TensorProto::FLOAT, {2, 1, S, 8});
                if (mask) add_input(g, "mask", onnx::TensorProto::FLOAT, {L, S});
            }
            std::string key = "k";
            if (!kt) {
                attr_ints(add_node(&r, "Transpose", {"k"}, {"ktr"}), "perm", {0, 1, 3, 2});
                key = "ktr";
            }
            add_node(&r, "MatMul", {"q", key}, {"qk"});
            add_scalar_f32(&r, "scale", 0.3f);
            add_node(&r, "Mul", {"qk", "scale"}, {"s"});
            std::string sc = "s";
            if (mask) {
                add_node(&r, "Add", {"s", "mask"}, {"sm"});
                sc = "sm";
            }
            attr_int(add_node(&r, "Softmax", {sc}, {"p"}), "axis", -1);
            add_node(&r, "MatMul", {"p", "v"}, {"y"});
            std::vector<std::string> ins = {"q", "k", "v"};
            if (mask) ins.push_back("mask");
            auto* n = add_node(&f, "ScaledDotProductAttention", ins, {"y"});
            n->set_domain("com.nnport");
            attr_float(n, "scale", 0.3f);
            attr_int(n, "k_transposed", kt ? 1 : 0);
            add_output(&f, "y");
            add_output(&r, "y");
            expect_same(nnport_model(f), make_model(r, kOpset));
        }
    }
}

TEST(NnportAliases, LayerNormalizationAndGeluRunBeforeTheirOpsets) {
    for (const std::string op : {"LayerNormalization", "Gelu"}) {
        onnx::GraphProto f, r;
        for (onnx::GraphProto* g : {&f, &r}) {
            add_input(g, "x", onnx::TensorProto::FLOAT, {3, 10});
            if (op == "LayerNormalization") add_init_f32(g, "gamma", {10});
        }
        std::vector<std::string> ins = {"x"};
        if (op == "LayerNormalization") ins.push_back("gamma");
        add_node(&r, op, ins, {"y"});
        add_node(&f, op, ins, {"y"})->set_domain("com.nnport");
        add_output(&f, "y");
        add_output(&r, "y");
        expect_same(make_model(f, 13, {{"com.nnport", 1}}), make_model(r, kOpset));
    }
}

Status load_status(const onnx::GraphProto& g) {
    const onnx::ModelProto m = nnport_model(g);
    const auto feeds = random_feeds(m, 3);
    return run_model(m, feeds, 1).status();
}

onnx::GraphProto bad_conv(const std::string& act, const std::vector<float>& params, int64_t z_width = 6,
                          bool symbolic = false) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 6, symbolic ? -1 : 6});
    add_init_f32(&g, "w", {4, 3, 1, 1});
    add_input(&g, "z", onnx::TensorProto::FLOAT, {1, 4, 6, symbolic ? -1 : z_width});
    add_fused(&g, "FusedConv", {"x", "w", "", "z"}, {act, params});
    add_output(&g, "y");
    return g;
}

/// ScaleShift(x, s, b) with activation `a` against Mul -> Add -> activation; s and b given as inputs of `sb`.
void scale_shift_pair(const std::vector<int64_t>& x, const std::vector<int64_t>& sb, const ActCase& a) {
    onnx::GraphProto f, r;
    for (onnx::GraphProto* g : {&f, &r}) {
        add_input(g, "x", onnx::TensorProto::FLOAT, x);
        add_input(g, "s", onnx::TensorProto::FLOAT, sb);
        add_input(g, "b", onnx::TensorProto::FLOAT, sb);
    }
    add_node(&r, "Mul", {"x", "s"}, {"m"});
    add_node(&r, "Add", {"m", "b"}, {"a"});
    add_activation(&r, a, "a", "y");
    add_fused(&f, "ScaleShift", {"x", "s", "b"}, a);
    add_output(&f, "y");
    add_output(&r, "y");
    expect_same(nnport_model(f), make_model(r, kOpset));
}

TEST(ScaleShift, MatchesMulAddActivationForEveryActivationAndBroadcast) {
    for (const ActCase& a : all_acts()) {
        SCOPED_TRACE(a.name);
        scale_shift_pair({2, 5, 7, 19}, {19}, a);      // along the last axis
        scale_shift_pair({2, 6, 5, 5}, {6, 1, 1}, a);  // NCHW channels
        scale_shift_pair({3, 4, 33}, {3, 4, 33}, a);   // full size
        scale_shift_pair({1, 300, 70}, {1, 1, 1}, a);  // a scalar, threaded rows
    }
}

TEST(ScaleShift, RejectsOperandsThatWouldBroadcastX) {
    for (const std::vector<int64_t>& sb : std::vector<std::vector<int64_t>>{{2, 1, 8}, {5}, {3, 1, 1, 8}}) {
        onnx::GraphProto g;
        add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 4, 8});
        add_init_f32(&g, "s", sb);
        add_init_f32(&g, "b", {8});
        add_fused(&g, "ScaleShift", {"x", "s", "b"}, {"Relu", {}});
        add_output(&g, "y");
        auto out = run_model(nnport_model(g), random_feeds(nnport_model(g), 3), 1);
        ASSERT_FALSE(out.is_ok());
        EXPECT_NE(out.status().message().find("must broadcast to X's shape"), std::string::npos)
            << out.status().message();
    }
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 4, 8});
    add_init_f32(&g, "s", {8});
    add_init_f32(&g, "b", {8});
    add_fused(&g, "ScaleShift", {"x", "s", "b"}, {"Clip", {1.0f}});
    add_output(&g, "y");
    EXPECT_NE(load_status(g).message().find("takes 2 activation_params, got 1"), std::string::npos);
}

/// FusedConcat(x0, x1, s, b) with activation `a` against Concat -> Mul -> Add -> activation (last axis).
void fused_concat_pair(const std::vector<std::vector<int64_t>>& xs, const ActCase& a) {
    onnx::GraphProto f, r;
    std::vector<std::string> names;
    int64_t c = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
        names.push_back("x" + std::to_string(i));
        c += xs[i].back();
    }
    for (onnx::GraphProto* g : {&f, &r}) {
        for (size_t i = 0; i < xs.size(); ++i) add_input(g, names[i], onnx::TensorProto::FLOAT, xs[i]);
        add_init_f32(g, "s", {c});
        add_init_f32(g, "b", {1, c});
    }
    attr_int(add_node(&r, "Concat", names, {"cat"}), "axis", -1);
    add_node(&r, "Mul", {"cat", "s"}, {"m"});
    add_node(&r, "Add", {"m", "b"}, {"a"});
    add_activation(&r, a, "a", "y");
    std::vector<std::string> ins = names;
    ins.push_back("s");
    ins.push_back("b");
    attr_int(add_fused(&f, "FusedConcat", ins, a), "axis", -1);
    add_output(&f, "y");
    add_output(&r, "y");
    expect_same(nnport_model(f), make_model(r, kOpset));
}

TEST(FusedConcat, MatchesConcatMulAddActivation) {
    for (const ActCase& a : all_acts()) {
        SCOPED_TRACE(a.name);
        fused_concat_pair({{1, 5, 6, 16}, {1, 5, 6, 7}}, a);
        fused_concat_pair({{2, 40, 9}, {2, 40, 33}, {2, 40, 1}}, a);
    }
}

TEST(FusedConcat, RejectsOtherAxesAndMismatchedParameters) {
    onnx::GraphProto g;
    add_input(&g, "x0", onnx::TensorProto::FLOAT, {1, 4, 8});
    add_input(&g, "x1", onnx::TensorProto::FLOAT, {1, 4, 8});
    add_init_f32(&g, "s", {8});
    add_init_f32(&g, "b", {8});
    attr_int(add_fused(&g, "FusedConcat", {"x0", "x1", "s", "b"}, {"Relu", {}}), "axis", 1);
    add_output(&g, "y");
    EXPECT_NE(load_status(g).message().find("only the last axis"), std::string::npos) << load_status(g).message();
    onnx::GraphProto h;
    add_input(&h, "x0", onnx::TensorProto::FLOAT, {1, 4, 8});
    add_input(&h, "x1", onnx::TensorProto::FLOAT, {1, 4, 8});
    add_init_f32(&h, "s", {8});  // 16 output channels
    add_init_f32(&h, "b", {16});
    attr_int(add_fused(&h, "FusedConcat", {"x0", "x1", "s", "b"}, {"Relu", {}}), "axis", -1);
    add_output(&h, "y");
    auto out = run_model(nnport_model(h), random_feeds(nnport_model(h), 3), 1);
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("must be a vector of the output's 16 channels"), std::string::npos)
        << out.status().message();
}

TEST(FusedOps, RejectsUnknownActivationWrongParamCountAndMismatchedResidual) {
    Status s = load_status(bad_conv("Mish", {}));
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("unknown activation 'Mish'"), std::string::npos) << s.message();
    s = load_status(bad_conv("Clip", {1.0f}));
    EXPECT_NE(s.message().find("takes 2 activation_params, got 1"), std::string::npos) << s.message();
    s = load_status(bad_conv("Clip", {1.0f, 0.0f}));
    EXPECT_NE(s.message().find("min <= max"), std::string::npos) << s.message();
    s = load_status(bad_conv("Relu", {}, 5));
    EXPECT_NE(s.message().find("Z"), std::string::npos) << s.message();
    EXPECT_TRUE(load_status(bad_conv("Relu", {})).is_ok());
    // Symbolic widths: random feeds give x width 2 and z width 2, then a mismatch only at run time.
    EXPECT_TRUE(load_status(bad_conv("Relu", {}, 6, true)).is_ok());

    onnx::GraphProto g;
    add_input(&g, "a", onnx::TensorProto::FLOAT, {2, 4});
    add_init_f32(&g, "w", {4, 5});
    add_init_f32(&g, "bias", {4});
    add_fused(&g, "FusedMatMul", {"a", "w", "bias"}, {"Relu", {}});
    add_output(&g, "y");
    s = load_status(g);
    EXPECT_NE(s.message().find("bias"), std::string::npos) << s.message();
}

TEST(FusedOps, RejectsResidualOfWrongShapeAtRunTime) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 6, 6});
    add_init_f32(&g, "w", {4, 3, 1, 1});
    add_input(&g, "z", onnx::TensorProto::FLOAT, {-1, 4, 6, 6});  // batch 2 from random feeds
    add_fused(&g, "FusedConv", {"x", "w", "", "z"}, {"Relu", {}});
    add_output(&g, "y");
    Status s = load_status(g);
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("output's shape"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace nnport::testing

// Structural rewrites of `nnport convert` (src/convert/rewrites/structural*.cpp): each applies to the node named
// "target", removes it, adds only its catalogue entry's "needs" ops, matches the original on random inputs (at the
// opsets where the op's form differs, also after export at that opset), and declines the near misses.
#include "convert/rewrites_structural_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace rw;

constexpr double kRtol = 1e-5, kAtol = 1e-5;

/// x[3, 4] -> Gemm(x, B, C) -> y, B [4, 5] (or [5, 4] with transB), C a constant [5], a graph input, or none.
onnx::ModelProto gemm_model(bool trans_b, const std::string& c_kind, float alpha, float beta, int trans_a = 0) {
    onnx::GraphProto g;
    add_input(&g, "x", F, trans_a ? std::vector<int64_t>{4, 3} : std::vector<int64_t>{3, 4});
    add_init_f32(&g, "b", trans_b ? std::vector<int64_t>{5, 4} : std::vector<int64_t>{4, 5});
    std::vector<std::string> ins = {"x", "b"};
    if (c_kind == "const") add_init_f32(&g, "c", {5});
    if (c_kind == "row") add_init_f32(&g, "c", {3, 5});
    if (c_kind == "input") add_input(&g, "c", F, {5});
    if (!c_kind.empty()) ins.push_back("c");
    auto* n = add_node(&g, "Gemm", ins, {"y"});
    attr_int(n, "transB", trans_b ? 1 : 0);
    if (trans_a) attr_int(n, "transA", 1);
    attr_float(n, "alpha", alpha);
    attr_float(n, "beta", beta);
    target(&g);
    add_output(&g, "y");
    return make_model(g);
}

TEST(ConvertRewriteStructural, GemmToMatMulAdd) {
    for (bool tb : {false, true}) {
        for (const std::string c : {"const", "input", ""}) {
            const float beta = c == "input" ? 1.0f : 2.0f;
            auto m = check_typed(gemm_model(tb, c, 0.5f, beta), "gemm_to_matmul_add", {"Gemm"}, kRtol, kAtol);
            ASSERT_NE(m, nullptr);
            EXPECT_EQ(count_op(*m, "MatMul"), 1);
            EXPECT_EQ(count_op(*m, "Add"), c.empty() ? 0 : 1) << c;
            expect_needs_only(*m, "gemm_to_matmul_add");
        }
    }
    check_declines(gemm_model(false, "const", 1, 1, 1), "gemm_to_matmul_add");  // transA
    check_declines(gemm_model(false, "input", 1, 2), "gemm_to_matmul_add");     // beta * input
    onnx::GraphProto g;                                                         // B computed at run time
    add_input(&g, "x", F, {3, 4});
    add_input(&g, "b", F, {4, 5});
    add_node(&g, "Gemm", {"x", "b"}, {"y"});
    target(&g);
    add_output(&g, "y");
    check_declines(make_model(g), "gemm_to_matmul_add");
}

TEST(ConvertRewriteStructural, GemmToConv1x1) {
    for (bool tb : {false, true}) {
        for (const std::string c : {"const", ""}) {
            auto m = check_typed(gemm_model(tb, c, 1.5f, 0.5f), "gemm_to_conv1x1", {"Gemm"}, kRtol, kAtol);
            ASSERT_NE(m, nullptr);
            EXPECT_EQ(count_op(*m, "Conv"), 1);
            EXPECT_EQ(count_op(*m, "Reshape"), 2);
            expect_needs_only(*m, "gemm_to_conv1x1");
        }
    }
    check_declines(gemm_model(false, "row", 1, 1), "gemm_to_conv1x1");  // bias per row, not channel
    check_declines(gemm_model(false, "input", 1, 1), "gemm_to_conv1x1");
    check_declines(gemm_model(true, "const", 1, 1, 1), "gemm_to_conv1x1");
}

TEST(ConvertRewriteStructural, MatMulToGemm) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {3, 4});
    add_init_f32(&g, "w", {4, 5});
    add_node(&g, "MatMul", {"x", "w"}, {"y"});
    target(&g);
    add_output(&g, "y");
    auto m = check_typed(make_model(g), "matmul_to_gemm", {"MatMul"}, kRtol, kAtol);
    ASSERT_NE(m, nullptr);
    expect_needs_only(*m, "matmul_to_gemm");
    for (bool batched : {true, false}) {
        onnx::GraphProto d;
        add_input(&d, "x", F, batched ? std::vector<int64_t>{2, 3, 4} : std::vector<int64_t>{3, 4});
        if (batched)
            add_init_f32(&d, "w", {4, 5});
        else
            add_input(&d, "w", F, {4, 5});
        add_node(&d, "MatMul", {"x", "w"}, {"y"});
        target(&d);
        add_output(&d, "y");
        check_declines(make_model(d), "matmul_to_gemm");
    }
}

/// x [2, 8, s, s] -> Conv(W [4, 8/group, 1, 1], b) -> y.
onnx::ModelProto conv1x1_model(int64_t spatial, int64_t group, int64_t pad, bool bias) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 8, spatial, spatial});
    add_init_f32(&g, "w", {4, 8 / group, 1, 1});
    add_init_f32(&g, "b", {4});
    auto* n = add_node(&g, "Conv", bias ? std::vector<std::string>{"x", "w", "b"} : std::vector<std::string>{"x", "w"},
                       {"y"});
    if (group != 1) attr_int(n, "group", group);
    if (pad) attr_ints(n, "pads", {pad, pad, pad, pad});
    attr_ints(n, "strides", {2, 2});  // irrelevant on a 1x1 input
    target(&g);
    add_output(&g, "y");
    return make_model(g);
}

TEST(ConvertRewriteStructural, Conv1x1ToGemm) {
    for (bool bias : {true, false}) {
        auto m = check_typed(conv1x1_model(1, 1, 0, bias), "conv1x1_to_gemm", {"Conv"}, kRtol, kAtol);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(count_op(*m, "Gemm"), 1);
        expect_needs_only(*m, "conv1x1_to_gemm");
    }
    check_declines(conv1x1_model(2, 1, 0, true), "conv1x1_to_gemm");
    check_declines(conv1x1_model(1, 2, 0, true), "conv1x1_to_gemm");
    check_declines(conv1x1_model(1, 1, 1, true), "conv1x1_to_gemm");
}

/// x -> Conv(3x3) -> BatchNormalization -> y (the conv output optionally also a graph output).
onnx::ModelProto conv_bn_model(bool conv_bias, bool shared, bool mean_input) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 6, 6});
    add_init_f32(&g, "w", {4, 3, 3, 3});
    add_init_f32(&g, "cb", {4});
    attr_ints(
        add_node(&g, "Conv", conv_bias ? std::vector<std::string>{"x", "w", "cb"} : std::vector<std::string>{"x", "w"},
                 {"c"}),
        "pads", {1, 1, 1, 1});
    add_init_f32(&g, "scale", {4});
    add_init_f32(&g, "shift", {4});
    if (mean_input)
        add_input(&g, "mean", F, {4});
    else
        add_init_f32(&g, "mean", {4});
    add_init_f32(&g, "var", {4}, {}, 0.5f, 2.0f);
    attr_float(add_node(&g, "BatchNormalization", {"c", "scale", "shift", "mean", "var"}, {"y"}), "epsilon", 1e-3f);
    target(&g);
    add_output(&g, "y");
    if (shared) add_output(&g, "c");
    return make_model(g);
}

TEST(ConvertRewriteStructural, BatchNormFoldIntoConv) {
    for (bool bias : {true, false}) {
        auto m = check_typed(conv_bn_model(bias, false, false), "batchnorm_fold_into_conv", {"BatchNormalization"},
                             kRtol, kAtol);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(count_op(*m, "Conv"), 1);
        EXPECT_EQ(m->graph->nodes().size(), 1u);
    }
    check_declines(conv_bn_model(true, true, false), "batchnorm_fold_into_conv");
    check_declines(conv_bn_model(true, false, true), "batchnorm_fold_into_conv");
}

/// x [1, 3, 5, 5] -> Pad -> two Convs (3x3 with pads 1, and 1x1) -> y1, y2. `how` picks the variant.
onnx::ModelProto pad_conv_model(int opset, const std::string& how = "") {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 5, 5});
    const std::vector<int64_t> pads =
        how == "channels" ? std::vector<int64_t>{0, 1, 1, 2, 0, 0, 2, 1} : std::vector<int64_t>{0, 0, 1, 2, 0, 0, 2, 1};
    onnx::NodeProto* pad = nullptr;
    if (opset < 11) {
        pad = add_node(&g, "Pad", {"x"}, {"p"});
        attr_ints(pad, "pads", pads);
        if (how == "value") attr_float(pad, "value", 1.0f);
    } else if (opset >= 18) {
        add_init_i64(&g, "pads", {4}, {1, 2, 2, 1});
        add_init_i64(&g, "axes", {2}, {2, 3});
        pad = add_node(&g, "Pad", {"x", "pads", "", "axes"}, {"p"});
    } else {
        add_init_i64(&g, "pads", {8}, pads);
        add_scalar_f32(&g, "v", how == "value" ? 1.0f : 0.0f);
        pad = add_node(&g, "Pad", {"x", "pads", "v"}, {"p"});
    }
    if (how == "reflect") attr_string(pad, "mode", "reflect");
    target(&g);
    add_init_f32(&g, "w1", {4, 3, 3, 3});
    add_init_f32(&g, "w2", {2, 3, 1, 1});
    attr_ints(add_node(&g, "Conv", {"p", "w1"}, {"y1"}), "pads", {1, 1, 1, 1});
    if (how == "relu")
        add_node(&g, "Relu", {"p"}, {"y2"});
    else
        add_node(&g, "Conv", {"p", "w2"}, {"y2"});
    add_output(&g, "y1");
    add_output(&g, "y2");
    return make_model(g, opset);
}

TEST(ConvertRewriteStructural, PadFoldIntoConv) {
    for (int opset : {2, 13, 18}) {
        auto m = check_typed(pad_conv_model(opset), "pad_fold_into_conv", {"Pad"}, kRtol, kAtol);
        ASSERT_NE(m, nullptr) << opset;
        EXPECT_EQ(count_op(*m, "Conv"), 2);
        EXPECT_EQ(m->graph->nodes().size(), 2u);
        for (const auto& n : m->graph->nodes()) {
            if (n->name() == "Conv_2") {
                EXPECT_EQ(n->attr("pads")->ints, (std::vector<int64_t>{2, 3, 3, 2})) << opset;
            }
        }
    }
    for (const std::string how : {"value", "reflect", "channels", "relu"}) {
        check_declines(pad_conv_model(13, how), "pad_fold_into_conv");
    }
    check_declines(pad_conv_model(2, "value"), "pad_fold_into_conv");
}

onnx::ModelProto pool_model(int opset, const std::vector<int64_t>& shape) {
    onnx::GraphProto g;
    add_input(&g, "x", F, shape);
    add_node(&g, "GlobalAveragePool", {"x"}, {"y"});
    target(&g);
    add_output(&g, "y");
    return make_model(g, opset);
}

TEST(ConvertRewriteStructural, GlobalAvgPoolToReduceMean) {
    for (int opset : {13, 18}) {
        for (const auto& shape : {std::vector<int64_t>{2, 3, 4, 5}, std::vector<int64_t>{2, 3, 7}}) {
            const onnx::ModelProto src = pool_model(opset, shape);
            auto m = check_typed(src, "globalavgpool_to_reducemean", {"GlobalAveragePool"}, kRtol, kAtol);
            ASSERT_NE(m, nullptr);
            expect_needs_only(*m, "globalavgpool_to_reducemean");
            // Axes are an attribute before opset 18 and an input from 18 on.
            const onnx::ModelProto out = expect_export_matches(*m, src, kRtol, kAtol);
            const onnx::NodeProto* rm = proto_node(out, "ReduceMean");
            ASSERT_NE(rm, nullptr);
            EXPECT_EQ(has_attr(rm, "axes"), opset < 18);
            EXPECT_EQ(rm->input_size(), opset < 18 ? 1 : 2);
        }
    }
}

onnx::ModelProto reducemean_model(int opset, const std::vector<int64_t>& axes, int keepdims = 1) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3, 4, 5});
    onnx::NodeProto* n = nullptr;
    if (opset < 18) {
        n = add_node(&g, "ReduceMean", {"x"}, {"y"});
        attr_ints(n, "axes", axes);
    } else {
        add_init_i64(&g, "axes", {int64_t(axes.size())}, axes);
        n = add_node(&g, "ReduceMean", {"x", "axes"}, {"y"});
    }
    if (keepdims != 1) attr_int(n, "keepdims", keepdims);
    target(&g);
    add_output(&g, "y");
    return make_model(g, opset);
}

TEST(ConvertRewriteStructural, ReduceMeanToGlobalAvgPool) {
    for (int opset : {13, 18}) {
        for (const auto& axes : {std::vector<int64_t>{2, 3}, std::vector<int64_t>{-1, -2}}) {
            auto m =
                check_typed(reducemean_model(opset, axes), "reducemean_to_globalavgpool", {"ReduceMean"}, kRtol, kAtol);
            ASSERT_NE(m, nullptr);
            expect_needs_only(*m, "reducemean_to_globalavgpool");
        }
        check_declines(reducemean_model(opset, {1, 2}), "reducemean_to_globalavgpool");
        check_declines(reducemean_model(opset, {2, 3}, 0), "reducemean_to_globalavgpool");
    }
}

onnx::ModelProto dilated_model(const std::vector<int64_t>& dil, int64_t group, bool bias) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 4, 11, 10});
    add_init_f32(&g, "w", {6, 4 / group, 3, 2});
    add_init_f32(&g, "b", {6});
    auto* n = add_node(&g, "Conv", bias ? std::vector<std::string>{"x", "w", "b"} : std::vector<std::string>{"x", "w"},
                       {"y"});
    attr_ints(n, "dilations", dil);
    attr_ints(n, "kernel_shape", {3, 2});
    attr_ints(n, "pads", {2, 1, 1, 0});
    attr_ints(n, "strides", {1, 2});
    if (group != 1) attr_int(n, "group", group);
    target(&g);
    add_output(&g, "y");
    return make_model(g);
}

TEST(ConvertRewriteStructural, ConvDilationToDense) {
    for (const auto& dil : {std::vector<int64_t>{2, 2}, std::vector<int64_t>{3, 1}}) {
        for (int64_t group : {1, 2}) {
            auto m = check_typed(dilated_model(dil, group, group == 1), "conv_dilation_to_dense", {}, kRtol, kAtol);
            ASSERT_NE(m, nullptr);
            const ir::Node* c = find_node(*m, "Conv");
            ASSERT_NE(c, nullptr);
            EXPECT_EQ(c->attr("dilations"), nullptr);
            EXPECT_EQ(c->attr("kernel_shape")->ints, (std::vector<int64_t>{2 * dil[0] + 1, dil[1] + 1}));
            EXPECT_EQ(m->graph->nodes().size(), 1u);
        }
    }
    check_declines(dilated_model({1, 1}, 1, true), "conv_dilation_to_dense");
}

}  // namespace
}  // namespace nnport::testing

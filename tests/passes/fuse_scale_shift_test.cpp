// fuse_scale_shift: Mul -> Add (-> Relu / Clip) by constant vectors along the last axis -> com.nnport ScaleShift;
// near misses stay as they are.
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

/// y = clamp(x * s + b): x [2, 5, 6, 16]; s and b of shape `sb`; `act` "" (none), "Relu" or "Clip".
onnx::GraphProto affine(const std::vector<int64_t>& sb, const std::string& act, bool s_first = false,
                        bool b_first = false) {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {2, 5, 6, 16});
    int64_t n = 1;
    for (int64_t d : sb) n *= d;
    std::vector<float> sv, bv;
    for (int64_t i = 0; i < n; ++i) {
        sv.push_back(0.5f + 0.1f * static_cast<float>(i % 16));
        bv.push_back(-0.3f + 0.05f * static_cast<float>(i % 16));
    }
    add_init_f32(&g, "s", sb, sv);
    add_init_f32(&g, "b", sb, bv);
    add_node(&g, "Mul", s_first ? std::vector<std::string>{"s", "x"} : std::vector<std::string>{"x", "s"}, {"m"});
    const std::string sum = act.empty() ? "y" : "a";
    add_node(&g, "Add", b_first ? std::vector<std::string>{"b", "m"} : std::vector<std::string>{"m", "b"}, {sum});
    if (act == "Relu") add_node(&g, "Relu", {"a"}, {"y"});
    if (act == "Clip") {
        add_scalar_f32(&g, "lo", -0.1f);
        add_scalar_f32(&g, "hi", 0.6f);
        add_node(&g, "Clip", {"a", "lo", "hi"}, {"y"});
    }
    add_output(&g, "y");
    return g;
}

TEST(FuseScaleShift, MulAddBecomesOneNode) {
    auto m = check_pass(make_model(affine({16}, ""), 17), "fuse_scale_shift");
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->graph->nodes().size(), 1u);
    const ir::Node* n = find_node(*m, "ScaleShift");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->domain(), "com.nnport");
    EXPECT_EQ(n->attr("activation")->s, "Identity");
    EXPECT_EQ(n->input(0)->name(), "x");
}

TEST(FuseScaleShift, OperandOrderAndLeadingOnes) {
    for (bool s_first : {false, true}) {
        for (bool b_first : {false, true}) {
            SCOPED_TRACE(std::to_string(s_first) + std::to_string(b_first));
            auto m = check_pass(make_model(affine({1, 1, 1, 16}, "", s_first, b_first), 17), "fuse_scale_shift");
            ASSERT_NE(m, nullptr);
            EXPECT_EQ(count_op(*m, "ScaleShift"), 1);
            EXPECT_EQ(m->graph->nodes().size(), 1u);
        }
    }
}

TEST(FuseScaleShift, AbsorbsReluAndClip) {
    auto m = check_pass(make_model(affine({1, 16}, "Relu"), 17), "fuse_scale_shift");
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->graph->nodes().size(), 1u);
    EXPECT_EQ(find_node(*m, "ScaleShift")->attr("activation")->s, "Relu");
    m = check_pass(make_model(affine({16}, "Clip"), 17), "fuse_scale_shift");
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->graph->nodes().size(), 1u);
    const ir::Node* n = find_node(*m, "ScaleShift");
    EXPECT_EQ(n->attr("activation")->s, "Clip");
    EXPECT_EQ(n->attr("activation_params")->floats, (std::vector<float>{-0.1f, 0.6f}));
}

TEST(FuseScaleShift, NearMissesStay) {
    // Not along the last axis (channel axis 1 of NCHW), a full-size operand, and a scalar.
    for (const std::vector<int64_t>& sb : std::vector<std::vector<int64_t>>{{1, 5, 1, 1}, {2, 5, 6, 16}, {1}}) {
        check_pass(make_model(affine(sb, "Relu"), 17), "fuse_scale_shift", false);
    }
    // The product is also read elsewhere.
    onnx::GraphProto g = affine({16}, "");
    add_node(&g, "Neg", {"m"}, {"nm"});
    add_output(&g, "nm");
    check_pass(make_model(g, 17), "fuse_scale_shift", false);
    // Computed (not constant) scale.
    onnx::GraphProto h;
    add_input(&h, "x", onnx::TensorProto::FLOAT, {2, 16});
    add_input(&h, "s", onnx::TensorProto::FLOAT, {16});
    add_init_f32(&h, "b", {16}, std::vector<float>(16, 0.5f));
    add_node(&h, "Mul", {"x", "s"}, {"m"});
    add_node(&h, "Add", {"m", "b"}, {"y"});
    add_output(&h, "y");
    check_pass(make_model(h, 17), "fuse_scale_shift", false);
    EXPECT_FALSE(changes_without_custom_ops(make_model(affine({16}, "Relu"), 17), "fuse_scale_shift"));
}

TEST(FuseScaleShift, ReluReadByOthersStaysOutside) {
    // The sum feeds a Relu and a graph output: Mul + Add fuse, the Relu stays.
    onnx::GraphProto g = affine({16}, "Relu");
    add_output(&g, "a");
    auto m = check_pass(make_model(g, 17), "fuse_scale_shift");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "ScaleShift"), 1);
    EXPECT_EQ(count_op(*m, "Relu"), 1);
    EXPECT_EQ(find_node(*m, "ScaleShift")->attr("activation")->s, "Identity");
}

/// Concat(a, b) along the last axis -> Mul -> Add -> Relu; the Concat also a graph output when `shared`.
onnx::GraphProto concat_affine(bool shared, int64_t axis = -1) {
    onnx::GraphProto g;
    add_input(&g, "a", onnx::TensorProto::FLOAT, {1, 4, 5, 16});
    add_input(&g, "b", onnx::TensorProto::FLOAT, {1, 4, 5, 16});
    attr_int(add_node(&g, "Concat", {"a", "b"}, {"x"}), "axis", axis);
    std::vector<float> sv(32), bv(32);
    for (int i = 0; i < 32; ++i) {
        sv[size_t(i)] = 0.5f + 0.03f * float(i);
        bv[size_t(i)] = -0.2f + 0.01f * float(i);
    }
    add_init_f32(&g, "s", {32}, sv);
    add_init_f32(&g, "sh", {32}, bv);
    add_node(&g, "Mul", {"x", "s"}, {"m"});
    add_node(&g, "Add", {"m", "sh"}, {"p"});
    add_node(&g, "Relu", {"p"}, {"y"});
    add_output(&g, "y");
    if (shared) add_output(&g, "x");
    return g;
}

TEST(FuseScaleShift, ALastAxisConcatJoinsAsFusedConcat) {
    for (int64_t axis : {-1, 3}) {
        auto m = check_pass(make_model(concat_affine(false, axis), 17), "fuse_scale_shift");
        ASSERT_NE(m, nullptr);
        ASSERT_EQ(m->graph->nodes().size(), 1u);
        const ir::Node* n = find_node(*m, "FusedConcat");
        ASSERT_NE(n, nullptr);
        EXPECT_EQ(n->inputs().size(), 4u);
        EXPECT_EQ(n->attr("activation")->s, "Relu");
    }
    // The Concat is read elsewhere too: it stays, the affine becomes a ScaleShift.
    auto m = check_pass(make_model(concat_affine(true), 17), "fuse_scale_shift");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "Concat"), 1);
    EXPECT_EQ(count_op(*m, "ScaleShift"), 1);
    EXPECT_EQ(count_op(*m, "FusedConcat"), 0);
}

}  // namespace
}  // namespace nnport::testing

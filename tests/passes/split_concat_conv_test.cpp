// split_concat_conv: channel Concat [-> MaxPool / AveragePool] -> 1x1 Conv becomes one Conv per input, summed (the
// outputs equal the original's up to summation order); near misses stay; the pipeline fuses the sums as residuals.
#include "passes/fusion_test_util.hpp"

namespace nnport::testing {
namespace {

struct Fire {
    std::vector<int64_t> in_channels = {16, 32};
    std::string pool;           ///< "", "MaxPool" or "AveragePool" between Concat and Conv
    int64_t kernel = 1;         ///< the Conv's kernel size
    int64_t group = 1;          ///< the Conv's group
    int64_t axis = 1;           ///< the Concat's axis
    bool bias = true;           ///< the Conv has a bias
    bool extra_reader = false;  ///< the Concat output is also a graph output
    bool weight_input = false;  ///< the weights are a graph input, not a constant
};

/// Relu(Conv(pool?(Concat(x0, x1, ...)))) with x_i [1, C_i, 9, 9].
onnx::GraphProto fire(const Fire& f) {
    onnx::GraphProto g;
    std::vector<std::string> xs;
    int64_t total = 0;
    for (size_t i = 0; i < f.in_channels.size(); ++i) {
        const std::string x = "x" + std::to_string(i);
        add_input(&g, x, onnx::TensorProto::FLOAT,
                  f.axis == 1 ? std::vector<int64_t>{1, f.in_channels[i], 9, 9}
                              : std::vector<int64_t>{1, 16, 9, f.in_channels[i]});
        xs.push_back(x);
        total += f.in_channels[i];
    }
    attr_int(add_node(&g, "Concat", xs, {"cat"}), "axis", f.axis);
    std::string cur = "cat";
    if (!f.pool.empty()) {
        auto* p = add_node(&g, f.pool, {"cat"}, {"pooled"});
        attr_ints(p, "kernel_shape", {3, 3});
        attr_ints(p, "strides", {2, 2});
        cur = "pooled";
    }
    const int64_t cin = f.axis == 1 ? total : 16;
    if (f.weight_input) {
        add_input(&g, "w", onnx::TensorProto::FLOAT, {24, cin / f.group, f.kernel, f.kernel});
    } else {
        add_init_f32(&g, "w", {24, cin / f.group, f.kernel, f.kernel});
    }
    std::vector<std::string> ins = {cur, "w"};
    if (f.bias) {
        add_init_f32(&g, "b", {24});
        ins.push_back("b");
    }
    attr_int(add_node(&g, "Conv", ins, {"c"}), "group", f.group);
    add_node(&g, "Relu", {"c"}, {"y"});
    add_output(&g, "y");
    if (f.extra_reader) add_output(&g, "cat");
    return g;
}

TEST(SplitConcatConv, ConcatBeforeOneByOneConvBecomesSummedConvs) {
    for (bool bias : {true, false}) {
        Fire f;
        f.bias = bias;
        auto m = check_pass(make_model(fire(f), 17), "split_concat_conv");
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(count_op(*m, "Concat"), 0);
        EXPECT_EQ(count_op(*m, "Conv"), 2);
        EXPECT_EQ(count_op(*m, "Add"), 1);
    }
    Fire three;
    three.in_channels = {16, 24, 40};
    auto m = check_pass(make_model(fire(three), 17), "split_concat_conv");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "Concat"), 0);
    EXPECT_EQ(count_op(*m, "Conv"), 3);
    EXPECT_EQ(count_op(*m, "Add"), 2);
}

TEST(SplitConcatConv, PoolingMovesOntoEachInput) {
    for (const char* pool : {"MaxPool", "AveragePool"}) {
        Fire f;
        f.pool = pool;
        auto m = check_pass(make_model(fire(f), 17), "split_concat_conv");
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(count_op(*m, "Concat"), 0);
        EXPECT_EQ(count_op(*m, pool), 2);
        EXPECT_EQ(count_op(*m, "Conv"), 2);
    }
}

TEST(SplitConcatConv, NearMissesStay) {
    std::vector<std::pair<std::string, Fire>> cases;
    Fire f;
    f.kernel = 3;
    cases.emplace_back("3x3 kernel", f);
    f = Fire{};
    f.group = 2;
    cases.emplace_back("grouped", f);
    f = Fire{};
    f.in_channels = {8, 40};
    cases.emplace_back("an input under 16 channels", f);
    f = Fire{};
    f.in_channels = {16, 16, 16, 16, 16};
    cases.emplace_back("five inputs", f);
    f = Fire{};
    f.axis = 3;
    cases.emplace_back("not the channel axis", f);
    f = Fire{};
    f.extra_reader = true;
    cases.emplace_back("the Concat is also read elsewhere", f);
    f = Fire{};
    f.weight_input = true;
    cases.emplace_back("weights not constant", f);
    for (const auto& [what, c] : cases) {
        SCOPED_TRACE(what);
        check_pass(make_model(fire(c), 17), "split_concat_conv", false);
    }
    EXPECT_FALSE(changes_without_custom_ops(make_model(fire(Fire{}), 17), "split_concat_conv"));
}

TEST(SplitConcatConv, PipelineFusesTheSumsAsResiduals) {
    Fire f;
    f.pool = "MaxPool";
    f.in_channels = {16, 24, 40};
    auto m = check_pipeline(make_model(fire(f), 17));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(count_op(*m, "Concat"), 0);
    EXPECT_EQ(count_op(*m, "Add"), 0);
    EXPECT_EQ(count_op(*m, "FusedConv"), 2);  // each with the running sum as its residual Z; the last adds the Relu
    EXPECT_EQ(count_op(*m, "Conv"), 1);
}

}  // namespace
}  // namespace nnport::testing

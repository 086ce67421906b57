// Loss, Dropout and training-optimizer edge cases and rejections.
#include <gtest/gtest.h>

#include <cmath>

#include "util/op_runner.hpp"

namespace nnport {
namespace {

Result<std::vector<RtValue>> run(const std::string& op, std::vector<Tensor> in, ir::Attributes attrs = {},
                                 int outputs = 1, const std::string& domain = "") {
    return testing::run_simple(op, std::move(in), std::move(attrs), outputs, domain.empty() ? 18 : 1, domain);
}

using testing::values;

ir::Attributes reduction(const std::string& r) { return {{"reduction", ir::Attribute::make_string(r)}}; }

// input [N=2, C=3, d1=2] as in the ONNX NegativeLogLikelihoodLoss examples.
Tensor nll_input() {
    return Tensor::from_vector<float>({2, 3, 2}, {1, 2, 2, 2, 3, 2, 0, 1, 2, 2, 1, 2});
}
Tensor nll_target() { return Tensor::from_vector<int64_t>({2, 2}, {2, 1, 0, 2}); }

TEST(NegativeLogLikelihoodLoss, NoneSumAndWeightedMean) {
    auto none = run("NegativeLogLikelihoodLoss", {nll_input(), nll_target()}, reduction("none"));
    ASSERT_TRUE(none.is_ok()) << none.status().to_string();
    EXPECT_EQ(none.value()[0].tensor.shape(), (Shape{2, 2}));
    EXPECT_EQ(values<float>(none.value()[0].tensor), (std::vector<float>{-3, -2, -0, -2}));
    const Tensor w = Tensor::from_vector<float>({3}, {0.2f, 0.3f, 0.1f});
    auto sum = run("NegativeLogLikelihoodLoss", {nll_input(), nll_target(), w}, reduction("sum"));
    ASSERT_TRUE(sum.is_ok());
    EXPECT_EQ(sum.value()[0].tensor.shape(), Shape{});
    EXPECT_NEAR(sum.value()[0].tensor.data<float>()[0], -1.1f, 1e-6);
    auto mean = run("NegativeLogLikelihoodLoss", {nll_input(), nll_target(), w});  // default reduction: mean
    ASSERT_TRUE(mean.is_ok());
    EXPECT_NEAR(mean.value()[0].tensor.data<float>()[0], -1.1f / 0.7f, 1e-5);
}

TEST(NegativeLogLikelihoodLoss, NegativeIgnoreIndexAndInt32Double) {
    const Tensor x = Tensor::from_vector<double>({2, 3}, {-1, -2, -3, -4, -5, -6});
    const Tensor t = Tensor::from_vector<int32_t>({2}, {-1, 2});
    ir::Attributes a = reduction("mean");
    a["ignore_index"] = ir::Attribute::make_int(-1);
    auto out = run("NegativeLogLikelihoodLoss", {x, t}, a);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.dtype(), DType::kFloat64);
    EXPECT_DOUBLE_EQ(out.value()[0].tensor.data<double>()[0], 6.0);  // the ignored sample is not counted
}

TEST(NegativeLogLikelihoodLoss, AllIgnoredMeanIsNan) {
    ir::Attributes a = reduction("mean");
    a["ignore_index"] = ir::Attribute::make_int(7);
    auto out = run("NegativeLogLikelihoodLoss",
                   {Tensor::from_vector<float>({1, 2}, {-1, -2}), Tensor::from_vector<int64_t>({1}, {7})}, a);
    ASSERT_TRUE(out.is_ok());
    EXPECT_TRUE(std::isnan(out.value()[0].tensor.data<float>()[0]));
}

TEST(NegativeLogLikelihoodLoss, EmptyBatchNone) {
    auto out = run("NegativeLogLikelihoodLoss",
                   {Tensor::from_vector<float>({0, 3, 2}, {}), Tensor::from_vector<int64_t>({0, 2}, {})},
                   reduction("none"));
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{0, 2}));
}

TEST(NegativeLogLikelihoodLoss, RejectsBadTargetIndex) {
    const Tensor bad_high = Tensor::from_vector<int64_t>({2, 2}, {2, 3, 0, 2});
    auto out = run("NegativeLogLikelihoodLoss", {nll_input(), bad_high});
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("node 'node'"), std::string::npos) << out.status().message();
    EXPECT_NE(out.status().message().find("target value 3"), std::string::npos) << out.status().message();
    // A negative target is an error unless it is the ignore_index.
    const Tensor neg = Tensor::from_vector<int64_t>({2, 2}, {2, -2, 0, 2});
    ir::Attributes a;
    a["ignore_index"] = ir::Attribute::make_int(-1);
    EXPECT_FALSE(run("NegativeLogLikelihoodLoss", {nll_input(), neg}, a).is_ok());
    EXPECT_FALSE(run("NegativeLogLikelihoodLoss", {nll_input(), neg}).is_ok());
}

TEST(NegativeLogLikelihoodLoss, RejectsWeightShapeMismatch) {
    const Tensor w = Tensor::from_vector<float>({2}, {1, 1});
    auto out = run("NegativeLogLikelihoodLoss", {nll_input(), nll_target(), w});
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("weight"), std::string::npos) << out.status().message();
    const Tensor w2 = Tensor::from_vector<double>({3}, {1, 1, 1});  // dtype differs from input
    EXPECT_FALSE(run("NegativeLogLikelihoodLoss", {nll_input(), nll_target(), w2}).is_ok());
}

TEST(NegativeLogLikelihoodLoss, RejectsBadReductionAndShapes) {
    auto out = run("NegativeLogLikelihoodLoss", {nll_input(), nll_target()}, reduction("average"));
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("reduction"), std::string::npos) << out.status().message();
    // Target not (N, d1..dk).
    EXPECT_FALSE(run("NegativeLogLikelihoodLoss", {nll_input(), Tensor::from_vector<int64_t>({2, 3}, {})}).is_ok());
    EXPECT_FALSE(run("NegativeLogLikelihoodLoss", {nll_input(), Tensor::from_vector<int64_t>({2}, {0, 1})}).is_ok());
    // Input of rank 1, float targets.
    EXPECT_FALSE(run("NegativeLogLikelihoodLoss",
                     {Tensor::from_vector<float>({3}, {1, 2, 3}), Tensor::from_vector<int64_t>({}, {0})})
                     .is_ok());
    EXPECT_FALSE(run("NegativeLogLikelihoodLoss", {nll_input(), Tensor::from_vector<float>({2, 2}, {0, 0, 0, 0})})
                     .is_ok());
}

TEST(SoftmaxCrossEntropyLoss, LargeLogitsStayFiniteWithLogProb) {
    const Tensor x = Tensor::from_vector<float>({2, 2}, {1000, 1001, -1000, 0});
    const Tensor t = Tensor::from_vector<int64_t>({2}, {0, 1});
    auto out = run("SoftmaxCrossEntropyLoss", {x, t}, reduction("none"), 2);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const std::vector<float> loss = values<float>(out.value()[0].tensor);
    const double l0 = std::log1p(std::exp(-1.0)) + 1.0;  // -log softmax([1000, 1001])[0]
    EXPECT_NEAR(loss[0], l0, 1e-5);
    EXPECT_NEAR(loss[1], 0.0, 1e-6);
    const Tensor& lp = out.value()[1].tensor;
    EXPECT_EQ(lp.shape(), (Shape{2, 2}));
    EXPECT_NEAR(lp.data<float>()[0], -l0, 1e-5);
    EXPECT_NEAR(lp.data<float>()[2], -1000.0, 1e-3);
}

TEST(SoftmaxCrossEntropyLoss, SpatialIgnoreIndexSum) {
    // [N=1, C=2, d1=3]: uniform logits, so every counted sample costs log 2.
    const Tensor x = Tensor::from_vector<float>({1, 2, 3}, {0, 0, 0, 0, 0, 0});
    const Tensor t = Tensor::from_vector<int32_t>({1, 3}, {1, 5, 0});
    ir::Attributes a = reduction("sum");
    a["ignore_index"] = ir::Attribute::make_int(5);
    auto out = run("SoftmaxCrossEntropyLoss", {x, t}, a);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_NEAR(out.value()[0].tensor.data<float>()[0], 2 * std::log(2.0), 1e-6);
}

TEST(SoftmaxCrossEntropyLoss, RejectsBadTargetAndWeight) {
    const Tensor x = Tensor::from_vector<float>({2, 3}, {0, 0, 0, 0, 0, 0});
    auto bad = run("SoftmaxCrossEntropyLoss", {x, Tensor::from_vector<int64_t>({2}, {0, 3})});
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("SoftmaxCrossEntropyLoss node"), std::string::npos);
    EXPECT_FALSE(run("SoftmaxCrossEntropyLoss",
                     {x, Tensor::from_vector<int64_t>({2}, {0, 1}), Tensor::from_vector<float>({1, 3}, {1, 1, 1})})
                     .is_ok());
    EXPECT_FALSE(run("SoftmaxCrossEntropyLoss", {x, Tensor::from_vector<int64_t>({2}, {0, 1})}, reduction("max"))
                     .is_ok());
}

const Tensor& dropout_input() {
    static const Tensor x = [] {
        std::vector<float> v(1000);
        for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i + 1);
        return Tensor::from_vector<float>({10, 100}, v);
    }();
    return x;
}

TEST(Dropout, InferenceIsIdentityWithTrueMask) {
    auto out = run("Dropout", {dropout_input(), Tensor::scalar<float>(0.9f)}, {}, 2);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), values<float>(dropout_input()));
    const Tensor& m = out.value()[1].tensor;
    EXPECT_EQ(m.dtype(), DType::kBool);
    for (int64_t i = 0; i < m.numel(); ++i) ASSERT_TRUE(m.data<bool>()[i]);
}

TEST(Dropout, TrainingZeroRatioIsIdentity) {
    auto out = run("Dropout", {dropout_input(), Tensor::scalar<float>(0.f), Tensor::scalar<bool>(true)}, {}, 2);
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(values<float>(out.value()[0].tensor), values<float>(dropout_input()));
}

TEST(Dropout, TrainingSeededMaskIsRepeatableAndScaled) {
    const ir::Attributes seed = {{"seed", ir::Attribute::make_int(42)}};
    std::vector<Tensor> in = {dropout_input(), Tensor::scalar<float>(0.5f), Tensor::scalar<bool>(true)};
    auto a = run("Dropout", in, seed, 2);
    auto b = run("Dropout", in, seed, 2);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    EXPECT_EQ(values<float>(a.value()[0].tensor), values<float>(b.value()[0].tensor));
    const float* y = a.value()[0].tensor.data<float>();
    const bool* m = a.value()[1].tensor.data<bool>();
    int kept = 0;
    for (int64_t i = 0; i < 1000; ++i) {
        ASSERT_EQ(y[i], m[i] ? 2.f * static_cast<float>(i + 1) : 0.f) << i;
        kept += m[i];
    }
    EXPECT_GT(kept, 400);
    EXPECT_LT(kept, 600);
}

TEST(Dropout, RejectsBadRatioAndTrainingMode) {
    EXPECT_FALSE(run("Dropout", {dropout_input(), Tensor::scalar<float>(1.f), Tensor::scalar<bool>(true)}).is_ok());
    EXPECT_FALSE(run("Dropout", {dropout_input(), Tensor::scalar<float>(-0.1f), Tensor::scalar<bool>(true)}).is_ok());
    EXPECT_FALSE(run("Dropout", {dropout_input(), Tensor::scalar<float>(0.5f), Tensor::scalar<int64_t>(1)}).is_ok());
    EXPECT_FALSE(run("Dropout", {dropout_input(), Tensor::from_vector<float>({2}, {0.1f, 0.2f})}).is_ok());
}

constexpr const char* kTraining = "ai.onnx.preview.training";

TEST(Adagrad, DecayAndRegularization) {
    ir::Attributes a = {{"decay_factor", ir::Attribute::make_float(0.5f)},
                        {"norm_coefficient", ir::Attribute::make_float(0.1f)},
                        {"epsilon", ir::Attribute::make_float(0.f)}};
    auto out = run("Adagrad",
                   {Tensor::scalar<float>(0.3f), Tensor::scalar<int64_t>(2), Tensor::from_vector<double>({1}, {2.0}),
                    Tensor::from_vector<double>({1}, {0.8}), Tensor::from_vector<double>({1}, {3.0})},
                   a, 2, kTraining);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    // r = 0.3 / 2; g = 0.1 * 2 + 0.8 = 1; h = 4; x = 2 - 0.15 * 1 / 2.
    EXPECT_NEAR(out.value()[0].tensor.data<double>()[0], 1.925, 1e-7);
    EXPECT_NEAR(out.value()[1].tensor.data<double>()[0], 4.0, 1e-7);
}

TEST(Momentum, StandardAndNesterovAfterFirstStep) {
    auto step = [](const std::string& mode) {
        ir::Attributes a = {{"alpha", ir::Attribute::make_float(0.5f)}, {"beta", ir::Attribute::make_float(0.25f)},
                            {"norm_coefficient", ir::Attribute::make_float(0.f)},
                            {"mode", ir::Attribute::make_string(mode)}};
        return run("Momentum",
                   {Tensor::scalar<float>(0.1f), Tensor::scalar<int64_t>(3), Tensor::from_vector<float>({2}, {1, 1}),
                    Tensor::from_vector<float>({2}, {4, 8}), Tensor::from_vector<float>({2}, {2, 0})},
                   a, 2, kTraining);
    };
    auto s = step("standard");
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(values<float>(s.value()[1].tensor), (std::vector<float>{2, 2}));  // 0.5 v + 0.25 g
    EXPECT_NEAR(s.value()[0].tensor.data<float>()[0], 0.8f, 1e-6);
    auto n = step("nesterov");
    ASSERT_TRUE(n.is_ok());
    EXPECT_NEAR(n.value()[0].tensor.data<float>()[0], 1 - 0.1f * (4 + 0.5f * 2), 1e-6);
}

TEST(Adam, BiasCorrectionWhenTPositive) {
    ir::Attributes a = {{"alpha", ir::Attribute::make_float(0.5f)}, {"beta", ir::Attribute::make_float(0.75f)},
                        {"epsilon", ir::Attribute::make_float(0.f)},
                        {"norm_coefficient_post", ir::Attribute::make_float(0.5f)}};
    auto out = run("Adam",
                   {Tensor::scalar<double>(1.0), Tensor::scalar<int64_t>(1), Tensor::from_vector<float>({1}, {3}),
                    Tensor::from_vector<float>({1}, {2}), Tensor::from_vector<float>({1}, {0}),
                    Tensor::from_vector<float>({1}, {0})},
                   a, 3, kTraining);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    // v = 1, h = 1; r = sqrt(1 - 0.75) / (1 - 0.5) = 1; x = (3 - 1) * 0.5.
    EXPECT_NEAR(out.value()[0].tensor.data<float>()[0], 1.0f, 1e-6);
    EXPECT_NEAR(out.value()[1].tensor.data<float>()[0], 1.0f, 1e-6);
    EXPECT_NEAR(out.value()[2].tensor.data<float>()[0], 1.0f, 1e-6);
}

TEST(TrainingOptimizers, RejectsBadArity) {
    const Tensor r = Tensor::scalar<float>(0.1f), t = Tensor::scalar<int64_t>(0);
    const Tensor x = Tensor::from_vector<float>({2}, {1, 2});
    // Adam needs X, G, V, H per tensor: 5 inputs is one short.
    EXPECT_FALSE(run("Adam", {r, t, x, x, x}, {}, 3, kTraining).is_ok());
    // Adagrad with 3 outputs for one tensor.
    EXPECT_FALSE(run("Adagrad", {r, t, x, x, x}, {}, 3, kTraining).is_ok());
}

TEST(TrainingOptimizers, RejectsShapeAndTypeMismatch) {
    const Tensor r = Tensor::scalar<float>(0.1f), t = Tensor::scalar<int64_t>(0);
    const Tensor x = Tensor::from_vector<float>({2}, {1, 2});
    const Tensor g3 = Tensor::from_vector<float>({3}, {1, 2, 3});
    EXPECT_FALSE(run("Adagrad", {r, t, x, g3, x}, {}, 2, kTraining).is_ok());
    EXPECT_FALSE(run("Adagrad", {r, Tensor::scalar<int32_t>(0), x, x, x}, {}, 2, kTraining).is_ok());
    ir::Attributes m = {{"alpha", ir::Attribute::make_float(0.5f)}, {"beta", ir::Attribute::make_float(0.5f)},
                        {"norm_coefficient", ir::Attribute::make_float(0.f)},
                        {"mode", ir::Attribute::make_string("heavy_ball")}};
    EXPECT_FALSE(run("Momentum", {r, t, x, x, x}, m, 2, kTraining).is_ok());
    m.erase("alpha");
    m["mode"] = ir::Attribute::make_string("standard");
    EXPECT_FALSE(run("Momentum", {r, t, x, x, x}, m, 2, kTraining).is_ok());  // alpha is required
}

}  // namespace
}  // namespace nnport

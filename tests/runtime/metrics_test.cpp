// Benchmark metrics: percentiles, latency summaries, output comparison against a reference.
#include "runtime/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace nnport {
namespace {

TEST(Metrics, PercentileInterpolatesLikeNumpy) {
    const std::vector<double> v = {1, 2, 3, 4, 10};
    EXPECT_DOUBLE_EQ(percentile(v, 0.0), 1.0);
    EXPECT_DOUBLE_EQ(percentile(v, 0.5), 3.0);
    EXPECT_DOUBLE_EQ(percentile(v, 0.9), 7.6);  // numpy.percentile([1,2,3,4,10], 90)
    EXPECT_DOUBLE_EQ(percentile(v, 1.0), 10.0);
    EXPECT_DOUBLE_EQ(percentile({}, 0.5), 0.0);
    EXPECT_DOUBLE_EQ(percentile({5}, 0.99), 5.0);
}

TEST(Metrics, SummaryIsOrderedAndMatchesHandValues) {
    const LatencySummary s = summarize_latencies({4, 1, 3, 2, 10});
    EXPECT_EQ(s.count, 5);
    EXPECT_DOUBLE_EQ(s.min, 1.0);
    EXPECT_DOUBLE_EQ(s.max, 10.0);
    EXPECT_DOUBLE_EQ(s.mean, 4.0);
    EXPECT_DOUBLE_EQ(s.median, 3.0);
    EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(10.0));  // deviations 0,-3,-1,-2,6 -> 50/5
    EXPECT_LE(s.min, s.median);
    EXPECT_LE(s.median, s.p90);
    EXPECT_LE(s.p90, s.p99);
    EXPECT_LE(s.p99, s.max);
    EXPECT_EQ(summarize_latencies({}).count, 0);
}

TEST(Metrics, IdenticalOutputsHaveNoError) {
    const Tensor t = Tensor::from_vector<float>({2, 3}, {1, 5, 2, 9, 0, -1});
    auto d = compare_outputs(t, t);
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_EQ(d->count, 6);
    EXPECT_EQ(d->max_abs, 0.0);
    EXPECT_EQ(d->max_rel, 0.0);
    EXPECT_NEAR(d->cosine, 1.0, 1e-12);
    EXPECT_TRUE(d->classifier);
    EXPECT_EQ(d->top1_agreement, 1.0);
}

TEST(Metrics, ReportsAbsRelCosineAndTop1) {
    const Tensor ref = Tensor::from_vector<float>({2, 3}, {1, 5, 2, 9, 0, -1});
    const Tensor got = Tensor::from_vector<float>({2, 3}, {1, 5, 2, 0, 0.5f, -1});  // row 1's arg-max moves
    auto d = compare_outputs(got, ref);
    ASSERT_TRUE(d.is_ok());
    EXPECT_DOUBLE_EQ(d->max_abs, 9.0);
    EXPECT_DOUBLE_EQ(d->max_rel, 1.0);  // 9 / max|ref| = 9 / 9
    const double dot = 1 + 25 + 4 + 0 + 0 + 1, ng = std::sqrt(1 + 25 + 4 + 0 + 0.25 + 1), nr = std::sqrt(1 + 25 + 4 + 81.0 + 1);
    EXPECT_NEAR(d->cosine, dot / (ng * nr), 1e-12);
    EXPECT_DOUBLE_EQ(d->top1_agreement, 0.5);
}

TEST(Metrics, NonClassifierShapesHaveNoTop1) {
    const Tensor t = Tensor::from_vector<float>({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    auto d = compare_outputs(t, t);
    ASSERT_TRUE(d.is_ok());
    EXPECT_FALSE(d->classifier);
    auto s = compare_outputs(Tensor::from_vector<float>({1}, {3}), Tensor::from_vector<float>({1}, {3}));
    ASSERT_TRUE(s.is_ok());
    EXPECT_FALSE(s->classifier);  // a single class is no classifier
}

TEST(Metrics, CountsNonFiniteMismatchesApart) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const Tensor ref = Tensor::from_vector<float>({4}, {nan, inf, 1, 2});
    const Tensor got = Tensor::from_vector<float>({4}, {nan, 3, 1, 2.5f});
    auto d = compare_outputs(got, ref);
    ASSERT_TRUE(d.is_ok());
    EXPECT_EQ(d->nonfinite_mismatches, 1);  // NaN == NaN agrees; inf vs 3 does not
    EXPECT_DOUBLE_EQ(d->max_abs, 0.5);
}

TEST(Metrics, MixedFloatWidthsCompare) {
    const Tensor ref = Tensor::from_vector<double>({2}, {1.0, 2.0});
    const Tensor got = Tensor::from_vector<float>({2}, {1.0f, 2.25f});
    auto d = compare_outputs(got, ref);
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_DOUBLE_EQ(d->max_abs, 0.25);
}

TEST(Metrics, RejectsShapeAndDtypeMismatch) {
    const Tensor f = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
    auto shape = compare_outputs(f, Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
    ASSERT_FALSE(shape.is_ok());
    EXPECT_NE(shape.status().message().find("shape [2,3] but the reference is [3,2]"), std::string::npos)
        << shape.status().message();
    auto dtype = compare_outputs(f, Tensor::from_vector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6}));
    ASSERT_FALSE(dtype.is_ok());
    EXPECT_NE(dtype.status().message().find("int64"), std::string::npos) << dtype.status().message();
}

}  // namespace
}  // namespace nnport

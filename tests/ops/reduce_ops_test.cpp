// Reduce* edge cases: empty sets, noop, integer types, strided layouts, NaN, rejections.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "util/op_runner.hpp"

namespace nnport {
namespace {

Result<std::vector<RtValue>> reduce(const std::string& op, Tensor x, std::vector<int64_t> axes, int keepdims = 1,
                                    int noop = 0, bool axes_given = true) {
    testing::OpRun r;
    r.op_type = op;
    r.inputs = {std::move(x)};
    if (axes_given) r.inputs.push_back(Tensor::from_vector<int64_t>({static_cast<int64_t>(axes.size())}, axes));
    r.attrs["keepdims"] = ir::Attribute::make_int(keepdims);
    r.attrs["noop_with_empty_axes"] = ir::Attribute::make_int(noop);
    return testing::run_op(r);
}

Tensor iota_f(Shape s) {
    std::vector<float> v(static_cast<size_t>(shape_numel(s)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) - 2.5f + 0.01f * static_cast<float>(i);
    return Tensor::from_vector<float>(s, v);
}

TEST(Reduce, EmptySetValues) {
    const Tensor x = Tensor::create(DType::kFloat32, {2, 0, 3}).value();
    struct Case {
        const char* op;
        float want;
    };
    for (const Case& c : {Case{"ReduceMax", -INFINITY}, Case{"ReduceMin", INFINITY}, Case{"ReduceProd", 1.f},
                          Case{"ReduceSum", 0.f}, Case{"ReduceL1", 0.f}, Case{"ReduceL2", 0.f},
                          Case{"ReduceSumSquare", 0.f}, Case{"ReduceLogSum", -INFINITY},
                          Case{"ReduceLogSumExp", -INFINITY}}) {
        auto out = reduce(c.op, x, {1});
        ASSERT_TRUE(out.is_ok()) << c.op << ": " << out.status().to_string();
        const Tensor& y = out.value()[0].tensor;
        ASSERT_EQ(y.shape(), (Shape{2, 1, 3})) << c.op;
        for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], c.want) << c.op;
    }
    auto mean = reduce("ReduceMean", x, {1}, 0);
    ASSERT_TRUE(mean.is_ok());
    EXPECT_TRUE(std::isnan(mean.value()[0].tensor.data<float>()[0]));
    auto imax = reduce("ReduceMax", Tensor::create(DType::kInt32, {0, 2}).value(), {0});
    ASSERT_TRUE(imax.is_ok());
    EXPECT_EQ(imax.value()[0].tensor.data<int32_t>()[0], std::numeric_limits<int32_t>::lowest());
}

TEST(Reduce, EmptyAxesReducesAllOrNoop) {
    const Tensor x = iota_f({2, 3});
    auto all = reduce("ReduceSum", x, {}, 0, 0);
    ASSERT_TRUE(all.is_ok());
    EXPECT_EQ(all.value()[0].tensor.rank(), 0);
    auto none = reduce("ReduceSum", x, {}, 0, 1, false);
    ASSERT_TRUE(none.is_ok());
    EXPECT_EQ(none.value()[0].tensor.shape(), x.shape());
    EXPECT_EQ(none.value()[0].tensor.data<float>()[4], x.data<float>()[4]);
}

// Strided layouts (middle axes, several groups) against a naive loop.
TEST(Reduce, MatchesNaiveOnMixedAxes) {
    const Shape s = {3, 4, 5, 6};
    const Tensor x = iota_f(s);
    for (const auto& axes : std::vector<std::vector<int64_t>>{{1}, {3}, {0, 2}, {1, 3}, {0, 1, 2, 3}, {-1, 0}}) {
        std::vector<bool> red(4, false);
        for (int64_t a : axes) red[static_cast<size_t>(a < 0 ? a + 4 : a)] = true;
        for (const char* op : {"ReduceSum", "ReduceMax", "ReduceLogSumExp", "ReduceMean"}) {
            auto out = reduce(op, x, axes, 1);
            ASSERT_TRUE(out.is_ok()) << out.status().to_string();
            const Tensor& y = out.value()[0].tensor;
            Shape ys = s;
            for (size_t d = 0; d < 4; ++d) {
                if (red[d]) ys[d] = 1;
            }
            ASSERT_EQ(y.shape(), ys);
            std::vector<double> acc(static_cast<size_t>(y.numel()), std::string(op) == "ReduceMax" ? -1e30 : 0.0);
            std::vector<int64_t> cnt(acc.size(), 0);
            for (int64_t i0 = 0; i0 < 3; ++i0)
                for (int64_t i1 = 0; i1 < 4; ++i1)
                    for (int64_t i2 = 0; i2 < 5; ++i2)
                        for (int64_t i3 = 0; i3 < 6; ++i3) {
                            const int64_t idx[4] = {i0, i1, i2, i3};
                            int64_t o = 0;
                            for (size_t d = 0; d < 4; ++d) o = o * ys[d] + (red[d] ? 0 : idx[d]);
                            const double v = x.data<float>()[((i0 * 4 + i1) * 5 + i2) * 6 + i3];
                            auto& a = acc[static_cast<size_t>(o)];
                            if (std::string(op) == "ReduceMax") a = std::max(a, v);
                            else if (std::string(op) == "ReduceLogSumExp") a += std::exp(v);
                            else a += v;
                            cnt[static_cast<size_t>(o)]++;
                        }
            for (int64_t o = 0; o < y.numel(); ++o) {
                double want = acc[static_cast<size_t>(o)];
                if (std::string(op) == "ReduceLogSumExp") want = std::log(want);
                if (std::string(op) == "ReduceMean") want /= static_cast<double>(cnt[static_cast<size_t>(o)]);
                EXPECT_NEAR(y.data<float>()[o], want, 1e-3 * (1 + std::fabs(want))) << op << " at " << o;
            }
        }
    }
}

TEST(Reduce, IntegerTypes) {
    const Tensor x = Tensor::from_vector<int32_t>({2, 3}, {1, 2, 4, -3, 5, 7});
    auto sum = reduce("ReduceSum", x, {1}, 0);
    ASSERT_TRUE(sum.is_ok());
    EXPECT_EQ(sum.value()[0].tensor.dtype(), DType::kInt32);
    EXPECT_EQ(sum.value()[0].tensor.data<int32_t>()[0], 7);
    EXPECT_EQ(sum.value()[0].tensor.data<int32_t>()[1], 9);
    auto mean = reduce("ReduceMean", x, {1}, 0);
    ASSERT_TRUE(mean.is_ok());
    EXPECT_EQ(mean.value()[0].tensor.data<int32_t>()[0], 2);  // 7/3 truncated
    auto l1 = reduce("ReduceL1", x, {1}, 0);
    ASSERT_TRUE(l1.is_ok());
    EXPECT_EQ(l1.value()[0].tensor.data<int32_t>()[1], 15);
    auto prod = reduce("ReduceProd", Tensor::from_vector<int64_t>({3}, {2, -3, 4}), {0}, 0);
    ASSERT_TRUE(prod.is_ok());
    EXPECT_EQ(prod.value()[0].tensor.data<int64_t>()[0], -24);
}

TEST(Reduce, LogSumExpIsStable) {
    auto out = reduce("ReduceLogSumExp", Tensor::from_vector<float>({2}, {1000.f, 1000.f}), {0}, 0);
    ASSERT_TRUE(out.is_ok());
    EXPECT_NEAR(out.value()[0].tensor.data<float>()[0], 1000.f + std::log(2.f), 1e-3);
}

TEST(Reduce, MaxPropagatesNaN) {
    auto out = reduce("ReduceMax", Tensor::from_vector<float>({3}, {1.f, NAN, 2.f}), {0}, 0);
    ASSERT_TRUE(out.is_ok());
    EXPECT_TRUE(std::isnan(out.value()[0].tensor.data<float>()[0]));
}

TEST(Reduce, BoolMax) {
    auto out = reduce("ReduceMax", Tensor::from_vector<bool>({2, 2}, {false, true, false, false}), {1}, 0);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.dtype(), DType::kBool);
    EXPECT_TRUE(out.value()[0].tensor.data<bool>()[0]);
    EXPECT_FALSE(out.value()[0].tensor.data<bool>()[1]);
}

TEST(Reduce, RejectsRepeatedAxis) { EXPECT_FALSE(reduce("ReduceSum", iota_f({2, 3}), {1, -1}).is_ok()); }

TEST(Reduce, RejectsAxisOutOfRange) { EXPECT_FALSE(reduce("ReduceMean", iota_f({2, 3}), {2}).is_ok()); }

TEST(Reduce, RejectsFloatAxes) {
    testing::OpRun r;
    r.op_type = "ReduceSum";
    r.inputs = {iota_f({2, 3}), Tensor::from_vector<float>({1}, {1.f})};
    EXPECT_FALSE(testing::run_op(r).is_ok());
}

}  // namespace
}  // namespace nnport

// ArgMax/ArgMin, TopK, CumSum, Unique, NonMaxSuppression and Det edge cases and rejections.
#include <gtest/gtest.h>

#include <cmath>

#include "util/op_runner.hpp"

namespace nnport {
namespace {

using testing::OpRun;

Result<std::vector<RtValue>> run(const std::string& op, std::vector<Tensor> in, ir::Attributes attrs = {},
                                 int outputs = 1) {
    return testing::run_simple(op, std::move(in), std::move(attrs), outputs);
}

using testing::values;

TEST(ArgMax, TiesAndSelectLastIndex) {
    const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 5, 5, 2, 2, 0});
    auto first = run("ArgMax", {x}, {{"axis", ir::Attribute::make_int(1)}});
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    EXPECT_EQ(values<int64_t>(first.value()[0].tensor), (std::vector<int64_t>{1, 0}));
    EXPECT_EQ(first.value()[0].tensor.shape(), (Shape{2, 1}));
    auto last = run("ArgMax", {x}, {{"axis", ir::Attribute::make_int(-1)}, {"select_last_index", ir::Attribute::make_int(1)},
                                    {"keepdims", ir::Attribute::make_int(0)}});
    ASSERT_TRUE(last.is_ok());
    EXPECT_EQ(values<int64_t>(last.value()[0].tensor), (std::vector<int64_t>{2, 1}));
    auto mn = run("ArgMin", {x}, {{"axis", ir::Attribute::make_int(0)}, {"keepdims", ir::Attribute::make_int(0)}});
    ASSERT_TRUE(mn.is_ok());
    EXPECT_EQ(values<int64_t>(mn.value()[0].tensor), (std::vector<int64_t>{0, 1, 1}));
}

TEST(ArgMax, NaNWins) {
    auto out = run("ArgMax", {Tensor::from_vector<float>({3}, {1, NAN, 3})});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.data<int64_t>()[0], 1);
}

TEST(ArgMax, RejectsEmptyAxis) {
    EXPECT_FALSE(run("ArgMax", {Tensor::create(DType::kFloat32, {2, 0}).value()}, {{"axis", ir::Attribute::make_int(1)}}).is_ok());
}

TEST(ArgMax, RejectsBadAxis) {
    EXPECT_FALSE(run("ArgMin", {Tensor::from_vector<float>({2}, {1, 2})}, {{"axis", ir::Attribute::make_int(1)}}).is_ok());
}

TEST(TopK, TiesGoToLowerIndexAndMiddleAxis) {
    // [2, 4, 2]: top-2 along axis 1.
    const Tensor x = Tensor::from_vector<float>({2, 4, 2}, {1, 9, 3, 9, 3, 1, 0, 9, 5, 5, 5, 5, 5, 5, 5, 5});
    auto out = run("TopK", {x, Tensor::from_vector<int64_t>({1}, {2})}, {{"axis", ir::Attribute::make_int(1)}}, 2);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 2, 2}));
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{3, 9, 3, 9, 5, 5, 5, 5}));
    EXPECT_EQ(values<int64_t>(out.value()[1].tensor), (std::vector<int64_t>{1, 0, 2, 1, 0, 0, 1, 1}));
}

TEST(TopK, SmallestAndZeroK) {
    const Tensor x = Tensor::from_vector<int32_t>({5}, {4, -1, 7, -1, 2});
    auto out = run("TopK", {x, Tensor::from_vector<int64_t>({1}, {3})}, {{"largest", ir::Attribute::make_int(0)}}, 2);
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(values<int32_t>(out.value()[0].tensor), (std::vector<int32_t>{-1, -1, 2}));
    EXPECT_EQ(values<int64_t>(out.value()[1].tensor), (std::vector<int64_t>{1, 3, 4}));
    auto zero = run("TopK", {x, Tensor::from_vector<int64_t>({1}, {0})}, {}, 2);
    ASSERT_TRUE(zero.is_ok());
    EXPECT_EQ(zero.value()[0].tensor.numel(), 0);
}

TEST(TopK, RejectsKTooLarge) {
    EXPECT_FALSE(run("TopK", {Tensor::from_vector<float>({2}, {1, 2}), Tensor::from_vector<int64_t>({1}, {3})}, {}, 2).is_ok());
}

TEST(TopK, RejectsNegativeK) {
    EXPECT_FALSE(run("TopK", {Tensor::from_vector<float>({2}, {1, 2}), Tensor::from_vector<int64_t>({1}, {-1})}, {}, 2).is_ok());
}

TEST(CumSum, ExclusiveReverseOnInnerAxis) {
    const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
    auto out = run("CumSum", {x, Tensor::scalar<int32_t>(1)},
                   {{"exclusive", ir::Attribute::make_int(1)}, {"reverse", ir::Attribute::make_int(1)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{5, 3, 0, 11, 6, 0}));
    auto axis0 = run("CumSum", {x, Tensor::scalar<int64_t>(0)});
    ASSERT_TRUE(axis0.is_ok());
    EXPECT_EQ(values<float>(axis0.value()[0].tensor), (std::vector<float>{1, 2, 3, 5, 7, 9}));
}

TEST(CumSum, RejectsVectorAxis) {
    EXPECT_FALSE(run("CumSum", {Tensor::from_vector<float>({2}, {1, 2}), Tensor::from_vector<int64_t>({2}, {0, 0})}).is_ok());
}

TEST(Unique, UnsortedWithAllOutputs) {
    auto out = run("Unique", {Tensor::from_vector<int64_t>({6}, {3, 1, 3, 2, 1, 3})}, {{"sorted", ir::Attribute::make_int(0)}}, 4);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<int64_t>(out.value()[0].tensor), (std::vector<int64_t>{3, 1, 2}));
    EXPECT_EQ(values<int64_t>(out.value()[1].tensor), (std::vector<int64_t>{0, 1, 3}));
    EXPECT_EQ(values<int64_t>(out.value()[2].tensor), (std::vector<int64_t>{0, 1, 0, 2, 1, 0}));
    EXPECT_EQ(values<int64_t>(out.value()[3].tensor), (std::vector<int64_t>{3, 2, 1}));
}

TEST(Unique, SortedAlongAxisAndStrings) {
    const Tensor x = Tensor::from_vector<float>({2, 3}, {2, 1, 2, 0, 5, 0});  // columns (2,0) (1,5) (2,0)
    auto out = run("Unique", {x}, {{"axis", ir::Attribute::make_int(1)}}, 4);
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 2}));
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{1, 2, 5, 0}));
    EXPECT_EQ(values<int64_t>(out.value()[2].tensor), (std::vector<int64_t>{1, 0, 1}));
    auto s = run("Unique", {Tensor::from_vector<std::string>({3}, {"b", "a", "b"})}, {}, 4);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(s.value()[0].tensor.strings()[0], "a");
    EXPECT_EQ(values<int64_t>(s.value()[3].tensor), (std::vector<int64_t>{1, 2}));
}

TEST(Unique, EmptyInput) {
    auto out = run("Unique", {Tensor::create(DType::kFloat32, {0}).value()}, {}, 4);
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.numel(), 0);
}

Tensor boxes(std::vector<float> v) { return Tensor::from_vector<float>({1, static_cast<int64_t>(v.size() / 4), 4}, v); }

TEST(NonMaxSuppression, SuppressesOverlapsAndLimits) {
    const Tensor b = boxes({0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 10, 1, 11, 0, 20, 1, 21});
    const Tensor s = Tensor::from_vector<float>({1, 1, 4}, {0.9f, 0.95f, 0.5f, 0.1f});
    auto out = run("NonMaxSuppression", {b, s, Tensor::from_vector<int64_t>({1}, {3}), Tensor::from_vector<float>({1}, {0.5f}),
                                         Tensor::from_vector<float>({1}, {0.2f})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 3}));
    EXPECT_EQ(values<int64_t>(out.value()[0].tensor), (std::vector<int64_t>{0, 0, 1, 0, 0, 2}));
    auto none = run("NonMaxSuppression", {b, s});  // max_output_boxes_per_class defaults to 0
    ASSERT_TRUE(none.is_ok());
    EXPECT_EQ(none.value()[0].tensor.shape(), (Shape{0, 3}));
}

TEST(NonMaxSuppression, RejectsMismatchedScores) {
    EXPECT_FALSE(run("NonMaxSuppression", {boxes({0, 0, 1, 1}), Tensor::from_vector<float>({1, 1, 2}, {1, 1}),
                                           Tensor::from_vector<int64_t>({1}, {1})}).is_ok());
}

TEST(NonMaxSuppression, RejectsBadIouThreshold) {
    EXPECT_FALSE(run("NonMaxSuppression", {boxes({0, 0, 1, 1}), Tensor::from_vector<float>({1, 1, 1}, {1}),
                                           Tensor::from_vector<int64_t>({1}, {1}), Tensor::from_vector<float>({1}, {1.5f})})
                     .is_ok());
}

TEST(Det, KnownValuesSingularAndBatch) {
    const Tensor x = Tensor::from_vector<float>({3, 2, 2}, {1, 2, 3, 4, 2, 4, 1, 2, 0, 1, 1, 0});
    auto out = run("Det", {x});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const auto v = values<float>(out.value()[0].tensor);
    EXPECT_NEAR(v[0], -2.f, 1e-6);
    EXPECT_EQ(v[1], 0.f);
    EXPECT_NEAR(v[2], -1.f, 1e-6);  // a row swap flips the sign
    auto d3 = run("Det", {Tensor::from_vector<double>({3, 3}, {2, 0, 1, 1, 3, 2, 1, 1, 2})});
    ASSERT_TRUE(d3.is_ok());
    EXPECT_NEAR(d3.value()[0].tensor.data<double>()[0], 6.0, 1e-12);
}

TEST(Det, RejectsNonSquare) { EXPECT_FALSE(run("Det", {Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6})}).is_ok()); }

}  // namespace
}  // namespace nnport

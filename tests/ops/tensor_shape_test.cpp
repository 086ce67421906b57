// Tensor family: Reshape/Flatten/Squeeze/Unsqueeze, Transpose, Concat/Split, Expand/Tile, Pad, shape ops.
#include "ops/tensor_test_util.hpp"

namespace nnport {

using namespace tensor_test;

TEST(Reshape, CopiesZeroAndInfersMinusOneAsView) {
    Tensor x = iota({2, 3, 4});
    auto out = run("Reshape", {x, i64v({0, -1})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const Tensor& y = out.value()[0].tensor;
    EXPECT_EQ(y.shape(), (Shape{2, 12}));
    EXPECT_EQ(y.raw_data(), x.raw_data());  // a view, no copy
}

TEST(Reshape, AllowZeroKeepsZeroDims) {
    auto out = run("Reshape", {iota({0, 3}), i64v({3, 0})}, {{"allowzero", int1(1)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{3, 0}));
}

TEST(Reshape, InfersStaticShapeFromConstant) {
    testing::OpRun r;
    r.op_type = "Reshape";
    r.inputs = {iota({2, 3, 4}), i64v({-1, 4})};
    r.as_initializer = {false, true};
    auto s = testing::make_op_session(r);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(s.value()->outputs()[0].shape, (std::vector<int64_t>{6, 4}));
}

TEST(Reshape, RejectsTwoMinusOnes) { EXPECT_FALSE(run("Reshape", {iota({4}), i64v({-1, -1})}).is_ok()); }
TEST(Reshape, RejectsWrongCount) { EXPECT_FALSE(run("Reshape", {iota({4}), i64v({3})}).is_ok()); }
TEST(Reshape, RejectsZeroBeyondRank) { EXPECT_FALSE(run("Reshape", {iota({4}), i64v({4, 0})}).is_ok()); }
TEST(Reshape, RejectsConstantMismatchAtLoad) {
    EXPECT_FALSE(run("Reshape", {iota({4}), i64v({5})}, {}, 1, {false, true}).is_ok());
}

TEST(Flatten, AxisZeroAndNegative) {
    auto a = run("Flatten", {iota({2, 3, 4})}, {{"axis", int1(0)}});
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a.value()[0].tensor.shape(), (Shape{1, 24}));
    auto b = run("Flatten", {iota({2, 3, 4})}, {{"axis", int1(-1)}});
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(b.value()[0].tensor.shape(), (Shape{6, 4}));
}

TEST(Flatten, RejectsAxisOutOfRange) {
    EXPECT_FALSE(run("Flatten", {iota({2, 3})}, {{"axis", int1(3)}}).is_ok());
}

TEST(Squeeze, AllOnesWithoutAxes) {
    auto out = run("Squeeze", {iota({1, 3, 1, 2})});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{3, 2}));
}

TEST(Squeeze, RejectsNonUnitAxis) { EXPECT_FALSE(run("Squeeze", {iota({1, 3}), i64v({1})}).is_ok()); }

TEST(Unsqueeze, NegativeAxesAreOutputPositions) {
    auto out = run("Unsqueeze", {iota({3, 4}), i64v({-1, 0})});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 3, 4, 1}));
}

// Output rank is 3, so -3 names the same position as 0.
TEST(Unsqueeze, RejectsRepeatedAxis) { EXPECT_FALSE(run("Unsqueeze", {iota({3}), i64v({0, -3})}).is_ok()); }

TEST(Transpose, DefaultReversesAxes) {
    auto out = run("Transpose", {iota({2, 3})});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{3, 2}));
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Transpose, TiledNchwToNhwcMatchesNaive) {
    const int64_t n = 2, c = 37, h = 9, w = 11;
    Tensor x = iota({n, c, h, w});
    auto out = run("Transpose", {x}, {{"perm", ints({0, 2, 3, 1})}});
    ASSERT_TRUE(out.is_ok());
    const float* y = out.value()[0].tensor.data<float>();
    const float* s = x.data<float>();
    for (int64_t a = 0; a < n; ++a)
        for (int64_t b = 0; b < h; ++b)
            for (int64_t d = 0; d < w; ++d)
                for (int64_t e = 0; e < c; ++e)
                    ASSERT_EQ(y[((a * h + b) * w + d) * c + e], s[((a * c + e) * h + b) * w + d]);
}

TEST(Transpose, MovesStrings) {
    Tensor x = Tensor::from_vector<std::string>({2, 2}, {"a", "b", "c", "d"});
    auto out = run("Transpose", {x});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.strings()[1], "c");
}

TEST(Transpose, RejectsInvalidPerm) {
    EXPECT_FALSE(run("Transpose", {iota({2, 3})}, {{"perm", ints({0, 0})}}).is_ok());
    EXPECT_FALSE(run("Transpose", {iota({2, 3})}, {{"perm", ints({0, 2})}}).is_ok());
}

TEST(Concat, NegativeAxisWithEmptyInput) {
    auto out = run("Concat", {iota({2, 1}), iota({2, 0}), iota({2, 2})}, {{"axis", int1(-1)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 0, 1, 1, 2, 3}));
}

TEST(Concat, RejectsMismatchedDims) {
    EXPECT_FALSE(run("Concat", {iota({2, 1}), iota({3, 1})}, {{"axis", int1(1)}}).is_ok());
}

TEST(Split, NumOutputsUnevenLastChunk) {
    auto out = run("Split", {iota({7})}, {{"num_outputs", int1(3)}}, 3);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{3}));
    EXPECT_EQ(out.value()[2].tensor.shape(), (Shape{1}));
    EXPECT_EQ(values<float>(out.value()[2].tensor), (std::vector<float>{6}));
}

TEST(Split, SplitInputAlongAxis1) {
    auto out = run("Split", {iota({2, 3}), i64v({1, 2})}, {{"axis", int1(1)}}, 2);
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(values<float>(out.value()[1].tensor), (std::vector<float>{1, 2, 4, 5}));
}

TEST(Split, RejectsBadSum) { EXPECT_FALSE(run("Split", {iota({5}), i64v({2, 2})}, {}, 2).is_ok()); }

TEST(Expand, BroadcastsBothWays) {
    auto out = run("Expand", {iota({3, 1}), i64v({2, 1, 4})});
    ASSERT_TRUE(out.is_ok());
    const Tensor& y = out.value()[0].tensor;
    EXPECT_EQ(y.shape(), (Shape{2, 3, 4}));
    EXPECT_EQ(y.data<float>()[23], 2.f);
}

TEST(Expand, RejectsIncompatible) { EXPECT_FALSE(run("Expand", {iota({3}), i64v({4})}).is_ok()); }

TEST(Tile, RepeatsEachAxis) {
    auto out = run("Tile", {iota({2, 2}), i64v({1, 2})});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 1, 0, 1, 2, 3, 2, 3}));
}

TEST(Tile, RejectsWrongRepeatsLength) { EXPECT_FALSE(run("Tile", {iota({2, 2}), i64v({2})}).is_ok()); }

TEST(Pad, ModesAndNegativePads) {
    auto c = run("Pad", {iota({3}), i64v({2, -1}), f32({}, {9})});
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    EXPECT_EQ(values<float>(c.value()[0].tensor), (std::vector<float>{9, 9, 0, 1}));
    auto r = run("Pad", {iota({3}), i64v({4, 0})}, {{"mode", str("reflect")}});
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(values<float>(r.value()[0].tensor), (std::vector<float>{0, 1, 2, 1, 0, 1, 2}));
    auto e = run("Pad", {iota({3}), i64v({1, 2})}, {{"mode", str("edge")}});
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(values<float>(e.value()[0].tensor), (std::vector<float>{0, 0, 1, 2, 2, 2}));
    auto w = run("Pad", {iota({3}), i64v({2, 1})}, {{"mode", str("wrap")}});
    ASSERT_TRUE(w.is_ok());
    EXPECT_EQ(values<float>(w.value()[0].tensor), (std::vector<float>{1, 2, 0, 1, 2, 0}));
}

TEST(Pad, AxesInput) {
    auto out = run("Pad", {iota({2, 2}), i64v({1, 0}), Tensor(), i64v({-1})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 0, 1, 0, 2, 3}));
}

TEST(Pad, RejectsNegativeSizeAndEmptyReflect) {
    EXPECT_FALSE(run("Pad", {iota({3}), i64v({-2, -2})}).is_ok());
    EXPECT_FALSE(run("Pad", {iota({0}), i64v({1, 1})}, {{"mode", str("reflect")}}).is_ok());
    EXPECT_FALSE(run("Pad", {iota({3}), i64v({1})}).is_ok());
}

TEST(CenterCropPad, CropsAndPadsCentred) {
    auto out = run("CenterCropPad", {iota({5, 2}), i64v({3, 4})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 2, 3, 0, 0, 4, 5, 0, 0, 6, 7, 0}));
}

TEST(Shape, StartEndClamped) {
    auto out = run("Shape", {iota({2, 3, 4})}, {{"start", int1(-2)}, {"end", int1(10)}});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(values<int64_t>(out.value()[0].tensor), (std::vector<int64_t>{3, 4}));
}

TEST(Size, CountsElements) {
    auto out = run("Size", {iota({2, 3})});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.data<int64_t>()[0], 6);
}

TEST(ConstantOfShape, IntValue) {
    auto out = run("ConstantOfShape", {i64v({2, 2})}, {{"value", ir::Attribute::make_tensor(i64({1}, {7}))}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<int64_t>(out.value()[0].tensor), (std::vector<int64_t>{7, 7, 7, 7}));
}

TEST(ConstantOfShape, RejectsNegativeDim) { EXPECT_FALSE(run("ConstantOfShape", {i64v({-1})}).is_ok()); }

TEST(Range, IntAndFloat) {
    auto a = run("Range", {i64({}, {10}), i64({}, {1}), i64({}, {-3})});
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(values<int64_t>(a.value()[0].tensor), (std::vector<int64_t>{10, 7, 4}));
    auto b = run("Range", {f32({}, {0}), f32({}, {1}), f32({}, {0.25f})});
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(b.value()[0].tensor.numel(), 4);
}

TEST(Range, RejectsZeroDeltaAndHugeCount) {
    EXPECT_FALSE(run("Range", {i64({}, {0}), i64({}, {5}), i64({}, {0})}).is_ok());
    EXPECT_FALSE(run("Range", {i64({}, {INT64_MIN}), i64({}, {INT64_MAX}), i64({}, {1})}).is_ok());
}

}  // namespace nnport

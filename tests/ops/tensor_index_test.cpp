// Tensor family: Slice, Gather*, Scatter*, OneHot, EyeLike, Compress, NonZero, ReverseSequence, Trilu, depth/space.
#include "ops/tensor_test_util.hpp"

namespace nnport {

using namespace tensor_test;

TEST(Slice, NegativeStepAndClamping) {
    auto out = run("Slice", {iota({5}), i64v({100}), i64v({INT64_MIN}), i64v({0}), i64v({-2})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{4, 2, 0}));
}

TEST(Slice, AxesSubsetAndHugeEnd) {
    auto out = run("Slice", {iota({2, 4}), i64v({-3}), i64v({INT64_MAX}), i64v({-1})});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{1, 2, 3, 5, 6, 7}));
}

TEST(Slice, EmptyResultAndHugeStep) {
    auto a = run("Slice", {iota({4}), i64v({3}), i64v({1})});
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a.value()[0].tensor.numel(), 0);
    auto b = run("Slice", {iota({4}), i64v({1}), i64v({4}), i64v({0}), i64v({INT64_MAX})});
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(values<float>(b.value()[0].tensor), (std::vector<float>{1}));
}

TEST(Slice, RejectsZeroStepAndRepeatedAxis) {
    EXPECT_FALSE(run("Slice", {iota({4}), i64v({0}), i64v({4}), i64v({0}), i64v({0})}).is_ok());
    EXPECT_FALSE(run("Slice", {iota({4, 4}), i64v({0, 0}), i64v({1, 1}), i64v({1, -1})}).is_ok());
}

TEST(Gather, NegativeIndicesAndStrings) {
    Tensor s = Tensor::from_vector<std::string>({3}, {"a", "b", "c"});
    auto out = run("Gather", {s, i64({2}, {-1, 0})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.strings()[0], "c");
    EXPECT_EQ(out.value()[0].tensor.strings()[1], "a");
}

TEST(Gather, Axis1) {
    auto out = run("Gather", {iota({2, 3}), i64({2, 1}, {2, 0})}, {{"axis", int1(1)}});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 2, 1}));
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{2, 0, 5, 3}));
}

TEST(Gather, RejectsOutOfRange) {
    EXPECT_FALSE(run("Gather", {iota({3}), i64({1}, {3})}).is_ok());
    EXPECT_FALSE(run("Gather", {iota({3}), i64({1}, {-4})}).is_ok());
}

TEST(GatherElements, Axis1) {
    auto out = run("GatherElements", {iota({2, 2}), i64({2, 2}, {0, 0, 1, 0})}, {{"axis", int1(1)}});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 0, 3, 2}));
}

TEST(GatherElements, RejectsOutOfRangeAndBadShape) {
    EXPECT_FALSE(run("GatherElements", {iota({2, 2}), i64({1, 1}, {2})}).is_ok());
    EXPECT_FALSE(run("GatherElements", {iota({2, 2}), i64({1, 3}, {0, 0, 0})}).is_ok());
}

TEST(GatherND, BatchDims) {
    auto out = run("GatherND", {iota({2, 2, 2}), i64({2, 1}, {1, 0})}, {{"batch_dims", int1(1)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{2, 3, 4, 5}));
}

TEST(GatherND, RejectsOutOfRange) {
    EXPECT_FALSE(run("GatherND", {iota({2, 2}), i64({1, 2}, {0, 2})}).is_ok());
    EXPECT_FALSE(run("GatherND", {iota({2, 2}), i64({1, 3}, {0, 0, 0})}).is_ok());
}

TEST(ScatterElements, AddWithDuplicates) {
    auto out = run("ScatterElements", {f32({3}, {1, 1, 1}), i64({3}, {0, 0, 2}), f32({3}, {1, 2, 3})},
                   {{"reduction", str("add")}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{4, 1, 4}));
}

TEST(ScatterElements, RejectsOutOfRange) {
    EXPECT_FALSE(run("ScatterElements", {f32({3}, {1, 1, 1}), i64({1}, {3}), f32({1}, {1})}).is_ok());
}

TEST(ScatterND, MulAndMax) {
    auto a = run("ScatterND", {f32({2, 2}, {1, 2, 3, 4}), i64({1, 1}, {1}), f32({1, 2}, {10, 10})},
                 {{"reduction", str("mul")}});
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    EXPECT_EQ(values<float>(a.value()[0].tensor), (std::vector<float>{1, 2, 30, 40}));
    auto b = run("ScatterND", {f32({2, 2}, {1, 2, 3, 4}), i64({1, 2}, {0, 1}), f32({1}, {-5})},
                 {{"reduction", str("max")}});
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(values<float>(b.value()[0].tensor), (std::vector<float>{1, 2, 3, 4}));
}

TEST(ScatterND, RejectsOutOfRangeAndBadUpdates) {
    EXPECT_FALSE(run("ScatterND", {f32({2}, {1, 2}), i64({1, 1}, {2}), f32({1}, {0})}).is_ok());
    EXPECT_FALSE(run("ScatterND", {f32({2}, {1, 2}), i64({1, 1}, {0}), f32({2}, {0, 0})}).is_ok());
}

TEST(OneHot, AxisAndOutOfRangeIsOff) {
    auto out = run("OneHot", {i64({3}, {0, -1, 5}), i64({}, {3}), f32({2}, {0, 1})}, {{"axis", int1(0)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{3, 3}));
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{1, 0, 0, 0, 0, 0, 0, 1, 0}));
}

TEST(OneHot, RejectsBadDepth) {
    EXPECT_FALSE(run("OneHot", {i64({1}, {0}), i64({}, {0}), f32({2}, {0, 1})}).is_ok());
}

TEST(EyeLike, OffDiagonalWithDtype) {
    auto out = run("EyeLike", {iota({2, 3})}, {{"k", int1(1)}, {"dtype", int1(7)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<int64_t>(out.value()[0].tensor), (std::vector<int64_t>{0, 1, 0, 0, 0, 1}));
}

TEST(Compress, WithAndWithoutAxis) {
    Tensor cond = Tensor::from_vector<bool>({2}, {false, true});
    auto a = run("Compress", {iota({2, 2}), cond}, {{"axis", int1(1)}});
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    EXPECT_EQ(values<float>(a.value()[0].tensor), (std::vector<float>{1, 3}));
    auto b = run("Compress", {iota({2, 2}), cond});
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ(values<float>(b.value()[0].tensor), (std::vector<float>{1}));
}

TEST(Compress, RejectsSelectionBeyondAxis) {
    Tensor cond = Tensor::from_vector<bool>({3}, {false, false, true});
    EXPECT_FALSE(run("Compress", {iota({2}), cond}, {{"axis", int1(0)}}).is_ok());
}

TEST(NonZero, IndicesPerAxis) {
    auto out = run("NonZero", {f32({2, 2}, {1, 0, -0.0f, 3})});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 2}));
    EXPECT_EQ(values<int64_t>(out.value()[0].tensor), (std::vector<int64_t>{0, 1, 0, 1}));
}

TEST(ReverseSequence, BatchMajor) {
    auto out = run("ReverseSequence", {iota({2, 3}), i64({2}, {3, 1})},
                   {{"batch_axis", int1(0)}, {"time_axis", int1(1)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{2, 1, 0, 3, 4, 5}));
}

TEST(ReverseSequence, RejectsLongSequence) {
    EXPECT_FALSE(run("ReverseSequence", {iota({2, 2}), i64({2}, {3, 1})}).is_ok());
}

TEST(Trilu, LowerWithK) {
    auto out = run("Trilu", {iota({2, 3}), i64({}, {-1})}, {{"upper", int1(0)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 0, 0, 3, 0, 0}));
    auto big = run("Trilu", {iota({2, 3}), i64({}, {INT64_MIN})});
    ASSERT_TRUE(big.is_ok());
    EXPECT_EQ(values<float>(big.value()[0].tensor), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(DepthToSpace, InvertsSpaceToDepth) {
    Tensor x = iota({1, 2, 4, 6});
    auto s2d = run("SpaceToDepth", {x}, {{"blocksize", int1(2)}});
    ASSERT_TRUE(s2d.is_ok()) << s2d.status().to_string();
    EXPECT_EQ(s2d.value()[0].tensor.shape(), (Shape{1, 8, 2, 3}));
    auto d2s = run("DepthToSpace", {s2d.value()[0].tensor}, {{"blocksize", int1(2)}});
    ASSERT_TRUE(d2s.is_ok());
    EXPECT_EQ(values<float>(d2s.value()[0].tensor), values<float>(x));
}

TEST(DepthToSpace, CrdOrder) {
    auto out = run("DepthToSpace", {iota({1, 4, 1, 1})}, {{"blocksize", int1(2)}, {"mode", str("CRD")}});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 1, 2, 3}));
}

TEST(DepthToSpace, RejectsIndivisibleChannels) {
    EXPECT_FALSE(run("DepthToSpace", {iota({1, 3, 1, 1})}, {{"blocksize", int1(2)}}).is_ok());
    EXPECT_FALSE(run("SpaceToDepth", {iota({1, 1, 3, 2})}, {{"blocksize", int1(2)}}).is_ok());
}

}  // namespace nnport

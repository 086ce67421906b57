// Tensor family: Resize edge cases (modes, axes, keep_aspect_ratio_policy, integer data, rejections).
#include "ops/tensor_test_util.hpp"

namespace nnport {

using namespace tensor_test;

static ir::Attributes resize_attrs(const std::string& mode, const std::string& coord) {
    return {{"mode", str(mode)}, {"coordinate_transformation_mode", str(coord)}};
}

TEST(Resize, NearestUpsampleAsymmetricFloor) {
    ir::Attributes a = resize_attrs("nearest", "asymmetric");
    a["nearest_mode"] = str("floor");
    auto out = run("Resize", {iota({1, 1, 1, 2}), Tensor(), f32({4}, {1, 1, 1, 2})}, a);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 0, 1, 1}));
}

TEST(Resize, LinearAlignCorners) {
    auto out = run("Resize", {iota({1, 3}), Tensor(), Tensor(), i64v({1, 5})}, resize_attrs("linear", "align_corners"));
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 0.5f, 1, 1.5f, 2}));
}

TEST(Resize, AxesAndKeepAspectRatio) {
    ir::Attributes a = resize_attrs("nearest", "asymmetric");
    a["axes"] = ints({2, 3});
    a["keep_aspect_ratio_policy"] = str("not_larger");
    auto out = run("Resize", {iota({1, 1, 2, 4}), Tensor(), Tensor(), i64v({4, 4})}, a);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 1, 2, 4}));  // scale min(2, 1) = 1
}

TEST(Resize, CubicKeepsConstantsConstant) {
    Tensor x = f32({1, 1, 3, 3}, std::vector<float>(9, 5.f));
    auto out = run("Resize", {x, Tensor(), f32({4}, {1, 1, 1.7f, 2.3f})}, resize_attrs("cubic", "half_pixel"));
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    for (float v : values<float>(out.value()[0].tensor)) EXPECT_NEAR(v, 5.f, 1e-5);
}

TEST(Resize, TfCropExtrapolates) {
    ir::Attributes a = resize_attrs("linear", "tf_crop_and_resize");
    a["extrapolation_value"] = ir::Attribute::make_float(-1.f);
    auto out = run("Resize", {iota({1, 2}), f32({4}, {0, 0, 1, 2}), Tensor(), i64v({1, 3})}, a);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{0, 1, -1}));
}

TEST(Resize, IntegerDataNearest) {
    auto out = run("Resize", {Tensor::from_vector<uint8_t>({1, 2}, {7, 9}), Tensor(), f32({2}, {1, 2})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<uint8_t>(out.value()[0].tensor), (std::vector<uint8_t>{7, 7, 9, 9}));
}

TEST(Resize, InfersStaticShapeFromConstantScales) {
    testing::OpRun r;
    r.op_type = "Resize";
    r.inputs = {iota({1, 3, 4, 4}), Tensor(), f32({4}, {1, 1, 2, 0.5f})};
    r.as_initializer = {false, false, true};
    auto s = testing::make_op_session(r);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(s.value()->outputs()[0].shape, (std::vector<int64_t>{1, 3, 8, 2}));
}

TEST(Resize, RejectsBadInputs) {
    // Both scales and sizes, neither, wrong length, non-positive scale, unknown mode.
    EXPECT_FALSE(run("Resize", {iota({1, 2}), Tensor(), f32({2}, {1, 2}), i64v({1, 4})}).is_ok());
    EXPECT_FALSE(run("Resize", {iota({1, 2})}).is_ok());
    EXPECT_FALSE(run("Resize", {iota({1, 2}), Tensor(), f32({1}, {2})}).is_ok());
    EXPECT_FALSE(run("Resize", {iota({1, 2}), Tensor(), f32({2}, {1, -2})}).is_ok());
    EXPECT_FALSE(run("Resize", {iota({1, 2}), Tensor(), f32({2}, {1, 2})}, {{"mode", str("bogus")}}).is_ok());
}

}  // namespace nnport

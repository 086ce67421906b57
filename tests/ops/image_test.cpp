// Image family: GridSample (3-D and padding modes), AffineGrid, RoiAlign, MaxRoiPool, Col2Im, MaxUnpool output_shape.
// Expected arrays were produced with Debian's python3 + torch 1.13 / torchvision 0.14 (script excerpts in comments):
// torch.nn.functional.grid_sample / affine_grid / fold, torchvision.ops.roi_pool / roi_align. RoiAlign "max" mode
// has no torch counterpart; its values come from a line-by-line Python port of the ONNX reference implementation.
#include <cmath>

#include "ops/tensor_test_util.hpp"

namespace nnport {

using namespace tensor_test;

namespace {

void expect_near(const Tensor& t, const std::vector<float>& want, float tol = 1e-5f) {
    ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
    const std::vector<float> got = values<float>(t);
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_NEAR(got[i], want[i], tol + 1e-4f * std::fabs(want[i])) << "at " << i;
    }
}

ir::Attributes gs_attrs(const std::string& mode, const std::string& pad, int64_t align) {
    return {{"mode", str(mode)}, {"padding_mode", str(pad)}, {"align_corners", int1(align)}};
}

// x = torch.arange(12.).reshape(1,1,2,2,3); grid = torch.tensor([[-0.9,0.3,-0.5],[0.2,-0.7,0.6],[1.3,0.1,0.0],
//     [-0.25,0.75,1.2]]).reshape(1,1,2,2,3)
Tensor gs3_x() { return iota({1, 1, 2, 2, 3}); }
Tensor gs3_grid() {
    return f32({1, 1, 2, 2, 3}, {-0.9f, 0.3f, -0.5f, 0.2f, -0.7f, 0.6f, 1.3f, 0.1f, 0.0f, -0.25f, 0.75f, 1.2f});
}

// x2 = torch.arange(12.).reshape(1,1,3,4); g2 = torch.tensor([[-0.8,-0.6],[0.1,0.4],[0.9,-0.95],[1.1,0.2]])
//     .reshape(1,2,2,2)
Tensor gs2_grid() { return f32({1, 2, 2, 2}, {-0.8f, -0.6f, 0.1f, 0.4f, 0.9f, -0.95f, 1.1f, 0.2f}); }

/// (((i * 37) % 23) - 11) / 8 for i in [0, 120), shaped [2, 2, 5, 6]: the X of the ROI tests.
Tensor roi_x() {
    std::vector<float> v(120);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(static_cast<int>((i * 37) % 23) - 11) / 8.f;
    return f32({2, 2, 5, 6}, v);
}

}  // namespace

// ---- GridSample ----------------------------------------------------------------------------------------------------

TEST(GridSample, Volumetric3dLinearZeros) {
    // F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    auto out = run("GridSample", {gs3_x(), gs3_grid()}, gs_attrs("linear", "zeros", 0), 1, {}, 20);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 1, 1, 2, 2}));
    expect_near(out.value()[0].tensor, {1.56f, 5.256f, 0.3400013f, 2.165625f});
}

TEST(GridSample, Volumetric3dLinearBorderAlignCorners) {
    // F.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=True)
    auto out = run("GridSample", {gs3_x(), gs3_grid()}, gs_attrs("linear", "border", 1), 1, {}, 20);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {3.55f, 6.45f, 6.65f, 9.375f});
}

TEST(GridSample, Volumetric3dNearestReflection) {
    // F.grid_sample(x, grid, mode='nearest', padding_mode='reflection', align_corners=False)
    auto out = run("GridSample", {gs3_x(), gs3_grid()}, gs_attrs("nearest", "reflection", 0), 1, {}, 20);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {3, 7, 11, 10});
}

TEST(GridSample, BicubicZerosAndOpset20CubicAgree) {
    // F.grid_sample(x2, g2, mode='bicubic', padding_mode='zeros', align_corners=False)
    const std::vector<float> want = {0.2118764f, 9.437065f, 1.024016f, 2.5819f};
    auto v16 = run("GridSample", {iota({1, 1, 3, 4}), gs2_grid()}, gs_attrs("bicubic", "zeros", 0), 1, {}, 16);
    ASSERT_TRUE(v16.is_ok()) << v16.status().to_string();
    expect_near(v16.value()[0].tensor, want);
    auto v20 = run("GridSample", {iota({1, 1, 3, 4}), gs2_grid()}, gs_attrs("cubic", "zeros", 0), 1, {}, 20);
    ASSERT_TRUE(v20.is_ok()) << v20.status().to_string();
    expect_near(v20.value()[0].tensor, want);
}

TEST(GridSample, BilinearReflectionAlignCorners) {
    // F.grid_sample(x2, g2, mode='bilinear', padding_mode='reflection', align_corners=True)
    auto out = run("GridSample", {iota({1, 1, 3, 4}), gs2_grid()}, gs_attrs("bilinear", "reflection", 1), 1, {}, 16);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {1.9f, 7.25f, 3.05f, 7.65f});
}

TEST(GridSample, DefaultModeIsLinearAndNanGridGivesZero) {
    const float nan = std::nanf("");
    auto out = run("GridSample", {iota({1, 1, 2, 2}), f32({1, 1, 2, 2}, {0, 0, nan, 0.5f})}, {}, 1, {}, 16);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {1.5f, 0.f});
}

TEST(GridSample, OneDimensionalInput) {
    // 1 spatial axis (opset 20 N-D): x = [0, 10, 20], align_corners: -1 -> 0, 0.5 -> 15
    auto out = run("GridSample", {f32({1, 1, 3}, {0, 10, 20}), f32({1, 2, 1}, {-1.f, 0.5f})},
                   gs_attrs("linear", "zeros", 1), 1, {}, 20);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {0.f, 15.f});
}

TEST(GridSample, ExtremeCoordinatesGiveFiniteOutput) {
    const float inf = std::numeric_limits<float>::infinity();
    const Tensor grid = f32({1, 2, 2, 2}, {1e30f, -1e30f, inf, 0.f, -inf, 0.3f, 7e7f, -3e9f});
    for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
        for (const char* pad : {"zeros", "border", "reflection"}) {
            for (int64_t align : {0, 1}) {
                auto out = run("GridSample", {iota({1, 2, 3, 4}), grid}, gs_attrs(mode, pad, align), 1, {}, 16);
                ASSERT_TRUE(out.is_ok()) << out.status().to_string();
                for (float v : values<float>(out.value()[0].tensor)) {
                    EXPECT_TRUE(std::isfinite(v)) << mode << " " << pad << " " << align;
                    EXPECT_LE(std::fabs(v), 100.f) << mode << " " << pad << " " << align;
                }
            }
        }
    }
}

TEST(GridSample, InfersOutputShape) {
    testing::OpRun r;
    r.op_type = "GridSample";
    r.opset = 16;
    r.inputs = {iota({2, 3, 5, 5}), f32({2, 4, 7, 2}, std::vector<float>(2 * 4 * 7 * 2, 0.f))};
    auto s = testing::make_op_session(r);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(s.value()->outputs()[0].shape, (std::vector<int64_t>{2, 3, 4, 7}));
}

TEST(GridSample, RejectsBadModeString) {
    auto bad = run("GridSample", {iota({1, 1, 2, 2}), gs2_grid()}, {{"mode", str("trilinear")}}, 1, {}, 16);
    EXPECT_FALSE(bad.is_ok());
    // Opset-16 names are not opset-20 names and vice versa.
    EXPECT_FALSE(run("GridSample", {iota({1, 1, 2, 2}), gs2_grid()}, {{"mode", str("bilinear")}}, 1, {}, 20).is_ok());
    EXPECT_FALSE(run("GridSample", {iota({1, 1, 2, 2}), gs2_grid()}, {{"mode", str("cubic")}}, 1, {}, 16).is_ok());
    EXPECT_FALSE(run("GridSample", {iota({1, 1, 2, 2}), gs2_grid()}, {{"padding_mode", str("wrap")}}, 1, {}, 16)
                     .is_ok());
}

TEST(GridSample, RejectsGridLastDimNotSpatialRank) {
    auto out = run("GridSample", {iota({1, 1, 2, 2}), f32({1, 2, 2, 3}, std::vector<float>(12, 0.f))}, {}, 1, {}, 16);
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().to_string().find("last dim of grid"), std::string::npos) << out.status().to_string();
}

TEST(GridSample, RejectsRankAndBatchMismatch) {
    EXPECT_FALSE(run("GridSample", {iota({1, 1, 2, 2}), f32({1, 2, 2}, {0, 0, 0, 0})}, {}, 1, {}, 16).is_ok());
    EXPECT_FALSE(run("GridSample", {iota({1, 1, 2, 2}), f32({2, 1, 1, 2}, {0, 0, 0, 0})}, {}, 1, {}, 16).is_ok());
}

// ---- AffineGrid ----------------------------------------------------------------------------------------------------

// th = torch.tensor([[[0.8,-0.3,0.1],[0.2,1.1,-0.4]]]); F.affine_grid(th, [1,1,2,3], align_corners=ac)
TEST(AffineGrid, TwoDimensional) {
    const Tensor th = f32({1, 2, 3}, {0.8f, -0.3f, 0.1f, 0.2f, 1.1f, -0.4f});
    auto a0 = run("AffineGrid", {th, i64v({1, 1, 2, 3})}, {}, 1, {}, 20);
    ASSERT_TRUE(a0.is_ok()) << a0.status().to_string();
    EXPECT_EQ(a0.value()[0].tensor.shape(), (Shape{1, 2, 3, 2}));
    expect_near(a0.value()[0].tensor, {-0.2833334f, -1.083333f, 0.25f, -0.95f, 0.7833334f, -0.8166667f, -0.5833334f,
                                       0.01666668f, -0.05f, 0.15f, 0.4833333f, 0.2833333f});
    auto a1 = run("AffineGrid", {th, i64v({1, 1, 2, 3})}, {{"align_corners", int1(1)}}, 1, {}, 20);
    ASSERT_TRUE(a1.is_ok()) << a1.status().to_string();
    expect_near(a1.value()[0].tensor, {-0.4f, -1.7f, 0.4f, -1.5f, 1.2f, -1.3f, -1.f, 0.5f, -0.2f, 0.7f, 0.6f, 0.9f});
}

// th3 = torch.tensor([[[0.9,0.1,-0.2,0.05],[0.0,1.2,0.3,-0.1],[0.4,-0.5,0.7,0.2]]]);
// F.affine_grid(th3, [1,1,2,2,3], align_corners=ac)
TEST(AffineGrid, ThreeDimensional) {
    const Tensor th = f32({1, 3, 4}, {0.9f, 0.1f, -0.2f, 0.05f, 0.0f, 1.2f, 0.3f, -0.1f, 0.4f, -0.5f, 0.7f, 0.2f});
    auto a0 = run("AffineGrid", {th, i64v({1, 1, 2, 2, 3})}, {}, 1, {}, 20);
    ASSERT_TRUE(a0.is_ok()) << a0.status().to_string();
    EXPECT_EQ(a0.value()[0].tensor.shape(), (Shape{1, 2, 2, 3, 3}));
    expect_near(a0.value()[0].tensor,
                {-0.5f, -0.85f, -0.1666667f, 0.1f,  -0.85f, 0.1f,       0.7f,  -0.85f, 0.3666667f,
                 -0.4f, 0.35f,  -0.6666667f, 0.2f,  0.35f,  -0.4f,      0.8f,  0.35f,  -0.1333333f,
                 -0.7f, -0.55f, 0.5333333f,  -0.1f, -0.55f, 0.8f,       0.5f,  -0.55f, 1.066667f,
                 -0.6f, 0.65f,  0.03333335f, 0.f,   0.65f,  0.3f,       0.6f,  0.65f,  0.5666667f});
    auto a1 = run("AffineGrid", {th, i64v({1, 1, 2, 2, 3})}, {{"align_corners", int1(1)}}, 1, {}, 20);
    ASSERT_TRUE(a1.is_ok()) << a1.status().to_string();
    expect_near(a1.value()[0].tensor,
                {-0.75f, -1.6f, -0.4f, 0.15f,  -1.6f, 0.f,  1.05f, -1.6f, 0.4f, -0.55f, 0.8f, -1.4f,
                 0.35f,  0.8f,  -1.f,  1.25f,  0.8f,  -0.6f, -1.15f, -1.f,  1.f,  -0.25f, -1.f, 1.4f,
                 0.65f,  -1.f,  1.8f,  -0.95f, 1.4f,  0.f,  -0.05f, 1.4f,  0.4f, 0.85f,  1.4f, 0.8f});
}

TEST(AffineGrid, InfersStaticShapeFromConstantSize) {
    testing::OpRun r;
    r.op_type = "AffineGrid";
    r.opset = 20;
    r.inputs = {f32({1, 2, 3}, {1, 0, 0, 0, 1, 0}), i64v({1, 3, 4, 5})};
    r.as_initializer = {false, true};
    auto s = testing::make_op_session(r);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(s.value()->outputs()[0].shape, (std::vector<int64_t>{1, 4, 5, 2}));
}

TEST(AffineGrid, RejectsThetaNotMatchingSize) {
    const Tensor th = f32({1, 2, 3}, {1, 0, 0, 0, 1, 0});
    EXPECT_FALSE(run("AffineGrid", {th, i64v({1, 1, 2, 2, 2})}, {}, 1, {}, 20).is_ok());
    EXPECT_FALSE(run("AffineGrid", {th, i64v({2, 1, 2, 2})}, {}, 1, {}, 20).is_ok());
    EXPECT_FALSE(run("AffineGrid", {th, i64v({1, 1, -2, 2})}, {}, 1, {}, 20).is_ok());
    EXPECT_FALSE(run("AffineGrid", {th, i64v({1, 2, 2})}, {}, 1, {}, 20).is_ok());
}

// ---- RoiAlign ------------------------------------------------------------------------------------------------------

namespace {
// ra = [[0, 0.5,1.2,4.6,3.4], [1, 2,0,5,4]] in torchvision's (batch, x1, y1, x2, y2) layout
Tensor ra_rois() { return f32({2, 4}, {0.5f, 1.2f, 4.6f, 3.4f, 2.f, 0.f, 5.f, 4.f}); }
Tensor ra_batch() { return i64v({0, 1}); }
ir::Attributes ra_attrs(const std::string& ct, int64_t oh, int64_t ow, int64_t sr, float scale) {
    return {{"coordinate_transformation_mode", str(ct)}, {"output_height", int1(oh)}, {"output_width", int1(ow)},
            {"sampling_ratio", int1(sr)}, {"spatial_scale", ir::Attribute::make_float(scale)}};
}
}  // namespace

TEST(RoiAlign, HalfPixelAdaptiveMatchesTorchvisionAligned) {
    // torchvision.ops.roi_align(x, ra, output_size=(2,3), spatial_scale=1.0, sampling_ratio=0, aligned=True)
    auto out = run("RoiAlign", {roi_x(), ra_rois(), ra_batch()}, ra_attrs("half_pixel", 2, 3, 0, 1.f), 1, {}, 16);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 2, 2, 3}));
    expect_near(out.value()[0].tensor,
                {0.001744822f, 0.4858789f, -0.4042969f, 0.6411198f, -0.08419275f, -0.03385418f, 0.2288541f, -0.253431f,
                 0.01028645f, -0.1703646f, 0.196224f, -0.6494792f, 0.25f, -0.875f, 0.875f, -0.3125f, 0.f, 0.3125f,
                 -0.4375f, -0.125f, 0.1875f, 0.4375f, 0.75f, -0.375f});
}

TEST(RoiAlign, OutputHalfPixelFixedSamplingMatchesTorchvision) {
    // torchvision.ops.roi_align(x, ra, output_size=(2,2), spatial_scale=0.8, sampling_ratio=2, aligned=False)
    const std::vector<float> want = {0.3116251f, -0.08725007f, 0.52585f,    -0.259425f, -0.16025f,  0.03312502f,
                                     -0.02192502f, -0.263825f, -0.24625f,   -0.3024997f, -0.3512499f, 0.11f,
                                     -0.18625f,  0.1025001f,  0.3987501f,  0.3999996f};
    auto out = run("RoiAlign", {roi_x(), ra_rois(), ra_batch()}, ra_attrs("output_half_pixel", 2, 2, 2, 0.8f), 1, {},
                   16);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, want);
    // Opset 10 has no coordinate_transformation_mode and means output_half_pixel.
    ir::Attributes a10 = ra_attrs("output_half_pixel", 2, 2, 2, 0.8f);
    a10.erase("coordinate_transformation_mode");
    auto v10 = run("RoiAlign", {roi_x(), ra_rois(), ra_batch()}, a10, 1, {}, 10);
    ASSERT_TRUE(v10.is_ok()) << v10.status().to_string();
    expect_near(v10.value()[0].tensor, want);
}

TEST(RoiAlign, MaxModeMatchesOnnxReference) {
    // Port of onnx/reference/ops/op_roi_align.py (max branch), half_pixel, output 2x3, adaptive sampling.
    ir::Attributes a = ra_attrs("half_pixel", 2, 3, 0, 1.f);
    a["mode"] = str("max");
    auto out = run("RoiAlign", {roi_x(), ra_rois(), ra_batch()}, a, 1, {}, 16);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor,
                {0.6398438f, 0.7769531f, 0.2985938f, 1.127344f, 0.3372396f, 0.5260937f, 0.8023438f, 0.3253906f,
                 0.6764063f, 0.6093751f, 0.5733072f, 0.2369792f, 0.75f, 0.f, 1.375f, 0.625f, 0.5f, 1.25f, 0.5f,
                 0.375f, 1.125f, 1.375f, 1.25f, 0.125f});
}

TEST(RoiAlign, InfersOutputShape) {
    testing::OpRun r;
    r.op_type = "RoiAlign";
    r.opset = 16;
    r.inputs = {roi_x(), ra_rois(), ra_batch()};
    r.attrs = ra_attrs("half_pixel", 3, 4, 0, 1.f);
    auto s = testing::make_op_session(r);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(s.value()->outputs()[0].shape, (std::vector<int64_t>{2, 2, 3, 4}));
}

TEST(RoiAlign, RejectsBatchIndexOutOfRange) {
    auto out = run("RoiAlign", {roi_x(), ra_rois(), i64v({0, 2})}, {}, 1, {}, 16);
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().to_string().find("batch index 2"), std::string::npos) << out.status().to_string();
    EXPECT_FALSE(run("RoiAlign", {roi_x(), ra_rois(), i64v({-1, 0})}, {}, 1, {}, 16).is_ok());
}

TEST(RoiAlign, RejectsBadShapesAndAttributes) {
    EXPECT_FALSE(run("RoiAlign", {roi_x(), ra_rois(), i64v({0})}, {}, 1, {}, 16).is_ok());
    EXPECT_FALSE(run("RoiAlign", {roi_x(), f32({1, 3}, {0, 0, 1}), i64v({0})}, {}, 1, {}, 16).is_ok());
    EXPECT_FALSE(run("RoiAlign", {roi_x(), ra_rois(), ra_batch()}, {{"mode", str("sum")}}, 1, {}, 16).is_ok());
    EXPECT_FALSE(run("RoiAlign", {roi_x(), ra_rois(), ra_batch()},
                     {{"coordinate_transformation_mode", str("align_corners")}}, 1, {}, 16)
                     .is_ok());
    EXPECT_FALSE(run("RoiAlign", {roi_x(), f32({1, 4}, {0, 0, 1e30f, 1e30f}), i64v({0})}, {}, 1, {}, 16).is_ok());
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_FALSE(run("RoiAlign", {roi_x(), f32({1, 4}, {0, 0, inf, 1}), i64v({0})}, {}, 1, {}, 16).is_ok());
}

// ---- MaxRoiPool ----------------------------------------------------------------------------------------------------

TEST(MaxRoiPool, MatchesTorchvisionRoiPool) {
    // torchvision.ops.roi_pool(x, [[0,0.5,1.2,4.6,3.4],[1,2,0,5,4],[1,1,1,1,1]], output_size=(2,3), spatial_scale=1)
    const Tensor rois = f32({3, 5}, {0, 0.5f, 1.2f, 4.6f, 3.4f, 1, 2, 0, 5, 4, 1, 1, 1, 1, 1});
    auto out = run("MaxRoiPool", {roi_x(), rois}, {{"pooled_shape", ints({2, 3})}}, 1, {}, 1);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{3, 2, 2, 3}));
    expect_near(out.value()[0].tensor,
                {1.25f, 1.125f, 0.75f,  1.25f,  0.875f, 0.75f,  0.875f, 0.875f, 1.375f, 1.f,    0.875f, 0.5f,
                 0.75f, 1.375f, 1.375f, 1.375f, 1.375f, 1.25f,  1.25f,  1.25f,  1.125f, 1.375f, 1.25f,  1.f,
                 0.875f, 0.875f, 0.875f, 0.875f, 0.875f, 0.875f, -1.25f, -1.25f, -1.25f, -1.25f, -1.25f, -1.25f});
}

TEST(MaxRoiPool, SpatialScale) {
    // torchvision.ops.roi_pool(x, [[0,1,2,8,9]], output_size=(2,2), spatial_scale=0.5)
    auto out = run("MaxRoiPool", {roi_x(), f32({1, 5}, {0, 1, 2, 8, 9})},
                   {{"pooled_shape", ints({2, 2})}, {"spatial_scale", ir::Attribute::make_float(0.5f)}}, 1, {}, 1);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {1.25f, 0.875f, 1.f, 0.875f, 1.f, 0.75f, 1.f, 0.625f});
}

TEST(MaxRoiPool, RejectsBatchIndexOutOfRange) {
    auto out = run("MaxRoiPool", {roi_x(), f32({1, 5}, {2, 0, 0, 1, 1})}, {{"pooled_shape", ints({1, 1})}}, 1, {}, 1);
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().to_string().find("batch index"), std::string::npos) << out.status().to_string();
}

TEST(MaxRoiPool, RejectsBadPooledShapeAndRois) {
    EXPECT_FALSE(run("MaxRoiPool", {roi_x(), f32({1, 5}, {0, 0, 0, 1, 1})}, {{"pooled_shape", ints({0, 1})}}, 1, {}, 1)
                     .is_ok());
    EXPECT_FALSE(run("MaxRoiPool", {roi_x(), f32({1, 4}, {0, 0, 1, 1})}, {{"pooled_shape", ints({1, 1})}}, 1, {}, 1)
                     .is_ok());
    const float nan = std::nanf("");
    EXPECT_FALSE(run("MaxRoiPool", {roi_x(), f32({1, 5}, {0, nan, 0, 1, 1})}, {{"pooled_shape", ints({1, 1})}}, 1,
                     {}, 1)
                     .is_ok());
}

// ---- Col2Im --------------------------------------------------------------------------------------------------------

TEST(Col2Im, MatchesTorchFoldWithPadsAndStrides) {
    // F.fold(torch.arange(48.).reshape(1,8,6), output_size=(3,5), kernel_size=(2,2), padding=(0,1), stride=(1,2))
    auto out = run("Col2Im", {iota({1, 8, 6}), i64v({3, 5}), i64v({2, 2})},
                   {{"pads", ints({0, 1, 0, 1})}, {"strides", ints({1, 2})}}, 1, {}, 18);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 2, 3, 5}));
    expect_near(out.value()[0].tensor, {6,  1,  7,  2,  8,  27, 17, 29, 19, 31, 21, 16, 22, 17, 23,
                                        30, 25, 31, 26, 32, 75, 65, 77, 67, 79, 45, 40, 46, 41, 47});
}

TEST(Col2Im, MatchesTorchFoldWithDilation) {
    // F.fold(torch.arange(16.).reshape(1,4,4), output_size=(4,4), kernel_size=(2,2), dilation=2)
    auto out = run("Col2Im", {iota({1, 4, 4}), i64v({4, 4}), i64v({2, 2})}, {{"dilations", ints({2, 2})}}, 1, {}, 18);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15});
}

TEST(Col2Im, ThreeDimensionalOverlapsSum) {
    // Block 2x2x2 with stride 1 over a 3x3x3 image: each pixel receives one term per block covering it,
    // so with all-ones columns the output counts the covering blocks (corner 1, centre 8).
    auto out = run("Col2Im", {f32({1, 8, 8}, std::vector<float>(64, 1.f)), i64v({3, 3, 3}), i64v({2, 2, 2})}, {}, 1,
                   {}, 18);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const Tensor& y = out.value()[0].tensor;
    EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3, 3}));
    EXPECT_EQ(values<float>(y)[0], 1.f);
    EXPECT_EQ(values<float>(y)[13], 8.f);
    EXPECT_EQ(values<float>(y)[4], 4.f);
}

TEST(Col2Im, InfersShapeFromConstantShapes) {
    testing::OpRun r;
    r.op_type = "Col2Im";
    r.opset = 18;
    r.inputs = {iota({1, 8, 6}), i64v({3, 5}), i64v({2, 2})};
    r.attrs = {{"pads", ints({0, 1, 0, 1})}, {"strides", ints({1, 2})}};
    r.as_initializer = {false, true, true};
    auto s = testing::make_op_session(r);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(s.value()->outputs()[0].shape, (std::vector<int64_t>{1, 2, 3, 5}));
}

TEST(Col2Im, RejectsBlockCountMismatch) {
    // 3x5 image, 2x2 block, stride 1: 2 * 4 = 8 blocks, not 6.
    EXPECT_FALSE(run("Col2Im", {iota({1, 8, 6}), i64v({3, 5}), i64v({2, 2})}, {}, 1, {}, 18).is_ok());
    // Channel dim not a multiple of prod(block_shape).
    EXPECT_FALSE(run("Col2Im", {iota({1, 6, 8}), i64v({3, 5}), i64v({2, 2})}, {}, 1, {}, 18).is_ok());
    // Block larger than the image, rank mismatch, bad strides.
    EXPECT_FALSE(run("Col2Im", {iota({1, 16, 1}), i64v({3, 3}), i64v({4, 4})}, {}, 1, {}, 18).is_ok());
    EXPECT_FALSE(run("Col2Im", {iota({1, 4, 4}), i64v({3, 3, 3}), i64v({2, 2})}, {}, 1, {}, 18).is_ok());
    EXPECT_FALSE(run("Col2Im", {iota({1, 4, 4}), i64v({3, 3}), i64v({2, 2})}, {{"strides", ints({0, 1})}}, 1, {}, 18)
                     .is_ok());
}

// ---- MaxUnpool -----------------------------------------------------------------------------------------------------

TEST(MaxUnpool, OutputShapePadsAtTheEndOfEachAxis) {
    // Indices address the default 1x1x2x4 unpooled shape: 1 -> (0, 1), 6 -> (1, 2); the 1x1x3x5 output_shape
    // appends zeros, so they land at 0 * 5 + 1 and 1 * 5 + 2.
    auto out = run("MaxUnpool", {f32({1, 1, 1, 2}, {7, 9}), i64({1, 1, 1, 2}, {1, 6}), i64v({1, 1, 3, 5})},
                   {{"kernel_shape", ints({2, 2})}, {"strides", ints({1, 2})}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    std::vector<float> want(15, 0.f);
    want[1] = 7;
    want[7] = 9;
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 1, 3, 5}));
    EXPECT_EQ(values<float>(out.value()[0].tensor), want);
}

TEST(MaxUnpool, RejectsIndexOutsideDefaultShape) {
    // Index 8 fits the 15-element output_shape but not the 8-element default shape.
    auto out = run("MaxUnpool", {f32({1, 1, 1, 2}, {7, 9}), i64({1, 1, 1, 2}, {1, 8}), i64v({1, 1, 3, 5})},
                   {{"kernel_shape", ints({2, 2})}, {"strides", ints({1, 2})}});
    EXPECT_FALSE(out.is_ok());
}

}  // namespace nnport

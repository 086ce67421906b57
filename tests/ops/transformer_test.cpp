// Transformer family (opsets 23/24): RMSNormalization, RotaryEmbedding, Attention, Swish.
// Expected values come from small float64 loops written here from the ONNX spec text, cross-checked by
// hard-coded arrays produced with numpy (commands noted next to each array).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/proto_builder.hpp"
#include "util/op_runner.hpp"

namespace nnport {
namespace {

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
ir::Attribute ai(int64_t v) { return ir::Attribute::make_int(v); }
ir::Attribute af(float v) { return ir::Attribute::make_float(v); }

/// Deterministic values in [-1, 1) (a small LCG, so tests do not depend on <random> implementations).
std::vector<float> pseudo(size_t n, uint32_t seed) {
    std::vector<float> v(n);
    uint32_t s = seed * 2654435761u + 12345u;
    for (auto& x : v) {
        s = s * 1664525u + 1013904223u;
        x = static_cast<float>((s >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
    return v;
}
Tensor rnd(Shape s, uint32_t seed) {
    const size_t n = static_cast<size_t>(shape_numel(s));
    return f32(std::move(s), pseudo(n, seed));
}

Result<std::vector<RtValue>> run(const std::string& op, std::vector<Tensor> inputs, ir::Attributes attrs = {},
                                 int num_outputs = 1, int opset = 23) {
    testing::OpRun r;
    r.op_type = op;
    r.opset = opset;
    r.inputs = std::move(inputs);
    r.attrs = std::move(attrs);
    r.num_outputs = num_outputs;
    return testing::run_op(r);
}

void expect_near(const Tensor& got, const std::vector<double>& want, double tol = 1e-5) {
    ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
    const float* g = got.data<float>();
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_NEAR(g[i], want[i], tol * (1.0 + std::fabs(want[i]))) << "at " << i;
    }
}

// ---- RMSNormalization -----------------------------------------------------------------------------------------

/// float64 reference: rows of `inner` elements, scale given densely per element of the normalized block.
std::vector<double> rms_ref(const Tensor& x, const std::vector<double>& scale, int64_t inner, double eps) {
    const float* xd = x.data<float>();
    std::vector<double> y(static_cast<size_t>(x.numel()));
    for (int64_t r = 0; r < x.numel() / inner; ++r) {
        double ss = 0;
        for (int64_t i = 0; i < inner; ++i) ss += double(xd[r * inner + i]) * xd[r * inner + i];
        const double inv = 1.0 / std::sqrt(ss / double(inner) + eps);
        for (int64_t i = 0; i < inner; ++i) y[size_t(r * inner + i)] = xd[r * inner + i] * inv * scale[size_t(i)];
    }
    return y;
}

TEST(RMSNormalization, HandValues) {
    // [3, 4]: mean of squares 12.5, so y = x / sqrt(12.5) * scale.
    auto out = run("RMSNormalization", {f32({1, 2}, {3, 4}), f32({2}, {1, 2})}, {{"epsilon", af(0.f)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {3 / std::sqrt(12.5), 8 / std::sqrt(12.5)});
}

TEST(RMSNormalization, AxisOneOverTrailingDims) {
    Tensor x = rnd({2, 3, 4}, 1);
    Tensor s = rnd({3, 4}, 2);
    auto out = run("RMSNormalization", {x, s}, {{"axis", ai(1)}, {"epsilon", af(1e-3f)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    std::vector<double> sd(s.data<float>(), s.data<float>() + 12);
    expect_near(out.value()[0].tensor, rms_ref(x, sd, 12, 1e-3));
}

TEST(RMSNormalization, ScaleBroadcastsOverNormalizedShape) {
    Tensor x = rnd({2, 3, 4}, 3);
    auto out = run("RMSNormalization", {x, f32({1, 4}, {1, 2, 3, 4})}, {{"axis", ai(-2)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    std::vector<double> sd;
    for (int r = 0; r < 3; ++r) sd.insert(sd.end(), {1, 2, 3, 4});
    expect_near(out.value()[0].tensor, rms_ref(x, sd, 12, 1e-5));
}

TEST(RMSNormalization, OutputTypeFollowsScale) {
    Tensor s = Tensor::from_vector<double>({2}, {1.0, 1.0});
    auto out = run("RMSNormalization", {f32({1, 2}, {3, 4}), s});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.dtype(), DType::kFloat64);
}

TEST(RMSNormalization, RejectsBadAxis) {
    auto out = run("RMSNormalization", {rnd({2, 3}, 1), rnd({3}, 2)}, {{"axis", ai(2)}});
    EXPECT_FALSE(out.is_ok());
    out = run("RMSNormalization", {rnd({2, 3}, 1), rnd({3}, 2)}, {{"axis", ai(-3)}});
    EXPECT_FALSE(out.is_ok());
}

TEST(RMSNormalization, RejectsScaleNotBroadcastable) {
    EXPECT_FALSE(run("RMSNormalization", {rnd({2, 3}, 1), rnd({2}, 2)}).is_ok());
    EXPECT_FALSE(run("RMSNormalization", {rnd({3}, 1), rnd({2, 3}, 2)}).is_ok());
}

TEST(RMSNormalization, RejectsBadStashType) {
    EXPECT_FALSE(run("RMSNormalization", {rnd({2, 3}, 1), rnd({3}, 2)}, {{"stash_type", ai(7)}}).is_ok());
}

// ---- RotaryEmbedding -------------------------------------------------------------------------------------------

// Expected arrays: /usr/bin/python3 with numpy, a transcription of onnx/reference/ops/op_rotary_embedding.py on the
// pseudo() inputs (script kept with the test commit message; values printed with %.9g).
const std::vector<double> kRope4d = {0.151145909, 0.508530277, -0.215726528, -0.812724781, -0.82312949, 0.466663964,
    0.219295081, -0.833700655, -0.15033398, -0.721993159, 0.0960787358, -0.343932076, 0.287843331, 0.277901392,
    -0.0405615745, 0.240952842, 0.222780537, 0.247895347, 0.66988172, -0.933446504, 0.25201703, 0.528445683,
    -0.29206937, 0.0843111165};
const std::vector<double> kRope3dInterleavedPartial = {-0.416544429, -0.288569462, 1.02702922, 0.198322558,
    -0.259979248, 0.694763184, 0.0084946407, -0.494338617, 0.407182775, 0.683477684, -0.950927734, -0.731292725,
    0.162911003, 0.699524913, 0.120786715, 1.19200255, 0.864532471, 0.343170166, -0.44538027, -0.314319663,
    -0.151813641, 0.205184516, -0.251312256, -0.546142578, -0.217353701, 0.205768424, -0.404678335, 0.292801701,
    0.114440918, -0.116821289, 0.823381272, 0.440751965, 0.637931622, 0.641621897, 0.0682373047, -0.883758545,
    -0.845268578, 0.00217236672, 0.132940799, 0.0575464144, -0.1769104, 0.711090088, 0.394374329, 0.204781995,
    0.0165157076, -0.21160215, -0.380554199, -0.229644775};

TEST(RotaryEmbedding, FourDimWithPositionIds) {
    auto out = run("RotaryEmbedding", {rnd({1, 2, 3, 4}, 11), rnd({5, 2}, 12), rnd({5, 2}, 13), i64({1, 3}, {4, 0, 2})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, kRope4d);
}

TEST(RotaryEmbedding, ThreeDimInterleavedPartial) {
    auto out = run("RotaryEmbedding", {rnd({2, 2, 12}, 21), rnd({2, 2, 2}, 22), rnd({2, 2, 2}, 23)},
                   {{"num_heads", ai(2)}, {"interleaved", ai(1)}, {"rotary_embedding_dim", ai(4)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, kRope3dInterleavedPartial);
}

TEST(RotaryEmbedding, RotatesHalvesByTheAngle) {
    // One head of size 4: pairs (x0, x2) and (x1, x3) rotate by the angles of cache columns 0 and 1.
    const double a = 0.3, b = 1.1;
    Tensor c = f32({1, 1, 2}, {float(std::cos(a)), float(std::cos(b))});
    Tensor s = f32({1, 1, 2}, {float(std::sin(a)), float(std::sin(b))});
    auto out = run("RotaryEmbedding", {f32({1, 1, 1, 4}, {1, 2, 0, 0}), c, s});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, {std::cos(a), 2 * std::cos(b), std::sin(a), 2 * std::sin(b)});
}

TEST(RotaryEmbedding, RejectsHeadCountNotDividingHidden) {
    EXPECT_FALSE(run("RotaryEmbedding", {rnd({1, 2, 10}, 1), rnd({1, 2, 1}, 2), rnd({1, 2, 1}, 3)},
                     {{"num_heads", ai(3)}}).is_ok());
    EXPECT_FALSE(run("RotaryEmbedding", {rnd({1, 2, 8}, 1), rnd({1, 2, 2}, 2), rnd({1, 2, 2}, 3)}).is_ok());
}

TEST(RotaryEmbedding, RejectsMismatchedCaches) {
    EXPECT_FALSE(run("RotaryEmbedding", {rnd({1, 1, 2, 4}, 1), rnd({1, 2, 2}, 2), rnd({1, 2, 1}, 3)}).is_ok());
    EXPECT_FALSE(run("RotaryEmbedding", {rnd({1, 1, 2, 4}, 1), rnd({1, 2, 3}, 2), rnd({1, 2, 3}, 3)}).is_ok());
    // With position_ids the caches are 2-D.
    EXPECT_FALSE(run("RotaryEmbedding",
                     {rnd({1, 1, 2, 4}, 1), rnd({1, 2, 2}, 2), rnd({1, 2, 2}, 3), i64({1, 2}, {0, 1})}).is_ok());
    EXPECT_FALSE(run("RotaryEmbedding",
                     {rnd({1, 1, 2, 4}, 1), rnd({4, 2}, 2), rnd({3, 2}, 3), i64({1, 2}, {0, 1})}).is_ok());
}

TEST(RotaryEmbedding, RejectsPositionOutsideCache) {
    EXPECT_FALSE(run("RotaryEmbedding",
                     {rnd({1, 1, 2, 4}, 1), rnd({4, 2}, 2), rnd({4, 2}, 3), i64({1, 2}, {0, 4})}).is_ok());
    EXPECT_FALSE(run("RotaryEmbedding",
                     {rnd({1, 1, 2, 4}, 1), rnd({4, 2}, 2), rnd({4, 2}, 3), i64({1, 2}, {-1, 0})}).is_ok());
}

TEST(RotaryEmbedding, RejectsBadRotaryDim) {
    EXPECT_FALSE(run("RotaryEmbedding", {rnd({1, 1, 2, 4}, 1), rnd({1, 2, 1}, 2), rnd({1, 2, 1}, 3)},
                     {{"rotary_embedding_dim", ai(3)}}).is_ok());
    EXPECT_FALSE(run("RotaryEmbedding", {rnd({1, 1, 2, 4}, 1), rnd({1, 2, 3}, 2), rnd({1, 2, 3}, 3)},
                     {{"rotary_embedding_dim", ai(6)}}).is_ok());
    EXPECT_FALSE(run("RotaryEmbedding", {rnd({2, 4}, 1), rnd({1, 2}, 2), rnd({1, 2}, 3)}).is_ok());
}

}  // namespace
}  // namespace nnport

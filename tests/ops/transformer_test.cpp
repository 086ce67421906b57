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
    return testing::run_simple(op, std::move(inputs), std::move(attrs), num_outputs, opset);
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

TEST(RMSNormalization, EmptyInput) {
    auto out = run("RMSNormalization", {f32({0, 1000000000}, {}), f32({1}, {2})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{0, 1000000000}));
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

// Expected arrays: printed (%.9g) by tests/ops/transformer_expected.py (/usr/bin/python3 + numpy), a float64
// transcription of onnx/reference/ops/op_rotary_embedding.py run on the same pseudo() inputs.
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
    auto out =
        run("RotaryEmbedding", {rnd({1, 2, 3, 4}, 11), rnd({5, 2}, 12), rnd({5, 2}, 13), i64({1, 3}, {4, 0, 2})});
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

TEST(RotaryEmbedding, ZeroSizedDimsReturnQuickly) {
    const int64_t n = 1000000000;
    auto out = run("RotaryEmbedding", {f32({n, 0, n, 0}, {}), f32({n, n, 0}, {}), f32({n, n, 0}, {})});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.numel(), 0);
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

// ---- Attention -------------------------------------------------------------------------------------------------

// Printed by tests/ops/transformer_expected.py: a float64 transcription of onnx/reference/ops/op_attention.py
// (with the errata: fully-masked rows give 0) run on the pseudo() inputs named in each test.
const std::vector<double> kAttnBasic = {0.449410997, -0.00410865547, -0.247395601, 0.348320116, 0.0410375612,
    -0.14797439, 0.358919209, 0.148940462, -0.279453137, 0.393397286, -0.316116317, -0.315151873, 0.457337264,
    -0.279326229, -0.329888957, 0.552985485, -0.11029877, -0.13905812, -0.0915584786, 0.297664573, 0.487632537,
    -0.058749224, 0.219836263, 0.55382965, 0.144134986, 0.143261047, 0.492600378, 0.30598353, 0.283974822,
    0.547325257, 0.243150645, -0.0433892734, 0.485644997, 0.269867937, 0.140914323, 0.459994677};
const std::vector<double> kAttnGqaCausalPast = {0.0257625612, 0.030107293, 0.0144955156, 0.070781438, -0.325597309,
    0.301903604, -0.323407477, 0.297616931, -0.258050166, -0.00402979399, -0.17175682, 0.00978240824, -0.421544508,
    0.434841881, -0.396601366, 0.4026964};
const std::vector<double> kAttnGqaPresentKey = {-0.749664307, -0.0152587891, 0.382141113, 0.322662354, 0.895599365,
    -0.311279297, 0.544921875, 0.809173584, -0.0451049805, 0.915313721, 0.130981445, 0.646911621, 0.323669434,
    0.765777588, 0.34753418, -0.848175049};
const std::vector<double> kAttnBoolMaskSoftcap = {0.109097015, 0.0177877419, 0, 0, -0.165377985, -0.0159256624};

/// Independent float64 attention over canonical 4-D tensors (K/V already include the past), from the spec text.
struct RefAttn {
    int64_t B = 1, Hq = 1, Hkv = 1, Sq = 1, T = 1, D = 1, Dv = 1;
    std::vector<double> q, k, v;       ///< [B,Hq,Sq,D], [B,Hkv,T,D], [B,Hkv,T,Dv]
    std::vector<double> bias;          ///< [B,Hq,Sq,T] additive (empty: none)
    double scale = 0, softcap = 0;
    std::vector<double> y, qk[4];      ///< outputs: Y [B,Hq,Sq,Dv] and the four qk_matmul_output modes

    void run() {
        const double sc = scale > 0 ? scale : 1.0 / std::sqrt(double(D));
        y.assign(size_t(B * Hq * Sq * Dv), 0.0);
        for (auto& m : qk) m.assign(size_t(B * Hq * Sq * T), 0.0);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < Hq; ++h)
                for (int64_t i = 0; i < Sq; ++i) {
                    const int64_t hk = h / (Hq / Hkv), row = ((b * Hq + h) * Sq + i) * T;
                    std::vector<double> s(static_cast<size_t>(T), 0.0);
                    double mx = -INFINITY;
                    for (int64_t j = 0; j < T; ++j) {
                        double dot = 0;
                        for (int64_t d = 0; d < D; ++d)
                            dot += q[size_t(((b * Hq + h) * Sq + i) * D + d)] *
                                   k[size_t(((b * Hkv + hk) * T + j) * D + d)];
                        const double raw = sc * dot, bj = bias.empty() ? 0.0 : bias[size_t(row + j)];
                        qk[0][size_t(row + j)] = raw;
                        qk[1][size_t(row + j)] = raw + bj;
                        s[size_t(j)] = (softcap > 0 ? softcap * std::tanh(raw / softcap) : raw) + bj;
                        qk[2][size_t(row + j)] = s[size_t(j)];
                        mx = std::max(mx, s[size_t(j)]);
                    }
                    double sum = 0;
                    for (auto& x : s) sum += (x = std::exp(x - mx));
                    for (int64_t j = 0; j < T; ++j) {
                        const double p = s[size_t(j)] / sum;  // NaN for a fully masked row
                        qk[3][size_t(row + j)] = p;
                        if (mx == -INFINITY) continue;       // errata: the output row stays 0
                        for (int64_t d = 0; d < Dv; ++d)
                            y[size_t(((b * Hq + h) * Sq + i) * Dv + d)] +=
                                p * v[size_t(((b * Hkv + hk) * T + j) * Dv + d)];
                    }
                }
    }
};

std::vector<double> as_double(const Tensor& t) {
    return std::vector<double>(t.data<float>(), t.data<float>() + t.numel());
}

/// [B, S, H*W] -> [B, H, S, W] (3-D attention layout to canonical).
std::vector<double> to_bhsw(const std::vector<double>& x, int64_t B, int64_t S, int64_t H, int64_t W) {
    std::vector<double> o(x.size());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < S; ++s)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t w = 0; w < W; ++w)
                    o[size_t(((b * H + h) * S + s) * W + w)] = x[size_t(((b * S + s) * H + h) * W + w)];
    return o;
}

/// Additive causal bias [B,Hq,Sq,T]: key j is visible to query i iff j <= i + offset.
std::vector<double> causal_bias(const RefAttn& r, int64_t offset) {
    std::vector<double> bias(size_t(r.B * r.Hq * r.Sq * r.T), 0.0);
    for (size_t n = 0; n < bias.size(); ++n) {
        const int64_t j = int64_t(n) % r.T, i = (int64_t(n) / r.T) % r.Sq;
        if (j > i + offset) bias[n] = -INFINITY;
    }
    return bias;
}

RefAttn ref4(const Tensor& q, const Tensor& k, const Tensor& v) {
    RefAttn r;
    r.B = q.dim(0), r.Hq = q.dim(1), r.Sq = q.dim(2), r.D = q.dim(3), r.Hkv = k.dim(1), r.T = k.dim(2), r.Dv = v.dim(3);
    r.q = as_double(q), r.k = as_double(k), r.v = as_double(v);
    return r;
}

TEST(Attention, BasicMatchesReference) {
    Tensor q = rnd({2, 2, 3, 4}, 31), k = rnd({2, 2, 5, 4}, 32), v = rnd({2, 2, 5, 3}, 33);
    auto out = run("Attention", {q, k, v});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, kAttnBasic);
    RefAttn r = ref4(q, k, v);
    r.run();
    expect_near(out.value()[0].tensor, r.y);
}

TEST(Attention, GqaCausalPastThreeDim) {
    // 4 query heads share 2 KV heads; head size 2; 2 new tokens after a past of 2.
    Tensor q = rnd({1, 2, 8}, 41), k = rnd({1, 2, 4}, 42), v = rnd({1, 2, 4}, 43);
    Tensor pk = rnd({1, 2, 2, 2}, 44), pv = rnd({1, 2, 2, 2}, 45);
    auto out = run("Attention", {q, k, v, Tensor(), pk, pv},
                   {{"q_num_heads", ai(4)}, {"kv_num_heads", ai(2)}, {"is_causal", ai(1)}}, 3);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, kAttnGqaCausalPast);
    expect_near(out.value()[1].tensor, kAttnGqaPresentKey);
    EXPECT_EQ(out.value()[2].tensor.shape(), (Shape{1, 2, 4, 2}));
    // Independent check: concat the caches, repeat heads, offset the causal diagonal by the past length.
    RefAttn r;
    r.Hq = 4, r.Hkv = 2, r.Sq = 2, r.T = 4, r.D = 2, r.Dv = 2;
    r.q = to_bhsw(as_double(q), 1, 2, 4, 2);
    const std::vector<double> kn = to_bhsw(as_double(k), 1, 2, 2, 2), vn = to_bhsw(as_double(v), 1, 2, 2, 2);
    const std::vector<double> pkd = as_double(pk), pvd = as_double(pv);
    for (int h = 0; h < 2; ++h) {
        r.k.insert(r.k.end(), pkd.begin() + h * 4, pkd.begin() + h * 4 + 4);
        r.k.insert(r.k.end(), kn.begin() + h * 4, kn.begin() + h * 4 + 4);
        r.v.insert(r.v.end(), pvd.begin() + h * 4, pvd.begin() + h * 4 + 4);
        r.v.insert(r.v.end(), vn.begin() + h * 4, vn.begin() + h * 4 + 4);
    }
    r.bias = causal_bias(r, 2);
    r.run();
    // Y is [B, Sq, Hq*Dv]; compare in canonical layout.
    expect_near(out.value()[1].tensor, r.k);
    expect_near(out.value()[2].tensor, r.v);
    const std::vector<double> y4 = to_bhsw(as_double(out.value()[0].tensor), 1, 2, 4, 2);
    for (size_t i = 0; i < y4.size(); ++i) EXPECT_NEAR(y4[i], r.y[i], 1e-5);
}

TEST(Attention, BoolMaskShortRowFullyMaskedGivesZero) {
    // Mask [3, 4] is padded with False up to the 5 keys; row 1 masks every key, so its output is 0 (not NaN).
    Tensor m = Tensor::from_vector<bool>({3, 4}, {true, false, true, true, false, false, false, false, true, true,
                                                  false, true});
    auto out = run("Attention", {rnd({1, 1, 3, 2}, 51), rnd({1, 1, 5, 2}, 52), rnd({1, 1, 5, 2}, 53), m},
                   {{"scale", af(0.5f)}, {"softcap", af(2.0f)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    expect_near(out.value()[0].tensor, kAttnBoolMaskSoftcap);
    EXPECT_EQ(out.value()[0].tensor.data<float>()[2], 0.0f);
}

TEST(Attention, CausalSquareAndQkOutputModes) {
    Tensor q = rnd({1, 2, 4, 3}, 61), k = rnd({1, 2, 4, 3}, 62), v = rnd({1, 2, 4, 3}, 63);
    RefAttn r = ref4(q, k, v);
    r.softcap = 0.7;
    r.bias = causal_bias(r, 0);
    r.run();
    for (int mode = 0; mode < 4; ++mode) {
        auto out = run("Attention", {q, k, v},
                       {{"is_causal", ai(1)}, {"softcap", af(0.7f)}, {"qk_matmul_output_mode", ai(mode)}}, 4);
        ASSERT_TRUE(out.is_ok()) << out.status().to_string();
        expect_near(out.value()[0].tensor, r.y);
        const float* got = out.value()[3].tensor.data<float>();
        for (size_t i = 0; i < r.qk[mode].size(); ++i) {
            if (std::isinf(r.qk[mode][i])) EXPECT_EQ(got[i], float(r.qk[mode][i])) << "mode " << mode << " at " << i;
            else EXPECT_NEAR(got[i], r.qk[mode][i], 1e-5) << "mode " << mode << " at " << i;
        }
    }
    // The first query sees only the first key: its output is V's first row.
    auto out = run("Attention", {q, k, v}, {{"is_causal", ai(1)}});
    ASSERT_TRUE(out.is_ok());
    for (int d = 0; d < 3; ++d) EXPECT_NEAR(out.value()[0].tensor.data<float>()[d], v.data<float>()[d], 1e-6);
}

TEST(Attention, FullyMaskedRowQkSoftmaxIsNaN) {
    std::vector<float> mv(4, 0.0f);
    mv[2] = mv[3] = -INFINITY;  // query row 1 masks both keys
    auto out = run("Attention", {rnd({1, 1, 2, 2}, 1), rnd({1, 1, 2, 2}, 2), rnd({1, 1, 2, 2}, 3), f32({2, 2}, mv)},
                   {{"qk_matmul_output_mode", ai(3)}}, 4);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const float* y = out.value()[0].tensor.data<float>();
    const float* p = out.value()[3].tensor.data<float>();
    EXPECT_EQ(y[2], 0.0f);
    EXPECT_EQ(y[3], 0.0f);
    EXPECT_TRUE(std::isnan(p[2]) && std::isnan(p[3]));
    EXPECT_NEAR(p[0] + p[1], 1.0f, 1e-6);
}

TEST(Attention, FloatMaskBroadcastAndManyRowBlocks) {
    // 70 query rows span several row blocks; the additive mask [1, Sq, T] broadcasts over batch and heads.
    const int64_t Sq = 70, T = 45;
    Tensor q = rnd({2, 3, Sq, 5}, 71), k = rnd({2, 3, T, 5}, 72), v = rnd({2, 3, T, 4}, 73);
    Tensor m = rnd({1, Sq, T}, 74);
    auto out = run("Attention", {q, k, v, m}, {{"scale", af(0.25f)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    RefAttn r = ref4(q, k, v);
    r.scale = 0.25;
    r.bias.resize(size_t(2 * 3 * Sq * T));
    for (size_t n = 0; n < r.bias.size(); ++n) r.bias[n] = m.data<float>()[n % size_t(Sq * T)];
    r.run();
    expect_near(out.value()[0].tensor, r.y);
}

TEST(Attention, CausalLongSequenceWithPastSkipsMaskedColumns) {
    const int64_t Sq = 40, S = 40, P = 9;
    Tensor q = rnd({1, 4, Sq, 8}, 81), k = rnd({1, 1, S, 8}, 82), v = rnd({1, 1, S, 8}, 83);
    Tensor pk = rnd({1, 1, P, 8}, 84), pv = rnd({1, 1, P, 8}, 85);
    auto out = run("Attention", {q, k, v, Tensor(), pk, pv}, {{"is_causal", ai(1)}}, 3);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    RefAttn r = ref4(q, k, v);
    r.Hkv = 1, r.T = P + S;
    r.k = as_double(pk), r.v = as_double(pv);
    const auto kd = as_double(k), vd = as_double(v);
    r.k.insert(r.k.end(), kd.begin(), kd.end());
    r.v.insert(r.v.end(), vd.begin(), vd.end());
    r.bias = causal_bias(r, P);
    r.run();
    expect_near(out.value()[0].tensor, r.y);
    expect_near(out.value()[2].tensor, r.v);
}

TEST(Attention, DoubleInputs) {
    Tensor q = rnd({1, 1, 2, 2}, 91), k = rnd({1, 1, 3, 2}, 92), v = rnd({1, 1, 3, 2}, 93);
    RefAttn r = ref4(q, k, v);
    r.run();
    auto dbl = [](const Tensor& t) { return Tensor::from_vector<double>(t.shape(), as_double(t)); };
    auto out = run("Attention", {dbl(q), dbl(k), dbl(v)});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const Tensor& y = out.value()[0].tensor;
    ASSERT_EQ(y.dtype(), DType::kFloat64);
    for (size_t i = 0; i < r.y.size(); ++i) EXPECT_NEAR(y.data<double>()[i], r.y[i], 1e-12);
}

TEST(Attention, NonpadKvSeqlenOpset24) {
    // Static cache of 6 keys; batch 0 has 3 valid keys, batch 1 has 5. With is_causal the diagonal is aligned to
    // the last valid key (bottom-right): query i sees keys j <= i + nonpad - Sq.
    Tensor q = rnd({2, 1, 2, 3}, 101), k = rnd({2, 1, 6, 3}, 102), v = rnd({2, 1, 6, 3}, 103);
    const int64_t np[2] = {3, 5};
    for (int causal = 0; causal < 2; ++causal) {
        auto out = run("Attention", {q, k, v, Tensor(), Tensor(), Tensor(), i64({2}, {np[0], np[1]})},
                       {{"is_causal", ai(causal)}}, 1, 24);
        ASSERT_TRUE(out.is_ok()) << out.status().to_string();
        RefAttn r = ref4(q, k, v);
        r.bias.assign(size_t(2 * 2 * 6), 0.0);
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t i = 0; i < 2; ++i)
                for (int64_t j = 0; j < 6; ++j)
                    if (j >= np[b] || (causal && j > i + np[b] - 2)) r.bias[size_t((b * 2 + i) * 6 + j)] = -INFINITY;
        r.run();
        expect_near(out.value()[0].tensor, r.y);
    }
}

TEST(Attention, OmittedPresentOutputsWithQkOutput) {
    onnx::GraphProto g;
    testing::add_input(&g, "Q", onnx::TensorProto::FLOAT, {1, 1, 2, 2});
    testing::add_input(&g, "K", onnx::TensorProto::FLOAT, {1, 1, 3, 2});
    testing::add_input(&g, "V", onnx::TensorProto::FLOAT, {1, 1, 3, 2});
    testing::add_node(&g, "Attention", {"Q", "K", "V"}, {"Y", "", "", "QK"});
    testing::add_output(&g, "Y");
    testing::add_output(&g, "QK");
    Tensor q = rnd({1, 1, 2, 2}, 5), k = rnd({1, 1, 3, 2}, 6), v = rnd({1, 1, 3, 2}, 7);
    auto out = testing::run_graph(g, {{"Q", RtValue(q)}, {"K", RtValue(k)}, {"V", RtValue(v)}}, 23);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    RefAttn r = ref4(q, k, v);
    r.run();
    expect_near(out.value()[0].tensor, r.y);
    expect_near(out.value()[1].tensor, r.qk[0]);
}

TEST(Attention, EmptyHeadSizeGivesMeanOfValues) {
    // head_size 0: every score is 0, so each query averages V.
    Tensor v = rnd({1, 1, 3, 2}, 7);
    auto out = run("Attention", {f32({1, 1, 2, 0}, {}), f32({1, 1, 3, 0}, {}), v});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const float* vd = v.data<float>();
    const double m0 = (vd[0] + vd[2] + vd[4]) / 3.0, m1 = (vd[1] + vd[3] + vd[5]) / 3.0;
    expect_near(out.value()[0].tensor, {m0, m1, m0, m1});
}

TEST(Attention, RejectsHugeSequenceOfEmptyHeads) {
    // Zero-byte K/V can claim 2^40 keys; the kernel must refuse rather than allocate a score buffer for them.
    const int64_t n = int64_t{1} << 40;
    auto out = run("Attention", {f32({1, 1, 1, 0}, {}), f32({1, 1, n, 0}, {}), f32({1, 1, n, 0}, {})});
    EXPECT_FALSE(out.is_ok());
}

TEST(Attention, ZeroSizedDimsReturnQuickly) {
    // Empty tensors whose other dims multiply to ~1e15 rows: no loop may walk them.
    const int64_t n = 1000000;
    auto out = run("Attention", {f32({n, n, 1000, 0}, {}), f32({n, 1, 1000, 0}, {}), f32({n, 1, 1000, 0}, {})}, {}, 3);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{n, n, 1000, 0}));
    EXPECT_EQ(out.value()[1].tensor.shape(), (Shape{n, 1, 1000, 0}));
}

TEST(Attention, RejectsHeadCountNotDividingHidden) {
    auto out = run("Attention", {rnd({1, 2, 9}, 1), rnd({1, 2, 4}, 2), rnd({1, 2, 4}, 3)},
                   {{"q_num_heads", ai(2)}, {"kv_num_heads", ai(2)}});
    EXPECT_FALSE(out.is_ok());
    out = run("Attention", {rnd({1, 2, 8}, 1), rnd({1, 2, 4}, 2), rnd({1, 2, 4}, 3)});  // heads missing for 3-D
    EXPECT_FALSE(out.is_ok());
}

TEST(Attention, RejectsQHeadsNotMultipleOfKvHeads) {
    EXPECT_FALSE(run("Attention", {rnd({1, 3, 2, 2}, 1), rnd({1, 2, 2, 2}, 2), rnd({1, 2, 2, 2}, 3)}).is_ok());
}

TEST(Attention, RejectsShapeMismatches) {
    // Q/K head size, K/V length, rank mix, mask longer than the keys, lone past_key.
    EXPECT_FALSE(run("Attention", {rnd({1, 1, 2, 3}, 1), rnd({1, 1, 2, 2}, 2), rnd({1, 1, 2, 2}, 3)}).is_ok());
    EXPECT_FALSE(run("Attention", {rnd({1, 1, 2, 2}, 1), rnd({1, 1, 3, 2}, 2), rnd({1, 1, 2, 2}, 3)}).is_ok());
    EXPECT_FALSE(run("Attention", {rnd({1, 1, 2, 2}, 1), rnd({1, 2, 2}, 2), rnd({1, 1, 2, 2}, 3)}).is_ok());
    EXPECT_FALSE(
        run("Attention", {rnd({1, 1, 2, 2}, 1), rnd({1, 1, 2, 2}, 2), rnd({1, 1, 2, 2}, 3), rnd({2, 3}, 4)}).is_ok());
    EXPECT_FALSE(
        run("Attention", {rnd({1, 1, 2, 2}, 1), rnd({1, 1, 2, 2}, 2), rnd({1, 1, 2, 2}, 3), rnd({3, 2}, 4)}).is_ok());
    EXPECT_FALSE(run("Attention", {rnd({1, 1, 2, 2}, 1), rnd({1, 1, 2, 2}, 2), rnd({1, 1, 2, 2}, 3), Tensor(),
                                   rnd({1, 1, 1, 2}, 4)}).is_ok());
}

TEST(Attention, RejectsBadAttributes) {
    const std::vector<Tensor> in = {rnd({1, 1, 2, 2}, 1), rnd({1, 1, 2, 2}, 2), rnd({1, 1, 2, 2}, 3)};
    EXPECT_FALSE(run("Attention", in, {{"qk_matmul_output_mode", ai(4)}}).is_ok());
    EXPECT_FALSE(run("Attention", in, {{"scale", af(-1.0f)}}).is_ok());
    EXPECT_FALSE(run("Attention", in, {{"softmax_precision", ai(7)}}).is_ok());
}

TEST(Attention, RejectsBadNonpad) {
    std::vector<Tensor> in = {rnd({1, 1, 2, 2}, 1), rnd({1, 1, 2, 2}, 2), rnd({1, 1, 2, 2}, 3), Tensor(), Tensor(),
                              Tensor(), i64({1}, {3})};
    EXPECT_FALSE(run("Attention", in, {}, 1, 24).is_ok());  // more valid keys than keys
    in[6] = i64({1}, {1});
    EXPECT_FALSE(run("Attention", in, {}, 1, 23).is_ok());  // input 6 is opset 24
    EXPECT_TRUE(run("Attention", in, {}, 1, 24).is_ok());
}

TEST(Attention, RejectsAtRunTimeWithDynamicShapes) {
    // Symbolic dims defer the checks to the kernel.
    onnx::GraphProto g;
    for (const char* n : {"Q", "K", "V"}) testing::add_input(&g, n, onnx::TensorProto::FLOAT, {-1, -1, -1});
    auto* node = testing::add_node(&g, "Attention", {"Q", "K", "V"}, {"Y"});
    testing::attr_int(node, "q_num_heads", 2);
    testing::attr_int(node, "kv_num_heads", 2);
    testing::add_output(&g, "Y");
    auto feeds = [](int64_t q_hidden) {
        return std::vector<std::pair<std::string, RtValue>>{{"Q", RtValue(rnd({1, 2, q_hidden}, 1))},
                                                            {"K", RtValue(rnd({1, 3, 4}, 2))},
                                                            {"V", RtValue(rnd({1, 3, 4}, 3))}};
    };
    EXPECT_TRUE(testing::run_graph(g, feeds(4), 23).is_ok());
    EXPECT_FALSE(testing::run_graph(g, feeds(5), 23).is_ok());  // 5 is not a multiple of 2 heads
    EXPECT_FALSE(testing::run_graph(g, feeds(8), 23).is_ok());  // Q head 4, K head 2
}

// ---- Rotary/RMS run-time checks, Swish ---------------------------------------------------------------------

TEST(RotaryEmbedding, RejectsAtRunTimeWithDynamicShapes) {
    onnx::GraphProto g;
    testing::add_input(&g, "X", onnx::TensorProto::FLOAT, {-1, -1, -1, -1});
    testing::add_input(&g, "C", onnx::TensorProto::FLOAT, {-1, -1, -1});
    testing::add_input(&g, "S", onnx::TensorProto::FLOAT, {-1, -1, -1});
    testing::add_node(&g, "RotaryEmbedding", {"X", "C", "S"}, {"Y"});
    testing::add_output(&g, "Y");
    auto go = [&](Shape cs, Shape ss) {
        return testing::run_graph(g, {{"X", RtValue(rnd({1, 2, 3, 4}, 1))}, {"C", RtValue(rnd(cs, 2))},
                                      {"S", RtValue(rnd(ss, 3))}}, 23);
    };
    EXPECT_TRUE(go({1, 3, 2}, {1, 3, 2}).is_ok());
    EXPECT_FALSE(go({1, 3, 2}, {1, 3, 1}).is_ok());  // cos/sin differ
    EXPECT_FALSE(go({1, 2, 2}, {1, 2, 2}).is_ok());  // cache covers 2 of 3 tokens
}

TEST(RMSNormalization, RejectsScaleAtRunTimeWithDynamicShapes) {
    onnx::GraphProto g;
    testing::add_input(&g, "X", onnx::TensorProto::FLOAT, {-1, -1});
    testing::add_input(&g, "W", onnx::TensorProto::FLOAT, {-1});
    testing::add_node(&g, "RMSNormalization", {"X", "W"}, {"Y"});
    testing::add_output(&g, "Y");
    EXPECT_TRUE(testing::run_graph(g, {{"X", RtValue(rnd({2, 3}, 1))}, {"W", RtValue(rnd({3}, 2))}}, 23).is_ok());
    EXPECT_FALSE(testing::run_graph(g, {{"X", RtValue(rnd({2, 3}, 1))}, {"W", RtValue(rnd({4}, 2))}}, 23).is_ok());
}

TEST(Swish, MatchesFormula) {
    Tensor x = f32({5}, {-100.f, -2.f, 0.f, 1.5f, 100.f});
    for (float alpha : {1.0f, 0.5f}) {
        auto out = run("Swish", {x}, {{"alpha", af(alpha)}}, 1, 24);
        ASSERT_TRUE(out.is_ok()) << out.status().to_string();
        std::vector<double> want;
        for (int i = 0; i < 5; ++i) {
            const double v = x.data<float>()[i];
            want.push_back(v / (1.0 + std::exp(-alpha * v)));
        }
        expect_near(out.value()[0].tensor, want);
    }
}

}  // namespace
}  // namespace nnport

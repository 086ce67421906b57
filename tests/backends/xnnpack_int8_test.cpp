// XNNPACK backend, int8 operators against the reference kernels: QuantizeLinear / DequantizeLinear per tensor
// (uint8 and int8, zero point absent / positive / negative, rounding boundaries, saturation, random data, odd shapes,
// threads), MaxPool on uint8 / int8 (com.nnport NhwcMaxPool), com.nnport QLinearAdd (broadcasting, activations;
// within one quantization step), and the declines.
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <random>

#include "backends/backend_test_util.hpp"
#include "ops/op_def.hpp"

namespace nnport {
namespace {

using testing::expect_backend_declines;
using testing::expect_backend_matches_ref;
using testing::make_session;
using testing::Net;
using testing::NetFn;
using testing::OpRun;
using testing::random_f32;

/// Uniform values over all of T.
template <typename T>
Tensor full_range(Shape s, uint32_t seed) {
    return testing::random_ints<T>(std::move(s), std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), seed);
}

ir::Attribute ints(std::vector<int64_t> v) { return ir::Attribute::make_ints(std::move(v)); }
ir::Attribute int1(int64_t v) { return ir::Attribute::make_int(v); }
ir::Attribute str(std::string s) { return ir::Attribute::make_string(std::move(s)); }
ir::Attribute flts(std::vector<float> v) { return ir::Attribute::make_floats(std::move(v)); }

Tensor rand_q(DType t, Shape s, uint32_t seed) {
    return t == DType::kUInt8 ? full_range<uint8_t>(std::move(s), seed) : full_range<int8_t>(std::move(s), seed);
}

/// A scalar zero point of type t.
Tensor zp_of(DType t, int32_t v) {
    return t == DType::kUInt8 ? Tensor::scalar<uint8_t>(static_cast<uint8_t>(v))
                              : Tensor::scalar<int8_t>(static_cast<int8_t>(v));
}

// ---- small graphs on several threads -------------------------------------------------------------------------------

using Feeds = std::vector<std::pair<std::string, RtValue>>;

/// The ONNX opset of the test graphs.
constexpr int kOpset = 19;

/// One node of `op` writing the graph's output "y".
void one_node(Net& n, const std::string& op, std::vector<std::string> ins, ir::Attributes attrs = {},
              const std::string& domain = "") {
    n.node(op, std::move(ins), {"y"}, std::move(attrs), domain);
    n.output("y");
}

/// Runs the one-node graph on "xnnpack,ref" (`threads` threads; the node must run on XNNPACK) and on "ref"; returns
/// {xnnpack output, reference output}.
std::pair<Tensor, Tensor> run_both(const NetFn& build, const Feeds& feeds, int threads) {
    auto sx = make_session(build, "xnnpack,ref", threads, kOpset);
    auto sr = make_session(build, "ref", 1, kOpset);
    if (!sx || !sr) return {};
    for (const NodePlacement& p : sx->placements()) {
        EXPECT_EQ(p.backend, "xnnpack") << p.op_type << " fell back: " << p.fallback_reason;
    }
    auto got = sx->run_values(feeds);
    auto want = sr->run_values(feeds);
    EXPECT_TRUE(got.is_ok() && want.is_ok());
    if (!got.is_ok() || !want.is_ok()) return {};
    return {(*got)[0].tensor, (*want)[0].tensor};
}

/// x (float32 input of shape s) -> QuantizeLinear(scale, zero point of type t, or none when zp is nullopt).
NetFn quantize_net(Shape s, float scale, DType t, std::optional<int32_t> zp) {
    return [=](Net& n) {
        n.input("x", std::vector<ir::Dim>(s.begin(), s.end()), DType::kFloat32);
        n.constant("s", Tensor::scalar<float>(scale));
        if (zp) n.constant("z", zp_of(t, *zp));
        one_node(n, "QuantizeLinear", {"x", "s", zp ? "z" : ""});
    };
}

std::vector<int32_t> ints_of(const Tensor& t) {
    std::vector<int32_t> v(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = static_cast<int32_t>(t.item_as_double(i));
    return v;
}

// ---- QuantizeLinear ------------------------------------------------------------------------------------------------

TEST(XnnInt8, QuantizeExactAtHalfBoundariesAndSaturation) {
    // A power-of-two scale makes x / scale and XNNPACK's x * (1 / scale) the same exact value, so the .5 ties, the
    // saturation and -0 must come out exactly as the reference's (half to even).
    std::vector<float> xs;
    for (int k = -700; k <= 700; ++k) xs.push_back(0.125f * static_cast<float>(k));  // every half and quarter step
    for (float v : {-0.0f, 1e30f, -1e30f, std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity(), 1e-30f, -1e-30f}) {
        xs.push_back(v);
    }
    const Shape s = {static_cast<int64_t>(xs.size())};
    const Tensor x = Tensor::from_vector<float>(s, xs);
    struct Case {
        DType t;
        std::optional<int32_t> zp;
    };
    for (const Case& c :
         {Case{DType::kUInt8, 128}, Case{DType::kUInt8, 0}, Case{DType::kUInt8, std::nullopt}, Case{DType::kUInt8, 255},
          Case{DType::kInt8, -20}, Case{DType::kInt8, 0}, Case{DType::kInt8, -128}, Case{DType::kInt8, 127}}) {
        for (float scale : {0.25f, 1.0f, 2.0f}) {
            SCOPED_TRACE(std::string(dtype_name(c.t)) + " zp " + (c.zp ? std::to_string(*c.zp) : "none") + " scale " +
                         std::to_string(scale));
            auto [got, want] = run_both(quantize_net(s, scale, c.t, c.zp), {{"x", RtValue(x)}}, 1);
            ASSERT_TRUE(got.defined());
            testing::expect_close(got, want, 0, 0, "QuantizeLinear");
        }
    }
}

/// Quantizes random data (odd shapes, several scales) on XNNPACK and the reference; expects every difference to be
/// one step at an x / scale within a few ulp of a rounding boundary (XNNPACK multiplies by the rounded reciprocal).
TEST(XnnInt8, QuantizeRandomDiffersOnlyNextToRoundingBoundaries) {
    int64_t total = 0, diffs = 0;
    uint32_t seed = 1;
    for (DType t : {DType::kUInt8, DType::kInt8}) {
        for (float scale : {0.0173f, 0.1f, 0.0039215689f, 3.3f}) {
            // Random data, and the floats nearest to every tie (k + 0.5) * scale and their neighbours.
            std::vector<float> ties;
            for (int k = -160; k < 160; ++k) {
                float v = static_cast<float>((k + 0.5) * double(scale));
                for (int i = 0; i < 3; ++i) v = std::nextafter(v, -1e30f);
                for (int i = 0; i < 7; ++i, v = std::nextafter(v, 1e30f)) ties.push_back(v);
            }
            // {1, 7, 97, 101}: enough elements for two threads.
            for (const Shape& s : {Shape{1, 3, 37, 29}, Shape{2, 1, 1, 7}, Shape{5}, Shape{}, Shape{1, 7, 97, 101},
                                   Shape{static_cast<int64_t>(ties.size())}}) {
                for (int threads : {1, 2}) {
                    const int32_t zp = t == DType::kUInt8 ? 131 : -7;
                    const float range = 160.0f * scale;
                    const Tensor x = s.size() == 1 && s[0] == static_cast<int64_t>(ties.size())
                                         ? Tensor::from_vector<float>(s, ties)
                                         : random_f32(s, seed++, -range, range);
                    auto [got, want] = run_both(quantize_net(s, scale, t, zp), {{"x", RtValue(x)}}, threads);
                    ASSERT_TRUE(got.defined());
                    ASSERT_EQ(got.shape(), want.shape());
                    const std::vector<int32_t> g = ints_of(got), w = ints_of(want);
                    for (size_t i = 0; i < g.size(); ++i) {
                        ++total;
                        if (g[i] == w[i]) continue;
                        ++diffs;
                        const double q = double(x.data<float>()[i]) / double(scale);
                        const double to_tie = std::abs(q - std::floor(q) - 0.5);
                        EXPECT_EQ(std::abs(g[i] - w[i]), 1) << "x " << x.data<float>()[i] << " scale " << scale;
                        EXPECT_LT(to_tie, 4 * std::abs(q) * 0x1.0p-23 + 1e-30)
                            << "x " << x.data<float>()[i] << " scale " << scale << ": " << g[i] << " vs " << w[i];
                    }
                }
            }
        }
    }
    EXPECT_LT(diffs * 20, total) << diffs << " of " << total << " differ";
    std::printf("QuantizeLinear on XNNPACK: %lld of %lld values one step off the reference (next to a .5 tie)\n",
                static_cast<long long>(diffs), static_cast<long long>(total));
}

TEST(XnnInt8, QuantizeNanGivesTheMaximum) {
    // Known difference: the reference quantizes NaN to the type's minimum, XNNPACK to its maximum.
    const Tensor x = Tensor::from_vector<float>({2}, {std::nanf(""), 1.0f});
    auto [got, want] = run_both(quantize_net({2}, 0.5f, DType::kUInt8, 10), {{"x", RtValue(x)}}, 1);
    ASSERT_TRUE(got.defined());
    EXPECT_EQ(want.data<uint8_t>()[0], 0);
    EXPECT_EQ(got.data<uint8_t>()[0], 255);
    EXPECT_EQ(got.data<uint8_t>()[1], want.data<uint8_t>()[1]);
}

// ---- DequantizeLinear ----------------------------------------------------------------------------------------------

TEST(XnnInt8, DequantizeExact) {
    uint32_t seed = 100;
    for (DType t : {DType::kUInt8, DType::kInt8}) {
        for (std::optional<int32_t> zp :
             {std::optional<int32_t>(), std::optional<int32_t>(t == DType::kUInt8 ? 200 : -90),
              std::optional<int32_t>(t == DType::kUInt8 ? 0 : 127)}) {
            for (float scale : {0.0173f, 1.0f, 3.7e-5f, 1234.5f}) {
                for (const Shape& s :
                     {Shape{1, 5, 17, 23}, Shape{3, 1, 1, 1}, Shape{7}, Shape{}, Shape{1, 7, 97, 101}}) {
                    for (int threads : {1, 2}) {
                        SCOPED_TRACE(std::string(dtype_name(t)) + " scale " + std::to_string(scale));
                        auto build = [&](Net& n) {
                            n.input("x", std::vector<ir::Dim>(s.begin(), s.end()), t);
                            n.constant("s", Tensor::scalar<float>(scale));
                            if (zp) n.constant("z", zp_of(t, *zp));
                            one_node(n, "DequantizeLinear", {"x", "s", zp ? "z" : ""});
                        };
                        const Tensor x = rand_q(t, s, seed++);
                        auto [got, want] = run_both(build, {{"x", RtValue(x)}}, threads);
                        ASSERT_TRUE(got.defined());
                        testing::expect_close(got, want, 0, 0, "DequantizeLinear");
                    }
                }
            }
        }
    }
    // Every value of both types.
    for (DType t : {DType::kUInt8, DType::kInt8}) {
        std::vector<int32_t> all(256);
        for (int i = 0; i < 256; ++i) all[static_cast<size_t>(i)] = t == DType::kUInt8 ? i : i - 128;
        Tensor x = std::move(Tensor::create(t, {256})).value();
        for (int i = 0; i < 256; ++i) {
            if (t == DType::kUInt8)
                x.data<uint8_t>()[i] = static_cast<uint8_t>(all[static_cast<size_t>(i)]);
            else
                x.data<int8_t>()[i] = static_cast<int8_t>(all[static_cast<size_t>(i)]);
        }
        auto build = [&](Net& n) {
            n.input("x", {256}, t);
            n.constant("s", Tensor::scalar<float>(0.0123f));
            n.constant("z", zp_of(t, t == DType::kUInt8 ? 77 : -3));
            one_node(n, "DequantizeLinear", {"x", "s", "z"});
        };
        auto [got, want] = run_both(build, {{"x", RtValue(x)}}, 1);
        ASSERT_TRUE(got.defined());
        testing::expect_close(got, want, 0, 0, "DequantizeLinear all values");
    }
}

TEST(XnnInt8, QuantizeDequantizeDeclines) {
    const Tensor x = random_f32({1, 3, 4, 4}, 5, -1, 1);
    OpRun q;
    q.op_type = "QuantizeLinear";
    q.opset = 21;
    q.as_initializer = {false, true, true};
    // per-axis scale
    q.inputs = {x, Tensor::from_vector<float>({3}, {0.1f, 0.2f, 0.3f}), Tensor::from_vector<uint8_t>({3}, {1, 2, 3})};
    expect_backend_declines(q, "xnnpack", "per-axis");
    // a run-time scale
    OpRun qv = q;
    qv.inputs = {x, Tensor::scalar<float>(0.1f), Tensor::scalar<uint8_t>(3)};
    qv.as_initializer = {false, false, true};
    expect_backend_declines(qv, "xnnpack", "y_scale is not a constant");
    // 16-bit output
    OpRun q16 = q;
    q16.inputs = {x, Tensor::scalar<float>(0.1f), Tensor::scalar<uint16_t>(3)};
    expect_backend_declines(q16, "xnnpack", "uint16");
    // blocked
    OpRun qb = q;
    qb.inputs = {x, random_f32({1, 3, 2, 4}, 6, 0.1f, 0.2f), Tensor()};
    qb.attrs = {{"axis", int1(2)}, {"block_size", int1(2)}};
    expect_backend_declines(qb, "xnnpack", "block_size");
    // zero scale
    OpRun q0 = q;
    q0.inputs = {x, Tensor::scalar<float>(0.0f), Tensor::scalar<uint8_t>(3)};
    expect_backend_declines(q0, "xnnpack", "positive and normal");
    // zero point [1] with a scalar scale: an error for the reference to report
    OpRun qs = q;
    qs.inputs = {x, Tensor::scalar<float>(0.1f), Tensor::from_vector<uint8_t>({1}, {3})};
    expect_backend_declines(qs, "xnnpack", "shape differs");

    OpRun d;
    d.op_type = "DequantizeLinear";
    d.as_initializer = {false, true, true};
    d.inputs = {full_range<int8_t>({1, 3, 4, 4}, 7), Tensor::from_vector<float>({3}, {0.1f, 0.2f, 0.3f}),
                Tensor::from_vector<int8_t>({3}, {1, 2, 3})};
    expect_backend_declines(d, "xnnpack", "per-axis");
    OpRun d32 = d;
    d32.inputs = {Tensor::from_vector<int32_t>({2}, {1, 2}), Tensor::scalar<float>(0.5f), Tensor()};
    expect_backend_declines(d32, "xnnpack", "int32");
}

// ---- MaxPool on uint8 / int8 ---------------------------------------------------------------------------------------

TEST(XnnInt8, NhwcMaxPool) {
    const std::vector<ir::Attributes> cases = {
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}},
        {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}},
        {{"kernel_shape", ints({3, 2})}, {"strides", ints({1, 2})}, {"pads", ints({0, 1, 2, 0})}},
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"ceil_mode", int1(1)}},
        {{"kernel_shape", ints({2, 3})}, {"dilations", ints({2, 2})}},
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"auto_pad", str("SAME_UPPER")}},
        {{"kernel_shape", ints({4, 4})}, {"strides", ints({3, 3})}, {"auto_pad", str("SAME_LOWER")}},
    };
    uint32_t seed = 200;
    for (DType t : {DType::kUInt8, DType::kInt8}) {
        for (const ir::Attributes& a : cases) {
            for (const Shape& s : {Shape{2, 13, 16, 7}, Shape{1, 9, 11, 67}}) {
                SCOPED_TRACE(std::string(dtype_name(t)) + " seed " + std::to_string(seed));
                OpRun r;
                r.op_type = "NhwcMaxPool";
                r.domain = "com.nnport";
                r.opset = 1;
                r.inputs = {rand_q(t, s, seed++)};
                r.attrs = a;
                expect_backend_matches_ref(r, "xnnpack", 0, 0);
            }
        }
    }
    // Two threads, a larger input.
    auto build = [](Net& n) {
        n.input("x", {1, 56, 57, 64}, DType::kUInt8);
        one_node(n, "NhwcMaxPool", {"x"},
                 {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}},
                 "com.nnport");
    };
    auto [got, want] = run_both(build, {{"x", RtValue(rand_q(DType::kUInt8, {1, 56, 57, 64}, 300))}}, 2);
    ASSERT_TRUE(got.defined());
    testing::expect_close(got, want, 0, 0, "NhwcMaxPool on two threads");
}

/// Conv (float, channels-last on XNNPACK) -> QuantizeLinear -> MaxPool (uint8 / int8) -> DequantizeLinear: the
/// partitioner takes the pool into the channels-last region as NhwcMaxPool, and everything runs on XNNPACK.
TEST(XnnInt8, MaxPoolBetweenQdqRunsChannelsLast) {
    for (DType t : {DType::kUInt8, DType::kInt8}) {
        SCOPED_TRACE(dtype_name(t));
        auto build = [t](Net& n) {
            n.input("x", {1, 8, 15, 14}, DType::kFloat32);
            n.constant("w", random_f32({16, 8, 3, 3}, 11, -0.3f, 0.3f));
            n.constant("s", Tensor::scalar<float>(0.037f));
            n.constant("z", zp_of(t, t == DType::kUInt8 ? 140 : -12));
            n.node("Conv", {"x", "w"}, {"c"}, {{"pads", ints({1, 1, 1, 1})}});
            n.node("QuantizeLinear", {"c", "s", "z"}, {"cq"});
            n.node("MaxPool", {"cq"}, {"p"},
                   {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}});
            one_node(n, "DequantizeLinear", {"p", "s", "z"});
        };
        auto sx = make_session(build, "xnnpack,ref", 1, kOpset);
        auto sr = make_session(build, "ref", 1, kOpset);
        ASSERT_TRUE(sx && sr);
        bool pool = false;
        for (const NodePlacement& p : sx->placements()) {
            pool |= p.op_type == "com.nnport.NhwcMaxPool";
            if (p.op_type == "Transpose") continue;
            EXPECT_EQ(p.backend, "xnnpack") << p.op_type << " fell back: " << p.fallback_reason;
        }
        EXPECT_TRUE(pool) << "the MaxPool stayed NCHW";
        const Feeds f = {{"x", RtValue(random_f32({1, 8, 15, 14}, 12, -1, 1))}};
        auto got = sx->run_values(f);
        auto want = sr->run_values(f);
        ASSERT_TRUE(got.is_ok() && want.is_ok());
        // The float conv differs from the reference in the last bits, which may move a value across a rounding
        // boundary of the quantization: one step (0.037) at most.
        testing::expect_close((*got)[0].tensor, (*want)[0].tensor, 0, 0.0371, "Conv -> Q -> MaxPool -> DQ");
    }
}

TEST(XnnInt8, MaxPoolDeclines) {
    OpRun r;
    r.op_type = "NhwcMaxPool";
    r.domain = "com.nnport";
    r.opset = 1;
    r.inputs = {rand_q(DType::kUInt8, {1, 8, 8, 3}, 9)};
    r.attrs = {{"kernel_shape", ints({1, 1})}};
    expect_backend_declines(r, "xnnpack", "1x1");
    // NCHW MaxPool alone stays NCHW (no channels-last conv before it): declined, the reference runs it.
    OpRun m;
    m.op_type = "MaxPool";
    m.inputs = {rand_q(DType::kInt8, {1, 3, 8, 8}, 10)};
    m.attrs = {{"kernel_shape", ints({2, 2})}};
    expect_backend_declines(m, "xnnpack", "channels-last");
}

// ---- QLinearAdd ----------------------------------------------------------------------------------------------------

struct QAdd {
    DType t = DType::kUInt8;
    Shape a, b;
    float as = 0.02f, bs = 0.03f, cs = 0.04f;
    int32_t az = 120, bz = 130, cz = 125;
    std::string act = "Identity";
    std::vector<float> params;
    bool zero_points = true;  ///< false: no C_zero_point (cz must be 0)
};

NetFn qadd_net(const QAdd& q) {
    return [q](Net& n) {
        n.input("a", std::vector<ir::Dim>(q.a.begin(), q.a.end()), q.t);
        n.input("b", std::vector<ir::Dim>(q.b.begin(), q.b.end()), q.t);
        n.constant("as", Tensor::scalar<float>(q.as));
        n.constant("bs", Tensor::scalar<float>(q.bs));
        n.constant("cs", Tensor::scalar<float>(q.cs));
        n.constant("az", zp_of(q.t, q.az));
        n.constant("bz", zp_of(q.t, q.bz));
        n.constant("cz", zp_of(q.t, q.cz));
        ir::Attributes attrs = {{"activation", str(q.act)}};
        if (!q.params.empty()) attrs["activation_params"] = flts(q.params);
        if (q.zero_points) {
            one_node(n, "QLinearAdd", {"a", "as", "az", "b", "bs", "bz", "cs", "cz"}, attrs, "com.nnport");
        } else {
            one_node(n, "QLinearAdd", {"a", "as", "az", "b", "bs", "bz", "cs"}, attrs, "com.nnport");  // C_zero_point 0
        }
    };
}

TEST(XnnInt8, QLinearAddWithinOneStep) {
    std::vector<QAdd> cases;
    for (DType t : {DType::kUInt8, DType::kInt8}) {
        const int32_t off = t == DType::kUInt8 ? 0 : -128;
        for (const char* act : {"Identity", "Relu", "Clip"}) {
            QAdd q;
            q.t = t;
            q.az += off;
            q.bz += off;
            q.cz += off;
            q.act = act;
            if (q.act == "Clip") q.params = {-1.5f, 2.25f};
            q.a = q.b = {1, 7, 9, 13};  // same shape
            cases.push_back(q);
            q.a = {2, 5, 7, 9};  // broadcast: per-channel row, scalar, both sides
            q.b = {5, 1, 1};
            cases.push_back(q);
            q.a = {3, 1, 11};
            q.b = {4, 1};
            cases.push_back(q);
            q.a = {};
            q.b = {6, 17};
            cases.push_back(q);
        }
        QAdd q;  // other scales, no zero points
        q.t = t;
        q.as = 0.5f;
        q.bs = 0.0007f;
        q.cs = 0.25f;
        q.a = q.b = {1, 64, 31};
        q.zero_points = false;
        q.az = q.bz = q.cz = 0;
        cases.push_back(q);
        q.zero_points = true;
        q.as = 0.011f;  // output scale below the inputs'
        q.bs = 0.013f;
        q.cs = 0.005f;
        q.az = 3 + off;
        q.bz = 250 + off;
        q.cz = 7 + off;
        cases.push_back(q);
    }
    uint32_t seed = 400;
    int64_t total = 0, diffs = 0;
    for (const QAdd& q : cases) {
        for (int threads : {1, 3}) {
            SCOPED_TRACE(std::string(dtype_name(q.t)) + " " + q.act + " " + shape_to_string(q.a) + " + " +
                         shape_to_string(q.b) + " threads " + std::to_string(threads));
            const Tensor a = rand_q(q.t, q.a, seed++), b = rand_q(q.t, q.b, seed++);
            auto [got, want] = run_both(qadd_net(q), {{"a", RtValue(a)}, {"b", RtValue(b)}}, threads);
            ASSERT_TRUE(got.defined());
            ASSERT_EQ(got.dtype(), want.dtype());
            ASSERT_EQ(got.shape(), want.shape());
            const std::vector<int32_t> g = ints_of(got), w = ints_of(want);
            for (size_t i = 0; i < g.size(); ++i) {
                ++total;
                diffs += g[i] != w[i] ? 1 : 0;
                ASSERT_LE(std::abs(g[i] - w[i]), 1) << "element " << i;
            }
        }
    }
    std::printf("QLinearAdd on XNNPACK: %lld of %lld values one step off the reference\n",
                static_cast<long long>(diffs), static_cast<long long>(total));
}

TEST(XnnInt8, QLinearAddLargeOnThreads) {
    QAdd q;
    q.a = q.b = {1, 28, 28, 256};
    q.act = "Relu";
    const Tensor a = rand_q(q.t, q.a, 1), b = rand_q(q.t, q.b, 2);
    auto [got, want] = run_both(qadd_net(q), {{"a", RtValue(a)}, {"b", RtValue(b)}}, 2);
    ASSERT_TRUE(got.defined());
    for (int64_t i = 0; i < got.numel(); ++i) {
        ASSERT_LE(std::abs(int(got.data<uint8_t>()[i]) - int(want.data<uint8_t>()[i])), 1) << i;
        ASSERT_GE(got.data<uint8_t>()[i], q.cz);
    }
}

TEST(XnnInt8, QLinearAddDeclines) {
    auto declined = [](const QAdd& q, const std::string& why, bool runtime_scale = false) {
        OpRun r;
        r.op_type = "QLinearAdd";
        r.domain = "com.nnport";
        r.opset = 1;
        r.inputs = {rand_q(q.t, q.a, 1),
                    Tensor::scalar<float>(q.as),
                    zp_of(q.t, q.az),
                    rand_q(q.t, q.b, 2),
                    Tensor::scalar<float>(q.bs),
                    zp_of(q.t, q.bz),
                    Tensor::scalar<float>(q.cs),
                    zp_of(q.t, q.cz)};
        r.as_initializer = {false, !runtime_scale, true, false, true, true, true, true};
        r.attrs = {{"activation", str(q.act)}};
        if (!q.params.empty()) r.attrs["activation_params"] = flts(q.params);
        expect_backend_declines(r, "xnnpack", why);
    };
    QAdd q;
    q.a = q.b = {2, 3};
    QAdd big = q;
    big.as = 300.0f;
    big.cs = 1.0f;
    declined(big, "outside XNNPACK's [2^-10, 2^8)");
    QAdd small = q;
    small.bs = 1e-5f;
    declined(small, "outside XNNPACK's");
    declined(q, "A_scale is not a constant", true);
    QAdd clip = q;
    clip.act = "Clip";
    clip.params = {10.0f, 20.0f};  // both bounds above the range: one value
    declined(clip, "XNNPACK needs min < max");
}

}  // namespace
}  // namespace nnport

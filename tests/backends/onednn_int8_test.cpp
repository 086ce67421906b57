// The oneDNN int8 convolution (com.nnport QLinearFusedConv run channels-last as NhwcQLinearFusedConv) and int8 fully
// connected layer (com.nnport QGemm, float32 or quantized output) against the
// reference kernel in one-node sessions: uint8 / int8 activations, per-channel / per-tensor weight scales, bias,
// Relu / Clip, padding with a non-zero input zero point, strides, dilations, groups, depthwise; and declines. The
// tolerance is one quantization step (the reference requantizes in double, oneDNN in float32, so a value within
// float rounding of a tie may land on the other side), with at most 1% of the elements off by that step.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backends/backend_test_util.hpp"
#include "backends/int8_test_util.hpp"

namespace nnport::testing {
namespace {

using ir::Attribute;
using testing::random_f32;
using testing::random_ints;

/// The one-node model `r` run on "onednn,ref" (its placements in `placements`) and on "ref": {oneDNN's output, the
/// reference output}, both present and of the same type and shape.
void run_on_onednn_and_ref(const OpRun& r, std::vector<NodePlacement>& placements, Tensor& got, Tensor& want) {
    OpRun rb = r;
    rb.backends = "onednn,ref";
    auto sb = make_op_session(rb);
    ASSERT_TRUE(sb.is_ok()) << sb.status().message();
    auto sr = make_op_session(r);
    ASSERT_TRUE(sr.is_ok()) << sr.status().message();
    placements = (*sb)->placements();
    const auto feeds = op_feeds(r);
    auto g = (*sb)->run_values(feeds);
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    auto w = (*sr)->run_values(feeds);
    ASSERT_TRUE(w.is_ok()) << w.status().message();
    got = (*g)[0].tensor;
    want = (*w)[0].tensor;
    ASSERT_EQ(got.dtype(), want.dtype());
    ASSERT_EQ(got.shape(), want.shape());
}

/// Runs on "onednn,ref" and "ref"; expects the conv on oneDNN and outputs within one step (<= 1% off by one).
void check(const QConv& c) {
    std::vector<NodePlacement> placements;
    Tensor a, b;
    ASSERT_NO_FATAL_FAILURE(run_on_onednn_and_ref(make_run(c), placements, a, b));
    int on_dnnl = 0;
    for (const NodePlacement& p : placements) {
        if (p.op_type == "Transpose") continue;
        EXPECT_EQ(p.op_type, "com.nnport.NhwcQLinearFusedConv");
        EXPECT_EQ(p.backend, "onednn") << p.fallback_reason;
        on_dnnl += p.backend == "onednn";
    }
    EXPECT_EQ(on_dnnl, 1);
    int64_t off = 0, lo = 255, hi = -128;
    for (int64_t i = 0; i < a.numel(); ++i) {
        const double d = std::fabs(a.item_as_double(i) - b.item_as_double(i));
        ASSERT_LE(d, 1.0) << "element " << i << ": onednn " << a.item_as_double(i) << ", ref " << b.item_as_double(i);
        off += d > 0;
        lo = std::min<int64_t>(lo, int64_t(b.item_as_double(i)));
        hi = std::max<int64_t>(hi, int64_t(b.item_as_double(i)));
    }
    EXPECT_LE(off, a.numel() / 100) << off << " of " << a.numel() << " elements off by one step";
    EXPECT_GT(hi - lo, 20) << "test data should spread over many steps";
}

Attribute ints(std::vector<int64_t> v) { return Attribute::make_ints(std::move(v)); }

TEST(OnednnInt8Conv, Uint8PerChannelBiasRelu3x3Pad1) {
    QConv c;
    c.x = {1, 8, 9, 9};
    c.m = 16;
    c.act = "Relu";
    c.attrs = {{"pads", ints({1, 1, 1, 1})}};
    check(c);
}

TEST(OnednnInt8Conv, Int8ActivationsPerTensorNoBias) {
    QConv c;
    c.x = {2, 5, 7, 6};
    c.m = 6;
    c.x_signed = c.y_signed = true;
    c.x_zp = -3;
    c.y_zp = 5;
    c.per_channel = false;
    c.bias = false;
    c.attrs = {{"pads", ints({1, 0, 2, 1})}};
    check(c);
}

TEST(OnednnInt8Conv, SymmetricInt8WithZeroZeroPoints) {
    QConv c;
    c.x = {1, 16, 8, 8};
    c.m = 32;
    c.kh = c.kw = 1;
    c.x_signed = c.y_signed = true;
    c.x_zp = c.y_zp = 0;
    c.act = "Relu";
    check(c);
}

TEST(OnednnInt8Conv, DepthwiseStride2Clip) {
    QConv c;
    c.x = {1, 24, 11, 11};
    c.m = 24;
    c.group = 24;
    c.act = "Clip";
    c.act_params = {0.0f, 6.0f};
    c.attrs = {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}};
    check(c);
}

TEST(OnednnInt8Conv, GroupedDilatedStrided) {
    QConv c;
    c.x = {1, 8, 13, 12};
    c.m = 12;
    c.group = 4;
    c.attrs = {{"dilations", ints({2, 1})}, {"strides", ints({2, 3})}, {"pads", ints({2, 1, 1, 0})}};
    check(c);
}

TEST(OnednnInt8Conv, ClipNarrowerThanTheOutputRange) {
    QConv c;
    c.x = {1, 4, 6, 6};
    c.m = 8;
    c.act = "Clip";
    c.act_params = {-3.0f, 5.0f};  // about -16 and +27 steps
    check(c);
}

TEST(OnednnInt8Conv, DeclinesUint8WeightsNonZeroWeightZeroPointAndVariableWeights) {
    QConv c;
    c.x = {1, 4, 5, 5};
    OpRun r = make_run(c);
    r.inputs[3] = random_ints<uint8_t>({4, 4, 3, 3}, 0, 255, 9);
    r.inputs[5] = std::move(Tensor::create(DType::kUInt8, r.inputs[4].shape(), true)).value();
    expect_backend_declines(r, "onednn", "weights must be constant rank-4 int8");
    r = make_run(c);
    r.inputs[5].data<int8_t>()[1] = 3;
    expect_backend_declines(r, "onednn", "only zero weight zero points");
    r = make_run(c);
    r.as_initializer[3] = false;
    expect_backend_declines(r, "onednn", "weights must be constant");
}

// ---- QGemm ----

/// QGemm on "onednn,ref" against "ref": on oneDNN; float outputs within float rounding of the scaling, quantized
/// ones within one step.
void check_fc(const QFc& c) {
    std::vector<NodePlacement> placements;
    Tensor a, b;
    ASSERT_NO_FATAL_FAILURE(run_on_onednn_and_ref(make_fc(c), placements, a, b));
    ASSERT_EQ(placements.size(), 1u);
    EXPECT_EQ(placements[0].backend, "onednn") << placements[0].fallback_reason;
    ASSERT_EQ(a.shape(), (Shape{c.m, c.n}));
    for (int64_t i = 0; i < a.numel(); ++i) {
        const double x = a.item_as_double(i), y = b.item_as_double(i);
        ASSERT_LE(std::fabs(x - y), c.quantized ? 1.0 : 1e-5 * (1 + std::fabs(y))) << "element " << i;
    }
}

TEST(OnednnInt8Gemm, Uint8FloatOutputPerColumnBiasTransB) { check_fc(QFc{}); }

TEST(OnednnInt8Gemm, Int8NoTransBPerTensorNoBiasRelu) {
    QFc c;
    c.a_signed = true;
    c.trans_b = false;
    c.per_column = false;
    c.bias = false;
    c.act = "Relu";
    check_fc(c);
}

TEST(OnednnInt8Gemm, QuantizedOutputRelu) {
    QFc c;
    c.quantized = true;
    c.act = "Relu";
    c.m = 1;
    c.k = 256;
    c.n = 100;
    check_fc(c);
}

TEST(OnednnInt8Gemm, DeclinesNonZeroBZeroPointAndVariableWeights) {
    OpRun r = make_fc(QFc{});
    r.inputs[5].data<int8_t>()[2] = 1;
    expect_backend_declines(r, "onednn", "only zero B zero points");
    r = make_fc(QFc{});
    r.as_initializer[3] = false;
    expect_backend_declines(r, "onednn", "B must be a constant rank-2 int8");
}

}  // namespace
}  // namespace nnport::testing

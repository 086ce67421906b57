// Quant family edge cases and rejections: (De)QuantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger,
// QLinearMatMul, QLinearConv, com.nnport QLinearAdd and QGemm.
#include <gtest/gtest.h>

#include <cmath>

#include "util/op_runner.hpp"

namespace nnport {
namespace {

using testing::OpRun;

Result<std::vector<RtValue>> run(const std::string& op, std::vector<Tensor> in, ir::Attributes attrs = {},
                                 int outputs = 1, int opset = 21) {
    return testing::run_simple(op, std::move(in), std::move(attrs), outputs, opset);
}

using testing::values;

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor u8(Shape s, std::vector<uint8_t> v) { return Tensor::from_vector<uint8_t>(std::move(s), v); }
Tensor i8(Shape s, std::vector<int8_t> v) { return Tensor::from_vector<int8_t>(std::move(s), v); }
ir::Attribute int_attr(int64_t v) { return ir::Attribute::make_int(v); }

// ---- QuantizeLinear ----

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturates) {
    const Tensor x = f32({10}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.5f, 127.5f, 1e30f, -1e30f, NAN});
    auto out = run("QuantizeLinear", {x, Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0)});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const Tensor& y = out.value()[0].tensor;
    EXPECT_EQ(y.dtype(), DType::kInt8);
    // NaN saturates to the low end (as numpy's reference does on x86).
    EXPECT_EQ(values<int8_t>(y), (std::vector<int8_t>{0, 2, 2, 0, -2, 126, 127, 127, -128, -128}));
}

TEST(QuantizeLinear, DefaultsToUInt8AndHonoursOutputDtype) {
    const Tensor x = f32({3}, {-1.0f, 1.0f, 300.0f});
    auto u = run("QuantizeLinear", {x, Tensor::scalar<float>(1.0f)});
    ASSERT_TRUE(u.is_ok()) << u.status().to_string();
    EXPECT_EQ(u.value()[0].tensor.dtype(), DType::kUInt8);
    EXPECT_EQ(values<uint8_t>(u.value()[0].tensor), (std::vector<uint8_t>{0, 1, 255}));
    auto s = run("QuantizeLinear", {x, Tensor::scalar<float>(1.0f)}, {{"output_dtype", int_attr(5)}});  // int16
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(values<int16_t>(s.value()[0].tensor), (std::vector<int16_t>{-1, 1, 300}));
}

TEST(QuantizeLinear, PerAxisAndBlockedWithRemainder) {
    // [2, 5], axis 1, blocks of 2: scales per (row, block) with a last block of one column.
    const Tensor x = f32({2, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50});
    const Tensor s = f32({2, 3}, {1, 2, 5, 10, 10, 50});
    auto out = run("QuantizeLinear", {x, s, u8({2, 3}, {0, 1, 2, 0, 0, 1})},
                   {{"axis", int_attr(1)}, {"block_size", int_attr(2)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<uint8_t>(out.value()[0].tensor), (std::vector<uint8_t>{1, 2, 3, 3, 3, 1, 2, 3, 4, 2}));
    auto axis0 = run("QuantizeLinear", {x, f32({2}, {1, 10}), i8({2}, {0, -1})}, {{"axis", int_attr(-2)}}, 1, 13);
    ASSERT_TRUE(axis0.is_ok()) << axis0.status().to_string();
    EXPECT_EQ(values<int8_t>(axis0.value()[0].tensor), (std::vector<int8_t>{1, 2, 3, 4, 5, 0, 1, 2, 3, 4}));
}

TEST(QuantizeLinear, Float16DividesInHalfPrecision) {
    // 11.9609375 / 1.83984375 = 6.50106 in float32 (-> 7) but rounds to exactly 6.5 in float16 (-> 6, as numpy);
    // 7.67578125 / 2.193359375 = 3.49955 in float32 (-> 3) becomes 3.5 in float16 (-> 4).
    const Tensor x = Tensor::from_vector<Float16>({2}, {Float16(11.9609375f), Float16(7.67578125f)});
    const Tensor s = Tensor::from_vector<Float16>({2}, {Float16(1.83984375f), Float16(2.193359375f)});
    auto out = run("QuantizeLinear", {x, s, u8({2}, {0, 0})}, {{"axis", int_attr(0)}}, 1, 19);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<uint8_t>(out.value()[0].tensor), (std::vector<uint8_t>{6, 4}));
}

TEST(QuantizeLinear, RejectsZeroPointDtypeMismatch) {
    // output_dtype int8 with a uint8 zero point.
    EXPECT_FALSE(run("QuantizeLinear", {f32({1}, {1}), Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0)},
                     {{"output_dtype", int_attr(3)}})
                     .is_ok());
    // A float zero point is no quantized type.
    EXPECT_FALSE(run("QuantizeLinear", {f32({1}, {1}), Tensor::scalar<float>(1.0f), Tensor::scalar<float>(0)}).is_ok());
}

TEST(QuantizeLinear, RejectsScaleLengthMismatch) {
    EXPECT_FALSE(run("QuantizeLinear", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 1})}).is_ok());
    // Zero point shape differs from the scale's.
    EXPECT_FALSE(
        run("QuantizeLinear", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {1, 1, 1}), u8({2}, {0, 0})}).is_ok());
    // Blocked: 3 columns in blocks of 2 need 2 scales per row, not 3.
    EXPECT_FALSE(run("QuantizeLinear", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2, 3}, {1, 1, 1, 1, 1, 1})},
                     {{"block_size", int_attr(2)}})
                     .is_ok());
    EXPECT_FALSE(run("QuantizeLinear", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2, 2}, {1, 1, 1, 1})},
                     {{"block_size", int_attr(-1)}})
                     .is_ok());
}

TEST(QuantizeLinear, RejectsBadAxis) {
    EXPECT_FALSE(
        run("QuantizeLinear", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {1, 1, 1})}, {{"axis", int_attr(2)}}).is_ok());
    EXPECT_FALSE(run("QuantizeLinear", {Tensor::scalar<float>(1), f32({2}, {1, 1})}, {{"axis", int_attr(0)}}).is_ok());
}

// ---- DequantizeLinear ----

TEST(DequantizeLinear, Int32AndPerAxis) {
    auto out =
        run("DequantizeLinear", {Tensor::from_vector<int32_t>({3}, {-1000000, 0, 7}), Tensor::scalar<float>(0.5f)});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{-500000, 0, 3.5f}));
    auto ax = run("DequantizeLinear", {i8({2, 2}, {-128, 127, 0, 1}), f32({2}, {1, 2}), i8({2}, {0, -1})},
                  {{"axis", int_attr(0)}});
    ASSERT_TRUE(ax.is_ok()) << ax.status().to_string();
    EXPECT_EQ(values<float>(ax.value()[0].tensor), (std::vector<float>{-128, 127, 2, 4}));
}

TEST(DequantizeLinear, Float16ScaleGivesFloat16Output) {
    auto out = run("DequantizeLinear",
                   {u8({2}, {10, 20}), Tensor::scalar<Float16>(Float16(0.25f)), Tensor::scalar<uint8_t>(8)}, {}, 1, 19);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const Tensor& y = out.value()[0].tensor;
    ASSERT_EQ(y.dtype(), DType::kFloat16);
    EXPECT_EQ(static_cast<float>(y.data<Float16>()[0]), 0.5f);
    EXPECT_EQ(static_cast<float>(y.data<Float16>()[1]), 3.0f);
}

TEST(DequantizeLinear, RejectsZeroPointDtypeMismatch) {
    EXPECT_FALSE(
        run("DequantizeLinear", {i8({1}, {1}), Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0)}).is_ok());
}

TEST(DequantizeLinear, RejectsScaleLengthMismatchAndBadAxis) {
    EXPECT_FALSE(run("DequantizeLinear", {u8({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 1})}).is_ok());
    EXPECT_FALSE(
        run("DequantizeLinear", {u8({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 1})}, {{"axis", int_attr(-3)}}).is_ok());
    // Integer scale.
    EXPECT_FALSE(run("DequantizeLinear", {u8({1}, {1}), Tensor::scalar<int32_t>(1)}).is_ok());
}

// ---- DynamicQuantizeLinear ----

TEST(DynamicQuantizeLinear, AllZeroAndAllNegative) {
    auto z = run("DynamicQuantizeLinear", {f32({3}, {0, 0, 0})}, {}, 3, 11);
    ASSERT_TRUE(z.is_ok()) << z.status().to_string();
    EXPECT_EQ(z.value()[1].tensor.data<float>()[0], 1.0f);
    EXPECT_EQ(z.value()[2].tensor.data<uint8_t>()[0], 0);
    EXPECT_EQ(values<uint8_t>(z.value()[0].tensor), (std::vector<uint8_t>{0, 0, 0}));
    // The range [-2.55, 0] always includes 0: scale 0.01, zero point 255.
    auto n = run("DynamicQuantizeLinear", {f32({4}, {-2.55f, -1.0f, -0.015f, -0.025f})}, {}, 3, 11);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    EXPECT_FLOAT_EQ(n.value()[1].tensor.data<float>()[0], 0.01f);
    EXPECT_EQ(n.value()[2].tensor.data<uint8_t>()[0], 255);
    EXPECT_EQ(values<uint8_t>(n.value()[0].tensor),
              (std::vector<uint8_t>{0, 155, 253, 253}));  // -1.5 and -2.5 both round to -2
}

TEST(DynamicQuantizeLinear, EmptyInput) {
    auto out = run("DynamicQuantizeLinear", {Tensor::create(DType::kFloat32, {0, 4}).value()}, {}, 3, 11);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{0, 4}));
    EXPECT_EQ(out.value()[1].tensor.data<float>()[0], 1.0f);
}

// ---- MatMulInteger / ConvInteger ----

TEST(MatMulInteger, PerRowAndPerColumnZeroPoints) {
    // A [2, 2] - [1, 2] per row; B [2, 2] - [3, 4] per column.
    auto out = run("MatMulInteger",
                   {u8({2, 2}, {1, 2, 3, 4}), u8({2, 2}, {3, 4, 5, 6}), u8({2}, {1, 2}), u8({2}, {3, 4})}, {}, 1, 10);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    // A' = [[0, 1], [1, 2]], B' = [[0, 0], [2, 2]].
    EXPECT_EQ(values<int32_t>(out.value()[0].tensor), (std::vector<int32_t>{2, 2, 4, 4}));
}

TEST(MatMulInteger, MixedSignednessAndOneDimensional) {
    auto out = run("MatMulInteger", {i8({3}, {-128, 1, 127}), u8({3, 1}, {255, 2, 255})}, {}, 1, 10);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1}));
    EXPECT_EQ(values<int32_t>(out.value()[0].tensor), (std::vector<int32_t>{-128 * 255 + 2 + 127 * 255}));
}

TEST(MatMulInteger, RejectsBadZeroPoints) {
    const Tensor a = u8({2, 2}, {1, 2, 3, 4});
    EXPECT_FALSE(run("MatMulInteger", {a, a, Tensor::scalar<int8_t>(0)}, {}, 1, 10).is_ok());  // dtype mismatch
    EXPECT_FALSE(run("MatMulInteger", {a, a, u8({3}, {0, 0, 0})}, {}, 1, 10).is_ok());         // not one per row
    EXPECT_FALSE(run("MatMulInteger", {a, a, Tensor(), u8({3}, {0, 0, 0})}, {}, 1, 10).is_ok());
    EXPECT_FALSE(run("MatMulInteger", {a, u8({3, 2}, {1, 2, 3, 4, 5, 6})}, {}, 1, 10).is_ok());  // K mismatch
    EXPECT_FALSE(run("MatMulInteger", {f32({1}, {1}), f32({1}, {1})}, {}, 1, 10).is_ok());
}

TEST(ConvInteger, PaddingReadsAsZeroPointAndPerChannelWeights) {
    // x 1x1x2x2 = 5 with zero point 5 everywhere except one 6; 1x1 kernel, 2 output channels, pad 1.
    const Tensor x = u8({1, 1, 2, 2}, {5, 5, 5, 6});
    const Tensor w = u8({2, 1, 1, 1}, {3, 4});
    auto out = run("ConvInteger", {x, w, Tensor::scalar<uint8_t>(5), u8({2}, {1, 1})},
                   {{"pads", ir::Attribute::make_ints({1, 1, 1, 1})}}, 1, 10);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const Tensor& y = out.value()[0].tensor;
    EXPECT_EQ(y.shape(), (Shape{1, 2, 4, 4}));
    std::vector<int32_t> expect(32, 0);
    expect[2 * 4 + 2] = 2;       // channel 0: (6 - 5) * (3 - 1)
    expect[16 + 2 * 4 + 2] = 3;  // channel 1: (6 - 5) * (4 - 1)
    EXPECT_EQ(values<int32_t>(y), expect);
}

TEST(ConvInteger, RejectsBadZeroPointsAndChannels) {
    const Tensor x = u8({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    const Tensor w = u8({2, 2, 1, 1}, {1, 1, 1, 1});
    EXPECT_FALSE(run("ConvInteger", {x, w, u8({2}, {0, 0})}, {}, 1, 10).is_ok());  // x zero point per tensor only
    EXPECT_FALSE(run("ConvInteger", {x, w, Tensor(), u8({3}, {0, 0, 0})}, {}, 1, 10).is_ok());
    EXPECT_FALSE(run("ConvInteger", {x, w, Tensor::scalar<int8_t>(0)}, {}, 1, 10).is_ok());
    EXPECT_FALSE(run("ConvInteger", {x, u8({2, 3, 1, 1}, {1, 1, 1, 1, 1, 1})}, {}, 1, 10).is_ok());
    EXPECT_FALSE(run("ConvInteger", {x, w}, {{"group", int_attr(2)}}, 1, 10).is_ok());
}

// ---- QLinearMatMul / QLinearConv ----

TEST(QLinearMatMul, RequantizesHalfToEvenAndSaturates) {
    // acc = a (1x1 times 1): multiplier 0.5 gives ties 0.5, 1.5, 2.5 -> 0, 2, 2; large values saturate.
    const Tensor a = i8({4, 1}, {1, 3, 5, 127});
    const Tensor b = i8({1, 1}, {4});
    auto out = run("QLinearMatMul",
                   {a, Tensor::scalar<float>(0.25f), Tensor::scalar<int8_t>(0), b, Tensor::scalar<float>(0.5f),
                    Tensor::scalar<int8_t>(0), Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(-1)},
                   {}, 1, 10);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    // acc * 0.125 = 0.5, 1.5, 2.5, 63.5 -> 0, 2, 2, 64; then -1.
    EXPECT_EQ(values<int8_t>(out.value()[0].tensor), (std::vector<int8_t>{-1, 1, 1, 63}));
    auto sat = run("QLinearMatMul",
                   {a, Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0), b, Tensor::scalar<float>(1.0f),
                    Tensor::scalar<int8_t>(0), Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0)},
                   {}, 1, 10);
    ASSERT_TRUE(sat.is_ok());
    EXPECT_EQ(values<int8_t>(sat.value()[0].tensor), (std::vector<int8_t>{4, 12, 20, 127}));
}

TEST(QLinearMatMul, RejectsBadScalesAndZeroPoints) {
    const Tensor a = u8({2, 2}, {1, 2, 3, 4});
    auto q = [&](Tensor as, Tensor az, Tensor yz) {
        return run("QLinearMatMul",
                   {a, std::move(as), std::move(az), a, Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0),
                    Tensor::scalar<float>(1.0f), std::move(yz)},
                   {}, 1, 10);
    };
    EXPECT_TRUE(q(Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0), Tensor::scalar<uint8_t>(0)).is_ok());
    EXPECT_FALSE(q(f32({3}, {1, 1, 1}), Tensor::scalar<uint8_t>(0), Tensor::scalar<uint8_t>(0)).is_ok());
    EXPECT_FALSE(q(Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0), Tensor::scalar<uint8_t>(0)).is_ok());
    EXPECT_FALSE(q(Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0), Tensor::scalar<float>(0)).is_ok());
    EXPECT_FALSE(q(Tensor::scalar<int32_t>(1), Tensor::scalar<uint8_t>(0), Tensor::scalar<uint8_t>(0)).is_ok());
}

TEST(QLinearConv, PerChannelScalesAndBias) {
    // 1x1 conv over a 1x1x1x2 input: channel 0 scale 1, channel 1 scale 0.5, bias [10, -10].
    const Tensor x = u8({1, 1, 1, 2}, {12, 14});  // minus zero point 10 -> 2, 4
    const Tensor w = i8({2, 1, 1, 1}, {3, 2});
    auto out =
        run("QLinearConv",
            {x, Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(10), w, f32({2}, {1.0f, 0.5f}), i8({2}, {0, 0}),
             Tensor::scalar<float>(2.0f), Tensor::scalar<uint8_t>(100), Tensor::from_vector<int32_t>({2}, {10, -10})},
            {}, 1, 10);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    // ch0: (2*3 + 10) * 0.5 = 8, (4*3 + 10) * 0.5 = 11; ch1: (2*2 - 10) * 0.25 = -1.5 -> -2, (8 - 10) * 0.25 = -0.5 ->
    // 0.
    EXPECT_EQ(values<uint8_t>(out.value()[0].tensor), (std::vector<uint8_t>{108, 111, 98, 100}));
}

TEST(QLinearConv, RejectsBadParameters) {
    const Tensor x = u8({1, 1, 2, 2}, {1, 2, 3, 4});
    const Tensor w = u8({2, 1, 1, 1}, {1, 1});
    auto q = [&](Tensor xs, Tensor ws, Tensor wz, Tensor bias) {
        return run("QLinearConv",
                   {x, std::move(xs), Tensor::scalar<uint8_t>(0), w, std::move(ws), std::move(wz),
                    Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0), std::move(bias)},
                   {}, 1, 10);
    };
    const Tensor one = Tensor::scalar<float>(1.0f);
    EXPECT_TRUE(q(one, one, Tensor::scalar<uint8_t>(0), Tensor()).is_ok());
    EXPECT_FALSE(q(f32({2}, {1, 1}), one, Tensor::scalar<uint8_t>(0), Tensor()).is_ok());     // x_scale
    EXPECT_FALSE(q(one, f32({3}, {1, 1, 1}), Tensor::scalar<uint8_t>(0), Tensor()).is_ok());  // w_scale
    EXPECT_FALSE(q(one, one, u8({3}, {0, 0, 0}), Tensor()).is_ok());                          // w_zero_point
    EXPECT_FALSE(q(one, one, Tensor::scalar<int8_t>(0), Tensor()).is_ok());                   // dtype
    EXPECT_FALSE(q(one, one, Tensor::scalar<uint8_t>(0), Tensor::from_vector<int32_t>({1}, {0})).is_ok());  // bias
    EXPECT_FALSE(q(one, one, Tensor::scalar<uint8_t>(0), f32({2}, {0, 0})).is_ok());
}

// ---- com.nnport QLinearAdd ----

Result<std::vector<RtValue>> qadd(std::vector<Tensor> in, ir::Attributes attrs = {}) {
    return testing::run_simple("QLinearAdd", std::move(in), std::move(attrs), 1, 1, "com.nnport");
}

TEST(QLinearAdd, RequantizesBroadcastsAndClampsForRelu) {
    // A: scale 0.5 zp 10, B: scale 0.25 zp 0 broadcast along the row, C: scale 1 zp 100.
    const Tensor a = u8({2, 3}, {10, 12, 0, 255, 11, 9});
    const Tensor b = u8({3}, {0, 2, 4});
    std::vector<Tensor> in = {a, Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(10),
                              b, Tensor::scalar<float>(0.25f), Tensor::scalar<uint8_t>(0),
                              Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(100)};
    // sums: 0, 1.5, -4, 122.5, 1, 0.5 -> round half even + 100 -> 100, 102, 96, 222, 101, 100
    auto out = qadd(in);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<uint8_t>(out.value()[0].tensor), (std::vector<uint8_t>{100, 102, 96, 222, 101, 100}));
    auto relu = qadd(in, {{"activation", ir::Attribute::make_string("Relu")}});
    ASSERT_TRUE(relu.is_ok()) << relu.status().to_string();
    EXPECT_EQ(values<uint8_t>(relu.value()[0].tensor), (std::vector<uint8_t>{100, 102, 100, 222, 101, 100}));
}

TEST(QLinearAdd, Int8SaturatesAndZeroPointsMayBeOmitted) {
    const Tensor a = i8({4}, {127, -128, 3, -3});
    const Tensor b = i8({4}, {127, -128, -3, 4});
    auto out = qadd({a, Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0), b, Tensor::scalar<float>(1.0f),
                     Tensor::scalar<int8_t>(0), Tensor::scalar<float>(1.0f)});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(values<int8_t>(out.value()[0].tensor), (std::vector<int8_t>{127, -128, 0, 1}));
}

TEST(QLinearAdd, RejectsBadParameters) {
    auto with = [](Tensor as, Tensor bz, const char* act) {
        return qadd({u8({2}, {1, 2}), std::move(as), Tensor::scalar<uint8_t>(0), u8({2}, {1, 2}),
                     Tensor::scalar<float>(1.0f), std::move(bz), Tensor::scalar<float>(1.0f),
                     Tensor::scalar<uint8_t>(0)},
                    {{"activation", ir::Attribute::make_string(act)}});
    };
    EXPECT_FALSE(with(Tensor::scalar<float>(0.0f), Tensor::scalar<uint8_t>(0), "Identity").is_ok());  // scale 0
    EXPECT_FALSE(with(f32({2}, {1, 1}), Tensor::scalar<uint8_t>(0), "Identity").is_ok());  // not per tensor
    EXPECT_FALSE(with(Tensor::scalar<float>(1.0f), Tensor::scalar<int8_t>(0), "Identity").is_ok());  // zp type
    EXPECT_FALSE(with(Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0), "Sigmoid").is_ok());  // not a clamp
    auto shapes = qadd({u8({2}, {1, 2}), Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0), u8({3}, {1, 2, 3}),
                        Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0), Tensor::scalar<float>(1.0f),
                        Tensor::scalar<uint8_t>(0)});
    EXPECT_FALSE(shapes.is_ok());
}

// ---- com.nnport QGemm ----

Result<std::vector<RtValue>> qgemm(std::vector<Tensor> in, ir::Attributes attrs = {}) {
    return testing::run_simple("QGemm", std::move(in), std::move(attrs), 1, 1, "com.nnport");
}

TEST(QGemm, FloatOutputPerColumnScalesBiasAndTransB) {
    // A [1, 2] zp 10 scale 0.5; B^T [3, 2] int8 per-column scales {1, 0.5, 0.25}, C {4, 0, -8} at scale a_s * b_s.
    const Tensor a = u8({1, 2}, {12, 8});  // A - zp = {2, -2}
    const Tensor bt = i8({3, 2}, {1, 2, 3, -1, -4, 4});
    // acc = {2 - 4, 6 + 2, -8 - 8} = {-2, 8, -16}; + C = {2, 8, -24}; * 0.5 * {1, 0.5, 0.25} = {1, 2, -3}
    std::vector<Tensor> in = {a, Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(10), bt, f32({3}, {1, 0.5f, 0.25f}),
                              i8({3}, {0, 0, 0}), Tensor::from_vector<int32_t>({3}, {4, 0, -8})};
    auto out = qgemm(in, {{"transB", int_attr(1)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.dtype(), DType::kFloat32);
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{1, 2, -3}));
    auto relu = qgemm(in, {{"transB", int_attr(1)}, {"activation", ir::Attribute::make_string("Relu")}});
    ASSERT_TRUE(relu.is_ok()) << relu.status().to_string();
    EXPECT_EQ(values<float>(relu.value()[0].tensor), (std::vector<float>{1, 2, 0}));
    // The same product with B as [K, N] (no transB) and a quantized output (scale 0.5, zp 100).
    in[3] = i8({2, 3}, {1, 3, -4, 2, -1, 4});
    in.push_back(Tensor::scalar<float>(0.5f));
    in.push_back(Tensor::scalar<uint8_t>(100));
    auto q = qgemm(in);
    ASSERT_TRUE(q.is_ok()) << q.status().to_string();
    EXPECT_EQ(values<uint8_t>(q.value()[0].tensor), (std::vector<uint8_t>{102, 104, 94}));
}

TEST(QGemm, RejectsBadParameters) {
    const Tensor a = u8({1, 2}, {1, 2});
    auto with = [&](Tensor b, Tensor bs, Tensor c) {
        std::vector<Tensor> in = {a, Tensor::scalar<float>(1.0f), Tensor::scalar<uint8_t>(0), std::move(b), std::move(bs),
                                  Tensor::scalar<int8_t>(0)};
        if (c.defined()) in.push_back(std::move(c));
        return qgemm(in);
    };
    EXPECT_FALSE(with(i8({3, 2}, {1, 2, 3, 4, 5, 6}), Tensor::scalar<float>(1.0f), Tensor()).is_ok());  // K mismatch
    EXPECT_FALSE(with(i8({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 1}), Tensor()).is_ok());  // 2 scales for N = 3
    EXPECT_FALSE(with(i8({2, 3}, {1, 2, 3, 4, 5, 6}), Tensor::scalar<float>(1.0f), f32({3}, {1, 2, 3})).is_ok());
    EXPECT_TRUE(with(i8({2, 3}, {1, 2, 3, 4, 5, 6}), Tensor::scalar<float>(1.0f), Tensor()).is_ok());
}

}  // namespace
}  // namespace nnport

// Test data for the int8 kernels (the oneDNN and the cpu backends' tests): activations over the whole type, weight
// scales, an output scale that spreads the results over many steps, and one-node com.nnport QLinearFusedConv and
// QGemm models.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "backends/backend_test_util.hpp"

namespace nnport::testing {

/// Activations over the whole of int8 or uint8.
inline Tensor activations(bool is_signed, Shape s, uint32_t seed) {
    return is_signed ? random_ints<int8_t>(std::move(s), -128, 127, seed)
                     : random_ints<uint8_t>(std::move(s), 0, 255, seed);
}

/// A scalar zero point of the activations' type.
inline Tensor zero_point(bool is_signed, int32_t v) {
    return is_signed ? Tensor::scalar<int8_t>(int8_t(v)) : Tensor::scalar<uint8_t>(uint8_t(v));
}

/// Weight scales in [0.005, 0.015): one per output channel (`n`), or one.
inline Tensor weight_scales(bool per_channel, int64_t n, uint32_t seed) {
    return random_f32(per_channel ? Shape{n} : Shape{}, seed, 0.005f, 0.015f);
}

/// An output scale for `k` products of activations at scale `in_scale` and weights at about 0.01 per step: the
/// requantized values spread over about +-60 steps.
inline float spread_scale(float in_scale, int64_t k) {
    return in_scale * 0.01f * 128 * 73 * std::sqrt(float(k)) / 60.0f;
}

/// What one test conv looks like.
struct QConv {
    Shape x;  ///< NCHW
    int64_t m = 4, kh = 3, kw = 3, group = 1;
    bool x_signed = false, y_signed = false, per_channel = true, bias = true;
    int32_t x_zp = 128, y_zp = 100;
    std::string act = "Identity";
    std::vector<float> act_params;
    ir::Attributes attrs;
    uint32_t seed = 1;
};

inline OpRun make_run(const QConv& c) {
    OpRun r;
    r.op_type = "QLinearFusedConv";
    r.domain = "com.nnport";
    r.opset = 1;
    const int64_t cg = c.x[1] / c.group;
    const Tensor x = activations(c.x_signed, c.x, c.seed);
    const Tensor w = random_ints<int8_t>({c.m, cg, c.kh, c.kw}, -127, 127, c.seed + 1);
    const float xs = 0.02f;
    const Tensor ws = weight_scales(c.per_channel, c.m, c.seed + 2);
    const float ys = spread_scale(xs, cg * c.kh * c.kw);
    Tensor wz = std::move(Tensor::create(DType::kInt8, ws.shape(), true)).value();
    r.inputs = {x,  Tensor::scalar<float>(xs), zero_point(c.x_signed, c.x_zp), w, ws,
                wz, Tensor::scalar<float>(ys), zero_point(c.y_signed, c.y_zp)};
    if (c.bias) r.inputs.push_back(random_ints<int32_t>({c.m}, -3000, 3000, c.seed + 3));
    r.as_initializer = std::vector<bool>(r.inputs.size(), true);
    r.as_initializer[0] = false;
    r.attrs = c.attrs;
    r.attrs["group"] = ir::Attribute::make_int(c.group);
    r.attrs["activation"] = ir::Attribute::make_string(c.act);
    if (!c.act_params.empty()) r.attrs["activation_params"] = ir::Attribute::make_floats(c.act_params);
    return r;
}

/// What one test QGemm looks like.
struct QFc {
    int64_t m = 3, k = 40, n = 17;
    bool a_signed = false, trans_b = true, per_column = true, bias = true, quantized = false;
    std::string act = "Identity";
    std::vector<float> act_params;
    uint32_t seed = 11;
};

inline OpRun make_fc(const QFc& c) {
    OpRun r;
    r.op_type = "QGemm";
    r.domain = "com.nnport";
    r.opset = 1;
    const Tensor a = activations(c.a_signed, {c.m, c.k}, c.seed);
    const Tensor w = random_ints<int8_t>(c.trans_b ? Shape{c.n, c.k} : Shape{c.k, c.n}, -127, 127, c.seed + 1);
    const Tensor ws = weight_scales(c.per_column, c.n, c.seed + 2);
    const float as = 0.02f;
    r.inputs = {a,
                Tensor::scalar<float>(as),
                zero_point(c.a_signed, c.a_signed ? -5 : 120),
                w,
                ws,
                std::move(Tensor::create(DType::kInt8, ws.shape(), true)).value()};
    r.inputs.push_back(c.bias ? random_ints<int32_t>({c.n}, -3000, 3000, c.seed + 3) : Tensor());
    if (c.quantized) {
        r.inputs.push_back(Tensor::scalar<float>(spread_scale(as, c.k)));
        r.inputs.push_back(zero_point(false, 110));
    }
    while (!r.inputs.back().defined()) r.inputs.pop_back();
    r.as_initializer = std::vector<bool>(r.inputs.size(), true);
    r.as_initializer[0] = false;
    r.attrs["transB"] = ir::Attribute::make_int(c.trans_b ? 1 : 0);
    r.attrs["activation"] = ir::Attribute::make_string(c.act);
    if (!c.act_params.empty()) r.attrs["activation_params"] = ir::Attribute::make_floats(c.act_params);
    return r;
}

}  // namespace nnport::testing

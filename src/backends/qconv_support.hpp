// What a backend needs to run com.nnport QLinearFusedConv / NhwcQLinearFusedConv as an integer convolution: the
// checks every int8 convolution kernel shares (constant per-tensor activation parameters, constant int8 weights with
// zero weight zero points, per-tensor or per-channel weight scales, constant int32 bias) and the parameters read from
// the constants once at prepare time. Used by the oneDNN and the cpu backends.
#pragma once

#include <vector>

#include "backends/backend.hpp"
#include "ops/fused_util.hpp"

namespace nnport::qconv {

/// com.nnport QLinearFusedConv or NhwcQLinearFusedConv.
bool is_qconv(const ir::Node& node);
/// com.nnport NhwcQLinearFusedConv (x and y channels-last).
bool is_nhwc(const ir::Node& node);

/// A uint8 / int8 tensor value.
inline bool is_int8(const ir::Value* v) {
    return v && v->type.kind == ir::ValueType::Kind::kTensor &&
           (v->type.dtype == DType::kUInt8 || v->type.dtype == DType::kInt8);
}

/// A constant float32 scale with one value, or nullptr.
inline const Tensor* scalar_scale(const ConstantFn& constant, const ir::Value* v) {
    const Tensor* t = v ? constant(v) : nullptr;
    return t && t->dtype() == DType::kFloat32 && t->numel() == 1 ? t : nullptr;
}

/// Scalar integer of a constant (zero points), or `fallback` when absent.
inline int32_t scalar_int(const Tensor* t, int32_t fallback = 0) {
    return t ? static_cast<int32_t>(t->item_as_double()) : fallback;
}

/// Whether an integer convolution kernel can run `node` (2-D, the constants above); answers channels-last.
Support supports(const ir::Node& node, const ConstantFn& constant);

/// The constant parameters of a supported node.
struct Params {
    DType x_type = DType::kUInt8, y_type = DType::kUInt8;
    int32_t x_zp = 0, y_zp = 0;
    float x_scale = 1.0f, y_scale = 1.0f;
    std::vector<float> out_scales;  ///< one, or one per output channel: x_scale * w_scale[m] / y_scale in float
    const Tensor* w = nullptr;      ///< int8 [M, C/group, kH, kW]
    const Tensor* bias = nullptr;   ///< int32 [M] or nullptr
    fused::Activation act;
    int64_t group = 1;
};

/// Reads the parameters of a node `supports` accepted.
Result<Params> params(const ir::Node& node, const ConstantFn& constant);

}  // namespace nnport::qconv

// Small helpers shared by the oneDNN backend's int8 kernels (onednn_int8_conv.cpp, onednn_int8_gemm.cpp).
#pragma once

#include "backends/backend.hpp"
#include "backends/onednn/onednn_common.hpp"

namespace nnport::onednn {

/// oneDNN's type for a uint8 / int8 tensor.
inline dt int8_dt(DType t) { return t == DType::kUInt8 ? dt::u8 : dt::s8; }

/// Scalar integer of a constant (zero points), or `fallback` when absent.
inline int32_t scalar_int(const Tensor* t, int32_t fallback = 0) {
    return t ? static_cast<int32_t>(t->item_as_double()) : fallback;
}

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

}  // namespace nnport::onednn

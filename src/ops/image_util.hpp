// Helpers shared by the image family (GridSample, AffineGrid, RoiAlign, MaxRoiPool, Col2Im).
#pragma once

#include <vector>

#include "ops/kernel_util.hpp"

namespace nnport::image {

/// The elements of a float32/float64 tensor as T: the tensor's own data when the dtype already matches, else a
/// converted copy held in `buf`. Callers check the dtype is float32 or float64 first.
template <typename T>
const T* floats_as(const Tensor& t, std::vector<T>& buf) {
    if (t.dtype() == DTypeOf<T>::value) return t.data<T>();
    buf.resize(static_cast<size_t>(t.numel()));
    if (t.dtype() == DType::kFloat32) {
        const float* p = t.data<float>();
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<T>(p[i]);
    } else {
        const double* p = t.data<double>();
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<T>(p[i]);
    }
    return buf.data();
}

inline bool is_f32_or_f64(DType dt) { return dt == DType::kFloat32 || dt == DType::kFloat64; }

/// False only when both dims are known and differ (a definite contradiction for inference).
inline bool dims_agree(const ir::Dim& a, const ir::Dim& b) { return !a.is_static() || !b.is_static() || a == b; }

/// The better known of two dims that must be equal: a static one, else a named symbol, else a fresh symbol.
inline ir::Dim pick_dim(InferContext& ctx, const ir::Dim& a, const ir::Dim& b) {
    if (a.is_static()) return a;
    if (b.is_static()) return b;
    if (!a.param.empty()) return a;
    if (!b.param.empty()) return b;
    return ctx.new_dim();
}

}  // namespace nnport::image

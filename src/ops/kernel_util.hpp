// Helpers shared by op definitions: axes, broadcasting, dtype dispatch, common inference rules.
#pragma once

#include <string>
#include <vector>

#include "ops/op_def.hpp"

namespace nnport {

/// Maps a possibly negative axis into [0, rank); error if out of range.
Result<int64_t> normalize_axis(int64_t axis, int64_t rank);
/// Multidirectional (numpy) broadcast of concrete shapes.
Result<Shape> broadcast_shapes(const Shape& a, const Shape& b);
/// Symbolic broadcast for inference; returns an error on a definite mismatch of static dims.
Result<ir::ValueType> broadcast_types(const std::vector<const ir::ValueType*>& types, DType out_dtype);
/// Row-major strides of a shape.
std::vector<int64_t> strides_of(const Shape& shape);
/// Strides of `in` viewed as `out` under broadcasting (0 where broadcast); in.rank() <= out.rank().
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

/// Calls f(offsets...) for each output element with the linear offsets into each input (broadcast).
/// The innermost loop is flat: the callback receives (out_index, in_offsets[]) per element.
template <size_t N, typename F>
void for_each_broadcast(const Shape& out, const std::vector<int64_t> (&in_strides)[N], F&& f) {
    const int64_t total = shape_numel(out);
    if (total <= 0) return;
    const size_t r = out.size();
    std::vector<int64_t> idx(r, 0);
    int64_t off[N] = {};
    for (int64_t o = 0; o < total; ++o) {
        f(o, off);
        for (size_t d = r; d-- > 0;) {
            if (++idx[d] < out[d]) {
                for (size_t k = 0; k < N; ++k) off[k] += in_strides[k][d];
                break;
            }
            for (size_t k = 0; k < N; ++k) off[k] -= in_strides[k][d] * (out[d] - 1);
            idx[d] = 0;
        }
    }
}

/// Inference rule: output 0 has input 0's type.
Status infer_same_as_input0(InferContext& ctx);
/// Inference rule: output 0 is the broadcast of all inputs, with input 0's dtype.
Status infer_broadcast_same_dtype(InferContext& ctx);
/// Inference rule: output 0 is the broadcast of all inputs, bool dtype.
Status infer_broadcast_bool(InferContext& ctx);

/// A symbolic shape where each dim is known or fresh; rank from a constant shape tensor (for Reshape-like ops).
ir::ValueType tensor_type_of_rank(InferContext& ctx, DType dt, int64_t rank);

/// Dtype lists for schemas.
const std::vector<DType>& float_types();    // f16, bf16, f32, f64
const std::vector<DType>& numeric_types();  // all ints and floats

}  // namespace nnport

/// Runs `__VA_ARGS__` with `T` bound to the C++ type of `dt` (floats only); else returns unsupported.
#define NNPORT_DISPATCH_FLOAT(dt, T, ctx, ...)                                                         \
    switch (dt) {                                                                                    \
        case ::nnport::DType::kFloat32: { using T = float; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kFloat64: { using T = double; __VA_ARGS__; break; }                     \
        default: return ::nnport::unsupported((ctx).node().describe() + ": dtype " +                   \
                                              ::nnport::dtype_name(dt) + " is not supported");         \
    }

/// As NNPORT_DISPATCH_FLOAT, for all int and float types (float16/bfloat16 excluded: convert first).
#define NNPORT_DISPATCH_NUMERIC(dt, T, ctx, ...)                                                       \
    switch (dt) {                                                                                    \
        case ::nnport::DType::kFloat32: { using T = float; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kFloat64: { using T = double; __VA_ARGS__; break; }                     \
        case ::nnport::DType::kInt8: { using T = int8_t; __VA_ARGS__; break; }                        \
        case ::nnport::DType::kInt16: { using T = int16_t; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kInt32: { using T = int32_t; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kInt64: { using T = int64_t; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kUInt8: { using T = uint8_t; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kUInt16: { using T = uint16_t; __VA_ARGS__; break; }                    \
        case ::nnport::DType::kUInt32: { using T = uint32_t; __VA_ARGS__; break; }                    \
        case ::nnport::DType::kUInt64: { using T = uint64_t; __VA_ARGS__; break; }                    \
        default: return ::nnport::unsupported((ctx).node().describe() + ": dtype " +                   \
                                              ::nnport::dtype_name(dt) + " is not supported");         \
    }

/// Any dtype by element size, for data movement (copy/gather/transpose): T is a same-size POD or std::string.
#define NNPORT_DISPATCH_BY_SIZE(dt, T, ctx, ...)                                                       \
    switch ((dt) == ::nnport::DType::kString ? 0 : ::nnport::dtype_size(dt)) {                          \
        case 0: { using T = std::string; __VA_ARGS__; break; }                                         \
        case 1: { using T = uint8_t; __VA_ARGS__; break; }                                             \
        case 2: { using T = uint16_t; __VA_ARGS__; break; }                                            \
        case 4: { using T = uint32_t; __VA_ARGS__; break; }                                            \
        case 8: { using T = uint64_t; __VA_ARGS__; break; }                                            \
        case 16: { using T = ::nnport::Pod16; __VA_ARGS__; break; }                                    \
        default: return ::nnport::unsupported((ctx).node().describe() + ": dtype not supported");      \
    }

namespace nnport {
/// 16-byte element (complex128) for data-movement kernels.
struct Pod16 {
    uint64_t a, b;
};
/// Pointer to element storage of any dtype, typed for data movement (strings too).
template <typename T>
T* typed_data(Tensor& t) {
    if constexpr (std::is_same_v<T, std::string>) return t.strings();
    else return static_cast<T*>(t.raw_data());
}
template <typename T>
const T* typed_data(const Tensor& t) {
    if constexpr (std::is_same_v<T, std::string>) return t.strings();
    else return static_cast<const T*>(t.raw_data());
}
}  // namespace nnport

// Helpers shared by the quant family: quantized ranges and rounding, scale/zero-point layouts, and the int32
// matmul/conv cores of MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv.
#pragma once

#include <cmath>
#include <type_traits>
#include <vector>

#include "ops/fused_util.hpp"
#include "ops/kernel_util.hpp"
#include "ops/nn_util.hpp"

namespace nnport::quant {

/// True for the integer types used as quantized data: uint8, int8, uint16, int16.
bool is_quant_type(DType t);
/// Saturation range [lo, hi] of a quantized type (is_quant_type(t) or int32).
void quant_range(DType t, int32_t& lo, int32_t& hi);

/// rint(v) + zp saturated to [lo, hi], rounding half to even; NaN gives lo.
template <typename C>
inline int32_t quantize_value(C v, int32_t zp, int32_t lo, int32_t hi) {
    // Clamping first keeps the value in the exact-integer range of the rounding below and in int32.
    const C vlo = C(lo) - C(zp) - C(1), vhi = C(hi) - C(zp) + C(1);
    v = v >= vlo ? v : vlo;
    v = v <= vhi ? v : vhi;
    int32_t r;
    if constexpr (std::is_same_v<C, float>) {
        // Adding 1.5 * 2^23 leaves no fraction bits: the FPU rounds half to even (|v| < 2^22 here).
        constexpr float kMagic = 12582912.0f;
        r = static_cast<int32_t>((v + kMagic) - kMagic);
    } else {
        r = static_cast<int32_t>(std::nearbyint(v));
    }
    r += zp;
    return r < lo ? lo : (r > hi ? hi : r);
}

/// The quantized bounds [lo, hi] of a fused activation (Identity, Relu or Clip) applied as a clamp of the quantized
/// output, for output scale `ys` and zero point `zp` of type `t`: the type's range, raised to the zero point for
/// Relu, narrowed to Clip's bounds quantized. Exact, because rounding is monotone.
void activation_bounds(const fused::Activation& act, double ys, int32_t zp, DType t, int32_t& lo, int32_t& hi);

/// How a scale (and its zero point) maps onto x viewed as [outer, dim, inner] around the quantization axis:
/// element (o, a, i) uses parameter base(o, a) + i * inner_step().
struct ParamLayout {
    int64_t outer = 1, dim = 1, inner = 1;
    bool per_tensor = true;
    int64_t block = 0;   ///< > 0: blocked quantization along the axis
    int64_t blocks = 1;  ///< parameter count along the axis when blocked
    int64_t base(int64_t o, int64_t a) const {
        if (per_tensor) return 0;
        if (block == 0) return a;
        return (o * blocks + a / block) * inner;
    }
    int64_t inner_step() const { return !per_tensor && block > 0 ? 1 : 0; }
};

/// Resolves per-tensor (one value), per-axis (1-D of x.shape[axis]) or blocked (x's rank, ceil(dim / block_size)
/// along the axis) layout of `scale`; a given zero point must have the scale's shape.
Result<ParamLayout> param_layout(const AttrAccess& a, const Shape& x, const Tensor& scale, const Tensor* zero_point,
                                 int64_t axis, int64_t block_size);

/// Zero-point values (any integer dtype) as int32; {0} when absent.
std::vector<int32_t> zero_point_values(const Tensor* zp);
/// Scale values (float32/float64/int32) as C.
template <typename C>
std::vector<C> scale_values(const Tensor& s) {
    std::vector<C> v(static_cast<size_t>(s.numel()));
    for (int64_t i = 0; i < s.numel(); ++i) v[static_cast<size_t>(i)] = static_cast<C>(s.item_as_double(i));
    return v;
}

/// Checks a given zero point has dtype `want`.
Status check_zero_point_dtype(const AttrAccess& a, const Tensor* zp, DType want, const char* what);

/// A matmul operand's scale or zero point: one value, one per row of A / column of B, or one per (matrix of the
/// operand, row / column) when it has the operand's rank (A: [..., M, 1], B: [..., 1, N]).
struct MatParam {
    int kind = 0;  ///< 0: one value, 1: per row/column, 2: per (matrix, row/column)
    int64_t len = 1;
    int64_t index(int64_t mat, int64_t i) const { return kind == 0 ? 0 : (kind == 1 ? i : mat * len + i); }
};
/// Classifies `p` for operand `shape` (rank >= 1); `rows` true for A (per row), false for B (per column).
Result<MatParam> mat_param(const AttrAccess& a, const Tensor& p, const Shape& shape, bool rows, const char* what);

/// A batched matmul resolved with numpy broadcasting; matrices indexed within each operand's own batch.
struct MatMulShape {
    int64_t m = 0, n = 0, k = 0;
    int64_t mats_a = 1, mats_b = 1;
    Shape out;
    std::vector<int64_t> off_a, off_b;  ///< per output matrix: matrix index into A and B
};
Result<MatMulShape> matmul_shape(const AttrAccess& a, const Shape& as, const Shape& bs);
/// Load-time output dims of a matmul (symbolic where unknown); error on a definite mismatch.
Status matmul_infer_dims(InferContext& ctx, size_t a_index, size_t b_index, DType out);

/// c[out] = (a - a_zp) x (b - b_zp) in int32 (wrapping), for uint8/int8/uint16/int16 operands.
Status int_matmul(KernelContext& ctx, const Tensor& a, const Tensor* a_zp, const Tensor& b, const Tensor* b_zp,
                  const MatMulShape& s, int32_t* c);

/// y[N, M, out] = conv(x - x_zp, w - w_zp[m]) in int32; x_zp has one value, w_zp one or M.
Status int_conv(KernelContext& ctx, const Tensor& x, const Tensor* x_zp, const Tensor& w, const Tensor* w_zp,
                const nn::ConvShape& s, int32_t* y);

}  // namespace nnport::quant

/// Runs `__VA_ARGS__` with `T` bound to a quantized integer type (uint8/int8/uint16/int16); else unsupported.
#define NNPORT_DISPATCH_QUANT(dt, T, ctx, ...)                                                         \
    switch (dt) {                                                                                    \
        case ::nnport::DType::kUInt8: { using T = uint8_t; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kInt8: { using T = int8_t; __VA_ARGS__; break; }                        \
        case ::nnport::DType::kUInt16: { using T = uint16_t; __VA_ARGS__; break; }                    \
        case ::nnport::DType::kInt16: { using T = int16_t; __VA_ARGS__; break; }                      \
        default: return ::nnport::unsupported((ctx).node().describe() + ": dtype " +                   \
                                              ::nnport::dtype_name(dt) + " is not supported");         \
    }

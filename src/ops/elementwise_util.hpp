// Shared machinery of the elementwise op family: broadcast plans, row-wise loop drivers, wrapping integer math,
// and dtype dispatch macros beyond those in kernel_util.hpp.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "ops/kernel_util.hpp"

namespace nnport {

/// Elements below which a loop runs on the calling thread (scaled by a per-op cost factor).
inline constexpr int64_t kEwParallelGrain = int64_t{1} << 16;

/// A numpy broadcast of up to 3 inputs, with dims of size 1 dropped and adjacent dims merged where every input
/// walks them the same way. The innermost dim then has stride 0 or 1 in every input, so hot loops are flat.
struct BroadcastPlan {
    Shape out_shape;                           ///< the full broadcast output shape
    int64_t numel = 0;                         ///< elements of out_shape
    std::vector<int64_t> dims;                 ///< coalesced dims (at least one); the last one is the row
    std::vector<std::vector<int64_t>> strides; ///< per input, element strides over `dims` (0 = broadcast)
};

/// Builds the plan for the given input shapes; an invalid-argument error if they cannot be broadcast.
Result<BroadcastPlan> make_broadcast_plan(const std::vector<const Shape*>& shapes);

/// Runs fn(begin, end) over [0, total), in parallel when total * cost is large.
void ew_parallel(const KernelContext& ctx, int64_t total, int64_t cost, const std::function<void(int64_t, int64_t)>& fn);

/// Calls row(out_offset, in_offsets, in_steps, n) for each run of n output elements that is one row (or part of
/// one) of the plan; in_steps[k] is 0 (input k repeats one element) or 1 (input k is contiguous).
template <size_t N, typename RowFn>
void for_each_row(const KernelContext& ctx, const BroadcastPlan& p, int64_t cost, RowFn&& row) {
    if (p.numel <= 0) return;
    const int64_t inner = p.dims.back();
    const size_t outer_rank = p.dims.size() - 1;
    ew_parallel(ctx, p.numel, cost, [&](int64_t begin, int64_t end) {
        std::vector<int64_t> idx(outer_rank, 0);
        int64_t off[N] = {}, step[N] = {};
        int64_t r = begin / inner;
        int64_t c = begin % inner;
        for (size_t d = outer_rank; d-- > 0;) {
            idx[d] = r % p.dims[d];
            r /= p.dims[d];
            for (size_t k = 0; k < N; ++k) off[k] += idx[d] * p.strides[k][d];
        }
        for (size_t k = 0; k < N; ++k) step[k] = p.strides[k][outer_rank];
        int64_t pos = begin;
        while (pos < end) {
            const int64_t n = std::min(inner - c, end - pos);
            int64_t row_off[N];
            for (size_t k = 0; k < N; ++k) row_off[k] = off[k] + c * step[k];
            row(pos, row_off, step, n);
            pos += n;
            c = 0;
            for (size_t d = outer_rank; d-- > 0;) {
                if (++idx[d] < p.dims[d]) {
                    for (size_t k = 0; k < N; ++k) off[k] += p.strides[k][d];
                    break;
                }
                for (size_t k = 0; k < N; ++k) off[k] -= p.strides[k][d] * (p.dims[d] - 1);
                idx[d] = 0;
            }
        }
    });
}

/// out[i] = op(a[i*sa], b[i*sb]) for one row; sa/sb are 0 or 1 and never both 0 unless n == 1. `o` may equal `a` or
/// `b` (in-place execution), so the pointers are not __restrict__.
template <typename TO, typename TA, typename TB, typename Op>
inline void binary_row(TO* o, const TA* a, int64_t sa, const TB* b, int64_t sb, int64_t n, const Op& op) {
    if (sa && sb) {
        for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], b[i]);
    } else if (sb) {
        const TA x = *a;
        for (int64_t i = 0; i < n; ++i) o[i] = op(x, b[i]);
    } else {
        const TB y = *b;
        for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], y);
    }
}

/// Broadcasts a and b, allocates output 0 as `out_dtype` and fills it with op(a, b).
template <typename TO, typename TA, typename TB, typename Op>
Status binary_kernel(KernelContext& ctx, const Tensor& a, const Tensor& b, DType out_dtype, const Op& op,
                     int64_t cost = 1) {
    auto plan = make_broadcast_plan({&a.shape(), &b.shape()});
    if (!plan.is_ok()) return ctx.input_error(plan.status().message());
    const BroadcastPlan& p = plan.value();
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, out_dtype, p.out_shape));
    const TA* pa = typed_data<TA>(a);
    const TB* pb = typed_data<TB>(b);
    TO* po = typed_data<TO>(*out);
    for_each_row<2>(ctx, p, cost, [&](int64_t o, const int64_t* off, const int64_t* st, int64_t n) {
        binary_row(po + o, pa + off[0], st[0], pb + off[1], st[1], n, op);
    });
    return Status::ok();
}

/// Allocates output 0 with x's shape as `out_dtype` and fills it with op(x). The output may be x's own buffer
/// (in-place execution), so the pointers are not __restrict__.
template <typename TO, typename TI, typename Op>
Status unary_kernel(KernelContext& ctx, const Tensor& x, DType out_dtype, const Op& op, int64_t cost = 1) {
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, out_dtype, x.shape()));
    const TI* px = typed_data<TI>(x);
    TO* po = typed_data<TO>(*out);
    ew_parallel(ctx, x.numel(), cost, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) po[i] = op(px[i]);
    });
    return Status::ok();
}

/// Applies op (a generic callable) to input 0, a float32/float64 tensor (half types arrive as float32); output 0 has
/// the same dtype and shape.
template <typename Op>
Status float_map(KernelContext& ctx, const Op& op, int64_t cost = 1) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, return unary_kernel<T, T>(ctx, x, x.dtype(), op, cost));
    return Status::ok();
}

/// Fails unless inputs 0..n-1 are present tensors.
Status ew_require_tensors(const KernelContext& ctx, size_t n);
/// Fails (input error) unless inputs i and j have the same dtype.
Status ew_require_same_dtype(const KernelContext& ctx, size_t i, size_t j);
/// Inference: broadcast of the present inputs with the given output dtype.
Status ew_infer_broadcast(InferContext& ctx, DType out_dtype);
/// Inference: a definite error if the known dtypes of inputs i and j differ.
Status ew_infer_same_dtype(InferContext& ctx, size_t i, size_t j);

/// std::isnan for floats, false for other types.
template <typename T>
inline bool is_nan(T x) {
    if constexpr (std::is_floating_point_v<T>) return std::isnan(x);
    else return false;
}

/// Unsigned type used for wrapping arithmetic on T (at least unsigned int, so small types never promote to int).
template <typename T>
using WrapU = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
inline T add_wrap(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapU<T>>(a) + static_cast<WrapU<T>>(b));
    else return a + b;
}
template <typename T>
inline T sub_wrap(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapU<T>>(a) - static_cast<WrapU<T>>(b));
    else return a - b;
}
template <typename T>
inline T mul_wrap(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapU<T>>(a) * static_cast<WrapU<T>>(b));
    else return a * b;
}
template <typename T>
inline T neg_wrap(T a) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(WrapU<T>(0) - static_cast<WrapU<T>>(a));
    else return -a;
}

/// Converts a floating value to integer type T without undefined behaviour: in-range values truncate toward zero;
/// NaN and out-of-range values give what x86 conversion gives (the "integer indefinite" value), as numpy does.
template <typename T, typename F>
inline T float_to_int(F v) {
    if constexpr (std::is_same_v<T, bool>) {
        return v != F(0);
    } else if constexpr (std::is_same_v<T, uint64_t>) {
        if (v >= F(0) && v < F(18446744073709551616.0)) return static_cast<uint64_t>(v);
        if (v < F(0) && v > F(-9223372036854775808.0)) return static_cast<uint64_t>(static_cast<int64_t>(v));
        return uint64_t{1} << 63;
    } else {
        int64_t i = std::numeric_limits<int64_t>::min();
        if (v >= F(-9223372036854775808.0) && v < F(9223372036854775808.0)) i = static_cast<int64_t>(v);
        if constexpr (sizeof(T) == 4 && std::is_signed_v<T>) {
            // x86 cvttss2si: out-of-range int32 conversions give INT32_MIN.
            if (i < std::numeric_limits<int32_t>::min() || i > std::numeric_limits<int32_t>::max()) {
                return std::numeric_limits<int32_t>::min();
            }
        }
        return static_cast<T>(i);  // modular narrowing for the small types, as numpy's astype
    }
}

}  // namespace nnport

/// All integer types (no bool).
#define NNPORT_DISPATCH_INT(dt, T, ctx, ...)                                                           \
    switch (dt) {                                                                                    \
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

/// Floats and signed integers (for ops like Neg that ONNX defines on signed types only).
#define NNPORT_DISPATCH_SIGNED(dt, T, ctx, ...)                                                        \
    switch (dt) {                                                                                    \
        case ::nnport::DType::kFloat32: { using T = float; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kFloat64: { using T = double; __VA_ARGS__; break; }                     \
        case ::nnport::DType::kInt8: { using T = int8_t; __VA_ARGS__; break; }                        \
        case ::nnport::DType::kInt16: { using T = int16_t; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kInt32: { using T = int32_t; __VA_ARGS__; break; }                      \
        case ::nnport::DType::kInt64: { using T = int64_t; __VA_ARGS__; break; }                      \
        default: return ::nnport::unsupported((ctx).node().describe() + ": dtype " +                   \
                                              ::nnport::dtype_name(dt) + " is not supported");         \
    }

/// Numeric types and bool.
#define NNPORT_DISPATCH_NUMERIC_BOOL(dt, T, ctx, ...)                                                  \
    if ((dt) == ::nnport::DType::kBool) {                                                            \
        using T = bool;                                                                              \
        __VA_ARGS__;                                                                                 \
    } else {                                                                                         \
        NNPORT_DISPATCH_NUMERIC(dt, T, ctx, __VA_ARGS__)                                             \
    }

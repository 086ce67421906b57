// Helpers shared by the tensor-manipulation ops: integer inputs, strided copies, symbolic dims.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "ops/kernel_util.hpp"

namespace nnport {

/// Elements below which kernels stay on the calling thread.
inline constexpr int64_t kParallelGrain = 1 << 15;

/// Runs fn(begin, end) over [0, n), in parallel when n * work_per_item is large enough.
void parallel_rows(const KernelContext& ctx, int64_t n, int64_t work_per_item,
                   const std::function<void(int64_t, int64_t)>& fn);

/// Values of an integer tensor (int8..uint64); error naming `what` for other dtypes or missing data.
Result<std::vector<int64_t>> int_values(const AttrAccess& ctx, const Tensor& t, const char* what);
/// As int_values, for a load-time constant input; nullopt-like empty result `known` = false when not constant.
struct ConstInts {
    bool known = false;
    std::vector<int64_t> values;
};
/// Input i's integer values if it is a load-time constant with data (never fails; unknown otherwise).
ConstInts const_ints(const InferContext& ctx, size_t i);

/// Copies out[idx] = in[base + sum(idx[d] * in_strides[d])] for every index of `out_shape` (element strides).
/// `out` is contiguous with numel equal to the product of `out_shape`; dtype of in and out must match.
Status strided_copy(const KernelContext& ctx, const Tensor& in, int64_t base, const Shape& out_shape,
                    const std::vector<int64_t>& in_strides, Tensor& out);

/// Copies n elements (memcpy for plain types, assignment for strings).
template <typename T>
inline void copy_elems(T* dst, const T* src, int64_t n) {
    if constexpr (std::is_trivially_copyable_v<T>) {
        if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
    } else {
        std::copy(src, src + n, dst);
    }
}

/// Writes value 1 (true / 1 / 1.0) into element i of a numeric or bool tensor of any dtype.
void set_one(Tensor& t, int64_t i);

/// A run-time style error (already naming the node) re-issued as a load-time model error.
inline Status model_error(const Status& s) { return invalid_model(s.message()); }
/// normalize_axis with the error naming the node: a model error at load time, an input error at run time.
Result<int64_t> load_axis(const AttrAccess& ctx, int64_t axis, int64_t rank);
Result<int64_t> run_axis(const AttrAccess& ctx, int64_t axis, int64_t rank);

/// Product of dims when all are static, else -1.
int64_t static_numel(const std::vector<ir::Dim>& dims);
/// Checks that all dims are known.
inline bool all_static(const std::vector<ir::Dim>& dims) { return static_numel(dims) >= 0; }

/// Shape `s` as ir dims.
inline std::vector<ir::Dim> to_dims(const Shape& s) { return std::vector<ir::Dim>(s.begin(), s.end()); }

}  // namespace nnport

// Helpers shared by the tensor-manipulation ops: integer inputs, strided copies, symbolic dims.
#include "ops/tensor_util.hpp"

#include <algorithm>
#include <cstring>

namespace nnport {

void parallel_rows(const KernelContext& ctx, int64_t n, int64_t work_per_item,
                   const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    if (n == 1 || n * std::max<int64_t>(work_per_item, 1) < kParallelGrain || !ctx.pool()) {
        fn(0, n);
        return;
    }
    ctx.parallel_for(n, fn);
}

Result<std::vector<int64_t>> int_values(const AttrAccess& ctx, const Tensor& t, const char* what) {
    if (!dtype_is_integer(t.dtype())) {
        return ctx.input_error(std::string(what) + " must be an integer tensor, got " + dtype_name(t.dtype()));
    }
    if (t.numel() > 0 && t.raw_data() == nullptr) return ctx.input_error(std::string(what) + " has no data");
    return t.to_int_vector();
}

ConstInts const_ints(const InferContext& ctx, size_t i) {
    ConstInts r;
    const Tensor* t = ctx.input_constant(i);
    if (!t || !dtype_is_integer(t->dtype()) || (t->numel() > 0 && t->raw_data() == nullptr)) return r;
    r.known = true;
    r.values = t->to_int_vector();
    return r;
}

Result<int64_t> load_axis(const AttrAccess& ctx, int64_t axis, int64_t rank) {
    auto a = normalize_axis(axis, rank);
    if (!a.is_ok()) return ctx.error(a.status().message());
    return a.value();
}

Result<int64_t> run_axis(const AttrAccess& ctx, int64_t axis, int64_t rank) {
    auto a = normalize_axis(axis, rank);
    if (!a.is_ok()) return ctx.input_error(a.status().message());
    return a.value();
}

int64_t static_numel(const std::vector<ir::Dim>& dims) {
    int64_t n = 1;
    for (const ir::Dim& d : dims) {
        if (!d.is_static()) return -1;
        if (d.value != 0 && n > INT64_MAX / d.value) return -1;
        n *= d.value;
    }
    return n;
}

namespace {

/// Rows of the last dim; the innermost copy is a memcpy, a fill or a strided gather.
template <typename T>
void copy_rows(const T* in, T* out, const Shape& shape, const std::vector<int64_t>& strides, int64_t row_begin,
               int64_t row_end) {
    const size_t r = shape.size();
    const int64_t inner = shape[r - 1];
    const int64_t s = strides[r - 1];
    std::vector<int64_t> idx(r - 1, 0);
    int64_t off = 0;
    int64_t rem = row_begin;
    for (size_t d = r - 1; d-- > 0;) {
        idx[d] = rem % shape[d];
        rem /= shape[d];
        off += idx[d] * strides[d];
    }
    T* o = out + row_begin * inner;
    for (int64_t row = row_begin; row < row_end; ++row, o += inner) {
        const T* src = in + off;
        if (s == 1) {
            copy_elems(o, src, inner);
        } else if (s == 0) {
            std::fill(o, o + inner, *src);
        } else {
            for (int64_t k = 0; k < inner; ++k) o[k] = src[k * s];
        }
        for (size_t d = r - 1; d-- > 0;) {
            if (++idx[d] < shape[d]) {
                off += strides[d];
                break;
            }
            off -= strides[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
}

/// The last two dims form a 2-D transpose (in-stride 1 on dim r-2): copy in cache-sized tiles.
template <typename T>
void copy_tiled(const T* in, T* out, const Shape& shape, const std::vector<int64_t>& strides, int64_t tile_begin,
                int64_t tile_end) {
    constexpr int64_t kTile = 32;
    const size_t r = shape.size();
    const int64_t a_n = shape[r - 2], b_n = shape[r - 1];
    const int64_t sb = strides[r - 1];
    const int64_t a_tiles = (a_n + kTile - 1) / kTile;
    for (int64_t t = tile_begin; t < tile_end; ++t) {
        const int64_t batch = t / a_tiles;
        const int64_t a0 = (t % a_tiles) * kTile;
        const int64_t a1 = std::min(a0 + kTile, a_n);
        int64_t off = 0, rem = batch;
        for (size_t d = r - 2; d-- > 0;) {
            off += (rem % shape[d]) * strides[d];
            rem /= shape[d];
        }
        T* o = out + batch * a_n * b_n;
        const T* src = in + off;
        for (int64_t b0 = 0; b0 < b_n; b0 += kTile) {
            const int64_t b1 = std::min(b0 + kTile, b_n);
            for (int64_t a = a0; a < a1; ++a) {
                for (int64_t b = b0; b < b1; ++b) o[a * b_n + b] = src[a + b * sb];
            }
        }
    }
}

template <typename T>
void copy_impl(const KernelContext& ctx, const T* in, T* out, const Shape& shape, const std::vector<int64_t>& strides) {
    const size_t r = shape.size();
    if (r == 0) {
        out[0] = in[0];
        return;
    }
    const int64_t inner = shape[r - 1];
    if (r >= 2 && strides[r - 1] != 1 && strides[r - 1] != 0 && strides[r - 2] == 1 && inner >= 8 &&
        shape[r - 2] >= 8) {
        int64_t batches = 1;
        for (size_t d = 0; d + 2 < r; ++d) batches *= shape[d];
        const int64_t a_tiles = (shape[r - 2] + 31) / 32;
        parallel_rows(ctx, batches * a_tiles, 32 * inner, [&](int64_t b, int64_t e) {
            copy_tiled(in, out, shape, strides, b, e);
        });
        return;
    }
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < r; ++d) rows *= shape[d];
    parallel_rows(ctx, rows, inner, [&](int64_t b, int64_t e) { copy_rows(in, out, shape, strides, b, e); });
}

}  // namespace

Status strided_copy(const KernelContext& ctx, const Tensor& in, int64_t base, const Shape& out_shape,
                    const std::vector<int64_t>& in_strides, Tensor& out) {
    if (in.dtype() != out.dtype()) return internal_error(ctx.node().describe() + ": strided copy dtype mismatch");
    Shape shape;
    std::vector<int64_t> strides;
    for (size_t d = 0; d < out_shape.size(); ++d) {
        if (out_shape[d] == 0) return Status::ok();
        if (out_shape[d] == 1) continue;
        if (!shape.empty() && strides.back() == in_strides[d] * out_shape[d]) {
            shape.back() *= out_shape[d];
            strides.back() = in_strides[d];
        } else {
            shape.push_back(out_shape[d]);
            strides.push_back(in_strides[d]);
        }
    }
    if (out.numel() == 0) return Status::ok();
    NNPORT_DISPATCH_BY_SIZE(in.dtype(), T, ctx, {
        copy_impl<T>(ctx, typed_data<T>(in) + base, typed_data<T>(out), shape, strides);
    });
    return Status::ok();
}

void set_one(Tensor& t, int64_t i) {
    void* p = t.raw_data();
    switch (t.dtype()) {
        case DType::kFloat32: static_cast<float*>(p)[i] = 1.0f; break;
        case DType::kFloat64: static_cast<double*>(p)[i] = 1.0; break;
        case DType::kFloat16: static_cast<Float16*>(p)[i] = Float16(1.0f); break;
        case DType::kBFloat16: static_cast<BFloat16*>(p)[i] = BFloat16(1.0f); break;
        case DType::kBool: static_cast<bool*>(p)[i] = true; break;
        case DType::kInt8: static_cast<int8_t*>(p)[i] = 1; break;
        case DType::kUInt8: static_cast<uint8_t*>(p)[i] = 1; break;
        case DType::kInt16: static_cast<int16_t*>(p)[i] = 1; break;
        case DType::kUInt16: static_cast<uint16_t*>(p)[i] = 1; break;
        case DType::kInt32: static_cast<int32_t*>(p)[i] = 1; break;
        case DType::kUInt32: static_cast<uint32_t*>(p)[i] = 1; break;
        case DType::kInt64: static_cast<int64_t*>(p)[i] = 1; break;
        case DType::kUInt64: static_cast<uint64_t*>(p)[i] = 1; break;
        default: break;
    }
}

}  // namespace nnport

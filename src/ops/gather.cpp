// Gather, GatherElements, GatherND: indexed reads, with every index validated before any copy.
#include <cstring>

#include "ops/tensor_util.hpp"

namespace nnport {

/// Reads indices as int64, maps negatives into [0, dim) and rejects anything out of range.
static Result<std::vector<int64_t>> checked_indices(const KernelContext& ctx, const Tensor& t, int64_t dim) {
    if (t.dtype() != DType::kInt32 && t.dtype() != DType::kInt64) {
        return ctx.input_error(std::string("indices must be int32 or int64, got ") + dtype_name(t.dtype()));
    }
    std::vector<int64_t> idx = t.to_int_vector();
    for (int64_t& i : idx) {
        if (i < -dim || i >= dim) {
            return ctx.input_error("index " + std::to_string(i) + " is out of range for a dim of size " +
                                   std::to_string(dim));
        }
        if (i < 0) i += dim;
    }
    return idx;
}

// ---------------------------------------------------------------------------------------------------------------
// Gather

static Status gather_infer(InferContext& ctx) {
    const ir::ValueType& data = ctx.input_type(0);
    const ir::ValueType& idx = ctx.input_type(1);
    if (!data.has_shape || !idx.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(data.dtype));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, load_axis(ctx, ctx.attr_int("axis"), data.rank()));
    std::vector<ir::Dim> out(data.dims.begin(), data.dims.begin() + axis);
    out.insert(out.end(), idx.dims.begin(), idx.dims.end());
    out.insert(out.end(), data.dims.begin() + axis + 1, data.dims.end());
    ctx.set_output(0, ir::ValueType::tensor(data.dtype, out));
    return Status::ok();
}

static Status gather_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    if (data.rank() == 0) return ctx.input_error("data must have rank >= 1");
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, run_axis(ctx, ctx.attr_int("axis"), data.rank()));
    const int64_t dim = data.dim(axis);
    NNPORT_ASSIGN_OR_RETURN(auto idx, checked_indices(ctx, indices, dim));
    Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
    out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
    out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, data.dtype(), out_shape));
    if (out->numel() == 0) return Status::ok();
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= data.dim(d);
    for (int64_t d = axis + 1; d < data.rank(); ++d) inner *= data.dim(d);
    const int64_t n = static_cast<int64_t>(idx.size());
    NNPORT_DISPATCH_BY_SIZE(data.dtype(), T, ctx, {
        const T* src = typed_data<T>(data);
        T* dst = typed_data<T>(*out);
        parallel_rows(ctx, outer * n, inner, [&](int64_t b, int64_t e) {
            for (int64_t row = b; row < e; ++row) {
                const int64_t o = row / n, j = row % n;
                const T* s = src + (o * dim + idx[static_cast<size_t>(j)]) * inner;
                T* d = dst + row * inner;
                if (inner == 1) *d = *s;
                else copy_elems(d, s, inner);
            }
        });
    });
    return Status::ok();
}

const OpDef& op_def_Gather() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Gather";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("axis", 0)};
        o.infer = gather_infer;
        o.kernel = gather_kernel;
        o.half_via_float = false;
        o.doc = "Takes slices of `data` along `axis` at `indices` (negative indices count from the end).";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// GatherElements

static Status gather_elements_infer(InferContext& ctx) {
    ir::ValueType t = ctx.input_type(1);
    t.kind = ir::ValueType::Kind::kTensor;
    t.dtype = ctx.input_type(0).dtype;
    ctx.set_output(0, t);
    return Status::ok();
}

static Status gather_elements_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const int64_t r = data.rank();
    if (r == 0) return ctx.input_error("data must have rank >= 1");
    if (indices.rank() != r) return ctx.input_error("indices must have the rank of data");
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, run_axis(ctx, ctx.attr_int("axis"), r));
    for (int64_t d = 0; d < r; ++d) {
        if (d != axis && indices.dim(d) > data.dim(d)) {
            return ctx.input_error("indices shape " + shape_to_string(indices.shape()) + " exceeds data shape " +
                                   shape_to_string(data.shape()));
        }
    }
    NNPORT_ASSIGN_OR_RETURN(auto idx, checked_indices(ctx, indices, data.dim(axis)));
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, data.dtype(), indices.shape()));
    if (out->numel() == 0) return Status::ok();
    const std::vector<int64_t> ds = strides_of(data.shape());
    const Shape& is = indices.shape();
    const int64_t inner = is[static_cast<size_t>(r - 1)];
    const int64_t rows = out->numel() / inner;
    NNPORT_DISPATCH_BY_SIZE(data.dtype(), T, ctx, {
        const T* src = typed_data<T>(data);
        T* dst = typed_data<T>(*out);
        parallel_rows(ctx, rows, inner, [&](int64_t b, int64_t e) {
            for (int64_t row = b; row < e; ++row) {
                // Offset of the row's first element in data, without the axis term.
                int64_t off = 0, rem = row;
                for (int64_t d = r - 2; d >= 0; --d) {
                    const int64_t c = rem % is[static_cast<size_t>(d)];
                    rem /= is[static_cast<size_t>(d)];
                    if (d != axis) off += c * ds[static_cast<size_t>(d)];
                }
                const int64_t* ix = idx.data() + row * inner;
                T* o = dst + row * inner;
                if (axis == r - 1) {
                    for (int64_t k = 0; k < inner; ++k) o[k] = src[off + ix[k]];
                } else {
                    const int64_t sa = ds[static_cast<size_t>(axis)];
                    for (int64_t k = 0; k < inner; ++k) o[k] = src[off + k + ix[k] * sa];
                }
            }
        });
    });
    return Status::ok();
}

const OpDef& op_def_GatherElements() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "GatherElements";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("axis", 0)};
        o.infer = gather_elements_infer;
        o.kernel = gather_elements_kernel;
        o.half_via_float = false;
        o.doc = "out[i][j][k] = data[index[i][j][k]][j][k] (for axis 0), like numpy take_along_axis.";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// GatherND

static Status gather_nd_infer(InferContext& ctx) {
    const ir::ValueType& data = ctx.input_type(0);
    const ir::ValueType& idx = ctx.input_type(1);
    const int64_t b = ctx.attr_int("batch_dims");
    if (!data.has_shape || !idx.has_shape || idx.rank() < 1 || !idx.dims.back().is_static()) {
        ctx.set_output(0, ir::ValueType::tensor(data.dtype));
        return Status::ok();
    }
    const int64_t k = idx.dims.back().value;
    if (b < 0 || b >= std::min(data.rank(), idx.rank()) || k < 1 || k > data.rank() - b) {
        return ctx.error("indices of shape " + idx.to_string() + " do not fit data " + data.to_string() +
                         " with batch_dims " + std::to_string(b));
    }
    std::vector<ir::Dim> out(idx.dims.begin(), idx.dims.end() - 1);
    out.insert(out.end(), data.dims.begin() + b + k, data.dims.end());
    ctx.set_output(0, ir::ValueType::tensor(data.dtype, out));
    return Status::ok();
}

static Status gather_nd_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    if (indices.dtype() != DType::kInt64 && indices.dtype() != DType::kInt32) {
        return ctx.input_error("indices must be int64");
    }
    const int64_t r = data.rank(), q = indices.rank(), b = ctx.attr_int("batch_dims");
    if (r < 1 || q < 1) return ctx.input_error("data and indices must have rank >= 1");
    if (b < 0 || b >= std::min(r, q)) return ctx.input_error("batch_dims is out of range");
    const int64_t k = indices.dim(q - 1);
    if (k < 1 || k > r - b) return ctx.input_error("the last dim of indices must be in [1, rank - batch_dims]");
    int64_t batch = 1;
    for (int64_t d = 0; d < b; ++d) {
        if (data.dim(d) != indices.dim(d)) return ctx.input_error("batch dims of data and indices differ");
        batch *= data.dim(d);
    }
    Shape out_shape(indices.shape().begin(), indices.shape().end() - 1);
    out_shape.insert(out_shape.end(), data.shape().begin() + b + k, data.shape().end());
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, data.dtype(), out_shape));
    const std::vector<int64_t> ds = strides_of(data.shape());
    int64_t slice = 1;
    for (int64_t d = b + k; d < r; ++d) slice *= data.dim(d);
    const int64_t batch_stride = b > 0 ? ds[static_cast<size_t>(b - 1)] : 0;
    const int64_t tuples = indices.numel() / k;
    const int64_t per_batch = batch > 0 ? tuples / batch : 0;
    // Offsets of every tuple, validated up front.
    const std::vector<int64_t> raw = indices.to_int_vector();
    std::vector<int64_t> offs(static_cast<size_t>(tuples));
    for (int64_t t = 0; t < tuples; ++t) {
        int64_t off = (per_batch > 0 ? t / per_batch : 0) * batch_stride;
        for (int64_t j = 0; j < k; ++j) {
            const int64_t dim = data.dim(b + j);
            int64_t i = raw[static_cast<size_t>(t * k + j)];
            if (i < -dim || i >= dim) {
                return ctx.input_error("index " + std::to_string(i) + " is out of range for a dim of size " +
                                       std::to_string(dim));
            }
            if (i < 0) i += dim;
            off += i * ds[static_cast<size_t>(b + j)];
        }
        offs[static_cast<size_t>(t)] = off;
    }
    if (out->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_BY_SIZE(data.dtype(), T, ctx, {
        const T* src = typed_data<T>(data);
        T* dst = typed_data<T>(*out);
        parallel_rows(ctx, tuples, slice, [&](int64_t bgn, int64_t end) {
            for (int64_t t = bgn; t < end; ++t) {
                const T* s = src + offs[static_cast<size_t>(t)];
                std::copy(s, s + slice, dst + t * slice);
            }
        });
    });
    return Status::ok();
}

const OpDef& op_def_GatherND() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "GatherND";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("batch_dims", 0)};
        o.infer = gather_nd_infer;
        o.kernel = gather_nd_kernel;
        o.half_via_float = false;
        o.doc = "Gathers slices of `data` addressed by the index tuples in the last dim of `indices`.";
        return o;
    }();
    return d;
}

}  // namespace nnport

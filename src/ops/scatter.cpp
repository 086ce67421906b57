// ScatterElements and ScatterND: indexed writes into a copy of `data`, with optional reduction.
#include "ops/tensor_util.hpp"

namespace nnport {

namespace {

enum class Reduce { kNone, kAdd, kMul, kMax, kMin };

Result<Reduce> reduction_of(const AttrAccess& ctx) {
    const std::string r = ctx.attr_string("reduction");
    if (r == "none") return Reduce::kNone;
    if (r == "add") return Reduce::kAdd;
    if (r == "mul") return Reduce::kMul;
    if (r == "max") return Reduce::kMax;
    if (r == "min") return Reduce::kMin;
    return ctx.error("unknown reduction '" + r + "'");
}

template <typename T, Reduce R>
inline void combine(T& dst, const T& v) {
    if constexpr (R == Reduce::kNone) dst = v;
    else if constexpr (R == Reduce::kAdd) dst = static_cast<T>(dst + v);
    else if constexpr (R == Reduce::kMul) dst = static_cast<T>(dst * v);
    else if constexpr (R == Reduce::kMax) dst = dst < v ? v : dst;
    else dst = v < dst ? v : dst;
}

/// Calls f.template operator()<T, R>() with T the element type to compute with and R the reduction.
/// Plain assignment moves bytes of any dtype; reductions need arithmetic (bool: add/max = or, mul/min = and).
template <typename F>
Status dispatch_reduce(const KernelContext& ctx, DType dt, Reduce red, F&& f) {
    if (red == Reduce::kNone) {
        NNPORT_DISPATCH_BY_SIZE(dt, T, ctx, { f.template operator()<T, Reduce::kNone>(); });
        return Status::ok();
    }
    if (dt == DType::kBool) {
        if (red == Reduce::kAdd || red == Reduce::kMax) f.template operator()<uint8_t, Reduce::kMax>();
        else f.template operator()<uint8_t, Reduce::kMin>();
        return Status::ok();
    }
    NNPORT_DISPATCH_NUMERIC(dt, T, ctx, {
        switch (red) {
            case Reduce::kAdd: f.template operator()<T, Reduce::kAdd>(); break;
            case Reduce::kMul: f.template operator()<T, Reduce::kMul>(); break;
            case Reduce::kMax: f.template operator()<T, Reduce::kMax>(); break;
            default: f.template operator()<T, Reduce::kMin>(); break;
        }
    });
    return Status::ok();
}

Status check_int_indices(const KernelContext& ctx, const Tensor& t) {
    if (t.dtype() != DType::kInt32 && t.dtype() != DType::kInt64) {
        return ctx.input_error(std::string("indices must be int32 or int64, got ") + dtype_name(t.dtype()));
    }
    return Status::ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// ScatterElements

static Status scatter_elements_kernel(KernelContext& ctx) {
    for (size_t i = 0; i < 3; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    NNPORT_RETURN_IF_ERROR(check_int_indices(ctx, indices));
    NNPORT_ASSIGN_OR_RETURN(const Reduce red, reduction_of(ctx));
    const int64_t r = data.rank();
    if (r == 0) return ctx.input_error("data must have rank >= 1");
    if (indices.rank() != r) return ctx.input_error("indices must have the rank of data");
    if (updates.shape() != indices.shape()) return ctx.input_error("updates must have the shape of indices");
    if (updates.dtype() != data.dtype()) return ctx.input_error("updates must have the dtype of data");
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, run_axis(ctx, ctx.attr_int("axis"), r));
    for (int64_t d = 0; d < r; ++d) {
        if (d != axis && indices.dim(d) > data.dim(d)) {
            return ctx.input_error("indices shape " + shape_to_string(indices.shape()) + " exceeds data shape " +
                                   shape_to_string(data.shape()));
        }
    }
    const int64_t dim = data.dim(axis);
    std::vector<int64_t> idx = indices.to_int_vector();
    for (int64_t& i : idx) {
        if (i < -dim || i >= dim) {
            return ctx.input_error("index " + std::to_string(i) + " is out of range for a dim of size " +
                                   std::to_string(dim));
        }
        if (i < 0) i += dim;
    }
    Tensor out = data.clone();
    ctx.set_output(0, out);
    if (idx.empty()) return Status::ok();
    const std::vector<int64_t> ds = strides_of(data.shape());
    const Shape& is = indices.shape();
    const int64_t n = static_cast<int64_t>(idx.size());
    return dispatch_reduce(ctx, data.dtype(), red, [&]<typename T, Reduce R>() {
        T* dst = typed_data<T>(out);
        const T* src = typed_data<T>(updates);
        std::vector<int64_t> c(static_cast<size_t>(r), 0);
        for (int64_t e = 0; e < n; ++e) {
            int64_t off = 0;
            for (int64_t d = 0; d < r; ++d) {
                off += (d == axis ? idx[static_cast<size_t>(e)] : c[static_cast<size_t>(d)]) * ds[static_cast<size_t>(d)];
            }
            combine<T, R>(dst[off], src[e]);
            for (int64_t d = r - 1; d >= 0; --d) {
                if (++c[static_cast<size_t>(d)] < is[static_cast<size_t>(d)]) break;
                c[static_cast<size_t>(d)] = 0;
            }
        }
    });
}

const OpDef& op_def_ScatterElements() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "ScatterElements";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 3;
        o.attrs = {AttrSpec::i("axis", 0), AttrSpec::s("reduction", "none")};
        o.infer = infer_same_as_input0;
        o.kernel = scatter_elements_kernel;
        o.doc = "Copy of data with data[index[i][j]][j] (axis 0) set to, or reduced with, updates[i][j].";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// ScatterND

static Status scatter_nd_kernel(KernelContext& ctx) {
    for (size_t i = 0; i < 3; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    NNPORT_RETURN_IF_ERROR(check_int_indices(ctx, indices));
    NNPORT_ASSIGN_OR_RETURN(const Reduce red, reduction_of(ctx));
    const int64_t r = data.rank(), q = indices.rank();
    if (r < 1 || q < 1) return ctx.input_error("data and indices must have rank >= 1");
    const int64_t k = indices.dim(q - 1);
    if (k < 1 || k > r) return ctx.input_error("the last dim of indices must be in [1, rank of data]");
    Shape ushape(indices.shape().begin(), indices.shape().end() - 1);
    ushape.insert(ushape.end(), data.shape().begin() + k, data.shape().end());
    if (updates.shape() != ushape) {
        return ctx.input_error("updates shape " + shape_to_string(updates.shape()) + " should be " +
                               shape_to_string(ushape));
    }
    if (updates.dtype() != data.dtype()) return ctx.input_error("updates must have the dtype of data");
    const std::vector<int64_t> ds = strides_of(data.shape());
    const int64_t slice = k < r ? ds[static_cast<size_t>(k - 1)] : 1;
    const int64_t tuples = indices.numel() / k;
    const std::vector<int64_t> raw = indices.to_int_vector();
    std::vector<int64_t> offs(static_cast<size_t>(tuples));
    for (int64_t t = 0; t < tuples; ++t) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; ++j) {
            const int64_t dim = data.dim(j);
            int64_t i = raw[static_cast<size_t>(t * k + j)];
            if (i < -dim || i >= dim) {
                return ctx.input_error("index " + std::to_string(i) + " is out of range for a dim of size " +
                                       std::to_string(dim));
            }
            if (i < 0) i += dim;
            off += i * ds[static_cast<size_t>(j)];
        }
        offs[static_cast<size_t>(t)] = off;
    }
    Tensor out = data.clone();
    ctx.set_output(0, out);
    if (tuples == 0 || slice == 0) return Status::ok();
    return dispatch_reduce(ctx, data.dtype(), red, [&]<typename T, Reduce R>() {
        T* dst = typed_data<T>(out);
        const T* src = typed_data<T>(updates);
        for (int64_t t = 0; t < tuples; ++t) {
            T* o = dst + offs[static_cast<size_t>(t)];
            const T* u = src + t * slice;
            for (int64_t j = 0; j < slice; ++j) combine<T, R>(o[j], u[j]);
        }
    });
}

const OpDef& op_def_ScatterND() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "ScatterND";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 3;
        o.attrs = {AttrSpec::s("reduction", "none")};
        o.infer = infer_same_as_input0;
        o.kernel = scatter_nd_kernel;
        o.doc = "Copy of data with the slices addressed by index tuples set to, or reduced with, updates.";
        return o;
    }();
    return d;
}

}  // namespace nnport

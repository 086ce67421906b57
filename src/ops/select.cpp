// Compress, NonZero, ReverseSequence, Trilu: ops that select or reorder elements by position or mask.
#include "ops/tensor_util.hpp"

namespace nnport {

// ---------------------------------------------------------------------------------------------------------------
// Compress

static Status compress_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    const Tensor* cond = ctx.input_constant(1);
    ir::Dim n = ctx.new_dim();
    if (cond && cond->dtype() == DType::kBool && cond->raw_data()) {
        int64_t count = 0;
        for (int64_t i = 0; i < cond->numel(); ++i) count += cond->data<bool>()[i] ? 1 : 0;
        n = ir::Dim(count);
    }
    if (!ctx.has_attr("axis")) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype, std::vector<ir::Dim>{n}));
        return Status::ok();
    }
    if (!x.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, load_axis(ctx, ctx.attr_int("axis"), x.rank()));
    std::vector<ir::Dim> out = x.dims;
    out[static_cast<size_t>(axis)] = n;
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status compress_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& cond = ctx.input(1);
    if (cond.dtype() != DType::kBool) return ctx.input_error("condition must be bool");
    if (cond.rank() != 1) return ctx.input_error("condition must be 1-D");
    const bool has_axis = ctx.has_attr("axis");
    int64_t axis = 0;
    if (has_axis) {
        NNPORT_ASSIGN_OR_RETURN(axis, run_axis(ctx, ctx.attr_int("axis"), x.rank()));
    }
    const int64_t dim = has_axis ? x.dim(axis) : x.numel();
    std::vector<int64_t> picks;
    const bool* c = cond.data<bool>();
    for (int64_t i = 0; i < cond.numel(); ++i) {
        if (!c[i]) continue;
        if (i >= dim) return ctx.input_error("condition selects index " + std::to_string(i) + " beyond size " +
                                             std::to_string(dim));
        picks.push_back(i);
    }
    Shape out_shape = has_axis ? x.shape() : Shape{};
    if (has_axis) out_shape[static_cast<size_t>(axis)] = static_cast<int64_t>(picks.size());
    else out_shape = {static_cast<int64_t>(picks.size())};
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), out_shape));
    int64_t outer = 1, inner = 1;
    if (has_axis) {
        for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
        for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    }
    const int64_t n = static_cast<int64_t>(picks.size());
    if (out->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_BY_SIZE(x.dtype(), T, ctx, {
        const T* src = typed_data<T>(x);
        T* dst = typed_data<T>(*out);
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t j = 0; j < n; ++j) {
                copy_elems(dst + (o * n + j) * inner, src + (o * dim + picks[static_cast<size_t>(j)]) * inner, inner);
            }
        }
    });
    return Status::ok();
}

const OpDef& op_def_Compress() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Compress";
        o.since_version = 9;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::none("axis", ir::AttrType::kInt)};
        o.infer = compress_infer;
        o.kernel = compress_kernel;
        o.half_via_float = false;
        o.doc = "Keeps the slices along `axis` (or elements of the flattened input) where condition is true.";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// NonZero

static Status non_zero_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    const ir::Dim rows = x.has_shape ? ir::Dim(std::max<int64_t>(x.rank(), 1)) : ctx.new_dim();
    ctx.set_output(0, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{rows, ctx.new_dim()}));
    return Status::ok();
}

template <typename T>
static Status non_zero_impl(KernelContext& ctx, const Tensor& x, const T* p) {
    const int64_t n = x.numel();
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) count += p[i] != T(0) ? 1 : 0;
    const int64_t r = std::max<int64_t>(x.rank(), 1);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, DType::kInt64, {r, count}));
    int64_t* o = out->data<int64_t>();
    std::vector<int64_t> idx(static_cast<size_t>(r), 0);
    const Shape shape = x.rank() == 0 ? Shape{1} : x.shape();
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (p[i] != T(0)) {
            for (int64_t d = 0; d < r; ++d) o[d * count + k] = idx[static_cast<size_t>(d)];
            ++k;
        }
        for (int64_t d = r - 1; d >= 0; --d) {
            if (++idx[static_cast<size_t>(d)] < shape[static_cast<size_t>(d)]) break;
            idx[static_cast<size_t>(d)] = 0;
        }
    }
    return Status::ok();
}

static Status non_zero_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.dtype() == DType::kBool) return non_zero_impl(ctx, x, x.data<uint8_t>());
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, { return non_zero_impl(ctx, x, x.data<T>()); });
    return Status::ok();
}

const OpDef& op_def_NonZero() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "NonZero";
        o.since_version = 9;
        o.min_inputs = o.max_inputs = 1;
        o.infer = non_zero_infer;
        o.kernel = non_zero_kernel;
        o.doc = "Indices of the non-zero elements, one row per axis (like numpy.nonzero).";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// ReverseSequence

static Status reverse_sequence_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const int64_t ta = ctx.attr_int("time_axis"), ba = ctx.attr_int("batch_axis");
    if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0))) {
        return ctx.error("time_axis and batch_axis must be 0 and 1 in some order");
    }
    if (x.rank() < 2) return ctx.input_error("input must have rank >= 2");
    NNPORT_ASSIGN_OR_RETURN(auto lens, int_values(ctx, ctx.input(1), "sequence_lens"));
    const int64_t steps = x.dim(ta), batch = x.dim(ba);
    if (static_cast<int64_t>(lens.size()) != batch) return ctx.input_error("sequence_lens must have one entry per batch");
    for (int64_t l : lens) {
        if (l < 0 || l > steps) return ctx.input_error("sequence length " + std::to_string(l) + " is out of range");
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), x.shape()));
    int64_t inner = 1;
    for (int64_t d = 2; d < x.rank(); ++d) inner *= x.dim(d);
    // Element (t, b) starts at t * st + b * sb.
    const int64_t st = (ta == 0 ? batch : 1) * inner, sb = (ta == 0 ? 1 : steps) * inner;
    NNPORT_DISPATCH_BY_SIZE(x.dtype(), T, ctx, {
        const T* src = typed_data<T>(x);
        T* dst = typed_data<T>(*out);
        for (int64_t b = 0; b < batch; ++b) {
            const int64_t len = lens[static_cast<size_t>(b)];
            for (int64_t t = 0; t < steps; ++t) {
                const int64_t from = t < len ? len - 1 - t : t;
                copy_elems(dst + t * st + b * sb, src + from * st + b * sb, inner);
            }
        }
    });
    return Status::ok();
}

const OpDef& op_def_ReverseSequence() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "ReverseSequence";
        o.since_version = 10;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("batch_axis", 1), AttrSpec::i("time_axis", 0)};
        o.infer = infer_same_as_input0;
        o.kernel = reverse_sequence_kernel;
        o.half_via_float = false;
        o.doc = "Reverses the first sequence_lens[b] steps of every batch entry b.";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Trilu

static Status trilu_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.rank() < 2) return ctx.input_error("input must have rank >= 2");
    int64_t k = 0;
    if (ctx.has_input(1)) {
        NNPORT_ASSIGN_OR_RETURN(auto kv, int_values(ctx, ctx.input(1), "k"));
        if (kv.size() != 1) return ctx.input_error("k must be a scalar");
        k = kv[0];
    }
    const bool upper = ctx.attr_int("upper") != 0;
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), x.shape()));
    const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
    const int64_t mats = rows * cols > 0 ? x.numel() / (rows * cols) : 0;
    const int64_t kk = std::clamp<int64_t>(k, -rows - 1, cols + 1);  // same result, no overflow in j - i vs k
    NNPORT_DISPATCH_BY_SIZE(x.dtype(), T, ctx, {
        const T* src = typed_data<T>(x);
        T* dst = typed_data<T>(*out);
        for (int64_t m = 0; m < mats; ++m) {
            for (int64_t i = 0; i < rows; ++i) {
                const int64_t base = (m * rows + i) * cols;
                for (int64_t j = 0; j < cols; ++j) {
                    const bool keep = upper ? j - i >= kk : j - i <= kk;
                    dst[base + j] = keep ? src[base + j] : T{};
                }
            }
        }
    });
    return Status::ok();
}

const OpDef& op_def_Trilu() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Trilu";
        o.since_version = 14;
        o.min_inputs = 1;
        o.max_inputs = 2;
        o.attrs = {AttrSpec::i("upper", 1)};
        o.infer = infer_same_as_input0;
        o.kernel = trilu_kernel;
        o.half_via_float = false;
        o.doc = "Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims, zeroing the rest.";
        return o;
    }();
    return d;
}

}  // namespace nnport

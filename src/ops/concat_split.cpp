// Concat and Split: joining tensors along an axis and cutting one into pieces.
#include <cstring>

#include "ops/tensor_util.hpp"

namespace nnport {

// ---------------------------------------------------------------------------------------------------------------
// Concat

static Status concat_infer(InferContext& ctx) {
    DType dt = DType::kUndefined;
    const ir::ValueType* ref = nullptr;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        const ir::ValueType& t = ctx.input_type(i);
        if (dt == DType::kUndefined) dt = t.dtype;
        if (t.dtype != DType::kUndefined && t.dtype != dt) {
            return ctx.error(std::string("inputs have different dtypes ") + dtype_name(dt) + " and " +
                             dtype_name(t.dtype));
        }
        if (t.has_shape && !ref) ref = &t;
    }
    if (!ref) {
        ctx.set_output(0, ir::ValueType::tensor(dt));
        return Status::ok();
    }
    const int64_t r = ref->rank();
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, load_axis(ctx, ctx.attr_int("axis"), r));
    std::vector<ir::Dim> out = ref->dims;
    int64_t axis_sum = 0;
    bool axis_known = true;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        const ir::ValueType& t = ctx.input_type(i);
        if (!t.has_shape) {
            axis_known = false;
            continue;
        }
        if (t.rank() != r) return ctx.error("inputs have different ranks");
        for (int64_t d = 0; d < r; ++d) {
            const ir::Dim& td = t.dims[static_cast<size_t>(d)];
            if (d == axis) {
                if (td.is_static()) axis_sum += td.value;
                else axis_known = false;
                continue;
            }
            ir::Dim& od = out[static_cast<size_t>(d)];
            if (td.is_static() && od.is_static() && td.value != od.value) {
                return ctx.error("inputs differ in dim " + std::to_string(d));
            }
            if (td.is_static()) od = td;
        }
    }
    if (ctx.num_inputs() == 1) {
        // the axis dim is the input's own
    } else {
        out[static_cast<size_t>(axis)] = axis_known ? ir::Dim(axis_sum) : ctx.new_dim();
    }
    ctx.set_output(0, ir::ValueType::tensor(dt, out));
    return Status::ok();
}

static Status concat_kernel(KernelContext& ctx) {
    if (ctx.num_inputs() == 0) return ctx.error("needs at least one input");
    for (size_t i = 0; i < ctx.num_inputs(); ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& first = ctx.input(0);
    const int64_t r = first.rank();
    if (r == 0) return ctx.input_error("cannot concatenate scalars");
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, run_axis(ctx, ctx.attr_int("axis"), r));
    Shape out_shape = first.shape();
    out_shape[static_cast<size_t>(axis)] = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        const Tensor& t = ctx.input(i);
        if (t.dtype() != first.dtype()) return ctx.input_error("inputs have different dtypes");
        if (t.rank() != r) return ctx.input_error("inputs have different ranks");
        for (int64_t d = 0; d < r; ++d) {
            if (d != axis && t.dim(d) != first.dim(d)) {
                return ctx.input_error("input " + std::to_string(i) + " shape " + shape_to_string(t.shape()) +
                                       " does not match " + shape_to_string(first.shape()));
            }
        }
        out_shape[static_cast<size_t>(axis)] += t.dim(axis);
    }
    if (ctx.num_inputs() == 1) {
        ctx.set_output(0, first);
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, first.dtype(), out_shape));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out_shape[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < r; ++d) inner *= out_shape[static_cast<size_t>(d)];
    const int64_t out_row = out_shape[static_cast<size_t>(axis)] * inner;
    if (out->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_BY_SIZE(first.dtype(), T, ctx, {
        T* o = typed_data<T>(*out);
        parallel_rows(ctx, outer, out_row, [&](int64_t b, int64_t e) {
            for (int64_t row = b; row < e; ++row) {
                T* dst = o + row * out_row;
                for (size_t i = 0; i < ctx.num_inputs(); ++i) {
                    const Tensor& t = ctx.input(i);
                    const int64_t n = t.dim(axis) * inner;
                    if (n == 0) continue;
                    const T* src = typed_data<T>(t) + row * n;
                    copy_elems(dst, src, n);
                    dst += n;
                }
            }
        });
    });
    return Status::ok();
}

const OpDef& op_def_Concat() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Concat";
        o.since_version = 4;
        o.min_inputs = 1;
        o.max_inputs = -1;
        o.attrs = {AttrSpec::none("axis", ir::AttrType::kInt, true)};
        o.infer = concat_infer;
        o.kernel = concat_kernel;
        o.half_via_float = false;
        o.doc = "Concatenates inputs along `axis`.";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Split

/// Sizes of the pieces: from the `split` input, from num_outputs (last piece smaller), or equal.
static Result<std::vector<int64_t>> split_sizes(const AttrAccess& ctx, int64_t dim, size_t n_outputs,
                                                const std::vector<int64_t>* split) {
    std::vector<int64_t> sizes;
    if (split) {
        if (split->size() != n_outputs) {
            return ctx.input_error("split has " + std::to_string(split->size()) + " entries for " +
                                   std::to_string(n_outputs) + " outputs");
        }
        int64_t sum = 0;
        for (int64_t s : *split) {
            if (s < 0) return ctx.input_error("split has a negative size");
            sum += s;
        }
        if (sum != dim) {
            return ctx.input_error("split sizes sum to " + std::to_string(sum) + ", the axis has " +
                                   std::to_string(dim));
        }
        return *split;
    }
    const int64_t n = static_cast<int64_t>(n_outputs);
    if (ctx.has_attr("num_outputs") && ctx.attr_int("num_outputs") != n) {
        return ctx.error("num_outputs is " + std::to_string(ctx.attr_int("num_outputs")) + " but the node has " +
                         std::to_string(n) + " outputs");
    }
    if (n <= 0) return ctx.error("no outputs");
    if (dim % n == 0) return std::vector<int64_t>(n_outputs, dim / n);
    if (!ctx.has_attr("num_outputs")) {
        return ctx.input_error("axis of size " + std::to_string(dim) + " cannot be split evenly into " +
                               std::to_string(n));
    }
    const int64_t chunk = (dim + n - 1) / n;
    sizes.assign(n_outputs, chunk);
    sizes.back() = dim - chunk * (n - 1);
    if (sizes.back() < 0) {
        return ctx.input_error("axis of size " + std::to_string(dim) + " cannot be split into " + std::to_string(n) +
                               " pieces");
    }
    return sizes;
}

static Status split_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    const size_t n = ctx.num_outputs();
    if (!x.has_shape) {
        for (size_t i = 0; i < n; ++i) ctx.set_output(i, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, load_axis(ctx, ctx.attr_int("axis"), x.rank()));
    const ir::Dim& ad = x.dims[static_cast<size_t>(axis)];
    ConstInts split = const_ints(ctx, 1);
    const bool has_split = ctx.has_input(1) && !(split.known && split.values.empty());
    std::vector<ir::Dim> sizes(n);
    if (has_split && split.known) {
        if (split.values.size() != n) return ctx.error("split has a wrong number of entries");
        for (size_t i = 0; i < n; ++i) sizes[i] = ir::Dim(split.values[i]);
    } else if (!has_split && ad.is_static()) {
        auto s = split_sizes(ctx, ad.value, n, nullptr);
        if (!s.is_ok()) return model_error(s.status());
        for (size_t i = 0; i < n; ++i) sizes[i] = ir::Dim(s.value()[i]);
    } else {
        for (size_t i = 0; i < n; ++i) sizes[i] = ctx.new_dim();
    }
    for (size_t i = 0; i < n; ++i) {
        std::vector<ir::Dim> dims = x.dims;
        dims[static_cast<size_t>(axis)] = sizes[i];
        ctx.set_output(i, ir::ValueType::tensor(x.dtype, dims));
    }
    return Status::ok();
}

static Status split_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, run_axis(ctx, ctx.attr_int("axis"), x.rank()));
    std::vector<int64_t> split;
    bool has_split = false;
    if (ctx.has_input(1)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
        NNPORT_ASSIGN_OR_RETURN(split, int_values(ctx, ctx.input(1), "split"));
        has_split = !split.empty();
    }
    const int64_t dim = x.dim(axis);
    NNPORT_ASSIGN_OR_RETURN(auto sizes, split_sizes(ctx, dim, ctx.num_outputs(), has_split ? &split : nullptr));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
        Shape s = x.shape();
        s[static_cast<size_t>(axis)] = sizes[i];
        if (ctx.has_output(i)) {
            NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(i, x.dtype(), s));
            NNPORT_RETURN_IF_ERROR(strided_copy(ctx, x, start * inner, {outer, sizes[i] * inner}, {dim * inner, 1}, *out));
        }
        start += sizes[i];
    }
    return Status::ok();
}

const OpDef& op_def_Split() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Split";
        o.since_version = 13;
        o.min_inputs = 1;
        o.max_inputs = 2;
        o.min_outputs = 1;
        o.max_outputs = -1;
        o.attrs = {AttrSpec::i("axis", 0), AttrSpec::none("num_outputs", ir::AttrType::kInt)};
        o.infer = split_infer;
        o.kernel = split_kernel;
        o.half_via_float = false;
        o.doc = "Splits along `axis` by the `split` sizes, into num_outputs pieces (last smaller), or equally.";
        return o;
    }();
    return d;
}

}  // namespace nnport

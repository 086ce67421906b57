// Expand and Tile: broadcasting and repeating, both as one strided copy (stride 0 on repeated axes).
#include "ops/tensor_util.hpp"

namespace nnport {

// ---------------------------------------------------------------------------------------------------------------
// Expand

static Status expand_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    ConstInts shape = const_ints(ctx, 1);
    if (!x.has_shape || !shape.known) {
        const ir::ValueType& st = ctx.input_type(1);
        if (x.has_shape && st.has_shape && st.rank() == 1 && st.dims[0].is_static()) {
            ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, std::max(x.rank(), st.dims[0].value)));
        } else {
            ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        }
        return Status::ok();
    }
    const int64_t rx = x.rank(), rs = static_cast<int64_t>(shape.values.size());
    const int64_t r = std::max(rx, rs);
    std::vector<ir::Dim> out(static_cast<size_t>(r));
    for (int64_t i = 0; i < r; ++i) {
        const ir::Dim a = i < r - rx ? ir::Dim(1) : x.dims[static_cast<size_t>(i - (r - rx))];
        const int64_t s = i < r - rs ? 1 : shape.values[static_cast<size_t>(i - (r - rs))];
        if (s < 0) return ctx.error("shape has a negative value");
        if (s == 1) {
            out[static_cast<size_t>(i)] = a;
        } else if (!a.is_static() || a.value == 1 || a.value == s) {
            out[static_cast<size_t>(i)] = ir::Dim(s);
        } else {
            return ctx.error("cannot expand " + x.to_string() + " to " + shape_to_string(shape.values));
        }
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status expand_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    if (ctx.input(1).rank() != 1) return ctx.input_error("shape must be 1-D");
    NNPORT_ASSIGN_OR_RETURN(auto shape, int_values(ctx, ctx.input(1), "shape"));
    for (int64_t s : shape) {
        if (s < 0) return ctx.input_error("shape has a negative value");
    }
    auto out_shape = broadcast_shapes(x.shape(), shape);
    if (!out_shape.is_ok()) return ctx.input_error(out_shape.status().message());
    if (out_shape.value() == x.shape()) {
        ctx.set_output(0, x);
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), out_shape.value()));
    return strided_copy(ctx, x, 0, out_shape.value(), broadcast_strides(x.shape(), out_shape.value()), *out);
}

const OpDef& op_def_Expand() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Expand";
        o.since_version = 8;
        o.min_inputs = o.max_inputs = 2;
        o.infer = expand_infer;
        o.kernel = expand_kernel;
        o.half_via_float = false;
        o.doc = "Broadcasts the input to `shape` (numpy rules in both directions).";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Tile

static Status tile_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    ConstInts reps = const_ints(ctx, 1);
    if (!x.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    if (!reps.known) {
        ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, x.rank()));
        return Status::ok();
    }
    if (static_cast<int64_t>(reps.values.size()) != x.rank()) return ctx.error("repeats must have one entry per axis");
    std::vector<ir::Dim> out = x.dims;
    for (size_t i = 0; i < out.size(); ++i) {
        const int64_t rep = reps.values[i];
        if (rep < 0) return ctx.error("repeats has a negative value");
        if (out[i].is_static()) out[i] = ir::Dim(out[i].value * rep);
        else if (rep == 0) out[i] = ir::Dim(0);
        else if (rep != 1) out[i] = ctx.new_dim();
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status tile_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(auto reps, int_values(ctx, ctx.input(1), "repeats"));
    if (static_cast<int64_t>(reps.size()) != x.rank()) {
        return ctx.input_error("repeats has " + std::to_string(reps.size()) + " entries for a rank-" +
                               std::to_string(x.rank()) + " input");
    }
    // The output viewed as [r0, d0, r1, d1, ...] reads the input with stride 0 on every r axis.
    const std::vector<int64_t> st = strides_of(x.shape());
    Shape out_shape, view_shape;
    std::vector<int64_t> view_strides;
    for (size_t i = 0; i < reps.size(); ++i) {
        if (reps[i] < 0) return ctx.input_error("repeats has a negative value");
        const int64_t d = x.shape()[i];
        if (d != 0 && reps[i] > INT64_MAX / d) return ctx.input_error("repeats overflow");
        out_shape.push_back(d * reps[i]);
        view_shape.insert(view_shape.end(), {reps[i], d});
        view_strides.insert(view_strides.end(), {0, st[i]});
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), out_shape));
    return strided_copy(ctx, x, 0, view_shape, view_strides, *out);
}

const OpDef& op_def_Tile() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Tile";
        o.since_version = 6;
        o.min_inputs = o.max_inputs = 2;
        o.infer = tile_infer;
        o.kernel = tile_kernel;
        o.half_via_float = false;
        o.doc = "Repeats the input `repeats[i]` times along each axis i.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Shape, Size, ConstantOfShape, EyeLike: ops about shapes and constant-filled tensors.
// Shape and Size read only the input's shape: the load-time constant folder calls them on a data-less placeholder.
#include <algorithm>

#include "ops/tensor_util.hpp"

namespace nnport {

// ---------------------------------------------------------------------------------------------------------------
// Shape

/// [start, end) of the dims Shape reports, clamped to [0, rank].
static std::pair<int64_t, int64_t> shape_range(const AttrAccess& ctx, int64_t rank) {
    int64_t start = ctx.attr_int("start");
    int64_t end = ctx.has_attr("end") ? ctx.attr_int("end") : rank;
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, 0, rank);
    return {start, std::max(start, end)};
}

static Status shape_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    if (!x.has_shape) {
        ctx.set_output(0, tensor_type_of_rank(ctx, DType::kInt64, 1));
        return Status::ok();
    }
    const auto [b, e] = shape_range(ctx, x.rank());
    ctx.set_output(0, ir::ValueType::tensor(DType::kInt64, Shape{e - b}));
    return Status::ok();
}

static Status shape_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Shape& s = ctx.input(0).shape();
    const auto [b, e] = shape_range(ctx, static_cast<int64_t>(s.size()));
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, DType::kInt64, {e - b}));
    for (int64_t i = b; i < e; ++i) out->data<int64_t>()[i - b] = s[static_cast<size_t>(i)];
    return Status::ok();
}

const OpDef& op_def_Shape() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Shape";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::i("start", 0), AttrSpec::none("end", ir::AttrType::kInt)};
        o.infer = shape_infer;
        o.kernel = shape_kernel;
        o.half_via_float = false;
        o.doc = "The input's shape as an int64 vector (dims [start, end)).";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Size

static Status size_infer(InferContext& ctx) {
    ctx.set_output(0, ir::ValueType::tensor(DType::kInt64, Shape{}));
    return Status::ok();
}

static Status size_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    ctx.set_output(0, Tensor::scalar<int64_t>(ctx.input(0).numel()));
    return Status::ok();
}

const OpDef& op_def_Size() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Size";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 1;
        o.infer = size_infer;
        o.kernel = size_kernel;
        o.half_via_float = false;
        o.doc = "The input's element count as an int64 scalar.";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// ConstantOfShape

/// The fill value: the `value` attribute (one element) or float32 zero.
static Result<Tensor> fill_value(const AttrAccess& ctx) {
    if (const Tensor* v = ctx.attr_tensor("value")) {
        if (v->numel() != 1) return ctx.error("value must have exactly one element");
        return *v;
    }
    return Tensor::scalar<float>(0.0f);
}

static Status constant_of_shape_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(Tensor v, fill_value(ctx));
    ConstInts shape = const_ints(ctx, 0);
    if (shape.known) {
        for (int64_t s : shape.values) {
            if (s < 0) return ctx.error("shape has a negative value");
        }
        ctx.set_output(0, ir::ValueType::tensor(v.dtype(), shape.values));
        return Status::ok();
    }
    const ir::ValueType& st = ctx.input_type(0);
    if (st.has_shape && st.rank() == 1 && st.dims[0].is_static()) {
        ctx.set_output(0, tensor_type_of_rank(ctx, v.dtype(), st.dims[0].value));
    } else {
        ctx.set_output(0, ir::ValueType::tensor(v.dtype()));
    }
    return Status::ok();
}

static Status constant_of_shape_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_ASSIGN_OR_RETURN(Tensor v, fill_value(ctx));
    NNPORT_ASSIGN_OR_RETURN(auto shape, int_values(ctx, ctx.input(0), "shape"));
    if (ctx.input(0).rank() > 1) return ctx.input_error("shape must be 1-D");
    for (int64_t s : shape) {
        if (s < 0) return ctx.input_error("shape has a negative value");
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, v.dtype(), shape));
    NNPORT_DISPATCH_BY_SIZE(v.dtype(), T, ctx, {
        const T val = typed_data<T>(v)[0];
        T* o = typed_data<T>(*out);
        std::fill(o, o + out->numel(), val);
    });
    return Status::ok();
}

const OpDef& op_def_ConstantOfShape() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "ConstantOfShape";
        o.since_version = 9;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::none("value", ir::AttrType::kTensor)};
        o.infer = constant_of_shape_infer;
        o.kernel = constant_of_shape_kernel;
        o.half_via_float = false;
        o.doc = "A tensor of the given shape filled with `value` (default float32 0).";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// EyeLike

static Result<DType> eye_dtype(const AttrAccess& ctx, DType input) {
    if (!ctx.has_attr("dtype")) return input;
    const int64_t v = ctx.attr_int("dtype");
    if (v < 0 || v > 16 || !dtype_is_valid(static_cast<int32_t>(v))) return ctx.error("invalid dtype");
    const DType dt = static_cast<DType>(v);
    if (dt == DType::kString || dt == DType::kComplex64 || dt == DType::kComplex128 || dt == DType::kUndefined) {
        return ctx.error(std::string("dtype ") + dtype_name(dt) + " is not supported");
    }
    return dt;
}

static Status eye_like_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    NNPORT_ASSIGN_OR_RETURN(const DType dt, eye_dtype(ctx, x.dtype));
    if (x.has_shape && x.rank() != 2) return ctx.error("input must be 2-D");
    ir::ValueType t = x;
    t.kind = ir::ValueType::Kind::kTensor;
    t.dtype = dt;
    ctx.set_output(0, t);
    return Status::ok();
}

static Status eye_like_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.rank() != 2) return ctx.input_error("input must be 2-D");
    NNPORT_ASSIGN_OR_RETURN(const DType dt, eye_dtype(ctx, x.dtype()));
    if (dt == DType::kString) return ctx.input_error("string output is not supported");
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, dt, x.shape(), true));
    const int64_t rows = x.dim(0), cols = x.dim(1), k = ctx.attr_int("k");
    for (int64_t i = 0; i < rows; ++i) {
        if (k > cols || k < -rows) break;  // no diagonal in range (also keeps i + k from overflowing)
        const int64_t j = i + k;
        if (j >= 0 && j < cols) set_one(*out, i * cols + j);
    }
    return Status::ok();
}

const OpDef& op_def_EyeLike() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "EyeLike";
        o.since_version = 9;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::none("dtype", ir::AttrType::kInt), AttrSpec::i("k", 0)};
        o.infer = eye_like_infer;
        o.kernel = eye_like_kernel;
        o.half_via_float = false;
        o.doc = "A 2-D tensor shaped like the input with ones on diagonal k.";
        return o;
    }();
    return d;
}

}  // namespace nnport

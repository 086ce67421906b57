// Ops over several broadcast inputs: Min, Max, Sum, Mean (variadic) and Where (select, any dtype).
#include "ops/elementwise_util.hpp"

namespace nnport {

namespace {

Status variadic_infer(InferContext& ctx) {
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
        if (ctx.has_input(i)) NNPORT_RETURN_IF_ERROR(ew_infer_same_dtype(ctx, 0, i));
    }
    return infer_broadcast_same_dtype(ctx);
}

OpDef variadic_def(const char* name, int since, KernelFn kernel, const char* doc, std::vector<DType> types) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    o.min_inputs = 1;
    o.max_inputs = -1;
    o.infer = variadic_infer;
    o.kernel = kernel;
    o.input0_types = std::move(types);
    o.doc = doc;
    return o;
}

/// dst = op(dst, src) over dst's (full) shape, src broadcast; op(x, y) -> T.
template <typename T, typename Op>
Status accumulate(KernelContext& ctx, Tensor& dst, const Tensor& src, const Op& op) {
    auto plan = make_broadcast_plan({&dst.shape(), &src.shape()});
    if (!plan.is_ok()) return ctx.input_error(plan.status().message());
    T* pd = dst.data<T>();
    const T* ps = src.data<T>();
    for_each_row<2>(ctx, plan.value(), 1, [&](int64_t o, const int64_t* off, const int64_t* st, int64_t n) {
        T* __restrict__ d = pd + o;
        const T* __restrict__ s = ps + off[1];
        if (st[1]) {
            for (int64_t i = 0; i < n; ++i) d[i] = op(d[i], s[i]);
        } else {
            const T y = *s;
            for (int64_t i = 0; i < n; ++i) d[i] = op(d[i], y);
        }
    });
    return Status::ok();
}

/// Folds all inputs with op into output 0 (broadcast to the common shape); returns that output.
template <typename T, typename Op>
Result<Tensor*> fold_inputs(KernelContext& ctx, const Op& op) {
    std::vector<const Shape*> shapes;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
        if (ctx.input(i).dtype() != ctx.input(0).dtype()) NNPORT_RETURN_IF_ERROR(ew_require_same_dtype(ctx, 0, i));
        shapes.push_back(&ctx.input(i).shape());
    }
    auto plan = make_broadcast_plan(shapes);
    if (!plan.is_ok()) return ctx.input_error(plan.status().message());
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, ctx.input(0).dtype(), plan.value().out_shape));
    NNPORT_RETURN_IF_ERROR(accumulate<T>(ctx, *out, ctx.input(0), [](T, T y) { return y; }));
    for (size_t i = 1; i < ctx.num_inputs(); ++i) NNPORT_RETURN_IF_ERROR(accumulate<T>(ctx, *out, ctx.input(i), op));
    return out;
}

}  // namespace

static Status max_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    // NaN wins, as numpy's maximum.
    NNPORT_DISPATCH_NUMERIC(ctx.input(0).dtype(), T, ctx, {
        return fold_inputs<T>(ctx, [](T x, T y) { return (x > y || is_nan(x)) ? x : y; }).status();
    });
    return Status::ok();
}

static Status min_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_DISPATCH_NUMERIC(ctx.input(0).dtype(), T, ctx, {
        return fold_inputs<T>(ctx, [](T x, T y) { return (x < y || is_nan(x)) ? x : y; }).status();
    });
    return Status::ok();
}

static Status sum_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_DISPATCH_NUMERIC(ctx.input(0).dtype(), T, ctx, {
        return fold_inputs<T>(ctx, [](T x, T y) { return add_wrap(x, y); }).status();
    });
    return Status::ok();
}

static Status mean_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_DISPATCH_FLOAT(ctx.input(0).dtype(), T, ctx, {
        NNPORT_ASSIGN_OR_RETURN(Tensor * out, fold_inputs<T>(ctx, [](T x, T y) { return x + y; }));
        const T inv = T(1) / static_cast<T>(ctx.num_inputs());
        T* p = out->data<T>();
        for (int64_t i = 0; i < out->numel(); ++i) p[i] *= inv;
    });
    return Status::ok();
}

const OpDef& op_def_Max() {
    static const OpDef d = variadic_def("Max", 8, max_kernel, "Elementwise maximum of the inputs.", numeric_types());
    return d;
}
const OpDef& op_def_Min() {
    static const OpDef d = variadic_def("Min", 8, min_kernel, "Elementwise minimum of the inputs.", numeric_types());
    return d;
}
const OpDef& op_def_Sum() {
    static const OpDef d = variadic_def("Sum", 8, sum_kernel, "Elementwise sum of the inputs.", numeric_types());
    return d;
}
const OpDef& op_def_Mean() {
    static const OpDef d = variadic_def("Mean", 8, mean_kernel, "Elementwise mean of the inputs.", float_types());
    return d;
}

static Status where_infer(InferContext& ctx) {
    const DType c = ctx.input_type(0).dtype;
    if (c != DType::kUndefined && c != DType::kBool) return ctx.error("condition must be bool");
    NNPORT_RETURN_IF_ERROR(ew_infer_same_dtype(ctx, 1, 2));
    return ew_infer_broadcast(ctx, ctx.input_type(1).dtype);
}

static Status where_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 3));
    NNPORT_RETURN_IF_ERROR(ew_require_same_dtype(ctx, 1, 2));
    const Tensor& c = ctx.input(0);
    const Tensor& x = ctx.input(1);
    const Tensor& y = ctx.input(2);
    if (c.dtype() != DType::kBool) return ctx.input_error("condition must be bool");
    auto plan = make_broadcast_plan({&c.shape(), &x.shape(), &y.shape()});
    if (!plan.is_ok()) return ctx.input_error(plan.status().message());
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), plan.value().out_shape));
    NNPORT_DISPATCH_BY_SIZE(x.dtype(), T, ctx, {
        const bool* pc = c.data<bool>();
        const T* px = typed_data<T>(x);
        const T* py = typed_data<T>(y);
        T* po = typed_data<T>(*out);
        for_each_row<3>(ctx, plan.value(), 1, [&](int64_t o, const int64_t* off, const int64_t* st, int64_t n) {
            const bool* cc = pc + off[0];
            const T* xx = px + off[1];
            const T* yy = py + off[2];
            T* oo = po + o;
            if (st[0] && st[1] && st[2]) {
                for (int64_t i = 0; i < n; ++i) oo[i] = cc[i] ? xx[i] : yy[i];
            } else {
                for (int64_t i = 0; i < n; ++i) oo[i] = cc[i * st[0]] ? xx[i * st[1]] : yy[i * st[2]];
            }
        });
    });
    return Status::ok();
}

const OpDef& op_def_Where() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Where";
        o.since_version = 9;
        o.min_inputs = o.max_inputs = 3;
        o.infer = where_infer;
        o.kernel = where_kernel;
        o.input0_types = {DType::kBool};
        o.half_via_float = false;  // pure selection: any dtype, moved by element size
        o.inplace_elementwise = true;  // out[i] = c[i] ? x[i] : y[i], every operand read before out[i] is written
        o.doc = "x where condition else y, with broadcasting.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Activations whose parameters are tensors: PRelu (broadcast slope) and Clip (optional min/max inputs).
#include "ops/elementwise_util.hpp"

namespace nnport {

/// The slope shape to broadcast against x. Opset-6 PRelu took a 1-D slope of size C as per-channel (axis 1); the
/// importer keeps such nodes as they are, so a slope that fails numpy broadcasting that way is read as [C,1,...,1].
static Shape prelu_slope_shape(const Shape& x, const Shape& slope) {
    if (broadcast_shapes(x, slope).is_ok() || slope.size() != 1 || x.size() < 3 || slope[0] != x[1]) return slope;
    Shape s(x.size() - 1, 1);
    s[0] = slope[0];
    return s;
}

static Status prelu_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    const ir::ValueType& s = ctx.input_type(1);
    NNPORT_RETURN_IF_ERROR(ew_infer_same_dtype(ctx, 0, 1));
    if (x.is_static() && s.is_static()) {
        const Shape slope = prelu_slope_shape(x.static_shape(), s.static_shape());
        auto b = broadcast_shapes(x.static_shape(), slope);
        if (!b.is_ok() || b.value() != x.static_shape()) {
            return ctx.error("slope " + shape_to_string(s.static_shape()) + " does not broadcast to x " +
                             shape_to_string(x.static_shape()));
        }
    }
    ctx.set_output(0, x);
    return Status::ok();
}

static Status prelu_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 2));
    NNPORT_RETURN_IF_ERROR(ew_require_same_dtype(ctx, 0, 1));
    const Tensor& x = ctx.input(0);
    const Shape slope_shape = prelu_slope_shape(x.shape(), ctx.input(1).shape());
    const Tensor slope = ctx.input(1).reshaped(slope_shape);
    auto b = broadcast_shapes(x.shape(), slope_shape);
    if (!b.is_ok() || b.value() != x.shape()) {
        return ctx.input_error("slope " + shape_to_string(ctx.input(1).shape()) + " does not broadcast to x " +
                               shape_to_string(x.shape()));
    }
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, return binary_kernel<T, T, T>(ctx, x, slope, x.dtype(), [](auto v, auto a) {
        using V = decltype(v);
        if constexpr (std::is_signed_v<V>) return v < V(0) ? mul_wrap(v, a) : v;
        else return v;
    }));
    return Status::ok();
}

const OpDef& op_def_PRelu() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "PRelu";
        o.since_version = 7;
        o.min_inputs = o.max_inputs = 2;
        o.infer = prelu_infer;
        o.kernel = prelu_kernel;
        o.input0_types = numeric_types();
        o.inplace_elementwise = true;  // binary_kernel over x and the (reshaped) slope
        o.doc = "x if x >= 0 else slope * x; slope broadcasts to x.";
        return o;
    }();
    return d;
}

/// Reads an optional scalar bound of Clip as T; false in `present` when the input is omitted.
template <typename T>
static Status clip_bound(const KernelContext& ctx, size_t i, T* value, bool* present) {
    *present = ctx.has_input(i);
    if (!*present) return Status::ok();
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& t = ctx.input(i);
    if (t.numel() != 1) {
        return ctx.input_error(std::string(i == 1 ? "min" : "max") + " must be a scalar, got shape " +
                               shape_to_string(t.shape()));
    }
    if (t.dtype() == DType::kString) return ctx.input_error("Clip bounds must be numeric");
    // Bounds of another numeric dtype are converted (legacy Clip bounds were float attributes).
    if constexpr (std::is_floating_point_v<T>) *value = static_cast<T>(t.item_as_double(0));
    else if (dtype_is_float(t.dtype())) *value = float_to_int<T>(t.item_as_double(0));
    else *value = static_cast<T>(t.item_as_int(0));
    return Status::ok();
}

static Status clip_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, {
        T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
        bool has_lo = false, has_hi = false;
        NNPORT_RETURN_IF_ERROR(clip_bound<T>(ctx, 1, &lo, &has_lo));
        NNPORT_RETURN_IF_ERROR(clip_bound<T>(ctx, 2, &hi, &has_hi));
        if constexpr (std::is_floating_point_v<T>) {
            if (!has_lo) lo = -std::numeric_limits<T>::infinity();
            if (!has_hi) hi = std::numeric_limits<T>::infinity();
        }
        // min(max(x, lo), hi): when lo > hi every element becomes hi, as the spec says; NaN passes through.
        return unary_kernel<T, T>(ctx, x, x.dtype(), [=](T v) {
            const T m = v < lo ? lo : v;
            return m > hi ? hi : m;
        });
    });
    return Status::ok();
}

static Status clip_infer(InferContext& ctx) {
    for (size_t i = 1; i < ctx.num_inputs() && i < 3; ++i) {
        if (!ctx.has_input(i)) continue;
        const ir::ValueType& t = ctx.input_type(i);
        if (t.is_static() && shape_numel(t.static_shape()) != 1) {
            return ctx.error(std::string(i == 1 ? "min" : "max") + " must be a scalar, got shape " +
                             shape_to_string(t.static_shape()));
        }
    }
    return infer_same_as_input0(ctx);
}

const OpDef& op_def_Clip() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Clip";
        o.since_version = 11;
        o.min_inputs = 1;
        o.max_inputs = 3;
        o.infer = clip_infer;
        o.kernel = clip_kernel;
        o.input0_types = numeric_types();
        o.inplace_elementwise = true;  // bounds are read first, then unary_kernel: y[i] = f(x[i])
        o.doc = "min(max(x, min), max) with optional scalar bounds.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Range and OneHot: tensors generated from scalar parameters.
#include <cmath>

#include "ops/tensor_util.hpp"

namespace nnport {

// ---------------------------------------------------------------------------------------------------------------
// Range

/// Number of elements of [start, limit) in steps of delta; error for delta 0 or a count out of range.
template <typename T>
static Result<int64_t> range_count(const KernelContext& ctx, T start, T limit, T delta) {
    if (delta == T(0)) return ctx.input_error("delta is 0");
    if constexpr (std::is_floating_point_v<T>) {
        const double n = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta));
        if (!std::isfinite(n)) return ctx.input_error("range is not finite");
        if (n <= 0) return int64_t{0};
        if (n > static_cast<double>(kMaxTensorBytes)) return ctx.input_error("range is too large");
        return static_cast<int64_t>(n);
    } else {
        const int64_t s = static_cast<int64_t>(start), l = static_cast<int64_t>(limit), d = static_cast<int64_t>(delta);
        if ((d > 0 && l <= s) || (d < 0 && l >= s)) return int64_t{0};
        // |l - s| and |d| as unsigned: cannot overflow.
        const uint64_t span = d > 0 ? static_cast<uint64_t>(l) - static_cast<uint64_t>(s)
                                    : static_cast<uint64_t>(s) - static_cast<uint64_t>(l);
        const uint64_t step = d > 0 ? static_cast<uint64_t>(d) : static_cast<uint64_t>(-(d + 1)) + 1;
        const uint64_t n = (span - 1) / step + 1;
        if (n > static_cast<uint64_t>(kMaxTensorBytes)) return ctx.input_error("range is too large");
        return static_cast<int64_t>(n);
    }
}

static Status range_infer(InferContext& ctx) {
    const DType dt = ctx.input_type(0).dtype;
    const Tensor* t[3] = {ctx.input_constant(0), ctx.input_constant(1), ctx.input_constant(2)};
    bool known = true;
    for (const Tensor* x : t) known = known && x && x->numel() == 1 && x->raw_data() && x->dtype() == dt;
    if (known && dt != DType::kString) {
        const double c = t[2]->item_as_double();
        const double n = std::ceil((t[1]->item_as_double() - t[0]->item_as_double()) / c);
        if (c != 0 && std::isfinite(n) && n < static_cast<double>(int64_t{1} << 40)) {
            ctx.set_output(0, ir::ValueType::tensor(dt, Shape{std::max<int64_t>(static_cast<int64_t>(n), 0)}));
            return Status::ok();
        }
    }
    ctx.set_output(0, tensor_type_of_rank(ctx, dt, 1));
    return Status::ok();
}

static Status range_kernel(KernelContext& ctx) {
    for (size_t i = 0; i < 3; ++i) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
        if (ctx.input(i).numel() != 1) return ctx.input_error("start, limit and delta must be scalars");
        if (ctx.input(i).dtype() != ctx.input(0).dtype()) return ctx.input_error("inputs differ in dtype");
    }
    const DType dt = ctx.input(0).dtype();
    NNPORT_DISPATCH_NUMERIC(dt, T, ctx, {
        const T start = ctx.input(0).data<T>()[0];
        const T limit = ctx.input(1).data<T>()[0];
        const T delta = ctx.input(2).data<T>()[0];
        NNPORT_ASSIGN_OR_RETURN(const int64_t n, range_count<T>(ctx, start, limit, delta));
        NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, dt, {n}));
        T* o = out->data<T>();
        for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    });
    return Status::ok();
}

const OpDef& op_def_Range() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Range";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 3;
        o.infer = range_infer;
        o.kernel = range_kernel;
        o.doc = "start, start + delta, ... up to (excluding) limit.";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// OneHot

static Status one_hot_infer(InferContext& ctx) {
    const ir::ValueType& idx = ctx.input_type(0);
    const DType dt = ctx.input_type(2).dtype;
    if (!idx.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(dt));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, load_axis(ctx, ctx.attr_int("axis"), idx.rank() + 1));
    const Tensor* depth = ctx.input_constant(1);
    ir::Dim dd = ctx.new_dim();
    if (depth && depth->numel() == 1 && depth->raw_data() && depth->dtype() != DType::kString) {
        const double v = depth->item_as_double();
        if (v >= 1 && v <= static_cast<double>(kMaxTensorBytes)) dd = ir::Dim(static_cast<int64_t>(v));
    }
    std::vector<ir::Dim> out = idx.dims;
    out.insert(out.begin() + axis, dd);
    ctx.set_output(0, ir::ValueType::tensor(dt, out));
    return Status::ok();
}

static Status one_hot_kernel(KernelContext& ctx) {
    for (size_t i = 0; i < 3; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& indices = ctx.input(0);
    const Tensor& depth_t = ctx.input(1);
    const Tensor& values = ctx.input(2);
    if (indices.dtype() == DType::kString || depth_t.dtype() == DType::kString) {
        return ctx.input_error("indices and depth must be numeric");
    }
    if (depth_t.numel() != 1) return ctx.input_error("depth must be a scalar");
    if (values.numel() != 2) return ctx.input_error("values must have 2 elements [off, on]");
    const double dv = depth_t.item_as_double();
    if (!(dv >= 1) || dv > static_cast<double>(kMaxTensorBytes)) return ctx.input_error("depth must be positive");
    const int64_t depth = static_cast<int64_t>(dv);
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, run_axis(ctx, ctx.attr_int("axis"), indices.rank() + 1));
    Shape out_shape = indices.shape();
    out_shape.insert(out_shape.begin() + axis, depth);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, values.dtype(), out_shape));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= indices.dim(d);
    for (int64_t d = axis; d < indices.rank(); ++d) inner *= indices.dim(d);
    const bool is_float = dtype_is_float(indices.dtype());
    NNPORT_DISPATCH_BY_SIZE(values.dtype(), T, ctx, {
        const T off = typed_data<T>(values)[0];
        const T on = typed_data<T>(values)[1];
        T* o = typed_data<T>(*out);
        std::fill(o, o + out->numel(), off);
        for (int64_t a = 0; a < outer; ++a) {
            for (int64_t i = 0; i < inner; ++i) {
                // Out-of-range indices leave the row all "off" (as the spec says).
                int64_t v;
                if (is_float) {
                    const double f = indices.item_as_double(a * inner + i);
                    if (!(f > -static_cast<double>(depth) - 1 && f < static_cast<double>(depth))) continue;
                    v = static_cast<int64_t>(f);
                } else {
                    v = indices.item_as_int(a * inner + i);
                }
                if (v < -depth || v >= depth) continue;
                if (v < 0) v += depth;
                o[(a * depth + v) * inner + i] = on;
            }
        }
    });
    return Status::ok();
}

const OpDef& op_def_OneHot() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "OneHot";
        o.since_version = 9;
        o.min_inputs = o.max_inputs = 3;
        o.attrs = {AttrSpec::i("axis", -1)};
        o.infer = one_hot_infer;
        o.kernel = one_hot_kernel;
        o.half_via_float = false;
        o.doc = "One-hot encoding of `indices` with `depth` classes along `axis`, [off, on] from `values`.";
        return o;
    }();
    return d;
}

}  // namespace nnport

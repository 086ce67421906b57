// Slice: numpy-style basic slicing (clamped starts/ends, negative steps) as one strided copy.
#include <algorithm>

#include "ops/tensor_util.hpp"

namespace nnport {

namespace {

struct AxisSlice {
    int64_t start = 0;
    int64_t count = 0;
    int64_t step = 1;
};

/// Clamps start/end like numpy for a dim of size `dim`; returns the first index and element count.
AxisSlice clamp_slice(int64_t start, int64_t end, int64_t step, int64_t dim) {
    AxisSlice s;
    s.step = step;
    if (dim <= 0) return s;
    if (start < 0) start += dim;
    if (end < 0) end = end < -dim ? -1 : end + dim;
    if (step > 0) {
        start = std::clamp<int64_t>(start, 0, dim);
        end = std::clamp<int64_t>(end, 0, dim);
        s.count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
        start = std::clamp<int64_t>(start, 0, dim - 1);
        end = std::clamp<int64_t>(end, -1, dim - 1);
        const uint64_t magnitude = static_cast<uint64_t>(-(step + 1)) + 1;  // |step| without overflow
        s.count = start > end ? static_cast<int64_t>(static_cast<uint64_t>(start - end - 1) / magnitude) + 1 : 0;
    }
    s.start = s.count > 0 ? start : 0;
    return s;
}

/// The slicing parameters per axis (index = axis); validates lengths, axes and steps.
struct SliceSpec {
    std::vector<int64_t> starts, ends, axes, steps;
};

Status check_spec(const AttrAccess& ctx, SliceSpec& s, int64_t rank, bool load_time) {
    auto fail = [&](const std::string& m) { return load_time ? ctx.error(m) : ctx.input_error(m); };
    const size_t n = s.starts.size();
    if (s.ends.size() != n) return fail("starts and ends have different lengths");
    if (s.axes.empty()) {
        for (size_t i = 0; i < n; ++i) s.axes.push_back(static_cast<int64_t>(i));
    }
    if (s.steps.empty()) s.steps.assign(n, 1);
    if (s.axes.size() != n || s.steps.size() != n) return fail("starts, ends, axes and steps differ in length");
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (size_t i = 0; i < n; ++i) {
        int64_t& a = s.axes[i];
        if (a < -rank || a >= rank) return fail("axis " + std::to_string(a) + " is out of range");
        if (a < 0) a += rank;
        if (seen[static_cast<size_t>(a)]) return fail("axis " + std::to_string(a) + " is repeated");
        seen[static_cast<size_t>(a)] = true;
        if (s.steps[i] == 0) return fail("step is 0");
    }
    return Status::ok();
}

}  // namespace

static Status slice_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    if (!x.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    SliceSpec s;
    ConstInts starts = const_ints(ctx, 1), ends = const_ints(ctx, 2);
    ConstInts axes = ctx.has_input(3) ? const_ints(ctx, 3) : ConstInts{true, {}};
    ConstInts steps = ctx.has_input(4) ? const_ints(ctx, 4) : ConstInts{true, {}};
    std::vector<ir::Dim> out = x.dims;
    if (!axes.known) {
        ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, x.rank()));
        return Status::ok();
    }
    if (!starts.known || !ends.known || !steps.known) {
        if (!ctx.has_input(3)) {
            // Axes default to the first len(starts) dims.
            const ir::ValueType& st = ctx.input_type(1);
            const int64_t n = st.has_shape && st.rank() == 1 && st.dims[0].is_static() ? st.dims[0].value : x.rank();
            for (int64_t i = 0; i < std::min(n, x.rank()); ++i) out[static_cast<size_t>(i)] = ctx.new_dim();
        } else {
            for (int64_t a : axes.values) {
                if (a < -x.rank() || a >= x.rank()) return ctx.error("axis " + std::to_string(a) + " is out of range");
                out[static_cast<size_t>(a < 0 ? a + x.rank() : a)] = ctx.new_dim();
            }
        }
        ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
        return Status::ok();
    }
    s.starts = starts.values;
    s.ends = ends.values;
    s.axes = axes.values;
    s.steps = steps.values;
    NNPORT_RETURN_IF_ERROR(check_spec(ctx, s, x.rank(), true));
    for (size_t i = 0; i < s.starts.size(); ++i) {
        ir::Dim& d = out[static_cast<size_t>(s.axes[i])];
        if (d.is_static()) {
            d = ir::Dim(clamp_slice(s.starts[i], s.ends[i], s.steps[i], d.value).count);
        } else if (!(s.starts[i] == 0 && s.steps[i] == 1 && s.ends[i] >= INT32_MAX)) {
            d = ctx.new_dim();  // x[0:INT_MAX] keeps the dim; anything else depends on its size
        }
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status slice_kernel(KernelContext& ctx) {
    for (size_t i = 0; i < 3; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& x = ctx.input(0);
    SliceSpec s;
    NNPORT_ASSIGN_OR_RETURN(s.starts, int_values(ctx, ctx.input(1), "starts"));
    NNPORT_ASSIGN_OR_RETURN(s.ends, int_values(ctx, ctx.input(2), "ends"));
    if (ctx.has_input(3)) {
        NNPORT_ASSIGN_OR_RETURN(s.axes, int_values(ctx, ctx.input(3), "axes"));
    }
    if (ctx.has_input(4)) {
        NNPORT_ASSIGN_OR_RETURN(s.steps, int_values(ctx, ctx.input(4), "steps"));
    }
    if (ctx.has_input(3) && s.axes.size() != s.starts.size()) return ctx.input_error("axes has a wrong length");
    if (ctx.has_input(4) && s.steps.size() != s.starts.size()) return ctx.input_error("steps has a wrong length");
    NNPORT_RETURN_IF_ERROR(check_spec(ctx, s, x.rank(), false));
    Shape out_shape = x.shape();
    std::vector<int64_t> strides = strides_of(x.shape());
    int64_t base = 0;
    bool whole = true;
    for (size_t i = 0; i < s.starts.size(); ++i) {
        const size_t a = static_cast<size_t>(s.axes[i]);
        const AxisSlice as = clamp_slice(s.starts[i], s.ends[i], s.steps[i], x.shape()[a]);
        whole = whole && as.start == 0 && as.step == 1 && as.count == x.shape()[a];
        out_shape[a] = as.count;
        base += as.start * strides[a];
        strides[a] = as.count > 1 ? strides[a] * as.step : 0;  // |step| < dim when count > 1: no overflow
    }
    if (whole) {
        ctx.set_output(0, x);
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), out_shape));
    return strided_copy(ctx, x, base, out_shape, strides, *out);
}

const OpDef& op_def_Slice() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Slice";
        o.since_version = 10;
        o.min_inputs = 3;
        o.max_inputs = 5;
        o.infer = slice_infer;
        o.kernel = slice_kernel;
        o.half_via_float = false;
        o.doc = "Slices with starts/ends (clamped), optional axes and steps (negative steps go backwards).";
        return o;
    }();
    return d;
}

}  // namespace nnport

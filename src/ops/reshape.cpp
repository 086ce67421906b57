// Reshape, Flatten, Squeeze, Unsqueeze: shape-only ops that return views of their input (no copy).
#include <algorithm>
#include <map>

#include "ops/tensor_util.hpp"

namespace nnport {

// ---------------------------------------------------------------------------------------------------------------
// Reshape

/// The concrete output shape of Reshape (0 copies the input dim unless allowzero, one -1 is inferred).
static Result<Shape> reshape_shape(const AttrAccess& ctx, const Shape& in, const std::vector<int64_t>& spec,
                                   bool allowzero) {
    Shape out(spec.size());
    int64_t infer_at = -1;
    int64_t known = 1;
    for (size_t i = 0; i < spec.size(); ++i) {
        const int64_t v = spec[i];
        if (v == -1) {
            if (infer_at >= 0) return ctx.input_error("shape has more than one -1");
            infer_at = static_cast<int64_t>(i);
            continue;
        }
        if (v < -1) return ctx.input_error("shape has invalid value " + std::to_string(v));
        if (v == 0 && !allowzero) {
            if (i >= in.size()) return ctx.input_error("shape copies dim " + std::to_string(i) + " of a rank-" +
                                                       std::to_string(in.size()) + " input");
            out[i] = in[i];
        } else {
            out[i] = v;
        }
        if (out[i] != 0 && known > INT64_MAX / out[i]) return ctx.input_error("shape overflows");
        known *= out[i];
    }
    const int64_t numel = shape_numel(in);
    if (infer_at >= 0) {
        if (known == 0 || numel % known != 0) {
            return ctx.input_error("cannot reshape " + shape_to_string(in) + " to " + shape_to_string(spec));
        }
        out[static_cast<size_t>(infer_at)] = numel / known;
    } else if (known != numel) {
        return ctx.input_error("cannot reshape " + shape_to_string(in) + " to " + shape_to_string(spec));
    }
    return out;
}

static Status reshape_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    const bool allowzero = ctx.attr_int("allowzero") != 0;
    ConstInts spec = const_ints(ctx, 1);
    if (!spec.known) {
        const ir::ValueType& st = ctx.input_type(1);
        if (st.has_shape && st.dims.size() == 1 && st.dims[0].is_static()) {
            ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, st.dims[0].value));
        } else {
            ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        }
        return Status::ok();
    }
    if (x.has_shape && x.is_static()) {
        auto s = reshape_shape(ctx, x.static_shape(), spec.values, allowzero);
        if (!s.is_ok()) return model_error(s.status());
        ctx.set_output(0, ir::ValueType::tensor(x.dtype, s.value()));
        return Status::ok();
    }
    // Symbolic input: copy dims for 0, and solve a -1 when the symbolic dims cancel out.
    std::vector<ir::Dim> out(spec.values.size());
    int64_t infer_at = -1;
    bool exact = x.has_shape;
    for (size_t i = 0; i < spec.values.size(); ++i) {
        const int64_t v = spec.values[i];
        if (v == -1) {
            if (infer_at >= 0) return ctx.error("shape has more than one -1");
            infer_at = static_cast<int64_t>(i);
        } else if (v < -1) {
            return ctx.error("shape has invalid value " + std::to_string(v));
        } else if (v == 0 && !allowzero) {
            if (!x.has_shape) {
                out[i] = ctx.new_dim();
            } else if (i < x.dims.size()) {
                out[i] = x.dims[i];
            } else {
                return ctx.error("shape copies a dim beyond the input's rank");
            }
        } else {
            out[i] = ir::Dim(v);
        }
    }
    if (infer_at >= 0) {
        std::map<std::string, int> syms;
        int64_t p_in = 1, p_out = 1;
        for (const ir::Dim& d : x.dims) {
            if (d.is_static()) p_in *= d.value;
            else if (d.param.empty()) exact = false;
            else syms[d.param]++;
        }
        for (size_t i = 0; i < out.size(); ++i) {
            if (static_cast<int64_t>(i) == infer_at) continue;
            const ir::Dim& d = out[i];
            if (d.is_static()) p_out *= d.value;
            else if (d.param.empty() || --syms[d.param] < 0) exact = false;
        }
        for (const auto& [k, c] : syms) exact = exact && c == 0;
        if (exact && p_out != 0 && p_in % p_out == 0) {
            out[static_cast<size_t>(infer_at)] = ir::Dim(p_in / p_out);
        } else {
            out[static_cast<size_t>(infer_at)] = ctx.new_dim();
        }
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status reshape_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(auto spec, int_values(ctx, ctx.input(1), "shape"));
    if (ctx.input(1).rank() != 1) return ctx.input_error("shape must be 1-D");
    NNPORT_ASSIGN_OR_RETURN(Shape s, reshape_shape(ctx, x.shape(), spec, ctx.attr_int("allowzero") != 0));
    ctx.set_output(0, x.reshaped(std::move(s)));
    return Status::ok();
}

const OpDef& op_def_Reshape() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Reshape";
        o.since_version = 5;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("allowzero", 0)};
        o.infer = reshape_infer;
        o.kernel = reshape_kernel;
        o.half_via_float = false;
        o.output_views_input0 = true;  // the kernel returns a reshaped view of input 0
        o.doc = "Same data, new shape (0 copies an input dim unless allowzero, one -1 is inferred).";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Flatten

/// Product of dims [b, e): static if all are, the single dim itself if only one, else a fresh symbol.
static ir::Dim dims_product(InferContext& ctx, const std::vector<ir::Dim>& dims, size_t b, size_t e) {
    if (e - b == 1) return dims[b];
    int64_t p = 1;
    for (size_t i = b; i < e; ++i) {
        if (!dims[i].is_static()) return ctx.new_dim();
        p *= dims[i].value;
    }
    return ir::Dim(p);
}

static Status flatten_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    if (!x.has_shape) {
        ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, 2));
        return Status::ok();
    }
    const int64_t r = x.rank();
    int64_t axis = ctx.attr_int("axis");
    if (axis < -r || axis > r) return ctx.error("axis " + std::to_string(axis) + " is out of range");
    if (axis < 0) axis += r;
    const size_t a = static_cast<size_t>(axis);
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, std::vector<ir::Dim>{dims_product(ctx, x.dims, 0, a),
                                                                          dims_product(ctx, x.dims, a, x.dims.size())}));
    return Status::ok();
}

static Status flatten_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    const int64_t r = x.rank();
    int64_t axis = ctx.attr_int("axis");
    if (axis < -r || axis > r) return ctx.error("axis " + std::to_string(axis) + " is out of range");
    if (axis < 0) axis += r;
    int64_t outer = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
    int64_t inner = 1;
    for (int64_t i = axis; i < r; ++i) inner *= x.dim(i);
    ctx.set_output(0, x.reshaped({outer, inner}));
    return Status::ok();
}

const OpDef& op_def_Flatten() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Flatten";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::i("axis", 1)};
        o.infer = flatten_infer;
        o.kernel = flatten_kernel;
        o.half_via_float = false;
        o.output_views_input0 = true;  // the kernel returns a reshaped view of input 0
        o.doc = "Flattens to 2-D at `axis`.";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Squeeze / Unsqueeze

/// Normalised, duplicate-free axes for a rank; error otherwise.
static Result<std::vector<bool>> axes_mask(const AttrAccess& ctx, const std::vector<int64_t>& axes, int64_t rank) {
    std::vector<bool> mask(static_cast<size_t>(rank), false);
    for (int64_t a : axes) {
        if (a < -rank || a >= rank) {
            return ctx.input_error("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
        }
        if (a < 0) a += rank;
        if (mask[static_cast<size_t>(a)]) return ctx.input_error("axis " + std::to_string(a) + " is repeated");
        mask[static_cast<size_t>(a)] = true;
    }
    return mask;
}

static Status squeeze_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    const bool has_axes = ctx.has_input(1);
    ConstInts axes = const_ints(ctx, 1);
    if (!x.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    std::vector<ir::Dim> out;
    if (!has_axes) {
        for (const ir::Dim& d : x.dims) {
            if (!d.is_static()) {  // might be 1 at run time
                ctx.set_output(0, ir::ValueType::tensor(x.dtype));
                return Status::ok();
            }
            if (d.value != 1) out.push_back(d);
        }
    } else if (!axes.known) {
        const ir::ValueType& at = ctx.input_type(1);
        if (at.has_shape && at.dims.size() == 1 && at.dims[0].is_static() && at.dims[0].value <= x.rank()) {
            ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, x.rank() - at.dims[0].value));
        } else {
            ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        }
        return Status::ok();
    } else {
        auto mask = axes_mask(ctx, axes.values, x.rank());
        if (!mask.is_ok()) return model_error(mask.status());
        for (size_t i = 0; i < x.dims.size(); ++i) {
            if (!mask.value()[i]) {
                out.push_back(x.dims[i]);
            } else if (x.dims[i].is_static() && x.dims[i].value != 1) {
                return ctx.error("cannot squeeze axis " + std::to_string(i) + " of size " +
                                 std::to_string(x.dims[i].value));
            }
        }
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status squeeze_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    Shape out;
    if (!ctx.has_input(1)) {
        for (int64_t d : x.shape()) {
            if (d != 1) out.push_back(d);
        }
    } else {
        NNPORT_ASSIGN_OR_RETURN(auto axes, int_values(ctx, ctx.input(1), "axes"));
        NNPORT_ASSIGN_OR_RETURN(auto mask, axes_mask(ctx, axes, x.rank()));
        for (size_t i = 0; i < mask.size(); ++i) {
            if (!mask[i]) {
                out.push_back(x.shape()[i]);
            } else if (x.shape()[i] != 1) {
                return ctx.input_error("cannot squeeze axis " + std::to_string(i) + " of size " +
                                       std::to_string(x.shape()[i]));
            }
        }
    }
    ctx.set_output(0, x.reshaped(std::move(out)));
    return Status::ok();
}

const OpDef& op_def_Squeeze() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Squeeze";
        o.since_version = 13;
        o.min_inputs = 1;
        o.max_inputs = 2;
        o.infer = squeeze_infer;
        o.kernel = squeeze_kernel;
        o.half_via_float = false;
        o.output_views_input0 = true;  // the kernel returns a reshaped view of input 0
        o.doc = "Removes size-1 axes (all of them when `axes` is omitted).";
        return o;
    }();
    return d;
}

static Status unsqueeze_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    ConstInts axes = const_ints(ctx, 1);
    if (!x.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    if (!axes.known) {
        const ir::ValueType& at = ctx.input_type(1);
        if (at.has_shape && at.dims.size() == 1 && at.dims[0].is_static()) {
            ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, x.rank() + at.dims[0].value));
        } else {
            ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        }
        return Status::ok();
    }
    const int64_t r = x.rank() + static_cast<int64_t>(axes.values.size());
    auto mask = axes_mask(ctx, axes.values, r);
    if (!mask.is_ok()) return model_error(mask.status());
    std::vector<ir::Dim> out;
    size_t k = 0;
    for (int64_t i = 0; i < r; ++i) out.push_back(mask.value()[static_cast<size_t>(i)] ? ir::Dim(1) : x.dims[k++]);
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status unsqueeze_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(auto axes, int_values(ctx, ctx.input(1), "axes"));
    const int64_t r = x.rank() + static_cast<int64_t>(axes.size());
    NNPORT_ASSIGN_OR_RETURN(auto mask, axes_mask(ctx, axes, r));
    Shape out;
    size_t k = 0;
    for (int64_t i = 0; i < r; ++i) out.push_back(mask[static_cast<size_t>(i)] ? 1 : x.shape()[k++]);
    ctx.set_output(0, x.reshaped(std::move(out)));
    return Status::ok();
}

const OpDef& op_def_Unsqueeze() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Unsqueeze";
        o.since_version = 13;
        o.min_inputs = o.max_inputs = 2;
        o.infer = unsqueeze_infer;
        o.kernel = unsqueeze_kernel;
        o.half_via_float = false;
        o.output_views_input0 = true;  // the kernel returns a reshaped view of input 0
        o.doc = "Inserts size-1 axes at `axes` (positions in the output).";
        return o;
    }();
    return d;
}

}  // namespace nnport

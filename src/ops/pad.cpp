// Pad (constant / reflect / edge / wrap, negative pads crop) and CenterCropPad, which is a centred Pad.
#include "ops/tensor_util.hpp"

namespace nnport {

namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

Result<PadMode> pad_mode(const AttrAccess& ctx) {
    const std::string m = ctx.attr_string("mode");
    if (m == "constant") return PadMode::kConstant;
    if (m == "reflect") return PadMode::kReflect;
    if (m == "edge") return PadMode::kEdge;
    if (m == "wrap") return PadMode::kWrap;
    return ctx.error("unknown mode '" + m + "'");
}

/// For each output position along one axis: the input position it reads, or -1 for the constant.
std::vector<int64_t> axis_map(int64_t dim, int64_t begin, int64_t out_dim, PadMode mode) {
    std::vector<int64_t> m(static_cast<size_t>(out_dim));
    for (int64_t o = 0; o < out_dim; ++o) {
        const int64_t i = o - begin;
        int64_t v;
        if (i >= 0 && i < dim) {
            v = i;
        } else if (mode == PadMode::kConstant) {
            v = -1;
        } else if (mode == PadMode::kEdge) {
            v = i < 0 ? 0 : dim - 1;
        } else if (mode == PadMode::kWrap) {
            v = ((i % dim) + dim) % dim;
        } else if (dim == 1) {
            v = 0;
        } else {  // reflect without repeating the edge, periodic for pads larger than the dim (as numpy)
            const int64_t p = 2 * (dim - 1);
            v = ((i % p) + p) % p;
            if (v >= dim) v = p - v;
        }
        m[static_cast<size_t>(o)] = v;
    }
    return m;
}

/// A one-element tensor of dtype `dt` holding `v` (the pad value given in another dtype).
Result<Tensor> scalar_of(const KernelContext& ctx, DType dt, double v) {
    NNPORT_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dt, {}));
    void* p = t.raw_data();
    switch (dt) {
        case DType::kFloat32: *static_cast<float*>(p) = static_cast<float>(v); break;
        case DType::kFloat64: *static_cast<double*>(p) = v; break;
        case DType::kFloat16: *static_cast<Float16*>(p) = Float16(static_cast<float>(v)); break;
        case DType::kBFloat16: *static_cast<BFloat16*>(p) = BFloat16(static_cast<float>(v)); break;
        case DType::kBool: *static_cast<bool*>(p) = v != 0; break;
        case DType::kInt8: *static_cast<int8_t*>(p) = static_cast<int8_t>(v); break;
        case DType::kUInt8: *static_cast<uint8_t*>(p) = static_cast<uint8_t>(v); break;
        case DType::kInt16: *static_cast<int16_t*>(p) = static_cast<int16_t>(v); break;
        case DType::kUInt16: *static_cast<uint16_t*>(p) = static_cast<uint16_t>(v); break;
        case DType::kInt32: *static_cast<int32_t*>(p) = static_cast<int32_t>(v); break;
        case DType::kUInt32: *static_cast<uint32_t*>(p) = static_cast<uint32_t>(v); break;
        case DType::kInt64: *static_cast<int64_t*>(p) = static_cast<int64_t>(v); break;
        case DType::kUInt64: *static_cast<uint64_t*>(p) = static_cast<uint64_t>(v); break;
        default: return ctx.input_error("constant_value does not match the data dtype");
    }
    return t;
}

/// Pads (or crops, for negative amounts) every axis; `value` (1 element, x's dtype) or zero fills.
Status pad_core(KernelContext& ctx, const Tensor& x, const std::vector<int64_t>& begins,
                const std::vector<int64_t>& ends, PadMode mode, const Tensor* value) {
    const size_t r = static_cast<size_t>(x.rank());
    Shape out_shape(r);
    std::vector<std::vector<int64_t>> maps(r);
    for (size_t a = 0; a < r; ++a) {
        const int64_t d = x.shape()[a];
        const int64_t o = d + begins[a] + ends[a];
        if (o < 0) return ctx.input_error("pads make axis " + std::to_string(a) + " negative");
        if (o > 0 && d == 0 && mode != PadMode::kConstant) {
            return ctx.input_error("cannot pad an empty axis in mode " + ctx.attr_string("mode"));
        }
        if (o > kMaxTensorBytes) return ctx.input_error("padded size is too large");
        out_shape[a] = o;
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), out_shape));
    if (out->numel() == 0) return Status::ok();
    if (r == 0) {
        ctx.set_output(0, x);
        return Status::ok();
    }
    for (size_t a = 0; a < r; ++a) maps[a] = axis_map(x.shape()[a], begins[a], out_shape[a], mode);
    const std::vector<int64_t> in_strides = strides_of(x.shape());
    const int64_t inner = out_shape[r - 1];
    const int64_t rows = out->numel() / inner;
    const std::vector<int64_t>& last = maps[r - 1];
    NNPORT_DISPATCH_BY_SIZE(x.dtype(), T, ctx, {
        const T cval = value ? typed_data<T>(*value)[0] : T{};
        const T* src = typed_data<T>(x);
        T* dst = typed_data<T>(*out);
        parallel_rows(ctx, rows, inner, [&](int64_t b, int64_t e) {
            for (int64_t row = b; row < e; ++row) {
                T* o = dst + row * inner;
                int64_t off = 0, rem = row;
                bool is_const = false;
                for (size_t a = r - 1; a-- > 0;) {
                    const int64_t m = maps[a][static_cast<size_t>(rem % out_shape[a])];
                    rem /= out_shape[a];
                    if (m < 0) is_const = true;
                    else off += m * in_strides[a];
                }
                if (is_const) {
                    std::fill(o, o + inner, cval);
                    continue;
                }
                const T* s = src + off;
                for (int64_t j = 0; j < inner; ++j) {
                    const int64_t m = last[static_cast<size_t>(j)];
                    o[j] = m < 0 ? cval : s[m];
                }
            }
        });
    });
    return Status::ok();
}

/// Normalised axes (all axes when `given` is empty and `absent`).
Result<std::vector<int64_t>> pad_axes(const AttrAccess& ctx, std::vector<int64_t> axes, bool absent, int64_t rank) {
    if (absent) {
        axes.clear();
        for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
        return axes;
    }
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t& a : axes) {
        if (a < -rank || a >= rank) return ctx.input_error("axis " + std::to_string(a) + " is out of range");
        if (a < 0) a += rank;
        if (seen[static_cast<size_t>(a)]) return ctx.input_error("axis " + std::to_string(a) + " is repeated");
        seen[static_cast<size_t>(a)] = true;
    }
    return axes;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Pad

static Status pad_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    NNPORT_RETURN_IF_ERROR(pad_mode(ctx).status());
    if (!x.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    ConstInts pads = const_ints(ctx, 1);
    ConstInts axes = ctx.has_input(3) ? const_ints(ctx, 3) : ConstInts{true, {}};
    if (!pads.known || !axes.known) {
        ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, x.rank()));
        return Status::ok();
    }
    auto ax = pad_axes(ctx, axes.values, !ctx.has_input(3), x.rank());
    if (!ax.is_ok()) return model_error(ax.status());
    const size_t n = ax.value().size();
    if (pads.values.size() != 2 * n) return ctx.error("pads must have 2 entries per axis");
    std::vector<ir::Dim> out = x.dims;
    for (size_t i = 0; i < n; ++i) {
        ir::Dim& d = out[static_cast<size_t>(ax.value()[i])];
        const int64_t delta = pads.values[i] + pads.values[i + n];
        if (d.is_static()) {
            if (d.value + delta < 0) return ctx.error("pads make an axis negative");
            d = ir::Dim(d.value + delta);
        } else if (delta != 0) {
            d = ctx.new_dim();
        }
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status pad_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(const PadMode mode, pad_mode(ctx));
    NNPORT_ASSIGN_OR_RETURN(auto pads, int_values(ctx, ctx.input(1), "pads"));
    std::vector<int64_t> axes_in;
    if (ctx.has_input(3)) {
        NNPORT_ASSIGN_OR_RETURN(axes_in, int_values(ctx, ctx.input(3), "axes"));
    }
    NNPORT_ASSIGN_OR_RETURN(auto axes, pad_axes(ctx, axes_in, !ctx.has_input(3), x.rank()));
    const size_t n = axes.size();
    if (pads.size() != 2 * n) {
        return ctx.input_error("pads has " + std::to_string(pads.size()) + " entries, expected " +
                               std::to_string(2 * n));
    }
    std::vector<int64_t> begins(static_cast<size_t>(x.rank()), 0), ends(static_cast<size_t>(x.rank()), 0);
    for (size_t i = 0; i < n; ++i) {
        if (pads[i] > kMaxTensorBytes || pads[i] < -kMaxTensorBytes || pads[i + n] > kMaxTensorBytes ||
            pads[i + n] < -kMaxTensorBytes) {
            return ctx.input_error("pads are out of range");
        }
        begins[static_cast<size_t>(axes[i])] = pads[i];
        ends[static_cast<size_t>(axes[i])] = pads[i + n];
    }
    const Tensor* value = nullptr;
    Tensor converted;
    if (mode == PadMode::kConstant && ctx.has_input(2) && ctx.input_value(2).is_tensor() &&
        ctx.input(2).numel() > 0) {
        value = &ctx.input(2);
        if (value->dtype() != x.dtype()) {
            if (x.dtype() == DType::kString || value->dtype() == DType::kString) {
                return ctx.input_error("constant_value does not match the data dtype");
            }
            NNPORT_ASSIGN_OR_RETURN(converted, scalar_of(ctx, x.dtype(), value->item_as_double(0)));
            value = &converted;
        }
    }
    return pad_core(ctx, x, begins, ends, mode, value);
}

const OpDef& op_def_Pad() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Pad";
        o.since_version = 11;
        o.min_inputs = 2;
        o.max_inputs = 4;
        o.attrs = {AttrSpec::s("mode", "constant")};
        o.infer = pad_infer;
        o.kernel = pad_kernel;
        o.half_via_float = false;
        o.doc = "Pads with a constant, reflection, edge or wrap-around values; negative pads crop.";
        return o;
    }();
    return d;
}

// ---------------------------------------------------------------------------------------------------------------
// CenterCropPad

static Status center_crop_pad_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    if (!x.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    auto ax = pad_axes(ctx, ctx.attr_ints("axes"), !ctx.has_attr("axes"), x.rank());
    if (!ax.is_ok()) return model_error(ax.status());
    ConstInts shape = const_ints(ctx, 1);
    std::vector<ir::Dim> out = x.dims;
    if (shape.known && shape.values.size() != ax.value().size()) {
        return ctx.error("shape must have one entry per axis");
    }
    for (size_t i = 0; i < ax.value().size(); ++i) {
        out[static_cast<size_t>(ax.value()[i])] = shape.known ? ir::Dim(shape.values[i]) : ctx.new_dim();
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status center_crop_pad_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(auto shape, int_values(ctx, ctx.input(1), "shape"));
    NNPORT_ASSIGN_OR_RETURN(auto axes, pad_axes(ctx, ctx.attr_ints("axes"), !ctx.has_attr("axes"), x.rank()));
    if (shape.size() != axes.size()) return ctx.input_error("shape must have one entry per axis");
    std::vector<int64_t> begins(static_cast<size_t>(x.rank()), 0), ends(static_cast<size_t>(x.rank()), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
        const size_t a = static_cast<size_t>(axes[i]);
        const int64_t dim = x.shape()[a], want = shape[i];
        if (want < 0 || want > kMaxTensorBytes) return ctx.input_error("shape has an invalid value");
        // Crop takes floor((dim - want) / 2) from the start; pad puts floor((want - dim) / 2) before.
        begins[a] = want >= dim ? (want - dim) / 2 : -((dim - want) / 2);
        ends[a] = want - dim - begins[a];
    }
    return pad_core(ctx, x, begins, ends, PadMode::kConstant, nullptr);
}

const OpDef& op_def_CenterCropPad() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "CenterCropPad";
        o.since_version = 18;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::none("axes", ir::AttrType::kInts)};
        o.infer = center_crop_pad_infer;
        o.kernel = center_crop_pad_kernel;
        o.half_via_float = false;
        o.doc = "Crops or zero-pads each of `axes` to `shape`, centred.";
        return o;
    }();
    return d;
}

}  // namespace nnport

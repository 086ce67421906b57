// Helpers shared by the sequence, optional and control-flow ops.
#include "ops/sequence_util.hpp"

#include <algorithm>
#include <cstring>

namespace nnport {

void copy_elements(const Tensor& src, int64_t src_off, Tensor& dst, int64_t dst_off, int64_t n) {
    if (n <= 0) return;
    if (src.dtype() == DType::kString) {
        std::copy(src.strings() + src_off, src.strings() + src_off + n, dst.strings() + dst_off);
        return;
    }
    const size_t es = dtype_size(src.dtype());
    std::memcpy(static_cast<char*>(dst.raw_data()) + static_cast<size_t>(dst_off) * es,
                static_cast<const char*>(src.raw_data()) + static_cast<size_t>(src_off) * es,
                static_cast<size_t>(n) * es);
}

/// Product of dims [from, to).
static int64_t span(const Shape& s, size_t from, size_t to) {
    int64_t p = 1;
    for (size_t i = from; i < to; ++i) p *= s[i];
    return p;
}

Result<Tensor> slice_along_axis(const Tensor& x, int64_t axis, int64_t start, int64_t len) {
    if (axis < 0 || axis >= x.rank()) return invalid_argument("axis " + std::to_string(axis) + " is out of range");
    const int64_t dim = x.dim(axis);
    if (start < 0 || len < 0 || start + len > dim) {
        return invalid_argument("slice [" + std::to_string(start) + ", " + std::to_string(start + len) +
                                ") is out of range for dimension " + std::to_string(dim));
    }
    Shape out_shape = x.shape();
    out_shape[static_cast<size_t>(axis)] = len;
    NNPORT_ASSIGN_OR_RETURN(Tensor out, Tensor::create(x.dtype(), out_shape));
    const int64_t outer = span(x.shape(), 0, static_cast<size_t>(axis));
    const int64_t inner = span(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
    for (int64_t o = 0; o < outer; ++o) copy_elements(x, (o * dim + start) * inner, out, o * len * inner, len * inner);
    return out;
}

Result<Tensor> take_along_axis(const Tensor& x, int64_t axis, int64_t index) {
    NNPORT_ASSIGN_OR_RETURN(Tensor t, slice_along_axis(x, axis, index, 1));
    Shape s = t.shape();
    s.erase(s.begin() + axis);
    return t.reshaped(std::move(s));
}

Result<Tensor> concat_tensors(const std::vector<Tensor>& items, int64_t axis, bool new_axis) {
    if (items.empty()) return invalid_argument("nothing to concatenate");
    const Tensor& first = items[0];
    const int64_t rank = first.rank();
    if (axis < 0 || axis > rank || (!new_axis && axis == rank)) {
        return invalid_argument("axis " + std::to_string(axis) + " is out of range");
    }
    // View each item with the (new) axis in place so both modes share one copy loop.
    Shape base = first.shape();
    if (new_axis) base.insert(base.begin() + axis, 1);
    int64_t total = 0;
    for (const Tensor& t : items) {
        if (t.dtype() != first.dtype()) {
            return invalid_argument(std::string("dtype ") + dtype_name(t.dtype()) + " differs from " +
                                    dtype_name(first.dtype()));
        }
        Shape s = t.shape();
        if (new_axis) s.insert(s.begin() + axis, 1);
        bool ok = s.size() == base.size();
        for (size_t d = 0; ok && d < s.size(); ++d) ok = static_cast<int64_t>(d) == axis || s[d] == base[d];
        if (!ok) {
            return invalid_argument("shapes " + shape_to_string(first.shape()) + " and " + shape_to_string(t.shape()) +
                                    " cannot be concatenated");
        }
        total += s[static_cast<size_t>(axis)];
    }
    Shape out_shape = base;
    out_shape[static_cast<size_t>(axis)] = total;
    NNPORT_ASSIGN_OR_RETURN(Tensor out, Tensor::create(first.dtype(), out_shape));
    const int64_t outer = span(base, 0, static_cast<size_t>(axis));
    const int64_t inner = span(base, static_cast<size_t>(axis) + 1, base.size());
    int64_t offset = 0;
    for (const Tensor& t : items) {
        const int64_t d = new_axis ? 1 : t.dim(axis);
        for (int64_t o = 0; o < outer; ++o) copy_elements(t, o * d * inner, out, (o * total + offset) * inner, d * inner);
        offset += d;
    }
    return out;
}

ir::ValueType merge_types(InferContext& ctx, const ir::ValueType& a, const ir::ValueType& b) {
    using Kind = ir::ValueType::Kind;
    if (a.kind == Kind::kUnknown) return b;
    if (b.kind == Kind::kUnknown || a.kind != b.kind) return a;
    if (a.kind != Kind::kTensor) {
        ir::ValueType ea = a.elem ? *a.elem : ir::ValueType();
        ir::ValueType eb = b.elem ? *b.elem : ir::ValueType();
        ir::ValueType e = merge_types(ctx, ea, eb);
        return a.kind == Kind::kSequence ? ir::ValueType::sequence(std::move(e)) : ir::ValueType::optional(std::move(e));
    }
    ir::ValueType t = ir::ValueType::tensor(a.dtype != DType::kUndefined ? a.dtype : b.dtype);
    if (a.has_shape && b.has_shape && a.dims.size() == b.dims.size()) {
        t.has_shape = true;
        for (size_t i = 0; i < a.dims.size(); ++i) t.dims.push_back(a.dims[i] == b.dims[i] ? a.dims[i] : ctx.new_dim());
    }
    return t;
}

ir::ValueType relax_dims(InferContext& ctx, const ir::ValueType& t) {
    if (t.kind == ir::ValueType::Kind::kTensor) {
        ir::ValueType r = t;
        for (ir::Dim& d : r.dims) d = ctx.new_dim();
        return r;
    }
    if (t.kind == ir::ValueType::Kind::kUnknown || !t.elem) return t;
    ir::ValueType e = relax_dims(ctx, *t.elem);
    return t.kind == ir::ValueType::Kind::kSequence ? ir::ValueType::sequence(std::move(e))
                                                     : ir::ValueType::optional(std::move(e));
}

Result<int64_t> scalar_int_input(const KernelContext& ctx, size_t i, const char* what) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& t = ctx.input(i);
    if (t.dtype() != DType::kInt32 && t.dtype() != DType::kInt64) {
        return ctx.input_error(std::string(what) + " must be int32 or int64, got " + dtype_name(t.dtype()));
    }
    if (t.numel() != 1) return ctx.input_error(std::string(what) + " must have one element");
    return t.item_as_int(0);
}

ir::Graph* mutable_graph_attr(InferContext& ctx, const char* name) {
    // Inference owns the graph being typed; the node's attribute is the only handle on its subgraph.
    return const_cast<ir::Graph*>(ctx.attr_graph(name));
}

Result<std::vector<RtValue>> run_body(const KernelContext& ctx, const ir::Graph& g, std::vector<RtValue> inputs,
                                      size_t want_outputs) {
    if (!ctx.subgraphs()) return ctx.error("subgraphs cannot run here");
    NNPORT_ASSIGN_OR_RETURN(std::vector<RtValue> outs, ctx.subgraphs()->run(g, std::move(inputs)));
    if (outs.size() != want_outputs) {
        return ctx.error("body '" + g.name() + "' produced " + std::to_string(outs.size()) + " outputs, expected " +
                         std::to_string(want_outputs));
    }
    return outs;
}

Result<bool> read_condition(const KernelContext& ctx, const RtValue& v, const char* what) {
    if (!v.is_tensor() || v.tensor.numel() != 1 || v.tensor.dtype() == DType::kString) {
        return ctx.input_error(std::string(what) + " must be a tensor with one element");
    }
    if (v.tensor.dtype() == DType::kBool) return v.tensor.data<bool>()[0];
    return v.tensor.item_as_double(0) != 0.0;
}

void type_body_input(ir::Graph& g, size_t i, const ir::ValueType& t) {
    if (i >= g.inputs().size()) return;
    ir::ValueType& cur = g.inputs()[i]->type;
    if (cur.kind == ir::ValueType::Kind::kUnknown) {
        cur = t;
    } else if (cur.is_tensor() && t.is_tensor()) {
        if (cur.dtype == DType::kUndefined) cur.dtype = t.dtype;
        if (!cur.has_shape && t.has_shape) {
            cur.has_shape = true;
            cur.dims = t.dims;
        }
    } else if (cur.kind == t.kind && t.elem && (!cur.elem || cur.elem->kind == ir::ValueType::Kind::kUnknown)) {
        cur.elem = t.elem;  // a sequence/optional declared without its element type
    }
}

const ir::ValueType& body_output_type(const ir::Graph& g, size_t i) {
    static const ir::ValueType kUnknown;
    return i < g.outputs().size() ? g.outputs()[i]->type : kUnknown;
}

Result<Tensor> stack_outputs(const KernelContext& ctx, const std::vector<Tensor>& items, int64_t axis,
                             const ir::ValueType& type) {
    if (!items.empty()) {
        auto r = concat_tensors(items, axis, true);
        if (!r.is_ok()) return ctx.input_error("scan output: " + r.status().message());
        return r;
    }
    Shape s;
    if (type.is_static()) s = type.static_shape();
    if (axis > static_cast<int64_t>(s.size())) axis = static_cast<int64_t>(s.size());
    s.insert(s.begin() + axis, 0);
    const DType dt = type.dtype == DType::kUndefined ? DType::kFloat32 : type.dtype;
    return Tensor::create(dt, s);
}

}  // namespace nnport

// Sequence ops: SequenceEmpty/Construct/At/Insert/Erase/Length, SplitToSequence, ConcatFromSequence.
#include "ops/sequence_util.hpp"

namespace nnport {

namespace {

/// Input i as a sequence, or an error naming the node.
Result<const RtValue*> sequence_input(const KernelContext& ctx, size_t i) {
    const RtValue* v = optional_input(ctx, i);
    if (!v || !v->is_sequence()) return ctx.input_error("input " + std::to_string(i) + " must be a sequence");
    return v;
}

/// The element type of an inferred sequence type (unknown if not a known sequence).
ir::ValueType elem_of(const ir::ValueType& t) {
    if (t.kind == ir::ValueType::Kind::kSequence && t.elem) return *t.elem;
    return ir::ValueType();
}

/// A sequence position in [-n, n) (or [-n, n] when `allow_end`), normalized.
Result<size_t> seq_position(const KernelContext& ctx, int64_t pos, size_t n, bool allow_end) {
    const int64_t sn = static_cast<int64_t>(n);
    const int64_t hi = allow_end ? sn : sn - 1;
    if (pos < -sn || pos > hi) {
        return ctx.input_error("position " + std::to_string(pos) + " is out of range for a sequence of " +
                               std::to_string(n) + " tensors");
    }
    return static_cast<size_t>(pos < 0 ? pos + sn : pos);
}

Status empty_infer(InferContext& ctx) {
    const int64_t dt = ctx.attr_int("dtype");
    if (!dtype_is_valid(static_cast<int32_t>(dt)) || dt == 0) return ctx.error("invalid dtype " + std::to_string(dt));
    ctx.set_output(0, ir::ValueType::sequence(ir::ValueType::tensor(static_cast<DType>(dt))));
    return Status::ok();
}

Status empty_kernel(KernelContext& ctx) {
    const int64_t dt = ctx.attr_int("dtype");
    if (!dtype_is_valid(static_cast<int32_t>(dt)) || dt == 0) return ctx.error("invalid dtype " + std::to_string(dt));
    ctx.set_output_value(0, RtValue::make_sequence({}, static_cast<DType>(dt)));
    return Status::ok();
}

Status construct_infer(InferContext& ctx) {
    ir::ValueType e = ctx.input_type(0);
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
        const ir::ValueType& t = ctx.input_type(i);
        if (e.is_tensor() && t.is_tensor() && e.dtype != DType::kUndefined && t.dtype != DType::kUndefined &&
            e.dtype != t.dtype) {
            return ctx.error("all inputs must have the same dtype");
        }
        e = merge_types(ctx, e, t);
    }
    ctx.set_output(0, ir::ValueType::sequence(e));
    return Status::ok();
}

Status construct_kernel(KernelContext& ctx) {
    std::vector<Tensor> items;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
        if (ctx.input(i).dtype() != ctx.input(0).dtype()) return ctx.input_error("all inputs must have the same dtype");
        items.push_back(ctx.input(i));
    }
    ctx.set_output_value(0, RtValue::make_sequence(std::move(items), ctx.input(0).dtype()));
    return Status::ok();
}

Status at_infer(InferContext& ctx) {
    ir::ValueType e = elem_of(ctx.input_type(0));
    ctx.set_output(0, e.kind == ir::ValueType::Kind::kUnknown ? ir::ValueType::tensor(DType::kUndefined) : e);
    return Status::ok();
}

Status at_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(const RtValue* seq, sequence_input(ctx, 0));
    NNPORT_ASSIGN_OR_RETURN(int64_t pos, scalar_int_input(ctx, 1, "position"));
    NNPORT_ASSIGN_OR_RETURN(size_t p, seq_position(ctx, pos, seq->sequence.size(), false));
    ctx.set_output(0, seq->sequence[p]);
    return Status::ok();
}

Status insert_infer(InferContext& ctx) {
    const ir::ValueType e = elem_of(ctx.input_type(0));
    const ir::ValueType& t = ctx.input_type(1);
    if (e.is_tensor() && t.is_tensor() && e.dtype != DType::kUndefined && t.dtype != DType::kUndefined &&
        e.dtype != t.dtype) {
        return ctx.error(std::string("cannot insert a ") + dtype_name(t.dtype) + " tensor into a sequence of " +
                         dtype_name(e.dtype));
    }
    ctx.set_output(0, ir::ValueType::sequence(merge_types(ctx, e, t)));
    return Status::ok();
}

Status insert_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(const RtValue* seq, sequence_input(ctx, 0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& t = ctx.input(1);
    DType dt = seq->seq_dtype;
    if (dt == DType::kUndefined && !seq->sequence.empty()) dt = seq->sequence[0].dtype();
    if (dt != DType::kUndefined && t.dtype() != dt) {
        return ctx.input_error(std::string("cannot insert a ") + dtype_name(t.dtype()) + " tensor into a sequence of " +
                               dtype_name(dt));
    }
    size_t p = seq->sequence.size();
    if (ctx.has_input(2)) {
        NNPORT_ASSIGN_OR_RETURN(int64_t pos, scalar_int_input(ctx, 2, "position"));
        NNPORT_ASSIGN_OR_RETURN(p, seq_position(ctx, pos, seq->sequence.size(), true));
    }
    std::vector<Tensor> items = seq->sequence;
    items.insert(items.begin() + static_cast<std::ptrdiff_t>(p), t);
    ctx.set_output_value(0, RtValue::make_sequence(std::move(items), t.dtype()));
    return Status::ok();
}

Status erase_infer(InferContext& ctx) {
    ir::ValueType t = ctx.input_type(0);
    if (t.kind == ir::ValueType::Kind::kUnknown) t = ir::ValueType::sequence(ir::ValueType());
    ctx.set_output(0, t);
    return Status::ok();
}

Status erase_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(const RtValue* seq, sequence_input(ctx, 0));
    int64_t pos = -1;
    if (ctx.has_input(1)) {
        NNPORT_ASSIGN_OR_RETURN(pos, scalar_int_input(ctx, 1, "position"));
    }
    NNPORT_ASSIGN_OR_RETURN(size_t p, seq_position(ctx, pos, seq->sequence.size(), false));
    std::vector<Tensor> items = seq->sequence;
    items.erase(items.begin() + static_cast<std::ptrdiff_t>(p));
    ctx.set_output_value(0, RtValue::make_sequence(std::move(items), seq->seq_dtype));
    return Status::ok();
}

Status length_infer(InferContext& ctx) {
    ctx.set_output(0, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{}));
    return Status::ok();
}

Status length_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(const RtValue* seq, sequence_input(ctx, 0));
    ctx.set_output(0, Tensor::scalar<int64_t>(static_cast<int64_t>(seq->sequence.size())));
    return Status::ok();
}

Status split_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    ir::ValueType e = ir::ValueType::tensor(x.dtype);
    if (x.has_shape) {
        NNPORT_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.attr_int("axis"), x.rank()));
        e.has_shape = true;
        e.dims = x.dims;
        if (ctx.has_input(1)) {
            e.dims[static_cast<size_t>(axis)] = ctx.new_dim();
        } else if (ctx.attr_int("keepdims") != 0) {
            e.dims[static_cast<size_t>(axis)] = ir::Dim(1);
        } else {
            e.dims.erase(e.dims.begin() + axis);
        }
    }
    ctx.set_output(0, ir::ValueType::sequence(e));
    return Status::ok();
}

Status split_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.rank() == 0) return ctx.input_error("cannot split a scalar");
    auto axis_r = normalize_axis(ctx.attr_int("axis"), x.rank());
    if (!axis_r.is_ok()) return ctx.error(axis_r.status().message());
    const int64_t axis = axis_r.value();
    const int64_t dim = x.dim(axis);
    std::vector<int64_t> sizes;
    bool squeeze = false;
    if (ctx.has_input(1)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
        const Tensor& s = ctx.input(1);
        if (s.dtype() != DType::kInt32 && s.dtype() != DType::kInt64) return ctx.input_error("split must be int32/int64");
        if (s.rank() == 0) {
            const int64_t chunk = s.item_as_int(0);
            if (chunk <= 0) return ctx.input_error("split size must be positive, got " + std::to_string(chunk));
            for (int64_t done = 0; done < dim; done += chunk) sizes.push_back(std::min(chunk, dim - done));
        } else if (s.rank() == 1) {
            int64_t sum = 0;
            for (int64_t v : s.to_int_vector()) {
                if (v < 0) return ctx.input_error("split sizes must not be negative");
                sum += v;
                if (sum > dim) break;
                sizes.push_back(v);
            }
            if (sum != dim || static_cast<int64_t>(sizes.size()) != s.numel()) {
                return ctx.input_error("split sizes do not add up to dimension " + std::to_string(dim));
            }
        } else {
            return ctx.input_error("split must be a scalar or 1-D");
        }
    } else {
        sizes.assign(static_cast<size_t>(dim), 1);
        squeeze = ctx.attr_int("keepdims") == 0;
    }
    std::vector<Tensor> items;
    int64_t start = 0;
    for (int64_t n : sizes) {
        NNPORT_ASSIGN_OR_RETURN(Tensor t, squeeze ? take_along_axis(x, axis, start) : slice_along_axis(x, axis, start, n));
        items.push_back(std::move(t));
        start += n;
    }
    ctx.set_output_value(0, RtValue::make_sequence(std::move(items), x.dtype()));
    return Status::ok();
}

Status concat_infer(InferContext& ctx) {
    const ir::ValueType e = elem_of(ctx.input_type(0));
    ir::ValueType out = ir::ValueType::tensor(e.dtype);
    const bool new_axis = ctx.attr_int("new_axis") != 0;
    if (e.has_shape) {
        const int64_t r = e.rank() + (new_axis ? 1 : 0);
        NNPORT_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.attr_int("axis"), r));
        out.has_shape = true;
        out.dims = e.dims;
        if (new_axis) out.dims.insert(out.dims.begin() + axis, ctx.new_dim());
        else out.dims[static_cast<size_t>(axis)] = ctx.new_dim();
    }
    ctx.set_output(0, out);
    return Status::ok();
}

Status concat_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(const RtValue* seq, sequence_input(ctx, 0));
    if (seq->sequence.empty()) return ctx.input_error("cannot concatenate an empty sequence");
    const bool new_axis = ctx.attr_int("new_axis") != 0;
    const int64_t r = seq->sequence[0].rank() + (new_axis ? 1 : 0);
    auto axis = normalize_axis(ctx.attr_int("axis"), r);
    if (!axis.is_ok()) return ctx.input_error(axis.status().message());
    auto out = concat_tensors(seq->sequence, axis.value(), new_axis);
    if (!out.is_ok()) return ctx.input_error(out.status().message());
    ctx.set_output(0, std::move(out).value());
    return Status::ok();
}

OpDef seq_op(const char* name, int since, int min_in, int max_in, InferFn infer, KernelFn kernel, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    o.min_inputs = min_in;
    o.max_inputs = max_in;
    o.infer = infer;
    o.kernel = kernel;
    o.half_via_float = false;  // tensors are stored as they are
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_SequenceEmpty() {
    static const OpDef d = [] {
        OpDef o = seq_op("SequenceEmpty", 11, 0, 0, empty_infer, empty_kernel, "An empty sequence of `dtype`.");
        o.attrs = {AttrSpec::i("dtype", static_cast<int64_t>(DType::kFloat32))};
        return o;
    }();
    return d;
}

const OpDef& op_def_SequenceConstruct() {
    static const OpDef d =
        seq_op("SequenceConstruct", 11, 1, -1, construct_infer, construct_kernel, "A sequence of the input tensors.");
    return d;
}

const OpDef& op_def_SequenceAt() {
    static const OpDef d = seq_op("SequenceAt", 11, 2, 2, at_infer, at_kernel, "The tensor at `position`.");
    return d;
}

const OpDef& op_def_SequenceInsert() {
    static const OpDef d = seq_op("SequenceInsert", 11, 2, 3, insert_infer, insert_kernel,
                                  "Inserts a tensor at `position` (default: the end).");
    return d;
}

const OpDef& op_def_SequenceErase() {
    static const OpDef d = seq_op("SequenceErase", 11, 1, 2, erase_infer, erase_kernel,
                                  "Removes the tensor at `position` (default: the last).");
    return d;
}

const OpDef& op_def_SequenceLength() {
    static const OpDef d = seq_op("SequenceLength", 11, 1, 1, length_infer, length_kernel, "Number of tensors.");
    return d;
}

const OpDef& op_def_SplitToSequence() {
    static const OpDef d = [] {
        OpDef o = seq_op("SplitToSequence", 11, 1, 2, split_infer, split_kernel,
                         "Splits a tensor along `axis` into a sequence (by `split` sizes, or into single slices).");
        o.attrs = {AttrSpec::i("axis", 0), AttrSpec::i("keepdims", 1)};
        return o;
    }();
    return d;
}

const OpDef& op_def_ConcatFromSequence() {
    static const OpDef d = [] {
        OpDef o = seq_op("ConcatFromSequence", 11, 1, 1, concat_infer, concat_kernel,
                         "Concatenates a sequence along `axis` (stacks along a new axis when `new_axis`).");
        o.attrs = {AttrSpec::none("axis", ir::AttrType::kInt, true), AttrSpec::i("new_axis", 0)};
        return o;
    }();
    return d;
}

}  // namespace nnport

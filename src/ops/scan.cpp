// Scan: iterates a body over slices of its scan inputs, carrying state; opset 9+ semantics and opset 8's batched form.
#include <algorithm>

#include "ops/sequence_util.hpp"

namespace nnport {

namespace {

/// Body and counts shared by inference and the kernel.
struct ScanShape {
    const ir::Graph* body = nullptr;
    size_t first_state = 0;  ///< 1 in opset 8 (after sequence_lens)
    size_t n_state = 0, n_in = 0, n_out = 0;
};

Result<ScanShape> scan_shape(const AttrAccess& a, size_t num_inputs, size_t num_outputs) {
    ScanShape s;
    s.body = a.attr_graph("body");
    if (!s.body) return a.error("needs a body graph");
    s.first_state = a.opset() < 9 ? 1 : 0;
    const int64_t m = a.attr_int("num_scan_inputs");
    if (m < 1 || static_cast<size_t>(m) + s.first_state > num_inputs) {
        return a.error("num_scan_inputs " + std::to_string(m) + " does not fit " + std::to_string(num_inputs) + " inputs");
    }
    s.n_in = static_cast<size_t>(m);
    s.n_state = num_inputs - s.first_state - s.n_in;
    if (num_outputs < s.n_state) return a.error("fewer outputs than state variables");
    s.n_out = num_outputs - s.n_state;
    if (s.body->inputs().size() != s.n_state + s.n_in || s.body->outputs().size() != s.n_state + s.n_out) {
        return a.error("body has " + std::to_string(s.body->inputs().size()) + " inputs and " +
                       std::to_string(s.body->outputs().size()) + " outputs, expected " +
                       std::to_string(s.n_state + s.n_in) + " and " + std::to_string(s.n_state + s.n_out));
    }
    return s;
}

/// Per-input (or per-output) attribute list, defaulting to zeros; error if its length is wrong.
Result<std::vector<int64_t>> per_item(const AttrAccess& a, const char* name, size_t n) {
    std::vector<int64_t> v = a.attr_ints(name);
    if (v.empty()) return std::vector<int64_t>(n, 0);
    if (v.size() != n) return a.error(std::string(name) + " must have " + std::to_string(n) + " entries");
    return v;
}

/// The scan loop: `length` iterations over slices of `inputs` along `axes` (reversed where `rev`).
Status scan_loop(const KernelContext& ctx, const ScanShape& s, std::vector<RtValue>& states,
                 const std::vector<Tensor>& inputs, const std::vector<int64_t>& axes, const std::vector<int64_t>& rev,
                 int64_t length, std::vector<std::vector<Tensor>>& scans) {
    scans.assign(s.n_out, {});
    int64_t bytes = 0;
    for (int64_t it = 0; it < length; ++it) {
        std::vector<RtValue> ins = std::move(states);
        for (size_t i = 0; i < s.n_in; ++i) {
            const int64_t at = rev[i] ? length - 1 - it : it;
            NNPORT_ASSIGN_OR_RETURN(Tensor slice, take_along_axis(inputs[i], axes[i], at));
            ins.emplace_back(std::move(slice));
        }
        NNPORT_ASSIGN_OR_RETURN(std::vector<RtValue> outs, run_body(ctx, *s.body, std::move(ins), s.n_state + s.n_out));
        states.assign(outs.begin(), outs.begin() + static_cast<std::ptrdiff_t>(s.n_state));
        for (size_t k = 0; k < s.n_out; ++k) {
            RtValue& o = outs[s.n_state + k];
            if (!o.is_tensor()) return ctx.input_error("scan output " + std::to_string(k) + " is not a tensor");
            bytes += static_cast<int64_t>(o.tensor.nbytes());
            if (bytes > kMaxTensorBytes) return ctx.input_error("scan outputs exceed the tensor size limit");
            scans[k].push_back(std::move(o.tensor));
        }
    }
    return Status::ok();
}

/// `t` without dims [0, drop).
ir::ValueType drop_leading(const ir::ValueType& t, size_t drop) {
    ir::ValueType r = t;
    if (r.is_tensor() && r.has_shape) {
        if (r.dims.size() < drop) return ir::ValueType::tensor(t.dtype);
        r.dims.erase(r.dims.begin(), r.dims.begin() + static_cast<std::ptrdiff_t>(drop));
    }
    return r;
}

Status scan_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(ScanShape s, scan_shape(ctx, ctx.num_inputs(), ctx.num_outputs()));
    ir::Graph* body = mutable_graph_attr(ctx, "body");
    const bool batched = s.first_state == 1;
    NNPORT_ASSIGN_OR_RETURN(auto in_axes, per_item(ctx, "scan_input_axes", s.n_in));
    NNPORT_ASSIGN_OR_RETURN(auto out_axes, per_item(ctx, "scan_output_axes", s.n_out));
    ir::Dim seq_dim = ctx.new_dim(), batch_dim = ctx.new_dim();
    for (size_t i = 0; i < s.n_state; ++i) {
        const ir::ValueType& t = ctx.input_type(s.first_state + i);
        if (batched && t.has_shape && !t.dims.empty()) batch_dim = t.dims[0];
        type_body_input(*body, i, batched ? drop_leading(t, 1) : t);
    }
    for (size_t i = 0; i < s.n_in; ++i) {
        ir::ValueType t = ctx.input_type(s.first_state + s.n_state + i);
        if (t.is_tensor() && t.has_shape) {
            if (batched) {
                if (t.dims.size() >= 2) {
                    batch_dim = t.dims[0];
                    seq_dim = t.dims[1];
                }
                t = drop_leading(t, 2);
            } else {
                NNPORT_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(in_axes[i], t.rank()));
                if (i == 0) seq_dim = t.dims[static_cast<size_t>(axis)];
                t.dims.erase(t.dims.begin() + axis);
            }
        }
        type_body_input(*body, s.n_state + i, t);
    }
    for (size_t i = 0; i < s.n_state; ++i) {
        ir::ValueType t = merge_types(ctx, drop_leading(ctx.input_type(s.first_state + i), batched ? 1 : 0),
                                      body_output_type(*body, i));
        if (batched && t.is_tensor() && t.has_shape) t.dims.insert(t.dims.begin(), batch_dim);
        ctx.set_output(i, t);
    }
    for (size_t k = 0; k < s.n_out; ++k) {
        const ir::ValueType& e = body_output_type(*body, s.n_state + k);
        ir::ValueType t = ir::ValueType::tensor(e.dtype);
        if (e.is_tensor() && e.has_shape) {
            t.has_shape = true;
            t.dims = e.dims;
            if (batched) {
                t.dims.insert(t.dims.begin(), {batch_dim, seq_dim});
            } else {
                NNPORT_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(out_axes[k], e.rank() + 1));
                t.dims.insert(t.dims.begin() + axis, seq_dim);
            }
        }
        ctx.set_output(s.n_state + k, t);
    }
    return Status::ok();
}

/// Opset 9+: scan inputs sliced along scan_input_axes, outputs stacked along scan_output_axes.
Status scan9_kernel(KernelContext& ctx, const ScanShape& s) {
    NNPORT_ASSIGN_OR_RETURN(auto in_axes, per_item(ctx, "scan_input_axes", s.n_in));
    NNPORT_ASSIGN_OR_RETURN(auto in_rev, per_item(ctx, "scan_input_directions", s.n_in));
    NNPORT_ASSIGN_OR_RETURN(auto out_axes, per_item(ctx, "scan_output_axes", s.n_out));
    NNPORT_ASSIGN_OR_RETURN(auto out_rev, per_item(ctx, "scan_output_directions", s.n_out));
    std::vector<RtValue> states;
    for (size_t i = 0; i < s.n_state; ++i) {
        const RtValue* v = optional_input(ctx, i);
        if (!v) return ctx.input_error("state input " + std::to_string(i) + " is missing");
        states.push_back(*v);
    }
    std::vector<Tensor> inputs;
    int64_t length = -1;
    for (size_t i = 0; i < s.n_in; ++i) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(s.n_state + i));
        const Tensor& x = ctx.input(s.n_state + i);
        auto axis = normalize_axis(in_axes[i], x.rank());
        if (!axis.is_ok()) return ctx.input_error("scan input " + std::to_string(i) + ": " + axis.status().message());
        in_axes[i] = axis.value();
        const int64_t len = x.dim(in_axes[i]);
        if (length >= 0 && len != length) {
            return ctx.input_error("scan inputs have different lengths (" + std::to_string(length) + " and " +
                                   std::to_string(len) + ")");
        }
        length = len;
        inputs.push_back(x);
    }
    std::vector<std::vector<Tensor>> scans;
    NNPORT_RETURN_IF_ERROR(scan_loop(ctx, s, states, inputs, in_axes, in_rev, length, scans));
    for (size_t i = 0; i < s.n_state; ++i) ctx.set_output_value(i, std::move(states[i]));
    for (size_t k = 0; k < s.n_out; ++k) {
        const ir::ValueType& et = body_output_type(*s.body, s.n_state + k);
        const int64_t elem_rank = scans[k].empty() ? std::max<int64_t>(et.rank(), 0) : scans[k][0].rank();
        auto axis = normalize_axis(out_axes[k], elem_rank + 1);
        if (!axis.is_ok()) return ctx.error("scan output " + std::to_string(k) + ": " + axis.status().message());
        if (out_rev[k]) std::reverse(scans[k].begin(), scans[k].end());
        NNPORT_ASSIGN_OR_RETURN(Tensor t, stack_outputs(ctx, scans[k], axis.value(), et));
        ctx.set_output(s.n_state + k, std::move(t));
    }
    return Status::ok();
}

/// Opset 8: every state and scan input has a leading batch dim; scan inputs are [batch, seq, ...] and each batch
/// entry runs for its sequence_lens entry (scan outputs zero-padded to the full length).
Status scan8_kernel(KernelContext& ctx, const ScanShape& s) {
    NNPORT_ASSIGN_OR_RETURN(auto in_rev, per_item(ctx, "directions", s.n_in));
    const size_t first_in = 1 + s.n_state;
    int64_t batch = -1, seq = -1;
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
        const Tensor& x = ctx.input(i);
        const int64_t need_rank = i >= first_in ? 2 : 1;
        if (x.rank() < need_rank) return ctx.input_error("input " + std::to_string(i) + " lacks the batch/sequence dims");
        if (batch >= 0 && x.dim(0) != batch) return ctx.input_error("inputs disagree on the batch size");
        batch = x.dim(0);
        if (i >= first_in) {
            if (seq >= 0 && x.dim(1) != seq) return ctx.input_error("scan inputs have different lengths");
            seq = x.dim(1);
        }
    }
    std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
    if (ctx.has_input(0)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& sl = ctx.input(0);
        if (sl.numel() != batch || dtype_is_float(sl.dtype())) return ctx.input_error("sequence_lens must be [batch] ints");
        for (int64_t b = 0; b < batch; ++b) {
            lens[static_cast<size_t>(b)] = sl.item_as_int(b);
            if (lens[static_cast<size_t>(b)] < 0 || lens[static_cast<size_t>(b)] > seq) {
                return ctx.input_error("sequence_lens entry out of range [0, " + std::to_string(seq) + "]");
            }
        }
    }
    std::vector<std::vector<Tensor>> state_parts(s.n_state), scan_parts(s.n_out);
    const std::vector<int64_t> axes(s.n_in, 0);
    for (int64_t b = 0; b < batch; ++b) {
        std::vector<RtValue> states;
        for (size_t i = 0; i < s.n_state; ++i) {
            NNPORT_ASSIGN_OR_RETURN(Tensor t, take_along_axis(ctx.input(1 + i), 0, b));
            states.emplace_back(std::move(t));
        }
        const int64_t len = lens[static_cast<size_t>(b)];
        std::vector<Tensor> inputs;
        for (size_t i = 0; i < s.n_in; ++i) {
            NNPORT_ASSIGN_OR_RETURN(Tensor t, take_along_axis(ctx.input(first_in + i), 0, b));
            NNPORT_ASSIGN_OR_RETURN(Tensor u, slice_along_axis(t, 0, 0, len));
            inputs.push_back(std::move(u));
        }
        std::vector<std::vector<Tensor>> scans;
        NNPORT_RETURN_IF_ERROR(scan_loop(ctx, s, states, inputs, axes, in_rev, len, scans));
        for (size_t i = 0; i < s.n_state; ++i) {
            if (!states[i].is_tensor()) return ctx.input_error("state output " + std::to_string(i) + " is not a tensor");
            state_parts[i].push_back(states[i].tensor);
        }
        for (size_t k = 0; k < s.n_out; ++k) {
            NNPORT_ASSIGN_OR_RETURN(Tensor got, stack_outputs(ctx, scans[k], 0, body_output_type(*s.body, s.n_state + k)));
            Shape full = got.shape();
            full[0] = seq;
            NNPORT_ASSIGN_OR_RETURN(Tensor padded, Tensor::create(got.dtype(), full, true));
            copy_elements(got, 0, padded, 0, got.numel());
            scan_parts[k].push_back(std::move(padded));
        }
    }
    for (size_t i = 0; i < s.n_state; ++i) {
        if (batch == 0) return ctx.input_error("batch size 0 is not supported");
        auto t = concat_tensors(state_parts[i], 0, true);
        if (!t.is_ok()) return ctx.input_error(t.status().message());
        ctx.set_output(i, std::move(t).value());
    }
    for (size_t k = 0; k < s.n_out; ++k) {
        if (batch == 0) return ctx.input_error("batch size 0 is not supported");
        auto t = concat_tensors(scan_parts[k], 0, true);
        if (!t.is_ok()) return ctx.input_error(t.status().message());
        ctx.set_output(s.n_state + k, std::move(t).value());
    }
    return Status::ok();
}

Status scan_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(ScanShape s, scan_shape(ctx, ctx.num_inputs(), ctx.num_outputs()));
    return s.first_state == 1 ? scan8_kernel(ctx, s) : scan9_kernel(ctx, s);
}

}  // namespace

const OpDef& op_def_Scan() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Scan";
        o.since_version = 8;
        o.min_inputs = 1;
        o.max_inputs = -1;
        o.min_outputs = 1;
        o.max_outputs = -1;
        o.attrs = {AttrSpec::none("body", ir::AttrType::kGraph, true),
                   AttrSpec::none("num_scan_inputs", ir::AttrType::kInt, true),
                   AttrSpec::ints("scan_input_axes"),
                   AttrSpec::ints("scan_input_directions"),
                   AttrSpec::ints("scan_output_axes"),
                   AttrSpec::ints("scan_output_directions"),
                   AttrSpec::ints("directions")};
        o.infer = scan_infer;
        o.kernel = scan_kernel;
        o.half_via_float = false;
        o.doc = "Runs body once per slice of the scan inputs, carrying state; per-iteration outputs are stacked.";
        return o;
    }();
    return d;
}

}  // namespace nnport

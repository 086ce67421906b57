// Control flow: If, Loop and Scan (opset 9+ semantics, and opset 8's batched form), running body subgraphs.
#include "ops/sequence_util.hpp"

namespace nnport {

namespace {

constexpr int64_t kMaxLoopIterations = int64_t{1} << 31;

// ---------------------------------------------------------------- If

Status if_infer(InferContext& ctx) {
    const ir::Graph* then_g = ctx.attr_graph("then_branch");
    const ir::Graph* else_g = ctx.attr_graph("else_branch");
    if (!then_g || !else_g) return ctx.error("needs then_branch and else_branch graphs");
    if (then_g->outputs().size() != ctx.num_outputs() || else_g->outputs().size() != ctx.num_outputs()) {
        return ctx.error("branches have " + std::to_string(then_g->outputs().size()) + " and " +
                         std::to_string(else_g->outputs().size()) + " outputs, the node " +
                         std::to_string(ctx.num_outputs()));
    }
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
        ctx.set_output(i, merge_types(ctx, then_g->outputs()[i]->type, else_g->outputs()[i]->type));
    }
    return Status::ok();
}

Status if_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_ASSIGN_OR_RETURN(bool cond, read_condition(ctx, ctx.input_value(0), "cond"));
    const ir::Graph* g = ctx.attr_graph(cond ? "then_branch" : "else_branch");
    if (!g) return ctx.error("missing branch graph");
    NNPORT_ASSIGN_OR_RETURN(std::vector<RtValue> outs, run_body(ctx, *g, {}, ctx.num_outputs()));
    for (size_t i = 0; i < outs.size(); ++i) ctx.set_output_value(i, std::move(outs[i]));
    return Status::ok();
}

// ---------------------------------------------------------------- Loop

Status loop_infer(InferContext& ctx) {
    ir::Graph* body = mutable_graph_attr(ctx, "body");
    if (!body) return ctx.error("needs a body graph");
    if (ctx.num_inputs() < 2) return ctx.error("needs the M and cond inputs (possibly empty)");
    const size_t n_carried = ctx.num_inputs() - 2;
    if (body->inputs().size() != n_carried + 2) {
        return ctx.error("body takes " + std::to_string(body->inputs().size()) + " inputs, expected " +
                         std::to_string(n_carried + 2));
    }
    if (body->outputs().size() < n_carried + 1 || ctx.num_outputs() != body->outputs().size() - 1) {
        return ctx.error("body has " + std::to_string(body->outputs().size()) + " outputs; expected cond, " +
                         std::to_string(n_carried) + " loop-carried and one per scan output");
    }
    type_body_input(*body, 0, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{}));
    type_body_input(*body, 1, ir::ValueType::tensor(DType::kBool, std::vector<ir::Dim>{}));
    for (size_t i = 0; i < n_carried; ++i) {
        // Loop-carried shapes may change from one iteration to the next: the body sees symbolic dims.
        type_body_input(*body, i + 2, relax_dims(ctx, ctx.input_type(i + 2)));
    }
    for (size_t i = 0; i < n_carried; ++i) {
        ctx.set_output(i, merge_types(ctx, ctx.input_type(i + 2), body_output_type(*body, i + 1)));
    }
    for (size_t k = n_carried; k < ctx.num_outputs(); ++k) {
        const ir::ValueType& e = body_output_type(*body, k + 1);
        ir::ValueType t = ir::ValueType::tensor(e.dtype);
        if (e.has_shape) {
            t.has_shape = true;
            t.dims = e.dims;
            t.dims.insert(t.dims.begin(), ctx.new_dim());
        }
        ctx.set_output(k, t);
    }
    return Status::ok();
}

Status loop_kernel(KernelContext& ctx) {
    const ir::Graph* body = ctx.attr_graph("body");
    if (!body || ctx.num_inputs() < 2) return ctx.error("needs a body graph and the M and cond inputs");
    const size_t n_carried = ctx.num_inputs() - 2;
    const size_t n_scan = ctx.num_outputs() - n_carried;
    int64_t max_trip = -1;  // none
    if (ctx.has_input(0)) {
        NNPORT_ASSIGN_OR_RETURN(max_trip, scalar_int_input(ctx, 0, "M"));
        if (max_trip < 0) max_trip = 0;
    }
    bool cond = true;
    if (ctx.has_input(1)) {
        NNPORT_ASSIGN_OR_RETURN(cond, read_condition(ctx, ctx.input_value(1), "cond"));
    }
    std::vector<RtValue> carried;
    for (size_t i = 0; i < n_carried; ++i) {
        const RtValue* v = optional_input(ctx, i + 2);
        carried.push_back(v ? *v : RtValue());
    }
    std::vector<std::vector<Tensor>> scans(n_scan);
    int64_t scan_bytes = 0;
    // Like ONNX Runtime, the body's cond output ends the loop even when the cond input is omitted.
    for (int64_t it = 0; cond && (max_trip < 0 || it < max_trip); ++it) {
        if (it >= kMaxLoopIterations) return ctx.input_error("the loop ran for 2^31 iterations without ending");
        std::vector<RtValue> ins;
        ins.reserve(n_carried + 2);
        ins.emplace_back(Tensor::scalar<int64_t>(it));
        ins.emplace_back(Tensor::scalar<bool>(cond));
        for (RtValue& v : carried) ins.push_back(std::move(v));
        NNPORT_ASSIGN_OR_RETURN(std::vector<RtValue> outs, run_body(ctx, *body, std::move(ins), 1 + n_carried + n_scan));
        NNPORT_ASSIGN_OR_RETURN(cond, read_condition(ctx, outs[0], "the body's cond output"));
        for (size_t i = 0; i < n_carried; ++i) carried[i] = std::move(outs[1 + i]);
        for (size_t k = 0; k < n_scan; ++k) {
            RtValue& o = outs[1 + n_carried + k];
            if (!o.is_tensor()) return ctx.input_error("scan output " + std::to_string(k) + " is not a tensor");
            scan_bytes += static_cast<int64_t>(o.tensor.nbytes());
            if (scan_bytes > kMaxTensorBytes) return ctx.input_error("scan outputs exceed the tensor size limit");
            scans[k].push_back(std::move(o.tensor));
        }
    }
    for (size_t i = 0; i < n_carried; ++i) ctx.set_output_value(i, std::move(carried[i]));
    for (size_t k = 0; k < n_scan; ++k) {
        NNPORT_ASSIGN_OR_RETURN(Tensor t, stack_outputs(ctx, scans[k], 0, body_output_type(*body, 1 + n_carried + k)));
        ctx.set_output(n_carried + k, std::move(t));
    }
    return Status::ok();
}

}  // namespace

const OpDef& op_def_If() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "If";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 1;
        o.min_outputs = 1;
        o.max_outputs = -1;
        o.attrs = {AttrSpec::none("then_branch", ir::AttrType::kGraph, true),
                   AttrSpec::none("else_branch", ir::AttrType::kGraph, true)};
        o.infer = if_infer;
        o.kernel = if_kernel;
        o.half_via_float = false;
        o.doc = "Runs then_branch or else_branch; outputs are the branch's outputs (tensors, sequences, optionals).";
        return o;
    }();
    return d;
}

const OpDef& op_def_Loop() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Loop";
        o.since_version = 1;
        o.min_inputs = 2;
        o.max_inputs = -1;
        o.min_outputs = 0;
        o.max_outputs = -1;
        o.attrs = {AttrSpec::none("body", ir::AttrType::kGraph, true)};
        o.infer = loop_infer;
        o.kernel = loop_kernel;
        o.half_via_float = false;
        o.doc = "Runs body while i < M and cond; loop-carried values flow through, scan outputs are stacked.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// SequenceMap: runs a body once per position of the input sequences (tensor inputs are passed whole every time).
#include "ops/sequence_util.hpp"

namespace nnport {

namespace {

Status map_infer(InferContext& ctx) {
    ir::Graph* body = mutable_graph_attr(ctx, "body");
    if (!body) return ctx.error("needs a body graph");
    if (body->inputs().size() != ctx.num_inputs() || body->outputs().size() != ctx.num_outputs()) {
        return ctx.error("body has " + std::to_string(body->inputs().size()) + " inputs and " +
                         std::to_string(body->outputs().size()) + " outputs; the node " +
                         std::to_string(ctx.num_inputs()) + " and " + std::to_string(ctx.num_outputs()));
    }
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        const ir::ValueType& t = ctx.input_type(i);
        if (t.kind == ir::ValueType::Kind::kSequence) {
            // Elements of one sequence may differ in shape: the body sees symbolic dims.
            type_body_input(*body, i, t.elem ? relax_dims(ctx, *t.elem) : ir::ValueType());
        } else {
            type_body_input(*body, i, t);
        }
    }
    for (size_t k = 0; k < ctx.num_outputs(); ++k) ctx.set_output(k, ir::ValueType::sequence(body_output_type(*body, k)));
    return Status::ok();
}

Status map_kernel(KernelContext& ctx) {
    const ir::Graph* body = ctx.attr_graph("body");
    if (!body) return ctx.error("needs a body graph");
    const RtValue* first = optional_input(ctx, 0);
    if (!first || !first->is_sequence()) return ctx.input_error("input 0 must be a sequence");
    const size_t n = first->sequence.size();
    std::vector<const RtValue*> ins;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        const RtValue* v = optional_input(ctx, i);
        if (!v || v->is_none()) return ctx.input_error("input " + std::to_string(i) + " is missing");
        if (v->is_sequence() && v->sequence.size() != n) {
            return ctx.input_error("input sequences differ in length (" + std::to_string(n) + " and " +
                                   std::to_string(v->sequence.size()) + ")");
        }
        ins.push_back(v);
    }
    std::vector<std::vector<Tensor>> outs(ctx.num_outputs());
    for (size_t pos = 0; pos < n; ++pos) {
        std::vector<RtValue> args;
        for (const RtValue* v : ins) args.push_back(v->is_sequence() ? RtValue(v->sequence[pos]) : *v);
        NNPORT_ASSIGN_OR_RETURN(std::vector<RtValue> r, run_body(ctx, *body, std::move(args), ctx.num_outputs()));
        for (size_t k = 0; k < r.size(); ++k) {
            if (!r[k].is_tensor()) return ctx.input_error("body output " + std::to_string(k) + " is not a tensor");
            outs[k].push_back(std::move(r[k].tensor));
        }
    }
    for (size_t k = 0; k < outs.size(); ++k) {
        DType dt = body_output_type(*body, k).dtype;
        if (!outs[k].empty()) dt = outs[k][0].dtype();
        if (dt == DType::kUndefined) dt = DType::kFloat32;
        ctx.set_output_value(k, RtValue::make_sequence(std::move(outs[k]), dt));
    }
    return Status::ok();
}

}  // namespace

const OpDef& op_def_SequenceMap() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "SequenceMap";
        o.since_version = 17;
        o.min_inputs = 1;
        o.max_inputs = -1;
        o.min_outputs = 1;
        o.max_outputs = -1;
        o.attrs = {AttrSpec::none("body", ir::AttrType::kGraph, true)};
        o.infer = map_infer;
        o.kernel = map_kernel;
        o.half_via_float = false;
        o.doc = "Applies body to each position of the input sequences; each body output becomes a sequence.";
        return o;
    }();
    return d;
}

}  // namespace nnport

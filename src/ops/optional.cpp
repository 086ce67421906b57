// Optional ops: Optional, OptionalHasElement, OptionalGetElement. At run time an optional holding a value is the
// value itself (tensor or sequence); an empty optional is an RtValue of kind none.
#include "ops/sequence_util.hpp"

namespace nnport {

namespace {

Status optional_infer(InferContext& ctx) {
    if (ctx.has_input(0)) {
        ctx.set_output(0, ir::ValueType::optional(ctx.input_type(0)));
        return Status::ok();
    }
    const ir::Attribute* a = ctx.node().attr("type");
    if (!a) return ctx.error("an Optional without input needs the 'type' attribute");
    ctx.set_output(0, ir::ValueType::optional(a->type_proto));
    return Status::ok();
}

Status optional_kernel(KernelContext& ctx) {
    const RtValue* v = optional_input(ctx, 0);
    if (!v && !ctx.has_attr("type")) return ctx.error("an Optional without input needs the 'type' attribute");
    ctx.set_output_value(0, v ? *v : RtValue());
    return Status::ok();
}

Status has_element_infer(InferContext& ctx) {
    ctx.set_output(0, ir::ValueType::tensor(DType::kBool, std::vector<ir::Dim>{}));
    return Status::ok();
}

Status has_element_kernel(KernelContext& ctx) {
    const RtValue* v = optional_input(ctx, 0);
    ctx.set_output(0, Tensor::scalar<bool>(v != nullptr && !v->is_none()));
    return Status::ok();
}

Status get_element_infer(InferContext& ctx) {
    const ir::ValueType& t = ctx.input_type(0);
    if (t.kind == ir::ValueType::Kind::kOptional) {
        ctx.set_output(0, t.elem ? *t.elem : ir::ValueType());
    } else {
        ctx.set_output(0, t);  // a plain tensor or sequence passes through
    }
    return Status::ok();
}

Status get_element_kernel(KernelContext& ctx) {
    const RtValue* v = optional_input(ctx, 0);
    if (!v || v->is_none()) return ctx.input_error("the optional input is empty");
    ctx.set_output_value(0, *v);
    return Status::ok();
}

OpDef opt_op(const char* name, int since, int min_in, InferFn infer, KernelFn kernel, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    o.min_inputs = min_in;
    o.max_inputs = 1;
    o.infer = infer;
    o.kernel = kernel;
    o.half_via_float = false;
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_Optional() {
    static const OpDef d = [] {
        OpDef o = opt_op("Optional", 15, 0, optional_infer, optional_kernel,
                         "An optional holding the input, or an empty optional of `type`.");
        o.attrs = {AttrSpec::none("type", ir::AttrType::kTypeProto)};
        return o;
    }();
    return d;
}

const OpDef& op_def_OptionalHasElement() {
    static const OpDef d = opt_op("OptionalHasElement", 15, 0, has_element_infer, has_element_kernel,
                                  "True if the input is present and not an empty optional.");
    return d;
}

const OpDef& op_def_OptionalGetElement() {
    static const OpDef d = opt_op("OptionalGetElement", 15, 1, get_element_infer, get_element_kernel,
                                  "The value inside an optional (a plain tensor or sequence passes through).");
    return d;
}

}  // namespace nnport

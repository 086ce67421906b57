// Identity and Constant: the simplest ops, and examples of the OpDef layout.
#include "ops/kernel_util.hpp"

namespace nnport {

static Status identity_kernel(KernelContext& ctx) {
    ctx.set_output_value(0, ctx.input_value(0));  // shares storage: tensors are immutable once produced
    return Status::ok();
}

const OpDef& op_def_Identity() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Identity";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 1;
        o.infer = infer_same_as_input0;
        o.kernel = identity_kernel;
        o.half_via_float = false;
        o.output_views_input0 = true;  // shares input 0's storage
        o.doc = "Output = input (also sequences and optionals).";
        return o;
    }();
    return d;
}

/// The constant value from whichever attribute is set.
static Result<Tensor> constant_value(const AttrAccess& a) {
    if (const Tensor* t = a.attr_tensor("value")) return *t;
    if (a.has_attr("value_float")) return Tensor::scalar<float>(a.attr_float("value_float"));
    if (a.has_attr("value_int")) return Tensor::scalar<int64_t>(a.attr_int("value_int"));
    if (a.has_attr("value_string")) return Tensor::scalar<std::string>(a.attr_string("value_string"));
    if (a.has_attr("value_floats")) {
        auto v = a.attr_floats("value_floats");
        return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
    }
    if (a.has_attr("value_ints")) {
        auto v = a.attr_ints("value_ints");
        return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
    }
    if (a.has_attr("value_strings")) {
        auto v = a.attr_strings("value_strings");
        return Tensor::from_vector<std::string>({static_cast<int64_t>(v.size())}, v);
    }
    if (a.has_attr("sparse_value")) return a.error("sparse_value constants are not supported");
    return a.error("no value attribute");
}

static Status constant_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(Tensor t, constant_value(ctx));
    ctx.set_output(0, ir::ValueType::tensor(t.dtype(), t.shape()));
    return Status::ok();
}

static Status constant_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(Tensor t, constant_value(ctx));
    ctx.set_output(0, std::move(t));
    return Status::ok();
}

const OpDef& op_def_Constant() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Constant";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 0;
        o.attrs = {AttrSpec::none("value", ir::AttrType::kTensor), AttrSpec::none("value_float", ir::AttrType::kFloat),
                   AttrSpec::none("value_floats", ir::AttrType::kFloats), AttrSpec::none("value_int", ir::AttrType::kInt),
                   AttrSpec::none("value_ints", ir::AttrType::kInts),
                   AttrSpec::none("value_string", ir::AttrType::kString),
                   AttrSpec::none("value_strings", ir::AttrType::kStrings),
                   AttrSpec::none("sparse_value", ir::AttrType::kSparseTensor)};
        o.infer = constant_infer;
        o.kernel = constant_kernel;
        o.half_via_float = false;
        o.doc = "A tensor given as an attribute.";
        return o;
    }();
    return d;
}

}  // namespace nnport

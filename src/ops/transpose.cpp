// Transpose: permutes axes with a strided copy (tiled for 2-D transposes such as NCHW <-> NHWC).
#include "ops/tensor_util.hpp"

namespace nnport {

/// The permutation (reversed axes by default); error unless it is a permutation of [0, rank).
static Result<std::vector<int64_t>> transpose_perm(const AttrAccess& ctx, int64_t rank) {
    std::vector<int64_t> perm = ctx.attr_ints("perm");
    if (!ctx.has_attr("perm")) {
        perm.resize(static_cast<size_t>(rank));
        for (int64_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = rank - 1 - i;
        return perm;
    }
    if (static_cast<int64_t>(perm.size()) != rank) {
        return ctx.error("perm has " + std::to_string(perm.size()) + " entries for a rank-" + std::to_string(rank) +
                         " input");
    }
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t& p : perm) {
        if (p < -rank || p >= rank) return ctx.error("perm entry " + std::to_string(p) + " is out of range");
        if (p < 0) p += rank;
        if (seen[static_cast<size_t>(p)]) return ctx.error("perm repeats axis " + std::to_string(p));
        seen[static_cast<size_t>(p)] = true;
    }
    return perm;
}

static Status transpose_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    if (!x.has_shape) {
        const auto perm = ctx.attr_ints("perm");
        if (ctx.has_attr("perm")) {
            ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, static_cast<int64_t>(perm.size())));
        } else {
            ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        }
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(auto perm, transpose_perm(ctx, x.rank()));
    std::vector<ir::Dim> out;
    for (int64_t p : perm) out.push_back(x.dims[static_cast<size_t>(p)]);
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status transpose_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(auto perm, transpose_perm(ctx, x.rank()));
    const std::vector<int64_t> in_strides = strides_of(x.shape());
    Shape out_shape;
    std::vector<int64_t> strides;
    bool identity = true;
    for (size_t i = 0; i < perm.size(); ++i) {
        const size_t p = static_cast<size_t>(perm[i]);
        out_shape.push_back(x.shape()[p]);
        strides.push_back(in_strides[p]);
        identity = identity && p == i;
    }
    if (identity) {
        ctx.set_output(0, x);
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), out_shape));
    return strided_copy(ctx, x, 0, out_shape, strides, *out);
}

const OpDef& op_def_Transpose() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Transpose";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::none("perm", ir::AttrType::kInts)};
        o.infer = transpose_infer;
        o.kernel = transpose_kernel;
        o.half_via_float = false;
        o.doc = "Permutes the axes (reversed when `perm` is omitted).";
        return o;
    }();
    return d;
}

}  // namespace nnport

// DepthToSpace (DCR / CRD) and SpaceToDepth: reshape-transpose-reshape done as one strided copy.
#include "ops/tensor_util.hpp"

namespace nnport {

static Result<int64_t> block_size(const AttrAccess& ctx) {
    const int64_t b = ctx.attr_int("blocksize");
    if (b < 1 || b > (int64_t{1} << 20)) return ctx.error("blocksize must be positive");
    return b;
}

static Status depth_to_space_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    NNPORT_ASSIGN_OR_RETURN(const int64_t b, block_size(ctx));
    const std::string mode = ctx.attr_string("mode");
    if (mode != "DCR" && mode != "CRD") return ctx.error("unknown mode '" + mode + "'");
    if (!x.has_shape) {
        ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, 4));
        return Status::ok();
    }
    if (x.rank() != 4) return ctx.error("input must be 4-D");
    std::vector<ir::Dim> out = x.dims;
    const ir::Dim& c = x.dims[1];
    if (c.is_static() && c.value % (b * b) != 0) return ctx.error("channels are not divisible by blocksize^2");
    out[1] = c.is_static() ? ir::Dim(c.value / (b * b)) : ctx.new_dim();
    for (size_t i = 2; i < 4; ++i) out[i] = x.dims[i].is_static() ? ir::Dim(x.dims[i].value * b) : ctx.new_dim();
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status depth_to_space_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(const int64_t b, block_size(ctx));
    if (x.rank() != 4) return ctx.input_error("input must be 4-D");
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    if (c % (b * b) != 0) return ctx.input_error("channels are not divisible by blocksize^2");
    const int64_t oc = c / (b * b);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), {n, oc, h * b, w * b}));
    // Output viewed as [N, C', H, b1, W, b2]; input as [N, b1, b2, C', H, W] (DCR) or [N, C', b1, b2, H, W] (CRD).
    const int64_t hw = h * w;
    const bool crd = ctx.attr_string("mode") == "CRD";
    const int64_t s_c = crd ? b * b * hw : hw;
    const int64_t s_b1 = crd ? b * hw : b * oc * hw;
    const int64_t s_b2 = crd ? hw : oc * hw;
    return strided_copy(ctx, x, 0, {n, oc, h, b, w, b}, {c * hw, s_c, w, s_b1, 1, s_b2}, *out);
}

const OpDef& op_def_DepthToSpace() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "DepthToSpace";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::none("blocksize", ir::AttrType::kInt, true), AttrSpec::s("mode", "DCR")};
        o.infer = depth_to_space_infer;
        o.kernel = depth_to_space_kernel;
        o.half_via_float = false;
        o.doc = "Moves channel blocks into spatial blocks (DCR: depth-column-row order, CRD: column-row-depth).";
        return o;
    }();
    return d;
}

static Status space_to_depth_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    NNPORT_ASSIGN_OR_RETURN(const int64_t b, block_size(ctx));
    if (!x.has_shape) {
        ctx.set_output(0, tensor_type_of_rank(ctx, x.dtype, 4));
        return Status::ok();
    }
    if (x.rank() != 4) return ctx.error("input must be 4-D");
    std::vector<ir::Dim> out = x.dims;
    out[1] = x.dims[1].is_static() ? ir::Dim(x.dims[1].value * b * b) : ctx.new_dim();
    for (size_t i = 2; i < 4; ++i) {
        const ir::Dim& d = x.dims[i];
        if (d.is_static() && d.value % b != 0) return ctx.error("spatial dims are not divisible by blocksize");
        out[i] = d.is_static() ? ir::Dim(d.value / b) : ctx.new_dim();
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

static Status space_to_depth_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(const int64_t b, block_size(ctx));
    if (x.rank() != 4) return ctx.input_error("input must be 4-D");
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    if (h % b != 0 || w % b != 0) return ctx.input_error("spatial dims are not divisible by blocksize");
    const int64_t oh = h / b, ow = w / b;
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), {n, c * b * b, oh, ow}));
    // Output viewed as [N, b1, b2, C, H', W']; input as [N, C, H', b1, W', b2].
    return strided_copy(ctx, x, 0, {n, b, b, c, oh, ow}, {c * h * w, w, 1, h * w, b * w, b}, *out);
}

const OpDef& op_def_SpaceToDepth() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "SpaceToDepth";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::none("blocksize", ir::AttrType::kInt, true)};
        o.infer = space_to_depth_infer;
        o.kernel = space_to_depth_kernel;
        o.half_via_float = false;
        o.doc = "Moves spatial blocks into channels.";
        return o;
    }();
    return d;
}

}  // namespace nnport

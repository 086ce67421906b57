// MatMulInteger and ConvInteger: 8-bit operands minus zero points, int32 accumulation.
#include "ops/quant_util.hpp"

namespace nnport {

namespace {

const std::vector<DType>& int8_types() {
    static const std::vector<DType> t = {DType::kUInt8, DType::kInt8};
    return t;
}

Status check_int8(const KernelContext& ctx, const Tensor& t, const char* what) {
    if (t.dtype() != DType::kUInt8 && t.dtype() != DType::kInt8) {
        return ctx.input_error(std::string(what) + " must be uint8 or int8, got " + dtype_name(t.dtype()));
    }
    return Status::ok();
}

/// Load-time check that a zero point's dtype matches its operand's (when both are known).
Status infer_check_zero_point(InferContext& ctx, size_t operand, size_t zp, const char* what) {
    if (!ctx.has_input(zp)) return Status::ok();
    const DType a = ctx.input_type(operand).dtype, z = ctx.input_type(zp).dtype;
    if (a != DType::kUndefined && z != DType::kUndefined && a != z) {
        return ctx.error(std::string(what) + " dtype " + dtype_name(z) + " differs from its operand's " +
                         dtype_name(a));
    }
    return Status::ok();
}

Status matmul_integer_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(infer_check_zero_point(ctx, 0, 2, "a_zero_point"));
    NNPORT_RETURN_IF_ERROR(infer_check_zero_point(ctx, 1, 3, "b_zero_point"));
    return quant::matmul_infer_dims(ctx, 0, 1, DType::kInt32);
}

Status matmul_integer_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    NNPORT_RETURN_IF_ERROR(check_int8(ctx, a, "A"));
    NNPORT_RETURN_IF_ERROR(check_int8(ctx, b, "B"));
    const Tensor* a_zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const Tensor* b_zp = ctx.has_input(3) ? &ctx.input(3) : nullptr;
    NNPORT_ASSIGN_OR_RETURN(quant::MatMulShape s, quant::matmul_shape(ctx, a.shape(), b.shape()));
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kInt32, s.out));
    return quant::int_matmul(ctx, a, a_zp, b, b_zp, s, y->data<int32_t>());
}

Status conv_integer_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(infer_check_zero_point(ctx, 0, 2, "x_zero_point"));
    NNPORT_RETURN_IF_ERROR(infer_check_zero_point(ctx, 1, 3, "w_zero_point"));
    return nn::conv_infer_common(ctx, 1, DType::kInt32);
}

Status conv_integer_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    NNPORT_RETURN_IF_ERROR(check_int8(ctx, x, "x"));
    NNPORT_RETURN_IF_ERROR(check_int8(ctx, w, "w"));
    NNPORT_ASSIGN_OR_RETURN(nn::ConvShape s, nn::conv_shape(ctx, x, w));
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kInt32, s.out_shape));
    const Tensor* x_zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const Tensor* w_zp = ctx.has_input(3) ? &ctx.input(3) : nullptr;
    if (y->numel() == 0) {
        NNPORT_RETURN_IF_ERROR(quant::check_zero_point_dtype(ctx, x_zp, x.dtype(), "x_zero_point"));
        return quant::check_zero_point_dtype(ctx, w_zp, w.dtype(), "w_zero_point");
    }
    return quant::int_conv(ctx, x, x_zp, w, w_zp, s, y->data<int32_t>());
}

}  // namespace

const OpDef& op_def_MatMulInteger() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "MatMulInteger";
        o.since_version = 10;
        o.min_inputs = 2;
        o.max_inputs = 4;
        o.infer = matmul_integer_infer;
        o.kernel = matmul_integer_kernel;
        o.input0_types = int8_types();
        o.doc = "int32 (A - a_zero_point) x (B - b_zero_point) with numpy batch broadcasting; zero points per tensor, "
                "per row of A or per column of B.";
        return o;
    }();
    return d;
}

const OpDef& op_def_ConvInteger() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "ConvInteger";
        o.since_version = 10;
        o.min_inputs = 2;
        o.max_inputs = 4;
        o.attrs = {AttrSpec::s("auto_pad", "NOTSET"), AttrSpec::ints("dilations"), AttrSpec::i("group", 1),
                   AttrSpec::ints("kernel_shape"), AttrSpec::ints("pads"), AttrSpec::ints("strides")};
        o.infer = conv_integer_infer;
        o.kernel = conv_integer_kernel;
        o.input0_types = int8_types();
        o.doc = "int32 convolution of (x - x_zero_point) and (w - w_zero_point[per output channel]); padding reads as "
                "the zero point.";
        return o;
    }();
    return d;
}

}  // namespace nnport

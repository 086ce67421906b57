// Broadcasting comparisons and logic: Equal, Greater, Less, GreaterOrEqual, LessOrEqual, And, Or, Xor,
// BitwiseAnd, BitwiseOr, BitwiseXor, BitShift.
#include <string>

#include "ops/elementwise_util.hpp"

namespace nnport {

namespace {

Status same_dtype_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ew_infer_same_dtype(ctx, 0, 1));
    return infer_broadcast_same_dtype(ctx);
}

Status compare_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ew_infer_same_dtype(ctx, 0, 1));
    return infer_broadcast_bool(ctx);
}

OpDef binary_def(const char* name, int since, KernelFn kernel, const char* doc, InferFn infer,
                 std::vector<AttrSpec> attrs = {}) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    o.min_inputs = o.max_inputs = 2;
    o.attrs = std::move(attrs);
    o.infer = infer;
    o.kernel = kernel;
    o.inplace_elementwise = true;  // binary_kernel: y[i] = f(a[i'], b[i'']), operands read before y[i] is written
    o.doc = doc;
    return o;
}

/// Comparison of two same-dtype tensors (numbers, bool or strings) into a bool tensor.
template <typename Cmp>
Status compare(KernelContext& ctx, const Cmp& cmp) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 2));
    NNPORT_RETURN_IF_ERROR(ew_require_same_dtype(ctx, 0, 1));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() == DType::kString) {
        return binary_kernel<bool, std::string, std::string>(ctx, a, b, DType::kBool, cmp, 4);
    }
    NNPORT_DISPATCH_NUMERIC_BOOL(a.dtype(), T, ctx, return binary_kernel<bool, T, T>(ctx, a, b, DType::kBool, cmp));
    return Status::ok();
}

/// Logic op on two bool tensors.
template <typename Op>
Status logic(KernelContext& ctx, const Op& op) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 2));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != DType::kBool || b.dtype() != DType::kBool) return ctx.input_error("inputs must be bool tensors");
    return binary_kernel<bool, bool, bool>(ctx, a, b, DType::kBool, op);
}

/// Same-dtype integer op.
template <typename Op>
Status bitwise(KernelContext& ctx, const Op& op) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 2));
    NNPORT_RETURN_IF_ERROR(ew_require_same_dtype(ctx, 0, 1));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    NNPORT_DISPATCH_INT(a.dtype(), T, ctx, return binary_kernel<T, T, T>(ctx, a, b, a.dtype(), op));
    return Status::ok();
}

}  // namespace

static Status equal_kernel(KernelContext& ctx) {
    return compare(ctx, [](const auto& x, const auto& y) { return x == y; });
}
static Status greater_kernel(KernelContext& ctx) {
    return compare(ctx, [](const auto& x, const auto& y) { return x > y; });
}
static Status less_kernel(KernelContext& ctx) {
    return compare(ctx, [](const auto& x, const auto& y) { return x < y; });
}
static Status greater_equal_kernel(KernelContext& ctx) {
    return compare(ctx, [](const auto& x, const auto& y) { return x >= y; });
}
static Status less_equal_kernel(KernelContext& ctx) {
    return compare(ctx, [](const auto& x, const auto& y) { return x <= y; });
}

const OpDef& op_def_Equal() {
    static const OpDef d = binary_def("Equal", 7, equal_kernel, "a == b (numbers, bool, strings).", compare_infer);
    return d;
}
const OpDef& op_def_Greater() {
    static const OpDef d = binary_def("Greater", 7, greater_kernel, "a > b.", compare_infer);
    return d;
}
const OpDef& op_def_Less() {
    static const OpDef d = binary_def("Less", 7, less_kernel, "a < b.", compare_infer);
    return d;
}
const OpDef& op_def_GreaterOrEqual() {
    static const OpDef d = binary_def("GreaterOrEqual", 12, greater_equal_kernel, "a >= b.", compare_infer);
    return d;
}
const OpDef& op_def_LessOrEqual() {
    static const OpDef d = binary_def("LessOrEqual", 12, less_equal_kernel, "a <= b.", compare_infer);
    return d;
}

static Status and_kernel(KernelContext& ctx) {
    return logic(ctx, [](bool x, bool y) { return x & y; });
}
static Status or_kernel(KernelContext& ctx) {
    return logic(ctx, [](bool x, bool y) { return x | y; });
}
static Status xor_kernel(KernelContext& ctx) {
    return logic(ctx, [](bool x, bool y) { return x != y; });
}

const OpDef& op_def_And() {
    static const OpDef d = binary_def("And", 7, and_kernel, "Logical and of bool tensors.", infer_broadcast_bool);
    return d;
}
const OpDef& op_def_Or() {
    static const OpDef d = binary_def("Or", 7, or_kernel, "Logical or of bool tensors.", infer_broadcast_bool);
    return d;
}
const OpDef& op_def_Xor() {
    static const OpDef d = binary_def("Xor", 7, xor_kernel, "Logical xor of bool tensors.", infer_broadcast_bool);
    return d;
}

static Status bitwise_and_kernel(KernelContext& ctx) {
    return bitwise(ctx, [](auto x, auto y) { return static_cast<decltype(x)>(x & y); });
}
static Status bitwise_or_kernel(KernelContext& ctx) {
    return bitwise(ctx, [](auto x, auto y) { return static_cast<decltype(x)>(x | y); });
}
static Status bitwise_xor_kernel(KernelContext& ctx) {
    return bitwise(ctx, [](auto x, auto y) { return static_cast<decltype(x)>(x ^ y); });
}

const OpDef& op_def_BitwiseAnd() {
    static const OpDef d = binary_def("BitwiseAnd", 18, bitwise_and_kernel, "a & b (integers).", same_dtype_infer);
    return d;
}
const OpDef& op_def_BitwiseOr() {
    static const OpDef d = binary_def("BitwiseOr", 18, bitwise_or_kernel, "a | b (integers).", same_dtype_infer);
    return d;
}
const OpDef& op_def_BitwiseXor() {
    static const OpDef d = binary_def("BitwiseXor", 18, bitwise_xor_kernel, "a ^ b (integers).", same_dtype_infer);
    return d;
}

static Status bitshift_kernel(KernelContext& ctx) {
    const std::string dir = ctx.attr_string("direction");
    if (dir != "LEFT" && dir != "RIGHT") return ctx.error("direction must be LEFT or RIGHT, got '" + dir + "'");
    const bool left = dir == "LEFT";
    // Shifts by the bit width or more (undefined in C++) give 0; right shifts of signed values are arithmetic.
    return bitwise(ctx, [left](auto x, auto y) {
        using T = decltype(x);
        constexpr uint64_t bits = sizeof(T) * 8;
        if constexpr (std::is_signed_v<T>) {
            if (y < 0) return T(0);
        }
        if (static_cast<uint64_t>(y) >= bits) {
            if constexpr (std::is_signed_v<T>) {
                if (!left && x < 0) return T(-1);
            }
            return T(0);
        }
        if (left) return static_cast<T>(static_cast<WrapU<T>>(x) << y);
        return static_cast<T>(x >> y);
    });
}

const OpDef& op_def_BitShift() {
    static const OpDef d = [] {
        OpDef o = binary_def("BitShift", 11, bitshift_kernel, "x << y or x >> y (direction).", same_dtype_infer,
                             {AttrSpec::none("direction", ir::AttrType::kString, true)});
        o.input0_types = {DType::kUInt8, DType::kUInt16, DType::kUInt32, DType::kUInt64};
        return o;
    }();
    return d;
}

}  // namespace nnport

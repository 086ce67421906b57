// Per-channel affines along the last axis of a float32 tensor, one pass each (Kernels::row_affine):
//  - Mul and Add by a vector along the last axis (the other operand's dims all 1 but the last): the channel scales of
//    squeeze-excitation blocks. XNNPACK's broadcasting binary operators call their micro-kernel once per row, which
//    costs more than the row's work at small channel counts: mobilenet_v3_small's first excitation scale
//    ([1, 56, 56, 16] x [1, 1, 1, 16]) took 33 us per run on XNNPACK, against 3 to 4 us here. One rounding per
//    element, as the reference: results are identical to it.
//  - com.nnport ScaleShift (X * scale + shift, then Identity, Relu or Clip) with scale and shift vectors along the
//    last axis: an inference BatchNormalization + ReLU that follows no convolution (DenseNet's, in front of each
//    layer) in a channels-last region, where Mul, Add and Relu would each make a pass.
//  - com.nnport FusedConcat (the same on a Concat along the last axis): each input's rows go through the affine
//    straight into their channel slice of the output, so the concatenated tensor is never written unnormalised.
#include <algorithm>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "ops/fused_util.hpp"
#include "ops/kernel_util.hpp"

namespace nnport::cpu {

namespace {

/// Elements per part of the parallel split (a part is a pass over 64 KiB of input).
constexpr double kElemsPerPart = 1 << 14;
/// The narrowest vector a Mul / Add is taken at: below that the library's kernels lose little.
constexpr int64_t kMinChannels = 8;

/// Whether `vec` broadcasts along the last axis of a tensor of rank `rank` whose last dim is `last` (same last dim,
/// all its other dims 1, rank not larger).
bool vector_along_last(size_t rank, int64_t last, const Shape& vec) {
    if (rank == 0 || vec.empty() || vec.size() > rank) return false;
    if (vec.back() != last) return false;
    for (size_t i = 0; i + 1 < vec.size(); ++i) {
        if (vec[i] != 1) return false;
    }
    return true;
}

/// Whether the inferred type `vt` is a static vector along the last axis of `big` (static last dim).
bool static_vector_along_last(const ir::ValueType& vt, const ir::Value* big) {
    const int64_t rank = rank_of(big);
    if (!vt.is_static() || rank < 1) return false;
    const ir::Dim& last = big->type.dims.back();
    return last.is_static() && vector_along_last(static_cast<size_t>(rank), last.value, vt.static_shape());
}

/// One input of affine_rows: `rows` rows of `c` values, contiguous.
struct Slice {
    const float* x;
    int64_t c;
};

/// Rows [0, rows) of y (row stride ldy) = clamp(x * s + b, lo, hi), the slices side by side (slice i in the
/// channels after slice i-1's; s and b cover them all), split by rows across the session's threads.
void affine_rows(KernelContext& ctx, const std::vector<Slice>& xs, const float* s, const float* b, float* y,
                 int64_t rows, int64_t ldy, float lo, float hi) {
    const Kernels& k = kernels();
    const int threads = ctx.pool() ? ctx.pool()->num_threads() : 1;
    const int64_t parts = parts_for(static_cast<double>(rows * ldy), kElemsPerPart, rows, threads);
    run_parts(ctx, parts, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const int64_t r0 = rows * p / parts, r1 = rows * (p + 1) / parts;
            int64_t off = 0;
            for (const Slice& sl : xs) {
                k.row_affine(sl.x + r0 * sl.c, sl.c, s ? s + off : nullptr, b ? b + off : nullptr, y + r0 * ldy + off,
                             ldy, r1 - r0, sl.c, lo, hi);
                off += sl.c;
            }
        }
    });
}

enum class Kind { kMul, kAdd, kScaleShift };

class RowAffineKernel final : public BackendKernel {
public:
    RowAffineKernel(Kind kind, float lo, float hi) : kind_(kind), lo_(lo), hi_(hi) {}

    Status run(KernelContext& ctx) override {
        const size_t n_in = kind_ == Kind::kScaleShift ? 3 : 2;
        for (size_t i = 0; i < n_in; ++i) {
            NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
            if (ctx.input(i).dtype() != DType::kFloat32) return ctx.input_error("inputs must be float32");
        }
        const Tensor* x = &ctx.input(0);
        const Tensor* s = nullptr;
        const Tensor* b = nullptr;
        if (kind_ == Kind::kScaleShift) {
            s = &ctx.input(1);
            b = &ctx.input(2);
        } else {
            const Tensor& a0 = ctx.input(0);
            const Tensor& a1 = ctx.input(1);
            const bool first_big = a0.numel() > a1.numel() || (a0.numel() == a1.numel() && a0.rank() >= a1.rank());
            x = first_big ? &a0 : &a1;
            (kind_ == Kind::kMul ? s : b) = first_big ? &a1 : &a0;
        }
        for (const Tensor* v : {s, b}) {
            if (v && (x->rank() == 0 || !vector_along_last(x->shape().size(), x->shape().back(), v->shape()))) {
                return ctx.input_error(
                    std::string(kind_ == Kind::kScaleShift ? "scale and shift" : "the smaller input") +
                    " must be a vector along the larger one's last axis (all its other dims 1)");
            }
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x->shape()));
        const int64_t c = x->shape().back();
        if (y->numel() == 0 || c == 0) return Status::ok();
        affine_rows(ctx, {{x->data<float>(), c}}, s ? s->data<float>() : nullptr, b ? b->data<float>() : nullptr,
                    y->data<float>(), y->numel() / c, c, lo_, hi_);
        return Status::ok();
    }

private:
    Kind kind_;
    float lo_, hi_;
};

/// The clamp [lo, hi] of a ScaleShift's or FusedConcat's activation (Identity, Relu or Clip); an error for the others.
Result<std::pair<float, float>> clamp_of(const ir::Node& node) {
    if (!node.def) return unsupported("unknown op");
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fused::parse_activation(AttrAccess(node, *node.def)));
    if (auto r = fused::clamp_range(act)) return *r;
    return unsupported("only the Identity, Relu and Clip activations");
}

Support scale_shift_supports(const ir::Node& node) {
    if (node.inputs().size() != 3 || !is_f32(node.input(0)) || !is_f32(node.input(1)) || !is_f32(node.input(2))) {
        return Support::no("only three float32 inputs");
    }
    if (!static_vector_along_last(node.input(1)->type, node.input(0)) ||
        !static_vector_along_last(node.input(2)->type, node.input(0))) {
        return Support::no("scale and shift are not vectors along X's last axis");
    }
    auto clamp = clamp_of(node);
    if (!clamp.is_ok()) return Support::no(clamp.status().message());
    return Support::yes();
}

class FusedConcatKernel final : public BackendKernel {
public:
    FusedConcatKernel(float lo, float hi) : lo_(lo), hi_(hi) {}

    Status run(KernelContext& ctx) override {
        NNPORT_ASSIGN_OR_RETURN(const Shape out_shape, fused::fused_concat_shape(ctx));
        const size_t k = ctx.num_inputs() - 2;
        const int64_t c = out_shape.back();
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out_shape));
        if (y->numel() == 0) return Status::ok();
        std::vector<Slice> xs;
        for (size_t i = 0; i < k; ++i) xs.push_back({ctx.input(i).data<float>(), ctx.input(i).shape().back()});
        affine_rows(ctx, xs, ctx.input(k).data<float>(), ctx.input(k + 1).data<float>(), y->data<float>(),
                    y->numel() / c, c, lo_, hi_);
        return Status::ok();
    }

private:
    float lo_, hi_;
};

Support fused_concat_supports(const ir::Node& node) {
    const size_t n = node.inputs().size();
    if (n < 3 || node.outputs().size() != 1) return Support::no("at least one input, scale and shift expected");
    for (size_t i = 0; i < n; ++i) {
        if (!is_f32(node.input(i))) return Support::no("only float32 inputs");
    }
    const ir::Value* y = node.output(0);
    const int64_t rank = rank_of(y);
    if (rank < 1 || !y->type.dims.back().is_static()) return Support::no("the output's channel count is not static");
    if (!node.def) return Support::no("unknown op");
    AttrAccess a(node, *node.def);
    const int64_t axis = a.attr_int("axis");
    if (axis != -1 && axis != rank - 1) return Support::no("only the last axis");
    if (!static_vector_along_last(node.input(n - 2)->type, y) ||
        !static_vector_along_last(node.input(n - 1)->type, y)) {
        return Support::no("scale and shift are not vectors along the output's last axis");
    }
    auto clamp = clamp_of(node);
    if (!clamp.is_ok()) return Support::no(clamp.status().message());
    return Support::yes();
}

}  // namespace

bool is_row_affine(const ir::Node& node) {
    return is_op(node, "", "Mul") || is_op(node, "", "Add") || is_op(node, "com.nnport", "ScaleShift") ||
           is_op(node, "com.nnport", "FusedConcat");
}

Support row_affine_supports(const ir::Node& node, const ConstantFn&) {
    if (is_op(node, "com.nnport", "ScaleShift")) return scale_shift_supports(node);
    if (is_op(node, "com.nnport", "FusedConcat")) return fused_concat_supports(node);
    if (node.inputs().size() != 2 || !is_f32(node.input(0)) || !is_f32(node.input(1))) {
        return Support::no("only two float32 inputs");
    }
    // The vector's shape must be fully static; of the larger input only the rank and last dim matter.
    for (int vi = 0; vi < 2; ++vi) {
        const ir::Value* big = node.input(1 - vi);
        const int64_t rank = rank_of(big);
        if (rank < 2 || !static_vector_along_last(node.input(vi)->type, big)) continue;
        if (big->type.dims.back().value < kMinChannels) continue;
        bool big_is_larger = false;
        for (size_t i = 0; i + 1 < static_cast<size_t>(rank); ++i) {
            const ir::Dim& d = big->type.dims[i];
            if (!d.is_static() || d.value > 1) big_is_larger = true;
        }
        if (big_is_larger) return Support::yes();
    }
    return Support::no("not a tensor times a vector along its last axis (with at least 8 elements)");
}

Result<KernelPtr> row_affine_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = row_affine_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    if (is_op(node, "com.nnport", "ScaleShift")) {
        NNPORT_ASSIGN_OR_RETURN(auto clamp, clamp_of(node));
        return KernelPtr(std::make_unique<RowAffineKernel>(Kind::kScaleShift, clamp.first, clamp.second));
    }
    if (is_op(node, "com.nnport", "FusedConcat")) {
        NNPORT_ASSIGN_OR_RETURN(auto clamp, clamp_of(node));
        return KernelPtr(std::make_unique<FusedConcatKernel>(clamp.first, clamp.second));
    }
    constexpr float kInf = std::numeric_limits<float>::infinity();
    return KernelPtr(std::make_unique<RowAffineKernel>(is_op(node, "", "Mul") ? Kind::kMul : Kind::kAdd, -kInf, kInf));
}

}  // namespace nnport::cpu

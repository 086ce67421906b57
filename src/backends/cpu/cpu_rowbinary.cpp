// Mul and Add of a float32 tensor by a vector along its last axis (the other operand's dims all 1 but the last):
// the channel scales of squeeze-excitation blocks and per-channel affines in channels-last regions. XNNPACK's
// broadcasting binary operators call their micro-kernel once per row, which costs more than the row's work at small
// channel counts: mobilenet_v3_small's first excitation scale ([1, 56, 56, 16] x [1, 1, 1, 16]) took 33 us per run on
// XNNPACK, against 3 to 4 us here. One rounding per element, as the reference: results are identical to it.
#include <algorithm>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "ops/kernel_util.hpp"

namespace nnport::cpu {

namespace {

/// Elements per part of the parallel split (a part is a pass over 64 KiB of input).
constexpr double kElemsPerPart = 1 << 14;
/// The narrowest vector taken: below that the library's kernels lose little.
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

class RowBinaryKernel final : public BackendKernel {
public:
    explicit RowBinaryKernel(int op) : op_(op) {}

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
        const Tensor& a = ctx.input(0);
        const Tensor& b = ctx.input(1);
        if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32) {
            return ctx.input_error("inputs must be float32");
        }
        const bool a_big = a.numel() > b.numel() || (a.numel() == b.numel() && a.rank() >= b.rank());
        const Tensor& x = a_big ? a : b;
        const Tensor& v = a_big ? b : a;
        if (x.rank() == 0 || !vector_along_last(x.shape().size(), x.shape().back(), v.shape())) {
            return ctx.input_error(
                "the smaller input must be a vector along the larger one's last axis (all its other "
                "dims 1)");
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x.shape()));
        const int64_t c = x.shape().back();
        if (y->numel() == 0 || c == 0) return Status::ok();
        const int64_t rows = y->numel() / c;
        const float* px = x.data<float>();
        const float* pv = v.data<float>();
        float* py = y->data<float>();
        const Kernels& k = kernels();
        const int threads = ctx.pool() ? ctx.pool()->num_threads() : 1;
        const int64_t parts = parts_for(static_cast<double>(y->numel()), kElemsPerPart, rows, threads);
        run_parts(ctx, parts, [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t r0 = rows * p / parts, r1 = rows * (p + 1) / parts;
                k.row_binary(px + r0 * c, pv, py + r0 * c, r1 - r0, c, op_);
            }
        });
        return Status::ok();
    }

private:
    int op_;
};

}  // namespace

bool is_row_binary(const ir::Node& node) { return is_op(node, "", "Mul") || is_op(node, "", "Add"); }

Support row_binary_supports(const ir::Node& node, const ConstantFn&) {
    if (node.inputs().size() != 2 || !is_f32(node.input(0)) || !is_f32(node.input(1))) {
        return Support::no("only two float32 inputs");
    }
    // The vector's shape must be fully static; of the larger input only the rank and last dim matter.
    for (int vi = 0; vi < 2; ++vi) {
        const ir::ValueType& vt = node.input(vi)->type;
        const ir::Value* big = node.input(1 - vi);
        const int64_t rank = rank_of(big);
        if (!vt.is_static() || rank < 2) continue;
        const ir::Dim& last = big->type.dims.back();
        if (!last.is_static() || last.value < kMinChannels) continue;
        bool big_is_larger = false;
        for (size_t i = 0; i + 1 < static_cast<size_t>(rank); ++i) {
            const ir::Dim& d = big->type.dims[i];
            if (!d.is_static() || d.value > 1) big_is_larger = true;
        }
        if (big_is_larger && vector_along_last(static_cast<size_t>(rank), last.value, vt.static_shape())) {
            return Support::yes();
        }
    }
    return Support::no("not a tensor times a vector along its last axis (with at least 8 elements)");
}

Result<KernelPtr> row_binary_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = row_binary_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    return KernelPtr(std::make_unique<RowBinaryKernel>(is_op(node, "", "Mul") ? kRowMul : kRowAdd));
}

}  // namespace nnport::cpu

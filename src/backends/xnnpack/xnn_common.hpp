// Shared pieces of the XNNPACK backend: operator handles, status messages, type checks for supports(), the split of
// a fused activation into XNNPACK's output clamp and a vectorised epilogue, and the per-family entry points that
// xnn_backend.cpp dispatches to (xnn_conv.cpp, xnn_pool.cpp, xnn_gemm.cpp, xnn_elementwise.cpp, xnn_quant.cpp).
#pragma once

#include <xnnpack.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "core/thread_pool.hpp"
#include "ops/fused_util.hpp"

namespace nnport::xnn {

/// Deletes an XNNPACK operator.
struct OpDeleter {
    void operator()(xnn_operator_t op) const {
        if (op) xnn_delete_operator(op);
    }
};
/// An owned XNNPACK operator.
using OpPtr = std::unique_ptr<xnn_operator, OpDeleter>;

/// The name of an xnn_status ("xnn_status_invalid_parameter").
const char* status_name(xnn_status s);
/// "<node>: XNNPACK <call> failed (<status>)" as an internal error.
Status call_error(const ir::Node& n, const char* call, xnn_status s);
/// Work per thread below which a kernel stays on the calling thread (the oneDNN backend's rule): waking the pool's
/// workers costs more than small work saves, and on an oversubscribed machine a time slice per node.
constexpr int64_t kMacsPerThread = 512 * 1024;     ///< multiply-adds (convolution, fully connected)
constexpr int64_t kElementsPerThread = 32 * 1024;  ///< streamed elements (pooling, elementwise, epilogue)
/// The session's pthreadpool for XNNPACK when `work` is at least two threads' worth of `per_thread`; else nullptr
/// (run on the calling thread).
pthreadpool_t threadpool(const KernelContext& ctx, int64_t work, int64_t per_thread);
/// Threads worth using for `work`: min(session threads, work / per_thread), at least 1.
int64_t threads_for(const KernelContext& ctx, int64_t work, int64_t per_thread);

constexpr float kInf = std::numeric_limits<float>::infinity();

// ---- supports() helpers -------------------------------------------------------------------------------------------

/// Empty when value `v` (named `what` in messages) is a float32 tensor; else why not.
std::string need_f32(const ir::Value* v, const char* what);
/// Empty when `v` is a float32 tensor of known rank in [lo, hi]; else why not.
std::string need_f32_rank(const ir::Value* v, const char* what, int64_t lo, int64_t hi);
/// The node's attribute access (node.def must be set).
inline AttrAccess attrs_of(const ir::Node& n) { return AttrAccess(n, *n.def); }
/// True for an ai.onnx node ("" or "ai.onnx") of type `op`.
bool is_onnx(const ir::Node& n, const char* op);
/// True for a com.nnport node of type `op`.
bool is_nnport(const ir::Node& n, const char* op);
/// Whether the node's `activation` attributes parse (com.nnport fused ops); the reason when not.
std::string activation_obstacle(const ir::Node& n);

// ---- activations --------------------------------------------------------------------------------------------------

/// A fused activation split into the output clamp XNNPACK applies inside its kernel (Relu, Clip) and the rest,
/// applied afterwards by apply_epilogue.
struct ActSplit {
    float min = -kInf, max = kInf;  ///< XNNPACK output range
    fused::Activation post;         ///< what remains (Identity when the clamp covers it)
};
/// Relu -> [0, inf), Clip with min < max -> [min, max]; everything else stays in `post`.
ActSplit split_activation(const fused::Activation& a);

/// y[i] = act(y[i] + z[i]) for i in [0, n) (z may be null; Identity with null z does nothing), vectorised (AVX2/FMA
/// where the CPU has it) and split across `pool` for large n. Formulas match fused::apply_activation to float
/// rounding (exp-based functions use polynomial approximations accurate to a few ulp, erf to 1.5e-7 absolute).
void apply_epilogue(const fused::Activation& a, float* y, const float* z, int64_t n, ThreadPool* pool);
/// The vector instruction set the backend's own loops use (epilogue, depthwise): 0 baseline, 1 AVX2/FMA,
/// 2 AVX-512F; the CPU's best unless capped lower.
int simd_level();
/// Test hook: caps simd_level() (the CPU's best stays the upper bound); returns the previous cap.
int limit_simd_level(int level);

/// Runs a broadcasting binary operator kept as one XNNPACK operator per thread (`ops`, at least one). A same-shape or
/// scalar-operand op, which XNNPACK would run on one thread, is split into flat chunks of the output: chunk c on
/// ops[c], side by side on the session's pool. Anything else runs on ops[0] with the full shapes. `n` is y's element
/// count; run_op(op, rank_a, dims_a, rank_b, dims_b, a, b, y, pthreadpool) sets one operator up and runs it. The
/// caller holds the lock that guards `ops`.
template <typename T, typename RunOp>
Status run_binary(KernelContext& ctx, const std::vector<OpPtr>& ops, const Tensor& a, const Tensor& b, const T* pa,
                  const T* pb, T* py, int64_t n, const RunOp& run_op) {
    const int parts =
        static_cast<int>(std::min<int64_t>(threads_for(ctx, n, kElementsPerThread), static_cast<int64_t>(ops.size())));
    const bool flat = a.shape() == b.shape() || a.numel() == 1 || b.numel() == 1;
    if (flat && parts > 1) {
        std::vector<Status> st(static_cast<size_t>(parts));
        ctx.pool()->parallel_for(parts, [&](int64_t c0, int64_t c1) {
            for (int64_t c = c0; c < c1; ++c) {
                const int64_t lo = n * c / parts, len = n * (c + 1) / parts - lo;
                const bool a1 = a.numel() == 1, b1 = b.numel() == 1;  // a scalar operand (not both: n > 1)
                const size_t la = a1 ? 1 : static_cast<size_t>(len), lb = b1 ? 1 : static_cast<size_t>(len);
                st[static_cast<size_t>(c)] = run_op(ops[static_cast<size_t>(c)].get(), 1, &la, 1, &lb,
                                                    a1 ? pa : pa + lo, b1 ? pb : pb + lo, py + lo, nullptr);
            }
        });
        for (const Status& s : st) NNPORT_RETURN_IF_ERROR(s);
        return Status::ok();
    }
    size_t sa[XNN_MAX_TENSOR_DIMS], sb[XNN_MAX_TENSOR_DIMS];
    for (int64_t i = 0; i < a.rank(); ++i) sa[i] = static_cast<size_t>(a.dim(i));
    for (int64_t i = 0; i < b.rank(); ++i) sb[i] = static_cast<size_t>(b.dim(i));
    return run_op(ops[0].get(), static_cast<size_t>(a.rank()), sa, static_cast<size_t>(b.rank()), sb, pa, pb, py,
                  threadpool(ctx, n, kElementsPerThread));
}

// ---- op families --------------------------------------------------------------------------------------------------

using KernelPtr = std::unique_ptr<BackendKernel>;

/// Conv, com.nnport FusedConv (-> kNHWC) and their Nhwc forms.
Support conv_supports(const ir::Node& n, const ConstantFn& constant);
Result<KernelPtr> conv_prepare(const ir::Node& n, const PrepareContext& ctx);

/// MaxPool (float32, uint8, int8), AveragePool, GlobalAveragePool (float32) (-> kNHWC) and their Nhwc forms.
Support pool_supports(const ir::Node& n, const ConstantFn& constant);
Result<KernelPtr> pool_prepare(const ir::Node& n, const PrepareContext& ctx);

/// Gemm, com.nnport FusedGemm, MatMul, com.nnport FusedMatMul with a constant 2-D B.
Support gemm_supports(const ir::Node& n, const ConstantFn& constant);
Result<KernelPtr> gemm_prepare(const ir::Node& n, const PrepareContext& ctx);

/// Binary (Add, Sub, Mul, Div, Max, Min), unary (Relu, Clip, LeakyRelu, Sigmoid, HardSwish, Abs, Neg, Sqrt, Floor,
/// Ceil, Elu, Round) and Softmax.
Support elementwise_supports(const ir::Node& n, const ConstantFn& constant);
Result<KernelPtr> elementwise_prepare(const ir::Node& n, const PrepareContext& ctx);

/// QuantizeLinear and DequantizeLinear per tensor (float32 <-> uint8/int8), com.nnport QLinearAdd (xnn_quant.cpp).
bool is_quant_op(const ir::Node& n);
Support quant_supports(const ir::Node& n, const ConstantFn& constant);
Result<KernelPtr> quant_prepare(const ir::Node& n, const PrepareContext& ctx);

}  // namespace nnport::xnn

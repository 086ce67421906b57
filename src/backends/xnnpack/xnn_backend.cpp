// The XNNPACK backend: float32 convolution, pooling, fully connected and elementwise operators of Debian's XNNPACK
// (February 2022 operator API), and the int8 operators around int8 convolutions in QDQ models: QuantizeLinear and
// DequantizeLinear per tensor (float32 <-> uint8/int8), MaxPool on uint8/int8 and com.nnport QLinearAdd. Convolutions
// and pools run channels-last (the partitioner rewrites them into their com.nnport Nhwc* twins); weights are packed
// once when the node is prepared; each run sets the operator up for the actual input shape and runs it on the
// session's pthreadpool.
//
// Known difference from the reference kernels: XNNPACK's float32 kernels (convolution, fully connected, pooling,
// Add/Sub/Mul/Div, clamp) end with max(y, min) and min(y, max) instructions, which return the bound when y is NaN, and
// its Max/Min return the other operand when the first is NaN. A NaN result (a NaN input, inf - inf, 0/0) therefore
// comes out as -inf, or as the lower bound of a fused Relu/Clip (tested in XnnKnownDifferences).
// The int8 operators (xnn_quant.cpp; tested in XnnInt8.*): QuantizeLinear multiplies by the scale's float32
// reciprocal where ONNX divides, so it is one step off where x / scale is within about an ulp of a .5 tie, and a NaN
// quantizes to the type's maximum (the reference: its minimum); DequantizeLinear and uint8/int8 MaxPool are exact;
// QLinearAdd requantizes in fixed point and may differ from the reference's float arithmetic by one quantization step.
#include <algorithm>
#include <mutex>
#include <tuple>

#include "backends/xnnpack/xnn_common.hpp"
#include "core/thread_pool.hpp"

namespace nnport {

namespace xnn {

const char* status_name(xnn_status s) {
    switch (s) {
        case xnn_status_success: return "xnn_status_success";
        case xnn_status_uninitialized: return "xnn_status_uninitialized";
        case xnn_status_invalid_parameter: return "xnn_status_invalid_parameter";
        case xnn_status_invalid_state: return "xnn_status_invalid_state";
        case xnn_status_unsupported_parameter: return "xnn_status_unsupported_parameter";
        case xnn_status_unsupported_hardware: return "xnn_status_unsupported_hardware";
        case xnn_status_out_of_memory: return "xnn_status_out_of_memory";
    }
    return "unknown xnn_status";
}

Status call_error(const ir::Node& n, const char* call, xnn_status s) {
    return internal_error(n.describe() + ": XNNPACK " + call + " failed (" + status_name(s) + ")");
}

pthreadpool_t threadpool(const KernelContext& ctx, int64_t work, int64_t per_thread) {
    if (!ctx.pool() || work < 2 * per_thread) return nullptr;
    return static_cast<pthreadpool_t>(ctx.pool()->pthreadpool());
}

int64_t threads_for(const KernelContext& ctx, int64_t work, int64_t per_thread) {
    const int64_t pool = ctx.pool() ? ctx.pool()->num_threads() : 1;
    return std::max<int64_t>(1, std::min(pool, work / per_thread));
}

std::string need_f32(const ir::Value* v, const char* what) {
    if (!v) return std::string(what) + " is missing";
    if (!v->type.is_tensor()) return std::string(what) + " is not a tensor";
    if (v->type.dtype != DType::kFloat32) {
        return std::string(what) + " is " + dtype_name(v->type.dtype) + " (only float32 is supported)";
    }
    return {};
}

std::string need_f32_rank(const ir::Value* v, const char* what, int64_t lo, int64_t hi) {
    std::string why = need_f32(v, what);
    if (!why.empty()) return why;
    if (!v->type.has_shape) return std::string(what) + " has an unknown rank";
    const int64_t r = v->type.rank();
    if (r < lo || r > hi) {
        return std::string(what) + " has rank " + std::to_string(r) + " (supported: " +
               (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) + ")";
    }
    return {};
}

bool is_onnx(const ir::Node& n, const char* op) {
    return (n.domain().empty() || n.domain() == "ai.onnx") && n.op_type() == op;
}

bool is_nnport(const ir::Node& n, const char* op) { return n.domain() == "com.nnport" && n.op_type() == op; }

std::string activation_obstacle(const ir::Node& n) {
    auto a = fused::parse_activation(attrs_of(n));
    return a.is_ok() ? std::string() : a.status().message();
}

ActSplit split_activation(const fused::Activation& a) {
    ActSplit s;
    const auto r = fused::clamp_range(a);
    if (r && (a.kind != fused::Act::kClip || a.p0 < a.p1)) {  // XNNPACK needs min < max
        std::tie(s.min, s.max) = *r;
    } else {
        s.post = a;
    }
    return s;
}

}  // namespace xnn

namespace {

/// Initialises XNNPACK once per process; the status stays for available().
xnn_status initialize_once() {
    static const xnn_status s = xnn_initialize(nullptr);
    return s;
}

class XnnpackBackend final : public Backend {
public:
    std::string_view name() const override { return "xnnpack"; }
    std::string description() const override {
        return "XNNPACK (Debian 0.0~git20220216 operator API): float32 Conv/FusedConv and pooling channels-last, "
               "Gemm/MatMul with constant weights, elementwise and Softmax; its kernels clamp every output, so a NaN "
               "result comes out as the clamp's lower bound (-inf, 0 after Relu). int8: per-tensor QuantizeLinear "
               "(one step off next to .5 ties: it multiplies by 1/scale) and DequantizeLinear (exact), uint8/int8 "
               "MaxPool channels-last (exact), com.nnport QLinearAdd (fixed point, within one step)";
    }
    Support available() const override {
        const xnn_status s = initialize_once();
        if (s != xnn_status_success) return Support::no(std::string("xnn_initialize failed: ") + xnn::status_name(s));
        return Support::yes();
    }
    Support supports(const ir::Node& n, const ConstantFn& constant) const override {
        if (!n.def) return Support::no("unknown op");
        if (initialize_once() != xnn_status_success) return available();
        const std::string& op = n.op_type();
        const bool nnport = n.domain() == "com.nnport";
        const bool onnx = n.domain().empty() || n.domain() == "ai.onnx";
        if ((onnx && op == "Conv") || (nnport && (op == "FusedConv" || op == "NhwcConv" || op == "NhwcFusedConv"))) {
            return xnn::conv_supports(n, constant);
        }
        if ((onnx && (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GlobalMaxPool")) ||
            (nnport && (op == "NhwcMaxPool" || op == "NhwcAveragePool" || op == "NhwcGlobalAveragePool" ||
                        op == "NhwcGlobalMaxPool"))) {
            return xnn::pool_supports(n, constant);
        }
        if ((onnx && (op == "Gemm" || op == "MatMul")) || (nnport && (op == "FusedGemm" || op == "FusedMatMul"))) {
            return xnn::gemm_supports(n, constant);
        }
        if (xnn::is_quant_op(n)) return xnn::quant_supports(n, constant);
        return xnn::elementwise_supports(n, constant);
    }
    Result<std::unique_ptr<BackendKernel>> prepare(const ir::Node& n, const PrepareContext& ctx) const override {
        const Support s = supports(n, ctx.constant);
        if (!s.ok) return unsupported(n.describe() + ": " + s.reason);
        const std::string& op = n.op_type();
        if (op == "Conv" || op == "FusedConv" || op == "NhwcConv" || op == "NhwcFusedConv") {
            return xnn::conv_prepare(n, ctx);
        }
        if (op.find("Pool") != std::string::npos) return xnn::pool_prepare(n, ctx);
        if (op == "Gemm" || op == "MatMul" || op == "FusedGemm" || op == "FusedMatMul") {
            return xnn::gemm_prepare(n, ctx);
        }
        if (xnn::is_quant_op(n)) return xnn::quant_prepare(n, ctx);
        return xnn::elementwise_prepare(n, ctx);
    }
};

}  // namespace

const Backend& backend_xnnpack() {
    static const XnnpackBackend b;
    return b;
}

}  // namespace nnport

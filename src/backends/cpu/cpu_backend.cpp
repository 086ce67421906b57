// The cpu backend: nnport's own float32 kernels for the ops the libraries leave to the reference kernels or run
// slower: com.nnport ScaledDotProductAttention, the 2-D transposes inside Transpose, LSTM, Mul/Add by a vector along
// the last axis, float32 and int8 fully connected layers at batch 1, float32 convolutions with large weights,
// int8 depthwise convolution.
// AVX-512, AVX2 and portable builds of each kernel, chosen at run time by CPU features (cpu_kernels.hpp).
#include "backends/backend.hpp"
#include "backends/conv_support.hpp"
#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"

namespace nnport {

namespace {

class CpuBackend final : public Backend {
public:
    std::string_view name() const override { return "cpu"; }

    std::string description() const override {
        return std::string("nnport CPU kernels (") + cpu::isa_name(cpu::isa()) +
               "): float32 ScaledDotProductAttention, Transpose, LSTM, Mul/Add and ScaleShift by last-axis vectors, "
               "Gemm at "
               "batch 1, Conv with large weights; int8 depthwise convolution, QGemm at batch 1";
    }

    Support supports(const ir::Node& node, const ConstantFn& constant) const override {
        if (cpu::is_attention(node)) return cpu::attention_supports(node, constant);
        if (cpu::is_transpose(node)) return cpu::transpose_supports(node, constant);
        if (cpu::is_lstm(node)) return cpu::lstm_supports(node, constant);
        if (cpu::is_row_affine(node)) return cpu::row_affine_supports(node, constant);
        if (cpu::is_gemv(node)) return cpu::gemv_supports(node, constant);
        if (fconv::is_conv(node)) return cpu::conv_supports(node, constant);
        if (cpu::is_qdwconv(node)) return cpu::qdwconv_supports(node, constant);
        if (cpu::is_qgemv(node)) return cpu::qgemv_supports(node, constant);
        return Support::no("op not implemented by this backend");
    }

    Result<std::unique_ptr<BackendKernel>> prepare(const ir::Node& node, const PrepareContext& ctx) const override {
        if (cpu::is_attention(node)) return cpu::attention_prepare(node, ctx);
        if (cpu::is_transpose(node)) return cpu::transpose_prepare(node, ctx);
        if (cpu::is_lstm(node)) return cpu::lstm_prepare(node, ctx);
        if (cpu::is_row_affine(node)) return cpu::row_affine_prepare(node, ctx);
        if (cpu::is_gemv(node)) return cpu::gemv_prepare(node, ctx);
        if (fconv::is_conv(node)) return cpu::conv_prepare(node, ctx);
        if (cpu::is_qdwconv(node)) return cpu::qdwconv_prepare(node, ctx);
        if (cpu::is_qgemv(node)) return cpu::qgemv_prepare(node, ctx);
        return unsupported("cpu: " + node.describe() + ": op not implemented by this backend");
    }
};

}  // namespace

const Backend& backend_cpu() {
    static const CpuBackend b;
    return b;
}

}  // namespace nnport

// The oneDNN backend (Debian's oneDNN 2.6, CPU engine, OpenMP runtime): float32 convolution and pooling on
// channels-last data, int8 convolution (QLinearFusedConv) and fully connected (QGemm) for QDQ models, matmul / Gemm
// with pre-packed constant weights and fused activations, batched run-time matmul,
// layer normalization and softmax over the last axis. See onednn_common.hpp for threads and concurrency.
#include <dnnl.hpp>

#include "backends/backend.hpp"
#include "backends/conv_support.hpp"
#include "backends/onednn/onednn_common.hpp"
#include "backends/onednn/onednn_kernels.hpp"

namespace nnport {

namespace {

class OneDnnBackend final : public Backend {
public:
    std::string_view name() const override { return "onednn"; }

    std::string description() const override {
        const dnnl_version_t* v = dnnl_version();
        return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
               std::to_string(v->patch) +
               " (CPU, OpenMP threads): float32 Conv/FusedConv and pooling channels-last, int8 QLinearFusedConv channels-last, int8 QGemm, MatMul/Gemm with packed "
               "constant weights, LayerNormalization, Softmax";
    }

    Support available() const override {
        try {
            (void)onednn::engine();
        } catch (const dnnl::error& e) {
            return Support::no(std::string("no oneDNN CPU engine: ") + e.what());
        }
        return Support::yes();
    }

    Support supports(const ir::Node& node, const ConstantFn& constant) const override {
        if (fconv::is_conv(node)) return fconv::supports(node, constant);
        if (onednn::is_int8_conv(node)) return onednn::int8_conv_supports(node, constant);
        if (onednn::is_int8_gemm(node)) return onednn::int8_gemm_supports(node, constant);
        if (onednn::is_pool(node)) return onednn::pool_supports(node, constant);
        if (onednn::is_matmul(node)) return onednn::matmul_supports(node, constant);
        if (onednn::is_norm(node)) return onednn::norm_supports(node, constant);
        return Support::no("op not implemented by this backend");
    }

    Result<std::unique_ptr<BackendKernel>> prepare(const ir::Node& node, const PrepareContext& ctx) const override {
        if (fconv::is_conv(node)) return onednn::conv_prepare(node, ctx);
        if (onednn::is_int8_conv(node)) return onednn::int8_conv_prepare(node, ctx);
        if (onednn::is_int8_gemm(node)) return onednn::int8_gemm_prepare(node, ctx);
        if (onednn::is_pool(node)) return onednn::pool_prepare(node, ctx);
        if (onednn::is_matmul(node)) return onednn::matmul_prepare(node, ctx);
        if (onednn::is_norm(node)) return onednn::norm_prepare(node, ctx);
        return unsupported("onednn: " + node.describe() + ": op not implemented by this backend");
    }
};

}  // namespace

const Backend& backend_onednn() {
    static const OneDnnBackend b;
    return b;
}

}  // namespace nnport

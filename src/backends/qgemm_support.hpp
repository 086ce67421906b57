// What a backend needs to run com.nnport QGemm (transA 0, alpha 1) as an integer matrix product: the shared checks
// (A uint8/int8 of rank 2, constant int8 B with zero zero points, per-tensor or per-column scales, constant int32 C,
// Identity/Relu/Clip) and the parameters read from the constants once at prepare time. Used by the oneDNN and the
// cpu backends.
#pragma once

#include <vector>

#include "backends/backend.hpp"
#include "backends/qconv_support.hpp"

namespace nnport::qgemm {

/// com.nnport QGemm.
bool is_qgemm(const ir::Node& node);

/// Whether an integer matrix-product kernel can run `node` (float32 output without y_scale, else quantized).
Support supports(const ir::Node& node, const ConstantFn& constant);

/// The constant parameters of a supported node.
struct Params {
    DType a_type = DType::kUInt8, y_type = DType::kFloat32;
    int32_t a_zp = 0, y_zp = 0;
    std::vector<float> out_scales;  ///< one, or one per output column: a_scale * b_scale[n] (/ y_scale when quantized)
    float y_scale = 1.0f;
    bool trans_b = false;
    int64_t k = 0, n = 0;
    const Tensor* b = nullptr;  ///< int8 [K, N], or [N, K] with trans_b
    const Tensor* c = nullptr;  ///< int32 with N values, or nullptr
    fused::Activation act;
    bool quantized() const { return y_type != DType::kFloat32; }
};

/// Reads the parameters of a node `supports` accepted.
Result<Params> params(const ir::Node& node, const ConstantFn& constant);

}  // namespace nnport::qgemm

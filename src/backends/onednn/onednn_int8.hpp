// Helpers shared by the oneDNN backend's int8 kernels (onednn_int8_conv.cpp, onednn_int8_gemm.cpp).
#pragma once

#include <unordered_map>
#include <vector>

#include "backends/backend.hpp"
#include "backends/onednn/onednn_common.hpp"
#include "backends/qconv_support.hpp"

namespace nnport::onednn {

/// oneDNN's type for a uint8 / int8 tensor.
inline dt int8_dt(DType t) { return t == DType::kUInt8 ? dt::u8 : dt::s8; }

using qconv::is_int8;
using qconv::scalar_int;
using qconv::scalar_scale;

/// Attributes of an int8 primitive: output scales (one value, or one per output channel: dim 1 of the destination),
/// a run-time source zero point, a run-time destination zero point when `dst_zero_point`, and the activation as an
/// eltwise post-op in output steps (Relu; Clip with its bounds divided by `y_scale`).
inline dnnl::primitive_attr int8_attr(const std::vector<float>& out_scales, bool dst_zero_point,
                                      const fused::Activation& act, float y_scale) {
    dnnl::primitive_attr attr = base_attr();
    attr.set_output_scales(out_scales.size() == 1 ? 0 : 1 << 1, out_scales);
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    if (dst_zero_point) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
    dnnl::post_ops po;
    if (act.kind == fused::Act::kRelu) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    if (act.kind == fused::Act::kClip) {
        po.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip_v2, act.p0 / y_scale, act.p1 / y_scale);
    }
    attr.set_post_ops(po);
    return attr;
}

/// The run-time arguments of an int8 primitive made with int8_attr: source, weights, destination, the zero points
/// (the destination's when `dst_zp` is given; oneDNN reads them from these addresses) and the bias when defined.
inline std::unordered_map<int, dnnl::memory> int8_args(const dnnl::memory::desc& src_md, const void* src,
                                                       const dnnl::memory& weights, const dnnl::memory::desc& dst_md,
                                                       void* dst, const int32_t* src_zp, const int32_t* dst_zp,
                                                       const dnnl::memory::desc& bias_md, const Tensor& bias) {
    const dnnl::memory::desc zp_md({1}, dt::s32, tag::x);
    std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, wrap(src_md, src)},
                                                  {DNNL_ARG_WEIGHTS, weights},
                                                  {DNNL_ARG_DST, wrap(dst_md, dst)},
                                                  {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, wrap(zp_md, src_zp)}};
    if (dst_zp) args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, wrap(zp_md, dst_zp));
    if (bias.defined()) args.emplace(DNNL_ARG_BIAS, wrap(bias_md, bias.raw_data()));
    return args;
}

}  // namespace nnport::onednn

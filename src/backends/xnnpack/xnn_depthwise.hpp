// The XNNPACK backend's own channels-last depthwise convolution (windows XNNPACK 2022 has no micro-kernel for).
#pragma once

#include <cstdint>

namespace nnport::xnn {

/// Geometry of a depthwise convolution (channel multiplier 1) over NHWC data.
struct DepthwiseGeometry {
    int64_t n = 0, h = 0, w = 0, c = 0;  ///< input [N, H, W, C]
    int64_t kh = 0, kw = 0, sh = 1, sw = 1, dh = 1, dw = 1;
    int64_t pt = 0, pl = 0;               ///< top and left padding (the bottom/right follow from oh/ow)
    int64_t oh = 0, ow = 0;               ///< output [N, oh, ow, C]
};

/// True when XNNPACK 2022 has a depthwise micro-kernel for a window of `taps` taps (1, 4, 9, 25 on x86).
bool xnnpack_has_depthwise_window(int64_t taps);

/// y = clamp(depthwise_conv(x, w) + bias, lo, hi) for output rows [r0, r1) of the N*oh rows. Weights [kh][kw][C];
/// bias [C] or nullptr. Vectorised for the best instruction set of the CPU.
void depthwise_rows(const DepthwiseGeometry& g, const float* x, const float* w, const float* bias, float lo, float hi,
                    float* y, int64_t r0, int64_t r1);

}  // namespace nnport::xnn

// Helpers shared by the nn family: conv/pool window geometry (kernel, strides, dilations, pads, auto_pad).
#pragma once

#include <string>
#include <vector>

#include "ops/gemm_kernel.hpp"
#include "ops/kernel_util.hpp"

namespace nnport::nn {

/// True if Gemm's C (rank <= 2, broadcast to [M, N]) is the same for every row: a scalar, [N], [1, N] or [1, 1].
inline bool gemm_c_is_row(const Shape& c, int64_t n) {
    if (c.size() > 2) return false;
    if (c.size() == 2 && c[0] != 1) return false;
    return c.empty() || c.back() == n || c.back() == 1;
}

/// Window geometry over the spatial dims. Sizes of -1 are unknown (load-time inference on symbolic shapes).
struct Geometry {
    std::vector<int64_t> in, kernel, strides, dilations, pads_begin, pads_end, out;
    size_t rank() const { return in.size(); }
};

/// Resolves Conv/Pool geometry from the node's attributes for input spatial sizes `in` and kernel sizes `kernel`
/// (from the weight or kernel_shape). `ceil_mode` as in pooling. Fails on malformed attributes or an empty output.
Result<Geometry> window_geometry(const AttrAccess& a, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                                 bool ceil_mode);

/// ConvTranspose geometry: `output_padding`, `output_shape`, pads, auto_pad. `in` may hold -1 (unknown).
Result<Geometry> transpose_geometry(const AttrAccess& a, const std::vector<int64_t>& in,
                                    const std::vector<int64_t>& kernel);

/// Geometry expanded to exactly three spatial dims (leading dims of size 1) so kernels loop over (d, h, w).
struct Geo3 {
    int64_t in[3], k[3], s[3], d[3], pb[3], out[3];
    int64_t in_size() const { return in[0] * in[1] * in[2]; }
    int64_t out_size() const { return out[0] * out[1] * out[2]; }
    int64_t k_size() const { return k[0] * k[1] * k[2]; }
};
/// Fails for more than three spatial dims.
Result<Geo3> to_geo3(const Geometry& g);

/// Spatial sizes of a static-rank type (-1 where unknown); empty if rank unknown or < 3.
std::vector<int64_t> spatial_dims_of(const ir::ValueType& t);
/// Load-time checks shared by Conv and ConvTranspose (X rank >= 3, W of the same rank) and the window size
/// (kernel_shape, else W's spatial dims); empty when not fully known. X must have a shape.
Result<std::vector<int64_t>> static_window(const InferContext& ctx, const ir::ValueType& xt, const ir::ValueType& wt);
/// dims[0..1] + out sizes, with fresh symbols where unknown.
std::vector<ir::Dim> output_dims(InferContext& ctx, const ir::Dim& n, const ir::Dim& c, const std::vector<int64_t>& out);

/// Valid range [lo, hi) of output positions o for which o*s + off lies in [0, size).
inline void valid_range(int64_t off, int64_t s, int64_t size, int64_t out, int64_t& lo, int64_t& hi) {
    // o*s + off >= 0  <=>  o >= ceil(-off / s);   o*s + off <= size-1  <=>  o <= floor((size-1-off)/s)
    lo = off >= 0 ? 0 : (-off + s - 1) / s;
    const int64_t top = size - 1 - off;
    hi = top < 0 ? 0 : top / s + 1;
    if (hi > out) hi = out;
    if (lo > hi) lo = hi;
}

/// im2col over output rows [r0, r1) (a row is one (od, oh) pair): col[(c, kd, kh, kw)][(row - r0) * OW + ow],
/// zero where the window reads padding. `x` holds `channels` planes of g.in_size().
template <typename T>
void im2col(const T* x, int64_t channels, const Geo3& g, int64_t r0, int64_t r1, T* col) {
    const int64_t ow_n = g.out[2], ld = (r1 - r0) * ow_n;
    int64_t row = 0;
    for (int64_t c = 0; c < channels; ++c) {
        const T* xc = x + c * g.in_size();
        for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
                for (int64_t kw = 0; kw < g.k[2]; ++kw, ++row) {
                    T* dst = col + row * ld;
                    const int64_t woff = kw * g.d[2] - g.pb[2];
                    int64_t lo, hi;
                    valid_range(woff, g.s[2], g.in[2], ow_n, lo, hi);
                    for (int64_t r = r0; r < r1; ++r, dst += ow_n) {
                        const int64_t od = r / g.out[1], oh = r % g.out[1];
                        const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
                        const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
                        if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || lo >= hi) {
                            for (int64_t o = 0; o < ow_n; ++o) dst[o] = T(0);
                            continue;
                        }
                        const T* src = xc + (id * g.in[1] + ih) * g.in[2];
                        for (int64_t o = 0; o < lo; ++o) dst[o] = T(0);
                        if (g.s[2] == 1) {
                            for (int64_t o = lo; o < hi; ++o) dst[o] = src[o + woff];
                        } else {
                            for (int64_t o = lo; o < hi; ++o) dst[o] = src[o * g.s[2] + woff];
                        }
                        for (int64_t o = hi; o < ow_n; ++o) dst[o] = T(0);
                    }
                }
            }
        }
    }
}

/// Validated operands of a Conv-like node.
struct ConvShape {
    int64_t n = 0, c = 0, m = 0, group = 1;
    Geometry geo;
    Geo3 g3{};
    Shape out_shape;
};
/// Checks X/W shapes and attributes of Conv, ConvInteger and QLinearConv and resolves the output geometry.
Result<ConvShape> conv_shape(const KernelContext& ctx, const Tensor& x, const Tensor& w);
/// Float convolution y = conv(x, w) (+ bias, may be nullptr) for operands validated by conv_shape. `epilogue`
/// (optional) runs on each finished block of y viewed as a [N*M, spatial] matrix (rows = image * M + channel) while
/// the block is in cache; fused ops add their bias, residual and activation there. Defined for float and double.
template <typename T>
void conv_compute(const T* x, const T* w, const T* bias, T* y, const ConvShape& s, ThreadPool* pool,
                  const gemm::Epilogue* epilogue);
/// Validated MatMul operands (numpy semantics): sizes, broadcast batch and output shape.
struct MatMulShape {
    int64_t m = 0, n = 0, k = 0;
    Shape batch, out;
    std::vector<int64_t> sa, sb;  ///< batch strides of A and B in whole matrices (0 = broadcast)
    bool tall = false;            ///< B shared by all batches and A dense: one [batch*m, k] x [k, n] product
};
/// Checks MatMul operands (dtypes, alignment, broadcastable batch dims).
Result<MatMulShape> matmul_shape(const KernelContext& ctx, const Tensor& a, const Tensor& b);
/// C = A x B for operands checked by matmul_shape; `epilogue` (optional) runs on each finished block of C viewed as
/// a [numel / n, n] matrix. Defined for float and double.
template <typename T>
void matmul_compute(const T* a, const T* b, T* c, const MatMulShape& s, ThreadPool* pool,
                    const gemm::Epilogue* epilogue);
/// Load-time inference shared by the Conv family (weight at input `w_index`); `dt` is the output dtype.
Status conv_infer_common(InferContext& ctx, size_t w_index, DType dt);

/// Integer convolution core shared by ConvInteger and QLinearConv: y[N, M, out] = conv(x, w) in int32, where x and w
/// already have their zero points removed.
void conv_int32(const int32_t* x, const int32_t* w, int32_t* y, int64_t n, int64_t c, int64_t m, int64_t group,
                const Geo3& g, ThreadPool* pool);

}  // namespace nnport::nn

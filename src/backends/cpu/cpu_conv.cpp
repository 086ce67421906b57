// float32 convolutions with large weights (Conv / FusedConv, answered channels-last, and their NhwcConv /
// NhwcFusedConv form), group 1. Channels-last, a convolution is a matrix product over the output pixels: each pixel's
// row is its window's input pixels (kh x kw taps of C channels, zero rows in the padding) against the weights
// reordered to [taps x C, M]; a 1x1 convolution at stride 1 reads the input rows directly. At batch 1 each weight is
// used once per run, and weights larger than the caches come from memory every run: ResNet-50's stages 3 and 4 hold
// about 80 MB of them. oneDNN 2.6's brgemm convolution stalls on each block of weights at its first use (ResNet-50's
// 512 -> 1024 stride-2 projection alone at 2 threads: 0.39 ms with its 2 MB of weights cached, 0.45 ms with them in
// memory). Kernels::panel_gemm prefetches the next 64-column panel (or chunk of one) of the weights a slice per row
// tile while it computes the current one, so the fetch overlaps the multiply-adds. Threads take whole panels (output
// channels), each streaming its share of the weights once; with fewer panels than threads, they take output rows.
// The bias, the residual Z (accumulated in place when the planner gives it the output's buffer) and a Relu / Clip
// activation are applied as each tile is stored.
//
// Taken only where it was measured faster in whole networks (interleaved per-node profiles, resnet50 at 1 / 2 threads):
// - 1x1 with 2 MB of weights or more: the stage 3 and 4 projections 0.90 -> 0.78 / 0.51 -> 0.43 ms and 0.93 -> 0.83 /
//   0.55 -> 0.46 ms, stage 4's 1x1 layers 0.47 -> 0.42 / 0.28 -> 0.25 ms. At 1 MB and below (stage 2 and 3
//   bottlenecks, 196 to 784 pixels) oneDNN's kernels were as fast or faster: the weights stay closer, and oneDNN
//   splits the pixels across threads, which keeps the data a thread wrote in the previous layer on its core.
// - Larger windows with 4 MB of weights or more: stage 4's 3 x 3 layers (9.4 MB, 49 pixels) 1.12-1.24 -> 0.94-0.99 /
//   0.60-0.67 -> 0.50-0.56 ms, though up to a fifth of their multiply-adds are by zero rows of the padding;
//   resnet18 -3.8% / -1.4%.
//   At 2.4 MB (stage 3's 3 x 3 layers, 196 pixels) oneDNN runs them at 95% of the machine's peak.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "backends/conv_support.hpp"
#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "ops/fused_util.hpp"
#include "ops/kernel_util.hpp"
#include "ops/nn_util.hpp"

namespace nnport::cpu {

namespace {

/// Weights (output x input channels x window) from which the node is taken: 2 MiB of float32 for 1x1 convolutions,
/// 4 MiB for larger windows (see above). Windows have at most kMaxTaps taps.
constexpr int64_t kMinWeights1x1 = int64_t{1} << 19;
constexpr int64_t kMinWeights = int64_t{1} << 20;
/// Multiply-adds per part of the parallel split.
constexpr double kMacsPerPart = double(int64_t{1} << 20);

class ConvKernel final : public BackendKernel {
public:
    ConvKernel(const ir::Node& node, const Tensor& w, const Tensor* bias, std::pair<float, float> clamp, int threads)
        : has_z_(fconv::is_fused(node) && node.input(3) != nullptr), threads_(threads), clamp_(clamp) {
        n_ = w.dim(0);
        k_ = w.dim(1);
        kh_ = w.dim(2);
        kw_ = w.dim(3);
        taps_ = kh_ * kw_;
        panels_ = (n_ + kPanel - 1) / kPanel;
        // B(t * C + c, j) = W[j][c][t] for tap t = (ty, tx) in row-major order.
        const float* pw = w.data<float>();
        w_ = pack_panels(taps_ * k_, n_, [&](int64_t q, int64_t j) { return pw[(j * k_ + q % k_) * taps_ + q / k_]; });
        if (bias) bias_.assign(bias->data<float>(), bias->data<float>() + n_);
        zero_.assign(static_cast<size_t>(k_), 0.0f);
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() != 4 || x.dim(3) != k_) {
            return ctx.input_error("X must be a float32 [N, H, W, " + std::to_string(k_) + "] tensor, got " +
                                   std::string(dtype_name(x.dtype())) + " " + shape_to_string(x.shape()));
        }
        const int64_t nb = x.dim(0), h = x.dim(1), wd = x.dim(2);
        NNPORT_ASSIGN_OR_RETURN(nn::Geometry g, nn::window_geometry(ctx, {h, wd}, {kh_, kw_}, false));
        const int64_t oh = g.out[0], ow = g.out[1];
        const Shape out_shape{nb, oh, ow, n_};
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out_shape));
        const float* z = nullptr;
        if (has_z_) {
            if (!ctx.has_input(3)) return ctx.input_error("Z is missing");
            const Tensor& zt = ctx.input(3);
            if (zt.dtype() != DType::kFloat32 || zt.shape() != out_shape) {
                return ctx.input_error("Z " + shape_to_string(zt.shape()) +
                                       " must be float32 with the output's shape " + shape_to_string(out_shape));
            }
            z = zt.data<float>();
        }
        const int64_t m = nb * oh * ow;
        if (m == 0 || n_ == 0) return Status::ok();
        PanelGemm pg;
        pg.a = x.data<float>();
        pg.lda = k_;
        pg.m = m;
        pg.k = k_;
        pg.w = w_.data();
        pg.g0 = 0;
        pg.g1 = panels_;
        pg.n = n_;
        pg.bias = bias_.empty() ? nullptr : bias_.data();
        pg.z = z;
        pg.ldz = n_;
        pg.y = y->data<float>();
        pg.ldy = n_;
        std::tie(pg.lo, pg.hi) = clamp_;
        // Unless the output pixels are the input pixels (1x1, stride 1, no padding), the rows come from a table: for
        // each tap (ty, tx) and output pixel, its input pixel, or the zero row in the padding.
        std::vector<const float*> rows;
        const bool direct = taps_ == 1 && g.strides == std::vector<int64_t>{1, 1} &&
                            g.pads_begin == std::vector<int64_t>{0, 0} && g.pads_end == std::vector<int64_t>{0, 0};
        if (!direct) {
            rows.resize(static_cast<size_t>(taps_ * m));
            for (int64_t ty = 0; ty < kh_; ++ty) {
                for (int64_t tx = 0; tx < kw_; ++tx) {
                    const float** r = rows.data() + (ty * kw_ + tx) * m;
                    for (int64_t b = 0; b < nb; ++b) {
                        for (int64_t oy = 0; oy < oh; ++oy) {
                            const int64_t iy = oy * g.strides[0] - g.pads_begin[0] + ty * g.dilations[0];
                            for (int64_t ox = 0; ox < ow; ++ox) {
                                const int64_t ix = ox * g.strides[1] - g.pads_begin[1] + tx * g.dilations[1];
                                *r++ = iy < 0 || iy >= h || ix < 0 || ix >= wd ? zero_.data()
                                                                               : pg.a + ((b * h + iy) * wd + ix) * k_;
                            }
                        }
                    }
                }
            }
            pg.rows = rows.data();
            pg.taps = taps_;
            pg.ld_rows = m;
            pg.zero = zero_.data();
        }
        const Kernels& kn = kernels();
        // Threads take panels (output channels): each streams its share of the weights once. With fewer panels than
        // threads, they take output rows instead.
        const double macs = double(m) * double(taps_ * k_) * double(n_);
        const bool by_panels = panels_ >= threads_;
        const int64_t out_rows = nb * oh;
        const int64_t parts = parts_for(macs, kMacsPerPart, by_panels ? panels_ : out_rows, threads_);
        run_parts(ctx, parts, [&](int64_t b, int64_t e) {
            PanelGemm part = pg;
            if (by_panels) {
                part.g0 = panels_ * b / parts;
                part.g1 = panels_ * e / parts;
            } else {
                const int64_t r0 = out_rows * b / parts * ow, r1 = out_rows * e / parts * ow;
                part.m = r1 - r0;
                if (part.rows) {
                    part.rows += r0;
                } else {
                    part.a += r0 * k_;
                }
                if (part.z) part.z += r0 * n_;
                part.y += r0 * n_;
            }
            std::vector<float> partial;  // partial sums over a long window x channels
            if (taps_ * k_ > kPanelChunkSteps) {
                partial.resize(static_cast<size_t>(part.m * kPanel));
                part.part = partial.data();
            }
            if (part.m > 0 && part.g1 > part.g0) kn.panel_gemm(part);
        });
        return Status::ok();
    }

    /// The residual Z: each element is read before the output's is written, so Z may be the output's buffer.
    int inplace_input() const override { return has_z_ ? 3 : -1; }

private:
    bool has_z_;
    int threads_;
    std::pair<float, float> clamp_;
    int64_t n_ = 0, k_ = 0, kh_ = 1, kw_ = 1, taps_ = 1, panels_ = 0;
    std::vector<float> w_, bias_, zero_;
};

}  // namespace

Support conv_supports(const ir::Node& node, const ConstantFn& constant) {
    if (isa() != Isa::kAvx512) return Support::no("convolutions only with AVX-512 (measured there)");
    const Support s = fconv::supports(node, constant);
    if (!s.ok) return s;
    const Tensor* w = constant(node.input(1));
    AttrAccess a(node, *node.def);
    if (a.attr_int("group") != 1) return Support::no("only group 1");
    auto act = fconv::activation(node);
    if (!act.is_ok() || !fused::clamp_range(act.value())) return Support::no("only Relu / Clip activations (a clamp)");
    const int64_t taps = w->dim(2) * w->dim(3), weights = w->dim(0) * w->dim(1) * taps;
    if (taps > kMaxTaps) return Support::no("windows of at most " + std::to_string(kMaxTaps) + " taps");
    if (taps == 1 && weights < kMinWeights1x1)
        return Support::no("1x1 weights under 2 MB (oneDNN's kernels are as fast there)");
    if (taps > 1 && weights < kMinWeights)
        return Support::no("weights under 4 MB (oneDNN's kernels are as fast there)");
    return s;
}

Result<KernelPtr> conv_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = conv_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    if (!fconv::is_nhwc(node)) return unsupported("cpu: " + node.describe() + ": runs channels-last only");
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fconv::activation(node));
    const Tensor* w = ctx.constant(node.input(1));
    // Padding multiplies weights by zero rows (or skips them): equal only while the weights are finite.
    const float* pw = w->data<float>();
    if (!std::all_of(pw, pw + w->numel(), [](float v) { return std::isfinite(v); })) {
        return unsupported("cpu: " + node.describe() + ": weights not all finite");
    }
    const Tensor* b = node.input(2) ? ctx.constant(node.input(2)) : nullptr;
    return KernelPtr(std::make_unique<ConvKernel>(node, *w, b, *fused::clamp_range(act), ctx.threads));
}

}  // namespace nnport::cpu

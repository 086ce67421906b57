// float32 1x1 convolutions with large weights (Conv / FusedConv, answered channels-last, and their NhwcConv /
// NhwcFusedConv form). Channels-last, a 1x1 convolution is a matrix product over the pixels, y[pixel] = x[pixel] W^T
// (a strided one reads every s-th pixel). At batch 1 each weight is used once per run, and weights larger than the
// caches come from memory every run: ResNet-50's stages 3 and 4 hold about 80 MB of them. oneDNN 2.6's brgemm
// convolution stalls on each block of weights at its first use (ResNet-50's 512 -> 1024 stride-2 projection alone at 2
// threads: 0.39 ms with its 2 MB of weights cached, 0.45 ms with them in memory). Kernels::panel_gemm prefetches the
// next 64-column panel of the weights a slice per row tile while it computes the current panel, so the fetch overlaps
// the multiply-adds (that layer inside resnet50: 0.51 -> 0.43 ms at 2 threads, 0.90 -> 0.78 ms at 1). Threads take
// whole panels, each streaming its share of the weights once. The bias, the residual Z (accumulated in place when the
// planner gives it the output's buffer) and a Relu / Clip activation are applied as each tile is stored.
//
// Taken only where it was measured faster in whole networks (interleaved per-node profiles of resnet50): weights of
// 2 MB and more. At 1 MB and below (ResNet-50's stage 2 and 3 bottleneck layers, 196 to 784 pixels) oneDNN's kernels
// were as fast or faster: the weights stay closer, and oneDNN splits the pixels across threads, which keeps the data a
// thread wrote in the previous layer on its own core.
#include <algorithm>
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

/// Weights (input x output channels) from which the node is taken: 2 MiB of float32 (see above).
constexpr int64_t kMinWeights = int64_t{1} << 19;
/// Multiply-adds per part of the parallel split.
constexpr double kMacsPerPart = double(int64_t{1} << 20);

class Conv1x1Kernel final : public BackendKernel {
public:
    Conv1x1Kernel(const ir::Node& node, const Tensor& w, const Tensor* bias, std::pair<float, float> clamp, int threads)
        : has_z_(fconv::is_fused(node) && node.input(3) != nullptr), threads_(threads), clamp_(clamp) {
        n_ = w.dim(0);
        k_ = w.dim(1);
        panels_ = (n_ + kPanel - 1) / kPanel;
        w_.assign(static_cast<size_t>(panels_ * k_ * kPanel), 0.0f);
        const float* pw = w.data<float>();
        for (int64_t j = 0; j < n_; ++j) {
            for (int64_t p = 0; p < k_; ++p) {
                w_[static_cast<size_t>(((j / kPanel) * k_ + p) * kPanel + j % kPanel)] = pw[j * k_ + p];
            }
        }
        if (bias) bias_.assign(bias->data<float>(), bias->data<float>() + n_);
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() != 4 || x.dim(3) != k_) {
            return ctx.input_error("X must be a float32 [N, H, W, " + std::to_string(k_) + "] tensor, got " +
                                   std::string(dtype_name(x.dtype())) + " " + shape_to_string(x.shape()));
        }
        const int64_t nb = x.dim(0), h = x.dim(1), wd = x.dim(2);
        NNPORT_ASSIGN_OR_RETURN(nn::Geometry g, nn::window_geometry(ctx, {h, wd}, {1, 1}, false));
        for (size_t i = 0; i < 2; ++i) {
            if (g.pads_begin[i] != 0 || g.pads_end[i] != 0) return ctx.input_error("pads must be 0");
        }
        const int64_t oh = g.out[0], ow = g.out[1], sh = g.strides[0], sw = g.strides[1];
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
        // Strided: the offset of every output pixel's input pixel.
        std::vector<int64_t> off;
        if (sh != 1 || sw != 1) {
            off.resize(static_cast<size_t>(m));
            int64_t i = 0;
            for (int64_t b = 0; b < nb; ++b) {
                for (int64_t oy = 0; oy < oh; ++oy) {
                    for (int64_t ox = 0; ox < ow; ++ox)
                        off[static_cast<size_t>(i++)] = ((b * h + oy * sh) * wd + ox * sw) * k_;
                }
            }
        }
        PanelGemm pg;
        pg.a = x.data<float>();
        pg.a_off = off.empty() ? nullptr : off.data();
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
        const Kernels& kn = kernels();
        // Threads take panels (output channels): each streams its share of the weights once. With fewer panels than
        // threads, they take rows (pixels) instead.
        const double macs = double(m) * double(k_) * double(n_);
        const bool by_panels = panels_ >= threads_;
        const int64_t parts = parts_for(macs, kMacsPerPart, by_panels ? panels_ : (m + 5) / 6, threads_);
        run_parts(ctx, parts, [&](int64_t b, int64_t e) {
            PanelGemm part = pg;
            if (by_panels) {
                part.g0 = panels_ * b / parts;
                part.g1 = panels_ * e / parts;
            } else {
                const int64_t r0 = m * b / parts, r1 = m * e / parts;
                part.m = r1 - r0;
                if (part.a_off) {
                    part.a_off += r0;
                } else {
                    part.a += r0 * k_;
                }
                if (part.z) part.z += r0 * n_;
                part.y += r0 * n_;
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
    int64_t n_ = 0, k_ = 0, panels_ = 0;
    std::vector<float> w_, bias_;
};

}  // namespace

bool is_conv1x1(const ir::Node& node) { return fconv::is_conv(node); }

Support conv1x1_supports(const ir::Node& node, const ConstantFn& constant) {
    if (isa() != Isa::kAvx512) return Support::no("1x1 convolutions only with AVX-512 (measured there)");
    const Support s = fconv::supports(node, constant);
    if (!s.ok) return s;
    const Tensor* w = constant(node.input(1));
    if (w->dim(2) != 1 || w->dim(3) != 1) return Support::no("only 1x1 convolutions");
    AttrAccess a(node, *node.def);
    if (a.attr_int("group") != 1) return Support::no("only group 1");
    auto act = fconv::activation(node);
    if (!act.is_ok() || !fused::clamp_range(act.value())) return Support::no("only Relu / Clip activations (a clamp)");
    auto g = nn::window_geometry(a, fconv::input_hw(node), {1, 1}, false);
    if (!g.is_ok()) return Support::no(g.status().message());
    for (size_t i = 0; i < 2; ++i) {
        if (g.value().pads_begin[i] != 0 || g.value().pads_end[i] != 0) return Support::no("only pads 0");
    }
    if (w->dim(0) * w->dim(1) < kMinWeights) {
        return Support::no("weights under 2 MB (oneDNN's kernels are as fast there)");
    }
    return s;
}

Result<KernelPtr> conv1x1_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = conv1x1_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    if (!fconv::is_nhwc(node)) return unsupported("cpu: " + node.describe() + ": runs channels-last only");
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fconv::activation(node));
    const Tensor* w = ctx.constant(node.input(1));
    const Tensor* b = node.input(2) ? ctx.constant(node.input(2)) : nullptr;
    return KernelPtr(std::make_unique<Conv1x1Kernel>(node, *w, b, *fused::clamp_range(act), ctx.threads));
}

}  // namespace nnport::cpu

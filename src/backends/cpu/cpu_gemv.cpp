// Fully connected layers at batch 1 (Gemm / com.nnport FusedGemm with a constant B and at most 4 rows of A): the
// classifiers and squeeze-excitation layers of CNNs. Their time is the pass over the weights, and oneDNN 2.6's matmul
// hardly splits a single row across threads (mobilenet_v3_small's 1024 x 1000 classifier: 49 us median on one
// thread, 39 us on two). This kernel packs alpha * B once into 64-column panels (one contiguous stream per panel),
// splits the panels across the session's threads, and keeps every row of A in registers against each weight load.
// The bias (beta * C, a constant row or scalar) and the activation are applied as the reference applies them.
#include <algorithm>
#include <cstring>
#include <optional>
#include <tuple>
#include <vector>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "ops/fused_util.hpp"
#include "ops/kernel_util.hpp"
#include "ops/nn_util.hpp"

namespace nnport::cpu {

namespace {

/// Rows of A up to which the matrix-vector kernel is used.
constexpr int64_t kMaxRows = 4;
/// Weights below which the library's per-call cost no longer matters (and the node is left to it).
constexpr int64_t kMinWeights = 1 << 14;
/// Multiply-adds per part of the parallel split (a part streams 256 KiB of weights at least).
constexpr double kMacsPerPart = double(int64_t{1} << 16);

bool is_fused(const ir::Node& n) { return n.domain() == "com.nnport"; }

/// A constant float32 tensor of `v`, or nullptr.
const Tensor* const_f32(const ConstantFn& constant, const ir::Value* v) {
    const Tensor* t = v ? constant(v) : nullptr;
    return t && t->dtype() == DType::kFloat32 ? t : nullptr;
}

class GemvKernel final : public BackendKernel {
public:
    GemvKernel(const Tensor& b, bool trans_b, float alpha, const Tensor* c, float beta, fused::Activation act,
               int threads)
        : threads_(threads), act_(act), clamp_(fused::clamp_range(act)) {
        k_ = trans_b ? b.dim(1) : b.dim(0);
        n_ = trans_b ? b.dim(0) : b.dim(1);
        panels_ = (n_ + kPanel - 1) / kPanel;
        const float* pb = b.data<float>();
        w_ = pack_panels(k_, n_,
                         [&](int64_t p, int64_t j) { return alpha * (trans_b ? pb[j * k_ + p] : pb[p * n_ + j]); });
        if (c && beta != 0.0f) {
            bias_.resize(static_cast<size_t>(n_));
            for (int64_t j = 0; j < n_; ++j)
                bias_[static_cast<size_t>(j)] = beta * c->data<float>()[c->numel() == 1 ? 0 : j];
        }
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& a = ctx.input(0);
        if (a.dtype() != DType::kFloat32 || a.rank() != 2 || a.dim(1) != k_ || a.dim(0) > kMaxRows) {
            return ctx.input_error("A must be a float32 [M, " + std::to_string(k_) +
                                   "] tensor with M <= " + std::to_string(kMaxRows) + ", got " + dtype_name(a.dtype()) +
                                   " " + shape_to_string(a.shape()));
        }
        const int64_t m = a.dim(0);
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, {m, n_}));
        if (y->numel() == 0) return Status::ok();
        const float* pa = a.data<float>();
        float* py = y->data<float>();
        const Kernels& kn = kernels();
        const int64_t parts = parts_for(double(k_) * double(n_), kMacsPerPart, panels_, threads_);
        run_parts(ctx, parts, [&](int64_t b, int64_t e) {
            const int64_t g0 = panels_ * b / parts, g1 = panels_ * e / parts;
            if (k_ == 0) {  // an empty sum: the bias alone
                for (int64_t i = 0; i < m; ++i) {
                    for (int64_t j = g0 * kPanel; j < std::min(n_, g1 * kPanel); ++j) {
                        py[i * n_ + j] = bias_.empty() ? 0.0f : bias_[static_cast<size_t>(j)];
                    }
                }
            } else {
                PanelGemm pg;
                pg.a = pa;
                pg.lda = k_;
                pg.m = m;
                pg.k = k_;
                pg.w = w_.data();
                pg.g0 = g0;
                pg.g1 = g1;
                pg.n = n_;
                pg.bias = bias_.empty() ? nullptr : bias_.data();
                pg.y = py;
                pg.ldy = n_;
                if (clamp_) std::tie(pg.lo, pg.hi) = *clamp_;
                float part[kMaxRows * kPanel];  // partial sums over a long k
                pg.part = part;
                kn.panel_gemm(pg);
            }
            const int64_t c0 = g0 * kPanel, c1 = std::min(n_, g1 * kPanel);
            // Other activations (and any, after an empty sum) run over the finished rows.
            if (act_.kind != fused::Act::kIdentity && (k_ == 0 || !clamp_) && c1 > c0) {
                for (int64_t i = 0; i < m; ++i) fused::apply_activation(act_, py + i * n_ + c0, c1 - c0);
            }
        });
        return Status::ok();
    }

private:
    int threads_;
    fused::Activation act_;
    std::optional<std::pair<float, float>> clamp_;  ///< the activation as the kernel's output clamp, if it is one
    int64_t k_ = 0, n_ = 0, panels_ = 0;
    std::vector<float> w_, bias_;
};

}  // namespace

bool is_gemv(const ir::Node& node) { return is_op(node, "", "Gemm") || is_op(node, "com.nnport", "FusedGemm"); }

Support gemv_supports(const ir::Node& node, const ConstantFn& constant) {
    if (!node.def) return Support::no("unknown op");
    const ir::Value* av = node.input(0);
    if (!is_f32(av) || !is_f32(node.input(1))) return Support::no("only float32 operands");
    if (node.outputs().size() != 1) return Support::no("one output expected");
    AttrAccess a(node, *node.def);
    if (a.attr_int("transA") != 0) return Support::no("only A not transposed");
    if (is_fused(node)) {
        auto act = fused::parse_activation(a);
        if (!act.is_ok()) return Support::no(act.status().message());
    }
    if (rank_of(av) != 2 || !av->type.dims[0].is_static() || av->type.dims[0].value > kMaxRows) {
        return Support::no("only A of 2 dims with a few rows (at most " + std::to_string(kMaxRows) + ", static)");
    }
    const Tensor* b = const_f32(constant, node.input(1));
    if (!b || b->rank() != 2) return Support::no("B is not a constant float32 matrix");
    const bool tb = a.attr_int("transB") != 0;
    const int64_t k = tb ? b->dim(1) : b->dim(0), n = tb ? b->dim(0) : b->dim(1);
    const ir::Dim& ak = av->type.dims[1];
    if (ak.is_static() && ak.value != k) return Support::no("A's columns do not match B");
    if (k * n < kMinWeights) return Support::no("too small (under " + std::to_string(kMinWeights) + " weights)");
    if (const ir::Value* cv = node.input(2)) {
        const Tensor* c = const_f32(constant, cv);
        if (!c) return Support::no("C is not a constant float32 tensor");
        if (!nn::gemm_c_is_row(c->shape(), n)) return Support::no("C is not a scalar or a row of N");
    }
    return Support::yes();
}

Result<KernelPtr> gemv_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = gemv_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    AttrAccess a(node, *node.def);
    fused::Activation act;
    if (is_fused(node)) {
        NNPORT_ASSIGN_OR_RETURN(act, fused::parse_activation(a));
    }
    const Tensor* b = ctx.constant(node.input(1));
    const Tensor* c = node.input(2) ? ctx.constant(node.input(2)) : nullptr;
    return KernelPtr(std::make_unique<GemvKernel>(*b, a.attr_int("transB") != 0, a.attr_float("alpha"), c,
                                                  a.attr_float("beta"), act, ctx.threads));
}

}  // namespace nnport::cpu

// int8 fully connected layers at batch 1 (com.nnport QGemm with a few rows of A and a float32 output: the classifier
// of an int8 CNN) on AVX-512 VNNI. oneDNN 2.6 runs these as a general int8 matmul (0.21 ms for mobilenet_v2's
// 1280 x 1000 here, about 6 GB/s of weights); this kernel streams B once per row of A, packed at prepare time in
// 16-column by 4-row blocks so that one VPDPBUSD multiplies a broadcast quad of A by 64 weights, four column blocks
// at a time. A's zero point is folded into the bias (int8 A is offset by 128 into uint8), and the output is formed
// as the reference forms it (float(acc + C) * a_scale * b_scale[n], then Relu / Clip): bit-identical.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "backends/qgemm_support.hpp"

namespace nnport::cpu {

namespace {

/// Rows of A up to which the matrix-vector kernel beats a general matrix product.
constexpr int64_t kMaxRows = 4;
/// Multiply-adds per thread below which a product runs on the calling thread (int8).
constexpr double kMacsPerThread = double(int64_t{1} << 20);

class QGemvKernel final : public BackendKernel {
public:
    QGemvKernel(const qgemm::Params& p, int threads) : threads_(threads), a_type_(p.a_type), k_(p.k), n_(p.n) {
        kp_ = (k_ + 3) / 4 * 4;
        const int64_t np = (n_ + 15) / 16 * 16;
        w_.assign(static_cast<size_t>(np * kp_), 0);
        bias_.assign(static_cast<size_t>(np), 0);
        scale_.assign(static_cast<size_t>(np), 0.0f);
        // int8 A is read as uint8 A + 128, with zero point a_zp + 128.
        a_zp_ = p.a_zp + (p.a_type == DType::kInt8 ? 128 : 0);
        const int8_t* b = p.b->data<int8_t>();
        for (int64_t n = 0; n < n_; ++n) {
            int32_t sum = 0;
            for (int64_t k = 0; k < k_; ++k) {
                const int8_t v = p.trans_b ? b[n * k_ + k] : b[k * n_ + n];
                w_[static_cast<size_t>((n / 16) * kp_ * 16 + (k / 4) * 64 + (n % 16) * 4 + k % 4)] = v;
                sum += v;
            }
            bias_[static_cast<size_t>(n)] = (p.c ? p.c->data<int32_t>()[n] : 0) - a_zp_ * sum;
            scale_[static_cast<size_t>(n)] = p.out_scales[p.out_scales.size() == 1 ? 0 : static_cast<size_t>(n)];
        }
        // qgemm_support takes only Identity, Relu and Clip.
        std::tie(lo_, hi_) = fused::clamp_range(p.act).value_or(
            std::pair{-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()});
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& a = ctx.input(0);
        if (a.dtype() != a_type_ || a.rank() != 2 || a.dim(1) != k_) {
            return ctx.input_error("A must be a " + std::string(dtype_name(a_type_)) + " [M, " + std::to_string(k_) +
                                   "] tensor, got " + dtype_name(a.dtype()) + " " + shape_to_string(a.shape()));
        }
        const int64_t m = a.dim(0);
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, {m, n_}));
        if (y->numel() == 0) return Status::ok();
        const Kernels& kn = kernels();
        std::vector<uint8_t> row(static_cast<size_t>(kp_), 0);
        const int64_t blocks = (n_ + 63) / 64;  // the kernel's 64-column steps, split across threads
        const int64_t parts = parts_for(double(k_) * double(n_), kMacsPerThread, blocks, threads_);
        for (int64_t i = 0; i < m; ++i) {
            const uint8_t* ai = static_cast<const uint8_t*>(a.raw_data()) + i * k_;
            for (int64_t k = 0; k < k_; ++k) row[static_cast<size_t>(k)] = ai[k] ^ (a_type_ == DType::kInt8 ? 0x80 : 0);
            float* yi = y->data<float>() + i * n_;
            run_parts(ctx, parts, [&](int64_t b, int64_t e) {
                const int64_t n0 = blocks * b / parts * 64, n1 = std::min(n_, blocks * e / parts * 64);
                kn.qgemv(row.data(), w_.data(), bias_.data(), scale_.data(), kp_, n0, n1, lo_, hi_, yi);
            });
        }
        return Status::ok();
    }

private:
    int threads_;
    DType a_type_;
    int64_t k_ = 0, n_ = 0, kp_ = 0;
    int32_t a_zp_ = 0;
    float lo_ = 0, hi_ = 0;
    std::vector<int8_t> w_;
    std::vector<int32_t> bias_;
    std::vector<float> scale_;
};

}  // namespace

bool is_qgemv(const ir::Node& node) { return qgemm::is_qgemm(node); }

Support qgemv_supports(const ir::Node& node, const ConstantFn& constant) {
    if (Support v = int8_kernels_available(); !v.ok) return v;
    const Support s = qgemm::supports(node, constant);
    if (!s.ok) return s;
    const ir::Dim& m = node.input(0)->type.dims[0];
    if (!m.is_static() || m.value > kMaxRows) {
        return Support::no("only a few rows of A (at most " + std::to_string(kMaxRows) + ", static)");
    }
    auto p = qgemm::params(node, constant);
    if (!p.is_ok()) return Support::no(p.status().message());
    if (p->quantized()) return Support::no("only a float32 output");
    double worst = 0;
    for (int64_t n = 0; n < p->n; ++n) {
        double s = p->c ? std::fabs(double(p->c->data<int32_t>()[n])) : 0.0;
        s += 255.0 * 128.0 * double(p->k) * 2;  // |A - a_zp| < 256, |B| <= 128, the folded zero point as much again
        worst = std::max(worst, s);
    }
    if (worst >= 2147483647.0) return Support::no("sums could overflow int32");
    return s;
}

Result<KernelPtr> qgemv_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = qgemv_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    NNPORT_ASSIGN_OR_RETURN(qgemm::Params p, qgemm::params(node, ctx.constant));
    return KernelPtr(std::make_unique<QGemvKernel>(p, ctx.threads));
}

}  // namespace nnport::cpu

// int8 depthwise convolution (com.nnport QLinearFusedConv / NhwcQLinearFusedConv with group = C = M), channels-last,
// on AVX-512 VNNI: every output channel has one input channel and a kH x kW filter, which the libraries run as
// multiplies of widened integers (oneDNN 2.6 here: about 19 GMAC/s, 28% of int8 mobilenet_v2's time). For each output
// row and 16 channels, the kernel (cpu_kernels_avx512.cpp, qdw_row) first lays the kH input rows' bytes of every
// column side by side in fours ("vertical quads", 64 bytes a column, in L1), so that one VPDPBUSD multiplies four
// vertical taps of 16 channels by their weights: a 3 x 3 filter is three instructions per 16 outputs (the fourth
// weight 0). The input zero point is folded into the bias (padding reads the zero point), int8 inputs are offset by
// 128 into uint8, and the requantization rounds the exact product as the reference's double does: results are
// bit-identical to the reference kernel.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "backends/qconv_support.hpp"
#include "ops/nn_util.hpp"
#include "ops/quant_util.hpp"

namespace nnport::cpu {

namespace {

/// Multiply-adds per thread below which a layer runs on the calling thread (int8: about 4x the float rate).
constexpr double kMacsPerThread = double(int64_t{1} << 20);

/// Bounds of the exact requantization (QDwRow): |acc| < 2^24, |acc * scale| < 2^22.
constexpr double kMaxAcc = 16777216.0, kMaxProduct = 4194304.0;

/// The largest |acc| of any channel: |bias| + max |x - x_zero_point| * sum |w|.
double max_acc(const qconv::Params& p) {
    const Tensor& w = *p.w;
    const int64_t m = w.dim(0), taps = w.dim(2) * w.dim(3);
    const double lo = p.x_type == DType::kUInt8 ? 0 : -128, hi = p.x_type == DType::kUInt8 ? 255 : 127;
    const double xmax = std::max(std::fabs(lo - p.x_zp), std::fabs(hi - p.x_zp));
    double worst = 0;
    for (int64_t c = 0; c < m; ++c) {
        double s = p.bias ? std::fabs(static_cast<double>(p.bias->data<int32_t>()[c])) : 0.0;
        for (int64_t t = 0; t < taps; ++t) s += xmax * std::abs(static_cast<int>(w.data<int8_t>()[c * taps + t]));
        worst = std::max(worst, s * p.out_scales[p.out_scales.size() == 1 ? 0 : static_cast<size_t>(c)] >= kMaxProduct
                                    ? kMaxAcc
                                    : s);
    }
    return worst;
}

class QDwConvKernel final : public BackendKernel {
public:
    QDwConvKernel(const ir::Node& node, const qconv::Params& p, int threads)
        : node_(node), threads_(threads), x_type_(p.x_type), y_type_(p.y_type) {
        const Tensor& w = *p.w;
        ch_ = w.dim(0);
        kh_ = w.dim(2);
        kw_ = w.dim(3);
        groups_ = (kh_ + 3) / 4;
        cp_ = (ch_ + 15) / 16 * 16;
        x_zp_ = p.x_zp;
        // int8 inputs are read as uint8 x + 128, with zero point x_zp + 128.
        zp_flipped_ = static_cast<uint8_t>(p.x_zp + (p.x_type == DType::kInt8 ? 128 : 0));
        w_.assign(static_cast<size_t>(groups_ * kw_ * cp_ * 4), 0);
        bias_.assign(static_cast<size_t>(cp_), 0);
        scale_.assign(static_cast<size_t>(cp_), 0.0f);
        for (int64_t c = 0; c < ch_; ++c) {
            int32_t sum = 0;
            for (int64_t i = 0; i < kh_; ++i) {
                for (int64_t j = 0; j < kw_; ++j) {
                    const int8_t v = w.data<int8_t>()[(c * kh_ + i) * kw_ + j];
                    w_[static_cast<size_t>((((i / 4) * kw_ + j) * cp_ + c) * 4 + i % 4)] = v;
                    sum += v;
                }
            }
            const int32_t b = p.bias ? p.bias->data<int32_t>()[c] : 0;
            bias_[static_cast<size_t>(c)] = b - int32_t{zp_flipped_} * sum;
            scale_[static_cast<size_t>(c)] = p.out_scales[p.out_scales.size() == 1 ? 0 : static_cast<size_t>(c)];
        }
        y_zp_ = p.y_zp;
        quant::activation_bounds(p.act, p.y_scale, p.y_zp, p.y_type, lo_, hi_);
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != x_type_ || x.rank() != 4 || x.dim(3) != ch_) {
            return ctx.input_error("x must be a " + std::string(dtype_name(x_type_)) + " [N, H, W, " +
                                   std::to_string(ch_) + "] tensor, got " + dtype_name(x.dtype()) + " " +
                                   shape_to_string(x.shape()));
        }
        AttrAccess a(node_, *node_.def);
        const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2);
        NNPORT_ASSIGN_OR_RETURN(nn::Geometry g, nn::window_geometry(a, {h, w}, {kh_, kw_}, false));
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, y_type_, Shape{n, g.out[0], g.out[1], ch_}));
        if (y->numel() == 0) return Status::ok();
        if (x.numel() == 0) return ctx.input_error("x is empty but the output is not");

        Plan pl;
        pl.h = h;
        pl.oh = g.out[0];
        pl.sh = g.strides[0];
        pl.dh = g.dilations[0];
        pl.ph = g.pads_begin[0];
        pl.x = static_cast<const uint8_t*>(x.raw_data());
        pl.y = static_cast<uint8_t*>(y->raw_data());
        QDwRow& r = pl.row;
        r.w = w_.data();
        r.bias = bias_.data();
        r.scale = scale_.data();
        r.w_in = w;
        r.pad = g.pads_begin[1];
        r.ow = g.out[1];
        r.sw = g.strides[1];
        r.dw = g.dilations[1];
        r.cols = (r.ow - 1) * r.sw + (kw_ - 1) * r.dw + 1;  // padded columns the outputs read
        r.ch = ch_;
        r.cp = cp_;
        r.kh = kh_;
        r.kw = kw_;
        r.x_zp = zp_flipped_;
        r.flip = x_type_ == DType::kInt8;
        r.zp = y_zp_;
        r.lo = lo_;
        r.hi = hi_;

        const int64_t rows = n * pl.oh;
        const double macs = static_cast<double>(rows) * r.ow * ch_ * kh_ * kw_;
        const int64_t parts = parts_for(macs, kMacsPerThread, rows, threads_);
        run_parts(ctx, parts, [&](int64_t b, int64_t e) { run_rows(pl, rows * b / parts, rows * e / parts); });
        return Status::ok();
    }

private:
    struct Plan {
        int64_t h = 0, oh = 0, sh = 1, dh = 1, ph = 0;
        const uint8_t* x = nullptr;
        uint8_t* y = nullptr;
        QDwRow row;  ///< the fields common to every row
    };

    /// Output rows [r0, r1) of the flattened [N * oH]; rows of the vertical padding read a row of zero points.
    void run_rows(const Plan& pl, int64_t r0, int64_t r1) const {
        const Kernels& k = kernels();
        thread_local std::vector<uint8_t> scratch, pad_row;
        scratch.resize(static_cast<size_t>(groups_ * pl.row.cols * 64));
        const int64_t row_bytes = pl.row.w_in * ch_;
        pad_row.assign(static_cast<size_t>(row_bytes), static_cast<uint8_t>(x_zp_));
        std::vector<const uint8_t*> rows(static_cast<size_t>(kh_));
        QDwRow r = pl.row;
        r.rows = rows.data();
        r.scratch = scratch.data();
        for (int64_t row = r0; row < r1; ++row) {
            const int64_t b = row / pl.oh, o = row % pl.oh;
            for (int64_t i = 0; i < kh_; ++i) {
                const int64_t ih = o * pl.sh - pl.ph + i * pl.dh;
                rows[static_cast<size_t>(i)] =
                    ih < 0 || ih >= pl.h ? pad_row.data() : pl.x + (b * pl.h + ih) * row_bytes;
            }
            r.out = pl.y + row * r.ow * ch_;
            k.qdw_row(r);
        }
    }

    const ir::Node& node_;
    int threads_;
    DType x_type_, y_type_;
    int32_t x_zp_ = 0;
    uint8_t zp_flipped_ = 0;
    int32_t y_zp_ = 0, lo_ = 0, hi_ = 255;
    int64_t ch_ = 0, kh_ = 0, kw_ = 0, groups_ = 1, cp_ = 0;
    std::vector<int8_t> w_;
    std::vector<int32_t> bias_;
    std::vector<float> scale_;
};

}  // namespace

Support int8_kernels_available() {
    if (best_isa() == Isa::kAvx512 && has_vnni_vbmi()) return Support::yes();
    return Support::no("needs AVX-512 VNNI and VBMI (the libraries' int8 kernels are faster without them)");
}

bool is_qdwconv(const ir::Node& node) { return qconv::is_qconv(node); }

Support qdwconv_supports(const ir::Node& node, const ConstantFn& constant) {
    if (Support v = int8_kernels_available(); !v.ok) return v;
    const Support s = qconv::supports(node, constant);
    if (!s.ok) return s;
    const Tensor& w = *constant(node.input(3));
    AttrAccess a(node, *node.def);
    if (w.dim(1) != 1 || a.attr_int("group") != w.dim(0)) {
        return Support::no("only depthwise (group = input = output channels)");
    }
    auto p = qconv::params(node, constant);
    if (!p.is_ok()) return Support::no(p.status().message());
    for (float sc : p.value().out_scales) {
        if (!(std::isfinite(sc) && sc > 0.0f)) return Support::no("x_scale * w_scale / y_scale must be positive");
    }
    if (max_acc(p.value()) >= kMaxAcc) {
        return Support::no("sums or requantized values too large for the exact int8 path");
    }
    return s;
}

Result<KernelPtr> qdwconv_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = qdwconv_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    if (!qconv::is_nhwc(node)) return unsupported("cpu: " + node.describe() + ": runs channels-last only");
    NNPORT_ASSIGN_OR_RETURN(qconv::Params p, qconv::params(node, ctx.constant));
    return KernelPtr(std::make_unique<QDwConvKernel>(node, p, ctx.threads));
}

}  // namespace nnport::cpu

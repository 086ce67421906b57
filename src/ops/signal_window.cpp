// Window generators (HannWindow, HammingWindow, BlackmanWindow) and MelWeightMatrix (opset 17 signal ops).
#include <algorithm>
#include <cmath>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

/// Output dtype from `output_datatype`; half types are produced as float32 (the executor converts back).
Result<DType> out_type(const AttrAccess& a) {
    const int64_t v = a.attr_int("output_datatype");
    if (v < 0 || v > 16 || !dtype_is_valid(static_cast<int32_t>(v))) return a.error("invalid output_datatype");
    const DType dt = static_cast<DType>(v);
    if (!dtype_is_float(dt) && !dtype_is_integer(dt)) return a.error("output_datatype must be numeric");
    return dt;
}

Status store(KernelContext& ctx, size_t i, DType dt, const Shape& shape, const std::vector<double>& v) {
    const DType kdt = (dt == DType::kFloat16 || dt == DType::kBFloat16) ? DType::kFloat32 : dt;
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(i, kdt, shape));
    NNPORT_DISPATCH_NUMERIC(kdt, T, ctx, {
        T* y = out->data<T>();
        for (size_t k = 0; k < v.size(); ++k) y[k] = static_cast<T>(v[k]);
    });
    return Status::ok();
}

Result<int64_t> read_int(const KernelContext& ctx, size_t i) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& t = ctx.input(i);
    if (!dtype_is_integer(t.dtype()) || t.numel() != 1) return ctx.input_error("input " + std::to_string(i) + " must be an integer scalar");
    return t.item_as_int(0);
}

Result<double> read_float(const KernelContext& ctx, size_t i) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& t = ctx.input(i);
    if (t.numel() != 1 || t.dtype() == DType::kString) return ctx.input_error("input " + std::to_string(i) + " must be a scalar");
    return t.item_as_double(0);
}

constexpr int64_t kMaxWindow = int64_t{1} << 28;
constexpr double kEdgeLimit = 1e12;  // keeps huge edge frequencies castable; loops are clipped to the rows anyway

Status window_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(DType dt, out_type(ctx));
    const Tensor* size = ctx.input_constant(0);
    ir::Dim n = size && size->numel() == 1 && size->item_as_int(0) >= 0 ? ir::Dim(size->item_as_int(0)) : ctx.new_dim();
    ctx.set_output(0, ir::ValueType::tensor(dt, std::vector<ir::Dim>{n}));
    return Status::ok();
}

enum class Win { kHann, kHamming, kBlackman };

/// w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or size - 1 (symmetric).
template <Win W>
Status window_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(DType dt, out_type(ctx));
    NNPORT_ASSIGN_OR_RETURN(int64_t size, read_int(ctx, 0));
    if (size < 0 || size > kMaxWindow) return ctx.input_error("window size " + std::to_string(size) + " is out of range");
    double a0 = 0.5, a1 = 0.5, a2 = 0.0;
    if (W == Win::kHamming) {
        a0 = 25.0 / 46.0;
        a1 = 1.0 - a0;
    } else if (W == Win::kBlackman) {
        a0 = 0.42;
        a2 = 0.08;
    }
    const int64_t N = ctx.attr_int("periodic") != 0 ? size : size - 1;
    std::vector<double> v(static_cast<size_t>(size), 1.0);  // a symmetric window of size 1 is [1] (as numpy)
    if (N > 0) {
        for (int64_t i = 0; i < size; ++i) {
            const double t = 2.0 * M_PI * static_cast<double>(i) / static_cast<double>(N);
            v[static_cast<size_t>(i)] = a0 - a1 * std::cos(t) + a2 * std::cos(2.0 * t);
        }
    }
    return store(ctx, 0, dt, {size}, v);
}

template <Win W>
OpDef make_window(const char* name, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = 17;
    o.min_inputs = o.max_inputs = 1;
    o.attrs = {AttrSpec::i("output_datatype", static_cast<int64_t>(DType::kFloat32)), AttrSpec::i("periodic", 1)};
    o.infer = window_infer;
    o.kernel = window_kernel<W>;
    o.doc = doc;
    return o;
}

Status mel_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(DType dt, out_type(ctx));
    const Tensor* bins = ctx.input_constant(0);
    const Tensor* len = ctx.input_constant(1);
    const ir::Dim rows = len ? ir::Dim(len->item_as_int(0) / 2 + 1) : ctx.new_dim();
    const ir::Dim cols = bins ? ir::Dim(bins->item_as_int(0)) : ctx.new_dim();
    ctx.set_output(0, ir::ValueType::tensor(dt, std::vector<ir::Dim>{rows, cols}));
    return Status::ok();
}

/// Triangular mel filters, following the ONNX reference: bin edges at floor((dft_length + 1) * hz / sample_rate).
Status mel_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(DType dt, out_type(ctx));
    NNPORT_ASSIGN_OR_RETURN(int64_t mel_bins, read_int(ctx, 0));
    NNPORT_ASSIGN_OR_RETURN(int64_t dft_len, read_int(ctx, 1));
    NNPORT_ASSIGN_OR_RETURN(int64_t rate, read_int(ctx, 2));
    NNPORT_ASSIGN_OR_RETURN(double lo, read_float(ctx, 3));
    NNPORT_ASSIGN_OR_RETURN(double hi, read_float(ctx, 4));
    if (mel_bins < 1 || dft_len < 1 || rate < 1) {
        return ctx.input_error("num_mel_bins, dft_length and sample_rate must be positive");
    }
    if (mel_bins > kMaxWindow || dft_len > kMaxWindow) return ctx.input_error("MelWeightMatrix size is too large");
    if (!(lo >= 0.0 && lo <= hi)) return ctx.input_error("need 0 <= lower_edge_hertz <= upper_edge_hertz");
    const int64_t rows = dft_len / 2 + 1;
    if (rows * mel_bins > (int64_t{1} << 30)) return ctx.input_error("MelWeightMatrix output is too large");
    auto hz_to_mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
    const double lo_mel = hz_to_mel(lo), hi_mel = hz_to_mel(hi);
    const int64_t nedges = mel_bins + 2;
    const double step = (hi_mel - lo_mel) / static_cast<double>(nedges);
    std::vector<int64_t> edge(static_cast<size_t>(nedges));
    for (int64_t i = 0; i < nedges; ++i) {
        const double hz = 700.0 * (std::pow(10.0, (lo_mel + step * static_cast<double>(i)) / 2595.0) - 1.0);
        const double e = std::floor(static_cast<double>(dft_len + 1) * hz / static_cast<double>(rate));
        edge[static_cast<size_t>(i)] = static_cast<int64_t>(std::clamp(e, -kEdgeLimit, kEdgeLimit));
    }
    std::vector<double> w(static_cast<size_t>(rows * mel_bins), 0.0);
    auto set = [&](int64_t r, int64_t c, double v) {
        if (r >= 0 && r < rows) w[static_cast<size_t>(r * mel_bins + c)] = v;  // edges past Nyquist are dropped
    };
    for (int64_t i = 0; i < mel_bins; ++i) {
        const int64_t l = edge[static_cast<size_t>(i)], c = edge[static_cast<size_t>(i + 1)], h = edge[static_cast<size_t>(i + 2)];
        if (c == l) {
            set(c, i, 1.0);
        } else {
            for (int64_t j = std::max<int64_t>(l, 0); j <= std::min(c, rows - 1); ++j) set(j, i, static_cast<double>(j - l) / static_cast<double>(c - l));
        }
        if (h > c) {
            for (int64_t j = std::max<int64_t>(c, 0); j < std::min(h, rows); ++j) set(j, i, static_cast<double>(h - j) / static_cast<double>(h - c));
        }
    }
    return store(ctx, 0, dt, {rows, mel_bins}, w);
}

}  // namespace

const OpDef& op_def_HannWindow() {
    static const OpDef d = make_window<Win::kHann>("HannWindow", "Hann window of the given size.");
    return d;
}
const OpDef& op_def_HammingWindow() {
    static const OpDef d = make_window<Win::kHamming>("HammingWindow", "Hamming window (alpha 25/46).");
    return d;
}
const OpDef& op_def_BlackmanWindow() {
    static const OpDef d = make_window<Win::kBlackman>("BlackmanWindow", "Blackman window (0.42, 0.5, 0.08).");
    return d;
}

const OpDef& op_def_MelWeightMatrix() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "MelWeightMatrix";
        o.since_version = 17;
        o.min_inputs = o.max_inputs = 5;
        o.attrs = {AttrSpec::i("output_datatype", static_cast<int64_t>(DType::kFloat32))};
        o.infer = mel_infer;
        o.kernel = mel_kernel;
        o.doc = "[dft_length/2+1, num_mel_bins] triangular mel filter bank.";
        return o;
    }();
    return d;
}

}  // namespace nnport

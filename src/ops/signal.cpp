// DFT and STFT (opset 17 signal ops) over one FFT plan: radix-2 for powers of two, Bluestein otherwise, in double.
#include <cmath>
#include <complex>
#include <memory>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

using cd = std::complex<double>;

/// A forward DFT of fixed length n (unscaled); the inverse is conj(forward(conj(x))).
class FftPlan {
public:
    explicit FftPlan(int64_t n) : n_(n) {
        pow2_ = n > 0 && (n & (n - 1)) == 0;
        if (pow2_) {
            for (int64_t k = 0; k < n / 2; ++k) {
                tw_.push_back(std::polar(1.0, -2.0 * M_PI * static_cast<double>(k) / static_cast<double>(n)));
            }
            return;
        }
        int64_t m = 1;
        while (m < 2 * n - 1) m <<= 1;
        chirp_.resize(static_cast<size_t>(n));
        for (int64_t j = 0; j < n; ++j) {
            const int64_t j2 = (j * j) % (2 * n);  // exact angle reduction keeps large j accurate
            chirp_[static_cast<size_t>(j)] = std::polar(1.0, -M_PI * static_cast<double>(j2) / static_cast<double>(n));
        }
        sub_ = std::make_unique<FftPlan>(m);
        bfft_.assign(static_cast<size_t>(m), cd(0, 0));
        bfft_[0] = std::conj(chirp_[0]);
        for (int64_t j = 1; j < n; ++j) {
            bfft_[static_cast<size_t>(j)] = bfft_[static_cast<size_t>(m - j)] = std::conj(chirp_[static_cast<size_t>(j)]);
        }
        sub_->forward(bfft_.data());
    }

    int64_t size() const { return n_; }

    /// In-place forward transform of n values.
    void forward(cd* x) const {
        if (n_ <= 1) return;
        if (pow2_) {
            radix2(x);
            return;
        }
        const int64_t m = sub_->size();
        std::vector<cd> a(static_cast<size_t>(m), cd(0, 0));
        for (int64_t j = 0; j < n_; ++j) a[static_cast<size_t>(j)] = x[j] * chirp_[static_cast<size_t>(j)];
        sub_->forward(a.data());
        for (int64_t j = 0; j < m; ++j) a[static_cast<size_t>(j)] = std::conj(a[static_cast<size_t>(j)] * bfft_[static_cast<size_t>(j)]);
        sub_->forward(a.data());  // conj(FFT(conj(.))) == m * IFFT
        const double inv_m = 1.0 / static_cast<double>(m);
        for (int64_t k = 0; k < n_; ++k) x[k] = std::conj(a[static_cast<size_t>(k)]) * inv_m * chirp_[static_cast<size_t>(k)];
    }

    void inverse(cd* x) const {
        for (int64_t j = 0; j < n_; ++j) x[j] = std::conj(x[j]);
        forward(x);
        for (int64_t j = 0; j < n_; ++j) x[j] = std::conj(x[j]);
    }

private:
    void radix2(cd* x) const {
        const int64_t n = n_;
        for (int64_t i = 1, j = 0; i < n; ++i) {
            int64_t bit = n >> 1;
            for (; j & bit; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j) std::swap(x[i], x[j]);
        }
        for (int64_t len = 2; len <= n; len <<= 1) {
            const int64_t half = len / 2, step = n / len;
            for (int64_t s = 0; s < n; s += len) {
                for (int64_t k = 0; k < half; ++k) {
                    const cd t = x[s + k + half] * tw_[static_cast<size_t>(k * step)];
                    x[s + k + half] = x[s + k] - t;
                    x[s + k] += t;
                }
            }
        }
    }

    int64_t n_;
    bool pow2_ = false;
    std::vector<cd> tw_;
    std::vector<cd> chirp_, bfft_;
    std::unique_ptr<FftPlan> sub_;
};

/// Reads an optional scalar integer input; `def` if absent.
Result<int64_t> scalar_int(const KernelContext& ctx, size_t i, int64_t def) {
    if (!ctx.has_input(i)) return def;
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& t = ctx.input(i);
    if (!dtype_is_integer(t.dtype()) || t.numel() != 1) {
        return ctx.input_error("input " + std::to_string(i) + " must be an integer scalar");
    }
    return t.item_as_int(0);
}

/// The DFT axis: attribute before opset 20, else input 2 (default -2); counted over the full rank.
Result<int64_t> dft_axis(const AttrAccess& a, int64_t rank, const Tensor* axis_input) {
    int64_t axis = a.opset() >= 20 ? -2 : a.attr_int("axis");
    if (axis_input) axis = axis_input->item_as_int(0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank - 1) return a.error("DFT axis " + std::to_string(axis) + " is out of range");
    return axis;
}

Status dft_infer(InferContext& ctx) {
    const ir::ValueType& in = ctx.input_type(0);
    if (!in.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(in.dtype));
        return Status::ok();
    }
    const int64_t rank = in.rank();
    if (rank < 2) return ctx.error("DFT input needs rank >= 2 (trailing dim 1 or 2)");
    const ir::Dim& c = in.dims.back();
    if (c.is_static() && c.value != 1 && c.value != 2) return ctx.error("DFT input's last dim must be 1 or 2");
    const Tensor* axis_t = ctx.has_input(2) ? ctx.input_constant(2) : nullptr;
    std::vector<ir::Dim> dims = in.dims;
    dims.back() = ir::Dim(2);
    if (ctx.has_input(2) && !axis_t) {
        ctx.set_output(0, tensor_type_of_rank(ctx, in.dtype, rank));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(int64_t axis, dft_axis(ctx, rank, axis_t));
    ir::Dim n = dims[static_cast<size_t>(axis)];
    if (ctx.has_input(1)) {
        const Tensor* len = ctx.input_constant(1);
        n = len ? ir::Dim(len->item_as_int(0)) : ctx.new_dim();
    }
    if (ctx.attr_int("onesided") != 0) n = n.is_static() ? ir::Dim(n.value / 2 + 1) : ctx.new_dim();
    dims[static_cast<size_t>(axis)] = n;
    ctx.set_output(0, ir::ValueType::tensor(in.dtype, dims));
    return Status::ok();
}

template <typename T>
void dft_lines(const KernelContext& ctx, const T* x, T* y, int64_t outer, int64_t n, int64_t inner, int64_t c,
               int64_t len, int64_t nout, bool inverse) {
    const FftPlan plan(len);
    auto body = [&](int64_t b, int64_t e) {
        std::vector<cd> buf(static_cast<size_t>(len));
        for (int64_t line = b; line < e; ++line) {
            const int64_t o = line / inner, i = line % inner;
            std::fill(buf.begin(), buf.end(), cd(0, 0));
            for (int64_t j = 0; j < std::min(n, len); ++j) {
                const T* p = x + ((o * n + j) * inner + i) * c;
                buf[static_cast<size_t>(j)] = cd(static_cast<double>(p[0]), c == 2 ? static_cast<double>(p[1]) : 0.0);
            }
            if (inverse) plan.inverse(buf.data());
            else plan.forward(buf.data());
            const double scale = inverse ? 1.0 / static_cast<double>(len) : 1.0;
            for (int64_t k = 0; k < nout; ++k) {
                T* q = y + ((o * nout + k) * inner + i) * 2;
                q[0] = static_cast<T>(buf[static_cast<size_t>(k)].real() * scale);
                q[1] = static_cast<T>(buf[static_cast<size_t>(k)].imag() * scale);
            }
        }
    };
    const int64_t lines = outer * inner;
    if (lines * len < 4096) body(0, lines);
    else ctx.parallel_for(lines, body);
}

Status dft_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    const int64_t rank = x.rank();
    if (rank < 2 || (x.dim(rank - 1) != 1 && x.dim(rank - 1) != 2)) {
        return ctx.input_error("DFT input must be [..., 1|2], got " + shape_to_string(x.shape()));
    }
    const Tensor* axis_t = nullptr;
    if (ctx.has_input(2)) {
        NNPORT_ASSIGN_OR_RETURN(int64_t a, scalar_int(ctx, 2, 0));
        (void)a;
        axis_t = &ctx.input(2);
    }
    NNPORT_ASSIGN_OR_RETURN(int64_t axis, dft_axis(ctx, rank, axis_t));
    const int64_t n = x.dim(axis);
    NNPORT_ASSIGN_OR_RETURN(int64_t len, scalar_int(ctx, 1, n));
    if (len < 1) return ctx.input_error("dft_length must be >= 1");
    if (len > (int64_t{1} << 28)) return ctx.input_error("dft_length is too large");
    const bool onesided = ctx.attr_int("onesided") != 0;
    const int64_t nout = onesided ? len / 2 + 1 : len;
    Shape shape = x.shape();
    shape[static_cast<size_t>(axis)] = nout;
    shape.back() = 2;
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), shape));
    if (out->numel() == 0) return Status::ok();
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
    for (int64_t i = axis + 1; i < rank - 1; ++i) inner *= x.dim(i);
    const bool inverse = ctx.attr_int("inverse") != 0;
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx,
                          dft_lines<T>(ctx, x.data<T>(), out->data<T>(), outer, n, inner, x.dim(rank - 1), len, nout,
                                       inverse));
    return Status::ok();
}

Status stft_infer(InferContext& ctx) {
    const ir::ValueType& in = ctx.input_type(0);
    const Tensor* step = ctx.input_constant(1);
    const Tensor* len = ctx.has_input(3) ? ctx.input_constant(3) : nullptr;
    int64_t flen = -1;
    if (len) flen = len->item_as_int(0);
    else if (ctx.has_input(2) && ctx.input_type(2).has_shape && ctx.input_type(2).rank() == 1 &&
             ctx.input_type(2).dims[0].is_static()) {
        flen = ctx.input_type(2).dims[0].value;
    }
    ir::Dim batch = ctx.new_dim(), frames = ctx.new_dim(), bins = ctx.new_dim();
    if (in.has_shape) {
        if (in.rank() != 3) return ctx.error("STFT signal must be [batch, length, 1|2]");
        batch = in.dims[0];
        const ir::Dim& sl = in.dims[1];
        if (step && flen > 0 && sl.is_static() && step->item_as_int(0) > 0 && sl.value >= flen) {
            frames = ir::Dim((sl.value - flen) / step->item_as_int(0) + 1);
        }
    }
    if (flen > 0) bins = ir::Dim(ctx.attr_int("onesided") != 0 ? flen / 2 + 1 : flen);
    ctx.set_output(0, ir::ValueType::tensor(in.dtype, std::vector<ir::Dim>{batch, frames, bins, ir::Dim(2)}));
    return Status::ok();
}

template <typename T>
void stft_frames(const KernelContext& ctx, const T* x, const T* win, T* y, int64_t batch, int64_t sig_len,
                 int64_t c, int64_t frames, int64_t step, int64_t flen, int64_t bins) {
    const FftPlan plan(flen);
    auto body = [&](int64_t b, int64_t e) {
        std::vector<cd> buf(static_cast<size_t>(flen));
        for (int64_t fi = b; fi < e; ++fi) {
            const int64_t bt = fi / frames, f = fi % frames;
            for (int64_t j = 0; j < flen; ++j) {
                const T* p = x + (bt * sig_len + f * step + j) * c;
                const double w = win ? static_cast<double>(win[j]) : 1.0;
                buf[static_cast<size_t>(j)] = cd(static_cast<double>(p[0]) * w, c == 2 ? static_cast<double>(p[1]) * w : 0.0);
            }
            plan.forward(buf.data());
            T* q = y + fi * bins * 2;
            for (int64_t k = 0; k < bins; ++k) {
                q[2 * k] = static_cast<T>(buf[static_cast<size_t>(k)].real());
                q[2 * k + 1] = static_cast<T>(buf[static_cast<size_t>(k)].imag());
            }
        }
    };
    if (batch * frames * flen < 4096) body(0, batch * frames);
    else ctx.parallel_for(batch * frames, body);
}

Status stft_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2)) {
        return ctx.input_error("STFT signal must be [batch, length, 1|2], got " + shape_to_string(x.shape()));
    }
    NNPORT_ASSIGN_OR_RETURN(int64_t step, scalar_int(ctx, 1, 0));
    if (step < 1) return ctx.input_error("frame_step must be >= 1");
    const Tensor* win = nullptr;
    if (ctx.has_input(2)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(2));
        win = &ctx.input(2);
        if (win->rank() != 1 || win->dtype() != x.dtype()) return ctx.input_error("window must be 1-D of the signal dtype");
    }
    NNPORT_ASSIGN_OR_RETURN(int64_t flen, scalar_int(ctx, 3, win ? win->dim(0) : -1));
    if (flen < 1) return ctx.input_error("STFT needs a window or frame_length >= 1");
    if (win && win->dim(0) != flen) return ctx.input_error("window length must equal frame_length");
    const int64_t sig_len = x.dim(1);
    if (flen > sig_len) return ctx.input_error("frame_length exceeds the signal length");
    const int64_t frames = (sig_len - flen) / step + 1;
    const int64_t bins = ctx.attr_int("onesided") != 0 ? flen / 2 + 1 : flen;
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), {x.dim(0), frames, bins, 2}));
    if (out->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx,
                          stft_frames<T>(ctx, x.data<T>(), win ? win->data<T>() : nullptr, out->data<T>(), x.dim(0),
                                         sig_len, x.dim(2), frames, step, flen, bins));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_DFT() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "DFT";
        o.since_version = 17;
        o.min_inputs = 1;
        o.max_inputs = 3;
        o.attrs = {AttrSpec::i("axis", 1), AttrSpec::i("inverse", 0), AttrSpec::i("onesided", 0)};
        o.infer = dft_infer;
        o.kernel = dft_kernel;
        o.input0_types = float_types();
        o.doc = "Discrete Fourier transform along one axis of [..., 1|2] (real|complex) input; output [..., 2].";
        return o;
    }();
    return d;
}

const OpDef& op_def_STFT() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "STFT";
        o.since_version = 17;
        o.min_inputs = 2;
        o.max_inputs = 4;
        o.attrs = {AttrSpec::i("onesided", 1)};
        o.infer = stft_infer;
        o.kernel = stft_kernel;
        o.input0_types = float_types();
        o.doc = "Short-time Fourier transform: [batch, frames, bins, 2].";
        return o;
    }();
    return d;
}

}  // namespace nnport

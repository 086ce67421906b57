// Resize (opset 11-19; Upsample and Resize-10 arrive here too): nearest, n-linear and cubic interpolation.
// Interpolation is separable: each resized axis gets a table of taps (input index, weight) per output position,
// built with the coordinate transforms and coefficient formulas of the ONNX reference, then applied one axis at
// a time. Weights of every mode sum to 1, so applying tf_crop_and_resize extrapolation per axis matches the
// reference's nested evaluation.
#include <cmath>
#include <limits>

#include "ops/tensor_util.hpp"

namespace nnport {

namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord { kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfCrop, kTfNn };
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
enum class Policy { kStretch, kNotLarger, kNotSmaller };

struct Params {
    Mode mode = Mode::kNearest;
    Coord coord = Coord::kHalfPixel;
    Nearest nearest = Nearest::kRoundPreferFloor;
    Policy policy = Policy::kStretch;
    double cubic_a = -0.75;
    bool exclude_outside = false;
    bool antialias = false;
    double extrapolation = 0.0;
};

Result<Params> read_params(const AttrAccess& ctx) {
    Params p;
    const std::string mode = ctx.attr_string("mode");
    if (mode == "nearest") p.mode = Mode::kNearest;
    else if (mode == "linear") p.mode = Mode::kLinear;
    else if (mode == "cubic") p.mode = Mode::kCubic;
    else return ctx.error("unknown mode '" + mode + "'");
    const std::string c = ctx.attr_string("coordinate_transformation_mode");
    if (c == "half_pixel") p.coord = Coord::kHalfPixel;
    else if (c == "half_pixel_symmetric") p.coord = Coord::kHalfPixelSymmetric;
    else if (c == "pytorch_half_pixel") p.coord = Coord::kPytorchHalfPixel;
    else if (c == "align_corners") p.coord = Coord::kAlignCorners;
    else if (c == "asymmetric") p.coord = Coord::kAsymmetric;
    else if (c == "tf_crop_and_resize") p.coord = Coord::kTfCrop;
    else if (c == "tf_half_pixel_for_nn") p.coord = Coord::kTfNn;
    else return ctx.error("unknown coordinate_transformation_mode '" + c + "'");
    const std::string n = ctx.attr_string("nearest_mode");
    if (n == "round_prefer_floor") p.nearest = Nearest::kRoundPreferFloor;
    else if (n == "round_prefer_ceil") p.nearest = Nearest::kRoundPreferCeil;
    else if (n == "floor") p.nearest = Nearest::kFloor;
    else if (n == "ceil") p.nearest = Nearest::kCeil;
    else return ctx.error("unknown nearest_mode '" + n + "'");
    const std::string k = ctx.attr_string("keep_aspect_ratio_policy");
    if (k == "stretch") p.policy = Policy::kStretch;
    else if (k == "not_larger") p.policy = Policy::kNotLarger;
    else if (k == "not_smaller") p.policy = Policy::kNotSmaller;
    else return ctx.error("unknown keep_aspect_ratio_policy '" + k + "'");
    p.cubic_a = ctx.attr_float("cubic_coeff_a");
    p.exclude_outside = ctx.attr_int("exclude_outside") != 0;
    p.antialias = ctx.attr_int("antialias") != 0;
    p.extrapolation = ctx.attr_float("extrapolation_value");
    return p;
}

/// Axes the scales/sizes/roi refer to (all, unless the opset-18 `axes` attribute says otherwise).
Result<std::vector<int64_t>> resize_axes(const AttrAccess& ctx, int64_t rank) {
    std::vector<int64_t> axes;
    if (!ctx.has_attr("axes")) {
        for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
        return axes;
    }
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t a : ctx.attr_ints("axes")) {
        if (a < -rank || a >= rank) return ctx.error("axis " + std::to_string(a) + " is out of range");
        if (a < 0) a += rank;
        if (seen[static_cast<size_t>(a)]) return ctx.error("axis " + std::to_string(a) + " is repeated");
        seen[static_cast<size_t>(a)] = true;
        axes.push_back(a);
    }
    return axes;
}

/// Output sizes and per-axis scales from either `scales` or `sizes` (given for `axes`).
struct Geometry {
    Shape out;
    std::vector<double> scale;
};

Result<Geometry> geometry(const AttrAccess& ctx, const Params& p, const Shape& in, const std::vector<int64_t>& axes,
                          const std::vector<double>* scales, const std::vector<int64_t>* sizes) {
    Geometry g;
    g.out = in;
    g.scale.assign(in.size(), 1.0);
    if ((scales == nullptr) == (sizes == nullptr)) return ctx.input_error("exactly one of scales and sizes must be given");
    const size_t n = scales ? scales->size() : sizes->size();
    if (n != axes.size()) {
        return ctx.input_error(std::string(scales ? "scales" : "sizes") + " has " + std::to_string(n) +
                               " entries, expected " + std::to_string(axes.size()));
    }
    if (scales) {
        for (size_t i = 0; i < n; ++i) {
            const double s = (*scales)[i];
            const size_t a = static_cast<size_t>(axes[i]);
            if (!(s > 0) || !std::isfinite(s)) return ctx.input_error("scales must be positive");
            const double o = std::floor(s * static_cast<double>(in[a]));
            if (o > static_cast<double>(kMaxTensorBytes)) return ctx.input_error("output is too large");
            g.out[a] = static_cast<int64_t>(o);
            g.scale[a] = s;
        }
        return g;
    }
    for (size_t i = 0; i < n; ++i) {
        if ((*sizes)[i] < 0 || (*sizes)[i] > kMaxTensorBytes) return ctx.input_error("sizes has an invalid value");
        if (in[static_cast<size_t>(axes[i])] == 0 && (*sizes)[i] != 0) return ctx.input_error("cannot resize an empty axis");
    }
    if (p.policy == Policy::kStretch) {
        for (size_t i = 0; i < n; ++i) {
            const size_t a = static_cast<size_t>(axes[i]);
            g.out[a] = (*sizes)[i];
            g.scale[a] = in[a] > 0 ? static_cast<double>((*sizes)[i]) / static_cast<double>(in[a]) : 1.0;
        }
        return g;
    }
    double s = p.policy == Policy::kNotLarger ? INFINITY : 0.0;
    for (size_t i = 0; i < n; ++i) {
        const size_t a = static_cast<size_t>(axes[i]);
        if (in[a] == 0) continue;
        const double r = static_cast<double>((*sizes)[i]) / static_cast<double>(in[a]);
        s = p.policy == Policy::kNotLarger ? std::min(s, r) : std::max(s, r);
    }
    if (!std::isfinite(s) || s <= 0) s = 1.0;
    for (size_t i = 0; i < n; ++i) {
        const size_t a = static_cast<size_t>(axes[i]);
        g.out[a] = static_cast<int64_t>(std::nearbyint(s * static_cast<double>(in[a])));  // numpy round: half to even
        g.scale[a] = s;
    }
    return g;
}

/// Per output position along one axis: `taps` (index, weight) pairs, or extrapolation.
struct AxisTaps {
    int taps = 1;
    std::vector<int64_t> idx;
    std::vector<double> w;
    std::vector<uint8_t> extrapolate;
};

double cubic_w(double x, double a) {
    x = std::fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
}

/// Source coordinate of output position x (ONNX reference formulas; out_w is the unrounded scale * in_len).
double source_coord(const Params& p, double x, double scale, int64_t in_len, int64_t out_len, double roi_s,
                    double roi_e) {
    const double in = static_cast<double>(in_len);
    const double out_w = scale * in;
    switch (p.coord) {
        case Coord::kHalfPixel: return (x + 0.5) / scale - 0.5;
        case Coord::kHalfPixelSymmetric: {
            const double adj = static_cast<double>(out_len) / out_w;
            const double offset = in / 2 * (1 - adj);
            return offset + (x + 0.5) / scale - 0.5;
        }
        case Coord::kPytorchHalfPixel: return out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
        case Coord::kAlignCorners: return out_w == 1 ? 0.0 : x * (in - 1) / (out_w - 1);
        case Coord::kAsymmetric: return x / scale;
        case Coord::kTfNn: return (x + 0.5) / scale;
        case Coord::kTfCrop:
            if (out_w == 1) return (roi_e - roi_s) * (in - 1) / 2 + roi_s * (in - 1);
            return x * (roi_e - roi_s) * (in - 1) / (out_w - 1) + roi_s * (in - 1);
    }
    return x;
}

AxisTaps build_taps(const Params& p, double scale, int64_t in_len, int64_t out_len, double roi_s, double roi_e) {
    AxisTaps t;
    const bool aa = p.antialias && scale < 1 && p.mode != Mode::kNearest;
    if (p.mode == Mode::kNearest) t.taps = 1;
    else if (!aa) t.taps = p.mode == Mode::kLinear ? 2 : 4;
    const int64_t aa_start = !aa ? 0
                             : p.mode == Mode::kLinear ? static_cast<int64_t>(std::floor(-1 / scale)) + 1
                                                       : static_cast<int64_t>(std::floor(-2 / scale)) + 1;
    if (aa) t.taps = static_cast<int>(2 - 2 * aa_start);
    const size_t nt = static_cast<size_t>(t.taps);
    t.idx.assign(static_cast<size_t>(out_len) * nt, 0);
    t.w.assign(static_cast<size_t>(out_len) * nt, 0.0);
    t.extrapolate.assign(static_cast<size_t>(out_len), 0);
    std::vector<int64_t> ix(nt);
    std::vector<double> w(nt);
    for (int64_t j = 0; j < out_len; ++j) {
        const double x = source_coord(p, static_cast<double>(j), scale, in_len, out_len, roi_s, roi_e);
        if (p.coord == Coord::kTfCrop && (x < 0 || x > static_cast<double>(in_len - 1))) {
            t.extrapolate[static_cast<size_t>(j)] = 1;
            continue;
        }
        const double fl = std::floor(x);
        const int64_t x0 = static_cast<int64_t>(fl);
        const double r = x - fl;
        if (p.mode == Mode::kNearest) {
            bool up = false;
            if (r != 0) {
                switch (p.nearest) {
                    case Nearest::kRoundPreferFloor: up = r > 0.5; break;
                    case Nearest::kRoundPreferCeil: up = r >= 0.5; break;
                    case Nearest::kFloor: up = false; break;
                    case Nearest::kCeil: up = true; break;
                }
            }
            ix[0] = x0 + (up ? 1 : 0);
            w[0] = 1.0;
        } else if (aa) {
            const double s = scale;
            for (size_t k = 0; k < nt; ++k) {
                const double arg = (static_cast<double>(aa_start + static_cast<int64_t>(k)) - r) * s;
                ix[k] = x0 + aa_start + static_cast<int64_t>(k);
                w[k] = p.mode == Mode::kLinear ? std::max(0.0, 1 - std::fabs(arg)) : cubic_w(arg, p.cubic_a);
            }
        } else if (p.mode == Mode::kLinear) {
            ix[0] = x0;
            ix[1] = x0 + 1;
            w[0] = 1 - r;
            w[1] = r;
        } else {
            for (size_t k = 0; k < 4; ++k) {
                ix[k] = x0 - 1 + static_cast<int64_t>(k);
                w[k] = cubic_w(static_cast<double>(k) - 1 - r, p.cubic_a);
            }
        }
        if (aa || (p.exclude_outside && p.mode != Mode::kNearest)) {
            double sum = 0;
            for (size_t k = 0; k < nt; ++k) {
                if (p.exclude_outside && (ix[k] < 0 || ix[k] >= in_len)) w[k] = 0;
                sum += w[k];
            }
            if (sum != 0) {
                for (size_t k = 0; k < nt; ++k) w[k] /= sum;
            }
        }
        for (size_t k = 0; k < nt; ++k) {
            t.idx[static_cast<size_t>(j) * nt + k] = std::clamp<int64_t>(ix[k], 0, in_len - 1);
            t.w[static_cast<size_t>(j) * nt + k] = w[k];
        }
    }
    return t;
}

/// One separable pass: in [outer, L, inner] -> out [outer, out_len, inner].
template <typename F>
void apply_axis(const KernelContext& ctx, const F* in, F* out, int64_t outer, int64_t len, int64_t inner,
                int64_t out_len, const AxisTaps& t, F extrapolation) {
    const size_t nt = static_cast<size_t>(t.taps);
    parallel_rows(ctx, outer * out_len, inner * t.taps, [&](int64_t b, int64_t e) {
        for (int64_t row = b; row < e; ++row) {
            const int64_t o = row / out_len, j = row % out_len;
            F* dst = out + row * inner;
            if (t.extrapolate[static_cast<size_t>(j)]) {
                std::fill(dst, dst + inner, extrapolation);
                continue;
            }
            const int64_t* ix = t.idx.data() + static_cast<size_t>(j) * nt;
            const double* w = t.w.data() + static_cast<size_t>(j) * nt;
            const F* src = in + o * len * inner;
            if (inner == 1) {
                double acc = 0;
                for (size_t k = 0; k < nt; ++k) acc += w[k] * static_cast<double>(src[ix[k]]);
                *dst = static_cast<F>(acc);
                continue;
            }
            std::fill(dst, dst + inner, F(0));
            for (size_t k = 0; k < nt; ++k) {
                if (w[k] == 0) continue;
                const F wk = static_cast<F>(w[k]);
                const F* s = src + ix[k] * inner;
                for (int64_t i = 0; i < inner; ++i) dst[i] += wk * s[i];
            }
        }
    });
}

template <typename T>
T saturate_round(double v) {
    if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(v);
    } else {
        v = std::nearbyint(v);
        if (!(v >= static_cast<double>(std::numeric_limits<T>::lowest()))) return std::numeric_limits<T>::lowest();
        if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
        return static_cast<T>(v);
    }
}

/// Reads an optional float input (roi / scales); nullopt-like `present` false when absent or empty.
struct FloatInput {
    bool present = false;
    std::vector<double> v;
};

FloatInput float_input(const KernelContext& ctx, size_t i) {
    FloatInput f;
    if (!ctx.has_input(i) || !ctx.input_value(i).is_tensor() || ctx.input(i).numel() == 0) return f;
    const Tensor& t = ctx.input(i);
    if (t.dtype() == DType::kString || !t.raw_data()) return f;
    f.present = true;
    for (int64_t k = 0; k < t.numel(); ++k) f.v.push_back(t.item_as_double(k));
    return f;
}

}  // namespace

static Status resize_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    NNPORT_ASSIGN_OR_RETURN(const Params p, read_params(ctx));
    if (!x.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(x.dtype));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(const auto axes, resize_axes(ctx, x.rank()));
    std::vector<ir::Dim> out = x.dims;
    const Tensor* sc = ctx.has_input(2) ? ctx.input_constant(2) : nullptr;
    ConstInts sizes = ctx.has_input(3) ? const_ints(ctx, 3) : ConstInts{};
    const bool have_scales = sc && sc->numel() > 0 && sc->raw_data() && dtype_is_float(sc->dtype());
    const bool have_sizes = sizes.known && !sizes.values.empty();
    if (have_sizes && sizes.values.size() == axes.size() && p.policy == Policy::kStretch) {
        for (size_t i = 0; i < axes.size(); ++i) out[static_cast<size_t>(axes[i])] = ir::Dim(sizes.values[i]);
    } else if ((have_scales || have_sizes) && x.is_static()) {
        std::vector<double> s;
        if (have_scales) {
            for (int64_t k = 0; k < sc->numel(); ++k) s.push_back(sc->item_as_double(k));
        }
        auto g = geometry(ctx, p, x.static_shape(), axes, have_scales ? &s : nullptr, have_scales ? nullptr : &sizes.values);
        if (!g.is_ok()) return model_error(g.status());
        out = to_dims(g.value().out);
    } else if (have_scales && static_cast<size_t>(sc->numel()) == axes.size()) {
        for (size_t i = 0; i < axes.size(); ++i) {
            ir::Dim& d = out[static_cast<size_t>(axes[i])];
            const double s = sc->item_as_double(static_cast<int64_t>(i));
            if (d.is_static()) d = ir::Dim(static_cast<int64_t>(std::floor(s * static_cast<double>(d.value))));
            else if (s != 1.0) d = ctx.new_dim();
        }
    } else {
        for (int64_t a : axes) out[static_cast<size_t>(a)] = ctx.new_dim();
    }
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, out));
    return Status::ok();
}

template <typename T, typename F>
static Status resize_typed(KernelContext& ctx, const Tensor& x, const Params& p, const Geometry& g,
                           const std::vector<double>& roi_s, const std::vector<double>& roi_e) {
    const size_t r = static_cast<size_t>(x.rank());
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), g.out));
    if (out->numel() == 0) return Status::ok();
    // Work buffer in F (the input itself when T is F).
    Tensor cur;
    if constexpr (std::is_same_v<T, F>) {
        cur = x;
    } else {
        NNPORT_ASSIGN_OR_RETURN(cur, Tensor::create(DTypeOf<F>::value, x.shape()));
        for (int64_t i = 0; i < x.numel(); ++i) cur.data<F>()[i] = static_cast<F>(x.data<T>()[i]);
    }
    Shape shape = x.shape();
    const F extrapolation = static_cast<F>(p.extrapolation);
    for (size_t a = r; a-- > 0;) {
        const int64_t in_len = shape[a], out_len = g.out[a];
        const bool crop = p.coord == Coord::kTfCrop && !(roi_s[a] == 0 && roi_e[a] == 1);
        if (in_len == out_len && g.scale[a] == 1.0 && !crop && p.coord != Coord::kTfNn) continue;
        const AxisTaps taps = build_taps(p, g.scale[a], in_len, out_len, roi_s[a], roi_e[a]);
        int64_t outer = 1, inner = 1;
        for (size_t d = 0; d < a; ++d) outer *= shape[d];
        for (size_t d = a + 1; d < r; ++d) inner *= shape[d];
        shape[a] = out_len;
        NNPORT_ASSIGN_OR_RETURN(Tensor next, Tensor::create(DTypeOf<F>::value, shape));
        apply_axis<F>(ctx, cur.data<F>(), next.data<F>(), outer, in_len, inner, out_len, taps, extrapolation);
        cur = std::move(next);
    }
    T* o = out->data<T>();
    const F* c = cur.data<F>();
    for (int64_t i = 0; i < out->numel(); ++i) o[i] = saturate_round<T>(static_cast<double>(c[i]));
    return Status::ok();
}

static Status resize_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    NNPORT_ASSIGN_OR_RETURN(const Params p, read_params(ctx));
    NNPORT_ASSIGN_OR_RETURN(const auto axes, resize_axes(ctx, x.rank()));
    const FloatInput roi = float_input(ctx, 1);
    const FloatInput scales = float_input(ctx, 2);
    std::vector<int64_t> sizes;
    const bool have_sizes = ctx.has_input(3) && ctx.input_value(3).is_tensor() && ctx.input(3).numel() > 0;
    if (have_sizes) {
        NNPORT_ASSIGN_OR_RETURN(sizes, int_values(ctx, ctx.input(3), "sizes"));
    }
    NNPORT_ASSIGN_OR_RETURN(const Geometry g, geometry(ctx, p, x.shape(), axes, scales.present ? &scales.v : nullptr,
                                                       have_sizes ? &sizes : nullptr));
    const size_t r = static_cast<size_t>(x.rank());
    std::vector<double> roi_s(r, 0.0), roi_e(r, 1.0);
    if (p.coord == Coord::kTfCrop) {
        if (!roi.present || roi.v.size() != 2 * axes.size()) {
            return ctx.input_error("tf_crop_and_resize needs roi with 2 entries per axis");
        }
        for (size_t i = 0; i < axes.size(); ++i) {
            roi_s[static_cast<size_t>(axes[i])] = roi.v[i];
            roi_e[static_cast<size_t>(axes[i])] = roi.v[i + axes.size()];
        }
    }
    switch (x.dtype()) {
        case DType::kFloat32: return resize_typed<float, float>(ctx, x, p, g, roi_s, roi_e);
        case DType::kFloat64: return resize_typed<double, double>(ctx, x, p, g, roi_s, roi_e);
        default: break;
    }
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, { return resize_typed<T, double>(ctx, x, p, g, roi_s, roi_e); });
    return Status::ok();
}

const OpDef& op_def_Resize() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Resize";
        o.since_version = 11;
        o.min_inputs = 1;
        o.max_inputs = 4;
        o.attrs = {AttrSpec::i("antialias", 0),
                   AttrSpec::none("axes", ir::AttrType::kInts),
                   AttrSpec::s("coordinate_transformation_mode", "half_pixel"),
                   AttrSpec::f("cubic_coeff_a", -0.75f),
                   AttrSpec::i("exclude_outside", 0),
                   AttrSpec::f("extrapolation_value", 0.0f),
                   AttrSpec::s("keep_aspect_ratio_policy", "stretch"),
                   AttrSpec::s("mode", "nearest"),
                   AttrSpec::s("nearest_mode", "round_prefer_floor")};
        o.infer = resize_infer;
        o.kernel = resize_kernel;
        o.doc = "Resizes with nearest, n-linear or cubic interpolation; scales or sizes, optional axes and roi.";
        return o;
    }();
    return d;
}

}  // namespace nnport

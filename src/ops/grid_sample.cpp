// GridSample (opset 16: bilinear/nearest/bicubic on 4-D input; opset 20: linear/nearest/cubic on N-D input).
// Follows the ONNX reference: the sample coordinate is first brought inside the padding borders (border clamps,
// reflection mirrors), then each interpolation tap is resolved with the padding mode again. Interpolation is a
// separable product of per-axis taps (1, 2 or 4 per axis); taps are built once per output point and shared by
// all channels.
#include <cmath>

#include "ops/image_util.hpp"

namespace nnport {

namespace {

enum class Mode { kLinear, kNearest, kCubic };
enum class Padding { kZeros, kBorder, kReflection };

struct Params {
    Mode mode = Mode::kLinear;
    Padding padding = Padding::kZeros;
    bool align_corners = false;
};

Result<Params> read_params(const AttrAccess& a) {
    Params p;
    const bool v20 = a.opset() >= 20;
    const std::string mode = a.has_attr("mode") ? a.attr_string("mode") : (v20 ? "linear" : "bilinear");
    if (mode == "nearest") p.mode = Mode::kNearest;
    else if (mode == (v20 ? "linear" : "bilinear")) p.mode = Mode::kLinear;
    else if (mode == (v20 ? "cubic" : "bicubic")) p.mode = Mode::kCubic;
    else return a.error("unknown mode '" + mode + "' for opset " + std::to_string(a.opset()));
    const std::string pad = a.attr_string("padding_mode");
    if (pad == "zeros") p.padding = Padding::kZeros;
    else if (pad == "border") p.padding = Padding::kBorder;
    else if (pad == "reflection") p.padding = Padding::kReflection;
    else return a.error("unknown padding_mode '" + pad + "'");
    p.align_corners = a.attr_int("align_corners") != 0;
    return p;
}

/// Mirrors x at lo and hi until it lies in [lo, hi].
double reflect(double x, double lo, double hi) {
    const double range = hi - lo;
    if (!(range > 0)) return lo;
    if (x >= lo && x <= hi) return x;
    const bool below = x < lo;
    const double dx = below ? lo - x : x - hi;
    const double flips = std::floor(dx / range);
    const double r = std::fmod(dx, range);  // exact, unlike dx - flips * range for large dx
    const bool even = std::fmod(flips, 2.0) == 0.0;
    return below == even ? lo + r : hi - r;
}

/// Keys cubic convolution weights (A = -0.75) for taps at floor(x) - 1 .. floor(x) + 2; t = x - floor(x).
template <typename T>
void cubic_coeffs(T t, T* c) {
    const T a = T(-0.75);
    const T x0 = t + 1, x1 = t, x2 = 1 - t, x3 = 2 - t;
    c[0] = ((a * x0 - 5 * a) * x0 + 8 * a) * x0 - 4 * a;
    c[1] = ((a + 2) * x1 - (a + 3)) * x1 * x1 + 1;
    c[2] = ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1;
    c[3] = ((a * x3 - 5 * a) * x3 + 8 * a) * x3 - 4 * a;
}

/// Per-axis geometry: size and padding borders.
struct Axis {
    int64_t size;
    double lo, hi;
};

/// Resolves tap index i on an axis with the padding mode; false if the tap reads zero padding.
inline bool resolve_tap(int64_t i, const Axis& ax, Padding pad, int64_t& out) {
    if (i >= 0 && i < ax.size) {
        out = i;
        return true;
    }
    if (pad == Padding::kZeros) return false;
    if (pad == Padding::kBorder) {
        out = i < 0 ? 0 : ax.size - 1;
        return true;
    }
    out = static_cast<int64_t>(reflect(static_cast<double>(i), ax.lo, ax.hi));  // truncation, as the reference
    if (out < 0) out = 0;
    if (out >= ax.size) out = ax.size - 1;
    return true;
}

template <typename T>
Status grid_sample_typed(KernelContext& ctx, const Params& p, const Tensor& x, const Tensor& grid_t, Tensor& y) {
    std::vector<T> grid_buf;
    const T* grid = image::floats_as<T>(grid_t, grid_buf);
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    const int64_t n_batch = x.dim(0), channels = x.dim(1);
    const size_t r = static_cast<size_t>(x.rank() - 2);
    std::vector<Axis> axes(r);
    int64_t plane = 1;
    for (size_t i = 0; i < r; ++i) {
        const int64_t d = x.dim(static_cast<int64_t>(i) + 2);
        axes[i] = {d, p.align_corners ? 0.0 : -0.5, p.align_corners ? d - 1.0 : d - 0.5};
        plane *= d;
    }
    int64_t points = 1;
    for (size_t i = 0; i < r; ++i) points *= grid_t.dim(static_cast<int64_t>(i) + 1);
    if (y.numel() == 0) return Status::ok();
    if (plane == 0) {  // nothing to sample from: every tap is padding
        for (int64_t i = 0; i < y.numel(); ++i) yd[i] = T(0);
        return Status::ok();
    }

    ctx.parallel_for(n_batch * points, [&](int64_t begin, int64_t end) {
        std::vector<int64_t> ax_idx(r * 4);
        std::vector<T> ax_w(r * 4);
        std::vector<int> ax_n(r);
        std::vector<int64_t> offs;
        std::vector<T> ws, next_w;
        std::vector<int64_t> next_off;
        for (int64_t np = begin; np < end; ++np) {
            const int64_t n = np / points, pt = np % points;
            const T* g = grid + np * static_cast<int64_t>(r);
            bool valid = true;
            for (size_t i = 0; i < r && valid; ++i) {
                const Axis& ax = axes[i];
                const T gn = g[r - 1 - i];  // the grid lists coordinates innermost axis first (x, y, z)
                T c = p.align_corners ? (gn + 1) / 2 * static_cast<T>(ax.size - 1)
                                      : ((gn + 1) * static_cast<T>(ax.size) - 1) / 2;
                if (p.mode == Mode::kNearest) c = r == 3 ? std::round(c) : std::nearbyint(c);
                if (c < ax.lo || c > ax.hi) {
                    if (p.padding == Padding::kBorder) c = c < 0 ? T(0) : (c > ax.size - 1 ? T(ax.size - 1) : c);
                    else if (p.padding == Padding::kReflection) c = static_cast<T>(reflect(c, ax.lo, ax.hi));
                }
                // Far outside (or NaN): every tap reads zero padding; keeps the int conversion below defined.
                if (!(c > -8.0 && c < static_cast<double>(ax.size) + 8.0)) {
                    valid = false;
                    break;
                }
                int cnt = 0;
                int64_t* idx = &ax_idx[i * 4];
                T* w = &ax_w[i * 4];
                auto add = [&](int64_t tap, T weight) {
                    int64_t at;
                    if (resolve_tap(tap, ax, p.padding, at)) {
                        idx[cnt] = at;
                        w[cnt++] = weight;
                    }
                };
                if (p.mode == Mode::kNearest) {
                    add(static_cast<int64_t>(c), T(1));
                } else {
                    const T f = std::floor(c);
                    const int64_t x0 = static_cast<int64_t>(f);
                    const T t = c - f;
                    if (p.mode == Mode::kLinear) {
                        add(x0, 1 - t);
                        add(x0 + 1, t);
                    } else {
                        T cc[4];
                        cubic_coeffs(t, cc);
                        for (int k = 0; k < 4; ++k) add(x0 - 1 + k, cc[k]);
                    }
                }
                ax_n[i] = cnt;
                if (cnt == 0) valid = false;
            }
            // Expand the per-axis taps into (plane offset, weight) pairs.
            offs.assign(1, 0);
            ws.assign(1, T(1));
            for (size_t i = 0; i < r && valid; ++i) {
                next_off.clear();
                next_w.clear();
                for (size_t k = 0; k < offs.size(); ++k) {
                    for (int j = 0; j < ax_n[i]; ++j) {
                        next_off.push_back(offs[k] * axes[i].size + ax_idx[i * 4 + static_cast<size_t>(j)]);
                        next_w.push_back(ws[k] * ax_w[i * 4 + static_cast<size_t>(j)]);
                    }
                }
                offs.swap(next_off);
                ws.swap(next_w);
            }
            const size_t nt = valid ? offs.size() : 0;
            for (int64_t c = 0; c < channels; ++c) {
                const T* src = xd + (n * channels + c) * plane;
                T acc = T(0);
                for (size_t k = 0; k < nt; ++k) acc += ws[k] * src[offs[k]];
                yd[(n * channels + c) * points + pt] = acc;
            }
        }
    });
    return Status::ok();
}

Status grid_sample_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(Params p, read_params(ctx));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& grid = ctx.input(1);
    if (x.rank() < 3) return ctx.input_error("X must have rank >= 3, got " + shape_to_string(x.shape()));
    const int64_t r = x.rank() - 2;
    if (grid.rank() != x.rank()) {
        return ctx.input_error("grid " + shape_to_string(grid.shape()) + " must have the rank of X " +
                               shape_to_string(x.shape()));
    }
    if (grid.dim(r + 1) != r) {
        return ctx.input_error("the last dim of grid must be " + std::to_string(r) + " (the spatial rank of X), got " +
                               shape_to_string(grid.shape()));
    }
    if (grid.dim(0) != x.dim(0)) return ctx.input_error("grid and X batch sizes differ");
    if (!image::is_f32_or_f64(grid.dtype())) return ctx.input_error("grid must be a float tensor");
    Shape out = {x.dim(0), x.dim(1)};
    for (int64_t i = 1; i <= r; ++i) out.push_back(grid.dim(i));
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), out));
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, return grid_sample_typed<T>(ctx, p, x, grid, *y));
    return Status::ok();
}

Status grid_sample_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(read_params(ctx).status());
    const ir::ValueType& xt = ctx.input_type(0);
    const ir::ValueType& gt = ctx.input_type(1);
    if (xt.has_shape && xt.rank() < 3) return ctx.error("X must have rank >= 3");
    if (xt.has_shape && gt.has_shape) {
        const int64_t r = xt.rank() - 2;
        if (gt.rank() != xt.rank()) return ctx.error("grid must have the rank of X");
        const ir::Dim& last = gt.dims.back();
        if (last.is_static() && last.value != r) {
            return ctx.error("the last dim of grid must be " + std::to_string(r) + " (the spatial rank of X), got " +
                             std::to_string(last.value));
        }
        if (!image::dims_agree(xt.dims[0], gt.dims[0])) return ctx.error("grid and X batch sizes differ");
    }
    const int64_t rank = xt.has_shape ? xt.rank() : gt.rank();
    if (rank < 0) {
        ctx.set_output(0, ir::ValueType::tensor(xt.dtype));
        return Status::ok();
    }
    auto dim_of = [&](const ir::ValueType& t, size_t i) { return t.has_shape ? t.dims[i] : ir::Dim(); };
    std::vector<ir::Dim> dims = {image::pick_dim(ctx, dim_of(xt, 0), dim_of(gt, 0)),
                                 image::pick_dim(ctx, dim_of(xt, 1), ir::Dim())};
    for (int64_t i = 1; i + 1 < rank; ++i) dims.push_back(image::pick_dim(ctx, dim_of(gt, static_cast<size_t>(i)), {}));
    ctx.set_output(0, ir::ValueType::tensor(xt.dtype, dims));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_GridSample() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "GridSample";
        o.since_version = 16;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("align_corners", 0), AttrSpec::none("mode", ir::AttrType::kString),
                   AttrSpec::s("padding_mode", "zeros")};
        o.infer = grid_sample_infer;
        o.kernel = grid_sample_kernel;
        o.input0_types = float_types();
        o.doc = "Samples X at normalized grid locations: (bi/n-)linear, nearest or (bi)cubic; zeros/border/reflection "
                "padding; 2-D and N-D (opset 20).";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Region-of-interest pooling: RoiAlign (opsets 10 and 16) and MaxRoiPool.
// RoiAlign follows the ONNX reference (itself ONNX Runtime's kernel), including its "max" mode, which takes the
// maximum of the weighted bilinear corner terms rather than of interpolated values. Bilinear sample weights are
// separable, so per ROI one table of row samples and one of column samples are built and shared by all channels.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/image_util.hpp"

namespace nnport {

namespace {

/// Checks X is [N, C, H, W] and batch indices lie in [0, N).
Status check_x(const KernelContext& ctx, const Tensor& x) {
    if (x.rank() != 4) return ctx.input_error("X must be 4-D [N, C, H, W], got " + shape_to_string(x.shape()));
    return Status::ok();
}

Status check_batch(const KernelContext& ctx, int64_t b, int64_t n, int64_t roi) {
    if (b < 0 || b >= n) {
        return ctx.input_error("batch index " + std::to_string(b) + " of ROI " + std::to_string(roi) +
                               " is out of range [0, " + std::to_string(n) + ")");
    }
    return Status::ok();
}

/// Output [num_rois, C, out_h, out_w] from X's channels and the ROI count (fresh symbols where unknown).
void set_roi_output(InferContext& ctx, const ir::Dim& rois, int64_t out_h, int64_t out_w) {
    const ir::ValueType& xt = ctx.input_type(0);
    const ir::Dim c = xt.has_shape && xt.rank() == 4 ? xt.dims[1] : ir::Dim();
    ctx.set_output(0, ir::ValueType::tensor(xt.dtype, {image::pick_dim(ctx, rois, {}), image::pick_dim(ctx, c, {}),
                                                       ir::Dim(out_h), ir::Dim(out_w)}));
}

// ---- RoiAlign ----------------------------------------------------------------------------------------------------

enum class RoiMode { kAvg, kMax };

struct AlignParams {
    RoiMode mode = RoiMode::kAvg;
    bool half_pixel = true;
    int64_t out_h = 1, out_w = 1, sampling_ratio = 0;
    double scale = 1.0;
};

Result<AlignParams> align_params(const AttrAccess& a) {
    AlignParams p;
    const std::string mode = a.attr_string("mode");
    if (mode == "avg") p.mode = RoiMode::kAvg;
    else if (mode == "max") p.mode = RoiMode::kMax;
    else return a.error("unknown mode '" + mode + "'");
    // Opset 10 had no coordinate_transformation_mode and behaved as output_half_pixel.
    const std::string ct = a.opset() < 16 && !a.has_attr("coordinate_transformation_mode")
                               ? "output_half_pixel"
                               : a.attr_string("coordinate_transformation_mode");
    if (ct == "half_pixel") p.half_pixel = true;
    else if (ct == "output_half_pixel") p.half_pixel = false;
    else return a.error("unknown coordinate_transformation_mode '" + ct + "'");
    p.out_h = a.attr_int("output_height");
    p.out_w = a.attr_int("output_width");
    if (p.out_h <= 0 || p.out_w <= 0) return a.error("output_height and output_width must be positive");
    p.sampling_ratio = a.attr_int("sampling_ratio");
    if (p.sampling_ratio < 0) return a.error("sampling_ratio must be >= 0");
    p.scale = a.attr_float("spatial_scale");
    return p;
}

/// One bilinear sample along an axis: low/high input indices and their weights (both 0 outside the map).
struct Sample {
    int64_t lo, hi;
    double wlo, whi;
};

/// Samples of `bins` bins of `bin_size` from `start`, `grid` samples each, on an axis of `size` pixels.
void axis_samples(double start, double bin_size, int64_t bins, int64_t grid, int64_t size, std::vector<Sample>& out) {
    out.resize(static_cast<size_t>(bins * grid));
    for (int64_t b = 0; b < bins; ++b) {
        for (int64_t g = 0; g < grid; ++g) {
            double v = start + static_cast<double>(b) * bin_size +
                       (static_cast<double>(g) + 0.5) * bin_size / static_cast<double>(grid);
            Sample& s = out[static_cast<size_t>(b * grid + g)];
            if (v < -1.0 || v > static_cast<double>(size)) {
                s = {0, 0, 0.0, 0.0};
                continue;
            }
            v = std::max(v, 0.0);
            int64_t lo = static_cast<int64_t>(v), hi;
            if (lo >= size - 1) {
                hi = lo = size - 1;
                v = static_cast<double>(lo);
            } else {
                hi = lo + 1;
            }
            const double l = v - static_cast<double>(lo);
            s = {lo, hi, 1.0 - l, l};
        }
    }
}

template <typename T>
Status roi_align_typed(KernelContext& ctx, const AlignParams& p, const Tensor& x, const Tensor& rois_t,
                       const int64_t* batch, Tensor& y) {
    std::vector<T> roi_buf;
    const T* rois = image::floats_as<T>(rois_t, roi_buf);
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    const int64_t channels = x.dim(1), height = x.dim(2), width = x.dim(3);
    const int64_t num_rois = rois_t.dim(0), ph = p.out_h, pw = p.out_w;
    struct RoiGeo {
        double start_h, start_w, bin_h, bin_w;
        int64_t grid_h, grid_w;
    };
    std::vector<RoiGeo> geo(static_cast<size_t>(num_rois));
    for (int64_t r = 0; r < num_rois; ++r) {
        const T* roi = rois + r * 4;
        for (int k = 0; k < 4; ++k) {
            if (!std::isfinite(static_cast<double>(roi[k]))) return ctx.input_error("ROI coordinates must be finite");
        }
        const double off = p.half_pixel ? 0.5 : 0.0;
        const double sw = roi[0] * p.scale - off, sh = roi[1] * p.scale - off;
        double rw = roi[2] * p.scale - off - sw, rh = roi[3] * p.scale - off - sh;
        if (!p.half_pixel) {  // malformed ROIs are forced to 1x1
            rw = std::max(rw, 1.0);
            rh = std::max(rh, 1.0);
        }
        RoiGeo& g = geo[static_cast<size_t>(r)];
        g = {sh, sw, rh / static_cast<double>(ph), rw / static_cast<double>(pw), p.sampling_ratio, p.sampling_ratio};
        if (p.sampling_ratio == 0) {
            g.grid_h = static_cast<int64_t>(std::clamp(std::ceil(g.bin_h), 0.0, 1e9));
            g.grid_w = static_cast<int64_t>(std::clamp(std::ceil(g.bin_w), 0.0, 1e9));
        }
        // Adaptive sampling takes about one sample per pixel; refuse ROIs whose sample count is absurd.
        const double rows = double(g.grid_h) * double(ph), cols = double(g.grid_w) * double(pw);
        if (rows > double(1 << 24) || cols > double(1 << 24) || rows * cols > double(int64_t{1} << 32)) {
            return ctx.input_error("ROI " + std::to_string(r) + " needs too many samples");
        }
    }
    const int64_t out_plane = ph * pw;
    ctx.parallel_for(num_rois * channels, [&](int64_t begin, int64_t end) {
        std::vector<Sample> ys, xs;
        int64_t cached_roi = -1;
        for (int64_t rc = begin; rc < end; ++rc) {
            const int64_t r = rc / channels, c = rc % channels;
            const RoiGeo& g = geo[static_cast<size_t>(r)];
            if (r != cached_roi) {
                axis_samples(g.start_h, g.bin_h, ph, g.grid_h, height, ys);
                axis_samples(g.start_w, g.bin_w, pw, g.grid_w, width, xs);
                cached_roi = r;
            }
            const T* src = xd + (batch[r] * channels + c) * height * width;
            T* dst = yd + rc * out_plane;
            const double count = static_cast<double>(std::max<int64_t>(g.grid_h * g.grid_w, 1));
            for (int64_t oh = 0; oh < ph; ++oh) {
                for (int64_t ow = 0; ow < pw; ++ow) {
                    double acc = 0.0;
                    bool first = true;
                    for (int64_t iy = 0; iy < g.grid_h; ++iy) {
                        const Sample& sy = ys[static_cast<size_t>(oh * g.grid_h + iy)];
                        const T* row_lo = src + sy.lo * width;
                        const T* row_hi = src + sy.hi * width;
                        for (int64_t ix = 0; ix < g.grid_w; ++ix) {
                            const Sample& sx = xs[static_cast<size_t>(ow * g.grid_w + ix)];
                            const double t1 = sy.wlo * sx.wlo * static_cast<double>(row_lo[sx.lo]);
                            const double t2 = sy.wlo * sx.whi * static_cast<double>(row_lo[sx.hi]);
                            const double t3 = sy.whi * sx.wlo * static_cast<double>(row_hi[sx.lo]);
                            const double t4 = sy.whi * sx.whi * static_cast<double>(row_hi[sx.hi]);
                            if (p.mode == RoiMode::kAvg) {
                                acc += t1 + t2 + t3 + t4;
                            } else {
                                const double v = std::max(std::max(t1, t2), std::max(t3, t4));
                                acc = first ? v : std::max(acc, v);
                                first = false;
                            }
                        }
                    }
                    dst[oh * pw + ow] = static_cast<T>(p.mode == RoiMode::kAvg ? acc / count : acc);
                }
            }
        }
    });
    return Status::ok();
}

/// Checks rois is [num_rois, cols] of a float type.
Status check_rois(const KernelContext& ctx, const Tensor& rois, int64_t cols) {
    if (rois.rank() != 2 || rois.dim(1) != cols) {
        return ctx.input_error("rois must be [num_rois, " + std::to_string(cols) + "], got " +
                               shape_to_string(rois.shape()));
    }
    if (!image::is_f32_or_f64(rois.dtype())) return ctx.input_error("rois must be a float tensor");
    return Status::ok();
}

Status roi_align_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(AlignParams p, align_params(ctx));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(2));
    const Tensor& x = ctx.input(0);
    const Tensor& rois = ctx.input(1);
    const Tensor& bi = ctx.input(2);
    NNPORT_RETURN_IF_ERROR(check_x(ctx, x));
    NNPORT_RETURN_IF_ERROR(check_rois(ctx, rois, 4));
    if (bi.rank() != 1 || bi.dim(0) != rois.dim(0)) {
        return ctx.input_error("batch_indices must be [num_rois] = [" + std::to_string(rois.dim(0)) + "], got " +
                               shape_to_string(bi.shape()));
    }
    if (bi.dtype() != DType::kInt64) return ctx.input_error("batch_indices must be int64");
    const int64_t* batch = bi.data<int64_t>();
    for (int64_t r = 0; r < bi.numel(); ++r) NNPORT_RETURN_IF_ERROR(check_batch(ctx, batch[r], x.dim(0), r));
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), {rois.dim(0), x.dim(1), p.out_h, p.out_w}));
    if (y->numel() == 0) return Status::ok();
    if (x.dim(2) == 0 || x.dim(3) == 0) return ctx.input_error("X has an empty spatial dim");
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, return roi_align_typed<T>(ctx, p, x, rois, batch, *y));
    return Status::ok();
}

Status roi_align_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(AlignParams p, align_params(ctx));
    const ir::ValueType& xt = ctx.input_type(0);
    const ir::ValueType& rt = ctx.input_type(1);
    const ir::ValueType& bt = ctx.input_type(2);
    if (xt.has_shape && xt.rank() != 4) return ctx.error("X must be 4-D");
    if (rt.has_shape && (rt.rank() != 2 || (rt.dims[1].is_static() && rt.dims[1].value != 4))) {
        return ctx.error("rois must be [num_rois, 4]");
    }
    if (bt.has_shape && bt.rank() != 1) return ctx.error("batch_indices must be 1-D");
    if (bt.is_tensor() && bt.dtype != DType::kInt64 && bt.dtype != DType::kUndefined) {
        return ctx.error("batch_indices must be int64");
    }
    const ir::Dim a = rt.has_shape ? rt.dims[0] : ir::Dim(), b = bt.has_shape ? bt.dims[0] : ir::Dim();
    if (!image::dims_agree(a, b)) return ctx.error("rois and batch_indices disagree on the number of ROIs");
    set_roi_output(ctx, image::pick_dim(ctx, a, b), p.out_h, p.out_w);
    return Status::ok();
}

// ---- MaxRoiPool --------------------------------------------------------------------------------------------------

Result<std::vector<int64_t>> pooled_shape(const AttrAccess& a) {
    std::vector<int64_t> s = a.attr_ints("pooled_shape");
    if (s.size() != 2 || s[0] <= 0 || s[1] <= 0) return a.error("pooled_shape must be two positive sizes");
    return s;
}

template <typename T>
Status max_roi_pool_typed(KernelContext& ctx, const Tensor& x, const Tensor& rois_t, int64_t ph, int64_t pw,
                          double scale, Tensor& y) {
    std::vector<T> roi_buf;
    const T* rois = image::floats_as<T>(rois_t, roi_buf);
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    const int64_t channels = x.dim(1), height = x.dim(2), width = x.dim(3), num_rois = rois_t.dim(0);
    // ROI corners in pixels (rounded as Caffe/ONNX Runtime/torchvision do) and the batch index.
    std::vector<int64_t> box(static_cast<size_t>(num_rois * 5));
    for (int64_t r = 0; r < num_rois; ++r) {
        const T* roi = rois + r * 5;
        for (int k = 0; k < 5; ++k) {
            const double v = k == 0 ? static_cast<double>(roi[0]) : std::round(static_cast<double>(roi[k]) * scale);
            if (!(std::fabs(v) < 1e15)) return ctx.input_error("ROI " + std::to_string(r) + " is not finite");
            box[static_cast<size_t>(r * 5 + k)] = static_cast<int64_t>(v);
        }
        NNPORT_RETURN_IF_ERROR(check_batch(ctx, box[static_cast<size_t>(r * 5)], x.dim(0), r));
    }
    ctx.parallel_for(num_rois * channels, [&](int64_t begin, int64_t end) {
        for (int64_t rc = begin; rc < end; ++rc) {
            const int64_t r = rc / channels, c = rc % channels;
            const int64_t* b = &box[static_cast<size_t>(r * 5)];
            const int64_t x0 = b[1], y0 = b[2];
            const double bin_h = static_cast<double>(std::max<int64_t>(b[4] - y0 + 1, 1)) / static_cast<double>(ph);
            const double bin_w = static_cast<double>(std::max<int64_t>(b[3] - x0 + 1, 1)) / static_cast<double>(pw);
            const T* src = xd + (b[0] * channels + c) * height * width;
            T* dst = yd + rc * ph * pw;
            auto clip = [](int64_t v, int64_t hi) { return std::min(std::max<int64_t>(v, 0), hi); };
            for (int64_t oh = 0; oh < ph; ++oh) {
                const int64_t h0 = clip(static_cast<int64_t>(std::floor(oh * bin_h)) + y0, height);
                const int64_t h1 = clip(static_cast<int64_t>(std::ceil((oh + 1) * bin_h)) + y0, height);
                for (int64_t ow = 0; ow < pw; ++ow) {
                    const int64_t w0 = clip(static_cast<int64_t>(std::floor(ow * bin_w)) + x0, width);
                    const int64_t w1 = clip(static_cast<int64_t>(std::ceil((ow + 1) * bin_w)) + x0, width);
                    T m = (h1 <= h0 || w1 <= w0) ? T(0) : std::numeric_limits<T>::lowest();
                    for (int64_t h = h0; h < h1; ++h) {
                        for (int64_t w = w0; w < w1; ++w) m = std::max(m, src[h * width + w]);
                    }
                    dst[oh * pw + ow] = m;
                }
            }
        }
    });
    return Status::ok();
}

Status max_roi_pool_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(std::vector<int64_t> ps, pooled_shape(ctx));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& rois = ctx.input(1);
    NNPORT_RETURN_IF_ERROR(check_x(ctx, x));
    NNPORT_RETURN_IF_ERROR(check_rois(ctx, rois, 5));
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), {rois.dim(0), x.dim(1), ps[0], ps[1]}));
    if (y->numel() == 0) return Status::ok();
    const double scale = ctx.attr_float("spatial_scale");
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, return max_roi_pool_typed<T>(ctx, x, rois, ps[0], ps[1], scale, *y));
    return Status::ok();
}

Status max_roi_pool_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(std::vector<int64_t> ps, pooled_shape(ctx));
    const ir::ValueType& xt = ctx.input_type(0);
    const ir::ValueType& rt = ctx.input_type(1);
    if (xt.has_shape && xt.rank() != 4) return ctx.error("X must be 4-D");
    if (rt.has_shape && (rt.rank() != 2 || (rt.dims[1].is_static() && rt.dims[1].value != 5))) {
        return ctx.error("rois must be [num_rois, 5]");
    }
    set_roi_output(ctx, rt.has_shape ? rt.dims[0] : ir::Dim(), ps[0], ps[1]);
    return Status::ok();
}

}  // namespace

const OpDef& op_def_RoiAlign() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "RoiAlign";
        o.since_version = 10;
        o.min_inputs = o.max_inputs = 3;
        o.attrs = {AttrSpec::s("coordinate_transformation_mode", "half_pixel"), AttrSpec::s("mode", "avg"),
                   AttrSpec::i("output_height", 1), AttrSpec::i("output_width", 1), AttrSpec::i("sampling_ratio", 0),
                   AttrSpec::f("spatial_scale", 1.0f)};
        o.infer = roi_align_infer;
        o.kernel = roi_align_kernel;
        o.input0_types = float_types();
        o.doc = "Bilinearly sampled avg/max pooling of each ROI to output_height x output_width.";
        return o;
    }();
    return d;
}

const OpDef& op_def_MaxRoiPool() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "MaxRoiPool";
        o.since_version = 1;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::none("pooled_shape", ir::AttrType::kInts, true), AttrSpec::f("spatial_scale", 1.0f)};
        o.infer = max_roi_pool_infer;
        o.kernel = max_roi_pool_kernel;
        o.input0_types = float_types();
        o.doc = "Max pooling of each ROI (batch, x1, y1, x2, y2) to pooled_shape bins.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// AffineGrid (opset 20): the sampling grid of a batch of 2-D or 3-D affine transforms, for GridSample.
#include "ops/image_util.hpp"

namespace nnport {

namespace {

/// Normalized coordinate of pixel i on an axis of n pixels. A single pixel sits at 0 (as PyTorch's affine_grid).
double base_coord(int64_t i, int64_t n, bool align_corners) {
    if (n <= 1) return 0.0;
    const double di = static_cast<double>(i), dn = static_cast<double>(n);
    return align_corners ? -1.0 + 2.0 * di / (dn - 1.0) : (2.0 * di + 1.0) / dn - 1.0;
}

template <typename T>
void affine_grid_typed(KernelContext& ctx, const Tensor& theta_t, const std::vector<int64_t>& spatial, bool align,
                       Tensor& y) {
    const T* theta = theta_t.data<T>();
    T* yd = y.data<T>();
    const int64_t r = static_cast<int64_t>(spatial.size());  // 2 or 3; spatial is (H, W) or (D, H, W)
    const int64_t depth = r == 3 ? spatial[0] : 1, height = spatial[static_cast<size_t>(r - 2)];
    const int64_t width = spatial[static_cast<size_t>(r - 1)];
    const int64_t points = depth * height * width;
    ctx.parallel_for(theta_t.dim(0) * depth * height, [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
            const int64_t n = row / (depth * height), d = (row / height) % depth, h = row % height;
            const T* th = theta + n * r * (r + 1);
            const double zc = r == 3 ? base_coord(d, depth, align) : 0.0, yc = base_coord(h, height, align);
            T* out = yd + (n * points + (d * height + h) * width) * r;
            for (int64_t w = 0; w < width; ++w, out += r) {
                const double xc = base_coord(w, width, align);
                for (int64_t j = 0; j < r; ++j) {
                    const T* t = th + j * (r + 1);
                    double v = static_cast<double>(t[0]) * xc + static_cast<double>(t[1]) * yc;
                    if (r == 3) v += static_cast<double>(t[2]) * zc + static_cast<double>(t[3]);
                    else v += static_cast<double>(t[2]);
                    out[j] = static_cast<T>(v);
                }
            }
        }
    });
}

Status affine_grid_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& theta = ctx.input(0);
    const Tensor& size_in = ctx.input(1);
    if (size_in.dtype() != DType::kInt64 || size_in.rank() != 1 || (size_in.numel() != 4 && size_in.numel() != 5)) {
        return ctx.input_error("size must be int64 [N, C, H, W] or [N, C, D, H, W]");
    }
    const std::vector<int64_t> size = size_in.to_int_vector();
    const int64_t r = static_cast<int64_t>(size.size()) - 2;
    if (theta.rank() != 3 || theta.dim(1) != r || theta.dim(2) != r + 1) {
        return ctx.input_error("theta must be [N, " + std::to_string(r) + ", " + std::to_string(r + 1) + "] for a " +
                               std::to_string(r) + "-D size, got " + shape_to_string(theta.shape()));
    }
    if (size[0] != theta.dim(0)) return ctx.input_error("size[0] does not match the batch of theta");
    for (int64_t v : size) {
        if (v < 0) return ctx.input_error("size has a negative entry");
    }
    const std::vector<int64_t> spatial(size.begin() + 2, size.end());
    Shape out = {size[0]};
    out.insert(out.end(), spatial.begin(), spatial.end());
    out.push_back(r);
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, theta.dtype(), out));
    if (y->numel() == 0) return Status::ok();
    const bool align = ctx.attr_int("align_corners") != 0;
    NNPORT_DISPATCH_FLOAT(theta.dtype(), T, ctx, affine_grid_typed<T>(ctx, theta, spatial, align, *y));
    return Status::ok();
}

Status affine_grid_infer(InferContext& ctx) {
    const ir::ValueType& tt = ctx.input_type(0);
    const ir::ValueType& st = ctx.input_type(1);
    if (tt.has_shape && tt.rank() != 3) return ctx.error("theta must be 3-D");
    int64_t len = -1;
    const Tensor* size = ctx.input_constant(1);
    if (size) len = size->numel();
    else if (st.has_shape && st.rank() == 1 && st.dims[0].is_static()) len = st.dims[0].value;
    if (len < 0) {
        ctx.set_output(0, ir::ValueType::tensor(tt.dtype));
        return Status::ok();
    }
    if (len != 4 && len != 5) return ctx.error("size must have 4 or 5 entries");
    const int64_t r = len - 2;
    if (tt.has_shape && ((tt.dims[1].is_static() && tt.dims[1].value != r) ||
                         (tt.dims[2].is_static() && tt.dims[2].value != r + 1))) {
        return ctx.error("theta does not match a " + std::to_string(r) + "-D size");
    }
    std::vector<ir::Dim> dims;
    if (size) {
        const std::vector<int64_t> s = size->to_int_vector();
        if (tt.has_shape && !image::dims_agree(tt.dims[0], s[0])) return ctx.error("size[0] does not match theta");
        dims.push_back(s[0]);
        for (size_t i = 2; i < s.size(); ++i) dims.push_back(s[i] >= 0 ? ir::Dim(s[i]) : ctx.new_dim());
    } else {
        dims.push_back(image::pick_dim(ctx, tt.has_shape ? tt.dims[0] : ir::Dim(), {}));
        for (int64_t i = 2; i < len; ++i) dims.push_back(ctx.new_dim());
    }
    dims.push_back(r);
    ctx.set_output(0, ir::ValueType::tensor(tt.dtype, dims));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_AffineGrid() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "AffineGrid";
        o.since_version = 20;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("align_corners", 0)};
        o.infer = affine_grid_infer;
        o.kernel = affine_grid_kernel;
        o.input0_types = float_types();
        o.doc = "Sampling grid [N, H, W, 2] or [N, D, H, W, 3] of affine transforms theta, for GridSample.";
        return o;
    }();
    return d;
}

}  // namespace nnport

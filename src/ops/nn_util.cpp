// Conv/pool window geometry shared by the nn family.
#include "ops/nn_util.hpp"

#include <algorithm>

namespace nnport::nn {

namespace {

/// Reads an ints attribute of `n` entries, or `n` copies of `def` when absent.
Result<std::vector<int64_t>> ints_or(const AttrAccess& a, const char* name, size_t n, int64_t def, int64_t min) {
    if (!a.has_attr(name)) return std::vector<int64_t>(n, def);
    std::vector<int64_t> v = a.attr_ints(name);
    if (v.size() != n) {
        return a.error(std::string(name) + " has " + std::to_string(v.size()) + " values, expected " +
                       std::to_string(n));
    }
    for (int64_t x : v) {
        if (x < min) return a.error(std::string(name) + " value " + std::to_string(x) + " is out of range");
    }
    return v;
}

Status common(const AttrAccess& a, size_t n, const std::vector<int64_t>& kernel, Geometry& g, std::string& auto_pad) {
    if (kernel.size() != n) return a.error("kernel has rank " + std::to_string(kernel.size()) + ", input has " +
                                           std::to_string(n) + " spatial dims");
    for (int64_t k : kernel) {
        if (k <= 0) return a.error("kernel sizes must be positive");
    }
    g.kernel = kernel;
    NNPORT_ASSIGN_OR_RETURN(g.strides, ints_or(a, "strides", n, 1, 1));
    NNPORT_ASSIGN_OR_RETURN(g.dilations, ints_or(a, "dilations", n, 1, 1));
    auto_pad = a.attr_string("auto_pad");
    if (auto_pad.empty()) auto_pad = "NOTSET";
    if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID") {
        return a.error("unknown auto_pad '" + auto_pad + "'");
    }
    g.pads_begin.assign(n, 0);
    g.pads_end.assign(n, 0);
    if (auto_pad == "NOTSET" && a.has_attr("pads")) {
        NNPORT_ASSIGN_OR_RETURN(std::vector<int64_t> p, ints_or(a, "pads", 2 * n, 0, 0));
        for (size_t i = 0; i < n; ++i) {
            g.pads_begin[i] = p[i];
            g.pads_end[i] = p[i + n];
        }
    }
    constexpr int64_t kMaxDim = int64_t{1} << 40;  // keeps the arithmetic below far from overflow
    for (size_t i = 0; i < n; ++i) {
        if (g.strides[i] > kMaxDim || g.dilations[i] > kMaxDim || g.kernel[i] > kMaxDim || g.pads_begin[i] > kMaxDim ||
            g.pads_end[i] > kMaxDim || g.in[i] > kMaxDim) {
            return a.error("window attributes are too large");
        }
    }
    return Status::ok();
}

}  // namespace

Result<Geometry> window_geometry(const AttrAccess& a, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                                 bool ceil_mode) {
    Geometry g;
    g.in = in;
    std::string auto_pad;
    NNPORT_RETURN_IF_ERROR(common(a, in.size(), kernel, g, auto_pad));
    g.out.assign(in.size(), -1);
    for (size_t i = 0; i < in.size(); ++i) {
        const int64_t ek = (g.kernel[i] - 1) * g.dilations[i] + 1, s = g.strides[i];
        if (in[i] < 0) continue;
        int64_t out;
        if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            out = (in[i] + s - 1) / s;
            const int64_t total = std::max<int64_t>(0, (out - 1) * s + ek - in[i]);
            const int64_t small = total / 2;
            g.pads_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
            g.pads_end[i] = total - g.pads_begin[i];
        } else {
            const int64_t span = in[i] + g.pads_begin[i] + g.pads_end[i] - ek;
            if (span < 0) {
                return a.input_error("input size " + std::to_string(in[i]) + " is smaller than the window " +
                                     std::to_string(ek) + " on spatial axis " + std::to_string(i));
            }
            out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
            // A window that would start inside the end padding is dropped (PyTorch / ONNX opset 19 rule).
            if (ceil_mode && (out - 1) * s >= in[i] + g.pads_begin[i]) --out;
        }
        if (out <= 0) return a.input_error("empty output on spatial axis " + std::to_string(i));
        g.out[i] = out;
    }
    return g;
}

Result<Geometry> transpose_geometry(const AttrAccess& a, const std::vector<int64_t>& in,
                                    const std::vector<int64_t>& kernel) {
    Geometry g;
    g.in = in;
    const size_t n = in.size();
    std::string auto_pad;
    NNPORT_RETURN_IF_ERROR(common(a, n, kernel, g, auto_pad));
    NNPORT_ASSIGN_OR_RETURN(std::vector<int64_t> adj, ints_or(a, "output_padding", n, 0, 0));
    std::vector<int64_t> shape;
    if (a.has_attr("output_shape")) {
        shape = a.attr_ints("output_shape");
        if (shape.size() == n + 2) shape.erase(shape.begin(), shape.begin() + 2);  // some exporters give N, C too
        if (shape.size() != n) return a.error("output_shape must have one value per spatial dim");
        for (int64_t v : shape) {
            if (v < 0) return a.error("output_shape values must be non-negative");
        }
    }
    g.out.assign(n, -1);
    for (size_t i = 0; i < n; ++i) {
        if (adj[i] >= std::max(g.strides[i], g.dilations[i])) {
            return a.error("output_padding must be smaller than the stride or the dilation");
        }
        if (in[i] < 0) {
            if (!shape.empty()) g.out[i] = shape[i];
            continue;
        }
        const int64_t full = g.strides[i] * (in[i] - 1) + adj[i] + (g.kernel[i] - 1) * g.dilations[i] + 1;
        if (!shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            const int64_t target = shape.empty() ? in[i] * g.strides[i] : shape[i];
            // A negative total (the requested output is larger than the full one) leaves zeros at the end.
            const int64_t total = std::max<int64_t>(0, full - target);
            const int64_t small = total / 2;
            g.pads_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
            g.pads_end[i] = total - g.pads_begin[i];
            g.out[i] = target;
        } else {
            g.out[i] = full - g.pads_begin[i] - g.pads_end[i];
        }
        if (g.out[i] <= 0) return a.input_error("empty output on spatial axis " + std::to_string(i));
    }
    return g;
}

Result<Geo3> to_geo3(const Geometry& g) {
    const size_t n = g.rank();
    if (n == 0 || n > 3) return unsupported("only 1 to 3 spatial dimensions are supported, got " + std::to_string(n));
    Geo3 r;
    const size_t off = 3 - n;
    for (size_t i = 0; i < 3; ++i) {
        if (i < off) {
            r.in[i] = r.k[i] = r.s[i] = r.d[i] = r.out[i] = 1;
            r.pb[i] = 0;
        } else {
            const size_t j = i - off;
            r.in[i] = g.in[j];
            r.k[i] = g.kernel[j];
            r.s[i] = g.strides[j];
            r.d[i] = g.dilations[j];
            r.pb[i] = g.pads_begin[j];
            r.out[i] = g.out[j];
        }
    }
    return r;
}

std::vector<int64_t> spatial_dims_of(const ir::ValueType& t) {
    std::vector<int64_t> r;
    if (!t.has_shape || t.dims.size() < 3) return r;
    for (size_t i = 2; i < t.dims.size(); ++i) r.push_back(t.dims[i].is_static() ? t.dims[i].value : -1);
    return r;
}

Result<std::vector<int64_t>> static_window(const InferContext& ctx, const ir::ValueType& xt, const ir::ValueType& wt) {
    if (xt.dims.size() < 3) return ctx.error("input must have rank >= 3");
    if (wt.has_shape && wt.dims.size() != xt.dims.size()) return ctx.error("weight and input ranks differ");
    std::vector<int64_t> kernel;
    if (ctx.has_attr("kernel_shape")) {
        kernel = ctx.attr_ints("kernel_shape");
    } else if (wt.has_shape) {
        kernel = spatial_dims_of(wt);
    }
    const bool known = kernel.size() == xt.dims.size() - 2 &&
                       std::all_of(kernel.begin(), kernel.end(), [](int64_t v) { return v >= 0; });
    if (!known) kernel.clear();
    return kernel;
}

std::vector<ir::Dim> output_dims(InferContext& ctx, const ir::Dim& n, const ir::Dim& c, const std::vector<int64_t>& out) {
    std::vector<ir::Dim> d = {n, c};
    for (int64_t v : out) d.push_back(v >= 0 ? ir::Dim(v) : ctx.new_dim());
    return d;
}

}  // namespace nnport::nn

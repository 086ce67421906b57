// Calibration images: stb_image decoding, bilinear resize / centre crop and normalization (image.hpp).
#include "io/image.hpp"

#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <sstream>

namespace nnport::io {

namespace {

/// Decoded pixels above this count are refused before decoding (a 8192 x 8192 image): no unbounded allocation.
constexpr int64_t kMaxPixels = int64_t{1} << 26;

struct StbFree {
    void operator()(unsigned char* p) const { stbi_image_free(p); }
};

/// Bilinear sample of channel c at source coordinates (y, x) (pixel centres at integers), clamped to the edges.
float sample(const unsigned char* px, int w, int h, int n, double y, double x, int c) {
    y = std::clamp(y, 0.0, double(h - 1));
    x = std::clamp(x, 0.0, double(w - 1));
    const int y0 = static_cast<int>(y), x0 = static_cast<int>(x);
    const int y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
    const double fy = y - y0, fx = x - x0;
    auto at = [&](int yy, int xx) { return double(px[(int64_t(yy) * w + xx) * n + c]); };
    const double top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
    const double bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
    return static_cast<float>(top * (1 - fy) + bottom * fy);
}

}  // namespace

bool is_image_file(const std::filesystem::path& p) {
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    for (const char* x :
         {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tga", ".gif", ".psd", ".hdr", ".pic"}) {
        if (e == x) return true;
    }
    return false;
}

Result<std::vector<float>> parse_floats(const std::string& s, const std::string& what) {
    std::vector<float> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        char* end = nullptr;
        const float v = std::strtof(item.c_str(), &end);
        if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v)) {
            return invalid_argument(what + ": '" + s + "' is not a comma-separated list of numbers");
        }
        out.push_back(v);
    }
    if (out.empty()) return invalid_argument(what + ": no values");
    return out;
}

Result<Tensor> read_image(const std::string& path, const ir::ValueType& input, const ImagePreprocess& p) {
    using L = ImagePreprocess::Layout;
    if (!input.has_shape || input.dims.size() != 4) {
        return invalid_argument(path +
                                ": an image fills a rank-4 input ([N, C, H, W] or [N, H, W, C]), the model's is " +
                                input.to_string());
    }
    if (input.dtype != DType::kFloat32 && input.dtype != DType::kUInt8) {
        return invalid_argument(path + ": an image fills a float32 or uint8 input, the model's is " +
                                input.to_string());
    }
    auto dim = [&](size_t i) { return input.dims[i].is_static() ? input.dims[i].value : int64_t{-1}; };
    auto is_channels = [](int64_t d) { return d == 1 || d == 3 || d == 4; };
    L layout = p.layout;
    if (layout == L::kAuto) {  // ONNX's NCHW unless only dim 3 is a channel count, or dim 3 alone is 3 (RGB)
        if (is_channels(dim(1)) && !(dim(3) == 3 && dim(1) != 3))
            layout = L::kNchw;
        else if (is_channels(dim(3)))
            layout = L::kNhwc;
        else {
            return invalid_argument(path + ": the input " + input.to_string() +
                                    " has no dim of 1, 3 or 4 channels at 1 (NCHW) or 3 (NHWC)");
        }
    }
    const bool nchw = layout == L::kNchw;
    const int64_t c = dim(nchw ? 1 : 3), h = dim(nchw ? 2 : 1), w = dim(nchw ? 3 : 2);
    if (dim(0) > 1 || !is_channels(c) || h <= 0 || w <= 0) {
        return invalid_argument(path + ": the input " + input.to_string() +
                                " must have batch 1 and static 1, 3 or 4 channels, height and width for an image");
    }
    for (const auto* v : {&p.mean, &p.stddev}) {
        if (v->size() != 1 && static_cast<int64_t>(v->size()) != c) {
            return invalid_argument(path + ": " + std::to_string(v->size()) + " mean/std values for " +
                                    std::to_string(c) + " channels");
        }
    }
    for (float sd : p.stddev) {
        if (!(sd != 0.0f && std::isfinite(sd))) return invalid_argument(path + ": a standard deviation of 0");
    }
    int iw = 0, ih = 0, in = 0;
    if (!stbi_info(path.c_str(), &iw, &ih, &in)) {
        return invalid_argument(path + ": not a readable image (" + std::string(stbi_failure_reason()) + ")");
    }
    if (iw <= 0 || ih <= 0 || int64_t(iw) * ih > kMaxPixels) {
        return invalid_argument(path + ": image of " + std::to_string(iw) + " x " + std::to_string(ih) +
                                " pixels is larger than the limit of " + std::to_string(kMaxPixels) + " pixels");
    }
    const int n = static_cast<int>(c);
    std::unique_ptr<unsigned char, StbFree> px(stbi_load(path.c_str(), &iw, &ih, &in, n));
    if (!px) return invalid_argument(path + ": cannot decode the image (" + std::string(stbi_failure_reason()) + ")");

    // The resized image's size and the crop's offset in it.
    double rh = double(h), rw = double(w), top = 0, left = 0;
    if (p.resize_short > 0) {
        const double f = double(p.resize_short) / double(std::min(iw, ih));
        rh = iw <= ih ? std::round(ih * f) : double(p.resize_short);
        rw = iw <= ih ? double(p.resize_short) : std::round(iw * f);
        if (rh < double(h) || rw < double(w)) {
            return invalid_argument(path + ": resized to " + std::to_string(int64_t(rw)) + " x " +
                                    std::to_string(int64_t(rh)) + " it is smaller than the input's " +
                                    std::to_string(w) + " x " + std::to_string(h));
        }
        top = std::round((rh - double(h)) / 2.0);
        left = std::round((rw - double(w)) / 2.0);
    }
    const double sy = double(ih) / rh, sx = double(iw) / rw;
    NNPORT_ASSIGN_OR_RETURN(Tensor t, Tensor::create(input.dtype, nchw ? Shape{1, c, h, w} : Shape{1, h, w, c}));
    for (int64_t y = 0; y < h; ++y) {
        const double srcy = (double(y) + top + 0.5) * sy - 0.5;
        for (int64_t x = 0; x < w; ++x) {
            const double srcx = (double(x) + left + 0.5) * sx - 0.5;
            for (int64_t k = 0; k < c; ++k) {
                const int src_c = p.bgr && c >= 3 && k < 3 ? int(2 - k) : int(k);
                const float v = sample(px.get(), iw, ih, n, srcy, srcx, src_c);
                const int64_t at = nchw ? (k * h + y) * w + x : (y * w + x) * c + k;
                if (input.dtype == DType::kUInt8) {
                    t.data<uint8_t>()[at] = static_cast<uint8_t>(std::clamp(std::nearbyint(v), 0.0f, 255.0f));
                } else {
                    const float mean = p.mean.size() == 1 ? p.mean[0] : p.mean[size_t(k)];
                    const float sd = p.stddev.size() == 1 ? p.stddev[0] : p.stddev[size_t(k)];
                    t.data<float>()[at] = (v * p.scale - mean) / sd;
                }
            }
        }
    }
    return t;
}

}  // namespace nnport::io

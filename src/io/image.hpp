// Images as model inputs (calibration data of `nnport quantize` / `prune`): PNG, JPEG, BMP, PPM/PGM, TGA, GIF, PSD,
// HDR and PIC files decoded by stb_image, resized and normalized as the model's preprocessing says.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "ir/value_type.hpp"
#include "nnport/tensor.hpp"

namespace nnport::io {

/// How an image becomes the input tensor. The image is resized (bilinear, half-pixel centres, no antialiasing) to
/// the input's H x W; with resize_short > 0 its shorter side is resized to resize_short first (keeping the aspect
/// ratio) and the centre H x W cropped (torchvision's Resize + CenterCrop). Float inputs get (pixel * scale -
/// mean[c]) / stddev[c] per channel (one value applies to every channel); uint8 inputs get the resized pixels rounded.
/// Channels are RGB (gray for 1 channel, RGBA for 4), BGR with `bgr`.
struct ImagePreprocess {
    enum class Layout { kAuto, kNchw, kNhwc };
    float scale = 1.0f / 255.0f;
    std::vector<float> mean = {0.0f};
    std::vector<float> stddev = {1.0f};
    bool bgr = false;
    int64_t resize_short = 0;
    /// kAuto: [N, C, H, W] when dim 1 is 1, 3 or 4, unless dim 3 is 3 and dim 1 is not; else [N, H, W, C] when dim 3
    /// is 1, 3 or 4.
    Layout layout = Layout::kAuto;
};

/// Whether `p` has an image file extension stb_image reads (case-insensitive).
bool is_image_file(const std::filesystem::path& p);

/// Reads the image at `path` as a tensor of `input`'s type: rank 4 with batch 1 (or dynamic) and static C (1, 3 or
/// 4), H and W, float32 or uint8. Errors name the file and the reason (not an image, too large, a shape the image
/// cannot fill).
Result<Tensor> read_image(const std::string& path, const ir::ValueType& input, const ImagePreprocess& p);

/// Parses "a,b,c" into floats (the --image-mean / --image-std options).
Result<std::vector<float>> parse_floats(const std::string& s, const std::string& what);

}  // namespace nnport::io

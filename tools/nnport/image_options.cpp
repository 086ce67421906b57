// Image preprocessing options (image_options.hpp).
#include "image_options.hpp"

#include "io/image.hpp"

namespace nnport::cli {

void add_image_options(CLI::App* sub, ImageOptions* o) {
    sub->add_option("--image-scale", o->scale,
                    "Images in --data: pixel values are multiplied by this first (default 1/255)");
    sub->add_option("--image-mean", o->mean,
                    "Images in --data: subtracted after the scale, one value or one per channel (e.g. "
                    "0.485,0.456,0.406; default 0)");
    sub->add_option("--image-std", o->stddev,
                    "Images in --data: divided by after the mean, one value or one per channel (e.g. "
                    "0.229,0.224,0.225; default 1)");
    sub->add_flag("--image-bgr", o->bgr, "Images in --data: channels in BGR order (default RGB)");
    sub->add_option("--image-resize-short", o->resize_short,
                    "Images in --data: resize the shorter side to this, then crop the centre to the input's size "
                    "(default: resize straight to the input's size)")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
    sub->add_option("--image-layout", o->layout,
                    "Images in --data: the input's layout, nchw or nhwc (default: from the input's shape)")
        ->check(CLI::IsMember({"auto", "nchw", "nhwc"}));
}

Result<ImagePreprocessing> image_preprocessing(const ImageOptions& o) {
    ImagePreprocessing p;
    p.scale = o.scale;
    if (!o.mean.empty()) {
        NNPORT_ASSIGN_OR_RETURN(p.mean, io::parse_floats(o.mean, "--image-mean"));
    }
    if (!o.stddev.empty()) {
        NNPORT_ASSIGN_OR_RETURN(p.stddev, io::parse_floats(o.stddev, "--image-std"));
    }
    p.bgr = o.bgr;
    p.resize_short = o.resize_short;
    p.layout = o.layout;
    return p;
}

}  // namespace nnport::cli

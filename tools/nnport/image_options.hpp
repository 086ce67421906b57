// The image preprocessing options of the subcommands that read calibration folders (quantize, prune): how images in
// --data become model inputs (nnport::ImagePreprocessing).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "nnport/compress.hpp"
#include "nnport/status.hpp"

namespace nnport::cli {

/// The options as given on the command line.
struct ImageOptions {
    float scale = 1.0f / 255.0f;
    std::string mean, stddev;
    bool bgr = false;
    int64_t resize_short = 0;
    std::string layout = "auto";
};

/// Adds --image-scale, --image-mean, --image-std, --image-bgr, --image-resize-short and --image-layout to `sub`.
void add_image_options(CLI::App* sub, ImageOptions* o);

/// The preprocessing the options describe; a bad list of numbers is an error naming the option (the values are
/// checked by quantize_model_file / prune_model_file).
Result<ImagePreprocessing> image_preprocessing(const ImageOptions& o);

}  // namespace nnport::cli

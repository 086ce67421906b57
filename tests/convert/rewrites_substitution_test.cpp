// Exact substitutions of `nnport convert` (src/convert/rewrites/substitution.cpp): nearest upsampling as
// Concat + DepthToSpace or a ones-kernel depthwise ConvTranspose, and a strided ConvTranspose as a sub-pixel Conv +
// DepthToSpace (or + Reshape/Transpose/Reshape) with rearranged weights; swept over kernel, stride, pads,
// output_padding, output_shape and auto_pad, with the cases that have no exact form declined.
#include "convert/rewrites_structural_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace rw;

constexpr double kRtol = 1e-5, kAtol = 1e-5;

struct ResizeCase {
    int opset = 13;
    std::vector<float> scales = {1, 1, 2, 2};  ///< empty: sizes
    std::vector<int64_t> sizes;
    std::string mode = "nearest", coord, nearest;
};

/// x [2, 3, 4, 5] -> Resize -> y, in the input layout of the case's opset (10: x, scales; 11+: x, roi, scales, sizes).
ResizeCase rc(int opset, std::vector<float> scales, std::vector<int64_t> sizes = {}, std::string mode = "nearest",
              std::string coord = "", std::string nearest = "") {
    ResizeCase c;
    c.opset = opset;
    c.scales = std::move(scales);
    c.sizes = std::move(sizes);
    c.mode = std::move(mode);
    c.coord = std::move(coord);
    c.nearest = std::move(nearest);
    return c;
}

onnx::ModelProto resize_model(const ResizeCase& c) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 3, 4, 5});
    std::vector<std::string> ins = {"x"};
    if (c.opset >= 11) {
        add_init_f32(&g, "roi", {0}, {});
        ins.push_back(c.opset >= 13 ? "" : "roi");
    }
    if (!c.scales.empty()) {
        add_init_f32(&g, "scales", {4}, c.scales);
        ins.push_back("scales");
    } else {
        add_init_f32(&g, "no_scales", {0}, {});
        add_init_i64(&g, "sizes", {4}, c.sizes);
        ins.push_back(c.opset >= 13 ? "" : "no_scales");
        ins.push_back("sizes");
    }
    auto* n = add_node(&g, "Resize", ins, {"y"});
    attr_string(n, "mode", c.mode);
    if (!c.coord.empty()) attr_string(n, "coordinate_transformation_mode", c.coord);
    if (!c.nearest.empty()) attr_string(n, "nearest_mode", c.nearest);
    target(&g);
    add_output(&g, "y");
    return make_model(g, c.opset);
}

std::vector<ResizeCase> exact_nearest_cases() {
    std::vector<ResizeCase> out;
    out.push_back(rc(13, {1, 1, 2, 2}));                                          // half_pixel, round_prefer_floor
    out.push_back(rc(13, {1, 1, 3, 3}, {}, "nearest", "", "round_prefer_ceil"));  // odd factor
    out.push_back(rc(13, {1, 1, 2, 2}, {}, "nearest", "asymmetric", "floor"));    // PyTorch's export
    out.push_back(rc(13, {1, 1, 4, 4}, {}, "nearest", "pytorch_half_pixel", ""));
    out.push_back(rc(13, {1, 1, 2, 2}, {}, "nearest", "align_corners", ""));  // rounds to repetition at 2x
    out.push_back(rc(13, {}, {2, 3, 8, 10}, "nearest", "", ""));              // sizes
    out.push_back(rc(11, {1, 1, 2, 2}, {}, "nearest", "asymmetric", "floor"));
    out.push_back(rc(10, {1, 1, 2, 2}, {}, "nearest", "", ""));  // Resize-10: asymmetric + floor
    return out;
}

TEST(ConvertRewriteSubstitution, ResizeNearestToDepthToSpace) {
    for (const ResizeCase& c : exact_nearest_cases()) {
        auto m = check_typed(resize_model(c), "resize_nearest_to_depthtospace", {"Resize"});
        ASSERT_NE(m, nullptr) << c.opset;
        EXPECT_EQ(count_op(*m, "DepthToSpace"), 1);
        expect_needs_only(*m, "resize_nearest_to_depthtospace");
    }
    // half_pixel + floor picks the previous element half the time; 1.5x is not an integer factor; linear interpolates;
    // DepthToSpace has one block size for both axes.
    check_declines(resize_model(rc(13, {1, 1, 2, 2}, {}, "nearest", "half_pixel", "floor")),
                   "resize_nearest_to_depthtospace");
    check_declines(resize_model(rc(13, {1, 1, 1.5f, 1.5f})), "resize_nearest_to_depthtospace");
    check_declines(resize_model(rc(13, {1, 1, 2, 2}, {}, "linear")), "resize_nearest_to_depthtospace");
    check_declines(resize_model(rc(13, {1, 1, 2, 3})), "resize_nearest_to_depthtospace");
    check_declines(resize_model(rc(13, {1, 1, 3, 3}, {}, "nearest", "align_corners", "")),
                   "resize_nearest_to_depthtospace");
}

TEST(ConvertRewriteSubstitution, ResizeNearestToConvTranspose) {
    std::vector<ResizeCase> cases = exact_nearest_cases();
    cases.push_back(rc(13, {1, 1, 2, 3}));  // different factors per axis
    for (const ResizeCase& c : cases) {
        auto m = check_typed(resize_model(c), "resize_nearest_to_convtranspose", {"Resize"});
        ASSERT_NE(m, nullptr) << c.opset;
        expect_needs_only(*m, "resize_nearest_to_convtranspose");
        const ir::Node* ct = find_node(*m, "ConvTranspose");
        ASSERT_NE(ct, nullptr);
        EXPECT_EQ(ct->attr("group")->i, 3);
    }
    check_declines(resize_model(rc(13, {1, 1, 2, 2}, {}, "nearest", "half_pixel", "ceil")),
                   "resize_nearest_to_convtranspose");
    check_declines(resize_model(rc(13, {1, 2, 2, 2})), "resize_nearest_to_convtranspose");
}

struct CtCase {
    std::vector<int64_t> kernel, strides, pads, output_padding, output_shape;
    std::string auto_pad = "";
    bool bias = true;
};

/// x [2, 3, 5, 6] -> ConvTranspose(W [3, 4, kh, kw], b [4]) -> y.
onnx::ModelProto convtranspose_model(const CtCase& c, int64_t group = 1, bool w_const = true,
                                     const std::vector<int64_t>& dilations = {}) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 6, 5, 6});
    const std::vector<int64_t> ws = {6, 4 / group, c.kernel[0], c.kernel[1]};
    if (w_const)
        add_init_f32(&g, "w", ws);
    else
        add_input(&g, "w", F, ws);
    add_init_f32(&g, "b", {4});
    auto* n = add_node(&g, "ConvTranspose",
                       c.bias ? std::vector<std::string>{"x", "w", "b"} : std::vector<std::string>{"x", "w"}, {"y"});
    attr_ints(n, "strides", c.strides);
    if (!c.pads.empty()) attr_ints(n, "pads", c.pads);
    if (!c.output_padding.empty()) attr_ints(n, "output_padding", c.output_padding);
    if (!c.output_shape.empty()) attr_ints(n, "output_shape", c.output_shape);
    if (!c.auto_pad.empty()) attr_string(n, "auto_pad", c.auto_pad);
    if (group != 1) attr_int(n, "group", group);
    if (!dilations.empty()) attr_ints(n, "dilations", dilations);
    target(&g);
    add_output(&g, "y");
    return make_model(g);
}

/// Cases whose output splits evenly into stride x stride phases (both axes the same stride).
std::vector<CtCase> even_cases() {
    return {
        {{4, 4}, {2, 2}, {1, 1, 1, 1}, {}, {}, ""},      // DCGAN / U-Net upsampling
        {{3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, {}, ""},  // output_padding 1
        {{2, 2}, {2, 2}, {}, {}, {}, "", false},         // no overlap, no bias
        {{3, 3}, {1, 1}, {1, 1, 1, 1}, {}, {}, ""},      // stride 1: a plain Conv
        {{5, 5}, {3, 3}, {1, 1, 1, 1}, {}, {}, ""},      // stride 3
        {{4, 3}, {2, 2}, {2, 0, 0, 1}, {}, {}, ""},      // asymmetric pads, rectangular kernel
        {{1, 1}, {2, 2}, {}, {1, 1}, {}, ""},            // kernel smaller than the stride
        {{3, 3}, {2, 2}, {}, {}, {10, 12}, ""},          // output_shape
        {{3, 3}, {2, 2}, {}, {}, {}, "SAME_UPPER"},     {{4, 4}, {2, 2}, {}, {}, {}, "SAME_LOWER"},
        {{6, 6}, {2, 2}, {4, 4, 4, 4}, {}, {}, ""},  // pads wider than a phase
    };
}

TEST(ConvertRewriteSubstitution, ConvTransposeSubpixel) {
    for (const CtCase& c : even_cases()) {
        auto m = check_typed(convtranspose_model(c), "convtranspose_subpixel", {"ConvTranspose"}, kRtol, kAtol);
        ASSERT_NE(m, nullptr) << c.kernel[0] << "x" << c.kernel[1] << " s" << c.strides[0];
        expect_needs_only(*m, "convtranspose_subpixel");
        EXPECT_EQ(count_op(*m, "DepthToSpace"), c.strides[0] > 1 ? 1 : 0);
    }
}

TEST(ConvertRewriteSubstitution, ConvTransposeConvReshapeTranspose) {
    std::vector<CtCase> cases = even_cases();
    cases.push_back({{4, 3}, {2, 3}, {1, 0, 1, 0}, {}, {}, ""});  // a different stride per axis
    for (const CtCase& c : cases) {
        auto m = check_typed(convtranspose_model(c), "convtranspose_conv_reshape_transpose", {"ConvTranspose"}, kRtol,
                             kAtol);
        ASSERT_NE(m, nullptr) << c.kernel[0] << "x" << c.kernel[1] << " s" << c.strides[0];
        expect_needs_only(*m, "convtranspose_conv_reshape_transpose");
        EXPECT_EQ(count_op(*m, "Transpose"), c.strides[0] * c.strides[1] > 1 ? 1 : 0);
    }
}

TEST(ConvertRewriteSubstitution, ConvTransposeDeclines) {
    for (const std::string rw : {"convtranspose_subpixel", "convtranspose_conv_reshape_transpose"}) {
        // An odd output length (3x3, stride 2, pads 1) does not split into phases; grouped, dilated and computed
        // weights are not handled.
        check_declines(convtranspose_model({{3, 3}, {2, 2}, {1, 1, 1, 1}, {}, {}, ""}), rw);
        check_declines(convtranspose_model({{4, 4}, {2, 2}, {1, 1, 1, 1}, {}, {}, ""}, 2), rw);
        check_declines(convtranspose_model({{4, 4}, {2, 2}, {1, 1, 1, 1}, {}, {}, ""}, 1, false), rw);
        check_declines(convtranspose_model({{3, 3}, {2, 2}, {2, 2, 2, 2}, {1, 1}, {}, ""}, 1, true, {2, 2}), rw);
    }
    check_declines(convtranspose_model({{4, 3}, {2, 3}, {1, 0, 1, 0}, {}, {}, ""}), "convtranspose_subpixel");
}

}  // namespace
}  // namespace nnport::testing

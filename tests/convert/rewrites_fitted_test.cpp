// Fitted substitutions of `nnport convert` (src/convert/rewrites/fitted.cpp): bilinear Resize as a fitted depthwise
// ConvTranspose and an over-large Conv kernel shrunk to the target's limit and refitted. Each reports its residual,
// the residual is small where the substitute can represent the original, the reported numbers are what the
// rewritten model actually does on the samples, and `nnport check` chooses them only where no exact form exists.
#include <cmath>
#include <random>

#include "convert/convert_test_util.hpp"
#include "convert/rewrites_structural_test_util.hpp"

namespace nnport::testing {
namespace {

using namespace rw;

/// Max |got - want| and ||got - want|| / ||want|| over several outputs.
std::pair<double, double> measured_error(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
    double max_abs = 0, se = 0, sr = 0;
    EXPECT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size() && k < want.size(); ++k) {
        EXPECT_EQ(got[k].shape(), want[k].shape());
        for (int64_t i = 0; i < got[k].numel() && i < want[k].numel(); ++i) {
            const double e = double(got[k].data<float>()[i]) - want[k].data<float>()[i];
            max_abs = std::max(max_abs, std::fabs(e));
            se += e * e;
            sr += double(want[k].data<float>()[i]) * want[k].data<float>()[i];
        }
    }
    return {max_abs, std::sqrt(se / sr)};
}

/// `count` random inputs of `shape`, box-blurred over the last two axes `blur` times (smooth images when > 0).
std::vector<Tensor> make_samples(const Shape& shape, int count, int blur, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<Tensor> out;
    const int64_t h = shape[2], w = shape[3];
    for (int s = 0; s < count; ++s) {
        Tensor t = std::move(Tensor::create(DType::kFloat32, shape)).value();
        for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
        for (int b = 0; b < blur; ++b) {
            Tensor c = t.clone();
            for (int64_t p = 0; p < t.numel() / (h * w); ++p) {
                for (int64_t y = 0; y < h; ++y) {
                    for (int64_t x = 0; x < w; ++x) {
                        double sum = 0;
                        int n = 0;
                        for (int64_t dy = -1; dy <= 1; ++dy) {
                            for (int64_t dx = -1; dx <= 1; ++dx) {
                                if (y + dy < 0 || y + dy >= h || x + dx < 0 || x + dx >= w) continue;
                                sum += c.data<float>()[(p * h + y + dy) * w + x + dx];
                                ++n;
                            }
                        }
                        t.data<float>()[(p * h + y) * w + x] = float(sum / n);
                    }
                }
            }
        }
        out.push_back(std::move(t));
    }
    return out;
}

/// Applies fitted rewrite `rewrite` to node "target" of `m` with `samples` as calibration data (none: synthetic),
/// checks the structure and the ApproxRecord, then runs original and rewritten models on the samples and expects
/// the measured error to equal the reported one. Returns the record.
convert::ApproxRecord check_fitted(const onnx::ModelProto& m, const std::string& rewrite,
                                   const std::vector<Tensor>& samples, const convert::TargetProfile* profile,
                                   const std::string& gone) {
    auto apply = [&](convert::RewriteContext& ctx) {
        ctx.profile = profile;
        if (!samples.empty()) {
            ctx.samples = [&](const ir::Value* v) -> Result<std::vector<Tensor>> {
                EXPECT_EQ(v->name(), "x");
                return samples;
            };
        }
        auto model = load_ir(m);
        infer_types(*model);
        EXPECT_TRUE(apply_named_rewrite(*model, rewrite, "target", &ctx)) << rewrite;
        return model;
    };
    convert::RewriteContext ctx;
    auto model = apply(ctx);
    EXPECT_EQ(count_op(*model, gone), 0);
    expect_needs_only(*model, rewrite);
    EXPECT_EQ(ctx.approx.size(), 1u);
    if (ctx.approx.empty()) return {};
    const convert::ApproxRecord rec = ctx.approx[0];
    EXPECT_EQ(rec.rewrite, rewrite);
    EXPECT_EQ(rec.node, "target");
    if (!samples.empty()) {
        std::vector<Tensor> got, want;
        for (const Tensor& s : samples) {
            convert::RewriteContext again;
            got.push_back(run_ir(apply(again), {{"x", s}}).at(0));
            want.push_back(run_ir(load_ir(m), {{"x", s}}).at(0));
        }
        const auto [max_abs, rel] = measured_error(got, want);
        EXPECT_NEAR(max_abs, rec.max_abs_error, 1e-5 + 1e-3 * rec.max_abs_error);
        EXPECT_NEAR(rel, rec.rel_rms_error, 1e-5 + 1e-3 * rec.rel_rms_error);
    }
    return rec;
}

onnx::ModelProto linear_resize_model(const std::string& coord, std::vector<float> scales = {1, 1, 2, 2},
                                     const std::string& mode = "linear", int64_t size = 8) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, size, size});
    add_init_f32(&g, "scales", {4}, scales);
    auto* n = add_node(&g, "Resize", {"x", "", "scales"}, {"y"});
    attr_string(n, "mode", mode);
    if (!coord.empty()) attr_string(n, "coordinate_transformation_mode", coord);
    target(&g);
    add_output(&g, "y");
    return make_model(g);
}

TEST(ConvertRewriteFitted, ResizeLinearToConvTranspose) {
    // A ConvTranspose is shift-invariant: it reproduces the interior of a bilinear upscale (half_pixel at 2x is the
    // kernel [1 3 3 1] / 4) but not the border rows and columns, where Resize clamps to the edge. The residual is
    // therefore a border effect and shrinks like 1/sqrt(size) (measured relative RMS on 8x8 inputs: 0.14 half_pixel
    // and pytorch_half_pixel, 0.18 asymmetric, 0.32 align_corners, whose taps also drift across the image;
    // half_pixel on 16x16: 0.11, on 32x32: 0.076).
    struct Case {
        std::string coord;
        int64_t size;
        double bound;
    };
    double small = 0, large = 0;
    for (const Case& c : {Case{"", 8, 0.17}, Case{"pytorch_half_pixel", 8, 0.17}, Case{"asymmetric", 8, 0.2},
                          Case{"align_corners", 8, 0.35}, Case{"", 32, 0.09}, Case{"", 16, 0.12}}) {
        const std::vector<Tensor> samples = make_samples({1, 3, c.size, c.size}, 3, 0, 11);
        const convert::ApproxRecord r =
            check_fitted(linear_resize_model(c.coord, {1, 1, 2, 2}, "linear", c.size),
                         "resize_linear_to_convtranspose_fitted", samples, nullptr, "Resize");
        EXPECT_GT(r.rel_rms_error, 0.0) << c.coord;  // not exact: the border is approximated
        EXPECT_LT(r.rel_rms_error, c.bound) << c.coord << " " << c.size;
        if (c.coord.empty() && c.size == 8) small = r.rel_rms_error;
        if (c.coord.empty() && c.size == 32) large = r.rel_rms_error;
        std::printf("resize linear %s %ldx%ld: max abs %.4f, rel rms %.4f\n",
                    c.coord.empty() ? "half_pixel" : c.coord.c_str(), long(c.size), long(c.size), r.max_abs_error,
                    r.rel_rms_error);
    }
    EXPECT_LT(large, small * 0.6);
    // 3x per axis, and no calibration data (fitted on synthetic inputs of the input's shape).
    const convert::ApproxRecord x3 = check_fitted(linear_resize_model("", {1, 1, 3, 3}),
                                                  "resize_linear_to_convtranspose_fitted", {}, nullptr, "Resize");
    EXPECT_LT(x3.rel_rms_error, 0.2);
    check_declines(linear_resize_model("", {1, 1, 2, 2}, "nearest"), "resize_linear_to_convtranspose_fitted");
    check_declines(linear_resize_model("", {1, 1, 1.5f, 1.5f}), "resize_linear_to_convtranspose_fitted");
    check_declines(linear_resize_model("", {1, 2, 2, 2}), "resize_linear_to_convtranspose_fitted");
}

/// x [2, 4, 10, 10] -> Conv(W [6, 4/group, k, k] with weights decaying away from the centre, bias) -> y.
onnx::ModelProto big_conv_model(int64_t k, const std::vector<int64_t>& pads, int64_t stride, int64_t group,
                                bool crop_only = false, int64_t keep = 3, const std::vector<int64_t>& dil = {}) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 4, 10, 10});
    std::mt19937 rng(21);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> w;
    const int64_t c = k / 2, lo = (k - keep) / 2;
    for (int64_t i = 0; i < 6 * (4 / group); ++i) {
        for (int64_t y = 0; y < k; ++y) {
            for (int64_t x = 0; x < k; ++x) {
                const double d2 = double((y - c) * (y - c) + (x - c) * (x - c));
                const bool kept = y >= lo && y < lo + keep && x >= lo && x < lo + keep;
                w.push_back(crop_only && !kept ? 0.0f : float(u(rng) * std::exp(-d2 / 2.0)));
            }
        }
    }
    add_init_f32(&g, "w", {6, 4 / group, k, k}, w);
    add_init_f32(&g, "b", {6});
    auto* n = add_node(&g, "Conv", {"x", "w", "b"}, {"y"});
    attr_ints(n, "pads", pads);
    attr_ints(n, "strides", {stride, stride});
    if (group != 1) attr_int(n, "group", group);
    if (!dil.empty()) attr_ints(n, "dilations", dil);
    target(&g);
    add_output(&g, "y");
    return make_model(g);
}

convert::TargetProfile kernel_limited(int64_t kmax) {
    convert::TargetProfile p = profile_with({"Conv"});
    p.ops["Conv"].attr_max["kernel_shape"] = kmax;
    return p;
}

TEST(ConvertRewriteFitted, ConvKernelShrink) {
    const std::vector<Tensor> samples = make_samples({2, 4, 10, 10}, 4, 2, 31);
    const convert::TargetProfile p3 = kernel_limited(3);
    struct Case {
        int64_t k;
        std::vector<int64_t> pads;
        int64_t stride, group;
    };
    for (const Case& c : {Case{5, {2, 2, 2, 2}, 1, 1}, Case{5, {2, 1, 2, 3}, 2, 2}, Case{7, {3, 3, 3, 3}, 1, 1}}) {
        const onnx::ModelProto m = big_conv_model(c.k, c.pads, c.stride, c.group);
        const convert::ApproxRecord r = check_fitted(m, "conv_kernel_shrink_fitted", samples, &p3, "");
        // The plain centre crop (the fit's starting point) is worse than the refitted kernel.
        std::vector<Tensor> crop, want;
        for (const Tensor& s : samples) {
            crop.push_back(run_ir(load_ir(big_conv_model(c.k, c.pads, c.stride, c.group, true)), {{"x", s}}).at(0));
            want.push_back(run_ir(load_ir(m), {{"x", s}}).at(0));
        }
        const double crop_rel = measured_error(crop, want).second;
        EXPECT_LT(r.rel_rms_error, crop_rel) << c.k;
        EXPECT_LT(r.rel_rms_error, 0.1) << c.k;
        std::printf("conv %ldx%ld -> 3x3 (stride %ld, group %ld): max abs %.4f, rel rms %.4f (centre crop %.4f)\n",
                    long(c.k), long(c.k), long(c.stride), long(c.group), r.max_abs_error, r.rel_rms_error, crop_rel);
        auto model = load_ir(m);
        infer_types(*model);
        convert::RewriteContext ctx;
        ctx.profile = &p3;
        ASSERT_TRUE(apply_named_rewrite(*model, "conv_kernel_shrink_fitted", "target", &ctx));
        const ir::Node* conv = find_node(*model, "Conv");
        ASSERT_NE(conv, nullptr);
        EXPECT_EQ(conv->attr("kernel_shape")->ints, (std::vector<int64_t>{3, 3}));
        EXPECT_EQ(conv->input(1)->type.dims[2].value, 3);
    }
    const onnx::ModelProto m = big_conv_model(5, {2, 2, 2, 2}, 1, 1);
    check_declines(m, "conv_kernel_shrink_fitted");  // no profile: no limit to meet
    const convert::TargetProfile p5 = kernel_limited(5);
    convert::RewriteContext ok5;
    ok5.profile = &p5;
    check_declines(m, "conv_kernel_shrink_fitted", &ok5);  // within the limit
    convert::RewriteContext lim3;
    lim3.profile = &p3;
    // Without padding to give back the output would grow; dilated kernels are not handled.
    check_declines(big_conv_model(5, {0, 0, 0, 0}, 1, 1), "conv_kernel_shrink_fitted", &lim3);
    check_declines(big_conv_model(5, {1, 1, 0, 1}, 1, 1), "conv_kernel_shrink_fitted", &lim3);
    check_declines(big_conv_model(5, {4, 4, 4, 4}, 1, 1, false, 3, {2, 2}), "conv_kernel_shrink_fitted", &lim3);
}

TEST(ConvertRewriteFitted, CheckerChoosesFittedOnlyWithoutExactForm) {
    GraphBuilder b;
    ir::Value* x = b.input("x", f32({1, 3, 8, 8}));
    ir::Value* sc = b.constant("scales", Tensor::from_vector<float>({4}, {1, 1, 2, 2}));
    ir::Attributes lin;
    lin["mode"] = ir::Attribute::make_string("linear");
    ir::Value* up = b.node("Resize", "linear_up", {x, nullptr, sc}, lin);
    ir::Attributes near;
    near["mode"] = ir::Attribute::make_string("nearest");
    ir::Value* up2 = b.node("Resize", "nearest_up", {x, nullptr, sc}, near);
    ir::Value* w5 = b.constant("w5", std::move(Tensor::create(DType::kFloat32, {3, 3, 5, 5}, true)).value());
    ir::Attributes same;
    same["pads"] = ir::Attribute::make_ints({2, 2, 2, 2});
    ir::Value* c1 = b.node("Conv", "wide", {up, w5}, same);
    ir::Attributes valid;
    valid["pads"] = ir::Attribute::make_ints({0, 0, 0, 0});
    ir::Value* c2 = b.node("Conv", "wide_valid", {up2, w5}, valid);
    b.output(c1);
    b.output(c2);
    convert::TargetProfile p = profile_with({"Conv", "ConvTranspose", "Concat", "DepthToSpace"});
    p.ops["Conv"].attr_max["kernel_shape"] = 3;
    const convert::CheckReport rep = b.check(p, catalogue());
    const convert::NodeIssue* lin_issue = issue_for(rep, "linear_up");
    const convert::NodeIssue* near_issue = issue_for(rep, "nearest_up");
    const convert::NodeIssue* wide = issue_for(rep, "wide");
    const convert::NodeIssue* wide_valid = issue_for(rep, "wide_valid");
    ASSERT_TRUE(lin_issue && near_issue && wide && wide_valid);
    EXPECT_EQ(lin_issue->rewrite, "resize_linear_to_convtranspose_fitted");
    EXPECT_EQ(lin_issue->rewrite_kind, "approximate");
    EXPECT_EQ(near_issue->rewrite_kind, "substitution");  // an exact substitution wins over fitting
    EXPECT_NE(near_issue->rewrite, "resize_linear_to_convtranspose_fitted");
    EXPECT_EQ(wide->rewrite, "conv_kernel_shrink_fitted");
    EXPECT_EQ(wide->rewrite_kind, "approximate");
    EXPECT_NE(wide_valid->rewrite, "conv_kernel_shrink_fitted");  // its output shape cannot be kept
}

}  // namespace
}  // namespace nnport::testing

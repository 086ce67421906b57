// nnport convert end to end on small models: each of the paper's scenarios (a Subtract layer, a ConvTranspose
// decoder, the Figure 3 Softmax+Sub+Mul tail with a skip connection, a custom layer), output packing for
// single-output targets, approximations and --allow-approx, verification and the first-divergence search, bad input.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "convert/convert.hpp"
#include "convert/convert_test_util.hpp"
#include "io/npy.hpp"
#include "nnport/convert.hpp"
#include "onnx/exporter.hpp"
#include "passes/basic_pass_test_util.hpp"

namespace nnport::testing {
namespace {

namespace fs = std::filesystem;
constexpr int F = onnx::TensorProto::FLOAT;

/// A fresh folder for one test's files.
fs::path test_dir(const std::string& name) {
    fs::path d = fs::temp_directory_path() / ("nnport_convert_test_" + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

std::string write_model(const onnx::GraphProto& g, const fs::path& dir, int opset = 17) {
    const std::string path = (dir / "model.onnx").string();
    std::ofstream f(path, std::ios::binary);
    make_model(g, opset).SerializeToOstream(&f);
    return path;
}

const convert::RewriteCatalogue& catalogue() {
    static convert::RewriteCatalogue cat = [] {
        auto r = convert::load_rewrites(std::string(NNPORT_SOURCE_DIR) + "/targets");
        EXPECT_TRUE(r.is_ok()) << r.status().message();
        return r.is_ok() ? std::move(r).value() : convert::RewriteCatalogue{};
    }();
    return cat;
}

convert::ConvertResult convert_ok(const std::string& path, const convert::TargetProfile& p,
                                  const convert::ConvertOptions& o = {}) {
    auto r = convert::convert_model(path, p, catalogue(), o);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? std::move(r).value() : convert::ConvertResult{};
}

int count_in(const ir::Model* m, const std::string& op) { return m ? count_op(*m, op) : -1; }

double worst_rel(const convert::ConvertResult& r) {
    double w = 0;
    for (const auto& a : r.agreement) w = std::max(w, a.max_rel);
    return w;
}

/// x -> Conv -> Sub(mean constant) -> y: the paper's Figure 1 (a target without Subtract).
onnx::GraphProto subtract_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 8, 8});
    add_init_f32(&g, "w", {4, 3, 3, 3});
    add_init_f32(&g, "mean", {1, 4, 1, 1});
    auto* c = add_node(&g, "Conv", {"x", "w"}, {"c"});
    attr_ints(c, "pads", {1, 1, 1, 1});
    add_node(&g, "Sub", {"c", "mean"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(Convert, SubtractLayerBecomesAddOfNegatedConstant) {
    const fs::path d = test_dir("sub");
    const std::string path = write_model(subtract_model(), d);
    auto r = convert_ok(path, profile_with({"Conv", "Add"}));
    EXPECT_EQ(r.status(), "converted exactly") << convert::convert_report_text(r);
    EXPECT_EQ(count_in(r.model.get(), "Sub"), 0);
    EXPECT_EQ(count_in(r.model.get(), "Add"), 1);
    ASSERT_EQ(r.applied.size(), 1u);
    EXPECT_EQ(r.applied[0].rewrite, "sub_const_to_add");
    EXPECT_TRUE(r.verified);
    EXPECT_LE(worst_rel(r), 1e-6);
    EXPECT_EQ(r.after.verdict, convert::Verdict::kRunsAsIs);
    EXPECT_EQ(r.model->graph->outputs().at(0)->name(), "y");
    EXPECT_EQ(r.exit_code(), 0);
}

TEST(Convert, RunsAsIsChangesNothing) {
    const fs::path d = test_dir("asis");
    auto r = convert_ok(write_model(subtract_model(), d), profile_with({"Conv", "Sub"}));
    EXPECT_EQ(r.status(), "runs as is");
    EXPECT_TRUE(r.applied.empty());
    EXPECT_FALSE(r.post);
}

/// A decoder: Conv -> Relu -> ConvTranspose(stride 2) -> y.
onnx::GraphProto decoder_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 4, 6, 6});
    add_init_f32(&g, "w1", {8, 4, 3, 3});
    add_init_f32(&g, "wt", {8, 3, 4, 4});
    add_init_f32(&g, "bt", {3});
    auto* c = add_node(&g, "Conv", {"x", "w1"}, {"c"});
    attr_ints(c, "pads", {1, 1, 1, 1});
    add_node(&g, "Relu", {"c"}, {"r"});
    auto* t = add_node(&g, "ConvTranspose", {"r", "wt", "bt"}, {"y"});
    attr_ints(t, "strides", {2, 2});
    attr_ints(t, "pads", {1, 1, 1, 1});
    add_output(&g, "y");
    return g;
}

TEST(Convert, ConvTransposeDecoderBySubPixelSubstitution) {
    const fs::path d = test_dir("deconv");
    auto r = convert_ok(write_model(decoder_model(), d),
                        profile_with({"Conv", "Relu", "DepthToSpace", "Reshape", "Transpose", "Slice", "Pad"}));
    EXPECT_NE(r.status(), "failed") << convert::convert_report_text(r);
    EXPECT_EQ(count_in(r.model.get(), "ConvTranspose"), 0) << convert::convert_report_text(r);
    EXPECT_TRUE(r.exact());
    EXPECT_TRUE(r.verified) << convert::convert_report_text(r);
    EXPECT_LE(worst_rel(r), 1e-5);
    EXPECT_EQ(r.after.verdict, convert::Verdict::kRunsAsIs) << convert::convert_report_text(r);
}

/// The paper's Figure 3: Conv -> Softmax -> Sub(1 - p) -> Mul with the conv output (a skip connection) -> y.
onnx::GraphProto figure3_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 5, 5});
    add_init_f32(&g, "w", {4, 3, 1, 1});
    add_init_f32(&g, "one", {1}, {1.0f});
    add_node(&g, "Conv", {"x", "w"}, {"c"});
    auto* s = add_node(&g, "Softmax", {"c"}, {"p"});
    attr_int(s, "axis", 1);
    add_node(&g, "Sub", {"one", "p"}, {"q"});
    add_node(&g, "Mul", {"q", "c"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(Convert, TrailingSoftmaxSubMulMovesToPostProcessing) {
    const fs::path d = test_dir("fig3");
    auto r = convert_ok(write_model(figure3_model(), d), profile_with({"Conv"}));
    ASSERT_EQ(r.status(), "converted exactly") << convert::convert_report_text(r);
    ASSERT_TRUE(r.post);
    EXPECT_EQ(r.moved.size(), 3u);
    EXPECT_EQ(r.cut, std::vector<std::string>{"c"});
    EXPECT_EQ(count_in(r.model.get(), "Softmax"), 0);
    EXPECT_EQ(count_in(r.post.get(), "Softmax"), 1);
    EXPECT_EQ(count_in(r.post.get(), "Conv"), 0);
    EXPECT_EQ(r.model->graph->outputs().at(0)->name(), "c");
    EXPECT_EQ(r.post->graph->outputs().at(0)->name(), "y");
    // The post model's inputs carry their types (other runtimes refuse untyped graph inputs).
    ASSERT_EQ(r.post->graph->inputs().size(), 1u);
    EXPECT_EQ(r.post->graph->inputs()[0]->type.to_string(), "float32[1,4,5,5]");
    EXPECT_TRUE(r.verified);
    EXPECT_LE(worst_rel(r), 1e-6);  // the same nodes, only split (a backend may pick another kernel)
    EXPECT_EQ(r.after.verdict, convert::Verdict::kRunsAsIs);
}

TEST(Convert, SingleOutputTargetGetsPackedOutputsAndManifest) {
    const fs::path d = test_dir("pack");
    auto p = profile_with({"Conv", "Reshape", "Concat"});
    p.single_output_only = true;
    auto r = convert_ok(write_model(figure3_model(), d), p);
    ASSERT_EQ(r.status(), "converted exactly") << convert::convert_report_text(r);
    // One tensor crosses the cut: nothing to pack.
    EXPECT_EQ(r.model->graph->outputs().size(), 1u);
    EXPECT_TRUE(r.manifest_json.empty());

    // Two outputs computed on the target: packed into one, unpacked exactly by the post model.
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 4, 4});
    add_init_f32(&g, "w", {2, 3, 1, 1});
    add_node(&g, "Conv", {"x", "w"}, {"a"});
    add_node(&g, "Conv", {"a", "w2"}, {"b"});
    add_init_f32(&g, "w2", {5, 2, 1, 1});
    add_output(&g, "b");
    add_output(&g, "a");
    auto r2 = convert_ok(write_model(g, test_dir("pack2")), p);
    ASSERT_EQ(r2.status(), "converted exactly") << convert::convert_report_text(r2);
    ASSERT_TRUE(r2.post);
    ASSERT_EQ(r2.model->graph->outputs().size(), 1u);
    EXPECT_EQ(r2.model->graph->outputs()[0]->type.to_string(), "float32[112]");  // 5*16 + 2*16
    EXPECT_NE(r2.manifest_json.find("\"offset\": 80"), std::string::npos) << r2.manifest_json;
    ASSERT_EQ(r2.post->graph->outputs().size(), 2u);
    EXPECT_EQ(r2.post->graph->outputs()[0]->name(), "b");
    EXPECT_EQ(r2.post->graph->outputs()[1]->name(), "a");
    EXPECT_EQ(worst_rel(r2), 0.0);
}

/// A node the target lacks with no rewrite in the catalogue: Einsum between two convolutions.
onnx::GraphProto custom_layer_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 2, 3, 3});
    add_init_f32(&g, "w", {2, 2, 1, 1});
    add_node(&g, "Conv", {"x", "w"}, {"c"});
    auto* e = add_node(&g, "Einsum", {"c", "x"}, {"e"});
    basic::set_string(e, "equation", "nchw,nchw->nchw");
    add_node(&g, "Conv", {"e", "w"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(Convert, CustomLayerIsListedWithTestVectorsFromTheOriginal) {
    const fs::path d = test_dir("custom");
    const std::string path = write_model(custom_layer_model(), d);
    convert::ConvertOptions o;
    auto r = convert_ok(path, profile_with({"Conv"}), o);
    EXPECT_EQ(r.status(), "needs custom layers") << convert::convert_report_text(r);
    EXPECT_EQ(r.exit_code(), 3);
    ASSERT_EQ(r.custom_layers.size(), 1u);
    EXPECT_EQ(r.custom_layers[0].op, "Einsum");
    ASSERT_TRUE(convert::write_custom_layer_vectors(path, r, o, (d / "vectors").string()).is_ok());
    auto in0 = io::read_npy((d / "vectors" / r.custom_layers[0].name / "input_0.npy").string());
    auto in1 = io::read_npy((d / "vectors" / r.custom_layers[0].name / "input_1.npy").string());
    auto out = io::read_npy((d / "vectors" / r.custom_layers[0].name / "output_0.npy").string());
    ASSERT_TRUE(in0.is_ok() && in1.is_ok() && out.is_ok());
    ASSERT_EQ(out->numel(), 18);
    for (int64_t i = 0; i < 18; ++i) {
        EXPECT_FLOAT_EQ(out->data<float>()[i], in0->data<float>()[i] * in1->data<float>()[i]);
    }
    EXPECT_TRUE(fs::exists(d / "vectors" / "test_vectors.json"));
}

TEST(Convert, ApproximateRewriteNeedsAllowApprox) {
    // Gelu between two convolutions (not a trailing node) on a target with Tanh but no Erf.
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 4, 3, 3});
    add_init_f32(&g, "w", {4, 4, 1, 1}, {}, -2.0f, 2.0f);
    add_node(&g, "Conv", {"x", "w"}, {"c"});
    add_node(&g, "Gelu", {"c"}, {"h"});
    add_node(&g, "Conv", {"h", "w"}, {"y"});
    add_output(&g, "y");
    const fs::path d = test_dir("approx");
    const std::string path = write_model(g, d, 20);
    auto p = profile_with({"Conv", "Mul", "Add", "Tanh", "Pow"});
    auto r = convert_ok(path, p);
    EXPECT_EQ(r.status(), "failed") << convert::convert_report_text(r);
    ASSERT_FALSE(r.approx.empty());
    EXPECT_EQ(r.approx[0].rewrite, "gelu_erf_to_tanh");
    EXPECT_GT(r.approx[0].max_abs_error, 0.0);
    EXPECT_LT(r.approx[0].max_abs_error, 1e-3);
    convert::ConvertOptions o;
    o.allow_approx = true;
    auto r2 = convert_ok(path, p, o);
    EXPECT_EQ(r2.status(), "converted approximately") << convert::convert_report_text(r2);
    EXPECT_EQ(r2.exit_code(), 0);
    EXPECT_TRUE(r2.verified);
    EXPECT_GT(worst_rel(r2), 0.0);
    EXPECT_LT(worst_rel(r2), 1e-3);
}

TEST(Convert, LargeKernelIsRefittedByLeastSquaresOnTheSamples) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 12, 12});
    add_init_f32(&g, "w", {4, 3, 5, 5});
    auto* c = add_node(&g, "Conv", {"x", "w"}, {"c"});
    attr_ints(c, "pads", {2, 2, 2, 2});
    add_node(&g, "Relu", {"c"}, {"y"});
    add_output(&g, "y");
    const fs::path d = test_dir("shrink");
    const std::string path = write_model(g, d);
    auto p = profile_with({"Conv", "Relu"});
    p.ops["Conv"].attr_max["kernel_shape"] = 3;
    convert::ConvertOptions o;
    o.allow_approx = true;
    // White-noise samples: the outer ring of a 5x5 kernel sees pixels no 3x3 kernel sees, so about
    // sqrt(16/25) of the output energy cannot be fitted.
    o.random_samples = 4;
    auto noise = convert_ok(path, p, o);
    ASSERT_EQ(noise.status(), "converted approximately") << convert::convert_report_text(noise);
    ASSERT_EQ(noise.approx.size(), 1u);
    EXPECT_GT(noise.approx[0].rel_rms_error, 0.5);
    EXPECT_LT(noise.approx[0].rel_rms_error, 0.85);
    // Smooth, image-like samples from --data: the refit has something to learn.
    for (int k = 0; k < 6; ++k) {
        Tensor t = Tensor::create(DType::kFloat32, {1, 3, 12, 12}).value();
        for (int64_t i = 0; i < t.numel(); ++i) {
            const int64_t y = (i / 12) % 12, x = i % 12, ch = i / 144;
            t.data<float>()[i] = static_cast<float>(std::sin(0.3 * (k + 1) * x + 0.2 * y + ch) + 0.1 * k);
        }
        fs::create_directories(d / "data" / std::to_string(k));
        ASSERT_TRUE(io::write_npy((d / "data" / std::to_string(k) / "x.npy").string(), t).is_ok());
    }
    o.data_dir = (d / "data").string();
    o.random_samples = 0;
    auto r = convert_ok(path, p, o);
    ASSERT_EQ(r.status(), "converted approximately") << convert::convert_report_text(r);
    ASSERT_EQ(r.approx.size(), 1u);
    EXPECT_EQ(r.approx[0].rewrite, "conv_kernel_shrink_fitted");
    EXPECT_GT(r.approx[0].rel_rms_error, 0.0);
    EXPECT_LT(r.approx[0].rel_rms_error, 0.4) << convert::convert_report_text(r);
    EXPECT_LT(r.approx[0].rel_rms_error, noise.approx[0].rel_rms_error / 2);
    EXPECT_EQ(r.after.verdict, convert::Verdict::kRunsAsIs);
    const ir::Node* conv = basic::first_node(*r.model, "Conv");
    ASSERT_NE(conv, nullptr);
    EXPECT_EQ(conv->input(1)->type.to_string(), "float32[4,3,3,3]");
}

TEST(Convert, WholeModelIsNotMovedToTheHost) {
    onnx::GraphProto g;
    add_input(&g, "x", F, {2, 8});
    add_node(&g, "Softmax", {"x"}, {"y"});
    add_output(&g, "y");
    auto r = convert_ok(write_model(g, test_dir("whole")), profile_with({"Relu"}));
    EXPECT_TRUE(r.moved.empty());
    EXPECT_EQ(r.status(), "needs custom layers") << convert::convert_report_text(r);
}

TEST(Convert, FirstDivergenceNamesTheNodeThatDiffers) {
    onnx::GraphProto g = subtract_model();
    add_node(&g, "Relu", {"y"}, {"z"});
    g.clear_output();
    add_output(&g, "z");
    auto a = load_ir(make_model(g));
    // The same graph with the constant changed: Sub's output is the first tensor to differ.
    for (auto& init : *g.mutable_initializer()) {
        if (init.name() == "mean") init.set_float_data(0, init.float_data(0) + 0.5f);
    }
    auto b = load_ir(make_model(g));
    ASSERT_TRUE(a && b);
    ConstantMap consts;
    ASSERT_TRUE(convert::prepare_model_for_check(*a, consts).is_ok());
    ASSERT_TRUE(convert::prepare_model_for_check(*b, consts).is_ok());
    convert::Feeds f = {{"x", random_feeds(make_model(g), 3)[0].second}};
    auto dv = convert::first_divergence(*a, *b, f, 1e-5);
    ASSERT_TRUE(dv.is_ok()) << dv.status().message();
    EXPECT_TRUE(dv->found);
    EXPECT_EQ(dv->value, "y");
    EXPECT_NE(dv->node.find("Sub"), std::string::npos);
    EXPECT_GE(dv->compared, 2);
    auto same = convert::first_divergence(*a, *a, f, 1e-5);
    ASSERT_TRUE(same.is_ok());
    EXPECT_FALSE(same->found);
}

TEST(Convert, DataFolderSamplesAndErrors) {
    const fs::path d = test_dir("data");
    const std::string path = write_model(subtract_model(), d);
    fs::create_directories(d / "data");
    convert::ConvertOptions o;
    o.data_dir = (d / "data").string();
    auto empty = convert::convert_model(path, profile_with({"Conv", "Add"}), catalogue(), o);
    ASSERT_FALSE(empty.is_ok());
    EXPECT_NE(empty.status().message().find("no samples"), std::string::npos) << empty.status().message();
    Tensor bad = Tensor::create(DType::kFloat32, {1, 3, 4, 4}, true).value();
    ASSERT_TRUE(io::write_npy((d / "data" / "x.npy").string(), bad).is_ok());
    auto wrong = convert::convert_model(path, profile_with({"Conv", "Add"}), catalogue(), o);
    ASSERT_FALSE(wrong.is_ok());
    EXPECT_NE(wrong.status().message().find("x.npy"), std::string::npos) << wrong.status().message();
    Tensor good = Tensor::create(DType::kFloat32, {1, 3, 8, 8}, true).value();
    ASSERT_TRUE(io::write_npy((d / "data" / "x.npy").string(), good).is_ok());
    auto r = convert_ok(path, profile_with({"Conv", "Add"}), o);
    EXPECT_EQ(r.samples, 4);  // the file + 3 random
    EXPECT_TRUE(r.verified);
}

TEST(Convert, PublicApiWritesFilesAndRunsThePair) {
    const fs::path d = test_dir("api");
    ConvertRequest req;
    req.model = write_model(figure3_model(), d);
    req.target = "caffe";  // no Softmax: the tail moves to the host
    req.targets_dir = std::string(NNPORT_SOURCE_DIR) + "/targets";
    req.output = (d / "out.onnx").string();
    auto r = convert_model_file(req);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->exit_code, 0) << r->report_text;
    ASSERT_FALSE(r->post_output.empty()) << r->report_text;
    auto pair = PostProcessedSession::load(req.output, r->post_output);
    ASSERT_TRUE(pair.is_ok()) << pair.status().message();
    auto orig = Session::load(req.model);
    ASSERT_TRUE(orig.is_ok());
    auto feeds = random_feeds(make_model(figure3_model()), 5);
    auto want = (*orig)->run(feeds);
    auto got = (*pair)->run(feeds);
    ASSERT_TRUE(want.is_ok() && got.is_ok());
    expect_outputs_close(*got, *want, 1e-6, 1e-7);
    EXPECT_EQ((*pair)->outputs().at(0).name, "y");

    req.target = "no_such_target";
    auto bad = convert_model_file(req);
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("no_such_target"), std::string::npos);
    req.target = "caffe";
    req.output = req.model;
    EXPECT_FALSE(convert_model_file(req).is_ok());
}

}  // namespace
}  // namespace nnport::testing

// Tests of prune_model: exact unstructured sparsity (per layer and global), structured channel pruning of conv chains,
// depthwise chains and residual blocks (structure and numerics), the least-squares refit, and rejections.
#include "quant/prune.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/npy.hpp"
#include "quant/quant_test_util.hpp"

namespace nnport::testing {
namespace {

using quant_test::conv_model;
using quant_test::F;
using quant_test::node_named;

const Tensor& weight_of(const ir::Model& m, const std::string& node, size_t input = 1) {
    return *basic::const_input(node_named(m, node), input);
}

/// Weights [o, i, k, k] whose output channel c has L1 norm proportional to scales[c].
std::vector<float> scaled_weights(int64_t o, int64_t per, const std::vector<float>& scales, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.5f, 1.0f);
    std::vector<float> w(static_cast<size_t>(o * per));
    for (int64_t c = 0; c < o; ++c) {
        for (int64_t i = 0; i < per; ++i) w[c * per + i] = scales[c] * u(rng) * ((i % 3) == 0 ? -1.0f : 1.0f);
    }
    return w;
}

onnx::NodeProto* conv(onnx::GraphProto* g, const std::string& name, const std::vector<std::string>& ins,
                      const std::string& out, int64_t pad, int64_t group = 1) {
    auto* n = add_node(g, "Conv", ins, {out});
    n->set_name(name);
    if (pad > 0) attr_ints(n, "pads", {pad, pad, pad, pad});
    if (group > 1) attr_int(n, "group", group);
    return n;
}

/// x[1,3,8,8] -> Conv 'c1' (8 ch, channel c's L1 ~ scales) -> BatchNormalization 'bn' -> Relu -> Conv 'c2' (6 ch) -> y.
onnx::ModelProto chain_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 8, 8});
    add_init_f32(&g, "w1", {8, 3, 3, 3}, scaled_weights(8, 27, {0.9f, 0.1f, 0.8f, 0.2f, 0.7f, 0.3f, 0.6f, 0.4f}, 1));
    add_init_f32(&g, "b1", {8}, {}, -0.2f, 0.2f);
    for (const char* p : {"scale", "bias", "mean"}) add_init_f32(&g, p, {8}, {}, -0.5f, 0.5f);
    add_init_f32(&g, "var", {8}, {}, 0.5f, 1.5f);
    add_init_f32(&g, "w2", {6, 8, 3, 3}, {}, -0.3f, 0.3f);
    add_init_f32(&g, "b2", {6}, {}, -0.1f, 0.1f);
    conv(&g, "c1", {"x", "w1", "b1"}, "a", 1);
    add_node(&g, "BatchNormalization", {"a", "scale", "bias", "mean", "var"}, {"bn_out"})->set_name("bn");
    add_node(&g, "Relu", {"bn_out"}, {"r"})->set_name("relu");
    conv(&g, "c2", {"r", "w2", "b2"}, "y", 1);
    add_output(&g, "y");
    return make_model(g, 17);
}

/// x -> Conv 'c1' 1x1 (8) -> Clip -> depthwise Conv 'dw' 3x3 (group 8) -> Relu -> Conv 'c3' 1x1 (6)
/// -> GlobalAveragePool -> Flatten -> Gemm 'fc' (transB, 5 classes) -> y.
onnx::ModelProto depthwise_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 8, 8});
    add_init_f32(&g, "w1", {8, 3, 1, 1}, scaled_weights(8, 3, {0.2f, 0.9f, 0.3f, 0.8f, 0.1f, 0.7f, 0.4f, 0.6f}, 2));
    add_init_f32(&g, "wd", {8, 1, 3, 3}, {}, -0.6f, 0.6f);
    add_init_f32(&g, "bd", {8}, {}, -0.1f, 0.1f);
    add_init_f32(&g, "w3", {6, 8, 1, 1}, {}, -0.5f, 0.5f);
    add_init_f32(&g, "b3", {6}, {}, -0.1f, 0.1f);
    add_init_f32(&g, "fw", {5, 6}, {}, -0.5f, 0.5f);
    add_init_f32(&g, "fb", {5}, {}, -0.1f, 0.1f);
    add_init_f32(&g, "lo", {}, {0.0f});
    add_init_f32(&g, "hi", {}, {6.0f});
    conv(&g, "c1", {"x", "w1"}, "a", 0);
    add_node(&g, "Clip", {"a", "lo", "hi"}, {"a6"})->set_name("clip");
    conv(&g, "dw", {"a6", "wd", "bd"}, "d", 1, 8);
    add_node(&g, "Relu", {"d"}, {"dr"})->set_name("relu");
    conv(&g, "c3", {"dr", "w3", "b3"}, "e", 0);
    add_node(&g, "GlobalAveragePool", {"e"}, {"gp"})->set_name("gap");
    add_node(&g, "Flatten", {"gp"}, {"fl"})->set_name("flat");
    auto* fc = add_node(&g, "Gemm", {"fl", "fw", "fb"}, {"y"});
    fc->set_name("fc");
    attr_int(fc, "transB", 1);
    add_output(&g, "y");
    return make_model(g, 17);
}

/// x -> Conv 'a' -> Relu 'r' -> Conv 'b1' -> Relu -> Conv 'b2' -> Add(b2, r) -> Relu -> Conv 'c' (1x1) -> y.
onnx::ModelProto residual_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 8, 8});
    add_init_f32(&g, "wa", {4, 3, 3, 3}, {}, -0.4f, 0.4f);
    add_init_f32(&g, "wb1", {6, 4, 3, 3}, scaled_weights(6, 36, {0.5f, 0.1f, 0.6f, 0.2f, 0.7f, 0.3f}, 3));
    add_init_f32(&g, "wb2", {4, 6, 3, 3}, {}, -0.3f, 0.3f);
    add_init_f32(&g, "wc", {3, 4, 1, 1}, {}, -0.5f, 0.5f);
    conv(&g, "a", {"x", "wa"}, "av", 1);
    add_node(&g, "Relu", {"av"}, {"r"})->set_name("r");
    conv(&g, "b1", {"r", "wb1"}, "b1v", 1);
    add_node(&g, "Relu", {"b1v"}, {"b1r"})->set_name("b1r");
    conv(&g, "b2", {"b1r", "wb2"}, "b2v", 1);
    add_node(&g, "Add", {"b2v", "r"}, {"s"})->set_name("add");
    add_node(&g, "Relu", {"s"}, {"sr"})->set_name("sr");
    conv(&g, "c", {"sr", "wc"}, "y", 0);
    add_output(&g, "y");
    return make_model(g, 17);
}

/// The model `m` with the input channels `drop` of initializer `name` (axis `axis`) set to zero: what removing those
/// channels must compute.
onnx::ModelProto zero_channels(onnx::ModelProto m, const std::string& name, int axis,
                               const std::vector<int64_t>& keep) {
    for (auto& t : *m.mutable_graph()->mutable_initializer()) {
        if (t.name() != name) continue;
        int64_t outer = 1, inner = 1;
        for (int d = 0; d < axis; ++d) outer *= t.dims(d);
        for (int d = axis + 1; d < t.dims_size(); ++d) inner *= t.dims(d);
        const int64_t n = t.dims(axis);
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t c = 0; c < n; ++c) {
                if (std::find(keep.begin(), keep.end(), c) != keep.end()) continue;
                for (int64_t i = 0; i < inner; ++i) t.set_float_data(static_cast<int>((o * n + c) * inner + i), 0.0f);
            }
        }
    }
    return m;
}

quant::PruneOptions options(double sparsity, bool structured) {
    quant::PruneOptions o;
    o.sparsity = sparsity;
    o.structured = structured;
    o.backends = "ref";
    o.threads = 1;
    o.synthetic_samples = 4;
    return o;
}

std::unique_ptr<ir::Model> pruned(const onnx::ModelProto& m, const quant::PruneOptions& o, quant::PruneReport* r) {
    auto model = load_ir(m);
    if (!model) return nullptr;
    Status st = quant::prune_model(*model, o, r);
    EXPECT_TRUE(st.is_ok()) << st.message();
    if (st.is_ok()) {
        EXPECT_TRUE(ir::verify(*model->graph).is_ok());
    }
    return st.is_ok() ? std::move(model) : nullptr;
}

const quant::PrunedLayer* layer(const quant::PruneReport& r, const std::string& name) {
    for (const auto& l : r.layers) {
        if (l.name == name) return &l;
    }
    return nullptr;
}

TEST(PruneUnstructured, PerLayerSparsityIsExactAndDropsTheSmallest) {
    quant::PruneReport r;
    auto m = pruned(conv_model(), options(0.5, false), &r);
    ASSERT_TRUE(m);
    auto orig = load_ir(conv_model());
    for (const char* name : {"conv", "fc"}) {
        const Tensor& w0 = weight_of(*orig, name);
        const Tensor& w = weight_of(*m, name);
        const int64_t n = w.numel();
        int64_t zeros = 0;
        float max_dropped = 0.0f, min_kept = 1e30f;
        for (int64_t i = 0; i < n; ++i) {
            const float v = w.data<float>()[i], v0 = w0.data<float>()[i];
            if (v == 0.0f) {
                ++zeros;
                max_dropped = std::max(max_dropped, std::fabs(v0));
            } else {
                EXPECT_EQ(v, v0);
                min_kept = std::min(min_kept, std::fabs(v0));
            }
        }
        EXPECT_EQ(zeros, n / 2) << name;
        EXPECT_LE(max_dropped, min_kept) << name;
        ASSERT_TRUE(layer(r, name));
        EXPECT_EQ(layer(r, name)->zeros, n / 2);
    }
    EXPECT_EQ(r.weights_total, 108 + 640);
    EXPECT_EQ(r.weights_zero, 54 + 320);
    ASSERT_TRUE(r.evaluated);
    EXPECT_GT(r.relative_rms, 0.0);
    EXPECT_LT(r.cosine, 1.0);
    EXPECT_GT(r.cosine, 0.5);
    EXPECT_GE(r.top1_agreement, 0.0);
}

TEST(PruneUnstructured, GlobalThresholdIsSharedAcrossLayers) {
    quant::PruneOptions o = options(0.7, false);
    o.global = true;
    quant::PruneReport r;
    // The fc's weights are 100x smaller than the conv's: one threshold takes them first.
    onnx::ModelProto model = conv_model();
    for (auto& t : *model.mutable_graph()->mutable_initializer()) {
        if (t.name() != "fw") continue;
        for (int i = 0; i < t.float_data_size(); ++i) t.set_float_data(i, 0.01f * t.float_data(i));
    }
    auto m = pruned(model, o, &r);
    ASSERT_TRUE(m);
    auto orig = load_ir(model);
    float max_dropped = 0.0f, min_kept = 1e30f;
    int64_t zeros = 0;
    for (const char* name : {"conv", "fc"}) {
        const Tensor& w0 = weight_of(*orig, name);
        const Tensor& w = weight_of(*m, name);
        for (int64_t i = 0; i < w.numel(); ++i) {
            if (w.data<float>()[i] == 0.0f) {
                ++zeros;
                max_dropped = std::max(max_dropped, std::fabs(w0.data<float>()[i]));
            } else {
                min_kept = std::min(min_kept, std::fabs(w0.data<float>()[i]));
            }
        }
    }
    EXPECT_EQ(zeros, static_cast<int64_t>(std::floor(0.7 * 748)));
    EXPECT_LE(max_dropped, min_kept);
    EXPECT_EQ(layer(r, "fc")->zeros + layer(r, "conv")->zeros, zeros);
    // Per layer would zero 70% of each; the shared threshold takes nearly all of them from the small fc.
    EXPECT_GT(layer(r, "fc")->zeros, 500);
    EXPECT_LT(layer(r, "conv")->zeros, 10);
}

TEST(PruneUnstructured, ZeroSparsityChangesNothingAndExcludeIsKept) {
    quant::PruneReport r;
    auto m = pruned(conv_model(), options(0.0, false), &r);
    ASSERT_TRUE(m);
    EXPECT_EQ(r.relative_rms, 0.0);
    EXPECT_EQ(r.top1_agreement, 1.0);
    quant::PruneOptions o = options(0.5, false);
    o.exclude = {"conv"};
    auto m2 = pruned(conv_model(), o, &r);
    ASSERT_TRUE(m2);
    EXPECT_FALSE(layer(r, "conv"));
    ASSERT_EQ(r.skipped.size(), 1u);
    EXPECT_EQ(r.skipped[0].reason, "excluded");
    const Tensor& w = weight_of(*m2, "conv");
    auto orig = load_ir(conv_model());
    const Tensor& w0 = weight_of(*orig, "conv");
    for (int64_t i = 0; i < w.numel(); ++i) EXPECT_EQ(w.data<float>()[i], w0.data<float>()[i]);
    EXPECT_EQ(layer(r, "fc")->zeros, 320);
}

TEST(PruneStructured, ConvBnReluConvChainShrinksAndMatchesZeroedChannels) {
    quant::PruneReport r;
    auto m = pruned(chain_model(), options(0.5, true), &r);
    ASSERT_TRUE(m);
    ASSERT_EQ(r.layers.size(), 1u);
    EXPECT_EQ(r.layers[0].name, "c1");
    EXPECT_EQ(r.layers[0].kept, (std::vector<int64_t>{0, 2, 4, 6}));  // the largest L1 norms
    EXPECT_EQ(r.layers[0].consumers, (std::vector<std::string>{"c2"}));
    EXPECT_EQ(weight_of(*m, "c1").shape(), (Shape{4, 3, 3, 3}));
    EXPECT_EQ(weight_of(*m, "c1", 2).shape(), (Shape{4}));
    for (size_t i = 1; i <= 4; ++i) EXPECT_EQ(weight_of(*m, "bn", i).shape(), (Shape{4}));
    EXPECT_EQ(weight_of(*m, "c2").shape(), (Shape{6, 4, 3, 3}));
    EXPECT_LT(r.weight_bytes_after, r.weight_bytes_before);
    // c2 writes the graph output: it is not pruned.
    ASSERT_EQ(r.skipped.size(), 1u);
    EXPECT_EQ(r.skipped[0].name, "c2");
    EXPECT_NE(r.skipped[0].reason.find("graph output"), std::string::npos);
    // Removing channels computes what zeroing them in the consumer computes.
    const auto feeds = random_feeds(chain_model(), 5);
    const auto want = run_ir(load_ir(zero_channels(chain_model(), "w2", 1, r.layers[0].kept)), feeds);
    const auto got = run_ir(std::move(m), feeds);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].shape(), (Shape{1, 6, 8, 8}));
    expect_outputs_close(got, want, 1e-5, 1e-5);
}

TEST(PruneStructured, DepthwiseChainFollowsTheChannelsToTheGemm) {
    quant::PruneReport r;
    auto m = pruned(depthwise_model(), options(0.5, true), &r);
    ASSERT_TRUE(m);
    const quant::PrunedLayer* c1 = layer(r, "c1");
    const quant::PrunedLayer* c3 = layer(r, "c3");
    ASSERT_TRUE(c1 && c3);
    EXPECT_EQ(c1->kept, (std::vector<int64_t>{1, 3, 5, 7}));
    EXPECT_EQ(c1->consumers, (std::vector<std::string>{"c3"}));
    EXPECT_EQ(c3->consumers, (std::vector<std::string>{"fc"}));
    EXPECT_EQ(weight_of(*m, "dw").shape(), (Shape{4, 1, 3, 3}));
    EXPECT_EQ(weight_of(*m, "dw", 2).shape(), (Shape{4}));
    EXPECT_EQ(node_named(*m, "dw")->attr("group")->i, 4);
    EXPECT_EQ(weight_of(*m, "c3").shape(), (Shape{3, 4, 1, 1}));
    EXPECT_EQ(weight_of(*m, "fc").shape(), (Shape{5, 3}));
    const auto feeds = random_feeds(depthwise_model(), 6);
    const auto want =
        run_ir(load_ir(zero_channels(zero_channels(depthwise_model(), "w3", 1, c1->kept), "fw", 1, c3->kept)), feeds);
    const auto got = run_ir(std::move(m), feeds);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].shape(), (Shape{1, 5}));
    expect_outputs_close(got, want, 1e-5, 1e-5);
}

TEST(PruneStructured, ResidualBlockPrunesOnlyTheInnerConv) {
    quant::PruneReport r;
    auto m = pruned(residual_model(), options(0.5, true), &r);
    ASSERT_TRUE(m);
    ASSERT_EQ(r.layers.size(), 1u);
    EXPECT_EQ(r.layers[0].name, "b1");
    EXPECT_EQ(r.layers[0].kept, (std::vector<int64_t>{0, 2, 4}));
    EXPECT_EQ(weight_of(*m, "b2").shape(), (Shape{4, 3, 3, 3}));
    EXPECT_EQ(weight_of(*m, "a").shape(), (Shape{4, 3, 3, 3}));  // feeds the Add: left alone
    int add_skips = 0;
    for (const auto& s : r.skipped) add_skips += s.reason.find("Add node 'add'") != std::string::npos;
    EXPECT_EQ(add_skips, 2) << "a and b2 reach the residual Add";
    const auto feeds = random_feeds(residual_model(), 7);
    const auto want = run_ir(load_ir(zero_channels(residual_model(), "wb2", 1, r.layers[0].kept)), feeds);
    expect_outputs_close(run_ir(std::move(m), feeds), want, 1e-5, 1e-5);
}

/// Relative RMS error of `got` against `want` over all outputs.
double relative_rms(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
    double s = 0, e = 0;
    for (size_t k = 0; k < got.size() && k < want.size(); ++k) {
        for (int64_t i = 0; i < want[k].numel(); ++i) {
            const double f = want[k].data<float>()[i], q = got[k].data<float>()[i];
            s += f * f;
            e += (q - f) * (q - f);
        }
    }
    return std::sqrt(e / s);
}

TEST(PruneStructured, RefitReducesTheOutputError) {
    for (auto make : {chain_model, depthwise_model}) {
        quant::PruneOptions o = options(0.5, true);
        o.synthetic_samples = 8;
        quant::PruneReport plain, fitted;
        auto p = pruned(make(), o, &plain);
        ASSERT_TRUE(p);
        o.refit = true;
        auto m = pruned(make(), o, &fitted);
        ASSERT_TRUE(m);
        EXPECT_FALSE(fitted.refitted.empty());
        EXPECT_EQ(fitted.layers.size(), plain.layers.size());
        EXPECT_GT(plain.relative_rms, 0.05);
        EXPECT_LT(fitted.relative_rms, 0.5 * plain.relative_rms)
            << "plain " << plain.relative_rms << " refit " << fitted.relative_rms;
        EXPECT_GT(fitted.cosine, plain.cosine);
        EXPECT_EQ(weight_of(*m, "c1").dim(0), 4);
        // On inputs the refit never saw, too.
        double e_plain = 0, e_fit = 0;
        for (uint32_t seed = 11; seed < 15; ++seed) {
            const auto feeds = random_feeds(make(), seed);
            const auto want = run_ir(load_ir(make()), feeds);
            e_plain += relative_rms(run_ir(quant::clone_model(*p).value(), feeds), want);
            e_fit += relative_rms(run_ir(quant::clone_model(*m).value(), feeds), want);
        }
        EXPECT_LT(e_fit, 0.7 * e_plain) << "held out: plain " << e_plain / 4 << " refit " << e_fit / 4;
    }
}

/// x[1,3,8,8] -> Conv 'c1' (32, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm 'fc' (4 x 32) -> y: one row per
/// sample for the fc refit, so fewer rows than unknowns (the dual solve).
onnx::ModelProto wide_gemm_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 8, 8});
    std::vector<float> scales(32);
    for (int c = 0; c < 32; ++c) scales[c] = 0.2f + 0.025f * static_cast<float>((c * 7) % 32);
    add_init_f32(&g, "w1", {32, 3, 3, 3}, scaled_weights(32, 27, scales, 4));
    add_init_f32(&g, "b1", {32}, {}, -0.3f, 0.3f);
    add_init_f32(&g, "fw", {4, 32}, {}, -0.5f, 0.5f);
    add_init_f32(&g, "fb", {4}, {}, -0.1f, 0.1f);
    conv(&g, "c1", {"x", "w1", "b1"}, "a", 1);
    add_node(&g, "Relu", {"a"}, {"r"})->set_name("relu");
    add_node(&g, "GlobalAveragePool", {"r"}, {"gp"})->set_name("gap");
    add_node(&g, "Flatten", {"gp"}, {"fl"})->set_name("flat");
    auto* fc = add_node(&g, "Gemm", {"fl", "fw", "fb"}, {"y"});
    fc->set_name("fc");
    attr_int(fc, "transB", 1);
    add_output(&g, "y");
    return make_model(g, 17);
}

TEST(PruneStructured, RefitWithFewerSamplesThanUnknowns) {
    quant::PruneOptions o = options(0.5, true);
    o.synthetic_samples = 12;  // 9 training rows for 17 unknowns per output
    quant::PruneReport plain, fitted;
    ASSERT_TRUE(pruned(wide_gemm_model(), o, &plain));
    o.refit = true;
    auto m = pruned(wide_gemm_model(), o, &fitted);
    ASSERT_TRUE(m);
    EXPECT_EQ(fitted.refitted, (std::vector<std::string>{"fc"}));
    EXPECT_EQ(weight_of(*m, "fc").shape(), (Shape{4, 16}));
    EXPECT_LT(fitted.relative_rms, 0.7 * plain.relative_rms)
        << "plain " << plain.relative_rms << " refit " << fitted.relative_rms;
}

TEST(PruneErrors, RejectsBadOptionsAndModels) {
    for (double s : {1.0, -0.1, 2.0, std::nan("")}) {
        auto m = load_ir(conv_model());
        Status st = quant::prune_model(*m, options(s, false), nullptr);
        ASSERT_FALSE(st.is_ok()) << s;
        EXPECT_NE(st.message().find("sparsity must be in [0, 1)"), std::string::npos) << st.message();
    }
    {
        onnx::GraphProto g;
        add_input(&g, "x", F, {1, 4});
        add_node(&g, "Relu", {"x"}, {"y"});
        add_output(&g, "y");
        for (bool structured : {false, true}) {
            auto m = load_ir(make_model(g, 17));
            Status st = quant::prune_model(*m, options(0.5, structured), nullptr);
            ASSERT_FALSE(st.is_ok());
            EXPECT_NE(st.message().find("no prunable layer"), std::string::npos) << st.message();
        }
    }
    {
        auto m = load_ir(conv_model());
        quant::PruneOptions o = options(0.5, false);
        o.exclude = {"nope"};
        Status st = quant::prune_model(*m, o, nullptr);
        ASSERT_FALSE(st.is_ok());
        EXPECT_NE(st.message().find("'nope'"), std::string::npos);
    }
    {
        auto m = load_ir(conv_model());
        quant::PruneOptions o = options(0.5, true);
        o.refit = true;
        o.data_dir = "/nonexistent/nnport_prune_data";
        Status st = quant::prune_model(*m, o, nullptr);
        ASSERT_FALSE(st.is_ok());
        EXPECT_NE(st.message().find("not found"), std::string::npos) << st.message();
    }
    {
        auto m = load_ir(conv_model());
        quant::PruneOptions o = options(0.5, true);
        Tensor t = std::move(Tensor::create(DType::kFloat32, {1, 3, 4, 4}, true)).value();
        o.calibration_data = {{{"x", t}}};  // wrong shape
        Status st = quant::prune_model(*m, o, nullptr);
        ASSERT_FALSE(st.is_ok());
        EXPECT_NE(st.message().find("prune"), std::string::npos) << st.message();
    }
}

TEST(PruneErrors, DataFolderFeedsTheRefit) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("nnport_prune_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (int i = 0; i < 3; ++i) {
        Tensor t = std::move(Tensor::create(DType::kFloat32, {1, 3, 8, 8})).value();
        for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = std::sin(0.3f * static_cast<float>(k + 17 * i));
        ASSERT_TRUE(io::write_npy((dir / ("s" + std::to_string(i) + ".npy")).string(), t).is_ok());
    }
    quant::PruneOptions o = options(0.5, true);
    o.refit = true;
    o.data_dir = dir.string();
    quant::PruneReport r;
    auto m = pruned(chain_model(), o, &r);
    EXPECT_TRUE(m);
    EXPECT_EQ(r.calibration_samples, 3);
    EXPECT_FALSE(r.synthetic_data);
    std::ofstream(dir / "junk.npy") << "not numpy";
    auto m2 = load_ir(chain_model());
    Status st = quant::prune_model(*m2, o, nullptr);
    EXPECT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("junk.npy"), std::string::npos) << st.message();
    fs::remove_all(dir);
}

}  // namespace
}  // namespace nnport::testing

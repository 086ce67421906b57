// XNNPACK backend: every supported op against the reference kernels (one-node models through
// backend_test_util.hpp; small graphs for pooling behind a conv, dynamic shapes and threads), and the declines.
#include <algorithm>
#include <limits>
#include <random>
#include <thread>

#include "backends/backend.hpp"
#include "backends/backend_test_util.hpp"
#include "backends/xnnpack/xnn_common.hpp"
#include "ops/op_def.hpp"

namespace nnport {
namespace {

using testing::expect_backend_declines;
using testing::expect_backend_matches_ref;
using testing::make_session;
using testing::Net;
using testing::NetFn;
using testing::OpRun;
using testing::random_f32;

ir::Attribute ints(std::vector<int64_t> v) { return ir::Attribute::make_ints(std::move(v)); }
ir::Attribute int1(int64_t v) { return ir::Attribute::make_int(v); }
ir::Attribute flt(float v) { return ir::Attribute::make_float(v); }
ir::Attribute str(std::string s) { return ir::Attribute::make_string(std::move(s)); }
ir::Attribute flts(std::vector<float> v) { return ir::Attribute::make_floats(std::move(v)); }

// ---- one-node models ------------------------------------------------------------------------------------------------

OpRun conv_run(Shape x, Shape w, bool bias, ir::Attributes attrs, uint32_t seed = 1) {
    OpRun r;
    r.op_type = "Conv";
    r.inputs = {random_f32(x, seed), random_f32(w, seed + 1)};
    r.as_initializer = {false, true, true};
    if (bias) r.inputs.push_back(random_f32({w[0]}, seed + 2));
    r.attrs = std::move(attrs);
    return r;
}

TEST(XnnConv, Basic3x3PadBias) {
    expect_backend_matches_ref(conv_run({1, 8, 10, 12}, {16, 8, 3, 3}, true, {{"pads", ints({1, 1, 1, 1})}}),
                               "xnnpack");
}

TEST(XnnConv, NoBiasBatchAndPointwise) {
    expect_backend_matches_ref(conv_run({3, 16, 7, 9}, {24, 16, 1, 1}, false, {}), "xnnpack");
    expect_backend_matches_ref(conv_run({2, 16, 9, 9}, {8, 16, 1, 1}, true, {{"strides", ints({2, 2})}}), "xnnpack");
}

TEST(XnnConv, Depthwise) {
    for (int64_t s : {1, 2}) {
        expect_backend_matches_ref(conv_run({1, 32, 15, 14}, {32, 1, 3, 3}, true,
                                            {{"group", int1(32)}, {"pads", ints({1, 1, 1, 1})}, {"strides", ints({s, s})}}),
                                   "xnnpack");
    }
    // 5x5 depthwise, asymmetric pads
    expect_backend_matches_ref(
        conv_run({2, 16, 11, 13}, {16, 1, 5, 5}, true, {{"group", int1(16)}, {"pads", ints({2, 1, 2, 3})}}), "xnnpack");
    // channel multiplier 2
    expect_backend_matches_ref(
        conv_run({1, 8, 9, 9}, {16, 1, 3, 3}, true, {{"group", int1(8)}, {"pads", ints({1, 1, 1, 1})}}), "xnnpack");
}

TEST(XnnConv, Grouped) {
    expect_backend_matches_ref(
        conv_run({2, 8, 10, 10}, {12, 2, 3, 3}, true, {{"group", int1(4)}, {"pads", ints({0, 1, 1, 0})}}), "xnnpack");
    expect_backend_matches_ref(conv_run({1, 12, 8, 8}, {6, 4, 1, 1}, false, {{"group", int1(3)}}), "xnnpack");
}

TEST(XnnConv, StridesDilationsKernelShapes) {
    expect_backend_matches_ref(
        conv_run({1, 4, 17, 19}, {6, 4, 3, 5}, true, {{"strides", ints({2, 3})}, {"pads", ints({1, 2, 1, 2})}}),
        "xnnpack");
    expect_backend_matches_ref(
        conv_run({1, 4, 16, 16}, {5, 4, 3, 3}, true, {{"dilations", ints({2, 3})}, {"pads", ints({2, 3, 1, 0})}}),
        "xnnpack");
    expect_backend_matches_ref(conv_run({1, 3, 12, 12}, {4, 3, 2, 2}, true,
                                        {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}),
                               "xnnpack");
    // pads larger than the window
    expect_backend_matches_ref(conv_run({1, 2, 5, 5}, {3, 2, 2, 2}, true, {{"pads", ints({3, 0, 2, 4})}}), "xnnpack");
}

TEST(XnnConv, AutoPad) {
    for (const char* ap : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
        for (int64_t size : {9, 10}) {
            for (int64_t s : {1, 2, 3}) {
                SCOPED_TRACE(std::string(ap) + " size " + std::to_string(size) + " stride " + std::to_string(s));
                expect_backend_matches_ref(conv_run({1, 3, size, size + 1}, {4, 3, 3, 2}, true,
                                                    {{"auto_pad", str(ap)}, {"strides", ints({s, s})}}),
                                           "xnnpack");
            }
        }
    }
    // SAME with a 1x1 stride-2 window (the total padding would be negative: it is zero)
    expect_backend_matches_ref(
        conv_run({1, 4, 10, 10}, {4, 4, 1, 1}, true, {{"auto_pad", str("SAME_UPPER")}, {"strides", ints({2, 2})}}),
        "xnnpack");
    // dilated SAME_LOWER
    expect_backend_matches_ref(
        conv_run({1, 4, 11, 12}, {4, 4, 3, 3}, true, {{"auto_pad", str("SAME_LOWER")}, {"dilations", ints({2, 2})}}),
        "xnnpack");
}

OpRun fused_conv_run(const std::string& act, std::vector<float> params, bool residual, uint32_t seed,
                     int64_t group = 1) {
    OpRun r;
    r.op_type = "FusedConv";
    r.domain = "com.nnport";
    r.opset = 1;
    const int64_t c = 8, m = 8;
    r.inputs = {random_f32({2, c, 9, 7}, seed, -2.0f, 2.0f), random_f32({m, c / group, 3, 3}, seed + 1, -0.5f, 0.5f),
                random_f32({m}, seed + 2)};
    r.as_initializer = {false, true, true, false};
    if (residual) r.inputs.push_back(random_f32({2, m, 9, 7}, seed + 3, -2.0f, 2.0f));
    r.attrs = {{"pads", ints({1, 1, 1, 1})}, {"activation", str(act)}, {"group", int1(group)}};
    if (!params.empty()) r.attrs["activation_params"] = flts(params);
    return r;
}

const std::vector<std::pair<std::string, std::vector<float>>>& all_activations() {
    static const std::vector<std::pair<std::string, std::vector<float>>> acts = {
        {"Identity", {}},          {"Relu", {}},      {"Clip", {-0.5f, 1.5f}}, {"Clip", {0.25f, 0.25f}},
        {"LeakyRelu", {0.1f}},     {"Sigmoid", {}},   {"HardSigmoid", {0.3f, 0.4f}},
        {"HardSwish", {}},         {"Swish", {1.0f}}, {"Swish", {1.702f}},   {"Gelu", {}},
        {"GeluTanh", {}},          {"Tanh", {}}};
    return acts;
}

TEST(XnnConv, FusedActivations) {
    uint32_t seed = 10;
    for (const auto& [act, params] : all_activations()) {
        for (bool residual : {false, true}) {
            SCOPED_TRACE(act + (residual ? " + residual" : ""));
            expect_backend_matches_ref(fused_conv_run(act, params, residual, seed += 4), "xnnpack");
        }
    }
    // depthwise with residual and Relu
    expect_backend_matches_ref(fused_conv_run("Relu", {}, true, 99, 8), "xnnpack");
}

// ---- graphs: several nodes, symbolic shapes, threads ---------------------------------------------------------------

/// Runs the graph on "xnnpack,ref" and on "ref" for each feed set; expects the ops named in `on_xnn` (op types as
/// placements report them) to run on XNNPACK and the outputs to match.
void expect_graph_matches(const NetFn& build, const std::vector<std::vector<std::pair<std::string, RtValue>>>& feeds,
                          const std::vector<std::string>& on_xnn, int threads = 1, double rtol = 1e-4,
                          double atol = 1e-5) {
    auto sx = make_session(build, "xnnpack,ref", threads);
    auto sr = make_session(build, "ref", 1);
    ASSERT_TRUE(sx && sr);
    for (const std::string& op : on_xnn) {
        bool found = false;
        for (const NodePlacement& p : sx->placements()) {
            if (p.op_type != op) continue;
            found = true;
            EXPECT_EQ(p.backend, "xnnpack") << op << " fell back: " << p.fallback_reason;
        }
        EXPECT_TRUE(found) << "no " << op << " node in the partitioned graph";
    }
    for (const auto& f : feeds) {
        auto got = sx->run_values(f);
        ASSERT_TRUE(got.is_ok()) << got.status().message();
        auto want = sr->run_values(f);
        ASSERT_TRUE(want.is_ok()) << want.status().message();
        ASSERT_EQ(got->size(), want->size());
        for (size_t i = 0; i < got->size(); ++i) {
            testing::expect_close((*got)[i].tensor, (*want)[i].tensor, rtol, atol, "output " + std::to_string(i));
        }
    }
}

using Feeds = std::vector<std::pair<std::string, RtValue>>;
Feeds feed(const Tensor& x) { return {{"x", RtValue(x)}}; }

TEST(XnnConv, DynamicShapesRunTwice) {
    for (const char* ap : {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}) {
        SCOPED_TRACE(ap);
        auto build = [ap](Net& n) {
            n.input("x", {ir::Dim::symbol("N"), 6, ir::Dim::symbol("H"), ir::Dim::symbol("W")});
            n.constant("w", random_f32({8, 6, 3, 3}, 5));
            n.constant("b", random_f32({8}, 6));
            ir::Attributes a = {{"auto_pad", str(ap)}, {"strides", ints({2, 2})}};
            if (std::string(ap) == "NOTSET") a["pads"] = ints({1, 0, 1, 2});
            n.node("Conv", {"x", "w", "b"}, {"y"}, a);
            n.output("y");
        };
        expect_graph_matches(build,
                             {feed(random_f32({1, 6, 12, 13}, 7)), feed(random_f32({2, 6, 9, 16}, 8)),
                              feed(random_f32({1, 6, 7, 7}, 9)), feed(random_f32({1, 6, 12, 13}, 10))},
                             {"com.nnport.NhwcConv"});
    }
}

TEST(XnnConv, OwnDepthwiseWindows) {
    // Windows XNNPACK 2022 has no depthwise kernel for (not 1, 4, 9 or 25 taps) run the backend's own loop: every
    // vector width, channel counts with and without a remainder, borders, strides, dilations, SAME padding.
    struct Case {
        Shape x;
        int64_t kh, kw;
        ir::Attributes a;
    };
    const std::vector<Case> cases = {
        {{1, 96, 20, 21}, 7, 7, {{"pads", ints({3, 3, 3, 3})}}},
        {{2, 20, 9, 30}, 7, 7, {{"pads", ints({3, 2, 1, 3})}, {"strides", ints({2, 1})}}},
        {{1, 70, 11, 12}, 3, 1, {{"pads", ints({1, 0, 1, 0})}}},
        {{1, 32, 12, 13}, 1, 3, {{"auto_pad", str("SAME_LOWER")}, {"strides", ints({2, 2})}}},
        {{1, 48, 15, 16}, 3, 5, {{"dilations", ints({2, 1})}, {"auto_pad", str("SAME_UPPER")}}},
        {{1, 16, 6, 40}, 2, 3, {}},
        {{1, 5, 8, 8}, 7, 7, {{"pads", ints({4, 4, 4, 4})}}},  // windows wider than the input
    };
    for (int level = 0; level <= 2; ++level) {
        const int before = xnn::limit_simd_level(level);
        uint32_t seed = 180;
        for (const Case& c : cases) {
            SCOPED_TRACE("level " + std::to_string(level) + " x " + shape_to_string(c.x) + " window " +
                         std::to_string(c.kh) + "x" + std::to_string(c.kw));
            ir::Attributes a = c.a;
            a["group"] = int1(c.x[1]);
            expect_backend_matches_ref(conv_run(c.x, {c.x[1], 1, c.kh, c.kw}, seed % 2 == 0, a, seed), "xnnpack");
            ++seed;
        }
        // Fused activation with residual on the own loop, and a symbolic shape run twice.
        OpRun f = fused_conv_run("Swish", {1.0f}, true, 190, 8);
        f.inputs[1] = random_f32({8, 1, 7, 7}, 191, -0.3f, 0.3f);
        f.attrs["pads"] = ints({3, 3, 3, 3});
        expect_backend_matches_ref(f, "xnnpack");
        auto build = [](Net& n) {
            n.input("x", {1, 24, ir::Dim::symbol("H"), ir::Dim::symbol("W")});
            n.constant("w", random_f32({24, 1, 7, 7}, 192));
            n.node("FusedConv", {"x", "w"}, {"y"},
                   {{"group", int1(24)}, {"auto_pad", str("SAME_UPPER")}, {"strides", ints({2, 2})},
                    {"activation", str("Clip")}, {"activation_params", flts({-0.5f, 0.5f})}},
                   "com.nnport");
            n.output("y");
        };
        // (64x60 input: over two threads' worth of multiply-adds, rows split across threads; 8x9: one thread.)
        expect_graph_matches(build, {feed(random_f32({1, 24, 64, 60}, 193)), feed(random_f32({1, 24, 8, 9}, 194))},
                             {"com.nnport.NhwcFusedConv"}, 2);
        xnn::limit_simd_level(before);
    }
}

TEST(XnnConv, PointwiseBands) {
    // 1x1 convolutions with an epilogue run in pixel bands (64 channels: bands of 1024 pixels, the last one partial).
    for (int threads : {1, 2}) {
        for (const auto& [act, residual] : std::vector<std::pair<std::string, bool>>{
                 {"Swish", false}, {"Identity", true}, {"HardSwish", true}, {"Relu", true}, {"Sigmoid", false}}) {
            SCOPED_TRACE(act + (residual ? " + Z" : "") + " threads " + std::to_string(threads));
            auto build = [&, act = act, residual = residual](Net& n) {
                n.input("x", {ir::Dim::symbol("N"), 24, ir::Dim::symbol("H"), ir::Dim::symbol("W")});
                n.constant("w", random_f32({64, 24, 1, 1}, 160, -0.3f, 0.3f));
                n.constant("b", random_f32({64}, 161));
                n.constant("w2", random_f32({64, 24, 1, 1}, 162, -0.3f, 0.3f));
                n.node("Conv", {"x", "w2"}, {"z"});
                std::vector<std::string> ins = {"x", "w", "b"};
                if (residual) ins.push_back("z");
                n.node("FusedConv", ins, {"y"}, {{"activation", str(act)}}, "com.nnport");
                n.output("y");
            };
            expect_graph_matches(
                build,
                {feed(random_f32({2, 24, 40, 40}, 163, -2.0f, 2.0f)), feed(random_f32({1, 24, 7, 9}, 164, -2.0f, 2.0f)),
                 feed(random_f32({3, 24, 33, 31}, 165, -2.0f, 2.0f))},
                {"com.nnport.NhwcFusedConv"}, threads);
        }
    }
}

TEST(XnnConv, PointwiseBandsLargeWeights) {
    // Over 1 MiB of weights: one shared operator, bands one after the other on all threads (102-pixel bands).
    for (int threads : {1, 2}) {
        auto build = [](Net& n) {
            n.input("x", {1, 512, ir::Dim::symbol("H"), 12});
            n.constant("w", random_f32({640, 512, 1, 1}, 170, -0.05f, 0.05f));
            n.node("FusedConv", {"x", "w"}, {"y"}, {{"activation", str("GeluTanh")}}, "com.nnport");
            n.output("y");
        };
        expect_graph_matches(build, {feed(random_f32({1, 512, 12, 12}, 171)), feed(random_f32({1, 512, 5, 12}, 172))},
                             {"com.nnport.NhwcFusedConv"}, threads, 1e-4, 2e-5);
    }
}

TEST(XnnConv, ThreadsAndConcurrentRuns) {
    auto build = [](Net& n) {
        n.input("x", {2, 16, 20, 20});
        n.constant("w", random_f32({32, 16, 3, 3}, 21, -0.2f, 0.2f));
        n.constant("b", random_f32({32}, 22));
        n.constant("w2", random_f32({32, 1, 3, 3}, 23, -0.5f, 0.5f));
        n.node("FusedConv", {"x", "w", "b"}, {"c1"}, {{"pads", ints({1, 1, 1, 1})}, {"activation", str("Swish")}},
               "com.nnport");
        n.constant("w3", random_f32({32, 32, 1, 1}, 25, -0.3f, 0.3f));
        n.node("FusedConv", {"c1", "w2", "", "c1"}, {"c2"},
               {{"pads", ints({1, 1, 1, 1})}, {"group", int1(32)}, {"activation", str("Relu")}}, "com.nnport");
        n.node("FusedConv", {"c2", "w3", "", "c1"}, {"y"}, {{"activation", str("Tanh")}}, "com.nnport");
        n.output("y");
    };
    const Tensor x = random_f32({2, 16, 20, 20}, 24);
    expect_graph_matches(build, {feed(x)}, {"com.nnport.NhwcFusedConv"}, 2);
    // Four threads running one session at once give the single-run answer.
    auto s = make_session(build, "xnnpack,ref", 2);
    ASSERT_TRUE(s);
    auto ref = s->run_values(feed(x));
    ASSERT_TRUE(ref.is_ok());
    std::vector<std::thread> ts;
    std::vector<Tensor> outs(4);
    for (int t = 0; t < 4; ++t) {
        ts.emplace_back([&, t] {
            for (int k = 0; k < 5; ++k) {
                auto r = s->run_values(feed(x));
                if (r.is_ok()) outs[static_cast<size_t>(t)] = (*r)[0].tensor;
            }
        });
    }
    for (auto& t : ts) t.join();
    for (const Tensor& o : outs) {
        ASSERT_TRUE(o.defined());
        testing::expect_close(o, (*ref)[0].tensor, 0, 0, "concurrent run");
    }
}

/// x -> 1x1 Conv (so the pool has a channels-last producer) -> pool -> y.
NetFn conv_then(const std::string& op, ir::Attributes attrs, std::vector<ir::Dim> x_dims, int64_t c = 8) {
    return [=](Net& n) {
        n.input("x", x_dims);
        n.constant("w", random_f32({c, c, 1, 1}, 31));
        n.node("Conv", {"x", "w"}, {"c"});
        n.node(op, {"c"}, {"y"}, attrs);
        n.output("y");
    };
}

TEST(XnnPool, MaxPool) {
    const std::vector<ir::Attributes> cases = {
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}},
        {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}},
        {{"kernel_shape", ints({3, 2})}, {"strides", ints({1, 2})}, {"pads", ints({0, 1, 2, 0})}},
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"ceil_mode", int1(1)}},
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({3, 3})}, {"ceil_mode", int1(1)}, {"pads", ints({1, 1, 1, 1})}},
        {{"kernel_shape", ints({2, 3})}, {"dilations", ints({2, 2})}},
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"auto_pad", str("SAME_UPPER")}},
        {{"kernel_shape", ints({4, 4})}, {"strides", ints({3, 3})}, {"auto_pad", str("SAME_LOWER")}},
        {{"kernel_shape", ints({3, 3})}, {"auto_pad", str("VALID")}, {"storage_order", int1(1)}},
        {{"kernel_shape", ints({2, 2})}, {"strides", ints({3, 4})}, {"pads", ints({1, 0, 1, 1})}},
        {{"kernel_shape", ints({2, 3})}, {"strides", ints({3, 5})}, {"ceil_mode", int1(1)}},
    };
    uint32_t seed = 40;
    for (const ir::Attributes& a : cases) {
        SCOPED_TRACE(seed);
        // Static and symbolic spatial sizes, two input sizes each.
        expect_graph_matches(conv_then("MaxPool", a, {2, 8, 13, 16}), {feed(random_f32({2, 8, 13, 16}, seed++))},
                             {"com.nnport.NhwcMaxPool"});
        expect_graph_matches(conv_then("MaxPool", a, {1, 8, ir::Dim::symbol("H"), ir::Dim::symbol("W")}),
                             {feed(random_f32({1, 8, 13, 16}, seed++)), feed(random_f32({1, 8, 10, 11}, seed++))},
                             {"com.nnport.NhwcMaxPool"});
    }
}

TEST(XnnPool, AveragePool) {
    const std::vector<ir::Attributes> cases = {
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}},
        {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}, {"count_include_pad", int1(1)}},
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"count_include_pad", int1(1)}, {"ceil_mode", int1(1)}},
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"ceil_mode", int1(1)}, {"pads", ints({1, 0, 0, 1})}},
        {{"kernel_shape", ints({3, 2})}, {"auto_pad", str("SAME_UPPER")}},
        {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"auto_pad", str("SAME_LOWER")}},
        {{"kernel_shape", ints({5, 5})}, {"strides", ints({1, 1})}, {"count_include_pad", int1(1)}},
        {{"kernel_shape", ints({2, 2})}, {"strides", ints({3, 4})}, {"pads", ints({1, 0, 1, 1})}},
        {{"kernel_shape", ints({2, 3})}, {"strides", ints({3, 5})}, {"ceil_mode", int1(1)}, {"count_include_pad", int1(1)}},
    };
    uint32_t seed = 60;
    for (const ir::Attributes& a : cases) {
        SCOPED_TRACE(seed);
        expect_graph_matches(conv_then("AveragePool", a, {2, 8, 13, 16}), {feed(random_f32({2, 8, 13, 16}, seed++))},
                             {"com.nnport.NhwcAveragePool"});
        expect_graph_matches(conv_then("AveragePool", a, {1, 8, ir::Dim::symbol("H"), ir::Dim::symbol("W")}),
                             {feed(random_f32({1, 8, 13, 16}, seed++)), feed(random_f32({1, 8, 9, 12}, seed++))},
                             {"com.nnport.NhwcAveragePool"});
    }
}

TEST(XnnPool, GlobalAveragePool) {
    expect_graph_matches(conv_then("GlobalAveragePool", {}, {2, 16, 7, 9}, 16), {feed(random_f32({2, 16, 7, 9}, 80))},
                         {"com.nnport.NhwcGlobalAveragePool"});
    expect_graph_matches(conv_then("GlobalAveragePool", {}, {ir::Dim::symbol("N"), 16, ir::Dim::symbol("H"), 5}, 16),
                         {feed(random_f32({1, 16, 7, 5}, 81)), feed(random_f32({3, 16, 2, 5}, 82))},
                         {"com.nnport.NhwcGlobalAveragePool"});
}

/// Expects the pool node of conv_then(op, attrs) to stay on the reference kernels with a reason mentioning `why`.
void expect_pool_declined(const std::string& op, ir::Attributes attrs, const std::string& why, int outputs = 1) {
    auto build = [&](Net& n) {
        n.input("x", {1, 8, 12, 12});
        n.constant("w", random_f32({8, 8, 1, 1}, 31));
        n.node("Conv", {"x", "w"}, {"c"});
        std::vector<std::string> outs = {"y"};
        if (outputs == 2) outs.push_back("idx");
        n.node(op, {"c"}, outs, attrs);
        n.output("y");
        if (outputs == 2) n.output("idx");
    };
    auto s = make_session(build, "xnnpack,ref", 1);
    ASSERT_TRUE(s);
    bool seen = false;
    for (const NodePlacement& p : s->placements()) {
        if (p.op_type.find("Pool") == std::string::npos) continue;
        seen = true;
        EXPECT_EQ(p.backend, "ref");
        EXPECT_NE(p.fallback_reason.find(why), std::string::npos) << p.fallback_reason;
    }
    EXPECT_TRUE(seen);
    auto r = s->run_values(feed(random_f32({1, 8, 12, 12}, 90)));
    EXPECT_TRUE(r.is_ok()) << r.status().message();
}

TEST(XnnPool, Declines) {
    expect_pool_declined("MaxPool", {{"kernel_shape", ints({2, 2})}}, "Indices", 2);
    expect_pool_declined("MaxPool", {{"kernel_shape", ints({1, 1})}, {"strides", ints({2, 2})}}, "1x1");
    expect_pool_declined("MaxPool",
                         {{"kernel_shape", ints({2, 2})}, {"dilations", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}},
                         "dilated");
    expect_pool_declined("AveragePool",
                         {{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 1, 1, 1})}, {"count_include_pad", int1(1)}},
                         "count_include_pad");
    expect_pool_declined("AveragePool", {{"kernel_shape", ints({2, 2})}, {"dilations", ints({2, 2})}}, "dilated");
    expect_pool_declined("GlobalMaxPool", {}, "global max pooling");
}

// ---- Gemm / MatMul ----------------------------------------------------------------------------------------------

OpRun gemm_run(int64_t m, int64_t k, int64_t n, bool tb, float alpha, float beta, Shape c, uint32_t seed) {
    OpRun r;
    r.op_type = "Gemm";
    r.inputs = {random_f32({m, k}, seed), random_f32(tb ? Shape{n, k} : Shape{k, n}, seed + 1)};
    r.as_initializer = {false, true, true};
    if (c != Shape{-1}) r.inputs.push_back(random_f32(c, seed + 2));  // {-1}: no C
    r.attrs = {{"transB", int1(tb ? 1 : 0)}, {"alpha", flt(alpha)}, {"beta", flt(beta)}};
    return r;
}

TEST(XnnGemm, Forms) {
    uint32_t seed = 100;
    for (bool tb : {false, true}) {
        for (const Shape& c : std::vector<Shape>{{-1}, {24}, {1, 24}, {}, {1}, {1, 1}}) {
            SCOPED_TRACE(std::to_string(tb) + " C " + shape_to_string(c));
            expect_backend_matches_ref(gemm_run(7, 33, 24, tb, 1.0f, 1.0f, c, seed += 3), "xnnpack");
            expect_backend_matches_ref(gemm_run(5, 16, 24, tb, 0.5f, -2.0f, c, seed += 3), "xnnpack");
        }
    }
    // beta = 0 ignores C, even a full [M, N] one
    expect_backend_matches_ref(gemm_run(4, 8, 24, true, 1.5f, 0.0f, {4, 24}, 140), "xnnpack");
}

TEST(XnnGemm, FusedActivations) {
    uint32_t seed = 200;
    for (const auto& [act, params] : all_activations()) {
        SCOPED_TRACE(act);
        OpRun r = gemm_run(6, 20, 40, true, 1.0f, 1.0f, {40}, seed += 3);
        r.op_type = "FusedGemm";
        r.domain = "com.nnport";
        r.opset = 1;
        r.inputs[0] = random_f32({6, 20}, seed, -2.0f, 2.0f);
        r.attrs["activation"] = str(act);
        if (!params.empty()) r.attrs["activation_params"] = flts(params);
        expect_backend_matches_ref(r, "xnnpack");
    }
}

TEST(XnnGemm, MatMul) {
    uint32_t seed = 300;
    for (const Shape& a : std::vector<Shape>{{9, 17}, {3, 5, 17}, {2, 3, 4, 17}, {17}}) {
        SCOPED_TRACE(shape_to_string(a));
        OpRun r;
        r.op_type = "MatMul";
        r.inputs = {random_f32(a, seed++), random_f32({17, 12}, seed++)};
        r.as_initializer = {false, true};
        expect_backend_matches_ref(r, "xnnpack");
        OpRun f = r;
        f.op_type = "FusedMatMul";
        f.domain = "com.nnport";
        f.opset = 1;
        f.inputs.push_back(random_f32({12}, seed++));
        f.as_initializer = {false, true, true};
        f.attrs = {{"activation", str("GeluTanh")}};
        expect_backend_matches_ref(f, "xnnpack");
    }
}

TEST(XnnGemm, ColumnBlocks) {
    // K = 1100 gives blocks of 64 output columns (the last one partial); rows 100 (static) and symbolic.
    for (int threads : {1, 2}) {
        for (bool dynamic : {false, true}) {
            SCOPED_TRACE(std::to_string(threads) + (dynamic ? " dynamic" : " static"));
            auto build = [dynamic](Net& n) {
                n.input("x", {dynamic ? ir::Dim::symbol("B") : ir::Dim(2), 50, 1100});
                n.input("g", {100, 1100});
                n.constant("w", random_f32({1100, 200}, 150, -0.1f, 0.1f));
                n.constant("bias", random_f32({200}, 151));
                n.constant("wt", random_f32({200, 1100}, 152, -0.1f, 0.1f));
                n.constant("c", random_f32({1, 200}, 153));
                n.node("MatMul", {"x", "w"}, {"m"});
                n.node("FusedMatMul", {"x", "w", "bias"}, {"f"}, {{"activation", str("Gelu")}}, "com.nnport");
                n.node("Gemm", {"g", "wt", "c"}, {"y"}, {{"transB", int1(1)}, {"alpha", flt(0.5f)}, {"beta", flt(2.0f)}});
                n.node("FusedGemm", {"g", "w", "c"}, {"z"}, {{"activation", str("Swish")}}, "com.nnport");
                for (const char* o : {"m", "f", "y", "z"}) n.output(o);
            };
            std::vector<Feeds> feeds;
            for (int64_t b : dynamic ? std::vector<int64_t>{2, 3} : std::vector<int64_t>{2}) {
                feeds.push_back(
                    {{"x", RtValue(random_f32({b, 50, 1100}, 154))}, {"g", RtValue(random_f32({100, 1100}, 155))}});
            }
            expect_graph_matches(build, feeds, {"MatMul", "com.nnport.FusedMatMul", "Gemm", "com.nnport.FusedGemm"},
                                 threads, 1e-4, 1e-4);
        }
    }
}

TEST(XnnGemm, Declines) {
    OpRun full = gemm_run(4, 8, 6, false, 1.0f, 1.0f, {4, 6}, 400);
    expect_backend_declines(full, "xnnpack", "row broadcast");
    OpRun ta = gemm_run(4, 8, 6, false, 1.0f, 1.0f, {6}, 401);
    ta.inputs[0] = random_f32({8, 4}, 402);
    ta.attrs["transA"] = int1(1);
    expect_backend_declines(ta, "xnnpack", "transA");
    OpRun dyn = gemm_run(4, 8, 6, false, 1.0f, 1.0f, {6}, 403);
    dyn.as_initializer = {false, false, true};
    expect_backend_declines(dyn, "xnnpack", "not a constant");
    OpRun b3;
    b3.op_type = "MatMul";
    b3.inputs = {random_f32({2, 4, 8}, 404), random_f32({2, 8, 6}, 405)};
    b3.as_initializer = {false, true};
    expect_backend_declines(b3, "xnnpack", "2-D B");
}

// ---- elementwise ------------------------------------------------------------------------------------------------

OpRun binary_run(const std::string& op, Shape a, Shape b, uint32_t seed) {
    OpRun r;
    r.op_type = op;
    r.inputs = {random_f32(a, seed, -2.0f, 2.0f), random_f32(b, seed + 1, 0.5f, 2.0f)};
    return r;
}

TEST(XnnElementwise, BinaryBroadcast) {
    const std::vector<std::pair<Shape, Shape>> shapes = {{{2, 3, 32, 32}, {2, 3, 32, 32}}, {{2, 3, 32, 32}, {3, 1, 1}},
                                                         {{64, 80}, {80}},   {{64, 80}, {64, 1}},
                                                         {{}, {70, 70}},     {{1}, {4, 1100}},
                                                         {{1, 64, 1}, {8, 1, 64}},
                                                         {{2, 2, 2, 2, 16, 32}, {2, 1, 2, 1, 16, 1}}};
    uint32_t seed = 500;
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
        for (const auto& [a, b] : shapes) {
            SCOPED_TRACE(std::string(op) + " " + shape_to_string(a) + " " + shape_to_string(b));
            expect_backend_matches_ref(binary_run(op, a, b, seed += 2), "xnnpack");
            expect_backend_matches_ref(binary_run(op, b, a, seed += 2), "xnnpack");
        }
    }
}

TEST(XnnElementwise, BinaryOnThreads) {
    // Same shapes and scalar operands are split in flat chunks, one per thread; broadcasts use XNNPACK's threads.
    // (75000 elements: two threads' worth; 350: the calling thread alone.)
    const std::vector<std::pair<Shape, Shape>> shapes = {{{3, 100, 250}, {3, 100, 250}}, {{}, {3, 100, 250}},
                                                         {{3, 100, 250}, {1}}, {{3, 100, 250}, {100, 1}},
                                                         {{50, 7}, {50, 7}}};
    uint32_t seed = 550;
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
        for (const auto& [a, b] : shapes) {
            SCOPED_TRACE(std::string(op) + " " + shape_to_string(a) + " " + shape_to_string(b));
            auto build = [&](Net& n) {
                n.input("x", std::vector<ir::Dim>(a.begin(), a.end()));
                n.input("z", std::vector<ir::Dim>(b.begin(), b.end()));
                n.node(op, {"x", "z"}, {"y"});
                n.output("y");
            };
            expect_graph_matches(
                build, {{{"x", RtValue(random_f32(a, seed++))}, {"z", RtValue(random_f32(b, seed++, 0.5f, 2.0f))}}},
                {op}, 2);
        }
    }
}

TEST(XnnElementwise, Unary) {
    uint32_t seed = 600;
    const std::vector<std::pair<std::string, ir::Attributes>> ops = {
        {"Relu", {}},  {"LeakyRelu", {{"alpha", flt(0.2f)}}}, {"Sigmoid", {}}, {"HardSwish", {}}, {"Abs", {}},
        {"Neg", {}},   {"Floor", {}},  {"Ceil", {}},  {"Elu", {{"alpha", flt(0.7f)}}}, {"Round", {}}};
    for (const auto& [op, attrs] : ops) {
        SCOPED_TRACE(op);
        OpRun r;
        r.op_type = op;
        r.inputs = {random_f32({3, 40, 50}, seed++, -6.0f, 6.0f)};
        r.attrs = attrs;
        expect_backend_matches_ref(r, "xnnpack");
    }
    OpRun sq;
    sq.op_type = "Sqrt";
    sq.inputs = {random_f32({100, 70}, seed++, 0.0f, 9.0f)};
    expect_backend_matches_ref(sq, "xnnpack");
    // Round: exact halves go to even
    std::vector<float> halves(5000);
    for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<float>(i) * 0.5f - 1250.0f;
    OpRun rd;
    rd.op_type = "Round";
    rd.inputs = {Tensor::from_vector<float>({5000}, halves)};
    expect_backend_matches_ref(rd, "xnnpack", 0, 0);
    // Clip with constant bounds, one bound, none
    for (int bounds = 0; bounds < 3; ++bounds) {
        OpRun c;
        c.op_type = "Clip";
        c.inputs = {random_f32({80, 90}, seed++, -3.0f, 3.0f)};
        if (bounds >= 1) c.inputs.push_back(Tensor::scalar<float>(-0.5f));
        if (bounds >= 2) c.inputs.push_back(Tensor::scalar<float>(1.25f));
        c.as_initializer = {false, true, true};
        expect_backend_matches_ref(c, "xnnpack");
    }
}

TEST(XnnElementwise, Softmax) {
    uint32_t seed = 700;
    for (const Shape& s : std::vector<Shape>{{64, 100}, {4, 16, 128}, {2, 3, 8, 1000}}) {
        OpRun r;
        r.op_type = "Softmax";
        r.inputs = {random_f32(s, seed++, -8.0f, 8.0f)};
        expect_backend_matches_ref(r, "xnnpack", 1e-4, 1e-6);
        r.attrs = {{"axis", int1(static_cast<int64_t>(s.size()) - 1)}};
        expect_backend_matches_ref(r, "xnnpack", 1e-4, 1e-6);
    }
    // Legacy opset: a 2-D input with axis 1
    OpRun old;
    old.op_type = "Softmax";
    old.opset = 11;
    old.inputs = {random_f32({50, 100}, seed++, -8.0f, 8.0f)};
    old.attrs = {{"axis", int1(1)}};
    expect_backend_matches_ref(old, "xnnpack", 1e-4, 1e-6);
}

TEST(XnnElementwise, Declines) {
    expect_backend_declines(binary_run("Add", {2, 1, 2, 1, 2, 1, 3}, {3}, 800), "xnnpack", "rank 7");
    OpRun mid;
    mid.op_type = "Softmax";
    mid.inputs = {random_f32({64, 100, 2}, 801)};
    mid.attrs = {{"axis", int1(1)}};
    expect_backend_declines(mid, "xnnpack", "last");
    OpRun ints32;
    ints32.op_type = "Add";
    ints32.inputs = {Tensor::from_vector<int32_t>({80, 80}, std::vector<int32_t>(6400, 3)),
                     Tensor::from_vector<int32_t>({80, 80}, std::vector<int32_t>(6400, 4))};
    expect_backend_declines(ints32, "xnnpack", "only float32");
    OpRun clip;
    clip.op_type = "Clip";
    clip.inputs = {random_f32({80, 90}, 802), Tensor::scalar<float>(0.0f), Tensor::scalar<float>(1.0f)};
    clip.as_initializer = {false, false, true};
    expect_backend_declines(clip, "xnnpack", "not a constant");
}

// ---- declines: types and weights ---------------------------------------------------------------------------------

TEST(XnnConv, Declines) {
    OpRun dyn_w = conv_run({1, 4, 8, 8}, {4, 4, 3, 3}, true, {});
    dyn_w.as_initializer = {false, false, true};
    expect_backend_declines(dyn_w, "xnnpack", "not a constant");
    OpRun conv1d;
    conv1d.op_type = "Conv";
    conv1d.inputs = {random_f32({1, 4, 16}, 900), random_f32({4, 4, 3}, 901)};
    conv1d.as_initializer = {false, true};
    expect_backend_declines(conv1d, "xnnpack", "2-D");
    // float16 data: the backend says which type it got
    OpRun half = conv_run({1, 4, 8, 8}, {4, 4, 3, 3}, false, {});
    half.inputs[0] = Tensor::create(DType::kFloat16, {1, 4, 8, 8}, true).value();
    half.inputs[1] = Tensor::create(DType::kFloat16, {4, 4, 3, 3}, true).value();
    expect_backend_declines(half, "xnnpack", "float16");
}

// The epilogue's vector math (each instruction set the CPU has) against the reference formulas in double, on random
// values, the edges of the approximations' ranges and every tail length.
TEST(XnnEpilogue, MatchesReferenceFormulas) {
    std::vector<float> base = {0.0f,  -0.0f, 1e-8f, -1e-8f, 0.1999f, 0.2f,  -0.2001f, 0.5f,  -0.5f, 1.0f,  -3.0f,
                               6.0f,  -6.0f, 9.5f,  -9.5f,  20.0f,   -20.0f, 87.0f,  -87.5f, 100.0f, -100.0f, 1e30f,
                               -1e30f};
    std::mt19937 g(7);
    std::uniform_real_distribution<float> d(-10.0f, 10.0f);
    while (base.size() < 1000) base.push_back(d(g));
    for (int level = 0; level <= 2; ++level) {
        const int before = xnn::limit_simd_level(level);
        for (const auto& [name, params] : all_activations()) {
            // Parsed through the attribute reader, as the kernels do.
            ir::Graph gr("g");
            ir::Value* x = gr.add_value("x", ir::ValueType::tensor(DType::kFloat32)).value();
            ir::Node* n = gr.add_node("FusedGemm", "com.nnport", "n", {x, x}, {"y"}).value();
            n->def = find_op("com.nnport", "FusedGemm");
            n->attrs["activation"] = str(name);
            if (!params.empty()) n->attrs["activation_params"] = flts(params);
            auto parsed = fused::parse_activation(AttrAccess(*n, *n->def));
            ASSERT_TRUE(parsed.is_ok());
            const fused::Activation a = *parsed;
            if (name == "Swish" && params[0] != 1.0f) continue;  // one Swish is enough here
            for (size_t len : {size_t{1}, size_t{7}, size_t{15}, size_t{16}, size_t{17}, size_t{33}, base.size()}) {
                for (bool residual : {false, true}) {
                    std::vector<float> y(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(len));
                    std::vector<float> z(len, 0.25f);
                    std::vector<double> want(len);
                    for (size_t i = 0; i < len; ++i) want[i] = static_cast<double>(residual ? y[i] + z[i] : y[i]);
                    fused::apply_activation(a, want.data(), static_cast<int64_t>(len));
                    xnn::apply_epilogue(a, y.data(), residual ? z.data() : nullptr, static_cast<int64_t>(len),
                                        nullptr);
                    for (size_t i = 0; i < len; ++i) {
                        const double in = static_cast<double>(base[i]) + (residual ? 0.25 : 0.0);
                        const double tol = 2e-6 * std::abs(want[i]) + 1e-6 * std::max(1.0, std::min(std::abs(in), 1e3));
                        ASSERT_NEAR(y[i], want[i], tol) << name << " level " << level << " x " << in;
                    }
                }
            }
        }
        xnn::limit_simd_level(before);
    }
}

TEST(XnnEpilogue, SwishAgainstTheFormula) {
    // Swish also runs after oneDNN's convolutions (its swish post-op is slower), so it gets a closer look than the
    // other activations: tails around the vector widths, values across the whole range (the clamps at |alpha x| ~ 88
    // included), several alphas, NaN, at every SIMD level. Relative error against x / (1 + e^-z) in double, where
    // the result is above 1e-30.
    for (int level = 0; level <= 2; ++level) {
        const int before = xnn::limit_simd_level(level);
        for (int64_t n : {1, 7, 15, 16, 17, 31, 33, 100, 1000}) {
            for (float alpha : {1.0f, 1.7f, 0.25f}) {
                fused::Activation a;
                a.kind = fused::Act::kSwish;
                a.p0 = alpha;
                std::vector<float> x(static_cast<size_t>(n));
                for (int64_t i = 0; i < n; ++i) x[size_t(i)] = -100.0f + 200.0f * static_cast<float>(i) / float(n);
                if (n > 2) x[1] = 0.0f;
                if (n > 3) x[2] = -3.0e-3f;
                std::vector<float> y = x;
                y.push_back(5.0f);
                xnn::apply_epilogue(a, y.data(), nullptr, n, nullptr);
                for (int64_t i = 0; i < n; ++i) {
                    const double xi = x[size_t(i)];
                    // alpha x rounded to float32 as every level (and the reference) computes it: in the negative
                    // tail the relative error of e^z is |z| times that rounding.
                    const double z = static_cast<float>(alpha * x[size_t(i)]);
                    const double want = xi / (1.0 + std::exp(-z));
                    const double got = y[size_t(i)];
                    if (std::fabs(want) < 1e-30) {
                        ASSERT_LT(std::fabs(got), 1e-30) << "level " << level << " n " << n << " x " << xi;
                    } else {
                        ASSERT_LT(std::fabs(got - want) / std::fabs(want), 1e-6)
                            << "level " << level << " n " << n << " x " << xi;
                    }
                }
                ASSERT_EQ(y.back(), 5.0f) << "wrote past the end, level " << level << " n " << n;
            }
        }
        fused::Activation silu;
        silu.kind = fused::Act::kSwish;
        silu.p0 = 1.0f;
        float nan = std::numeric_limits<float>::quiet_NaN();
        xnn::apply_epilogue(silu, &nan, nullptr, 1, nullptr);
        EXPECT_TRUE(std::isnan(nan)) << "level " << level;
        xnn::limit_simd_level(before);
    }
}

// Documents a known difference (see xnn_backend.cpp): XNNPACK's output clamp turns NaN results into its lower bound.
// If this starts failing, the library changed: update the backend's description and this test.
TEST(XnnKnownDifferences, NanResultsBecomeTheClampsLowerBound) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    OpRun r;
    r.op_type = "Add";
    r.inputs = {Tensor::from_vector<float>({4}, {nan, 1.0f, std::numeric_limits<float>::infinity(), 2.0f}),
                Tensor::from_vector<float>({4}, {1.0f, 1.0f, -std::numeric_limits<float>::infinity(), 3.0f})};
    r.backends = "xnnpack,ref";
    auto got = testing::run_op(r);
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    const std::vector<float> v = testing::values<float>((*got)[0].tensor);
    EXPECT_EQ(v[0], -std::numeric_limits<float>::infinity());  // NaN + 1 (the reference kernel: NaN)
    EXPECT_EQ(v[1], 2.0f);
    EXPECT_EQ(v[2], -std::numeric_limits<float>::infinity());  // inf + -inf (the reference kernel: NaN)
    EXPECT_EQ(v[3], 5.0f);
    r.op_type = "Relu";
    r.inputs.resize(1);
    auto relu = testing::run_op(r);
    ASSERT_TRUE(relu.is_ok()) << relu.status().message();
    EXPECT_EQ(testing::values<float>((*relu)[0].tensor)[0], 0.0f);  // Relu(NaN) (the reference kernel: NaN)
}

TEST(XnnBackend, SupportsAnswersDirectly) {
    const Backend* b = find_backend("xnnpack");
    ASSERT_NE(b, nullptr);
    EXPECT_TRUE(b->available().ok);
    EXPECT_NE(std::find(all_backends().begin(), all_backends().end(), b), all_backends().end());  // a default
    // A Conv node answers channels-last; an unknown op is declined with a reason.
    ir::Graph g("g");
    ir::Value* x = g.add_value("x", ir::ValueType::tensor(DType::kFloat32, Shape{1, 4, 8, 8})).value();
    ir::Value* w = g.add_value("w", ir::ValueType::tensor(DType::kFloat32, Shape{4, 4, 3, 3})).value();
    w->set_initializer(random_f32({4, 4, 3, 3}, 1));
    ir::Node* n = g.add_node("Conv", "", "c", {x, w}, {"y"}).value();
    n->def = find_op("", "Conv");
    n->opset = 18;
    const ConstantFn constant = [](const ir::Value* v) { return v->has_initializer() ? &v->initializer() : nullptr; };
    const Support s = b->supports(*n, constant);
    EXPECT_TRUE(s.ok) << s.reason;
    EXPECT_EQ(s.layout, Layout::kNHWC);
    ir::Node* t = g.add_node("Transpose", "", "t", {x}, {"z"}).value();
    t->def = find_op("", "Transpose");
    const Support st = b->supports(*t, constant);
    EXPECT_FALSE(st.ok);
    EXPECT_FALSE(st.reason.empty());
}

}  // namespace
}  // namespace nnport

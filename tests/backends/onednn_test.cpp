// The oneDNN backend: every supported op against the reference kernels (same node, same inputs), shapes changing
// between runs, and rejections (Support::no with a reason; bad run-time input gives a Status naming the node).
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>
#include <thread>

#include "backends/backend.hpp"
#include "backends/backend_test_util.hpp"
#include "backends/onednn/onednn_common.hpp"
#include "ops/op_def.hpp"

namespace nnport {
namespace {

using ir::Attribute;
using testing::random_f32;

const Backend& dnnl_backend() {
    const Backend* b = find_backend("onednn");
    EXPECT_NE(b, nullptr);
    return *b;
}

/// One node in a detached graph, run by the backend's prepared kernel and by the op's reference kernel.
struct OneNode {
    std::string op, domain;
    std::vector<Tensor> inputs;    ///< undefined = omitted optional input
    std::vector<bool> constant;    ///< inputs given as initializers
    ir::Attributes attrs;
    std::vector<std::vector<ir::Dim>> dims;  ///< declared input dims (empty entry: the tensor's shape)
    int outputs = 1;
    int threads = 1;

    std::unique_ptr<ir::Graph> g = std::make_unique<ir::Graph>("t");
    ir::Node* node = nullptr;

    Status build() {
        std::vector<ir::Value*> ins;
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (!inputs[i].defined()) {
                ins.push_back(nullptr);
                continue;
            }
            ir::ValueType t = ir::ValueType::tensor(inputs[i].dtype(), inputs[i].shape());
            if (i < dims.size() && !dims[i].empty()) t = ir::ValueType::tensor(inputs[i].dtype(), dims[i]);
            NNPORT_ASSIGN_OR_RETURN(ir::Value * v, g->add_value("in" + std::to_string(i), t));
            if (i < constant.size() && constant[i]) v->set_initializer(inputs[i]);
            ins.push_back(v);
        }
        std::vector<std::string> outs;
        for (int i = 0; i < outputs; ++i) outs.push_back("out" + std::to_string(i));
        NNPORT_ASSIGN_OR_RETURN(node, g->add_node(op, domain, "n", ins, outs));
        node->attrs = attrs;
        node->opset = domain.empty() ? 18 : 1;
        node->def = find_op(domain, op);
        if (!node->def) return unsupported("no op " + op);
        return Status::ok();
    }
    ConstantFn constant_fn() const {
        return [](const ir::Value* v) { return v && v->has_initializer() ? &v->initializer() : nullptr; };
    }
    Support supports() {
        if (!node) {
            EXPECT_TRUE(build().is_ok());
        }
        return dnnl_backend().supports(*node, constant_fn());
    }
    Result<std::unique_ptr<BackendKernel>> prepare() {
        if (!node) NNPORT_RETURN_IF_ERROR(build());
        PrepareContext pc;
        pc.constant = constant_fn();
        pc.threads = threads;
        return dnnl_backend().prepare(*node, pc);
    }
    /// Runs `kernel` (nullptr: the reference kernel) on `in` (default: the build inputs).
    Result<std::vector<Tensor>> run(BackendKernel* kernel, const std::vector<Tensor>* in = nullptr) const {
        const std::vector<Tensor>& x = in ? *in : inputs;
        std::vector<RtValue> vals(x.size());
        std::vector<const RtValue*> ptrs;
        for (size_t i = 0; i < x.size(); ++i) {
            if (x[i].defined()) vals[i] = RtValue(x[i]);
            ptrs.push_back(x[i].defined() ? &vals[i] : nullptr);
        }
        std::vector<RtValue> outs(static_cast<size_t>(outputs));
        KernelContext ctx(*node, *node->def, ptrs, &outs, nullptr, nullptr);
        NNPORT_RETURN_IF_ERROR(kernel ? kernel->run(ctx) : node->def->kernel(ctx));
        std::vector<Tensor> r;
        for (RtValue& v : outs) r.push_back(v.tensor);
        return r;
    }
};

void expect_close(const Tensor& got, const Tensor& want, double rtol = 1e-4, double atol = 1e-5) {
    ASSERT_EQ(got.shape(), want.shape());
    ASSERT_EQ(got.dtype(), DType::kFloat32);
    int bad = 0;
    for (int64_t i = 0; i < got.numel() && bad < 5; ++i) {
        const double a = got.data<float>()[i], b = want.data<float>()[i];
        if (!(std::fabs(a - b) <= atol + rtol * std::fabs(b))) {
            ADD_FAILURE() << "element " << i << ": onednn " << a << " vs ref " << b;
            ++bad;
        }
    }
}

/// Prepares `t` on oneDNN, runs it and the reference on the same inputs (and on each of `more` input sets, with the
/// same prepared kernel), and compares.
void check(OneNode& t, const std::vector<std::vector<Tensor>>& more = {}, double rtol = 1e-4, double atol = 1e-5) {
    const Support s = t.supports();
    ASSERT_TRUE(s.ok) << s.reason;
    auto k = t.prepare();
    ASSERT_TRUE(k.is_ok()) << k.status().message();
    ASSERT_NE(k.value(), nullptr);
    std::vector<std::vector<Tensor>> sets = {t.inputs};
    sets.insert(sets.end(), more.begin(), more.end());
    for (const auto& in : sets) {
        auto got = t.run(k.value().get(), &in);
        ASSERT_TRUE(got.is_ok()) << got.status().message();
        auto want = t.run(nullptr, &in);
        ASSERT_TRUE(want.is_ok()) << want.status().message();
        ASSERT_EQ(got.value().size(), want.value().size());
        for (size_t i = 0; i < got.value().size(); ++i) expect_close(got.value()[i], want.value()[i], rtol, atol);
    }
}

Attribute ints(std::vector<int64_t> v) { return Attribute::make_ints(std::move(v)); }
Attribute i1(int64_t v) { return Attribute::make_int(v); }
Attribute f1(float v) { return Attribute::make_float(v); }
Attribute str(std::string v) { return Attribute::make_string(std::move(v)); }

struct Act {
    std::string name;
    std::vector<float> params;
};
const std::vector<Act> kActs = {
    {"Identity", {}},  {"Relu", {}},       {"Clip", {-0.2f, 0.3f}}, {"LeakyRelu", {0.1f}},
    {"Sigmoid", {}},   {"Tanh", {}},       {"HardSwish", {}},       {"HardSigmoid", {0.3f, 0.4f}},
    {"Swish", {1.5f}}, {"Gelu", {}},       {"GeluTanh", {}},        {"Clip", {}},
    {"Relu", {}},      {"LeakyRelu", {}},  {"HardSigmoid", {}},     {"Swish", {}},
};

// ---- Conv -----------------------------------------------------------------------------------------------------------

/// An NhwcConv / NhwcFusedConv node: X [N, H, W, C], W [M, C/group, kH, kW] constant, bias constant.
OneNode nhwc_conv(Shape x, int64_t m, int64_t kh, int64_t kw, ir::Attributes attrs, bool bias = true,
                  uint32_t seed = 1) {
    OneNode t;
    t.op = "NhwcConv";
    t.domain = "com.nnport";
    const int64_t group = attrs.count("group") ? attrs.at("group").i : 1;
    const int64_t c = x[3];
    t.inputs = {random_f32(x, seed), random_f32({m, c / group, kh, kw}, seed + 1),
                bias ? random_f32({m}, seed + 2) : Tensor()};
    t.constant = {false, true, true};
    t.attrs = std::move(attrs);
    return t;
}

TEST(OneDnnConv, Basic3x3Pad1) {
    auto t = nhwc_conv({1, 8, 8, 3}, 4, 3, 3, {{"pads", ints({1, 1, 1, 1})}});
    check(t);
}

TEST(OneDnnConv, NoBiasStride2) {
    auto t = nhwc_conv({2, 9, 11, 5}, 6, 3, 3, {{"strides", ints({2, 2})}}, false);
    check(t);
}

TEST(OneDnnConv, DilationAsymmetricPads) {
    auto t = nhwc_conv({1, 12, 10, 4}, 8, 3, 2, {{"dilations", ints({2, 3})}, {"pads", ints({0, 1, 2, 1})}});
    check(t);
}

TEST(OneDnnConv, StridesWithRemainder) {
    // (10 + 1 - 3) / 3 leaves a remainder: the last input rows are never read.
    auto t = nhwc_conv({1, 10, 11, 3}, 5, 3, 3, {{"strides", ints({3, 2})}, {"pads", ints({1, 0, 0, 0})}});
    check(t);
}

TEST(OneDnnConv, AutoPad) {
    for (const char* ap : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
        SCOPED_TRACE(ap);
        auto t = nhwc_conv({1, 9, 8, 3}, 4, 4, 3, {{"auto_pad", str(ap)}, {"strides", ints({2, 2})}});
        check(t);
    }
}

TEST(OneDnnConv, Grouped) {
    auto t = nhwc_conv({1, 7, 7, 8}, 12, 3, 3, {{"group", i1(4)}, {"pads", ints({1, 1, 1, 1})}});
    check(t);
}

TEST(OneDnnConv, Depthwise) {
    auto t = nhwc_conv({1, 10, 10, 16}, 16, 3, 3, {{"group", i1(16)}, {"pads", ints({1, 1, 1, 1})}});
    check(t);
    auto s2 = nhwc_conv({2, 11, 11, 32}, 32, 5, 5,
                        {{"group", i1(32)}, {"pads", ints({2, 2, 2, 2})}, {"strides", ints({2, 2})}});
    check(s2);
    auto mult = nhwc_conv({1, 6, 6, 8}, 16, 3, 3, {{"group", i1(8)}});  // channel multiplier 2
    check(mult);
    auto big = nhwc_conv({1, 14, 14, 24}, 24, 7, 7, {{"group", i1(24)}, {"pads", ints({3, 3, 3, 3})}});
    check(big);
}

TEST(OneDnnConv, PointwiseAndStem) {
    auto pw = nhwc_conv({2, 14, 14, 64}, 96, 1, 1, {});
    check(pw);
    auto stem = nhwc_conv({1, 32, 32, 3}, 16, 7, 7, {{"strides", ints({2, 2})}, {"pads", ints({3, 3, 3, 3})}});
    check(stem);
    auto wide = nhwc_conv({1, 7, 7, 256}, 64, 3, 3, {{"pads", ints({1, 1, 1, 1})}});
    check(wide, {}, 1e-4, 1e-4);
}

TEST(OneDnnConv, KernelShapeAttributeMatches) {
    auto t = nhwc_conv({1, 6, 6, 2}, 3, 3, 3, {{"kernel_shape", ints({3, 3})}});
    check(t);
}

TEST(OneDnnConv, FusedActivationsWithAndWithoutResidual) {
    for (bool residual : {false, true}) {
        for (const Act& a : kActs) {
            SCOPED_TRACE(a.name + (residual ? " +Z" : ""));
            auto t = nhwc_conv({1, 6, 7, 8}, 8, 3, 3, {{"pads", ints({1, 1, 1, 1})}, {"activation", str(a.name)}});
            if (!a.params.empty()) t.attrs["activation_params"] = Attribute::make_floats(a.params);
            t.op = "NhwcFusedConv";
            if (residual) {
                t.inputs.push_back(random_f32({1, 6, 7, 8}, 99));
                t.constant.push_back(false);
            }
            check(t);
        }
    }
}

TEST(OneDnnConv, SwishRunsAfterThePrimitiveOnEveryThread) {
    // Swish is applied by nnport's vector epilogue over the finished output (not oneDNN's post-op): an output large
    // enough to be split across threads (73728 values, over the epilogue's 2 x 32768), with and without the residual,
    // and the SiLU alpha of 1 as well as another one.
    for (bool residual : {false, true}) {
        for (float alpha : {1.0f, 0.7f}) {
            SCOPED_TRACE(std::to_string(alpha) + (residual ? " +Z" : ""));
            auto t = nhwc_conv({1, 48, 48, 8}, 32, 1, 1, {{"activation", str("Swish")}});
            t.attrs["activation_params"] = Attribute::make_floats({alpha});
            t.op = "NhwcFusedConv";
            t.threads = 2;
            if (residual) {
                t.inputs.push_back(random_f32({1, 48, 48, 32}, 98));
                t.constant.push_back(false);
            }
            check(t);
        }
    }
}

TEST(OneDnnConv, ResidualMayBeComputedInPlace) {
    // With Z the memory planner may give the output Z's buffer (the sum post-op accumulates into it); never X's.
    auto t = nhwc_conv({1, 6, 7, 8}, 8, 1, 1, {{"activation", str("Relu")}});
    t.op = "NhwcFusedConv";
    auto plain = t.prepare();
    ASSERT_TRUE(plain.is_ok()) << plain.status().message();
    EXPECT_EQ(plain.value()->inplace_input(), -1);
    t.inputs.push_back(random_f32({1, 6, 7, 8}, 99));
    t.constant.push_back(false);
    t.g = std::make_unique<ir::Graph>("t");  // rebuilt with Z
    t.node = nullptr;
    auto with_z = t.prepare();
    ASSERT_TRUE(with_z.is_ok()) << with_z.status().message();
    EXPECT_EQ(with_z.value()->inplace_input(), 3);
}

TEST(OneDnnConv, FusedResidualGroupedStrided) {
    auto t = nhwc_conv({2, 9, 9, 12}, 6, 3, 3,
                       {{"group", i1(3)}, {"strides", ints({2, 2})}, {"activation", str("Relu")}}, false);
    t.op = "NhwcFusedConv";
    t.inputs.push_back(random_f32({2, 4, 4, 6}, 5));  // no bias: Z is input 3
    t.constant = {false, true, false, false};
    check(t);
}

TEST(OneDnnConv, ShapesChangeBetweenRuns) {
    auto t = nhwc_conv({1, 8, 8, 4}, 6, 3, 3, {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 1})}});
    t.dims = {{ir::Dim::symbol("n"), ir::Dim::symbol("h"), ir::Dim::symbol("w"), 4}};
    auto other = [&](Shape s, uint32_t seed) {
        std::vector<Tensor> in = t.inputs;
        in[0] = random_f32(std::move(s), seed);
        return in;
    };
    check(t, {other({1, 13, 9, 4}, 7), other({3, 5, 16, 4}, 8), other({1, 8, 8, 4}, 9), other({1, 13, 9, 4}, 10)});
}

TEST(OneDnnConv, SamePadShapesChangeBetweenRuns) {
    auto t = nhwc_conv({1, 8, 8, 4}, 6, 3, 3, {{"auto_pad", str("SAME_LOWER")}, {"strides", ints({2, 2})}});
    t.dims = {{1, ir::Dim::symbol("h"), ir::Dim::symbol("w"), 4}};
    std::vector<Tensor> in = t.inputs;
    in[0] = random_f32({1, 11, 6, 4}, 3);
    check(t, {in});
}

TEST(OneDnnConv, TwoThreads) {
    auto t = nhwc_conv({1, 16, 16, 32}, 32, 3, 3, {{"pads", ints({1, 1, 1, 1})}});
    t.threads = 2;
    check(t);
}

TEST(OneDnnConv, ConcurrentRunsOfOneKernel) {
    // Several threads run one prepared kernel at once, each on its own input size (cache lookups and inserts race).
    auto t = nhwc_conv({1, 8, 8, 8}, 8, 3, 3, {{"pads", ints({1, 1, 1, 1})}, {"activation", str("Relu")}});
    t.op = "NhwcFusedConv";
    t.inputs.push_back(random_f32({1, 8, 8, 8}, 9));
    t.constant.push_back(false);
    t.dims = {{1, ir::Dim::symbol("h"), ir::Dim::symbol("w"), 8}, {}, {}, {1, ir::Dim::symbol("h"), ir::Dim::symbol("w"), 8}};
    auto k = t.prepare();
    ASSERT_TRUE(k.is_ok()) << k.status().message();
    constexpr int kThreads = 6;
    std::vector<std::vector<Tensor>> ins(kThreads), got(kThreads);
    std::vector<Status> st(kThreads, Status::ok());
    for (int i = 0; i < kThreads; ++i) {
        const int64_t h = 5 + i % 3, w = 6 + i;
        ins[i] = {random_f32({1, h, w, 8}, 100 + i), t.inputs[1], t.inputs[2], random_f32({1, h, w, 8}, 200 + i)};
    }
    std::vector<std::thread> pool;
    for (int i = 0; i < kThreads; ++i) {
        pool.emplace_back([&, i] {
            for (int rep = 0; rep < 20 && st[i].is_ok(); ++rep) {
                auto r = t.run(k.value().get(), &ins[i]);
                if (!r.is_ok()) st[i] = r.status();
                else got[i] = std::move(r).value();
            }
        });
    }
    for (auto& th : pool) th.join();
    for (int i = 0; i < kThreads; ++i) {
        ASSERT_TRUE(st[i].is_ok()) << st[i].message();
        auto want = t.run(nullptr, &ins[i]);
        ASSERT_TRUE(want.is_ok()) << want.status().message();
        expect_close(got[i][0], want.value()[0]);
    }
}

TEST(OneDnnConv, NchwConvIsAnsweredChannelsLast) {
    OneNode t;
    t.op = "Conv";
    t.inputs = {random_f32({1, 3, 8, 8}, 1), random_f32({4, 3, 3, 3}, 2)};
    t.constant = {false, true};
    const Support s = t.supports();
    ASSERT_TRUE(s.ok) << s.reason;
    EXPECT_EQ(s.layout, Layout::kNHWC);
    check(t);  // the kernel runs the NCHW form too
    OneNode f;
    f.op = "FusedConv";
    f.domain = "com.nnport";
    f.inputs = {random_f32({1, 3, 8, 8}, 1), random_f32({4, 3, 3, 3}, 2), random_f32({4}, 3),
                random_f32({1, 4, 6, 6}, 4)};
    f.constant = {false, true, true, false};
    f.attrs = {{"activation", str("Relu")}};
    EXPECT_EQ(f.supports().layout, Layout::kNHWC);
    check(f);
}

TEST(OneDnnConv, RejectsWithReasons) {
    auto expect_no = [](OneNode t, const std::string& what) {
        const Support s = t.supports();
        EXPECT_FALSE(s.ok) << what;
        EXPECT_NE(s.reason.find(what), std::string::npos) << s.reason;
        EXPECT_FALSE(t.prepare().is_ok());
    };
    auto f64 = nhwc_conv({1, 4, 4, 2}, 2, 3, 3, {});
    f64.inputs[0] = std::move(Tensor::create(DType::kFloat64, {1, 4, 4, 2}, true)).value();
    expect_no(std::move(f64), "float32");
    auto wvar = nhwc_conv({1, 4, 4, 2}, 2, 3, 3, {});
    wvar.constant = {false, false, true};
    expect_no(std::move(wvar), "weights are not constant");
    auto bvar = nhwc_conv({1, 4, 4, 2}, 2, 3, 3, {});
    bvar.constant = {false, true, false};
    expect_no(std::move(bvar), "bias is not constant");
    OneNode c3;
    c3.op = "Conv";
    c3.inputs = {random_f32({1, 2, 4, 4, 4}, 1), random_f32({2, 2, 3, 3, 3}, 2)};
    c3.constant = {false, true};
    expect_no(std::move(c3), "2-D");
    auto act = nhwc_conv({1, 4, 4, 2}, 2, 3, 3, {{"activation", str("Softsign")}});
    act.op = "NhwcFusedConv";
    expect_no(std::move(act), "unknown activation");
    auto ks = nhwc_conv({1, 4, 4, 2}, 2, 3, 3, {{"kernel_shape", ints({2, 2})}});
    expect_no(std::move(ks), "kernel_shape");
    auto ch = nhwc_conv({1, 4, 4, 2}, 2, 3, 3, {});
    ch.inputs[1] = random_f32({2, 3, 3, 3}, 4);
    expect_no(std::move(ch), "channels");
    auto small = nhwc_conv({1, 2, 2, 2}, 2, 3, 3, {});
    expect_no(std::move(small), "smaller than the window");
}

TEST(OneDnnConv, BadRunTimeInputIsAnError) {
    auto t = nhwc_conv({1, 8, 8, 4}, 4, 3, 3, {});
    t.dims = {{1, ir::Dim::symbol("h"), ir::Dim::symbol("w"), ir::Dim::symbol("c")}};
    auto k = t.prepare();
    ASSERT_TRUE(k.is_ok()) << k.status().message();
    std::vector<Tensor> in = t.inputs;
    in[0] = random_f32({1, 8, 8, 5}, 3);
    auto r = t.run(k.value().get(), &in);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("'n'"), std::string::npos) << r.status().message();
    in[0] = random_f32({1, 2, 8, 4}, 3);
    r = t.run(k.value().get(), &in);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("smaller than the window"), std::string::npos) << r.status().message();
}

// ---- Pooling --------------------------------------------------------------------------------------------------------

OneNode nhwc_pool(const char* op, Shape x, ir::Attributes attrs, uint32_t seed = 3) {
    OneNode t;
    t.op = std::string("Nhwc") + op;
    t.domain = "com.nnport";
    t.inputs = {random_f32(std::move(x), seed)};
    t.attrs = std::move(attrs);
    return t;
}

TEST(OneDnnPool, MaxPool) {
    auto r50 = nhwc_pool("MaxPool", {1, 16, 16, 8},
                         {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}});
    check(r50);
    auto ceil = nhwc_pool("MaxPool", {2, 13, 13, 5},
                          {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"ceil_mode", i1(1)}});
    check(ceil);
    auto dil = nhwc_pool("MaxPool", {1, 12, 11, 3},
                         {{"kernel_shape", ints({2, 3})}, {"dilations", ints({2, 2})}, {"pads", ints({1, 0, 1, 2})}});
    check(dil);
    auto same = nhwc_pool("MaxPool", {1, 9, 10, 4},
                          {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"auto_pad", str("SAME_UPPER")}});
    check(same);
    auto neg = nhwc_pool("MaxPool", {1, 6, 6, 4}, {{"kernel_shape", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}});
    for (int64_t i = 0; i < neg.inputs[0].numel(); ++i) neg.inputs[0].data<float>()[i] -= 2.0f;  // padding is not 0
    check(neg);
}

TEST(OneDnnPool, AveragePool) {
    for (int64_t include : {0, 1}) {
        SCOPED_TRACE(include);
        auto p = nhwc_pool("AveragePool", {1, 11, 11, 6},
                           {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})},
                            {"count_include_pad", i1(include)}});
        check(p);
        auto asym = nhwc_pool("AveragePool", {2, 8, 9, 3},
                              {{"kernel_shape", ints({2, 3})}, {"pads", ints({0, 1, 1, 2})},
                               {"count_include_pad", i1(include)}});
        check(asym);
        auto same = nhwc_pool("AveragePool", {1, 7, 8, 3},
                              {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})},
                               {"auto_pad", str("SAME_LOWER")}, {"count_include_pad", i1(include)}});
        check(same);
        auto dil = nhwc_pool("AveragePool", {1, 12, 12, 2},
                             {{"kernel_shape", ints({3, 3})}, {"dilations", ints({2, 2})}, {"pads", ints({2, 2, 2, 2})},
                              {"count_include_pad", i1(include)}});
        check(dil);
    }
    // ceil_mode overhang past the end padding: excluded padding matches ONNX.
    auto ceil = nhwc_pool("AveragePool", {1, 12, 12, 4},
                          {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"ceil_mode", i1(1)}});
    check(ceil);
    // count_include_pad with ceil_mode but no overhang: supported.
    auto fits = nhwc_pool("AveragePool", {1, 11, 11, 4},
                          {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})},
                           {"ceil_mode", i1(1)}, {"count_include_pad", i1(1)}});
    check(fits);
}

TEST(OneDnnPool, GlobalPools) {
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
        SCOPED_TRACE(op);
        auto p = nhwc_pool(op, {2, 7, 7, 64}, {});
        check(p);
        auto odd = nhwc_pool(op, {1, 1, 5, 3}, {});
        check(odd);
    }
}

TEST(OneDnnPool, ShapesChangeBetweenRuns) {
    auto p = nhwc_pool("MaxPool", {1, 16, 16, 8},
                       {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}});
    p.dims = {{ir::Dim::symbol("n"), ir::Dim::symbol("h"), ir::Dim::symbol("w"), 8}};
    check(p, {{random_f32({2, 9, 12, 8}, 4)}, {random_f32({1, 16, 16, 8}, 5)}});
    auto g = nhwc_pool("GlobalAveragePool", {1, 7, 7, 8}, {});
    g.dims = {{ir::Dim::symbol("n"), ir::Dim::symbol("h"), ir::Dim::symbol("w"), 8}};
    check(g, {{random_f32({3, 4, 9, 8}, 6)}, {random_f32({1, 7, 7, 8}, 7)}});
}

TEST(OneDnnPool, NchwFormsAreAnsweredChannelsLast) {
    for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"}) {
        SCOPED_TRACE(op);
        OneNode t;
        t.op = op;
        t.inputs = {random_f32({1, 4, 9, 9}, 2)};
        if (std::string(op).rfind("Global", 0) != 0) t.attrs = {{"kernel_shape", ints({3, 3})}};
        const Support s = t.supports();
        ASSERT_TRUE(s.ok) << s.reason;
        EXPECT_EQ(s.layout, Layout::kNHWC);
        check(t);
    }
}

TEST(OneDnnPool, RejectsWithReasons) {
    auto over = nhwc_pool("AveragePool", {1, 12, 12, 4},
                          {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"ceil_mode", i1(1)},
                           {"count_include_pad", i1(1)}});
    Support s = over.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("ceil_mode"), std::string::npos) << s.reason;
    auto dyn = nhwc_pool("AveragePool", {1, 12, 12, 4},
                         {{"kernel_shape", ints({3, 3})}, {"ceil_mode", i1(1)}, {"count_include_pad", i1(1)}});
    dyn.dims = {{1, ir::Dim::symbol("h"), 12, 4}};
    EXPECT_FALSE(dyn.supports().ok);
    OneNode idx;
    idx.op = "MaxPool";
    idx.inputs = {random_f32({1, 2, 6, 6}, 1)};
    idx.attrs = {{"kernel_shape", ints({2, 2})}};
    idx.outputs = 2;
    s = idx.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("Indices"), std::string::npos) << s.reason;
    OneNode d3;
    d3.op = "MaxPool";
    d3.inputs = {random_f32({1, 2, 6, 6, 6}, 1)};
    d3.attrs = {{"kernel_shape", ints({2, 2, 2})}};
    EXPECT_FALSE(d3.supports().ok);
    OneNode f64;
    f64.op = "GlobalAveragePool";
    f64.inputs = {std::move(Tensor::create(DType::kFloat64, {1, 2, 3, 3}, true)).value()};
    s = f64.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("float32"), std::string::npos) << s.reason;
}

// ---- MatMul / Gemm --------------------------------------------------------------------------------------------------

/// Leading dim symbolic: small test products are not declined as too small (the decision needs static sizes).
std::vector<ir::Dim> lead_symbolic(const Shape& s, const char* name = "m") {
    std::vector<ir::Dim> d(s.begin(), s.end());
    d[0] = ir::Dim::symbol(name);
    return d;
}

OneNode matmul(Shape a, Shape b, bool const_b = true, const char* op = "MatMul", const char* domain = "") {
    OneNode t;
    t.op = op;
    t.domain = domain;
    t.dims = {lead_symbolic(a), const_b ? std::vector<ir::Dim>{} : lead_symbolic(b, "b")};
    t.inputs = {random_f32(std::move(a), 11), random_f32(std::move(b), 12)};
    t.constant = {false, const_b};
    return t;
}

TEST(OneDnnMatMul, ConstantB) {
    auto r2 = matmul({7, 16}, {16, 24});
    check(r2);
    auto r4 = matmul({2, 3, 5, 16}, {16, 9});
    check(r4);
    auto r1 = matmul({16}, {16, 5});
    check(r1);
    auto big = matmul({197, 768}, {768, 64});
    check(big, {}, 1e-4, 1e-4);
}

TEST(OneDnnMatMul, RowsChangeBetweenRuns) {
    auto t = matmul({4, 3, 32}, {32, 20});
    t.dims = {{ir::Dim::symbol("b"), ir::Dim::symbol("s"), 32}};
    check(t, {{random_f32({1, 7, 32}, 1), t.inputs[1]},
              {random_f32({5, 1, 32}, 2), t.inputs[1]},
              {t.inputs[0], t.inputs[1]}});
}

TEST(OneDnnMatMul, FusedMatMulBiasAndActivations) {
    for (bool const_bias : {true, false}) {
        for (const Act& a : kActs) {
            SCOPED_TRACE(a.name + (const_bias ? " const bias" : " run-time bias"));
            auto t = matmul({2, 6, 16}, {16, 12}, true, "FusedMatMul", "com.nnport");
            t.inputs.push_back(random_f32({12}, 13));
            t.constant.push_back(const_bias);
            t.attrs = {{"activation", str(a.name)}};
            if (!a.params.empty()) t.attrs["activation_params"] = Attribute::make_floats(a.params);
            check(t);
        }
    }
    auto nobias = matmul({3, 16}, {16, 8}, true, "FusedMatMul", "com.nnport");
    nobias.attrs = {{"activation", str("Gelu")}};
    check(nobias);
}

/// Gemm [5, 12] x [12, 7]; `c` (when given) constant or not.
OneNode gemm(bool ta, bool tb, float alpha, float beta, std::optional<Shape> c, bool const_c,
             const char* op = "Gemm", const char* domain = "") {
    const int64_t m = 5, k = 12, n = 7;
    OneNode t;
    t.op = op;
    t.domain = domain;
    t.inputs = {random_f32(ta ? Shape{k, m} : Shape{m, k}, 21), random_f32(tb ? Shape{n, k} : Shape{k, n}, 22)};
    t.dims = {{ir::Dim::symbol("a0"), ir::Dim::symbol("a1")}};
    t.constant = {false, true};
    if (c) {
        t.inputs.push_back(random_f32(*c, 23));
        t.constant.push_back(const_c);
    }
    t.attrs = {{"transA", i1(ta)}, {"transB", i1(tb)}, {"alpha", f1(alpha)}, {"beta", f1(beta)}};
    return t;
}

TEST(OneDnnMatMul, StaticShapesPreparedAtLoad) {
    for (bool const_b : {true, false}) {
        auto t = matmul({2, 64, 96}, {2, 96, 48}, const_b);
        if (const_b) t.inputs[1] = random_f32({96, 48}, 3);
        t.dims.clear();
        check(t);
    }
    auto g = gemm(true, false, 0.5f, 2.0f, Shape{1, 7}, true);
    g.inputs = {random_f32({512, 64}, 1), random_f32({512, 7}, 2),
                random_f32({1, 7}, 3)};  // [64, 512] x [512, 7] after transA
    g.dims.clear();
    check(g);
}

TEST(OneDnnMatMul, TinyStaticProductsAreLeftToTheReference) {
    for (bool const_b : {true, false}) {
        auto t = matmul({4, 32}, {32, 32}, const_b);
        t.dims.clear();
        const Support s = t.supports();
        EXPECT_FALSE(s.ok);
        EXPECT_NE(s.reason.find("too small"), std::string::npos) << s.reason;
    }
    auto bmm = matmul({4, 16, 32}, {4, 32, 32}, false);  // 64K multiply-adds
    bmm.dims.clear();
    EXPECT_FALSE(bmm.supports().ok);
    auto big = matmul({8, 32, 32}, {8, 32, 32}, false);  // 256K
    big.dims.clear();
    EXPECT_TRUE(big.supports().ok);
    auto g = gemm(false, true, 1.0f, 1.0f, Shape{7}, true);
    g.dims.clear();
    EXPECT_FALSE(g.supports().ok);
}

TEST(OneDnnGemm, Forms) {
    for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
            SCOPED_TRACE(std::to_string(ta) + std::to_string(tb));
            auto t = gemm(ta, tb, 1.0f, 1.0f, Shape{7}, true);
            check(t);
            auto s = gemm(ta, tb, 0.5f, 2.0f, Shape{1, 7}, true);
            check(s);
        }
    }
    auto noc = gemm(false, true, 1.5f, 1.0f, std::nullopt, false);
    check(noc);
}

TEST(OneDnnGemm, BiasShapesConstantAndRunTime) {
    for (bool const_c : {true, false}) {
        for (Shape c : {Shape{7}, Shape{1, 7}, Shape{5, 7}, Shape{5, 1}, Shape{1, 1}, Shape{1}, Shape{}}) {
            SCOPED_TRACE(shape_to_string(c) + (const_c ? " const" : " run-time"));
            auto t = gemm(false, true, 0.7f, 1.3f, c, const_c);
            check(t);
        }
    }
    auto beta0 = gemm(true, false, 1.0f, 0.0f, Shape{5, 7}, false);
    check(beta0);
}

TEST(OneDnnGemm, FusedGemmActivations) {
    for (const Act& a : kActs) {
        SCOPED_TRACE(a.name);
        auto t = gemm(false, true, 1.0f, 1.0f, Shape{5, 7}, false, "FusedGemm", "com.nnport");
        t.attrs["activation"] = str(a.name);
        if (!a.params.empty()) t.attrs["activation_params"] = Attribute::make_floats(a.params);
        check(t);
        auto r = gemm(false, false, 2.0f, 0.5f, Shape{7}, true, "FusedGemm", "com.nnport");
        r.attrs["activation"] = str(a.name);
        if (!a.params.empty()) r.attrs["activation_params"] = Attribute::make_floats(a.params);
        check(r);
    }
}

TEST(OneDnnMatMul, RunTimeBatched) {
    auto same = matmul({2, 3, 4, 5}, {2, 3, 5, 6}, false);
    check(same);
    auto bcast = matmul({1, 3, 4, 5}, {2, 1, 5, 6}, false);
    check(bcast);
    auto lower = matmul({4, 5}, {2, 5, 6}, false);
    check(lower);
    auto attn = matmul({1, 12, 197, 64}, {1, 12, 64, 197}, false);
    check(attn, {}, 1e-4, 1e-4);
    auto b4 = matmul({3, 8, 16}, {16, 8}, false);  // run-time 2-D B
    check(b4);
}

TEST(OneDnnMatMul, RunTimeBatchedShapesChangeAndFused) {
    auto t = matmul({2, 4, 8}, {2, 8, 3}, false, "FusedMatMul", "com.nnport");
    t.inputs.push_back(random_f32({3}, 5));
    t.constant.push_back(false);
    t.attrs = {{"activation", str("Tanh")}};
    t.dims = {{ir::Dim::symbol("b"), ir::Dim::symbol("m"), 8}, {ir::Dim::symbol("b"), 8, 3}};
    check(t, {{random_f32({5, 1, 8}, 1), random_f32({5, 8, 3}, 2), t.inputs[2]},
              {random_f32({1, 9, 8}, 3), random_f32({4, 8, 3}, 4), t.inputs[2]}});
}

TEST(OneDnnMatMul, RejectsWithReasons) {
    OneNode i;
    i.op = "MatMul";
    i.inputs = {Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4}), Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4})};
    Support s = i.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("float32"), std::string::npos) << s.reason;
    auto g = gemm(false, false, 1.0f, 1.0f, Shape{7}, true);
    g.constant[1] = false;
    s = g.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("constant"), std::string::npos) << s.reason;
    auto v = matmul({4}, {4, 3}, false);
    s = v.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("rank"), std::string::npos) << s.reason;
    auto act = matmul({2, 4}, {4, 3}, true, "FusedMatMul", "com.nnport");
    act.attrs = {{"activation", str("Elu")}};
    EXPECT_FALSE(act.supports().ok);
    auto bias = matmul({2, 4}, {4, 3}, true, "FusedMatMul", "com.nnport");
    bias.inputs.push_back(random_f32({5}, 1));
    bias.constant.push_back(true);
    s = bias.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("bias"), std::string::npos) << s.reason;
}

TEST(OneDnnMatMul, BadRunTimeInputIsAnError) {
    auto t = matmul({3, 16}, {16, 4});
    t.dims = {{3, ir::Dim::symbol("k")}};
    auto k = t.prepare();
    ASSERT_TRUE(k.is_ok()) << k.status().message();
    std::vector<Tensor> in = {random_f32({3, 15}, 1), t.inputs[1]};
    auto r = t.run(k.value().get(), &in);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("inner dimension"), std::string::npos) << r.status().message();
    auto b = matmul({2, 3, 4}, {3, 4, 5}, false);
    b.dims = {{ir::Dim::symbol("x"), 3, 4}, {ir::Dim::symbol("y"), 4, 5}};
    auto kb = b.prepare();
    ASSERT_TRUE(kb.is_ok()) << kb.status().message();
    auto rb = b.run(kb.value().get());
    ASSERT_FALSE(rb.is_ok());
}

// ---- LayerNormalization / Softmax -----------------------------------------------------------------------------------

OneNode layer_norm(Shape x, bool bias, const char* domain = "") {
    OneNode t;
    t.op = "LayerNormalization";
    t.domain = domain;
    const int64_t c = x.back();
    t.inputs = {random_f32(std::move(x), 31), random_f32({c}, 32), bias ? random_f32({c}, 33) : Tensor()};
    t.constant = {false, true, true};
    t.attrs = {{"axis", i1(-1)}, {"epsilon", f1(1e-5f)}};
    return t;
}

TEST(OneDnnNorm, LayerNormalization) {
    auto t = layer_norm({2, 5, 32}, true);
    check(t, {}, 1e-4, 1e-4);
    auto nb = layer_norm({7, 768}, false);
    check(nb, {}, 1e-4, 1e-4);
    auto alias = layer_norm({1, 3, 4, 64}, true, "com.nnport");
    alias.attrs["axis"] = i1(3);
    alias.attrs["epsilon"] = f1(1e-3f);
    check(alias, {}, 1e-4, 1e-4);
    auto rt = layer_norm({4, 16}, true);
    rt.constant = {false, false, false};
    rt.dims = {{ir::Dim::symbol("r"), 16}};
    check(rt, {{random_f32({9, 16}, 1), rt.inputs[1], rt.inputs[2]}}, 1e-4, 1e-4);
}

TEST(OneDnnNorm, Softmax) {
    OneNode t;
    t.op = "Softmax";
    t.inputs = {random_f32({2, 12, 17, 33}, 41, -4.0f, 4.0f)};
    t.attrs = {{"axis", i1(-1)}};
    check(t);
    OneNode two;
    two.op = "Softmax";
    two.inputs = {random_f32({5, 1000}, 42, -8.0f, 8.0f)};
    two.attrs = {{"axis", i1(1)}};
    two.dims = {{ir::Dim::symbol("b"), 1000}};
    check(two, {{random_f32({1, 1000}, 43)}});
}

TEST(OneDnnNorm, RejectsWithReasons) {
    auto ax = layer_norm({2, 3, 8}, true);
    ax.attrs["axis"] = i1(1);
    Support s = ax.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("last axis"), std::string::npos) << s.reason;
    auto stats = layer_norm({2, 8}, true);
    stats.outputs = 3;
    s = stats.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("Mean"), std::string::npos) << s.reason;
    OneNode sm;
    sm.op = "Softmax";
    sm.inputs = {random_f32({4, 5}, 1)};
    sm.attrs = {{"axis", i1(0)}};
    EXPECT_FALSE(sm.supports().ok);
    OneNode f64;
    f64.op = "Softmax";
    f64.inputs = {std::move(Tensor::create(DType::kFloat64, {2, 3}, true)).value()};
    s = f64.supports();
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("float32"), std::string::npos) << s.reason;
}

// ---- Whole sessions: the partitioner's rewrite into channels-last twins, then the kernels -------------------------
// (A pooling node alone stays NCHW on the reference kernels by the partitioner's rule; pools are covered above and by
// the zoo models, where they sit between channels-last convolutions.)

testing::OpRun op_run(std::string op, std::vector<Tensor> in, std::vector<bool> constant, ir::Attributes attrs = {},
                      std::string domain = "") {
    testing::OpRun r;
    r.op_type = std::move(op);
    r.domain = std::move(domain);
    if (!r.domain.empty()) r.opset = 1;
    r.inputs = std::move(in);
    r.as_initializer = std::move(constant);
    r.attrs = std::move(attrs);
    return r;
}

TEST(OneDnnSession, ConvAndFusedConvRunChannelsLast) {
    testing::expect_backend_matches_ref(
        op_run("Conv", {random_f32({1, 8, 12, 12}, 1), random_f32({16, 8, 3, 3}, 2), random_f32({16}, 3)},
               {false, true, true}, {{"pads", ints({1, 1, 1, 1})}}),
        "onednn");
    testing::expect_backend_matches_ref(
        op_run("Conv", {random_f32({2, 12, 9, 9}, 1), random_f32({12, 1, 3, 3}, 2)}, {false, true},
               {{"group", i1(12)}, {"strides", ints({2, 2})}, {"auto_pad", str("SAME_UPPER")}}),
        "onednn");
    testing::expect_backend_matches_ref(op_run("FusedConv",
                                               {random_f32({1, 8, 10, 10}, 1), random_f32({8, 8, 3, 3}, 2),
                                                random_f32({8}, 3), random_f32({1, 8, 10, 10}, 4)},
                                               {false, true, true, false},
                                               {{"pads", ints({1, 1, 1, 1})},
                                                {"activation", str("Clip")},
                                                {"activation_params", Attribute::make_floats({0.0f, 6.0f})}},
                                               "com.nnport"),
                                        "onednn");
}

TEST(OneDnnSession, MatMulGemmNormSoftmax) {
    testing::expect_backend_matches_ref(
        op_run("MatMul", {random_f32({2, 16, 64}, 1), random_f32({64, 48}, 2)}, {false, true}), "onednn");
    testing::expect_backend_matches_ref(
        op_run("MatMul", {random_f32({2, 4, 32, 16}, 1), random_f32({2, 4, 16, 32}, 2)}, {false, false}), "onednn");
    testing::expect_backend_matches_ref(
        op_run("Gemm", {random_f32({8, 256}, 1), random_f32({100, 256}, 2), random_f32({100}, 3)}, {false, true, true},
               {{"transB", i1(1)}, {"alpha", f1(0.5f)}, {"beta", f1(2.0f)}}),
        "onednn");
    testing::expect_backend_matches_ref(
        op_run("FusedMatMul", {random_f32({3, 20, 64}, 1), random_f32({64, 96}, 2), random_f32({96}, 3)},
               {false, true, true}, {{"activation", str("Gelu")}}, "com.nnport"),
        "onednn");
    testing::OpRun ln =
        op_run("LayerNormalization", {random_f32({2, 10, 48}, 1), random_f32({48}, 2), random_f32({48}, 3)},
               {false, true, true}, {{"axis", i1(-1)}});
    ln.opset = 17;
    testing::expect_backend_matches_ref(ln, "onednn", 1e-4, 1e-4);
    testing::expect_backend_matches_ref(op_run("Softmax", {random_f32({3, 7, 50}, 1, -5.0f, 5.0f)}, {false}), "onednn");
}

TEST(OneDnnSession, DeclinedNodesFallBackWithTheirReason) {
    testing::expect_backend_declines(
        op_run("Conv", {random_f32({1, 2, 4, 4}, 1), random_f32({2, 2, 3, 3}, 2)}, {false, false}), "onednn",
        "weights are not constant");
    testing::expect_backend_declines(op_run("Softmax", {random_f32({3, 7}, 1)}, {false}, {{"axis", i1(0)}}), "onednn",
                                     "last axis");
    testing::expect_backend_declines(op_run("MatMul", {random_f32({2, 3}, 1), random_f32({3, 2}, 2)}, {false, true}),
                                     "onednn", "too small");
}

TEST(OneDnnBackend, SmallPrimitivesRunOnOneThread) {
    using onednn::threads_for;
    EXPECT_EQ(threads_for(1000, onednn::kMacsPerThread, 8), 1);
    EXPECT_EQ(threads_for(3 * onednn::kMacsPerThread, onednn::kMacsPerThread, 8), 3);
    EXPECT_EQ(threads_for(int64_t{1} << 40, onednn::kMacsPerThread, 8), 8);
    EXPECT_EQ(threads_for(int64_t{1} << 40, onednn::kElemsPerThread, 1), 1);
    EXPECT_EQ(threads_for(0, onednn::kElemsPerThread, 4), 1);
}

TEST(OneDnnBackend, RegisteredAndAvailable) {
    const Backend& b = dnnl_backend();
    EXPECT_EQ(b.name(), "onednn");
    EXPECT_TRUE(b.available().ok);
    EXPECT_NE(b.description().find("oneDNN 2."), std::string::npos) << b.description();
    OneNode relu;
    relu.op = "Relu";
    relu.inputs = {random_f32({4}, 1)};
    EXPECT_FALSE(relu.supports().ok);
}

}  // namespace
}  // namespace nnport

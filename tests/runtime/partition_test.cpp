// Partitioning: backend choice in preference order, fallback with reasons, the channels-last rewrite with layout
// conversions only at region boundaries, and the Nhwc* reference kernels (through a test backend that runs them).
#include <atomic>

#include "backends/backend.hpp"
#include "backends/backend_test_util.hpp"
#include "passes/pass_test_util.hpp"

namespace nnport::testing {
namespace {

/// Runs conv and pooling channels-last through the Nhwc* reference kernels; counts the nodes it ran.
class ChannelsLastTestBackend final : public Backend {
public:
    std::string_view name() const override { return "test_nhwc"; }
    std::string description() const override { return "test: Nhwc* reference kernels"; }
    Support supports(const ir::Node& n, const ConstantFn& constant) const override {
        const std::string& op = n.op_type();
        if (op.rfind("Nhwc", 0) == 0) return Support::yes(Layout::kNHWC);
        if (op == "Conv" || op == "FusedConv") {
            if (!constant(n.input(1))) return Support::no("weights are not constant");
            return Support::yes(Layout::kNHWC);
        }
        if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GlobalMaxPool") {
            return Support::yes(Layout::kNHWC);
        }
        return Support::no("not a conv or pooling op");
    }
    Result<std::unique_ptr<BackendKernel>> prepare(const ir::Node& n, const PrepareContext&) const override {
        if (n.op_type().rfind("Nhwc", 0) != 0) return internal_error("prepared in NCHW form: " + n.describe());
        return std::unique_ptr<BackendKernel>(new Kernel(n.def->kernel, runs_));
    }
    mutable std::atomic<int> runs_{0};

private:
    struct Kernel final : BackendKernel {
        Kernel(KernelFn f, std::atomic<int>& runs) : fn(f), count(runs) {}
        Status run(KernelContext& ctx) override {
            ++count;
            return fn(ctx);
        }
        KernelFn fn;
        std::atomic<int>& count;
    };
};

ChannelsLastTestBackend& test_backend() {
    static ChannelsLastTestBackend* b = [] {
        auto* p = new ChannelsLastTestBackend();
        EXPECT_TRUE(register_backend(p).is_ok());
        return p;
    }();
    return *b;
}

Tensor random_tensor(Shape s, uint32_t seed) {
    Tensor t = std::move(Tensor::create(DType::kFloat32, s)).value();
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1, 1);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    return t;
}

OpRun conv_run(Shape x, Shape w, ir::Attributes attrs, bool bias = true) {
    OpRun r;
    r.op_type = "Conv";
    r.inputs = {random_tensor(x, 1), random_tensor(w, 2)};
    r.as_initializer = {false, true, true};
    if (bias) r.inputs.push_back(random_tensor({w[0]}, 3));
    r.attrs = std::move(attrs);
    return r;
}

ir::Attribute ints(std::vector<int64_t> v) { return ir::Attribute::make_ints(std::move(v)); }

TEST(Partition, NhwcConvMatchesReference) {
    test_backend();
    expect_backend_matches_ref(conv_run({1, 3, 9, 7}, {4, 3, 3, 3}, {{"pads", ints({1, 0, 2, 1})}}), "test_nhwc");
    expect_backend_matches_ref(conv_run({2, 6, 8, 8}, {6, 2, 3, 3},
                                        {{"group", ir::Attribute::make_int(3)}, {"strides", ints({2, 1})}}),
                               "test_nhwc");
    expect_backend_matches_ref(conv_run({1, 4, 10, 10}, {4, 1, 3, 3},
                                        {{"group", ir::Attribute::make_int(4)},
                                         {"dilations", ints({2, 2})},
                                         {"auto_pad", ir::Attribute::make_string("SAME_UPPER")}},
                                        false),
                               "test_nhwc");
}

TEST(Partition, NhwcFusedConvWithResidualMatchesReference) {
    test_backend();
    OpRun r = conv_run({1, 3, 6, 6}, {5, 3, 3, 3}, {{"pads", ints({1, 1, 1, 1})}});
    r.op_type = "FusedConv";
    r.domain = "com.nnport";
    r.opset = 1;
    r.inputs.push_back(random_tensor({1, 5, 6, 6}, 9));
    r.attrs["activation"] = ir::Attribute::make_string("Relu");
    expect_backend_matches_ref(r, "test_nhwc");
}

TEST(Partition, NhwcPoolingMatchesReference) {
    test_backend();
    // Pooling goes channels-last only behind a channels-last conv: Conv -> pool.
    for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"}) {
        onnx::GraphProto g;
        add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 11, 9});
        add_init_f32(&g, "w", {4, 3, 3, 3});
        add_node(&g, "Conv", {"x", "w"}, {"c"});
        onnx::NodeProto* p = add_node(&g, op, {"c"}, {"y"});
        if (std::string(op) == "MaxPool" || std::string(op) == "AveragePool") {
            attr_ints(p, "kernel_shape", {3, 2});
            attr_ints(p, "strides", {2, 2});
            attr_ints(p, "pads", {1, 0, 1, 1});
            attr_int(p, "ceil_mode", 1);
        }
        add_output(&g, "y");
        const onnx::ModelProto m = make_model(g);
        SessionOptions o;
        o.threads = 1;
        o.backends = "test_nhwc,ref";
        auto s = Session::from_model(load_ir(m), o);
        ASSERT_TRUE(s.is_ok()) << s.status().message();
        int on_test = 0;
        for (const NodePlacement& pl : (*s)->placements()) on_test += pl.backend == "test_nhwc";
        EXPECT_EQ(on_test, 2) << op;
        const auto feeds = random_feeds(m, 3);
        auto got = (*s)->run(feeds);
        ASSERT_TRUE(got.is_ok()) << got.status().message();
        const auto want = run_ir(load_ir(m), feeds);
        expect_close((*got)[0], want[0], 1e-5, 1e-5, op);
    }
}

/// conv -> relu -> conv + residual -> relu -> maxpool -> conv, then a concat of two conv branches, global pooling,
/// flatten and a Gemm: every conv/pool channels-last, only two layout conversions (in and out).
onnx::ModelProto cnn() {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 16, 16});
    for (const char* w : {"w1", "w2"}) add_init_f32(&g, w, {8, std::string(w) == "w1" ? 3 : 8, 3, 3});
    add_init_f32(&g, "w3", {8, 8, 1, 1});
    add_init_f32(&g, "w4", {8, 8, 3, 3});
    add_init_f32(&g, "b1", {8});
    add_init_f32(&g, "fc", {10, 16});
    attr_ints(add_node(&g, "Conv", {"x", "w1", "b1"}, {"c1"}), "pads", {1, 1, 1, 1});
    add_node(&g, "Relu", {"c1"}, {"r1"});
    attr_ints(add_node(&g, "Conv", {"r1", "w2"}, {"c2"}), "pads", {1, 1, 1, 1});
    add_node(&g, "Add", {"c2", "r1"}, {"s"});
    add_node(&g, "Relu", {"s"}, {"r2"});
    onnx::NodeProto* mp = add_node(&g, "MaxPool", {"r2"}, {"p"});
    attr_ints(mp, "kernel_shape", {2, 2});
    attr_ints(mp, "strides", {2, 2});
    add_node(&g, "Conv", {"p", "w3"}, {"c3"});
    attr_ints(add_node(&g, "Conv", {"p", "w4"}, {"c4"}), "pads", {1, 1, 1, 1});
    attr_int(add_node(&g, "Concat", {"c3", "c4"}, {"cat"}), "axis", 1);
    add_node(&g, "GlobalAveragePool", {"cat"}, {"gap"});
    add_node(&g, "Flatten", {"gap"}, {"f"});
    attr_int(add_node(&g, "Gemm", {"f", "fc"}, {"y"}), "transB", 1);
    add_output(&g, "y");
    return make_model(g);
}

TEST(Partition, ChannelsLastRegionHasConversionsOnlyAtItsBoundary) {
    test_backend();
    const onnx::ModelProto m = cnn();
    SessionOptions o;
    o.threads = 2;
    o.backends = "test_nhwc,ref";
    auto s = Session::from_model(load_ir(m), o);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    int transposes = 0, nhwc = 0;
    for (const NodePlacement& p : (*s)->placements()) {
        transposes += p.op_type == "Transpose";
        if (p.op_type.find(".Nhwc") != std::string::npos) {
            ++nhwc;
            EXPECT_EQ(p.backend, "test_nhwc") << p.name;
        }
    }
    EXPECT_EQ(nhwc, 6);  // 4 convs, MaxPool, GlobalAveragePool
    EXPECT_EQ(transposes, 1) << "the input conversion; the output of global pooling needs none before Flatten";
    for (uint32_t seed : {1u, 2u}) {
        const auto feeds = random_feeds(m, seed);
        auto got = (*s)->run(feeds);
        ASSERT_TRUE(got.is_ok()) << got.status().message();
        const auto want = run_ir(load_ir(m), feeds);
        expect_close((*got)[0], want[0], 1e-4, 1e-5, "cnn");
    }
}

TEST(Partition, ConstantsThroughIdentityAtLevelZero) {
    // torch exports pass shared initializers through Identity nodes; only the optimizer removes them. At level 0 the
    // backends must still see the weights and bias as constants, or every such Conv falls back to the reference.
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 8, 10, 10});
    add_init_f32(&g, "w", {16, 8, 3, 3});
    add_init_f32(&g, "b", {16});
    add_node(&g, "Identity", {"w"}, {"w_id"});
    add_node(&g, "Identity", {"b"}, {"b_id"});
    add_node(&g, "Identity", {"b_id"}, {"b_id2"});  // a chain
    attr_ints(add_node(&g, "Conv", {"x", "w_id", "b_id2"}, {"y"}), "pads", {1, 1, 1, 1});
    add_output(&g, "y");
    const onnx::ModelProto m = make_model(g);
    SessionOptions o;
    o.optimization_level = 0;
    auto s = Session::from_model(load_ir(m), o);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    int convs = 0;
    for (const NodePlacement& p : (*s)->placements()) {
        if (p.op_type.find("Conv") == std::string::npos) continue;
        ++convs;
        EXPECT_NE(p.backend, "ref") << p.name << " fell back: " << p.fallback_reason;
    }
    EXPECT_EQ(convs, 1);
    const auto feeds = random_feeds(m, 1);
    auto got = (*s)->run(feeds);
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    expect_close((*got)[0], run_ir(load_ir(m), feeds)[0], 1e-4, 1e-5, "conv through Identity");
}

TEST(Partition, DefaultBackendsKeepAResidualThatIsAlsoTheConvolutionsInput) {
    // conv2 reads r1 as its input and as its residual: the memory planner must not compute it in r1's buffer (the
    // oneDNN kernel takes the residual's buffer only when nothing else reads it), with and without a memory plan.
    const onnx::ModelProto m = cnn();
    for (bool planned : {true, false}) {
        SessionOptions o;
        o.threads = 1;
        o.memory_planning = planned;
        auto s = Session::from_model(load_ir(m), o);
        ASSERT_TRUE(s.is_ok()) << s.status().message();
        for (uint32_t seed : {1u, 2u}) {
            const auto feeds = random_feeds(m, seed);
            auto got = (*s)->run(feeds);
            ASSERT_TRUE(got.is_ok()) << got.status().message();
            const auto want = run_ir(load_ir(m), feeds);
            expect_close((*got)[0], want[0], 1e-4, 1e-5, planned ? "cnn, planned" : "cnn, heap");
        }
    }
}

int nhwc_nodes(const Session& s) {
    int k = 0;
    for (const NodePlacement& p : s.placements()) k += p.op_type.find(".Nhwc") != std::string::npos;
    return k;
}

TEST(Partition, BatchNormAndChannelScalesStayInsideTheChannelsLastRegion) {
    // DenseNet-style pre-activation (Concat -> BatchNorm -> Relu -> Conv) and an SE-style scale computed at run time:
    // the BatchNorm becomes Mul + Add by constants and the scale a Reshape, so no conversion is needed between convs.
    test_backend();
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {1, 3, 8, 8});
    add_init_f32(&g, "w0", {3, 3, 1, 1});
    add_init_f32(&g, "w1", {6, 3, 3, 3});
    add_init_f32(&g, "w2", {4, 9, 1, 1});
    add_init_f32(&g, "fc", {9, 9});
    for (const char* p : {"bn_s", "bn_b", "bn_m"}) add_init_f32(&g, p, {9});
    add_init_f32(&g, "bn_v", {9}, {}, 0.5f, 2.0f);
    add_node(&g, "Conv", {"x", "w0"}, {"c0"});
    attr_ints(add_node(&g, "Conv", {"c0", "w1"}, {"c1"}), "pads", {1, 1, 1, 1});
    attr_int(add_node(&g, "Concat", {"c0", "c1"}, {"cat"}), "axis", 1);  // c0 read twice: by Conv and by Concat
    add_node(&g, "BatchNormalization", {"cat", "bn_s", "bn_b", "bn_m", "bn_v"}, {"bn"});
    add_node(&g, "Relu", {"bn"}, {"r"});
    add_node(&g, "GlobalAveragePool", {"r"}, {"gap"});
    add_node(&g, "Flatten", {"gap"}, {"f"});
    add_node(&g, "MatMul", {"f", "fc"}, {"mm"});
    add_node(&g, "Sigmoid", {"mm"}, {"sg"});
    add_init_i64(&g, "shape", {4}, {1, 9, 1, 1});
    add_node(&g, "Reshape", {"sg", "shape"}, {"sc"});
    add_node(&g, "Mul", {"r", "sc"}, {"se"});
    add_node(&g, "Conv", {"se", "w2"}, {"y"});
    add_output(&g, "y");
    const onnx::ModelProto m = make_model(g);
    SessionOptions o;
    o.backends = "test_nhwc,ref";
    auto s = Session::from_model(load_ir(m), o);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    int transposes = 0;
    std::string listing;
    for (const NodePlacement& p : (*s)->placements()) {
        transposes += p.op_type == "Transpose";
        listing += p.name + " " + p.op_type + " " + p.backend + "\n";
        EXPECT_NE(p.op_type, "BatchNormalization");
    }
    EXPECT_EQ(transposes, 2) << "one into the region (x), one out of it (y):\n" << listing;
    EXPECT_EQ(nhwc_nodes(**s), 4) << listing;  // 3 convs and the global pooling
    const auto feeds = random_feeds(m, 5);
    auto got = (*s)->run(feeds);
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    expect_close((*got)[0], run_ir(load_ir(m), feeds)[0], 1e-4, 1e-5, "densenet-like");
}

TEST(Partition, FallbackReasonsNameTheBackendThatDeclined) {
    test_backend();
    OpRun r;
    r.op_type = "Relu";
    r.inputs = {random_tensor({2, 3}, 1)};
    expect_backend_declines(r, "test_nhwc", "test_nhwc: not a conv or pooling op");
    OpRun c = conv_run({1, 3, 5, 5}, {2, 3, 3, 3}, {});
    c.as_initializer = {false, false, true};  // runtime weights
    expect_backend_declines(c, "test_nhwc", "weights are not constant");
}

TEST(Partition, ReferenceOnlyKeepsTheGraph) {
    const onnx::ModelProto m = cnn();
    SessionOptions o;
    o.backends = "ref";
    auto s = Session::from_model(load_ir(m), o);
    ASSERT_TRUE(s.is_ok());
    for (const NodePlacement& p : (*s)->placements()) {
        EXPECT_EQ(p.backend, "ref");
        EXPECT_EQ(p.op_type.find("Nhwc"), std::string::npos);
        EXPECT_TRUE(p.fallback_reason.empty());
    }
}

TEST(Partition, BadBackendListsAreRejected) {
    SessionOptions o;
    for (const char* bad : {"nosuch", "ref,ref", "ref,,ref"}) {
        o.backends = bad;
        auto s = Session::from_model(load_ir(cnn()), o);
        ASSERT_FALSE(s.is_ok()) << bad;
        EXPECT_NE(s.status().message().find("backend"), std::string::npos) << s.status().message();
    }
    EXPECT_FALSE(register_backend(&reference_backend()).is_ok());  // name taken
}

}  // namespace
}  // namespace nnport::testing

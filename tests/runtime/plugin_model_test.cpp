// Plugins in models: the example plugin's ops run, infer symbolic shapes, fold, export and check like built-in ops;
// plugin errors at load and run time name the node and carry the plugin's message.
#include <gtest/gtest.h>

#include "convert/checker.hpp"
#include "onnx/exporter.hpp"
#include "passes/pass_test_util.hpp"
#include "plugin/plugin_test_util.hpp"
#include "runtime/plugin.hpp"

namespace nnport {
namespace {

using testing::custom_op_model;
using testing::swish_reference;

class PluginModel : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(load_plugin(testing::kExamplePlugin).is_ok()); }

    /// Loads `m` as a session (default backends, two threads) or returns its error.
    static Result<std::unique_ptr<Session>> session(const onnx::ModelProto& m, int level = 3) {
        SessionOptions o;
        o.threads = 2;
        o.optimization_level = level;
        const std::string bytes = m.SerializeAsString();
        return Session::load_from_memory(bytes.data(), bytes.size(), o);
    }
};

TEST_F(PluginModel, Swish2MatchesTheFormula) {
    const onnx::ModelProto m = custom_op_model("com.example", "Swish2", "sw", {4, 1000}, 0.75f, true);
    auto s = session(m);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    // The partitioner leaves the custom op to the reference backend.
    for (const NodePlacement& p : (*s)->placements()) {
        if (p.name == "sw") {
            EXPECT_EQ(p.backend, "ref");
        }
    }
    const auto feeds = testing::random_feeds(m, 5);
    auto out = (*s)->run(feeds);
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    const Tensor& x = feeds[0].second;
    const Tensor& y = out.value()[0];
    ASSERT_EQ(y.shape(), (Shape{4, 1000}));
    for (int64_t i = 0; i < x.numel(); ++i) {
        ASSERT_NEAR(y.data<float>()[i], swish_reference(x.data<float>()[i], 0.75f), 1e-6) << i;
    }
    // The default beta (1.0) applies when the node does not set it; the pipeline leaves results unchanged.
    const onnx::ModelProto d = custom_op_model("com.example", "Swish2", "sw", {3, 5});
    auto want = testing::run_ir(testing::load_ir(d), testing::random_feeds(d, 9));
    ASSERT_EQ(want.size(), 1u);
    const auto feeds_d = testing::random_feeds(d, 9);
    for (int64_t i = 0; i < 15; ++i) {
        EXPECT_NEAR(want[0].data<float>()[i], swish_reference(feeds_d[0].second.data<float>()[i], 1.0f), 1e-6);
    }
    testing::check_pipeline(d);
}

TEST_F(PluginModel, SymbolicDimsFlowThroughThePluginsInference) {
    onnx::ModelProto m = custom_op_model("com.example", "RowSum", "rs", {-1, 5});
    auto keep = session(m);
    ASSERT_TRUE(keep.is_ok()) << keep.status().message();
    EXPECT_EQ((*keep)->model().graph->outputs()[0]->type.to_string(), "float32[N,1]");
    auto* k = m.mutable_graph()->mutable_node(0)->add_attribute();
    k->set_name("keepdims");
    k->set_type(onnx::AttributeProto::INT);
    k->set_i(0);
    auto drop = session(m);
    ASSERT_TRUE(drop.is_ok()) << drop.status().message();
    EXPECT_EQ((*drop)->model().graph->outputs()[0]->type.to_string(), "float32[N]");
    Tensor x = Tensor::from_vector<float>({3, 5}, {1, 2, 3, 4, 5, -1, -1, -1, -1, -1, 0.5f, 0, 0, 0, 0.25f});
    auto out = (*drop)->run({{"x", x}});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    ASSERT_EQ(out.value()[0].shape(), (Shape{3}));
    EXPECT_FLOAT_EQ(out.value()[0].data<float>()[0], 15.0f);
    EXPECT_FLOAT_EQ(out.value()[0].data<float>()[1], -5.0f);
    EXPECT_FLOAT_EQ(out.value()[0].data<float>()[2], 0.75f);
}

TEST_F(PluginModel, Float16RunsThroughFloat32) {
    onnx::ModelProto m = custom_op_model("com.example", "Swish2", "sw", {2, 2});
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto::FLOAT16);
    m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto::FLOAT16);
    auto s = session(m);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    Tensor x = std::move(Tensor::create(DType::kFloat16, {2, 2})).value();
    const float xs[4] = {-2.0f, -0.5f, 1.0f, 3.0f};
    for (int i = 0; i < 4; ++i) x.data<Float16>()[i] = Float16(xs[i]);
    auto out = (*s)->run({{"x", x}});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    ASSERT_EQ(out.value()[0].dtype(), DType::kFloat16);
    for (int i = 0; i < 4; ++i) {
        EXPECT_NEAR(static_cast<float>(out.value()[0].data<Float16>()[i]), swish_reference(xs[i], 1.0f), 2e-3);
    }
}

TEST_F(PluginModel, ConstantInputsFoldThroughThePluginUnlessItSaysNo) {
    // Swish2 of a constant, added to the input: folding evaluates Swish2 at load through the plugin's kernel.
    onnx::ModelProto m = custom_op_model("com.example", "Swish2", "sw", {3});
    auto* g = m.mutable_graph();
    g->mutable_node(0)->set_input(0, "c");
    g->mutable_node(0)->set_output(0, "s");
    testing::add_init_f32(g, "c", {3}, {-1.0f, 0.0f, 2.0f});
    auto* add = g->add_node();
    add->set_op_type("Add");
    add->set_name("add");
    add->add_input("x");
    add->add_input("s");
    add->add_output("y");
    auto opt = testing::check_pipeline(m, 1);
    ASSERT_NE(opt, nullptr);
    EXPECT_EQ(testing::count_op(*opt, "Swish2"), 0);
    auto s = session(m);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    auto out = (*s)->run({{"x", Tensor::from_vector<float>({3}, {10, 20, 30})}});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    EXPECT_NEAR(out.value()[0].data<float>()[2], 30.0f + swish_reference(2.0f, 1.0f), 1e-5);
    // Forgetful (NNPORT_PLUGIN_OP_NO_CONSTANT_FOLDING) stays in the graph and fails at run time, not at load.
    ASSERT_TRUE(load_plugin(NNPORT_BAD_PLUGIN_COMPUTE).is_ok());
    onnx::ModelProto f = m;
    f.mutable_graph()->mutable_node(0)->set_domain("com.example.bad");
    f.mutable_graph()->mutable_node(0)->set_op_type("Forgetful");
    f.mutable_graph()->mutable_node(0)->clear_attribute();
    f.mutable_opset_import(1)->set_domain("com.example.bad");
    auto fs = session(f);
    ASSERT_TRUE(fs.is_ok()) << fs.status().message();
    auto bad = (*fs)->run({{"x", Tensor::from_vector<float>({3}, {1, 2, 3})}});
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("node 'sw': plugin "), std::string::npos) << bad.status().message();
    EXPECT_NE(bad.status().message().find("(compute): did not produce output 0"), std::string::npos)
        << bad.status().message();
}

TEST_F(PluginModel, ComputeErrorCarriesThePluginsMessageAndTheNode) {
    ASSERT_TRUE(load_plugin(NNPORT_BAD_PLUGIN_COMPUTE).is_ok());
    auto s = session(custom_op_model("com.example.bad", "Failing", "failing_node", {2}));
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    auto out = (*s)->run({{"x", Tensor::from_vector<float>({2}, {1, 2})}});
    ASSERT_FALSE(out.is_ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInternal);
    const std::string& msg = out.status().message();
    EXPECT_NE(msg.find("com.example.bad.Failing node 'failing_node'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("libnnport_bad_plugin_compute.so (compute): accelerator queue lost"), std::string::npos) << msg;
}

TEST_F(PluginModel, InferenceRejectionsNameTheNode) {
    onnx::ModelProto ints = custom_op_model("com.example", "Swish2", "sw_int", {2});
    ints.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto::INT64);
    auto s = session(ints);
    ASSERT_FALSE(s.is_ok());
    EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(s.status().message().find("com.example.Swish2 node 'sw_int': plugin "), std::string::npos)
        << s.status().message();
    EXPECT_NE(s.status().message().find("(infer): Swish2 takes float32, float16 or bfloat16 tensors"),
              std::string::npos)
        << s.status().message();
    onnx::ModelProto str = custom_op_model("com.example", "Swish2", "sw_str", {2});
    auto* a = str.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("beta");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s("big");
    s = session(str);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.status().message().find("node 'sw_str': attribute 'beta' should be float"), std::string::npos)
        << s.status().message();
    onnx::ModelProto rank0 = custom_op_model("com.example", "RowSum", "rs0", {});
    rank0.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();  // a scalar
    s = session(rank0);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.status().message().find("node 'rs0': plugin "), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("RowSum needs a rank >= 1 input"), std::string::npos) << s.status().message();
}

TEST_F(PluginModel, ExportWritesTheCustomDomainAndReimports) {
    const onnx::ModelProto m = custom_op_model("com.example", "Swish2", "sw", {2, 3}, 1.5f, true);
    auto ir = testing::load_ir(m);
    ASSERT_NE(ir, nullptr);
    auto bytes = onnx_export::serialize_model(*ir);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
    onnx::ModelProto back;
    ASSERT_TRUE(back.ParseFromString(bytes.value()));
    bool domain = false;
    for (const auto& os : back.opset_import()) domain |= os.domain() == "com.example" && os.version() == 1;
    EXPECT_TRUE(domain);
    ASSERT_EQ(back.graph().node_size(), 1);
    EXPECT_EQ(back.graph().node(0).domain(), "com.example");
    ASSERT_EQ(back.graph().node(0).attribute_size(), 1);
    EXPECT_FLOAT_EQ(back.graph().node(0).attribute(0).f(), 1.5f);
    const auto feeds = testing::random_feeds(m, 3);
    testing::expect_outputs_close(testing::run_ir(testing::load_ir(back), feeds),
                                  testing::run_ir(testing::load_ir(m), feeds), 0, 0);
}

TEST_F(PluginModel, CheckCountsPluginOpsAsNnportsButCustomLayersElsewhere) {
    const std::string targets = std::string(NNPORT_SOURCE_DIR) + "/targets";
    const convert::TargetProfile own = convert::nnport_profile();
    ASSERT_TRUE(own.ops.count("com.example:Swish2"));
    EXPECT_EQ(own.ops.at("com.example:Swish2").opset->first, 1);
    auto cat = convert::load_rewrites(targets);
    ASSERT_TRUE(cat.is_ok()) << cat.status().message();
    auto model = testing::load_ir(testing::swish_then_matmul_model());
    ASSERT_NE(model, nullptr);
    ConstantMap consts;
    ASSERT_TRUE(convert::prepare_model_for_check(*model, consts).is_ok());
    const convert::CheckReport mine = convert::check_model(*model, consts, own, cat.value());
    EXPECT_EQ(mine.verdict, convert::Verdict::kRunsAsIs);
    EXPECT_TRUE(mine.nodes.empty());
    auto ncnn = convert::load_profile(targets, "ncnn");
    ASSERT_TRUE(ncnn.is_ok()) << ncnn.status().message();
    const convert::CheckReport other = convert::check_model(*model, consts, ncnn.value(), cat.value());
    ASSERT_EQ(other.nodes.size(), 1u);
    EXPECT_EQ(other.nodes[0].name, "swish");
    EXPECT_EQ(other.nodes[0].scenario, convert::Scenario::kCustomLayer);
    EXPECT_EQ(other.verdict, convert::Verdict::kNeedsCustomLayers);
}

}  // namespace
}  // namespace nnport

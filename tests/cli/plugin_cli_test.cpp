// End-to-end CLI tests of --plugin: run, ops, check, export and inspect with the example custom-op plugin.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "io/npy.hpp"
#include "onnx/proto.hpp"
#include "plugin/plugin_test_util.hpp"

namespace nnport {
namespace {

namespace fs = std::filesystem;
using testing::kExamplePlugin;

struct Cli {
    int code;
    std::string out;
};

/// Runs the nnport binary with a time limit, capturing stdout+stderr.
Cli nnport_cli(const std::string& args) {
    const std::string cmd = std::string("timeout 60 ") + NNPORT_BIN + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int st = pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}

class PluginCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nnport_plugin_cli_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& f) const { return (dir_ / f).string(); }
    std::string save(const onnx::ModelProto& m, const std::string& name) {
        std::ofstream f(path(name), std::ios::binary);
        m.SerializeToOstream(&f);
        return path(name);
    }
    /// Exit status 1 and a one-line message containing `needle`.
    static void expect_error(const Cli& r, const std::string& needle) {
        EXPECT_EQ(r.code, 1) << r.out;
        EXPECT_NE(r.out.find(needle), std::string::npos) << r.out;
        EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    }
    fs::path dir_;
};

TEST_F(PluginCli, RunComputesTheCustomOp) {
    const std::string m = save(testing::custom_op_model("com.example", "Swish2", "sw", {2, 3}, 0.5f, true), "m.onnx");
    const std::vector<float> xs = {-3, -1, -0.25f, 0, 1.5f, 4};
    ASSERT_TRUE(io::write_npy(path("x.npy"), Tensor::from_vector<float>({2, 3}, xs)).is_ok());
    Cli r = nnport_cli("run " + m + " --plugin " + kExamplePlugin + " -i x=" + path("x.npy") + " -o " + path("out"));
    ASSERT_EQ(r.code, 0) << r.out;
    auto y = io::read_npy(path("out/y.npy"));
    ASSERT_TRUE(y.is_ok()) << y.status().message();
    ASSERT_EQ(y->shape(), (Shape{2, 3}));
    for (size_t i = 0; i < xs.size(); ++i) {
        EXPECT_NEAR(y->data<float>()[i], testing::swish_reference(xs[i], 0.5f), 1e-6) << i;
    }
}

TEST_F(PluginCli, RunWithoutThePluginOrWithABadOneFails) {
    const std::string m = save(testing::custom_op_model("com.example", "Swish2", "sw", {2, 3}), "m.onnx");
    expect_error(nnport_cli("run " + m), "unknown op");
    expect_error(nnport_cli("run " + m + " --plugin " + path("missing.so")),
                 path("missing.so") + ": no such plugin file");
    expect_error(nnport_cli("run " + m + " --plugin " + NNPORT_BAD_PLUGIN_INIT_ERROR),
                 "nnport_plugin_init failed: license file not found");
}

TEST_F(PluginCli, FailingComputeNamesTheNodeAndThePluginMessage) {
    const std::string m = save(testing::custom_op_model("com.example.bad", "Failing", "failing_node", {2}), "m.onnx");
    ASSERT_TRUE(io::write_npy(path("x.npy"), Tensor::from_vector<float>({2}, {1, 2})).is_ok());
    const std::string args = "run " + m + " -i x=" + path("x.npy") + " --plugin " + NNPORT_BAD_PLUGIN_COMPUTE;
    expect_error(nnport_cli(args), "com.example.bad.Failing node 'failing_node': plugin ");
    Cli r = nnport_cli(args);
    EXPECT_NE(r.out.find("(compute): accelerator queue lost"), std::string::npos) << r.out;
}

TEST_F(PluginCli, OpsListsPluginOps) {
    Cli r = nnport_cli("ops --plugin " + kExamplePlugin);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("Swish2"), std::string::npos);
    EXPECT_NE(r.out.find("com.example"), std::string::npos);
    Cli plain = nnport_cli("ops");
    EXPECT_EQ(plain.out.find("Swish2"), std::string::npos);
    Cli md = nnport_cli("ops --markdown --plugin " + kExamplePlugin);
    EXPECT_NE(md.out.find("| RowSum | com.example | 1 | 1 | 1 | keepdims | Sum over the last axis. (plugin "
                          "libnnport_example_plugin.so) |"),
              std::string::npos)
        << md.out;
}

TEST_F(PluginCli, CheckTreatsPluginOpsAsCustomLayersElsewhere) {
    const std::string m = save(testing::swish_then_matmul_model(), "m.onnx");
    // nnport runs its plugins' ops: the generated nnport profile includes them.
    Cli own = nnport_cli("check " + m + " --target nnport --json --plugin " + kExamplePlugin);
    EXPECT_EQ(own.code, 0) << own.out;
    EXPECT_NE(own.out.find("\"runs_as_is\""), std::string::npos) << own.out;
    // Without the plugin, nnport itself does not know the op.
    Cli without = nnport_cli("check " + m + " --target nnport --json");
    EXPECT_EQ(without.code, 3) << without.out;
    // Another target does not have it: scenario 4, custom layer.
    Cli other = nnport_cli("check " + m + " --target ncnn --json --plugin " + kExamplePlugin);
    EXPECT_EQ(other.code, 3) << other.out;
    EXPECT_NE(other.out.find("\"custom_layer\": 1"), std::string::npos) << other.out;
    EXPECT_NE(other.out.find("\"name\": \"swish\""), std::string::npos) << other.out;
}

TEST_F(PluginCli, ConvertListsThePluginOpAsACustomLayerWithTestVectors) {
    const std::string m = save(testing::swish_then_matmul_model(), "m.onnx");
    const std::string out = path("out.onnx");
    Cli c = nnport_cli("convert " + m + " --target ncnn -o " + out + " --json --plugin " + kExamplePlugin);
    ASSERT_EQ(c.code, 3) << c.out;  // converted, but the target must implement the custom layer
    EXPECT_NE(c.out.find("\"needs custom layers\""), std::string::npos) << c.out;
    EXPECT_NE(c.out.find("\"op\": \"Swish2\""), std::string::npos) << c.out;
    EXPECT_TRUE(fs::exists(out));
    EXPECT_TRUE(fs::exists(path("out_test_vectors/test_vectors.json")));
    auto in = io::read_npy(path("out_test_vectors/swish/input_0.npy"));
    auto res = io::read_npy(path("out_test_vectors/swish/output_0.npy"));
    ASSERT_TRUE(in.is_ok() && res.is_ok());
    ASSERT_EQ(in->numel(), res->numel());
    EXPECT_GT(in->numel(), 0);
    // Without the plugin nnport cannot run the original to verify: a clear failure, nothing written.
    Cli without = nnport_cli("convert " + m + " --target ncnn -o " + path("o2.onnx"));
    EXPECT_EQ(without.code, 1) << without.out;
    EXPECT_FALSE(fs::exists(path("o2.onnx")));
}

TEST_F(PluginCli, ExportKeepsTheCustomDomainAndRunsAgain) {
    const std::string m = save(testing::custom_op_model("com.example", "Swish2", "sw", {2, 3}, 2.0f, true), "m.onnx");
    Cli e = nnport_cli("export " + m + " -o " + path("e.onnx") + " --plugin " + kExamplePlugin);
    ASSERT_EQ(e.code, 0) << e.out;
    onnx::ModelProto out;
    std::ifstream f(path("e.onnx"), std::ios::binary);
    ASSERT_TRUE(out.ParseFromIstream(&f));
    bool has_domain = false;
    for (const auto& os : out.opset_import()) has_domain |= os.domain() == "com.example" && os.version() == 1;
    EXPECT_TRUE(has_domain);
    ASSERT_EQ(out.graph().node_size(), 1);
    EXPECT_EQ(out.graph().node(0).domain(), "com.example");
    EXPECT_EQ(out.graph().node(0).op_type(), "Swish2");
    ASSERT_TRUE(io::write_npy(path("x.npy"), Tensor::from_vector<float>({2, 3}, {-2, -1, 0, 1, 2, 3})).is_ok());
    Cli r = nnport_cli("run " + path("e.onnx") + " --plugin " + kExamplePlugin + " -i x=" + path("x.npy") + " -o " +
                       path("out"));
    ASSERT_EQ(r.code, 0) << r.out;
    auto y = io::read_npy(path("out/y.npy"));
    ASSERT_TRUE(y.is_ok());
    EXPECT_NEAR(y->data<float>()[5], testing::swish_reference(3.0f, 2.0f), 1e-6);
}

TEST_F(PluginCli, InspectAndBenchAndOptimizeTakeThePlugin) {
    const std::string m = save(testing::swish_then_matmul_model(), "m.onnx");
    Cli part = nnport_cli("inspect " + m + " --partition --plugin " + kExamplePlugin);
    ASSERT_EQ(part.code, 0) << part.out;
    EXPECT_NE(part.out.find("swish"), std::string::npos) << part.out;
    EXPECT_NE(part.out.find("ref"), std::string::npos) << part.out;
    Cli bench = nnport_cli("bench " + m + " --iters 2 --warmup 1 --plugin " + kExamplePlugin);
    EXPECT_EQ(bench.code, 0) << bench.out;
    Cli opt = nnport_cli("optimize " + m + " -o " + path("o.onnx") + " --plugin " + kExamplePlugin);
    EXPECT_EQ(opt.code, 0) << opt.out;
    EXPECT_TRUE(fs::exists(path("o.onnx")));
}

}  // namespace
}  // namespace nnport

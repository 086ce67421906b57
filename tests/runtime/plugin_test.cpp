// Plugins: loading the example plugin and every load error (tests/plugin/*.c, built by tests/CMakeLists.txt).
#include "runtime/plugin.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "ops/op_def.hpp"
#include "plugin/plugin_test_util.hpp"

namespace nnport {
namespace {

namespace fs = std::filesystem;

/// Loads `path` expecting failure with a message naming the file and containing `needle`.
void expect_load_error(const std::string& path, StatusCode code, const std::string& needle) {
    Status st = load_plugin(path);
    ASSERT_FALSE(st.is_ok()) << path;
    EXPECT_EQ(st.code(), code) << st.message();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
}

TEST(PluginLoad, ExampleRegistersItsOps) {
    ASSERT_TRUE(load_plugin(testing::kExamplePlugin).is_ok());
    const OpDef* swish = find_op("com.example", "Swish2");
    ASSERT_NE(swish, nullptr);
    EXPECT_EQ(swish->domain, "com.example");
    EXPECT_EQ(swish->since_version, 1);
    EXPECT_EQ(swish->min_inputs, 1);
    EXPECT_EQ(swish->max_outputs, 1);
    ASSERT_NE(swish->infer, nullptr);
    ASSERT_NE(swish->kernel, nullptr);
    const AttrSpec* beta = swish->find_attr("beta");
    ASSERT_NE(beta, nullptr);
    EXPECT_EQ(beta->type, ir::AttrType::kFloat);
    ASSERT_TRUE(beta->has_default);
    EXPECT_FLOAT_EQ(beta->default_value.f, 1.0f);
    EXPECT_NE(swish->doc.find("sigmoid"), std::string::npos);
    EXPECT_NE(swish->doc.find("plugin libnnport_example_plugin.so"), std::string::npos) << swish->doc;
    const OpDef* rowsum = find_op("com.example", "RowSum");
    ASSERT_NE(rowsum, nullptr);
    EXPECT_EQ(rowsum->find_attr("keepdims")->default_value.i, 1);
    EXPECT_EQ(plugin_of(*swish), fs::canonical(testing::kExamplePlugin).string());
    EXPECT_EQ(plugin_of(*find_op("", "Relu")), "");
    // Listed after the compiled-in ops, once each.
    const auto& ops = all_ops();
    EXPECT_EQ(std::count(ops.begin(), ops.end(), swish), 1);
    EXPECT_EQ(std::count(ops.begin(), ops.end(), rowsum), 1);
    EXPECT_EQ(find_op("com.example", "Swish3"), nullptr);
    EXPECT_EQ(find_op("", "Swish2"), nullptr);
}

TEST(PluginLoad, LoadingTheSameFileAgainDoesNothing) {
    ASSERT_TRUE(load_plugin(testing::kExamplePlugin).is_ok());
    const size_t n = all_ops().size();
    const OpDef* swish = find_op("com.example", "Swish2");
    ASSERT_TRUE(load_plugin(testing::kExamplePlugin).is_ok());
    // Through another path to the same file (a symlink) too.
    const fs::path link = fs::temp_directory_path() / ("nnport_plugin_link_" + std::to_string(::getpid()) + ".so");
    fs::remove(link);
    fs::create_symlink(testing::kExamplePlugin, link);
    EXPECT_TRUE(load_plugin(link.string()).is_ok());
    fs::remove(link);
    EXPECT_EQ(all_ops().size(), n);
    EXPECT_EQ(find_op("com.example", "Swish2"), swish);
    const auto files = loaded_plugins();
    EXPECT_EQ(std::count(files.begin(), files.end(), fs::canonical(testing::kExamplePlugin).string()), 1);
}

TEST(PluginLoad, RejectsMissingFile) {
    expect_load_error("/nonexistent/libnothing.so", StatusCode::kIoError, "no such plugin file");
    EXPECT_FALSE(load_plugin("").is_ok());
}

TEST(PluginLoad, RejectsAFileThatIsNotASharedLibrary) {
    const fs::path f = fs::temp_directory_path() / ("nnport_not_a_plugin_" + std::to_string(::getpid()) + ".so");
    {
        std::ofstream o(f);
        o << "this is text, not ELF\n";
    }
    expect_load_error(f.string(), StatusCode::kInvalidArgument, "cannot load as a shared library");
    fs::remove(f);
    expect_load_error(fs::temp_directory_path().string(), StatusCode::kIoError, "not a regular file");
}

TEST(PluginLoad, RejectsALibraryWithoutTheInitSymbol) {
    expect_load_error(NNPORT_BAD_PLUGIN_NO_INIT, StatusCode::kInvalidArgument,
                      "not an nnport plugin (no nnport_plugin_init symbol");
}

TEST(PluginLoad, RejectsAnotherAbiVersion) {
    expect_load_error(NNPORT_BAD_PLUGIN_ABI, StatusCode::kUnsupported,
                      "plugin ABI version mismatch: the plugin was built for version 42, this nnport supports "
                      "version 1");
    expect_load_error(NNPORT_BAD_PLUGIN_REFUSES_HOST, StatusCode::kUnsupported,
                      "refuses this nnport's plugin ABI version 1: this plugin needs plugin ABI 7");
}

TEST(PluginLoad, ReportsTheInitError) {
    expect_load_error(NNPORT_BAD_PLUGIN_INIT_ERROR, StatusCode::kInternal,
                      "nnport_plugin_init failed: license file not found");
}

TEST(PluginLoad, RejectsAnOpAlreadyDefined) {
    const OpDef* relu = find_op("", "Relu");
    expect_load_error(NNPORT_BAD_PLUGIN_CLASH, StatusCode::kInvalidArgument,
                      "op ai.onnx:Relu is already defined by nnport");
    EXPECT_EQ(find_op("", "Relu"), relu);
    ASSERT_TRUE(load_plugin(testing::kExamplePlugin).is_ok());
    const OpDef* swish = find_op("com.example", "Swish2");
    expect_load_error(
        NNPORT_BAD_PLUGIN_DUP, StatusCode::kInvalidArgument,
        "op com.example:Swish2 is already defined by plugin " + fs::canonical(testing::kExamplePlugin).string());
    EXPECT_EQ(find_op("com.example", "Swish2"), swish);
}

TEST(PluginLoad, RejectsAMalformedOpAndRegistersNothing) {
    expect_load_error(NNPORT_BAD_PLUGIN_MALFORMED, StatusCode::kInvalidArgument,
                      "op com.example.bad:NoOutputs: invalid output counts 0..0");
    EXPECT_EQ(find_op("com.example.bad", "NoOutputs"), nullptr);
    // A failed load can be retried and fails the same way (nothing half-registered).
    expect_load_error(NNPORT_BAD_PLUGIN_MALFORMED, StatusCode::kInvalidArgument, "invalid output counts");
    const auto files = loaded_plugins();
    EXPECT_EQ(std::count(files.begin(), files.end(), fs::canonical(NNPORT_BAD_PLUGIN_MALFORMED).string()), 0);
}

}  // namespace
}  // namespace nnport

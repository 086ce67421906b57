// Import -> export -> import gives the same graph, over every model of the ONNX backend test data.
#include <gtest/gtest.h>

#include <filesystem>

#include "ir/graph.hpp"
#include "onnx/exporter.hpp"
#include "onnx/importer.hpp"

namespace nnport {

namespace fs = std::filesystem;

static std::vector<fs::path> test_models() {
    std::vector<fs::path> out;
    const fs::path root = "/usr/share/libonnx-testdata/data";
    for (const char* folder : {"node", "simple", "pytorch-converted", "pytorch-operator"}) {
        if (!fs::is_directory(root / folder)) continue;
        for (const auto& e : fs::directory_iterator(root / folder)) {
            if (fs::exists(e.path() / "model.onnx")) out.push_back(e.path() / "model.onnx");
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(RoundTrip, BackendTestModelsSurviveExportAndReimport) {
    const auto models = test_models();
    if (models.empty()) GTEST_SKIP() << "libonnx-testdata is not installed";
    int checked = 0;
    for (const fs::path& p : models) {
        auto m1 = onnx_import::load_model(p.string());
        if (!m1.is_ok()) continue;  // models nnport rejects are covered by the conformance gate
        auto bytes = onnx_export::serialize_model(*m1.value());
        ASSERT_TRUE(bytes.is_ok()) << p << ": " << bytes.status().to_string();
        auto m2 = onnx_import::load_model_from_memory(bytes->data(), bytes->size(), p.parent_path().string(), "re-import");
        ASSERT_TRUE(m2.is_ok()) << p << ": " << m2.status().to_string();
        EXPECT_EQ(ir::to_text(*m1.value()->graph), ir::to_text(*m2.value()->graph)) << p;
        // Initializers keep their data.
        for (const ir::Value* v : m1.value()->graph->initializers()) {
            const ir::Value* w = m2.value()->graph->find_value(v->name());
            ASSERT_NE(w, nullptr) << p << ": " << v->name();
            ASSERT_EQ(v->initializer().nbytes(), w->initializer().nbytes());
            if (v->initializer().nbytes()) {
                EXPECT_EQ(0, std::memcmp(v->initializer().raw_data(), w->initializer().raw_data(), v->initializer().nbytes()));
            }
        }
        ++checked;
    }
    EXPECT_GT(checked, 900);
}

TEST(RoundTrip, ExternalDataIsWrittenAndRead) {
    auto m = onnx_import::load_model("/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx");
    if (!m.is_ok()) GTEST_SKIP() << "test data missing";
    const fs::path dir = fs::temp_directory_path() / "nnport_ext_test";
    fs::remove_all(dir);
    fs::create_directories(dir);
    onnx_export::ExportOptions o;
    o.external_data_file = "weights.bin";
    o.external_min_bytes = 16;
    ASSERT_TRUE(onnx_export::save_model(*m.value(), (dir / "m.onnx").string(), o).is_ok());
    EXPECT_TRUE(fs::exists(dir / "weights.bin"));
    auto m2 = onnx_import::load_model((dir / "m.onnx").string());
    ASSERT_TRUE(m2.is_ok()) << m2.status().to_string();
    EXPECT_EQ(ir::to_text(*m.value()->graph), ir::to_text(*m2.value()->graph));
    EXPECT_TRUE(m.value()->external_data_files.empty());
    EXPECT_EQ(m2.value()->external_data_files, std::vector<std::string>{"weights.bin"});  // each file once
    fs::remove_all(dir);
}

}  // namespace nnport

// The public compression API (include/nnport/compress.hpp): quantize_model_file and prune_model_file write models
// the runtime runs, with reports and file sizes, from tensors or images; and refuse bad requests without writing.
#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "nnport/compress.hpp"
#include "nnport/nnport.hpp"
#include "quant/quant_test_util.hpp"

namespace nnport::testing::quant_test {
namespace {

namespace fs = std::filesystem;

class CompressApi : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nnport_capi_q_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::ofstream f(path("m.onnx"), std::ios::binary);
        conv_model().SerializeToOstream(&f);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& f) const { return (dir_ / f).string(); }

    /// Runs a written model once on a fixed input; its first output.
    static Tensor run(const std::string& model) {
        SessionOptions o;
        o.threads = 1;
        auto s = Session::load(model, o);
        EXPECT_TRUE(s.is_ok()) << s.status().message();
        if (!s.is_ok()) return Tensor();
        Tensor x = std::move(Tensor::create(DType::kFloat32, {1, 3, 8, 8})).value();
        for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(0.3f * float(i));
        auto out = (*s)->run({{"x", x}});
        EXPECT_TRUE(out.is_ok()) << out.status().message();
        return out.is_ok() ? (*out)[0] : Tensor();
    }

    fs::path dir_;
};

TEST_F(CompressApi, QuantizeInt8StaticFromImagesAndFp16) {
    fs::create_directories(path("images"));
    std::mt19937 rng(3);
    for (int k = 0; k < 3; ++k) {
        std::vector<unsigned char> px(12 * 10 * 3);
        for (auto& v : px) v = static_cast<unsigned char>(rng() & 0xFF);
        ASSERT_NE(stbi_write_png(path("images/i" + std::to_string(k) + ".png").c_str(), 12, 10, 3, px.data(), 36), 0);
    }
    QuantizeRequest q;
    q.model = path("m.onnx");
    q.output = path("q.onnx");
    q.data_dir = path("images");
    q.images.mean = {0.5f};
    q.images.stddev = {0.25f};
    auto r = quantize_model_file(q);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->report.quantized_nodes.size(), 2u);  // conv and fc
    EXPECT_EQ(r->report.calibration_samples, 3);
    EXPECT_FALSE(r->report.synthetic_data);
    EXPECT_TRUE(r->report.evaluated);
    EXPECT_GT(r->report.sqnr_db, 10.0);
    EXPECT_GT(r->file_bytes_before, 0);
    EXPECT_EQ(r->file_bytes_after, static_cast<int64_t>(fs::file_size(path("q.onnx"))));
    const Tensor f = run(path("m.onnx")), i8 = run(path("q.onnx"));
    ASSERT_EQ(f.shape(), i8.shape());

    QuantizeRequest h;
    h.model = path("m.onnx");
    h.output = path("h.onnx");
    h.mode = "fp16";
    auto rh = quantize_model_file(h);
    ASSERT_TRUE(rh.is_ok()) << rh.status().message();
    EXPECT_TRUE(rh->report.synthetic_data);
    EXPECT_LT(rh->file_bytes_after, rh->file_bytes_before);
    const Tensor f16 = run(path("h.onnx"));
    ASSERT_EQ(f16.shape(), f.shape());
    for (int64_t i = 0; i < f.numel(); ++i) EXPECT_NEAR(f16.data<float>()[i], f.data<float>()[i], 0.02);
}

TEST_F(CompressApi, QuantizeRefusesBadRequestsWithoutWriting) {
    auto error_of = [](const QuantizeRequest& q) {
        auto r = quantize_model_file(q);
        return r.is_ok() ? std::string() : r.status().message();
    };
    QuantizeRequest q;
    q.model = path("m.onnx");
    q.output = path("q.onnx");
    q.mode = "int4";
    EXPECT_NE(error_of(q).find("int4"), std::string::npos);
    q.mode = "int8-static";
    q.calibration = "median";
    EXPECT_NE(error_of(q).find("median"), std::string::npos);
    q.calibration = "minmax";
    q.activation_type = "int16";
    EXPECT_NE(error_of(q).find("int16"), std::string::npos);
    q.activation_type = "uint8";
    fs::create_directories(path("empty"));
    q.data_dir = path("empty");
    EXPECT_NE(error_of(q).find("no calibration data"), std::string::npos);
    q.data_dir.clear();
    q.output = q.model;
    EXPECT_NE(error_of(q).find("refusing to overwrite"), std::string::npos);
    q.output = path("q.onnx");
    q.model = path("missing.onnx");
    EXPECT_NE(error_of(q).find("missing.onnx"), std::string::npos);
    q.model = path("m.onnx");
    q.data_dir = path("images");
    fs::create_directories(path("images"));
    std::ofstream(path("images/a.png")) << "not a png";
    q.images.stddev = {0.0f};
    EXPECT_NE(error_of(q).find("standard deviation of 0"), std::string::npos);
    EXPECT_FALSE(fs::exists(path("q.onnx")));
}

TEST_F(CompressApi, PruneAndErrors) {
    PruneRequest p;
    p.model = path("m.onnx");
    p.output = path("p.onnx");
    p.sparsity = 0.5;
    auto r = prune_model_file(p);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->report.layers.size(), 2u);  // conv and fc, half of each layer's weights zero
    EXPECT_EQ(r->report.weights_total, 4 * 27 + 10 * 64);
    EXPECT_EQ(r->report.weights_zero, (4 * 27) / 2 + (10 * 64) / 2);
    EXPECT_TRUE(r->report.evaluated);
    EXPECT_EQ(r->file_bytes_after, static_cast<int64_t>(fs::file_size(path("p.onnx"))));
    EXPECT_EQ(run(path("p.onnx")).shape(), (Shape{1, 10}));
    p.refit = true;
    PruneRequest bad = p;
    bad.output = path("b.onnx");
    auto e = prune_model_file(bad);
    ASSERT_FALSE(e.is_ok());
    EXPECT_NE(e.status().message().find("refit needs structured"), std::string::npos) << e.status().message();
    bad.refit = false;
    bad.sparsity = 1.5;
    EXPECT_FALSE(prune_model_file(bad).is_ok());
    EXPECT_FALSE(fs::exists(path("b.onnx")));
}

}  // namespace
}  // namespace nnport::testing::quant_test

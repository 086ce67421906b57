// Calibration: range choosers on known histograms, every method end to end, and calibration folders (good and bad).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/npy.hpp"
#include "quant/quant_test_util.hpp"

namespace nnport::testing::quant_test {
namespace {

namespace fs = std::filesystem;

TEST(QuantizeCalibration, ActivationParams) {
    float s;
    int32_t z;
    quant::activation_params(-1.0f, 3.0f, DType::kUInt8, s, z);
    EXPECT_FLOAT_EQ(s, 4.0f / 255.0f);
    EXPECT_EQ(z, 64);
    quant::activation_params(0.5f, 2.0f, DType::kUInt8, s, z);  // the range always holds 0
    EXPECT_FLOAT_EQ(s, 2.0f / 255.0f);
    EXPECT_EQ(z, 0);
    quant::activation_params(-4.0f, 1.0f, DType::kInt8, s, z);
    EXPECT_FLOAT_EQ(s, 4.0f / 127.0f);
    EXPECT_EQ(z, 0);
    quant::activation_params(0.0f, 0.0f, DType::kUInt8, s, z);
    EXPECT_EQ(s, 1.0f);
    EXPECT_EQ(z, 0);
}

/// 10000 values uniform in [0, 1) plus 10 outliers at 100.
std::vector<float> data_with_outliers() {
    std::vector<float> v;
    for (int i = 0; i < 10000; ++i) v.push_back(static_cast<float>(i) / 10000.0f);
    for (int i = 0; i < 10; ++i) v.push_back(100.0f);
    return v;
}

TEST(QuantizeCalibration, PercentileClipsTheTail) {
    const std::vector<float> v = data_with_outliers();
    quant::Histogram h(0.0f, 100.0f, 2048);
    h.add(v.data(), static_cast<int64_t>(v.size()), false);
    auto [lo, hi] = quant::percentile_range(h, 99.9);  // 0.1 % = 10 values: exactly the outliers
    EXPECT_FLOAT_EQ(lo, 0.0f);
    EXPECT_NEAR(hi, 1.0f, 100.0f / 2048 + 1e-6);
    auto [lo2, hi2] = quant::percentile_range(h, 99.99);  // only 1 value may go: the outliers stay
    EXPECT_FLOAT_EQ(hi2, 100.0f);
    EXPECT_FLOAT_EQ(lo2, 0.0f);
}

TEST(QuantizeCalibration, EntropyThresholdIgnoresRareOutliers) {
    std::vector<float> v;
    std::mt19937 rng(5);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (int i = 0; i < 200000; ++i) v.push_back(n(rng));
    v.push_back(40.0f);
    quant::Histogram h(0.0f, 40.0f, 2048);
    h.add(v.data(), static_cast<int64_t>(v.size()), true);
    const float t = quant::entropy_threshold(h, 128);
    EXPECT_GT(t, 2.0f);   // keeps the bulk of a unit Gaussian
    EXPECT_LT(t, 10.0f);  // drops the lone outlier
    // Without outliers the threshold is near the maximum.
    std::vector<float> u;
    for (int i = 0; i < 100000; ++i) u.push_back(static_cast<float>(i % 1000) / 1000.0f);
    quant::Histogram hu(0.0f, 1.0f, 2048);
    hu.add(u.data(), static_cast<int64_t>(u.size()), true);
    EXPECT_GT(quant::entropy_threshold(hu, 128), 0.9f);
}

/// SQNR in dB of `v` after uint8 quantization over [lo, hi] (values beyond clipped), as a QDQ pair computes it.
double quantized_sqnr(const std::vector<float>& v, float lo, float hi) {
    float s;
    int32_t z;
    quant::activation_params(lo, hi, DType::kUInt8, s, z);
    double sig = 0, noise = 0;
    for (float x : v) {
        const double q = (std::clamp(std::nearbyint(x / s) + z, 0.0f, 255.0f) - z) * static_cast<double>(s);
        sig += static_cast<double>(x) * x;
        noise += (x - q) * (x - q);
    }
    return 10.0 * std::log10(sig / std::max(noise, 1e-30));
}

/// The entropy threshold of `v` over TensorRT's 2048-bin |x| histogram.
float entropy_of(const std::vector<float>& v, int levels) {
    float amax = 0;
    for (float x : v) amax = std::max(amax, std::fabs(x));
    quant::Histogram h(0.0f, amax, 2048);
    h.add(v.data(), static_cast<int64_t>(v.size()), true);
    return quant::entropy_threshold(h, levels);
}

TEST(QuantizeCalibration, EntropyKeepsReluOutputs) {
    // Relu of a unit Gaussian: half the values exactly zero. The zero spike must not drag the threshold down (it
    // did: spreading the spike over a wider first level looked worse than any clipping, and the digits CNN's Relu
    // outputs were cut to a quarter of their range, logit SQNR 4 dB).
    std::vector<float> v;
    std::mt19937 rng(11);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (int i = 0; i < 200000; ++i) v.push_back(std::max(0.0f, n(rng)));
    const float amax = *std::max_element(v.begin(), v.end());
    const float t = entropy_of(v, 256);  // non-negative data: every uint8 level
    EXPECT_GT(t, 2.5f) << "the bulk of a half Gaussian is cut";
    EXPECT_LE(t, amax + 1e-4f);
    EXPECT_GT(quantized_sqnr(v, 0.0f, t), quantized_sqnr(v, 0.0f, amax) - 3.0) << "t " << t << " max " << amax;
}

TEST(QuantizeCalibration, EntropyClipsLaplacianOutliers) {
    // Laplacian (b = 1) with 20 outliers at +-60: the threshold lands between the bulk's tail and the outliers, and
    // the bulk quantizes far better than over the full range (the outliers are what the clipping gives up).
    std::vector<float> bulk;
    std::mt19937 rng(7);
    std::exponential_distribution<float> e(1.0f);
    for (int i = 0; i < 200000; ++i) bulk.push_back(i % 2 ? e(rng) : -e(rng));
    std::vector<float> v = bulk;
    for (int i = 0; i < 20; ++i) v.push_back(i % 2 ? 60.0f : -60.0f);
    const float t = entropy_of(v, 128);  // signed data: half the levels per side
    EXPECT_GT(t, 4.0f);
    EXPECT_LT(t, 30.0f);
    EXPECT_GT(quantized_sqnr(bulk, -t, t), quantized_sqnr(bulk, -60.0f, 60.0f) + 6.0) << "t " << t;
    // Relu'd, with every uint8 level: the same.
    std::vector<float> rbulk, r;
    for (float x : bulk) rbulk.push_back(std::max(0.0f, x));
    r = rbulk;
    for (int i = 0; i < 10; ++i) r.push_back(60.0f);
    const float tr = entropy_of(r, 256);
    EXPECT_GT(tr, 4.0f);
    EXPECT_LT(tr, 30.0f);
    EXPECT_GT(quantized_sqnr(rbulk, 0.0f, tr), quantized_sqnr(rbulk, 0.0f, 60.0f) + 6.0) << "t " << tr;
}

TEST(QuantizeCalibration, EntropyOnFewValuesKeepsTheRange) {
    // 1000 values (a small output such as a classifier's logits) in 2048 bins: the sparse tail may lose its last
    // few values (as in TensorRT), no more.
    std::vector<float> v;
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0.0f, 5.0f);
    for (int i = 0; i < 1000; ++i) v.push_back(n(rng));
    float amax = 0;
    for (float x : v) amax = std::max(amax, std::fabs(x));
    const float t = entropy_of(v, 128);
    EXPECT_GT(t, 0.8f * amax);
    EXPECT_GT(quantized_sqnr(v, -t, t), quantized_sqnr(v, -amax, amax) - 6.0) << "t " << t << " max " << amax;
}

TEST(QuantizeCalibration, MseShrinksRangeAroundOutliers) {
    // Clipping the outlier costs 49^2; a range 50x narrower saves more than that over two million values.
    std::vector<float> v;
    for (int i = 0; i < 2000000; ++i) v.push_back(static_cast<float>(i % 10000) / 5000.0f - 1.0f);  // [-1, 1)
    v.push_back(50.0f);
    quant::Histogram h(-1.0f, 50.0f, 2048);
    h.add(v.data(), static_cast<int64_t>(v.size()), false);
    auto [lo, hi] = quant::mse_range(h, DType::kUInt8);
    EXPECT_LT(hi, 25.0f);
    EXPECT_GE(hi, 1.0f);
    EXPECT_LE(lo, 0.0f);
    // A uniform range without outliers is kept whole.
    quant::Histogram hu(-1.0f, 1.0f, 2048);
    hu.add(v.data(), 10000, false);
    EXPECT_GT(quant::mse_range(hu, DType::kUInt8).second, 0.9f);
}

TEST(QuantizeCalibration, EveryMethodEndToEnd) {
    // Calibration data in [-1, 1] with one outlier of 60 among 3072 input values.
    std::vector<quant::Feeds> data = range_samples(16, -1.0f, 1.0f);
    data[1][0].second.data<float>()[7] = 60.0f;
    for (auto method : {quant::CalibrationMethod::kMinMax, quant::CalibrationMethod::kPercentile,
                        quant::CalibrationMethod::kEntropy, quant::CalibrationMethod::kMse}) {
        quant::QuantizeOptions o;
        o.calibration = method;
        o.percentile = 99.9;
        o.calibration_data = data;
        o.backends = "ref";
        quant::QuantizeReport rep;
        auto m = quantized(conv_model(), o, &rep);
        ASSERT_NE(m, nullptr) << static_cast<int>(method);
        const quant::TensorRange* x = nullptr;
        for (const auto& r : rep.ranges) x = r.name == "x" ? &r : x;
        ASSERT_NE(x, nullptr);
        EXPECT_FLOAT_EQ(x->max, 60.0f);
        EXPECT_FLOAT_EQ(x->min, -1.0f);
        if (method == quant::CalibrationMethod::kMinMax) {
            EXPECT_FLOAT_EQ(x->hi, 60.0f);
        } else if (method != quant::CalibrationMethod::kPercentile) {
            // MSE: one outlier's clipping error (59^2) outweighs the rounding error of 3071 values. Entropy: merging
            // bins of uniform data loses no information, so KL cannot prefer a cut (EntropyThresholdIgnoresRare-
            // Outliers checks the cut on bell-shaped data).
            EXPECT_LE(x->hi, 60.0f);
            EXPECT_GT(x->hi, 0.5f);
        } else {
            EXPECT_LT(x->hi, 20.0f) << "percentile should clip the outlier";
            EXPECT_GT(x->hi, 0.5f);
        }
        EXPECT_GE(x->lo, x->min);
        EXPECT_TRUE(rep.evaluated);
        EXPECT_GT(rep.cosine, 0.5);
    }
}

/// A scratch folder removed at the end of the test.
struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("nnport_quant_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

Tensor filled(DType dt, const Shape& s) {
    Tensor t = std::move(Tensor::create(dt, s, true)).value();
    return t;
}

TEST(QuantizeCalibration, LoadsFolderOfSamples) {
    TempDir d;
    auto model = load_ir(conv_model());
    ASSERT_TRUE(io::write_npy((d.path / "a.npy").string(), filled(DType::kFloat32, {1, 3, 8, 8})).is_ok());
    ASSERT_TRUE(io::write_npy((d.path / "b.npy").string(), filled(DType::kFloat32, {1, 3, 8, 8})).is_ok());
    fs::create_directories(d.path / "s3");
    ASSERT_TRUE(io::write_npy((d.path / "s3" / "x.npy").string(), filled(DType::kFloat32, {1, 3, 8, 8})).is_ok());
    auto r = quant::load_calibration_dir(*model->graph, d.path.string());
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0][0].first, "x");
}

TEST(QuantizeCalibration, BadFoldersNameTheFile) {
    auto model = load_ir(conv_model());
    {
        TempDir d;  // empty
        auto r = quant::load_calibration_dir(*model->graph, d.path.string());
        ASSERT_FALSE(r.is_ok());
        EXPECT_NE(r.status().message().find("no calibration data"), std::string::npos);
    }
    {
        TempDir d;
        const std::string f = (d.path / "bad_shape.npy").string();
        ASSERT_TRUE(io::write_npy(f, filled(DType::kFloat32, {1, 3, 4, 4})).is_ok());
        auto r = quant::load_calibration_dir(*model->graph, d.path.string());
        ASSERT_FALSE(r.is_ok());
        EXPECT_NE(r.status().message().find(f), std::string::npos) << r.status().message();
        EXPECT_NE(r.status().message().find("shape"), std::string::npos);
    }
    {
        TempDir d;
        const std::string f = (d.path / "bad_dtype.npy").string();
        ASSERT_TRUE(io::write_npy(f, filled(DType::kFloat64, {1, 3, 8, 8})).is_ok());
        auto r = quant::load_calibration_dir(*model->graph, d.path.string());
        ASSERT_FALSE(r.is_ok());
        EXPECT_NE(r.status().message().find(f), std::string::npos);
        EXPECT_NE(r.status().message().find("dtype"), std::string::npos);
    }
    {
        TempDir d;
        std::ofstream(d.path / "junk.npy") << "not numpy";
        auto r = quant::load_calibration_dir(*model->graph, d.path.string());
        ASSERT_FALSE(r.is_ok());
        EXPECT_NE(r.status().message().find("junk.npy"), std::string::npos);
    }
    {
        auto r = quant::load_calibration_dir(*model->graph, "/nonexistent/nnport_calib");
        ASSERT_FALSE(r.is_ok());
        EXPECT_NE(r.status().message().find("not found"), std::string::npos);
    }
}

TEST(QuantizeCalibration, MultiInputSamplesBindByName) {
    onnx::GraphProto g;
    add_input(&g, "a", F, {2, 2});
    add_input(&g, "b", F, {2, 2});
    add_node(&g, "Add", {"a", "b"}, {"y"});
    add_output(&g, "y");
    auto model = load_ir(make_model(g));
    TempDir d;
    fs::create_directories(d.path / "s0");
    ASSERT_TRUE(io::write_npy((d.path / "s0" / "b.npy").string(), filled(DType::kFloat32, {2, 2})).is_ok());
    ASSERT_TRUE(io::write_npy((d.path / "s0" / "a.npy").string(), filled(DType::kFloat32, {2, 2})).is_ok());
    auto r = quant::load_calibration_dir(*model->graph, d.path.string());
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ((*r)[0][0].first, "a");
    EXPECT_EQ((*r)[0][1].first, "b");
    // A file whose name matches no input.
    fs::create_directories(d.path / "s1");
    ASSERT_TRUE(io::write_npy((d.path / "s1" / "a.npy").string(), filled(DType::kFloat32, {2, 2})).is_ok());
    const std::string bad = (d.path / "s1" / "c.npy").string();
    ASSERT_TRUE(io::write_npy(bad, filled(DType::kFloat32, {2, 2})).is_ok());
    auto e = quant::load_calibration_dir(*model->graph, d.path.string());
    ASSERT_FALSE(e.is_ok());
    EXPECT_NE(e.status().message().find(bad), std::string::npos);
    EXPECT_NE(e.status().message().find("matches no model input"), std::string::npos);
    // Loose files for a two-input model.
    TempDir loose;
    ASSERT_TRUE(io::write_npy((loose.path / "a.npy").string(), filled(DType::kFloat32, {2, 2})).is_ok());
    auto l = quant::load_calibration_dir(*model->graph, loose.path.string());
    ASSERT_FALSE(l.is_ok());
    EXPECT_NE(l.status().message().find("subfolder"), std::string::npos);
}

}  // namespace
}  // namespace nnport::testing::quant_test

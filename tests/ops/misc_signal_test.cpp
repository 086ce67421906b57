// DFT/STFT against a naive DFT (radix-2 and Bluestein lengths), windows and MelWeightMatrix edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>

#include "util/op_runner.hpp"

namespace nnport {
namespace {

Result<std::vector<RtValue>> run(const std::string& op, std::vector<Tensor> in, ir::Attributes attrs = {}) {
    return testing::run_simple(op, std::move(in), std::move(attrs), 1, 17);
}

std::vector<std::complex<double>> naive_dft(const std::vector<std::complex<double>>& x, bool inverse) {
    const size_t n = x.size();
    std::vector<std::complex<double>> y(n);
    for (size_t k = 0; k < n; ++k) {
        for (size_t j = 0; j < n; ++j) {
            const double a = (inverse ? 2 : -2) * M_PI * static_cast<double>(j * k % n) / static_cast<double>(n);
            y[k] += x[j] * std::polar(1.0, a);
        }
        if (inverse) y[k] /= static_cast<double>(n);
    }
    return y;
}

TEST(DFT, MatchesNaiveForManyLengths) {
    for (int64_t n : {1, 2, 5, 7, 8, 12, 16, 31}) {
        for (bool inverse : {false, true}) {
            std::vector<float> v(static_cast<size_t>(2 * n));
            std::vector<std::complex<double>> x(static_cast<size_t>(n));
            for (int64_t j = 0; j < n; ++j) {
                v[2 * j] = std::sin(0.7f * static_cast<float>(j)) + 0.1f * static_cast<float>(j);
                v[2 * j + 1] = std::cos(1.3f * static_cast<float>(j));
                x[static_cast<size_t>(j)] = {v[2 * j], v[2 * j + 1]};
            }
            auto out = run("DFT", {Tensor::from_vector<float>({1, n, 2}, v)}, {{"inverse", ir::Attribute::make_int(inverse)}});
            ASSERT_TRUE(out.is_ok()) << out.status().to_string();
            const auto want = naive_dft(x, inverse);
            const float* y = out.value()[0].tensor.data<float>();
            for (int64_t k = 0; k < n; ++k) {
                EXPECT_NEAR(y[2 * k], want[static_cast<size_t>(k)].real(), 1e-4) << n << " " << k;
                EXPECT_NEAR(y[2 * k + 1], want[static_cast<size_t>(k)].imag(), 1e-4) << n << " " << k;
            }
        }
    }
}

TEST(DFT, OnesidedPaddedLength) {
    // Real input of length 3 padded to dft_length 6; onesided keeps 4 bins.
    auto out = run("DFT", {Tensor::from_vector<double>({1, 3, 1}, {1, 2, 3}), Tensor::scalar<int64_t>(6)},
                   {{"onesided", ir::Attribute::make_int(1)}});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 4, 2}));
    const auto want = naive_dft({1, 2, 3, 0, 0, 0}, false);
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(out.value()[0].tensor.data<double>()[2 * k], want[static_cast<size_t>(k)].real(), 1e-9);
}

TEST(DFT, RejectsBadTrailingDim) { EXPECT_FALSE(run("DFT", {Tensor::from_vector<float>({1, 2, 3}, {1, 2, 3, 4, 5, 6})}).is_ok()); }

TEST(DFT, RejectsAxisOnComplexDim) {
    EXPECT_FALSE(run("DFT", {Tensor::from_vector<float>({1, 2, 1}, {1, 2})}, {{"axis", ir::Attribute::make_int(2)}}).is_ok());
}

TEST(STFT, FramesAndRejections) {
    std::vector<float> sig(10);
    for (size_t i = 0; i < sig.size(); ++i) sig[i] = static_cast<float>(i);
    const Tensor x = Tensor::from_vector<float>({1, 10, 1}, sig);
    auto out = run("STFT", {x, Tensor::scalar<int64_t>(3), Tensor(), Tensor::scalar<int64_t>(4)});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{1, 3, 3, 2}));
    EXPECT_EQ(out.value()[0].tensor.data<float>()[6], 3 + 4 + 5 + 6);  // frame 1, bin 0 (real)
    EXPECT_FALSE(run("STFT", {x, Tensor::scalar<int64_t>(0), Tensor(), Tensor::scalar<int64_t>(4)}).is_ok());
    EXPECT_FALSE(run("STFT", {x, Tensor::scalar<int64_t>(1), Tensor(), Tensor::scalar<int64_t>(11)}).is_ok());
    EXPECT_FALSE(run("STFT", {x, Tensor::scalar<int64_t>(1), Tensor::from_vector<float>({3}, {1, 1, 1}),
                              Tensor::scalar<int64_t>(4)}).is_ok());
}

TEST(Window, SymmetricAndPeriodicAndDtype) {
    auto h = run("HannWindow", {Tensor::scalar<int64_t>(5)}, {{"periodic", ir::Attribute::make_int(0)}});
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    const float* w = h.value()[0].tensor.data<float>();
    EXPECT_NEAR(w[0], 0.f, 1e-7);
    EXPECT_NEAR(w[2], 1.f, 1e-7);
    EXPECT_NEAR(w[4], 0.f, 1e-7);
    auto one = run("HammingWindow", {Tensor::scalar<int32_t>(1)}, {{"periodic", ir::Attribute::make_int(0)}});
    ASSERT_TRUE(one.is_ok());
    EXPECT_EQ(one.value()[0].tensor.data<float>()[0], 1.f);
    auto dbl = run("BlackmanWindow", {Tensor::scalar<int64_t>(4)}, {{"output_datatype", ir::Attribute::make_int(11)}});
    ASSERT_TRUE(dbl.is_ok());
    EXPECT_EQ(dbl.value()[0].tensor.dtype(), DType::kFloat64);
    EXPECT_NEAR(dbl.value()[0].tensor.data<double>()[2], 1.0, 1e-12);
    EXPECT_FALSE(run("HannWindow", {Tensor::scalar<int64_t>(-1)}).is_ok());
}

TEST(MelWeightMatrix, ShapeAndRejections) {
    auto out = run("MelWeightMatrix", {Tensor::scalar<int32_t>(4), Tensor::scalar<int32_t>(32), Tensor::scalar<int32_t>(16000),
                                       Tensor::scalar<float>(0.f), Tensor::scalar<float>(8000.f)});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{17, 4}));
    // Upper edge far past Nyquist: edges beyond the matrix are dropped, no crash.
    auto wide = run("MelWeightMatrix", {Tensor::scalar<int32_t>(4), Tensor::scalar<int32_t>(8), Tensor::scalar<int32_t>(100),
                                        Tensor::scalar<float>(0.f), Tensor::scalar<float>(1e30f)});
    EXPECT_TRUE(wide.is_ok());
    EXPECT_FALSE(run("MelWeightMatrix", {Tensor::scalar<int32_t>(0), Tensor::scalar<int32_t>(8), Tensor::scalar<int32_t>(100),
                                         Tensor::scalar<float>(0.f), Tensor::scalar<float>(10.f)}).is_ok());
    EXPECT_FALSE(run("MelWeightMatrix", {Tensor::scalar<int32_t>(2), Tensor::scalar<int32_t>(8), Tensor::scalar<int32_t>(100),
                                         Tensor::scalar<float>(50.f), Tensor::scalar<float>(10.f)}).is_ok());
}

}  // namespace
}  // namespace nnport

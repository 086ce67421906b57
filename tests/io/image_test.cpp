// Calibration images (io/image.hpp): decoding through stb_image, the resize and centre crop against values worked
// out by hand, normalization, channel order and layouts, uint8 inputs, a calibration folder of images, and the
// errors (not an image, too large, shapes an image cannot fill, bad preprocessing lists).
#include "io/image.hpp"

#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "backends/backend_test_util.hpp"
#include "quant/calibration.hpp"

namespace nnport {
namespace {

namespace fs = std::filesystem;

class Image : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nnport_image_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& f) const { return (dir_ / f).string(); }

    /// A w x h PNG of n channels with pixel(y, x, c) = f(y, x, c).
    template <typename F>
    std::string png(const std::string& name, int w, int h, int n, F f) const {
        std::vector<unsigned char> px(static_cast<size_t>(w * h * n));
        for (int y = 0; y < h; ++y) {
            for (int x = 0; x < w; ++x) {
                for (int c = 0; c < n; ++c) px[size_t((y * w + x) * n + c)] = static_cast<unsigned char>(f(y, x, c));
            }
        }
        EXPECT_NE(stbi_write_png(path(name).c_str(), w, h, n, px.data(), w * n), 0);
        return path(name);
    }

    fs::path dir_;
};

ir::ValueType input(DType dt, std::vector<int64_t> dims) {
    std::vector<ir::Dim> d;
    for (int64_t v : dims) d.push_back(ir::Dim(v));
    return ir::ValueType::tensor(dt, d);
}

int pixel(int y, int x, int c) { return 10 * y + 3 * x + 50 * c; }

TEST_F(Image, SameSizeNchwNormalizedPerChannel) {
    const std::string f = png("a.png", 4, 2, 3, pixel);
    io::ImagePreprocess p;
    p.mean = {0.5f, 0.4f, 0.3f};
    p.stddev = {0.2f, 0.25f, 0.5f};
    auto t = io::read_image(f, input(DType::kFloat32, {1, 3, 2, 4}), p);
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    ASSERT_EQ(t->shape(), (Shape{1, 3, 2, 4}));
    for (int c = 0; c < 3; ++c) {
        for (int y = 0; y < 2; ++y) {
            for (int x = 0; x < 4; ++x) {
                const float want = (float(pixel(y, x, c)) * p.scale - p.mean[size_t(c)]) / p.stddev[size_t(c)];
                EXPECT_EQ(t->data<float>()[(c * 2 + y) * 4 + x], want) << c << " " << y << " " << x;
            }
        }
    }
}

TEST_F(Image, BgrNhwcUint8) {
    const std::string f = png("a.png", 4, 2, 3, pixel);
    io::ImagePreprocess p;
    p.bgr = true;
    auto t = io::read_image(f, input(DType::kUInt8, {1, 2, 4, 3}), p);
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    for (int y = 0; y < 2; ++y) {
        for (int x = 0; x < 4; ++x) {
            for (int c = 0; c < 3; ++c) EXPECT_EQ(t->data<uint8_t>()[(y * 4 + x) * 3 + c], pixel(y, x, 2 - c));
        }
    }
}

TEST_F(Image, BilinearUpscaleWithHalfPixelCentres) {
    // [[0, 100], [200, 255]] to 4 x 4: source coordinates (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped).
    const std::string f = png("g.png", 2, 2, 1, [](int y, int x, int) { return y == 0 ? 100 * x : 200 + 55 * x; });
    io::ImagePreprocess p;
    p.scale = 1.0f;
    auto t = io::read_image(f, input(DType::kFloat32, {1, 1, 4, 4}), p);
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    const float want[4][4] = {{0, 25, 75, 100},
                              {50, 72.1875f, 116.5625f, 138.75f},
                              {150, 166.5625f, 199.6875f, 216.25f},
                              {200, 213.75f, 241.25f, 255}};
    for (int y = 0; y < 4; ++y) {
        for (int x = 0; x < 4; ++x) EXPECT_NEAR(t->data<float>()[y * 4 + x], want[y][x], 1e-4) << y << " " << x;
    }
}

TEST_F(Image, ResizeShortSideThenCentreCrop) {
    // 8 x 4 gray, pixel = 10 x: the short side 4 -> 2 makes it 4 x 2; the centre 2 x 2 starts at column 1, whose
    // source columns are (1 + 0.5) * 2 - 0.5 = 2.5 and 4.5.
    const std::string f = png("w.png", 8, 4, 1, [](int, int x, int) { return 10 * x; });
    io::ImagePreprocess p;
    p.scale = 1.0f;
    p.resize_short = 2;
    auto t = io::read_image(f, input(DType::kFloat32, {1, 1, 2, 2}), p);
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    EXPECT_NEAR(t->data<float>()[0], 25.0f, 1e-4);
    EXPECT_NEAR(t->data<float>()[1], 45.0f, 1e-4);
    EXPECT_NEAR(t->data<float>()[2], 25.0f, 1e-4);
    p.resize_short = 1;  // 2 x 1: smaller than the input
    auto small = io::read_image(f, input(DType::kFloat32, {1, 1, 2, 2}), p);
    ASSERT_FALSE(small.is_ok());
    EXPECT_NE(small.status().message().find("smaller than the input"), std::string::npos);
}

TEST_F(Image, ErrorsNameTheFileAndReason) {
    const std::string good = png("a.png", 4, 4, 3, pixel);
    const io::ImagePreprocess p;
    auto expect_error = [](const Result<Tensor>& r, const std::string& file, const std::string& reason) {
        ASSERT_FALSE(r.is_ok());
        EXPECT_NE(r.status().message().find(file), std::string::npos) << r.status().message();
        EXPECT_NE(r.status().message().find(reason), std::string::npos) << r.status().message();
    };
    {
        std::ofstream(path("text.png")) << "not a png";
        expect_error(io::read_image(path("text.png"), input(DType::kFloat32, {1, 3, 4, 4}), p), "text.png",
                     "not a readable image");
    }
    {
        // A BMP header claiming 100000 x 100000 pixels: refused before decoding.
        std::vector<unsigned char> h(54, 0);
        auto put32 = [&](size_t at, uint32_t v) {
            for (int i = 0; i < 4; ++i) h[at + size_t(i)] = static_cast<unsigned char>(v >> (8 * i));
        };
        h[0] = 'B';
        h[1] = 'M';
        put32(2, 54);
        put32(10, 54);
        put32(14, 40);
        put32(18, 100000);
        put32(22, 100000);
        h[26] = 1;
        h[28] = 24;
        std::ofstream(path("huge.bmp"), std::ios::binary).write(reinterpret_cast<const char*>(h.data()), 54);
        expect_error(io::read_image(path("huge.bmp"), input(DType::kFloat32, {1, 3, 4, 4}), p), "huge.bmp",
                     "larger than the limit");
    }
    expect_error(io::read_image(good, input(DType::kFloat32, {3, 4}), p), "a.png", "rank-4");
    expect_error(io::read_image(good, input(DType::kInt32, {1, 3, 4, 4}), p), "a.png", "float32 or uint8");
    expect_error(io::read_image(good, input(DType::kFloat32, {1, 5, 4, 6}), p), "a.png", "no dim of 1, 3 or 4");
    expect_error(io::read_image(good, input(DType::kFloat32, {2, 3, 4, 4}), p), "a.png", "batch 1");
    io::ImagePreprocess five;
    five.mean = {1, 2, 3, 4, 5};
    expect_error(io::read_image(good, input(DType::kFloat32, {1, 3, 4, 4}), five), "a.png", "mean/std values");
    EXPECT_FALSE(io::parse_floats("0.1,x", "--image-mean").is_ok());
    EXPECT_FALSE(io::parse_floats("", "--image-mean").is_ok());
    auto ok = io::parse_floats("0.485,0.456,0.406", "--image-mean");
    ASSERT_TRUE(ok.is_ok());
    EXPECT_EQ(ok->size(), 3u);
}

TEST_F(Image, CalibrationFolderOfImages) {
    fs::create_directories(path("calib"));
    for (int k = 0; k < 3; ++k) {
        png("calib/img" + std::to_string(k) + (k == 2 ? ".PNG" : ".png"), 6, 5, 3,
            [k](int y, int x, int c) { return pixel(y, x, c) + k; });
    }
    testing::Net net;
    net.input("x", {ir::Dim(1), ir::Dim(3), ir::Dim(4), ir::Dim(4)});
    net.node("Relu", {"x"}, {"y"});
    net.output("y");
    io::ImagePreprocess p;
    p.mean = {0.5f};
    auto r = quant::load_calibration_dir(*net.g, path("calib"), p);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    ASSERT_EQ(r->size(), 3u);
    for (const quant::Feeds& s : *r) {
        ASSERT_EQ(s.size(), 1u);
        EXPECT_EQ(s[0].first, "x");
        EXPECT_EQ(s[0].second.shape(), (Shape{1, 3, 4, 4}));
    }
    std::ofstream(path("calib/broken.jpg")) << "nope";
    auto bad = quant::load_calibration_dir(*net.g, path("calib"), p);
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("broken.jpg"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace nnport

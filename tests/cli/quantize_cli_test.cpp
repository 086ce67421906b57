// End-to-end tests of `nnport quantize`: every mode writes a model nnport runs with outputs close to float32, the
// report lists sizes, kept ops, ranges and sensitivity, and bad calibration data or options fail with a clear reason.
#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/npy.hpp"
#include "onnx/proto.hpp"

namespace nnport {
namespace {

namespace fs = std::filesystem;

struct CliRun {
    int code;
    std::string out;
};

/// Runs the nnport binary with a time limit, capturing stdout+stderr.
CliRun nnport(const std::string& args) {
    const std::string cmd = std::string("timeout 120 ") + NNPORT_BIN + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int st = pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}

void add_init(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims, float scale,
              uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, scale);
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t count = 1;
    for (int64_t d : dims) {
        t->add_dims(d);
        count *= d;
    }
    for (int64_t i = 0; i < count; ++i) t->add_float_data(n(rng));
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::string& name,
                          const std::vector<std::string>& ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
}

void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
}

void set_io(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

/// x[1,3,8,8] -> Conv 'conv' -> Relu -> MaxPool -> Flatten -> Gemm 'fc' -> Softmax 'soft' -> y[1,10].
onnx::ModelProto conv_model() {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    auto* g = m.mutable_graph();
    g->set_name("g");
    add_init(g, "w", {4, 3, 3, 3}, 0.3f, 1);
    add_init(g, "b", {4}, 0.1f, 2);
    add_init(g, "fw", {10, 64}, 0.2f, 3);
    add_init(g, "fb", {10}, 0.1f, 4);
    attr_ints(add_node(g, "Conv", "conv", {"x", "w", "b"}, "c"), "pads", {1, 1, 1, 1});
    add_node(g, "Relu", "relu", {"c"}, "r");
    auto* pool = add_node(g, "MaxPool", "pool", {"r"}, "p");
    attr_ints(pool, "kernel_shape", {2, 2});
    attr_ints(pool, "strides", {2, 2});
    add_node(g, "Flatten", "flat", {"p"}, "f");
    auto* fc = add_node(g, "Gemm", "fc", {"f", "fw", "fb"}, "l");
    auto* tb = fc->add_attribute();
    tb->set_name("transB");
    tb->set_type(onnx::AttributeProto::INT);
    tb->set_i(1);
    add_node(g, "Softmax", "soft", {"l"}, "y");
    set_io(g->add_input(), "x", {1, 3, 8, 8});
    set_io(g->add_output(), "y", {1, 10});
    return m;
}

Tensor random_input(uint32_t seed, const Shape& shape = {1, 3, 8, 8}, DType dt = DType::kFloat32) {
    Tensor t = std::move(Tensor::create(dt, shape, true)).value();
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    if (dt == DType::kFloat32) {
        for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    }
    return t;
}

class QuantizeCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nnport_qcli_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "calib");
        std::ofstream f(path("m.onnx"), std::ios::binary);
        conv_model().SerializeToOstream(&f);
        for (int k = 0; k < 3; ++k) {
            EXPECT_TRUE(io::write_npy(path("calib/s" + std::to_string(k) + ".npy"), random_input(10 + k)).is_ok());
        }
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& f) const { return (dir_ / f).string(); }

    /// Runs `model` on calib/s0.npy and returns output y.
    Tensor run_model(const std::string& model, const std::string& out_dir) {
        CliRun r = nnport("run " + model + " -i " + path("calib/s0.npy") + " -o " + path(out_dir));
        EXPECT_EQ(r.code, 0) << r.out;
        auto t = io::read_npy(path(out_dir + "/y.npy"));
        EXPECT_TRUE(t.is_ok()) << r.out;
        return t.is_ok() ? t.value() : Tensor();
    }

    /// Largest |a - b| over |b|'s maximum.
    static double rel_diff(const Tensor& a, const Tensor& b) {
        double m = 0, d = 0;
        for (int64_t i = 0; i < b.numel(); ++i) {
            m = std::max(m, std::fabs(static_cast<double>(b.data<float>()[i])));
            d = std::max(d, std::fabs(static_cast<double>(a.data<float>()[i]) - b.data<float>()[i]));
        }
        return d / std::max(m, 1e-9);
    }

    /// Number of nodes of `op` and initializers of `elem` type in a saved model.
    static std::pair<int, int> count(const std::string& file, const std::string& op, int elem) {
        onnx::ModelProto m;
        std::ifstream f(file, std::ios::binary);
        EXPECT_TRUE(m.ParseFromIstream(&f)) << file;
        int nodes = 0, inits = 0;
        for (const auto& n : m.graph().node()) nodes += n.op_type() == op;
        for (const auto& t : m.graph().initializer()) inits += t.data_type() == elem;
        return {nodes, inits};
    }

    fs::path dir_;
};

TEST_F(QuantizeCli, Int8StaticWithCalibrationFolder) {
    CliRun r = nnport("quantize " + path("m.onnx") + " -o " + path("q.onnx") + " --mode int8-static --data " +
                      path("calib") + " --report");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("2 node(s) with int8 weights"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("3 sample(s)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("file: "), std::string::npos);
    EXPECT_NE(r.out.find("scale "), std::string::npos) << "--report lists scales";
    EXPECT_NE(r.out.find("SQNR"), std::string::npos);
    EXPECT_NE(r.out.find("wrote " + path("q.onnx")), std::string::npos);
    auto [q, q_inits] = count(path("q.onnx"), "QuantizeLinear", onnx::TensorProto::INT8);
    EXPECT_GE(q, 3);
    EXPECT_EQ(q_inits, 2) << "per-channel int8 weights of conv and fc (their zero points are omitted: 0)";
    EXPECT_EQ(count(path("q.onnx"), "DequantizeLinear", onnx::TensorProto::INT32).second, 2) << "int32 biases";
    EXPECT_LT(rel_diff(run_model(path("q.onnx"), "oq"), run_model(path("m.onnx"), "of")), 0.1);
}

TEST_F(QuantizeCli, EveryCalibrationMethodAndActivationType) {
    for (const char* method : {"minmax", "percentile", "entropy", "mse"}) {
        for (const char* act : {"uint8", "int8"}) {
            CliRun r = nnport("quantize " + path("m.onnx") + " -o " + path("q.onnx") +
                              " --mode int8-static --data " + path("calib") + " --calibration " + method +
                              " --activation-type " + act);
            ASSERT_EQ(r.code, 0) << method << " " << act << ": " << r.out;
            EXPECT_NE(r.out.find(std::string("method ") + method), std::string::npos);
        }
    }
}

TEST_F(QuantizeCli, Fp16KeepsSoftmaxInFloat32) {
    CliRun r = nnport("quantize " + path("m.onnx") + " -o " + path("h.onnx") + " --mode fp16");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("kept in float32"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Softmax 'soft': sensitive op"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("synthetic data"), std::string::npos);
    auto [casts, halves] = count(path("h.onnx"), "Cast", onnx::TensorProto::FLOAT16);
    EXPECT_GE(casts, 2);
    EXPECT_EQ(halves, 4);
    EXPECT_LT(rel_diff(run_model(path("h.onnx"), "oh"), run_model(path("m.onnx"), "of")), 1e-2);
    EXPECT_LT(fs::file_size(path("h.onnx")), fs::file_size(path("m.onnx")));
}

TEST_F(QuantizeCli, DynamicSensitivityAndExclude) {
    CliRun d = nnport("quantize " + path("m.onnx") + " -o " + path("d.onnx") + " --mode int8-dynamic");
    ASSERT_EQ(d.code, 0) << d.out;
    EXPECT_EQ(count(path("d.onnx"), "QuantizeLinear", onnx::TensorProto::INT8).first, 0);
    EXPECT_LT(rel_diff(run_model(path("d.onnx"), "od"), run_model(path("m.onnx"), "of")), 0.05);
    CliRun s = nnport("quantize " + path("m.onnx") + " -o " + path("s.onnx") + " --mode int8-static --data " +
                      path("calib") + " --sensitivity --exclude fc");
    ASSERT_EQ(s.code, 0) << s.out;
    EXPECT_NE(s.out.find("sensitivity"), std::string::npos) << s.out;
    EXPECT_NE(s.out.find("Conv 'conv'"), std::string::npos) << s.out;
    EXPECT_NE(s.out.find("Gemm 'fc': excluded"), std::string::npos) << s.out;
    CliRun b = nnport("quantize " + path("m.onnx") + " -o " + path("b.onnx") + " --mode int8-static --data " +
                      path("calib") + " --max-error 0.5");
    ASSERT_EQ(b.code, 0) << b.out;
}

TEST_F(QuantizeCli, BadCalibrationDataNamesTheFile) {
    fs::create_directories(path("empty"));
    CliRun e = nnport("quantize " + path("m.onnx") + " -o " + path("q.onnx") + " --mode int8-static --data " +
                      path("empty"));
    EXPECT_EQ(e.code, 1) << e.out;
    EXPECT_NE(e.out.find("no calibration data"), std::string::npos) << e.out;
    fs::create_directories(path("shape"));
    ASSERT_TRUE(io::write_npy(path("shape/a.npy"), random_input(1, {1, 3, 4, 4})).is_ok());
    CliRun s = nnport("quantize " + path("m.onnx") + " -o " + path("q.onnx") + " --mode int8-static --data " +
                      path("shape"));
    EXPECT_EQ(s.code, 1);
    EXPECT_NE(s.out.find(path("shape/a.npy")), std::string::npos) << s.out;
    fs::create_directories(path("dtype"));
    ASSERT_TRUE(io::write_npy(path("dtype/a.npy"), random_input(1, {1, 3, 8, 8}, DType::kInt32)).is_ok());
    CliRun t = nnport("quantize " + path("m.onnx") + " -o " + path("q.onnx") + " --mode int8-static --data " +
                      path("dtype"));
    EXPECT_EQ(t.code, 1);
    EXPECT_NE(t.out.find("dtype"), std::string::npos) << t.out;
    EXPECT_FALSE(fs::exists(path("q.onnx")));
}

TEST_F(QuantizeCli, Int8StaticWithCalibrationImages) {
    // PNG and BMP images of other sizes, resized to the input's 8 x 8 and normalized as the options say.
    fs::create_directories(path("images"));
    std::mt19937 rng(5);
    for (int k = 0; k < 3; ++k) {
        const int w = 10 + 3 * k, h = 12;
        std::vector<unsigned char> px(static_cast<size_t>(w * h * 3));
        for (auto& v : px) v = static_cast<unsigned char>(rng() & 0xFF);
        const std::string f = path("images/img" + std::to_string(k) + (k == 1 ? ".bmp" : ".png"));
        ASSERT_NE(k == 1 ? stbi_write_bmp(f.c_str(), w, h, 3, px.data())
                         : stbi_write_png(f.c_str(), w, h, 3, px.data(), w * 3),
                  0);
    }
    CliRun r =
        nnport("quantize " + path("m.onnx") + " -o " + path("q.onnx") + " --mode int8-static --data " + path("images") +
               " --image-mean 0.485,0.456,0.406 --image-std 0.229,0.224,0.225 " + "--image-resize-short 9 --report");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("3 sample(s),"), std::string::npos) << r.out;
    // Normalized pixels of [0, 1] span about [-2.1, 2.6]: the input's observed range says they were used.
    const size_t at = r.out.find("    x: [");
    ASSERT_NE(at, std::string::npos) << r.out;
    const double lo = std::stod(r.out.substr(at + 8));
    EXPECT_LT(lo, -1.5) << r.out.substr(at, 80);
    EXPECT_GT(lo, -2.2) << r.out.substr(at, 80);
    CliRun bad = nnport("quantize " + path("m.onnx") + " -o " + path("q2.onnx") + " --mode int8-static --data " +
                        path("images") + " --image-mean 0.5,x");
    EXPECT_EQ(bad.code, 1) << bad.out;
    EXPECT_NE(bad.out.find("--image-mean"), std::string::npos) << bad.out;
    std::ofstream(path("images/img3.jpg")) << "not a jpeg";
    CliRun broken = nnport("quantize " + path("m.onnx") + " -o " + path("q3.onnx") + " --mode int8-static --data " +
                           path("images"));
    EXPECT_EQ(broken.code, 1) << broken.out;
    EXPECT_NE(broken.out.find(path("images/img3.jpg")), std::string::npos) << broken.out;
    EXPECT_FALSE(fs::exists(path("q3.onnx")));
}

TEST_F(QuantizeCli, BadOptions) {
    CliRun m = nnport("quantize " + path("m.onnx") + " -o " + path("q.onnx") + " --mode int4");
    EXPECT_EQ(m.code, 2) << m.out;
    CliRun x = nnport("quantize " + path("m.onnx") + " -o " + path("q.onnx") + " --mode int8-static --exclude nope");
    EXPECT_EQ(x.code, 1);
    EXPECT_NE(x.out.find("no node named 'nope'"), std::string::npos) << x.out;
    CliRun o = nnport("quantize " + path("m.onnx") + " --mode fp16");
    EXPECT_EQ(o.code, 1);
    EXPECT_NE(o.out.find("-o OUT.onnx"), std::string::npos) << o.out;
    CliRun same = nnport("quantize " + path("m.onnx") + " -o " + path("m.onnx") + " --mode fp16");
    EXPECT_EQ(same.code, 1);
    EXPECT_NE(same.out.find("refusing to overwrite"), std::string::npos) << same.out;
}

}  // namespace
}  // namespace nnport

// End-to-end tests of `nnport prune`: unstructured and structured pruning write models nnport runs, the report lists
// sparsity, kept channels, sizes and agreement, and bad options or data fail with a clear reason.
#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <sys/wait.h>
#include <unistd.h>

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

CliRun nnport(const std::string& args) {
    const std::string cmd = std::string("timeout 120 ") + NNPORT_BIN + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int st = pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}

void add_init(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 0.3f);
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

onnx::NodeProto* node(onnx::GraphProto* g, const std::string& op, const std::string& name,
                      const std::vector<std::string>& ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
}

void set_io(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

/// x[1,3,8,8] -> Conv 'c1' (16, pad 1) -> Relu -> Conv 'c2' (12) -> GlobalAveragePool -> Flatten -> Gemm 'fc' -> y.
onnx::ModelProto model() {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    auto* g = m.mutable_graph();
    g->set_name("g");
    add_init(g, "w1", {16, 3, 3, 3}, 1);
    add_init(g, "w2", {12, 16, 1, 1}, 2);
    add_init(g, "fw", {5, 12}, 3);
    auto* c1 = node(g, "Conv", "c1", {"x", "w1"}, "a");
    auto* pads = c1->add_attribute();
    pads->set_name("pads");
    pads->set_type(onnx::AttributeProto::INTS);
    for (int i = 0; i < 4; ++i) pads->add_ints(1);
    node(g, "Relu", "relu", {"a"}, "r");
    node(g, "Conv", "c2", {"r", "w2"}, "b");
    node(g, "GlobalAveragePool", "gap", {"b"}, "p");
    node(g, "Flatten", "flat", {"p"}, "f");
    auto* fc = node(g, "Gemm", "fc", {"f", "fw"}, "y");
    auto* tb = fc->add_attribute();
    tb->set_name("transB");
    tb->set_type(onnx::AttributeProto::INT);
    tb->set_i(1);
    set_io(g->add_input(), "x", {1, 3, 8, 8});
    set_io(g->add_output(), "y", {1, 5});
    return m;
}

class PruneCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nnport_pcli_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "calib");
        std::ofstream f(path("m.onnx"), std::ios::binary);
        model().SerializeToOstream(&f);
        std::mt19937 rng(5);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (int k = 0; k < 6; ++k) {
            Tensor t = std::move(Tensor::create(DType::kFloat32, {1, 3, 8, 8})).value();
            for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
            EXPECT_TRUE(io::write_npy(path("calib/s" + std::to_string(k) + ".npy"), t).is_ok());
        }
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& f) const { return (dir_ / f).string(); }
    fs::path dir_;
};

TEST_F(PruneCli, UnstructuredReportsSparsity) {
    CliRun r = nnport("prune " + path("m.onnx") + " -o " + path("u.onnx") + " --sparsity 0.5 --report");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("per layer"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Conv 'c1': 50.0% zero of 432"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("top-1 agreement"), std::string::npos) << r.out;
    EXPECT_EQ(nnport("run " + path("u.onnx")).code, 0);
}

TEST_F(PruneCli, StructuredWithRefitShrinksTheFile) {
    CliRun r = nnport("prune " + path("m.onnx") + " -o " + path("s.onnx") +
                      " --sparsity 0.5 --structured --refit --data " + path("calib") + " --report");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("Conv 'c1': 8/16 channels kept -> c2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Conv 'c2': 6/12 channels kept -> fc"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("6 calibration sample(s)"), std::string::npos) << r.out;
    EXPECT_LT(fs::file_size(path("s.onnx")), fs::file_size(path("m.onnx")));
    CliRun run = nnport("run " + path("s.onnx"));
    EXPECT_EQ(run.code, 0) << run.out;
}

TEST_F(PruneCli, RefitOnCalibrationImages) {
    fs::create_directories(path("images"));
    std::mt19937 rng(9);
    for (int k = 0; k < 6; ++k) {
        std::vector<unsigned char> px(16 * 16 * 3);
        for (auto& v : px) v = static_cast<unsigned char>(rng() & 0xFF);
        ASSERT_NE(stbi_write_png(path("images/i" + std::to_string(k) + ".png").c_str(), 16, 16, 3, px.data(), 48), 0);
    }
    CliRun r = nnport("prune " + path("m.onnx") + " -o " + path("s.onnx") +
                      " --sparsity 0.5 --structured --refit --data " + path("images") + " --image-mean 0.5");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("6 calibration sample(s)"), std::string::npos) << r.out;
    CliRun bad = nnport("prune " + path("m.onnx") + " -o " + path("t.onnx") +
                        " --sparsity 0.5 --structured --refit --data " + path("images") + " --image-std 0");
    EXPECT_EQ(bad.code, 1) << bad.out;
    EXPECT_NE(bad.out.find("--image-std"), std::string::npos) << bad.out;
}

TEST_F(PruneCli, BadInputFailsClearly) {
    CliRun r = nnport("prune " + path("m.onnx") + " -o " + path("o.onnx") + " --sparsity 1");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("sparsity must be in [0, 1)"), std::string::npos) << r.out;
    r = nnport("prune " + path("m.onnx") + " -o " + path("o.onnx") + " --sparsity 0.5 --refit");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("--refit needs --structured"), std::string::npos) << r.out;
    r = nnport("prune " + path("m.onnx") + " -o " + path("o.onnx") + " --sparsity 0.5 --structured --data " +
               path("nothere"));
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("nothere"), std::string::npos) << r.out;
    r = nnport("prune " + path("m.onnx") + " -o " + path("o.onnx") + " --sparsity 0.5 --exclude zz");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("'zz'"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(path("o.onnx")));
}

}  // namespace
}  // namespace nnport

// End-to-end CLI tests: the `nnport run` contract and bad input (each must give exit 1 and a one-line reason).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "onnx/proto.hpp"
#include "onnx/tensor_proto.hpp"

namespace nnport {
namespace {

namespace fs = std::filesystem;

struct CliRun {
    int code;
    std::string out;
};

/// Runs the nnport binary with a time limit (`timeout`), capturing stdout+stderr.
CliRun nnport(const std::string& args) {
    const std::string cmd = std::string("timeout 60 ") + NNPORT_BIN + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int st = pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out};
}

class CliTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nnport_cli_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& f) const { return (dir_ / f).string(); }

    /// y = Relu(x) with x: float[2,3] (or the given dims).
    onnx::ModelProto relu_model(std::vector<int64_t> dims = {2, 3}) {
        onnx::ModelProto m;
        m.set_ir_version(8);
        m.add_opset_import()->set_version(17);
        auto* g = m.mutable_graph();
        g->set_name("g");
        auto* n = g->add_node();
        n->set_op_type("Relu");
        n->set_name("relu1");
        n->add_input("x");
        n->add_output("y");
        add_io(g->add_input(), "x", dims);
        add_io(g->add_output(), "y", dims);
        return m;
    }
    static void add_io(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims,
                       int elem = onnx::TensorProto::FLOAT) {
        v->set_name(name);
        auto* t = v->mutable_type()->mutable_tensor_type();
        t->set_elem_type(elem);
        auto* s = t->mutable_shape();
        for (int64_t d : dims) s->add_dim()->set_dim_value(d);
    }
    std::string save(const onnx::ModelProto& m, const std::string& name = "m.onnx") {
        std::ofstream f(path(name), std::ios::binary);
        m.SerializeToOstream(&f);
        return path(name);
    }
    /// Asserts exit status 1 with a single-line message containing `needle`.
    void expect_error(const CliRun& r, const std::string& needle) {
        EXPECT_EQ(r.code, 1) << r.out;
        EXPECT_NE(r.out.find(needle), std::string::npos) << "message: " << r.out;
        EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "expected one line: " << r.out;
    }
    fs::path dir_;
};

TEST_F(CliTest, RunWritesNpyAndOutputsJson) {
    const std::string m = save(relu_model());
    ASSERT_TRUE(io::write_npy(path("x.npy"), Tensor::from_vector<float>({2, 3}, {-1, 2, -3, 4, -5, 6})).is_ok());
    CliRun r = nnport("run " + m + " -i x=" + path("x.npy") + " -o " + path("out"));
    ASSERT_EQ(r.code, 0) << r.out;
    std::ifstream jf(path("out/outputs.json"));
    auto j = nlohmann::json::parse(jf);
    ASSERT_EQ(j["outputs"].size(), 1u);
    EXPECT_EQ(j["outputs"][0]["name"], "y");
    EXPECT_EQ(j["outputs"][0]["file"], "y.npy");
    EXPECT_EQ(j["outputs"][0]["dtype"], "float32");
    EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json({2, 3}));
    auto y = io::read_npy(path("out/y.npy"));
    ASSERT_TRUE(y.is_ok());
    EXPECT_EQ(y->data<float>()[0], 0.0f);
    EXPECT_EQ(y->data<float>()[5], 6.0f);
}

TEST_F(CliTest, RunBindsPbByEmbeddedNameAndFillsMissingInputs) {
    const std::string m = save(relu_model());
    onnx::TensorProto tp;
    onnx_import::tensor_to_proto(Tensor::from_vector<float>({2, 3}, {1, 1, 1, 1, 1, 1}), "x", &tp);
    std::ofstream(path("in.pb"), std::ios::binary) << tp.SerializeAsString();
    CliRun r = nnport("run " + m + " -i " + path("in.pb"));
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("y: float32[2,3]"), std::string::npos) << r.out;
    CliRun r2 = nnport("run " + m);
    EXPECT_EQ(r2.code, 0) << r2.out;
    EXPECT_NE(r2.out.find("notice: input 'x' not given"), std::string::npos) << r2.out;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
    EXPECT_EQ(nnport("").code, 2);
    EXPECT_EQ(nnport("run").code, 2);
    EXPECT_EQ(nnport("run a.onnx --threads -3").code, 2);
    EXPECT_EQ(nnport("frobnicate").code, 2);
}

TEST_F(CliTest, RejectsRandomAndTruncatedBytes) {
    std::mt19937 rng(1);
    std::string junk(4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    std::ofstream(path("junk.onnx"), std::ios::binary) << junk;
    expect_error(nnport("run " + path("junk.onnx")), "junk.onnx");
    std::string good = relu_model().SerializeAsString();
    std::ofstream(path("trunc.onnx"), std::ios::binary) << good.substr(0, good.size() / 2);
    expect_error(nnport("run " + path("trunc.onnx")), "trunc.onnx");
    expect_error(nnport("run " + path("missing.onnx")), "missing.onnx");
}

TEST_F(CliTest, RejectsUnknownOpNamingNodeAndOp) {
    auto m = relu_model();
    m.mutable_graph()->mutable_node(0)->set_op_type("FrobnicateOp");
    const CliRun r = nnport("run " + save(m));
    expect_error(r, "FrobnicateOp");
    EXPECT_NE(r.out.find("relu1"), std::string::npos);
    auto m2 = relu_model();
    m2.mutable_graph()->mutable_node(0)->set_domain("com.example");
    expect_error(nnport("run " + save(m2, "d.onnx")), "com.example");
}

TEST_F(CliTest, RejectsWrongInputDtypeRankAndShape) {
    const std::string m = save(relu_model());
    ASSERT_TRUE(io::write_npy(path("i.npy"), Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6})).is_ok());
    expect_error(nnport("run " + m + " -i x=" + path("i.npy")), "dtype");
    ASSERT_TRUE(io::write_npy(path("r.npy"), Tensor::from_vector<float>({6}, {1, 2, 3, 4, 5, 6})).is_ok());
    expect_error(nnport("run " + m + " -i x=" + path("r.npy")), "rank");
    ASSERT_TRUE(io::write_npy(path("s.npy"), Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6})).is_ok());
    expect_error(nnport("run " + m + " -i x=" + path("s.npy")), "dimension 0 must be 2");
    expect_error(nnport("run " + m + " -i nosuch=" + path("s.npy")), "no input named 'nosuch'");
}

TEST_F(CliTest, RejectsHugeAndNegativeDeclaredDims) {
    expect_error(nnport("run " + save(relu_model({int64_t{1} << 40, 3}))), "out of range");
    expect_error(nnport("run " + save(relu_model({-4, 3}), "n.onnx")), "out of range");
}

TEST_F(CliTest, RejectsInitializerSizeMismatch) {
    auto m = relu_model();
    auto* init = m.mutable_graph()->add_initializer();
    init->set_name("w");
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_dims(4);
    init->set_raw_data(std::string(12, '\0'));  // 3 floats for 4 elements
    expect_error(nnport("run " + save(m)), "tensor 'w'");
    auto m2 = relu_model();
    auto* i2 = m2.mutable_graph()->add_initializer();
    i2->set_name("w");
    i2->set_data_type(onnx::TensorProto::FLOAT);
    i2->add_dims(int64_t{1} << 40);
    expect_error(nnport("run " + save(m2, "big.onnx")), "tensor 'w'");
}

TEST_F(CliTest, RejectsCycle) {
    onnx::ModelProto m = relu_model();
    auto* g = m.mutable_graph();
    // a = Add(x, b); b = Relu(a); y = Identity(b)  — a and b depend on each other.
    g->clear_node();
    auto* n1 = g->add_node();
    n1->set_op_type("Add"), n1->set_name("add1"), n1->add_input("x"), n1->add_input("b"), n1->add_output("a");
    auto* n2 = g->add_node();
    n2->set_op_type("Relu"), n2->set_name("relu1"), n2->add_input("a"), n2->add_output("b");
    auto* n3 = g->add_node();
    n3->set_op_type("Identity"), n3->set_name("id"), n3->add_input("b"), n3->add_output("y");
    expect_error(nnport("run " + save(m)), "cycle");
}

TEST_F(CliTest, RejectsExternalDataOutsideFolderOrPastEnd) {
    fs::create_directories(path("model"));
    std::ofstream(path("secret.bin"), std::ios::binary) << std::string(64, 'x');
    std::ofstream(path("model/w.bin"), std::ios::binary) << std::string(8, 'x');
    auto make = [&](const std::string& location, int64_t offset) {
        auto m = relu_model();
        auto* init = m.mutable_graph()->add_initializer();
        init->set_name("w");
        init->set_data_type(onnx::TensorProto::FLOAT);
        init->add_dims(4);
        init->set_data_location(onnx::TensorProto::EXTERNAL);
        auto* e = init->add_external_data();
        e->set_key("location"), e->set_value(location);
        auto* o = init->add_external_data();
        o->set_key("offset"), o->set_value(std::to_string(offset));
        return m;
    };
    expect_error(nnport("run " + save(make("../secret.bin", 0), "model/a.onnx")), "outside the model's folder");
    expect_error(nnport("run " + save(make(path("secret.bin"), 0), "model/b.onnx")), "must be relative");
    expect_error(nnport("run " + save(make("w.bin", 0), "model/c.onnx")), "past the end");
    expect_error(nnport("run " + save(make("w.bin", 1 << 30), "model/d.onnx")), "past the end");
}

TEST_F(CliTest, InspectPrintsSummary) {
    const CliRun r = nnport("inspect --json " + save(relu_model()));
    ASSERT_EQ(r.code, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["inputs"][0]["name"], "x");
    EXPECT_EQ(j["op_histogram"]["Relu"], 1);
    EXPECT_EQ(j["opsets"]["ai.onnx"], 17);
}

/// a = Relu(x), b = Sigmoid(a), y = Add(a, b) with x: float[N, 3] (N symbolic) or float[2, 3].
onnx::ModelProto relu_sigmoid_add(bool symbolic) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    auto* g = m.mutable_graph();
    g->set_name("g");
    auto add = [&](const char* op, std::vector<std::string> in, const char* out) {
        auto* n = g->add_node();
        n->set_op_type(op);
        n->set_name(out);
        for (const auto& i : in) n->add_input(i);
        n->add_output(out);
    };
    add("Relu", {"x"}, "a");
    add("Sigmoid", {"a"}, "b");
    add("Add", {"a", "b"}, "y");
    for (auto* io : {g->add_input(), g->add_output()}) {
        io->set_name(io == &g->input(0) ? "x" : "y");
        auto* t = io->mutable_type()->mutable_tensor_type();
        t->set_elem_type(onnx::TensorProto::FLOAT);
        auto* d0 = t->mutable_shape()->add_dim();
        if (symbolic) d0->set_dim_param("N");
        else d0->set_dim_value(2);
        t->mutable_shape()->add_dim()->set_dim_value(3);
    }
    return m;
}

TEST_F(CliTest, InspectMemoryReportsThePlan) {
    // Static: a and b (24 bytes each, 64 with alignment) are both live at the Add: arena = lower bound = 128.
    const std::string m = save(relu_sigmoid_add(false));
    CliRun r = nnport("inspect --memory --json " + m);
    ASSERT_EQ(r.code, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["arena_bytes"], 128);
    EXPECT_EQ(j["lower_bound_bytes"], 128);
    EXPECT_EQ(j["naive_bytes"], 128);
    EXPECT_EQ(j["ratio"], 1.0);
    EXPECT_EQ(j["tensors"], 2);
    EXPECT_EQ(j["inplace"], 0);
    EXPECT_EQ(j["dynamic"], false);
    EXPECT_EQ(j["sizes_from"], "types");
    EXPECT_EQ(j["inputs"]["x"], nlohmann::json({2, 3}));
    r = nnport("inspect --memory " + m);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("arena        0.00 MiB (128 bytes)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("lower bound"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("naive"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ratio        1.000"), std::string::npos) << r.out;
    // Symbolic N: planned for N = 1 by default, or for the --shape given (100 x 3 floats = 1200 -> 1216 bytes).
    const std::string d = save(relu_sigmoid_add(true), "d.onnx");
    j = nlohmann::json::parse(nnport("inspect --memory --json " + d).out);
    EXPECT_EQ(j["dynamic"], true);
    EXPECT_EQ(j["arena_bytes"], 128);
    EXPECT_EQ(j["inputs"]["x"], nlohmann::json({1, 3}));
    r = nnport("inspect --memory --json --shape x=100x3 " + d);
    ASSERT_EQ(r.code, 0) << r.out;
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["arena_bytes"], 2 * 1216);
    EXPECT_EQ(j["naive_bytes"], 2 * 1216);
    EXPECT_EQ(j["inputs"]["x"], nlohmann::json({100, 3}));
}

TEST_F(CliTest, InspectPartitionShowsTheBackendOfEveryNodeAndFallbacks) {
    const std::string m = save(relu_model());
    CliRun r = nnport("inspect --partition --json --backend ref " + m);
    ASSERT_EQ(r.code, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["backends"], nlohmann::json({"ref"}));
    ASSERT_EQ(j["nodes"].size(), 1u);
    EXPECT_EQ(j["nodes"][0]["op"], "Relu");
    EXPECT_EQ(j["nodes"][0]["backend"], "ref");
    EXPECT_EQ(j["fallbacks"], 0);
    // Default list: every compiled-in backend, the reference last; the Relu runs on the first that takes it.
    r = nnport("inspect --partition --json " + m);
    ASSERT_EQ(r.code, 0) << r.out;
    j = nlohmann::json::parse(r.out);
    ASSERT_GE(j["backends"].size(), 1u);
    EXPECT_EQ(j["backends"].back(), "ref");
    const auto& bs = j["backends"];
    EXPECT_NE(std::find(bs.begin(), bs.end(), j["nodes"][0]["backend"]), bs.end()) << r.out;
    if (j["nodes"][0]["backend"] != bs[0]) {  // a later backend runs it: the earlier ones said why not
        EXPECT_NE(j["nodes"][0]["fallback_reason"].get<std::string>().find(bs[0].get<std::string>() + ": "),
                  std::string::npos) << r.out;
    }
    // A string input no fast backend takes: it falls back with every declining backend's reason.
    onnx::ModelProto sm = relu_model();
    sm.mutable_graph()->mutable_node(0)->set_op_type("Identity");
    for (auto* v : {sm.mutable_graph()->mutable_input(0), sm.mutable_graph()->mutable_output(0)}) {
        v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::STRING);
    }
    r = nnport("inspect --partition " + save(sm, "s.onnx"));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("Identity"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ref"), std::string::npos) << r.out;
    if (j["backends"].size() > 1) {
        EXPECT_NE(r.out.find("fell back: "), std::string::npos) << r.out;
    }
    EXPECT_EQ(nnport("inspect --partition --backend nosuch " + m).code, 2);
    // Outputs agree between the default backends and the reference kernels.
    const CliRun fast = nnport("run --shape x=2x3 " + m);
    const CliRun ref = nnport("run --backend ref --shape x=2x3 " + m);
    ASSERT_EQ(fast.code, 0) << fast.out;
    EXPECT_EQ(fast.out, ref.out);
}

TEST_F(CliTest, RunWithoutMemoryPlanGivesTheSameOutputs) {
    const std::string m = save(relu_sigmoid_add(true));
    const CliRun planned = nnport("run --shape x=5x3 " + m);
    const CliRun heap = nnport("run --no-memory-plan --shape x=5x3 " + m);
    ASSERT_EQ(planned.code, 0) << planned.out;
    ASSERT_EQ(heap.code, 0) << heap.out;
    EXPECT_EQ(planned.out, heap.out);
    EXPECT_NE(planned.out.find("y: float32[5,3]"), std::string::npos) << planned.out;
}

TEST_F(CliTest, InspectMemoryRejectsBadModelsAndShapes) {
    std::ofstream(path("junk.onnx"), std::ios::binary) << "not a model";
    expect_error(nnport("inspect --memory " + path("junk.onnx")), "junk.onnx");
    const std::string d = save(relu_sigmoid_add(true), "d.onnx");
    expect_error(nnport("inspect --memory --shape z=1x3 " + d), "no input named 'z'");
    expect_error(nnport("inspect --memory --shape x=1x4 " + d), "dimension 1 must be 3");
    expect_error(nnport("inspect --shape x=1x3 " + d), "only used with --memory");
    EXPECT_EQ(nnport("inspect --memory --level 4 " + d).code, 2);
    const CliRun r = nnport("inspect --memory --json --level 0 " + d);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(nlohmann::json::parse(r.out)["tensors"], 2);
}

TEST_F(CliTest, ExportWritesALoadableModelAndLowersOpset) {
    const std::string m = save(relu_model());
    CliRun r = nnport("export " + m + " -o " + path("e.onnx") + " --opset 13");
    ASSERT_EQ(r.code, 0) << r.out;
    onnx::ModelProto out;
    std::ifstream f(path("e.onnx"), std::ios::binary);
    ASSERT_TRUE(out.ParseFromIstream(&f));
    ASSERT_EQ(out.opset_import_size(), 1);
    EXPECT_EQ(out.opset_import(0).version(), 13);
    ASSERT_EQ(out.graph().node_size(), 1);
    EXPECT_EQ(out.graph().node(0).op_type(), "Relu");
    EXPECT_EQ(nnport("run " + path("e.onnx")).code, 0);
}

TEST_F(CliTest, ExportRefusesToOverwriteItsInputAndEscapingDataFiles) {
    const std::string m = save(relu_model());
    expect_error(nnport("export " + m + " -o " + m), "refusing to overwrite");
    expect_error(nnport("export " + m + " -o " + path("e.onnx") + " --external-data ../w.bin"),
                 "relative to the output folder");
    EXPECT_EQ(nnport("export " + m + " -o " + path("e.onnx") + " --opset 3").code, 2);
}

// ---- nnport optimize ----

TEST_F(CliTest, OptimizeWritesAStandardModelAndReports) {
    onnx::ModelProto m = relu_model();
    // x -> Identity -> Relu: the Identity goes, the Relu stays, names are kept.
    auto* g = m.mutable_graph();
    g->mutable_node(0)->set_input(0, "xi");
    auto* id = g->add_node();
    id->set_op_type("Identity");
    id->set_name("id1");
    id->add_input("x");
    id->add_output("xi");
    const std::string in = save(m);
    CliRun r = nnport("optimize " + in + " -o " + path("o.onnx") + " --report");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("nodes: 2 -> 1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("eliminate_noop"), std::string::npos) << r.out;
    onnx::ModelProto out;
    std::ifstream f(path("o.onnx"), std::ios::binary);
    ASSERT_TRUE(out.ParseFromIstream(&f));
    ASSERT_EQ(out.graph().node_size(), 1);
    EXPECT_EQ(out.graph().node(0).op_type(), "Relu");
    EXPECT_EQ(out.graph().input(0).name(), "x");
    EXPECT_EQ(out.graph().output(0).name(), "y");
    for (const auto& o : out.opset_import()) EXPECT_TRUE(o.domain().empty() || o.domain() == "ai.onnx");
    EXPECT_EQ(nnport("run " + path("o.onnx")).code, 0);
    // Level 0 changes nothing; --list names every pass.
    r = nnport("optimize " + in + " -o " + path("o0.onnx") + " --level 0");
    ASSERT_EQ(r.code, 0) << r.out;
    const CliRun list = nnport("optimize --list");
    EXPECT_EQ(list.code, 0);
    EXPECT_NE(list.out.find("fuse_activation"), std::string::npos);
}

TEST_F(CliTest, OptimizeRejectsBadArguments) {
    const std::string m = save(relu_model());
    expect_error(nnport("optimize " + m + " -o " + m), "refusing to overwrite");
    expect_error(nnport("optimize " + m + " -o " + path("o.onnx") + " --disable no_such_pass"), "no_such_pass");
    expect_error(nnport("optimize " + path("missing.onnx") + " -o " + path("o.onnx")), "missing.onnx");
    expect_error(nnport("optimize " + m), "-o");
    EXPECT_EQ(nnport("optimize " + m + " -o " + path("o.onnx") + " --level 5").code, 2);
    EXPECT_FALSE(fs::exists(path("o.onnx")));
}

// ---- nnport bench ----

/// Runs `bench ARGS --json` and parses the report.
nlohmann::json bench_json(const std::string& args) {
    const CliRun r = nnport("bench " + args + " --json");
    EXPECT_EQ(r.code, 0) << r.out;
    return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

TEST_F(CliTest, BenchJsonKeepsTheSchema) {
    const std::string m = save(relu_model());
    const auto j = bench_json(m + " --threads 1 --iters 7 --warmup 1 --backend ref");
    ASSERT_FALSE(j.empty());
    EXPECT_EQ(j["schema_version"], 1);
    EXPECT_EQ(j["backend"], "ref");
    EXPECT_EQ(j["backend_nodes"], nlohmann::json({{"ref", 1}}));
    EXPECT_EQ(j["threads"], 1);
    EXPECT_EQ(j["iterations"], 7);
    ASSERT_EQ(j["latencies_ms"].size(), 7u);
    const auto& l = j["latency_ms"];
    for (const char* k : {"min", "median", "mean", "p90", "p99", "max", "stddev"}) ASSERT_TRUE(l[k].is_number()) << k;
    EXPECT_GT(l["min"].get<double>(), 0.0);
    EXPECT_LE(l["min"].get<double>(), l["median"].get<double>());
    EXPECT_LE(l["median"].get<double>(), l["p90"].get<double>());
    EXPECT_LE(l["p90"].get<double>(), l["p99"].get<double>());
    EXPECT_LE(l["p99"].get<double>(), l["max"].get<double>());
    EXPECT_NEAR(j["throughput_per_s"].get<double>(), 2 * 1000.0 / l["median"].get<double>(), 1e-6);  // batch 2
    EXPECT_GT(j["throughput_measured_per_s"].get<double>(), 0.0);
    EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 1 << 20);
    EXPECT_EQ(j["peak_rss_source"], "VmHWM");
    EXPECT_GE(j["load_ms"].get<double>(), 0.0);
    EXPECT_GT(j["first_run_ms"].get<double>(), 0.0);
    EXPECT_EQ(j["model_bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(m)));
    EXPECT_EQ(j["flops"], 6);  // Relu on 2x3: one op per element
    EXPECT_EQ(j["flops_uncounted_nodes"], 0);
    EXPECT_EQ(j["batch"], 2);
    EXPECT_EQ(j["inputs"][0]["name"], "x");
    EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json({2, 3}));
    EXPECT_EQ(j["inputs"][0]["source"].get<std::string>().rfind("random (seed ", 0), 0u);
    EXPECT_FALSE(j["machine"]["cpu"].get<std::string>().empty());
    EXPECT_GE(j["machine"]["logical_cpus"].get<int>(), 1);
    EXPECT_EQ(j["date"].get<std::string>().size(), 20u);  // 2024-01-01T00:00:00Z
    EXPECT_TRUE(j["accuracy"].is_null());
    EXPECT_TRUE(j["profile"].is_null());
    const CliRun text = nnport("bench " + m + " --iters 2");
    ASSERT_EQ(text.code, 0) << text.out;
    EXPECT_NE(text.out.find("median"), std::string::npos) << text.out;
}

TEST_F(CliTest, BenchRunsForSecondsOrIterations) {
    const std::string m = save(relu_model());
    const auto j = bench_json(m + " --seconds 0.3 --warmup 0");
    ASSERT_FALSE(j.empty());
    EXPECT_GT(j["iterations"].get<int64_t>(), 1);
    double sum = 0;
    for (const auto& v : j["latencies_ms"]) sum += v.get<double>();
    EXPECT_LE(sum, 3000.0);  // stopped soon after 0.3 s, not at a default count
    EXPECT_EQ(j["iterations"].get<size_t>(), j["latencies_ms"].size());
    EXPECT_EQ(nnport("bench " + m + " --iters 3 --seconds 1").code, 2);
}

TEST_F(CliTest, BenchProfileAndChromeTrace) {
    const std::string m = save(relu_model());
    const auto j = bench_json(m + " --iters 4 --warmup 0 --backend ref --profile --trace " + path("t.json"));
    ASSERT_FALSE(j.empty());
    const auto& p = j["profile"];
    EXPECT_EQ(p["runs"], 4);
    ASSERT_EQ(p["nodes"].size(), 1u);
    EXPECT_EQ(p["nodes"][0]["name"], "relu1");
    EXPECT_EQ(p["nodes"][0]["op"], "Relu");
    EXPECT_EQ(p["nodes"][0]["backend"], "ref");
    EXPECT_EQ(p["nodes"][0]["calls"], 4);
    EXPECT_GT(p["nodes"][0]["percent"].get<double>(), 0.0);
    EXPECT_LE(p["nodes"][0]["percent"].get<double>(), 100.0);
    ASSERT_EQ(p["ops"].size(), 1u);
    EXPECT_EQ(p["ops"][0]["op"], "Relu");
    std::ifstream f(path("t.json"));
    const auto t = nlohmann::json::parse(f, nullptr, false);
    ASSERT_FALSE(t.is_discarded()) << "trace is not valid JSON";
    std::vector<nlohmann::json> runs, nodes;
    for (const auto& e : t["traceEvents"]) {
        if (e["ph"] != "X") continue;
        for (const char* k : {"name", "cat", "ts", "dur", "pid", "tid"}) ASSERT_TRUE(e.contains(k)) << k;
        (e["cat"] == "run" ? runs : nodes).push_back(e);
    }
    ASSERT_EQ(runs.size(), 4u);
    ASSERT_EQ(nodes.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(nodes[i]["cat"], "Relu");
        EXPECT_EQ(nodes[i]["args"]["backend"], "ref");
        // Each node execution lies inside its run.
        EXPECT_GE(nodes[i]["ts"].get<double>(), runs[i]["ts"].get<double>());
        EXPECT_LE(nodes[i]["ts"].get<double>() + nodes[i]["dur"].get<double>(),
                  runs[i]["ts"].get<double>() + runs[i]["dur"].get<double>() + 1e-3);
    }
    const CliRun text = nnport("bench " + m + " --iters 2 --profile");
    ASSERT_EQ(text.code, 0) << text.out;
    EXPECT_NE(text.out.find("relu1"), std::string::npos) << text.out;
}

TEST_F(CliTest, BenchComparesWithReferenceOutputs) {
    const std::string m = save(relu_model());
    ASSERT_TRUE(io::write_npy(path("x.npy"), Tensor::from_vector<float>({2, 3}, {-1, 2, -3, 4, -5, 6})).is_ok());
    ASSERT_EQ(nnport("run " + m + " -i x=" + path("x.npy") + " -o " + path("ref")).code, 0);
    const auto j = bench_json(m + " -i x=" + path("x.npy") + " --iters 2 --reference " + path("ref"));
    ASSERT_FALSE(j.empty());
    const auto& a = j["accuracy"];
    EXPECT_EQ(a["max_abs"], 0.0);
    EXPECT_EQ(a["max_rel"], 0.0);
    ASSERT_EQ(a["outputs"].size(), 1u);
    EXPECT_EQ(a["outputs"][0]["name"], "y");
    EXPECT_NEAR(a["outputs"][0]["cosine"].get<double>(), 1.0, 1e-12);
    EXPECT_EQ(a["outputs"][0]["top1_agreement"], 1.0);
    // A reference that differs: random inputs instead of x.npy.
    const auto d = bench_json(m + " --iters 1 --reference " + path("ref"));
    ASSERT_FALSE(d.empty());
    EXPECT_GT(d["accuracy"]["max_abs"].get<double>(), 0.0);
    // Wrong shape (ONNX test-data naming, no outputs.json), missing file, missing folder.
    fs::create_directories(path("bad"));
    ASSERT_TRUE(io::write_npy(path("bad/output_0.npy"), Tensor::from_vector<float>({3, 2}, {0, 2, 0, 4, 0, 6})).is_ok());
    const CliRun bad = nnport("bench " + m + " --iters 1 --reference " + path("bad"));
    expect_error(bad, "output 'y'");
    EXPECT_NE(bad.out.find("shape [2,3] but the reference is [3,2]"), std::string::npos) << bad.out;
    fs::create_directories(path("empty"));
    expect_error(nnport("bench " + m + " --iters 1 --reference " + path("empty")), "no reference for output 'y'");
    expect_error(nnport("bench " + m + " --iters 1 --reference " + path("nowhere")), "no such folder");
}

TEST_F(CliTest, BenchShapesSymbolicInputs) {
    auto proto = relu_model();
    for (auto* io : {proto.mutable_graph()->mutable_input(0), proto.mutable_graph()->mutable_output(0)}) {
        io->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param("N");
    }
    const std::string m = save(proto);
    const auto j = bench_json(m + " --iters 1 --shape x=4x3");
    ASSERT_FALSE(j.empty());
    EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json({4, 3}));
    EXPECT_EQ(j["batch"], 4);
    EXPECT_EQ(j["flops"], 12);
    expect_error(nnport("bench " + m + " --iters 1 --shape x=4x5"), "dimension 1 must be 3");
    expect_error(nnport("bench " + m + " --iters 1 --shape nosuch=4x3"), "no input named 'nosuch'");
    expect_error(nnport("bench " + m + " --iters 1 --shape x=4by3"), "expected NAME=D1xD2x");
    const CliRun r = nnport("run " + m + " --shape x=5x3");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("y: float32[5,3]"), std::string::npos) << r.out;
}

TEST_F(CliTest, BenchRejectsBadFlagsAndMissingModel) {
    const std::string m = save(relu_model());
    const CliRun unknown = nnport("bench " + m + " --backend ref,cuda");
    EXPECT_EQ(unknown.code, 2) << unknown.out;
    EXPECT_NE(unknown.out.find("unknown backend 'cuda' (known: "), std::string::npos) << unknown.out;
    EXPECT_EQ(bench_json(m + " --backend ref --iters 1")["backend"], "ref");
    EXPECT_EQ(nnport("bench " + m + " --backend ref,ref").code, 2);
    EXPECT_EQ(nnport("bench " + m + " --backend ''").code, 2);
    EXPECT_EQ(nnport("bench " + m + " --iters 0").code, 2);
    EXPECT_EQ(nnport("bench " + m + " --threads -1").code, 2);
    EXPECT_EQ(nnport("bench " + m + " --frobnicate").code, 2);
    EXPECT_EQ(nnport("bench").code, 2);
    expect_error(nnport("bench " + path("missing.onnx")), "missing.onnx");
}

// ---- nnport targets / check (target profiles) ----

/// y = Sub(Relu(x), x) with x: float[1,3,4,4].
onnx::ModelProto sub_model() {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    auto* g = m.mutable_graph();
    g->set_name("g");
    auto* r = g->add_node();
    r->set_op_type("Relu");
    r->set_name("relu1");
    r->add_input("x");
    r->add_output("r");
    auto* s = g->add_node();
    s->set_op_type("Sub");
    s->set_name("sub1");
    s->add_input("r");
    s->add_input("x");
    s->add_output("y");
    for (auto* v : {g->add_input(), g->add_output()}) {
        v->set_name(v == &g->input(0) ? "x" : "y");
        auto* t = v->mutable_type()->mutable_tensor_type();
        t->set_elem_type(onnx::TensorProto::FLOAT);
        for (int64_t d : {1, 3, 4, 4}) t->mutable_shape()->add_dim()->set_dim_value(d);
    }
    return m;
}

TEST_F(CliTest, TargetsListsProfilesWithVersionAndSource) {
    const CliRun r = nnport("targets");
    ASSERT_EQ(r.code, 0) << r.out;
    for (const char* t : {"tflite", "tnn", "tensorrt", "onnxruntime", "nnport", "minidnn"}) {
        EXPECT_NE(r.out.find(t), std::string::npos) << t;
    }
    EXPECT_NE(r.out.find("onnx-tensorrt"), std::string::npos);
}

TEST_F(CliTest, TargetsShowsOneProfileAsJson) {
    const CliRun r = nnport("targets tflite --json");
    ASSERT_EQ(r.code, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["name"], "tflite");
    EXPECT_TRUE(j["ops"].contains("Conv"));
    EXPECT_FALSE(j["sources"].empty());
    EXPECT_TRUE(j.contains("unknown"));
    const CliRun text = nnport("targets tnn");
    ASSERT_EQ(text.code, 0) << text.out;
    EXPECT_NE(text.out.find("unknown"), std::string::npos);
}

TEST_F(CliTest, CheckReportsPerTargetVerdictsAsJson) {
    const std::string m = save(sub_model());
    const CliRun ok = nnport("check " + m + " --target tflite --json");
    ASSERT_EQ(ok.code, 0) << ok.out;
    EXPECT_EQ(nlohmann::json::parse(ok.out)["verdict"], "runs_as_is");
    const CliRun caffe = nnport("check " + m + " --target caffe --json");
    ASSERT_EQ(caffe.code, 3) << caffe.out;
    auto j = nlohmann::json::parse(caffe.out);
    EXPECT_EQ(j["verdict"], "convertible_exactly");
    ASSERT_EQ(j["nodes"].size(), 1u);
    EXPECT_EQ(j["nodes"][0]["op"], "Sub");
    EXPECT_EQ(j["nodes"][0]["name"], "sub1");
    EXPECT_EQ(j["nodes"][0]["violations"][0]["kind"], "op_missing");
    EXPECT_EQ(j["nodes"][0]["scenario"], 1);
}

TEST_F(CliTest, CheckUnknownTargetAndBadModelFailClearly) {
    const std::string m = save(sub_model());
    expect_error(nnport("check " + m + " --target nosuch"), "unknown target 'nosuch'; available:");
    std::ofstream(path("bad.onnx")) << "not a model";
    const CliRun bad = nnport("check " + path("bad.onnx") + " --target tflite");
    EXPECT_EQ(bad.code, 1) << bad.out;
    EXPECT_NE(bad.out.find("bad.onnx"), std::string::npos) << bad.out;
    EXPECT_EQ(nnport("check " + m).code, 2);  // --target is required
}

TEST_F(CliTest, CheckWritesHtmlOnlyWhenAsked) {
    const std::string m = save(sub_model());
    ASSERT_EQ(nnport("check " + m + " --target caffe").code, 3);
    EXPECT_FALSE(fs::exists(path("report.html")));
    if (std::system("command -v dot >/dev/null 2>&1") != 0) GTEST_SKIP() << "Graphviz dot not installed";
    const CliRun r = nnport("check " + m + " --target caffe --html " + path("report.html"));
    ASSERT_EQ(r.code, 3) << r.out;
    std::ifstream f(path("report.html"));
    std::stringstream html;
    html << f.rdbuf();
    EXPECT_NE(html.str().find("<svg"), std::string::npos);
    EXPECT_NE(html.str().find("sub1"), std::string::npos);
    EXPECT_NE(html.str().find("convertible exactly"), std::string::npos);
}

TEST_F(CliTest, ConvertWritesAVerifiedModelAndReports) {
    const std::string m = save(sub_model());
    const std::string out = path("out.onnx");
    const CliRun r = nnport("convert " + m + " --target caffe -o " + out + " --report " + path("r.json"));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("converted exactly"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("sub_to_add_neg"), std::string::npos) << r.out;
    auto j = nlohmann::json::parse(std::ifstream(path("r.json")));
    EXPECT_EQ(j["status"], "converted exactly");
    EXPECT_EQ(j["verification"]["passed"], true);
    EXPECT_LE(j["verification"]["outputs"][0]["max_rel"].get<double>(), 1e-5);
    // The written model passes the check it failed before, and runs with the original's outputs.
    EXPECT_EQ(nnport("check " + out + " --target caffe").code, 0);
    const CliRun a = nnport("run " + m + " -o " + path("a"));
    // Caffe's Eltwise does not broadcast the Mul by -1: that tail runs on the host (scenario 3).
    const std::string post = fs::exists(path("out.post.onnx")) ? " --post " + path("out.post.onnx") : "";
    const CliRun b = nnport("run " + out + post + " -o " + path("b"));
    ASSERT_EQ(a.code, 0);
    ASSERT_EQ(b.code, 0) << b.out;
    auto ya = io::read_npy(path("a/y.npy"));
    auto yb = io::read_npy(path("b/y.npy"));
    ASSERT_TRUE(ya.is_ok() && yb.is_ok());
    ASSERT_EQ(ya->numel(), yb->numel());
    for (int64_t i = 0; i < ya->numel(); ++i) EXPECT_FLOAT_EQ(ya->data<float>()[i], yb->data<float>()[i]);
}

TEST_F(CliTest, ConvertSplitsPostProcessingAndRunPostJoinsThem) {
    // Relu -> Softmax on MiniDNN, which has no Softmax: the trailing Softmax runs on the host.
    onnx::ModelProto mp = sub_model();
    auto* g = mp.mutable_graph();
    g->mutable_node(1)->set_op_type("Softmax");
    g->mutable_node(1)->set_name("softmax1");
    g->mutable_node(1)->mutable_input()->RemoveLast();
    const std::string m = save(mp);
    const std::string out = path("o.onnx");
    const CliRun r = nnport("convert " + m + " --target minidnn -o " + out);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("post-processing"), std::string::npos) << r.out;
    ASSERT_TRUE(fs::exists(path("o.post.onnx"))) << r.out;
    const CliRun a = nnport("run " + m + " -o " + path("a"));
    const CliRun b = nnport("run " + out + " --post " + path("o.post.onnx") + " -o " + path("b"));
    ASSERT_EQ(a.code, 0) << a.out;
    ASSERT_EQ(b.code, 0) << b.out;
    auto ya = io::read_npy(path("a/y.npy"));
    auto yb = io::read_npy(path("b/y.npy"));
    ASSERT_TRUE(ya.is_ok() && yb.is_ok()) << b.out;
    ASSERT_EQ(ya->numel(), yb->numel());
    for (int64_t i = 0; i < ya->numel(); ++i) EXPECT_FLOAT_EQ(ya->data<float>()[i], yb->data<float>()[i]);
    // A post model that does not fit the main model is refused clearly.
    expect_error(nnport("run " + m + " --post " + path("o.post.onnx")), "post-processing input");
}

TEST_F(CliTest, ConvertRejectsBadArgumentsClearly) {
    const std::string m = save(sub_model());
    expect_error(nnport("convert " + m + " --target nosuch -o " + path("o.onnx")), "unknown target 'nosuch'");
    expect_error(nnport("convert " + m + " --target caffe -o " + m), "refusing to overwrite");
    fs::create_directories(path("empty"));
    expect_error(nnport("convert " + m + " --target caffe -o " + path("o.onnx") + " --data " + path("empty")),
                 "no samples");
    expect_error(nnport("convert " + m + " --target caffe -o " + path("o.onnx") + " --input-shape x=1xfoo"),
                 "not a dimension");
    EXPECT_EQ(nnport("convert " + m + " -o " + path("o.onnx")).code, 2);  // --target is required
    EXPECT_FALSE(fs::exists(path("o.onnx")));
}

}  // namespace
}  // namespace nnport

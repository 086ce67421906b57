// Test helper for optimizer passes: builds small graphs, applies a pass (or the pipeline) to a copy, and checks
// structure and numerical equivalence with the unoptimized graph on random inputs.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/nnport.hpp"
#include "onnx/importer.hpp"
#include "ops/proto_builder.hpp"
#include "passes/pipeline.hpp"

namespace nnport::testing {

/// A ModelProto around `g` with the default-domain opset (and extra domains, e.g. {"com.microsoft", 1}).
inline onnx::ModelProto make_model(const onnx::GraphProto& g, int opset = 17,
                                   const std::vector<std::pair<std::string, int>>& extra = {}) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(opset);
    for (const auto& [d, v] : extra) {
        auto* o = m.add_opset_import();
        o->set_domain(d);
        o->set_version(v);
    }
    *m.mutable_graph() = g;
    return m;
}

/// Adds a float initializer with the given values, or deterministic random values in [lo, hi) when `vals` is empty.
inline void add_init_f32(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                         std::vector<float> vals = {}, float lo = -1.0f, float hi = 1.0f, uint32_t seed = 7) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    if (vals.empty()) {
        std::mt19937 rng(seed + static_cast<uint32_t>(std::hash<std::string>{}(name)));
        std::uniform_real_distribution<float> u(lo, hi);
        for (int64_t i = 0; i < n; ++i) vals.push_back(u(rng));
    }
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : vals) t->add_float_data(v);
}

inline void add_init_i64(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                         const std::vector<int64_t>& vals) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t v : vals) t->add_int64_data(v);
}

/// Parses a ModelProto into IR with types inferred (as a session would see it before optimization).
inline std::unique_ptr<ir::Model> load_ir(const onnx::ModelProto& m) {
    const std::string bytes = m.SerializeAsString();
    auto r = onnx_import::load_model_from_memory(bytes.data(), bytes.size(), "", "<test>");
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    if (!r.is_ok()) return nullptr;
    return std::move(r).value();
}

/// Deterministic random feeds for every non-initializer graph input (static shapes; float in [-1, 1],
/// integers in [0, 4), bools random).
inline std::vector<std::pair<std::string, Tensor>> random_feeds(const onnx::ModelProto& m, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::pair<std::string, Tensor>> feeds;
    std::vector<std::string> inits;
    for (const auto& t : m.graph().initializer()) inits.push_back(t.name());
    for (const auto& in : m.graph().input()) {
        if (std::find(inits.begin(), inits.end(), in.name()) != inits.end()) continue;
        const auto& tt = in.type().tensor_type();
        Shape shape;
        for (const auto& d : tt.shape().dim()) shape.push_back(d.has_dim_value() ? d.dim_value() : 2);
        const auto dt = static_cast<onnx::TensorProto::DataType>(tt.elem_type());
        DType dtype = dt == onnx::TensorProto::INT64   ? DType::kInt64
                      : dt == onnx::TensorProto::BOOL  ? DType::kBool
                      : dt == onnx::TensorProto::INT32 ? DType::kInt32
                                                       : DType::kFloat32;
        Tensor t = std::move(Tensor::create(dtype, shape)).value();
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (dtype == DType::kFloat32) t.data<float>()[i] = std::uniform_real_distribution<float>(-1, 1)(rng);
            if (dtype == DType::kInt64) t.data<int64_t>()[i] = static_cast<int64_t>(rng() % 4);
            if (dtype == DType::kInt32) t.data<int32_t>()[i] = static_cast<int32_t>(rng() % 4);
            if (dtype == DType::kBool) t.data<bool>()[i] = (rng() & 1) != 0;
        }
        feeds.emplace_back(in.name(), std::move(t));
    }
    return feeds;
}

/// Runs an IR model without optimization (a copy is consumed).
inline std::vector<Tensor> run_ir(std::unique_ptr<ir::Model> m,
                                  const std::vector<std::pair<std::string, Tensor>>& feeds) {
    SessionOptions o;
    o.threads = 1;
    o.optimization_level = 0;
    o.backends = "ref";  // the graph exactly as the pass left it, on the reference kernels
    auto s = Session::from_model(std::move(m), o);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    if (!s.is_ok()) return {};
    auto r = (*s)->run(feeds);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? std::move(r).value() : std::vector<Tensor>{};
}

/// Expects two output lists to match elementwise: |a-b| <= atol + rtol*|b| (floats), exactly otherwise.
inline void expect_outputs_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double rtol,
                                 double atol) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size(); ++k) {
        ASSERT_EQ(got[k].shape(), want[k].shape()) << "output " << k;
        ASSERT_EQ(got[k].dtype(), want[k].dtype()) << "output " << k;
        if (got[k].dtype() == DType::kFloat32) {
            for (int64_t i = 0; i < got[k].numel(); ++i) {
                const double a = got[k].data<float>()[i], b = want[k].data<float>()[i];
                ASSERT_LE(std::fabs(a - b), atol + rtol * std::fabs(b)) << "output " << k << " element " << i;
            }
        } else {
            ASSERT_EQ(0, std::memcmp(got[k].raw_data(), want[k].raw_data(), got[k].nbytes())) << "output " << k;
        }
    }
}

/// Number of nodes of `op_type` (any domain) in the main graph.
inline int count_op(const ir::Model& m, const std::string& op_type) {
    int n = 0;
    for (const auto& node : m.graph->nodes()) n += node->op_type() == op_type ? 1 : 0;
    return n;
}

/// Applies `fn` (a pass or the pipeline) to a copy of `m`, checks the IR verifies, that graph input/output names are
/// unchanged, and that outputs match the original on three random feeds (rtol 1e-4 by default). Returns the
/// transformed model for structural checks.
template <typename Fn>
std::unique_ptr<ir::Model> check_equivalent(const onnx::ModelProto& m, Fn&& fn, double rtol = 1e-4,
                                            double atol = 1e-5) {
    auto opt = load_ir(m);
    if (!opt) return nullptr;
    fn(*opt);
    Status st = ir::verify(*opt->graph);
    EXPECT_TRUE(st.is_ok()) << st.message();
    std::vector<std::string> want_out, got_out;
    for (const auto& o : m.graph().output()) want_out.push_back(o.name());
    for (const ir::Value* v : opt->graph->outputs()) got_out.push_back(v->name());
    EXPECT_EQ(got_out, want_out) << "graph output names must be preserved";
    for (uint32_t seed : {1u, 2u, 3u}) {
        auto feeds = random_feeds(m, seed);
        auto want = run_ir(load_ir(m), feeds);
        // Run a fresh copy of the transformed model each time (run_ir consumes it).
        auto again = load_ir(m);
        fn(*again);
        auto got = run_ir(std::move(again), feeds);
        expect_outputs_close(got, want, rtol, atol);
    }
    return opt;
}

/// check_equivalent for one pass by name; expects the pass to report a change when `expect_change`.
inline std::unique_ptr<ir::Model> check_pass(const onnx::ModelProto& m, const std::string& pass,
                                             bool expect_change = true, double rtol = 1e-4, double atol = 1e-5) {
    return check_equivalent(
        m,
        [&](ir::Model& model) {
            passes::PassContext ctx;
            auto r = passes::run_pass(model, pass, ctx);
            ASSERT_TRUE(r.is_ok()) << r.status().message();
            EXPECT_EQ(*r, expect_change) << "pass " << pass;
        },
        rtol, atol);
}

/// check_equivalent for the whole pipeline at `level`.
inline std::unique_ptr<ir::Model> check_pipeline(const onnx::ModelProto& m, int level = passes::kDefaultLevel,
                                                 double rtol = 1e-4, double atol = 1e-5) {
    return check_equivalent(
        m,
        [&](ir::Model& model) {
            passes::OptimizeOptions o;
            o.level = level;
            Status st = passes::optimize(model, o);
            ASSERT_TRUE(st.is_ok()) << st.message();
        },
        rtol, atol);
}

}  // namespace nnport::testing

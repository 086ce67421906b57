// Shared checks for backend tests: a one-node model (tests/util/op_runner.hpp) run on a backend against the
// reference kernels.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "ops/op_def.hpp"
#include "util/op_runner.hpp"

namespace nnport::testing {

/// Uniform float32 values in [lo, hi) from a fixed seed.
inline Tensor random_f32(Shape s, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    Tensor t = std::move(Tensor::create(DType::kFloat32, std::move(s))).value();
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(g);
    return t;
}

/// Uniform integers of type T in [lo, hi] from a fixed seed.
template <typename T>
Tensor random_ints(Shape s, int lo, int hi, uint32_t seed) {
    Tensor t = std::move(Tensor::create(DTypeOf<T>::value, std::move(s))).value();
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(u(g));
    return t;
}

/// A small graph built in memory (ai.onnx at `opset`, com.nnport 1): inputs, constants, nodes and outputs by name.
struct Net {
    std::unique_ptr<ir::Model> m = std::make_unique<ir::Model>();
    ir::Graph* g;
    int opset;
    explicit Net(int onnx_opset = 18) : opset(onnx_opset) {
        m->opset_imports[""] = opset;
        m->opset_imports["com.nnport"] = 1;
        m->graph = std::make_unique<ir::Graph>("test");
        g = m->graph.get();
    }
    void input(const std::string& name, std::vector<ir::Dim> dims, DType dt = DType::kFloat32) {
        ir::Value* v = g->add_value(name, ir::ValueType::tensor(dt, std::move(dims))).value();
        g->inputs().push_back(v);
    }
    void constant(const std::string& name, const Tensor& t) {
        ir::Value* v = g->add_value(name, ir::ValueType::tensor(t.dtype(), t.shape())).value();
        v->set_initializer(t);
    }
    /// A node reading `ins` (an empty name: an absent optional input) and writing `outs`.
    void node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
              ir::Attributes attrs = {}, const std::string& domain = "") {
        std::vector<ir::Value*> iv;
        for (const std::string& s : ins) iv.push_back(s.empty() ? nullptr : g->find_value(s));
        ir::Node* n = g->add_node(op, domain, outs[0] + "_node", iv, outs).value();
        n->attrs = std::move(attrs);
        n->opset = domain.empty() ? opset : 1;
        n->def = find_op(domain, op);
    }
    void output(const std::string& name) { g->outputs().push_back(g->find_value(name)); }
};

using NetFn = std::function<void(Net&)>;

/// A session over the graph `build` makes, on `backends` with `threads` threads (nullptr, with a test failure, when
/// it cannot be created).
inline std::unique_ptr<Session> make_session(const NetFn& build, const std::string& backends, int threads,
                                             int onnx_opset = 18) {
    Net net(onnx_opset);
    build(net);
    SessionOptions o;
    o.threads = threads;
    o.backends = backends;
    auto s = Session::from_model(std::move(net.m), o);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    return s.is_ok() ? std::move(*s) : nullptr;
}

/// The feeds of a one-node model: every input not given as an initializer.
inline std::vector<std::pair<std::string, RtValue>> op_feeds(const OpRun& r) {
    std::vector<std::pair<std::string, RtValue>> feeds;
    for (size_t i = 0; i < r.inputs.size(); ++i) {
        if (!r.inputs[i].defined()) continue;
        if (i < r.as_initializer.size() && r.as_initializer[i]) continue;
        feeds.emplace_back("in" + std::to_string(i), RtValue(r.inputs[i]));
    }
    return feeds;
}

/// Expects equal dtypes and shapes, and |got - want| <= atol + rtol * |want| for every float element (exact for
/// other dtypes).
inline void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
    ASSERT_EQ(got.dtype(), want.dtype()) << what;
    ASSERT_EQ(got.shape(), want.shape()) << what;
    const bool is_float = got.dtype() == DType::kFloat32 || got.dtype() == DType::kFloat64 ||
                          got.dtype() == DType::kFloat16 || got.dtype() == DType::kBFloat16;
    int bad = 0;
    for (int64_t i = 0; i < got.numel() && bad < 5; ++i) {
        const double g = got.item_as_double(i), w = want.item_as_double(i);
        const bool ok = is_float ? (std::isnan(w) ? std::isnan(g) : std::abs(g - w) <= atol + rtol * std::abs(w))
                                 : g == w;
        if (!ok) {
            ADD_FAILURE() << what << ": element " << i << " is " << g << ", the reference gives " << w;
            ++bad;
        }
    }
}

/// Runs `r` with backends "<backend>,ref" and with "ref" alone on the same inputs. Expects every node of the
/// partitioned model except layout Transposes to run on `backend` (so a silent fallback fails the test) and the
/// outputs to match the reference within rtol/atol.
inline void expect_backend_matches_ref(const OpRun& r, std::string_view backend, double rtol = 1e-4,
                                       double atol = 1e-5) {
    OpRun rb = r;
    rb.backends = std::string(backend) + ",ref";
    OpRun rr = r;
    rr.backends = "ref";
    auto sb = make_op_session(rb);
    ASSERT_TRUE(sb.is_ok()) << sb.status().message();
    auto sr = make_op_session(rr);
    ASSERT_TRUE(sr.is_ok()) << sr.status().message();
    int on_backend = 0;
    for (const NodePlacement& p : (*sb)->placements()) {
        if (p.op_type == "Transpose") continue;
        EXPECT_EQ(p.backend, backend) << r.op_type << ": node '" << p.name << "' (" << p.op_type
                                      << ") fell back: " << p.fallback_reason;
        on_backend += p.backend == backend ? 1 : 0;
    }
    EXPECT_GT(on_backend, 0) << r.op_type << ": no node ran on " << backend;
    const auto feeds = op_feeds(r);
    auto got = (*sb)->run_values(feeds);
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    auto want = (*sr)->run_values(feeds);
    ASSERT_TRUE(want.is_ok()) << want.status().message();
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < got->size(); ++i) {
        if (!(*want)[i].is_tensor()) continue;
        ASSERT_TRUE((*got)[i].is_tensor());
        expect_close((*got)[i].tensor, (*want)[i].tensor, rtol, atol, r.op_type + " output " + std::to_string(i));
    }
}

/// Expects `backend` to decline the op of `r` (it runs on ref) with a reason containing `reason`.
inline void expect_backend_declines(const OpRun& r, std::string_view backend, const std::string& reason) {
    OpRun rb = r;
    rb.backends = std::string(backend) + ",ref";
    auto sb = make_op_session(rb);
    ASSERT_TRUE(sb.is_ok()) << sb.status().message();
    bool seen = false;
    for (const NodePlacement& p : (*sb)->placements()) {
        if (p.op_type == "Transpose") continue;
        seen = true;
        EXPECT_EQ(p.backend, "ref") << r.op_type << ": node '" << p.name << "' ran on " << p.backend;
        EXPECT_NE(p.fallback_reason.find(reason), std::string::npos)
            << r.op_type << ": fallback reason '" << p.fallback_reason << "' does not mention '" << reason << "'";
    }
    EXPECT_TRUE(seen);
}

}  // namespace nnport::testing

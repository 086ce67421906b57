// Test helpers for the quantizer: small conv+relu+pool+gemm graphs, known-range calibration data and lookups of the
// QDQ structure.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "passes/basic_pass_test_util.hpp"
#include "passes/pass_test_util.hpp"
#include "quant/calibration.hpp"
#include "quant/quantize.hpp"

namespace nnport::testing::quant_test {

constexpr int F = onnx::TensorProto::FLOAT;

/// x[1,3,8,8] -> Conv 'conv' (4x3x3x3, bias, pad 1) -> Relu 'relu' -> MaxPool 'pool' (2x2) -> Flatten 'flat'
/// -> Gemm 'fc' (transB, 10x64, bias) -> y[1,10]. Conv weight channel c has max |w| = (c + 1) * 0.1.
inline onnx::ModelProto conv_model() {
    onnx::GraphProto g;
    add_input(&g, "x", F, {1, 3, 8, 8});
    std::vector<float> w(4 * 27);
    for (int c = 0; c < 4; ++c) {
        for (int i = 0; i < 27; ++i) w[c * 27 + i] = (c + 1) * 0.1f * std::sin(0.7f * static_cast<float>(i + c));
        w[c * 27 + 5] = (c + 1) * 0.1f;  // the channel's largest magnitude
    }
    add_init_f32(&g, "w", {4, 3, 3, 3}, w);
    add_init_f32(&g, "b", {4}, {0.1f, -0.2f, 0.05f, 0.3f});
    add_init_f32(&g, "fw", {10, 64}, {}, -0.3f, 0.3f);
    add_init_f32(&g, "fb", {10}, {}, -0.1f, 0.1f);
    auto* conv = add_node(&g, "Conv", {"x", "w", "b"}, {"c"});
    conv->set_name("conv");
    attr_ints(conv, "pads", {1, 1, 1, 1});
    add_node(&g, "Relu", {"c"}, {"r"})->set_name("relu");
    auto* pool = add_node(&g, "MaxPool", {"r"}, {"p"});
    pool->set_name("pool");
    attr_ints(pool, "kernel_shape", {2, 2});
    attr_ints(pool, "strides", {2, 2});
    add_node(&g, "Flatten", {"p"}, {"f"})->set_name("flat");
    auto* fc = add_node(&g, "Gemm", {"f", "fw", "fb"}, {"y"});
    fc->set_name("fc");
    attr_int(fc, "transB", 1);
    add_output(&g, "y");
    return make_model(g, 17);
}

/// `n` samples of x[1,3,8,8] with values in [lo, hi] (both reached exactly in sample 0).
inline std::vector<quant::Feeds> range_samples(int n, float lo, float hi, uint32_t seed = 3) {
    std::vector<quant::Feeds> out;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int s = 0; s < n; ++s) {
        Tensor t = std::move(Tensor::create(DType::kFloat32, {1, 3, 8, 8})).value();
        for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
        if (s == 0) {
            t.data<float>()[0] = lo;
            t.data<float>()[1] = hi;
        }
        out.push_back({{"x", t}});
    }
    return out;
}

/// Loads `m`, quantizes it with `o` and returns the model (null on failure, with a test failure).
inline std::unique_ptr<ir::Model> quantized(const onnx::ModelProto& m, const quant::QuantizeOptions& o,
                                            quant::QuantizeReport* rep = nullptr) {
    auto model = load_ir(m);
    if (!model) return nullptr;
    Status st = quant::quantize_model(*model, o, rep);
    EXPECT_TRUE(st.is_ok()) << st.message();
    return st.is_ok() ? std::move(model) : nullptr;
}

/// The node named `name` (nullptr if none).
inline const ir::Node* node_named(const ir::Model& m, const std::string& name) {
    for (const auto& n : m.graph->nodes()) {
        if (n->name() == name) return n.get();
    }
    return nullptr;
}

/// Producer of input `i` of `n` (nullptr for graph inputs and initializers).
inline const ir::Node* producer_of(const ir::Node* n, size_t i) {
    return n && n->input(i) ? n->input(i)->producer() : nullptr;
}

/// Scalar float constant at input `i` of `n` (NaN if not one).
inline float scalar_input(const ir::Node* n, size_t i) {
    const Tensor* t = basic::const_input(n, i);
    return t && t->numel() == 1 && t->dtype() == DType::kFloat32 ? t->data<float>()[0] : NAN;
}

/// Output SQNR (dB) of `got` against `want` (float outputs).
inline double sqnr_db(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
    double s = 0, e = 0;
    for (size_t k = 0; k < got.size() && k < want.size(); ++k) {
        for (int64_t i = 0; i < want[k].numel(); ++i) {
            const double f = want[k].data<float>()[i], q = got[k].data<float>()[i];
            s += f * f;
            e += (q - f) * (q - f);
        }
    }
    return e > 0 ? 10 * std::log10(s / e) : 200.0;
}

}  // namespace nnport::testing::quant_test

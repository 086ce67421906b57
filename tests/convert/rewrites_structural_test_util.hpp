// Test helpers for the structural, substitution and fitted rewrite tests: the rewrite catalogue, a check that a
// rewrite added only the ops its catalogue entry needs, and an export round trip at the model's own opset.
#pragma once

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "convert/checker.hpp"
#include "convert/rewrite_test_util.hpp"
#include "convert/target_profile.hpp"
#include "onnx/exporter.hpp"
#include "passes/fusion_test_util.hpp"

namespace nnport::testing::rw {

constexpr int F = onnx::TensorProto::FLOAT;

inline const convert::RewriteCatalogue& catalogue() { return rewrite_catalogue(); }
inline const convert::Rewrite* entry(const std::string& name) { return rewrite_entry(name); }
using testing::expect_needs_only;
using testing::infer_types;

/// check_rewrite (rewrite_test_util.hpp) on the node named "target".
inline std::unique_ptr<ir::Model> check_typed(const onnx::ModelProto& m, const std::string& rewrite,
                                              const std::vector<std::string>& gone, double rtol = 1e-5,
                                              double atol = 1e-6, convert::RewriteContext* ctx = nullptr) {
    return check_rewrite(m, rewrite, "target", gone, rtol, atol, ctx);
}

/// check_rewrite_declines on the node named "target".
inline void check_declines(const onnx::ModelProto& m, const std::string& rewrite,
                           convert::RewriteContext* ctx = nullptr) {
    check_rewrite_declines(m, rewrite, "target", ctx);
}

/// Names the last node of `g` "target" and returns it.
inline onnx::NodeProto* target(onnx::GraphProto* g) {
    onnx::NodeProto* n = g->mutable_node(g->node_size() - 1);
    n->set_name("target");
    return n;
}

/// Exports `rewritten` at its own opset, checks that the file loads again and matches the original model `m` on
/// random inputs; returns the exported model for structural checks (e.g. attribute versus input forms).
inline onnx::ModelProto expect_export_matches(const ir::Model& rewritten, const onnx::ModelProto& m, double rtol = 1e-5,
                                              double atol = 1e-6) {
    onnx::ModelProto out;
    auto bytes = onnx_export::serialize_model(rewritten);
    EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
    if (!bytes.is_ok()) return out;
    EXPECT_TRUE(out.ParseFromString(*bytes));
    for (uint32_t seed : {4u, 5u}) {
        auto feeds = random_feeds(m, seed);
        auto want = run_ir(load_ir(m), feeds);
        auto got = run_ir(load_ir(out), feeds);
        expect_outputs_close(got, want, rtol, atol);
    }
    return out;
}

/// The exported node of type `op` (nullptr if none).
inline const onnx::NodeProto* proto_node(const onnx::ModelProto& m, const std::string& op) {
    for (const auto& n : m.graph().node()) {
        if (n.op_type() == op) return &n;
    }
    return nullptr;
}

inline bool has_attr(const onnx::NodeProto* n, const std::string& name) {
    if (!n) return false;
    for (const auto& a : n->attribute()) {
        if (a.name() == name) return true;
    }
    return false;
}

}  // namespace nnport::testing::rw

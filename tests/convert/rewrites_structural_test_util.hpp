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

inline const convert::RewriteCatalogue& catalogue() {
    static const convert::RewriteCatalogue cat = [] {
        auto c = convert::load_rewrites(std::string(NNPORT_SOURCE_DIR) + "/targets");
        EXPECT_TRUE(c.is_ok()) << c.status().message();
        return c.is_ok() ? c.value() : convert::RewriteCatalogue();
    }();
    return cat;
}

/// The catalogue entry named `name` (nullptr if absent).
inline const convert::Rewrite* entry(const std::string& name) {
    for (const auto& r : catalogue().rewrites) {
        if (r.name == name) return &r;
    }
    return nullptr;
}

/// Expects that the nodes the rewrite added (named after the node "target") are all ops of the entry's "needs" and
/// that there is at least one.
inline void expect_needs_only(const ir::Model& m, const std::string& rewrite) {
    const convert::Rewrite* e = entry(rewrite);
    ASSERT_NE(e, nullptr) << rewrite << " is not in the catalogue";
    const std::set<std::string> needs(e->needs.begin(), e->needs.end());
    int added = 0;
    for (const auto& n : m.graph->nodes()) {
        if (n->name().rfind("target_", 0) != 0) continue;
        ++added;
        EXPECT_TRUE(needs.count(n->op_type())) << rewrite << " added " << n->op_type() << ", not in its needs";
    }
    EXPECT_GT(added, 0) << rewrite;
}

/// Infers the types of `m` as `nnport convert` does before each rewrite (the importer alone leaves intermediate
/// values untyped, and rewrites read static shapes).
inline void infer_types(ir::Model& m) {
    ConstantMap consts;
    Status st = convert::prepare_model_for_check(m, consts);
    EXPECT_TRUE(st.is_ok()) << st.message();
}

/// check_rewrite on a model whose types are inferred first; `ctx` may carry a profile or samples.
inline std::unique_ptr<ir::Model> check_typed(const onnx::ModelProto& m, const std::string& rewrite,
                                              const std::vector<std::string>& gone, double rtol = 1e-5,
                                              double atol = 1e-6, convert::RewriteContext* ctx = nullptr) {
    auto out = check_equivalent(
        m,
        [&](ir::Model& model) {
            infer_types(model);
            EXPECT_TRUE(apply_named_rewrite(model, rewrite, "target", ctx)) << rewrite;
        },
        rtol, atol);
    if (out) {
        for (const std::string& op : gone) EXPECT_EQ(count_op(*out, op), 0) << op << " left after " << rewrite;
    }
    return out;
}

/// check_rewrite_declines on a model whose types are inferred first.
inline void check_declines(const onnx::ModelProto& m, const std::string& rewrite,
                           convert::RewriteContext* ctx = nullptr) {
    auto model = load_ir(m);
    ASSERT_TRUE(model);
    infer_types(*model);
    const size_t before = model->graph->nodes().size();
    EXPECT_FALSE(apply_named_rewrite(*model, rewrite, "target", ctx)) << rewrite << " should decline";
    EXPECT_EQ(model->graph->nodes().size(), before);
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

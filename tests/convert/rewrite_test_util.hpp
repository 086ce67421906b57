// Test helper for convert rewrites: applies one catalogue rewrite to a named node of a small model, checks that it
// applied (or declined), that the IR verifies, that graph inputs/outputs keep their names, which op types remain, and
// that outputs match the original on random inputs.
#pragma once

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "convert/checker.hpp"
#include "convert/rewrite.hpp"
#include "convert/target_profile.hpp"
#include "passes/pass_test_util.hpp"

namespace nnport::testing {

/// The node named `name` in the main graph, or nullptr.
inline ir::Node* find_node_named(ir::Model& m, const std::string& name) {
    for (const auto& n : m.graph->nodes()) {
        if (n->name() == name) return n.get();
    }
    return nullptr;
}

/// Applies rewrite `rewrite` to node `node` of a fresh copy of `m`; returns whether it applied (failing the test on
/// an error). `ctx` may carry a profile or samples for fitted rewrites.
inline bool apply_named_rewrite(ir::Model& model, const std::string& rewrite, const std::string& node,
                                convert::RewriteContext* ctx = nullptr) {
    const convert::RewriteImpl* impl = convert::find_rewrite_impl(rewrite);
    EXPECT_NE(impl, nullptr) << "no rewrite implementation named " << rewrite;
    if (!impl) return false;
    ir::Node* n = find_node_named(model, node);
    EXPECT_NE(n, nullptr) << "no node named " << node;
    if (!n) return false;
    // Rewrites read inferred types (dtypes of intermediate values), as in `nnport convert`.
    ConstantMap consts;
    Status st = convert::prepare_model_for_check(model, consts);
    EXPECT_TRUE(st.is_ok()) << st.message();
    convert::RewriteContext local;
    auto r = convert::apply_rewrite(model, *model.graph, n, *impl, ctx ? *ctx : local);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() && *r;
}

/// Applies `rewrite` to `node` and checks equivalence on random inputs (rtol/atol as check_equivalent). Expects the
/// rewrite to apply; afterwards none of `gone` op types may remain in the main graph. `ctx` may carry a profile or
/// samples (its approximation records are cleared before each application). Returns the rewritten model.
inline std::unique_ptr<ir::Model> check_rewrite(const onnx::ModelProto& m, const std::string& rewrite,
                                                const std::string& node, const std::vector<std::string>& gone,
                                                double rtol = 1e-5, double atol = 1e-6,
                                                convert::RewriteContext* ctx = nullptr) {
    auto out = check_equivalent(
        m,
        [&](ir::Model& model) {
            if (ctx) ctx->approx.clear();
            EXPECT_TRUE(apply_named_rewrite(model, rewrite, node, ctx)) << rewrite;
        },
        rtol, atol);
    if (out) {
        for (const std::string& op : gone) EXPECT_EQ(count_op(*out, op), 0) << op << " left after " << rewrite;
    }
    return out;
}

/// Expects `rewrite` to decline `node` and leave the graph as it was.
inline void check_rewrite_declines(const onnx::ModelProto& m, const std::string& rewrite, const std::string& node,
                                   convert::RewriteContext* ctx = nullptr) {
    auto model = load_ir(m);
    ASSERT_TRUE(model);
    const size_t before = model->graph->nodes().size();
    EXPECT_FALSE(apply_named_rewrite(*model, rewrite, node, ctx)) << rewrite << " should decline " << node;
    EXPECT_EQ(model->graph->nodes().size(), before);
}

/// The rewrite catalogue of the source tree (targets/rewrites.json).
inline const convert::RewriteCatalogue& rewrite_catalogue() {
    static const convert::RewriteCatalogue cat = [] {
        auto c = convert::load_rewrites(std::string(NNPORT_SOURCE_DIR) + "/targets");
        EXPECT_TRUE(c.is_ok()) << c.status().message();
        return c.is_ok() ? c.value() : convert::RewriteCatalogue();
    }();
    return cat;
}

/// The catalogue entry named `name` (nullptr if absent).
inline const convert::Rewrite* rewrite_entry(const std::string& name) {
    for (const auto& r : rewrite_catalogue().rewrites) {
        if (r.name == name) return &r;
    }
    return nullptr;
}

/// Expects that the nodes the rewrite added (named after `node`: "<node>_...") are all ops of the entry's "needs",
/// and that there is at least one.
inline void expect_needs_only(const ir::Model& m, const std::string& rewrite, const std::string& node = "target") {
    const convert::Rewrite* e = rewrite_entry(rewrite);
    ASSERT_NE(e, nullptr) << rewrite << " is not in the catalogue";
    const std::set<std::string> needs(e->needs.begin(), e->needs.end());
    int added = 0;
    for (const auto& n : m.graph->nodes()) {
        if (n->name().rfind(node + "_", 0) != 0) continue;
        ++added;
        EXPECT_TRUE(needs.count(n->op_type())) << rewrite << " added " << n->op_type() << ", not in its needs";
    }
    EXPECT_GT(added, 0) << rewrite;
}

/// Infers the types of `m` as `nnport convert` does before each rewrite (the importer alone leaves intermediate
/// values untyped).
inline void infer_types(ir::Model& m) {
    ConstantMap consts;
    Status st = convert::prepare_model_for_check(m, consts);
    EXPECT_TRUE(st.is_ok()) << st.message();
}

}  // namespace nnport::testing

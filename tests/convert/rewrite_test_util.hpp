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
/// rewrite to apply; afterwards none of `gone` op types may remain in the main graph. Returns the rewritten model.
inline std::unique_ptr<ir::Model> check_rewrite(const onnx::ModelProto& m, const std::string& rewrite,
                                                const std::string& node, const std::vector<std::string>& gone,
                                                double rtol = 1e-5, double atol = 1e-6) {
    auto out = check_equivalent(
        m, [&](ir::Model& model) { EXPECT_TRUE(apply_named_rewrite(model, rewrite, node)) << rewrite; }, rtol, atol);
    if (out) {
        for (const std::string& op : gone) EXPECT_EQ(count_op(*out, op), 0) << op << " left after " << rewrite;
    }
    return out;
}

/// Expects `rewrite` to decline `node` and leave the graph as it was.
inline void check_rewrite_declines(const onnx::ModelProto& m, const std::string& rewrite, const std::string& node) {
    auto model = load_ir(m);
    ASSERT_TRUE(model);
    const size_t before = model->graph->nodes().size();
    EXPECT_FALSE(apply_named_rewrite(*model, rewrite, node)) << rewrite << " should decline " << node;
    EXPECT_EQ(model->graph->nodes().size(), before);
}

}  // namespace nnport::testing

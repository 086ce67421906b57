// Test helpers for the folding/fusion passes and the fused ops: attribute setters the proto builder lacks, node
// lookup in the optimized IR, and running a pass with custom ops disallowed.
#pragma once

#include <string>
#include <vector>

#include "passes/pass_test_util.hpp"

namespace nnport::testing {

inline void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
}

inline void attr_floats(onnx::NodeProto* n, const std::string& name, const std::vector<float>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOATS);
    for (float x : v) a->add_floats(x);
}

inline void attr_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
}

/// A scalar float initializer.
inline void add_scalar_f32(onnx::GraphProto* g, const std::string& name, float v) { add_init_f32(g, name, {}, {v}); }

/// The first node of `op_type` in the main graph (nullptr if none).
inline const ir::Node* find_node(const ir::Model& m, const std::string& op_type) {
    for (const auto& n : m.graph->nodes()) {
        if (n->op_type() == op_type) return n.get();
    }
    return nullptr;
}

/// Runs pass `pass` on a fresh copy of `m` with custom ops disallowed; returns whether it changed the graph.
inline bool changes_without_custom_ops(const onnx::ModelProto& m, const std::string& pass) {
    auto model = load_ir(m);
    if (!model) return true;
    passes::PassContext ctx;
    ctx.allow_custom_ops = false;
    auto r = passes::run_pass(*model, pass, ctx);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() && *r;
}

}  // namespace nnport::testing

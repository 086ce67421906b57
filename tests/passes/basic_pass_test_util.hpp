// Test helpers for the clean-up, folding and layout pass tests: attribute setters, constants of other dtypes,
// node lookup and running one pass with a chosen PassContext.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "passes/pass_test_util.hpp"

namespace nnport::testing::basic {

inline void set_float(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
}

inline void set_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
}

/// A float16 initializer (values given as floats, stored as IEEE half bit patterns).
inline void add_init_f16(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                         const std::vector<float>& vals) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT16);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : vals) {
        Float16 h(v);
        uint16_t bits;
        std::memcpy(&bits, &h, sizeof(bits));
        t->add_int32_data(bits);
    }
}

/// A bool scalar initializer.
inline void add_init_bool(onnx::GraphProto* g, const std::string& name, bool v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::BOOL);
    t->add_int32_data(v ? 1 : 0);
}

/// Nodes of `op_type` in the graph and all its subgraphs.
inline int count_op_deep(const ir::Model& m, const std::string& op_type) {
    int n = 0;
    m.graph->for_each_node_recursive([&](ir::Node& node) { n += node.op_type() == op_type ? 1 : 0; });
    return n;
}

inline int64_t node_count(const ir::Model& m) {
    int64_t n = 0;
    m.graph->for_each_node_recursive([&](ir::Node&) { ++n; });
    return n;
}

/// The first node of `op_type` in the main graph (nullptr if none).
inline const ir::Node* first_node(const ir::Model& m, const std::string& op_type) {
    for (const auto& n : m.graph->nodes()) {
        if (n->op_type() == op_type) return n.get();
    }
    return nullptr;
}

/// The constant data feeding input `i` of `n` (nullptr if not an initializer).
inline const Tensor* const_input(const ir::Node* n, size_t i) {
    const ir::Value* v = n ? n->input(i) : nullptr;
    return v && v->has_initializer() ? &v->initializer() : nullptr;
}

/// check_equivalent for one pass run with `ctx` (so tests can set prefer_conv_for_fc and the like).
inline std::unique_ptr<ir::Model> check_pass_ctx(const onnx::ModelProto& m, const std::string& pass,
                                                 const passes::PassContext& base, bool expect_change = true) {
    return check_equivalent(m, [&](ir::Model& model) {
        passes::PassContext ctx;
        ctx.prefer_conv_for_fc = base.prefer_conv_for_fc;
        ctx.allow_custom_ops = base.allow_custom_ops;
        auto r = passes::run_pass(model, pass, ctx);
        ASSERT_TRUE(r.is_ok()) << r.status().message();
        EXPECT_EQ(*r, expect_change) << "pass " << pass;
    });
}

/// Applies one pass to a fresh copy and returns the recorded changes.
inline std::vector<std::string> changes_of(const onnx::ModelProto& m, const std::string& pass) {
    auto model = load_ir(m);
    if (!model) return {};
    passes::PassContext ctx;
    auto r = passes::run_pass(*model, pass, ctx);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return ctx.changes[pass];
}

}  // namespace nnport::testing::basic

// Test helpers for target profiles and the checker: a tiny graph builder and a profile built from an op list.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "convert/checker.hpp"
#include "ir/graph.hpp"
#include "ops/op_def.hpp"

namespace nnport::testing {

/// Builds a model node by node (ai.onnx opset 17 unless changed); values are created on first mention.
class GraphBuilder {
public:
    explicit GraphBuilder(int opset = 17) {
        model_.graph = std::make_unique<ir::Graph>("g");
        model_.opset_imports[""] = opset;
        model_.source = "test_model";
    }
    /// A graph input of the given type.
    ir::Value* input(const std::string& name, ir::ValueType t) {
        ir::Value* v = model_.graph->add_value(name, std::move(t)).value();
        model_.graph->inputs().push_back(v);
        return v;
    }
    /// A constant (initializer).
    ir::Value* constant(const std::string& name, Tensor t) {
        ir::Value* v = model_.graph->add_value(name, ir::ValueType::tensor(t.dtype(), t.shape())).value();
        v->set_initializer(std::move(t));
        return v;
    }
    /// Appends a node; returns its first output.
    ir::Value* node(const std::string& op, const std::string& name, const std::vector<ir::Value*>& inputs,
                    ir::Attributes attrs = {}, const std::string& domain = "", int num_outputs = 1) {
        std::vector<std::string> outs;
        for (int i = 0; i < num_outputs; ++i) outs.push_back(name + (i ? "_out" + std::to_string(i) : "_out"));
        ir::Node* n = model_.graph->add_node(op, domain, name, inputs, outs).value();
        n->attrs = std::move(attrs);
        n->def = find_op(domain, op);
        n->opset = domain.empty() ? static_cast<int>(model_.opset_imports[""]) : 1;
        if (!domain.empty()) model_.opset_imports[domain] = 1;
        return n->output(0);
    }
    void output(ir::Value* v) { model_.graph->outputs().push_back(v); }
    ir::Model& model() { return model_; }

    /// Infers types (tolerating unknown ops) and checks against `p` with `cat`.
    convert::CheckReport check(const convert::TargetProfile& p, const convert::RewriteCatalogue& cat) {
        consts_.clear();
        Status st = convert::prepare_model_for_check(model_, consts_);
        EXPECT_TRUE(st.is_ok()) << st.message();
        return convert::check_model(model_, consts_, p, cat);
    }

private:
    ir::Model model_;
    ConstantMap consts_;
};

/// A float32 tensor type.
inline ir::ValueType f32(std::vector<ir::Dim> dims) { return ir::ValueType::tensor(DType::kFloat32, std::move(dims)); }

/// A profile that supports exactly `ops` (no constraints), for tests.
inline convert::TargetProfile profile_with(const std::vector<std::string>& ops, const std::string& name = "test") {
    convert::TargetProfile p;
    p.name = name;
    p.display_name = name;
    p.version = "1";
    p.dtypes = {"float32"};
    for (const std::string& o : ops) p.ops[o] = convert::OpConstraints();
    return p;
}

/// The issue reported for node `name`, or nullptr.
inline const convert::NodeIssue* issue_for(const convert::CheckReport& r, const std::string& name) {
    for (const auto& n : r.nodes) {
        if (n.name == name) return &n;
    }
    return nullptr;
}

}  // namespace nnport::testing

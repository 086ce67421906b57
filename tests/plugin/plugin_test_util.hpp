// Test helpers for plugins: the built test plugins' paths and small models using the example plugin's ops.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "onnx/proto.hpp"

namespace nnport::testing {

/// Paths of the plugins tests/CMakeLists.txt builds (definitions set there).
inline const std::string kExamplePlugin = NNPORT_EXAMPLE_PLUGIN;

/// A ModelProto with one input x (float, dims < 0 symbolic "N"), one custom-domain node `op` named `node_name` and its
/// output y (declared without a shape: inference gives it). Imports opset 17 and `domain` version 1.
inline onnx::ModelProto custom_op_model(const std::string& domain, const std::string& op, const std::string& node_name,
                                        const std::vector<int64_t>& dims, float beta = 0.0f, bool set_beta = false) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    auto* os = m.add_opset_import();
    os->set_domain(domain);
    os->set_version(1);
    auto* g = m.mutable_graph();
    g->set_name("g");
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_domain(domain);
    n->set_name(node_name);
    n->add_input("x");
    n->add_output("y");
    if (set_beta) {
        auto* a = n->add_attribute();
        a->set_name("beta");
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(beta);
    }
    auto* x = g->add_input();
    x->set_name("x");
    auto* tt = x->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) {
        auto* dim = tt->mutable_shape()->add_dim();
        if (d >= 0) {
            dim->set_dim_value(d);
        } else {
            dim->set_dim_param("N");
        }
    }
    auto* y = g->add_output();
    y->set_name("y");
    y->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    return m;
}

/// x[1,4] -> com.example:Swish2 (node "swish") -> MatMul with a constant W[4,3] (node "mm") -> y[1,3]: a custom layer
/// in the middle of the network, followed by work that belongs on an accelerator (so not post-processing).
inline onnx::ModelProto swish_then_matmul_model() {
    onnx::ModelProto m = custom_op_model("com.example", "Swish2", "swish", {1, 4});
    auto* g = m.mutable_graph();
    g->mutable_node(0)->set_output(0, "h");
    auto* w = g->add_initializer();
    w->set_name("W");
    w->set_data_type(onnx::TensorProto::FLOAT);
    w->add_dims(4);
    w->add_dims(3);
    for (int i = 0; i < 12; ++i) w->add_float_data(0.25f * static_cast<float>(i % 5) - 0.5f);
    auto* n = g->add_node();
    n->set_op_type("MatMul");
    n->set_name("mm");
    n->add_input("h");
    n->add_input("W");
    n->add_output("y");
    return m;
}

/// x * sigmoid(beta * x), computed in double.
inline float swish_reference(float x, float beta) {
    return static_cast<float>(static_cast<double>(x) / (1.0 + std::exp(-static_cast<double>(beta) * x)));
}

}  // namespace nnport::testing

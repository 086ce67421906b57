// Test helper: builds small ONNX models (with subgraphs, sequences, optionals) as protobuf and loads them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nnport/nnport.hpp"
#include "onnx/proto.hpp"

namespace nnport::testing {

/// Sets a TypeProto to a tensor type (dims < 0 are left symbolic; no dims = unknown shape when `shaped` is false).
inline void set_tensor_type(onnx::TypeProto* t, int elem, const std::vector<int64_t>& dims, bool shaped = true) {
    auto* tt = t->mutable_tensor_type();
    tt->set_elem_type(elem);
    if (!shaped) return;
    auto* sh = tt->mutable_shape();
    for (int64_t d : dims) {
        auto* dim = sh->add_dim();
        if (d >= 0) dim->set_dim_value(d);
    }
}

inline onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& ins,
                                 const std::vector<std::string>& outs) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(g->node_size()));
    for (const auto& i : ins) n->add_input(i);
    for (const auto& o : outs) n->add_output(o);
    return n;
}

inline void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

inline void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
}

inline void attr_graph(onnx::NodeProto* n, const std::string& name, const onnx::GraphProto& g) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::GRAPH);
    *a->mutable_g() = g;
}

inline void attr_tensor_type(onnx::NodeProto* n, const std::string& name, int elem) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::TYPE_PROTO);
    a->mutable_tp()->mutable_tensor_type()->set_elem_type(elem);
}

/// A Constant node producing an int64 or float tensor.
inline void add_const_i64(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                          const std::vector<int64_t>& vals) {
    auto* n = add_node(g, "Constant", {}, {name});
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    auto* t = a->mutable_t();
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t v : vals) t->add_int64_data(v);
}

inline void add_const_f32(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                          const std::vector<float>& vals) {
    auto* n = add_node(g, "Constant", {}, {name});
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    auto* t = a->mutable_t();
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : vals) t->add_float_data(v);
}

inline void add_const_bool(onnx::GraphProto* g, const std::string& name, bool v) {
    auto* n = add_node(g, "Constant", {}, {name});
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    auto* t = a->mutable_t();
    t->set_data_type(onnx::TensorProto::BOOL);
    t->add_int32_data(v ? 1 : 0);
}

inline void add_input(onnx::GraphProto* g, const std::string& name, int elem, const std::vector<int64_t>& dims,
                      bool shaped = true) {
    auto* vi = g->add_input();
    vi->set_name(name);
    set_tensor_type(vi->mutable_type(), elem, dims, shaped);
}

/// A graph input without a type (body inputs typed by inference).
inline void add_untyped_input(onnx::GraphProto* g, const std::string& name) { g->add_input()->set_name(name); }

inline void add_output(onnx::GraphProto* g, const std::string& name) { g->add_output()->set_name(name); }

/// Loads the model with the main graph `g` at `opset` and one thread.
inline Result<std::unique_ptr<Session>> load_graph(const onnx::GraphProto& g, int opset = 18) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(opset);
    *m.mutable_graph() = g;
    const std::string bytes = m.SerializeAsString();
    SessionOptions o;
    o.threads = 1;
    return Session::load_from_memory(bytes.data(), bytes.size(), o);
}

/// Loads and runs with tensor feeds.
inline Result<std::vector<RtValue>> run_graph(const onnx::GraphProto& g,
                                              const std::vector<std::pair<std::string, RtValue>>& feeds,
                                              int opset = 18) {
    NNPORT_ASSIGN_OR_RETURN(auto s, load_graph(g, opset));
    return s->run_values(feeds);
}

}  // namespace nnport::testing

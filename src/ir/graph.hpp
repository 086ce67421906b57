// The graph IR: SSA values, nodes, graphs (with nested subgraphs) and the model.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nnport/status.hpp"
#include "nnport/tensor.hpp"
#include "ir/attribute.hpp"
#include "ir/value_type.hpp"

namespace nnport {
struct OpDef;
}

namespace nnport::ir {

class Node;
class Graph;

/// A use of a value: input slot `index` of `node`.
struct Use {
    Node* node;
    int index;
    bool operator==(const Use& o) const { return node == o.node && index == o.index; }
};

/// An SSA value: produced once (by a node, or as graph input / initializer), used many times.
class Value {
public:
    const std::string& name() const { return name_; }
    Graph* graph() const { return graph_; }
    Node* producer() const { return producer_; }
    int producer_output() const { return producer_output_; }
    const std::vector<Use>& uses() const { return uses_; }

    ValueType type;

    /// Constant data when this value is an initializer.
    bool has_initializer() const { return initializer_.defined(); }
    const Tensor& initializer() const { return initializer_; }
    void set_initializer(Tensor t) { initializer_ = std::move(t); }

    /// For a value of a subgraph that names a value of an enclosing graph: that value.
    Value* outer() const { return outer_; }

    bool is_graph_input() const;
    bool is_graph_output() const;
    /// True if a subgraph (at any depth) reads this value by name; such a value is in use even without node uses.
    bool is_captured() const { return captured_by_ > 0; }

private:
    friend class Graph;
    friend class Node;
    std::string name_;
    Graph* graph_ = nullptr;
    Node* producer_ = nullptr;
    int producer_output_ = -1;
    std::vector<Use> uses_;
    Tensor initializer_;
    Value* outer_ = nullptr;
    int captured_by_ = 0;
};

/// An operator application.
class Node {
public:
    const std::string& name() const { return name_; }
    const std::string& op_type() const { return op_type_; }
    /// "" for the default ONNX domain (ai.onnx).
    const std::string& domain() const { return domain_; }
    Graph* graph() const { return graph_; }

    /// Inputs; nullptr marks an omitted optional input.
    const std::vector<Value*>& inputs() const { return inputs_; }
    /// Outputs; nullptr marks an omitted optional output.
    const std::vector<Value*>& outputs() const { return outputs_; }
    Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
    Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
    void set_input(size_t i, Value* v);
    void add_input(Value* v);
    /// Replaces the whole input list (keeps use lists consistent).
    void set_inputs(const std::vector<Value*>& vs);

    Attributes attrs;
    bool has_attr(const std::string& n) const { return attrs.count(n) != 0; }
    const Attribute* attr(const std::string& n) const {
        auto it = attrs.find(n);
        return it == attrs.end() ? nullptr : &it->second;
    }
    /// Subgraphs held in attributes (If branches, Loop/Scan bodies).
    std::vector<Graph*> subgraphs() const;

    /// Operator definition, resolved at import (nullptr if unknown).
    const OpDef* def = nullptr;
    /// Opset version of the node's domain in the model.
    int opset = 0;
    std::string doc_string;

    /// "Conv 'conv1'" for messages.
    std::string describe() const;

private:
    friend class Graph;
    std::string name_, op_type_, domain_;
    Graph* graph_ = nullptr;
    std::vector<Value*> inputs_, outputs_;
};

/// A graph: values, nodes in execution order, inputs and outputs. Subgraphs refer to outer values by name.
class Graph {
public:
    explicit Graph(std::string name = "", Graph* parent = nullptr) : name_(std::move(name)), parent_(parent) {}
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    const std::string& name() const { return name_; }
    void set_name(std::string n) { name_ = std::move(n); }
    Graph* parent() const { return parent_; }
    void set_parent(Graph* p) { parent_ = p; }

    /// Creates a value; fails if the name is taken in this graph.
    Result<Value*> add_value(const std::string& name, ValueType type = ValueType());
    /// Looks up a value in this graph only.
    Value* find_value(const std::string& name) const;
    /// Looks up a value here, then in enclosing graphs.
    Value* resolve(const std::string& name) const;
    /// A name not used in this graph, based on `base`.
    std::string unique_name(const std::string& base);
    /// Renames a value of this graph; fails if the new name is taken (here or in an enclosing graph).
    Status rename_value(Value* v, const std::string& new_name);

    /// Appends a node; its outputs are new values with the given names ("" = omitted output).
    Result<Node*> add_node(const std::string& op_type, const std::string& domain, const std::string& name,
                           const std::vector<Value*>& inputs, const std::vector<std::string>& output_names);
    /// Moves all output values of `from` to `to` (which must have none), keeping names and uses.
    void steal_outputs(Node* from, Node* to);
    /// Removes a node (its outputs must be unused); the value objects stay until `remove_unused_values`.
    void remove_node(Node* n);
    /// Makes every use of `from` use `to` instead (graph outputs too).
    void replace_all_uses(Value* from, Value* to);
    void remove_unused_values();

    const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
    const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
    std::vector<Value*>& inputs() { return inputs_; }
    const std::vector<Value*>& inputs() const { return inputs_; }
    std::vector<Value*>& outputs() { return outputs_; }
    const std::vector<Value*>& outputs() const { return outputs_; }
    /// Values of this graph that stand for values of an enclosing graph (captured by name).
    const std::vector<Value*>& outer_refs() const { return outer_refs_; }
    /// Creates (once) the local stand-in for an outer value.
    Value* capture(Value* outer);
    /// Recomputes Value::is_captured() for this graph and all subgraphs (after subgraphs were removed).
    void recount_captures();

    /// Initializers in insertion order.
    std::vector<Value*> initializers() const;

    /// Reorders nodes topologically (stable); fails naming a node on a cycle.
    Status topo_sort();

    /// Nodes of this graph and all subgraphs (depth first).
    void for_each_node_recursive(const std::function<void(Node&)>& f) const;

    std::string doc_string;

private:
    std::string name_;
    Graph* parent_ = nullptr;
    std::vector<std::unique_ptr<Node>> nodes_;
    std::vector<std::unique_ptr<Value>> values_;
    std::unordered_map<std::string, Value*> by_name_;
    std::vector<Value*> inputs_, outputs_, outer_refs_;
    int name_counter_ = 0;
};

/// A whole model: metadata, opset imports, the main graph.
struct Model {
    int64_t ir_version = 8;
    std::map<std::string, int64_t> opset_imports;  ///< domain ("" = ai.onnx) -> version
    std::string producer_name, producer_version, domain, doc_string;
    int64_t model_version = 0;
    std::vector<std::pair<std::string, std::string>> metadata_props;
    std::unique_ptr<Graph> graph;
    /// Folder of the model file (for external data); empty for in-memory models.
    std::string base_dir;
    /// External data files the import read, relative to base_dir, each once (for sizes and copies).
    std::vector<std::string> external_data_files;
    /// Path or name used in messages.
    std::string source;

    int64_t opset(const std::string& domain) const {
        auto it = opset_imports.find(domain == "ai.onnx" ? "" : domain);
        return it == opset_imports.end() ? 0 : it->second;
    }
};

/// Checks structure: unique names, defined inputs, SSA, no cycles, valid subgraph references.
Status verify(const Graph& g);

/// A readable text form of a graph (for tests and `inspect --graph`).
std::string to_text(const Graph& g);

}  // namespace nnport::ir

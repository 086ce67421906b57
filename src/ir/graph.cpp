// Graph IR: construction, rewiring, topological order.
#include "ir/graph.hpp"

#include <algorithm>
#include <functional>
#include <unordered_set>

namespace nnport::ir {

bool ValueType::is_static() const {
    if (kind != Kind::kTensor || !has_shape) return false;
    return std::all_of(dims.begin(), dims.end(), [](const Dim& d) { return d.is_static(); });
}

Shape ValueType::static_shape() const {
    Shape s;
    for (const Dim& d : dims) s.push_back(d.value);
    return s;
}

std::string ValueType::to_string() const {
    switch (kind) {
        case Kind::kUnknown: return "?";
        case Kind::kSequence: return "seq(" + (elem ? elem->to_string() : std::string("?")) + ")";
        case Kind::kOptional: return "optional(" + (elem ? elem->to_string() : std::string("?")) + ")";
        case Kind::kTensor: break;
    }
    std::string s = dtype_name(dtype);
    if (!has_shape) return s + "[...]";
    s += "[";
    for (size_t i = 0; i < dims.size(); ++i) {
        if (i) s += ",";
        s += dims[i].to_string();
    }
    return s + "]";
}

const char* attr_type_name(AttrType t) {
    switch (t) {
        case AttrType::kFloat: return "float";
        case AttrType::kInt: return "int";
        case AttrType::kString: return "string";
        case AttrType::kTensor: return "tensor";
        case AttrType::kGraph: return "graph";
        case AttrType::kFloats: return "floats";
        case AttrType::kInts: return "ints";
        case AttrType::kStrings: return "strings";
        case AttrType::kTensors: return "tensors";
        case AttrType::kGraphs: return "graphs";
        case AttrType::kSparseTensor: return "sparse_tensor";
        case AttrType::kTypeProto: return "type_proto";
        case AttrType::kUndefined: break;
    }
    return "undefined";
}

bool Value::is_graph_input() const {
    const auto& in = graph_->inputs();
    return std::find(in.begin(), in.end(), this) != in.end();
}

bool Value::is_graph_output() const {
    const auto& out = graph_->outputs();
    return std::find(out.begin(), out.end(), this) != out.end();
}

static void remove_use(Value* v, Node* n, int index) {
    if (v == nullptr) return;
    auto& u = const_cast<std::vector<Use>&>(v->uses());
    auto it = std::find(u.begin(), u.end(), Use{n, index});
    if (it != u.end()) u.erase(it);
}

void Node::set_input(size_t i, Value* v) {
    if (i >= inputs_.size()) inputs_.resize(i + 1, nullptr);
    remove_use(inputs_[i], this, static_cast<int>(i));
    inputs_[i] = v;
    if (v) v->uses_.push_back(Use{this, static_cast<int>(i)});
}

void Node::add_input(Value* v) { set_input(inputs_.size(), v); }

void Node::set_inputs(const std::vector<Value*>& vs) {
    for (size_t i = 0; i < inputs_.size(); ++i) remove_use(inputs_[i], this, static_cast<int>(i));
    inputs_.clear();
    for (Value* v : vs) add_input(v);
}

std::vector<Graph*> Node::subgraphs() const {
    std::vector<Graph*> out;
    for (const auto& [name, a] : attrs) {
        if (a.type == AttrType::kGraph && a.g) out.push_back(a.g.get());
        if (a.type == AttrType::kGraphs) {
            for (const auto& g : a.graphs) out.push_back(g.get());
        }
    }
    return out;
}

std::string Node::describe() const {
    std::string d = domain_.empty() ? op_type_ : domain_ + "." + op_type_;
    return d + " node '" + name_ + "'";
}

Result<Value*> Graph::add_value(const std::string& name, ValueType type) {
    if (name.empty()) return invalid_model("value with an empty name in graph '" + name_ + "'");
    if (by_name_.count(name)) return invalid_model("value '" + name + "' is defined twice in graph '" + name_ + "'");
    auto v = std::make_unique<Value>();
    v->name_ = name;
    v->graph_ = this;
    v->type = std::move(type);
    Value* p = v.get();
    values_.push_back(std::move(v));
    by_name_[name] = p;
    return p;
}

Value* Graph::find_value(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

Value* Graph::resolve(const std::string& name) const {
    for (const Graph* g = this; g; g = g->parent_) {
        if (Value* v = g->find_value(name)) return v;
    }
    return nullptr;
}

std::string Graph::unique_name(const std::string& base) {
    std::string n = base;
    while (resolve(n) != nullptr) n = base + "_" + std::to_string(++name_counter_);
    return n;
}

Status Graph::rename_value(Value* v, const std::string& new_name) {
    if (v->graph_ != this) return internal_error("rename_value: '" + v->name_ + "' is not a value of this graph");
    if (v->name_ == new_name) return Status::ok();
    if (resolve(new_name) != nullptr) return internal_error("rename_value: name '" + new_name + "' is taken");
    by_name_.erase(v->name_);
    v->name_ = new_name;
    by_name_[new_name] = v;
    return Status::ok();
}

void Graph::recount_captures() {
    std::function<void(Graph&)> reset = [&reset](Graph& g) {
        for (auto& v : g.values_) v->captured_by_ = 0;
        for (const auto& n : g.nodes_) {
            for (Graph* sg : n->subgraphs()) reset(*sg);
        }
    };
    std::function<void(Graph&)> count = [&count](Graph& g) {
        for (Value* r : g.outer_refs_) {
            for (Value* o = r->outer_; o; o = o->outer_) o->captured_by_++;
        }
        for (const auto& n : g.nodes_) {
            for (Graph* sg : n->subgraphs()) count(*sg);
        }
    };
    reset(*this);
    for (const auto& n : nodes_) {
        for (Graph* sg : n->subgraphs()) count(*sg);
    }
}

Value* Graph::capture(Value* outer) {
    for (Value* v : outer_refs_) {
        if (v->outer_ == outer) return v;
    }
    auto v = std::make_unique<Value>();
    v->name_ = outer->name();
    v->graph_ = this;
    v->type = outer->type;
    v->outer_ = outer;
    for (Value* o = outer; o; o = o->outer_) o->captured_by_++;
    Value* p = v.get();
    values_.push_back(std::move(v));
    by_name_[p->name_] = p;
    outer_refs_.push_back(p);
    return p;
}

Result<Node*> Graph::add_node(const std::string& op_type, const std::string& domain, const std::string& name,
                              const std::vector<Value*>& inputs, const std::vector<std::string>& output_names) {
    auto n = std::make_unique<Node>();
    n->op_type_ = op_type;
    n->domain_ = (domain == "ai.onnx") ? "" : domain;
    n->name_ = name;
    n->graph_ = this;
    Node* p = n.get();
    for (const std::string& on : output_names) {
        if (on.empty()) {
            p->outputs_.push_back(nullptr);
            continue;
        }
        auto r = add_value(on);
        if (!r.is_ok()) return r.status().with_context(p->describe());
        Value* v = r.value();
        v->producer_ = p;
        v->producer_output_ = static_cast<int>(p->outputs_.size());
        p->outputs_.push_back(v);
    }
    for (Value* v : inputs) p->add_input(v);
    nodes_.push_back(std::move(n));
    return p;
}

void Graph::steal_outputs(Node* from, Node* to) {
    for (Value* v : from->outputs_) {
        if (v) {
            v->producer_ = to;
            v->producer_output_ = static_cast<int>(to->outputs_.size());
        }
        to->outputs_.push_back(v);
    }
    from->outputs_.clear();
}

void Graph::remove_node(Node* n) {
    for (size_t i = 0; i < n->inputs_.size(); ++i) remove_use(n->inputs_[i], n, static_cast<int>(i));
    for (Value* v : n->outputs_) {
        if (v) v->producer_ = nullptr;
    }
    nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(), [n](const auto& p) { return p.get() == n; }),
                 nodes_.end());
}

void Graph::replace_all_uses(Value* from, Value* to) {
    const std::vector<Use> uses = from->uses_;
    for (const Use& u : uses) u.node->set_input(static_cast<size_t>(u.index), to);
    for (Value*& o : outputs_) {
        if (o == from) o = to;
    }
}

void Graph::remove_unused_values() {
    std::unordered_set<const Value*> keep(inputs_.begin(), inputs_.end());
    keep.insert(outputs_.begin(), outputs_.end());
    values_.erase(std::remove_if(values_.begin(), values_.end(),
                                 [&](const std::unique_ptr<Value>& v) {
                                     bool dead = v->uses_.empty() && v->producer_ == nullptr && !keep.count(v.get()) &&
                                                 v->outer_ == nullptr && v->captured_by_ == 0;
                                     if (dead) by_name_.erase(v->name_);
                                     return dead;
                                 }),
                  values_.end());
}

std::vector<Value*> Graph::initializers() const {
    std::vector<Value*> out;
    for (const auto& v : values_) {
        if (v->has_initializer()) out.push_back(v.get());
    }
    return out;
}

/// Values of outer scopes that a node's subgraphs read (directly or deeper): implicit inputs of the node.
static void collect_implicit(const Graph& g, const Graph* owner, std::vector<Value*>& out) {
    for (Value* r : g.outer_refs()) {
        Value* o = r;
        while (o->outer() && o->graph() != owner) o = o->outer();
        if (o->graph() == owner) out.push_back(o);
    }
    for (const auto& n : g.nodes()) {
        for (Graph* sg : n->subgraphs()) collect_implicit(*sg, owner, out);
    }
}

Status Graph::topo_sort() {
    const size_t n = nodes_.size();
    std::unordered_map<const Node*, size_t> index;
    for (size_t i = 0; i < n; ++i) index[nodes_[i].get()] = i;
    std::vector<std::vector<size_t>> succ(n);
    std::vector<size_t> indeg(n, 0);
    for (size_t i = 0; i < n; ++i) {
        std::vector<Value*> deps(nodes_[i]->inputs_.begin(), nodes_[i]->inputs_.end());
        for (Graph* sg : nodes_[i]->subgraphs()) collect_implicit(*sg, this, deps);
        std::unordered_set<size_t> seen;
        for (Value* v : deps) {
            if (!v || !v->producer_ || v->graph_ != this) continue;
            auto it = index.find(v->producer_);
            if (it == index.end()) continue;
            if (seen.insert(it->second).second) {
                succ[it->second].push_back(i);
                ++indeg[i];
            }
        }
    }
    // Kahn's algorithm, always taking the earliest ready node to keep the original order where possible.
    std::vector<size_t> order;
    order.reserve(n);
    std::vector<size_t> ready;
    for (size_t i = 0; i < n; ++i) {
        if (indeg[i] == 0) ready.push_back(i);
    }
    std::make_heap(ready.begin(), ready.end(), std::greater<>());
    while (!ready.empty()) {
        std::pop_heap(ready.begin(), ready.end(), std::greater<>());
        size_t i = ready.back();
        ready.pop_back();
        order.push_back(i);
        for (size_t s : succ[i]) {
            if (--indeg[s] == 0) {
                ready.push_back(s);
                std::push_heap(ready.begin(), ready.end(), std::greater<>());
            }
        }
    }
    if (order.size() != n) {
        for (size_t i = 0; i < n; ++i) {
            if (indeg[i] != 0) {
                return invalid_model("graph '" + name_ + "' has a cycle through " + nodes_[i]->describe());
            }
        }
    }
    std::vector<std::unique_ptr<Node>> sorted;
    sorted.reserve(n);
    for (size_t i : order) sorted.push_back(std::move(nodes_[i]));
    nodes_ = std::move(sorted);
    return Status::ok();
}

void Graph::for_each_node_recursive(const std::function<void(Node&)>& f) const {
    for (const auto& n : nodes_) {
        f(*n);
        for (Graph* sg : n->subgraphs()) sg->for_each_node_recursive(f);
    }
}

}  // namespace nnport::ir

// One-node model builder for op tests.
#include "util/op_runner.hpp"

#include "ops/op_def.hpp"

namespace nnport::testing {

static Result<std::unique_ptr<ir::Model>> build(const OpRun& r) {
    auto m = std::make_unique<ir::Model>();
    m->opset_imports[r.domain] = r.opset;
    if (!r.domain.empty()) m->opset_imports[""] = 18;
    m->graph = std::make_unique<ir::Graph>("test");
    ir::Graph& g = *m->graph;
    std::vector<ir::Value*> ins;
    for (size_t i = 0; i < r.inputs.size(); ++i) {
        const Tensor& t = r.inputs[i];
        if (!t.defined()) {
            ins.push_back(nullptr);
            continue;
        }
        NNPORT_ASSIGN_OR_RETURN(ir::Value * v, g.add_value("in" + std::to_string(i), ir::ValueType::tensor(t.dtype(), t.shape())));
        if (i < r.as_initializer.size() && r.as_initializer[i]) {
            v->set_initializer(t);
        } else {
            g.inputs().push_back(v);
        }
        ins.push_back(v);
    }
    std::vector<std::string> outs;
    for (int i = 0; i < r.num_outputs; ++i) outs.push_back("out" + std::to_string(i));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * n, g.add_node(r.op_type, r.domain, "node", ins, outs));
    n->attrs = r.attrs;
    n->opset = r.opset;
    n->def = find_op(r.domain, r.op_type);
    if (!n->def) return unsupported("unknown op " + r.op_type);
    for (ir::Value* v : n->outputs()) g.outputs().push_back(v);
    return m;
}

Result<std::unique_ptr<Session>> make_op_session(const OpRun& r) {
    NNPORT_ASSIGN_OR_RETURN(auto m, build(r));
    SessionOptions o;
    o.threads = 1;
    o.backends = r.backends;
    o.optimization_level = r.level;
    return Session::from_model(std::move(m), o);
}

Result<std::vector<RtValue>> run_op(const OpRun& r) {
    NNPORT_ASSIGN_OR_RETURN(auto s, make_op_session(r));
    std::vector<std::pair<std::string, RtValue>> feeds;
    for (size_t i = 0; i < r.inputs.size(); ++i) {
        if (!r.inputs[i].defined()) continue;
        if (i < r.as_initializer.size() && r.as_initializer[i]) continue;
        feeds.emplace_back("in" + std::to_string(i), RtValue(r.inputs[i]));
    }
    return s->run_values(feeds);
}

Result<std::vector<RtValue>> run_simple(const std::string& op, std::vector<Tensor> inputs, ir::Attributes attrs,
                                        int num_outputs, int opset, const std::string& domain) {
    OpRun r;
    r.op_type = op;
    r.domain = domain;
    r.opset = opset;
    r.inputs = std::move(inputs);
    r.attrs = std::move(attrs);
    r.num_outputs = num_outputs;
    return run_op(r);
}

}  // namespace nnport::testing

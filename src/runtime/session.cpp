// Session: load, validate inputs, run through the executor.
#include <chrono>
#include <map>

#include "nnport/nnport.hpp"
#include "onnx/importer.hpp"
#include "passes/pipeline.hpp"
#include "runtime/executor.hpp"
#include "runtime/memory_arena.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport {

const char* version() { return "0.1.0"; }

struct Session::Impl {
    std::unique_ptr<ir::Model> model;
    std::unique_ptr<ThreadPool> pool;
    std::unique_ptr<Partition> partition;  // before plan: the plan points at its kernels
    std::unique_ptr<GraphPlan> plan;
    std::unique_ptr<Executor> executor;
    std::unique_ptr<MemoryPlanCache> memory;  ///< null when memory planning is off
    std::vector<TensorInfo> inputs, outputs;
    std::vector<const ir::Value*> input_values;  // all graph inputs, in order
};

static TensorInfo info_of(const ir::Value& v) {
    TensorInfo t;
    t.name = v.name();
    t.is_tensor = v.type.kind == ir::ValueType::Kind::kTensor || v.type.kind == ir::ValueType::Kind::kUnknown;
    t.dtype = v.type.dtype;
    t.has_shape = v.type.has_shape;
    for (const ir::Dim& d : v.type.dims) {
        t.shape.push_back(d.is_static() ? d.value : -1);
        t.dim_names.push_back(d.param);
    }
    return t;
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::from_model(std::unique_ptr<ir::Model> model, const SessionOptions& options) {
    auto impl = std::make_unique<Impl>();
    ir::Graph& g = *model->graph;
    ConstantMap consts;
    Status st = infer_graph(g, consts);
    if (!st.is_ok()) return st;
    if (options.optimization_level != 0) {
        passes::OptimizeOptions oo;
        oo.level = options.optimization_level;
        oo.verify_each = false;
        NNPORT_RETURN_IF_ERROR(passes::optimize(*model, oo));
    }
    NNPORT_ASSIGN_OR_RETURN(std::vector<const Backend*> backends, parse_backend_list(options.backends));
    const int threads = options.threads > 0 ? options.threads : ThreadPool::default_threads();
    impl->pool = std::make_unique<ThreadPool>(threads);
    NNPORT_ASSIGN_OR_RETURN(impl->partition, partition_model(*model, backends, impl->pool.get()));
    NNPORT_ASSIGN_OR_RETURN(impl->plan, GraphPlan::build(g, impl->partition.get()));
    impl->executor = std::make_unique<Executor>(impl->pool.get());
    if (options.memory_planning) impl->memory = std::make_unique<MemoryPlanCache>(*impl->plan);
    for (const ir::Value* v : g.inputs()) {
        impl->input_values.push_back(v);
        if (!v->has_initializer()) impl->inputs.push_back(info_of(*v));
    }
    for (const ir::Value* v : g.outputs()) impl->outputs.push_back(info_of(*v));
    impl->model = std::move(model);
    return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Result<std::unique_ptr<Session>> Session::load(const std::string& path, const SessionOptions& options) {
    NNPORT_ASSIGN_OR_RETURN(auto model, onnx_import::load_model(path));
    auto s = from_model(std::move(model), options);
    if (!s.is_ok()) return s.status().with_context(path);
    return s;
}

Result<std::unique_ptr<Session>> Session::load_from_memory(const void* data, size_t size, const SessionOptions& options,
                                                          const std::string& base_dir) {
    NNPORT_ASSIGN_OR_RETURN(auto model, onnx_import::load_model_from_memory(data, size, base_dir, "<memory>"));
    return from_model(std::move(model), options);
}

const std::vector<TensorInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Session::outputs() const { return impl_->outputs; }
const ir::Model& Session::model() const { return *impl_->model; }
int Session::threads() const { return impl_->pool->num_threads(); }

std::vector<NodePlacement> Session::placements() const {
    std::vector<NodePlacement> out;
    for (const auto& n : impl_->model->graph->nodes()) {
        NodePlacement p;
        p.name = n->name();
        p.op_type = n->domain().empty() ? n->op_type() : n->domain() + "." + n->op_type();
        if (const NodeAssignment* a = impl_->partition->find(n.get())) {
            p.backend = std::string(a->backend->name());
            p.fallback_reason = a->fallback_reason;
        }
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<std::string> Session::backends() const {
    std::vector<std::string> out;
    for (const Backend* b : impl_->partition->backends()) out.emplace_back(b->name());
    return out;
}

/// Checks a fed tensor against the declared input type; binds symbolic dims consistently across inputs.
static Status check_input(const ir::Value& v, const RtValue& val, std::map<std::string, int64_t>& symbols) {
    const ir::ValueType& t = v.type;
    const std::string where = "input '" + v.name() + "'";
    if (t.kind == ir::ValueType::Kind::kSequence) {
        if (!val.is_sequence()) return invalid_argument(where + ": expected a sequence");
        return Status::ok();
    }
    if (t.kind == ir::ValueType::Kind::kOptional) return Status::ok();
    if (!val.is_tensor()) return invalid_argument(where + ": expected a tensor");
    const Tensor& x = val.tensor;
    if (t.dtype != DType::kUndefined && x.dtype() != t.dtype) {
        return invalid_argument(where + ": expected dtype " + dtype_name(t.dtype) + ", got " + dtype_name(x.dtype()));
    }
    if (!t.has_shape) return Status::ok();
    if (x.rank() != static_cast<int64_t>(t.dims.size())) {
        return invalid_argument(where + ": expected rank " + std::to_string(t.dims.size()) + " (" + t.to_string() +
                                "), got shape " + shape_to_string(x.shape()));
    }
    for (size_t i = 0; i < t.dims.size(); ++i) {
        const ir::Dim& d = t.dims[i];
        const int64_t got = x.shape()[i];
        if (d.is_static() && d.value != got) {
            return invalid_argument(where + ": dimension " + std::to_string(i) + " must be " + std::to_string(d.value) +
                                    " (" + t.to_string() + "), got shape " + shape_to_string(x.shape()));
        }
        if (!d.is_static() && !d.param.empty()) {
            auto [it, inserted] = symbols.emplace(d.param, got);
            if (!inserted && it->second != got) {
                return invalid_argument(where + ": dimension '" + d.param + "' is " + std::to_string(got) +
                                        " here but " + std::to_string(it->second) + " in another input");
            }
        }
    }
    return Status::ok();
}

/// Adds one run's executor profile to the public profile.
static Status merge_profile(const ExecProfile& ep, RunProfile& p) {
    if (p.nodes.empty()) {
        for (const NodeProfile& np : ep.steps) {
            RunProfile::Node n;
            if (np.node) {
                n.name = np.node->name();
                n.op_type = np.node->domain().empty() ? np.node->op_type() : np.node->domain() + "." + np.node->op_type();
            }
            n.backend = np.backend;
            p.nodes.push_back(std::move(n));
        }
    } else if (p.nodes.size() != ep.steps.size()) {
        return invalid_argument("run profile holds " + std::to_string(p.nodes.size()) + " nodes but this session runs " +
                                std::to_string(ep.steps.size()) + "; use one profile per session");
    }
    for (size_t i = 0; i < ep.steps.size(); ++i) {
        p.nodes[i].total_ms += ep.steps[i].total_ms;
        p.nodes[i].calls += ep.steps[i].calls;
    }
    for (const StepEvent& e : ep.events) p.events.push_back({e.step, e.start_us, e.dur_us});
    ++p.runs;
    return Status::ok();
}

Result<std::vector<RtValue>> Session::run_values(const std::vector<std::pair<std::string, RtValue>>& inputs,
                                                 RunProfile* profile) const {
    const auto& ivs = impl_->input_values;
    std::vector<RtValue> bound(ivs.size());
    std::vector<bool> given(ivs.size(), false);
    std::map<std::string, int64_t> symbols;
    for (const auto& [name, val] : inputs) {
        size_t k = 0;
        while (k < ivs.size() && ivs[k]->name() != name) ++k;
        if (k == ivs.size()) return invalid_argument("the model has no input named '" + name + "'");
        if (given[k]) return invalid_argument("input '" + name + "' is given twice");
        NNPORT_RETURN_IF_ERROR(check_input(*ivs[k], val, symbols));
        bound[k] = val;
        given[k] = true;
    }
    for (size_t k = 0; k < ivs.size(); ++k) {
        const bool optional_type = ivs[k]->type.kind == ir::ValueType::Kind::kOptional;
        if (!given[k] && !ivs[k]->has_initializer() && !optional_type) {
            return invalid_argument("input '" + ivs[k]->name() + "' is required but was not given");
        }
    }
    std::unique_ptr<ArenaRun> arena = impl_->memory ? impl_->memory->begin_run(bound) : nullptr;
    using Clock = std::chrono::steady_clock;
    ExecProfile ep;
    if (profile) {
        if (profile->origin_ns < 0) {
            profile->origin_ns =
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
        }
        ep.record_events = profile->record_events;
        ep.origin =
            Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(profile->origin_ns)));
    }
    auto outs = impl_->executor->run(*impl_->plan, std::move(bound), nullptr, profile ? &ep : nullptr, arena.get());
    if (impl_->memory) impl_->memory->end_run(std::move(arena), outs.is_ok());
    if (!outs.is_ok() || !profile) return outs;
    NNPORT_RETURN_IF_ERROR(merge_profile(ep, *profile));
    return outs;
}

Result<std::vector<Tensor>> Session::run(const std::vector<std::pair<std::string, Tensor>>& inputs) const {
    std::vector<std::pair<std::string, RtValue>> vals;
    vals.reserve(inputs.size());
    for (const auto& [n, t] : inputs) vals.emplace_back(n, RtValue(t));
    NNPORT_ASSIGN_OR_RETURN(auto outs, run_values(vals));
    std::vector<Tensor> ts;
    for (size_t i = 0; i < outs.size(); ++i) {
        if (!outs[i].is_tensor()) {
            return invalid_argument("output '" + impl_->outputs[i].name + "' is not a tensor; use run_values()");
        }
        ts.push_back(std::move(outs[i].tensor));
    }
    return ts;
}

}  // namespace nnport

// Executor implementation.
#include "runtime/executor.hpp"

#include <chrono>
#include <unordered_set>

#include "runtime/memory_arena.hpp"

namespace nnport {

static int add_slot(std::unordered_map<const ir::Value*, int>& slots, int& n, const ir::Value* v) {
    auto it = slots.find(v);
    if (it != slots.end()) return it->second;
    slots[v] = n;
    return n++;
}

/// Outer values (of graph `owner`) read by the subgraphs of a node, at any depth.
static void implicit_inputs(const ir::Graph& g, const ir::Graph* owner, std::vector<const ir::Value*>& out) {
    for (const ir::Value* r : g.outer_refs()) {
        const ir::Value* o = r;
        while (o->outer() && o->graph() != owner) o = o->outer();
        if (o->graph() == owner) out.push_back(o);
    }
    for (const auto& n : g.nodes()) {
        for (const ir::Graph* sg : n->subgraphs()) implicit_inputs(*sg, owner, out);
    }
}

Result<std::unique_ptr<GraphPlan>> GraphPlan::build(const ir::Graph& g, const Partition* partition) {
    auto p = std::make_unique<GraphPlan>();
    p->graph_ = &g;
    int& n = p->num_slots_;
    for (const ir::Value* v : g.inputs()) p->input_slots_.push_back(add_slot(p->slots_, n, v));
    for (const auto& v : g.values()) {
        if (v->has_initializer()) p->constants_.push_back({add_slot(p->slots_, n, v.get()), v->initializer()});
    }
    for (const ir::Value* r : g.outer_refs()) p->captures_.push_back({add_slot(p->slots_, n, r), r->outer()});
    std::unordered_map<int, size_t> last_use;
    for (const auto& np : g.nodes()) {
        const ir::Node& node = *np;
        if (!node.def || !node.def->kernel) {
            return unsupported(node.describe() + ": no kernel for this op");
        }
        Step s;
        s.node = &node;
        if (partition) {
            const NodeAssignment* a = partition->find(&node);
            if (!a) return internal_error(node.describe() + ": the partition has no backend for it");
            s.kernel = a->kernel.get();
            s.backend = a->backend->name().data();
        }
        for (const ir::Value* v : node.inputs()) {
            if (!v) {
                s.in_slots.push_back(-1);
                continue;
            }
            auto it = p->slots_.find(v);
            if (it == p->slots_.end()) return invalid_model(node.describe() + ": input '" + v->name() + "' is not defined");
            s.in_slots.push_back(it->second);
            last_use[it->second] = p->steps_.size();
        }
        std::vector<const ir::Value*> implicit;
        for (const ir::Graph* sg : node.subgraphs()) {
            implicit_inputs(*sg, &g, implicit);
            if (!p->subplans_.count(sg)) {
                NNPORT_ASSIGN_OR_RETURN(auto sub, build(*sg, partition));
                p->subplans_[sg] = std::move(sub);
            }
        }
        for (const ir::Value* v : implicit) {
            auto it = p->slots_.find(v);
            if (it != p->slots_.end()) last_use[it->second] = p->steps_.size();
        }
        for (const ir::Value* v : node.outputs()) {
            s.out_slots.push_back(v ? add_slot(p->slots_, n, v) : -1);
            s.out_dtypes.push_back(v && v->type.is_tensor() ? v->type.dtype : DType::kUndefined);
            if (v) last_use.emplace(p->slots_[v], p->steps_.size());  // unused outputs die at once
        }
        p->steps_.push_back(std::move(s));
    }
    std::unordered_set<int> pinned;
    for (const ir::Value* v : g.outputs()) {
        auto it = p->slots_.find(v);
        if (it == p->slots_.end()) return invalid_model("graph output '" + v->name() + "' is never produced");
        p->output_slots_.push_back(it->second);
        pinned.insert(it->second);
    }
    for (const auto& [slot, step] : last_use) {
        if (!pinned.count(slot)) p->steps_[step].release.push_back(slot);
    }
    return p;
}

int GraphPlan::slot_of(const ir::Value* v) const {
    auto it = slots_.find(v);
    return it == slots_.end() ? -1 : it->second;
}

std::vector<int> GraphPlan::pinned_slots() const {
    std::vector<int> out(input_slots_.begin(), input_slots_.end());
    out.insert(out.end(), output_slots_.begin(), output_slots_.end());
    for (const auto& c : constants_) out.push_back(c.first);
    for (const auto& c : captures_) out.push_back(c.first);
    return out;
}

const GraphPlan* GraphPlan::subplan(const ir::Graph* g) const {
    auto it = subplans_.find(g);
    return it == subplans_.end() ? nullptr : it->second.get();
}

const RtValue* Frame::lookup(const ir::Value* v) const {
    for (const Frame* f = this; f; f = f->parent) {
        const int s = f->plan->slot_of(v);
        if (s >= 0) return &f->slots[static_cast<size_t>(s)];
    }
    return nullptr;
}

namespace {

/// Lets control-flow kernels run their subgraphs inside the current frame.
class FrameRunner : public SubgraphRunner {
public:
    FrameRunner(const Executor& ex, const Frame& frame) : ex_(ex), frame_(frame) {}
    Result<std::vector<RtValue>> run(const ir::Graph& g, std::vector<RtValue> inputs) override {
        const GraphPlan* sp = frame_.plan->subplan(&g);
        if (!sp) return internal_error("subgraph '" + g.name() + "' has no plan");
        return ex_.run(*sp, std::move(inputs), &frame_);
    }

private:
    const Executor& ex_;
    const Frame& frame_;
};

bool is_half(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

Tensor convert_float(const Tensor& t, DType to) {
    Tensor out = std::move(Tensor::create(to, t.shape())).value();
    const int64_t n = t.numel();
    if (t.dtype() == DType::kFloat16 && to == DType::kFloat32) {
        for (int64_t i = 0; i < n; ++i) out.data<float>()[i] = static_cast<float>(t.data<Float16>()[i]);
    } else if (t.dtype() == DType::kBFloat16 && to == DType::kFloat32) {
        for (int64_t i = 0; i < n; ++i) out.data<float>()[i] = static_cast<float>(t.data<BFloat16>()[i]);
    } else if (to == DType::kFloat16) {
        for (int64_t i = 0; i < n; ++i) out.data<Float16>()[i] = Float16(t.data<float>()[i]);
    } else {
        for (int64_t i = 0; i < n; ++i) out.data<BFloat16>()[i] = BFloat16(t.data<float>()[i]);
    }
    return out;
}

}  // namespace

Status Executor::run_step(const GraphPlan::Step& step, Frame& frame) const {
    const ir::Node& node = *step.node;
    const OpDef& def = *node.def;
    std::vector<const RtValue*> ins(step.in_slots.size(), nullptr);
    std::vector<RtValue> converted;
    DType half_seen = DType::kUndefined;
    if (def.half_via_float) converted.resize(step.in_slots.size());
    for (size_t i = 0; i < step.in_slots.size(); ++i) {
        if (step.in_slots[i] < 0) continue;
        const RtValue* v = &frame.slots[static_cast<size_t>(step.in_slots[i])];
        if (def.half_via_float && v->is_tensor() && is_half(v->tensor.dtype())) {
            half_seen = v->tensor.dtype();
            converted[i] = RtValue(convert_float(v->tensor, DType::kFloat32));
            v = &converted[i];
        }
        ins[i] = v;
    }
    std::vector<RtValue> outs(step.out_slots.size());
    FrameRunner runner(*this, frame);
    KernelContext kc(node, def, std::move(ins), &outs, &runner, pool_);
    const size_t step_index = static_cast<size_t>(&step - frame.plan->steps_.data());
    std::vector<OutputPlacement> placements;
    if (frame.arena && half_seen == DType::kUndefined) {  // half steps produce float32 first: keep them on the heap
        frame.arena->placements(step_index, placements);
        if (!placements.empty()) kc.set_placements(&placements);
    }
    NNPORT_RETURN_IF_ERROR(step.kernel ? step.kernel->run(kc) : def.kernel(kc));
    for (size_t i = 0; i < step.out_slots.size(); ++i) {
        if (step.out_slots[i] < 0) continue;
        RtValue& o = outs[i];
        if (def.half_via_float && o.is_tensor() && o.tensor.dtype() == DType::kFloat32) {
            DType want = step.out_dtypes[i];
            if (want == DType::kUndefined) want = half_seen;
            if (is_half(want)) o = RtValue(convert_float(o.tensor, want));
        }
        frame.slots[static_cast<size_t>(step.out_slots[i])] = std::move(o);
    }
    if (frame.arena) return frame.arena->after_step(step_index, frame);
    return Status::ok();
}

Result<std::vector<RtValue>> Executor::run(const GraphPlan& plan, std::vector<RtValue> inputs, const Frame* parent,
                                           ExecProfile* profile, ArenaRun* arena) const {
    Frame frame;
    frame.plan = &plan;
    frame.parent = parent;
    frame.arena = arena;
    frame.slots.resize(static_cast<size_t>(plan.num_slots_));
    for (const auto& [slot, t] : plan.constants_) frame.slots[static_cast<size_t>(slot)] = RtValue(t);
    for (const auto& [slot, outer] : plan.captures_) {
        const RtValue* v = parent ? parent->lookup(outer) : nullptr;
        if (!v) return internal_error("outer value '" + outer->name() + "' is not available");
        frame.slots[static_cast<size_t>(slot)] = *v;
    }
    if (inputs.size() > plan.input_slots_.size()) {
        return invalid_argument("graph '" + plan.graph().name() + "' takes " + std::to_string(plan.input_slots_.size()) +
                                " inputs, got " + std::to_string(inputs.size()));
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
        // A none value keeps the initializer default of an overridable input.
        if (!inputs[i].is_none() || !plan.graph().inputs()[i]->has_initializer()) {
            frame.slots[static_cast<size_t>(plan.input_slots_[i])] = std::move(inputs[i]);
        }
    }
    if (profile && profile->steps.size() < plan.steps_.size()) profile->steps.resize(plan.steps_.size());
    for (size_t si = 0; si < plan.steps_.size(); ++si) {
        const GraphPlan::Step& s = plan.steps_[si];
        if (profile) {
            using Us = std::chrono::duration<double, std::micro>;
            const auto t0 = std::chrono::steady_clock::now();
            NNPORT_RETURN_IF_ERROR(run_step(s, frame));
            const auto t1 = std::chrono::steady_clock::now();
            NodeProfile& np = profile->steps[si];
            np.node = s.node;
            np.backend = s.backend;
            np.total_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
            np.calls++;
            if (profile->record_events) {
                profile->events.push_back({si, Us(t0 - profile->origin).count(), Us(t1 - t0).count()});
            }
        } else {
            NNPORT_RETURN_IF_ERROR(run_step(s, frame));
        }
        for (int r : s.release) frame.slots[static_cast<size_t>(r)] = RtValue();
    }
    std::vector<RtValue> outs;
    outs.reserve(plan.output_slots_.size());
    for (int s : plan.output_slots_) outs.push_back(frame.slots[static_cast<size_t>(s)]);
    if (arena) arena->detach(outs);
    if (!parent) {
        // The caller owns what run() returns: an output that is (or views) a model constant gets its own copy, so
        // writing into it cannot change the model's weights for later runs.
        for (RtValue& o : outs) {
            if (!o.is_tensor() || !o.tensor.storage()) continue;
            for (const auto& [slot, t] : plan.constants_) {
                if (t.storage() == o.tensor.storage()) {
                    o = RtValue(o.tensor.clone());
                    break;
                }
            }
        }
    }
    return outs;
}

}  // namespace nnport

// Memory plan cache, arena pool and the per-run arena bookkeeping.
#include "runtime/memory_arena.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "runtime/executor.hpp"

namespace nnport {

std::vector<PlanStep> plan_steps(const GraphPlan& gp) {
    std::vector<PlanStep> out;
    out.reserve(gp.steps().size());
    for (const GraphPlan::Step& s : gp.steps()) {
        PlanStep p;
        p.in_slots = s.in_slots;
        p.out_slots = s.out_slots;
        p.release = s.release;
        p.inplace_elementwise = s.node->def && s.node->def->inplace_elementwise;
        p.output_views_input0 = s.node->def && s.node->def->output_views_input0;
        p.inplace_input = s.kernel ? s.kernel->inplace_input() : -1;
        out.push_back(std::move(p));
    }
    return out;
}

std::map<std::string, int64_t> bind_symbols(const GraphPlan& gp, const std::vector<RtValue>& inputs) {
    std::map<std::string, int64_t> symbols;
    const auto& ivs = gp.graph().inputs();
    for (size_t i = 0; i < ivs.size() && i < inputs.size(); ++i) {
        const ir::ValueType& t = ivs[i]->type;
        if (!inputs[i].is_tensor() || !t.has_shape || t.dims.size() != inputs[i].tensor.shape().size()) continue;
        for (size_t d = 0; d < t.dims.size(); ++d) {
            if (!t.dims[d].is_static() && !t.dims[d].param.empty()) {
                symbols.emplace(t.dims[d].param, inputs[i].tensor.shape()[d]);
            }
        }
    }
    return symbols;
}

std::vector<SlotDesc> slot_descs_from_types(const GraphPlan& gp, const std::map<std::string, int64_t>& symbols) {
    std::vector<SlotDesc> descs(static_cast<size_t>(gp.num_slots()));
    for (const auto& [v, slot] : gp.slots()) {
        const ir::ValueType& t = v->type;
        SlotDesc& d = descs[static_cast<size_t>(slot)];
        if (t.kind == ir::ValueType::Kind::kSequence || t.kind == ir::ValueType::Kind::kOptional ||
            t.dtype == DType::kString) {
            d = SlotDesc::unplanned();
            continue;
        }
        if (t.kind != ir::ValueType::Kind::kTensor || t.dtype == DType::kUndefined || !t.has_shape) continue;
        Shape shape;
        for (const ir::Dim& dim : t.dims) {
            if (dim.is_static()) {
                shape.push_back(dim.value);
                continue;
            }
            auto it = dim.param.empty() ? symbols.end() : symbols.find(dim.param);
            if (it == symbols.end()) break;
            shape.push_back(it->second);
        }
        if (shape.size() == t.dims.size()) d = SlotDesc::tensor(t.dtype, std::move(shape));
    }
    for (int s : gp.pinned_slots()) descs[static_cast<size_t>(s)] = SlotDesc::unplanned();
    return descs;
}

// ---------------------------------------------------------------------------------------------------------------
// ArenaRun

ArenaRun::ArenaRun(const GraphPlan& gp, std::shared_ptr<const MemoryPlan> plan, std::shared_ptr<Storage> arena,
                   bool observe, bool check)
    : gp_(gp), plan_(std::move(plan)), arena_(std::move(arena)), observe_(observe), check_(check && arena_) {
    if (observe_) observed_.assign(static_cast<size_t>(gp.num_slots()), SlotDesc::unplanned());
}

void ArenaRun::placements(size_t step, std::vector<OutputPlacement>& out) const {
    out.clear();
    if (!arena_ || step >= plan_->outputs.size()) return;
    const auto& outs = plan_->outputs[step];
    for (size_t i = 0; i < outs.size(); ++i) {
        if (outs[i].buffer < 0) continue;
        const MemoryPlan::Buffer& b = plan_->buffers[static_cast<size_t>(outs[i].buffer)];
        out.resize(outs.size());
        out[i] = OutputPlacement{arena_, b.offset, b.bytes, outs[i].inplace_input};
    }
}

bool ArenaRun::inside_buffer(const Tensor& t, int buffer) const {
    if (buffer < 0) return false;
    const MemoryPlan::Buffer& b = plan_->buffers[static_cast<size_t>(buffer)];
    const char* base = static_cast<const char*>(arena_->data());
    const char* p = static_cast<const char*>(t.raw_data());
    if (p < base) return false;
    const size_t off = static_cast<size_t>(p - base);
    return off >= b.offset && off + t.nbytes() <= b.offset + b.bytes;
}

void ArenaRun::detach_value(RtValue& v, int buffer) const {
    if (v.is_tensor() && in_arena(v.tensor) && !inside_buffer(v.tensor, buffer)) v.tensor = v.tensor.clone();
    if (v.is_sequence()) {
        for (Tensor& t : v.sequence) {
            if (in_arena(t)) t = t.clone();
        }
    }
}

void ArenaRun::detach(std::vector<RtValue>& values) const {
    if (!arena_) return;
    for (RtValue& v : values) detach_value(v, -1);
}

Status ArenaRun::after_step(size_t step, Frame& frame) {
    const GraphPlan::Step& st = gp_.steps()[step];
    for (int slot : st.out_slots) {
        if (slot < 0) continue;
        RtValue& v = frame.slots[static_cast<size_t>(slot)];
        if (observe_) {
            observed_[static_cast<size_t>(slot)] = v.is_tensor() && v.tensor.dtype() != DType::kString
                                                       ? SlotDesc::tensor(v.tensor.dtype(), v.tensor.shape())
                                                       : SlotDesc::unplanned();
        }
        if (arena_) detach_value(v, plan_->slot_buffer[static_cast<size_t>(slot)]);
    }
    return check_ ? check_step(step) : Status::ok();
}

uint64_t ArenaRun::checksum(int buffer) const {
    const MemoryPlan::Buffer& b = plan_->buffers[static_cast<size_t>(buffer)];
    const unsigned char* p = static_cast<const unsigned char*>(arena_->data()) + b.offset;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i + 8 <= b.bytes; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

Status ArenaRun::check_step(size_t step) {
    const size_t n = plan_->buffers.size();
    if (sums_.size() != n) {
        sums_.assign(n, 0);
        summed_.assign(n, 0);
    }
    std::vector<char> written(n, 0);
    for (const MemoryPlan::StepOutput& o : plan_->outputs[step]) {
        if (o.buffer >= 0) written[static_cast<size_t>(o.buffer)] = 1;
    }
    const int s = static_cast<int>(step);
    for (size_t b = 0; b < n; ++b) {
        const MemoryPlan::Buffer& buf = plan_->buffers[b];
        if (s < buf.first || s > buf.last) {
            summed_[b] = 0;
            continue;
        }
        const uint64_t h = checksum(static_cast<int>(b));
        if (written[b] || !summed_[b]) {
            sums_[b] = h;
            summed_[b] = 1;
        } else if (h != sums_[b]) {
            std::string holder = "?";
            for (const auto& [v, slot] : gp_.slots()) {
                if (plan_->slot_buffer[static_cast<size_t>(slot)] == static_cast<int>(b)) holder = v->name();
            }
            return internal_error("arena check: " + gp_.steps()[step].node->describe() + " (step " +
                                  std::to_string(step) + ") changed the arena bytes of live value '" + holder +
                                  "' (buffer " + std::to_string(b) + ", steps " + std::to_string(buf.first) + ".." +
                                  std::to_string(buf.last) + "), which it does not write");
        }
    }
    return Status::ok();
}

// ---------------------------------------------------------------------------------------------------------------
// MemoryPlanCache

namespace {

bool env_check_arena() {
    const char* e = std::getenv("NNPORT_CHECK_ARENA");
    return e && *e && std::strcmp(e, "0") != 0;
}

/// Dtype and shape of every input; the plans of two runs with equal signatures are interchangeable.
std::vector<int64_t> signature_of(const std::vector<RtValue>& inputs) {
    std::vector<int64_t> sig;
    for (const RtValue& v : inputs) {
        if (v.is_tensor()) {
            sig.push_back(static_cast<int64_t>(v.tensor.dtype()));
            sig.push_back(v.tensor.rank());
            sig.insert(sig.end(), v.tensor.shape().begin(), v.tensor.shape().end());
        } else {
            sig.push_back(v.is_sequence() ? -2 : -1);
            if (v.is_sequence()) sig.push_back(static_cast<int64_t>(v.sequence.size()));
        }
    }
    return sig;
}

}  // namespace

MemoryPlanCache::MemoryPlanCache(const GraphPlan& gp, size_t capacity, size_t idle_arenas)
    : MemoryPlanCache(gp, capacity, idle_arenas, env_check_arena()) {}

MemoryPlanCache::MemoryPlanCache(const GraphPlan& gp, size_t capacity, size_t idle_arenas, bool check)
    : gp_(gp),
      steps_(plan_steps(gp)),
      capacity_(std::max<size_t>(capacity, 1)),
      idle_max_(idle_arenas),
      check_(check) {}

std::shared_ptr<const MemoryPlan> MemoryPlanCache::make_plan(const std::vector<SlotDesc>& descs) const {
    std::vector<SlotDesc> d = descs;
    for (int s : gp_.pinned_slots()) d[static_cast<size_t>(s)] = SlotDesc::unplanned();
    // Steps that compute float16/bfloat16 inputs in float32 get no placements (see Executor::run_step).
    auto is_half = [](DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; };
    for (const GraphPlan::Step& st : gp_.steps()) {
        bool half = false;
        for (size_t k = 0; k < st.in_slots.size(); ++k) {
            const ir::Value* v = st.node->input(k);
            if (st.in_slots[k] >= 0 &&
                ((v && is_half(v->type.dtype)) || is_half(descs[static_cast<size_t>(st.in_slots[k])].dtype))) {
                half = true;
            }
        }
        if (!half || !st.node->def || !st.node->def->half_via_float) continue;
        for (int s : st.out_slots) {
            if (s >= 0) d[static_cast<size_t>(s)] = SlotDesc::unplanned();
        }
    }
    return std::make_shared<const MemoryPlan>(plan_memory(steps_, d));
}

void MemoryPlanCache::insert_locked(std::vector<int64_t> signature, std::shared_ptr<const MemoryPlan> plan) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->signature == signature) {
            entries_.erase(it);
            break;
        }
    }
    entries_.push_front(Entry{std::move(signature), std::move(plan)});
    while (entries_.size() > capacity_) entries_.pop_back();
}

size_t MemoryPlanCache::size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
}

std::shared_ptr<Storage> MemoryPlanCache::acquire_arena(size_t bytes) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        size_t best = idle_.size();
        for (size_t i = 0; i < idle_.size(); ++i) {
            if (idle_[i]->bytes() >= bytes && (best == idle_.size() || idle_[i]->bytes() < idle_[best]->bytes())) {
                best = i;
            }
        }
        if (best < idle_.size()) {
            std::shared_ptr<Storage> a = std::move(idle_[best]);
            idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(best));
            return a;
        }
    }
    auto a = Storage::allocate(bytes, false);
    return a.is_ok() ? std::move(a).value() : nullptr;  // no memory for an arena: this run uses the heap
}

std::unique_ptr<ArenaRun> MemoryPlanCache::begin_run(const std::vector<RtValue>& inputs) {
    std::vector<int64_t> sig = signature_of(inputs);
    std::shared_ptr<const MemoryPlan> plan;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->signature == sig) {
                entries_.splice(entries_.begin(), entries_, it);
                plan = it->plan;
                break;
            }
        }
    }
    if (!plan) {
        plan = make_plan(slot_descs_from_types(gp_, bind_symbols(gp_, inputs)));
        std::lock_guard<std::mutex> lock(mu_);
        insert_locked(sig, plan);
    }
    std::shared_ptr<Storage> arena = plan->arena_bytes > 0 ? acquire_arena(plan->arena_bytes) : nullptr;
    const bool observe = !plan->complete;
    auto run = std::make_unique<ArenaRun>(gp_, std::move(plan), std::move(arena), observe, check_);
    run->signature = std::move(sig);
    return run;
}

void MemoryPlanCache::end_run(std::unique_ptr<ArenaRun> run, bool ok) {
    if (!run) return;
    if (run->observing() && ok) {
        std::shared_ptr<const MemoryPlan> plan = make_plan(run->take_observed());
        std::lock_guard<std::mutex> lock(mu_);
        insert_locked(run->signature, std::move(plan));
    }
    std::shared_ptr<Storage> arena = run->arena();
    run.reset();
    if (!arena || arena.use_count() != 1 || idle_max_ == 0) return;  // still referenced: never reuse
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < idle_max_) {
        idle_.push_back(std::move(arena));
        return;
    }
    auto smallest = std::min_element(idle_.begin(), idle_.end(),
                                     [](const auto& a, const auto& b) { return a->bytes() < b->bytes(); });
    if ((*smallest)->bytes() < arena->bytes()) *smallest = std::move(arena);
}

Result<std::shared_ptr<const MemoryPlan>> MemoryPlanCache::plan_for(const std::vector<RtValue>& inputs,
                                                                    const Executor& ex) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::unique_ptr<ArenaRun> run = begin_run(inputs);
        if (run->plan().complete) {
            std::shared_ptr<const MemoryPlan> plan = run->shared_plan();
            end_run(std::move(run), true);
            return plan;
        }
        auto r = ex.run(gp_, inputs, nullptr, nullptr, run.get());
        end_run(std::move(run), r.is_ok());
        if (!r.is_ok()) return r.status();
    }
    return internal_error("memory plan still incomplete after observing a run");
}

}  // namespace nnport

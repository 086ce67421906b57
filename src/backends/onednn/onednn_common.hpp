// Shared pieces of the oneDNN backend: the CPU engine, per-thread stream and scratchpad, OpenMP thread count,
// activations as post-ops, error conversion, and a small per-shape cache of primitives.
//
// Threads: Debian's oneDNN 2.6 is built on the OpenMP runtime, which sizes each parallel region by the calling
// thread's omp_get_max_threads(). Every kernel calls set_threads() before creating or executing a primitive with the
// session's thread count (--threads), or fewer for a small primitive (threads_for: waking a thread costs more than
// it saves there). The session's pool runs on the same OpenMP threads (core/pthreadpool_omp.cpp), so the reference,
// cpu and XNNPACK kernels and oneDNN share one team. Idle OpenMP workers spin for a while (libgomp's default wait
// policy) before sleeping: on a machine shared with other work, OMP_WAIT_POLICY=passive avoids stealing the cores the
// next node needs (libgomp reads it at start-up, so it cannot be set from here).
//
// Concurrency: primitives are immutable once created; kernels keep them in a mutex-guarded cache and execute them
// with a per-thread stream and a per-thread user scratchpad (scratchpad_mode::user), so concurrent Session::run calls
// never share mutable oneDNN state.
#pragma once

#include <dnnl.hpp>

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/status.hpp"
#include "ops/fused_util.hpp"

namespace nnport::onednn {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

/// The process-wide CPU engine. Throws dnnl::error when oneDNN cannot create one.
const dnnl::engine& engine();
/// This thread's stream on engine().
dnnl::stream& stream();
/// Makes oneDNN's next parallel regions on this thread use `threads` OpenMP threads.
void set_threads(int threads);
/// OpenMP threads worth waking for a primitive of `work` units when `per_thread` units keep one thread busy well past
/// the fork/join cost (microseconds on an idle machine, a scheduler time slice when the cores are oversubscribed):
/// between 1 and `max_threads`. Small primitives run on the calling thread alone. (`work` is a double: products of
/// dims cannot overflow.)
int threads_for(double work, int64_t per_thread, int max_threads);
/// Work units for threads_for: multiply-adds (convolution, matmul), elements streamed (pooling, normalization).
constexpr int64_t kMacsPerThread = int64_t{1} << 19;
constexpr int64_t kElemsPerThread = int64_t{1} << 15;
/// Primitive attributes every kernel starts from: user-provided scratchpad.
dnnl::primitive_attr base_attr();

/// Executes `prim` with `args` plus this thread's scratchpad of `pd`'s size, and waits.
void execute(const dnnl::primitive& prim, const dnnl::primitive_desc_base& pd,
             std::unordered_map<int, dnnl::memory> args);

/// A memory object over existing data (no copy; oneDNN only reads inputs).
dnnl::memory wrap(const dnnl::memory::desc& md, const void* data);

/// Appends the activation as eltwise post-ops (HardSigmoid as linear + clip). Always succeeds for fused::Act.
void append_activation(dnnl::post_ops& po, const fused::Activation& a);

/// "oneDNN: <what> for <node>: <message>" as an internal error (library failures, not bad input).
Status error_status(const ir::Node& node, const std::string& what, const dnnl::error& e);

/// Dims when all are static, else empty (a support helper over inferred types, beside backend.hpp's is_f32 and
/// rank_of).
std::vector<int64_t> static_dims(const ir::Value* v);

/// A small least-recently-used map from input dims to a prepared entry (primitives depend on shapes). Not locked:
/// kernels hold their own mutex around lookups.
template <typename Entry>
class ShapeCache {
public:
    explicit ShapeCache(size_t capacity = 8) : capacity_(capacity) {}
    /// The entry for `key`, moved to the front; nullptr if absent.
    std::shared_ptr<const Entry> find(const std::vector<int64_t>& key) {
        for (auto it = items_.begin(); it != items_.end(); ++it) {
            if (it->first == key) {
                items_.splice(items_.begin(), items_, it);
                return items_.front().second;
            }
        }
        return nullptr;
    }
    void put(std::vector<int64_t> key, std::shared_ptr<const Entry> e) {
        items_.emplace_front(std::move(key), std::move(e));
        if (items_.size() > capacity_) items_.pop_back();
    }
    size_t size() const { return items_.size(); }

private:
    size_t capacity_;
    std::list<std::pair<std::vector<int64_t>, std::shared_ptr<const Entry>>> items_;
};

/// Constant weights reordered into the layouts primitives asked for, one copy per distinct layout (a new input shape
/// may make oneDNN pick another implementation with another blocking). Not locked: callers hold their mutex.
class WeightCache {
public:
    /// `user` describes the weights as given; `data` must outlive the cache.
    WeightCache() = default;
    WeightCache(dnnl::memory::desc user, const void* data) : user_(std::move(user)), data_(data) {}
    /// The weights in layout `want`, reordered on first request.
    dnnl::memory get(const dnnl::memory::desc& want);
    size_t layouts() const { return copies_.size(); }

private:
    dnnl::memory::desc user_;
    const void* data_ = nullptr;
    std::vector<dnnl::memory> copies_;
};

}  // namespace nnport::onednn

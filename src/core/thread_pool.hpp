// The session's thread pool: a blocking parallel_for over pthreadpool, the pool XNNPACK runs on, so the reference
// kernels and the XNNPACK backend share one set of threads (no oversubscription).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace nnport {

class ThreadPool {
public:
    /// `threads` workers in total including the caller; 1 means run inline.
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int num_threads() const { return threads_; }
    /// Calls fn(begin, end) over [0, n) split into contiguous chunks; returns when all are done.
    /// Concurrent calls from several threads are serialised; a nested call from inside a chunk runs inline.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

    /// Puts the workers to sleep now instead of letting them spin for the next job (call before handing the cores to
    /// another thread pool, e.g. oneDNN's OpenMP threads). Does nothing when the workers have had no job since the
    /// last release: they are asleep already, and the release's empty job would only wake them.
    void release_workers();
    /// How many releases ran an empty job to park the workers (the rest found them parked): for tests.
    uint64_t release_jobs() const { return release_jobs_.load(std::memory_order_relaxed); }

    /// The underlying pthreadpool_t (nullptr with one thread: libraries then run on the caller), for a caller about to
    /// run a job on it (the workers then count as awake). Calls through it from several threads are serialised by
    /// pthreadpool.
    void* pthreadpool() const {
        if (pool_) awake_.store(true, std::memory_order_relaxed);
        return pool_;
    }

    /// Physical cores of this machine (falls back to hardware_concurrency).
    static int default_threads();

private:
    int threads_ = 1;
    void* pool_ = nullptr;  // pthreadpool_t
    /// Whether a job may have run since the last release_workers() (the workers may be spinning).
    mutable std::atomic<bool> awake_{false};
    std::atomic<uint64_t> release_jobs_{0};
};

}  // namespace nnport

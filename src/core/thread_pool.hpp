// The session's thread pool: a blocking parallel_for over a pthreadpool_t, the pool XNNPACK runs on. nnport's own
// pthreadpool (core/pthreadpool_omp.cpp) runs every pool on OpenMP, the threads oneDNN runs on, so the reference and
// cpu kernels, XNNPACK and oneDNN share one set of threads (no oversubscription).
#pragma once

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

    /// The underlying pthreadpool_t (nullptr with one thread: libraries then run on the caller). Calls through it from
    /// several threads are serialised.
    void* pthreadpool() const { return pool_; }

    /// Physical cores of this machine (falls back to hardware_concurrency).
    static int default_threads();

private:
    int threads_ = 1;
    void* pool_ = nullptr;  // pthreadpool_t
};

}  // namespace nnport

// A small fixed-size thread pool with a blocking parallel_for (used by reference kernels).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nnport {

class ThreadPool {
public:
    /// `threads` workers in total including the caller; 1 means run inline.
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int num_threads() const { return static_cast<int>(workers_.size()) + 1; }
    /// Calls fn(begin, end) over [0, n) split into contiguous chunks; returns when all are done.
    /// Concurrent calls from several threads are serialised; a nested call from inside a chunk runs inline.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

    /// Physical cores of this machine (falls back to hardware_concurrency).
    static int default_threads();

private:
    void worker_loop(int index);

    std::vector<std::thread> workers_;
    std::mutex call_mutex_;  // one parallel_for at a time
    std::mutex mu_;
    std::condition_variable cv_, done_cv_;
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;
    int64_t job_n_ = 0;
    int64_t generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
};

}  // namespace nnport

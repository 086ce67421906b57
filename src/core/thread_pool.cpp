// ThreadPool implementation.
#include "core/thread_pool.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace nnport {

ThreadPool::ThreadPool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
}

static std::pair<int64_t, int64_t> chunk(int64_t n, int parts, int index) {
    const int64_t base = n / parts, rem = n % parts;
    const int64_t begin = index * base + std::min<int64_t>(index, rem);
    return {begin, begin + base + (index < rem ? 1 : 0)};
}

// Set while a thread runs a chunk of a parallel_for: a nested call (a kernel whose chunk calls a helper that
// parallelises again) runs inline instead of waiting for workers that are busy with the outer call.
static thread_local bool t_in_parallel_chunk = false;

namespace {
struct ChunkScope {
    ChunkScope() { t_in_parallel_chunk = true; }
    ~ChunkScope() { t_in_parallel_chunk = false; }
};
}  // namespace

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    if (workers_.empty() || n == 1 || t_in_parallel_chunk) {
        fn(0, n);
        return;
    }
    std::lock_guard<std::mutex> call_lock(call_mutex_);
    {
        std::lock_guard<std::mutex> lk(mu_);
        job_ = &fn;
        job_n_ = n;
        pending_ = static_cast<int>(workers_.size());
        ++generation_;
    }
    cv_.notify_all();
    auto [b, e] = chunk(n, num_threads(), 0);
    if (b < e) {
        ChunkScope scope;
        fn(b, e);
    }
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    job_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
    int64_t seen = 0;
    for (;;) {
        const std::function<void(int64_t, int64_t)>* job;
        int64_t n;
        {
            std::unique_lock<std::mutex> lk(mu_);
            cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            job = job_;
            n = job_n_;
        }
        auto [b, e] = chunk(n, num_threads(), index);
        if (b < e) {
            ChunkScope scope;
            (*job)(b, e);
        }
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (--pending_ == 0) done_cv_.notify_all();
        }
    }
}

int ThreadPool::default_threads() {
    // Count distinct (physical id, core id) pairs; hyper-threads share a core.
    std::ifstream f("/proc/cpuinfo");
    std::set<std::pair<std::string, std::string>> cores;
    std::string line, phys = "0";
    while (std::getline(f, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
        std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
        if (key == "physical id") phys = val;
        if (key == "core id") cores.insert({phys, val});
    }
    int n = static_cast<int>(cores.size());
    if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
    return std::max(1, n);
}

}  // namespace nnport

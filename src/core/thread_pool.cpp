// ThreadPool implementation.
#include "core/thread_pool.hpp"

#include <pthreadpool.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>
#include <string>
#include <utility>

namespace nnport {

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
    if (threads_ > 1) {
        pool_ = pthreadpool_create(static_cast<size_t>(threads_));
        if (!pool_) threads_ = 1;  // out of resources: run inline
    }
}

ThreadPool::~ThreadPool() {
    if (pool_) pthreadpool_destroy(static_cast<pthreadpool_t>(pool_));
}

static std::pair<int64_t, int64_t> chunk(int64_t n, int parts, int index) {
    const int64_t base = n / parts, rem = n % parts;
    const int64_t begin = index * base + std::min<int64_t>(index, rem);
    return {begin, begin + base + (index < rem ? 1 : 0)};
}

namespace {
struct Job {
    const std::function<void(int64_t, int64_t)>* fn;
    int64_t n;
    int parts;
};

void run_part(void* ctx, size_t index) {
    const Job& job = *static_cast<const Job*>(ctx);
    auto [b, e] = chunk(job.n, job.parts, static_cast<int>(index));
    if (b < e) (*job.fn)(b, e);
}
}  // namespace

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    if (!pool_ || n == 1) {
        fn(0, n);
        return;
    }
    // A nested call (a chunk's helper that parallelises again) runs its parts inline on the calling thread: the pool
    // (core/pthreadpool_omp.cpp) runs any call made from inside one of its items that way.
    Job job{&fn, n, static_cast<int>(std::min<int64_t>(n, threads_))};
    pthreadpool_parallelize_1d(static_cast<pthreadpool_t>(pool_), run_part, &job, static_cast<size_t>(job.parts), 0);
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

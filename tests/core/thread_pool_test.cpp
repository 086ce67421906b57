// ThreadPool: coverage of the range, nested calls, concurrent callers.
// (nnport's pthreadpool implementation, which the pool runs on, is tested in pthreadpool_omp_test.cpp.)
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/thread_pool.hpp"

namespace nnport {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
    ThreadPool pool(3);
    for (int64_t n : {1, 2, 3, 7, 1000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
        for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    }
}

TEST(ThreadPool, NestedCallRunsInlineInsteadOfDeadlocking) {
    ThreadPool pool(2);
    std::atomic<int64_t> sum{0};
    pool.parallel_for(4, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            pool.parallel_for(10, [&](int64_t bb, int64_t ee) { sum += ee - bb; });
        }
    });
    EXPECT_EQ(sum.load(), 40);
}

TEST(ThreadPool, ConcurrentCallersAreSerialisedCorrectly) {
    ThreadPool pool(2);
    std::atomic<int64_t> sum{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&] {
            for (int r = 0; r < 50; ++r) pool.parallel_for(100, [&](int64_t b, int64_t e) { sum += e - b; });
        });
    }
    for (auto& c : callers) c.join();
    EXPECT_EQ(sum.load(), 4 * 50 * 100);
}

}  // namespace
}  // namespace nnport

// nnport's pthreadpool API on OpenMP (core/pthreadpool_omp.cpp): every parallelize function covers its range exactly
// once with pthreadpool's tile sizes, on null, 1-, 2- and 3-thread pools; items run concurrently on OpenMP threads;
// nested and concurrent calls; and the process (XNNPACK included) resolves pthreadpool_* to these definitions.
#include "core/pthreadpool_omp.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

namespace nnport {
namespace {

using Arr = std::array<size_t, 6>;

/// Records the boxes a parallelize call hands out over an N-d range with per-dimension tiles (1 = untiled).
struct Recorder {
    int dims;
    Arr range{}, tile{};
    std::vector<std::atomic<int>> hits;
    std::atomic<int> bad{0};
    uint32_t uarch = 0;

    Recorder(int d, Arr r, Arr t) : dims(d), range(r), tile(t) {
        size_t n = 1;
        for (int i = 0; i < dims; ++i) n *= range[static_cast<size_t>(i)];
        hits = std::vector<std::atomic<int>>(n);
    }
    void box(Arr start, Arr size) {
        for (size_t d = 0; d < static_cast<size_t>(dims); ++d) {
            if (start[d] % tile[d] != 0 || start[d] >= range[d] || size[d] != std::min(tile[d], range[d] - start[d])) {
                bad++;
                return;
            }
        }
        visit(0, 0, start, size);
    }
    void visit(size_t d, size_t flat, const Arr& start, const Arr& size) {
        if (d >= static_cast<size_t>(dims) || d >= range.size()) {
            hits[flat]++;
            return;
        }
        for (size_t i = start[d]; i < start[d] + size[d]; ++i) visit(d + 1, flat * range[d] + i, start, size);
    }
    bool every_element_once() const {
        for (const auto& h : hits) {
            if (h.load() != 1) return false;
        }
        return bad.load() == 0;
    }
};

Recorder& rec(void* c) { return *static_cast<Recorder*>(c); }

constexpr Arr kRange{5, 3, 7, 2, 4, 3};
constexpr uint32_t kUarch = 3;

/// Runs `call` on a fresh recorder of `dims` dimensions with tiles `tiles` and checks the coverage.
template <class Call>
void expect_covered(const char* what, pthreadpool_t pool, int dims, Arr tiles, Call call) {
    Recorder r(dims, kRange, tiles);
    call(pool, &r);
    EXPECT_TRUE(r.every_element_once()) << what << " on a pool of " << pthreadpool_get_threads_count(pool);
}

TEST(PthreadpoolOmp, EveryParallelizeFunctionCoversItsRangeOnce) {
    std::vector<pthreadpool_t> pools{nullptr, pthreadpool_create(1), pthreadpool_create(2), pthreadpool_create(3)};
    for (pthreadpool_t p : pools) {
        expect_covered("1d", p, 1, {1}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_1d(
                pool, [](void* c, size_t i) { rec(c).box({i}, {1}); }, r, 5, 0);
        });
        expect_covered("1d_with_uarch", p, 1, {1}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_1d_with_uarch(
                pool, [](void* c, uint32_t u, size_t i) { rec(c).box({i}, {u == kUarch ? 1u : 0u}); }, r, kUarch, 7, 5,
                0);
        });
        expect_covered("1d_tile_1d", p, 1, {2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_1d_tile_1d(
                pool, [](void* c, size_t i, size_t t) { rec(c).box({i}, {t}); }, r, 5, 2, 0);
        });
        expect_covered("2d", p, 2, {1, 1}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_2d(
                pool,
                [](void* c, size_t i, size_t j) {
                    rec(c).box({i, j}, {1, 1});
                },
                r, 5, 3, 0);
        });
        expect_covered("2d_tile_1d", p, 2, {1, 2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_2d_tile_1d(
                pool,
                [](void* c, size_t i, size_t j, size_t tj) {
                    rec(c).box({i, j}, {1, tj});
                },
                r, 5, 3, 2, 0);
        });
        expect_covered("2d_tile_2d", p, 2, {2, 2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_2d_tile_2d(
                pool,
                [](void* c, size_t i, size_t j, size_t ti, size_t tj) {
                    rec(c).box({i, j}, {ti, tj});
                },
                r, 5, 3, 2, 2, 0);
        });
        expect_covered("2d_tile_2d_with_uarch", p, 2, {3, 2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_2d_tile_2d_with_uarch(
                pool,
                [](void* c, uint32_t u, size_t i, size_t j, size_t ti, size_t tj) {
                    rec(c).box({i, j}, {u == kUarch ? ti : 0, tj});
                },
                r, kUarch, 7, 5, 3, 3, 2, 0);
        });
        expect_covered("3d", p, 3, {1, 1, 1}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_3d(
                pool,
                [](void* c, size_t i, size_t j, size_t k) {
                    rec(c).box({i, j, k}, {1, 1, 1});
                },
                r, 5, 3, 7, 0);
        });
        expect_covered("3d_tile_1d", p, 3, {1, 1, 3}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_3d_tile_1d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t tk) {
                    rec(c).box({i, j, k}, {1, 1, tk});
                },
                r, 5, 3, 7, 3, 0);
        });
        expect_covered("3d_tile_2d", p, 3, {1, 2, 3}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_3d_tile_2d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t tj, size_t tk) {
                    rec(c).box({i, j, k}, {1, tj, tk});
                },
                r, 5, 3, 7, 2, 3, 0);
        });
        expect_covered("3d_tile_2d_with_uarch", p, 3, {1, 2, 4}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_3d_tile_2d_with_uarch(
                pool,
                [](void* c, uint32_t u, size_t i, size_t j, size_t k, size_t tj, size_t tk) {
                    rec(c).box({i, j, k}, {u == kUarch ? 1u : 0u, tj, tk});
                },
                r, kUarch, 7, 5, 3, 7, 2, 4, 0);
        });
        expect_covered("4d", p, 4, {1, 1, 1, 1}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_4d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l) {
                    rec(c).box({i, j, k, l}, {1, 1, 1, 1});
                },
                r, 5, 3, 7, 2, 0);
        });
        expect_covered("4d_tile_1d", p, 4, {1, 1, 1, 2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_4d_tile_1d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t tl) {
                    rec(c).box({i, j, k, l}, {1, 1, 1, tl});
                },
                r, 5, 3, 7, 2, 2, 0);
        });
        expect_covered("4d_tile_2d", p, 4, {1, 1, 4, 1}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_4d_tile_2d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t tk, size_t tl) {
                    rec(c).box({i, j, k, l}, {1, 1, tk, tl});
                },
                r, 5, 3, 7, 2, 4, 1, 0);
        });
        expect_covered("4d_tile_2d_with_uarch", p, 4, {1, 1, 3, 2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_4d_tile_2d_with_uarch(
                pool,
                [](void* c, uint32_t u, size_t i, size_t j, size_t k, size_t l, size_t tk, size_t tl) {
                    rec(c).box({i, j, k, l}, {u == kUarch ? 1u : 0u, 1, tk, tl});
                },
                r, kUarch, 7, 5, 3, 7, 2, 3, 2, 0);
        });
        expect_covered("5d", p, 5, {1, 1, 1, 1, 1}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_5d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t m) {
                    rec(c).box({i, j, k, l, m}, {1, 1, 1, 1, 1});
                },
                r, 5, 3, 7, 2, 4, 0);
        });
        expect_covered("5d_tile_1d", p, 5, {1, 1, 1, 1, 3}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_5d_tile_1d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t m, size_t tm) {
                    rec(c).box({i, j, k, l, m}, {1, 1, 1, 1, tm});
                },
                r, 5, 3, 7, 2, 4, 3, 0);
        });
        expect_covered("5d_tile_2d", p, 5, {1, 1, 1, 2, 3}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_5d_tile_2d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t m, size_t tl, size_t tm) {
                    rec(c).box({i, j, k, l, m}, {1, 1, 1, tl, tm});
                },
                r, 5, 3, 7, 2, 4, 2, 3, 0);
        });
        expect_covered("6d", p, 6, {1, 1, 1, 1, 1, 1}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_6d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t m, size_t n) {
                    rec(c).box({i, j, k, l, m, n}, {1, 1, 1, 1, 1, 1});
                },
                r, 5, 3, 7, 2, 4, 3, 0);
        });
        expect_covered("6d_tile_1d", p, 6, {1, 1, 1, 1, 1, 2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_6d_tile_1d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t m, size_t n, size_t tn) {
                    rec(c).box({i, j, k, l, m, n}, {1, 1, 1, 1, 1, tn});
                },
                r, 5, 3, 7, 2, 4, 3, 2, 0);
        });
        expect_covered("6d_tile_2d", p, 6, {1, 1, 1, 1, 3, 2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_parallelize_6d_tile_2d(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t m, size_t n, size_t tm, size_t tn) {
                    rec(c).box({i, j, k, l, m, n}, {1, 1, 1, 1, tm, tn});
                },
                r, 5, 3, 7, 2, 4, 3, 3, 2, 0);
        });
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        expect_covered("compute_3d_tiled", p, 3, {2, 2, 3}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_compute_3d_tiled(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t ti, size_t tj, size_t tk) {
                    rec(c).box({i, j, k}, {ti, tj, tk});
                },
                r, 5, 3, 7, 2, 2, 3);
        });
        expect_covered("compute_4d_tiled", p, 4, {2, 2, 3, 2}, [](pthreadpool_t pool, Recorder* r) {
            pthreadpool_compute_4d_tiled(
                pool,
                [](void* c, size_t i, size_t j, size_t k, size_t l, size_t ti, size_t tj, size_t tk, size_t tl) {
                    rec(c).box({i, j, k, l}, {ti, tj, tk, tl});
                },
                r, 5, 3, 7, 2, 2, 2, 3, 2);
        });
#pragma GCC diagnostic pop
        // An empty range runs nothing.
        Recorder none(1, kRange, {1});
        pthreadpool_parallelize_1d(
            p, [](void* c, size_t i) { rec(c).box({i}, {1}); }, &none, 0, 0);
        EXPECT_EQ(none.bad.load(), 0);
        for (const auto& h : none.hits) EXPECT_EQ(h.load(), 0);
    }
    EXPECT_EQ(pthreadpool_get_threads_count(pools[2]), 2u);
    for (pthreadpool_t p : pools) pthreadpool_destroy(p);
}

struct Meeting {
    std::atomic<int> arrived{0};
    std::atomic<int> met{0};
    std::atomic<int> in_openmp{0};
};

TEST(PthreadpoolOmp, ItemsRunConcurrentlyOnOpenMpThreads) {
    pthreadpool_t pool = pthreadpool_create(2);
    Meeting m;
    // Each of the two items waits (up to 10 s) for the other to start: only concurrent execution meets.
    pthreadpool_parallelize_1d(
        pool,
        [](void* c, size_t) {
            auto& mt = *static_cast<Meeting*>(c);
            if (omp_in_parallel()) mt.in_openmp++;
            mt.arrived++;
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (mt.arrived.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
            if (mt.arrived.load() == 2) mt.met++;
        },
        &m, 2, 0);
    EXPECT_EQ(m.met.load(), 2);
    EXPECT_EQ(m.in_openmp.load(), 2);
    pthreadpool_destroy(pool);
}

TEST(PthreadpoolOmp, NestedCallRunsInlineAndConcurrentCallersAreSerialised) {
    pthreadpool_t pool = pthreadpool_create(2);
    struct Ctx {
        pthreadpool_t pool;
        std::atomic<int64_t> sum{0};
    } ctx{pool};
    pthreadpool_parallelize_1d(
        pool,
        [](void* c, size_t) {
            auto& x = *static_cast<Ctx*>(c);
            pthreadpool_parallelize_1d(
                x.pool, [](void* cc, size_t i) { static_cast<Ctx*>(cc)->sum += static_cast<int64_t>(i); }, c, 10, 0);
        },
        &ctx, 4, 0);
    EXPECT_EQ(ctx.sum.load(), 4 * 45);
    ctx.sum = 0;
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&] {
            for (int r = 0; r < 50; ++r) {
                pthreadpool_parallelize_1d(
                    pool, [](void* c, size_t) { static_cast<Ctx*>(c)->sum += 1; }, &ctx, 100, 0);
            }
        });
    }
    for (auto& c : callers) c.join();
    EXPECT_EQ(ctx.sum.load(), 4 * 50 * 100);
    pthreadpool_destroy(pool);
}

TEST(PthreadpoolOmp, DisableDenormalsFlagFlushesOnlyDuringTheCall) {
    pthreadpool_t pool = pthreadpool_create(2);
    std::atomic<int> flushed{0};
    pthreadpool_parallelize_1d(
        pool,
        [](void* c, size_t) {
            volatile float tiny = 1e-39f;  // a denormal: DAZ reads it as zero
            if (tiny * 1.0f == 0.0f) (*static_cast<std::atomic<int>*>(c))++;
        },
        &flushed, 8, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    EXPECT_EQ(flushed.load(), 8);
    volatile float tiny = 1e-39f;
    EXPECT_NE(tiny * 1.0f, 0.0f);  // restored on the caller
    pthreadpool_destroy(pool);
}

TEST(PthreadpoolOmp, XnnpackRunsOnThisImplementation) {
    // The dynamic linker must resolve pthreadpool_* to the definitions linked into this program, ahead of the
    // libpthreadpool.so that libXNNPACK.so depends on.
    EXPECT_EQ(dlsym(RTLD_DEFAULT, "pthreadpool_parallelize_1d_tile_1d"),
              reinterpret_cast<void*>(
                  static_cast<void (*)(pthreadpool_t, pthreadpool_task_1d_tile_1d_t, void*, size_t, size_t, uint32_t)>(
                      &pthreadpool_parallelize_1d_tile_1d)));
    EXPECT_EQ(dlsym(RTLD_DEFAULT, "pthreadpool_parallelize_2d_tile_2d"),
              reinterpret_cast<void*>(
                  static_cast<void (*)(pthreadpool_t, pthreadpool_task_2d_tile_2d_t, void*, size_t, size_t, size_t,
                                       size_t, uint32_t)>(&pthreadpool_parallelize_2d_tile_2d)));
    ASSERT_EQ(xnn_initialize(nullptr), xnn_status_success);
    const size_t n = 1 << 20;
    std::vector<float> x(n), y(n, 0.0f);
    for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 13) - 6.0f;
    xnn_operator_t op = nullptr;
    ASSERT_EQ(xnn_create_clamp_nc_f32(1, 1, 1, -2.0f, 3.0f, 0, &op), xnn_status_success);
    pthreadpool_t pool = pthreadpool_create(2);
    ASSERT_EQ(xnn_setup_clamp_nc_f32(op, n, x.data(), y.data(), pool), xnn_status_success);
    const uint64_t before = pthreadpool_parallel_calls();
    ASSERT_EQ(xnn_run_operator(op, pool), xnn_status_success);
    EXPECT_GT(pthreadpool_parallel_calls(), before);  // XNNPACK's call reached this implementation
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], std::min(3.0f, std::max(-2.0f, x[i]))) << i;
    xnn_delete_operator(op);
    pthreadpool_destroy(pool);
}

}  // namespace
}  // namespace nnport

// The pthreadpool API (Debian's pthreadpool 2021-05 header) implemented on OpenMP, so that every kernel in the
// process runs on one team of threads.
//
// oneDNN (Debian's build uses the OpenMP runtime) runs its primitives on libgomp's threads; XNNPACK runs on whatever
// pthreadpool_t it is given, and the session's ThreadPool (reference and cpu kernels) on one too. With the real
// pthreadpool there were two sets of workers on the same cores: libgomp's spin for milliseconds after each oneDNN
// call, and a pthreadpool job started in that window competed with them for the second core (squeezenet1_1's channel
// Concat between two oneDNN convolutions took 0.29 ms at 2 threads against 0.12 ms at 1). These definitions take the
// place of libpthreadpool's: XNNPACK is a shared library that imports pthreadpool_* symbols, and an executable's own
// definitions come first in the dynamic linker's lookup, ahead of the libpthreadpool.so that XNNPACK names (the same
// replacement PyTorch makes for its bundled XNNPACK). Every function of the header is defined here, so a pool created
// by anyone in the process is always one of ours. A test checks that the process resolves the names to these.
//
// Semantics follow pthreadpool's documentation: a call returns when every item has run; calls on one pool from several
// threads are serialised; a null pool or a pool of one thread runs the items on the caller in order. A call made from
// inside an item (nested) runs inline on that thread instead of waiting for workers busy with the outer call.
#include "core/pthreadpool_omp.hpp"

#include <omp.h>
#include <pthreadpool.h>
#include <xmmintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

struct pthreadpool {
    size_t threads = 1;
    std::mutex call;  // one parallel call at a time per pool
};

namespace {

thread_local bool t_in_item = false;
std::atomic<uint64_t> g_parallel_calls{0};

struct ItemScope {
    bool saved;
    ItemScope() : saved(t_in_item) { t_in_item = true; }
    ~ItemScope() { t_in_item = saved; }
};

/// Denormals flushed (MXCSR FTZ and DAZ) on this thread while alive, when asked for.
struct DenormalScope {
    unsigned saved = 0;
    bool active;
    explicit DenormalScope(uint32_t flags) : active((flags & PTHREADPOOL_FLAG_DISABLE_DENORMALS) != 0) {
        if (active) {
            saved = _mm_getcsr();
            _mm_setcsr(saved | 0x8040u);
        }
    }
    ~DenormalScope() {
        if (active) _mm_setcsr(saved);
    }
};

constexpr int kMaxDims = 6;
using Idx = std::array<size_t, kMaxDims>;

/// An N-dimensional range cut into tiles; item t (last dimension fastest) starts at start[d] with size[d].
struct TiledRange {
    int dims = 0;
    Idx range{}, tile{}, count{};
    size_t items = 1;

    TiledRange(std::initializer_list<size_t> ranges, std::initializer_list<size_t> tiles) {
        dims = static_cast<int>(ranges.size());
        auto r = ranges.begin();
        auto t = tiles.begin();
        for (int d = 0; d < dims; ++d, ++r, ++t) {
            range[d] = *r;
            tile[d] = std::max<size_t>(*t, 1);
            count[d] = (range[d] + tile[d] - 1) / tile[d];
            items *= count[d];
        }
    }
    void item(size_t t, Idx& start, Idx& size) const {
        for (int d = dims - 1; d >= 0; --d) {
            const size_t q = t / count[d], idx = t - q * count[d];
            t = q;
            start[d] = idx * tile[d];
            size[d] = std::min(tile[d], range[d] - start[d]);
        }
    }
};

/// Runs fn(start, size) for every tile of `r` on `pool`'s threads.
template <class Fn>
void run(pthreadpool_t pool, const TiledRange& r, uint32_t flags, const Fn& fn) {
    if (r.items == 0) return;
    const size_t threads = pool ? std::min(pool->threads, r.items) : 1;
    if (threads <= 1 || t_in_item || omp_in_parallel()) {
        DenormalScope dz(flags);
        ItemScope scope;
        Idx start{}, size{};
        for (size_t t = 0; t < r.items; ++t) {
            r.item(t, start, size);
            fn(start, size);
        }
        return;
    }
    std::lock_guard<std::mutex> lock(pool->call);
    g_parallel_calls.fetch_add(1, std::memory_order_relaxed);
    // Items are handed out in chunks from a shared counter: a thread that lost its core for a while (a busy machine)
    // does not hold up the others with a fixed share.
    const size_t grain = std::max<size_t>(1, r.items / (threads * 4));
    std::atomic<size_t> next{0};
#pragma omp parallel num_threads(static_cast <int>(threads))
    {
        DenormalScope dz(flags);
        ItemScope scope;
        Idx s{}, z{};
        for (;;) {
            const size_t b = next.fetch_add(grain, std::memory_order_relaxed);
            if (b >= r.items) break;
            const size_t e = std::min(b + grain, r.items);
            for (size_t t = b; t < e; ++t) {
                r.item(t, s, z);
                fn(s, z);
            }
        }
    }
}

}  // namespace

uint64_t nnport::pthreadpool_parallel_calls() { return g_parallel_calls.load(std::memory_order_relaxed); }

extern "C" {

pthreadpool_t pthreadpool_create(size_t threads_count) {
    pthreadpool_t p = new (std::nothrow) pthreadpool;
    if (!p) return nullptr;
    if (threads_count == 0) threads_count = static_cast<size_t>(std::max(omp_get_num_procs(), 1));
    p->threads = threads_count;
    return p;
}

size_t pthreadpool_get_threads_count(pthreadpool_t threadpool) { return threadpool ? threadpool->threads : 1; }

void pthreadpool_destroy(pthreadpool_t threadpool) { delete threadpool; }

void pthreadpool_parallelize_1d(pthreadpool_t threadpool, pthreadpool_task_1d_t function, void* context, size_t range,
                                uint32_t flags) {
    run(threadpool, TiledRange({range}, {1}), flags, [&](const Idx& s, const Idx&) { function(context, s[0]); });
}

void pthreadpool_parallelize_1d_with_uarch(pthreadpool_t threadpool, pthreadpool_task_1d_with_id_t function,
                                           void* context, uint32_t default_uarch_index, uint32_t /*max_uarch_index*/,
                                           size_t range, uint32_t flags) {
    run(threadpool, TiledRange({range}, {1}), flags,
        [&](const Idx& s, const Idx&) { function(context, default_uarch_index, s[0]); });
}

void pthreadpool_parallelize_1d_tile_1d(pthreadpool_t threadpool, pthreadpool_task_1d_tile_1d_t function, void* context,
                                        size_t range, size_t tile, uint32_t flags) {
    run(threadpool, TiledRange({range}, {tile}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], z[0]); });
}

void pthreadpool_parallelize_2d(pthreadpool_t threadpool, pthreadpool_task_2d_t function, void* context, size_t range_i,
                                size_t range_j, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j}, {1, 1}), flags,
        [&](const Idx& s, const Idx&) { function(context, s[0], s[1]); });
}

void pthreadpool_parallelize_2d_tile_1d(pthreadpool_t threadpool, pthreadpool_task_2d_tile_1d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t tile_j, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j}, {1, tile_j}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], z[1]); });
}

void pthreadpool_parallelize_2d_tile_2d(pthreadpool_t threadpool, pthreadpool_task_2d_tile_2d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t tile_i, size_t tile_j, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j}, {tile_i, tile_j}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], z[0], z[1]); });
}

void pthreadpool_parallelize_2d_tile_2d_with_uarch(pthreadpool_t threadpool,
                                                   pthreadpool_task_2d_tile_2d_with_id_t function, void* context,
                                                   uint32_t default_uarch_index, uint32_t /*max_uarch_index*/,
                                                   size_t range_i, size_t range_j, size_t tile_i, size_t tile_j,
                                                   uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j}, {tile_i, tile_j}), flags,
        [&](const Idx& s, const Idx& z) { function(context, default_uarch_index, s[0], s[1], z[0], z[1]); });
}

void pthreadpool_parallelize_3d(pthreadpool_t threadpool, pthreadpool_task_3d_t function, void* context, size_t range_i,
                                size_t range_j, size_t range_k, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k}, {1, 1, 1}), flags,
        [&](const Idx& s, const Idx&) { function(context, s[0], s[1], s[2]); });
}

void pthreadpool_parallelize_3d_tile_1d(pthreadpool_t threadpool, pthreadpool_task_3d_tile_1d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t range_k, size_t tile_k, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k}, {1, 1, tile_k}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], s[2], z[2]); });
}

void pthreadpool_parallelize_3d_tile_2d(pthreadpool_t threadpool, pthreadpool_task_3d_tile_2d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t range_k, size_t tile_j, size_t tile_k,
                                        uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k}, {1, tile_j, tile_k}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], s[2], z[1], z[2]); });
}

void pthreadpool_parallelize_3d_tile_2d_with_uarch(pthreadpool_t threadpool,
                                                   pthreadpool_task_3d_tile_2d_with_id_t function, void* context,
                                                   uint32_t default_uarch_index, uint32_t /*max_uarch_index*/,
                                                   size_t range_i, size_t range_j, size_t range_k, size_t tile_j,
                                                   size_t tile_k, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k}, {1, tile_j, tile_k}), flags,
        [&](const Idx& s, const Idx& z) { function(context, default_uarch_index, s[0], s[1], s[2], z[1], z[2]); });
}

void pthreadpool_parallelize_4d(pthreadpool_t threadpool, pthreadpool_task_4d_t function, void* context, size_t range_i,
                                size_t range_j, size_t range_k, size_t range_l, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l}, {1, 1, 1, 1}), flags,
        [&](const Idx& s, const Idx&) { function(context, s[0], s[1], s[2], s[3]); });
}

void pthreadpool_parallelize_4d_tile_1d(pthreadpool_t threadpool, pthreadpool_task_4d_tile_1d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t range_k, size_t range_l, size_t tile_l,
                                        uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l}, {1, 1, 1, tile_l}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], s[2], s[3], z[3]); });
}

void pthreadpool_parallelize_4d_tile_2d(pthreadpool_t threadpool, pthreadpool_task_4d_tile_2d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t range_k, size_t range_l, size_t tile_k,
                                        size_t tile_l, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l}, {1, 1, tile_k, tile_l}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], s[2], s[3], z[2], z[3]); });
}

void pthreadpool_parallelize_4d_tile_2d_with_uarch(pthreadpool_t threadpool,
                                                   pthreadpool_task_4d_tile_2d_with_id_t function, void* context,
                                                   uint32_t default_uarch_index, uint32_t /*max_uarch_index*/,
                                                   size_t range_i, size_t range_j, size_t range_k, size_t range_l,
                                                   size_t tile_k, size_t tile_l, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l}, {1, 1, tile_k, tile_l}), flags,
        [&](const Idx& s, const Idx& z) {
            function(context, default_uarch_index, s[0], s[1], s[2], s[3], z[2], z[3]);
        });
}

void pthreadpool_parallelize_5d(pthreadpool_t threadpool, pthreadpool_task_5d_t function, void* context, size_t range_i,
                                size_t range_j, size_t range_k, size_t range_l, size_t range_m, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l, range_m}, {1, 1, 1, 1, 1}), flags,
        [&](const Idx& s, const Idx&) { function(context, s[0], s[1], s[2], s[3], s[4]); });
}

void pthreadpool_parallelize_5d_tile_1d(pthreadpool_t threadpool, pthreadpool_task_5d_tile_1d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t range_k, size_t range_l, size_t range_m,
                                        size_t tile_m, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l, range_m}, {1, 1, 1, 1, tile_m}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], s[2], s[3], s[4], z[4]); });
}

void pthreadpool_parallelize_5d_tile_2d(pthreadpool_t threadpool, pthreadpool_task_5d_tile_2d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t range_k, size_t range_l, size_t range_m,
                                        size_t tile_l, size_t tile_m, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l, range_m}, {1, 1, 1, tile_l, tile_m}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], s[2], s[3], s[4], z[3], z[4]); });
}

void pthreadpool_parallelize_6d(pthreadpool_t threadpool, pthreadpool_task_6d_t function, void* context, size_t range_i,
                                size_t range_j, size_t range_k, size_t range_l, size_t range_m, size_t range_n,
                                uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l, range_m, range_n}, {1, 1, 1, 1, 1, 1}), flags,
        [&](const Idx& s, const Idx&) { function(context, s[0], s[1], s[2], s[3], s[4], s[5]); });
}

void pthreadpool_parallelize_6d_tile_1d(pthreadpool_t threadpool, pthreadpool_task_6d_tile_1d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t range_k, size_t range_l, size_t range_m,
                                        size_t range_n, size_t tile_n, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l, range_m, range_n}, {1, 1, 1, 1, 1, tile_n}), flags,
        [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], s[2], s[3], s[4], s[5], z[5]); });
}

void pthreadpool_parallelize_6d_tile_2d(pthreadpool_t threadpool, pthreadpool_task_6d_tile_2d_t function, void* context,
                                        size_t range_i, size_t range_j, size_t range_k, size_t range_l, size_t range_m,
                                        size_t range_n, size_t tile_m, size_t tile_n, uint32_t flags) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l, range_m, range_n}, {1, 1, 1, 1, tile_m, tile_n}),
        flags, [&](const Idx& s, const Idx& z) { function(context, s[0], s[1], s[2], s[3], s[4], s[5], z[4], z[5]); });
}

// The deprecated compute_* API (tiles in every dimension of the tiled forms).

void pthreadpool_compute_1d(pthreadpool_t threadpool, pthreadpool_function_1d_t function, void* argument,
                            size_t range) {
    pthreadpool_parallelize_1d(threadpool, function, argument, range, 0);
}

void pthreadpool_compute_1d_tiled(pthreadpool_t threadpool, pthreadpool_function_1d_tiled_t function, void* argument,
                                  size_t range, size_t tile) {
    pthreadpool_parallelize_1d_tile_1d(threadpool, function, argument, range, tile, 0);
}

void pthreadpool_compute_2d(pthreadpool_t threadpool, pthreadpool_function_2d_t function, void* argument,
                            size_t range_i, size_t range_j) {
    pthreadpool_parallelize_2d(threadpool, function, argument, range_i, range_j, 0);
}

void pthreadpool_compute_2d_tiled(pthreadpool_t threadpool, pthreadpool_function_2d_tiled_t function, void* argument,
                                  size_t range_i, size_t range_j, size_t tile_i, size_t tile_j) {
    pthreadpool_parallelize_2d_tile_2d(threadpool, function, argument, range_i, range_j, tile_i, tile_j, 0);
}

void pthreadpool_compute_3d_tiled(pthreadpool_t threadpool, pthreadpool_function_3d_tiled_t function, void* argument,
                                  size_t range_i, size_t range_j, size_t range_k, size_t tile_i, size_t tile_j,
                                  size_t tile_k) {
    run(threadpool, TiledRange({range_i, range_j, range_k}, {tile_i, tile_j, tile_k}), 0,
        [&](const Idx& s, const Idx& z) { function(argument, s[0], s[1], s[2], z[0], z[1], z[2]); });
}

void pthreadpool_compute_4d_tiled(pthreadpool_t threadpool, pthreadpool_function_4d_tiled_t function, void* argument,
                                  size_t range_i, size_t range_j, size_t range_k, size_t range_l, size_t tile_i,
                                  size_t tile_j, size_t tile_k, size_t tile_l) {
    run(threadpool, TiledRange({range_i, range_j, range_k, range_l}, {tile_i, tile_j, tile_k, tile_l}), 0,
        [&](const Idx& s, const Idx& z) { function(argument, s[0], s[1], s[2], s[3], z[0], z[1], z[2], z[3]); });
}

}  // extern "C"

// fp32 FMA-throughput microbenchmark: the machine's practical fp32 peak, per core and with N threads at once.
//
//   g++ -O2 -std=c++20 -pthread bench/fma_peak.cpp -o fma_peak && ./fma_peak [THREADS] [TRIALS]
//
// Prints one JSON line: {"isa":"avx512"|"avx2"|"scalar","lanes":16,"gflops_per_core":x,"threads":n,
// "gflops_threads":y}. Each thread runs independent FMA chains (enough accumulators to cover the FMA latency on two
// ports) on registers only, so the figure is the arithmetic peak a GEMM kernel can approach, not a memory bound.
// gflops_per_core is the best of TRIALS single-thread runs; gflops_threads the best of TRIALS runs with THREADS
// threads in parallel. Times are per-thread CPU time, so on a shared machine the time a thread waits for a core does
// not count (the figure is the peak of a core while it runs; SMT siblings or throttling still lower it). The ISA is
// chosen at run time from the CPU's features.
#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <vector>

namespace {

/// Starting values the compiler cannot see through (volatile), distinct per chain.
volatile float g_start[16] = {1e-3f, 2e-3f, 3e-3f, 4e-3f, 5e-3f, 6e-3f, 7e-3f, 8e-3f,
                              9e-3f, 1e-2f, 2e-2f, 3e-2f, 4e-2f, 5e-2f, 6e-2f, 7e-2f};

constexpr long kIterations = 20'000'000;  // per trial and thread: ~0.15 s at 2.8 GHz with two FMA ports

/// 16 independent 16-lane accumulators: 16 × 16 × 2 FLOPs per iteration. Named variables, not an array, so they stay
/// in registers.
__attribute__((target("avx512f"))) float run_avx512(long iters) {
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    // Distinct starting values, or the compiler merges the identical chains into one.
    __m512 c0 = _mm512_set1_ps(g_start[0]), c1 = _mm512_set1_ps(g_start[1]), c2 = _mm512_set1_ps(g_start[2]),
           c3 = _mm512_set1_ps(g_start[3]), c4 = _mm512_set1_ps(g_start[4]), c5 = _mm512_set1_ps(g_start[5]),
           c6 = _mm512_set1_ps(g_start[6]);
    __m512 c7 = _mm512_set1_ps(g_start[7]), c8 = _mm512_set1_ps(g_start[8]), c9 = _mm512_set1_ps(g_start[9]),
           c10 = _mm512_set1_ps(g_start[10]), c11 = _mm512_set1_ps(g_start[11]), c12 = _mm512_set1_ps(g_start[12]);
    __m512 c13 = _mm512_set1_ps(g_start[13]), c14 = _mm512_set1_ps(g_start[14]), c15 = _mm512_set1_ps(g_start[15]);
    for (long it = 0; it < iters; ++it) {
        c0 = _mm512_fmadd_ps(c0, a, b), c1 = _mm512_fmadd_ps(c1, a, b), c2 = _mm512_fmadd_ps(c2, a, b);
        c3 = _mm512_fmadd_ps(c3, a, b), c4 = _mm512_fmadd_ps(c4, a, b), c5 = _mm512_fmadd_ps(c5, a, b);
        c6 = _mm512_fmadd_ps(c6, a, b), c7 = _mm512_fmadd_ps(c7, a, b), c8 = _mm512_fmadd_ps(c8, a, b);
        c9 = _mm512_fmadd_ps(c9, a, b), c10 = _mm512_fmadd_ps(c10, a, b), c11 = _mm512_fmadd_ps(c11, a, b);
        c12 = _mm512_fmadd_ps(c12, a, b), c13 = _mm512_fmadd_ps(c13, a, b), c14 = _mm512_fmadd_ps(c14, a, b);
        c15 = _mm512_fmadd_ps(c15, a, b);
    }
    const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                                                 _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7))),
                                   _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
                                                 _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
    float out[16];
    _mm512_storeu_ps(out, s);
    float sum = 0;
    for (float x : out) sum += x;
    return sum;
}

/// 12 independent 8-lane accumulators: 12 × 8 × 2 FLOPs per iteration.
__attribute__((target("avx2,fma"))) float run_avx2(long iters) {
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(g_start[0]), c1 = _mm256_set1_ps(g_start[1]), c2 = _mm256_set1_ps(g_start[2]),
           c3 = _mm256_set1_ps(g_start[3]), c4 = _mm256_set1_ps(g_start[4]), c5 = _mm256_set1_ps(g_start[5]),
           c6 = _mm256_set1_ps(g_start[6]);
    __m256 c7 = _mm256_set1_ps(g_start[7]), c8 = _mm256_set1_ps(g_start[8]), c9 = _mm256_set1_ps(g_start[9]),
           c10 = _mm256_set1_ps(g_start[10]), c11 = _mm256_set1_ps(g_start[11]);
    for (long it = 0; it < iters; ++it) {
        c0 = _mm256_fmadd_ps(c0, a, b), c1 = _mm256_fmadd_ps(c1, a, b), c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b), c4 = _mm256_fmadd_ps(c4, a, b), c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b), c7 = _mm256_fmadd_ps(c7, a, b), c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b), c10 = _mm256_fmadd_ps(c10, a, b), c11 = _mm256_fmadd_ps(c11, a, b);
    }
    const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                                   _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)),
                                                 _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11))));
    float out[8];
    _mm256_storeu_ps(out, s);
    float sum = 0;
    for (float x : out) sum += x;
    return sum;
}

/// 8 independent scalar chains (no vector FMA on this CPU).
float run_scalar(long iters) {
    float c0 = g_start[0], c1 = g_start[1], c2 = g_start[2], c3 = g_start[3], c4 = g_start[4], c5 = g_start[5];
    float c6 = g_start[6], c7 = g_start[7];
    for (long it = 0; it < iters; ++it) {
        c0 = c0 * 0.999999f + 1e-7f, c1 = c1 * 0.999999f + 1e-7f, c2 = c2 * 0.999999f + 1e-7f;
        c3 = c3 * 0.999999f + 1e-7f, c4 = c4 * 0.999999f + 1e-7f, c5 = c5 * 0.999999f + 1e-7f;
        c6 = c6 * 0.999999f + 1e-7f, c7 = c7 * 0.999999f + 1e-7f;
    }
    return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7;
}

struct Kernel {
    const char* isa;
    int lanes;
    double flops_per_iter;
    float (*fn)(long);
};

Kernel pick_kernel() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return {"avx512", 16, 16.0 * 16 * 2, run_avx512};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"avx2", 8, 12.0 * 8 * 2, run_avx2};
    return {"scalar", 1, 8.0 * 2, run_scalar};
}

volatile float g_sink;

/// CPU time of the calling thread: time the thread was descheduled on a shared machine does not count.
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// GFLOP/s of `threads` threads running the kernel at once (total over threads), from each thread's CPU time.
double measure(const Kernel& k, int threads) {
    std::vector<std::thread> pool;
    std::vector<double> secs(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&k, &secs, t] {
            const double t0 = thread_cpu_seconds();
            g_sink = k.fn(kIterations);
            secs[static_cast<size_t>(t)] = thread_cpu_seconds() - t0;
        });
    }
    for (auto& th : pool) th.join();
    const double slowest = *std::max_element(secs.begin(), secs.end());
    return k.flops_per_iter * static_cast<double>(kIterations) * threads / slowest / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
    const int trials = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    const Kernel k = pick_kernel();
    k.fn(kIterations / 10);  // warm up: wake the core and the wide units
    double per_core = 0.0, multi = 0.0;
    for (int i = 0; i < trials; ++i) {
        per_core = std::max(per_core, measure(k, 1));
        if (threads > 1) multi = std::max(multi, measure(k, threads));
    }
    if (threads == 1) multi = per_core;
    std::printf("{\"isa\":\"%s\",\"lanes\":%d,\"gflops_per_core\":%.2f,\"threads\":%d,\"gflops_threads\":%.2f}\n",
                k.isa, k.lanes, per_core, threads, multi);
    return 0;
}

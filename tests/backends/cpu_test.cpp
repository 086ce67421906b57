// The cpu backend (nnport's own kernels): every supported op against the reference kernels through whole sessions
// (expect_backend_matches_ref), at every instruction-set level this CPU has (cpu::limit_isa), threaded runs through
// a kernel context with a pool, and the nodes it declines with their reasons.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <random>

#include "backends/backend.hpp"
#include "backends/backend_test_util.hpp"
#include "backends/cpu/cpu_kernels.hpp"
#include "backends/int8_test_util.hpp"
#include "core/thread_pool.hpp"
#include "ops/op_def.hpp"

namespace nnport {
namespace {

using ir::Attribute;
using testing::expect_backend_declines;
using testing::expect_backend_matches_ref;
using testing::OpRun;
using testing::random_f32;

/// A copy of a float32 tensor as float64 or int32.
Tensor as_dtype(const Tensor& t, DType dt) {
    Tensor o = std::move(Tensor::create(dt, t.shape())).value();
    for (int64_t i = 0; i < t.numel(); ++i) {
        if (dt == DType::kFloat64) o.data<double>()[i] = t.data<float>()[i];
        else o.data<int32_t>()[i] = static_cast<int32_t>(t.data<float>()[i] * 100.0f);
    }
    return o;
}

/// The instruction-set levels this CPU can run (0 portable, 1 AVX2, 2 AVX-512).
std::vector<int> isa_levels() {
    std::vector<int> v;
    for (int l = 0; l <= static_cast<int>(cpu::best_isa()); ++l) v.push_back(l);
    return v;
}

/// Runs `fn` once per instruction-set level, restoring the cap afterwards.
template <typename Fn>
void for_each_isa(Fn fn) {
    for (int level : isa_levels()) {
        SCOPED_TRACE(std::string("isa ") + cpu::isa_name(static_cast<cpu::Isa>(level)));
        const int before = cpu::limit_isa(level);
        ASSERT_EQ(static_cast<int>(cpu::isa()), level);
        fn();
        cpu::limit_isa(before);
    }
}

/// The node of a one-node model prepared on the cpu backend, run directly through a kernel context (with a thread
/// pool when `threads` > 1, which sessions in tests do not have) next to the reference kernel.
struct Direct {
    std::unique_ptr<Session> session;
    const ir::Node* node = nullptr;
    std::unique_ptr<ThreadPool> pool;
    std::unique_ptr<BackendKernel> kernel;

    static Direct make(const OpRun& r, int threads) {
        Direct d;
        auto s = testing::make_op_session(r);
        EXPECT_TRUE(s.is_ok()) << s.status().message();
        if (!s.is_ok()) return d;
        d.session = std::move(s).value();
        for (const auto& n : d.session->model().graph->nodes()) d.node = n.get();
        if (threads > 1) d.pool = std::make_unique<ThreadPool>(threads);
        PrepareContext pc;
        pc.constant = [](const ir::Value* v) { return v && v->has_initializer() ? &v->initializer() : nullptr; };
        pc.pool = d.pool.get();
        pc.threads = threads;
        const Backend* b = find_backend("cpu");
        const Support sup = b->supports(*d.node, pc.constant);
        EXPECT_TRUE(sup.ok) << sup.reason;
        auto k = b->prepare(*d.node, pc);
        EXPECT_TRUE(k.is_ok()) << k.status().message();
        if (k.is_ok()) d.kernel = std::move(k).value();
        return d;
    }
    /// Output 0 of the cpu kernel (ref = false) or of the reference kernel.
    Result<Tensor> run(const std::vector<Tensor>& inputs, bool ref = false) const {
        std::vector<RtValue> vals;
        for (const Tensor& t : inputs) vals.emplace_back(t);
        std::vector<const RtValue*> ptrs;
        for (const RtValue& v : vals) ptrs.push_back(&v);
        std::vector<RtValue> out(1);
        KernelContext kc(*node, *node->def, ptrs, &out, nullptr, ref ? nullptr : pool.get());
        NNPORT_RETURN_IF_ERROR(ref ? node->def->kernel(kc) : kernel->run(kc));
        return out[0].tensor;
    }
    void expect_matches_ref(const std::vector<Tensor>& inputs, double rtol, double atol) const {
        ASSERT_TRUE(kernel);
        auto got = run(inputs);
        ASSERT_TRUE(got.is_ok()) << got.status().message();
        auto want = run(inputs, true);
        ASSERT_TRUE(want.is_ok()) << want.status().message();
        testing::expect_close(got.value(), want.value(), rtol, atol, node->op_type());
    }
};

TEST(CpuBackend, IsListedFirst) {
    // It only takes what the libraries run slower or not at all, so it comes before them in the default order.
    const Backend* b = find_backend("cpu");
    ASSERT_NE(b, nullptr);
    EXPECT_TRUE(b->available().ok);
    const auto& all = all_backends();
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all[0]->name(), "cpu");
    EXPECT_NE(b->description().find(cpu::isa_name(cpu::isa())), std::string::npos);
}

// ---- kernels against plain loops --------------------------------------------------------------------------------

TEST(CpuKernels, GemmEveryTileShape) {
    for_each_isa([] {
        const cpu::Kernels& k = cpu::kernels();
        for (int64_t m : {1, 5, 8, 13, 17}) {
            for (int64_t n : {1, 7, 16, 31, 33, 70}) {
                for (int64_t kk : {1, 3, 64}) {
                    const int64_t lda = kk + 2, ldb = n + 3, ldc = n + 1;
                    const Tensor a = random_f32({m, lda}, 1), b = random_f32({kk, ldb}, 2);
                    std::vector<float> c(static_cast<size_t>(m * ldc), 7.0f);
                    k.gemm(m, n, kk, 0.5f, a.data<float>(), lda, b.data<float>(), ldb, c.data(), ldc);
                    for (int64_t i = 0; i < m; ++i) {
                        for (int64_t j = 0; j < ldc; ++j) {
                            double want = 7.0;
                            if (j < n) {
                                want = 0;
                                for (int64_t p = 0; p < kk; ++p) {
                                    want += double(a.data<float>()[i * lda + p]) * b.data<float>()[p * ldb + j];
                                }
                                want *= 0.5;
                            }
                            ASSERT_NEAR(c[static_cast<size_t>(i * ldc + j)], want, 1e-4)
                                << "m " << m << " n " << n << " k " << kk << " at " << i << "," << j;
                        }
                    }
                }
            }
        }
    });
}

TEST(CpuKernels, TransposeEveryEdge) {
    for_each_isa([] {
        const cpu::Kernels& k = cpu::kernels();
        for (int64_t rows : {1, 3, 8, 15, 16, 17, 40}) {
            for (int64_t cols : {1, 2, 8, 9, 16, 23, 33}) {
                const int64_t ldi = cols + 5, ldo = rows + 3;
                const Tensor in = random_f32({rows, ldi}, 3);
                std::vector<float> out(static_cast<size_t>(cols * ldo), -9.0f);
                k.transpose(in.data<float>(), ldi, out.data(), ldo, rows, cols);
                for (int64_t c = 0; c < cols; ++c) {
                    for (int64_t r = 0; r < ldo; ++r) {
                        const float want = r < rows ? in.data<float>()[r * ldi + c] : -9.0f;
                        ASSERT_EQ(out[static_cast<size_t>(c * ldo + r)], want)
                            << rows << "x" << cols << " at " << r << "," << c;
                    }
                }
            }
        }
    });
}

TEST(CpuKernels, TransposeThreeContiguousRowsInterleaves) {
    // rows 3 with ldo 3 (planar RGB to channels-last) has its own AVX-512 path: every column count around 16.
    for_each_isa([] {
        const cpu::Kernels& k = cpu::kernels();
        for (int64_t cols : {1, 5, 15, 16, 17, 31, 32, 33, 48, 50, 1000}) {
            const int64_t ldi = cols + 7;
            const Tensor in = random_f32({3, ldi}, 8);
            std::vector<float> out(static_cast<size_t>(cols * 3 + 4), -9.0f);
            k.transpose(in.data<float>(), ldi, out.data(), 3, 3, cols);
            for (int64_t c = 0; c < cols; ++c) {
                for (int64_t r = 0; r < 3; ++r) {
                    ASSERT_EQ(out[static_cast<size_t>(c * 3 + r)], in.data<float>()[r * ldi + c]) << cols << " at " << c;
                }
            }
            for (size_t i = static_cast<size_t>(cols * 3); i < out.size(); ++i) ASSERT_EQ(out[i], -9.0f) << "past the end";
        }
    });
}

TEST(CpuKernels, SoftmaxMatchesExactFormula) {
    for_each_isa([] {
        const cpu::Kernels& k = cpu::kernels();
        for (int64_t n : {1, 2, 7, 8, 15, 16, 17, 100, 197}) {
            Tensor s = random_f32({n}, 4, -30.0f, 30.0f);
            const Tensor mask = random_f32({n}, 5, -5.0f, 5.0f);
            for (int mode = 0; mode < 3; ++mode) {
                std::vector<float> got(s.data<float>(), s.data<float>() + n), want = got;
                const float* m = mode == 0 ? nullptr : mask.data<float>();
                const int64_t step = mode == 2 ? 0 : 1;
                for (int64_t j = 0; j < n; ++j) want[size_t(j)] += m ? m[step * j] : 0.0f;
                cpu::softmax_exact(want.data(), n);
                k.softmax(got.data(), n, m, step);
                for (int64_t j = 0; j < n; ++j) {
                    ASSERT_NEAR(got[size_t(j)], want[size_t(j)], 1e-6 + 1e-5 * want[size_t(j)])
                        << "n " << n << " mode " << mode << " at " << j;
                }
            }
        }
    });
}

TEST(CpuKernels, SoftmaxNonFiniteRows) {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    for_each_isa([&] {
        const cpu::Kernels& k = cpu::kernels();
        // -inf entries give exact zeros; a row of -inf, a +inf or a NaN gives what the reference formula gives.
        std::vector<std::vector<float>> rows = {
            {0.5f, -inf, 1.0f, -inf, -200.0f, -90.0f, 0.0f, 2.0f, -inf, 3.0f, -1.0f, -inf, 0.0f, 1.0f, 2.0f, 3.0f,
             -inf},
            std::vector<float>(19, -inf),
            {1.0f, inf, 2.0f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f},
            {1.0f, 2.0f, nan, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 3.0f},
            {nan, 2.0f, 1.0f},
        };
        for (const auto& row : rows) {
            std::vector<float> got = row, want = row;
            const int64_t n = static_cast<int64_t>(row.size());
            cpu::softmax_exact(want.data(), n);
            k.softmax(got.data(), n, nullptr, 1);
            for (int64_t j = 0; j < n; ++j) {
                const float g = got[size_t(j)], w = want[size_t(j)];
                if (std::isnan(w)) {
                    EXPECT_TRUE(std::isnan(g)) << "at " << j;
                } else {
                    EXPECT_NEAR(g, w, 1e-6) << "at " << j;
                    if (w == 0.0f) {
                        EXPECT_EQ(g, 0.0f) << "at " << j;
                    }
                }
            }
        }
    });
}

// ---- ScaledDotProductAttention ----------------------------------------------------------------------------------

OpRun sdpa(Shape q, Shape k, Shape v, uint32_t seed, bool k_transposed = false) {
    OpRun r;
    r.op_type = "ScaledDotProductAttention";
    r.domain = "com.nnport";
    r.opset = 1;
    r.inputs = {random_f32(std::move(q), seed), random_f32(std::move(k), seed + 1), random_f32(std::move(v), seed + 2)};
    if (k_transposed) r.attrs["k_transposed"] = Attribute::make_int(1);
    return r;
}

TEST(CpuAttention, HeadsAndLengths) {
    for_each_isa([] {
        // (batch, heads, L, S, D, Dv), odd sizes included.
        const std::vector<std::array<int64_t, 6>> cases = {
            {1, 12, 197, 197, 64, 64}, {2, 4, 10, 10, 16, 16}, {1, 3, 1, 5, 8, 8},  {1, 1, 7, 3, 5, 9},
            {3, 2, 65, 33, 17, 31},    {1, 8, 130, 1, 32, 32}, {1, 2, 9, 70, 3, 1},
        };
        for (const auto& c : cases) {
            SCOPED_TRACE(::testing::Message() << "b " << c[0] << " h " << c[1] << " L " << c[2] << " S " << c[3]
                                              << " D " << c[4] << " Dv " << c[5]);
            expect_backend_matches_ref(sdpa({c[0], c[1], c[2], c[4]}, {c[0], c[1], c[3], c[4]},
                                            {c[0], c[1], c[3], c[5]}, 10),
                                       "cpu");
        }
    });
}

TEST(CpuAttention, KTransposedScaleAnd3D) {
    for_each_isa([] {
        OpRun r = sdpa({6, 20, 16}, {6, 16, 25}, {6, 25, 12}, 20, true);
        r.attrs["scale"] = Attribute::make_float(0.3f);
        expect_backend_matches_ref(r, "cpu");
        OpRun r2 = sdpa({2, 3, 11, 8}, {2, 3, 8, 11}, {2, 3, 11, 8}, 21, true);
        expect_backend_matches_ref(r2, "cpu");
        OpRun r3 = sdpa({40, 24}, {33, 24}, {33, 5}, 22);  // rank 2: no batch
        r3.attrs["scale"] = Attribute::make_float(1.0f);
        expect_backend_matches_ref(r3, "cpu");
    });
}

TEST(CpuAttention, BroadcastBatch) {
    for_each_isa([] {
        // K and V shared across the batch (and heads), Q with its own.
        expect_backend_matches_ref(sdpa({3, 4, 9, 8}, {1, 4, 12, 8}, {1, 1, 12, 8}, 30), "cpu");
        expect_backend_matches_ref(sdpa({1, 4, 9, 8}, {2, 1, 12, 8}, {2, 4, 12, 6}, 31), "cpu");
    });
}

TEST(CpuAttention, Masks) {
    for_each_isa([] {
        const int64_t b = 2, h = 3, L = 19, S = 23, d = 16;
        for (const Shape& ms : std::vector<Shape>{{L, S}, {b, 1, L, S}, {b, h, L, S}, {1, 1, 1, S}, {L, 1}, {S}}) {
            SCOPED_TRACE(shape_to_string(ms));
            OpRun r = sdpa({b, h, L, d}, {b, h, S, d}, {b, h, S, d}, 40);
            r.inputs.push_back(random_f32(ms, 41, -3.0f, 3.0f));
            expect_backend_matches_ref(r, "cpu");
        }
    });
}

TEST(CpuAttention, CausalMaskWithMaskedRows) {
    const float inf = std::numeric_limits<float>::infinity();
    for_each_isa([&] {
        const int64_t L = 37, d = 8;
        Tensor mask = std::move(Tensor::create(DType::kFloat32, {L, L})).value();
        for (int64_t i = 0; i < L; ++i) {
            for (int64_t j = 0; j < L; ++j) mask.data<float>()[i * L + j] = j <= i ? 0.0f : -inf;
        }
        OpRun r = sdpa({1, 2, L, d}, {1, 2, L, d}, {1, 2, L, d}, 50);
        r.inputs.push_back(mask);
        expect_backend_matches_ref(r, "cpu");
        // A row masked everywhere is NaN in both.
        for (int64_t j = 0; j < L; ++j) mask.data<float>()[3 * L + j] = -inf;
        OpRun r2 = sdpa({1, 2, L, d}, {1, 2, L, d}, {1, 2, L, d}, 51);
        r2.inputs.push_back(mask);
        expect_backend_matches_ref(r2, "cpu");
    });
}

TEST(CpuAttention, ThreadedMatchesReference) {
    for_each_isa([] {
        OpRun r = sdpa({2, 5, 150, 32}, {2, 5, 150, 32}, {2, 5, 150, 32}, 60);
        r.inputs.push_back(random_f32({150, 150}, 61));
        const Direct d = Direct::make(r, 3);
        d.expect_matches_ref(r.inputs, 1e-4, 1e-5);
        OpRun r2 = sdpa({1, 1, 300, 16}, {1, 1, 20, 16}, {1, 1, 20, 16}, 62);  // one batch entry: row blocks
        Direct::make(r2, 2).expect_matches_ref(r2.inputs, 1e-4, 1e-5);
    });
}

TEST(CpuAttention, Declines) {
    OpRun r = sdpa({1, 2, 4, 8}, {1, 2, 4, 8}, {1, 2, 4, 8}, 70);
    for (Tensor& t : r.inputs) t = as_dtype(t, DType::kFloat64);
    expect_backend_declines(r, "cpu", "only float32");
}

TEST(CpuAttention, BadShapesAreErrorsNamingTheNode) {
    OpRun r = sdpa({1, 2, 4, 8}, {1, 2, 4, 8}, {1, 2, 4, 8}, 80);
    const Direct d = Direct::make(r, 1);
    ASSERT_TRUE(d.kernel);
    const std::vector<std::pair<std::vector<Tensor>, std::string>> bad = {
        {{random_f32({1, 2, 4, 8}, 1), random_f32({1, 2, 4, 7}, 2), random_f32({1, 2, 4, 8}, 3)}, "head sizes differ"},
        {{random_f32({1, 2, 4, 8}, 1), random_f32({1, 2, 4, 8}, 2), random_f32({1, 2, 5, 8}, 3)},
         "sequence lengths differ"},
        {{random_f32({3, 4, 8}, 1), random_f32({2, 4, 8}, 2), random_f32({2, 4, 8}, 3)}, "broadcast"},
        {{random_f32({8}, 1), random_f32({4, 8}, 2), random_f32({4, 8}, 3)}, "rank >= 2"},
        {{random_f32({1, 2, 4, 8}, 1), random_f32({1, 2, 4, 8}, 2), random_f32({1, 2, 4, 8}, 3), random_f32({3, 4}, 4)},
         "does not broadcast"},
        {{as_dtype(random_f32({1, 2, 4, 8}, 1), DType::kFloat64), random_f32({1, 2, 4, 8}, 2),
          random_f32({1, 2, 4, 8}, 3)},
         "float32"},
    };
    for (const auto& [inputs, what] : bad) {
        auto out = d.run(inputs);
        ASSERT_FALSE(out.is_ok()) << what;
        EXPECT_NE(out.status().message().find(what), std::string::npos) << out.status().message();
        EXPECT_NE(out.status().message().find("'node'"), std::string::npos) << out.status().message();
    }
}

// ---- Transpose --------------------------------------------------------------------------------------------------

OpRun transpose(Shape x, std::vector<int64_t> perm, uint32_t seed) {
    OpRun r;
    r.op_type = "Transpose";
    r.inputs = {random_f32(std::move(x), seed)};
    r.attrs["perm"] = Attribute::make_ints(std::move(perm));
    return r;
}

/// As expect_backend_matches_ref, for the Transpose op itself (which that helper skips as a layout conversion):
/// the node must run on cpu and give the reference's output exactly.
void expect_transpose_matches_ref(const OpRun& r) {
    OpRun rb = r, rr = r;
    rb.backends = "cpu,ref";
    rr.backends = "ref";
    auto sb = testing::make_op_session(rb);
    ASSERT_TRUE(sb.is_ok()) << sb.status().message();
    auto sr = testing::make_op_session(rr);
    ASSERT_TRUE(sr.is_ok()) << sr.status().message();
    const auto placements = (*sb)->placements();
    ASSERT_EQ(placements.size(), 1u);
    EXPECT_EQ(placements[0].backend, "cpu") << placements[0].fallback_reason;
    const auto feeds = testing::op_feeds(r);
    auto got = (*sb)->run_values(feeds);
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    auto want = (*sr)->run_values(feeds);
    ASSERT_TRUE(want.is_ok()) << want.status().message();
    testing::expect_close((*got)[0].tensor, (*want)[0].tensor, 0.0, 0.0, "Transpose");
}

/// Expects the cpu backend to decline the Transpose of `r` with a reason containing `reason`.
void expect_transpose_declined(const OpRun& r, const std::string& reason) {
    OpRun rb = r;
    rb.backends = "cpu,ref";
    auto sb = testing::make_op_session(rb);
    ASSERT_TRUE(sb.is_ok()) << sb.status().message();
    const auto placements = (*sb)->placements();
    ASSERT_EQ(placements.size(), 1u);
    EXPECT_EQ(placements[0].op_type, "Transpose");
    EXPECT_EQ(placements[0].backend, "ref");
    EXPECT_NE(placements[0].fallback_reason.find(reason), std::string::npos) << placements[0].fallback_reason;
}

/// Whether the permutation's last output dim is the input's contiguous one after dropping size-1 dims (a row copy).
bool moves_rows(const Shape& x, const std::vector<int64_t>& perm) {
    int64_t last_in = -1, last_out = -1;
    for (int64_t d = static_cast<int64_t>(x.size()) - 1; d >= 0 && last_in < 0; --d) {
        if (x[size_t(d)] != 1) last_in = d;
    }
    for (int64_t i = static_cast<int64_t>(perm.size()) - 1; i >= 0 && last_out < 0; --i) {
        if (x[size_t(perm[size_t(i)])] != 1) last_out = perm[size_t(i)];
    }
    return last_in == last_out;
}

TEST(CpuTranspose, EveryPermutationRank2To6) {
    std::mt19937 g(7);
    for_each_isa([&] {
        for (size_t rank = 2; rank <= 6; ++rank) {
            std::vector<int64_t> perm(rank);
            for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(i);
            int tested = 0;
            do {
                if (rank >= 5 && g() % 8 != 0) continue;  // a sample of the 120 and 720
                Shape x(rank);
                for (size_t i = 0; i < rank; ++i) x[i] = rank <= 3 ? 3 + int64_t(g() % 30) : 1 + int64_t(g() % 6);
                SCOPED_TRACE(shape_to_string(x) + " perm " + shape_to_string(perm));
                OpRun r = transpose(x, perm, uint32_t(g()));
                // The optimizer makes a Reshape of a permutation that keeps the order of the dims other than 1.
                std::vector<int64_t> kept;
                for (int64_t p : perm) {
                    if (x[size_t(p)] != 1) kept.push_back(p);
                }
                if (std::is_sorted(kept.begin(), kept.end())) continue;
                if (moves_rows(x, perm)) {
                    expect_transpose_declined(r, "whole rows");
                } else {
                    expect_transpose_matches_ref(r);
                    ++tested;
                }
            } while (std::next_permutation(perm.begin(), perm.end()));
            EXPECT_GT(tested, 0) << "rank " << rank;
        }
    });
}

TEST(CpuTranspose, LayoutConversionsAndChannelShuffle) {
    for_each_isa([] {
        expect_transpose_matches_ref(transpose({1, 32, 56, 56}, {0, 2, 3, 1}, 1));   // NCHW -> NHWC
        expect_transpose_matches_ref(transpose({2, 3, 37, 41}, {0, 2, 3, 1}, 7));    // an RGB input
        expect_transpose_matches_ref(transpose({2, 28, 28, 67}, {0, 3, 1, 2}, 2));   // NHWC -> NCHW
        expect_transpose_matches_ref(transpose({1, 7, 7, 2, 58}, {0, 1, 2, 4, 3}, 3));  // shuffle
        expect_transpose_matches_ref(transpose({12, 197, 64}, {0, 2, 1}, 4));         // K^T
        expect_transpose_matches_ref(transpose({300, 5}, {1, 0}, 5));
        OpRun rev = transpose({2, 3, 4}, {}, 6);  // reversed without perm
        rev.attrs.clear();
        expect_transpose_matches_ref(rev);
    });
}

TEST(CpuTranspose, SymbolicShapesThreadsAndRowCopies) {
    // Declared with symbolic dims, the node is accepted whatever the permutation; at run time a row copy is a
    // memcpy loop and a 2-D transpose is tiled over the pool's threads (from 2^18 elements: [7, 300, 130]).
    ir::Graph g("t");
    auto x = g.add_value("x", ir::ValueType::tensor(DType::kFloat32, {ir::Dim::symbol("a"), ir::Dim::symbol("b"),
                                                                      ir::Dim::symbol("c")}));
    ASSERT_TRUE(x.is_ok());
    for (const std::vector<int64_t>& perm : std::vector<std::vector<int64_t>>{{1, 0, 2}, {0, 2, 1}, {2, 1, 0}}) {
        auto n = g.add_node("Transpose", "", "node" + shape_to_string(perm), {x.value()}, {"y" + shape_to_string(perm)});
        ASSERT_TRUE(n.is_ok());
        ir::Node* node = n.value();
        node->attrs["perm"] = Attribute::make_ints(perm);
        node->opset = 18;
        node->def = find_op("", "Transpose");
        const Backend* b = find_backend("cpu");
        ThreadPool pool(2);
        PrepareContext pc;
        pc.constant = [](const ir::Value*) -> const Tensor* { return nullptr; };
        pc.pool = &pool;
        pc.threads = 2;
        ASSERT_TRUE(b->supports(*node, pc.constant).ok) << shape_to_string(perm);
        auto k = b->prepare(*node, pc);
        ASSERT_TRUE(k.is_ok()) << k.status().message();
        for_each_isa([&] {
            for (const Shape& shape :
                 std::vector<Shape>{{3, 50, 400}, {70, 130, 9}, {7, 300, 130}, {1, 1, 5}, {2, 0, 3}, {4, 1, 33}}) {
                SCOPED_TRACE(shape_to_string(shape) + " perm " + shape_to_string(perm));
                RtValue in(random_f32(shape, 9));
                std::vector<const RtValue*> ptrs = {&in};
                std::vector<RtValue> got(1), want(1);
                KernelContext kc(*node, *node->def, ptrs, &got, nullptr, &pool);
                ASSERT_TRUE(k.value()->run(kc).is_ok());
                KernelContext rc(*node, *node->def, ptrs, &want, nullptr, nullptr);
                ASSERT_TRUE(node->def->kernel(rc).is_ok());
                testing::expect_close(got[0].tensor, want[0].tensor, 0.0, 0.0, "Transpose");
            }
        });
    }
}

TEST(CpuTranspose, Declines) {
    expect_transpose_declined(transpose({1, 2, 197, 64}, {0, 2, 1, 3}, 1), "whole rows");
    OpRun r = transpose({4, 5}, {1, 0}, 2);
    r.inputs[0] = as_dtype(r.inputs[0], DType::kInt32);
    expect_transpose_declined(r, "only float32");
}

// ---- Mul / Add by a last-axis vector ---------------------------------------------------------------------------

OpRun row_binary(const std::string& op, const Shape& a, const Shape& b, uint32_t seed, bool b_constant = false) {
    OpRun r;
    r.op_type = op;
    r.inputs = {random_f32(a, seed), random_f32(b, seed + 1)};
    r.as_initializer = {false, b_constant};
    return r;
}

TEST(CpuRowBinary, MatchesTheReferenceExactlyAtEveryIsa) {
    // Channel counts around the vector widths (8, 16) and their tails; the vector first or second, with its leading
    // 1s or without, constant or computed.
    for_each_isa([] {
        uint32_t seed = 1;
        for (const char* op : {"Mul", "Add"}) {
            for (int64_t c : {8, 15, 16, 17, 33, 96}) {
                SCOPED_TRACE(std::string(op) + " c " + std::to_string(c));
                expect_backend_matches_ref(row_binary(op, {1, 5, 7, c}, {1, 1, 1, c}, seed++), "cpu", 0.0, 0.0);
                expect_backend_matches_ref(row_binary(op, {1, 1, 1, c}, {1, 4, 3, c}, seed++), "cpu", 0.0, 0.0);
                expect_backend_matches_ref(row_binary(op, {3, c}, {c}, seed++, true), "cpu", 0.0, 0.0);
                expect_backend_matches_ref(row_binary(op, {2, 3, 2, 1, c}, {1, c}, seed++), "cpu", 0.0, 0.0);
            }
        }
    });
}

TEST(CpuRowBinary, ThreadedRowsMatchTheReference) {
    for_each_isa([] {
        for (const char* op : {"Mul", "Add"}) {
            const Direct d = Direct::make(row_binary(op, {1, 56, 56, 24}, {1, 1, 1, 24}, 7), 2);
            d.expect_matches_ref({random_f32({1, 56, 56, 24}, 8), random_f32({1, 1, 1, 24}, 9)}, 0.0, 0.0);
            // The vector first.
            const Direct e = Direct::make(row_binary(op, {1, 1, 1, 40}, {1, 28, 28, 40}, 10), 2);
            e.expect_matches_ref({random_f32({1, 1, 1, 40}, 11), random_f32({1, 28, 28, 40}, 12)}, 0.0, 0.0);
        }
    });
}

TEST(CpuRowBinary, Declines) {
    const std::string reason = "not a tensor times a vector along its last axis";
    expect_backend_declines(row_binary("Mul", {1, 4, 4, 16}, {1, 4, 4, 16}, 1), "cpu", reason);  // same shape
    expect_backend_declines(row_binary("Mul", {1, 16, 4, 4}, {1, 16, 1, 1}, 2), "cpu", reason);  // not the last axis
    expect_backend_declines(row_binary("Add", {1, 4, 4, 4}, {1, 1, 1, 4}, 3), "cpu", reason);    // under 8 wide
    expect_backend_declines(row_binary("Mul", {1, 4, 4, 16}, {1}, 4), "cpu", reason);            // a scalar
    expect_backend_declines(row_binary("Mul", {1, 1, 1, 16}, {1, 1, 1, 16}, 5), "cpu", reason);  // nothing to broadcast
    OpRun r = row_binary("Mul", {2, 16}, {16}, 6);
    r.inputs[0] = as_dtype(r.inputs[0], DType::kFloat64);
    r.inputs[1] = as_dtype(r.inputs[1], DType::kFloat64);
    expect_backend_declines(r, "cpu", "only two float32 inputs");
}

TEST(CpuRowBinary, BadInputIsAnErrorNamingTheNode) {
    const OpRun r = row_binary("Mul", {1, 4, 4, 16}, {1, 1, 1, 16}, 3);
    const Direct d = Direct::make(r, 1);
    ASSERT_TRUE(d.kernel);
    auto out = d.run({random_f32({1, 4, 4, 16}, 1), random_f32({1, 1, 1, 8}, 2)});  // 8 channels, not 16
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("vector along"), std::string::npos) << out.status().message();
    EXPECT_NE(out.status().message().find("'node'"), std::string::npos) << out.status().message();
    out = d.run({random_f32({1, 4, 4, 16}, 1), as_dtype(random_f32({1, 1, 1, 16}, 2), DType::kFloat64)});
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("float32"), std::string::npos) << out.status().message();
}

TEST(CpuRowAffine, KernelsAgainstPlainLoops) {
    // Every combination of scale, shift and clamp, with NaN, -0 and the clamp bounds among the inputs.
    constexpr float kInf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for_each_isa([&] {
        const cpu::Kernels& k = cpu::kernels();
        for (int64_t c : {1, 7, 8, 16, 31, 64}) {
            Tensor x = random_f32({3, c}, 1);
            const Tensor s = random_f32({c}, 2), b = random_f32({c}, 3);
            x.data<float>()[0] = nan;
            if (c > 1) x.data<float>()[1] = -0.0f;
            for (int mask = 0; mask < 8; ++mask) {
                const float* ps = mask & 4 ? s.data<float>() : nullptr;
                const float* pb = mask & 2 ? b.data<float>() : nullptr;
                const float lo = mask & 1 ? 0.0f : -kInf, hi = mask & 1 ? 0.5f : kInf;
                std::vector<float> y(static_cast<size_t>(3 * c + 1), 5.0f);
                k.row_affine(x.data<float>(), c, ps, pb, y.data(), c, 3, c, lo, hi);
                // Strided: rows 2 of x (first c of its 2c) into rows of 3c (FusedConcat's channel slices).
                std::vector<float> ys(static_cast<size_t>(3 * c + 1), 7.0f);
                k.row_affine(x.data<float>(), c + c / 2, ps, pb, ys.data() + 1, c + 1, 2, c - c / 2, lo, hi);
                for (int64_t r = 0; r < 2; ++r) {
                    for (int64_t j = 0; j < c - c / 2; ++j) {
                        const float xi = x.data<float>()[r * (c + c / 2) + j];
                        float w2 = ps && pb ? std::fma(xi, s.data<float>()[j], b.data<float>()[j])
                                   : ps     ? xi * s.data<float>()[j]
                                   : pb     ? xi + b.data<float>()[j]
                                            : xi;
                        w2 = w2 < lo ? lo : (w2 > hi ? hi : w2);
                        const float got = ys[size_t(1 + r * (c + 1) + j)];
                        if (std::isnan(w2)) {
                            ASSERT_TRUE(std::isnan(got)) << "strided, c " << c;
                        } else {
                            ASSERT_EQ(got, w2) << "strided, c " << c << " mask " << mask << " row " << r << " at " << j;
                        }
                    }
                }
                ASSERT_EQ(ys[0], 7.0f) << "strided: wrote before the start";
                for (int64_t i = 0; i < 3 * c; ++i) {
                    const float xi = x.data<float>()[i], si = s.data<float>()[i % c], bi = b.data<float>()[i % c];
                    float want = ps && pb ? std::fma(xi, si, bi) : ps ? xi * si : pb ? xi + bi : xi;
                    want = want < lo ? lo : (want > hi ? hi : want);
                    const float got = y[static_cast<size_t>(i)];
                    if (std::isnan(want)) {
                        ASSERT_TRUE(std::isnan(got)) << "c " << c << " mask " << mask << " at " << i;
                    } else {
                        ASSERT_EQ(got, want) << "c " << c << " mask " << mask << " at " << i;
                        ASSERT_EQ(std::signbit(got), std::signbit(want))
                            << "c " << c << " mask " << mask << " at " << i;
                    }
                }
                ASSERT_EQ(y.back(), 5.0f) << "wrote past the end, c " << c;
            }
        }
    });
}

// ---- com.nnport ScaleShift --------------------------------------------------------------------------------------

OpRun scale_shift(const Shape& x, const Shape& sb, uint32_t seed, const std::string& activation = "Identity",
                  std::vector<float> params = {}) {
    OpRun r;
    r.op_type = "ScaleShift";
    r.domain = "com.nnport";
    r.inputs = {random_f32(x, seed), random_f32(sb, seed + 1), random_f32(sb, seed + 2)};
    r.as_initializer = {false, true, true};
    r.attrs["activation"] = Attribute::make_string(activation);
    if (!params.empty()) r.attrs["activation_params"] = Attribute::make_floats(std::move(params));
    return r;
}

TEST(CpuScaleShift, MatchesTheReferenceExactlyAtEveryIsa) {
    for_each_isa([] {
        uint32_t seed = 1;
        for (int64_t c : {1, 8, 15, 16, 17, 96}) {
            SCOPED_TRACE("c " + std::to_string(c));
            expect_backend_matches_ref(scale_shift({1, 5, 7, c}, {1, 1, 1, c}, seed += 3), "cpu", 0.0, 0.0);
            expect_backend_matches_ref(scale_shift({1, 5, 7, c}, {c}, seed += 3, "Relu"), "cpu", 0.0, 0.0);
            expect_backend_matches_ref(scale_shift({3, c}, {1, c}, seed += 3, "Clip", {-0.25f, 0.5f}), "cpu", 0.0, 0.0);
            // Computed (not constant) scale and shift.
            OpRun r = scale_shift({2, 3, c}, {c}, seed += 3, "Relu");
            r.as_initializer = {false, false, false};
            expect_backend_matches_ref(r, "cpu", 0.0, 0.0);
        }
    });
}

TEST(CpuScaleShift, ThreadedRowsMatchTheReference) {
    for_each_isa([] {
        const Direct d = Direct::make(scale_shift({1, 56, 56, 24}, {1, 1, 1, 24}, 7, "Relu"), 2);
        d.expect_matches_ref(
            {random_f32({1, 56, 56, 24}, 8), random_f32({1, 1, 1, 24}, 9), random_f32({1, 1, 1, 24}, 10)}, 0.0, 0.0);
    });
}

TEST(CpuScaleShift, Declines) {
    const std::string reason = "scale and shift are not vectors along X's last axis";
    expect_backend_declines(scale_shift({1, 16, 4, 4}, {1, 16, 1, 1}, 1), "cpu", reason);  // channel axis 1
    expect_backend_declines(scale_shift({4, 16}, {4, 16}, 2), "cpu", reason);              // not a vector
    expect_backend_declines(scale_shift({4, 16}, {1, 1, 16}, 3), "cpu", reason);           // raises the rank
    expect_backend_declines(scale_shift({4, 16}, {16}, 4, "Sigmoid"), "cpu", "only the Identity, Relu and Clip");
}

// ---- com.nnport FusedConcat -------------------------------------------------------------------------------------

OpRun fused_concat(const std::vector<Shape>& xs, uint32_t seed, const std::string& activation = "Relu",
                   int64_t axis = -1) {
    OpRun r;
    r.op_type = "FusedConcat";
    r.domain = "com.nnport";
    int64_t c = 0;
    for (const Shape& x : xs) {
        r.inputs.push_back(random_f32(x, seed++));
        r.as_initializer.push_back(false);
        c += x.back();
    }
    r.inputs.push_back(random_f32({c}, seed++));
    r.inputs.push_back(random_f32({1, c}, seed++));
    r.as_initializer.push_back(true);
    r.as_initializer.push_back(true);
    r.attrs["axis"] = Attribute::make_int(axis);
    r.attrs["activation"] = Attribute::make_string(activation);
    return r;
}

TEST(CpuFusedConcat, MatchesTheReferenceExactlyAtEveryIsa) {
    for_each_isa([] {
        uint32_t seed = 1;
        for (const char* act : {"Identity", "Relu"}) {
            SCOPED_TRACE(act);
            expect_backend_matches_ref(fused_concat({{1, 5, 7, 64}, {1, 5, 7, 32}}, seed += 5, act), "cpu", 0.0, 0.0);
            expect_backend_matches_ref(fused_concat({{1, 3, 3, 7}, {1, 3, 3, 17}, {1, 3, 3, 1}}, seed += 5, act), "cpu",
                                       0.0, 0.0);
            expect_backend_matches_ref(fused_concat({{4, 16}, {4, 16}}, seed += 5, act, 1), "cpu", 0.0, 0.0);
        }
    });
}

TEST(CpuFusedConcat, ThreadedRowsMatchTheReference) {
    for_each_isa([] {
        const OpRun r = fused_concat({{1, 28, 28, 64}, {1, 28, 28, 32}}, 3);
        const Direct d = Direct::make(r, 2);
        d.expect_matches_ref(r.inputs, 0.0, 0.0);
    });
}

TEST(CpuFusedConcat, DeclinesAndBadInput) {
    // (Other axes are rejected by the op itself: tests/ops/fused_test.cpp.)
    expect_backend_declines(fused_concat({{1, 4, 16}, {1, 4, 16}}, 1, "Tanh"), "cpu",
                            "only the Identity, Relu and Clip");
    OpRun r = fused_concat({{1, 4, 16}, {1, 4, 16}}, 1);
    r.as_initializer = {false, false, false, false};
    const Direct d = Direct::make(r, 1);
    ASSERT_TRUE(d.kernel);
    auto out = d.run({random_f32({1, 4, 16}, 1), random_f32({1, 5, 16}, 2), random_f32({32}, 3), random_f32({32}, 4)});
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("does not match"), std::string::npos) << out.status().message();
    EXPECT_NE(out.status().message().find("'node'"), std::string::npos) << out.status().message();
    out = d.run({random_f32({1, 4, 16}, 1), random_f32({1, 4, 16}, 2), random_f32({16}, 3), random_f32({32}, 4)});
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("must be a vector of the output's 32 channels"), std::string::npos)
        << out.status().message();
}

TEST(CpuScaleShift, BadInputIsAnErrorNamingTheNode) {
    OpRun r = scale_shift({1, 4, 4, 16}, {16}, 3);
    r.as_initializer = {false, false, false};
    const Direct d = Direct::make(r, 1);
    ASSERT_TRUE(d.kernel);
    auto out = d.run({random_f32({1, 4, 4, 16}, 1), random_f32({8}, 2), random_f32({16}, 3)});  // 8, not 16
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("scale and shift must be a vector along"), std::string::npos)
        << out.status().message();
    EXPECT_NE(out.status().message().find("'node'"), std::string::npos) << out.status().message();
    out = d.run({random_f32({1, 4, 4, 16}, 1), random_f32({16}, 2), as_dtype(random_f32({16}, 3), DType::kFloat64)});
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("float32"), std::string::npos) << out.status().message();
}

// ---- fully connected layers at batch 1 (fp32) -------------------------------------------------------------------

OpRun gemv_op(int64_t m, int64_t k, int64_t n, bool trans_b, float alpha, float beta, std::optional<Shape> c,
              uint32_t seed, const char* activation = nullptr) {
    OpRun r;
    r.op_type = activation ? "FusedGemm" : "Gemm";
    if (activation) {
        r.domain = "com.nnport";
        r.opset = 1;
        r.attrs["activation"] = Attribute::make_string(activation);
    }
    r.inputs = {random_f32({m, k}, seed), random_f32(trans_b ? Shape{n, k} : Shape{k, n}, seed + 1, -0.2f, 0.2f)};
    r.as_initializer = {false, true};
    if (c) {
        r.inputs.push_back(random_f32(*c, seed + 2));
        r.as_initializer.push_back(true);
    }
    r.attrs["transB"] = Attribute::make_int(trans_b ? 1 : 0);
    r.attrs["alpha"] = Attribute::make_float(alpha);
    r.attrs["beta"] = Attribute::make_float(beta);
    return r;
}

TEST(CpuGemv, MatchesTheReferenceAtEveryIsa) {
    for_each_isa([] {
        uint32_t seed = 1;
        for (int64_t m : {1, 2, 3, 4}) {
            for (auto [k, n] :
                 std::vector<std::pair<int64_t, int64_t>>{{128, 128}, {200, 1000}, {576, 130}, {17, 1025}}) {
                SCOPED_TRACE("m " + std::to_string(m) + " k " + std::to_string(k) + " n " + std::to_string(n));
                expect_backend_matches_ref(gemv_op(m, k, n, true, 1.0f, 1.0f, Shape{n}, seed++), "cpu", 1e-5, 1e-5);
                expect_backend_matches_ref(gemv_op(m, k, n, false, 0.5f, 2.0f, Shape{1, n}, seed++), "cpu", 1e-5, 1e-5);
                expect_backend_matches_ref(gemv_op(m, k, n, true, 1.5f, 1.0f, Shape{}, seed++), "cpu", 1e-5, 1e-5);
                expect_backend_matches_ref(gemv_op(m, k, n, false, 1.0f, 0.0f, Shape{n}, seed++), "cpu", 1e-5, 1e-5);
                expect_backend_matches_ref(gemv_op(m, k, n, false, 1.0f, 1.0f, std::nullopt, seed++), "cpu", 1e-5,
                                           1e-5);
                for (const char* act : {"Relu", "HardSwish", "Sigmoid"}) {
                    expect_backend_matches_ref(gemv_op(m, k, n, true, 1.0f, 1.0f, Shape{n}, seed++, act), "cpu", 1e-5,
                                               1e-5);
                }
            }
        }
    });
}

TEST(CpuGemv, ThreadedPanelsMatchTheReference) {
    for_each_isa([] {
        for (int64_t m : {1, 3}) {
            const OpRun r = gemv_op(m, 1024, 1000, true, 1.0f, 1.0f, Shape{1000}, 5, "HardSwish");
            const Direct d = Direct::make(r, 2);
            d.expect_matches_ref({random_f32({m, 1024}, 6), r.inputs[1], r.inputs[2]}, 1e-5, 1e-5);
        }
    });
}

TEST(CpuGemv, BadInputIsAnErrorNamingTheNode) {
    const OpRun r = gemv_op(1, 256, 128, true, 1.0f, 1.0f, Shape{128}, 3);
    const Direct d = Direct::make(r, 1);
    ASSERT_TRUE(d.kernel);
    for (const Shape& a : {Shape{1, 200}, Shape{5, 256}, Shape{256}}) {  // wrong K, too many rows, not 2-D
        auto out = d.run({random_f32(a, 1), r.inputs[1], r.inputs[2]});
        ASSERT_FALSE(out.is_ok()) << shape_to_string(a);
        EXPECT_NE(out.status().message().find("A must be a float32 [M, 256]"), std::string::npos)
            << out.status().message();
        EXPECT_NE(out.status().message().find("'node'"), std::string::npos) << out.status().message();
    }
}

/// B [k x n] packed into the 64-column panels of Kernels::panel_gemm.
std::vector<float> pack_panels(const Tensor& b, int64_t k, int64_t n) {
    const int64_t panels = (n + cpu::kPanel - 1) / cpu::kPanel;
    std::vector<float> w(static_cast<size_t>(panels * k * cpu::kPanel), 0.0f);
    for (int64_t p = 0; p < k; ++p) {
        for (int64_t j = 0; j < n; ++j) {
            w[static_cast<size_t>(((j / 64) * k + p) * 64 + j % 64)] = b.data<float>()[p * n + j];
        }
    }
    return w;
}

/// Options of a panel_gemm case beyond its sizes.
struct GemmCase {
    bool table = false;  ///< rows through a pointer table (uneven steps, as a strided convolution's pixels)
    bool bias = true;
    int z_mode = 0;  ///< 0 no residual, 1 beside the output, 2 in the output (in place)
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    int64_t taps = 1;
    int64_t zero_every = 0;  ///< every zero_every-th (tap, row) is the zero row (a convolution's padding)
};

/// One panel_gemm case, the panels split as two threads would ([0, 1) and [1, panels)), against sums in double.
/// Returns y (m x ldy).
std::vector<float> check_panel_gemm(int64_t m, int64_t kk, int64_t n, const GemmCase& o) {
    const int64_t panels = (n + cpu::kPanel - 1) / cpu::kPanel, lda = kk + 1, ldy = n + 3, taps = o.taps;
    const Tensor a = random_f32({2 * taps * m + 2, lda}, 1), b = random_f32({taps * kk, n}, 2);
    const Tensor bias = random_f32({n}, 3), zt = random_f32({m, ldy}, 4);
    const std::vector<float> w = pack_panels(b, taps * kk, n), zero(static_cast<size_t>(kk), 0.0f);
    // Row i of tap t: row 2 (t m + i) + (t m + i) % 2 of `a` through the table, else row i; or the zero row.
    std::vector<const float*> rows(static_cast<size_t>(taps * m));
    for (int64_t q = 0; q < taps * m; ++q) {
        const bool padding = o.zero_every > 0 && q % o.zero_every == 0;
        rows[static_cast<size_t>(q)] = padding ? zero.data() : a.data<float>() + (o.table ? 2 * q + q % 2 : q) * lda;
    }
    std::vector<float> y(static_cast<size_t>(m * ldy), 7.0f);
    if (o.z_mode == 2) std::copy(zt.data<float>(), zt.data<float>() + m * ldy, y.begin());  // z is y (in place)
    cpu::PanelGemm g;
    const bool table = o.table || taps > 1 || o.zero_every > 0;
    g.a = a.data<float>();
    g.lda = lda;
    g.rows = table ? rows.data() : nullptr;
    g.taps = taps;
    g.ld_rows = m;
    g.zero = o.zero_every > 0 ? zero.data() : nullptr;
    std::vector<float> part(static_cast<size_t>(m * cpu::kPanel), 0.0f);  // partial sums over long k (AVX-512)
    g.part = part.data();
    g.m = m;
    g.k = kk;
    g.w = w.data();
    g.n = n;
    g.bias = o.bias ? bias.data<float>() : nullptr;
    g.z = o.z_mode == 1 ? zt.data<float>() : o.z_mode == 2 ? y.data() : nullptr;
    g.ldz = ldy;
    g.y = y.data();
    g.ldy = ldy;
    g.lo = o.lo;
    g.hi = o.hi;
    g.g0 = 0;
    g.g1 = 1;
    cpu::kernels().panel_gemm(g);
    g.g0 = 1;
    g.g1 = panels;
    cpu::kernels().panel_gemm(g);
    const double tol = 2e-5 * (1.0 + double(taps * kk));
    for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < ldy; ++j) {
            double want = o.z_mode == 2 ? zt.data<float>()[i * ldy + j] : 7.0;
            if (j < n) {
                want = 0.0;
                for (int64_t t = 0; t < taps; ++t) {
                    const float* row = table ? rows[static_cast<size_t>(t * m + i)] : a.data<float>() + i * lda;
                    for (int64_t p = 0; p < kk; ++p) want += double(row[p]) * b.data<float>()[(t * kk + p) * n + j];
                }
                if (o.bias) want += bias.data<float>()[j];
                if (o.z_mode) want += zt.data<float>()[i * ldy + j];
                want = std::min<double>(o.hi, std::max<double>(o.lo, want));
            }
            const float got = y[static_cast<size_t>(i * ldy + j)];
            EXPECT_NEAR(got, want, tol) << "m " << m << " k " << kk << " n " << n << " taps " << taps << " at " << i
                                        << "," << j << " table " << o.table << " z " << o.z_mode;
            if (std::abs(got - want) > tol) return y;
        }
    }
    return y;
}

TEST(CpuPanelGemm, AgainstPlainLoops) {
    for_each_isa([&] {
        // Rows across tile sizes (1 to 6, then balanced tiles: 7 = 4 + 3, 13, 49 = 4 x 6 + 5 x 5), k with and without
        // tails, columns within a panel, at a panel's edge and across panels (the prefetch of the next panel).
        for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 13, 49}) {
            for (int64_t kk : {1, 3, 64, 300}) {
                for (int64_t n : {1, 15, 64, 65, 200}) check_panel_gemm(m, kk, n, {});
            }
        }
        // Epilogues: no bias, a residual beside or in the output, Relu and Clip as clamps; rows through a table.
        for (int64_t m : {3, 8, 49}) {
            for (bool table : {false, true}) {
                for (int z_mode : {0, 1, 2}) {
                    check_panel_gemm(m, 40, 130, {.table = table, .bias = z_mode != 1, .z_mode = z_mode, .lo = 0.0f});
                    check_panel_gemm(m, 40, 130, {.table = table, .z_mode = z_mode, .lo = -0.5f, .hi = 0.75f});
                }
            }
        }
        // Taps (a window): zero rows here and there, and all of them (every 1st), so whole taps of a tile are skipped.
        for (int64_t m : {7, 14, 49}) {
            for (int64_t zero_every : {0, 3, 7, 1}) {
                check_panel_gemm(m, 24, 100, {.z_mode = 1, .lo = 0.0f, .taps = 9, .zero_every = zero_every});
            }
        }
        // Sums longer than kPanelChunkSteps run in chunks (partial sums between them), split inside a tap or not.
        for (auto [taps, kk] : std::vector<std::pair<int64_t, int64_t>>{{9, 300}, {1, 5000}, {4, 1024}}) {
            check_panel_gemm(13, kk, 70, {.z_mode = 2, .lo = 0.0f, .taps = taps, .zero_every = taps > 1 ? 5 : 0});
        }
    });
}

TEST(CpuPanelGemm, VectorBuildsAgreeExactly) {
    // AVX2 and AVX-512 both sum over taps and k in order with a fused multiply-add, then add the bias and the
    // residual; the zero rows of a window's padding add nothing in either, and AVX-512's partial sums between chunks
    // (9 taps x 300: 2700 steps) change nothing.
    if (cpu::best_isa() != cpu::Isa::kAvx512) GTEST_SKIP() << "needs AVX-512 and AVX2";
    const std::vector<std::pair<GemmCase, int64_t>> cases = {
        {GemmCase{.table = true, .z_mode = 1, .lo = 0.0f, .hi = 6.0f}, 77},
        {GemmCase{.z_mode = 1, .lo = 0.0f, .taps = 9, .zero_every = 4}, 77},
        {GemmCase{.z_mode = 2, .taps = 9, .zero_every = 4}, 300}};
    for (const auto& [o, kk] : cases) {
        for (int64_t m : {5, 19}) {
            const int before = cpu::limit_isa(1);
            const std::vector<float> avx2 = check_panel_gemm(m, kk, 150, o);
            cpu::limit_isa(2);
            const std::vector<float> avx512 = check_panel_gemm(m, kk, 150, o);
            cpu::limit_isa(before);
            ASSERT_EQ(avx2.size(), avx512.size());
            for (size_t i = 0; i < avx2.size(); ++i) {
                ASSERT_EQ(avx2[i], avx512[i]) << "m " << m << " k " << kk << " at " << i;
            }
        }
    }
}

TEST(CpuPanelGemm, ClampKeepsNaN) {
    for_each_isa([] {
        const int64_t kk = 4, n = 20;
        Tensor b = random_f32({kk, n}, 5);
        b.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();  // column 3
        const std::vector<float> w = pack_panels(b, kk, n);
        std::vector<float> a(static_cast<size_t>(kk), 1.0f), y(static_cast<size_t>(n), 0.0f);
        cpu::PanelGemm g;
        g.a = a.data();
        g.lda = kk;
        g.m = 1;
        g.k = kk;
        g.w = w.data();
        g.g0 = 0;
        g.g1 = 1;
        g.n = n;
        g.y = y.data();
        g.ldy = n;
        g.lo = 0.0f;
        g.hi = 6.0f;
        cpu::kernels().panel_gemm(g);
        EXPECT_TRUE(std::isnan(y[3]));
        for (int64_t j = 0; j < n; ++j) {
            if (j != 3) {
                EXPECT_TRUE(y[static_cast<size_t>(j)] >= 0.0f && y[static_cast<size_t>(j)] <= 6.0f) << j;
            }
        }
    });
}

TEST(CpuGemv, Declines) {
    expect_backend_declines(gemv_op(5, 256, 256, false, 1.0f, 1.0f, Shape{256}, 1), "cpu", "a few rows");
    expect_backend_declines(gemv_op(1, 16, 16, false, 1.0f, 1.0f, Shape{16}, 2), "cpu", "too small");
    expect_backend_declines(gemv_op(2, 256, 256, false, 1.0f, 1.0f, Shape{2, 256}, 3), "cpu", "not a scalar or a row");
    OpRun ta = gemv_op(1, 256, 256, false, 1.0f, 1.0f, Shape{256}, 4);
    ta.inputs[0] = random_f32({256, 1}, 4);
    ta.attrs["transA"] = Attribute::make_int(1);
    expect_backend_declines(ta, "cpu", "only A not transposed");
    OpRun rb = gemv_op(1, 256, 256, false, 1.0f, 1.0f, Shape{256}, 5);
    rb.as_initializer = {false, false, true};
    expect_backend_declines(rb, "cpu", "B is not a constant");
}

// ---- convolutions with large weights (fp32) -----------------------------------------------------------------------

/// Window options of conv_op.
struct Win {
    int64_t k = 1, stride = 1, pad = 0, dilation = 1;
};

/// A Conv (activation null, no residual) or com.nnport FusedConv over x [n, c, h, w] with m output channels and a
/// k x k window; `nhwc` builds the NhwcConv / NhwcFusedConv form over x [n, h, w, c] instead (for Direct). The
/// residual Z has the output's shape.
OpRun conv_op(Shape x, int64_t m, Win win, bool bias, const char* activation, bool residual, uint32_t seed,
              bool nhwc = false) {
    OpRun r;
    const bool fused = activation || residual;
    r.op_type = std::string(nhwc ? "Nhwc" : "") + (fused ? "FusedConv" : "Conv");
    if (fused || nhwc) {
        r.domain = "com.nnport";
        r.opset = 1;
    }
    if (activation) r.attrs["activation"] = Attribute::make_string(activation);
    if (std::string(activation ? activation : "") == "Clip") {
        r.attrs["activation_params"] = Attribute::make_floats({-0.25f, 0.5f});
    }
    r.attrs["strides"] = Attribute::make_ints({win.stride, win.stride});
    r.attrs["pads"] = Attribute::make_ints({win.pad, win.pad, win.pad, win.pad});
    r.attrs["dilations"] = Attribute::make_ints({win.dilation, win.dilation});
    const int64_t c = x[nhwc ? 3 : 1];
    const float range = 1.0f / std::sqrt(float(c * win.k * win.k));
    r.inputs = {random_f32(x, seed), random_f32({m, c, win.k, win.k}, seed + 1, -range, range)};
    r.as_initializer = {false, true};
    if (bias || residual) {
        r.inputs.push_back(bias ? random_f32({m}, seed + 2) : Tensor());
        r.as_initializer.push_back(true);
    }
    if (residual) {
        const int64_t h = x[nhwc ? 1 : 2], w = x[nhwc ? 2 : 3], span = (win.k - 1) * win.dilation + 1;
        const int64_t oh = (h + 2 * win.pad - span) / win.stride + 1, ow = (w + 2 * win.pad - span) / win.stride + 1;
        r.inputs.push_back(random_f32(nhwc ? Shape{x[0], oh, ow, m} : Shape{x[0], m, oh, ow}, seed + 3));
        r.as_initializer.push_back(false);
    }
    return r;
}

TEST(CpuConv, MatchesTheReference) {
    if (cpu::isa() != cpu::Isa::kAvx512) GTEST_SKIP() << "taken only on AVX-512";
    uint32_t seed = 1;
    // 1x1, 512 x 1024 weights (2 MB): stride 1 and 2 (odd sizes: the last row and column), a batch of 2, every
    // epilogue.
    for (int64_t stride : {1, 2}) {
        SCOPED_TRACE("stride " + std::to_string(stride));
        const Win w{.stride = stride};
        expect_backend_matches_ref(conv_op({1, 512, 7, 7}, 1024, w, true, nullptr, false, seed++), "cpu", 1e-4, 1e-5);
        expect_backend_matches_ref(conv_op({2, 512, 5, 9}, 1024, w, false, nullptr, false, seed++), "cpu", 1e-4, 1e-5);
        for (const char* act : {"Identity", "Relu", "Clip"}) {
            for (bool residual : {false, true}) {
                expect_backend_matches_ref(conv_op({1, 512, 7, 6}, 1024, w, true, act, residual, seed++), "cpu", 1e-4,
                                           1e-5);
            }
        }
    }
    // Output channels not a multiple of the 64-column panels, and a single panel (pixels split across threads).
    expect_backend_matches_ref(conv_op({1, 2048, 3, 3}, 300, {}, true, "Relu", true, seed++), "cpu", 1e-4, 1e-5);
    expect_backend_matches_ref(conv_op({1, 8192, 4, 4}, 64, {}, true, nullptr, false, seed++), "cpu", 1e-4, 1e-5);
    // Windows (4.7 MB of weights, sums of 2304 steps in chunks): 3 x 3 padded at stride 1 and 2, dilated, 2 x 2 at
    // stride 2 (ConvNeXt's downsampling), 1x1 with padding (rows of zeros only), a batch of 2.
    const std::vector<std::pair<Win, Shape>> windows = {{{.k = 3, .pad = 1}, {1, 256, 7, 7}},
                                                        {{.k = 3, .stride = 2, .pad = 1}, {1, 256, 14, 13}},
                                                        {{.k = 3, .pad = 2, .dilation = 2}, {2, 256, 6, 5}},
                                                        {{.k = 2, .stride = 2}, {1, 1152, 8, 8}},
                                                        {{.k = 1, .pad = 1}, {1, 512, 4, 5}}};
    for (const auto& [w, x] : windows) {
        SCOPED_TRACE("window " + std::to_string(w.k) + " stride " + std::to_string(w.stride));
        expect_backend_matches_ref(conv_op(x, w.k == 1 ? 1024 : 512, w, true, "Relu", true, seed++), "cpu", 1e-4, 1e-5);
    }
    // 1x1 at stride 1 padded only at the end: more output pixels than input pixels (rows from the table, not X).
    OpRun end_pad = conv_op({1, 512, 4, 5}, 1024, {}, true, nullptr, false, seed++);
    end_pad.attrs["pads"] = Attribute::make_ints({0, 0, 1, 2});
    expect_backend_matches_ref(end_pad, "cpu", 1e-4, 1e-5);
}

TEST(CpuConv, ThreadedAgainstTheReference) {
    if (cpu::isa() != cpu::Isa::kAvx512) GTEST_SKIP() << "taken only on AVX-512";
    // Panels split across 2 and 3 threads (16 panels; 5 panels), and output rows when there are fewer panels than
    // threads; 1x1 and 3 x 3 windows.
    for (int threads : {2, 3}) {
        for (auto [c, m, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
                 {512, 1024, 1}, {2048, 300, 1}, {8192, 64, 1}, {512, 256, 3}, {2048, 64, 3}}) {
            for (int64_t stride : {1, 2}) {
                SCOPED_TRACE(std::to_string(threads) + " threads, " + std::to_string(c) + " -> " + std::to_string(m) +
                             ", window " + std::to_string(k) + ", stride " + std::to_string(stride));
                const OpRun r =
                    conv_op({1, 7, 9, c}, m, {.k = k, .stride = stride, .pad = k / 2}, true, "Relu", true, 7, true);
                Direct::make(r, threads).expect_matches_ref(r.inputs, 1e-4, 1e-5);
            }
        }
    }
}

TEST(CpuConv, Declines) {
    if (cpu::isa() != cpu::Isa::kAvx512) GTEST_SKIP() << "taken only on AVX-512";
    expect_backend_declines(conv_op({1, 256, 7, 7}, 1024, {}, true, nullptr, false, 1), "cpu",
                            "1x1 weights under 2 MB");
    expect_backend_declines(conv_op({1, 128, 7, 7}, 512, {.k = 3, .pad = 1}, true, nullptr, false, 2), "cpu",
                            "weights under 4 MB");
    expect_backend_declines(conv_op({1, 128, 12, 12}, 128, {.k = 9, .pad = 4}, true, nullptr, false, 3), "cpu",
                            "windows of at most 64 taps");
    OpRun grouped = conv_op({1, 1024, 7, 7}, 1024, {}, true, nullptr, false, 5);
    grouped.inputs[1] = random_f32({1024, 512, 1, 1}, 6);
    grouped.attrs["group"] = Attribute::make_int(2);
    expect_backend_declines(grouped, "cpu", "only group 1");
    expect_backend_declines(conv_op({1, 512, 7, 7}, 1024, {}, true, "Sigmoid", false, 7), "cpu",
                            "only Relu / Clip activations");
    OpRun inf = conv_op({1, 512, 7, 7}, 1024, {}, true, nullptr, false, 8);
    inf.inputs[1].data<float>()[5] = std::numeric_limits<float>::infinity();
    expect_backend_declines(inf, "cpu", "weights not all finite");
    const int before = cpu::limit_isa(1);
    expect_backend_declines(conv_op({1, 512, 7, 7}, 1024, {}, true, nullptr, false, 9), "cpu", "only with AVX-512");
    cpu::limit_isa(before);
}

TEST(CpuConv, BadInputNamesTheNode) {
    if (cpu::isa() != cpu::Isa::kAvx512) GTEST_SKIP() << "taken only on AVX-512";
    const OpRun r = conv_op({1, 7, 7, 512}, 1024, {}, true, "Relu", true, 1, true);
    const Direct d = Direct::make(r, 2);
    ASSERT_TRUE(d.kernel);
    auto bad_x = d.run({random_f32({1, 7, 7, 500}, 2), r.inputs[1], r.inputs[2], r.inputs[3]});
    ASSERT_FALSE(bad_x.is_ok());
    EXPECT_NE(bad_x.status().message().find("X must be a float32 [N, H, W, 512]"), std::string::npos)
        << bad_x.status().message();
    EXPECT_NE(bad_x.status().message().find("'node'"), std::string::npos) << bad_x.status().message();
    auto bad_z = d.run({r.inputs[0], r.inputs[1], r.inputs[2], random_f32({1, 7, 6, 1024}, 3)});
    ASSERT_FALSE(bad_z.is_ok());
    EXPECT_NE(bad_z.status().message().find("must be float32 with the output's shape"), std::string::npos)
        << bad_z.status().message();
}

// ---- LSTM -------------------------------------------------------------------------------------------------------

struct LstmCase {
    int64_t seq, batch, input, hidden;
    std::string direction = "forward";
    bool batch_first = false, bias = true, initial = false;
    int outputs = 3;
};

OpRun lstm(const LstmCase& c, uint32_t seed) {
    const int64_t dirs = c.direction == "bidirectional" ? 2 : 1, H = c.hidden;
    OpRun r;
    r.op_type = "LSTM";
    r.inputs = {random_f32(c.batch_first ? Shape{c.batch, c.seq, c.input} : Shape{c.seq, c.batch, c.input}, seed),
                random_f32({dirs, 4 * H, c.input}, seed + 1, -0.5f, 0.5f),
                random_f32({dirs, 4 * H, H}, seed + 2, -0.5f, 0.5f),
                c.bias ? random_f32({dirs, 8 * H}, seed + 3) : Tensor()};
    r.as_initializer = {false, true, true, true};
    if (c.initial) {
        const Shape st = c.batch_first ? Shape{c.batch, dirs, H} : Shape{dirs, c.batch, H};
        r.inputs.push_back(Tensor());  // sequence_lens
        r.inputs.push_back(random_f32(st, seed + 4));
        r.inputs.push_back(random_f32(st, seed + 5, -2.0f, 2.0f));
    }
    r.attrs["hidden_size"] = Attribute::make_int(H);
    r.attrs["direction"] = Attribute::make_string(c.direction);
    if (c.batch_first) r.attrs["layout"] = Attribute::make_int(1);
    if (dirs == 2) {  // spelled out: the reference duplicates a 3-name default for two directions
        r.attrs["activations"] = Attribute::make_strings({"Sigmoid", "Tanh", "Tanh", "Sigmoid", "Tanh", "Tanh"});
    }
    r.num_outputs = c.outputs;
    return r;
}

TEST(CpuLstm, DirectionsLayoutsAndSizes) {
    std::vector<LstmCase> cases = {
        {10, 1, 32, 64},
        {7, 3, 5, 20, "reverse"},
        {4, 2, 9, 7, "bidirectional"},
        {6, 2, 16, 33, "forward", true},
        {5, 4, 3, 16, "bidirectional", true, false, true},
        {3, 1, 8, 8, "reverse", false, false, true, 1},
        {1, 5, 12, 40, "forward", false, true, true, 2},
    };
    for_each_isa([&] {
        uint32_t seed = 100;
        for (const LstmCase& c : cases) {
            SCOPED_TRACE(::testing::Message() << "S " << c.seq << " B " << c.batch << " I " << c.input << " H "
                                              << c.hidden << " " << c.direction << (c.batch_first ? " layout 1" : "")
                                              << (c.bias ? " bias" : "") << (c.initial ? " initial" : ""));
            expect_backend_matches_ref(lstm(c, seed += 10), "cpu");
        }
    });
}

TEST(CpuKernels, LstmCellMatchesExactFormula) {
    for_each_isa([] {
        const cpu::Kernels& k = cpu::kernels();
        for (int64_t h : {1, 7, 8, 16, 19, 64}) {
            const Tensor g = random_f32({4 * h}, 7, -12.0f, 12.0f), c0 = random_f32({h}, 8, -3.0f, 3.0f);
            std::vector<float> c(c0.data<float>(), c0.data<float>() + h), cw = c;
            std::vector<float> hg(static_cast<size_t>(h)), hw(static_cast<size_t>(h));
            k.lstm_cell(g.data<float>(), c.data(), hg.data(), h);
            cpu::lstm_cell_exact(g.data<float>(), cw.data(), hw.data(), h);
            for (int64_t j = 0; j < h; ++j) {
                ASSERT_NEAR(c[size_t(j)], cw[size_t(j)], 1e-6 + 1e-5 * std::fabs(cw[size_t(j)])) << "h " << h;
                ASSERT_NEAR(hg[size_t(j)], hw[size_t(j)], 1e-6 + 1e-5 * std::fabs(hw[size_t(j)])) << "h " << h;
            }
        }
        // Saturated and tiny gates.
        const float big[8] = {-100.0f, 100.0f, 1e-4f, -1e-4f, 0.0f, 60.0f, -60.0f, 0.15f};
        std::vector<float> g(32), c(8, 0.5f), cw(8, 0.5f), hg(8), hw(8);
        for (int i = 0; i < 32; ++i) g[size_t(i)] = big[i % 8] * (i / 8 == 3 ? 1.0f : -1.0f);
        k.lstm_cell(g.data(), c.data(), hg.data(), 8);
        cpu::lstm_cell_exact(g.data(), cw.data(), hw.data(), 8);
        for (size_t j = 0; j < 8; ++j) {
            EXPECT_NEAR(c[j], cw[j], 1e-6 + 1e-5 * std::fabs(cw[j])) << j;
            EXPECT_NEAR(hg[j], hw[j], 1e-7 + 1e-5 * std::fabs(hw[j])) << j;
        }
    });
}

TEST(CpuLstm, Declines) {
    const LstmCase c{4, 2, 6, 8};
    OpRun r = lstm(c, 1);
    r.attrs["clip"] = Attribute::make_float(3.0f);
    expect_backend_declines(r, "cpu", "clip");
    r = lstm(c, 2);
    r.attrs["activations"] = Attribute::make_strings({"Sigmoid", "Relu", "Tanh"});
    expect_backend_declines(r, "cpu", "default activations");
    r = lstm(c, 3);
    r.attrs["input_forget"] = Attribute::make_int(1);
    expect_backend_declines(r, "cpu", "input_forget");
    r = lstm(c, 4);
    r.as_initializer = {false, false, true, true};  // W fed at run time
    expect_backend_declines(r, "cpu", "constants");
    r = lstm(c, 5);
    Tensor lens = std::move(Tensor::create(DType::kInt32, {2})).value();
    lens.data<int32_t>()[0] = 4;
    lens.data<int32_t>()[1] = 2;
    r.inputs.push_back(lens);
    expect_backend_declines(r, "cpu", "sequence_lens");
    r = lstm(c, 6);
    r.inputs.resize(8);
    r.inputs[7] = random_f32({1, 24}, 7);
    expect_backend_declines(r, "cpu", "peepholes");
}

TEST(CpuLstm, BadInputIsAnErrorNamingTheNode) {
    OpRun r = lstm(LstmCase{4, 2, 6, 8, "forward", false, true, true}, 9);
    const Direct d = Direct::make(r, 1);
    ASSERT_TRUE(d.kernel);
    std::vector<Tensor> in = r.inputs;
    in[0] = random_f32({4, 2, 5}, 1);  // input size 5, W has 6
    auto out = d.run(in);
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("input size"), std::string::npos) << out.status().message();
    in = r.inputs;
    in[5] = random_f32({1, 3, 8}, 2);  // initial_h for batch 3
    out = d.run(in);
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("initial_h"), std::string::npos) << out.status().message();
    EXPECT_NE(out.status().message().find("'node'"), std::string::npos) << out.status().message();
}

// ---- int8 depthwise convolution ---------------------------------------------------------------------------------

/// Whether this CPU runs the int8 depthwise convolution (AVX-512 VNNI and VBMI); the tests skip without.
bool qdw_available() { return cpu::best_isa() == cpu::Isa::kAvx512 && cpu::has_vnni_vbmi(); }

Attribute ints(std::vector<int64_t> v) { return Attribute::make_ints(std::move(v)); }

/// A depthwise QConv: C channels of [N, C, H, W] with a kh x kw filter each.
testing::QConv depthwise(Shape x, int64_t kh, int64_t kw, ir::Attributes attrs) {
    testing::QConv c;
    c.x = std::move(x);
    c.m = c.group = c.x[1];
    c.kh = kh;
    c.kw = kw;
    c.attrs = std::move(attrs);
    return c;
}

TEST(CpuQDwConv, BitExactWithTheReferenceAtEveryIsa) {
    if (!qdw_available()) GTEST_SKIP() << "no AVX-512 VNNI + VBMI";
    std::vector<std::pair<std::string, testing::QConv>> cases;
    {
        auto c = depthwise({1, 16, 9, 9}, 3, 3, {{"pads", ints({1, 1, 1, 1})}});
        c.act = "Relu";
        cases.emplace_back("uint8 3x3 pad 1, relu, bias, per channel", c);
    }
    {
        auto c = depthwise({1, 20, 11, 13}, 3, 3, {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}});
        c.x_signed = c.y_signed = true;
        c.x_zp = -5;
        c.y_zp = 3;
        c.bias = false;
        c.per_channel = false;
        c.act = "Clip";
        c.act_params = {-0.5f, 0.7f};
        cases.emplace_back("int8 stride 2, 20 channels (a 4-channel tail), per tensor, clip, no bias", c);
    }
    {
        auto c = depthwise({1, 24, 8, 10}, 3, 3, {{"pads", ints({1, 1, 1, 1})}});
        c.y_signed = true;
        c.x_zp = 255;
        c.y_zp = 0;
        cases.emplace_back("uint8 in, int8 out, zero point 255", c);
    }
    cases.emplace_back("5x5 pad 2 (two weight quads per column)",
                       depthwise({1, 40, 10, 10}, 5, 5, {{"pads", ints({2, 2, 2, 2})}}));
    cases.emplace_back("7x7 pad 3", depthwise({1, 16, 9, 9}, 7, 7, {{"pads", ints({3, 3, 3, 3})}}));
    cases.emplace_back("5x3", depthwise({1, 16, 9, 9}, 5, 3, {{"pads", ints({2, 1, 2, 1})}}));
    cases.emplace_back("3x3 dilation 2",
                       depthwise({1, 32, 12, 12}, 3, 3, {{"pads", ints({2, 2, 2, 2})}, {"dilations", ints({2, 2})}}));
    cases.emplace_back("asymmetric pads", depthwise({1, 16, 9, 10}, 3, 3, {{"pads", ints({0, 2, 1, 0})}}));
    cases.emplace_back("1x3", depthwise({1, 16, 5, 9}, 1, 3, {{"pads", ints({0, 1, 0, 1})}}));
    cases.emplace_back("3x1", depthwise({1, 16, 9, 5}, 3, 1, {{"pads", ints({1, 0, 1, 0})}}));
    cases.emplace_back("batch 2, 144 channels", depthwise({2, 144, 14, 14}, 3, 3, {{"pads", ints({1, 1, 1, 1})}}));
    cases.emplace_back("widths 1 to 3 (no 8-column block)",
                       depthwise({1, 48, 4, 3}, 3, 3, {{"pads", ints({1, 1, 1, 1})}}));
    cases.emplace_back("one output column", depthwise({1, 16, 4, 3}, 3, 3, {}));
    cases.emplace_back("wide rows (112 columns)", depthwise({1, 32, 6, 112}, 3, 3, {{"pads", ints({1, 1, 1, 1})}}));
    for (auto& [what, c] : cases) {
        SCOPED_TRACE(what);
        for_each_isa([&c = c] { expect_backend_matches_ref(testing::make_run(c), "cpu"); });
    }
}

TEST(CpuQDwConv, ThreadedRowsMatchTheReference) {
    if (!qdw_available()) GTEST_SKIP() << "no AVX-512 VNNI + VBMI";
    // The channels-last node itself, large enough (2.7M multiply-adds) for two threads' rows.
    auto c = depthwise({1, 96, 56, 56}, 3, 3, {{"pads", ints({1, 1, 1, 1})}});
    OpRun r = testing::make_run(c);
    r.op_type = "NhwcQLinearFusedConv";
    r.inputs[0] = testing::activations(false, {1, 56, 56, 96}, 7);
    const Direct d = Direct::make(r, 2);
    for_each_isa([&] { d.expect_matches_ref({r.inputs.begin(), r.inputs.end()}, 0, 0); });
}

TEST(CpuQDwConv, Declines) {
    if (!qdw_available()) GTEST_SKIP() << "no AVX-512 VNNI + VBMI";
    testing::QConv full;
    full.x = {1, 8, 6, 6};
    full.m = 8;
    expect_backend_declines(testing::make_run(full), "cpu", "only depthwise");
    auto big = depthwise({1, 16, 6, 6}, 3, 3, {});
    OpRun r = testing::make_run(big);
    r.inputs[6] = Tensor::scalar<float>(1e-6f);  // y_scale: requantized values far beyond 2^22
    expect_backend_declines(r, "cpu", "too large");
}

// ---- int8 matrix-vector product (QGemm at batch 1) ---------------------------------------------------------------

TEST(CpuQGemv, BitExactWithTheReferenceAtEveryIsa) {
    if (!qdw_available()) GTEST_SKIP() << "no AVX-512 VNNI + VBMI";
    std::vector<std::pair<std::string, testing::QFc>> cases;
    {
        testing::QFc c;
        c.m = 1;
        c.k = 1280;
        c.n = 1000;
        cases.emplace_back("a classifier: 1 x 1280 x 1000, uint8, transB, per column, bias", c);
    }
    {
        testing::QFc c;
        c.m = 2;
        c.k = 37;  // not a multiple of 4
        c.n = 70;  // one 64-column step and a 6-column tail
        c.a_signed = true;
        c.trans_b = false;
        c.per_column = false;
        c.bias = false;
        c.act = "Relu";
        cases.emplace_back("int8 A, B [K, N], per tensor, no bias, relu, odd K and N", c);
    }
    {
        testing::QFc c;
        c.m = 4;
        c.k = 64;
        c.n = 16;
        c.act = "Clip";
        c.act_params = {-0.25f, 0.5f};
        cases.emplace_back("4 rows, clip", c);
    }
    {
        testing::QFc c;
        c.m = 1;
        c.k = 3;
        c.n = 5;
        cases.emplace_back("tiny", c);
    }
    for (auto& [what, c] : cases) {
        SCOPED_TRACE(what);
        for_each_isa([&c = c] { expect_backend_matches_ref(testing::make_fc(c), "cpu", 0, 0); });
    }
}

TEST(CpuQGemv, ThreadedColumnsMatchTheReference) {
    if (!qdw_available()) GTEST_SKIP() << "no AVX-512 VNNI + VBMI";
    testing::QFc c;  // 2.6M multiply-adds: two threads' columns
    c.m = 1;
    c.k = 2048;
    c.n = 1250;
    const OpRun r = testing::make_fc(c);
    const Direct d = Direct::make(r, 2);
    for_each_isa([&] { d.expect_matches_ref({r.inputs.begin(), r.inputs.end()}, 0, 0); });
}

TEST(CpuQGemv, Declines) {
    if (!qdw_available()) GTEST_SKIP() << "no AVX-512 VNNI + VBMI";
    testing::QFc rows;
    rows.m = 8;
    expect_backend_declines(testing::make_fc(rows), "cpu", "only a few rows");
    testing::QFc q;
    q.m = 1;
    q.quantized = true;
    expect_backend_declines(testing::make_fc(q), "cpu", "only a float32 output");
}

}  // namespace
}  // namespace nnport

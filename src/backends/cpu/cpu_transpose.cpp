// Transpose on the cpu backend (float32). The permutation is normalised as the reference does it (dims of size 1
// dropped, output dims that stay contiguous in the input merged); when the last output dim is not the input's
// contiguous one, the copy is a batch of 2-D transposes between that dim and the output's last, done in registers
// (AVX-512: 16 x 16 blocks with masked edges, AVX2: 8 x 8) and split over threads in tiles. Permutations that keep
// the last dim contiguous are row copies, which the reference already does with memcpy: those are declined.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "core/thread_pool.hpp"
#include "ops/kernel_util.hpp"

namespace nnport::cpu {

namespace {

/// Elements below which a copy stays on the calling thread (64K floats: a few microseconds). With the session pool on
/// oneDNN's OpenMP threads, which are awake between nodes, the 150K floats of a 224 x 224 RGB input take 7.5-8.7 us
/// on two threads against 10.7-10.9 us on one (mobilenet_v3_small, AMD EPYC). On the separate pthreadpool of before
/// they had taken 0.37 ms on two (its workers had to be woken), hence the old threshold of 2^18.
constexpr int64_t kParallelElems = 1 << 16;
/// Tile edge (in elements) of the parallel split of one 2-D transpose.
constexpr int64_t kTile = 64;

/// The permutation (reversed axes without `perm`), or empty when invalid for `rank`.
std::vector<int64_t> perm_of(const AttrAccess& a, int64_t rank) {
    std::vector<int64_t> perm;
    if (!a.has_attr("perm")) {
        for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
        return perm;
    }
    perm = a.attr_ints("perm");
    if (static_cast<int64_t>(perm.size()) != rank) return {};
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t& p : perm) {
        if (p < -rank || p >= rank) return {};
        if (p < 0) p += rank;
        if (seen[static_cast<size_t>(p)]) return {};
        seen[static_cast<size_t>(p)] = true;
    }
    return perm;
}

/// The copy as output dims (contiguous output) with input strides, size-1 dims dropped and mergeable dims merged.
struct Plan {
    std::vector<int64_t> shape, strides;
};

Plan plan_of(const std::vector<int64_t>& dims, const std::vector<int64_t>& perm) {
    std::vector<int64_t> in_strides(dims.size(), 1);
    for (size_t d = dims.size(); d-- > 1;) in_strides[d - 1] = in_strides[d] * dims[d];
    Plan p;
    for (int64_t ax : perm) {
        const int64_t n = dims[static_cast<size_t>(ax)], s = in_strides[static_cast<size_t>(ax)];
        if (n == 1) continue;
        if (!p.shape.empty() && p.strides.back() == s * n) {
            p.shape.back() *= n;
            p.strides.back() = s;
        } else {
            p.shape.push_back(n);
            p.strides.push_back(s);
        }
    }
    return p;
}

/// Whether the plan needs a 2-D transpose (its last dim is not the input's contiguous one).
bool needs_transpose(const Plan& p) { return p.shape.size() >= 2 && p.strides.back() != 1; }

class TransposeKernel final : public BackendKernel {
public:
    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32) return ctx.input_error("X must be float32");
        const std::vector<int64_t> perm = perm_of(ctx, x.rank());
        if (perm.empty() && x.rank() > 0) return ctx.input_error("perm is not a permutation of the input's axes");
        Shape out_shape;
        bool identity = true;
        for (size_t i = 0; i < perm.size(); ++i) {
            out_shape.push_back(x.shape()[static_cast<size_t>(perm[i])]);
            identity = identity && perm[i] == static_cast<int64_t>(i);
        }
        if (identity) {
            ctx.set_output(0, x);
            return Status::ok();
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out_shape));
        if (y->numel() == 0) return Status::ok();
        const Plan p = plan_of(x.shape(), perm);
        const float* in = x.data<float>();
        float* out = y->data<float>();
        if (!needs_transpose(p)) {  // a plain copy or rows of the input's last dim
            copy_rows(ctx, p, in, out);
            return Status::ok();
        }
        transpose_2d(ctx, p, in, out);
        return Status::ok();
    }

private:
    static void copy_rows(KernelContext& ctx, const Plan& p, const float* in, float* out) {
        const size_t r = p.shape.size();
        const int64_t inner = r ? p.shape.back() : 1;
        int64_t rows = 1;
        for (size_t d = 0; d + 1 < r; ++d) rows *= p.shape[d];
        auto body = [&](int64_t b, int64_t e) {
            for (int64_t row = b; row < e; ++row) {
                int64_t off = 0, rem = row;
                for (size_t d = r - 1; d-- > 0;) {
                    off += (rem % p.shape[d]) * p.strides[d];
                    rem /= p.shape[d];
                }
                std::memcpy(out + row * inner, in + off, static_cast<size_t>(inner) * sizeof(float));
            }
        };
        if (rows > 1 && rows * inner >= kParallelElems) ctx.parallel_for(rows, body);
        else body(0, rows);
    }

    /// Dim p of the plan has input stride 1; with the last dim q they form the 2-D transposes; the others are batch.
    static void transpose_2d(KernelContext& ctx, const Plan& p, const float* in, float* out) {
        const size_t r = p.shape.size(), q = r - 1;
        size_t pd = 0;
        while (p.strides[pd] != 1) ++pd;
        std::vector<int64_t> out_strides(r, 1);
        for (size_t d = r - 1; d-- > 0;) out_strides[d] = out_strides[d + 1] * p.shape[d + 1];
        // Batch dims (all but pd and q), outermost first.
        std::vector<int64_t> bshape, bin, bout;
        for (size_t d = 0; d < q; ++d) {
            if (d == pd) continue;
            bshape.push_back(p.shape[d]);
            bin.push_back(p.strides[d]);
            bout.push_back(out_strides[d]);
        }
        int64_t batches = 1;
        for (int64_t n : bshape) batches *= n;
        // The transposed matrix: `rows` input rows (output dim q, input stride ldi) of `cols` contiguous elements
        // (output dim pd, output stride ldo).
        const int64_t rows = p.shape[q], cols = p.shape[pd], ldi = p.strides[q], ldo = out_strides[pd];
        const int64_t rt = (rows + kTile - 1) / kTile, ct = (cols + kTile - 1) / kTile;
        const int64_t total = batches * rows * cols;
        const Kernels& kern = kernels();
        auto body = [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) {
                int64_t b = t / (rt * ct), in_off = 0, out_off = 0;
                const int64_t tile = t % (rt * ct);
                for (size_t d = bshape.size(); d-- > 0;) {
                    const int64_t i = b % bshape[d];
                    b /= bshape[d];
                    in_off += i * bin[d];
                    out_off += i * bout[d];
                }
                const int64_t r0 = (tile / ct) * kTile, c0 = (tile % ct) * kTile;
                kern.transpose(in + in_off + r0 * ldi + c0, ldi, out + out_off + c0 * ldo + r0, ldo,
                               std::min(kTile, rows - r0), std::min(kTile, cols - c0));
            }
        };
        if (total >= kParallelElems && ctx.pool() && ctx.pool()->num_threads() > 1) {
            ctx.parallel_for(batches * rt * ct, body);
        } else {
            // One thread: whole matrices at a time (the kernel walks them in its own blocks).
            for (int64_t b = 0; b < batches; ++b) {
                int64_t i = b, in_off = 0, out_off = 0;
                for (size_t d = bshape.size(); d-- > 0;) {
                    in_off += (i % bshape[d]) * bin[d];
                    out_off += (i % bshape[d]) * bout[d];
                    i /= bshape[d];
                }
                kern.transpose(in + in_off, ldi, out + out_off, ldo, rows, cols);
            }
        }
    }
};

}  // namespace

bool is_transpose(const ir::Node& node) { return is_op(node, "", "Transpose"); }

Support transpose_supports(const ir::Node& node, const ConstantFn&) {
    if (!node.def) return Support::no("unknown op");
    const ir::Value* x = node.input(0);
    if (!is_f32(x)) return Support::no("only float32");
    const int64_t rank = rank_of(x);
    if (rank < 0) return Support::no("the input's rank must be known");
    const std::vector<int64_t> perm = perm_of(AttrAccess(node, *node.def), rank);
    if (perm.empty()) return Support::no("invalid perm");
    // With static dims the plan is known: a copy of whole rows is the reference's memcpy loop already.
    std::vector<int64_t> dims;
    for (const ir::Dim& d : x->type.dims) {
        if (!d.is_static()) return Support::yes();
        dims.push_back(d.value);
    }
    if (!needs_transpose(plan_of(dims, perm))) {
        return Support::no("moves whole rows (the reference's memcpy copy is as fast)");
    }
    return Support::yes();
}

Result<KernelPtr> transpose_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = transpose_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    return KernelPtr(std::make_unique<TransposeKernel>());
}

}  // namespace nnport::cpu

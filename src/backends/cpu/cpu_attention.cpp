// com.nnport ScaledDotProductAttention on the cpu backend: softmax(scale * Q K^T + mask) V over the last two dims,
// batch dims broadcast as MatMul does (the reference kernel's semantics, src/ops/sdpa.cpp).
//
// Work items are blocks of up to 64 query rows of one batch entry (batch x heads), spread over the session's
// threads. Per item: K is transposed once into a [D, S] scratch (skipped when K comes transposed) and reused while a
// thread stays on the same batch entry; the scores [rows, S] = scale * Q K^T come from the register-blocked GEMM of
// cpu_kernels (AVX-512: 8 x 32 tiles, AVX2: 6 x 16); each row gets the mask added and a vectorised softmax (a
// polynomial e^x, rows with no finite maximum fall back to the reference's formula, so NaN and -inf rows behave as
// there); the output rows are P V from the same GEMM, V read in place.
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_kernels.hpp"
#include "backends/cpu/cpu_ops.hpp"
#include "core/thread_pool.hpp"
#include "ops/kernel_util.hpp"

namespace nnport::cpu {

namespace {

constexpr int64_t kRowBlock = 64;
/// Multiply-adds below which the attention stays on the calling thread.
constexpr double kParallelMacs = 512.0 * 1024.0;

/// Element offsets of each index of `batch` into a tensor with leading dims `dims` (right-aligned, broadcast where
/// 1), in units of `unit`-element matrices.
std::vector<int64_t> batch_offsets(const Shape& dims, const Shape& batch, int64_t unit) {
    Shape full(batch.size() - dims.size(), 1);
    full.insert(full.end(), dims.begin(), dims.end());
    const std::vector<int64_t> st = broadcast_strides(full, batch);
    std::vector<int64_t> off(static_cast<size_t>(shape_numel(batch)));
    std::vector<int64_t> idx(batch.size(), 0);
    for (size_t i = 0; i < off.size(); ++i) {
        int64_t o = 0;
        for (size_t d = 0; d < batch.size(); ++d) o += idx[d] * st[d];
        off[i] = o * unit;
        for (size_t d = batch.size(); d-- > 0;) {
            if (++idx[d] < batch[d]) break;
            idx[d] = 0;
        }
    }
    return off;
}

class AttentionKernel final : public BackendKernel {
public:
    AttentionKernel(bool k_transposed, bool has_scale, float scale)
        : kt_(k_transposed), has_scale_(has_scale), scale_(scale) {}

    Status run(KernelContext& ctx) override {
        for (size_t i = 0; i < 3; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
        const Tensor& q = ctx.input(0);
        const Tensor& k = ctx.input(1);
        const Tensor& v = ctx.input(2);
        if (q.dtype() != DType::kFloat32 || k.dtype() != DType::kFloat32 || v.dtype() != DType::kFloat32) {
            return ctx.input_error("Q, K and V must be float32");
        }
        if (q.rank() < 2 || k.rank() < 2 || v.rank() < 2) return ctx.input_error("Q, K and V need rank >= 2");
        const int64_t L = q.dim(q.rank() - 2), D = q.dim(q.rank() - 1);
        const int64_t S = kt_ ? k.dim(k.rank() - 1) : k.dim(k.rank() - 2);
        const int64_t Dk = kt_ ? k.dim(k.rank() - 2) : k.dim(k.rank() - 1);
        const int64_t Dv = v.dim(v.rank() - 1);
        if (Dk != D) {
            return ctx.input_error("Q " + shape_to_string(q.shape()) + " and K " + shape_to_string(k.shape()) +
                                   " head sizes differ");
        }
        if (v.dim(v.rank() - 2) != S) return ctx.input_error("K and V sequence lengths differ");
        const Shape qb(q.shape().begin(), q.shape().end() - 2), kb(k.shape().begin(), k.shape().end() - 2),
            vb(v.shape().begin(), v.shape().end() - 2);
        auto b1 = broadcast_shapes(qb, kb);
        if (!b1.is_ok()) return ctx.input_error(b1.status().message());
        auto b2 = broadcast_shapes(b1.value(), vb);
        if (!b2.is_ok()) return ctx.input_error(b2.status().message());
        const Shape batch = b2.value();
        Shape out = batch;
        out.push_back(L);
        out.push_back(Dv);
        Shape scores_shape = batch;
        scores_shape.push_back(L);
        scores_shape.push_back(S);
        const Tensor* mask = ctx.has_input(3) ? &ctx.input(3) : nullptr;
        std::vector<int64_t> mst;
        if (mask) {
            if (mask->dtype() != DType::kFloat32) return ctx.input_error("mask must be float32 (additive mask)");
            auto mb = broadcast_shapes(mask->shape(), scores_shape);
            if (mask->rank() > static_cast<int64_t>(scores_shape.size()) || !mb.is_ok() ||
                mb.value() != scores_shape) {
                return ctx.input_error("mask " + shape_to_string(mask->shape()) +
                                       " does not broadcast to the scores " + shape_to_string(scores_shape));
            }
            mst = broadcast_strides(mask->shape(), scores_shape);
        }
        if (S > kMaxTensorBytes / static_cast<int64_t>(kRowBlock * sizeof(float)) ||
            (!kt_ && D > 0 && S > kMaxTensorBytes / static_cast<int64_t>(D * sizeof(float)))) {
            return ctx.input_error("sequence length " + std::to_string(S) + " is too long");
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out));
        if (y->numel() == 0) return Status::ok();
        const float scale = has_scale_ ? scale_ : static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
        const std::vector<int64_t> qo = batch_offsets(qb, batch, L * D), ko = batch_offsets(kb, batch, S * D),
                                   vo = batch_offsets(vb, batch, S * Dv);
        std::vector<int64_t> mo;
        int64_t m_row = 0, m_col = 0;
        if (mask) {
            mo.assign(static_cast<size_t>(shape_numel(batch)), 0);
            std::vector<int64_t> idx(batch.size(), 0);
            for (size_t i = 0; i < mo.size(); ++i) {
                for (size_t d = 0; d < batch.size(); ++d) mo[i] += idx[d] * mst[d];
                for (size_t d = batch.size(); d-- > 0;) {
                    if (++idx[d] < batch[d]) break;
                    idx[d] = 0;
                }
            }
            m_row = mst[mst.size() - 2];
            m_col = mst.back();
        }
        const Kernels& kern = kernels();
        const int64_t nb = shape_numel(batch);
        // Equal row blocks of at most kRowBlock rows, a multiple of 8 (the GEMM's tile height) where possible.
        const int64_t nblk = (L + kRowBlock - 1) / kRowBlock;
        const int64_t rows_per = std::min(kRowBlock, ((L + nblk - 1) / nblk + 7) / 8 * 8);
        const int64_t blocks = (L + rows_per - 1) / rows_per;
        const float* qd = q.data<float>();
        const float* kd = k.data<float>();
        const float* vd = v.data<float>();
        const float* md = mask ? mask->data<float>() : nullptr;
        float* yd = y->data<float>();
        auto body = [&](int64_t t0, int64_t t1) {
            std::vector<float> scores(static_cast<size_t>(std::min(rows_per, L) * S));
            std::vector<float> kpack(kt_ ? 0 : static_cast<size_t>(D * S));
            int64_t packed = -1;
            for (int64_t t = t0; t < t1; ++t) {
                const int64_t b = t / blocks;
                const size_t bi = static_cast<size_t>(b);
                const int64_t i0 = (t % blocks) * rows_per, rows = std::min(rows_per, L - i0);
                const float* kt = kd + ko[bi];
                if (!kt_) {
                    if (packed != ko[bi]) {
                        kern.transpose(kd + ko[bi], D, kpack.data(), S, S, D);
                        packed = ko[bi];
                    }
                    kt = kpack.data();
                }
                float* sc = scores.data();
                kern.gemm(rows, S, D, scale, qd + qo[bi] + i0 * D, D, kt, S, sc, S);
                for (int64_t r = 0; r < rows; ++r) {
                    const float* mrow = md ? md + mo[bi] + (i0 + r) * m_row : nullptr;
                    kern.softmax(sc + r * S, S, mrow, m_col == 1 ? 1 : 0);
                }
                kern.gemm(rows, Dv, S, 1.0f, sc, S, vd + vo[bi], Dv, yd + (b * L + i0) * Dv, Dv);
            }
        };
        // Threads only for enough work: waking a worker costs more than a small attention (transformer-sized heads).
        const int64_t tasks = nb * blocks;
        const double macs = static_cast<double>(nb) * static_cast<double>(L) * static_cast<double>(S) *
                            static_cast<double>(D + Dv);
        if (tasks > 1 && macs >= kParallelMacs) ctx.parallel_for(tasks, body);
        else body(0, tasks);
        return Status::ok();
    }

private:
    bool kt_;
    bool has_scale_;
    float scale_;
};

}  // namespace

bool is_attention(const ir::Node& node) { return is_op(node, "com.nnport", "ScaledDotProductAttention"); }

Support attention_supports(const ir::Node& node, const ConstantFn&) {
    if (!node.def) return Support::no("unknown op");
    for (size_t i = 0; i < node.inputs().size(); ++i) {
        if (node.input(i) && !is_f32(node.input(i))) return Support::no("only float32 Q, K, V and mask");
    }
    if (node.inputs().size() < 3 || !node.input(1) || !node.input(2)) return Support::no("needs Q, K and V");
    return Support::yes();
}

Result<KernelPtr> attention_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = attention_supports(node, ctx.constant);
    if (!s.ok) return unsupported("cpu: " + node.describe() + ": " + s.reason);
    const AttrAccess a(node, *node.def);
    const bool has_scale = a.has_attr("scale");
    return KernelPtr(std::make_unique<AttentionKernel>(a.attr_int("k_transposed") != 0, has_scale,
                                                       has_scale ? a.attr_float("scale") : 0.0f));
}

}  // namespace nnport::cpu

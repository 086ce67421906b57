// Attention helpers: shape resolution (3-D/4-D, GQA, KV cache), attribute checks, mask preparation, cache concat.
#pragma once

#include <cstring>
#include <limits>
#include <vector>

#include "ops/kernel_util.hpp"

namespace nnport::attn {

/// Sizes of one Attention call; -1 where unknown at load time.
struct Dims {
    int64_t batch = -1, q_heads = -1, kv_heads = -1, q_seq = -1, kv_seq = -1;
    int64_t past = 0;    ///< past_sequence_length (0 without a past cache)
    int64_t total = -1;  ///< past + kv_seq
    int64_t head = -1, v_head = -1;
    bool rank3 = false;  ///< Q/K/V are [B, S, H*D] rather than [B, H, S, D]
};

/// Attributes resolved for the kernel.
struct Options {
    double scale = 1.0;
    double softcap = 0.0;
    bool causal = false;
    int64_t mode = 0;             ///< qk_matmul_output_mode
    bool softmax_double = false;  ///< softmax_precision asks for double
};

/// Raw input pointers for one dtype; the mask is additive (bool masks converted) with broadcast strides.
template <typename T>
struct Inputs {
    const T *q = nullptr, *k = nullptr, *v = nullptr, *past_k = nullptr, *past_v = nullptr;
    const int64_t* nonpad = nullptr;
    const T* mask = nullptr;
    int64_t mask_len = 0;                       ///< last mask dim; keys past it are masked out
    int64_t mask_sb = 0, mask_sh = 0, mask_sq = 0;  ///< strides over batch, q head, query row (0 = broadcast)
};

/// Validates qk_matmul_output_mode, softmax_precision and scale.
Status check_attrs(const AttrAccess& a);
/// Resolves sizes from Q/K/V dims (and past dims when known); fails on definite contradictions.
Result<Dims> resolve(const AttrAccess& a, const std::vector<int64_t>& q, const std::vector<int64_t>& k,
                     const std::vector<int64_t>& v, bool has_past, const std::vector<int64_t>* past_k,
                     const std::vector<int64_t>* past_v);
/// attn_mask must have rank 1..4, broadcast to (B, Hq, Sq, .) and a last dim of at most total_sequence_length.
Status check_mask_dims(const AttrAccess& a, const std::vector<int64_t>& m, const Dims& d);
/// Kernel options (scale defaults to 1/sqrt(head_size)).
Options options(const AttrAccess& a, int64_t head);
/// Checks nonpad_kv_seqlen (opset 24): int64 [B] with values in [0, total].
Result<const int64_t*> check_nonpad(const KernelContext& ctx, const Tensor& t, const Dims& d);

/// Sets `in.mask*` from attn_mask: bool (true = attend) becomes 0/-inf; numbers are added as they are.
template <typename T>
Status additive_mask(const KernelContext& ctx, const Tensor& m, const Dims& d, std::vector<T>& buf, Inputs<T>& in) {
    NNPORT_RETURN_IF_ERROR(check_mask_dims(ctx, m.shape(), d));
    Shape s4(static_cast<size_t>(4 - m.rank()), 1);
    s4.insert(s4.end(), m.shape().begin(), m.shape().end());
    in.mask_len = s4[3];
    in.mask_sq = s4[2] == 1 ? 0 : s4[3];
    in.mask_sh = s4[1] == 1 ? 0 : s4[2] * s4[3];
    in.mask_sb = s4[0] == 1 ? 0 : s4[1] * s4[2] * s4[3];
    if (m.dtype() == DTypeOf<T>::value) {
        in.mask = m.data<T>();
        return Status::ok();
    }
    buf.resize(static_cast<size_t>(m.numel()));
    if (m.dtype() == DType::kBool) {
        const bool* p = m.data<bool>();
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = p[i] ? T(0) : -std::numeric_limits<T>::infinity();
    } else {
        NNPORT_DISPATCH_NUMERIC(m.dtype(), M, ctx, {
            const M* p = m.data<M>();
            for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<T>(p[i]);
        });
    }
    in.mask = buf.data();
    return Status::ok();
}

/// present[b, h] = concat(past[b, h] (P rows), new rows of src) as [B, H, P+S, W]; src is [B, S, H*W] if rank3.
template <typename T>
void concat_cache(const T* past, const T* src, T* dst, int64_t B, int64_t H, int64_t P, int64_t S, int64_t W,
                  bool rank3) {
    if (W == 0) return;  // an empty cache: nothing to copy
    const size_t row = static_cast<size_t>(W) * sizeof(T);
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t h = 0; h < H; ++h) {
            T* out = dst + (b * H + h) * (P + S) * W;
            if (past && P > 0) std::memcpy(out, past + (b * H + h) * P * W, row * static_cast<size_t>(P));
            for (int64_t s = 0; s < S; ++s) {
                const T* in = rank3 ? src + (b * S + s) * H * W + h * W : src + ((b * H + h) * S + s) * W;
                std::memcpy(out + (P + s) * W, in, row);
            }
        }
    }
}

}  // namespace nnport::attn

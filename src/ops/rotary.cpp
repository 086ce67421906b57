// RotaryEmbedding (opset 23): rotary position embeddings (RoPE) on [B, S, H*D] or [B, H, S, D] inputs, with
// optional position_ids into 2-D cos/sin caches, partial rotation and the interleaved (GPT-J) pairing.
#include "ops/kernel_util.hpp"

namespace nnport {

namespace {

/// Static facts about the input layout; -1 where unknown at load time.
struct RopeLayout {
    int64_t batch = -1, seq = -1, heads = -1, head_size = -1;
};

/// Resolves batch/seq/heads/head_size from X's dims (rank 3 needs num_heads). Fails on definite contradictions.
Result<RopeLayout> rope_layout(const AttrAccess& a, const std::vector<int64_t>& xd) {
    RopeLayout l;
    const int64_t num_heads = a.attr_int("num_heads");
    if (num_heads < 0) return a.error("num_heads must be >= 0");
    if (xd.size() == 4) {
        l.batch = xd[0];
        l.heads = xd[1];
        l.seq = xd[2];
        l.head_size = xd[3];
    } else if (xd.size() == 3) {
        if (num_heads == 0) return a.error("num_heads is required for a 3-D input");
        l.batch = xd[0];
        l.seq = xd[1];
        l.heads = num_heads;
        if (xd[2] >= 0) {
            if (xd[2] % num_heads != 0) {
                return a.error("hidden size " + std::to_string(xd[2]) + " is not a multiple of num_heads " +
                               std::to_string(num_heads));
            }
            l.head_size = xd[2] / num_heads;
        }
    } else {
        return a.error("input must be 3-D or 4-D, got rank " + std::to_string(xd.size()));
    }
    return l;
}

/// The rotated width: rotary_embedding_dim, or head_size when 0. -1 if unknown.
Result<int64_t> rotary_dim(const AttrAccess& a, int64_t head_size) {
    const int64_t r = a.attr_int("rotary_embedding_dim");
    if (r < 0) return a.error("rotary_embedding_dim must be >= 0");
    const int64_t rot = r == 0 ? head_size : r;
    if (rot < 0) return int64_t{-1};
    if (rot % 2 != 0) return a.error("the rotated dimension " + std::to_string(rot) + " must be even");
    if (head_size >= 0 && rot > head_size) {
        return a.error("rotary_embedding_dim " + std::to_string(rot) + " exceeds head size " +
                       std::to_string(head_size));
    }
    return rot;
}

std::vector<int64_t> dims_or_unknown(const ir::ValueType& t) {
    std::vector<int64_t> d;
    for (const ir::Dim& x : t.dims) d.push_back(x.is_static() ? x.value : -1);
    return d;
}

bool conflict(int64_t a, int64_t b) { return a >= 0 && b >= 0 && a != b; }

Status rope_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    ctx.set_output(0, xt);
    const ir::ValueType& ct = ctx.input_type(1);
    const ir::ValueType& st = ctx.input_type(2);
    const bool has_pos = ctx.has_input(3);
    const int64_t cache_rank = has_pos ? 2 : 3;
    for (const ir::ValueType* t : {&ct, &st}) {
        if (t->has_shape && t->rank() != cache_rank) {
            return ctx.error(std::string("cos/sin caches must be ") + (has_pos ? "2-D with" : "3-D without") +
                             " position_ids, got " + t->to_string());
        }
    }
    if (ct.has_shape && st.has_shape) {
        for (size_t i = 0; i < ct.dims.size(); ++i) {
            if (conflict(ct.dims[i].value, st.dims[i].value)) {
                return ctx.error("cos_cache " + ct.to_string() + " and sin_cache " + st.to_string() + " differ");
            }
        }
    }
    if (!xt.has_shape) return Status::ok();
    NNPORT_ASSIGN_OR_RETURN(RopeLayout l, rope_layout(ctx, dims_or_unknown(xt)));
    NNPORT_ASSIGN_OR_RETURN(int64_t rot, rotary_dim(ctx, l.head_size));
    if (ct.has_shape && rot >= 0 && conflict(ct.dims.back().value, rot / 2)) {
        return ctx.error("cache last dim must be rotary_dim/2 = " + std::to_string(rot / 2) + ", got " +
                         ct.to_string());
    }
    return Status::ok();
}

template <typename T>
void rope_apply(KernelContext& ctx, const RopeLayout& l, bool rank3, int64_t rot, bool interleaved, const T* x,
                const T* cos, const T* sin, const int64_t* pos, T* y) {
    const int64_t half = rot / 2, hs = l.head_size, H = l.heads, S = l.seq;
    ctx.parallel_for(l.batch * S, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / S, s = t % S;
            // Cache row of this token: position_ids into [max_pos, half], else [B, S, half] indexed directly.
            const int64_t row = pos ? pos[t] : t;
            const T* c = cos + row * half;
            const T* sn = sin + row * half;
            for (int64_t h = 0; h < H; ++h) {
                const int64_t off = rank3 ? (t * H + h) * hs : ((b * H + h) * S + s) * hs;
                const T* xi = x + off;
                T* yo = y + off;
                if (interleaved) {
                    for (int64_t i = 0; i < half; ++i) {
                        const T x1 = xi[2 * i], x2 = xi[2 * i + 1];
                        yo[2 * i] = c[i] * x1 - sn[i] * x2;
                        yo[2 * i + 1] = sn[i] * x1 + c[i] * x2;
                    }
                } else {
                    for (int64_t i = 0; i < half; ++i) {
                        const T x1 = xi[i], x2 = xi[half + i];
                        yo[i] = c[i] * x1 - sn[i] * x2;
                        yo[half + i] = sn[i] * x1 + c[i] * x2;
                    }
                }
                for (int64_t i = rot; i < hs; ++i) yo[i] = xi[i];
            }
        }
    });
}

Status rope_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(2));
    const Tensor& x = ctx.input(0);
    const Tensor& cos = ctx.input(1);
    const Tensor& sin = ctx.input(2);
    NNPORT_ASSIGN_OR_RETURN(RopeLayout l, rope_layout(ctx, x.shape()));
    NNPORT_ASSIGN_OR_RETURN(int64_t rot, rotary_dim(ctx, l.head_size));
    if (cos.dtype() != x.dtype() || sin.dtype() != x.dtype()) {
        return ctx.input_error("cos_cache and sin_cache must have X's element type");
    }
    if (cos.shape() != sin.shape()) {
        return ctx.input_error("cos_cache " + shape_to_string(cos.shape()) + " and sin_cache " +
                               shape_to_string(sin.shape()) + " differ");
    }
    const int64_t half = rot / 2;
    const int64_t* pos = nullptr;
    if (ctx.has_input(3)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(3));
        const Tensor& p = ctx.input(3);
        if (p.dtype() != DType::kInt64) return ctx.input_error("position_ids must be int64");
        if (p.shape() != Shape{l.batch, l.seq}) {
            return ctx.input_error("position_ids " + shape_to_string(p.shape()) + " must be [batch, seq] = " +
                                   shape_to_string({l.batch, l.seq}));
        }
        if (cos.rank() != 2 || cos.dim(1) != half) {
            return ctx.input_error("with position_ids the caches must be [max_position, " + std::to_string(half) +
                                   "], got " + shape_to_string(cos.shape()));
        }
        pos = p.data<int64_t>();
        for (int64_t i = 0; i < p.numel(); ++i) {
            if (pos[i] < 0 || pos[i] >= cos.dim(0)) {
                return ctx.input_error("position id " + std::to_string(pos[i]) + " is outside the cache of " +
                                       std::to_string(cos.dim(0)) + " positions");
            }
        }
    } else if (cos.shape() != Shape{l.batch, l.seq, half}) {
        return ctx.input_error("without position_ids the caches must be [batch, seq, rotary_dim/2] = " +
                               shape_to_string({l.batch, l.seq, half}) + ", got " + shape_to_string(cos.shape()));
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    if (x.numel() == 0) return Status::ok();
    const bool interleaved = ctx.attr_int("interleaved") != 0;
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        rope_apply<T>(ctx, l, x.rank() == 3, rot, interleaved, x.data<T>(), cos.data<T>(), sin.data<T>(), pos,
                      y->data<T>());
    });
    return Status::ok();
}

}  // namespace

const OpDef& op_def_RotaryEmbedding() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "RotaryEmbedding";
        o.since_version = 23;
        o.min_inputs = 3;
        o.max_inputs = 4;
        o.attrs = {AttrSpec::i("interleaved", 0), AttrSpec::i("rotary_embedding_dim", 0), AttrSpec::i("num_heads", 0)};
        o.infer = rope_infer;
        o.kernel = rope_kernel;
        o.input0_types = float_types();
        o.doc = "Rotary position embedding of the first rotary_embedding_dim channels of each head.";
        return o;
    }();
    return d;
}

}  // namespace nnport

#!/usr/bin/env python3
# Prints the hard-coded expected arrays of tests/ops/transformer_test.cpp (run with /usr/bin/python3; needs numpy).
# rope() and attention() are float64 transcriptions of the ONNX reference implementations
# onnx/reference/ops/op_rotary_embedding.py and op_attention.py (attention with the fully-masked-row errata: 0).
import numpy as np

def pseudo(n, seed):
    s = (seed * 2654435761 + 12345) & 0xFFFFFFFF
    out = []
    for _ in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out.append(((s >> 8) & 0xFFFF) / 32768.0 - 1.0)
    return np.array(out, dtype=np.float64)

def rnd(shape, seed):
    return pseudo(int(np.prod(shape)), seed).reshape(shape)

def rope(x, cos_cache, sin_cache, position_ids=None, interleaved=0, rotary_embedding_dim=0, num_heads=0):
    orig = x.shape
    if x.ndim == 4:
        x = np.transpose(x, (0, 2, 1, 3))
    b, s = x.shape[0], x.shape[1]
    if x.ndim == 3:
        x = x.reshape(b, s, num_heads, x.shape[2] // num_heads)
    hs = x.shape[3]
    rd = rotary_embedding_dim or hs
    xr, xn = x[..., :rd], x[..., rd:]
    if position_ids is not None:
        cos, sin = cos_cache[position_ids], sin_cache[position_ids]
    else:
        cos, sin = cos_cache, sin_cache
    cos, sin = cos[:, :, None, :], sin[:, :, None, :]
    if interleaved:
        x1, x2 = xr[..., 0::2], xr[..., 1::2]
    else:
        x1, x2 = np.split(xr, 2, axis=-1)
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if interleaved:
        xr = np.stack([real, imag], axis=-1).reshape(xr.shape)
    else:
        xr = np.concatenate([real, imag], axis=-1)
    out = np.concatenate([xr, xn], axis=-1)
    return out.reshape(orig) if len(orig) == 3 else np.transpose(out, (0, 2, 1, 3))

def softmax_safe(x):
    m = np.max(x, axis=-1, keepdims=True)
    full = np.isneginf(m)
    e = np.exp(x - np.where(full, 0, m))
    s = np.sum(e, axis=-1, keepdims=True)
    return np.where(full, 0.0, e / np.where(full, 1.0, s))

def attention(Q, K, V, attn_mask=None, past_key=None, past_value=None, scale=None, is_causal=False,
              q_num_heads=None, kv_num_heads=None, softcap=None):
    r3 = Q.ndim == 3
    if r3:
        B = Q.shape[0]
        Q = Q.reshape(B, Q.shape[1], q_num_heads, -1).transpose(0, 2, 1, 3)
        K = K.reshape(B, K.shape[1], kv_num_heads, -1).transpose(0, 2, 1, 3)
        V = V.reshape(B, V.shape[1], kv_num_heads, -1).transpose(0, 2, 1, 3)
    if scale is None:
        scale = 1 / np.sqrt(Q.shape[3])
    pk = K if past_key is None else np.concatenate([past_key, K], axis=2)
    pv = V if past_value is None else np.concatenate([past_value, V], axis=2)
    K, V = pk, pv
    sq, T = Q.shape[2], K.shape[2]
    bias = np.zeros((sq, T))
    if attn_mask is not None:
        pad = T - attn_mask.shape[-1]
        if pad > 0:
            attn_mask = np.pad(attn_mask, [(0, 0)] * (attn_mask.ndim - 1) + [(0, pad)],
                               constant_values=(False if attn_mask.dtype == np.bool_ else -np.inf))
        if attn_mask.dtype == np.bool_:
            attn_mask = np.where(attn_mask, 0.0, -np.inf)
        bias = bias + attn_mask
    if is_causal:
        off = 0 if past_key is None else past_key.shape[2]
        i = np.arange(sq)[:, None]
        j = np.arange(T)[None, :]
        bias = bias + np.where(j <= i + off, 0.0, -np.inf)
    rep = Q.shape[1] // K.shape[1]
    K = np.repeat(K, rep, axis=1)
    V = np.repeat(V, rep, axis=1)
    qk = (Q * np.sqrt(scale)) @ (np.transpose(K, (0, 1, 3, 2)) * np.sqrt(scale))
    if softcap:
        qk = softcap * np.tanh(qk / softcap)
    p = softmax_safe(qk + bias)
    y = p @ V
    if r3:
        y = y.transpose(0, 2, 1, 3).reshape(y.shape[0], y.shape[2], -1)
    return y, pk, pv

def emit(name, a):
    vals = ", ".join("%.9g" % v for v in np.asarray(a).ravel())
    print("// %s %s" % (name, list(np.asarray(a).shape)))
    print("const std::vector<double> %s = {%s};" % (name, vals))

# Rotary 1: 4-D [1,2,3,4], position_ids, non-interleaved, full rotation.
x = rnd((1, 2, 3, 4), 11); c = rnd((5, 2), 12); s = rnd((5, 2), 13); pos = np.array([[4, 0, 2]])
emit("kRope4d", rope(x, c, s, pos))
# Rotary 2: 3-D [2,2,2*6] with num_heads=2, interleaved, rotary_embedding_dim=4, caches [2,2,2].
x = rnd((2, 2, 12), 21); c = rnd((2, 2, 2), 22); s = rnd((2, 2, 2), 23)
emit("kRope3dInterleavedPartial", rope(x, c, s, None, interleaved=1, rotary_embedding_dim=4, num_heads=2))
# Attention 1: 4-D basic [2,2,3,4] x [2,2,5,4], V head 3.
y, _, _ = attention(rnd((2, 2, 3, 4), 31), rnd((2, 2, 5, 4), 32), rnd((2, 2, 5, 3), 33))
emit("kAttnBasic", y)
# Attention 2: 3-D GQA (4 q heads, 2 kv heads, head 2), causal, past 2, kv 2, q 2.
Q = rnd((1, 2, 8), 41); K = rnd((1, 2, 4), 42); V = rnd((1, 2, 4), 43)
pk = rnd((1, 2, 2, 2), 44); pv = rnd((1, 2, 2, 2), 45)
y, pko, pvo = attention(Q, K, V, past_key=pk, past_value=pv, is_causal=True, q_num_heads=4, kv_num_heads=2)
emit("kAttnGqaCausalPast", y)
emit("kAttnGqaPresentKey", pko)
# Attention 3: bool mask [3, 4] (short of total 5) with a fully masked row, softcap 2, scale 0.5.
m = np.array([[True, False, True, True], [False, False, False, False], [True, True, False, True]])
y, _, _ = attention(rnd((1, 1, 3, 2), 51), rnd((1, 1, 5, 2), 52), rnd((1, 1, 5, 2), 53), attn_mask=m, scale=0.5,
                    softcap=2.0)
emit("kAttnBoolMaskSoftcap", y)

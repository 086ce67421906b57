// Attention helpers: shape resolution, attribute checks and nonpad_kv_seqlen validation.
#include "ops/attention_util.hpp"

#include <cmath>

namespace nnport::attn {

namespace {

bool same(int64_t x, int64_t y) { return x < 0 || y < 0 || x == y; }
int64_t pick(int64_t x, int64_t y) { return x >= 0 ? x : y; }

/// hidden / heads for 3-D inputs; -1 when hidden is unknown.
Result<int64_t> split_hidden(const AttrAccess& a, int64_t hidden, int64_t heads, const char* what) {
    if (hidden < 0) return int64_t{-1};
    if (hidden % heads != 0) {
        return a.error(std::string(what) + " hidden size " + std::to_string(hidden) + " is not a multiple of " +
                       std::to_string(heads) + " heads");
    }
    return hidden / heads;
}

}  // namespace

Status check_attrs(const AttrAccess& a) {
    const int64_t mode = a.attr_int("qk_matmul_output_mode");
    if (mode < 0 || mode > 3) return a.error("qk_matmul_output_mode must be 0, 1, 2 or 3");
    if (a.has_attr("softmax_precision")) {
        const int64_t p = a.attr_int("softmax_precision");
        if (p != 1 && p != 10 && p != 11 && p != 16) return a.error("softmax_precision must be a float type");
    }
    if (a.has_attr("scale")) {
        const float s = a.attr_float("scale");
        if (!(s > 0.0f) || !std::isfinite(s)) return a.error("scale must be a positive finite number");
    }
    if (a.attr_int("q_num_heads") < 0 || a.attr_int("kv_num_heads") < 0) return a.error("head counts must be >= 0");
    return Status::ok();
}

Result<Dims> resolve(const AttrAccess& a, const std::vector<int64_t>& q, const std::vector<int64_t>& k,
                     const std::vector<int64_t>& v, bool has_past, const std::vector<int64_t>* past_k,
                     const std::vector<int64_t>* past_v) {
    if (q.size() != k.size() || q.size() != v.size()) return a.error("Q, K and V must have the same rank");
    if (q.size() != 3 && q.size() != 4) return a.error("Q, K and V must be 3-D or 4-D");
    Dims d;
    d.rank3 = q.size() == 3;
    if (!same(q[0], k[0]) || !same(q[0], v[0]) || !same(k[0], v[0])) return a.error("Q, K and V batch sizes differ");
    d.batch = pick(q[0], pick(k[0], v[0]));
    const int64_t qn = a.attr_int("q_num_heads"), kvn = a.attr_int("kv_num_heads");
    const size_t seq = d.rank3 ? 1 : 2;
    if (!same(k[seq], v[seq])) return a.error("K and V sequence lengths differ");
    d.q_seq = q[seq];
    d.kv_seq = pick(k[seq], v[seq]);
    int64_t k_head;
    if (d.rank3) {
        if (qn == 0 || kvn == 0) return a.error("q_num_heads and kv_num_heads are required for 3-D inputs");
        d.q_heads = qn;
        d.kv_heads = kvn;
        NNPORT_ASSIGN_OR_RETURN(d.head, split_hidden(a, q[2], qn, "Q"));
        NNPORT_ASSIGN_OR_RETURN(k_head, split_hidden(a, k[2], kvn, "K"));
        NNPORT_ASSIGN_OR_RETURN(d.v_head, split_hidden(a, v[2], kvn, "V"));
    } else {
        if (!same(k[1], v[1])) return a.error("K and V head counts differ");
        d.q_heads = q[1];
        d.kv_heads = pick(k[1], v[1]);
        if ((qn != 0 && !same(qn, d.q_heads)) || (kvn != 0 && !same(kvn, d.kv_heads))) {
            return a.error("q_num_heads/kv_num_heads contradict the 4-D input shapes");
        }
        d.head = q[3];
        k_head = k[3];
        d.v_head = v[3];
    }
    if (!same(d.head, k_head)) return a.error("Q and K head sizes differ");
    d.head = pick(d.head, k_head);
    if (d.kv_heads == 0) return a.error("K and V need at least one head");
    if (d.q_heads >= 0 && d.kv_heads > 0 && d.q_heads % d.kv_heads != 0) {
        return a.error("q heads (" + std::to_string(d.q_heads) + ") must be a multiple of kv heads (" +
                       std::to_string(d.kv_heads) + ")");
    }
    if (has_past) {
        d.past = -1;
        for (const std::vector<int64_t>* p : {past_k, past_v}) {
            if (!p) continue;
            if (p->size() != 4) return a.error("past_key/past_value must be 4-D");
            const std::vector<int64_t>& pd = *p;
            if (!same(pd[0], d.batch) || !same(pd[1], d.kv_heads)) {
                return a.error("past cache batch/heads do not match K and V");
            }
            if (!same(pd[3], p == past_k ? d.head : d.v_head)) return a.error("past cache head size does not match");
            if (!same(pd[2], d.past)) return a.error("past_key and past_value lengths differ");
            d.past = pick(d.past, pd[2]);
        }
    }
    d.total = d.past >= 0 && d.kv_seq >= 0 ? d.past + d.kv_seq : -1;
    return d;
}

Status check_mask_dims(const AttrAccess& a, const std::vector<int64_t>& m, const Dims& d) {
    if (m.empty() || m.size() > 4) return a.error("attn_mask must have rank 1 to 4");
    if (m.back() >= 0 && d.total >= 0 && m.back() > d.total) {
        return a.error("attn_mask last dim " + std::to_string(m.back()) + " exceeds total sequence length " +
                       std::to_string(d.total));
    }
    const int64_t target[3] = {d.batch, d.q_heads, d.q_seq};
    for (size_t i = 0; i + 1 < m.size(); ++i) {
        const int64_t want = target[3 - (m.size() - 1) + i];
        if (m[i] >= 0 && m[i] != 1 && want >= 0 && m[i] != want) {
            return a.error("attn_mask dims do not broadcast to (batch, q_heads, q_seq, total_seq)");
        }
    }
    return Status::ok();
}

Options options(const AttrAccess& a, int64_t head) {
    Options o;
    o.scale = a.has_attr("scale") ? a.attr_float("scale") : (head > 0 ? 1.0 / std::sqrt(double(head)) : 1.0);
    o.softcap = a.attr_float("softcap");
    o.causal = a.attr_int("is_causal") != 0;
    o.mode = a.attr_int("qk_matmul_output_mode");
    o.softmax_double = a.has_attr("softmax_precision") && a.attr_int("softmax_precision") == 11;
    return o;
}

Result<const int64_t*> check_nonpad(const KernelContext& ctx, const Tensor& t, const Dims& d) {
    if (ctx.opset() < 24) return ctx.error("nonpad_kv_seqlen (input 6) needs opset 24");
    if (t.dtype() != DType::kInt64 || t.shape() != Shape{d.batch}) {
        return ctx.input_error("nonpad_kv_seqlen must be int64 of shape [batch]");
    }
    const int64_t* p = t.data<int64_t>();
    for (int64_t i = 0; i < t.numel(); ++i) {
        if (p[i] < 0 || p[i] > d.total) {
            return ctx.input_error("nonpad_kv_seqlen value " + std::to_string(p[i]) + " is outside [0, " +
                                   std::to_string(d.total) + "]");
        }
    }
    return p;
}

}  // namespace nnport::attn

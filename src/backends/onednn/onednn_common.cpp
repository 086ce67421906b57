// oneDNN backend shared pieces: engine, per-thread stream and scratchpad, threads, post-ops, weight layouts.
#include "backends/onednn/onednn_common.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>

namespace nnport::onednn {

const dnnl::engine& engine() {
    static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

dnnl::stream& stream() {
    thread_local dnnl::stream s(engine());
    return s;
}

void set_threads(int threads) {
    const int n = threads < 1 ? 1 : threads;
    if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

int threads_for(double work, int64_t per_thread, int max_threads) {
    const int top = std::max(max_threads, 1);
    const double useful = per_thread > 0 ? work / static_cast<double>(per_thread) : top;
    return useful >= top ? top : std::max(1, static_cast<int>(useful));
}

dnnl::primitive_attr base_attr() {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
}

namespace {

/// This thread's scratchpad: one growing 64-byte aligned buffer (a thread runs one primitive at a time).
void* thread_scratchpad(size_t bytes) {
    struct Buf {
        void* p = nullptr;
        size_t size = 0;
        ~Buf() { std::free(p); }
    };
    thread_local Buf buf;
    if (bytes > buf.size) {
        std::free(buf.p);
        const size_t rounded = (bytes + 63) / 64 * 64;
        buf.p = std::aligned_alloc(64, rounded);
        buf.size = buf.p ? rounded : 0;
        if (!buf.p) throw dnnl::error(dnnl_out_of_memory, "scratchpad allocation failed");
    }
    return buf.p;
}

}  // namespace

void execute(const dnnl::primitive& prim, const dnnl::primitive_desc_base& pd, std::unordered_map<int, dnnl::memory> args) {
    const dnnl::memory::desc sd = pd.scratchpad_desc();
    if (sd.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(sd, engine(), thread_scratchpad(sd.get_size())));
    dnnl::stream& s = stream();
    prim.execute(s, args);
    s.wait();
}

dnnl::memory wrap(const dnnl::memory::desc& md, const void* data) {
    return dnnl::memory(md, engine(), const_cast<void*>(data));  // NOLINT: oneDNN takes void* for inputs too
}

void append_activation(dnnl::post_ops& po, const fused::Activation& a) {
    using alg = dnnl::algorithm;
    switch (a.kind) {
        case fused::Act::kIdentity: return;
        case fused::Act::kRelu: po.append_eltwise(1.0f, alg::eltwise_relu, 0.0f, 0.0f); return;
        case fused::Act::kClip: po.append_eltwise(1.0f, alg::eltwise_clip_v2, a.p0, a.p1); return;
        case fused::Act::kLeakyRelu: po.append_eltwise(1.0f, alg::eltwise_relu, a.p0, 0.0f); return;
        case fused::Act::kSigmoid: po.append_eltwise(1.0f, alg::eltwise_logistic, 0.0f, 0.0f); return;
        case fused::Act::kHardSigmoid:  // min(1, max(0, alpha*x + beta)): oneDNN 2.6 has no hardsigmoid
            po.append_eltwise(1.0f, alg::eltwise_linear, a.p0, a.p1);
            po.append_eltwise(1.0f, alg::eltwise_clip_v2, 0.0f, 1.0f);
            return;
        case fused::Act::kHardSwish: po.append_eltwise(1.0f, alg::eltwise_hardswish, 0.0f, 0.0f); return;
        case fused::Act::kSwish: po.append_eltwise(1.0f, alg::eltwise_swish, a.p0, 0.0f); return;
        case fused::Act::kGelu: po.append_eltwise(1.0f, alg::eltwise_gelu_erf, 0.0f, 0.0f); return;
        case fused::Act::kGeluTanh: po.append_eltwise(1.0f, alg::eltwise_gelu_tanh, 0.0f, 0.0f); return;
        case fused::Act::kTanh: po.append_eltwise(1.0f, alg::eltwise_tanh, 0.0f, 0.0f); return;
    }
}

Status error_status(const ir::Node& node, const std::string& what, const dnnl::error& e) {
    return internal_error("oneDNN: " + what + " for " + node.describe() + ": " + e.what());
}

std::vector<int64_t> static_dims(const ir::Value* v) {
    std::vector<int64_t> d;
    if (!v || !v->type.has_shape) return d;
    for (const ir::Dim& x : v->type.dims) {
        if (!x.is_static()) return {};
        d.push_back(x.value);
    }
    return d;
}

dnnl::memory WeightCache::get(const dnnl::memory::desc& want) {
    for (const dnnl::memory& m : copies_) {
        if (m.get_desc() == want) return m;
    }
    dnnl::memory dst(want, engine());
    dnnl::memory src = wrap(user_, data_);
    dnnl::reorder(src, dst).execute(stream(), src, dst);
    stream().wait();
    copies_.push_back(dst);
    return dst;
}

}  // namespace nnport::onednn

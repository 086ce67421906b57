// Helpers shared by the clean-up, folding and layout passes.
#include "passes/rewrite_util.hpp"

#include <cstring>

#include "ops/op_def.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

bool value_needed(const ir::Value* v) { return v && (!v->uses().empty() || v->is_graph_output() || v->is_captured()); }

bool forward_input(ir::Graph& g, ir::Node* n, ir::Value* in, size_t out_index) {
    ir::Value* out = n->output(out_index);
    if (!out || !in || !replace_value(g, out, in)) return false;
    for (const ir::Value* o : n->outputs()) {
        if (value_needed(o)) return true;
    }
    g.remove_node(n);
    return true;
}

void replace_node_by_constants(ir::Graph& g, ir::Node* n, std::vector<Tensor> values) {
    std::vector<ir::Value*> outs = n->outputs();
    g.remove_node(n);
    for (size_t i = 0; i < outs.size() && i < values.size(); ++i) {
        ir::Value* v = outs[i];
        if (!value_needed(v) || !values[i].defined()) continue;
        v->type = ir::ValueType::tensor(values[i].dtype(), values[i].shape());
        v->set_initializer(std::move(values[i]));
    }
}

static bool is_half(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

std::vector<Tensor> evaluate_node(const ir::Node& n, const std::function<const Tensor*(const ir::Value*)>& input) {
    const OpDef* d = n.def;
    if (!d || !d->kernel || !d->foldable || !n.subgraphs().empty()) return {};
    const size_t nin = n.inputs().size();
    std::vector<RtValue> in_vals(nin);
    std::vector<const RtValue*> in_ptrs(nin, nullptr);
    DType half_seen = DType::kUndefined;
    for (size_t i = 0; i < nin; ++i) {
        if (!n.input(i)) continue;
        const Tensor* t = input(n.input(i));
        if (!t) return {};
        if (d->half_via_float && is_half(t->dtype())) {
            auto f = to_float32(*t);
            if (!f.is_ok()) return {};
            half_seen = t->dtype();
            in_vals[i] = RtValue(std::move(f).value());
        } else {
            in_vals[i] = RtValue(*t);
        }
        in_ptrs[i] = &in_vals[i];
    }
    std::vector<RtValue> outs(n.outputs().size());
    KernelContext kc(n, *d, in_ptrs, &outs, nullptr, nullptr);
    if (!d->kernel(kc).is_ok()) return {};
    std::vector<Tensor> result(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
        const ir::Value* o = n.output(i);
        if (!o) continue;
        if (!outs[i].is_tensor()) return {};
        Tensor t = std::move(outs[i].tensor);
        const DType want = o->type.dtype != DType::kUndefined ? o->type.dtype : half_seen;
        if (d->half_via_float && t.dtype() == DType::kFloat32 && is_half(want)) {
            auto h = from_float32(t, want);
            if (!h.is_ok()) return {};
            t = std::move(h).value();
        }
        if (t.dtype() != o->type.dtype) return {};
        if (o->type.has_shape && o->type.is_static() && t.shape() != o->type.static_shape()) return {};
        result[i] = std::move(t);
    }
    return result;
}

std::vector<int64_t> transpose_perm(const ir::Node& n, int64_t rank) {
    std::vector<int64_t> p;
    if (const ir::Attribute* a = n.attr("perm")) {
        p = a->ints;
    } else {
        if (rank < 0) return {};
        for (int64_t i = rank - 1; i >= 0; --i) p.push_back(i);
    }
    if (rank >= 0 && static_cast<int64_t>(p.size()) != rank) return {};
    std::vector<bool> seen(p.size(), false);
    for (int64_t x : p) {
        if (x < 0 || x >= static_cast<int64_t>(p.size()) || seen[static_cast<size_t>(x)]) return {};
        seen[static_cast<size_t>(x)] = true;
    }
    return p;
}

bool is_identity_perm(const std::vector<int64_t>& p) {
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] != static_cast<int64_t>(i)) return false;
    }
    return true;
}

std::vector<int64_t> inverse_perm(const std::vector<int64_t>& p) {
    std::vector<int64_t> q(p.size());
    for (size_t i = 0; i < p.size(); ++i) q[static_cast<size_t>(p[i])] = static_cast<int64_t>(i);
    return q;
}

std::vector<int64_t> compose_perm(const std::vector<int64_t>& first, const std::vector<int64_t>& second) {
    // y = T2(T1(x)): y dim j = T1(x) dim second[j] = x dim first[second[j]].
    std::vector<int64_t> c(second.size());
    for (size_t j = 0; j < second.size(); ++j) c[j] = first[static_cast<size_t>(second[j])];
    return c;
}

Tensor transpose_tensor(const Tensor& t, const std::vector<int64_t>& perm) {
    const size_t r = perm.size();
    if (t.dtype() == DType::kString || static_cast<int64_t>(r) != t.rank()) return Tensor();
    Shape out_shape(r);
    for (size_t i = 0; i < r; ++i) out_shape[i] = t.shape()[static_cast<size_t>(perm[i])];
    auto created = Tensor::create(t.dtype(), out_shape);
    if (!created.is_ok()) return Tensor();
    Tensor out = std::move(created).value();
    const size_t es = dtype_size(t.dtype());
    // Input strides, visited in output order.
    std::vector<int64_t> in_strides(r, 1), strides(r);
    for (size_t i = r; i-- > 1;) in_strides[i - 1] = in_strides[i] * t.shape()[i];
    for (size_t i = 0; i < r; ++i) strides[i] = in_strides[static_cast<size_t>(perm[i])];
    const auto* src = static_cast<const uint8_t*>(t.raw_data());
    auto* dst = static_cast<uint8_t*>(out.raw_data());
    std::vector<int64_t> idx(r, 0);
    int64_t off = 0;
    for (int64_t o = 0; o < out.numel(); ++o) {
        std::memcpy(dst + static_cast<size_t>(o) * es, src + static_cast<size_t>(off) * es, es);
        for (size_t d = r; d-- > 0;) {
            if (++idx[d] < out_shape[d]) {
                off += strides[d];
                break;
            }
            off -= strides[d] * (out_shape[d] - 1);
            idx[d] = 0;
        }
    }
    return out;
}

}  // namespace nnport::passes

// fuse_qdq: runs QDQ models (QuantizeLinear / DequantizeLinear pairs, as ONNX Runtime's quantizer and nnport
// quantize write them) as real int8 ops instead of dequantize-then-float32 (custom ops only):
//   DQ(x) + DQ(w int8 constant) [+ DQ(bias int32 constant) | float constant bias] -> Conv [-> Relu | Clip] -> Q(y)
//       becomes one com.nnport QLinearFusedConv (the activation as a clamp of the quantized output, exact);
//   DQ(a) + DQ(b) -> Add [-> Relu | Clip] -> Q(y) (residual connections) becomes one com.nnport QLinearAdd, which
//       computes exactly what the float ops compute, on the int8 data;
//   DQ(x) -> MaxPool / Reshape / Flatten -> Q(y) with y's scale and zero point equal to x's becomes the op on the
//       quantized data (these ops only move or select values, and Q(DQ(q)) == q);
//   DQ(a) x DQ(w int8 constant) [+ bias] -> Gemm (transA 0, alpha and beta 1) [-> Relu | Clip] [-> Q(y)] becomes one
//       com.nnport QGemm (float32 output without the Q; the bias rounded to int32 at a_scale * w_scale, as the
//       quantizers that write int32 biases do);
//   DQ(w int8 constant) -> other Gemm / MatMul weights: dequantized once at load (exact).
// Declines (leaves the float path) on: per-tensor parameters that are not constant scalars, weights that are not a
// constant int8/uint8 tensor quantized per tensor or along axis 0, float16/float64 dequantized values, a bias whose
// scale is not x_scale * w_scale, and intermediate float values read by anything else. It runs before constant
// folding (order 105), which would otherwise fold small dequantized weights into float32 constants.
#include <cmath>

#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {

namespace {

bool is_int8(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

/// A per-tensor quantization: DQ(q, scale, zp) / Q(v, scale, zp) with constant scalar float32 scale and int8 zp.
struct QParams {
    ir::Value* scale = nullptr;
    ir::Value* zp = nullptr;  ///< nullptr: absent (zero of the data type)
    double scale_v = 0;
    int64_t zp_v = 0;
};

/// Per-tensor parameters of a Q/DQ node (inputs 1 and 2), or nullopt.
std::optional<QParams> per_tensor_params(const ir::Node* n) {
    if (!n || !n->def || n->inputs().size() < 2) return std::nullopt;
    QParams p;
    p.scale = n->input(1);
    p.zp = n->inputs().size() > 2 ? n->input(2) : nullptr;
    const Tensor* s = constant_of(p.scale);
    if (!s || s->dtype() != DType::kFloat32 || s->numel() != 1) return std::nullopt;
    p.scale_v = s->item_as_double();
    if (!(p.scale_v > 0) || !std::isfinite(p.scale_v)) return std::nullopt;
    if (p.zp) {
        const Tensor* z = constant_of(p.zp);
        if (!z || !is_int8(z->dtype()) || z->numel() != 1) return std::nullopt;
        p.zp_v = static_cast<int64_t>(z->item_as_double());
    }
    if (attrs_of(*n).attr_int("block_size") != 0) return std::nullopt;
    return p;
}

/// The DequantizeLinear producing `v` from int8 data into float32, or nullptr.
ir::Node* int8_dq(const ir::Value* v) {
    ir::Node* dq = v ? v->producer() : nullptr;
    if (!is_op(dq, "DequantizeLinear") || !dq->def || dq->output(0)->type.dtype != DType::kFloat32) return nullptr;
    return is_int8(dq->input(0)->type.dtype) ? dq : nullptr;
}

/// The QuantizeLinear reading `v` as its only use, quantizing float32 to int8 per tensor with a zero point given.
ir::Node* int8_q_of(const ir::Value* v) {
    ir::Node* q = sole_consumer(v);
    if (!is_op(q, "QuantizeLinear") || !q->def || q->input(0) != v || v->type.dtype != DType::kFloat32) return nullptr;
    if (q->inputs().size() < 3 || !q->input(2) || !is_int8(q->output(0)->type.dtype)) return nullptr;
    if (attrs_of(*q).attr_int("output_dtype") != 0) return nullptr;
    return per_tensor_params(q) ? q : nullptr;
}

/// A zero point constant of `dtype` when the DQ omits it.
ir::Value* zero_point_or_zero(ir::Graph& g, ir::Value* zp, DType dtype, const std::string& base) {
    if (zp) return zp;
    return add_constant(g, base + "_zero_point",
                        dtype == DType::kInt8 ? Tensor::scalar<int8_t>(0) : Tensor::scalar<uint8_t>(0));
}

/// The bias of the quantized conv as int32 with scale x_scale * w_scale[m]: a DQ of an int32 constant with exactly
/// that scale (reused), or a float32 constant quantized here. nullptr with `ok` false: decline.
ir::Value* int32_bias(ir::Graph& g, ir::Value* b, double xs, const Tensor& ws, int64_t m, bool& ok) {
    ok = true;
    if (!b) return nullptr;
    ok = false;
    auto scale_at = [&](int64_t k) { return xs * ws.item_as_double(ws.numel() == 1 ? 0 : k); };
    if (ir::Node* dq = b->producer(); is_op(dq, "DequantizeLinear") && dq->def) {
        const Tensor* q = constant_of(dq->input(0));
        const Tensor* s = constant_of(dq->input(1));
        const Tensor* z = dq->inputs().size() > 2 && dq->input(2) ? constant_of(dq->input(2)) : nullptr;
        if (!q || !s || q->dtype() != DType::kInt32 || q->rank() != 1 || q->dim(0) != m) return nullptr;
        if (dq->inputs().size() > 2 && dq->input(2) && (!z || z->dtype() != DType::kInt32)) return nullptr;
        if (s->numel() != 1 && s->numel() != m) return nullptr;
        for (int64_t k = 0; k < m; ++k) {
            if (z && z->item_as_double(z->numel() == 1 ? 0 : k) != 0) return nullptr;
            if (!near(s->item_as_double(s->numel() == 1 ? 0 : k), scale_at(k), 1e-5)) return nullptr;
        }
        ok = true;
        return dq->input(0);
    }
    const Tensor* f = constant_of(b);
    if (!f || f->dtype() != DType::kFloat32 || f->rank() != 1 || f->dim(0) != m) return nullptr;
    Tensor q = Tensor::create(DType::kInt32, {m}).value();
    for (int64_t k = 0; k < m; ++k) {
        const double r = std::nearbyint(f->data<float>()[k] / scale_at(k));
        if (!std::isfinite(r) || std::fabs(r) > 2147483647.0) return nullptr;
        q.data<int32_t>()[k] = static_cast<int32_t>(r);
    }
    ok = true;
    return add_constant(g, b->name() + "_int32", std::move(q));
}

/// The activation between the conv and its Q: Relu or Clip with constant bounds. Sets `act` / `params`.
bool match_act(const ir::Node* n, std::string& act, std::vector<float>& params) {
    if (is_op(n, "Relu")) {
        act = "Relu";
        return true;
    }
    if (!is_op(n, "Clip") || n->has_attr("min") || n->has_attr("max")) return false;
    float lo = -INFINITY, hi = INFINITY;
    for (size_t i = 1; i < 3 && i < n->inputs().size(); ++i) {
        if (!n->input(i)) continue;
        auto c = const_scalar(n->input(i));
        if (!c) return false;
        (i == 1 ? lo : hi) = static_cast<float>(*c);
    }
    if (!(lo <= hi)) return false;
    act = "Clip";
    params = {lo, hi};
    return true;
}

/// The Relu / Clip that reads `v` as its only use, with its name and parameters in `act` / `params`; nullptr (and
/// `act` "Identity") when there is none.
ir::Node* activation_of(ir::Value* v, std::string& act, std::vector<float>& params) {
    act = "Identity";
    params.clear();
    ir::Node* n = sole_consumer(v);
    return n && n->input(0) == v && match_act(n, act, params) ? n : nullptr;
}

/// Constant int8 weights behind a DequantizeLinear, quantized per tensor or per channel along one axis.
struct QWeights {
    const Tensor* w = nullptr;
    const Tensor* scale = nullptr;  ///< float32: one value, or one per channel
    ir::Value* zp = nullptr;        ///< nullptr: absent
    int64_t channels = 0;           ///< w's size along the channel axis
};

/// The weights of `wdq` when its data is a constant of rank in [lo, hi] and its scale (and zero point, same shape)
/// one value or one per channel along `axis`; else nullopt.
std::optional<QWeights> quantized_weights(const ir::Node* wdq, int64_t lo, int64_t hi, int64_t axis) {
    QWeights q;
    q.w = constant_of(wdq->input(0));
    q.scale = constant_of(wdq->input(1));
    q.zp = wdq->inputs().size() > 2 ? wdq->input(2) : nullptr;
    const Tensor* wz = q.zp ? constant_of(q.zp) : nullptr;
    if (!q.w || !q.scale || (q.zp && !wz) || q.w->rank() < lo || q.w->rank() > hi) return std::nullopt;
    if (q.scale->dtype() != DType::kFloat32) return std::nullopt;
    q.channels = q.w->dim(axis);
    if (q.scale->numel() != 1) {
        int64_t a = attrs_of(*wdq).attr_int("axis");
        if (a < 0) a += q.w->rank();
        if (a != axis || q.scale->rank() != 1 || q.scale->dim(0) != q.channels) return std::nullopt;
        if (attrs_of(*wdq).attr_int("block_size") != 0) return std::nullopt;
    }
    if (wz && (wz->shape() != q.scale->shape() || wz->dtype() != q.w->dtype())) return std::nullopt;
    return q;
}

/// Gives fused node `f` its activation attributes (`act`, `params`) and the place of `out`: out's type and readers.
/// False, with `f` removed, when `out` cannot be rewired.
bool take_place(ir::Graph& g, ir::Node* f, const std::string& act, const std::vector<float>& params, ir::Value* out) {
    f->attrs["activation"] = ir::Attribute::make_string(act);
    if (!params.empty()) f->attrs["activation_params"] = ir::Attribute::make_floats(params);
    f->output(0)->type = out->type;
    if (replace_value(g, out, f->output(0))) return true;
    g.remove_node(f);
    return false;
}

/// DQ -> Conv [-> act] -> Q starting from the Conv.
Result<bool> fuse_conv(ir::Graph& g, PassContext& ctx, ir::Node* conv) {
    ir::Node* xdq = int8_dq(conv->input(0));
    ir::Node* wdq = int8_dq(conv->input(1));
    if (!xdq || !wdq || conv->outputs().size() != 1 || conv->output(0)->is_captured()) return false;
    auto xp = per_tensor_params(xdq);
    auto qw = quantized_weights(wdq, 3, 8, 0);
    if (!xp || !qw) return false;
    const Tensor* w = qw->w;
    const Tensor* ws = qw->scale;
    ir::Value* wzp = qw->zp;
    const int64_t m = qw->channels;
    // Activation and output quantization.
    std::string act;
    std::vector<float> params;
    ir::Node* act_node = activation_of(conv->output(0), act, params);
    ir::Node* q = int8_q_of(act_node ? act_node->output(0) : conv->output(0));
    if (!q) return false;
    bool bias_ok;
    ir::Value* bias = int32_bias(g, conv->inputs().size() > 2 ? conv->input(2) : nullptr, xp->scale_v, *ws, m,
                                 bias_ok);
    if (!bias_ok) return false;
    std::vector<ir::Value*> ins = {xdq->input(0),
                                   xp->scale,
                                   zero_point_or_zero(g, xp->zp, xdq->input(0)->type.dtype, conv->name() + "_x"),
                                   wdq->input(0),
                                   wdq->input(1),
                                   wzp,
                                   q->input(1),
                                   q->input(2)};
    if (!wzp) {
        Tensor z = Tensor::create(w->dtype(), ws->shape(), true).value();
        ins[5] = add_constant(g, conv->name() + "_w_zero_point", std::move(z));
    }
    if (bias) ins.push_back(bias);
    NNPORT_ASSIGN_OR_RETURN(ir::Node * f, make_node(g, ctx, "QLinearFusedConv", kNnportDomain, conv->name(), ins));
    for (const char* a : {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}) {
        if (conv->has_attr(a)) f->attrs[a] = conv->attrs.at(a);
    }
    if (!take_place(g, f, act, params, q->output(0))) return false;
    ctx.record(conv->describe() + (act_node ? " + " + act_node->describe() : "") + " + " + q->describe() +
               " -> QLinearFusedConv");
    ir::Node* bdq = conv->inputs().size() > 2 && conv->input(2) ? conv->input(2)->producer() : nullptr;
    remove_dead(g, {xdq, wdq, bdq, conv, act_node, q});
    return true;
}

/// DQ(a) + DQ(b) -> Add [-> act] -> Q starting from the Add.
Result<bool> fuse_add(ir::Graph& g, PassContext& ctx, ir::Node* add) {
    if (add->inputs().size() != 2 || add->outputs().size() != 1 || add->output(0)->is_captured()) return false;
    ir::Node* adq = int8_dq(add->input(0));
    ir::Node* bdq = int8_dq(add->input(1));
    if (!adq || !bdq) return false;
    const DType t = adq->input(0)->type.dtype;
    if (bdq->input(0)->type.dtype != t) return false;
    auto ap = per_tensor_params(adq);
    auto bp = per_tensor_params(bdq);
    if (!ap || !bp) return false;
    std::string act;
    std::vector<float> params;
    ir::Node* act_node = activation_of(add->output(0), act, params);
    ir::Node* q = int8_q_of(act_node ? act_node->output(0) : add->output(0));
    if (!q || q->output(0)->type.dtype != t) return false;
    std::vector<ir::Value*> ins = {adq->input(0), ap->scale, zero_point_or_zero(g, ap->zp, t, add->name() + "_a"),
                                   bdq->input(0), bp->scale, zero_point_or_zero(g, bp->zp, t, add->name() + "_b"),
                                   q->input(1),   q->input(2)};
    NNPORT_ASSIGN_OR_RETURN(ir::Node * f, make_node(g, ctx, "QLinearAdd", kNnportDomain, add->name(), ins));
    if (!take_place(g, f, act, params, q->output(0))) return false;
    ctx.record(add->describe() + (act_node ? " + " + act_node->describe() : "") + " + " + q->describe() +
               " -> QLinearAdd");
    remove_dead(g, {adq, bdq == adq ? nullptr : bdq, add, act_node, q});
    return true;
}

/// DQ -> MaxPool / Reshape / Flatten -> Q with equal parameters: the op on the quantized data.
Result<bool> fuse_data_movement(ir::Graph& g, PassContext& ctx, ir::Node* n) {
    ir::Node* dq = int8_dq(n->input(0));
    if (!dq || n->output(0)->is_captured()) return false;
    for (size_t i = 1; i < n->outputs().size(); ++i) {
        if (n->output(i)) return false;  // MaxPool Indices
    }
    ir::Node* q = int8_q_of(n->output(0));
    auto xp = per_tensor_params(dq);
    auto yp = q ? per_tensor_params(q) : std::nullopt;
    if (!xp || !yp || xp->scale_v != yp->scale_v || xp->zp_v != yp->zp_v) return false;
    if (q->output(0)->type.dtype != dq->input(0)->type.dtype) return false;
    if (is_op(n, "MaxPool") && ctx.opset() < 12) return false;  // int8 MaxPool is opset 12
    std::vector<ir::Value*> ins = n->inputs();
    ins[0] = dq->input(0);
    NNPORT_ASSIGN_OR_RETURN(ir::Node * m, make_node(g, ctx, n->op_type(), "", n->name(), ins));
    m->attrs = n->attrs;
    m->output(0)->type = q->output(0)->type;
    if (!replace_value(g, q->output(0), m->output(0))) {
        g.remove_node(m);
        return false;
    }
    ctx.record(n->describe() + " between " + dq->describe() + " and " + q->describe() + " -> on int8 data");
    remove_dead(g, {dq, n, q});
    return true;
}

/// DQ(a) x DQ(w) [+ bias] -> Gemm [-> act] [-> Q] starting from the Gemm.
Result<bool> fuse_gemm(ir::Graph& g, PassContext& ctx, ir::Node* gemm) {
    if (gemm->outputs().size() != 1 || gemm->output(0)->is_captured() || gemm->inputs().size() < 2) return false;
    const AttrAccess at = attrs_of(*gemm);
    if (at.attr_int("transA") != 0 || at.attr_float("alpha") != 1.0f || at.attr_float("beta") != 1.0f) return false;
    const bool tb = at.attr_int("transB") != 0;
    ir::Node* adq = int8_dq(gemm->input(0));
    ir::Node* wdq = int8_dq(gemm->input(1));
    if (!adq || !wdq) return false;
    auto ap = per_tensor_params(adq);
    auto qw = quantized_weights(wdq, 2, 2, tb ? 0 : 1);  // per output column: B's axis 0 with transB, else 1
    if (!ap || !qw) return false;
    const int64_t n = qw->channels;
    std::string act;
    std::vector<float> params;
    ir::Node* act_node = activation_of(gemm->output(0), act, params);
    ir::Value* y = act_node ? act_node->output(0) : gemm->output(0);
    ir::Node* q = int8_q_of(y);
    ir::Value* c = gemm->inputs().size() > 2 ? gemm->input(2) : nullptr;
    bool bias_ok;
    ir::Value* bias = int32_bias(g, c, ap->scale_v, *qw->scale, n, bias_ok);
    if (!bias_ok) return false;
    std::vector<ir::Value*> ins = {adq->input(0), ap->scale,
                                   zero_point_or_zero(g, ap->zp, adq->input(0)->type.dtype, gemm->name() + "_a"),
                                   wdq->input(0), wdq->input(1), qw->zp, bias};
    if (q) {
        ins.push_back(q->input(1));
        ins.push_back(q->input(2));
    }
    while (!ins.empty() && !ins.back()) ins.pop_back();
    NNPORT_ASSIGN_OR_RETURN(ir::Node * f, make_node(g, ctx, "QGemm", kNnportDomain, gemm->name(), ins));
    f->attrs["transB"] = ir::Attribute::make_int(tb ? 1 : 0);
    if (!take_place(g, f, act, params, q ? q->output(0) : y)) return false;
    ctx.record(gemm->describe() + (act_node ? " + " + act_node->describe() : "") + (q ? " + " + q->describe() : "") +
               " -> QGemm");
    ir::Node* bdq = c ? c->producer() : nullptr;
    remove_dead(g, {adq, wdq, bdq, gemm, act_node, q});
    return true;
}

/// The constant int8 weight of a Gemm / MatMul (no int8 kernel yet) dequantized once here instead of on every run;
/// the float32 values are the ones DequantizeLinear computes, so this is exact.
bool fold_weight_dq(ir::Graph& g, PassContext& ctx, ir::Node* n) {
    ir::Node* dq = int8_dq(n->input(1));
    if (!dq || !single_use(n->input(1)) || !constant_of(dq->input(0))) return false;
    std::vector<Tensor> v = evaluate_node(*dq, constant_of);
    if (v.empty()) return false;
    ctx.record(dq->describe() + " of " + n->describe() + "'s weights -> float32 constant");
    replace_node_by_constants(g, dq, std::move(v));
    return true;
}

class FuseQdqPass : public Pass {
public:
    const char* name() const override { return "fuse_qdq"; }
    const char* description() const override {
        return "DequantizeLinear -> Conv [-> Relu/Clip] -> QuantizeLinear -> com.nnport QLinearFusedConv, "
               "DequantizeLinear + DequantizeLinear -> Add [-> Relu/Clip] -> QuantizeLinear -> com.nnport QLinearAdd, "
               "DequantizeLinear -> Gemm [-> QuantizeLinear] -> com.nnport QGemm, and "
               "MaxPool/Reshape/Flatten between equal Q/DQ parameters on the int8 data, Gemm/MatMul int8 weights "
               "dequantized at load (custom ops only).";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        if (!ctx.allow_custom_ops) return false;
        std::vector<ir::Node*> convs, adds, moves, fcs;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "Conv")) convs.push_back(n.get());
            if (is_op(n.get(), "Add")) adds.push_back(n.get());
            if (is_op(n.get(), "Gemm") || is_op(n.get(), "MatMul")) fcs.push_back(n.get());
            if (is_op(n.get(), "MaxPool") || is_op(n.get(), "Reshape") || is_op(n.get(), "Flatten")) {
                moves.push_back(n.get());
            }
        }
        bool changed = false;
        for (ir::Node* n : convs) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fuse_conv(g, ctx, n));
            changed |= done;
        }
        for (ir::Node* n : adds) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fuse_add(g, ctx, n));
            changed |= done;
        }
        for (ir::Node* n : fcs) {
            if (is_op(n, "Gemm")) {
                NNPORT_ASSIGN_OR_RETURN(bool done, fuse_gemm(g, ctx, n));
                if (done) {
                    changed = true;
                    continue;
                }
            }
            changed |= fold_weight_dq(g, ctx, n);
        }
        for (ir::Node* n : moves) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fuse_data_movement(g, ctx, n));
            changed |= done;
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fuse_qdq_pass() { return std::make_unique<FuseQdqPass>(); }

}  // namespace nnport::passes

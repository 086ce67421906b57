// QDQ insertion for int8: per-channel int8 weights and int32 biases behind DequantizeLinear, per-tensor activations
// as QuantizeLinear -> DequantizeLinear pairs, propagated through data-movement and elementwise ops as ONNX
// Runtime's quantizer does (data-movement outputs take their input's scale and zero point).
#include <algorithm>
#include <cmath>

#include "passes/pass_util.hpp"
#include "quant/calibration.hpp"
#include "quant/quant_passes.hpp"

namespace nnport::quant {

namespace {

using passes::constant_of;
using passes::is_op;

/// Ops whose output takes the input's quantization parameters (they only move or select values).
bool is_same_scale_op(const ir::Node& n) {
    static const char* kOps[] = {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
                                 "Identity", "Slice", "DepthToSpace", "SpaceToDepth"};
    for (const char* op : kOps) {
        if (is_op(&n, op)) return true;
    }
    return false;
}

/// Monotone activations: only their output is quantized (the input stays float, as in a fused Conv + Relu).
bool is_activation_op(const ir::Node& n) { return is_op(&n, "Relu") || is_op(&n, "Clip"); }

/// Ops whose float inputs and output are each quantized with their own range.
bool is_io_op(const ir::Node& n) {
    return is_op(&n, "Add") || is_op(&n, "Mul") || is_op(&n, "Concat") || is_op(&n, "AveragePool") ||
           is_op(&n, "GlobalAveragePool");
}

bool is_float_activation(const ir::Value* v) {
    return v && v->type.dtype == DType::kFloat32 && constant_of(v) == nullptr;
}

bool is_float_weight(const ir::Value* v) {
    const Tensor* t = constant_of(v);
    return t && t->dtype() == DType::kFloat32;
}

/// The quantized inputs of an enabled node (slots whose value gets a QDQ pair).
std::vector<size_t> quantized_inputs(const ir::Node& n) {
    std::vector<size_t> slots;
    if (is_compute_op(n)) {
        slots.push_back(0);
        if (!is_op(&n, "Conv") && is_float_activation(n.input(1))) slots.push_back(1);
    } else if (is_same_scale_op(n)) {
        if (is_float_activation(n.input(0))) slots.push_back(0);
    } else if (is_io_op(n)) {
        for (size_t i = 0; i < n.inputs().size(); ++i) {
            if (is_float_activation(n.input(i))) slots.push_back(i);
        }
    }
    return slots;
}

/// Value name -> the name whose range it uses (itself, or a data-movement op's input), for the enabled nodes.
std::vector<std::pair<std::string, std::string>> quant_marks(const ir::Graph& g, const std::set<std::string>& enabled) {
    std::vector<std::pair<std::string, std::string>> marks;  // in graph order
    std::map<std::string, std::string> source;
    auto mark = [&](const ir::Value* v, const std::string& src) {
        if (!v || source.count(v->name())) return;
        source[v->name()] = src;
        marks.emplace_back(v->name(), src);
    };
    for (const auto& up : g.nodes()) {
        const ir::Node& n = *up;
        if (!enabled.count(n.name())) continue;
        for (size_t s : quantized_inputs(n)) mark(n.input(s), n.input(s)->name());
        const ir::Value* out = n.output(0);
        if (!out || out->type.dtype != DType::kFloat32 || n.outputs().size() != 1) continue;
        if (is_same_scale_op(n)) {
            if (!quantized_inputs(n).empty()) mark(out, source.at(n.input(0)->name()));
            continue;
        }
        if (is_compute_op(n)) {
            // An output whose only reader is an enabled Relu/Clip is quantized after that activation instead.
            const ir::Node* c = passes::sole_consumer(out);
            if (c && enabled.count(c->name()) && is_activation_op(*c)) continue;
        }
        mark(out, out->name());
    }
    return marks;
}

/// Per-channel symmetric int8 weights along `axis` (axis < 0: one scale); returns (int8 tensor, scales).
Result<std::pair<Tensor, Tensor>> quantize_weight(const Tensor& w, int64_t axis) {
    const int64_t channels = axis < 0 ? 1 : w.dim(axis);
    int64_t inner = 1;
    for (int64_t d = axis + 1; axis >= 0 && d < w.rank(); ++d) inner *= w.dim(d);
    if (axis < 0) inner = w.numel();
    const int64_t outer = w.numel() / std::max<int64_t>(1, channels * inner);
    NNPORT_ASSIGN_OR_RETURN(Tensor q, Tensor::create(DType::kInt8, w.shape()));
    NNPORT_ASSIGN_OR_RETURN(Tensor s, Tensor::create(DType::kFloat32, axis < 0 ? Shape{} : Shape{channels}));
    const float* x = w.data<float>();
    for (int64_t c = 0; c < channels; ++c) {
        float amax = 0;
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t i = 0; i < inner; ++i) amax = std::max(amax, std::fabs(x[(o * channels + c) * inner + i]));
        }
        const float scale = amax > 0 && std::isfinite(amax) ? amax / 127.0f : 1.0f;
        s.data<float>()[c] = scale;
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t i = 0; i < inner; ++i) {
                const int64_t k = (o * channels + c) * inner + i;
                const float r = std::nearbyint(x[k] / scale);
                q.data<int8_t>()[k] = static_cast<int8_t>(std::clamp(std::isfinite(r) ? r : 0.0f, -127.0f, 127.0f));
            }
        }
    }
    return std::make_pair(std::move(q), std::move(s));
}

/// Quantization axis of the weight input of a compute node (-1: per tensor).
int64_t weight_axis(const ir::Node& n, const Tensor& w) {
    if (is_op(&n, "Conv")) return 0;
    if (w.rank() != 2) return -1;
    if (is_op(&n, "Gemm")) return passes::attrs_of(n).attr_int("transB") ? 0 : 1;
    return 1;  // MatMul [K, N]
}

/// Builds the rewrite for one model.
class QdqInserter {
public:
    QdqInserter(ir::Model& m, DType act, QuantizeReport* rep) : g_(*m.graph), act_(act), rep_(rep) {
        ctx_.model = &m;
    }

    /// Q -> DQ on value `name` with its (possibly shared) range; returns the DequantizeLinear output.
    Result<ir::Value*> qdq_of(const std::string& name, const TensorRange& r) {
        if (auto it = dq_.find(name); it != dq_.end()) return it->second;
        ir::Value* v = g_.find_value(name);
        if (!v) return internal_error("quantize: value '" + name + "' vanished");
        float scale;
        int32_t zp;
        activation_params(r.lo, r.hi, act_, scale, zp);
        // Names derived from the value carry a short stem of it: a QDQ pair adds a dozen copies of it to the file.
        const std::string stem = stem_of(*v);
        ir::Value* s = passes::add_constant(g_, stem + "_scale", Tensor::scalar<float>(scale));
        ir::Value* z = zero_point(zp);
        NNPORT_ASSIGN_OR_RETURN(ir::Node * q, qdq_node("QuantizeLinear", stem + "_Q", {v, s, z}));
        q->output(0)->type = ir::ValueType::tensor(act_, v->type.dims);
        q->output(0)->type.has_shape = v->type.has_shape;
        NNPORT_ASSIGN_OR_RETURN(ir::Node * dq, qdq_node("DequantizeLinear", stem + "_DQ", {q->output(0), s, z}));
        dq->output(0)->type = v->type;
        dq_[name] = dq->output(0);
        scales_[name] = scale;
        if (rep_) {
            TensorRange rr = r;
            rr.name = name;
            rr.scale = scale;
            rr.zero_point = zp;
            rep_->ranges.push_back(rr);
        }
        return dq->output(0);
    }

    /// Replaces a constant float weight input with int8 weights behind a DequantizeLinear; returns the scales.
    Result<const Tensor*> quantize_weight_input(ir::Node& n, size_t slot) {
        ir::Value* w = n.input(slot);
        auto it = wdq_.find(w);
        if (it == wdq_.end()) {
            const Tensor& t = *constant_of(w);
            const int64_t axis = weight_axis(n, t);
            NNPORT_ASSIGN_OR_RETURN(auto qs, quantize_weight(t, axis));
            ir::Value* qv = passes::add_constant(g_, w->name() + "_int8", std::move(qs.first));
            ir::Value* sv = passes::add_constant(g_, w->name() + "_scale", qs.second);
            // No zero point: it is optional and 0 for symmetric weights (one byte less per channel, which matters
            // for depthwise layers of nine weights per channel).
            NNPORT_ASSIGN_OR_RETURN(ir::Node * dq, qdq_node("DequantizeLinear", w->name() + "_DQ", {qv, sv}));
            if (axis >= 0) dq->attrs["axis"] = ir::Attribute::make_int(axis);
            dq->output(0)->type = w->type;
            it = wdq_.emplace(w, std::make_pair(dq->output(0), qs.second)).first;
        }
        n.set_input(slot, it->second.first);
        return &it->second.second;
    }

    /// Bias as int32 with scale input_scale * weight_scale[c] (zero point 0).
    Status quantize_bias(ir::Node& n, size_t slot, float in_scale, const Tensor& w_scales) {
        ir::Value* b = n.input(slot);
        const Tensor& bt = *constant_of(b);
        const int64_t c = bt.numel();
        if (w_scales.numel() != c && w_scales.numel() != 1) return Status::ok();
        NNPORT_ASSIGN_OR_RETURN(Tensor q, Tensor::create(DType::kInt32, bt.shape()));
        NNPORT_ASSIGN_OR_RETURN(Tensor s, Tensor::create(DType::kFloat32, {c}));
        for (int64_t k = 0; k < c; ++k) {
            const float sc = in_scale * w_scales.data<float>()[w_scales.numel() == 1 ? 0 : k];
            s.data<float>()[k] = sc > 0 ? sc : 1.0f;
            const double r = std::nearbyint(static_cast<double>(bt.data<float>()[k]) / s.data<float>()[k]);
            q.data<int32_t>()[k] = static_cast<int32_t>(std::clamp(std::isfinite(r) ? r : 0.0, -2147483647.0,
                                                                   2147483647.0));
        }
        if (bt.rank() != 1) return Status::ok();
        ir::Value* qv = passes::add_constant(g_, b->name() + "_int32", std::move(q));
        ir::Value* sv = passes::add_constant(g_, b->name() + "_scale", std::move(s));
        NNPORT_ASSIGN_OR_RETURN(ir::Node * dq, qdq_node("DequantizeLinear", b->name() + "_DQ", {qv, sv}));
        dq->attrs["axis"] = ir::Attribute::make_int(0);
        dq->output(0)->type = b->type;
        n.set_input(slot, dq->output(0));
        return Status::ok();
    }

    float scale_of(const std::string& name) const { return scales_.at(name); }

    /// The stem of names derived from activation `v`: the name of the node producing it when that node has one
    /// output and a shorter name (exporters name values "<node>_output_0"), else the value's own name.
    static std::string stem_of(const ir::Value& v) {
        const ir::Node* p = v.producer();
        if (p && p->outputs().size() == 1 && !p->name().empty() && p->name().size() < v.name().size()) {
            return p->name();
        }
        return v.name();
    }

    /// A QuantizeLinear or DequantizeLinear node with output `out` and a short node name (Q_<k>, DQ_<k>): the
    /// output's name says what it holds, and a node name repeating it cost 8 KB of mobilenet_v2's file.
    Result<ir::Node*> qdq_node(const std::string& op, const std::string& out, const std::vector<ir::Value*>& inputs) {
        const std::string node_name = (op == "QuantizeLinear" ? "Q_" : "DQ_") + std::to_string(nodes_++);
        NNPORT_ASSIGN_OR_RETURN(ir::Node * n, passes::make_node(g_, ctx_, op, "", node_name, inputs));
        NNPORT_RETURN_IF_ERROR(g_.rename_value(n->output(0), g_.unique_name(out)));
        return n;
    }

    /// The zero-point initializer of value `zp` of the activation type, one per value for the whole model (every
    /// Relu output has zero point 0: one initializer instead of one per tensor, as both Q and DQ already share it).
    ir::Value* zero_point(int32_t zp) {
        if (act_ == DType::kInt8) zp = 0;
        auto it = zps_.find(zp);
        if (it != zps_.end()) return it->second;
        const std::string name =
            std::string(act_ == DType::kInt8 ? "zero_point_int8_" : "zero_point_uint8_") + std::to_string(zp);
        ir::Value* z = act_ == DType::kInt8
                           ? passes::add_constant(g_, name, Tensor::scalar<int8_t>(0))
                           : passes::add_constant(g_, name, Tensor::scalar<uint8_t>(static_cast<uint8_t>(zp)));
        return zps_.emplace(zp, z).first->second;
    }

    ir::Graph& g_;

private:
    passes::PassContext ctx_;
    DType act_;
    QuantizeReport* rep_;
    std::map<std::string, ir::Value*> dq_;
    std::map<std::string, float> scales_;
    std::map<int32_t, ir::Value*> zps_;
    int nodes_ = 0;
    std::map<ir::Value*, std::pair<ir::Value*, Tensor>> wdq_;
};

}  // namespace

bool is_compute_op(const ir::Node& n) { return is_op(&n, "Conv") || is_op(&n, "Gemm") || is_op(&n, "MatMul"); }

QdqPlan plan_qdq(const ir::Graph& g, const std::set<std::string>& exclude) {
    QdqPlan plan;
    for (const auto& up : g.nodes()) {
        const ir::Node& n = *up;
        const bool compute = is_compute_op(n);
        if (!compute && !is_same_scale_op(n) && !is_activation_op(n) && !is_io_op(n)) continue;
        if (exclude.count(n.name())) {
            if (compute) plan.declined.push_back({n.name(), n.op_type(), "excluded"});
            continue;
        }
        if (!compute) {
            plan.propagate.push_back(n.name());
            continue;
        }
        if (!is_float_activation(n.input(0))) {
            plan.declined.push_back({n.name(), n.op_type(), "first input is not a float32 activation"});
        } else if (is_op(&n, "Conv") && !is_float_weight(n.input(1))) {
            plan.declined.push_back({n.name(), n.op_type(), "weights are not a float32 constant"});
        } else if (!is_float_weight(n.input(1)) && !is_float_activation(n.input(1))) {
            plan.declined.push_back({n.name(), n.op_type(), "second input is not float32"});
        } else {
            plan.compute.push_back(n.name());
        }
    }
    return plan;
}

std::vector<std::string> tensors_to_calibrate(const ir::Graph& g, const std::set<std::string>& enabled) {
    std::vector<std::string> out;
    for (const auto& [name, src] : quant_marks(g, enabled)) {
        if (name == src) out.push_back(name);
    }
    return out;
}

Status insert_qdq(ir::Model& model, const std::set<std::string>& enabled, const std::map<std::string, TensorRange>& ranges,
                  DType activation_type, bool weights_only, QuantizeReport* report) {
    if (model.opset("") < 13) model.opset_imports[""] = 13;
    ir::Graph& g = *model.graph;
    QdqInserter ins(model, activation_type, report);
    std::map<std::string, std::string> source;
    if (!weights_only) {
        for (const auto& [name, src] : quant_marks(g, enabled)) source[name] = src;
    }
    std::vector<ir::Node*> nodes;
    for (const auto& up : g.nodes()) {
        if (enabled.count(up->name())) nodes.push_back(up.get());
    }
    // Q/DQ after every marked value, in graph order (a shared range needs its source's pair first).
    if (!weights_only) {
        for (const auto& [name, src] : quant_marks(g, enabled)) {
            auto it = ranges.find(src);
            if (it == ranges.end()) return internal_error("quantize: no calibrated range for '" + src + "'");
            NNPORT_RETURN_IF_ERROR(ins.qdq_of(name, it->second).status());
        }
    }
    for (ir::Node* n : nodes) {
        const std::string in_name = n->input(0) ? n->input(0)->name() : "";
        std::vector<size_t> slots = weights_only ? std::vector<size_t>{} : quantized_inputs(*n);
        for (size_t s : slots) {
            const std::string name = n->input(s)->name();
            NNPORT_ASSIGN_OR_RETURN(ir::Value * dq, ins.qdq_of(name, ranges.at(source.at(name))));
            n->set_input(s, dq);
        }
        if (!is_compute_op(*n) || !is_float_weight(n->input(1))) continue;
        NNPORT_ASSIGN_OR_RETURN(const Tensor* w_scales, ins.quantize_weight_input(*n, 1));
        if (report) report->quantized_nodes.push_back(n->name());
        if (weights_only) continue;
        const size_t bias_slot = 2;
        bool bias_ok = is_float_weight(n->input(bias_slot));
        if (bias_ok && is_op(n, "Gemm")) {
            const AttrAccess a = passes::attrs_of(*n);
            bias_ok = a.attr_float("alpha") == 1.0f && a.attr_float("beta") == 1.0f;
        }
        if (bias_ok) NNPORT_RETURN_IF_ERROR(ins.quantize_bias(*n, bias_slot, ins.scale_of(in_name), *w_scales));
    }
    passes::remove_dead_nodes(g);
    g.remove_unused_values();
    return g.topo_sort();
}

}  // namespace nnport::quant

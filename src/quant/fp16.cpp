// Float16 conversion: weights and activations of float16-safe ops become float16, graph inputs and outputs keep
// float32 (Casts at the edges), and sensitive, excluded or overflowing ops stay float32 behind Casts.
#include <algorithm>
#include <cmath>

#include "passes/pass_util.hpp"
#include "quant/quant_passes.hpp"

namespace nnport::quant {

namespace {

using passes::constant_of;
using passes::is_op;

constexpr float kFp16Max = 65504.0f;

/// Ops whose float inputs and outputs all share one type T and that run well in float16.
bool is_fp16_safe(const ir::Node& n) {
    static const char* kOps[] = {
        "Conv", "ConvTranspose", "Gemm", "MatMul", "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "HardSigmoid",
        "HardSwish", "Elu", "Selu", "Gelu", "Erf", "Clip", "Add", "Sub", "Mul", "Div", "Neg", "Abs", "Sqrt", "Max",
        "Min", "Sum", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Concat", "Reshape", "Flatten",
        "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split", "Gather", "Pad", "Identity", "Expand", "Tile", "Where",
        "Resize", "DepthToSpace", "SpaceToDepth"};
    for (const char* op : kOps) {
        if (is_op(&n, op)) return true;
    }
    return false;
}

/// Ops kept in float32 by default: reductions, normalizations and exponentials lose range or precision in float16.
bool is_fp16_sensitive(const ir::Node& n) {
    static const char* kOps[] = {
        "Softmax", "LogSoftmax", "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceProd", "LayerNormalization", "BatchNormalization", "InstanceNormalization",
        "GroupNormalization", "LpNormalization", "RMSNormalization", "Exp", "Log", "Pow", "Softplus"};
    for (const char* op : kOps) {
        if (is_op(&n, op)) return true;
    }
    return false;
}

/// Input slots of type T (Resize's roi and scales are always float32).
bool is_t_slot(const ir::Node& n, size_t slot) { return !is_op(&n, "Resize") || slot == 0; }

bool is_f32(const ir::Value* v) { return v && v->type.dtype == DType::kFloat32; }

/// Largest magnitude of a float32 constant.
float max_abs(const Tensor& t) {
    float m = 0;
    for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data<float>()[i]));
    return m;
}

/// Why `n` must stay float32, or "" if it may be converted.
std::string keep_reason(const ir::Node& n, const QuantizeOptions& o, const std::set<std::string>& exclude,
                        const std::map<std::string, TensorRange>& observed) {
    const bool sensitive = is_fp16_sensitive(n);
    if (!is_fp16_safe(n) && !(sensitive && !o.fp16_keep_sensitive)) {
        bool any_float = false;
        for (const ir::Value* v : n.outputs()) any_float |= is_f32(v);
        if (!any_float) return "-";  // nothing to convert: not reported
        return sensitive ? "sensitive op (kept in float32 by default)" : "no float16 conversion for this op";
    }
    if (exclude.count(n.name())) return "excluded";
    for (const ir::Value* v : n.outputs()) {
        if (v && v->is_captured()) return "output read by a subgraph";
    }
    // Inputs too: a value beyond float16's range would become inf in the Cast before this node.
    for (const auto* list : {&n.outputs(), &n.inputs()}) {
        for (const ir::Value* v : *list) {
            if (!is_f32(v)) continue;
            auto it = observed.find(v->name());
            if (it == observed.end()) continue;
            const float m = std::max(std::fabs(it->second.min), std::fabs(it->second.max));
            if (m >= o.fp16_overflow_threshold) {
                return std::string("overflow risk: ") + (list == &n.outputs() ? "output '" : "input '") + v->name() +
                       "' reaches " + std::to_string(m) + " on calibration data (float16 max 65504)";
            }
        }
    }
    for (size_t s = 0; s < n.inputs().size(); ++s) {
        const Tensor* c = constant_of(n.input(s));
        if (c && c->dtype() == DType::kFloat32 && is_t_slot(n, s) && max_abs(*c) > kFp16Max) {
            return "constant '" + n.input(s)->name() + "' exceeds the float16 range";
        }
    }
    return "";
}

Result<Tensor> to_half(const Tensor& t) { return passes::from_float32(t, DType::kFloat16); }

/// Cast of `v` to `to`, created once per (value, type).
class CastCache {
public:
    CastCache(ir::Graph& g, const passes::PassContext& ctx) : g_(g), ctx_(ctx) {}
    Result<ir::Value*> get(ir::Value* v, DType to) {
        auto key = std::make_pair(v, to);
        if (auto it = cache_.find(key); it != cache_.end()) return it->second;
        const std::string base = v->name() + (to == DType::kFloat16 ? "_fp16" : "_fp32");
        NNPORT_ASSIGN_OR_RETURN(ir::Node * c, passes::make_node(g_, ctx_, "Cast", "", base, {v}));
        c->attrs["to"] = ir::Attribute::make_int(static_cast<int64_t>(to));
        c->output(0)->type = v->type;
        c->output(0)->type.dtype = to;
        cache_[key] = c->output(0);
        return c->output(0);
    }

private:
    ir::Graph& g_;
    const passes::PassContext& ctx_;
    std::map<std::pair<ir::Value*, DType>, ir::Value*> cache_;
};

}  // namespace

std::vector<std::string> fp16_candidate_values(const ir::Graph& g) {
    std::vector<std::string> out;
    for (const ir::Value* v : g.inputs()) {
        if (is_f32(v) && !v->has_initializer()) out.push_back(v->name());
    }
    for (const auto& n : g.nodes()) {
        if (!is_fp16_safe(*n) && !is_fp16_sensitive(*n)) continue;
        for (const ir::Value* v : n->outputs()) {
            if (is_f32(v)) out.push_back(v->name());
        }
    }
    return out;
}

Status convert_fp16(ir::Model& model, const QuantizeOptions& options, const std::map<std::string, TensorRange>& observed,
                    QuantizeReport* report) {
    ir::Graph& g = *model.graph;
    passes::PassContext ctx;
    ctx.model = &model;
    const std::set<std::string> exclude(options.exclude.begin(), options.exclude.end());
    std::set<ir::Node*> half;
    for (const auto& up : g.nodes()) {
        const std::string why = keep_reason(*up, options, exclude, observed);
        if (why.empty()) {
            half.insert(up.get());
            if (report) report->quantized_nodes.push_back(up->name());
        } else if (why != "-" && report) {
            report->kept_float.push_back({up->name(), up->op_type(), why});
        }
    }
    // Outputs of converted nodes become float16.
    std::vector<ir::Value*> converted;
    for (const auto& up : g.nodes()) {
        if (!half.count(up.get())) continue;
        for (ir::Value* v : up->outputs()) {
            if (!is_f32(v)) continue;
            v->type.dtype = DType::kFloat16;
            converted.push_back(v);
        }
    }
    CastCache casts(g, ctx);
    // Float32 inputs of converted nodes: constants converted (in place when every use is converted), others cast.
    std::vector<ir::Node*> order;
    for (const auto& up : g.nodes()) {
        if (half.count(up.get())) order.push_back(up.get());
    }
    std::map<ir::Value*, ir::Value*> half_const;
    for (ir::Node* n : order) {
        for (size_t s = 0; s < n->inputs().size(); ++s) {
            ir::Value* v = n->input(s);
            if (!is_f32(v) || !is_t_slot(*n, s)) continue;
            const Tensor* c = constant_of(v);
            if (!c) {
                NNPORT_ASSIGN_OR_RETURN(ir::Value * h, casts.get(v, DType::kFloat16));
                n->set_input(s, h);
                continue;
            }
            auto it = half_const.find(v);
            if (it == half_const.end()) {
                bool all_half = v->graph() == &g && !v->is_graph_output() && !v->is_captured();
                for (const ir::Use& u : v->uses()) all_half &= half.count(u.node) && is_t_slot(*u.node, u.index);
                NNPORT_ASSIGN_OR_RETURN(Tensor h, to_half(*c));
                if (all_half) {
                    v->set_initializer(std::move(h));
                    v->type.dtype = DType::kFloat16;
                    continue;
                }
                it = half_const.emplace(v, passes::add_constant(g, v->name() + "_fp16", std::move(h))).first;
            }
            n->set_input(s, it->second);
        }
    }
    // Readers of converted outputs that stay float32 (and graph outputs) get a Cast back.
    for (ir::Value* v : converted) {
        const std::vector<ir::Use> uses = v->uses();
        for (const ir::Use& u : uses) {
            if (half.count(u.node) && is_t_slot(*u.node, static_cast<size_t>(u.index))) continue;
            NNPORT_ASSIGN_OR_RETURN(ir::Value * f, casts.get(v, DType::kFloat32));
            u.node->set_input(static_cast<size_t>(u.index), f);
        }
        if (!v->is_graph_output()) continue;
        NNPORT_ASSIGN_OR_RETURN(ir::Value * f, casts.get(v, DType::kFloat32));
        const std::string name = v->name();
        NNPORT_RETURN_IF_ERROR(g.rename_value(v, g.unique_name(name + "_fp16")));
        NNPORT_RETURN_IF_ERROR(g.rename_value(f, name));
        std::replace(g.outputs().begin(), g.outputs().end(), v, f);
    }
    passes::remove_dead_nodes(g);
    g.remove_unused_values();
    return g.topo_sort();
}

}  // namespace nnport::quant

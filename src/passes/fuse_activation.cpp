// fuse_activation: Conv / Gemm / MatMul followed by what the fused ops apply in their GEMM epilogue become one
// com.nnport FusedConv / FusedGemm / FusedMatMul (custom ops only):
//   MatMul -> Add(constant bias over the last axis)          (FusedMatMul's bias input)
//   Conv   -> Add(tensor of the output's shape)              (FusedConv's residual Z, added before the activation)
//   then one activation: Relu, Clip(constant min/max), LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Gelu,
//   Swish, or x * Sigmoid(x) (SiLU), also behind a Reshape/Unsqueeze/Squeeze/Flatten (which then follows the fused
//   node).
// A ResNet block's Conv -> Add -> Relu becomes one FusedConv. At least one of bias, Z or activation must be absorbed.
#include <limits>

#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

namespace {

struct Act {
    std::string name;
    std::vector<float> params;
    std::vector<ir::Node*> nodes;  ///< nodes the activation replaces
    ir::Value* out = nullptr;
};

/// The activation applied to `x` by its consumer(s), if it is one the fused ops know.
std::optional<Act> match_activation(ir::Value* x) {
    Act a;
    if (x->is_graph_output() || x->is_captured()) return std::nullopt;
    // SiLU: x * Sigmoid(x), x used by exactly those two nodes.
    if (x->uses().size() == 2) {
        ir::Node* sig = nullptr;
        ir::Node* mul = nullptr;
        for (const ir::Use& u : x->uses()) {
            if (is_op(u.node, "Sigmoid")) sig = u.node;
            if (is_op(u.node, "Mul")) mul = u.node;
        }
        if (!sig || !mul || !single_use(sig->output(0)) || other_input(mul, x) != sig->output(0)) return std::nullopt;
        a.name = "Swish";
        a.params = {1.0f};
        a.nodes = {sig, mul};
        a.out = mul->output(0);
        return a;
    }
    ir::Node* n = sole_consumer(x);
    if (!n || !n->def || n->input(0) != x || n->outputs().size() != 1) return std::nullopt;
    const AttrAccess at = attrs_of(*n);
    const std::string& op = n->op_type();
    const bool std_domain = n->domain().empty() || n->domain() == "ai.onnx";
    if (std_domain && (op == "Relu" || op == "Sigmoid" || op == "HardSwish" || op == "Tanh")) {
        a.name = op;
    } else if (is_op(n, "LeakyRelu")) {
        a.name = op;
        a.params = {at.attr_float("alpha")};
    } else if (is_op(n, "HardSigmoid")) {
        a.name = op;
        a.params = {at.attr_float("alpha"), at.attr_float("beta")};
    } else if (is_op(n, "Swish")) {
        a.name = op;
        a.params = {at.attr_float("alpha")};
    } else if (op == "Gelu" && (std_domain || n->domain() == kNnportDomain)) {
        const std::string approx = at.attr_string("approximate");
        if (approx != "none" && approx != "tanh") return std::nullopt;
        a.name = approx == "tanh" ? "GeluTanh" : "Gelu";
    } else if (is_op(n, "Clip") && !n->has_attr("min") && !n->has_attr("max")) {
        float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
        for (size_t i = 1; i < 3; ++i) {
            if (!n->input(i)) continue;
            auto c = const_scalar(n->input(i));
            if (!c) return std::nullopt;
            (i == 1 ? lo : hi) = static_cast<float>(*c);
        }
        if (lo > hi) return std::nullopt;
        a.name = op;
        a.params = {lo, hi};
    } else {
        return std::nullopt;
    }
    a.nodes = {n};
    a.out = n->output(0);
    return a;
}

bool float_type(DType dt) {
    return dt == DType::kFloat32 || dt == DType::kFloat64 || dt == DType::kFloat16 || dt == DType::kBFloat16;
}

class FuseActivation : public Pass {
public:
    const char* name() const override { return "fuse_activation"; }
    const char* description() const override {
        return "Conv/Gemm/MatMul + bias + residual Add + activation (Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, "
               "HardSwish, SiLU, Gelu, Tanh) -> com.nnport FusedConv/FusedGemm/FusedMatMul (custom ops only).";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        if (!ctx.allow_custom_ops) return false;
        bool changed = false;
        std::vector<ir::Node*> cands;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "Conv") || is_op(n.get(), "Gemm") || is_op(n.get(), "MatMul")) cands.push_back(n.get());
        }
        for (ir::Node* p : cands) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fuse(g, ctx, p));
            changed = changed || done;
        }
        return changed;
    }

private:
    Result<bool> fuse(ir::Graph& g, PassContext& ctx, ir::Node* p) {
        ir::Value* cur = p->output(0);
        if (!p->def || p->outputs().size() != 1 || !float_type(cur->type.dtype)) return false;
        const bool conv = p->op_type() == "Conv", matmul = p->op_type() == "MatMul";
        if (matmul && (rank_of(p->input(0)) < 2 || rank_of(p->input(1)) < 2)) return false;
        std::vector<ir::Node*> chain = {p};
        ir::Value* bias = nullptr;
        ir::Value* z = nullptr;
        if (matmul && single_use(cur)) {
            ir::Node* add = sole_consumer(cur);
            ir::Value* b = is_op(add, "Add") ? other_input(add, cur) : nullptr;
            const Tensor* bt = b ? const_tensor(b) : nullptr;
            const ir::Dim& n = cur->type.dims.back();
            if (bt && bt->dtype() == cur->type.dtype && n.is_static() && bt->numel() == n.value &&
                bt->rank() <= rank_of(cur) && bt->rank() >= 1 && bt->shape().back() == n.value) {
                bias = bt->rank() == 1 ? b : add_constant(g, p->name() + "_bias", bt->reshaped({n.value}));
                chain.push_back(add);
                cur = add->output(0);
            }
        }
        if (conv && single_use(cur)) {
            ir::Node* add = sole_consumer(cur);
            ir::Value* other = is_op(add, "Add") ? other_input(add, cur) : nullptr;
            if (other && other != cur && other->type.dtype == cur->type.dtype && same_dims(other, cur)) {
                z = other;
                chain.push_back(add);
                cur = add->output(0);
            }
        }
        std::optional<Act> act = cur->is_graph_output() ? std::nullopt : match_activation(cur);
        // An activation behind a reshape-like view (e.g. Gemm -> Unsqueeze -> Relu where fc_conv turned a 1x1 Conv
        // into a Gemm): elementwise ops commute with views, so the view moves after the fused node.
        ir::Node* view = nullptr;
        if (!act && single_use(cur)) {
            ir::Node* v = sole_consumer(cur);
            const bool is_view =
                is_op(v, "Reshape") || is_op(v, "Unsqueeze") || is_op(v, "Squeeze") || is_op(v, "Flatten");
            if (is_view && v->input(0) == cur && v->outputs().size() == 1 && !v->output(0)->is_graph_output()) {
                act = match_activation(v->output(0));
                if (act) view = v;
            }
        }
        if (act) {
            chain.insert(chain.end(), act->nodes.begin(), act->nodes.end());
            cur = act->out;
        }
        if (!act && !bias && !z) return false;
        if (cur->is_captured()) return false;
        std::vector<ir::Value*> ins(p->inputs().begin(), p->inputs().end());
        if (bias) ins.push_back(bias);
        if (z) {
            ins.resize(3, nullptr);
            ins.push_back(z);
        }
        NNPORT_ASSIGN_OR_RETURN(ir::Node * f,
                                make_node(g, ctx, "Fused" + p->op_type(), kNnportDomain, p->name() + "_fused", ins));
        for (const auto& [k, a] : p->attrs) f->attrs[k] = a;
        f->attrs["activation"] = ir::Attribute::make_string(act ? act->name : "Identity");
        if (act && !act->params.empty()) f->attrs["activation_params"] = ir::Attribute::make_floats(act->params);
        if (view) {
            // The view now reads the fused output and its result replaces the activation's.
            ir::Value* before = view->input(0);
            view->set_input(0, f->output(0));
            if (!replace_value(g, cur, view->output(0))) {
                view->set_input(0, before);
                g.remove_node(f);
                return false;
            }
        } else if (!replace_value(g, cur, f->output(0))) {
            g.remove_node(f);
            return false;
        }
        std::string what = p->describe();
        for (size_t i = 1; i < chain.size(); ++i) what += " + " + chain[i]->op_type();
        if (view) what += " (moved after " + view->describe() + ")";
        ctx.record(what);
        remove_dead(g, chain);
        return true;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fuse_activation_pass() { return std::make_unique<FuseActivation>(); }

}  // namespace nnport::passes

// transpose_sink: pushes a Transpose down through ops that commute with it, to meet and cancel (or compose with)
// another Transpose. Passed through: elementwise unary ops; broadcasting ops and Concat whose other inputs are
// constants (permuted at compile time) or Transposes with the same permutation (absorbed); reductions (axes
// remapped; with keepdims=0 the permutation of the remaining axes may become the identity and vanish); Softmax-like
// ops (axis remapped); per-tensor QuantizeLinear / DequantizeLinear and com.nnport QLinearAdd (int8 models). An operand that is neither (an SE block's channel scale [N, C, 1, 1]) passes too when
// permuting it only moves dims of size 1: it gets a Reshape. The walk is committed only when it strictly reduces the number of Transposes: it must end at
// another Transpose, vanish in a reduction, or absorb at least two Transposes into the one it re-inserts.
#include <algorithm>
#include <optional>
#include <set>

#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {
namespace {

// clang-format off
const std::set<std::string>& unary_ops() {
    static const std::set<std::string> s = {
        "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "BitwiseNot", "Cast", "Ceil", "Celu", "Clip", "Cos",
        "Cosh", "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid", "HardSwish", "Identity", "IsInf", "IsNaN",
        "LeakyRelu", "Log", "Mish", "Neg", "Not", "Reciprocal", "Relu", "Round", "Selu", "Shrink", "Sigmoid", "Sign",
        "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "Swish", "Tan", "Tanh", "ThresholdedRelu",
        // per-tensor only: plan_inputs requires their scale and zero point to be scalars (rank 0)
        "QuantizeLinear", "DequantizeLinear"};
    return s;
}
const std::set<std::string>& broadcast_ops() {
    static const std::set<std::string> s = {
        "Add", "And", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Concat", "Div", "Equal", "Greater",
        "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Mean", "Min", "Mod", "Mul", "Or", "Pow", "PRelu", "Sub", "Sum",
        "Where", "Xor"};
    return s;
}
// clang-format on
bool is_reduce(const std::string& op) { return op.rfind("Reduce", 0) == 0; }
/// com.nnport QLinearAdd: a broadcasting op whose scales and zero points are scalars (constants of rank 0).
bool is_qlinear_add(const ir::Node& n) { return n.domain() == kNnportDomain && n.op_type() == "QLinearAdd"; }
bool is_broadcast(const ir::Node& n) {
    return (n.domain().empty() && broadcast_ops().count(n.op_type())) || is_qlinear_add(n);
}
bool is_softmax_like(const ir::Node& n) {
    return (n.op_type() == "Softmax" || n.op_type() == "LogSoftmax" || n.op_type() == "Hardmax") && n.opset >= 13;
}

enum class In { kMoved, kAbsorbed, kConstant, kScalar, kAxes, kReshaped };

/// The operand's dims (left-padded with 1s to rank r) permuted by `inv`, if that only moves dims of size 1 (so a
/// Reshape does it): static sizes, or -1 for the one unknown dim allowed.
std::optional<std::vector<int64_t>> unit_move_shape(const ir::ValueType& t, const std::vector<int64_t>& inv) {
    const size_t r = inv.size();
    if (!t.is_tensor() || !t.has_shape || t.dims.size() > r) return std::nullopt;
    std::vector<ir::Dim> full(r - t.dims.size(), ir::Dim(1));
    full.insert(full.end(), t.dims.begin(), t.dims.end());
    std::vector<int64_t> out;
    int64_t last = -1;
    int unknown = 0;
    for (int64_t k : inv) {
        const ir::Dim& d = full[static_cast<size_t>(k)];
        out.push_back(d.is_static() ? d.value : -1);
        if (d.is_static() && d.value == 1) continue;
        if (k < last) return std::nullopt;
        last = k;
        if (d.is_static() && d.value == 0) return std::nullopt;
        unknown += d.is_static() ? 0 : 1;
    }
    if (unknown > 1) return std::nullopt;
    return out;
}

/// One op the Transpose moves through: how each input is treated and the permutation before and after it.
struct Hop {
    ir::Node* node;
    std::vector<In> inputs;
    std::vector<int64_t> perm_in, perm_out;
    std::vector<int64_t> axes;  ///< reductions: the remapped axes
};

struct Plan {
    std::vector<ir::Node*> absorbed;  ///< Transposes that disappear (the first one included)
    std::vector<Hop> hops;
    ir::Node* terminal = nullptr;  ///< a Transpose met at the end
    bool vanished = false;         ///< the permutation became the identity
};

/// Classifies the inputs of a consumer `o` of the moved value `cur` (permutation p); false if it cannot move.
bool plan_inputs(ir::Node* o, const ir::Value* cur, const std::vector<int64_t>& p, Hop& hop, Plan& plan) {
    const bool broadcast = is_broadcast(*o);
    for (size_t i = 0; i < o->inputs().size(); ++i) {
        const ir::Value* v = o->input(i);
        if (v == cur) {
            hop.inputs.push_back(In::kMoved);
        } else if (!v) {
            hop.inputs.push_back(In::kScalar);
        } else if (is_reduce(o->op_type()) && i == 1) {
            hop.inputs.push_back(In::kAxes);
        } else if (!broadcast) {
            if (v->type.rank() != 0) return false;  // Clip bounds and the like: scalars commute with any layout
            hop.inputs.push_back(In::kScalar);
        } else if (const Tensor* c = constant_of(v)) {
            if (c->rank() > static_cast<int64_t>(p.size()) ||
                (o->op_type() == "Concat" && c->rank() != int64_t(p.size())))
                return false;
            hop.inputs.push_back(In::kConstant);
        } else if (v->producer() && is_op(v->producer(), "Transpose") && sole_consumer(v) == o &&
                   transpose_perm(*v->producer(), static_cast<int64_t>(p.size())) == p) {
            hop.inputs.push_back(In::kAbsorbed);
            plan.absorbed.push_back(v->producer());
        } else if (o->op_type() != "Concat" && !v->is_captured() && unit_move_shape(v->type, inverse_perm(p))) {
            hop.inputs.push_back(In::kReshaped);
        } else {
            return false;
        }
    }
    return true;
}

/// Plans the move of Transpose `t` down its chain of single consumers.
std::optional<Plan> plan_sink(ir::Node* t) {
    const ir::Value* x = t->input(0);
    std::vector<int64_t> p = transpose_perm(*t, x->type.is_tensor() ? x->type.rank() : -1);
    if (p.empty()) return std::nullopt;
    Plan plan;
    plan.absorbed.push_back(t);
    const ir::Value* cur = t->output(0);
    while (true) {
        ir::Node* o = sole_consumer(cur);
        if (!o || (!o->domain().empty() && !is_qlinear_add(*o))) break;
        if (o->op_type() == "Transpose") {
            if (transpose_perm(*o, static_cast<int64_t>(p.size())).size() == p.size()) plan.terminal = o;
            break;
        }
        Hop hop{o, {}, p, p, {}};
        const std::string& op = o->op_type();
        if (o->outputs().size() != 1 || o->input(0) == nullptr) break;
        if (!unary_ops().count(op) && !is_broadcast(*o) && !is_reduce(op) && !is_softmax_like(*o)) break;
        if (is_reduce(op)) {
            const Tensor* axes = constant_of(o->input(1));
            if (o->input(0) != cur || !axes || axes->numel() == 0 || o->has_attr("axes")) break;
            const int64_t r = static_cast<int64_t>(p.size());
            std::vector<bool> reduced(p.size(), false);
            for (int64_t a : axes->to_int_vector()) {
                if (a < -r || a >= r) return std::nullopt;
                a = a < 0 ? a + r : a;
                reduced[static_cast<size_t>(a)] = true;
                hop.axes.push_back(p[static_cast<size_t>(a)]);
            }
            if (attrs_of(*o).attr_int("keepdims") == 0) {
                // Output dim k is the k-th kept j, i.e. x dim p[j]; the reduced x keeps its dims in x order.
                std::vector<int64_t> kept_x;
                for (size_t j = 0; j < p.size(); ++j) {
                    if (!reduced[j]) kept_x.push_back(p[j]);
                }
                std::vector<int64_t> sorted = kept_x;
                std::sort(sorted.begin(), sorted.end());
                hop.perm_out.clear();
                for (int64_t d : kept_x)
                    hop.perm_out.push_back(std::lower_bound(sorted.begin(), sorted.end(), d) - sorted.begin());
            }
        }
        const size_t pending = plan.absorbed.size();
        if (!plan_inputs(o, cur, p, hop, plan)) {
            plan.absorbed.resize(pending);
            break;
        }
        plan.hops.push_back(hop);
        p = hop.perm_out;
        cur = o->output(0);
        if (is_identity_perm(p)) {
            plan.vanished = true;
            break;
        }
    }
    if (plan.hops.empty()) return std::nullopt;  // nothing to move through (Transpose pairs: transpose_cancel)
    if (!plan.terminal && !plan.vanished && (plan.absorbed.size() < 2 || cur->is_captured())) return std::nullopt;
    return plan;
}

Status commit(ir::Graph& g, PassContext& ctx, Plan& plan) {
    for (Hop& h : plan.hops) {
        ir::Node* o = h.node;
        const std::vector<int64_t> inv = inverse_perm(h.perm_in);
        const int64_t r = static_cast<int64_t>(h.perm_in.size());
        for (size_t i = 0; i < h.inputs.size(); ++i) {
            ir::Value* v = o->input(i);
            if (h.inputs[i] == In::kAbsorbed ||
                (h.inputs[i] == In::kMoved && v->producer() &&
                 std::find(plan.absorbed.begin(), plan.absorbed.end(), v->producer()) != plan.absorbed.end())) {
                o->set_input(i, v->producer()->input(0));
            } else if (h.inputs[i] == In::kConstant) {
                const Tensor& c = *constant_of(v);
                Shape full(static_cast<size_t>(r - c.rank()), 1);
                full.insert(full.end(), c.shape().begin(), c.shape().end());
                if (std::all_of(c.shape().begin(), c.shape().end(), [](int64_t d) { return d == 1; }) &&
                    o->op_type() != "Concat")
                    continue;  // broadcasts the same way in any layout
                Tensor t = transpose_tensor(c.reshaped(full), inv);
                if (!t.defined()) return internal_error("transpose_sink: cannot permute constant '" + v->name() + "'");
                o->set_input(i, add_constant(g, v->name() + "_perm", std::move(t)));
            } else if (h.inputs[i] == In::kReshaped) {
                const std::vector<int64_t> shape = *unit_move_shape(v->type, inv);
                ir::Value* target =
                    add_constant(g, v->name() + "_perm_shape", Tensor::from_vector<int64_t>({r}, shape));
                NNPORT_ASSIGN_OR_RETURN(ir::Node * rs, make_node(g, ctx, "Reshape", "", v->name() + "_perm", {v, target}));
                o->set_input(i, rs->output(0));
            } else if (h.inputs[i] == In::kAxes) {
                o->set_input(i, add_constant(g, o->name() + "_axes",
                                             Tensor::from_vector<int64_t>({int64_t(h.axes.size())}, h.axes)));
            }
        }
        if (o->op_type() == "Concat" || is_softmax_like(*o)) {
            int64_t axis = attrs_of(*o).attr_int("axis");
            axis = axis < 0 ? axis + r : axis;
            o->attrs["axis"] = ir::Attribute::make_int(h.perm_in[static_cast<size_t>(axis)]);
        }
        o->output(0)->type = ir::ValueType();  // its layout changed: let inference start afresh
    }
    ir::Value* last = plan.hops.back().node->output(0);
    const std::vector<int64_t>& p = plan.hops.back().perm_out;
    std::string what = std::to_string(plan.absorbed.size()) + " Transpose(s) from " + plan.absorbed[0]->describe() +
                       " through " + std::to_string(plan.hops.size()) + " op(s)";
    if (plan.terminal) {
        const std::vector<int64_t> c = compose_perm(p, transpose_perm(*plan.terminal, static_cast<int64_t>(p.size())));
        plan.terminal->attrs["perm"] = ir::Attribute::make_ints(c);
        what += is_identity_perm(c) && forward_input(g, plan.terminal, last) ? ", cancelled" : ", composed";
    } else if (!plan.vanished) {
        NNPORT_ASSIGN_OR_RETURN(ir::Node * t, make_node(g, ctx, "Transpose", "", last->name() + "_t", {last}));
        t->attrs["perm"] = ir::Attribute::make_ints(p);
        t->set_input(0, nullptr);
        if (!replace_value(g, last, t->output(0))) return internal_error("transpose_sink: cannot re-insert Transpose");
        t->set_input(0, last);
        what += ", re-inserted";
    } else {
        what += ", vanished";
    }
    for (ir::Node* t : plan.absorbed) g.remove_node(t);
    ctx.record(what);
    return Status::ok();
}

class TransposeSinkPass : public Pass {
public:
    const char* name() const override { return "transpose_sink"; }
    const char* description() const override {
        return "pushes Transposes through elementwise, broadcasting (constants permuted), Concat, reduction and "
               "softmax ops when that cancels or merges Transposes (strictly fewer Transposes)";
    }
    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        bool changed = false;
        // One move per scan: a move rewires nodes further down, so plans are made on the current graph.
        for (bool again = true; again;) {
            again = false;
            for (const auto& n : g.nodes()) {
                if (!is_op(n.get(), "Transpose")) continue;
                std::optional<Plan> plan = plan_sink(n.get());
                if (!plan) continue;
                NNPORT_RETURN_IF_ERROR(commit(g, ctx, *plan));
                again = changed = true;
                break;
            }
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_transpose_sink_pass() { return std::make_unique<TransposeSinkPass>(); }

}  // namespace nnport::passes

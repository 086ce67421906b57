// fuse_gelu: GELU as exporters decompose it becomes one Gelu node.
//   exact: x * 0.5 * (1 + Erf(x / sqrt(2)))   (Div by 1.4142 or Mul by 0.7071)
//   tanh:  x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))   (x^3 as Pow(x, 3) or x * x * x)
// with the products 0.5 * x * (1 + e) in any association and operand order. Gelu is standard from opset 20
// (`approximate` attribute); before that nnport's copy in com.nnport is used when custom ops are allowed.
#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

namespace {

/// A constant scalar (rank <= 1, so it cannot raise the rank of x, which has rank >= 1) close to `want`.
bool is_const(const ir::Value* v, double want) {
    const Tensor* t = const_tensor(v);
    auto s = t && t->rank() <= 1 ? const_scalar(v) : std::nullopt;
    return s && near(*s, want);
}

/// x for a Mul(x, c) / Mul(c, x) with c == want; nullptr otherwise.
ir::Value* mul_by(const ir::Node* n, double want) {
    if (!is_op(n, "Mul")) return nullptr;
    if (is_const(n->input(1), want)) return n->input(0);
    if (is_const(n->input(0), want)) return n->input(1);
    return nullptr;
}

/// The single-use intermediate values of a matched pattern (their producers get removed).
struct Match {
    ir::Value* x = nullptr;
    std::vector<ir::Node*> nodes;
};

/// Erf's argument x / sqrt(2): Div(x, 1.41421) or Mul(x, 0.70711).
bool match_erf_arg(ir::Value* arg, Match& m) {
    ir::Node* p = arg->producer();
    if (!p || !single_use(arg)) return false;
    if (is_op(p, "Div") && is_const(p->input(1), 1.4142135623730951)) {
        m.x = p->input(0);
    } else if (ir::Value* x = mul_by(p, 0.7071067811865476)) {
        m.x = x;
    } else {
        return false;
    }
    m.nodes.push_back(p);
    return true;
}

/// x^3 as Pow(x, 3), Mul(x, Mul(x, x)) or Mul(Mul(x, x), x); returns x.
ir::Value* cube_of(ir::Value* v, std::vector<ir::Node*>& nodes) {
    ir::Node* p = v->producer();
    if (!p || !single_use(v)) return nullptr;
    if (is_op(p, "Pow") && is_const(p->input(1), 3.0)) {
        nodes.push_back(p);
        return p->input(0);
    }
    if (!is_op(p, "Mul")) return nullptr;
    for (int side = 0; side < 2; ++side) {
        ir::Value* x = p->input(size_t(side));
        ir::Value* sq = p->input(size_t(1 - side));
        ir::Node* q = sq ? sq->producer() : nullptr;
        if (is_op(q, "Mul") && single_use(sq) && q->input(0) == x && q->input(1) == x) {
            nodes.push_back(q);
            nodes.push_back(p);
            return x;
        }
    }
    return nullptr;
}

/// Tanh's argument sqrt(2/pi) * (x + 0.044715 * x^3).
bool match_tanh_arg(ir::Value* arg, Match& m) {
    ir::Node* p = arg->producer();
    ir::Value* inner = single_use(arg) ? mul_by(p, 0.7978845608028654) : nullptr;
    ir::Node* add = inner ? inner->producer() : nullptr;
    if (!is_op(add, "Add") || !single_use(inner)) return false;
    for (int side = 0; side < 2; ++side) {
        ir::Value* x = add->input(size_t(side));
        ir::Value* t = add->input(size_t(1 - side));
        ir::Node* scaled = t ? t->producer() : nullptr;
        ir::Value* cube = single_use(t) ? mul_by(scaled, 0.044715) : nullptr;
        std::vector<ir::Node*> nodes;
        if (cube && cube_of(cube, nodes) == x) {
            m.x = x;
            m.nodes = nodes;
            m.nodes.insert(m.nodes.end(), {scaled, add, p});
            return true;
        }
    }
    return false;
}

class FuseGelu : public Pass {
public:
    const char* name() const override { return "fuse_gelu"; }
    const char* description() const override {
        return "x*0.5*(1+Erf(x/sqrt2)) and the tanh approximation -> Gelu (com.nnport before opset 20).";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        const bool standard = ctx.opset() >= 20;
        if (!standard && !ctx.allow_custom_ops) return false;
        bool changed = false;
        std::vector<ir::Node*> cands;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "Erf") || is_op(n.get(), "Tanh")) cands.push_back(n.get());
        }
        for (ir::Node* e : cands) {
            NNPORT_ASSIGN_OR_RETURN(bool done, fuse(g, ctx, e, standard));
            changed = changed || done;
        }
        return changed;
    }

private:
    Result<bool> fuse(ir::Graph& g, PassContext& ctx, ir::Node* e, bool standard) {
        const bool exact = e->op_type() == "Erf";
        Match m;
        if (!e->input(0) || !(exact ? match_erf_arg(e->input(0), m) : match_tanh_arg(e->input(0), m))) return false;
        ir::Value* x = m.x;
        const DType dt = x->type.dtype;
        if (dt != DType::kFloat32 && dt != DType::kFloat64 && dt != DType::kFloat16 && dt != DType::kBFloat16) {
            return false;
        }
        m.nodes.push_back(e);
        // 1 + e
        ir::Node* add1 = sole_consumer(e->output(0));
        if (!is_op(add1, "Add") || !is_const(other_input(add1, e->output(0)), 1.0)) return false;
        m.nodes.push_back(add1);
        ir::Value* a1 = add1->output(0);
        ir::Node* mul = sole_consumer(a1);
        ir::Value* other = other_input(mul, a1);
        if (!is_op(mul, "Mul") || !other) return false;
        m.nodes.push_back(mul);
        ir::Value* out = nullptr;
        if (other == x) {
            // (x * (1 + e)) * 0.5
            ir::Node* half = sole_consumer(mul->output(0));
            if (mul_by(half, 0.5) != mul->output(0)) return false;
            m.nodes.push_back(half);
            out = half->output(0);
        } else if (ir::Node* hx = other->producer(); single_use(other) && mul_by(hx, 0.5) == x) {
            // (x * 0.5) * (1 + e)
            m.nodes.insert(m.nodes.end() - 1, hx);
            out = mul->output(0);
        } else if (is_const(other, 0.5)) {
            // x * ((1 + e) * 0.5)
            ir::Node* last = sole_consumer(mul->output(0));
            if (!is_op(last, "Mul") || other_input(last, mul->output(0)) != x) return false;
            m.nodes.push_back(last);
            out = last->output(0);
        } else {
            return false;
        }
        if (out->is_captured() || rank_of(x) < 1) return false;
        NNPORT_ASSIGN_OR_RETURN(ir::Node * gelu,
                                make_node(g, ctx, "Gelu", standard ? "" : kNnportDomain, e->name() + "_gelu", {x}));
        if (!exact) gelu->attrs["approximate"] = ir::Attribute::make_string("tanh");
        if (!replace_value(g, out, gelu->output(0))) {
            g.remove_node(gelu);
            return false;
        }
        ctx.record(std::string(exact ? "Gelu" : "Gelu(tanh)") + " from " + e->describe());
        remove_dead(g, m.nodes);
        return true;
    }
};

}  // namespace

std::unique_ptr<Pass> make_fuse_gelu_pass() { return std::make_unique<FuseGelu>(); }

}  // namespace nnport::passes

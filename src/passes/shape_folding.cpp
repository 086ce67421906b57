// shape_folding: folds shape computations. Shape/Size of values with static shapes become constants, and the small
// int64 chains built from them (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as PyTorch exports) are tracked
// element by element: an element is either a known number or "dimension k of value X" (a dynamic dimension).
//   - Whatever becomes fully known (also from partially static shapes: Gather/Slice of static dimensions) is turned
//     into initializers; remaining small foldable ops on known inputs are evaluated through their kernels.
//   - A Reshape whose shape still holds dynamic elements folds too when each of them is "dimension p of the Reshape's
//     own data" at position p and allowzero is 0: that element becomes 0 ("copy the input's dimension"), exactly the
//     same value, so Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) becomes Reshape(x, [0, -1]). A single
//     other dynamic element among positive known ones (e.g. batch * heads) becomes -1, which Reshape infers back
//     from the element count: the same value for every input on which the original Reshape succeeds.
// Only true constants count as known (an initializer that is also a graph input can be overridden at run time).
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "ops/op_def.hpp"
#include "passes/pass_util.hpp"
#include "passes/rewrite_util.hpp"

namespace nnport::passes {
namespace {

constexpr int64_t kMaxElements = 1 << 16;  // shape-computation scale, as load-time inference

/// One element of a shape tensor: a known number, dimension `v` of value `src`, or an unknown number.
struct Elem {
    const ir::Value* src = nullptr;
    int64_t v = 0;  ///< the number when src is null, else the dimension index
    bool unknown = false;
    bool dynamic() const { return src || unknown; }
};

/// A partially known int64 scalar (rank 0) or vector (rank 1).
struct Sym {
    int64_t rank = 1;
    std::vector<Elem> e;
    bool known() const {
        for (const Elem& x : e) {
            if (x.dynamic()) return false;
        }
        return true;
    }
    Tensor tensor() const {
        std::vector<int64_t> v;
        for (const Elem& x : e) v.push_back(x.v);
        return rank == 0 ? Tensor::scalar<int64_t>(v[0]) : Tensor::from_vector<int64_t>({int64_t(v.size())}, v);
    }
};

class Folder {
public:
    const Tensor* known(const ir::Value* v) const {
        if (const Tensor* t = constant_of(v)) return t;
        auto it = full_.find(v);
        if (it != full_.end()) return &it->second;
        it = constant_nodes_.find(v);
        return it == constant_nodes_.end() ? nullptr : &it->second;
    }

    /// The partially known form of `v`, if it is an int64 scalar or vector we track or know.
    std::optional<Sym> sym(const ir::Value* v) const {
        if (!v) return std::nullopt;
        auto it = sym_.find(v);
        if (it != sym_.end()) return it->second;
        const Tensor* t = known(v);
        if (!t) {
            // An int64 scalar or short vector computed some other way: its elements are unknown numbers.
            const ir::ValueType& ty = v->type;
            if (!ty.is_tensor() || ty.dtype != DType::kInt64 || !ty.is_static() || ty.rank() > 1) return std::nullopt;
            const int64_t n = ty.rank() == 0 ? 1 : ty.dims[0].value;
            if (n > kMaxElements) return std::nullopt;
            return Sym{ty.rank(), std::vector<Elem>(static_cast<size_t>(n), Elem{nullptr, 0, true})};
        }
        if (t->dtype() != DType::kInt64 || t->rank() > 1 || t->numel() > kMaxElements) return std::nullopt;
        Sym s;
        s.rank = t->rank();
        for (int64_t i = 0; i < t->numel(); ++i) s.e.push_back(Elem{nullptr, t->data<int64_t>()[i]});
        return s;
    }

    /// Computes the partially known output of a shape-chain node, if it is one.
    std::optional<Sym> eval_sym(const ir::Node& n) const {
        const std::string& op = n.op_type();
        if (!n.domain().empty() || !n.output(0)) return std::nullopt;
        const ir::Value* x = n.input(0);
        if (op == "Shape") {
            if (!x || !x->type.is_tensor() || !x->type.has_shape) return std::nullopt;
            const int64_t r = x->type.rank();
            const AttrAccess a = attrs_of(n);
            int64_t start = a.attr_int("start"), end = a.has_attr("end") ? a.attr_int("end") : r;
            start = std::clamp(start < 0 ? start + r : start, int64_t{0}, r);
            end = std::clamp(end < 0 ? end + r : end, int64_t{0}, r);
            Sym s;
            for (int64_t i = start; i < end; ++i) {
                const ir::Dim& d = x->type.dims[static_cast<size_t>(i)];
                s.e.push_back(d.is_static() ? Elem{nullptr, d.value} : Elem{x, i});
            }
            return s;
        }
        if (op == "Size") {
            if (!x || !x->type.is_static()) return std::nullopt;
            return Sym{0, {Elem{nullptr, shape_numel(x->type.static_shape())}}};
        }
        std::optional<Sym> in = sym(x);
        if (!in) return std::nullopt;
        if (op == "Cast" && n.output(0)->type.dtype == DType::kInt64) return in;
        if (op == "Gather" && in->rank == 1 && attrs_of(n).attr_int("axis") == 0) {
            const Tensor* idx = known(n.input(1));
            if (!idx || !dtype_is_integer(idx->dtype()) || idx->rank() > 1) return std::nullopt;
            Sym s;
            s.rank = idx->rank();
            const int64_t len = static_cast<int64_t>(in->e.size());
            for (int64_t i = 0; i < idx->numel(); ++i) {
                int64_t k = idx->item_as_int(i);
                if (k < 0) k += len;
                if (k < 0 || k >= len) return std::nullopt;  // out of range: left for run time to report
                s.e.push_back(in->e[static_cast<size_t>(k)]);
            }
            return s;
        }
        if ((op == "Unsqueeze" && in->rank == 0) || (op == "Squeeze" && in->rank == 1 && in->e.size() == 1)) {
            const ir::Value* axes = n.input(1);
            const Tensor* t = axes ? known(axes) : nullptr;
            if (axes && (!t || t->numel() != 1 || (t->item_as_int(0) != 0 && t->item_as_int(0) != -1)))
                return std::nullopt;
            if (!axes && op == "Unsqueeze") return std::nullopt;
            Sym s = *in;
            s.rank = op == "Unsqueeze" ? 1 : 0;
            return s;
        }
        if (op == "Concat" && in->rank == 1) {
            const int64_t axis = attrs_of(n).attr_int("axis");
            if (axis != 0 && axis != -1) return std::nullopt;
            Sym s;
            for (const ir::Value* v : n.inputs()) {
                std::optional<Sym> p = sym(v);
                if (!p || p->rank != 1) return std::nullopt;
                s.e.insert(s.e.end(), p->e.begin(), p->e.end());
            }
            return s;
        }
        if (op == "Slice" && in->rank == 1) return slice(n, *in);
        return std::nullopt;
    }

    /// Slice of a 1-D tracked value with constant starts/ends/axes/steps (ONNX clamping rules).
    std::optional<Sym> slice(const ir::Node& n, const Sym& in) const {
        const Tensor* st = known(n.input(1));
        const Tensor* en = known(n.input(2));
        const Tensor* ax = n.input(3) ? known(n.input(3)) : nullptr;
        const Tensor* sp = n.input(4) ? known(n.input(4)) : nullptr;
        if (!st || !en || st->numel() != 1 || en->numel() != 1 || (n.input(3) && !ax) || (n.input(4) && !sp))
            return std::nullopt;
        if (ax && (ax->numel() != 1 || (ax->item_as_int(0) != 0 && ax->item_as_int(0) != -1))) return std::nullopt;
        const int64_t len = static_cast<int64_t>(in.e.size());
        const int64_t step = sp ? sp->item_as_int(0) : 1;
        if (step == 0 || (sp && sp->numel() != 1)) return std::nullopt;
        int64_t b = st->item_as_int(0), e = en->item_as_int(0);
        b = b < 0 ? b + len : b;
        e = e < 0 ? e + len : e;
        Sym s;
        if (step > 0) {
            b = std::clamp(b, int64_t{0}, len);
            e = std::clamp(e, int64_t{0}, len);
            for (int64_t i = b; i < e; i += step) s.e.push_back(in.e[static_cast<size_t>(i)]);
        } else {
            b = std::clamp(b, int64_t{-1}, len - 1);
            e = std::clamp(e, int64_t{-1}, len - 1);
            for (int64_t i = b; i > e; i += step) s.e.push_back(in.e[static_cast<size_t>(i)]);
        }
        return s;
    }

    /// Tracks or evaluates one node; true if all its outputs became known here.
    bool visit(ir::Node& n) {
        if (!n.def || !n.def->foldable || !n.subgraphs().empty()) return false;
        if (is_op(&n, "Constant")) {  // known, but turning it into an initializer is constant_folding's job
            std::vector<Tensor> out = evaluate_node(n, [](const ir::Value*) -> const Tensor* { return nullptr; });
            if (!out.empty()) constant_nodes_[n.output(0)] = out[0];
            return false;
        }
        if (std::optional<Sym> s = eval_sym(n)) {
            if (!s->known()) {
                sym_[n.output(0)] = std::move(*s);
                return false;
            }
            full_[n.output(0)] = s->tensor();
            return n.outputs().size() == 1;
        }
        // Any other small op whose inputs are known, at least one of them through this pass.
        bool ours = false;
        for (const ir::Value* v : n.inputs()) {
            if (!v) continue;
            const Tensor* t = known(v);
            if (!t || t->numel() > kMaxElements) return false;
            ours = ours || full_.count(v) != 0;
        }
        if (!ours || !small_outputs(n)) return false;
        std::vector<Tensor> out = evaluate_node(n, [this](const ir::Value* v) { return known(v); });
        if (out.empty()) return false;
        for (size_t i = 0; i < out.size(); ++i) {
            if (n.output(i)) full_[n.output(i)] = out[i];
        }
        return true;
    }

    /// True if the outputs have small static shapes, inferred again with the values known here (load-time
    /// inference did not know them); the node's types are restored when they are not.
    bool small_outputs(ir::Node& n) const {
        std::vector<ir::ValueType> saved;
        for (const ir::Value* o : n.outputs()) saved.push_back(o ? o->type : ir::ValueType());
        int symbols = 0;
        InferContext ic(
            n, *n.def, [this](const ir::Value* v) { return known(v); }, &symbols);
        bool ok = n.def->infer && n.def->infer(ic).is_ok();
        for (const ir::Value* o : n.outputs()) {
            ok = ok && (!o || (o->type.is_static() && shape_numel(o->type.static_shape()) <= kMaxElements));
        }
        if (!ok) {
            for (size_t i = 0; i < saved.size(); ++i) {
                if (n.output(i)) n.output(i)->type = saved[i];
            }
        }
        return ok;
    }

    /// The constant shape for a Reshape whose dynamic elements are its data's own dimensions in place, if any.
    std::optional<Tensor> reshape_target(const ir::Node& n) const {
        if (!is_op(&n, "Reshape") || attrs_of(n).attr_int("allowzero") != 0 || known(n.input(1))) return std::nullopt;
        auto it = sym_.find(n.input(1));
        if (it == sym_.end() || it->second.rank != 1) return std::nullopt;
        Sym s = it->second;
        int others = 0;  // dynamic elements that are not the data's own dimension in place
        bool copies = false, nonpositive = false;
        for (size_t p = 0; p < s.e.size(); ++p) {
            Elem& x = s.e[p];
            if (!x.dynamic()) {
                nonpositive = nonpositive || x.v <= 0;
            } else if (x.src == n.input(0) && x.v == static_cast<int64_t>(p)) {
                x = Elem{nullptr, 0};
                copies = true;
            } else {
                ++others;
            }
        }
        if (others == 0) return s.tensor();
        // One unknown element among positive known ones is what -1 infers from the element count.
        if (others > 1 || copies || nonpositive) return std::nullopt;
        for (Elem& x : s.e) {
            if (x.dynamic()) x = Elem{nullptr, -1};
        }
        return s.tensor();
    }

    std::unordered_map<const ir::Value*, Tensor> full_;

private:
    std::unordered_map<const ir::Value*, Sym> sym_;
    std::unordered_map<const ir::Value*, Tensor> constant_nodes_;
};

class ShapeFoldingPass : public Pass {
public:
    const char* name() const override { return "shape_folding"; }
    const char* description() const override {
        return "folds Shape/Size of static shapes and the Shape->Gather->Unsqueeze->Concat->Reshape chains built from "
               "them (dynamic dimensions read back in place become Reshape's 0)";
    }
    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        Folder f;
        std::vector<ir::Node*> nodes;
        for (const auto& n : g.nodes()) nodes.push_back(n.get());
        bool changed = false;
        for (ir::Node* n : nodes) {
            if (f.visit(*n)) {
                bool needed = false;
                for (const ir::Value* o : n->outputs()) needed = needed || value_needed(o);
                if (!needed) continue;
                std::vector<Tensor> values;
                for (const ir::Value* o : n->outputs()) values.push_back(o ? f.full_.at(o) : Tensor());
                ctx.record(n->describe() + " -> constant");
                replace_node_by_constants(g, n, std::move(values));
                changed = true;
            } else if (std::optional<Tensor> shape = f.reshape_target(*n)) {
                ctx.record(n->describe() + " shape -> constant " + shape_to_string(shape->to_int_vector()));
                n->set_input(1, add_constant(g, n->name() + "_shape", std::move(*shape)));
                changed = true;
            }
        }
        // The chains that fed the folded values are dead now; remove them so one run leaves a clean graph.
        if (changed) {
            if (int dead = remove_dead_nodes(g)) ctx.record("removed " + std::to_string(dead) + " dead node(s)");
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_shape_folding_pass() { return std::make_unique<ShapeFoldingPass>(); }

}  // namespace nnport::passes

// Model-vs-profile checking: per-node constraint violations and the scenario that resolves each.
#include "convert/checker.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <unordered_set>

#include "onnx/importer.hpp"
#include "ops/op_def.hpp"

namespace nnport::convert {

namespace {

/// Ops whose cost belongs on the accelerator: a tail containing one is not "post-processing" (scenario 3).
const std::set<std::string> kHeavyOps = {"Conv",   "ConvTranspose", "ConvInteger",   "QLinearConv", "DeformConv",
                                         "MatMul", "MatMulInteger", "QLinearMatMul", "Gemm",        "Einsum",
                                         "LSTM",   "GRU",           "RNN",           "Attention"};

std::string key_of(const ir::Node& n) { return n.domain().empty() ? n.op_type() : n.domain() + ":" + n.op_type(); }

std::string dims_string(const ir::ValueType& t) { return t.to_string(); }

/// A node attribute with the schema default applied; nullptr if neither exists.
const ir::Attribute* attr_or_default(const ir::Node& n, const std::string& name) {
    if (const ir::Attribute* a = n.attr(name)) return a;
    if (n.def) {
        if (const AttrSpec* s = n.def->find_attr(name); s && s->has_default) return &s->default_value;
    }
    return nullptr;
}

class Checker {
public:
    Checker(const ir::Model& m, const ConstantMap& consts, const TargetProfile& p, const RewriteCatalogue& cat)
        : model_(m), consts_(consts), profile_(p), cat_(cat) {
        // Values computed from tensor shapes only (Shape/Size and foldable arithmetic on them): constant once the
        // input shapes are pinned, even where symbolic input dims keep shape inference from evaluating them now.
        for (const auto& np : m.graph->nodes()) {
            const ir::Node& n = *np;
            bool derived = false;
            if ((n.op_type() == "Shape" || n.op_type() == "Size") && n.domain().empty()) {
                derived = n.input(0) && n.input(0)->type.has_shape;
            } else if (n.def && n.def->foldable && n.subgraphs().empty() && !n.inputs().empty()) {
                derived = std::all_of(n.inputs().begin(), n.inputs().end(), [&](const ir::Value* v) {
                    return !v || is_constant(v) || shape_derived_.count(v);
                });
                derived &= std::any_of(n.inputs().begin(), n.inputs().end(),
                                       [&](const ir::Value* v) { return v && shape_derived_.count(v); });
            }
            if (!derived) continue;
            for (const ir::Value* o : n.outputs()) {
                if (o) shape_derived_.insert(o);
            }
        }
    }

    CheckReport run();

private:
    bool is_constant(const ir::Value* v) const {
        if (!v) return true;
        while (v->outer() && !v->has_initializer()) v = v->outer();
        if (v->has_initializer() || consts_.count(v)) return true;
        const ir::Node* p = v->producer();
        return p && p->op_type() == "Constant" && p->domain().empty();
    }
    const Tensor* constant_value(const ir::Value* v) const {
        if (!v) return nullptr;
        if (v->has_initializer()) return &v->initializer();
        auto it = consts_.find(v);
        return it == consts_.end() ? nullptr : &it->second;
    }
    std::vector<Violation> violations(const ir::Node& n) const;
    bool predicate(const std::string& name, const ir::Node& n, const std::vector<Violation>& vs) const;
    bool op_available(const std::string& op, int depth) const;
    bool rewrite_applies(const Rewrite& r, const ir::Node& n, const std::vector<Violation>& vs) const;
    void classify(const ir::Node& n, NodeIssue& issue, bool top_level) const;
    bool graph_inputs_dynamic() const;
    void model_checks(CheckReport& r) const;

    const ir::Model& model_;
    const ConstantMap& consts_;
    const TargetProfile& profile_;
    const RewriteCatalogue& cat_;
    std::unordered_set<const ir::Value*> shape_derived_;
};

std::vector<Violation> Checker::violations(const ir::Node& n) const {
    std::vector<Violation> out;
    const OpConstraints* c = profile_.find_op(n.domain(), n.op_type());
    if (!c) {
        out.push_back({"op_missing", profile_.name + " has no " + key_of(n)});
        return out;
    }
    const ir::Value* in0 = nullptr;
    for (const ir::Value* v : n.inputs()) {
        if (v) {
            in0 = v;
            break;
        }
    }
    if (c->opset && (n.opset < c->opset->first || n.opset > c->opset->second)) {
        out.push_back({"opset", "opset " + std::to_string(n.opset) + " outside [" + std::to_string(c->opset->first) +
                                    ", " + std::to_string(c->opset->second) + "]"});
    }
    const ir::Value* typed = in0 ? in0 : n.output(0);
    if (!c->dtypes.empty() && typed && typed->type.is_tensor() && typed->type.dtype != DType::kUndefined) {
        const std::string dt = dtype_name(typed->type.dtype);
        if (std::find(c->dtypes.begin(), c->dtypes.end(), dt) == c->dtypes.end()) {
            out.push_back({"dtype", "element type " + dt + " not supported for " + n.op_type()});
        }
    }
    if (c->rank && in0 && in0->type.has_shape) {
        const int r = static_cast<int>(in0->type.rank());
        if (r < c->rank->first || r > c->rank->second) {
            out.push_back({"rank", "input rank " + std::to_string(r) + " outside [" + std::to_string(c->rank->first) +
                                       ", " + std::to_string(c->rank->second) + "]"});
        }
    }
    for (const auto& [name, allowed] : c->attrs) {
        const ir::Attribute* a = attr_or_default(n, name);
        if (!a) continue;
        AttrValue have;
        if (a->type == ir::AttrType::kString) {
            have.is_string = true;
            have.s = a->s;
        } else if (a->type == ir::AttrType::kInt) {
            have.i = a->i;
        } else {
            continue;
        }
        if (std::find(allowed.begin(), allowed.end(), have) == allowed.end()) {
            std::string list;
            for (const AttrValue& v : allowed) list += (list.empty() ? "" : ", ") + v.to_string();
            out.push_back({"attr", name + "=" + have.to_string() + " not allowed (allowed: " + list + ")"});
        }
    }
    for (const auto& [name, limit] : c->attr_max) {
        std::vector<int64_t> vals;
        if (const ir::Attribute* a = attr_or_default(n, name)) {
            if (a->type == ir::AttrType::kInt) vals.push_back(a->i);
            if (a->type == ir::AttrType::kInts) vals = a->ints;
        }
        if (vals.empty() && name == "kernel_shape" && n.input(1) && n.input(1)->type.has_shape) {
            // Conv-like ops may omit kernel_shape: it is the weight's spatial shape.
            const auto& d = n.input(1)->type.dims;
            for (size_t i = 2; i < d.size(); ++i) {
                if (d[i].is_static()) vals.push_back(d[i].value);
            }
        }
        for (int64_t v : vals) {
            if (v > limit) {
                out.push_back({"attr_max", name + " " + std::to_string(v) + " exceeds " + std::to_string(limit)});
                break;
            }
        }
    }
    for (int i : c->const_inputs) {
        const ir::Value* v = n.input(static_cast<size_t>(i));
        if (v && !is_constant(v)) {
            out.push_back({"const_input", "input " + std::to_string(i) + " ('" + v->name() + "') must be constant"});
        }
    }
    // With symbolic graph inputs the model-level issue (fix_input_shapes) covers every node; the profile-wide flag
    // then flags only data-dependent shapes.
    if (c->static_shapes || (profile_.static_shapes_required && !graph_inputs_dynamic())) {
        for (const std::vector<ir::Value*>* vs : {&n.inputs(), &n.outputs()}) {
            for (const ir::Value* v : *vs) {
                if (v && v->type.is_tensor() && !v->type.is_static()) {
                    out.push_back({"dynamic_shape", "'" + v->name() + "' has shape " + dims_string(v->type)});
                    break;
                }
            }
            if (!out.empty() && out.back().kind == "dynamic_shape") break;
        }
    }
    if (c->broadcast != "numpy" && n.output(0) && n.output(0)->type.has_shape) {
        const auto& od = n.output(0)->type.dims;
        for (const ir::Value* v : n.inputs()) {
            if (!v || !v->type.has_shape) continue;
            const bool same = v->type.dims == od;
            const bool scalar = v->type.is_static() && shape_numel(v->type.static_shape()) == 1;
            if (!same && !(c->broadcast == "scalar" && scalar)) {
                out.push_back({"broadcast", "'" + v->name() + "' " + dims_string(v->type) + " broadcasts to " +
                                                n.output(0)->type.to_string() + " (target: " + c->broadcast + ")"});
                break;
            }
        }
    }
    if (c->max_outputs >= 0) {
        for (size_t i = static_cast<size_t>(c->max_outputs); i < n.outputs().size(); ++i) {
            const ir::Value* o = n.output(i);
            if (o && (!o->uses().empty() || o->is_graph_output())) {
                out.push_back({"outputs", "output " + std::to_string(i) + " is used; the target produces only " +
                                              std::to_string(c->max_outputs)});
                break;
            }
        }
    }
    if (c->group == "1_or_depthwise") {
        const ir::Attribute* g = attr_or_default(n, "group");
        const int64_t groups = g && g->type == ir::AttrType::kInt ? g->i : 1;
        if (groups != 1) {
            const bool known = in0 && in0->type.has_shape && in0->type.rank() >= 2 && in0->type.dims[1].is_static();
            if (!known || in0->type.dims[1].value != groups) {
                out.push_back({"group", "group=" + std::to_string(groups) + " is neither 1 nor depthwise"});
            }
        }
    }
    if (c->symmetric_pads) {
        if (const ir::Attribute* p = n.attr("pads"); p && p->type == ir::AttrType::kInts && p->ints.size() % 2 == 0) {
            const size_t h = p->ints.size() / 2;
            if (!std::equal(p->ints.begin(), p->ints.begin() + static_cast<long>(h),
                            p->ints.begin() + static_cast<long>(h))) {
                out.push_back({"pads", "asymmetric pads"});
            }
        }
        if (const ir::Attribute* a = n.attr("auto_pad"); a && (a->s == "SAME_UPPER" || a->s == "SAME_LOWER")) {
            out.push_back({"pads", "auto_pad=" + a->s + " may pad asymmetrically"});
        }
    }
    if (profile_.max_rank) {
        for (const std::vector<ir::Value*>* vs : {&n.inputs(), &n.outputs()}) {
            for (const ir::Value* v : *vs) {
                if (v && v->type.has_shape && v->type.rank() > *profile_.max_rank) {
                    out.push_back({"max_rank", "'" + v->name() + "' has rank " + std::to_string(v->type.rank()) +
                                                   " > " + std::to_string(*profile_.max_rank)});
                    return out;
                }
            }
        }
    }
    return out;
}

bool Checker::predicate(const std::string& name, const ir::Node& n, const std::vector<Violation>& vs) const {
    auto in_shape = [&](size_t i) -> const ir::ValueType* { return n.input(i) ? &n.input(i)->type : nullptr; };
    auto scalar = [&](size_t i, double want) {
        const Tensor* t = constant_value(n.input(i));
        if (!t || t->numel() != 1 || !dtype_is_float(t->dtype())) return false;
        return std::fabs(t->item_as_double(0) - want) < 1e-12;
    };
    if (name == "evaluable_at_load") {
        // Constant nodes, and nodes whose outputs shape inference already evaluated (Shape of a static tensor and
        // the arithmetic exporters build on it) or whose inputs are all constant.
        if (n.op_type() == "Constant" && n.domain().empty()) return true;
        if (!n.def || !n.def->foldable) return false;
        const bool outputs_known = std::all_of(n.outputs().begin(), n.outputs().end(), [&](const ir::Value* o) {
            return !o || consts_.count(o) || shape_derived_.count(o);
        });
        const bool inputs_constant =
            std::all_of(n.inputs().begin(), n.inputs().end(), [&](const ir::Value* v) { return is_constant(v); });
        return outputs_known || inputs_constant;
    }
    if (name == "opset_violation") {
        return !vs.empty() && std::all_of(vs.begin(), vs.end(), [](const Violation& v) { return v.kind == "opset"; });
    }
    if (name == "dropout_inference") {
        const ir::Value* mask = n.output(1);
        return !(mask && (!mask->uses().empty() || mask->is_graph_output())) &&
               (!n.input(2) || is_constant(n.input(2)));
    }
    if (name == "cast_is_noop") {
        const ir::Attribute* to = n.attr("to");
        return to && n.input(0) && n.output(0) && n.input(0)->type.dtype == n.output(0)->type.dtype;
    }
    if (name == "float_output") return n.output(0) && dtype_is_float(n.output(0)->type.dtype);
    if (name == "rank_2") return in_shape(0) && in_shape(0)->rank() == 2 && in_shape(1) && in_shape(1)->rank() == 2;
    if (name == "conv_1x1_on_1x1") {
        const ir::ValueType* x = in_shape(0);
        const ir::ValueType* w = in_shape(1);
        if (!x || !w || !x->is_static() || !w->is_static() || !is_constant(n.input(1))) return false;
        for (size_t i = 2; i < x->dims.size(); ++i) {
            if (x->dims[i].value != 1 || w->dims[i].value != 1) return false;
        }
        const ir::Attribute* g = n.attr("group");
        return !g || g->i == 1;
    }
    if (name == "alpha_in_0_1") {
        const ir::Attribute* a = attr_or_default(n, "alpha");
        return a && a->f >= 0.0f && a->f <= 1.0f;
    }
    if (name == "clip_is_relu") {
        const Tensor* lo = constant_value(n.input(1));
        return lo && lo->numel() == 1 && lo->item_as_double(0) == 0.0 && !n.input(2);
    }
    if (name == "clip_bounds_constant") {
        return (!n.input(1) || is_constant(n.input(1))) && (!n.input(2) || is_constant(n.input(2)));
    }
    if (name == "pow_exponent_2") return scalar(1, 2.0);
    if (name == "pow_exponent_half") return scalar(1, 0.5);
    if (name == "batchnorm_params_constant") {
        for (size_t i = 1; i < 5; ++i) {
            if (!is_constant(n.input(i))) return false;
        }
        return true;
    }
    if (name == "after_single_use_conv") {
        const ir::Value* x = n.input(0);
        return x && x->producer() && x->producer()->op_type() == "Conv" && x->uses().size() == 1 &&
               !x->is_graph_output();
    }
    if (name == "pad_zero_constant") {
        const ir::Attribute* mode = attr_or_default(n, "mode");
        if (mode && mode->s != "constant") return false;
        const Tensor* v = constant_value(n.input(2));
        return (!n.input(2) || (v && v->numel() == 1 && v->item_as_double(0) == 0.0)) && is_constant(n.input(1));
    }
    if (name == "consumers_are_conv") {
        const ir::Value* y = n.output(0);
        if (!y || y->uses().empty() || y->is_graph_output()) return false;
        return std::all_of(y->uses().begin(), y->uses().end(),
                           [](const ir::Use& u) { return u.node->op_type() == "Conv" && u.index == 0; });
    }
    if (name == "reduces_spatial_axes") {
        const ir::ValueType* x = in_shape(0);
        const ir::Attribute* keep = attr_or_default(n, "keepdims");
        if (!x || x->rank() != 4 || (keep && keep->i == 0)) return false;
        std::vector<int64_t> axes;
        if (const ir::Attribute* a = n.attr("axes")) axes = a->ints;
        if (const Tensor* t = constant_value(n.input(1))) {
            for (int64_t i = 0; i < t->numel(); ++i) axes.push_back(static_cast<int64_t>(t->item_as_double(i)));
        }
        for (int64_t& a : axes) a = a < 0 ? a + 4 : a;
        std::sort(axes.begin(), axes.end());
        return axes == std::vector<int64_t>{2, 3};
    }
    if (name == "static_input_rank") return in_shape(0) && in_shape(0)->has_shape;
    if (name == "static_input_shape") return in_shape(0) && in_shape(0)->is_static();
    if (name == "resize_nearest_integer_upscale") {
        const ir::Attribute* mode = attr_or_default(n, "mode");
        if (!mode || mode->s != "nearest") return false;
        const ir::ValueType* x = in_shape(0);
        const ir::Value* y = n.output(0);
        if (!x || !y || !x->is_static() || !y->type.is_static() || x->rank() != 4) return false;
        const auto& xd = x->dims;
        const auto& yd = y->type.dims;
        if (xd[0].value != yd[0].value || xd[1].value != yd[1].value || xd[2].value == 0 || xd[3].value == 0)
            return false;
        const int64_t s = yd[2].value / xd[2].value;
        return s >= 1 && yd[2].value == s * xd[2].value && yd[3].value == s * xd[3].value;
    }
    if (name == "convtranspose_2d_group1") {
        const ir::Attribute* g = attr_or_default(n, "group");
        const ir::Attribute* d = n.attr("dilations");
        const bool undilated = !d || std::all_of(d->ints.begin(), d->ints.end(), [](int64_t v) { return v == 1; });
        return in_shape(0) && in_shape(0)->rank() == 4 && (!g || g->i == 1) && undilated && is_constant(n.input(1));
    }
    if (name == "conv_dilated") {
        const ir::Attribute* d = n.attr("dilations");
        return d && std::any_of(d->ints.begin(), d->ints.end(), [](int64_t v) { return v > 1; }) &&
               is_constant(n.input(1));
    }
    if (name == "resize_linear_integer_upscale") {
        // Static NCHW in and out, N and C kept, H and W each enlarged by an integer factor.
        const ir::Attribute* mode = attr_or_default(n, "mode");
        const ir::Attribute* coord = attr_or_default(n, "coordinate_transformation_mode");
        if (!mode || mode->s != "linear" || (coord && coord->s == "tf_crop_and_resize")) return false;
        const ir::ValueType* x = in_shape(0);
        const ir::Value* y = n.output(0);
        if (!x || !y || !x->is_static() || !y->type.is_static() || x->rank() != 4 || y->type.rank() != 4) return false;
        const auto& xd = x->dims;
        const auto& yd = y->type.dims;
        if (xd[0].value != yd[0].value || xd[1].value != yd[1].value || xd[2].value == 0 || xd[3].value == 0)
            return false;
        return yd[2].value % xd[2].value == 0 && yd[3].value % xd[3].value == 0 && yd[2].value >= xd[2].value &&
               yd[3].value >= xd[3].value;
    }
    if (name == "conv_kernel_exceeds_max") {
        // A 2-D undilated Conv with constant weights whose kernel exceeds the target's limit, and pads wide enough
        // to keep the output shape with the largest allowed kernel (the padding shrinks by what the kernel loses).
        const OpConstraints* c = profile_.find_op("", "Conv");
        const auto lim = c ? c->attr_max.find("kernel_shape") : std::map<std::string, int64_t>::const_iterator();
        const ir::ValueType* w = in_shape(1);
        if (!c || lim == c->attr_max.end() || !w || !w->is_static() || w->rank() != 4 || !is_constant(n.input(1)))
            return false;
        const ir::Attribute* d = n.attr("dilations");
        if (d && std::any_of(d->ints.begin(), d->ints.end(), [](int64_t v) { return v != 1; })) return false;
        const ir::Attribute* ap = attr_or_default(n, "auto_pad");
        const std::string auto_pad = ap ? ap->s : "NOTSET";
        const ir::Attribute* pads = n.attr("pads");
        bool exceeds = false;
        for (size_t i = 0; i < 2; ++i) {
            const int64_t k = w->dims[i + 2].value, cut = std::max<int64_t>(0, k - lim->second);
            exceeds |= cut > 0;
            if (cut == 0 || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") continue;
            const int64_t room = auto_pad == "NOTSET" && pads && pads->ints.size() == 4
                                     ? pads->ints[i] + pads->ints[i + 2]
                                     : 0;
            if (room < cut) return false;
        }
        return exceeds && lim->second >= 1;
    }
    return false;
}

bool Checker::op_available(const std::string& op, int depth) const {
    if (profile_.find_op("", op)) return true;
    if (depth >= 3) return false;
    // An op missing on the target is still reachable if an unconditional exact rewrite expresses it in ops that are.
    for (const Rewrite& r : cat_.rewrites) {
        if (r.replaces != op || r.kind != "exact" || !r.when_const_inputs.empty() || !r.when_attrs.empty() ||
            !r.when_predicates.empty() || r.needs.empty()) {
            continue;
        }
        if (std::all_of(r.needs.begin(), r.needs.end(),
                        [&](const std::string& o) { return op_available(o, depth + 1); })) {
            return true;
        }
    }
    return false;
}

bool Checker::rewrite_applies(const Rewrite& r, const ir::Node& n, const std::vector<Violation>& vs) const {
    if (r.replaces != n.op_type() && r.replaces != "*") return false;
    if (!n.domain().empty() && r.replaces != "*") return false;
    if (!r.fixes.empty()) {
        for (const Violation& v : vs) {
            if (std::find(r.fixes.begin(), r.fixes.end(), v.kind) == r.fixes.end()) return false;
        }
    }
    for (int i : r.when_const_inputs) {
        if (!n.input(static_cast<size_t>(i)) || !is_constant(n.input(static_cast<size_t>(i)))) return false;
    }
    for (const auto& [name, allowed] : r.when_attrs) {
        const ir::Attribute* a = attr_or_default(n, name);
        if (!a) return false;
        AttrValue have;
        have.is_string = a->type == ir::AttrType::kString;
        have.s = a->s;
        have.i = have.is_string ? 0 : a->i;
        if (std::find(allowed.begin(), allowed.end(), have) == allowed.end()) return false;
    }
    for (const std::string& p : r.when_predicates) {
        if (!predicate(p, n, vs)) return false;
    }
    for (const std::string& o : r.needs) {
        // A rewrite that keeps the same op (Conv -> Conv) relies on the op itself being present.
        if (!op_available(o, 0)) return false;
    }
    return true;
}

void Checker::classify(const ir::Node& n, NodeIssue& issue, bool top_level) const {
    std::vector<const Rewrite*> exact, subst, approx;
    for (const Rewrite& r : cat_.rewrites) {
        if (r.replaces == "<model>" || r.replaces == "<outputs>") continue;
        if (!rewrite_applies(r, n, issue.violations)) continue;
        (r.kind == "exact" ? exact : r.kind == "substitution" ? subst : approx).push_back(&r);
    }
    const bool only_dynamic = std::all_of(issue.violations.begin(), issue.violations.end(),
                                          [](const Violation& v) { return v.kind == "dynamic_shape"; });
    if (only_dynamic && graph_inputs_dynamic()) {
        for (const Rewrite& r : cat_.rewrites) {
            if (r.name == "fix_input_shapes") exact.insert(exact.begin(), &r);
        }
    }
    auto choose = [&](const std::vector<const Rewrite*>& list, Scenario s) {
        issue.scenario = s;
        issue.rewrite = list.front()->name;
        issue.rewrite_kind = list.front()->kind;
        issue.resolution = list.front()->doc;
        for (const auto* group : {&exact, &subst, &approx}) {
            for (const Rewrite* r : *group) {
                if (r != list.front()) issue.alternatives.push_back(r->name);
            }
        }
    };
    if (!exact.empty()) return choose(exact, Scenario::kExactRewrite);
    // Scenario 3: the node and everything downstream of it, if that tail is light and the host can run it.
    if (top_level) {
        std::vector<const ir::Node*> tail;
        std::unordered_set<const ir::Node*> seen;
        std::vector<const ir::Node*> stack = {&n};
        bool movable = true;
        while (!stack.empty() && movable) {
            const ir::Node* cur = stack.back();
            stack.pop_back();
            if (!seen.insert(cur).second) continue;
            tail.push_back(cur);
            if (!cur->def || kHeavyOps.count(cur->op_type())) movable = false;
            for (const ir::Value* o : cur->outputs()) {
                if (!o) continue;
                for (const ir::Use& u : o->uses()) stack.push_back(u.node);
            }
        }
        // Moving every node would leave the target nothing to run: that is no deployment.
        if (tail.size() >= n.graph()->nodes().size()) movable = false;
        std::set<const ir::Value*> cut;
        if (movable) {
            for (const ir::Node* t : tail) {
                for (const ir::Value* v : t->inputs()) {
                    if (v && !is_constant(v) && !seen.count(v->producer())) cut.insert(v);
                }
            }
            // A single-output target must return every tensor the host needs as one: the cut tensors plus the
            // original outputs left on the target, packed (Reshape + Concat) unless there is only one.
            size_t target_outputs = cut.size();
            for (const ir::Value* o : n.graph()->outputs()) {
                if (!seen.count(o->producer()) && !cut.count(o)) ++target_outputs;
            }
            if (profile_.single_output_only && target_outputs > 1 &&
                !(op_available("Reshape", 0) && op_available("Concat", 0))) {
                movable = false;
            }
        }
        if (movable) {
            issue.scenario = Scenario::kPostProcess;
            issue.cut_tensors = static_cast<int>(cut.size());
            for (const auto& np : n.graph()->nodes()) {
                if (seen.count(np.get())) issue.moved_nodes.push_back(np->name());
            }
            issue.resolution = "move " + std::to_string(tail.size()) + " trailing node(s) to host post-processing (" +
                               std::to_string(cut.size()) + " tensor(s) cross the cut" +
                               (profile_.single_output_only && cut.size() > 1 ? ", packed into one output)" : ")");
            for (const auto* group : {&subst, &approx}) {
                for (const Rewrite* r : *group) issue.alternatives.push_back(r->name);
            }
            return;
        }
    }
    if (!subst.empty()) return choose(subst, Scenario::kSubstitution);
    if (!approx.empty()) return choose(approx, Scenario::kSubstitution);
    issue.scenario = Scenario::kCustomLayer;
    issue.resolution = "implement " + key_of(n) + " as a custom layer on " + profile_.name +
                       " (nnport convert writes test vectors for it)";
}

bool Checker::graph_inputs_dynamic() const {
    for (const ir::Value* v : model_.graph->inputs()) {
        if (!v->has_initializer() && v->type.is_tensor() && !v->type.is_static()) return true;
    }
    return false;
}

void Checker::model_checks(CheckReport& r) const {
    const ir::Graph& g = *model_.graph;
    const Rewrite* opset_rw = nullptr;
    const Rewrite* pack_rw = nullptr;
    const Rewrite* fix_rw = nullptr;
    for (const Rewrite& rw : cat_.rewrites) {
        if (rw.name == "opset_conversion") opset_rw = &rw;
        if (rw.name == "pack_outputs") pack_rw = &rw;
        if (rw.name == "fix_input_shapes") fix_rw = &rw;
    }
    const int64_t opset = model_.opset("");
    if (profile_.opset_range && (opset < profile_.opset_range->first || opset > profile_.opset_range->second)) {
        ModelIssue m{"opset",
                     "model opset " + std::to_string(opset) + " outside [" +
                         std::to_string(profile_.opset_range->first) + ", " +
                         std::to_string(profile_.opset_range->second) + "]",
                     opset_rw ? Scenario::kExactRewrite : Scenario::kCustomLayer, opset_rw ? opset_rw->name : "",
                     opset_rw ? opset_rw->doc : "no opset conversion in the catalogue"};
        r.model_issues.push_back(m);
    }
    if (profile_.single_output_only && g.outputs().size() > 1) {
        const bool ok = pack_rw && std::all_of(pack_rw->needs.begin(), pack_rw->needs.end(),
                                               [&](const std::string& o) { return op_available(o, 0); });
        r.model_issues.push_back(
            {"single_output", std::to_string(g.outputs().size()) + " graph outputs; " + profile_.name + " allows one",
             ok ? Scenario::kExactRewrite : Scenario::kCustomLayer, ok ? pack_rw->name : "",
             ok ? pack_rw->doc : "the target lacks the ops to pack outputs (Reshape, Concat)"});
    }
    for (const ir::Value* v : g.inputs()) {
        if (v->has_initializer() || !v->type.is_tensor()) continue;
        const ir::ValueType& t = v->type;
        if (profile_.static_shapes_required && !t.is_static()) {
            r.model_issues.push_back({"dynamic_shape", "input '" + v->name() + "' has shape " + t.to_string(),
                                      Scenario::kExactRewrite, fix_rw ? fix_rw->name : "",
                                      fix_rw ? fix_rw->doc : "pin the input shape"});
        }
        if (!profile_.dtypes.empty() && t.dtype != DType::kUndefined &&
            std::find(profile_.dtypes.begin(), profile_.dtypes.end(), dtype_name(t.dtype)) == profile_.dtypes.end()) {
            r.model_issues.push_back({"io_dtype", "input '" + v->name() + "' is " + dtype_name(t.dtype),
                                      Scenario::kPostProcess, "", "convert the input on the host before the target"});
        }
        if (profile_.max_input_resolution && t.has_shape && t.rank() == 4) {
            const auto [mh, mw] = *profile_.max_input_resolution;
            const ir::Dim& h = t.dims[2];
            const ir::Dim& w = t.dims[3];
            if ((h.is_static() && h.value > mh) || (w.is_static() && w.value > mw)) {
                r.model_issues.push_back({"resolution",
                                          "input '" + v->name() + "' is " + h.to_string() + "x" + w.to_string() +
                                              ", limit " + std::to_string(mh) + "x" + std::to_string(mw),
                                          Scenario::kCustomLayer, "",
                                          "tile or downscale the input on the host; no automatic rewrite"});
            }
        }
        if (profile_.max_batch && t.has_shape && t.rank() >= 1 && t.dims[0].is_static() &&
            t.dims[0].value > *profile_.max_batch) {
            r.model_issues.push_back({"batch",
                                      "input '" + v->name() + "' has batch " + std::to_string(t.dims[0].value) + " > " +
                                          std::to_string(*profile_.max_batch),
                                      Scenario::kPostProcess, "", "run the batch one sample at a time from the host"});
        }
    }
}

CheckReport Checker::run() {
    CheckReport r;
    r.model = model_.source;
    r.target = profile_.name;
    r.target_version = profile_.version;
    const ir::Graph& g = *model_.graph;
    g.for_each_node_recursive([&](ir::Node& n) {
        ++r.node_count;
        std::vector<Violation> vs = violations(n);
        if (vs.empty()) return;
        NodeIssue issue;
        issue.name = n.name();
        issue.op = n.op_type();
        issue.domain = n.domain();
        issue.violations = std::move(vs);
        issue.in_subgraph = n.graph() != &g;
        classify(n, issue, !issue.in_subgraph);
        r.nodes.push_back(std::move(issue));
    });
    model_checks(r);
    bool approx = false, custom = false;
    for (const NodeIssue& i : r.nodes) {
        r.scenario_counts[static_cast<int>(i.scenario)]++;
        approx |= i.rewrite_kind == "approximate";
        custom |= i.scenario == Scenario::kCustomLayer;
    }
    for (const ModelIssue& m : r.model_issues) {
        r.scenario_counts[static_cast<int>(m.scenario)]++;
        custom |= m.scenario == Scenario::kCustomLayer;
    }
    if (r.nodes.empty() && r.model_issues.empty())
        r.verdict = Verdict::kRunsAsIs;
    else if (custom)
        r.verdict = Verdict::kNeedsCustomLayers;
    else if (approx)
        r.verdict = Verdict::kConvertibleApproximately;
    else
        r.verdict = Verdict::kConvertibleExactly;
    return r;
}

}  // namespace

const char* scenario_name(Scenario s) {
    switch (s) {
        case Scenario::kNone:
            return "none";
        case Scenario::kExactRewrite:
            return "exact rewrite";
        case Scenario::kSubstitution:
            return "substitution";
        case Scenario::kPostProcess:
            return "post-processing";
        case Scenario::kCustomLayer:
            return "custom layer";
    }
    return "none";
}

const char* verdict_name(Verdict v) {
    switch (v) {
        case Verdict::kRunsAsIs:
            return "runs as is";
        case Verdict::kConvertibleExactly:
            return "convertible exactly";
        case Verdict::kConvertibleApproximately:
            return "convertible approximately";
        case Verdict::kNeedsCustomLayers:
            return "needs custom layers";
    }
    return "";
}

Status prepare_model_for_check(ir::Model& model, ConstantMap& consts) {
    InferOptions opts;
    opts.skip_unknown_ops = true;
    Status st = infer_graph(*model.graph, consts, opts);
    if (!st.is_ok()) return st.with_context(model.source);
    return Status::ok();
}

Result<CheckModel> load_model_for_check(const std::string& path) {
    CheckModel cm;
    NNPORT_ASSIGN_OR_RETURN(cm.model, onnx_import::load_model(path));
    if (cm.model->source.empty()) cm.model->source = path;
    NNPORT_RETURN_IF_ERROR(prepare_model_for_check(*cm.model, cm.consts));
    return cm;
}

CheckReport check_model(const ir::Model& model, const ConstantMap& consts, const TargetProfile& profile,
                        const RewriteCatalogue& catalogue) {
    return Checker(model, consts, profile, catalogue).run();
}

}  // namespace nnport::convert

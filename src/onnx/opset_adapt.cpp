// Opset adaptation (import side).
#include "onnx/opset_adapt.hpp"

#include <set>

#include "ops/op_def.hpp"

namespace nnport::onnx_import {

namespace {

/// Adds an int64 1-D initializer to g and returns it.
Result<ir::Value*> const_ints(ir::Graph& g, const std::string& base, const std::vector<int64_t>& v) {
    NNPORT_ASSIGN_OR_RETURN(ir::Value * c, g.add_value(g.unique_name(base)));
    Tensor t = Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
    c->type = ir::ValueType::tensor(DType::kInt64, t.shape());
    c->set_initializer(std::move(t));
    return c;
}

Result<ir::Value*> const_scalar(ir::Graph& g, const std::string& base, DType dt, double v) {
    NNPORT_ASSIGN_OR_RETURN(ir::Value * c, g.add_value(g.unique_name(base)));
    Tensor t;
    switch (dt) {
        case DType::kFloat64: t = Tensor::scalar<double>(v); break;
        case DType::kFloat16: t = Tensor::scalar<Float16>(Float16(static_cast<float>(v))); break;
        case DType::kInt32: t = Tensor::scalar<int32_t>(static_cast<int32_t>(v)); break;
        case DType::kInt64: t = Tensor::scalar<int64_t>(static_cast<int64_t>(v)); break;
        case DType::kInt8: t = Tensor::scalar<int8_t>(static_cast<int8_t>(v)); break;
        case DType::kUInt8: t = Tensor::scalar<uint8_t>(static_cast<uint8_t>(v)); break;
        default: t = Tensor::scalar<float>(static_cast<float>(v)); break;
    }
    c->type = ir::ValueType::tensor(t.dtype(), t.shape());
    c->set_initializer(std::move(t));
    return c;
}

/// Moves int-list attribute `attr` to input position `pos` (padding with omitted inputs).
Status move_ints_to_input(ir::Node& n, const std::string& attr, size_t pos) {
    const ir::Attribute* a = n.attr(attr);
    if (!a) return Status::ok();
    std::vector<int64_t> v = a->type == ir::AttrType::kInt ? std::vector<int64_t>{a->i} : a->ints;
    NNPORT_ASSIGN_OR_RETURN(ir::Value * c, const_ints(*n.graph(), n.name() + "_" + attr, v));
    n.attrs.erase(attr);
    while (n.inputs().size() < pos) n.add_input(nullptr);
    n.set_input(pos, c);
    return Status::ok();
}

DType dtype_of(const ir::Node& n, size_t i) {
    const ir::Value* v = n.input(i);
    return (v && v->type.dtype != DType::kUndefined) ? v->type.dtype : DType::kFloat32;
}

const std::set<std::string>& legacy_broadcast_ops() {
    static const std::set<std::string> s = {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor",
                                            "Equal", "Greater", "Less", "PRelu"};
    return s;
}

const std::set<std::string>& reduce_ops() {
    static const std::set<std::string> s = {"ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1",
                                            "ReduceL2",  "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
    return s;
}

Status adapt_node(ir::Node& n, std::vector<ir::Node*>& added);

Status adapt_graph(ir::Graph& g) {
    std::vector<ir::Node*> nodes;
    for (const auto& p : g.nodes()) nodes.push_back(p.get());
    std::vector<ir::Node*> added;
    for (ir::Node* n : nodes) {
        for (ir::Graph* sg : n->subgraphs()) NNPORT_RETURN_IF_ERROR(adapt_graph(*sg));
        if (!n->domain().empty()) continue;
        Status st = adapt_node(*n, added);
        if (!st.is_ok()) return st.with_context(n->describe());
    }
    if (!added.empty()) NNPORT_RETURN_IF_ERROR(g.topo_sort());
    return Status::ok();
}

/// Replaces node `n` by a new node of type `op` (same outputs, given inputs and attributes).
Result<ir::Node*> replace_with(ir::Node& n, const std::string& op, const std::vector<ir::Value*>& inputs,
                               ir::Attributes attrs, int opset) {
    ir::Graph& g = *n.graph();
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r, g.add_node(op, "", n.name(), inputs, {}));
    r->attrs = std::move(attrs);
    r->opset = opset;
    r->def = find_op("", op);
    g.steal_outputs(&n, r);
    n.set_inputs({});
    g.remove_node(&n);
    return r;
}

Result<ir::Node*> add_simple(ir::Graph& g, const std::string& op, const std::string& name,
                             const std::vector<ir::Value*>& inputs, int opset) {
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r, g.add_node(op, "", g.unique_name(name), inputs, {g.unique_name(name + "_out")}));
    r->opset = opset;
    r->def = find_op("", op);
    return r;
}

/// Rewrites opset<13 Softmax-like ops (which flatten to 2-D at `axis`) into Flatten -> op(axis=1) -> Reshape.
Status adapt_softmax_legacy(ir::Node& n, std::vector<ir::Node*>& added) {
    const int64_t axis = n.has_attr("axis") ? n.attr("axis")->i : 1;
    const ir::Value* x = n.input(0);
    const int64_t rank = x ? x->type.rank() : -1;
    n.opset = 13;
    if (rank >= 0 && (axis == rank - 1 || axis == -1)) {
        n.attrs["axis"] = ir::Attribute::make_int(axis);  // same result: the 2-D coercion splits at the last axis
        return Status::ok();
    }
    ir::Graph& g = *n.graph();
    ir::Value* in = n.input(0);
    NNPORT_ASSIGN_OR_RETURN(ir::Node * flat, add_simple(g, "Flatten", n.name() + "_flatten", {in}, 13));
    flat->attrs["axis"] = ir::Attribute::make_int(axis);
    // Record the known rank so a re-import of the exported graph sees a 2-D input and keeps this form.
    flat->output(0)->type = ir::ValueType::tensor(in->type.dtype, std::vector<ir::Dim>{ir::Dim(), ir::Dim()});
    NNPORT_ASSIGN_OR_RETURN(ir::Node * shape, add_simple(g, "Shape", n.name() + "_shape", {in}, 13));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * op2d, add_simple(g, n.op_type(), n.name() + "_2d", {flat->output(0)}, 13));
    op2d->attrs["axis"] = ir::Attribute::make_int(1);
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r, replace_with(n, "Reshape", {op2d->output(0), shape->output(0)}, {}, 14));
    added.push_back(r);
    return Status::ok();
}

Status adapt_node(ir::Node& n, std::vector<ir::Node*>& added) {
    const std::string& op = n.op_type();
    const int v = n.opset;
    n.attrs.erase("consumed_inputs");  // opset-1 memory hint, no meaning for inference
    if (v < 7 && legacy_broadcast_ops().count(op)) {
        const ir::Attribute* axis_attr = n.attr("axis");
        const bool bcast = n.has_attr("broadcast") && n.attr("broadcast")->i != 0;
        n.attrs.erase("broadcast");
        if (bcast && axis_attr) {
            const ir::Value* a = n.input(0);
            ir::Value* b = n.input(1);
            const int64_t ra = a ? a->type.rank() : -1, rb = b ? b->type.rank() : -1;
            if (ra < 0 || rb < 0) return unsupported("legacy broadcast with axis needs known input ranks");
            int64_t axis = axis_attr->i < 0 ? axis_attr->i + ra : axis_attr->i;
            const int64_t trailing = ra - axis - rb;
            if (trailing > 0) {
                std::vector<int64_t> axes;
                for (int64_t k = 0; k < trailing; ++k) axes.push_back(rb + k);
                ir::Graph& g = *n.graph();
                NNPORT_ASSIGN_OR_RETURN(ir::Value * ax, const_ints(g, n.name() + "_bcast_axes", axes));
                NNPORT_ASSIGN_OR_RETURN(ir::Node * u, g.add_node("Unsqueeze", "", g.unique_name(n.name() + "_bcast"),
                                                                 {b, ax}, {g.unique_name(b->name() + "_bcast")}));
                u->opset = 13;
                u->def = find_op("", "Unsqueeze");
                n.set_input(1, u->output(0));
                added.push_back(u);
            }
        }
        n.attrs.erase("axis");
        n.opset = 7;
    }
    if ((op == "Squeeze" || op == "Unsqueeze") && v < 13) {
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "axes", 1));
        n.opset = 13;
    } else if (op == "ReduceSum" && v < 13) {
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "axes", 1));
        n.opset = 13;
    } else if (reduce_ops().count(op) && v < 18) {
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "axes", 1));
        n.opset = 18;
    } else if (op == "Split" && v < 13) {
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "split", 1));
        n.opset = 13;
    } else if (op == "Slice" && v < 10) {
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "starts", 1));
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "ends", 2));
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "axes", 3));
        n.opset = 13;
    } else if (op == "Pad" && v < 11) {
        const float value = n.has_attr("value") ? n.attr("value")->f : 0.0f;
        n.attrs.erase("value");
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "pads", 1));
        NNPORT_ASSIGN_OR_RETURN(ir::Value * c, const_scalar(*n.graph(), n.name() + "_value", dtype_of(n, 0), value));
        n.set_input(2, c);
        n.opset = 13;
    } else if (op == "Clip" && v < 11) {
        const DType dt = dtype_of(n, 0);
        if (n.has_attr("min")) {
            NNPORT_ASSIGN_OR_RETURN(ir::Value * c, const_scalar(*n.graph(), n.name() + "_min", dt, n.attr("min")->f));
            n.set_input(1, c);
        }
        if (n.has_attr("max")) {
            NNPORT_ASSIGN_OR_RETURN(ir::Value * c, const_scalar(*n.graph(), n.name() + "_max", dt, n.attr("max")->f));
            while (n.inputs().size() < 2) n.add_input(nullptr);
            n.set_input(2, c);
        }
        n.attrs.erase("min");
        n.attrs.erase("max");
        n.opset = 13;
    } else if (op == "TopK" && v < 10) {
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "k", 1));
        n.opset = 11;
    } else if (op == "Reshape" && v < 5) {
        NNPORT_RETURN_IF_ERROR(move_ints_to_input(n, "shape", 1));
        n.opset = 13;
    } else if (op == "Dropout" && v < 12) {
        n.attrs.erase("ratio");
        n.attrs.erase("is_test");
        n.opset = 12;
    } else if (op == "BatchNormalization" && v < 9) {
        if (n.has_attr("spatial") && n.attr("spatial")->i == 0) {
            return unsupported("BatchNormalization with spatial=0 is not supported");
        }
        n.attrs.erase("spatial");
        n.attrs.erase("is_test");
        n.opset = 9;
    } else if (op == "Concat" && v < 4) {
        if (!n.has_attr("axis")) n.attrs["axis"] = ir::Attribute::make_int(1);
        n.opset = 4;
    } else if (op == "Cast" && v < 6) {
        const ir::Attribute* to = n.attr("to");
        if (to && to->type == ir::AttrType::kString) {
            std::string s = to->s;
            for (auto& c : s) c = static_cast<char>(std::tolower(c));
            DType dt = dtype_from_name(s);
            if (s == "float") dt = DType::kFloat32;
            if (dt == DType::kUndefined) return invalid_model("Cast to unknown type '" + to->s + "'");
            n.attrs["to"] = ir::Attribute::make_int(static_cast<int64_t>(dt));
        }
        n.opset = 6;
    } else if ((op == "LpPool" || op == "GlobalLpPool") && v < 2) {
        const ir::Attribute* p = n.attr("p");
        if (p && p->type == ir::AttrType::kFloat) n.attrs["p"] = ir::Attribute::make_int(static_cast<int64_t>(p->f));
        n.opset = 2;
    } else if (op == "Upsample") {
        // Upsample(X, scales) == Resize(X, roi='', scales) with asymmetric coordinates and floor rounding.
        std::string mode = n.has_attr("mode") ? n.attr("mode")->s : "nearest";
        if (mode == "bilinear") mode = "linear";
        ir::Value* scales = n.input(1);
        if (!scales) {
            const ir::Attribute* sa = n.attr("scales");
            if (!sa) return invalid_model("Upsample without scales");
            NNPORT_ASSIGN_OR_RETURN(scales, n.graph()->add_value(n.graph()->unique_name(n.name() + "_scales")));
            Tensor t = Tensor::from_vector<float>({static_cast<int64_t>(sa->floats.size())}, sa->floats);
            scales->type = ir::ValueType::tensor(DType::kFloat32, t.shape());
            scales->set_initializer(std::move(t));
        }
        ir::Value* x = n.input(0);
        n.attrs.clear();
        n.attrs["mode"] = ir::Attribute::make_string(mode);
        n.attrs["coordinate_transformation_mode"] = ir::Attribute::make_string("asymmetric");
        n.attrs["nearest_mode"] = ir::Attribute::make_string("floor");
        ir::Attributes attrs = n.attrs;
        NNPORT_ASSIGN_OR_RETURN(ir::Node * r, replace_with(n, "Resize", {x, nullptr, scales}, std::move(attrs), 13));
        added.push_back(r);
        return Status::ok();
    } else if (op == "Resize" && v == 10) {
        ir::Value* x = n.input(0);
        ir::Value* scales = n.input(1);
        n.set_inputs({x, nullptr, scales});
        n.attrs["coordinate_transformation_mode"] = ir::Attribute::make_string("asymmetric");
        n.attrs["nearest_mode"] = ir::Attribute::make_string("floor");
        n.opset = 13;
    } else if (op == "Scatter") {
        NNPORT_ASSIGN_OR_RETURN(ir::Node * r, replace_with(n, "ScatterElements", n.inputs(), n.attrs, 11));
        added.push_back(r);
        return Status::ok();
    } else if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && v < 13) {
        return adapt_softmax_legacy(n, added);
    }
    return Status::ok();
}

}  // namespace

Status adapt_opsets(ir::Model& model) { return adapt_graph(*model.graph); }

}  // namespace nnport::onnx_import

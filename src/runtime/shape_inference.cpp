// Shape inference driver.
#include "runtime/shape_inference.hpp"

#include "ops/op_def.hpp"

namespace nnport {

static constexpr int64_t kMaxFoldElements = 1 << 16;

Status check_node_schema(const ir::Node& n) {
    const OpDef* d = n.def;
    if (!d) return unsupported(n.describe() + ": unknown op");
    const int nin = static_cast<int>(n.inputs().size());
    const int nout = static_cast<int>(n.outputs().size());
    if (nin < d->min_inputs || (d->max_inputs >= 0 && nin > d->max_inputs)) {
        return invalid_model(n.describe() + ": has " + std::to_string(nin) + " inputs, expected " +
                             std::to_string(d->min_inputs) + ".." +
                             (d->max_inputs < 0 ? std::string("n") : std::to_string(d->max_inputs)));
    }
    for (int i = 0; i < d->min_inputs && i < nin; ++i) {
        if (n.input(static_cast<size_t>(i)) == nullptr && d->max_inputs >= 0) {
            // Required inputs may only be omitted for variadic ops.
            return invalid_model(n.describe() + ": required input " + std::to_string(i) + " is missing");
        }
    }
    if (nout < d->min_outputs || (d->max_outputs >= 0 && nout > d->max_outputs)) {
        return invalid_model(n.describe() + ": has " + std::to_string(nout) + " outputs, expected " +
                             std::to_string(d->min_outputs) + ".." +
                             (d->max_outputs < 0 ? std::string("n") : std::to_string(d->max_outputs)));
    }
    for (const AttrSpec& s : d->attrs) {
        const ir::Attribute* a = n.attr(s.name);
        if (!a) {
            if (s.required) return invalid_model(n.describe() + ": required attribute '" + s.name + "' is missing");
            continue;
        }
        const bool numeric_ok = (s.type == ir::AttrType::kFloat && a->type == ir::AttrType::kInt) ||
                                (s.type == ir::AttrType::kInt && a->type == ir::AttrType::kFloat);
        if (a->type != s.type && !numeric_ok) {
            return invalid_model(n.describe() + ": attribute '" + s.name + "' should be " +
                                 ir::attr_type_name(s.type) + ", got " + ir::attr_type_name(a->type));
        }
    }
    if (d->training_only) return unsupported(n.describe() + ": training-only op is not supported for inference");
    return Status::ok();
}

/// Merges a declared type (from the model) into an inferred one: inferred wins, declared fills unknowns.
static void merge_declared(ir::ValueType& inferred, const ir::ValueType& declared) {
    if (declared.kind == ir::ValueType::Kind::kUnknown) return;
    if (inferred.kind == ir::ValueType::Kind::kUnknown) {
        inferred = declared;
        return;
    }
    if (inferred.kind != ir::ValueType::Kind::kTensor || declared.kind != ir::ValueType::Kind::kTensor) return;
    if (inferred.dtype == DType::kUndefined) inferred.dtype = declared.dtype;
    if (!inferred.has_shape && declared.has_shape) {
        inferred.has_shape = true;
        inferred.dims = declared.dims;
    } else if (inferred.has_shape && declared.has_shape && inferred.dims.size() == declared.dims.size()) {
        for (size_t i = 0; i < inferred.dims.size(); ++i) {
            if (!inferred.dims[i].is_static() && declared.dims[i].is_static()) inferred.dims[i] = declared.dims[i];
        }
    }
}

/// Evaluates a node whose inputs are all known, if small; stores the outputs in consts.
static void try_fold(ir::Node& n, ConstantMap& consts, const std::function<const Tensor*(const ir::Value*)>& lookup) {
    const OpDef* d = n.def;
    if (!d->foldable || !d->kernel || !n.subgraphs().empty()) return;
    for (const ir::Value* o : n.outputs()) {
        if (!o) continue;
        if (!o->type.is_static()) return;
        if (shape_numel(o->type.static_shape()) > kMaxFoldElements) return;
    }
    std::vector<RtValue> in_vals(n.inputs().size());
    std::vector<const RtValue*> in_ptrs(n.inputs().size(), nullptr);
    const bool is_shape_op = (n.op_type() == "Shape" || n.op_type() == "Size") && n.domain().empty();
    for (size_t i = 0; i < n.inputs().size(); ++i) {
        const ir::Value* v = n.input(i);
        if (!v) continue;
        const Tensor* t = lookup(v);
        if (!t) {
            if (!is_shape_op || !v->type.is_static()) return;
            // Shape/Size only look at the shape: a placeholder tensor without data does.
            in_vals[i] = RtValue(Tensor::view(v->type.dtype, v->type.static_shape(), nullptr));
        } else {
            if (t->numel() > kMaxFoldElements) return;
            in_vals[i] = RtValue(*t);
        }
        in_ptrs[i] = &in_vals[i];
    }
    std::vector<RtValue> outs(n.outputs().size());
    KernelContext kc(n, *d, in_ptrs, &outs, nullptr, nullptr);
    if (!d->kernel(kc).is_ok()) return;  // leave it to run time, where the error is reported
    for (size_t i = 0; i < outs.size(); ++i) {
        if (n.output(i) && outs[i].is_tensor()) consts[n.output(i)] = outs[i].tensor;
    }
}

static Status infer_graph_impl(ir::Graph& g, ConstantMap& consts, int* symbols, const InferOptions& options) {
    auto lookup = [&consts](const ir::Value* v) -> const Tensor* {
        while (v->outer() && !v->has_initializer()) v = v->outer();
        if (v->has_initializer()) return &v->initializer();
        auto it = consts.find(v);
        return it == consts.end() ? nullptr : &it->second;
    };
    // Runs the op's inference from scratch and keeps what the model declared where inference knows less.
    auto infer_node = [&](ir::Node& n, const std::vector<ir::ValueType>& declared) -> Status {
        for (ir::Value* o : n.outputs()) {
            if (o) o->type = ir::ValueType();
        }
        if (n.def->infer) {
            InferContext ic(n, *n.def, lookup, symbols);
            Status st = n.def->infer(ic);
            if (!st.is_ok()) {
                if (st.message().find(n.describe()) == std::string::npos) return st.with_context(n.describe());
                return st;
            }
        }
        for (size_t i = 0; i < n.outputs().size(); ++i) {
            if (n.output(i)) merge_declared(n.output(i)->type, declared[i]);
        }
        return Status::ok();
    };
    for (const auto& np : g.nodes()) {
        ir::Node& n = *np;
        if (options.skip_unknown_ops && !n.def) continue;  // outputs keep their declared types
        NNPORT_RETURN_IF_ERROR(check_node_schema(n));
        std::vector<ir::ValueType> declared;
        for (const ir::Value* o : n.outputs()) declared.push_back(o ? o->type : ir::ValueType());
        if (options.skip_unknown_ops) {
            bool untyped_input = false;
            for (const ir::Value* in : n.inputs()) {
                untyped_input |= in && in->type.kind == ir::ValueType::Kind::kUnknown;
            }
            if (untyped_input) {
                Status st = infer_node(n, declared);
                if (!st.is_ok()) {
                    for (size_t i = 0; i < n.outputs().size(); ++i) {
                        if (n.output(i)) n.output(i)->type = declared[i];
                    }
                }
                continue;
            }
        }
        NNPORT_RETURN_IF_ERROR(infer_node(n, declared));
        // Subgraph outer references take the (now known) types of the values they stand for.
        for (ir::Graph* sg : n.subgraphs()) {
            for (ir::Value* r : sg->outer_refs()) {
                if (r->outer()) r->type = r->outer()->type;
            }
            NNPORT_RETURN_IF_ERROR(infer_graph_impl(*sg, consts, symbols, options));
        }
        // Control-flow ops infer twice: first to type their bodies' inputs, then (bodies now typed) to derive
        // their outputs from the bodies' outputs.
        if (!n.subgraphs().empty()) NNPORT_RETURN_IF_ERROR(infer_node(n, declared));
        try_fold(n, consts, lookup);
    }
    return Status::ok();
}

Status infer_graph(ir::Graph& g, ConstantMap& consts) { return infer_graph(g, consts, InferOptions()); }

Status infer_graph(ir::Graph& g, ConstantMap& consts, const InferOptions& options) {
    int symbols = 0;
    return infer_graph_impl(g, consts, &symbols, options);
}

}  // namespace nnport

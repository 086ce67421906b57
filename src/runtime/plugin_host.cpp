// The host side of the plugin ABI: attribute, inference and compute callbacks handed to plugins, and the trampoline
// infer/kernel through which the registry's plugin OpDefs call them.
#include "runtime/plugin_host.hpp"

#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>

/// A node's attributes with its op's schema defaults.
struct nnport_plugin_attrs {
    const nnport::ir::Node* node;
    const nnport::OpDef* def;
};

/// One node's type inference; scratch arrays keep the pointers handed out valid for the callback's duration.
struct nnport_plugin_infer_ctx {
    nnport::InferContext* ic;
    nnport_plugin_attrs attrs;
    mutable std::deque<std::vector<int64_t>> dims;  // scratch behind the pointers infer_input hands out
    mutable std::deque<std::vector<const char*>> params;
    std::vector<bool> set;  ///< outputs given a type
};

/// One node's execution.
struct nnport_plugin_compute_ctx {
    nnport::KernelContext* kc;
    nnport_plugin_attrs attrs;
    std::vector<int32_t> dtypes;  ///< dtype of each output allocated (0: not allocated)
};

namespace nnport::plugin_detail {

namespace {

thread_local std::string g_error;
thread_local bool g_error_set = false;

void set_error(const char* message) {
    g_error = message ? message : "";
    g_error_set = true;
}

// --- attributes ---

const ir::Attribute* find_attr(const nnport_plugin_attrs* a, const char* name) {
    if (!a || !name) return nullptr;
    if (const ir::Attribute* v = a->node->attr(name)) return v;
    const AttrSpec* spec = a->def->find_attr(name);
    return spec && spec->has_default ? &spec->default_value : nullptr;
}

nnport_plugin_status attr_missing(const nnport_plugin_attrs* a, const char* name, const char* want) {
    const ir::Attribute* v = find_attr(a, name);
    set_error(v ? (std::string("attribute '") + name + "' is " + ir::attr_type_name(v->type) + ", not " + want).c_str()
                : (std::string("attribute '") + (name ? name : "(null)") + "' is not set and has no default").c_str());
    return NNPORT_PLUGIN_INVALID_MODEL;
}

int32_t attr_has(const nnport_plugin_attrs* a, const char* name) { return a && name && a->node->attr(name) ? 1 : 0; }

nnport_plugin_status attr_int(const nnport_plugin_attrs* a, const char* name, int64_t* out) {
    const ir::Attribute* v = find_attr(a, name);
    if (!out || !v || (v->type != ir::AttrType::kInt && v->type != ir::AttrType::kFloat)) {
        return attr_missing(a, name, "int");
    }
    *out = v->type == ir::AttrType::kInt ? v->i : static_cast<int64_t>(v->f);
    return NNPORT_PLUGIN_OK;
}

nnport_plugin_status attr_float(const nnport_plugin_attrs* a, const char* name, float* out) {
    const ir::Attribute* v = find_attr(a, name);
    if (!out || !v || (v->type != ir::AttrType::kInt && v->type != ir::AttrType::kFloat)) {
        return attr_missing(a, name, "float");
    }
    *out = v->type == ir::AttrType::kFloat ? v->f : static_cast<float>(v->i);
    return NNPORT_PLUGIN_OK;
}

nnport_plugin_status attr_string(const nnport_plugin_attrs* a, const char* name, const char** out) {
    const ir::Attribute* v = find_attr(a, name);
    if (!out || !v || v->type != ir::AttrType::kString) return attr_missing(a, name, "string");
    *out = v->s.c_str();
    return NNPORT_PLUGIN_OK;
}

nnport_plugin_status attr_ints(const nnport_plugin_attrs* a, const char* name, const int64_t** values, size_t* count) {
    const ir::Attribute* v = find_attr(a, name);
    if (!values || !count || !v || v->type != ir::AttrType::kInts) return attr_missing(a, name, "ints");
    *values = v->ints.data();
    *count = v->ints.size();
    return NNPORT_PLUGIN_OK;
}

nnport_plugin_status attr_floats(const nnport_plugin_attrs* a, const char* name, const float** values, size_t* count) {
    const ir::Attribute* v = find_attr(a, name);
    if (!values || !count || !v || v->type != ir::AttrType::kFloats) return attr_missing(a, name, "floats");
    *values = v->floats.data();
    *count = v->floats.size();
    return NNPORT_PLUGIN_OK;
}

// --- inference ---

nnport_plugin_status bad_index(size_t i, size_t n, const char* what) {
    set_error(
        (std::string(what) + " index " + std::to_string(i) + " out of range (" + std::to_string(n) + ")").c_str());
    return NNPORT_PLUGIN_OUT_OF_RANGE;
}

const nnport_plugin_attrs* infer_attrs(const nnport_plugin_infer_ctx* c) { return &c->attrs; }
size_t infer_num_inputs(const nnport_plugin_infer_ctx* c) { return c->ic->num_inputs(); }
size_t infer_num_outputs(const nnport_plugin_infer_ctx* c) { return c->ic->num_outputs(); }

nnport_plugin_status infer_input(const nnport_plugin_infer_ctx* c, size_t i, nnport_plugin_value_type* out) {
    if (!out) return bad_index(i, 0, "null output for input");
    if (i >= c->ic->num_inputs()) return bad_index(i, c->ic->num_inputs(), "input");
    *out = nnport_plugin_value_type{NNPORT_PLUGIN_DTYPE_UNDEFINED, -1, nullptr, nullptr};
    const ir::ValueType& t = c->ic->input_type(i);
    if (!c->ic->has_input(i) || !t.is_tensor() || t.dtype == DType::kString) return NNPORT_PLUGIN_OK;
    out->dtype = static_cast<int32_t>(t.dtype);
    if (!t.has_shape) return NNPORT_PLUGIN_OK;
    std::vector<int64_t>& d = c->dims.emplace_back();
    std::vector<const char*>& p = c->params.emplace_back();
    for (const ir::Dim& dim : t.dims) {
        d.push_back(dim.is_static() ? dim.value : -1);
        p.push_back(dim.param.c_str());
    }
    out->rank = static_cast<int32_t>(t.dims.size());
    out->dims = d.data();
    out->dim_params = p.data();
    return NNPORT_PLUGIN_OK;
}

void describe_tensor(const Tensor& t, nnport_plugin_tensor* out) {
    out->dtype = static_cast<int32_t>(t.dtype());
    out->rank = static_cast<int32_t>(t.shape().size());
    out->dims = t.shape().data();
    out->data = const_cast<void*>(t.raw_data());
    out->numel = t.numel();
}

int32_t infer_input_constant(const nnport_plugin_infer_ctx* c, size_t i, nnport_plugin_tensor* out) {
    if (!out || i >= c->ic->num_inputs()) return 0;
    const Tensor* t = c->ic->input_constant(i);
    if (!t || t->dtype() == DType::kString) return 0;
    describe_tensor(*t, out);
    return 1;
}

nnport_plugin_status infer_set_output(nnport_plugin_infer_ctx* c, size_t i, const nnport_plugin_value_type* type) {
    if (i >= c->ic->num_outputs()) return bad_index(i, c->ic->num_outputs(), "output");
    if (!type || !dtype_is_valid(type->dtype) || type->dtype == static_cast<int32_t>(DType::kString) ||
        type->rank < -1 || (type->rank > 0 && !type->dims)) {
        set_error(("output " + std::to_string(i) + ": invalid type (dtype, rank or dims)").c_str());
        return NNPORT_PLUGIN_INVALID_ARGUMENT;
    }
    ir::ValueType t = ir::ValueType::tensor(static_cast<DType>(type->dtype));
    if (type->rank >= 0) {
        t.has_shape = true;
        for (int32_t k = 0; k < type->rank; ++k) {
            const int64_t v = type->dims[k];
            const char* param = type->dim_params ? type->dim_params[k] : nullptr;
            if (v >= 0) {
                t.dims.emplace_back(v);
            } else if (param && *param) {
                t.dims.push_back(ir::Dim::symbol(param));
            } else {
                t.dims.push_back(c->ic->new_dim());
            }
        }
    }
    c->ic->set_output(i, std::move(t));
    c->set[i] = true;
    return NNPORT_PLUGIN_OK;
}

// --- execution ---

const nnport_plugin_attrs* compute_attrs(const nnport_plugin_compute_ctx* c) { return &c->attrs; }
size_t compute_num_inputs(const nnport_plugin_compute_ctx* c) { return c->kc->num_inputs(); }
size_t compute_num_outputs(const nnport_plugin_compute_ctx* c) { return c->kc->num_outputs(); }

nnport_plugin_status compute_input(const nnport_plugin_compute_ctx* c, size_t i, nnport_plugin_tensor* out) {
    if (!out) return bad_index(i, 0, "null output for input");
    if (i >= c->kc->num_inputs()) return bad_index(i, c->kc->num_inputs(), "input");
    *out = nnport_plugin_tensor{NNPORT_PLUGIN_DTYPE_UNDEFINED, 0, nullptr, nullptr, 0};
    if (!c->kc->has_input(i)) return NNPORT_PLUGIN_OK;
    if (!c->kc->input_value(i).is_tensor() || c->kc->input(i).dtype() == DType::kString) {
        set_error(("input " + std::to_string(i) + " is not a numeric tensor").c_str());
        return NNPORT_PLUGIN_UNSUPPORTED;
    }
    describe_tensor(c->kc->input(i), out);
    return NNPORT_PLUGIN_OK;
}

nnport_plugin_status compute_output(nnport_plugin_compute_ctx* c, size_t i, int32_t dtype, const int64_t* dims,
                                    int32_t rank, nnport_plugin_tensor* out) {
    if (!out) return bad_index(i, 0, "null output for output");
    if (i >= c->kc->num_outputs()) return bad_index(i, c->kc->num_outputs(), "output");
    if (!dtype_is_valid(dtype) || dtype == static_cast<int32_t>(DType::kString) || rank < 0 || (rank > 0 && !dims)) {
        set_error(("output " + std::to_string(i) + ": invalid dtype " + std::to_string(dtype) + " or rank " +
                   std::to_string(rank))
                      .c_str());
        return NNPORT_PLUGIN_INVALID_ARGUMENT;
    }
    Shape shape(dims, dims + rank);
    for (int64_t d : shape) {
        if (d < 0) {
            set_error(("output " + std::to_string(i) + ": negative dimension").c_str());
            return NNPORT_PLUGIN_INVALID_ARGUMENT;
        }
    }
    auto t = c->kc->output(i, static_cast<DType>(dtype), shape);
    if (!t.is_ok()) {
        set_error(t.status().message().c_str());
        return NNPORT_PLUGIN_OUT_OF_RANGE;
    }
    describe_tensor(*t.value(), out);
    c->dtypes[i] = dtype;
    return NNPORT_PLUGIN_OK;
}

void parallel_for(nnport_plugin_compute_ctx* c, int64_t n, nnport_plugin_range_fn fn, void* user) {
    if (!c || !fn || n <= 0) return;
    c->kc->parallel_for(n, [fn, user](int64_t b, int64_t e) { fn(user, b, e); });
}

// --- OpDef -> plugin callbacks ---

struct OpTable {
    std::shared_mutex mu;
    std::map<const OpDef*, PluginOp> ops;
};

OpTable& op_table() {
    static OpTable t;
    return t;
}

std::string where(const ir::Node& n, const PluginOp& op, const char* phase) {
    return n.describe() + ": plugin " + op.file + " (" + phase + ")";
}

}  // namespace

void fill_host_callbacks(nnport_plugin_host* h) {
    h->set_error = set_error;
    h->attr_has = attr_has;
    h->attr_int = attr_int;
    h->attr_float = attr_float;
    h->attr_string = attr_string;
    h->attr_ints = attr_ints;
    h->attr_floats = attr_floats;
    h->infer_attrs = infer_attrs;
    h->infer_num_inputs = infer_num_inputs;
    h->infer_num_outputs = infer_num_outputs;
    h->infer_input = infer_input;
    h->infer_input_constant = infer_input_constant;
    h->infer_set_output = infer_set_output;
    h->compute_attrs = compute_attrs;
    h->compute_num_inputs = compute_num_inputs;
    h->compute_num_outputs = compute_num_outputs;
    h->compute_input = compute_input;
    h->compute_output = compute_output;
    h->parallel_for = parallel_for;
}

void clear_error() {
    g_error.clear();
    g_error_set = false;
}

std::string take_error(nnport_plugin_status rc) {
    std::string m = g_error_set && !g_error.empty() ? g_error : "error code " + std::to_string(rc);
    clear_error();
    return m;
}

Status status_of(nnport_plugin_status rc, std::string message) {
    switch (rc) {
        case NNPORT_PLUGIN_INVALID_ARGUMENT:
            return invalid_argument(std::move(message));
        case NNPORT_PLUGIN_INVALID_MODEL:
            return invalid_model(std::move(message));
        case NNPORT_PLUGIN_UNSUPPORTED:
            return unsupported(std::move(message));
        case NNPORT_PLUGIN_OUT_OF_RANGE:
            return out_of_range(std::move(message));
        default:
            return internal_error(std::move(message));
    }
}

void bind_op(const OpDef* def, PluginOp op) {
    OpTable& t = op_table();
    std::unique_lock<std::shared_mutex> lock(t.mu);
    t.ops[def] = std::move(op);
}

const PluginOp* op_of(const OpDef* def) {
    OpTable& t = op_table();
    std::shared_lock<std::shared_mutex> lock(t.mu);
    auto it = t.ops.find(def);
    return it == t.ops.end() ? nullptr : &it->second;  // entries are never removed or moved (std::map)
}

Status infer_trampoline(InferContext& ctx) {
    const PluginOp* op = op_of(&ctx.def());
    if (!op) return internal_error(ctx.node().describe() + ": not a plugin op");
    if (ctx.opset() > 0 && ctx.opset() < op->since_version) {
        return ctx.error("the model imports opset " + std::to_string(ctx.opset()) + " of '" + ctx.def().domain +
                         "', older than the plugin op's since_version " + std::to_string(op->since_version));
    }
    nnport_plugin_infer_ctx c{&ctx, {&ctx.node(), &ctx.def()}, {}, {}, std::vector<bool>(ctx.num_outputs(), false)};
    clear_error();
    const nnport_plugin_status rc = op->infer(op->user, &c);
    if (rc != NNPORT_PLUGIN_OK) return status_of(rc, where(ctx.node(), *op, "infer") + ": " + take_error(rc));
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
        if (ctx.has_output(i) && !c.set[i]) {
            return internal_error(where(ctx.node(), *op, "infer") + ": set no type for output " + std::to_string(i));
        }
    }
    return Status::ok();
}

Status kernel_trampoline(KernelContext& ctx) {
    const PluginOp* op = op_of(&ctx.def());
    if (!op) return internal_error(ctx.node().describe() + ": not a plugin op");
    nnport_plugin_compute_ctx c{&ctx, {&ctx.node(), &ctx.def()}, std::vector<int32_t>(ctx.num_outputs(), 0)};
    clear_error();
    const nnport_plugin_status rc = op->compute(op->user, &c);
    if (rc != NNPORT_PLUGIN_OK) return status_of(rc, where(ctx.node(), *op, "compute") + ": " + take_error(rc));
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
        if (!ctx.has_output(i)) continue;
        if (!c.dtypes[i]) {
            return internal_error(where(ctx.node(), *op, "compute") + ": did not produce output " + std::to_string(i));
        }
        // Half types reach compute as float32 (OpDef::half_via_float): a float32 output stands for them.
        const DType want = ctx.node().output(i)->type.dtype;
        const DType got = static_cast<DType>(c.dtypes[i]);
        const bool half = (want == DType::kFloat16 || want == DType::kBFloat16) && got == DType::kFloat32;
        if (want != DType::kUndefined && got != want && !half) {
            return internal_error(where(ctx.node(), *op, "compute") + ": output " + std::to_string(i) + " is " +
                                  dtype_name(got) + " but infer said " + dtype_name(want));
        }
    }
    return Status::ok();
}

}  // namespace nnport::plugin_detail

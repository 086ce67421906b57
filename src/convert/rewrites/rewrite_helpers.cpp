// Shared pieces of the element-wise, activation and normalization rewrites: constants and the subgraph builder.
#include "convert/rewrites/rewrite_helpers.hpp"

#include <cctype>
#include <cstdint>
#include <type_traits>

#include "ops/op_def.hpp"
#include "passes/pass_util.hpp"

namespace nnport::convert::rw {

namespace {

/// Calls f(T{}) with the C++ element type of a numeric dtype; false for other dtypes.
template <typename F>
bool visit_numeric(DType dt, F&& f) {
    switch (dt) {
        case DType::kFloat32:
            f(float{});
            return true;
        case DType::kFloat64:
            f(double{});
            return true;
        case DType::kFloat16:
            f(Float16{});
            return true;
        case DType::kBFloat16:
            f(BFloat16{});
            return true;
        case DType::kInt8:
            f(int8_t{});
            return true;
        case DType::kInt16:
            f(int16_t{});
            return true;
        case DType::kInt32:
            f(int32_t{});
            return true;
        case DType::kInt64:
            f(int64_t{});
            return true;
        case DType::kUInt8:
            f(uint8_t{});
            return true;
        case DType::kUInt16:
            f(uint16_t{});
            return true;
        case DType::kUInt32:
            f(uint32_t{});
            return true;
        case DType::kUInt64:
            f(uint64_t{});
            return true;
        default:
            return false;
    }
}

}  // namespace

std::optional<Tensor> const_value(const ir::Value* v) {
    if (!v) return std::nullopt;
    if (const Tensor* t = passes::constant_of(v)) return *t;
    const ir::Node* p = v->producer();
    if (!p || p->op_type() != "Constant" || !p->domain().empty()) return std::nullopt;
    if (const ir::Attribute* a = p->attr("value"); a && a->type == ir::AttrType::kTensor) return a->t;
    if (const ir::Attribute* a = p->attr("value_float")) return Tensor::scalar<float>(a->f);
    if (const ir::Attribute* a = p->attr("value_int")) return Tensor::scalar<int64_t>(a->i);
    if (const ir::Attribute* a = p->attr("value_floats")) {
        return Tensor::from_vector<float>({static_cast<int64_t>(a->floats.size())}, a->floats);
    }
    if (const ir::Attribute* a = p->attr("value_ints")) {
        return Tensor::from_vector<int64_t>({static_cast<int64_t>(a->ints.size())}, a->ints);
    }
    return std::nullopt;
}

std::optional<double> const_scalar(const ir::Value* v) {
    std::optional<Tensor> t = const_value(v);
    if (!t || t->numel() != 1 || !(dtype_is_float(t->dtype()) || dtype_is_integer(t->dtype()))) return std::nullopt;
    return t->item_as_double(0);
}

std::vector<double> values_of(const Tensor& t) {
    std::vector<double> out(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = t.item_as_double(i);
    return out;
}

Result<Tensor> tensor_of(DType dtype, Shape shape, const std::vector<double>& values) {
    if (shape_numel(shape) != static_cast<int64_t>(values.size())) {
        return internal_error("tensor_of: " + std::to_string(values.size()) + " values for shape " +
                              shape_to_string(shape));
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dtype, std::move(shape)));
    const bool ok = visit_numeric(dtype, [&](auto zero) {
        using T = decltype(zero);
        T* d = t.data<T>();
        for (size_t i = 0; i < values.size(); ++i) {
            if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
                d[i] = T(static_cast<float>(values[i]));
            } else {
                d[i] = static_cast<T>(values[i]);
            }
        }
    });
    if (!ok) return unsupported(std::string("constants of dtype ") + dtype_name(dtype) + " are not supported");
    return t;
}

Result<Tensor> negate_tensor(const Tensor& src) {
    NNPORT_ASSIGN_OR_RETURN(Tensor t, Tensor::create(src.dtype(), src.shape()));
    const bool ok = visit_numeric(src.dtype(), [&](auto zero) {
        using T = decltype(zero);
        const T* s = src.data<T>();
        T* d = t.data<T>();
        for (int64_t i = 0; i < src.numel(); ++i) {
            if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
                d[i].bits = static_cast<uint16_t>(s[i].bits ^ 0x8000u);  // sign flip: exact, NaN stays NaN
            } else if constexpr (std::is_floating_point_v<T>) {
                d[i] = -s[i];
            } else {
                // Two's complement negation without signed overflow: 0 - x in the unsigned type of the same width.
                using U = std::make_unsigned_t<T>;
                d[i] = static_cast<T>(static_cast<U>(U{0} - static_cast<U>(s[i])));
            }
        }
    });
    if (!ok) return unsupported(std::string("cannot negate a tensor of dtype ") + dtype_name(src.dtype()));
    return t;
}

std::optional<DType> float_dtype(const ir::Value* v) {
    if (!v || !v->type.is_tensor() || !dtype_is_float(v->type.dtype)) return std::nullopt;
    return v->type.dtype;
}

bool only_first_output_used(const ir::Node& n) {
    const ir::Value* y = n.output(0);
    if (!y || y->is_captured()) return false;
    for (size_t i = 1; i < n.outputs().size(); ++i) {
        const ir::Value* o = n.output(i);
        if (o && (!o->uses().empty() || o->is_graph_output() || o->is_captured())) return false;
    }
    return true;
}

const ir::Attribute* attr_or_default(const ir::Node& n, const std::string& name) {
    if (const ir::Attribute* a = n.attr(name)) return a;
    if (n.def) {
        if (const AttrSpec* s = n.def->find_attr(name); s && s->has_default) return &s->default_value;
    }
    return nullptr;
}

std::optional<std::vector<int64_t>> axes_to_end(int64_t axis, int64_t rank) {
    std::vector<int64_t> axes;
    if (axis < 0) {
        if (rank >= 0 && axis < -rank) return std::nullopt;
        for (int64_t a = axis; a < 0; ++a) axes.push_back(a);
        return axes;
    }
    if (rank < 0 || axis >= rank) return std::nullopt;
    for (int64_t a = axis; a < rank; ++a) axes.push_back(a);
    return axes;
}

SubgraphBuilder::SubgraphBuilder(ir::Graph& g, const ir::Node& n, RewriteContext& ctx, DType dtype)
    : g_(g), ctx_(ctx), name_(n.name().empty() ? n.output(0)->name() : n.name()), dtype_(dtype) {}

std::string SubgraphBuilder::base(const std::string& op_type) const {
    std::string s = name_ + "_";
    for (char c : op_type) s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return s;
}

ir::Value* SubgraphBuilder::op(const std::string& op_type, const std::vector<ir::Value*>& inputs,
                               ir::Attributes attrs) {
    if (!status_.is_ok()) return nullptr;
    for (const ir::Value* v : inputs) {
        if (!v) {
            status_ = internal_error("building " + op_type + " for '" + name_ + "': missing input");
            return nullptr;
        }
    }
    auto r = passes::make_node(g_, ctx_.pass_ctx, op_type, "", base(op_type), inputs);
    if (!r.is_ok()) {
        status_ = r.status();
        return nullptr;
    }
    (*r)->attrs = std::move(attrs);
    return (*r)->output(0);
}

ir::Value* SubgraphBuilder::scalar(double v) {
    if (!status_.is_ok()) return nullptr;
    auto t = tensor_of(dtype_, {}, {v});
    if (!t.is_ok()) {
        status_ = t.status();
        return nullptr;
    }
    return constant(std::move(t).value(), "c");
}

ir::Value* SubgraphBuilder::constant(Tensor t, const std::string& suffix) {
    if (!status_.is_ok()) return nullptr;
    return passes::add_constant(g_, name_ + "_" + suffix, std::move(t));
}

ir::Value* SubgraphBuilder::reduce(const std::string& op_type, ir::Value* x, const std::vector<int64_t>& axes) {
    ir::Value* ax = constant(Tensor::from_vector<int64_t>({static_cast<int64_t>(axes.size())}, axes), "axes");
    ir::Attributes a;
    a["keepdims"] = ir::Attribute::make_int(1);
    return op(op_type, {x, ax}, std::move(a));
}

ir::Value* SubgraphBuilder::clip(ir::Value* x, std::optional<double> lo, std::optional<double> hi) {
    if (!status_.is_ok()) return nullptr;
    std::vector<ir::Value*> ins = {x};
    if (lo) ins.push_back(scalar(*lo));
    if (hi) {
        if (!lo) ins.push_back(nullptr);
        ins.push_back(scalar(*hi));
    }
    if (!status_.is_ok() || !x) return op("Clip", {x});
    auto r = passes::make_node(g_, ctx_.pass_ctx, "Clip", "", base("Clip"), ins);
    if (!r.is_ok()) {
        status_ = r.status();
        return nullptr;
    }
    return (*r)->output(0);
}

Result<bool> SubgraphBuilder::replace(ir::Node* n, ir::Value* result) {
    NNPORT_RETURN_IF_ERROR(status_);
    if (!result) return internal_error("no replacement built for " + n->describe());
    if (!passes::replace_value(g_, n->output(0), result)) {
        return internal_error("cannot replace the output '" + n->output(0)->name() + "' of " + n->describe());
    }
    g_.remove_node(n);
    return true;
}

}  // namespace nnport::convert::rw

// AttrAccess, InferContext and KernelContext implementations.
#include "ops/op_def.hpp"

#include <cstdint>
#include <cstring>

namespace nnport {

const ir::Attribute* AttrAccess::find(const std::string& name) const {
    if (const ir::Attribute* a = node_->attr(name)) return a;
    const AttrSpec* spec = def_->find_attr(name);
    if (spec && spec->has_default) return &spec->default_value;
    return nullptr;
}

int64_t AttrAccess::attr_int(const std::string& name) const {
    const ir::Attribute* a = find(name);
    if (!a) return 0;
    if (a->type == ir::AttrType::kFloat) return static_cast<int64_t>(a->f);
    return a->i;
}

float AttrAccess::attr_float(const std::string& name) const {
    const ir::Attribute* a = find(name);
    if (!a) return 0.0f;
    if (a->type == ir::AttrType::kInt) return static_cast<float>(a->i);
    return a->f;
}

std::string AttrAccess::attr_string(const std::string& name) const {
    const ir::Attribute* a = find(name);
    return a ? a->s : std::string();
}

std::vector<int64_t> AttrAccess::attr_ints(const std::string& name) const {
    const ir::Attribute* a = find(name);
    return a ? a->ints : std::vector<int64_t>{};
}

std::vector<float> AttrAccess::attr_floats(const std::string& name) const {
    const ir::Attribute* a = find(name);
    return a ? a->floats : std::vector<float>{};
}

std::vector<std::string> AttrAccess::attr_strings(const std::string& name) const {
    const ir::Attribute* a = find(name);
    return a ? a->strings : std::vector<std::string>{};
}

const Tensor* AttrAccess::attr_tensor(const std::string& name) const {
    const ir::Attribute* a = find(name);
    return (a && a->type == ir::AttrType::kTensor && a->t.defined()) ? &a->t : nullptr;
}

const ir::Graph* AttrAccess::attr_graph(const std::string& name) const {
    const ir::Attribute* a = find(name);
    return (a && a->type == ir::AttrType::kGraph) ? a->g.get() : nullptr;
}

Status AttrAccess::error(const std::string& msg) const { return invalid_model(node_->describe() + ": " + msg); }

Status AttrAccess::input_error(const std::string& msg) const {
    return invalid_argument(node_->describe() + ": " + msg);
}

const ir::ValueType& InferContext::input_type(size_t i) const {
    static const ir::ValueType kUnknown;
    const ir::Value* v = node().input(i);
    return v ? v->type : kUnknown;
}

const Tensor* InferContext::input_constant(size_t i) const {
    const ir::Value* v = node().input(i);
    if (!v) return nullptr;
    return constant_of_ ? constant_of_(v) : (v->has_initializer() ? &v->initializer() : nullptr);
}

void InferContext::set_output(size_t i, ir::ValueType t) {
    if (ir::Value* v = mnode_->output(i)) v->type = std::move(t);
}

ir::Dim InferContext::new_dim() { return ir::Dim::symbol("unk__" + std::to_string((*symbols_)++)); }

Status KernelContext::require_tensor(size_t i) const {
    if (!has_input(i)) return input_error("input " + std::to_string(i) + " is missing");
    if (!inputs_[i]->is_tensor()) return input_error("input " + std::to_string(i) + " is not a tensor");
    return Status::ok();
}

Result<Tensor*> KernelContext::output(size_t i, DType dtype, const Shape& shape, bool zero) {
    if (placements_ && i < placements_->size() && (*placements_)[i].storage && dtype != DType::kString) {
        const OutputPlacement& p = (*placements_)[i];
        const int64_t n = shape_numel(shape);
        const size_t bytes = n < 0 ? SIZE_MAX : static_cast<size_t>(n) * dtype_size(dtype);
        void* at = static_cast<char*>(p.storage->data()) + p.offset;
        bool fits = bytes <= p.capacity;
        if (fits && p.inplace_input >= 0) {
            const size_t k = static_cast<size_t>(p.inplace_input);
            fits = !zero && has_input(k) && inputs_[k]->is_tensor() && input(k).raw_data() == at &&
                   input(k).dtype() == dtype && input(k).shape() == shape;
        }
        if (fits) {
            Tensor t = Tensor::view(dtype, shape, p.storage, p.offset);
            if (zero && bytes > 0) std::memset(t.raw_data(), 0, bytes);
            (*outputs_)[i] = RtValue(std::move(t));
            return &(*outputs_)[i].tensor;
        }
    }
    auto t = Tensor::create(dtype, shape, zero);
    if (!t.is_ok()) return t.status().with_context(node().describe() + " output " + std::to_string(i));
    (*outputs_)[i] = RtValue(std::move(t).value());
    return &(*outputs_)[i].tensor;
}

}  // namespace nnport

// Static types of IR values: tensors with (possibly symbolic) shapes, sequences and optionals.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nnport/dtype.hpp"
#include "nnport/tensor.hpp"

namespace nnport::ir {

/// One dimension: a known size (value >= 0), a named symbol (param), or unknown (neither).
struct Dim {
    int64_t value = -1;
    std::string param;

    Dim() = default;
    Dim(int64_t v) : value(v) {}  // NOLINT: a number is a dimension
    static Dim symbol(std::string name) {
        Dim d;
        d.param = std::move(name);
        return d;
    }
    bool is_static() const { return value >= 0; }
    bool operator==(const Dim& o) const { return value == o.value && param == o.param; }
    std::string to_string() const { return is_static() ? std::to_string(value) : (param.empty() ? "?" : param); }
};

/// The type of a value.
struct ValueType {
    enum class Kind { kUnknown, kTensor, kSequence, kOptional };
    Kind kind = Kind::kUnknown;
    DType dtype = DType::kUndefined;     ///< element type for tensors
    bool has_shape = false;              ///< false: rank unknown
    std::vector<Dim> dims;               ///< valid when has_shape
    std::shared_ptr<ValueType> elem;     ///< element type of a sequence/optional

    static ValueType tensor(DType dt) {
        ValueType t;
        t.kind = Kind::kTensor;
        t.dtype = dt;
        return t;
    }
    static ValueType tensor(DType dt, std::vector<Dim> dims) {
        ValueType t = tensor(dt);
        t.has_shape = true;
        t.dims = std::move(dims);
        return t;
    }
    static ValueType tensor(DType dt, const Shape& shape) {
        std::vector<Dim> d(shape.begin(), shape.end());
        return tensor(dt, std::move(d));
    }
    static ValueType sequence(ValueType elem_type) {
        ValueType t;
        t.kind = Kind::kSequence;
        t.elem = std::make_shared<ValueType>(std::move(elem_type));
        return t;
    }
    static ValueType optional(ValueType elem_type) {
        ValueType t;
        t.kind = Kind::kOptional;
        t.elem = std::make_shared<ValueType>(std::move(elem_type));
        return t;
    }
    bool is_tensor() const { return kind == Kind::kTensor; }
    int64_t rank() const { return has_shape ? static_cast<int64_t>(dims.size()) : -1; }
    /// True if every dimension is known.
    bool is_static() const;
    /// The concrete shape (only valid if is_static()).
    Shape static_shape() const;
    /// "float32[1,3,N,N]", "seq(float32[?])"
    std::string to_string() const;
};

}  // namespace nnport::ir

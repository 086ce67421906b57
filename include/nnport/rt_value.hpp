// RtValue: what flows between kernels at run time: a tensor, a sequence of tensors, or nothing (empty optional).
#pragma once

#include <vector>

#include "nnport/tensor.hpp"

namespace nnport {

struct RtValue {
    enum class Kind { kNone, kTensor, kSequence };
    Kind kind = Kind::kNone;
    Tensor tensor;
    std::vector<Tensor> sequence;
    /// Element dtype of a sequence (meaningful even when the sequence is empty).
    DType seq_dtype = DType::kUndefined;

    RtValue() = default;
    RtValue(Tensor t) : kind(Kind::kTensor), tensor(std::move(t)) {}  // NOLINT: a tensor is a value
    static RtValue make_sequence(std::vector<Tensor> items, DType dt) {
        RtValue v;
        v.kind = Kind::kSequence;
        v.sequence = std::move(items);
        v.seq_dtype = dt;
        return v;
    }
    bool is_tensor() const { return kind == Kind::kTensor; }
    bool is_sequence() const { return kind == Kind::kSequence; }
    bool is_none() const { return kind == Kind::kNone; }
};

}  // namespace nnport

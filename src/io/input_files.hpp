// Loading model inputs from files (.pb TensorProto/SequenceProto/OptionalProto, .npy) and making random inputs.
#pragma once

#include <string>

#include "ir/value_type.hpp"
#include "nnport/rt_value.hpp"

namespace nnport::io {

/// A value read from a file, with the name stored inside it (TensorProto.name) if any.
struct LoadedValue {
    RtValue value;
    std::string embedded_name;
};

/// Reads .npy or .pb (TensorProto, or SequenceProto/OptionalProto when `expected` says so).
Result<LoadedValue> read_value_file(const std::string& path, const ir::ValueType* expected);
/// A fixed-seed random tensor of the declared type (dynamic dims -> 1).
Result<RtValue> random_value(const ir::ValueType& type, uint64_t seed);

}  // namespace nnport::io

// Small helpers for the tensor-family op tests.
#pragma once

#include <gtest/gtest.h>

#include "util/op_runner.hpp"

namespace nnport::tensor_test {

inline Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
inline Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
inline Tensor i64v(std::vector<int64_t> v) {
    const int64_t n = static_cast<int64_t>(v.size());
    return Tensor::from_vector<int64_t>({n}, v);
}
/// 0, 1, 2, ... as float32 of the given shape.
inline Tensor iota(Shape s) {
    std::vector<float> v(static_cast<size_t>(shape_numel(s)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    return f32(std::move(s), v);
}

/// Runs one node; inputs listed in `consts` are initializers (known at load time).
inline Result<std::vector<RtValue>> run(const std::string& op, std::vector<Tensor> inputs, ir::Attributes attrs = {},
                                        int num_outputs = 1, std::vector<bool> consts = {}, int opset = 18) {
    testing::OpRun r;
    r.op_type = op;
    r.inputs = std::move(inputs);
    r.attrs = std::move(attrs);
    r.num_outputs = num_outputs;
    r.as_initializer = std::move(consts);
    r.opset = opset;
    return testing::run_op(r);
}

using testing::values;

inline ir::Attribute ints(std::vector<int64_t> v) { return ir::Attribute::make_ints(std::move(v)); }
inline ir::Attribute int1(int64_t v) { return ir::Attribute::make_int(v); }
inline ir::Attribute str(std::string s) { return ir::Attribute::make_string(std::move(s)); }

}  // namespace nnport::tensor_test

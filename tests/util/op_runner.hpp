// Test helper: builds a one-node model in memory and runs it through a Session (reference kernels).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/nnport.hpp"

namespace nnport::testing {

struct OpRun {
    std::string op_type;
    std::string domain;                 ///< "" = ai.onnx
    int opset = 18;
    std::vector<Tensor> inputs;         ///< an undefined Tensor() = omitted optional input
    ir::Attributes attrs;
    int num_outputs = 1;
    /// Inputs given as initializers (constants) instead of graph inputs, by position.
    std::vector<bool> as_initializer;
    /// Backend preference list of the session (SessionOptions::backends); op tests check the reference kernels.
    std::string backends = "ref";
    /// Graph optimization level of the session.
    int level = 3;
};

/// Builds and runs the single-node model; outputs in order.
Result<std::vector<RtValue>> run_op(const OpRun& r);
/// Shorthand for run_op: one op on tensor inputs (a non-default domain starts at its opset 1 unless given).
Result<std::vector<RtValue>> run_simple(const std::string& op, std::vector<Tensor> inputs, ir::Attributes attrs = {},
                                        int num_outputs = 1, int opset = 18, const std::string& domain = "");
/// A tensor's elements as a vector.
template <typename T>
std::vector<T> values(const Tensor& t) {
    return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}
/// Builds the model only (for inspecting inferred types).
Result<std::unique_ptr<Session>> make_op_session(const OpRun& r);

}  // namespace nnport::testing

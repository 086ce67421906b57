// Static model statistics: op histogram, parameters, FLOPs estimate (for `inspect` and benchmarks).
#pragma once

#include <map>
#include <string>

#include "ir/graph.hpp"

namespace nnport {

struct ModelStats {
    std::map<std::string, int64_t> op_histogram;  ///< "Conv" -> count (subgraphs included)
    int64_t node_count = 0;
    int64_t parameter_count = 0;  ///< elements in initializers
    int64_t parameter_bytes = 0;
    /// Multiply-adds counted as 2 FLOPs (Conv, ConvTranspose, MatMul, Gemm and their integer forms; the gate
    /// products of LSTM/GRU/RNN; com.nnport Fused* as the op they extend); other ops count one per output element,
    /// shape-only ops none. For nodes with unknown shapes nothing is counted.
    int64_t flops = 0;
    int64_t nodes_without_flops = 0;  ///< compute nodes whose shapes were not static
};

/// Computes stats from an inferred graph (types filled by shape inference).
ModelStats compute_stats(const ir::Graph& g);

}  // namespace nnport

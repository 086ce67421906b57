// Partitioning: which backend runs each node. At session creation, after the optimizer:
//   1. every node is offered to the backends in the user's preference order; the first that supports it wins (the
//      reference backend, last, runs whatever is left);
//   2. nodes whose backend wants channels-last data are rewritten into their com.nnport Nhwc* twins between
//      Transposes, and the optimizer's transpose passes cancel the Transposes between neighbouring channels-last
//      nodes, so layout conversions stay only at the region boundaries;
//   3. the final nodes are assigned again and prepared (weights packed once); a node its backend fails to prepare
//      falls back to the next backend, with the reason kept.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/backend.hpp"
#include "ir/graph.hpp"

namespace nnport {

/// Where one node runs, and why not elsewhere.
struct NodeAssignment {
    const Backend* backend = nullptr;
    std::unique_ptr<BackendKernel> kernel;  ///< null for the reference backend (the OpDef kernel runs)
    /// Why backends earlier in the preference list declined ("xnnpack: int64 input; onednn: ..."); empty when the
    /// first choice took it.
    std::string fallback_reason;
};

struct PartitionStats {
    int nodes = 0;
    int layout_nodes = 0;        ///< nodes rewritten into channels-last form
    int boundary_transposes = 0; ///< layout Transposes left after cancellation
    std::map<std::string, int> per_backend;  ///< backend name -> nodes
};

/// The result of partitioning one model (main graph and subgraphs).
class Partition {
public:
    const NodeAssignment* find(const ir::Node* n) const {
        auto it = nodes_.find(n);
        return it == nodes_.end() ? nullptr : &it->second;
    }
    const PartitionStats& stats() const { return stats_; }
    const std::vector<const Backend*>& backends() const { return backends_; }

private:
    friend Result<std::unique_ptr<Partition>> partition_model(ir::Model&, const std::vector<const Backend*>&,
                                                             ThreadPool*);
    std::unordered_map<const ir::Node*, NodeAssignment> nodes_;
    std::vector<const Backend*> backends_;
    PartitionStats stats_;
};

/// Partitions `model` (already optimized; types inferred) for `backends` (reference last), rewriting the main graph
/// for channels-last backends, and prepares every node's kernel. Nodes of control-flow bodies are assigned too but
/// keep their layout.
Result<std::unique_ptr<Partition>> partition_model(ir::Model& model, const std::vector<const Backend*>& backends,
                                                   ThreadPool* pool);

}  // namespace nnport

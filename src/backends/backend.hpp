// Backends: who runs a node. A backend says which nodes it can run (and in which data layout), prepares each of its
// nodes once at session creation (weights packed into the library's layout, operators created) and runs them. The
// session's partitioner (runtime/partition.hpp) gives every node to the first backend in the user's preference order
// that supports it; the reference backend ("ref", every op's OpDef kernel) runs whatever is left.
//
// Layout: a backend that wants channels-last data for a node answers Support::yes(Layout::kNHWC). The partitioner
// then rewrites that node into its channels-last twin of the com.nnport domain (NhwcConv, NhwcFusedConv, NhwcMaxPool,
// ...; see ops/nhwc.cpp: data [N, H, W, C], weights keep their ONNX layout) with Transposes around it, and the
// optimizer's transpose passes cancel the Transposes between neighbouring channels-last nodes, so layout conversions
// remain only at the boundaries of channels-last regions. prepare() is called on the rewritten node.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/status.hpp"
#include "ops/op_def.hpp"

namespace nnport {

/// The data layout a backend wants for a node's activations.
enum class Layout {
    kAny,   ///< as the graph has it (the node has no layout: elementwise, matmul, ...)
    kNHWC,  ///< channels-last: the node is rewritten into its com.nnport Nhwc* twin
};

/// A backend's answer for one node.
struct Support {
    bool ok = false;
    Layout layout = Layout::kAny;
    std::string reason;  ///< why not (shown by `nnport inspect --partition`)

    static Support yes(Layout l = Layout::kAny) { return Support{true, l, {}}; }
    static Support no(std::string why) { return Support{false, Layout::kAny, std::move(why)}; }
};

/// Load-time constant of a value (an initializer, possibly folded), or nullptr when only known at run time.
using ConstantFn = std::function<const Tensor*(const ir::Value*)>;

/// One node prepared by a backend. run() has OpDef::kernel's contract: read inputs from the context, allocate outputs
/// with ctx.output() (which places them where the memory plan says), return an error naming the node on bad input.
/// run() may be called from several threads at once (concurrent Session::run calls): a kernel that keeps mutable
/// state (an operator set up with pointers) must lock around it.
class BackendKernel {
public:
    virtual ~BackendKernel() = default;
    virtual Status run(KernelContext& ctx) = 0;
    /// An input whose buffer output 0 may take over when that input's last use is this node and it has output 0's
    /// dtype and shape (the memory planner then computes the node in place), or -1. The kernel must give the same
    /// result when output 0 and that input share memory, e.g. a convolution that accumulates into its residual.
    virtual int inplace_input() const { return -1; }
};

/// What prepare() gets besides the node.
struct PrepareContext {
    ConstantFn constant;          ///< load-time constants (weights)
    ThreadPool* pool = nullptr;   ///< the session's pool (threads for the backend's library)
    int threads = 1;              ///< pool size
};

class Backend {
public:
    virtual ~Backend() = default;
    /// Short lower-case name used by `--backend` ("xnnpack", "onednn", "ref"); a string literal (the executor keeps
    /// its data() pointer for profiles).
    virtual std::string_view name() const = 0;
    /// One line for `nnport inspect --partition` and docs (library and version).
    virtual std::string description() const = 0;
    /// Whether the backend can run on this machine at all (library initialised, CPU features present).
    virtual Support available() const { return Support::yes(); }
    /// Whether this backend runs `node` (inputs' and outputs' types are inferred; weights visible through
    /// `constant`). Called on the graph's own form (ai.onnx Conv, com.nnport FusedConv ...) and again on the
    /// com.nnport Nhwc* form after a kNHWC answer; must say yes to that form too.
    virtual Support supports(const ir::Node& node, const ConstantFn& constant) const = 0;
    /// Prepares a node that supports() accepted (in its final form). Called once per node at session creation.
    virtual Result<std::unique_ptr<BackendKernel>> prepare(const ir::Node& node, const PrepareContext& ctx) const = 0;
};

/// A float32 tensor value (support checks over inferred types).
bool is_f32(const ir::Value* v);
/// Rank of a value's type when its shape is known, else -1.
int64_t rank_of(const ir::Value* v);

/// Every compiled-in backend in the default preference order (the reference backend last).
const std::vector<const Backend*>& all_backends();
/// A backend by name (compiled-in or registered), or nullptr.
const Backend* find_backend(std::string_view name);
/// Adds a backend from outside the library (a plugin, a test). It is used only where a preference list names it,
/// never by default. Fails if the name is taken. The backend must outlive every session that uses it.
Status register_backend(const Backend* backend);
/// The reference backend (always available; runs every op with a kernel in its OpDef).
const Backend& reference_backend();
/// Parses a preference list like "xnnpack,onednn,ref" (empty: the defaults, every available backend in
/// all_backends() order). The reference backend is appended when missing. Unknown or unavailable names are errors.
Result<std::vector<const Backend*>> parse_backend_list(const std::string& list);

}  // namespace nnport

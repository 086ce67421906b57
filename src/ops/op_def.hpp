// OpDef: one operator's schema, shape/type inference and reference kernel, defined in one place.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "nnport/rt_value.hpp"
#include "nnport/status.hpp"
#include "nnport/tensor.hpp"
#include "core/thread_pool.hpp"
#include "ir/graph.hpp"

namespace nnport {

struct OpDef;

/// One attribute of an op's schema. A default makes the attribute optional.
struct AttrSpec {
    std::string name;
    ir::AttrType type = ir::AttrType::kInt;
    bool has_default = false;
    ir::Attribute default_value;
    bool required = false;

    static AttrSpec i(std::string n, int64_t d) { return with_default(std::move(n), ir::Attribute::make_int(d)); }
    static AttrSpec f(std::string n, float d) { return with_default(std::move(n), ir::Attribute::make_float(d)); }
    static AttrSpec s(std::string n, std::string d) {
        return with_default(std::move(n), ir::Attribute::make_string(std::move(d)));
    }
    static AttrSpec ints(std::string n, std::vector<int64_t> d = {}) {
        return with_default(std::move(n), ir::Attribute::make_ints(std::move(d)));
    }
    static AttrSpec floats(std::string n, std::vector<float> d = {}) {
        return with_default(std::move(n), ir::Attribute::make_floats(std::move(d)));
    }
    static AttrSpec strings(std::string n, std::vector<std::string> d = {}) {
        return with_default(std::move(n), ir::Attribute::make_strings(std::move(d)));
    }
    /// An attribute with no default (optional unless `required`).
    static AttrSpec none(std::string n, ir::AttrType t, bool required = false) {
        AttrSpec a;
        a.name = std::move(n);
        a.type = t;
        a.required = required;
        return a;
    }
    static AttrSpec with_default(std::string n, ir::Attribute d) {
        AttrSpec a;
        a.name = std::move(n);
        a.type = d.type;
        a.has_default = true;
        a.default_value = std::move(d);
        return a;
    }
};

/// Typed attribute access with schema defaults; shared by inference and kernels.
class AttrAccess {
public:
    AttrAccess(const ir::Node& node, const OpDef& def) : node_(&node), def_(&def) {}
    const ir::Node& node() const { return *node_; }
    const OpDef& def() const { return *def_; }
    /// Opset version of the node's domain.
    int opset() const { return node_->opset; }
    /// True if the node sets the attribute explicitly.
    bool has_attr(const std::string& name) const { return node_->has_attr(name); }
    /// The node's attribute, else the schema default, else a zero value (0, "", {}).
    int64_t attr_int(const std::string& name) const;
    float attr_float(const std::string& name) const;
    std::string attr_string(const std::string& name) const;
    std::vector<int64_t> attr_ints(const std::string& name) const;
    std::vector<float> attr_floats(const std::string& name) const;
    std::vector<std::string> attr_strings(const std::string& name) const;
    /// nullptr if absent.
    const Tensor* attr_tensor(const std::string& name) const;
    const ir::Graph* attr_graph(const std::string& name) const;
    /// "op node 'name'" + ": " + msg, as an invalid-model / invalid-argument status.
    Status error(const std::string& msg) const;
    Status input_error(const std::string& msg) const;

private:
    const ir::Attribute* find(const std::string& name) const;
    const ir::Node* node_;
    const OpDef* def_;
};

/// Load-time shape and type inference for one node. Dims may be symbolic.
class InferContext : public AttrAccess {
public:
    InferContext(ir::Node& node, const OpDef& def, std::function<const Tensor*(const ir::Value*)> constant_of,
                 int* symbol_counter)
        : AttrAccess(node, def), mnode_(&node), constant_of_(std::move(constant_of)), symbols_(symbol_counter) {}

    size_t num_inputs() const { return node().inputs().size(); }
    bool has_input(size_t i) const { return node().input(i) != nullptr; }
    /// Type of input i (kind kUnknown if absent).
    const ir::ValueType& input_type(size_t i) const;
    /// Input i's value if known at load time (initializer or constant-folded), else nullptr.
    const Tensor* input_constant(size_t i) const;
    size_t num_outputs() const { return node().outputs().size(); }
    bool has_output(size_t i) const { return node().output(i) != nullptr; }
    /// Sets output i's type (ignored if the output is omitted).
    void set_output(size_t i, ir::ValueType t);
    /// A fresh symbolic dimension for a size known only at run time.
    ir::Dim new_dim();

private:
    ir::Node* mnode_;
    std::function<const Tensor*(const ir::Value*)> constant_of_;
    int* symbols_;
};

/// Runs subgraphs on behalf of control-flow kernels (implemented by the executor).
class SubgraphRunner {
public:
    virtual ~SubgraphRunner() = default;
    /// Runs `g` with its formal inputs bound to `inputs`; outer-scope values come from the caller's frame.
    virtual Result<std::vector<RtValue>> run(const ir::Graph& g, std::vector<RtValue> inputs) = 0;
};

/// Where the memory planner put one output of a step: `capacity` bytes at `offset` in the run's arena. An output
/// whose actual size exceeds the capacity (data-dependent shapes) is allocated on the heap instead.
struct OutputPlacement {
    std::shared_ptr<Storage> storage;  ///< nullptr: not planned (heap)
    size_t offset = 0;
    size_t capacity = 0;
    /// In-place: the region holds this input, which dies here. The output goes there only if that input really
    /// lies at the region's start with the output's dtype and shape (else it would be overwritten while read).
    int inplace_input = -1;
};

/// Run-time context of one kernel invocation.
class KernelContext : public AttrAccess {
public:
    KernelContext(const ir::Node& node, const OpDef& def, std::vector<const RtValue*> inputs,
                  std::vector<RtValue>* outputs, SubgraphRunner* runner, ThreadPool* pool)
        : AttrAccess(node, def), inputs_(std::move(inputs)), outputs_(outputs), runner_(runner), pool_(pool) {}

    size_t num_inputs() const { return inputs_.size(); }
    /// False for an omitted optional input (or an empty optional value).
    bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] && !inputs_[i]->is_none(); }
    /// Input i as a tensor. Only call when has_input(i) and the input is a tensor.
    const Tensor& input(size_t i) const { return inputs_[i]->tensor; }
    /// Input i as any runtime value (sequence, optional).
    const RtValue& input_value(size_t i) const { return *inputs_[i]; }
    /// Checks input i is present and a tensor; use before input(i) on possibly-bad models.
    Status require_tensor(size_t i) const;

    size_t num_outputs() const { return outputs_->size(); }
    bool has_output(size_t i) const { return i < node().outputs().size() && node().output(i) != nullptr; }
    /// Allocates output i (uninitialised); fails on a shape over the size limit.
    Result<Tensor*> output(size_t i, DType dtype, const Shape& shape, bool zero = false);
    /// Sets output i to an existing tensor (e.g. a view of an input).
    void set_output(size_t i, Tensor t) { (*outputs_)[i] = RtValue(std::move(t)); }
    void set_output_value(size_t i, RtValue v) { (*outputs_)[i] = std::move(v); }

    /// Set by the executor when a memory plan places this step's outputs (indexed like the outputs; may be shorter).
    void set_placements(const std::vector<OutputPlacement>* p) { placements_ = p; }

    SubgraphRunner* subgraphs() const { return runner_; }
    ThreadPool* pool() const { return pool_; }
    /// Splits [0, n) across the session's threads.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) const {
        if (pool_) pool_->parallel_for(n, fn); else fn(0, n);
    }

private:
    std::vector<const RtValue*> inputs_;
    std::vector<RtValue>* outputs_;
    SubgraphRunner* runner_;
    ThreadPool* pool_;
    const std::vector<OutputPlacement>* placements_ = nullptr;
};

using InferFn = Status (*)(InferContext&);
using KernelFn = Status (*)(KernelContext&);

/// Everything nnport knows about one operator.
struct OpDef {
    std::string name;                ///< ONNX op_type
    std::string domain;              ///< "" for ai.onnx
    int since_version = 1;           ///< oldest opset version accepted (after import adaptation)
    int min_inputs = 0, max_inputs = 0;    ///< max -1: variadic
    int min_outputs = 1, max_outputs = 1;  ///< max -1: variadic
    std::vector<AttrSpec> attrs;
    InferFn infer = nullptr;
    KernelFn kernel = nullptr;
    /// Allowed element types of input 0 (empty: any); checked at load.
    std::vector<DType> input0_types;
    /// float16/bfloat16 inputs are converted to float32 for the kernel and float outputs converted back
    /// (to the node's inferred output dtype). Set false for ops that handle half types themselves (Cast...).
    bool half_via_float = true;
    /// May be evaluated at load time when all inputs are constant (false for random ops).
    bool foldable = true;
    /// Training-only or otherwise not meant for inference (listed in docs, not run).
    bool training_only = false;
    /// Elementwise: output 0 may share the buffer of any input with the same dtype and shape as output 0 (the kernel
    /// reads element i before writing element i). The memory planner runs such ops in place when that input dies.
    bool inplace_elementwise = false;
    /// Output 0 may be a view of input 0's data (Reshape, Flatten, Squeeze, Identity ...): the memory planner keeps
    /// input 0's buffer alive as long as output 0 lives.
    bool output_views_input0 = false;
    std::string doc;

    const AttrSpec* find_attr(const std::string& n) const {
        for (const auto& a : attrs) {
            if (a.name == n) return &a;
        }
        return nullptr;
    }
};

/// All registered ops, in registry order.
const std::vector<const OpDef*>& all_ops();
/// Looks up an op by domain ("" or "ai.onnx" for the default) and type; nullptr if unknown.
const OpDef* find_op(const std::string& domain, const std::string& op_type);

}  // namespace nnport

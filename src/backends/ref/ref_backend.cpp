// The reference backend: every op's OpDef kernel (portable C++, see src/ops/). It supports every node whose op has a
// kernel and needs no preparation, so the executor calls the OpDef kernel directly for its nodes.
#include "backends/backend.hpp"

namespace nnport {

namespace {

class RefBackend final : public Backend {
public:
    std::string_view name() const override { return "ref"; }
    std::string description() const override {
        return "reference kernels: every operator, portable C++ (GEMM micro-kernels chosen by CPU features)";
    }
    Support supports(const ir::Node& node, const ConstantFn&) const override {
        if (!node.def) return Support::no("unknown op");
        if (!node.def->kernel) return Support::no("no kernel for this op");
        return Support::yes();
    }
    Result<std::unique_ptr<BackendKernel>> prepare(const ir::Node&, const PrepareContext&) const override {
        return std::unique_ptr<BackendKernel>();  // null: the executor runs the OpDef kernel
    }
};

}  // namespace

const Backend& reference_backend() {
    static const RefBackend b;
    return b;
}

}  // namespace nnport

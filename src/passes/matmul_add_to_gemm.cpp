// matmul_add_to_gemm: MatMul(A, B) + Add(bias) with A and B 2-D (A may come from a Flatten) and a bias that Gemm's C
// can broadcast ([N], [1,N], [M,1], [M,N] or a scalar) becomes one Gemm(A, B, bias): one pass over the output instead
// of two, and a node that backends and the activation fusion know.
#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

namespace {

/// True if `c` (static dims) unidirectionally broadcasts to [m, n] (also with m or n unknown: -1 matches only 1 or
/// the same unknown).
bool gemm_c_fits(const ir::Value* c, const ir::Value* out) {
    if (!c || !c->type.has_shape || c->type.dims.size() > 2 || !out->type.has_shape || out->type.dims.size() != 2) {
        return false;
    }
    const size_t off = 2 - c->type.dims.size();
    for (size_t i = 0; i < c->type.dims.size(); ++i) {
        const ir::Dim& d = c->type.dims[i];
        const ir::Dim& o = out->type.dims[off + i];
        if (d.is_static() && d.value == 1) continue;
        if (!(d == o) || (!d.is_static() && d.param.empty())) return false;
    }
    return true;
}

class MatMulAddToGemm : public Pass {
public:
    const char* name() const override { return "matmul_add_to_gemm"; }
    const char* description() const override {
        return "MatMul of two 2-D operands followed by Add of a bias that Gemm can broadcast -> Gemm.";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        bool changed = false;
        std::vector<ir::Node*> mms;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "MatMul")) mms.push_back(n.get());
        }
        for (ir::Node* mm : mms) {
            ir::Value* y = mm->output(0);
            ir::Node* add = sole_consumer(y);
            if (!is_op(add, "Add") || rank_of(mm->input(0)) != 2 || rank_of(mm->input(1)) != 2) continue;
            ir::Value* bias = other_input(add, y);
            ir::Value* out = add->output(0);
            if (!bias || bias == y || out->is_captured() || bias->type.dtype != y->type.dtype) continue;
            if (!gemm_c_fits(bias, y)) continue;  // then the Add keeps y's shape
            const DType dt = y->type.dtype;
            if (dt != DType::kFloat32 && dt != DType::kFloat64 && dt != DType::kFloat16 && dt != DType::kBFloat16) {
                continue;
            }
            NNPORT_ASSIGN_OR_RETURN(
                ir::Node * gm, make_node(g, ctx, "Gemm", "", mm->name() + "_gemm", {mm->input(0), mm->input(1), bias}));
            if (!replace_value(g, out, gm->output(0))) {
                g.remove_node(gm);
                continue;
            }
            const std::string what = mm->describe() + " + " + add->describe();
            g.remove_node(add);
            g.remove_node(mm);
            ctx.record(what);
            changed = true;
        }
        return changed;
    }
};

}  // namespace

std::unique_ptr<Pass> make_matmul_add_to_gemm_pass() { return std::make_unique<MatMulAddToGemm>(); }

}  // namespace nnport::passes

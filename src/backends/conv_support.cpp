// Shared checks of the float32 convolution kernels (conv_support.hpp).
#include "backends/conv_support.hpp"

#include "ops/nn_util.hpp"

namespace nnport::fconv {

bool is_conv(const ir::Node& node) {
    return (node.domain().empty() && node.op_type() == "Conv") ||
           (node.domain() == "com.nnport" &&
            (node.op_type() == "FusedConv" || node.op_type() == "NhwcConv" || node.op_type() == "NhwcFusedConv"));
}

bool is_nhwc(const ir::Node& node) {
    return node.domain() == "com.nnport" && (node.op_type() == "NhwcConv" || node.op_type() == "NhwcFusedConv");
}

bool is_fused(const ir::Node& node) {
    return node.domain() == "com.nnport" && (node.op_type() == "FusedConv" || node.op_type() == "NhwcFusedConv");
}

std::vector<int64_t> input_hw(const ir::Node& node) {
    const std::vector<ir::Dim>& d = node.input(0)->type.dims;
    auto get = [&](size_t i) { return d[i].is_static() ? d[i].value : int64_t{-1}; };
    return is_nhwc(node) ? std::vector<int64_t>{get(1), get(2)} : std::vector<int64_t>{get(2), get(3)};
}

Support supports(const ir::Node& node, const ConstantFn& constant) {
    if (!node.def) return Support::no("unknown op");
    const ir::Value* x = node.input(0);
    if (!is_f32(x)) return Support::no("only float32 input");
    if (rank_of(x) != 4) return Support::no("only 2-D convolution (rank-4 input of known rank)");
    if (node.outputs().size() != 1) return Support::no("one output expected");
    const Tensor* w = constant(node.input(1));
    if (!w) return Support::no("weights are not constant");
    if (w->dtype() != DType::kFloat32 || w->rank() != 4) return Support::no("weights must be rank-4 float32");
    if (const ir::Value* b = node.input(2)) {
        const Tensor* bt = constant(b);
        if (!bt) return Support::no("bias is not constant");
        if (bt->dtype() != DType::kFloat32 || bt->rank() != 1 || bt->dim(0) != w->dim(0)) {
            return Support::no("bias must be float32 [M]");
        }
    }
    AttrAccess a(node, *node.def);
    if (is_fused(node)) {
        auto act = fused::parse_activation(a);
        if (!act.is_ok()) return Support::no(act.status().message());
        const ir::Value* z = node.input(3);
        if (z && (!is_f32(z) || (rank_of(z) != -1 && rank_of(z) != 4))) return Support::no("Z must be float32 rank 4");
    }
    const int64_t group = a.attr_int("group");
    if (group < 1 || w->dim(0) % group != 0) return Support::no("group must be positive and divide M");
    const ir::Dim& c = x->type.dims[is_nhwc(node) ? 3 : 1];
    if (c.is_static() && c.value != w->dim(1) * group) return Support::no("input channels differ from weights x group");
    if (a.has_attr("kernel_shape") && a.attr_ints("kernel_shape") != std::vector<int64_t>{w->dim(2), w->dim(3)}) {
        return Support::no("kernel_shape differs from the weights");
    }
    auto g = nn::window_geometry(a, input_hw(node), {w->dim(2), w->dim(3)}, false);
    if (!g.is_ok()) return Support::no(g.status().message());
    return Support::yes(Layout::kNHWC);
}

Result<fused::Activation> activation(const ir::Node& node) {
    if (!is_fused(node)) return fused::Activation{};
    AttrAccess a(node, *node.def);
    return fused::parse_activation(a);
}

}  // namespace nnport::fconv

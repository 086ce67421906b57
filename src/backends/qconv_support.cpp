// Shared checks and parameters of the int8 convolution kernels (qconv_support.hpp).
#include "backends/qconv_support.hpp"

#include "ops/nn_util.hpp"

namespace nnport::qconv {

bool is_qconv(const ir::Node& node) {
    return node.domain() == "com.nnport" &&
           (node.op_type() == "QLinearFusedConv" || node.op_type() == "NhwcQLinearFusedConv");
}

bool is_nhwc(const ir::Node& node) { return node.op_type() == "NhwcQLinearFusedConv"; }

Support supports(const ir::Node& node, const ConstantFn& constant) {
    if (!node.def) return Support::no("unknown op");
    const ir::Value* x = node.input(0);
    if (!is_int8(x)) return Support::no("x must be uint8 or int8");
    if (x->type.dims.size() != 4) return Support::no("only 2-D convolution (rank-4 input of known rank)");
    if (node.outputs().size() != 1 || !is_int8(node.output(0))) return Support::no("one uint8/int8 output expected");
    if (!scalar_scale(constant, node.input(1)) || !scalar_scale(constant, node.input(6))) {
        return Support::no("x_scale and y_scale must be constant float32 scalars");
    }
    for (size_t i : {size_t{2}, size_t{7}}) {
        const Tensor* z = node.input(i) ? constant(node.input(i)) : nullptr;
        if (node.input(i) && (!z || z->numel() != 1)) return Support::no("zero points must be constant scalars");
    }
    const Tensor* w = constant(node.input(3));
    if (!w || w->dtype() != DType::kInt8 || w->rank() != 4) return Support::no("weights must be constant rank-4 int8");
    const Tensor* ws = constant(node.input(4));
    if (!ws || ws->dtype() != DType::kFloat32 || (ws->numel() != 1 && ws->numel() != w->dim(0))) {
        return Support::no("w_scale must be constant float32, one value or one per output channel");
    }
    const Tensor* wz = node.input(5) ? constant(node.input(5)) : nullptr;
    if (node.input(5) && !wz) return Support::no("w_zero_point is not constant");
    for (int64_t i = 0; wz && i < wz->numel(); ++i) {
        if (wz->item_as_double(i) != 0) return Support::no("only zero weight zero points");
    }
    if (node.inputs().size() > 8 && node.input(8)) {
        const Tensor* b = constant(node.input(8));
        if (!b || b->dtype() != DType::kInt32 || b->rank() != 1 || b->dim(0) != w->dim(0)) {
            return Support::no("bias must be a constant int32 [M]");
        }
    }
    AttrAccess a(node, *node.def);
    auto act = fused::parse_activation(a);
    if (!act.is_ok()) return Support::no(act.status().message());
    const int64_t group = a.attr_int("group");
    if (group < 1 || w->dim(0) % group != 0) return Support::no("group must be positive and divide M");
    const std::vector<ir::Dim>& d = x->type.dims;
    const bool nhwc = is_nhwc(node);
    auto get = [&](size_t i) { return d[i].is_static() ? d[i].value : int64_t{-1}; };
    const int64_t c = get(nhwc ? 3 : 1);
    if (c >= 0 && c != w->dim(1) * group) return Support::no("input channels differ from weights x group");
    if (a.has_attr("kernel_shape") && a.attr_ints("kernel_shape") != std::vector<int64_t>{w->dim(2), w->dim(3)}) {
        return Support::no("kernel_shape differs from the weights");
    }
    const std::vector<int64_t> hw = nhwc ? std::vector<int64_t>{get(1), get(2)} : std::vector<int64_t>{get(2), get(3)};
    auto g = nn::window_geometry(a, hw, {w->dim(2), w->dim(3)}, false);
    if (!g.is_ok()) return Support::no(g.status().message());
    return Support::yes(Layout::kNHWC);
}

Result<Params> params(const ir::Node& node, const ConstantFn& constant) {
    AttrAccess a(node, *node.def);
    Params p;
    NNPORT_ASSIGN_OR_RETURN(p.act, fused::parse_activation(a));
    p.group = a.attr_int("group");
    p.x_type = node.input(0)->type.dtype;
    p.y_type = node.output(0)->type.dtype;
    p.x_zp = scalar_int(node.input(2) ? constant(node.input(2)) : nullptr);
    p.y_zp = scalar_int(node.input(7) ? constant(node.input(7)) : nullptr);
    p.x_scale = constant(node.input(1))->data<float>()[0];
    p.y_scale = constant(node.input(6))->data<float>()[0];
    const Tensor& ws = *constant(node.input(4));
    // Formed in float as the reference kernel does (x_scale * w_scale / y_scale).
    for (int64_t m = 0; m < ws.numel(); ++m) p.out_scales.push_back(p.x_scale * ws.data<float>()[m] / p.y_scale);
    p.w = constant(node.input(3));
    p.bias = node.inputs().size() > 8 && node.input(8) ? constant(node.input(8)) : nullptr;
    return p;
}

}  // namespace nnport::qconv

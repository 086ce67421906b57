// Shared checks and parameters of the int8 matrix-product kernels (qgemm_support.hpp).
#include "backends/qgemm_support.hpp"

namespace nnport::qgemm {

using qconv::is_int8;
using qconv::scalar_int;
using qconv::scalar_scale;

bool is_qgemm(const ir::Node& node) { return node.op_type() == "QGemm" && node.domain() == "com.nnport"; }

Support supports(const ir::Node& node, const ConstantFn& constant) {
    if (!node.def) return Support::no("unknown op");
    const ir::Value* a = node.input(0);
    if (!is_int8(a) || a->type.dims.size() != 2) return Support::no("A must be uint8 or int8 of rank 2");
    AttrAccess at(node, *node.def);
    if (at.attr_int("transA") != 0 || at.attr_float("alpha") != 1.0f) return Support::no("only transA 0, alpha 1");
    const bool quantized = node.inputs().size() > 7 && node.input(7);
    const ir::Value* y = node.outputs().size() == 1 ? node.output(0) : nullptr;
    const bool y_f32 = y && y->type.kind == ir::ValueType::Kind::kTensor && y->type.dtype == DType::kFloat32;
    if (!y || (quantized ? !is_int8(y) : !y_f32)) {
        return Support::no("one float32 output (no y_scale) or uint8/int8 output expected");
    }
    if (!scalar_scale(constant, node.input(1)) || (quantized && !scalar_scale(constant, node.input(7)))) {
        return Support::no("a_scale and y_scale must be constant float32 scalars");
    }
    for (size_t i : {size_t{2}, size_t{8}}) {
        if (i >= node.inputs().size() || !node.input(i)) continue;
        const Tensor* z = constant(node.input(i));
        if (!z || z->numel() != 1) return Support::no("zero points of A and Y must be constant scalars");
    }
    const Tensor* w = constant(node.input(3));
    if (!w || w->dtype() != DType::kInt8 || w->rank() != 2) return Support::no("B must be a constant rank-2 int8");
    const int64_t n = w->dim(at.attr_int("transB") ? 0 : 1);
    const Tensor* ws = constant(node.input(4));
    if (!ws || ws->dtype() != DType::kFloat32 || (ws->numel() != 1 && ws->numel() != n)) {
        return Support::no("b_scale must be constant float32, one value or one per output column");
    }
    const Tensor* wz = node.inputs().size() > 5 && node.input(5) ? constant(node.input(5)) : nullptr;
    if (node.inputs().size() > 5 && node.input(5) && !wz) return Support::no("b_zero_point is not constant");
    for (int64_t i = 0; wz && i < wz->numel(); ++i) {
        if (wz->item_as_double(i) != 0) return Support::no("only zero B zero points");
    }
    if (node.inputs().size() > 6 && node.input(6)) {
        const Tensor* b = constant(node.input(6));
        if (!b || b->dtype() != DType::kInt32 || b->numel() != n || b->shape().back() != n) {
            return Support::no("C must be a constant int32 row of N values");
        }
    }
    auto act = fused::parse_activation(at);
    if (!act.is_ok()) return Support::no(act.status().message());
    if (!fused::clamp_range(*act)) return Support::no("activation must be Identity, Relu or Clip");
    const std::vector<ir::Dim>& d = a->type.dims;
    const int64_t k = w->dim(at.attr_int("transB") ? 1 : 0);
    if (d[1].is_static() && d[1].value != k) return Support::no("A's columns differ from B's rows");
    return Support::yes();
}

Result<Params> params(const ir::Node& node, const ConstantFn& constant) {
    AttrAccess at(node, *node.def);
    Params p;
    NNPORT_ASSIGN_OR_RETURN(p.act, fused::parse_activation(at));
    p.b = constant(node.input(3));
    p.trans_b = at.attr_int("transB") != 0;
    p.k = p.b->dim(p.trans_b ? 1 : 0);
    p.n = p.b->dim(p.trans_b ? 0 : 1);
    p.a_type = node.input(0)->type.dtype;
    p.y_type = node.output(0)->type.dtype;
    p.a_zp = scalar_int(node.input(2) ? constant(node.input(2)) : nullptr);
    if (node.inputs().size() > 7 && node.input(7)) {
        p.y_scale = constant(node.input(7))->data<float>()[0];
        p.y_zp = scalar_int(node.inputs().size() > 8 && node.input(8) ? constant(node.input(8)) : nullptr);
    }
    const float as = constant(node.input(1))->data<float>()[0];
    const Tensor& ws = *constant(node.input(4));
    // Formed in float as the reference kernel does (a_scale * b_scale, then / y_scale).
    for (int64_t j = 0; j < ws.numel(); ++j) p.out_scales.push_back(as * ws.data<float>()[j] / p.y_scale);
    p.c = node.inputs().size() > 6 && node.input(6) ? constant(node.input(6)) : nullptr;
    return p;
}

}  // namespace nnport::qgemm

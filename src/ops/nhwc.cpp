// Channels-last (NHWC) twins of Conv, FusedConv, MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool (domain
// com.nnport, 2-D only). Same attributes and inputs as the ONNX op; the data input, the FusedConv residual Z and the
// output are [N, H, W, C]; weights and bias keep their ONNX layout. Backends that run channels-last (XNNPACK, oneDNN)
// implement them natively; the reference kernels here transpose to NCHW, run the NCHW kernel and transpose back
// (correct, not fast: they exist for fallback and as the tests' reference).
#include "ops/kernel_util.hpp"
#include "ops/nn_util.hpp"
#include "ops/tensor_util.hpp"

namespace nnport {

const OpDef& op_def_Conv();
const OpDef& op_def_FusedConv();
const OpDef& op_def_MaxPool();
const OpDef& op_def_AveragePool();
const OpDef& op_def_GlobalAveragePool();
const OpDef& op_def_GlobalMaxPool();

namespace nhwc {

constexpr int kToNchw[4] = {0, 3, 1, 2};
constexpr int kToNhwc[4] = {0, 2, 3, 1};

/// Element strides of `x` read in the order `perm` (as ONNX Transpose), for strided_copy.
std::vector<int64_t> permuted_strides(const Tensor& x, const int (&perm)[4]) {
    const std::vector<int64_t> in = strides_of(x.shape());
    std::vector<int64_t> out(4);
    for (size_t i = 0; i < 4; ++i) out[i] = in[static_cast<size_t>(perm[i])];
    return out;
}

Shape permuted_shape(const Shape& s, const int (&perm)[4]) {
    return {s[static_cast<size_t>(perm[0])], s[static_cast<size_t>(perm[1])], s[static_cast<size_t>(perm[2])],
            s[static_cast<size_t>(perm[3])]};
}

}  // namespace nhwc

namespace {

/// NHWC type of an NCHW type (or back): dims permuted, unknown shapes kept.
ir::ValueType permuted(const ir::ValueType& t, const int (&perm)[4]) {
    if (!t.has_shape || t.dims.size() != 4) return t;
    ir::ValueType o = t;
    for (size_t i = 0; i < 4; ++i) o.dims[i] = t.dims[static_cast<size_t>(perm[i])];
    return o;
}

Status require_rank4(InferContext& ctx, size_t i, const char* what) {
    const ir::ValueType& t = ctx.input_type(i);
    if (t.has_shape && t.dims.size() != 4) {
        return ctx.error(std::string(what) + " must be rank 4 [N, H, W, C], got " + t.to_string());
    }
    return Status::ok();
}

/// Infers the output by running the NCHW op's inference on NCHW-typed copies of the inputs.
Status infer_via(InferContext& ctx, const OpDef& nchw, std::initializer_list<size_t> nhwc_inputs) {
    for (size_t i : nhwc_inputs) {
        if (ctx.has_input(i)) NNPORT_RETURN_IF_ERROR(require_rank4(ctx, i, i == 0 ? "X" : "Z"));
    }
    // A detached one-node graph with the NCHW op, same attributes, inputs typed NCHW.
    ir::Graph g("nhwc_infer");
    const ir::Node& n = ctx.node();
    std::vector<ir::Value*> ins;
    for (size_t i = 0; i < n.inputs().size(); ++i) {
        const ir::Value* v = n.input(i);
        if (!v) {
            ins.push_back(nullptr);
            continue;
        }
        bool is_data = false;
        for (size_t k : nhwc_inputs) is_data |= k == i;
        NNPORT_ASSIGN_OR_RETURN(ir::Value * c, g.add_value("in" + std::to_string(i),
                                                           is_data ? permuted(v->type, nhwc::kToNchw) : v->type));
        if (const Tensor* t = ctx.input_constant(i)) c->set_initializer(*t);
        ins.push_back(c);
    }
    std::vector<std::string> out_names;
    for (size_t i = 0; i < n.outputs().size(); ++i) out_names.push_back(n.output(i) ? "out" + std::to_string(i) : "");
    NNPORT_ASSIGN_OR_RETURN(ir::Node * m, g.add_node(nchw.name, nchw.domain, n.name(), ins, out_names));
    m->def = &nchw;
    m->opset = n.opset;
    m->attrs = n.attrs;
    int symbols = 0;
    InferContext ic(*m, nchw, [](const ir::Value* v) { return v->has_initializer() ? &v->initializer() : nullptr; },
                    &symbols);
    Status st = nchw.infer(ic);
    if (!st.is_ok()) return ctx.error(st.message());
    for (size_t i = 0; i < m->outputs().size(); ++i) {
        if (!m->output(i)) continue;
        ir::ValueType t = permuted(m->output(i)->type, nhwc::kToNhwc);
        for (ir::Dim& d : t.dims) {
            if (!d.is_static() && d.param.empty()) d = ctx.new_dim();
        }
        ctx.set_output(i, t);
    }
    return Status::ok();
}

/// Reference kernel: X (and Z) to NCHW, the NCHW kernel, the output back to NHWC.
Status kernel_via(KernelContext& ctx, const OpDef& nchw, std::initializer_list<size_t> nhwc_inputs) {
    std::vector<RtValue> converted(ctx.num_inputs());
    std::vector<const RtValue*> ins(ctx.num_inputs(), nullptr);
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        if (!ctx.has_input(i)) continue;
        bool is_data = false;
        for (size_t k : nhwc_inputs) is_data |= k == i;
        if (is_data) {
            NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
            if (ctx.input(i).rank() != 4) {
                return ctx.input_error("input " + std::to_string(i) + " must be rank 4 [N, H, W, C], got " +
                                       shape_to_string(ctx.input(i).shape()));
            }
            const Tensor& x = ctx.input(i);
            const Shape shape = nhwc::permuted_shape(x.shape(), nhwc::kToNchw);
            NNPORT_ASSIGN_OR_RETURN(Tensor t, Tensor::create(x.dtype(), shape));
            NNPORT_RETURN_IF_ERROR(strided_copy(ctx, x, 0, shape, nhwc::permuted_strides(x, nhwc::kToNchw), t));
            converted[i] = RtValue(std::move(t));
            ins[i] = &converted[i];
        } else {
            ins[i] = &ctx.input_value(i);
        }
    }
    std::vector<RtValue> outs(ctx.num_outputs());
    KernelContext inner(ctx.node(), nchw, std::move(ins), &outs, ctx.subgraphs(), ctx.pool());
    NNPORT_RETURN_IF_ERROR(nchw.kernel(inner));
    for (size_t i = 0; i < outs.size(); ++i) {
        if (!ctx.has_output(i) || !outs[i].is_tensor()) continue;
        const Tensor& t = outs[i].tensor;
        const Shape shape = nhwc::permuted_shape(t.shape(), nhwc::kToNhwc);
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(i, t.dtype(), shape));
        NNPORT_RETURN_IF_ERROR(strided_copy(ctx, t, 0, shape, nhwc::permuted_strides(t, nhwc::kToNhwc), *y));
    }
    return Status::ok();
}

OpDef nhwc_def(const OpDef& base, const char* name, InferFn infer, KernelFn kernel, const char* doc) {
    OpDef o;
    o.name = name;
    o.domain = "com.nnport";
    o.since_version = 1;
    o.min_inputs = base.min_inputs;
    o.max_inputs = base.max_inputs;
    o.min_outputs = 1;
    o.max_outputs = 1;
    o.attrs = base.attrs;
    o.infer = infer;
    o.kernel = kernel;
    o.input0_types = base.input0_types;
    o.doc = doc;
    return o;
}

#define NNPORT_NHWC_FNS(Op, ...)                                                                      \
    Status Op##_infer(InferContext& ctx) { return infer_via(ctx, op_def_##Op(), {__VA_ARGS__}); }    \
    Status Op##_kernel(KernelContext& ctx) { return kernel_via(ctx, op_def_##Op(), {__VA_ARGS__}); }

NNPORT_NHWC_FNS(Conv, 0)
NNPORT_NHWC_FNS(FusedConv, 0, 3)
NNPORT_NHWC_FNS(MaxPool, 0)
NNPORT_NHWC_FNS(AveragePool, 0)
NNPORT_NHWC_FNS(GlobalAveragePool, 0)
NNPORT_NHWC_FNS(GlobalMaxPool, 0)
#undef NNPORT_NHWC_FNS

}  // namespace

const OpDef& op_def_NhwcConv() {
    static const OpDef d = nhwc_def(op_def_Conv(), "NhwcConv", Conv_infer, Conv_kernel,
                                    "nnport channels-last Conv (2-D): X [N, H, W, C], W [M, C/group, kH, kW], "
                                    "Y [N, oH, oW, M]; written by the partitioner for NHWC backends.");
    return d;
}
const OpDef& op_def_NhwcFusedConv() {
    static const OpDef d = nhwc_def(op_def_FusedConv(), "NhwcFusedConv", FusedConv_infer, FusedConv_kernel,
                                    "nnport channels-last FusedConv (2-D): X, Z and Y as [N, H, W, C].");
    return d;
}
const OpDef& op_def_NhwcMaxPool() {
    static const OpDef d = nhwc_def(op_def_MaxPool(), "NhwcMaxPool", MaxPool_infer, MaxPool_kernel,
                                    "nnport channels-last MaxPool (2-D, no Indices output): X and Y as [N, H, W, C].");
    return d;
}
const OpDef& op_def_NhwcAveragePool() {
    static const OpDef d = nhwc_def(op_def_AveragePool(), "NhwcAveragePool", AveragePool_infer, AveragePool_kernel,
                                    "nnport channels-last AveragePool (2-D): X and Y as [N, H, W, C].");
    return d;
}
const OpDef& op_def_NhwcGlobalAveragePool() {
    static const OpDef d = nhwc_def(op_def_GlobalAveragePool(), "NhwcGlobalAveragePool", GlobalAveragePool_infer,
                                    GlobalAveragePool_kernel,
                                    "nnport channels-last GlobalAveragePool: X [N, H, W, C], Y [N, 1, 1, C].");
    return d;
}
const OpDef& op_def_NhwcGlobalMaxPool() {
    static const OpDef d = nhwc_def(op_def_GlobalMaxPool(), "NhwcGlobalMaxPool", GlobalMaxPool_infer,
                                    GlobalMaxPool_kernel,
                                    "nnport channels-last GlobalMaxPool: X [N, H, W, C], Y [N, 1, 1, C].");
    return d;
}

}  // namespace nnport

// oneDNN int8 matmul: com.nnport QGemm (transA 0, alpha 1; fully connected layers of int8 QDQ models). A is uint8 or
// int8 [M, K] with a run-time zero point; the constant int8 B (zero point 0, scale per tensor or per output column;
// [N, K] with transB, else [K, N]) is reordered once into the primitive's layout; C is the int32 bias added to the
// accumulator; output scales a_scale * b_scale[n] (divided by y_scale for a quantized output, which also gets a
// run-time zero point); the activation is an eltwise post-op (Clip's bounds divided by y_scale when quantized). The
// output is float32 without y_scale. Results equal the reference kernel's up to float32 rounding of the scaling (and
// at most one step of a quantized output where that rounding crosses a tie).
#include "backends/onednn/onednn_common.hpp"
#include "backends/onednn/onednn_int8.hpp"
#include "backends/onednn/onednn_kernels.hpp"

namespace nnport::onednn {

namespace {

struct Int8GemmEntry {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
    dnnl::memory weights;
    dnnl::memory::desc src_md, dst_md;
    int threads = 1;
};

/// The constant parameters of one QGemm, read once at prepare time.
struct GemmParams {
    DType a_type = DType::kUInt8, y_type = DType::kFloat32;
    int32_t a_zp = 0, y_zp = 0;
    std::vector<float> out_scales;  ///< per output column: a_scale * b_scale[n] (/ y_scale)
    float y_scale = 1.0f;
    bool trans_b = false;
    int64_t k = 0, n = 0;
};

class Int8GemmKernel final : public BackendKernel {
public:
    Int8GemmKernel(const PrepareContext& ctx, Tensor w, Tensor bias, GemmParams gp, fused::Activation act)
        : threads_(ctx.threads), act_(act), gp_(std::move(gp)), w_(std::move(w)), bias_(std::move(bias)) {
        // B as [K, N]: with transB the given [N, K] data read with swapped strides.
        weights_ = WeightCache(dnnl::memory::desc({gp_.k, gp_.n}, dt::s8, gp_.trans_b ? tag::ba : tag::ab),
                               w_.raw_data());
        a_zp_ = gp_.a_zp;
        y_zp_ = gp_.y_zp;
    }

    Status warm_up(const ir::Node& node) {
        const std::vector<int64_t> d = static_dims(node.input(0));
        if (d.size() != 2) return Status::ok();
        return entry_for(node, d).status();
    }

    Status run(KernelContext& ctx) override {
        const Tensor& a = ctx.input(0);
        if (a.dtype() != gp_.a_type || a.rank() != 2 || a.dim(1) != gp_.k) {
            return ctx.input_error("A must be a " + std::string(dtype_name(gp_.a_type)) + " [M, " +
                                   std::to_string(gp_.k) + "] tensor, got " + dtype_name(a.dtype()) + " " +
                                   shape_to_string(a.shape()));
        }
        NNPORT_ASSIGN_OR_RETURN(std::shared_ptr<const Int8GemmEntry> e, entry_for(ctx.node(), a.shape()));
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, gp_.y_type, {a.dim(0), gp_.n}));
        if (y->numel() == 0) return Status::ok();
        try {
            set_threads(e->threads);
            execute(e->prim, e->pd,
                    int8_args(e->src_md, a.raw_data(), e->weights, e->dst_md, y->raw_data(), &a_zp_,
                              quantized() ? &y_zp_ : nullptr, bias_md(), bias_));
        } catch (const dnnl::error& err) {
            return error_status(ctx.node(), "int8 matmul", err);
        }
        return Status::ok();
    }

private:
    bool quantized() const { return gp_.y_type != DType::kFloat32; }
    dnnl::memory::desc bias_md() const { return dnnl::memory::desc({1, gp_.n}, dt::s32, tag::ab); }

    Result<std::shared_ptr<const Int8GemmEntry>> entry_for(const ir::Node& node, const Shape& as) {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto e = cache_.find(as)) return e;
        const int64_t m = as[0];
        auto e = std::make_shared<Int8GemmEntry>();
        e->src_md = dnnl::memory::desc({m, gp_.k}, int8_dt(gp_.a_type), tag::ab);
        e->dst_md = dnnl::memory::desc({m, gp_.n}, quantized() ? int8_dt(gp_.y_type) : dt::f32, tag::ab);
        // int8 multiply-adds run about four times as fast as float ones: a thread needs four times the work.
        e->threads = threads_for(double(m) * gp_.k * gp_.n, 4 * kMacsPerThread, threads_);
        try {
            set_threads(e->threads);
            const dnnl::memory::desc w_any({gp_.k, gp_.n}, dt::s8, tag::any);
            const dnnl::matmul::desc d = bias_.defined() ? dnnl::matmul::desc(e->src_md, w_any, bias_md(), e->dst_md)
                                                         : dnnl::matmul::desc(e->src_md, w_any, e->dst_md);
            const dnnl::primitive_attr attr = int8_attr(gp_.out_scales, quantized(), act_, gp_.y_scale);
            e->pd = dnnl::matmul::primitive_desc(d, attr, engine());
            e->prim = dnnl::matmul(e->pd);
            e->weights = weights_.get(e->pd.weights_desc());
        } catch (const dnnl::error& err) {
            return error_status(node, "creating an int8 matmul", err);
        }
        std::shared_ptr<const Int8GemmEntry> ce = e;
        cache_.put(as, ce);
        return ce;
    }

    int threads_;
    fused::Activation act_;
    GemmParams gp_;
    Tensor w_, bias_;
    int32_t a_zp_ = 0, y_zp_ = 0;  ///< zero points passed at run time (oneDNN reads them from these)
    std::mutex mu_;
    ShapeCache<Int8GemmEntry> cache_;
    WeightCache weights_;
};

}  // namespace

bool is_int8_gemm(const ir::Node& node) { return is_op(node, "com.nnport", "QGemm"); }

Support int8_gemm_supports(const ir::Node& node, const ConstantFn& constant) {
    if (!node.def) return Support::no("unknown op");
    const ir::Value* a = node.input(0);
    if (!is_int8(a) || rank_of(a) != 2) return Support::no("A must be uint8 or int8 of rank 2");
    AttrAccess at(node, *node.def);
    if (at.attr_int("transA") != 0 || at.attr_float("alpha") != 1.0f) return Support::no("only transA 0, alpha 1");
    const bool quantized = node.inputs().size() > 7 && node.input(7);
    if (node.outputs().size() != 1 || (quantized ? !is_int8(node.output(0)) : !is_f32(node.output(0)))) {
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
    if (act->kind != fused::Act::kIdentity && act->kind != fused::Act::kRelu && act->kind != fused::Act::kClip) {
        return Support::no("activation must be Identity, Relu or Clip");
    }
    const std::vector<ir::Dim>& d = a->type.dims;
    const int64_t k = w->dim(at.attr_int("transB") ? 1 : 0);
    if (d[1].is_static() && d[1].value != k) return Support::no("A's columns differ from B's rows");
    return Support::yes();
}

Result<std::unique_ptr<BackendKernel>> int8_gemm_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = int8_gemm_supports(node, ctx.constant);
    if (!s.ok) return unsupported("onednn: " + node.describe() + ": " + s.reason);
    AttrAccess at(node, *node.def);
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fused::parse_activation(at));
    const Tensor* w = ctx.constant(node.input(3));
    GemmParams gp;
    gp.trans_b = at.attr_int("transB") != 0;
    gp.k = w->dim(gp.trans_b ? 1 : 0);
    gp.n = w->dim(gp.trans_b ? 0 : 1);
    gp.a_type = node.input(0)->type.dtype;
    gp.y_type = node.output(0)->type.dtype;
    gp.a_zp = scalar_int(node.input(2) ? ctx.constant(node.input(2)) : nullptr);
    const bool quantized = node.inputs().size() > 7 && node.input(7);
    if (quantized) {
        gp.y_scale = ctx.constant(node.input(7))->data<float>()[0];
        gp.y_zp = scalar_int(node.inputs().size() > 8 && node.input(8) ? ctx.constant(node.input(8)) : nullptr);
    }
    const float as = ctx.constant(node.input(1))->data<float>()[0];
    const Tensor& ws = *ctx.constant(node.input(4));
    // Formed in float as the reference kernel does (a_scale * b_scale, then / y_scale).
    for (int64_t j = 0; j < ws.numel(); ++j) gp.out_scales.push_back(as * ws.data<float>()[j] / gp.y_scale);
    const Tensor* b = node.inputs().size() > 6 && node.input(6) ? ctx.constant(node.input(6)) : nullptr;
    auto k = std::make_unique<Int8GemmKernel>(ctx, *w, b ? *b : Tensor(), std::move(gp), act);
    NNPORT_RETURN_IF_ERROR(k->warm_up(node));
    return std::unique_ptr<BackendKernel>(std::move(k));
}

}  // namespace nnport::onednn

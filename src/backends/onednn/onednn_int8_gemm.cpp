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
#include "backends/qgemm_support.hpp"

namespace nnport::onednn {

namespace {

struct Int8GemmEntry {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
    dnnl::memory weights;
    dnnl::memory::desc src_md, dst_md;
    int threads = 1;
};

using GemmParams = qgemm::Params;

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

bool is_int8_gemm(const ir::Node& node) { return qgemm::is_qgemm(node); }

Support int8_gemm_supports(const ir::Node& node, const ConstantFn& constant) { return qgemm::supports(node, constant); }

Result<std::unique_ptr<BackendKernel>> int8_gemm_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = int8_gemm_supports(node, ctx.constant);
    if (!s.ok) return unsupported("onednn: " + node.describe() + ": " + s.reason);
    NNPORT_ASSIGN_OR_RETURN(GemmParams gp, qgemm::params(node, ctx.constant));
    const Tensor w = *gp.b;
    const Tensor bias = gp.c ? *gp.c : Tensor();
    const fused::Activation act = gp.act;
    auto k = std::make_unique<Int8GemmKernel>(ctx, w, bias, std::move(gp), act);
    NNPORT_RETURN_IF_ERROR(k->warm_up(node));
    return std::unique_ptr<BackendKernel>(std::move(k));
}

}  // namespace nnport::onednn

// oneDNN layer normalization and softmax.
//  - LayerNormalization (ai.onnx opset 17 and the com.nnport alias) over the last axis: the input viewed as
//    [rows, C], scale and shift as separate [C] tensors (use_scale | use_shift); the optional Mean / InvStdDev outputs
//    are declined (oneDNN gives the variance, and inference graphs do not use them).
//  - Softmax over the last axis: the input viewed as [rows, len]. Other axes are declined: oneDNN 2.6 has no
//    vectorised kernel for a strided softmax axis, so its reference code would be slower than nnport's.
// Primitives are cached per row count; the static shape's is created at prepare time.
#include "backends/onednn/onednn_common.hpp"
#include "backends/onednn/onednn_kernels.hpp"
#include "ops/kernel_util.hpp"

namespace nnport::onednn {

namespace {

bool is_layer_norm(const ir::Node& n) {
    return n.op_type() == "LayerNormalization" && (n.domain().empty() || n.domain() == "com.nnport");
}

struct NormEntry {
    dnnl::primitive_desc pd;
    dnnl::primitive prim;
    dnnl::memory::desc md, param_md;
    int threads = 1;
};

class RowsKernel final : public BackendKernel {
public:
    RowsKernel(bool layer_norm, int threads, float eps, bool has_shift)
        : layer_norm_(layer_norm), threads_(threads), eps_(eps), has_shift_(has_shift) {}

    Status warm_up(const ir::Node& node) {
        const std::vector<int64_t> d = static_dims(node.input(0));
        if (d.empty()) return Status::ok();
        int64_t rows = 1;
        for (size_t i = 0; i + 1 < d.size(); ++i) rows *= d[i];
        if (rows == 0 || d.back() == 0) return Status::ok();
        return entry_for(node, rows, d.back()).status();
    }

    Status run(KernelContext& ctx) override {
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() < 1) return ctx.input_error("X must be float32 of rank >= 1");
        const int64_t c = x.shape().back();
        const int64_t rows = c == 0 ? 0 : x.numel() / c;
        const Tensor* scale = nullptr;
        const Tensor* shift = nullptr;
        if (layer_norm_) {
            NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
            scale = &ctx.input(1);
            shift = has_shift_ ? &ctx.input(2) : nullptr;
            for (const Tensor* p : {scale, shift}) {
                if (p && (p->dtype() != DType::kFloat32 || p->numel() != c || p->rank() > 1)) {
                    return ctx.input_error("scale/bias " + shape_to_string(p->shape()) + " must be float32 [" +
                                           std::to_string(c) + "]");
                }
            }
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x.shape()));
        if (y->numel() == 0) return Status::ok();
        NNPORT_ASSIGN_OR_RETURN(std::shared_ptr<const NormEntry> e, entry_for(ctx.node(), rows, c));
        try {
            set_threads(e->threads);
            std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, wrap(e->md, x.raw_data())},
                                                          {DNNL_ARG_DST, wrap(e->md, y->raw_data())}};
            if (scale) args.emplace(DNNL_ARG_SCALE, wrap(e->param_md, scale->raw_data()));
            if (shift) args.emplace(DNNL_ARG_SHIFT, wrap(e->param_md, shift->raw_data()));
            execute(e->prim, e->pd, std::move(args));
        } catch (const dnnl::error& err) {
            return error_status(ctx.node(), layer_norm_ ? "layer normalization" : "softmax", err);
        }
        return Status::ok();
    }

private:
    Result<std::shared_ptr<const NormEntry>> entry_for(const ir::Node& node, int64_t rows, int64_t c) {
        std::lock_guard<std::mutex> lock(mu_);
        const std::vector<int64_t> key = {rows, c};
        if (auto e = cache_.find(key)) return e;
        auto e = std::make_shared<NormEntry>();
        e->md = dnnl::memory::desc({rows, c}, dt::f32, tag::ab);
        e->param_md = dnnl::memory::desc({c}, dt::f32, tag::x);
        e->threads = threads_for(double(rows) * c, kElemsPerThread, threads_);
        try {
            set_threads(e->threads);
            const dnnl::prop_kind fwd = dnnl::prop_kind::forward_inference;
            if (layer_norm_) {
                auto flags = dnnl::normalization_flags::use_scale;
                if (has_shift_) flags |= dnnl::normalization_flags::use_shift;
                const dnnl::layer_normalization_forward::desc d(fwd, e->md, eps_, flags);
                auto pd = dnnl::layer_normalization_forward::primitive_desc(d, base_attr(), engine());
                e->prim = dnnl::layer_normalization_forward(pd);
                e->pd = pd;
            } else {
                const dnnl::softmax_forward::desc d(fwd, e->md, 1);
                auto pd = dnnl::softmax_forward::primitive_desc(d, base_attr(), engine());
                e->prim = dnnl::softmax_forward(pd);
                e->pd = pd;
            }
        } catch (const dnnl::error& err) {
            return error_status(node, layer_norm_ ? "creating a layer normalization" : "creating a softmax", err);
        }
        std::shared_ptr<const NormEntry> ne = e;
        cache_.put(key, ne);
        return ne;
    }

    bool layer_norm_;
    int threads_;
    float eps_;
    bool has_shift_;
    std::mutex mu_;
    ShapeCache<NormEntry> cache_;
};

/// The normalized axis as a non-negative index, or -1 when the rank is unknown or the axis is out of range.
int64_t axis_of(const ir::Node& node, int64_t rank) {
    if (rank < 1) return -1;
    auto ax = normalize_axis(AttrAccess(node, *node.def).attr_int("axis"), rank);
    return ax.is_ok() ? ax.value() : -1;
}

}  // namespace

bool is_norm(const ir::Node& node) { return is_layer_norm(node) || is_op(node, "", "Softmax"); }

Support norm_supports(const ir::Node& node, const ConstantFn&) {
    if (!node.def) return Support::no("unknown op");
    const ir::Value* x = node.input(0);
    if (!is_f32(x)) return Support::no("only float32 input");
    const int64_t rank = rank_of(x);
    if (rank < 1) return Support::no("the input's rank must be known");
    if (axis_of(node, rank) != rank - 1) return Support::no("only the last axis");
    if (!is_layer_norm(node)) return Support::yes();
    for (size_t i = 1; i < node.outputs().size(); ++i) {
        if (node.output(i)) return Support::no("the Mean / InvStdDev outputs are not supported");
    }
    for (size_t i = 1; i <= 2; ++i) {
        const ir::Value* p = node.input(i);
        if (!p) continue;
        if (!is_f32(p)) return Support::no("scale/bias must be float32");
        if (rank_of(p) != 1) return Support::no("scale/bias must be 1-D over the last axis");
    }
    return Support::yes();
}

Result<std::unique_ptr<BackendKernel>> norm_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = norm_supports(node, ctx.constant);
    if (!s.ok) return unsupported("onednn: " + node.describe() + ": " + s.reason);
    const bool ln = is_layer_norm(node);
    const float eps = ln ? AttrAccess(node, *node.def).attr_float("epsilon") : 0.0f;
    auto k = std::make_unique<RowsKernel>(ln, ctx.threads, eps, ln && node.input(2) != nullptr);
    NNPORT_RETURN_IF_ERROR(k->warm_up(node));
    return std::unique_ptr<BackendKernel>(std::move(k));
}

}  // namespace nnport::onednn

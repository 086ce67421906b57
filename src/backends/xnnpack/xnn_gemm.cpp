// XNNPACK backend: Gemm, com.nnport FusedGemm, MatMul and com.nnport FusedMatMul with a constant 2-D B, as
// xnn_create_fully_connected_nc_f32 operators over blocks of output columns. alpha is folded into the weights (laid
// out [N, K] once), beta * C (a row: [N], [1, N] or one value) into the bias. MatMul's A of any rank is a [rows, K]
// matrix. Relu/Clip are the output clamp, other activations the vectorised epilogue.
#include <algorithm>
#include <vector>

#include "backends/xnnpack/xnn_common.hpp"

namespace nnport::xnn {

namespace {

bool is_gemm(const ir::Node& n) { return is_onnx(n, "Gemm") || is_nnport(n, "FusedGemm"); }
bool is_fused(const ir::Node& n) { return is_nnport(n, "FusedGemm") || is_nnport(n, "FusedMatMul"); }

/// Why the node does not fit a fully connected operator (empty: it does).
std::string gemm_obstacle(const ir::Node& n, const ConstantFn& constant) {
    const bool gemm = is_gemm(n);
    std::string why = gemm ? need_f32_rank(n.input(0), "A", 2, 2) : need_f32_rank(n.input(0), "A", 1, 64);
    if (!why.empty()) return why;
    if (n.outputs().size() != 1) return "expected one output";
    const Tensor* b = n.input(1) ? constant(n.input(1)) : nullptr;
    if (!b) return "B is not a constant (weights are packed when the node is prepared)";
    if (b->dtype() != DType::kFloat32) return std::string("B is ") + dtype_name(b->dtype());
    if (b->rank() != 2) return "B has rank " + std::to_string(b->rank()) + " (only a 2-D B is supported)";
    const AttrAccess a = attrs_of(n);
    const bool tb = gemm && a.attr_int("transB") != 0;
    const int64_t k = b->dim(tb ? 1 : 0), nn = b->dim(tb ? 0 : 1);
    if (k <= 0 || nn <= 0) return "B is empty";
    if (gemm && a.attr_int("transA") != 0) return "transA=1 (XNNPACK's fully connected operator takes A as rows)";
    const ir::Dim& ak = n.input(0)->type.dims.back();
    if (ak.is_static() && ak.value != k) return "A's inner dimension differs from B's";
    if (n.input(2)) {
        const Tensor* c = constant(n.input(2));
        const bool unused = gemm && a.attr_float("beta") == 0.0f;
        if (!c && !unused) return gemm ? "C is not a constant" : "bias is not a constant";
        if (c && !unused) {
            if (c->dtype() != DType::kFloat32) return std::string("C is ") + dtype_name(c->dtype());
            const bool row = (c->rank() == 1 && c->dim(0) == nn) || (c->rank() == 2 && c->dim(0) == 1 && c->dim(1) == nn);
            if (!gemm && !(c->rank() == 1 && c->dim(0) == nn)) return "bias must be 1-D with B's last dimension";
            if (gemm && !row && !(c->numel() == 1 && c->rank() <= 2)) {
                return "C " + shape_to_string(c->shape()) + " is not a row broadcast over the output ([N], [1, N] or "
                       "one value)";
            }
        }
    }
    if (is_fused(n)) return activation_obstacle(n);
    return {};
}

/// Output columns per operator: XNNPACK's fully connected operator streams all of its packed weights once per
/// panel of 7 rows, which runs from L3/DRAM when K x N is large; operators over column blocks of about 256 KiB of
/// weights keep them in L2 while every row passes (1.6-1.8x on vit_b_16's MatMuls). Small row counts (known at load
/// time) keep one operator: their weights are read once anyway.
int64_t block_columns(int64_t k, int64_t n, int64_t static_rows) {
    if (static_rows >= 0 && static_rows < 32) return n;
    const int64_t cols = std::max<int64_t>(64, ((int64_t{1} << 16) / k) / 16 * 16);
    return cols >= n ? n : cols;
}

class FullyConnectedKernel final : public BackendKernel {
public:
    Status init(const ir::Node& n, const PrepareContext& pc) {
        node_ = &n;
        gemm_ = is_gemm(n);
        const AttrAccess a = attrs_of(n);
        const Tensor& b = *pc.constant(n.input(1));
        const bool tb = gemm_ && a.attr_int("transB") != 0;
        k_ = b.dim(tb ? 1 : 0);
        n_ = b.dim(tb ? 0 : 1);
        const float alpha = gemm_ ? a.attr_float("alpha") : 1.0f, beta = gemm_ ? a.attr_float("beta") : 1.0f;
        // Weights as XNNPACK's [N, K] with alpha folded in (a block of columns is then a block of rows).
        std::vector<float> packed;
        const float* w = b.data<float>();
        if (!tb || alpha != 1.0f) {
            packed.resize(static_cast<size_t>(b.numel()));
            for (int64_t j = 0; j < n_; ++j) {
                for (int64_t i = 0; i < k_; ++i) {
                    packed[static_cast<size_t>(j * k_ + i)] = alpha * (tb ? w[j * k_ + i] : w[i * n_ + j]);
                }
            }
            w = packed.data();
        }
        std::vector<float> bias;
        const Tensor* c = n.input(2) ? pc.constant(n.input(2)) : nullptr;
        if (c && beta != 0.0f) {
            bias.resize(static_cast<size_t>(n_));
            const float* cv = c->data<float>();
            const bool one = c->numel() == 1;
            for (int64_t j = 0; j < n_; ++j) bias[static_cast<size_t>(j)] = beta * cv[one ? 0 : j];
        }
        fused::Activation act;
        if (is_fused(n)) {
            NNPORT_ASSIGN_OR_RETURN(act, fused::parse_activation(a));
        }
        const ActSplit split = split_activation(act);
        post_ = split.post;
        int64_t static_rows = 1;
        for (size_t i = 0; i + 1 < n.input(0)->type.dims.size(); ++i) {
            const ir::Dim& d = n.input(0)->type.dims[i];
            static_rows = d.is_static() && static_rows >= 0 ? static_rows * d.value : -1;
        }
        const int64_t cols = block_columns(k_, n_, static_rows);
        for (int64_t c0 = 0; c0 < n_; c0 += cols) {
            Block blk;
            blk.c0 = c0;
            blk.n = std::min(cols, n_ - c0);
            xnn_operator_t op = nullptr;
            const xnn_status s = xnn_create_fully_connected_nc_f32(
                static_cast<size_t>(k_), static_cast<size_t>(blk.n), static_cast<size_t>(k_),
                static_cast<size_t>(n_), w + c0 * k_, bias.empty() ? nullptr : bias.data() + c0, split.min, split.max,
                0, &op);
            if (s != xnn_status_success) return call_error(n, "xnn_create_fully_connected_nc_f32", s);
            blk.op.reset(op);
            blocks_.push_back(std::move(blk));
        }
        return Status::ok();
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() < 1 || (gemm_ && x.rank() != 2)) {
            return ctx.input_error(std::string("A must be a float32 ") + (gemm_ ? "2-D" : "") + " tensor, got " +
                                   dtype_name(x.dtype()) + " " + shape_to_string(x.shape()));
        }
        if (x.shape().back() != k_) {
            return ctx.input_error("A " + shape_to_string(x.shape()) + " has inner dimension " +
                                   std::to_string(x.shape().back()) + ", B expects " + std::to_string(k_));
        }
        Shape out(x.shape().begin(), x.shape().end() - 1);
        out.push_back(n_);
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out));
        if (y->numel() == 0) return Status::ok();
        const size_t rows = static_cast<size_t>(x.numel() / k_);
        const int64_t macs = y->numel() * k_;
        std::lock_guard<std::mutex> lock(mu_);
        if (blocks_.size() == 1) {
            const pthreadpool_t tp = threadpool(ctx, macs, kMacsPerThread);
            NNPORT_RETURN_IF_ERROR(run_block(blocks_[0], rows, x.data<float>(), y->data<float>(), tp));
            apply_epilogue(post_, y->data<float>(), nullptr, y->numel(), tp ? ctx.pool() : nullptr);
            return Status::ok();
        }
        // Blocks side by side on the session's threads, each on one thread, its activation applied while the
        // block's output is in cache.
        std::vector<Status> st(blocks_.size());
        auto body = [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const Block& blk = blocks_[static_cast<size_t>(b)];
                st[static_cast<size_t>(b)] = run_block(blk, rows, x.data<float>(), y->data<float>(), nullptr);
                if (post_.kind == fused::Act::kIdentity) continue;
                for (size_t r = 0; r < rows; ++r) {
                    apply_epilogue(post_, y->data<float>() + static_cast<int64_t>(r) * n_ + blk.c0, nullptr, blk.n,
                                   nullptr);
                }
            }
        };
        if (threads_for(ctx, macs, kMacsPerThread) > 1) ctx.parallel_for(static_cast<int64_t>(blocks_.size()), body);
        else body(0, static_cast<int64_t>(blocks_.size()));
        for (const Status& s : st) NNPORT_RETURN_IF_ERROR(s);
        return Status::ok();
    }

private:
    struct Block {
        int64_t c0 = 0, n = 0;  // output columns [c0, c0 + n)
        OpPtr op;
    };

    Status run_block(const Block& blk, size_t rows, const float* x, float* y, pthreadpool_t tp) const {
        xnn_status s = xnn_setup_fully_connected_nc_f32(blk.op.get(), rows, x, y + blk.c0, tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_setup_fully_connected_nc_f32", s);
        s = xnn_run_operator(blk.op.get(), tp);
        if (s != xnn_status_success) return call_error(*node_, "xnn_run_operator", s);
        return Status::ok();
    }

    const ir::Node* node_ = nullptr;
    bool gemm_ = false;
    int64_t k_ = 0, n_ = 0;
    fused::Activation post_;
    std::mutex mu_;
    std::vector<Block> blocks_;
};

}  // namespace

Support gemm_supports(const ir::Node& n, const ConstantFn& constant) {
    const std::string why = gemm_obstacle(n, constant);
    if (!why.empty()) return Support::no(why);
    return Support::yes();
}

Result<KernelPtr> gemm_prepare(const ir::Node& n, const PrepareContext& ctx) {
    auto k = std::make_unique<FullyConnectedKernel>();
    NNPORT_RETURN_IF_ERROR(k->init(n, ctx));
    return KernelPtr(std::move(k));
}

}  // namespace nnport::xnn

// oneDNN matmul: MatMul, Gemm, com.nnport FusedGemm and FusedMatMul.
//  - Constant B (rank 2): B (transposed for transB, times alpha) is reordered once into the primitive's preferred
//    layout (format `any`); A of any rank >= 1 is flattened to rows (Gemm's transA is a strided source); a bias (a
//    constant Gemm C that is a row or a scalar, times beta; FusedMatMul's bias) is the primitive's bias; any other
//    Gemm C is broadcast into the output first and added by a `sum` post-op scaled by beta; the activation follows
//    as eltwise post-ops.
//  - Both operands at run time (MatMul / FusedMatMul, ranks >= 2, e.g. attention): one batched primitive per pair of
//    shapes, with numpy batch broadcasting.
// Primitives depend on the number of rows (and batch shapes), so they are cached per shape; the static shape's is
// created at prepare time.
#include <algorithm>
#include <cstring>

#include "backends/onednn/onednn_common.hpp"
#include "backends/onednn/onednn_kernels.hpp"
#include "ops/nn_util.hpp"

namespace nnport::onednn {

namespace {

bool is_gemm(const ir::Node& n) { return is_op(n, "", "Gemm") || is_op(n, "com.nnport", "FusedGemm"); }
bool is_fused(const ir::Node& n) { return n.domain() == "com.nnport"; }

struct MatMulEntry {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
    dnnl::memory weights;  ///< constant B in the primitive's layout (constant-B kernel only)
    dnnl::memory::desc src_md, wei_md, dst_md, bias_md;
    int threads = 1;
};

/// Shared parts: the activation post-ops, the bias source, threads, the shape cache.
class MatMulBase : public BackendKernel {
protected:
    explicit MatMulBase(int threads) : threads_(threads) {}

    /// Fills `attr` with the post-ops: optional sum (scale beta), then the activation.
    dnnl::primitive_attr make_attr(bool sum, float sum_scale) const {
        dnnl::primitive_attr attr = base_attr();
        dnnl::post_ops po;
        if (sum) po.append_sum(sum_scale);
        append_activation(po, act_);
        attr.set_post_ops(po);
        return attr;
    }

    int threads_;
    fused::Activation act_;
    std::mutex mu_;
    ShapeCache<MatMulEntry> cache_;
};

// ---- constant B ---------------------------------------------------------------------------------------------------

class ConstMatMulKernel final : public MatMulBase {
public:
    ConstMatMulKernel(const ir::Node& node, const PrepareContext& ctx, const Tensor& b, fused::Activation act)
        : MatMulBase(ctx.threads) {
        act_ = act;
        AttrAccess a(node, *node.def);
        gemm_ = is_gemm(node);
        bool tb = false;
        float alpha = 1.0f;
        if (gemm_) {
            ta_ = a.attr_int("transA") != 0;
            tb = a.attr_int("transB") != 0;
            alpha = a.attr_float("alpha");
            beta_ = a.attr_float("beta");
        }
        k_ = b.dim(tb ? 1 : 0);
        n_ = b.dim(tb ? 0 : 1);
        b_ = b;
        if (alpha != 1.0f) {
            b_ = std::move(Tensor::create(DType::kFloat32, b.shape())).value();
            for (int64_t i = 0; i < b.numel(); ++i) b_.data<float>()[i] = alpha * b.data<float>()[i];
        }
        weights_ = WeightCache(dnnl::memory::desc({k_, n_}, dt::f32, tb ? tag::ba : tag::ab), b_.raw_data());
        const ir::Value* bias = node.input(2);
        if (gemm_) {
            const Tensor* c = bias ? ctx.constant(bias) : nullptr;
            if (bias && beta_ != 0.0f) {
                if (c && nn::gemm_c_is_row(c->shape(), n_)) {
                    bias_ = std::move(Tensor::create(DType::kFloat32, {1, n_})).value();
                    for (int64_t j = 0; j < n_; ++j) {
                        bias_.data<float>()[j] = beta_ * c->data<float>()[c->numel() == 1 ? 0 : j];
                    }
                } else {
                    c_input_ = true;  // broadcast into the output, then a sum post-op
                }
            }
        } else if (bias) {
            if (const Tensor* c = ctx.constant(bias)) {
                bias_ = c->reshaped({1, n_});
            } else {
                runtime_bias_ = true;
            }
        }
    }

    Status warm_up(const ir::Node& node) {
        const std::vector<int64_t> d = static_dims(node.input(0));
        if (d.empty()) return Status::ok();
        AttrAccess a(node, *node.def);
        return entry_for(a, rows_of(d)).status();
    }

    Status run(KernelContext& ctx) override {
        const Tensor& a = ctx.input(0);
        if (a.dtype() != DType::kFloat32) return ctx.input_error("A must be float32");
        if (gemm_ ? a.rank() != 2 : a.rank() < 1) {
            return ctx.input_error("A " + shape_to_string(a.shape()) + " has the wrong rank");
        }
        const int64_t ka = gemm_ ? a.dim(ta_ ? 0 : 1) : a.shape().back();
        if (ka != k_) {
            return ctx.input_error("A " + shape_to_string(a.shape()) + " has inner dimension " + std::to_string(ka) +
                                   ", B has " + std::to_string(k_));
        }
        const int64_t m = rows_of(a.shape());
        Shape out = gemm_ ? Shape{m, n_} : Shape(a.shape().begin(), a.shape().end() - 1);
        if (!gemm_) out.push_back(n_);
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out));
        if (y->numel() == 0) return Status::ok();
        const Tensor* c = nullptr;
        if (c_input_ || runtime_bias_) {
            c = &ctx.input(2);
            if (c->dtype() != DType::kFloat32) return ctx.input_error("C must be float32");
        }
        if (c_input_) {
            NNPORT_RETURN_IF_ERROR(fill_c(ctx, *c, y->data<float>(), m));
        } else if (runtime_bias_ && (c->rank() != 1 || c->dim(0) != n_)) {
            return ctx.input_error("bias " + shape_to_string(c->shape()) + " must be 1-D with " + std::to_string(n_) +
                                   " values");
        }
        NNPORT_ASSIGN_OR_RETURN(std::shared_ptr<const MatMulEntry> e, entry_for(ctx, m));
        try {
            set_threads(e->threads);
            std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, wrap(e->src_md, a.raw_data())},
                                                          {DNNL_ARG_WEIGHTS, e->weights},
                                                          {DNNL_ARG_DST, wrap(e->dst_md, y->raw_data())}};
            if (bias_.defined()) args.emplace(DNNL_ARG_BIAS, wrap(e->bias_md, bias_.raw_data()));
            if (runtime_bias_) args.emplace(DNNL_ARG_BIAS, wrap(e->bias_md, c->raw_data()));
            execute(e->prim, e->pd, std::move(args));
        } catch (const dnnl::error& err) {
            return error_status(ctx.node(), "matmul", err);
        }
        return Status::ok();
    }

private:
    int64_t rows_of(const std::vector<int64_t>& as) const {
        if (gemm_) return as.size() == 2 ? as[ta_ ? 1 : 0] : 0;
        int64_t r = 1;
        for (size_t i = 0; i + 1 < as.size(); ++i) r *= as[i];
        return r;
    }

    /// y[M, N] = C broadcast (Gemm's C that is not a constant row).
    Status fill_c(const KernelContext& ctx, const Tensor& c, float* y, int64_t m) const {
        const Shape& cs = c.shape();
        if (cs.size() > 2 || (!cs.empty() && cs.back() != 1 && cs.back() != n_) ||
            (cs.size() == 2 && cs[0] != 1 && cs[0] != m)) {
            return ctx.input_error("C " + shape_to_string(cs) + " cannot be broadcast to [" + std::to_string(m) + "," +
                                   std::to_string(n_) + "]");
        }
        const int64_t cn = cs.empty() ? 1 : cs.back(), cm = cs.size() == 2 ? cs[0] : 1;
        const float* cd = c.data<float>();
        for (int64_t i = 0; i < m; ++i) {
            const float* cr = cd + (cm == 1 ? 0 : i) * cn;
            float* yr = y + i * n_;
            if (cn == n_) {
                std::memcpy(yr, cr, static_cast<size_t>(n_) * sizeof(float));
            } else {
                std::fill(yr, yr + n_, cr[0]);
            }
        }
        return Status::ok();
    }

    Result<std::shared_ptr<const MatMulEntry>> entry_for(const AttrAccess& a, int64_t m) {
        std::lock_guard<std::mutex> lock(mu_);
        const std::vector<int64_t> key = {m};
        if (auto e = cache_.find(key)) return e;
        auto e = std::make_shared<MatMulEntry>();
        e->src_md = dnnl::memory::desc({m, k_}, dt::f32, ta_ ? tag::ba : tag::ab);
        e->dst_md = dnnl::memory::desc({m, n_}, dt::f32, tag::ab);
        const dnnl::memory::desc w_any({k_, n_}, dt::f32, tag::any);
        const bool has_bias = bias_.defined() || runtime_bias_;
        if (has_bias) e->bias_md = dnnl::memory::desc({1, n_}, dt::f32, tag::ab);
        e->threads = threads_for(double(m) * k_ * n_, kMacsPerThread, threads_);
        try {
            set_threads(e->threads);
            const dnnl::matmul::desc d = has_bias ? dnnl::matmul::desc(e->src_md, w_any, e->bias_md, e->dst_md)
                                                  : dnnl::matmul::desc(e->src_md, w_any, e->dst_md);
            e->pd = dnnl::matmul::primitive_desc(d, make_attr(c_input_, beta_), engine());
            e->prim = dnnl::matmul(e->pd);
            e->weights = weights_.get(e->pd.weights_desc());
        } catch (const dnnl::error& err) {
            return error_status(a.node(), "creating a matmul", err);
        }
        std::shared_ptr<const MatMulEntry> me = e;
        cache_.put(key, me);
        return me;
    }

    bool gemm_ = false, ta_ = false, c_input_ = false, runtime_bias_ = false;
    float beta_ = 1.0f;
    int64_t k_ = 0, n_ = 0;
    Tensor b_, bias_;
    WeightCache weights_;
};

// ---- both operands at run time ------------------------------------------------------------------------------------

class BatchedMatMulKernel final : public MatMulBase {
public:
    BatchedMatMulKernel(const ir::Node& node, int threads, fused::Activation act) : MatMulBase(threads) {
        act_ = act;
        has_bias_ = node.input(2) != nullptr;
    }

    Status warm_up(const ir::Node& node) {
        const std::vector<int64_t> a = static_dims(node.input(0)), b = static_dims(node.input(1));
        if (a.size() < 2 || b.size() < 2) return Status::ok();
        AttrAccess at(node, *node.def);
        return entry_for(at, a, b).status();
    }

    Status run(KernelContext& ctx) override {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
        const Tensor& a = ctx.input(0);
        const Tensor& b = ctx.input(1);
        if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32) {
            return ctx.input_error("A and B must be float32");
        }
        if (a.rank() < 2 || b.rank() < 2) return ctx.input_error("A and B must have rank >= 2");
        NNPORT_ASSIGN_OR_RETURN(nn::MatMulShape s, nn::matmul_shape(ctx, a, b));
        const Tensor* bias = has_bias_ ? &ctx.input(2) : nullptr;
        if (bias && (bias->dtype() != DType::kFloat32 || bias->rank() != 1 || bias->dim(0) != s.n)) {
            return ctx.input_error("bias " + shape_to_string(bias->shape()) + " must be float32 with " +
                                   std::to_string(s.n) + " values");
        }
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, s.out));
        if (y->numel() == 0) return Status::ok();
        if (s.k == 0) {  // empty sum: bias (or zero), then the activation
            for (int64_t r = 0; r < y->numel() / s.n; ++r) {
                for (int64_t j = 0; j < s.n; ++j) y->data<float>()[r * s.n + j] = bias ? bias->data<float>()[j] : 0.0f;
            }
            fused::apply_activation(act_, y->data<float>(), y->numel());
            return Status::ok();
        }
        NNPORT_ASSIGN_OR_RETURN(std::shared_ptr<const MatMulEntry> e, entry_for(ctx, a.shape(), b.shape()));
        try {
            set_threads(e->threads);
            std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, wrap(e->src_md, a.raw_data())},
                                                          {DNNL_ARG_WEIGHTS, wrap(e->wei_md, b.raw_data())},
                                                          {DNNL_ARG_DST, wrap(e->dst_md, y->raw_data())}};
            if (bias) args.emplace(DNNL_ARG_BIAS, wrap(e->bias_md, bias->raw_data()));
            execute(e->prim, e->pd, std::move(args));
        } catch (const dnnl::error& err) {
            return error_status(ctx.node(), "matmul", err);
        }
        return Status::ok();
    }

private:
    Result<std::shared_ptr<const MatMulEntry>> entry_for(const AttrAccess& at, const Shape& as, const Shape& bs) {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<int64_t> key = as;
        key.push_back(-1);
        key.insert(key.end(), bs.begin(), bs.end());
        if (auto e = cache_.find(key)) return e;
        const size_t r = std::max(as.size(), bs.size());
        if (r > DNNL_MAX_NDIMS) return unsupported("onednn: " + at.node().describe() + ": rank above 12");
        dims ad(r - as.size(), 1), bd(r - bs.size(), 1);
        ad.insert(ad.end(), as.begin(), as.end());
        bd.insert(bd.end(), bs.begin(), bs.end());
        dims od(r), bias_d(r, 1);
        for (size_t i = 0; i + 2 < r; ++i) {
            if (ad[i] != bd[i] && ad[i] != 1 && bd[i] != 1) {
                return at.input_error("batch dimensions of " + shape_to_string(as) + " and " + shape_to_string(bs) +
                                      " do not broadcast");
            }
            od[i] = std::max(ad[i], bd[i]);
            if (ad[i] == 0 || bd[i] == 0) od[i] = 0;
        }
        od[r - 2] = ad[r - 2];
        od[r - 1] = bd[r - 1];
        bias_d[r - 1] = bd[r - 1];
        auto plain = [](const dims& d) {
            dims st(d.size());
            int64_t s = 1;
            for (size_t i = d.size(); i-- > 0;) {
                st[i] = s;
                s *= std::max<int64_t>(d[i], 1);
            }
            return st;
        };
        auto e = std::make_shared<MatMulEntry>();
        e->src_md = dnnl::memory::desc(ad, dt::f32, plain(ad));
        e->wei_md = dnnl::memory::desc(bd, dt::f32, plain(bd));
        e->dst_md = dnnl::memory::desc(od, dt::f32, plain(od));
        if (has_bias_) e->bias_md = dnnl::memory::desc(bias_d, dt::f32, plain(bias_d));
        double macs = static_cast<double>(ad[r - 1]);  // K
        for (int64_t d : od) macs *= static_cast<double>(d);
        e->threads = threads_for(macs, kMacsPerThread, threads_);
        try {
            set_threads(e->threads);
            const dnnl::matmul::desc d = has_bias_ ? dnnl::matmul::desc(e->src_md, e->wei_md, e->bias_md, e->dst_md)
                                                   : dnnl::matmul::desc(e->src_md, e->wei_md, e->dst_md);
            e->pd = dnnl::matmul::primitive_desc(d, make_attr(false, 1.0f), engine());
            e->prim = dnnl::matmul(e->pd);
        } catch (const dnnl::error& err) {
            return error_status(at.node(), "creating a batched matmul", err);
        }
        std::shared_ptr<const MatMulEntry> me = e;
        cache_.put(std::move(key), me);
        return me;
    }

    bool has_bias_ = false;
};

/// Whether B is a usable constant (rank 2, float32, non-empty) for the constant-B kernel.
bool const_b_ok(const Tensor* b) { return b && b->dtype() == DType::kFloat32 && b->rank() == 2 && b->numel() > 0; }

// oneDNN costs about 3 us per call (argument maps, memory objects, the execution context) on top of the product, so
// the reference kernels win on tiny products (measured at 1 thread: [4,32]x[32,32] 4.4 us vs 2.1 us; [16,64]x[64,64]
// 3.7 us vs 4.1 us; batched 4x[16,32]x[32,32] 6.8 us vs 4.7 us, 8x[32,32]x[32,32] 8.8 us vs 14.4 us). Products whose
// static size is below these multiply-add counts are left to the reference backend.
constexpr int64_t kMinMacsConstB = 32 * 1024;
constexpr int64_t kMinMacsBatched = 128 * 1024;

/// Multiply-adds of a product with static shapes, or -1 when a size is unknown.
double static_macs(const ir::Node& node, const Tensor* const_b, bool gemm) {
    const std::vector<int64_t> a = static_dims(node.input(0));
    const std::vector<int64_t> b = const_b ? const_b->shape() : static_dims(node.input(1));
    if (a.empty() || b.size() < 2) return -1;
    if (gemm) {
        if (a.size() != 2 || b.size() != 2) return -1;
        const int64_t k = AttrAccess(node, *node.def).attr_int("transA") != 0 ? a[0] : a[1];
        return k == 0 ? 0 : double(a[0]) * a[1] * (double(b[0]) * b[1] / k);
    }
    // batch (broadcast) x M x K x N; A of rank 1 is one row.
    const size_t ra = a.size(), rb = b.size(), r = std::max(ra, rb);
    double macs = double(ra >= 2 ? a[ra - 2] : 1) * a[ra - 1] * b[rb - 1];
    for (size_t i = 2; i < r; ++i) {
        const int64_t da = i < ra ? a[ra - 1 - i] : 1, db = i < rb ? b[rb - 1 - i] : 1;
        macs *= double(std::max(da, db));
    }
    return macs;
}

}  // namespace

bool is_matmul(const ir::Node& node) {
    return is_op(node, "", "MatMul") || is_op(node, "", "Gemm") || is_op(node, "com.nnport", "FusedGemm") ||
           is_op(node, "com.nnport", "FusedMatMul");
}

Support matmul_supports(const ir::Node& node, const ConstantFn& constant) {
    if (!node.def) return Support::no("unknown op");
    const ir::Value* av = node.input(0);
    const ir::Value* bv = node.input(1);
    if (!is_f32(av) || !is_f32(bv)) return Support::no("only float32 operands");
    if (node.outputs().size() != 1) return Support::no("one output expected");
    AttrAccess a(node, *node.def);
    if (is_fused(node)) {
        auto act = fused::parse_activation(a);
        if (!act.is_ok()) return Support::no(act.status().message());
    }
    const Tensor* b = constant(bv);
    const ir::Value* cv = node.input(2);
    if (cv && !is_f32(cv)) return Support::no("only float32 bias");
    auto small = [&](int64_t min_macs) {
        const double macs = static_macs(node, const_b_ok(b) ? b : nullptr, is_gemm(node));
        return macs >= 0 && macs < static_cast<double>(min_macs);
    };
    const std::string too_small = "too small for oneDNN's per-call overhead (under ";
    if (is_gemm(node)) {
        if (!const_b_ok(b)) return Support::no("B is not a constant float32 matrix");
        if (rank_of(av) != -1 && rank_of(av) != 2) return Support::no("A must be 2-D");
        if (cv && rank_of(cv) > 2) return Support::no("C must have rank <= 2");
        if (small(kMinMacsConstB)) return Support::no(too_small + std::to_string(kMinMacsConstB) + " multiply-adds)");
        return Support::yes();
    }
    if (cv && rank_of(cv) != -1 && rank_of(cv) != 1) return Support::no("bias must be 1-D");
    if (const_b_ok(b)) {
        if (rank_of(av) == 0) return Support::no("A must have rank >= 1");
        const Tensor* bias = cv ? constant(cv) : nullptr;
        if (bias && (bias->rank() != 1 || bias->dim(0) != b->dim(1))) {
            return Support::no("bias must be 1-D with B's " + std::to_string(b->dim(1)) + " columns");
        }
        if (small(kMinMacsConstB)) return Support::no(too_small + std::to_string(kMinMacsConstB) + " multiply-adds)");
        return Support::yes();
    }
    if (rank_of(av) < 2 || rank_of(bv) < 2) return Support::no("run-time operands need known ranks >= 2");
    if (small(kMinMacsBatched)) return Support::no(too_small + std::to_string(kMinMacsBatched) + " multiply-adds)");
    return Support::yes();
}

Result<std::unique_ptr<BackendKernel>> matmul_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = matmul_supports(node, ctx.constant);
    if (!s.ok) return unsupported("onednn: " + node.describe() + ": " + s.reason);
    fused::Activation act;
    if (is_fused(node)) {
        AttrAccess a(node, *node.def);
        NNPORT_ASSIGN_OR_RETURN(act, fused::parse_activation(a));
    }
    const Tensor* b = ctx.constant(node.input(1));
    if (const_b_ok(b)) {
        auto k = std::make_unique<ConstMatMulKernel>(node, ctx, *b, act);
        NNPORT_RETURN_IF_ERROR(k->warm_up(node));
        return std::unique_ptr<BackendKernel>(std::move(k));
    }
    auto k = std::make_unique<BatchedMatMulKernel>(node, ctx.threads, act);
    NNPORT_RETURN_IF_ERROR(k->warm_up(node));
    return std::unique_ptr<BackendKernel>(std::move(k));
}

}  // namespace nnport::onednn

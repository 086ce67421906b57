// nnport's fused ops (domain com.nnport), written by the optimizer's fuse_activation pass: FusedConv (Conv + bias +
// residual Z + activation), FusedGemm (Gemm + activation) and FusedMatMul (MatMul + bias + activation). They run the
// Conv / Gemm / MatMul kernels and apply bias, residual and activation in the GEMM epilogue, block by block while the
// output is in cache, so a fused node never costs more than the ops it replaces. ScaleShift (X * scale + shift +
// activation, from the fuse_scale_shift pass) makes one pass over X where Mul, Add and the activation made three;
// FusedConcat does the same on a last-axis Concat, writing each input's part of the result once.
#include <limits>

#include "ops/elementwise_util.hpp"
#include "ops/fused_util.hpp"
#include "ops/gemm_kernel.hpp"
#include "ops/nn_util.hpp"
#include "ops/tensor_util.hpp"

namespace nnport {

const OpDef& op_def_Conv();
const OpDef& op_def_Gemm();
const OpDef& op_def_MatMul();

namespace fused {

namespace {

struct ActInfo {
    const char* name;
    Act kind;
    int params;
    float d0, d1;  // defaults when activation_params is empty
};

constexpr float kInf = std::numeric_limits<float>::infinity();

const ActInfo kActs[] = {
    {"Identity", Act::kIdentity, 0, 0, 0},   {"Relu", Act::kRelu, 0, 0, 0},
    {"Clip", Act::kClip, 2, -kInf, kInf},    {"LeakyRelu", Act::kLeakyRelu, 1, 0.01f, 0},
    {"Sigmoid", Act::kSigmoid, 0, 0, 0},     {"HardSigmoid", Act::kHardSigmoid, 2, 0.2f, 0.5f},
    {"HardSwish", Act::kHardSwish, 0, 0, 0}, {"Swish", Act::kSwish, 1, 1.0f, 0},
    {"Gelu", Act::kGelu, 0, 0, 0},           {"GeluTanh", Act::kGeluTanh, 0, 0, 0},
    {"Tanh", Act::kTanh, 0, 0, 0},
};

}  // namespace

const std::vector<std::string>& activation_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const ActInfo& a : kActs) v.push_back(a.name);
        return v;
    }();
    return names;
}

Result<Activation> parse_activation(const AttrAccess& a) {
    const std::string name = a.attr_string("activation");
    const std::vector<float> params = a.attr_floats("activation_params");
    for (const ActInfo& info : kActs) {
        if (name != info.name) continue;
        if (!params.empty() && static_cast<int>(params.size()) != info.params) {
            return a.error("activation " + name + " takes " + std::to_string(info.params) + " activation_params, got " +
                           std::to_string(params.size()));
        }
        Activation act;
        act.kind = info.kind;
        act.p0 = params.size() > 0 ? params[0] : info.d0;
        act.p1 = params.size() > 1 ? params[1] : info.d1;
        if (act.kind == Act::kClip && act.p0 > act.p1) return a.error("Clip activation needs min <= max");
        return act;
    }
    std::string known;
    for (const std::string& n : activation_names()) known += (known.empty() ? "" : ", ") + n;
    return a.error("unknown activation '" + name + "' (known: " + known + ")");
}

}  // namespace fused

namespace {

/// Wraps an OutputEpilogue as a gemm::Epilogue (nullptr-able: empty epilogues are skipped).
template <typename T>
gemm::Epilogue as_gemm_epilogue(const fused::OutputEpilogue<T>& e) {
    return [&e](int64_t r0, int64_t r1, int64_t c0, int64_t c1) { e(r0, r1, c0, c1); };
}

Status check_dtype(const KernelContext& ctx, const Tensor& t, DType dt, const char* what) {
    if (t.dtype() != dt) return ctx.input_error(std::string(what) + " dtype differs from the input's");
    return Status::ok();
}

// ---- FusedConv ----------------------------------------------------------------------------------------------------

Status fused_conv_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(fused::parse_activation(ctx).status());
    NNPORT_RETURN_IF_ERROR(op_def_Conv().infer(ctx));
    if (ctx.has_input(3)) {
        const ir::ValueType& zt = ctx.input_type(3);
        const ir::ValueType& yt = ctx.node().output(0)->type;
        if (zt.has_shape && yt.has_shape && zt.is_static() && yt.is_static() && zt.dims != yt.dims) {
            return ctx.error("Z " + zt.to_string() + " must have the output's shape " + yt.to_string());
        }
    }
    return Status::ok();
}

Status fused_conv_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fused::parse_activation(ctx));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    NNPORT_RETURN_IF_ERROR(check_dtype(ctx, w, x.dtype(), "weight"));
    NNPORT_ASSIGN_OR_RETURN(nn::ConvShape s, nn::conv_shape(ctx, x, w));
    const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    if (b && (b->dtype() != x.dtype() || b->numel() != s.m || b->rank() != 1)) {
        return ctx.input_error("bias must be a 1-D tensor of " + std::to_string(s.m) + " values of the input dtype");
    }
    const Tensor* z = ctx.has_input(3) ? &ctx.input(3) : nullptr;
    if (z) {
        NNPORT_RETURN_IF_ERROR(check_dtype(ctx, *z, x.dtype(), "Z"));
        if (z->shape() != s.out_shape) {
            return ctx.input_error("Z " + shape_to_string(z->shape()) + " must have the output's shape " +
                                   shape_to_string(s.out_shape));
        }
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), s.out_shape));
    if (y->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
        fused::OutputEpilogue<T> e;
        e.y = y->data<T>();
        e.ld = y->numel() / (s.n * s.m);
        e.row_bias = b ? b->data<T>() : nullptr;
        e.bias_period = s.m;
        e.z = z ? z->data<T>() : nullptr;
        e.act = act;
        const gemm::Epilogue ep = as_gemm_epilogue(e);
        nn::conv_compute<T>(x.data<T>(), w.data<T>(), nullptr, e.y, s, ctx.pool(), e.empty() ? nullptr : &ep);
    });
    return Status::ok();
}

// ---- FusedGemm ----------------------------------------------------------------------------------------------------

Status fused_gemm_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(fused::parse_activation(ctx).status());
    return op_def_Gemm().infer(ctx);
}

template <typename T>
void fused_gemm_run(KernelContext& ctx, const Tensor& a, const Tensor& b, const Tensor* c, Tensor* y, int64_t m,
                    int64_t n, int64_t k, const fused::Activation& act) {
    const bool ta = ctx.attr_int("transA") != 0, tb = ctx.attr_int("transB") != 0;
    const T alpha = static_cast<T>(ctx.attr_float("alpha")), beta = static_cast<T>(ctx.attr_float("beta"));
    fused::OutputEpilogue<T> e;
    e.y = y->data<T>();
    e.ld = n;
    e.act = act;
    e.bias_period = m;
    std::vector<T> bias;  // beta * C when C is a row or a column (scalars become a row)
    T gemm_beta = T(0);
    if (c && beta != T(0)) {
        const T* cv = c->data<T>();
        const bool full = c->rank() == 2 && c->dim(0) == m && c->dim(1) == n && m > 1 && n > 1;
        const bool column = c->rank() == 2 && c->dim(1) == 1 && c->dim(0) == m && m > 1;
        if (full && beta == T(1)) {
            e.z = cv;
        } else if (full) {
            for (int64_t i = 0; i < m * n; ++i) e.y[i] = beta * cv[i];
            gemm_beta = T(1);
        } else if (column) {
            bias.resize(static_cast<size_t>(m));
            for (int64_t i = 0; i < m; ++i) bias[static_cast<size_t>(i)] = beta * cv[i];
            e.row_bias = bias.data();
        } else {
            bias.resize(static_cast<size_t>(n));
            const bool one = c->numel() == 1;
            for (int64_t j = 0; j < n; ++j) bias[static_cast<size_t>(j)] = beta * cv[one ? 0 : j];
            e.col_bias = bias.data();
        }
    }
    const gemm::Epilogue ep = as_gemm_epilogue(e);
    const int64_t lda = ta ? m : k, ldb = tb ? k : n;
    if constexpr (std::is_same_v<T, float>) {
        gemm::sgemm(ta, tb, m, n, k, alpha, a.data<T>(), lda, b.data<T>(), ldb, gemm_beta, e.y, n, ctx.pool(),
                    e.empty() ? nullptr : &ep);
    } else {
        gemm::dgemm(ta, tb, m, n, k, alpha, a.data<T>(), lda, b.data<T>(), ldb, gemm_beta, e.y, n, ctx.pool(),
                    e.empty() ? nullptr : &ep);
    }
}

Status fused_gemm_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fused::parse_activation(ctx));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.rank() != 2 || b.rank() != 2) return ctx.input_error("A and B must be 2-D");
    NNPORT_RETURN_IF_ERROR(check_dtype(ctx, b, a.dtype(), "B"));
    const bool ta = ctx.attr_int("transA") != 0, tb = ctx.attr_int("transB") != 0;
    const int64_t m = a.dim(ta ? 1 : 0), k = a.dim(ta ? 0 : 1), n = b.dim(tb ? 0 : 1);
    if (b.dim(tb ? 1 : 0) != k) {
        return ctx.input_error("A " + shape_to_string(a.shape()) + " and B " + shape_to_string(b.shape()) +
                               " inner dimensions differ");
    }
    const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    if (c) {
        NNPORT_RETURN_IF_ERROR(check_dtype(ctx, *c, a.dtype(), "C"));
        if (c->rank() > 2 || (c->rank() >= 1 && c->shape().back() != 1 && c->shape().back() != n) ||
            (c->rank() == 2 && c->dim(0) != 1 && c->dim(0) != m)) {
            return ctx.input_error("C " + shape_to_string(c->shape()) + " cannot be broadcast to [" +
                                   std::to_string(m) + "," + std::to_string(n) + "]");
        }
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, a.dtype(), {m, n}));
    if (y->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_FLOAT(a.dtype(), T, ctx, fused_gemm_run<T>(ctx, a, b, c, y, m, n, k, act));
    return Status::ok();
}

// ---- FusedMatMul --------------------------------------------------------------------------------------------------

Status fused_matmul_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(fused::parse_activation(ctx).status());
    NNPORT_RETURN_IF_ERROR(op_def_MatMul().infer(ctx));
    const ir::ValueType& bt = ctx.input_type(1);
    if (bt.has_shape && bt.dims.size() < 2) return ctx.error("B must have rank >= 2");
    if (ctx.has_input(2) && bt.has_shape) {
        const ir::ValueType& ct = ctx.input_type(2);
        const ir::Dim& n = bt.dims.back();
        if (ct.has_shape &&
            (ct.dims.size() != 1 || (n.is_static() && ct.dims[0].is_static() && ct.dims[0].value != n.value))) {
            return ctx.error("bias " + ct.to_string() + " must be 1-D with B's last dimension");
        }
    }
    return Status::ok();
}

Status fused_matmul_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fused::parse_activation(ctx));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (b.rank() < 2) return ctx.input_error("B must have rank >= 2");
    NNPORT_ASSIGN_OR_RETURN(nn::MatMulShape s, nn::matmul_shape(ctx, a, b));
    const Tensor* bias = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    if (bias) {
        NNPORT_RETURN_IF_ERROR(check_dtype(ctx, *bias, a.dtype(), "bias"));
        if (bias->rank() != 1 || bias->dim(0) != s.n) {
            return ctx.input_error("bias " + shape_to_string(bias->shape()) + " must be 1-D with " +
                                   std::to_string(s.n) + " values");
        }
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, a.dtype(), s.out));
    if (y->numel() == 0) return Status::ok();
    NNPORT_DISPATCH_FLOAT(a.dtype(), T, ctx, {
        fused::OutputEpilogue<T> e;
        e.y = y->data<T>();
        e.ld = s.n;
        e.col_bias = bias ? bias->data<T>() : nullptr;
        e.act = act;
        const gemm::Epilogue ep = as_gemm_epilogue(e);
        nn::matmul_compute<T>(a.data<T>(), b.data<T>(), e.y, s, ctx.pool(), e.empty() ? nullptr : &ep);
    });
    return Status::ok();
}

// ---- ScaleShift ---------------------------------------------------------------------------------------------------

Status scale_shift_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(fused::parse_activation(ctx).status());
    return infer_same_as_input0(ctx);
}

Status scale_shift_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fused::parse_activation(ctx));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(2));
    const Tensor& x = ctx.input(0);
    const Tensor& sc = ctx.input(1);
    const Tensor& sh = ctx.input(2);
    if (x.dtype() != DType::kFloat32) return ctx.input_error("X must be float32");
    NNPORT_RETURN_IF_ERROR(check_dtype(ctx, sc, x.dtype(), "scale"));
    NNPORT_RETURN_IF_ERROR(check_dtype(ctx, sh, x.dtype(), "shift"));
    auto plan = make_broadcast_plan({&x.shape(), &sc.shape(), &sh.shape()});
    if (!plan.is_ok() || plan->out_shape != x.shape()) {
        return ctx.input_error("scale " + shape_to_string(sc.shape()) + " and shift " + shape_to_string(sh.shape()) +
                               " must broadcast to X's shape " + shape_to_string(x.shape()));
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x.shape()));
    const float* px = x.data<float>();
    const float* ps = sc.data<float>();
    const float* pb = sh.data<float>();
    float* py = y->data<float>();
    for_each_row<3>(ctx, *plan, 2, [&](int64_t o, const int64_t* off, const int64_t* step, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
            py[o + i] = std::fma(px[off[0] + i * step[0]], ps[off[1] + i * step[1]], pb[off[2] + i * step[2]]);
        }
        fused::apply_activation(act, py + o, n);
    });
    return Status::ok();
}

// ---- FusedConcat --------------------------------------------------------------------------------------------------

/// The data inputs of a FusedConcat: all but the trailing scale and shift.
size_t concat_parts(size_t inputs) { return inputs >= 2 ? inputs - 2 : 0; }

Status fused_concat_infer(InferContext& ctx) {
    NNPORT_RETURN_IF_ERROR(fused::parse_activation(ctx).status());
    const size_t k = concat_parts(ctx.num_inputs());
    if (k == 0) return ctx.error("needs at least one input before scale and shift");
    const ir::ValueType& t0 = ctx.input_type(0);
    if (!t0.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(t0.dtype));
        return Status::ok();
    }
    const int64_t r = t0.rank();
    if (r == 0) return ctx.error("cannot concatenate scalars");
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, load_axis(ctx, ctx.attr_int("axis"), r));
    if (axis != r - 1) return ctx.error("only the last axis is supported");
    std::vector<ir::Dim> out = t0.dims;
    int64_t sum = 0;
    bool known = true;
    for (size_t i = 0; i < k; ++i) {
        const ir::ValueType& t = ctx.input_type(i);
        if (!t.has_shape) {
            known = false;
            continue;
        }
        if (t.rank() != r) return ctx.error("inputs have different ranks");
        const ir::Dim& last = t.dims.back();
        if (last.is_static()) {
            sum += last.value;
        } else {
            known = false;
        }
    }
    out.back() = known ? ir::Dim(sum) : ctx.new_dim();
    ctx.set_output(0, ir::ValueType::tensor(t0.dtype, out));
    return Status::ok();
}

Status fused_concat_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(fused::Activation act, fused::parse_activation(ctx));
    NNPORT_ASSIGN_OR_RETURN(const Shape out_shape, fused::fused_concat_shape(ctx));
    const int64_t rank = static_cast<int64_t>(out_shape.size());
    NNPORT_ASSIGN_OR_RETURN(const int64_t axis, run_axis(ctx, ctx.attr_int("axis"), rank));
    if (axis != rank - 1) return ctx.input_error("only the last axis is supported");
    const size_t k = concat_parts(ctx.num_inputs());
    const int64_t c = out_shape.back();
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out_shape));
    if (y->numel() == 0) return Status::ok();
    const int64_t rows = y->numel() / c;
    const float* ps = ctx.input(k).data<float>();
    const float* pb = ctx.input(k + 1).data<float>();
    float* py = y->data<float>();
    parallel_rows(ctx, rows, c * 2, [&](int64_t b, int64_t e) {
        for (int64_t row = b; row < e; ++row) {
            float* yr = py + row * c;
            int64_t off = 0;
            for (size_t i = 0; i < k; ++i) {
                const int64_t ci = ctx.input(i).shape().back();
                const float* xr = ctx.input(i).data<float>() + row * ci;
                for (int64_t j = 0; j < ci; ++j) yr[off + j] = std::fma(xr[j], ps[off + j], pb[off + j]);
                off += ci;
            }
            fused::apply_activation(act, yr, c);
        }
    });
    return Status::ok();
}

OpDef fused_def(const char* name, int min_in, int max_in, std::vector<AttrSpec> attrs, InferFn infer, KernelFn kernel,
                const char* doc) {
    OpDef o;
    o.name = name;
    o.domain = "com.nnport";
    o.since_version = 1;
    o.min_inputs = min_in;
    o.max_inputs = max_in;
    o.attrs = std::move(attrs);
    for (AttrSpec& a : fused::activation_attrs()) o.attrs.push_back(std::move(a));
    o.infer = infer;
    o.kernel = kernel;
    o.input0_types = float_types();
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_FusedConv() {
    static const OpDef d = fused_def(
        "FusedConv", 2, 4,
        {AttrSpec::s("auto_pad", "NOTSET"), AttrSpec::ints("dilations"), AttrSpec::i("group", 1),
         AttrSpec::ints("kernel_shape"), AttrSpec::ints("pads"), AttrSpec::ints("strides")},
        fused_conv_infer, fused_conv_kernel,
        "nnport fused op: activation(Conv(X, W, B) + Z), Z (optional) of the output's shape; `activation` is one of "
        "Identity, Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Swish, Gelu, GeluTanh, Tanh with its "
        "`activation_params`.");
    return d;
}

const OpDef& op_def_FusedGemm() {
    static const OpDef d = fused_def(
        "FusedGemm", 2, 3,
        {AttrSpec::f("alpha", 1.0f), AttrSpec::f("beta", 1.0f), AttrSpec::i("transA", 0), AttrSpec::i("transB", 0)},
        fused_gemm_infer, fused_gemm_kernel, "nnport fused op: activation(Gemm(A, B, C)); activations as FusedConv.");
    return d;
}

const OpDef& op_def_FusedMatMul() {
    static const OpDef d = fused_def("FusedMatMul", 2, 3, {}, fused_matmul_infer, fused_matmul_kernel,
                                     "nnport fused op: activation(MatMul(A, B) + bias), bias 1-D over the last "
                                     "dimension (optional); activations as FusedConv.");
    return d;
}

const OpDef& op_def_ScaleShift() {
    static const OpDef d = [] {
        OpDef o = fused_def("ScaleShift", 3, 3, {}, scale_shift_infer, scale_shift_kernel,
                            "nnport fused op: activation(X * scale + shift), one rounding (a fused multiply-add); "
                            "scale and shift broadcast to X's shape (a per-channel affine such as an inference "
                            "BatchNormalization in a channels-last region); activations as FusedConv. Written by the "
                            "fuse_scale_shift pass.");
        o.input0_types = {DType::kFloat32};
        return o;
    }();
    return d;
}

namespace fused {

Result<Shape> fused_concat_shape(KernelContext& ctx) {
    const size_t k = concat_parts(ctx.num_inputs());
    if (k == 0) return ctx.error("needs at least one input before scale and shift");
    for (size_t i = 0; i < k + 2; ++i) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
        if (ctx.input(i).dtype() != DType::kFloat32) return ctx.input_error("inputs must be float32");
    }
    const Tensor& x0 = ctx.input(0);
    const int64_t r = x0.rank();
    if (r == 0) return ctx.input_error("cannot concatenate scalars");
    Shape out = x0.shape();
    out.back() = 0;
    for (size_t i = 0; i < k; ++i) {
        const Tensor& t = ctx.input(i);
        if (t.rank() != r || !std::equal(x0.shape().begin(), x0.shape().end() - 1, t.shape().begin())) {
            return ctx.input_error("input " + std::to_string(i) + " shape " + shape_to_string(t.shape()) +
                                   " does not match " + shape_to_string(x0.shape()) + " but in the last dim");
        }
        out.back() += t.shape().back();
    }
    const int64_t c = out.back();
    for (size_t i = k; i < k + 2; ++i) {
        const Shape& v = ctx.input(i).shape();
        bool ok = !v.empty() && static_cast<int64_t>(v.size()) <= r && v.back() == c;
        for (size_t d = 0; ok && d + 1 < v.size(); ++d) ok = v[d] == 1;
        if (!ok) {
            return ctx.input_error(std::string(i == k ? "scale " : "shift ") + shape_to_string(v) +
                                   " must be a vector of the output's " + std::to_string(c) + " channels");
        }
    }
    return out;
}

}  // namespace fused

const OpDef& op_def_FusedConcat() {
    static const OpDef d = [] {
        OpDef o = fused_def("FusedConcat", 3, -1, {AttrSpec::none("axis", ir::AttrType::kInt, true)},
                            fused_concat_infer, fused_concat_kernel,
                            "nnport fused op: activation(Concat(X1, ..., Xk) * scale + shift) along the last axis (the "
                            "only one supported): inputs X1..Xk, then scale and shift, vectors of the output's "
                            "channels ([C] or [1, ..., 1, C]); one rounding (a fused multiply-add); activations as "
                            "FusedConv. Written by the fuse_scale_shift pass for a channels-last Concat read only by "
                            "a per-channel affine (DenseNet's Concat -> BatchNorm -> ReLU): one pass instead of two.");
        o.input0_types = {DType::kFloat32};
        return o;
    }();
    return d;
}

}  // namespace nnport

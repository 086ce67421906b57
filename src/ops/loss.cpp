// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: class-indexed losses with weights, ignore_index, reductions.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

enum class Reduction { kNone, kSum, kMean };

Result<Reduction> parse_reduction(const AttrAccess& a) {
    const std::string r = a.attr_string("reduction");
    if (r == "none") return Reduction::kNone;
    if (r == "sum") return Reduction::kSum;
    if (r == "mean") return Reduction::kMean;
    return a.error("reduction must be 'none', 'sum' or 'mean', got '" + r + "'");
}

bool is_index_type(DType t) { return t == DType::kInt32 || t == DType::kInt64; }

/// Shared by both ops: input (N, C, d1..dk) float, target (N, d1..dk) int, optional weight (C).
Status loss_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(Reduction red, parse_reduction(ctx));
    const ir::ValueType& x = ctx.input_type(0);
    const ir::ValueType& t = ctx.input_type(1);
    if (x.dtype != DType::kUndefined && !dtype_is_float(x.dtype)) {
        return ctx.error(std::string("input must be a float tensor, got ") + dtype_name(x.dtype));
    }
    if (t.dtype != DType::kUndefined && !is_index_type(t.dtype)) {
        return ctx.error(std::string("target must be int32 or int64, got ") + dtype_name(t.dtype));
    }
    if (x.has_shape && x.rank() < 2) {
        return ctx.error("input must have shape [N, C, d1, ..., dk], got " + x.to_string());
    }
    if (x.has_shape && t.has_shape && t.rank() != x.rank() - 1) {
        return ctx.error("target " + t.to_string() + " must have rank " + std::to_string(x.rank() - 1) + " for input " +
                         x.to_string());
    }
    // The per-sample loss shape (N, d1..dk): from the input, with unknown dims filled from the target.
    std::vector<ir::Dim> dims;
    bool known = false;
    if (x.has_shape) {
        dims.push_back(x.dims[0]);
        dims.insert(dims.end(), x.dims.begin() + 2, x.dims.end());
        known = true;
    }
    if (t.has_shape) {
        if (!known) {
            dims = t.dims;
            known = true;
        } else {
            for (size_t i = 0; i < dims.size(); ++i) {
                const ir::Dim& td = t.dims[i];
                if (dims[i].is_static() && td.is_static() && dims[i].value != td.value) {
                    return ctx.error("target " + t.to_string() + " does not match input " + x.to_string());
                }
                if (!dims[i].is_static() && td.is_static()) dims[i] = td;
            }
        }
    }
    if (ctx.has_input(2)) {
        const ir::ValueType& w = ctx.input_type(2);
        if (w.has_shape && w.rank() != 1) return ctx.error("weight must be 1-D [C], got " + w.to_string());
        if (w.has_shape && x.has_shape && w.dims[0].is_static() && x.dims[1].is_static() &&
            w.dims[0].value != x.dims[1].value) {
            return ctx.error("weight " + w.to_string() + " does not match C = " + std::to_string(x.dims[1].value));
        }
        if (w.dtype != DType::kUndefined && x.dtype != DType::kUndefined && w.dtype != x.dtype) {
            return ctx.error("weight dtype " + std::string(dtype_name(w.dtype)) + " differs from input dtype " +
                             dtype_name(x.dtype));
        }
    }
    const DType dt = x.dtype;
    if (red != Reduction::kNone) {
        ctx.set_output(0, ir::ValueType::tensor(dt, std::vector<ir::Dim>{}));
    } else {
        ctx.set_output(0, known ? ir::ValueType::tensor(dt, dims) : ir::ValueType::tensor(dt));
    }
    if (ctx.num_outputs() > 1) ctx.set_output(1, x.is_tensor() ? x : ir::ValueType::tensor(dt));
    return Status::ok();
}

/// Sizes of the (N, C, D) view of the input, with D = d1 * ... * dk.
struct LossDims {
    int64_t n = 0, c = 0, d = 0;
    Shape sample_shape;  // (N, d1..dk)
};

Result<LossDims> check_inputs(const KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& t = ctx.input(1);
    if (!dtype_is_float(x.dtype())) return ctx.input_error("input must be a float tensor");
    if (x.rank() < 2) {
        return ctx.input_error("input must have shape [N, C, d1, ..., dk], got " + shape_to_string(x.shape()));
    }
    if (!is_index_type(t.dtype())) return ctx.input_error("target must be int32 or int64");
    LossDims s;
    s.n = x.dim(0);
    s.c = x.dim(1);
    s.d = 1;
    s.sample_shape.push_back(s.n);
    for (int64_t i = 2; i < x.rank(); ++i) {
        s.sample_shape.push_back(x.dim(i));
        s.d *= x.dim(i);
    }
    if (t.shape() != s.sample_shape) {
        return ctx.input_error("target shape " + shape_to_string(t.shape()) + " does not match input shape " +
                               shape_to_string(x.shape()) + " (expected " + shape_to_string(s.sample_shape) + ")");
    }
    if (ctx.has_input(2)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(2));
        const Tensor& w = ctx.input(2);
        if (w.dtype() != x.dtype()) return ctx.input_error("weight dtype differs from input dtype");
        if (w.shape() != Shape{s.c}) {
            return ctx.input_error("weight shape " + shape_to_string(w.shape()) + " does not match C = " +
                                   std::to_string(s.c));
        }
    }
    return s;
}

/// Checks every target is a class index or ignore_index; the message names the first bad one.
template <typename I>
Status check_targets(const KernelContext& ctx, const I* target, int64_t count, int64_t classes, bool has_ii,
                     int64_t ii) {
    for (int64_t i = 0; i < count; ++i) {
        const int64_t v = static_cast<int64_t>(target[i]);
        if (has_ii && v == ii) continue;
        if (v < 0 || v >= classes) {
            return ctx.input_error("target value " + std::to_string(v) + " at flat index " + std::to_string(i) +
                                   " is outside [0, " + std::to_string(classes) + ")" +
                                   (has_ii ? " and is not ignore_index " + std::to_string(ii) : std::string()));
        }
    }
    return Status::ok();
}

/// Writes the per-sample (or reduced) loss; neg_logp(n, c, d) is -log p of class c at sample (n, d).
template <typename T, typename I, typename NegLogP>
Status write_loss(KernelContext& ctx, const LossDims& s, NegLogP&& neg_logp) {
    NNPORT_ASSIGN_OR_RETURN(Reduction red, parse_reduction(ctx));
    const I* target = ctx.input(1).data<I>();
    const T* weight = ctx.has_input(2) ? ctx.input(2).data<T>() : nullptr;
    const bool has_ii = ctx.has_attr("ignore_index");
    const int64_t ii = ctx.attr_int("ignore_index");
    const int64_t count = s.n * s.d;
    NNPORT_RETURN_IF_ERROR(check_targets(ctx, target, count, s.c, has_ii, ii));
    auto sample = [&](int64_t i, T& w) -> T {
        const int64_t c = static_cast<int64_t>(target[i]);
        if (has_ii && c == ii) {
            w = T(0);
            return T(0);
        }
        w = weight ? weight[c] : T(1);
        return neg_logp(i / s.d, c, i % s.d) * w;
    };
    const DType dt = ctx.input(0).dtype();
    if (red == Reduction::kNone) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, dt, s.sample_shape));
        T* o = out->data<T>();
        T w;
        for (int64_t i = 0; i < count; ++i) o[i] = sample(i, w);
        return Status::ok();
    }
    double sum = 0.0, wsum = 0.0;
    for (int64_t i = 0; i < count; ++i) {
        T w;
        sum += static_cast<double>(sample(i, w));
        wsum += static_cast<double>(w);
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, dt, {}));
    // Mean divides by the total weight of the counted samples (their number without weights), as ONNX and PyTorch.
    out->data<T>()[0] = static_cast<T>(red == Reduction::kSum ? sum : sum / wsum);
    return Status::ok();
}

template <typename T>
Status nll_typed(KernelContext& ctx, const LossDims& s) {
    const T* x = ctx.input(0).data<T>();
    auto neg_logp = [&](int64_t n, int64_t c, int64_t d) { return -x[(n * s.c + c) * s.d + d]; };
    if (ctx.input(1).dtype() == DType::kInt32) return write_loss<T, int32_t>(ctx, s, neg_logp);
    return write_loss<T, int64_t>(ctx, s, neg_logp);
}

Status nll_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(LossDims s, check_inputs(ctx));
    NNPORT_DISPATCH_FLOAT(ctx.input(0).dtype(), T, ctx, return nll_typed<T>(ctx, s));
    return Status::ok();
}

/// Columns (d values) processed together so the class axis is walked with contiguous loads.
constexpr int64_t kBlock = 256;

/// Per sample (n, d): the class maximum m and log(sum_c exp(x[n, c, d] - m)), kept apart so that
/// x - m - logsum stays accurate for large logits; also log_prob = x - m - logsum when requested.
template <typename T>
void log_sum_exp(const KernelContext& ctx, const T* x, const LossDims& s, T* max, T* logsum, T* log_prob) {
    const int64_t blocks = (s.d + kBlock - 1) / kBlock;
    ctx.parallel_for(s.n * blocks, [&](int64_t begin, int64_t end) {
        for (int64_t job = begin; job < end; ++job) {
            const int64_t n = job / blocks, d0 = (job % blocks) * kBlock;
            const int64_t len = std::min(kBlock, s.d - d0);
            const T* xn = x + n * s.c * s.d + d0;
            T* m = max + n * s.d + d0;
            T* ls = logsum + n * s.d + d0;
            for (int64_t i = 0; i < len; ++i) m[i] = s.c > 0 ? xn[i] : T(0);
            for (int64_t c = 1; c < s.c; ++c) {
                const T* xc = xn + c * s.d;
                for (int64_t i = 0; i < len; ++i) m[i] = xc[i] > m[i] ? xc[i] : m[i];
            }
            for (int64_t i = 0; i < len; ++i) ls[i] = T(0);
            for (int64_t c = 0; c < s.c; ++c) {
                const T* xc = xn + c * s.d;
                for (int64_t i = 0; i < len; ++i) ls[i] += std::exp(xc[i] - m[i]);
            }
            for (int64_t i = 0; i < len; ++i) ls[i] = std::log(ls[i]);
            if (!log_prob) continue;
            T* lp = log_prob + n * s.c * s.d + d0;
            for (int64_t c = 0; c < s.c; ++c) {
                const T* xc = xn + c * s.d;
                T* lc = lp + c * s.d;
                for (int64_t i = 0; i < len; ++i) lc[i] = (xc[i] - m[i]) - ls[i];
            }
        }
    });
}

template <typename T>
Status sce_typed(KernelContext& ctx, const LossDims& s) {
    const Tensor& xt = ctx.input(0);
    const T* x = xt.data<T>();
    T* log_prob = nullptr;
    if (ctx.has_output(1)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * lp, ctx.output(1, xt.dtype(), xt.shape()));
        log_prob = lp->data<T>();
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor max_t, Tensor::create(xt.dtype(), s.sample_shape));
    NNPORT_ASSIGN_OR_RETURN(Tensor logsum_t, Tensor::create(xt.dtype(), s.sample_shape));
    const T* max = max_t.data<T>();
    const T* logsum = logsum_t.data<T>();
    log_sum_exp(ctx, x, s, max_t.data<T>(), logsum_t.data<T>(), log_prob);
    auto neg_logp = [&](int64_t n, int64_t c, int64_t d) {
        const int64_t i = n * s.d + d;
        return (max[i] - x[(n * s.c + c) * s.d + d]) + logsum[i];
    };
    if (ctx.input(1).dtype() == DType::kInt32) return write_loss<T, int32_t>(ctx, s, neg_logp);
    return write_loss<T, int64_t>(ctx, s, neg_logp);
}

Status sce_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(LossDims s, check_inputs(ctx));
    NNPORT_DISPATCH_FLOAT(ctx.input(0).dtype(), T, ctx, return sce_typed<T>(ctx, s));
    return Status::ok();
}

OpDef make_loss(const char* name, KernelFn kernel, int max_outputs, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = 12;
    o.min_inputs = 2;
    o.max_inputs = 3;
    o.min_outputs = 1;
    o.max_outputs = max_outputs;
    o.attrs = {AttrSpec::none("ignore_index", ir::AttrType::kInt), AttrSpec::s("reduction", "mean")};
    o.infer = loss_infer;
    o.kernel = kernel;
    o.input0_types = float_types();
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_NegativeLogLikelihoodLoss() {
    static const OpDef d = make_loss("NegativeLogLikelihoodLoss", nll_kernel, 1,
                                     "Negative log-likelihood of target classes given log-probabilities [N, C, d...].");
    return d;
}

const OpDef& op_def_SoftmaxCrossEntropyLoss() {
    static const OpDef d = make_loss("SoftmaxCrossEntropyLoss", sce_kernel, 2,
                                     "Cross entropy of softmax(scores) along axis 1; optional log_prob output.");
    return d;
}

}  // namespace nnport

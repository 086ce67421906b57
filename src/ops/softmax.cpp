// Softmax, LogSoftmax and Hardmax along one axis (opset-13 semantics; older opsets are rewritten on import).
#include <algorithm>

#include "ops/elementwise_util.hpp"

namespace nnport {

namespace {

enum class Kind { kSoftmax, kLogSoftmax, kHardmax };

/// Elements of the inner (trailing) dims handled together, so strided axes are walked with contiguous loads.
constexpr int64_t kInnerBlock = 256;

/// One softmax over `len` elements at stride 1 (the common case: the last axis).
template <typename T>
void contiguous_row(const T* x, T* y, int64_t len, Kind kind) {
    if (kind == Kind::kHardmax) {
        int64_t arg = 0;
        for (int64_t k = 1; k < len; ++k) {
            if (x[k] > x[arg]) arg = k;
        }
        for (int64_t k = 0; k < len; ++k) y[k] = k == arg ? T(1) : T(0);
        return;
    }
    T m = x[0];
    for (int64_t k = 1; k < len; ++k) m = x[k] > m ? x[k] : m;
    if (kind == Kind::kSoftmax) {
        T s = 0;
        for (int64_t k = 0; k < len; ++k) {
            y[k] = std::exp(x[k] - m);
            s += y[k];
        }
        const T inv = T(1) / s;
        for (int64_t k = 0; k < len; ++k) y[k] *= inv;
    } else {
        T s = 0;
        for (int64_t k = 0; k < len; ++k) s += std::exp(x[k] - m);
        const T shift = m + std::log(s);
        for (int64_t k = 0; k < len; ++k) y[k] = x[k] - shift;
    }
}

/// Softmaxes of `n` neighbouring columns (stride 1 between columns, `inner` between axis elements).
template <typename T>
void strided_block(const T* x, T* y, int64_t len, int64_t inner, int64_t n, Kind kind, T* m, T* s, int64_t* arg) {
    for (int64_t i = 0; i < n; ++i) m[i] = x[i];
    if (kind == Kind::kHardmax) {
        // m holds the running maximum, arg the index of its first occurrence.
        for (int64_t i = 0; i < n; ++i) arg[i] = 0;
        for (int64_t k = 1; k < len; ++k) {
            const T* xk = x + k * inner;
            for (int64_t i = 0; i < n; ++i) {
                if (xk[i] > m[i]) {
                    m[i] = xk[i];
                    arg[i] = k;
                }
            }
        }
        for (int64_t k = 0; k < len; ++k) {
            T* yk = y + k * inner;
            for (int64_t i = 0; i < n; ++i) yk[i] = arg[i] == k ? T(1) : T(0);
        }
        return;
    }
    for (int64_t k = 1; k < len; ++k) {
        const T* xk = x + k * inner;
        for (int64_t i = 0; i < n; ++i) m[i] = xk[i] > m[i] ? xk[i] : m[i];
    }
    for (int64_t i = 0; i < n; ++i) s[i] = 0;
    for (int64_t k = 0; k < len; ++k) {
        const T* xk = x + k * inner;
        T* yk = y + k * inner;
        for (int64_t i = 0; i < n; ++i) {
            const T e = std::exp(xk[i] - m[i]);
            if (kind == Kind::kSoftmax) yk[i] = e;
            s[i] += e;
        }
    }
    if (kind == Kind::kSoftmax) {
        for (int64_t i = 0; i < n; ++i) s[i] = T(1) / s[i];
        for (int64_t k = 0; k < len; ++k) {
            T* yk = y + k * inner;
            for (int64_t i = 0; i < n; ++i) yk[i] *= s[i];
        }
    } else {
        for (int64_t i = 0; i < n; ++i) s[i] = m[i] + std::log(s[i]);
        for (int64_t k = 0; k < len; ++k) {
            const T* xk = x + k * inner;
            T* yk = y + k * inner;
            for (int64_t i = 0; i < n; ++i) yk[i] = xk[i] - s[i];
        }
    }
}

template <typename T>
Status run(KernelContext& ctx, const Tensor& x, int64_t axis, Kind kind) {
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), x.shape()));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    const int64_t len = x.dim(axis);
    if (x.numel() == 0) return Status::ok();
    const T* px = x.data<T>();
    T* py = out->data<T>();
    const int64_t cost = std::max<int64_t>(len, 1) * 8;
    if (inner == 1) {
        ew_parallel(ctx, outer, cost, [&](int64_t b, int64_t e) {
            for (int64_t o = b; o < e; ++o) contiguous_row(px + o * len, py + o * len, len, kind);
        });
        return Status::ok();
    }
    const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
    ew_parallel(ctx, outer * blocks, cost * std::min(inner, kInnerBlock), [&](int64_t b, int64_t e) {
        std::vector<T> m(static_cast<size_t>(kInnerBlock)), s(static_cast<size_t>(kInnerBlock));
        std::vector<int64_t> arg(static_cast<size_t>(kInnerBlock));
        for (int64_t t = b; t < e; ++t) {
            const int64_t o = t / blocks, i0 = (t % blocks) * kInnerBlock;
            const int64_t off = o * len * inner + i0;
            strided_block(px + off, py + off, len, inner, std::min(kInnerBlock, inner - i0), kind, m.data(), s.data(),
                           arg.data());
        }
    });
    return Status::ok();
}

Status softmax_like(KernelContext& ctx, Kind kind) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    auto axis = normalize_axis(ctx.attr_int("axis"), x.rank());
    if (!axis.is_ok()) return ctx.input_error(axis.status().message());
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, return run<T>(ctx, x, axis.value(), kind));
    return Status::ok();
}

Status softmax_infer(InferContext& ctx) {
    const ir::ValueType& t = ctx.input_type(0);
    if (t.has_shape) {
        auto axis = normalize_axis(ctx.attr_int("axis"), t.rank());
        if (!axis.is_ok()) return ctx.error(axis.status().message());
    }
    return infer_same_as_input0(ctx);
}

OpDef softmax_def(const char* name, KernelFn kernel, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = 13;
    o.min_inputs = o.max_inputs = 1;
    o.attrs = {AttrSpec::i("axis", -1)};
    o.infer = softmax_infer;
    o.kernel = kernel;
    o.input0_types = float_types();
    o.doc = doc;
    return o;
}

}  // namespace

static Status softmax_kernel(KernelContext& ctx) { return softmax_like(ctx, Kind::kSoftmax); }
static Status log_softmax_kernel(KernelContext& ctx) { return softmax_like(ctx, Kind::kLogSoftmax); }
static Status hardmax_kernel(KernelContext& ctx) { return softmax_like(ctx, Kind::kHardmax); }

const OpDef& op_def_Softmax() {
    static const OpDef d = softmax_def("Softmax", softmax_kernel, "exp(x - max) / sum(exp(x - max)) along axis.");
    return d;
}
const OpDef& op_def_LogSoftmax() {
    static const OpDef d = softmax_def("LogSoftmax", log_softmax_kernel, "x - max - log(sum(exp(x - max))) along axis.");
    return d;
}
const OpDef& op_def_Hardmax() {
    static const OpDef d = softmax_def("Hardmax", hardmax_kernel, "1 at the first maximum along axis, else 0.");
    return d;
}

}  // namespace nnport

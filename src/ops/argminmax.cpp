// ArgMax and ArgMin: index of the extreme value along one axis (keepdims, select_last_index); NaN counts as extreme.
#include <cmath>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

/// True if x should replace the current best b. NaN wins over numbers (as numpy's argmax/argmin).
template <typename T, bool kMax, bool kLast>
inline bool better(T x, T b) {
    if constexpr (std::is_floating_point_v<T>) {
        if (x != x) return kLast || b == b;
        if (b != b) return false;
    }
    if constexpr (kMax) return kLast ? x >= b : x > b;
    else return kLast ? x <= b : x < b;
}

template <typename T, bool kMax, bool kLast>
void arg_rows(const T* x, int64_t* y, int64_t outer, int64_t n, int64_t inner, const KernelContext& ctx) {
    auto body = [&](int64_t b, int64_t e) {
        std::vector<T> best(static_cast<size_t>(inner));
        for (int64_t o = b; o < e; ++o) {
            const T* xs = x + o * n * inner;
            int64_t* ys = y + o * inner;
            if (inner == 1) {
                T bv = xs[0];
                int64_t bi = 0;
                for (int64_t j = 1; j < n; ++j) {
                    if (better<T, kMax, kLast>(xs[j], bv)) {
                        bv = xs[j];
                        bi = j;
                    }
                }
                ys[0] = bi;
                continue;
            }
            for (int64_t i = 0; i < inner; ++i) {
                best[static_cast<size_t>(i)] = xs[i];
                ys[i] = 0;
            }
            for (int64_t j = 1; j < n; ++j) {
                const T* row = xs + j * inner;
                for (int64_t i = 0; i < inner; ++i) {
                    if (better<T, kMax, kLast>(row[i], best[static_cast<size_t>(i)])) {
                        best[static_cast<size_t>(i)] = row[i];
                        ys[i] = j;
                    }
                }
            }
        }
    };
    if (outer * n * inner < (int64_t{1} << 15)) body(0, outer);
    else ctx.parallel_for(outer, body);
}

Status arg_infer(InferContext& ctx) {
    const ir::ValueType& in = ctx.input_type(0);
    if (!in.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(DType::kInt64));
        return Status::ok();
    }
    auto ax = normalize_axis(ctx.attr_int("axis"), in.rank());
    if (!ax.is_ok()) return ctx.error(ax.status().message());
    std::vector<ir::Dim> dims = in.dims;
    if (ctx.attr_int("keepdims") != 0) dims[static_cast<size_t>(ax.value())] = ir::Dim(1);
    else dims.erase(dims.begin() + ax.value());
    ctx.set_output(0, ir::ValueType::tensor(DType::kInt64, dims));
    return Status::ok();
}

template <bool kMax>
Status arg_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    auto axr = normalize_axis(ctx.attr_int("axis"), x.rank());
    if (!axr.is_ok()) return ctx.error(axr.status().message());
    const int64_t axis = axr.value();
    const int64_t n = x.dim(axis);
    Shape shape = x.shape();
    if (ctx.attr_int("keepdims") != 0) shape[static_cast<size_t>(axis)] = 1;
    else shape.erase(shape.begin() + axis);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, DType::kInt64, shape));
    if (out->numel() == 0) return Status::ok();
    if (n == 0) return ctx.input_error("cannot take the arg of an empty axis");
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
    for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
    const bool last = ctx.attr_int("select_last_index") != 0;
    int64_t* y = out->data<int64_t>();
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, {
        if (last) arg_rows<T, kMax, true>(x.data<T>(), y, outer, n, inner, ctx);
        else arg_rows<T, kMax, false>(x.data<T>(), y, outer, n, inner, ctx);
    });
    return Status::ok();
}

template <bool kMax>
OpDef make_arg(const char* name) {
    OpDef o;
    o.name = name;
    o.since_version = 1;
    o.min_inputs = o.max_inputs = 1;
    o.attrs = {AttrSpec::i("axis", 0), AttrSpec::i("keepdims", 1), AttrSpec::i("select_last_index", 0)};
    o.infer = arg_infer;
    o.kernel = arg_kernel<kMax>;
    o.input0_types = numeric_types();
    o.doc = kMax ? "Index (int64) of the largest element along axis." : "Index (int64) of the smallest element along axis.";
    return o;
}

}  // namespace

const OpDef& op_def_ArgMax() {
    static const OpDef d = make_arg<true>("ArgMax");
    return d;
}

const OpDef& op_def_ArgMin() {
    static const OpDef d = make_arg<false>("ArgMin");
    return d;
}

}  // namespace nnport

// CumSum: cumulative sum along an axis given as input 1 (exclusive, reverse).
#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

template <typename T>
void cumsum_rows(const KernelContext& ctx, const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool exclusive,
                 bool reverse) {
    auto body = [&](int64_t b, int64_t e) {
        std::vector<T> acc(static_cast<size_t>(inner));
        for (int64_t o = b; o < e; ++o) {
            std::fill(acc.begin(), acc.end(), T(0));
            T* a = acc.data();
            for (int64_t s = 0; s < n; ++s) {
                const int64_t j = reverse ? n - 1 - s : s;
                const T* xr = x + (o * n + j) * inner;
                T* yr = y + (o * n + j) * inner;
                if (exclusive) {
                    for (int64_t i = 0; i < inner; ++i) {
                        yr[i] = a[i];
                        a[i] += xr[i];
                    }
                } else {
                    for (int64_t i = 0; i < inner; ++i) {
                        a[i] += xr[i];
                        yr[i] = a[i];
                    }
                }
            }
        }
    };
    if (outer * n * inner < (int64_t{1} << 15)) body(0, outer);
    else ctx.parallel_for(outer, body);
}

Status cumsum_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& at = ctx.input(1);
    if (!dtype_is_integer(at.dtype()) || at.numel() != 1 || at.rank() > 1) {
        return ctx.input_error("axis must be an int32/int64 scalar");
    }
    auto axr = normalize_axis(at.item_as_int(0), x.rank());
    if (!axr.is_ok()) return ctx.input_error(axr.status().message());
    const int64_t axis = axr.value();
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), x.shape()));
    if (x.numel() == 0) return Status::ok();
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
    for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
    const bool exclusive = ctx.attr_int("exclusive") != 0, reverse = ctx.attr_int("reverse") != 0;
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx,
                            cumsum_rows<T>(ctx, x.data<T>(), out->data<T>(), outer, x.dim(axis), inner, exclusive,
                                           reverse));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_CumSum() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "CumSum";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("exclusive", 0), AttrSpec::i("reverse", 0)};
        o.infer = infer_same_as_input0;
        o.kernel = cumsum_kernel;
        o.input0_types = numeric_types();
        o.doc = "Cumulative sum along the axis given by input 1.";
        return o;
    }();
    return d;
}

}  // namespace nnport

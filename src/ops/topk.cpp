// TopK: the k largest (or smallest) elements along an axis with their indices; ties go to the lower index.
#include <algorithm>
#include <cmath>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

/// Strict "a > b" with NaN above every number (a total order, so sorting is well defined).
template <typename T>
inline bool greater(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
        if (a != a) return b == b;
        if (b != b) return false;
    }
    return a > b;
}

template <typename T>
void topk_rows(const KernelContext& ctx, const T* x, T* vals, int64_t* idx, int64_t outer, int64_t n, int64_t inner,
               int64_t k, bool largest) {
    auto body = [&](int64_t b, int64_t e) {
        std::vector<std::pair<T, int64_t>> buf(static_cast<size_t>(n));
        for (int64_t s = b; s < e; ++s) {
            const int64_t o = s / inner, i = s % inner;
            const T* xs = x + o * n * inner + i;
            for (int64_t j = 0; j < n; ++j) buf[static_cast<size_t>(j)] = {xs[j * inner], j};
            auto cmp = [largest](const std::pair<T, int64_t>& p, const std::pair<T, int64_t>& q) {
                const bool pq = largest ? greater(p.first, q.first) : greater(q.first, p.first);
                const bool qp = largest ? greater(q.first, p.first) : greater(p.first, q.first);
                return pq || (!qp && p.second < q.second);
            };
            if (k < n) std::partial_sort(buf.begin(), buf.begin() + k, buf.end(), cmp);
            else std::sort(buf.begin(), buf.end(), cmp);
            T* vs = vals + o * k * inner + i;
            int64_t* is = idx + o * k * inner + i;
            for (int64_t j = 0; j < k; ++j) {
                vs[j * inner] = buf[static_cast<size_t>(j)].first;
                is[j * inner] = buf[static_cast<size_t>(j)].second;
            }
        }
    };
    const int64_t slices = outer * inner;
    if (slices * n < (int64_t{1} << 14)) body(0, slices);
    else ctx.parallel_for(slices, body);
}

Result<int64_t> read_k(const AttrAccess& a, const Tensor& kt) {
    if (kt.dtype() != DType::kInt64 && kt.dtype() != DType::kInt32) return a.input_error("K must be int64");
    if (kt.numel() != 1) return a.input_error("K must hold exactly one value");
    const int64_t k = kt.item_as_int(0);
    if (k < 0) return a.input_error("K must be >= 0, got " + std::to_string(k));
    return k;
}

Status topk_infer(InferContext& ctx) {
    const ir::ValueType& in = ctx.input_type(0);
    if (!in.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(in.dtype));
        ctx.set_output(1, ir::ValueType::tensor(DType::kInt64));
        return Status::ok();
    }
    auto ax = normalize_axis(ctx.attr_int("axis"), in.rank());
    if (!ax.is_ok()) return ctx.error(ax.status().message());
    std::vector<ir::Dim> dims = in.dims;
    ir::Dim kd = ctx.new_dim();
    if (const Tensor* kt = ctx.input_constant(1)) {
        NNPORT_ASSIGN_OR_RETURN(int64_t k, read_k(ctx, *kt));
        const ir::Dim& nd = dims[static_cast<size_t>(ax.value())];
        if (nd.is_static() && k > nd.value) {
            return ctx.error("K " + std::to_string(k) + " exceeds the axis size " + std::to_string(nd.value));
        }
        kd = ir::Dim(k);
    }
    dims[static_cast<size_t>(ax.value())] = kd;
    ctx.set_output(0, ir::ValueType::tensor(in.dtype, dims));
    ctx.set_output(1, ir::ValueType::tensor(DType::kInt64, dims));
    return Status::ok();
}

Status topk_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    auto axr = normalize_axis(ctx.attr_int("axis"), x.rank());
    if (!axr.is_ok()) return ctx.error(axr.status().message());
    const int64_t axis = axr.value();
    NNPORT_ASSIGN_OR_RETURN(int64_t k, read_k(ctx, ctx.input(1)));
    const int64_t n = x.dim(axis);
    if (k > n) return ctx.input_error("K " + std::to_string(k) + " exceeds the axis size " + std::to_string(n));
    Shape shape = x.shape();
    shape[static_cast<size_t>(axis)] = k;
    NNPORT_ASSIGN_OR_RETURN(Tensor * vals, ctx.output(0, x.dtype(), shape));
    NNPORT_ASSIGN_OR_RETURN(Tensor * idx, ctx.output(1, DType::kInt64, shape));
    if (vals->numel() == 0) return Status::ok();
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
    for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
    const bool largest = ctx.attr_int("largest") != 0;
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx,
                            topk_rows<T>(ctx, x.data<T>(), vals->data<T>(), idx->data<int64_t>(), outer, n, inner, k,
                                         largest));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_TopK() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "TopK";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 2;
        o.min_outputs = o.max_outputs = 2;
        o.attrs = {AttrSpec::i("axis", -1), AttrSpec::i("largest", 1), AttrSpec::i("sorted", 1)};
        o.infer = topk_infer;
        o.kernel = topk_kernel;
        o.input0_types = numeric_types();
        o.doc = "K largest/smallest values and int64 indices along axis; output is always sorted, ties by lower index.";
        return o;
    }();
    return d;
}

}  // namespace nnport

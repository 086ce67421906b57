// Unique: unique elements (or slices along an axis), sorted or in first-occurrence order, with all four outputs.
#include <algorithm>
#include <numeric>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

/// Three-way compare with NaN above every number and equal to itself (a total order).
template <typename T>
inline int cmp3(const T& a, const T& b) {
    if constexpr (std::is_floating_point_v<T>) {
        const bool na = a != a, nb = b != b;
        if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
    }
    return a < b ? -1 : (b < a ? 1 : 0);
}

struct Layout {
    int64_t outer = 1, n = 1, inner = 1;
};

template <typename T>
Status unique_typed(KernelContext& ctx, const Tensor& xt, const Layout& L, int64_t axis) {
    const T* x = typed_data<T>(xt);
    const int64_t n = L.n, inner = L.inner, outer = L.outer;
    // Lexicographic compare of slice p and q in (outer, inner) order.
    auto cmp = [&](int64_t p, int64_t q) {
        for (int64_t o = 0; o < outer; ++o) {
            const T* a = x + (o * n + p) * inner;
            const T* b = x + (o * n + q) * inner;
            for (int64_t i = 0; i < inner; ++i) {
                const int c = cmp3(a[i], b[i]);
                if (c != 0) return c;
            }
        }
        return 0;
    };
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return cmp(p, q) < 0; });
    // Groups of equal slices in sorted order; the first member (lowest index, by stability) represents it.
    std::vector<int64_t> first, count;
    std::vector<int64_t> group_of(static_cast<size_t>(n));
    for (size_t k = 0; k < order.size(); ++k) {
        if (k == 0 || cmp(order[k - 1], order[k]) != 0) {
            first.push_back(order[k]);
            count.push_back(0);
        }
        count.back()++;
        group_of[static_cast<size_t>(order[k])] = static_cast<int64_t>(first.size()) - 1;
    }
    const int64_t U = static_cast<int64_t>(first.size());
    std::vector<int64_t> rank(static_cast<size_t>(U));  // group -> output position
    std::iota(rank.begin(), rank.end(), 0);
    if (ctx.attr_int("sorted") == 0) {
        std::vector<int64_t> g(static_cast<size_t>(U));
        std::iota(g.begin(), g.end(), 0);
        std::sort(g.begin(), g.end(), [&](int64_t a, int64_t b) { return first[static_cast<size_t>(a)] < first[static_cast<size_t>(b)]; });
        for (int64_t k = 0; k < U; ++k) rank[static_cast<size_t>(g[static_cast<size_t>(k)])] = k;
    }
    Shape yshape = {U};
    if (axis >= 0) {
        yshape = xt.shape();
        yshape[static_cast<size_t>(axis)] = U;
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, xt.dtype(), yshape));
    T* yd = typed_data<T>(*y);
    std::vector<int64_t> idx(static_cast<size_t>(U)), cnt(static_cast<size_t>(U));
    for (int64_t g = 0; g < U; ++g) {
        const int64_t r = rank[static_cast<size_t>(g)];
        const int64_t src = first[static_cast<size_t>(g)];
        idx[static_cast<size_t>(r)] = src;
        cnt[static_cast<size_t>(r)] = count[static_cast<size_t>(g)];
        for (int64_t o = 0; o < outer; ++o) {
            std::copy(x + (o * n + src) * inner, x + (o * n + src + 1) * inner, yd + (o * U + r) * inner);
        }
    }
    if (ctx.has_output(1)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(1, DType::kInt64, {U}));
        std::copy(idx.begin(), idx.end(), t->data<int64_t>());
    }
    if (ctx.has_output(2)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(2, DType::kInt64, {n}));
        for (int64_t j = 0; j < n; ++j) {
            t->data<int64_t>()[j] = rank[static_cast<size_t>(group_of[static_cast<size_t>(j)])];
        }
    }
    if (ctx.has_output(3)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(3, DType::kInt64, {U}));
        std::copy(cnt.begin(), cnt.end(), t->data<int64_t>());
    }
    return Status::ok();
}

Status unique_infer(InferContext& ctx) {
    const ir::ValueType& in = ctx.input_type(0);
    const ir::Dim u = ctx.new_dim();
    if (!ctx.has_attr("axis")) {
        ctx.set_output(0, ir::ValueType::tensor(in.dtype, std::vector<ir::Dim>{u}));
        ir::Dim total = ctx.new_dim();
        if (in.is_static()) total = ir::Dim(shape_numel(in.static_shape()));
        ctx.set_output(2, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{total}));
    } else if (in.has_shape) {
        auto ax = normalize_axis(ctx.attr_int("axis"), in.rank());
        if (!ax.is_ok()) return ctx.error(ax.status().message());
        std::vector<ir::Dim> dims = in.dims;
        const ir::Dim n = dims[static_cast<size_t>(ax.value())];
        dims[static_cast<size_t>(ax.value())] = u;
        ctx.set_output(0, ir::ValueType::tensor(in.dtype, dims));
        ctx.set_output(2, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{n}));
    } else {
        ctx.set_output(0, ir::ValueType::tensor(in.dtype));
        ctx.set_output(2, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{ctx.new_dim()}));
    }
    ctx.set_output(1, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{u}));
    ctx.set_output(3, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{u}));
    return Status::ok();
}

Status unique_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    Layout L;
    int64_t axis = -1;
    if (ctx.has_attr("axis")) {
        auto ax = normalize_axis(ctx.attr_int("axis"), x.rank());
        if (!ax.is_ok()) return ctx.error(ax.status().message());
        axis = ax.value();
        for (int64_t i = 0; i < axis; ++i) L.outer *= x.dim(i);
        L.n = x.dim(axis);
        for (int64_t i = axis + 1; i < x.rank(); ++i) L.inner *= x.dim(i);
    } else {
        L.n = x.numel();
    }
    switch (x.dtype()) {
        case DType::kString: return unique_typed<std::string>(ctx, x, L, axis);
        case DType::kBool: return unique_typed<uint8_t>(ctx, x, L, axis);
        default: break;
    }
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, return unique_typed<T>(ctx, x, L, axis));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_Unique() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Unique";
        o.since_version = 11;
        o.min_inputs = o.max_inputs = 1;
        o.min_outputs = 1;
        o.max_outputs = 4;
        o.attrs = {AttrSpec::none("axis", ir::AttrType::kInt), AttrSpec::i("sorted", 1)};
        o.infer = unique_infer;
        o.kernel = unique_kernel;
        o.doc = "Unique elements or slices: Y, first indices, inverse indices, counts.";
        return o;
    }();
    return d;
}

}  // namespace nnport

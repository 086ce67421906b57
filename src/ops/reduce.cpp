// Reduce* ops (Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare): one strided reduction engine.
//
// Axes arrive as optional input 1 (the importer moves the pre-13/18 attribute there). The input shape is coalesced
// into alternating kept/reduced groups; a trailing kept group becomes the contiguous `inner` row, so both
// "reduce the last axis" and "reduce a middle block" run over raw pointers with vectorisable inner loops.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

enum class RKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

/// Accumulator type: wide integers for sums of ints (wrap like numpy's int64 sum), double for log/exp of ints.
template <typename T, RKind K>
using AccOf = std::conditional_t<
    K == RKind::kMax || K == RKind::kMin, T,
    std::conditional_t<std::is_floating_point_v<T>, T,
                       std::conditional_t<K == RKind::kLogSumExp, double,
                                          std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>>>;

/// Float to integer without UB: NaN -> 0, saturating.
template <typename T>
T to_out(double v) {
    if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(v);
    } else {
        if (std::isnan(v)) return 0;
        if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
        if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
        return static_cast<T>(v);
    }
}

template <typename T, RKind K>
struct ROp {
    using Acc = AccOf<T, K>;
    const Acc* shift = nullptr;  // LogSumExp: per-output max subtracted before exp

    static Acc init() {
        if constexpr (K == RKind::kMax) {
            if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
            else return std::numeric_limits<T>::lowest();
        } else if constexpr (K == RKind::kMin) {
            if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
            else return std::numeric_limits<T>::max();
        } else if constexpr (K == RKind::kProd) {
            return Acc(1);
        } else {
            return Acc(0);
        }
    }
    Acc map(T x, int64_t o) const {
        if constexpr (K == RKind::kSumSquare || K == RKind::kL2) {
            return static_cast<Acc>(x) * static_cast<Acc>(x);
        } else if constexpr (K == RKind::kL1) {
            if constexpr (std::is_unsigned_v<T>) return static_cast<Acc>(x);
            else return static_cast<Acc>(x < 0 ? -static_cast<Acc>(x) : static_cast<Acc>(x));
        } else if constexpr (K == RKind::kLogSumExp) {
            return std::exp(static_cast<Acc>(x) - shift[o]);
        } else {
            (void)o;
            return static_cast<Acc>(x);
        }
    }
    static Acc combine(Acc a, Acc b) {
        if constexpr (K == RKind::kMax) {
            return (b > a || b != b) ? b : a;  // NaN propagates
        } else if constexpr (K == RKind::kMin) {
            return (b < a || b != b) ? b : a;
        } else if constexpr (K == RKind::kProd) {
            return a * b;
        } else {
            return a + b;
        }
    }
    T finalize(Acc a, int64_t o, int64_t n) const {
        if constexpr (K == RKind::kMean) {
            if constexpr (std::is_floating_point_v<T>) return a / static_cast<T>(n);
            else return to_out<T>(static_cast<double>(a) / static_cast<double>(n));
        } else if constexpr (K == RKind::kL2) {
            return to_out<T>(std::sqrt(static_cast<double>(a)));
        } else if constexpr (K == RKind::kLogSum) {
            return to_out<T>(std::log(static_cast<double>(a)));
        } else if constexpr (K == RKind::kLogSumExp) {
            return to_out<T>(std::log(static_cast<double>(a)) + static_cast<double>(shift[o]));
        } else {
            (void)o;
            (void)n;
            return static_cast<T>(a);
        }
    }
};

/// Iteration layout: P rows of `inner` outputs; each row reduces R input slices at base[p] + roff[r].
struct Layout {
    int64_t inner = 1;
    std::vector<int64_t> base;
    std::vector<int64_t> roff;
    bool contiguous = false;  // inner == 1 and roff[r] == r
};

Layout make_layout(const Shape& s, const std::vector<bool>& red) {
    std::vector<std::pair<int64_t, bool>> g;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == 1) continue;
        if (!g.empty() && g.back().second == red[i]) g.back().first *= s[i];
        else g.emplace_back(s[i], red[i]);
    }
    Layout L;
    if (!g.empty() && !g.back().second) {
        L.inner = g.back().first;
        g.pop_back();
    }
    std::vector<int64_t> st(g.size());
    int64_t acc = L.inner;
    for (size_t k = g.size(); k-- > 0;) {
        st[k] = acc;
        acc *= g[k].first;
    }
    auto enumerate = [&](bool want, std::vector<int64_t>& out) {
        std::vector<size_t> ids;
        int64_t n = 1;
        for (size_t k = 0; k < g.size(); ++k) {
            if (g[k].second == want) {
                ids.push_back(k);
                n *= g[k].first;
            }
        }
        out.resize(static_cast<size_t>(n));
        std::vector<int64_t> idx(ids.size(), 0);
        int64_t off = 0;
        for (int64_t e = 0; e < n; ++e) {
            out[static_cast<size_t>(e)] = off;
            for (size_t d = ids.size(); d-- > 0;) {
                const size_t k = ids[d];
                if (++idx[d] < g[k].first) {
                    off += st[k];
                    break;
                }
                off -= st[k] * (g[k].first - 1);
                idx[d] = 0;
            }
        }
        return ids.size();
    };
    enumerate(false, L.base);
    const size_t nred = enumerate(true, L.roff);
    L.contiguous = L.inner == 1 && nred == 1 && g.back().second;
    return L;
}

/// Reduces rows [p0, p1) over slices [r0, r1) into acc (row-major P x inner), starting from init.
template <typename T, typename Op>
void reduce_block(const T* x, const Layout& L, const Op& op, typename Op::Acc* acc, int64_t p0, int64_t p1,
                  int64_t r0, int64_t r1) {
    using Acc = typename Op::Acc;
    const int64_t inner = L.inner;
    for (int64_t p = p0; p < p1; ++p) {
        const T* xb = x + L.base[static_cast<size_t>(p)];
        if (inner == 1) {
            Acc s = Op::init();
            if (L.contiguous) {
                Acc lane[8];
                for (auto& l : lane) l = Op::init();
                int64_t r = r0;
                for (; r + 8 <= r1; r += 8) {
                    for (int k = 0; k < 8; ++k) lane[k] = Op::combine(lane[k], op.map(xb[r + k], p));
                }
                for (; r < r1; ++r) s = Op::combine(s, op.map(xb[r], p));
                for (const auto& l : lane) s = Op::combine(s, l);
            } else {
                for (int64_t r = r0; r < r1; ++r) s = Op::combine(s, op.map(xb[L.roff[static_cast<size_t>(r)]], p));
            }
            acc[p] = s;
        } else {
            Acc* a = acc + p * inner;
            for (int64_t i = 0; i < inner; ++i) a[i] = Op::init();
            const int64_t o0 = p * inner;
            for (int64_t r = r0; r < r1; ++r) {
                const T* row = xb + L.roff[static_cast<size_t>(r)];
                for (int64_t i = 0; i < inner; ++i) a[i] = Op::combine(a[i], op.map(row[i], o0 + i));
            }
        }
    }
}

/// Runs the reduction into acc (size P*inner), splitting rows, or the reduced range when rows are few.
template <typename T, typename Op>
void reduce_all(const KernelContext& ctx, const T* x, const Layout& L, const Op& op, typename Op::Acc* acc) {
    using Acc = typename Op::Acc;
    const int64_t P = static_cast<int64_t>(L.base.size()), R = static_cast<int64_t>(L.roff.size());
    const int64_t work = P * L.inner * R;
    const int threads = ctx.pool() ? ctx.pool()->num_threads() : 1;
    if (threads <= 1 || work < (int64_t{1} << 15)) {
        reduce_block(x, L, op, acc, 0, P, 0, R);
    } else if (P >= threads || R < 4 * threads) {
        ctx.parallel_for(P, [&](int64_t b, int64_t e) { reduce_block(x, L, op, acc, b, e, 0, R); });
    } else {
        const int64_t n = P * L.inner;
        std::vector<Acc> part(static_cast<size_t>(n * threads));
        ctx.parallel_for(threads, [&](int64_t b, int64_t e) {
            for (int64_t c = b; c < e; ++c) {
                reduce_block(x, L, op, part.data() + c * n, 0, P, R * c / threads, R * (c + 1) / threads);
            }
        });
        for (int64_t o = 0; o < n; ++o) {
            Acc s = part[static_cast<size_t>(o)];
            for (int c = 1; c < threads; ++c) s = Op::combine(s, part[static_cast<size_t>(c * n + o)]);
            acc[o] = s;
        }
    }
}

template <typename T, RKind K>
void run_kind(const KernelContext& ctx, const Tensor& xt, const std::vector<bool>& red, Tensor& out) {
    using Op = ROp<T, K>;
    using Acc = typename Op::Acc;
    const T* x = xt.data<T>();
    T* y = out.data<T>();
    const int64_t n_out = out.numel();
    std::vector<Acc> acc(static_cast<size_t>(n_out));
    std::vector<Acc> shift;
    Op op;
    int64_t count = 0;
    if (xt.numel() == 0) {
        shift.assign(static_cast<size_t>(n_out), Acc(0));
        op.shift = shift.data();
        for (int64_t o = 0; o < n_out; ++o) y[o] = op.finalize(Op::init(), o, 0);
        return;
    }
    const Layout L = make_layout(xt.shape(), red);
    count = static_cast<int64_t>(L.roff.size());
    if constexpr (K == RKind::kLogSumExp) {
        std::vector<T> mx(static_cast<size_t>(n_out));
        reduce_all(ctx, x, L, ROp<T, RKind::kMax>{}, mx.data());
        shift.resize(static_cast<size_t>(n_out));
        for (int64_t o = 0; o < n_out; ++o) {
            const Acc m = static_cast<Acc>(mx[static_cast<size_t>(o)]);
            shift[static_cast<size_t>(o)] = std::isfinite(static_cast<double>(m)) ? m : Acc(0);
        }
        op.shift = shift.data();
    }
    reduce_all(ctx, x, L, op, acc.data());
    for (int64_t o = 0; o < n_out; ++o) y[o] = op.finalize(acc[static_cast<size_t>(o)], o, count);
}

template <typename T>
Status run_typed(const KernelContext& ctx, RKind k, const Tensor& x, const std::vector<bool>& red, Tensor& out) {
    switch (k) {
        case RKind::kSum: run_kind<T, RKind::kSum>(ctx, x, red, out); break;
        case RKind::kMean: run_kind<T, RKind::kMean>(ctx, x, red, out); break;
        case RKind::kMax: run_kind<T, RKind::kMax>(ctx, x, red, out); break;
        case RKind::kMin: run_kind<T, RKind::kMin>(ctx, x, red, out); break;
        case RKind::kProd: run_kind<T, RKind::kProd>(ctx, x, red, out); break;
        case RKind::kL1: run_kind<T, RKind::kL1>(ctx, x, red, out); break;
        case RKind::kL2: run_kind<T, RKind::kL2>(ctx, x, red, out); break;
        case RKind::kLogSum: run_kind<T, RKind::kLogSum>(ctx, x, red, out); break;
        case RKind::kLogSumExp: run_kind<T, RKind::kLogSumExp>(ctx, x, red, out); break;
        case RKind::kSumSquare: run_kind<T, RKind::kSumSquare>(ctx, x, red, out); break;
    }
    return Status::ok();
}

/// Which axes to reduce: `noop` means the output is the input.
struct Plan {
    bool noop = false;
    std::vector<bool> reduced;
};

Result<Plan> make_plan(const AttrAccess& a, int64_t rank, const Tensor* axes) {
    Plan p;
    p.reduced.assign(static_cast<size_t>(rank), false);
    if (axes && axes->dtype() != DType::kInt64 && axes->dtype() != DType::kInt32) {
        return a.error("axes must be int64");
    }
    if (axes && axes->rank() > 1) return a.error("axes must be 1-D");
    if (!axes || axes->numel() == 0) {
        if (a.attr_int("noop_with_empty_axes") != 0) p.noop = true;
        else p.reduced.assign(static_cast<size_t>(rank), true);
        return p;
    }
    for (int64_t v : axes->to_int_vector()) {
        auto ax = normalize_axis(v, rank);
        if (!ax.is_ok()) return a.error(ax.status().message());
        if (p.reduced[static_cast<size_t>(ax.value())]) return a.error("axis " + std::to_string(v) + " is repeated");
        p.reduced[static_cast<size_t>(ax.value())] = true;
    }
    return p;
}

Status reduce_infer(InferContext& ctx) {
    const ir::ValueType& in = ctx.input_type(0);
    const bool keep = ctx.attr_int("keepdims") != 0;
    if (!in.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(in.dtype));
        return Status::ok();
    }
    const int64_t rank = in.rank();
    const Tensor* axes = ctx.has_input(1) ? ctx.input_constant(1) : nullptr;
    if (ctx.has_input(1) && !axes) {
        if (keep) ctx.set_output(0, tensor_type_of_rank(ctx, in.dtype, rank));
        else ctx.set_output(0, ir::ValueType::tensor(in.dtype));
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(Plan p, make_plan(ctx, rank, axes));
    if (p.noop) {
        ctx.set_output(0, in);
        return Status::ok();
    }
    std::vector<ir::Dim> dims;
    for (int64_t i = 0; i < rank; ++i) {
        if (!p.reduced[static_cast<size_t>(i)]) dims.push_back(in.dims[static_cast<size_t>(i)]);
        else if (keep) dims.emplace_back(1);
    }
    ctx.set_output(0, ir::ValueType::tensor(in.dtype, dims));
    return Status::ok();
}

template <RKind K>
Status reduce_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    const Tensor* axes = ctx.has_input(1) ? &ctx.input(1) : nullptr;
    NNPORT_ASSIGN_OR_RETURN(Plan p, make_plan(ctx, x.rank(), axes));
    if (p.noop) {
        ctx.set_output(0, x);
        return Status::ok();
    }
    const bool keep = ctx.attr_int("keepdims") != 0;
    Shape shape;
    for (int64_t i = 0; i < x.rank(); ++i) {
        if (!p.reduced[static_cast<size_t>(i)]) shape.push_back(x.dim(i));
        else if (keep) shape.push_back(1);
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x.dtype(), shape));
    if ((K == RKind::kMax || K == RKind::kMin) && x.dtype() == DType::kBool) {
        return run_typed<uint8_t>(ctx, K, x, p.reduced, *out);  // bool max/min == uint8 max/min (opset 20)
    }
    NNPORT_DISPATCH_NUMERIC(x.dtype(), T, ctx, return run_typed<T>(ctx, K, x, p.reduced, *out));
    return Status::ok();
}

template <RKind K>
OpDef make_reduce(const char* name, int since, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    o.min_inputs = 1;
    o.max_inputs = 2;
    o.attrs = {AttrSpec::i("keepdims", 1), AttrSpec::i("noop_with_empty_axes", 0)};
    o.infer = reduce_infer;
    o.kernel = reduce_kernel<K>;
    o.input0_types = numeric_types();
    if (K == RKind::kMax || K == RKind::kMin) o.input0_types.push_back(DType::kBool);
    o.doc = doc;
    return o;
}

}  // namespace

#define NNPORT_REDUCE_OP(Name, Kind, since, doc)                      \
    const OpDef& op_def_##Name() {                                    \
        static const OpDef d = make_reduce<RKind::Kind>(#Name, since, doc); \
        return d;                                                     \
    }

NNPORT_REDUCE_OP(ReduceSum, kSum, 13, "Sum over axes (input 1).")
NNPORT_REDUCE_OP(ReduceMean, kMean, 18, "Mean over axes; empty set gives NaN.")
NNPORT_REDUCE_OP(ReduceMax, kMax, 18, "Max over axes; empty set gives -inf (lowest for ints); NaN propagates.")
NNPORT_REDUCE_OP(ReduceMin, kMin, 18, "Min over axes; empty set gives +inf (max for ints); NaN propagates.")
NNPORT_REDUCE_OP(ReduceProd, kProd, 18, "Product over axes; empty set gives 1.")
NNPORT_REDUCE_OP(ReduceL1, kL1, 18, "Sum of absolute values over axes.")
NNPORT_REDUCE_OP(ReduceL2, kL2, 18, "Square root of the sum of squares over axes.")
NNPORT_REDUCE_OP(ReduceLogSum, kLogSum, 18, "log(sum(x)) over axes.")
NNPORT_REDUCE_OP(ReduceLogSumExp, kLogSumExp, 18, "log(sum(exp(x))) over axes, computed with the max shifted out.")
NNPORT_REDUCE_OP(ReduceSumSquare, kSumSquare, 18, "Sum of squares over axes.")

#undef NNPORT_REDUCE_OP

}  // namespace nnport

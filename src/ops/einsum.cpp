// Einsum: parses the equation (ellipsis, repeated labels, implicit output) and evaluates it as strided
// gather-sums (diagonals, transposes, early sums) plus one batched matmul per pairwise contraction.
#include <algorithm>
#include <map>
#include <set>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

/// Letters are labelled by their ASCII code; the j-th (right-aligned) ellipsis dim by kEllipsisBase + j.
constexpr int kEllipsisBase = 128;

struct Term {
    std::string pre, post;  // letters before and after "..."
    bool ell = false;
};

struct Equation {
    std::vector<Term> inputs;
    bool explicit_out = false;
    Term output;
};

Result<Term> parse_term(const AttrAccess& a, const std::string& s) {
    Term t;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '.') {
            if (t.ell || s.compare(i, 3, "...") != 0) return a.error("bad ellipsis in einsum term '" + s + "'");
            t.ell = true;
            i += 2;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            (t.ell ? t.post : t.pre) += c;
        } else {
            return a.error(std::string("invalid character '") + c + "' in einsum equation");
        }
    }
    return t;
}

Result<Equation> parse_equation(const AttrAccess& a) {
    std::string eq;
    for (char c : a.attr_string("equation")) {
        if (c != ' ') eq += c;
    }
    Equation e;
    std::string lhs = eq;
    const size_t arrow = eq.find("->");
    if (arrow != std::string::npos) {
        lhs = eq.substr(0, arrow);
        e.explicit_out = true;
        NNPORT_ASSIGN_OR_RETURN(e.output, parse_term(a, eq.substr(arrow + 2)));
    }
    size_t start = 0;
    while (true) {
        const size_t comma = lhs.find(',', start);
        NNPORT_ASSIGN_OR_RETURN(Term t, parse_term(a, lhs.substr(start, comma == std::string::npos ? comma : comma - start)));
        e.inputs.push_back(std::move(t));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return e;
}

/// The equation bound to input ranks: each input's label list and the output's.
struct Bound {
    std::vector<std::vector<int>> in_labels;
    std::vector<int> out_labels;
};

Result<Bound> bind_equation(const AttrAccess& a, const Equation& e, const std::vector<int64_t>& ranks) {
    if (e.inputs.size() != ranks.size()) {
        return a.error("einsum equation has " + std::to_string(e.inputs.size()) + " terms for " +
                       std::to_string(ranks.size()) + " inputs");
    }
    Bound b;
    int64_t E = 0;
    std::vector<int64_t> ell_rank(ranks.size());
    for (size_t i = 0; i < ranks.size(); ++i) {
        const Term& t = e.inputs[i];
        const int64_t letters = static_cast<int64_t>(t.pre.size() + t.post.size());
        ell_rank[i] = ranks[i] - letters;
        if (ell_rank[i] < 0 || (!t.ell && ell_rank[i] != 0)) {
            return a.error("einsum term " + std::to_string(i) + " does not match input rank " + std::to_string(ranks[i]));
        }
        E = std::max(E, ell_rank[i]);
    }
    std::map<int, int> count;
    for (size_t i = 0; i < ranks.size(); ++i) {
        const Term& t = e.inputs[i];
        std::vector<int> l;
        for (char c : t.pre) l.push_back(c);
        for (int64_t j = 0; j < ell_rank[i]; ++j) l.push_back(kEllipsisBase + static_cast<int>(E - ell_rank[i] + j));
        for (char c : t.post) l.push_back(c);
        for (int x : l) count[x]++;
        b.in_labels.push_back(std::move(l));
    }
    if (e.explicit_out) {
        const Term& t = e.output;
        for (char c : t.pre) b.out_labels.push_back(c);
        if (t.ell) {
            for (int64_t j = 0; j < E; ++j) b.out_labels.push_back(kEllipsisBase + static_cast<int>(j));
        }
        for (char c : t.post) b.out_labels.push_back(c);
        std::set<int> seen;
        for (int x : b.out_labels) {
            if (x < kEllipsisBase && !count.count(x)) {
                return a.error(std::string("einsum output label '") + static_cast<char>(x) + "' is not in any input");
            }
            if (!seen.insert(x).second) return a.error("einsum output repeats a label");
        }
    } else {
        for (int64_t j = 0; j < E; ++j) b.out_labels.push_back(kEllipsisBase + static_cast<int>(j));
        for (const auto& [x, n] : count) {  // std::map: ascending ASCII order
            if (x < kEllipsisBase && n == 1) b.out_labels.push_back(x);
        }
    }
    return b;
}

/// Size of every label across inputs (a size-1 dim broadcasts); error on a real mismatch.
template <typename DimOf>
Result<std::map<int, int64_t>> label_sizes(const AttrAccess& a, const Bound& b, DimOf dim_of) {
    std::map<int, int64_t> size;
    for (size_t i = 0; i < b.in_labels.size(); ++i) {
        std::map<int, int64_t> own;
        for (size_t k = 0; k < b.in_labels[i].size(); ++k) {
            const int l = b.in_labels[i][k];
            const int64_t d = dim_of(i, k);
            if (d < 0) continue;
            auto [it, fresh] = own.emplace(l, d);
            if (!fresh && it->second != d) return a.error("einsum: repeated label with different sizes in one input");
            auto [g, gfresh] = size.emplace(l, d);
            if (gfresh || g->second == d || d == 1) continue;
            if (g->second == 1) g->second = d;
            else return a.error("einsum: label sizes " + std::to_string(g->second) + " and " + std::to_string(d) + " differ");
        }
    }
    return size;
}

/// A contiguous intermediate: data plus one label per dim (labels unique).
struct Operand {
    Tensor t;
    std::vector<int> labels;
};

/// out[o] = sum_r src[base(o) + roff(r)]: gathers any strided view (transpose, diagonal, broadcast) and sums dims.
template <typename T>
Result<Tensor> gather_sum(const Tensor& src, const Shape& out_dims, const std::vector<int64_t>& out_st,
                          const Shape& sum_dims, const std::vector<int64_t>& sum_st) {
    const int64_t n_out = shape_numel(out_dims), n_sum = shape_numel(sum_dims);
    if (n_out < 0 || n_sum < 0) return invalid_argument("einsum: size overflow");
    if (sum_dims.empty() && n_out == src.numel() && out_st == strides_of(out_dims)) return src.reshaped(out_dims);
    NNPORT_ASSIGN_OR_RETURN(Tensor out, Tensor::create(DTypeOf<T>::value, out_dims));
    T* y = out.data<T>();
    const T* x = src.data<T>();
    std::vector<int64_t> roff;
    roff.reserve(static_cast<size_t>(n_sum));
    {
        std::vector<int64_t> idx(sum_dims.size(), 0);
        int64_t off = 0;
        for (int64_t r = 0; r < n_sum; ++r) {
            roff.push_back(off);
            for (size_t d = sum_dims.size(); d-- > 0;) {
                if (++idx[d] < sum_dims[d]) {
                    off += sum_st[d];
                    break;
                }
                off -= sum_st[d] * (sum_dims[d] - 1);
                idx[d] = 0;
            }
        }
    }
    std::vector<int64_t> idx(out_dims.size(), 0);
    int64_t base = 0;
    for (int64_t o = 0; o < n_out; ++o) {
        T s = T(0);
        for (int64_t r : roff) s += x[base + r];
        y[o] = s;
        for (size_t d = out_dims.size(); d-- > 0;) {
            if (++idx[d] < out_dims[d]) {
                base += out_st[d];
                break;
            }
            base -= out_st[d] * (out_dims[d] - 1);
            idx[d] = 0;
        }
    }
    return out;
}

/// Reorders `op` to `keep` (labels in this order; sizes from `size`, broadcasting size-1 dims) and sums the rest.
template <typename T>
Result<Tensor> rearrange(const Operand& op, const std::vector<int>& keep, const std::map<int, int64_t>& size) {
    const Shape& dims = op.t.shape();
    const std::vector<int64_t> st = strides_of(dims);
    Shape od, sd;
    std::vector<int64_t> ost, sst;
    for (int l : keep) {
        int64_t s = 0, d = 1;
        for (size_t k = 0; k < op.labels.size(); ++k) {
            if (op.labels[k] == l) {
                s += st[k];
                d = dims[k];
            }
        }
        const int64_t want = size.count(l) ? size.at(l) : d;
        od.push_back(want);
        ost.push_back(d == 1 ? 0 : s);
    }
    for (size_t k = 0; k < op.labels.size(); ++k) {
        const int l = op.labels[k];
        if (std::find(keep.begin(), keep.end(), l) != keep.end()) continue;
        bool first = true;
        for (size_t j = 0; j < k; ++j) first = first && op.labels[j] != l;
        if (!first) continue;
        int64_t s = 0;
        for (size_t j = 0; j < op.labels.size(); ++j) {
            if (op.labels[j] == l) s += st[j];
        }
        sd.push_back(dims[k]);
        sst.push_back(s);
    }
    return gather_sum<T>(op.t, od, ost, sd, sst);
}

/// C[b] = A[b] (M x K) * B[b] (K x N), all contiguous.
template <typename T>
void batched_matmul(const KernelContext& ctx, const T* A, const T* B, T* C, int64_t Bt, int64_t M, int64_t K,
                    int64_t N) {
    auto body = [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t b = r / M;
            const T* a = A + r * K;
            const T* bb = B + b * K * N;
            T* c = C + r * N;
            if (N == 1) {
                T s = T(0);
                for (int64_t k = 0; k < K; ++k) s += a[k] * bb[k];
                c[0] = s;
                continue;
            }
            std::fill(c, c + N, T(0));
            for (int64_t k = 0; k < K; ++k) {
                const T av = a[k];
                const T* brow = bb + k * N;
                for (int64_t n = 0; n < N; ++n) c[n] += av * brow[n];
            }
        }
    };
    if (Bt * M * K * N < (int64_t{1} << 15)) body(0, Bt * M);
    else ctx.parallel_for(Bt * M, body);
}

template <typename T>
Result<Operand> contract(const KernelContext& ctx, const Operand& A, const Operand& B, const std::set<int>& keep,
                         const std::map<int, int64_t>& size) {
    auto in = [](const Operand& o, int l) { return std::find(o.labels.begin(), o.labels.end(), l) != o.labels.end(); };
    std::vector<int> batch, contr, aonly, bonly;
    for (int l : A.labels) {
        if (in(B, l)) (keep.count(l) ? batch : contr).push_back(l);
        else if (keep.count(l)) aonly.push_back(l);
    }
    for (int l : B.labels) {
        if (!in(A, l) && keep.count(l)) bonly.push_back(l);
    }
    auto prod = [&](const std::vector<int>& ls) {
        int64_t p = 1;
        for (int l : ls) p *= size.at(l);
        return p;
    };
    const int64_t Bt = prod(batch), M = prod(aonly), K = prod(contr), N = prod(bonly);
    std::vector<int> la = batch, lb = batch;
    la.insert(la.end(), aonly.begin(), aonly.end());
    la.insert(la.end(), contr.begin(), contr.end());
    lb.insert(lb.end(), contr.begin(), contr.end());
    lb.insert(lb.end(), bonly.begin(), bonly.end());
    NNPORT_ASSIGN_OR_RETURN(Tensor ap, rearrange<T>(A, la, size));
    NNPORT_ASSIGN_OR_RETURN(Tensor bp, rearrange<T>(B, lb, size));
    Operand c;
    c.labels = batch;
    c.labels.insert(c.labels.end(), aonly.begin(), aonly.end());
    c.labels.insert(c.labels.end(), bonly.begin(), bonly.end());
    Shape cd;
    for (int l : c.labels) cd.push_back(size.at(l));
    NNPORT_ASSIGN_OR_RETURN(c.t, Tensor::create(DTypeOf<T>::value, cd));
    if (c.t.numel() > 0) batched_matmul<T>(ctx, ap.data<T>(), bp.data<T>(), c.t.data<T>(), Bt, M, K, N);
    return c;
}

template <typename T>
Status einsum_typed(KernelContext& ctx, const Bound& b, const std::map<int, int64_t>& size) {
    const size_t n = b.in_labels.size();
    std::map<int, int> operands_with;  // label -> number of inputs that have it
    for (const auto& ls : b.in_labels) {
        for (int l : std::set<int>(ls.begin(), ls.end())) operands_with[l]++;
    }
    const std::set<int> out_set(b.out_labels.begin(), b.out_labels.end());
    // Per input: take diagonals and sum labels no one else needs.
    std::vector<Operand> ops;
    for (size_t i = 0; i < n; ++i) {
        Operand raw{ctx.input(i), b.in_labels[i]};
        std::vector<int> keep;
        for (int l : raw.labels) {
            const bool needed = out_set.count(l) || operands_with[l] > 1;
            if (needed && std::find(keep.begin(), keep.end(), l) == keep.end()) keep.push_back(l);
        }
        std::map<int, int64_t> own;  // keep the input's own (possibly 1) sizes here; broadcasting happens later
        for (size_t k = 0; k < raw.labels.size(); ++k) own[raw.labels[k]] = raw.t.dim(static_cast<int64_t>(k));
        Operand o;
        NNPORT_ASSIGN_OR_RETURN(o.t, rearrange<T>(raw, keep, own));
        o.labels = keep;
        ops.push_back(std::move(o));
    }
    Operand cur = std::move(ops[0]);
    for (size_t i = 1; i < n; ++i) {
        std::set<int> keep = out_set;
        for (size_t j = i + 1; j < n; ++j) keep.insert(ops[j].labels.begin(), ops[j].labels.end());
        NNPORT_ASSIGN_OR_RETURN(cur, contract<T>(ctx, cur, ops[i], keep, size));
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor res, rearrange<T>(cur, b.out_labels, size));
    ctx.set_output(0, std::move(res));
    return Status::ok();
}

Status einsum_infer(InferContext& ctx) {
    const DType dt = ctx.input_type(0).dtype;
    NNPORT_ASSIGN_OR_RETURN(Equation e, parse_equation(ctx));
    std::vector<int64_t> ranks;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        const ir::ValueType& t = ctx.input_type(i);
        if (!t.has_shape) {
            if (e.explicit_out && !e.output.ell) {
                ctx.set_output(0, tensor_type_of_rank(ctx, dt, static_cast<int64_t>(e.output.pre.size())));
            } else {
                ctx.set_output(0, ir::ValueType::tensor(dt));
            }
            return Status::ok();
        }
        if (t.dtype != dt) return ctx.error("einsum inputs must share one dtype");
        ranks.push_back(t.rank());
    }
    NNPORT_ASSIGN_OR_RETURN(Bound b, bind_equation(ctx, e, ranks));
    auto dim_of = [&](size_t i, size_t k) {
        const ir::Dim& d = ctx.input_type(i).dims[k];
        return d.is_static() ? d.value : int64_t{-1};
    };
    NNPORT_ASSIGN_OR_RETURN(auto size, label_sizes(ctx, b, dim_of));
    std::vector<ir::Dim> dims;
    for (int l : b.out_labels) {
        // A label known only as size 1 might still broadcast to a symbolic size: keep it unknown then.
        bool symbolic = false;
        for (size_t i = 0; i < b.in_labels.size(); ++i) {
            for (size_t k = 0; k < b.in_labels[i].size(); ++k) {
                if (b.in_labels[i][k] == l && dim_of(i, k) < 0) symbolic = true;
            }
        }
        auto it = size.find(l);
        if (it != size.end() && (it->second != 1 || !symbolic)) dims.emplace_back(it->second);
        else dims.push_back(ctx.new_dim());
    }
    ctx.set_output(0, ir::ValueType::tensor(dt, dims));
    return Status::ok();
}

Status einsum_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(Equation e, parse_equation(ctx));
    std::vector<int64_t> ranks;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
        if (ctx.input(i).dtype() != ctx.input(0).dtype()) return ctx.input_error("einsum inputs must share one dtype");
        ranks.push_back(ctx.input(i).rank());
    }
    NNPORT_ASSIGN_OR_RETURN(Bound b, bind_equation(ctx, e, ranks));
    auto dim_of = [&](size_t i, size_t k) { return ctx.input(i).dim(static_cast<int64_t>(k)); };
    auto sizes = label_sizes(ctx, b, dim_of);
    if (!sizes.is_ok()) return ctx.input_error(sizes.status().message());
    NNPORT_DISPATCH_NUMERIC(ctx.input(0).dtype(), T, ctx, return einsum_typed<T>(ctx, b, sizes.value()));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_Einsum() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Einsum";
        o.since_version = 12;
        o.min_inputs = 1;
        o.max_inputs = -1;
        o.attrs = {AttrSpec::none("equation", ir::AttrType::kString, true)};
        o.infer = einsum_infer;
        o.kernel = einsum_kernel;
        o.input0_types = numeric_types();
        o.doc = "Einstein summation: diagonals, ellipsis broadcasting, implicit output; pairwise batched matmuls.";
        return o;
    }();
    return d;
}

}  // namespace nnport

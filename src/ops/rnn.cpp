// RNN, GRU and LSTM: one driver for the ONNX recurrent layers (directions, layouts, sequence_lens, activations, clip).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "ops/kernel_util.hpp"

namespace nnport {

namespace {

enum class Cell { kRnn, kGru, kLstm };

int gate_count(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 3 : 4; }
int act_count(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 2 : 3; }

enum class ActKind { kRelu, kTanh, kSigmoid, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu,
                     kSoftsign, kSoftplus };

struct Activation {
    ActKind kind = ActKind::kTanh;
    float alpha = 0.0f, beta = 0.0f;
};

/// Name, kind, whether it takes alpha / beta, and their defaults.
struct ActInfo {
    const char* name;
    ActKind kind;
    bool uses_alpha, uses_beta;
    float alpha, beta;
};

constexpr ActInfo kActs[] = {
    {"relu", ActKind::kRelu, false, false, 0.f, 0.f},
    {"tanh", ActKind::kTanh, false, false, 0.f, 0.f},
    {"sigmoid", ActKind::kSigmoid, false, false, 0.f, 0.f},
    {"affine", ActKind::kAffine, true, true, 1.f, 0.f},
    {"leakyrelu", ActKind::kLeakyRelu, true, false, 0.01f, 0.f},
    {"thresholdedrelu", ActKind::kThresholdedRelu, true, false, 1.f, 0.f},
    {"scaledtanh", ActKind::kScaledTanh, true, true, 1.f, 1.f},
    {"hardsigmoid", ActKind::kHardSigmoid, true, true, 0.2f, 0.5f},
    {"elu", ActKind::kElu, true, false, 1.f, 0.f},
    {"softsign", ActKind::kSoftsign, false, false, 0.f, 0.f},
    {"softplus", ActKind::kSoftplus, false, false, 0.f, 0.f},
};

/// The activations of every direction (act_count per direction). alpha/beta lists are consumed in order by the
/// activations that take them (as ONNX Runtime does).
Result<std::vector<Activation>> parse_activations(const AttrAccess& a, Cell cell, int dirs) {
    std::vector<std::string> names = a.attr_strings("activations");
    const size_t per_dir = static_cast<size_t>(act_count(cell));
    if (names.empty()) {
        if (cell == Cell::kRnn) names = {"Tanh"};
        else if (cell == Cell::kGru) names = {"Sigmoid", "Tanh"};
        else names = {"Sigmoid", "Tanh", "Tanh"};
    }
    if (names.size() == per_dir && dirs == 2) {
        const std::vector<std::string> forward = names;  // inserting a vector's own range into it is undefined
        names.insert(names.end(), forward.begin(), forward.end());
    }
    if (names.size() != per_dir * static_cast<size_t>(dirs)) {
        return a.error("expected " + std::to_string(per_dir * static_cast<size_t>(dirs)) + " activations, got " +
                       std::to_string(names.size()));
    }
    const std::vector<float> alphas = a.attr_floats("activation_alpha");
    const std::vector<float> betas = a.attr_floats("activation_beta");
    size_t ai = 0, bi = 0;
    std::vector<Activation> out;
    for (const std::string& n : names) {
        std::string lower = n;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const ActInfo* info = nullptr;
        for (const ActInfo& k : kActs) {
            if (lower == k.name) info = &k;
        }
        if (!info) return a.error("unsupported activation '" + n + "'");
        Activation act;
        act.kind = info->kind;
        act.alpha = info->alpha;
        act.beta = info->beta;
        if (info->uses_alpha && ai < alphas.size()) act.alpha = alphas[ai++];
        if (info->uses_beta && bi < betas.size()) act.beta = betas[bi++];
        out.push_back(act);
    }
    return out;
}

/// Applies `a` to x[0..n), first clipping to [-clip, clip] when clip > 0.
template <typename T>
void activate(const Activation& a, T* x, int64_t n, float clip) {
    if (clip > 0.0f) {
        const T c = static_cast<T>(clip);
        for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], -c), c);
    }
    const T al = static_cast<T>(a.alpha), be = static_cast<T>(a.beta);
    switch (a.kind) {
        case ActKind::kRelu: for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], T(0)); break;
        case ActKind::kTanh: for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]); break;
        case ActKind::kSigmoid: for (int64_t i = 0; i < n; ++i) x[i] = T(1) / (T(1) + std::exp(-x[i])); break;
        case ActKind::kAffine: for (int64_t i = 0; i < n; ++i) x[i] = al * x[i] + be; break;
        case ActKind::kLeakyRelu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= T(0) ? x[i] : al * x[i]; break;
        case ActKind::kThresholdedRelu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] > al ? x[i] : T(0); break;
        case ActKind::kScaledTanh: for (int64_t i = 0; i < n; ++i) x[i] = al * std::tanh(be * x[i]); break;
        case ActKind::kHardSigmoid:
            for (int64_t i = 0; i < n; ++i) x[i] = std::min(T(1), std::max(T(0), al * x[i] + be));
            break;
        case ActKind::kElu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= T(0) ? x[i] : al * (std::exp(x[i]) - T(1)); break;
        case ActKind::kSoftsign: for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (T(1) + std::abs(x[i])); break;
        case ActKind::kSoftplus:
            for (int64_t i = 0; i < n; ++i) x[i] = x[i] > T(20) ? x[i] : std::log1p(std::exp(x[i]));
            break;
    }
}

/// C[m, 0..n) (+)= A[m, 0..k) * B[0..k, 0..n) with row strides lda/ldb/ldc; split across threads when large.
template <typename T>
void gemm(const KernelContext& ctx, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
          T* c, int64_t ldc, bool accumulate) {
    constexpr int64_t kColBlock = 128;
    const int64_t col_blocks = (n + kColBlock - 1) / kColBlock;
    auto tile = [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t row = t / col_blocks, j0 = (t % col_blocks) * kColBlock, j1 = std::min(n, j0 + kColBlock);
            T* crow = c + row * ldc;
            if (!accumulate) std::fill(crow + j0, crow + j1, T(0));
            const T* arow = a + row * lda;
            for (int64_t p = 0; p < k; ++p) {
                const T av = arow[p];
                const T* brow = b + p * ldb;
                for (int64_t j = j0; j < j1; ++j) crow[j] += av * brow[j];
            }
        }
    };
    const int64_t tiles = m * col_blocks;
    if (m * n * k >= (int64_t{1} << 16) && tiles > 1) ctx.parallel_for(tiles, tile);
    else tile(0, tiles);
}

/// Validated sizes of one recurrent op call.
struct RnnDims {
    int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1, gates = 1;
    bool batch_first = false;
};

Result<int> num_directions(const AttrAccess& a) {
    const std::string d = a.attr_string("direction");
    if (d == "forward" || d == "reverse") return 1;
    if (d == "bidirectional") return 2;
    return a.error("unknown direction '" + d + "'");
}

/// Checks that optional input i, if present, has dtype `dt` and shape `want`.
Status check_input(const KernelContext& ctx, size_t i, DType dt, const Shape& want, const char* what) {
    if (!ctx.has_input(i)) return Status::ok();
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& t = ctx.input(i);
    if (t.dtype() != dt) return ctx.input_error(std::string(what) + " must have the dtype of X");
    if (t.shape() != want) {
        return ctx.input_error(std::string(what) + " has shape " + shape_to_string(t.shape()) + ", expected " +
                               shape_to_string(want));
    }
    return Status::ok();
}

Result<RnnDims> validate(const KernelContext& ctx, Cell cell) {
    RnnDims d;
    d.gates = gate_count(cell);
    d.batch_first = ctx.attr_int("layout") != 0;
    NNPORT_ASSIGN_OR_RETURN(int dirs, num_directions(ctx));
    d.dirs = dirs;
    for (size_t i = 0; i < 3; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor& r = ctx.input(2);
    if (x.rank() != 3 || w.rank() != 3 || r.rank() != 3) return ctx.input_error("X, W and R must be 3-D");
    d.seq = x.dim(d.batch_first ? 1 : 0);
    d.batch = x.dim(d.batch_first ? 0 : 1);
    d.input = x.dim(2);
    d.hidden = r.dim(2);
    if (ctx.has_attr("hidden_size") && ctx.attr_int("hidden_size") != d.hidden) {
        return ctx.input_error("hidden_size " + std::to_string(ctx.attr_int("hidden_size")) + " does not match R " +
                               shape_to_string(r.shape()));
    }
    const int64_t gh = d.gates * d.hidden;
    const DType dt = x.dtype();
    NNPORT_RETURN_IF_ERROR(check_input(ctx, 1, dt, {d.dirs, gh, d.input}, "W"));
    NNPORT_RETURN_IF_ERROR(check_input(ctx, 2, dt, {d.dirs, gh, d.hidden}, "R"));
    NNPORT_RETURN_IF_ERROR(check_input(ctx, 3, dt, {d.dirs, 2 * gh}, "B"));
    const Shape state = d.batch_first ? Shape{d.batch, d.dirs, d.hidden} : Shape{d.dirs, d.batch, d.hidden};
    NNPORT_RETURN_IF_ERROR(check_input(ctx, 5, dt, state, "initial_h"));
    if (cell == Cell::kLstm) {
        NNPORT_RETURN_IF_ERROR(check_input(ctx, 6, dt, state, "initial_c"));
        NNPORT_RETURN_IF_ERROR(check_input(ctx, 7, dt, {d.dirs, 3 * d.hidden}, "P"));
    }
    if (ctx.has_input(4)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(4));
        const Tensor& sl = ctx.input(4);
        if ((sl.dtype() != DType::kInt32 && sl.dtype() != DType::kInt64) || sl.shape() != Shape{d.batch}) {
            return ctx.input_error("sequence_lens must be int32 [batch]");
        }
        for (int64_t b = 0; b < d.batch; ++b) {
            const int64_t v = sl.item_as_int(b);
            if (v < 0 || v > d.seq) {
                return ctx.input_error("sequence_lens[" + std::to_string(b) + "] = " + std::to_string(v) +
                                       " is out of range [0, " + std::to_string(d.seq) + "]");
            }
        }
    }
    return d;
}

/// Row-major transpose of src [rows, cols] into dst [cols, rows].
template <typename T>
void transpose(const T* src, int64_t rows, int64_t cols, T* dst) {
    for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
    }
}

template <typename T>
Status run_cell(KernelContext& ctx, Cell cell, const RnnDims& d) {
    NNPORT_ASSIGN_OR_RETURN(std::vector<Activation> acts, parse_activations(ctx, cell, static_cast<int>(d.dirs)));
    const float clip = ctx.has_attr("clip") ? ctx.attr_float("clip") : 0.0f;
    const bool reverse_only = ctx.attr_string("direction") == "reverse";
    const bool lbr = cell == Cell::kGru && ctx.attr_int("linear_before_reset") != 0;
    const bool input_forget = cell == Cell::kLstm && ctx.attr_int("input_forget") != 0;
    const int64_t H = d.hidden, G = d.gates, GH = G * H, B = d.batch, S = d.seq;
    const T* x = ctx.input(0).data<T>();
    std::vector<int64_t> lens(static_cast<size_t>(B), S);
    if (ctx.has_input(4)) {
        for (int64_t b = 0; b < B; ++b) lens[static_cast<size_t>(b)] = ctx.input(4).item_as_int(b);
    }
    const Shape y_shape = d.batch_first ? Shape{B, S, d.dirs, H} : Shape{S, d.dirs, B, H};
    const Shape state_shape = d.batch_first ? Shape{B, d.dirs, H} : Shape{d.dirs, B, H};
    T* y = nullptr;
    T* y_h = nullptr;
    T* y_c = nullptr;
    if (ctx.has_output(0)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(0, ctx.input(0).dtype(), y_shape, true));
        y = t->data<T>();
    }
    if (ctx.has_output(1)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(1, ctx.input(0).dtype(), state_shape));
        y_h = t->data<T>();
    }
    if (cell == Cell::kLstm && ctx.has_output(2)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(2, ctx.input(0).dtype(), state_shape));
        y_c = t->data<T>();
    }
    // Scratch: X*W^T for all steps, the recurrent product, states, temporaries (size-checked by Tensor::create).
    NNPORT_ASSIGN_OR_RETURN(Tensor xw_t, Tensor::create(ctx.input(0).dtype(), {S * B, GH}));
    NNPORT_ASSIGN_OR_RETURN(Tensor hr_t, Tensor::create(ctx.input(0).dtype(), {B, GH}));
    T* xw = xw_t.data<T>();
    T* hr = hr_t.data<T>();
    std::vector<T> wt(static_cast<size_t>(d.input * GH)), rt(static_cast<size_t>(H * GH)), bias(static_cast<size_t>(GH));
    std::vector<T> rbh(static_cast<size_t>(H)), h(static_cast<size_t>(B * H)), c(static_cast<size_t>(B * H));
    std::vector<T> tmp(static_cast<size_t>(B * H)), tmp2(static_cast<size_t>(H));
    auto x_row = [&](int64_t t, int64_t b) { return d.batch_first ? b * S + t : t * B + b; };
    auto y_off = [&](int64_t t, int64_t dir, int64_t b) {
        return d.batch_first ? ((b * S + t) * d.dirs + dir) * H : ((t * d.dirs + dir) * B + b) * H;
    };
    auto state_off = [&](int64_t dir, int64_t b) { return d.batch_first ? (b * d.dirs + dir) * H : (dir * B + b) * H; };

    for (int64_t dir = 0; dir < d.dirs; ++dir) {
        const bool backward = reverse_only || dir == 1;
        const Activation* act = &acts[static_cast<size_t>(dir * act_count(cell))];
        transpose(ctx.input(1).data<T>() + dir * GH * d.input, GH, d.input, wt.data());
        transpose(ctx.input(2).data<T>() + dir * GH * H, GH, H, rt.data());
        std::fill(bias.begin(), bias.end(), T(0));
        std::fill(rbh.begin(), rbh.end(), T(0));
        if (ctx.has_input(3)) {
            const T* bp = ctx.input(3).data<T>() + dir * 2 * GH;
            for (int64_t j = 0; j < GH; ++j) bias[static_cast<size_t>(j)] = bp[j] + bp[GH + j];
            if (lbr) {
                // Rb of the hidden gate goes inside the reset product, not into the input bias.
                for (int64_t j = 0; j < H; ++j) {
                    rbh[static_cast<size_t>(j)] = bp[GH + 2 * H + j];
                    bias[static_cast<size_t>(2 * H + j)] = bp[2 * H + j];
                }
            }
        }
        gemm<T>(ctx, S * B, GH, d.input, x, d.input, wt.data(), GH, xw, GH, false);
        for (int64_t row = 0; row < S * B; ++row) {
            T* p = xw + row * GH;
            for (int64_t j = 0; j < GH; ++j) p[j] += bias[static_cast<size_t>(j)];
        }
        for (int64_t b = 0; b < B; ++b) {
            for (int64_t j = 0; j < H; ++j) {
                h[static_cast<size_t>(b * H + j)] = ctx.has_input(5) ? ctx.input(5).data<T>()[state_off(dir, b) + j] : T(0);
                c[static_cast<size_t>(b * H + j)] =
                    (cell == Cell::kLstm && ctx.has_input(6)) ? ctx.input(6).data<T>()[state_off(dir, b) + j] : T(0);
            }
        }
        const T* peep = (cell == Cell::kLstm && ctx.has_input(7)) ? ctx.input(7).data<T>() + dir * 3 * H : nullptr;
        for (int64_t s = 0; s < S; ++s) {
            // The recurrent product; the non-linear-before-reset GRU needs r first, so it multiplies z and r only.
            const int64_t cols = (cell == Cell::kGru && !lbr) ? 2 * H : GH;
            gemm<T>(ctx, B, cols, H, h.data(), H, rt.data(), GH, hr, GH, false);
            for (int64_t b = 0; b < B; ++b) {
                const int64_t len = lens[static_cast<size_t>(b)];
                if (s >= len) continue;
                const int64_t t = backward ? len - 1 - s : s;
                T* g = hr + b * GH;
                const T* xg = xw + x_row(t, b) * GH;
                const int64_t add = cell == Cell::kGru ? 2 * H : GH;  // the GRU's h gate adds X*Wh^T below
                for (int64_t j = 0; j < add; ++j) g[j] += xg[j];
                T* hb = h.data() + b * H;
                if (cell == Cell::kRnn) {
                    activate(act[0], g, H, clip);
                    std::copy(g, g + H, hb);
                } else if (cell == Cell::kLstm) {
                    T* cb = c.data() + b * H;
                    T *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
                    if (peep) {
                        for (int64_t j = 0; j < H; ++j) {
                            gi[j] += peep[j] * cb[j];
                            gf[j] += peep[2 * H + j] * cb[j];
                        }
                    }
                    activate(act[0], gi, H, clip);
                    if (input_forget) {
                        for (int64_t j = 0; j < H; ++j) gf[j] = T(1) - gi[j];
                    } else {
                        activate(act[0], gf, H, clip);
                    }
                    activate(act[1], gc, H, clip);
                    for (int64_t j = 0; j < H; ++j) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
                    if (peep) {
                        for (int64_t j = 0; j < H; ++j) go[j] += peep[H + j] * cb[j];
                    }
                    activate(act[0], go, H, clip);
                    std::copy(cb, cb + H, tmp2.data());
                    activate(act[2], tmp2.data(), H, 0.0f);
                    for (int64_t j = 0; j < H; ++j) hb[j] = go[j] * tmp2[static_cast<size_t>(j)];
                } else {
                    activate(act[0], g, 2 * H, clip);  // z and r
                    if (lbr) {
                        T* gh = g + 2 * H;
                        for (int64_t j = 0; j < H; ++j) gh[j] = xg[2 * H + j] + g[H + j] * (gh[j] + rbh[static_cast<size_t>(j)]);
                    } else {
                        for (int64_t j = 0; j < H; ++j) tmp[static_cast<size_t>(b * H + j)] = g[H + j] * hb[j];
                    }
                }
            }
            if (cell == Cell::kGru) {
                if (!lbr) {
                    // (r . H) * Rh^T for all batch rows at once, then the candidate gate.
                    gemm<T>(ctx, B, H, H, tmp.data(), H, rt.data() + 2 * H, GH, hr + 2 * H, GH, false);
                }
                for (int64_t b = 0; b < B; ++b) {
                    const int64_t len = lens[static_cast<size_t>(b)];
                    if (s >= len) continue;
                    const int64_t t = backward ? len - 1 - s : s;
                    T* g = hr + b * GH;
                    T* gh = g + 2 * H;
                    if (!lbr) {
                        const T* xg = xw + x_row(t, b) * GH;
                        for (int64_t j = 0; j < H; ++j) gh[j] += xg[2 * H + j];
                    }
                    activate(act[1], gh, H, clip);
                    T* hb = h.data() + b * H;
                    for (int64_t j = 0; j < H; ++j) hb[j] = (T(1) - g[j]) * gh[j] + g[j] * hb[j];
                }
            }
            if (y) {
                for (int64_t b = 0; b < B; ++b) {
                    const int64_t len = lens[static_cast<size_t>(b)];
                    if (s >= len) continue;
                    const int64_t t = backward ? len - 1 - s : s;
                    std::copy(h.data() + b * H, h.data() + (b + 1) * H, y + y_off(t, dir, b));
                }
            }
        }
        for (int64_t b = 0; b < B; ++b) {
            if (y_h) std::copy(h.data() + b * H, h.data() + (b + 1) * H, y_h + state_off(dir, b));
            if (y_c) std::copy(c.data() + b * H, c.data() + (b + 1) * H, y_c + state_off(dir, b));
        }
    }
    return Status::ok();
}

template <Cell C>
Status rnn_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(RnnDims d, validate(ctx, C));
    NNPORT_DISPATCH_FLOAT(ctx.input(0).dtype(), T, ctx, return run_cell<T>(ctx, C, d));
    return Status::ok();
}

template <Cell C>
Status rnn_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(int dirs, num_directions(ctx));
    const bool batch_first = ctx.attr_int("layout") != 0;
    const ir::ValueType& x = ctx.input_type(0);
    const ir::ValueType& w = ctx.input_type(1);
    const ir::ValueType& r = ctx.input_type(2);
    if (x.has_shape && x.rank() != 3) return ctx.error("X must be 3-D");
    if (w.has_shape && w.rank() != 3) return ctx.error("W must be 3-D");
    if (r.has_shape && r.rank() != 3) return ctx.error("R must be 3-D");
    const int64_t want_dirs = dirs;
    for (const ir::ValueType* t : {&w, &r}) {
        if (t->has_shape && t->dims[0].is_static() && t->dims[0].value != want_dirs) {
            return ctx.error("W/R have " + std::to_string(t->dims[0].value) + " directions, the direction attribute " +
                             std::to_string(want_dirs));
        }
    }
    NNPORT_RETURN_IF_ERROR(parse_activations(ctx, C, dirs).status());
    ir::Dim seq = ctx.new_dim(), batch = ctx.new_dim(), hidden = ctx.new_dim();
    if (x.has_shape) {
        seq = x.dims[batch_first ? 1 : 0];
        batch = x.dims[batch_first ? 0 : 1];
    }
    if (ctx.has_attr("hidden_size")) {
        hidden = ir::Dim(ctx.attr_int("hidden_size"));
        if (hidden.value < 0) return ctx.error("hidden_size must not be negative");
    } else if (r.has_shape) {
        hidden = r.dims[2];
    } else if (w.has_shape && w.dims[1].is_static()) {
        hidden = ir::Dim(w.dims[1].value / gate_count(C));
    }
    const ir::Dim nd(want_dirs);
    const std::vector<ir::Dim> y = batch_first ? std::vector<ir::Dim>{batch, seq, nd, hidden}
                                               : std::vector<ir::Dim>{seq, nd, batch, hidden};
    const std::vector<ir::Dim> st = batch_first ? std::vector<ir::Dim>{batch, nd, hidden}
                                                : std::vector<ir::Dim>{nd, batch, hidden};
    ctx.set_output(0, ir::ValueType::tensor(x.dtype, y));
    ctx.set_output(1, ir::ValueType::tensor(x.dtype, st));
    if (C == Cell::kLstm) ctx.set_output(2, ir::ValueType::tensor(x.dtype, st));
    return Status::ok();
}

OpDef rnn_def(const char* name, Cell cell, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = 1;
    o.min_inputs = 3;
    o.max_inputs = cell == Cell::kLstm ? 8 : 6;
    o.min_outputs = 0;
    o.max_outputs = cell == Cell::kLstm ? 3 : 2;
    o.attrs = {AttrSpec::floats("activation_alpha"), AttrSpec::floats("activation_beta"),
               AttrSpec::strings("activations"), AttrSpec::none("clip", ir::AttrType::kFloat),
               AttrSpec::s("direction", "forward"), AttrSpec::none("hidden_size", ir::AttrType::kInt),
               AttrSpec::i("layout", 0)};
    if (cell == Cell::kGru) o.attrs.push_back(AttrSpec::i("linear_before_reset", 0));
    if (cell == Cell::kLstm) o.attrs.push_back(AttrSpec::i("input_forget", 0));
    o.input0_types = float_types();
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_RNN() {
    static const OpDef d = [] {
        OpDef o = rnn_def("RNN", Cell::kRnn, "Simple recurrent layer: Ht = f(Xt*W^T + Ht-1*R^T + Wb + Rb).");
        o.infer = rnn_infer<Cell::kRnn>;
        o.kernel = rnn_kernel<Cell::kRnn>;
        return o;
    }();
    return d;
}

const OpDef& op_def_GRU() {
    static const OpDef d = [] {
        OpDef o = rnn_def("GRU", Cell::kGru, "Gated recurrent unit layer (gates z, r, h; linear_before_reset).");
        o.infer = rnn_infer<Cell::kGru>;
        o.kernel = rnn_kernel<Cell::kGru>;
        return o;
    }();
    return d;
}

const OpDef& op_def_LSTM() {
    static const OpDef d = [] {
        OpDef o = rnn_def("LSTM", Cell::kLstm, "Long short-term memory layer (gates i, o, f, c; peepholes, input_forget).");
        o.infer = rnn_infer<Cell::kLstm>;
        o.kernel = rnn_kernel<Cell::kLstm>;
        return o;
    }();
    return d;
}

}  // namespace nnport

// Least-squares refit after structured pruning: each consumer whose input channels were removed gets the weights
// (and bias) that make its output on the calibration samples closest to the unpruned model's output.
#include <algorithm>
#include <cmath>
#include <optional>

#include "convert/least_squares.hpp"
#include "passes/pass_util.hpp"
#include "quant/prune_impl.hpp"

namespace nnport::quant::prune_detail {

namespace {

/// Rows of the design matrix at most per layer: enough for a well-posed fit, few enough to stay fast.
constexpr int64_t kMaxRows = 8192;

using Samples = std::vector<Tensor>;  // one tensor per calibration sample

Result<Samples> capture(const ir::Model& m, const std::string& name, const std::vector<Feeds>& samples,
                        const RunConfig& rc) {
    Samples out(samples.size());
    NNPORT_RETURN_IF_ERROR(run_with_outputs(m, {name}, samples, rc, [&](size_t s, size_t, const Tensor& t) {
        if (t.dtype() != DType::kFloat32) return invalid_argument("prune refit: '" + name + "' is not float32");
        out[s] = t.clone();
        return Status::ok();
    }));
    return out;
}

bool own_constant(const ir::Value* v) {
    const Tensor* t = passes::constant_of(v);
    return t && t->dtype() == DType::kFloat32 && v->uses().size() == 1 && !v->is_graph_output();
}

/// Writes the solution W (n x m, last row the bias when `bias`) back as weight rows w[o][j] (j < n - bias).
void unpack(const std::vector<double>& sol, size_t n, size_t m, bool bias, std::vector<float>& w,
            std::vector<float>& b) {
    const size_t nw = n - (bias ? 1 : 0);
    w.assign(m * nw, 0.0f);
    for (size_t j = 0; j < nw; ++j) {
        for (size_t o = 0; o < m; ++o) w[o * nw + j] = static_cast<float>(sol[j * m + o]);
    }
    b.assign(bias ? m : 0, 0.0f);
    for (size_t o = 0; bias && o < m; ++o) b[o] = static_cast<float>(sol[nw * m + o]);
}

/// Least-squares rows split into a training set and a held-out set that picks the ridge: with few samples and many
/// unknowns an unregularised fit matches the calibration samples and generalises badly. While there are fewer
/// training rows than unknowns the rows are kept and the fit is solved in its dual form (rows x rows), which is what
/// makes refitting wide layers (resnet's 3x3x512 convs on a 7x7 map) affordable.
class ValidatedFit {
public:
    /// n unknowns, m outputs; `by_sample`: hold out whole samples (every fourth), else every fourth row.
    ValidatedFit(size_t n, size_t m, bool by_sample) : ne_(n, m), n_(n), m_(m), by_sample_(by_sample) {}

    void add(size_t sample, const std::vector<double>& x, const std::vector<double>& y) {
        const bool held = by_sample_ ? sample % 4 == 3 : rows_++ % 4 == 3;
        if (!held) {
            if (primal_) {
                ne_.add_row(x.data(), y.data());
                return;
            }
            train_x_.insert(train_x_.end(), x.begin(), x.end());
            train_y_.insert(train_y_.end(), y.begin(), y.end());
            if (train_y_.size() / m_ >= n_) {  // enough rows: switch to the normal equations
                for (size_t r = 0; r < n_; ++r) ne_.add_row(&train_x_[r * n_], &train_y_[r * m_]);
                train_x_ = {};
                train_y_ = {};
                primal_ = true;
            }
        } else if (val_rows_ < kMaxValidationRows) {
            val_x_.insert(val_x_.end(), x.begin(), x.end());
            val_y_.insert(val_y_.end(), y.begin(), y.end());
            ++val_rows_;
        }
    }

    /// The solution with the smallest held-out error over ridges base, 10 base, ... 1000 base; nullopt when none beats
    /// the prior (the pruned weights as they are) on the held-out rows.
    Result<std::optional<std::vector<double>>> solve(double base, const std::vector<double>& prior) {
        const size_t train = primal_ ? ne_.rows() : train_y_.size() / m_;
        if (train == 0) return std::optional<std::vector<double>>();
        if (!primal_) prepare_dual(prior);
        if (val_rows_ == 0) {
            NNPORT_ASSIGN_OR_RETURN(std::vector<double> w, solve_one(base, prior));
            return std::optional<std::vector<double>>(std::move(w));
        }
        double best = error(prior) * 0.999;
        std::optional<std::vector<double>> out;
        for (double ridge = base; ridge <= base * 1000.0 * 1.0001; ridge *= 10.0) {
            auto w = solve_one(std::max(ridge, 1e-9), prior);
            if (!w.is_ok()) continue;
            const double e = error(w.value());
            if (e < best) {
                best = e;
                out = std::move(w).value();
            }
        }
        return out;
    }

private:
    static constexpr size_t kMaxValidationRows = 2048;

    /// K = X X^T and the residual R = Y - X P of the kept training rows.
    void prepare_dual(const std::vector<double>& prior) {
        const size_t r = train_y_.size() / m_;
        gram_.assign(r * r, 0.0);
        for (size_t i = 0; i < r; ++i) {
            for (size_t k = 0; k <= i; ++k) {
                double v = 0.0;
                for (size_t j = 0; j < n_; ++j) v += train_x_[i * n_ + j] * train_x_[k * n_ + j];
                gram_[i * r + k] = gram_[k * r + i] = v;
            }
        }
        resid_ = train_y_;
        for (size_t i = 0; i < r; ++i) {
            for (size_t j = 0; j < n_; ++j) {
                const double x = train_x_[i * n_ + j];
                if (x == 0.0) continue;
                for (size_t o = 0; o < m_; ++o) resid_[i * m_ + o] -= x * prior[j * m_ + o];
            }
        }
    }

    /// W = P + X^T (X X^T + lambda I)^-1 (Y - X P), the same solution as the primal ridge towards P.
    Result<std::vector<double>> solve_one(double ridge, const std::vector<double>& prior) const {
        if (primal_) return ne_.solve(ridge, prior);
        const size_t r = train_y_.size() / m_;
        double trace = 0.0;
        for (size_t i = 0; i < r; ++i) trace += gram_[i * r + i];
        const double lambda = trace > 0.0 ? ridge * trace / static_cast<double>(n_) : ridge;
        std::vector<double> a = gram_, alpha = resid_;
        for (size_t i = 0; i < r; ++i) a[i * r + i] += lambda;
        NNPORT_RETURN_IF_ERROR(convert::cholesky_solve(a, r, alpha, m_));
        std::vector<double> w = prior;
        for (size_t i = 0; i < r; ++i) {
            for (size_t j = 0; j < n_; ++j) {
                const double x = train_x_[i * n_ + j];
                if (x == 0.0) continue;
                for (size_t o = 0; o < m_; ++o) w[j * m_ + o] += x * alpha[i * m_ + o];
            }
        }
        return w;
    }

    double error(const std::vector<double>& w) const {
        double e = 0.0;
        std::vector<double> pred(m_);
        for (size_t r = 0; r < val_rows_; ++r) {
            for (size_t o = 0; o < m_; ++o) pred[o] = -val_y_[r * m_ + o];
            for (size_t j = 0; j < n_; ++j) {
                const double x = val_x_[r * n_ + j];
                if (x == 0.0) continue;
                for (size_t o = 0; o < m_; ++o) pred[o] += x * w[j * m_ + o];
            }
            for (size_t o = 0; o < m_; ++o) e += pred[o] * pred[o];
        }
        return e;
    }

    convert::NormalEquations ne_;
    size_t n_, m_;
    bool by_sample_;
    bool primal_ = false;
    size_t rows_ = 0, val_rows_ = 0;
    std::vector<double> train_x_, train_y_, val_x_, val_y_;
    std::vector<double> gram_, resid_;
};

/// Refits a 2-D Conv with group 1. Returns false (and changes nothing) when its geometry is not handled or no fit
/// beats the pruned weights on the held-out rows.
Result<bool> refit_conv(ir::Node* c, const Samples& x, const Samples& y, const std::vector<int64_t>& kept,
                        double ridge) {
    AttrAccess a = passes::attrs_of(*c);
    const Tensor& w = *passes::constant_of(c->input(1));
    const std::string auto_pad = a.attr_string("auto_pad");
    if (w.rank() != 4 || (auto_pad != "NOTSET" && !auto_pad.empty())) return false;
    const int64_t co = w.dim(0), ci = w.dim(1), kh = w.dim(2), kw = w.dim(3);
    std::vector<int64_t> st = a.attr_ints("strides"), pads = a.attr_ints("pads"), dil = a.attr_ints("dilations");
    if (st.empty()) st = {1, 1};
    if (pads.empty()) pads = {0, 0, 0, 0};
    if (dil.empty()) dil = {1, 1};
    const bool bias = c->input(2) != nullptr;
    const size_t n = static_cast<size_t>(ci * kh * kw) + (bias ? 1 : 0), m = static_cast<size_t>(co);
    ValidatedFit fit(n, m, x.size() >= 4);
    int64_t total = 0;
    for (const Tensor& t : y) total += t.dim(0) * t.dim(2) * t.dim(3);
    const int64_t step = std::max<int64_t>(1, total / kMaxRows);
    std::vector<double> row(n), target(m);
    int64_t pos = 0;
    for (size_t s = 0; s < x.size(); ++s) {
        const Tensor& xi = x[s];
        const Tensor& yi = y[s];
        if (xi.rank() != 4 || xi.dim(1) != ci || yi.rank() != 4) return false;
        const int64_t ih = xi.dim(2), iw = xi.dim(3), oh = yi.dim(2), ow = yi.dim(3), yc = yi.dim(1);
        for (int64_t b = 0; b < yi.dim(0); ++b) {
            for (int64_t p = 0; p < oh * ow; ++p, ++pos) {
                if (pos % step != 0) continue;
                const int64_t py = p / ow, px = p % ow;
                size_t j = 0;
                for (int64_t ch = 0; ch < ci; ++ch) {
                    const float* plane = xi.data<float>() + (b * ci + ch) * ih * iw;
                    for (int64_t ky = 0; ky < kh; ++ky) {
                        const int64_t yy = py * st[0] - pads[0] + ky * dil[0];
                        for (int64_t kx = 0; kx < kw; ++kx, ++j) {
                            const int64_t xx = px * st[1] - pads[1] + kx * dil[1];
                            row[j] = yy >= 0 && yy < ih && xx >= 0 && xx < iw ? plane[yy * iw + xx] : 0.0;
                        }
                    }
                }
                if (bias) row[j] = 1.0;
                for (size_t o = 0; o < m; ++o) target[o] = yi.data<float>()[(b * yc + kept[o]) * oh * ow + p];
                fit.add(s, row, target);
            }
        }
    }
    std::vector<double> prior(n * m);
    const size_t nw = n - (bias ? 1 : 0);
    for (size_t o = 0; o < m; ++o) {
        for (size_t j = 0; j < nw; ++j) prior[j * m + o] = w.data<float>()[o * nw + j];
        if (bias) prior[nw * m + o] = passes::constant_of(c->input(2))->data<float>()[o];
    }
    NNPORT_ASSIGN_OR_RETURN(auto fitted, fit.solve(ridge, prior));
    if (!fitted) return false;
    const std::vector<double>& sol = *fitted;
    std::vector<float> nwts, nb;
    unpack(sol, n, m, bias, nwts, nb);
    c->input(1)->set_initializer(Tensor::from_vector<float>(w.shape(), nwts));
    if (bias) c->input(2)->set_initializer(Tensor::from_vector<float>({co}, nb));
    return true;
}

/// Refits a Gemm (alpha = beta = 1, bias absent or a constant of M values). False when not handled or not better.
Result<bool> refit_gemm(ir::Node* c, const Samples& x, const Samples& y, double ridge) {
    AttrAccess a = passes::attrs_of(*c);
    const Tensor& bw = *passes::constant_of(c->input(1));
    const bool trans_b = a.attr_int("transB") != 0;
    if (a.attr_float("alpha") != 1.0f || a.attr_float("beta") != 1.0f || bw.rank() != 2) return false;
    const int64_t k = trans_b ? bw.dim(1) : bw.dim(0), mo = trans_b ? bw.dim(0) : bw.dim(1);
    const ir::Value* cv = c->input(2);
    if (cv && (!own_constant(cv) || passes::constant_of(cv)->numel() != mo)) return false;
    const bool bias = cv != nullptr;
    const size_t n = static_cast<size_t>(k) + (bias ? 1 : 0), m = static_cast<size_t>(mo);
    ValidatedFit fit(n, m, x.size() >= 4);
    std::vector<double> row(n), target(m);
    for (size_t s = 0; s < x.size(); ++s) {
        if (x[s].rank() != 2 || x[s].dim(1) != k || y[s].rank() != 2 || y[s].dim(1) != mo) return false;
        for (int64_t r = 0; r < x[s].dim(0); ++r) {
            for (int64_t j = 0; j < k; ++j) row[static_cast<size_t>(j)] = x[s].data<float>()[r * k + j];
            if (bias) row[n - 1] = 1.0;
            for (size_t o = 0; o < m; ++o) target[o] = y[s].data<float>()[r * mo + static_cast<int64_t>(o)];
            fit.add(s, row, target);
        }
    }
    std::vector<double> prior(n * m);
    for (int64_t j = 0; j < k; ++j) {
        for (int64_t o = 0; o < mo; ++o) {
            prior[static_cast<size_t>(j * mo + o)] = bw.data<float>()[trans_b ? o * k + j : j * mo + o];
        }
    }
    for (size_t o = 0; bias && o < m; ++o) prior[(n - 1) * m + o] = passes::constant_of(cv)->data<float>()[o];
    NNPORT_ASSIGN_OR_RETURN(auto fitted, fit.solve(ridge, prior));
    if (!fitted) return false;
    const std::vector<double>& sol = *fitted;
    Tensor nb = bw.clone();
    for (int64_t j = 0; j < k; ++j) {
        for (int64_t o = 0; o < mo; ++o) {
            nb.data<float>()[trans_b ? o * k + j : j * mo + o] =
                static_cast<float>(sol[static_cast<size_t>(j * mo + o)]);
        }
    }
    c->input(1)->set_initializer(std::move(nb));
    if (bias) {
        Tensor nc = passes::constant_of(cv)->clone();
        for (size_t o = 0; o < m; ++o) nc.data<float>()[o] = static_cast<float>(sol[(n - 1) * m + o]);
        c->input(2)->set_initializer(std::move(nc));
    }
    return true;
}

}  // namespace

Status refit_consumers(ir::Model& model, const ir::Model& original, const StructuredResult& s,
                       const std::vector<Feeds>& samples, const PruneOptions& o, PruneReport& r) {
    const RunConfig rc{o.backends, o.threads};
    for (ir::Node* c : s.consumers) {
        const std::string in = c->input(0)->name(), out = c->output(0)->name();
        auto y = capture(original, out, samples, rc);
        if (!y.is_ok()) return y.status().with_context("prune refit of " + c->describe());
        auto x = capture(model, in, samples, rc);
        if (!x.is_ok()) return x.status().with_context("prune refit of " + c->describe());
        Result<bool> done = false;
        if (passes::is_op(c, "Conv")) {
            std::vector<int64_t> kept;
            auto it = s.kept_out.find(c);
            if (it != s.kept_out.end()) {
                kept = it->second;
            } else {
                kept.resize(static_cast<size_t>(passes::constant_of(c->input(1))->dim(0)));
                for (size_t i = 0; i < kept.size(); ++i) kept[i] = static_cast<int64_t>(i);
            }
            done = refit_conv(c, x.value(), y.value(), kept, o.ridge);
        } else {
            done = refit_gemm(c, x.value(), y.value(), o.ridge);
        }
        if (!done.is_ok()) return done.status().with_context("prune refit of " + c->describe());
        if (done.value()) {
            r.refitted.push_back(c->name());
        } else {
            r.skipped.push_back(
                {c->name(), c->op_type(),
                 "not refitted: geometry not handled, or no fit beat the pruned weights on held-out samples"});
        }
    }
    return Status::ok();
}

}  // namespace nnport::quant::prune_detail

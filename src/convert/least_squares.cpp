// Dense least squares (ridge-regularised normal equations, Cholesky) for the fitted substitutions.
#include "convert/least_squares.hpp"

#include <cmath>
#include <string>

namespace nnport::convert {

Status cholesky_solve(std::vector<double>& a, size_t n, std::vector<double>& b, size_t m) {
    if (a.size() != n * n || b.size() != n * m) return invalid_argument("cholesky_solve: sizes do not match");
    for (size_t j = 0; j < n; ++j) {
        double d = a[j * n + j];
        for (size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
        if (!(d > 0) || !std::isfinite(d)) {
            return invalid_argument("cholesky_solve: matrix is not positive definite (pivot " + std::to_string(j) +
                                    " is " + std::to_string(d) + ")");
        }
        const double l = std::sqrt(d);
        a[j * n + j] = l;
        for (size_t i = j + 1; i < n; ++i) {
            double s = a[i * n + j];
            for (size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = s / l;
        }
    }
    // Forward (L z = b) then backward (L^T x = z) substitution, all right-hand sides at once.
    for (size_t i = 0; i < n; ++i) {
        for (size_t k = 0; k < i; ++k) {
            const double l = a[i * n + k];
            for (size_t r = 0; r < m; ++r) b[i * m + r] -= l * b[k * m + r];
        }
        for (size_t r = 0; r < m; ++r) b[i * m + r] /= a[i * n + i];
    }
    for (size_t i = n; i-- > 0;) {
        for (size_t k = i + 1; k < n; ++k) {
            const double l = a[k * n + i];
            for (size_t r = 0; r < m; ++r) b[i * m + r] -= l * b[k * m + r];
        }
        for (size_t r = 0; r < m; ++r) b[i * m + r] /= a[i * n + i];
    }
    return Status::ok();
}

NormalEquations::NormalEquations(size_t n, size_t m) : n_(n), m_(m), ata_(n * n, 0.0), aty_(n * m, 0.0) {}

void NormalEquations::add_row(const double* x, const double* y) {
    for (size_t i = 0; i < n_; ++i) {
        const double xi = x[i];
        if (xi == 0) continue;
        double* row = &ata_[i * n_];
        for (size_t j = 0; j <= i; ++j) row[j] += xi * x[j];
        for (size_t r = 0; r < m_; ++r) aty_[i * m_ + r] += xi * y[r];
    }
    ++rows_;
}

void NormalEquations::add_sparse_row(const size_t* idx, const double* x, size_t nnz, const double* y) {
    for (size_t a = 0; a < nnz; ++a) {
        const size_t i = idx[a];
        for (size_t b = 0; b < nnz; ++b) {
            if (idx[b] <= i) ata_[i * n_ + idx[b]] += x[a] * x[b];
        }
        for (size_t r = 0; r < m_; ++r) aty_[i * m_ + r] += x[a] * y[r];
    }
    ++rows_;
}

Result<std::vector<double>> NormalEquations::solve(double ridge, const std::vector<double>& prior) const {
    if (!prior.empty() && prior.size() != n_ * m_) {
        return invalid_argument("least squares: prior has " + std::to_string(prior.size()) + " values, expected " +
                                std::to_string(n_ * m_));
    }
    if (ridge < 0) return invalid_argument("least squares: negative ridge");
    double trace = 0;
    for (size_t i = 0; i < n_; ++i) trace += ata_[i * n_ + i];
    // An all-zero A (no information) still gets a ridge, so the solution is the prior.
    const double lambda = ridge * (trace > 0 ? trace / static_cast<double>(n_) : 1.0);
    std::vector<double> a = ata_;
    std::vector<double> b = aty_;
    for (size_t i = 0; i < n_; ++i) {
        a[i * n_ + i] += lambda;
        if (!prior.empty()) {
            for (size_t r = 0; r < m_; ++r) b[i * m_ + r] += lambda * prior[i * m_ + r];
        }
    }
    Status st = cholesky_solve(a, n_, b, m_);
    if (!st.is_ok()) {
        return st.with_context("least squares with " + std::to_string(n_) + " unknowns and " + std::to_string(rows_) +
                               " rows (increase the ridge or the calibration data)");
    }
    return b;
}

}  // namespace nnport::convert

// Small dense least-squares solver for the fitted substitutions of `nnport convert`: normal equations accumulated
// row by row, ridge-regularised towards a prior, solved by Cholesky in double precision.
#pragma once

#include <cstddef>
#include <vector>

#include "nnport/status.hpp"

namespace nnport::convert {

/// Factors the symmetric positive definite n x n matrix `a` (row-major, only the lower triangle is read) in place
/// into its Cholesky factor L (lower triangle, a = L L^T), then solves a X = B for the n x m right-hand sides `b`
/// (row-major n x m), overwriting b with X. Fails (a changed, b unchanged) when a is not positive definite.
Status cholesky_solve(std::vector<double>& a, size_t n, std::vector<double>& b, size_t m);

/// The normal equations A^T A w = A^T Y of an over- or under-determined linear least-squares problem with n unknowns
/// and m right-hand sides sharing one design matrix A (e.g. one per output channel of a convolution), accumulated
/// one row of A at a time so A itself is never stored.
class NormalEquations {
public:
    /// n unknowns, m right-hand sides.
    explicit NormalEquations(size_t n, size_t m = 1);

    size_t unknowns() const { return n_; }
    size_t rhs() const { return m_; }
    /// Rows added so far.
    size_t rows() const { return rows_; }

    /// Adds one row x (n values) of A with its targets y (m values, one per right-hand side).
    void add_row(const double* x, const double* y);
    /// Adds one sparse row of A: values x at columns idx (nnz entries, distinct), targets y (m values).
    void add_sparse_row(const size_t* idx, const double* x, size_t nnz, const double* y);

    /// Solves (A^T A + lambda I) W = A^T Y + lambda P with lambda = ridge * trace(A^T A) / n (relative, so the
    /// regularisation does not depend on the data's scale; ridge itself when A is all zeros). With ridge 0 this is
    /// plain least squares and fails when A^T A is singular.
    /// `prior` P (n x m row-major, or empty for zeros) is what the ridge pulls the solution towards: the solution
    /// equals P where the data say nothing. Returns W as n x m row-major.
    Result<std::vector<double>> solve(double ridge, const std::vector<double>& prior = {}) const;

private:
    size_t n_, m_;
    size_t rows_ = 0;
    std::vector<double> ata_;  ///< n x n, lower triangle accumulated
    std::vector<double> aty_;  ///< n x m
};

}  // namespace nnport::convert

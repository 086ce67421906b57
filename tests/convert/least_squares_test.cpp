// The dense least-squares solver of the fitted substitutions (src/convert/least_squares.cpp): Cholesky solves,
// normal equations from dense and sparse rows, several right-hand sides, the ridge's pull towards a prior, and the
// errors for bad input.
#include "convert/least_squares.hpp"

#include <gtest/gtest.h>

#include <random>

namespace nnport::convert {
namespace {

TEST(LeastSquares, CholeskySolvesSpdSystem) {
    // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, -2, 3] (two right-hand sides: x and 2x).
    std::vector<double> a = {4, 2, 0, 2, 5, 1, 0, 1, 3};
    const std::vector<double> x = {1, -2, 3};
    std::vector<double> b(6);
    for (size_t i = 0; i < 3; ++i) {
        double s = 0;
        for (size_t j = 0; j < 3; ++j) s += a[i * 3 + j] * x[j];
        b[i * 2] = s;
        b[i * 2 + 1] = 2 * s;
    }
    ASSERT_TRUE(cholesky_solve(a, 3, b, 2).is_ok());
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_NEAR(b[i * 2], x[i], 1e-12);
        EXPECT_NEAR(b[i * 2 + 1], 2 * x[i], 1e-12);
    }
}

TEST(LeastSquares, RejectsIndefiniteAndMismatchedInput) {
    std::vector<double> a = {1, 2, 2, 1};  // eigenvalues 3 and -1
    std::vector<double> b = {1, 1};
    const Status st = cholesky_solve(a, 2, b, 1);
    EXPECT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("not positive definite"), std::string::npos);
    std::vector<double> small = {1};
    EXPECT_FALSE(cholesky_solve(small, 2, b, 1).is_ok());
    NormalEquations ne(2);
    EXPECT_FALSE(ne.solve(1e-6, {1, 2, 3}).is_ok());  // prior of the wrong size
    EXPECT_FALSE(ne.solve(-1).is_ok());
}

TEST(LeastSquares, RecoversExactLinearModel) {
    // y = 0.5 a - 1.5 b + 2 c + 0.25 (bias column), two targets sharing the rows.
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(-1, 1);
    NormalEquations ne(4, 2);
    for (int r = 0; r < 50; ++r) {
        const double row[4] = {u(rng), u(rng), u(rng), 1.0};
        const double y0 = 0.5 * row[0] - 1.5 * row[1] + 2 * row[2] + 0.25;
        const double y[2] = {y0, -y0};
        ne.add_row(row, y);
    }
    EXPECT_EQ(ne.rows(), 50u);
    auto w = ne.solve(0.0);
    ASSERT_TRUE(w.is_ok()) << w.status().message();
    const double want[4] = {0.5, -1.5, 2, 0.25};
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_NEAR((*w)[i * 2], want[i], 1e-9);
        EXPECT_NEAR((*w)[i * 2 + 1], -want[i], 1e-9);
    }
}

TEST(LeastSquares, SparseRowsEqualDenseRows) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(-1, 1);
    NormalEquations dense(5), sparse(5);
    for (int r = 0; r < 40; ++r) {
        const size_t idx[2] = {size_t(r % 5), size_t((r * 3 + 1) % 5)};
        if (idx[0] == idx[1]) continue;
        const double v[2] = {u(rng), u(rng)};
        double row[5] = {0, 0, 0, 0, 0};
        row[idx[0]] = v[0];
        row[idx[1]] = v[1];
        const double y = u(rng);
        dense.add_row(row, &y);
        sparse.add_sparse_row(idx, v, 2, &y);
    }
    auto a = dense.solve(1e-3), b = sparse.solve(1e-3);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    for (size_t i = 0; i < 5; ++i) EXPECT_NEAR((*a)[i], (*b)[i], 1e-12);
}

TEST(LeastSquares, RidgePullsUnobservedUnknownsToThePrior) {
    // Unknown 1 never appears in a row: without a ridge the system is singular; with one it takes the prior's value
    // while unknown 0 still fits the data.
    NormalEquations ne(2);
    for (int r = 1; r <= 10; ++r) {
        const double row[2] = {double(r), 0.0};
        const double y = 3.0 * r;
        ne.add_row(row, &y);
    }
    EXPECT_FALSE(ne.solve(0.0).is_ok());
    auto w = ne.solve(1e-8, {0.0, 7.0});
    ASSERT_TRUE(w.is_ok()) << w.status().message();
    EXPECT_NEAR((*w)[0], 3.0, 1e-6);
    EXPECT_NEAR((*w)[1], 7.0, 1e-9);
    auto z = ne.solve(1e-8);
    ASSERT_TRUE(z.is_ok());
    EXPECT_NEAR((*z)[1], 0.0, 1e-12);
}

}  // namespace
}  // namespace nnport::convert

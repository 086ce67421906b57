// Einsum edge cases (diagonals, ellipsis broadcasting, implicit output, empty dims) and rejections.
#include <gtest/gtest.h>

#include "util/op_runner.hpp"

namespace nnport {
namespace {

Result<std::vector<RtValue>> einsum(const std::string& eq, std::vector<Tensor> in) {
    testing::OpRun r;
    r.op_type = "Einsum";
    r.inputs = std::move(in);
    r.attrs["equation"] = ir::Attribute::make_string(eq);
    return testing::run_op(r);
}

using testing::values;

TEST(Einsum, TraceAndDiagonal) {
    const Tensor m = Tensor::from_vector<float>({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    auto tr = einsum("ii", {m});
    ASSERT_TRUE(tr.is_ok()) << tr.status().to_string();
    EXPECT_EQ(tr.value()[0].tensor.rank(), 0);
    EXPECT_EQ(tr.value()[0].tensor.data<float>()[0], 15.f);
    auto diag = einsum("ii->i", {m});
    ASSERT_TRUE(diag.is_ok());
    EXPECT_EQ(values<float>(diag.value()[0].tensor), (std::vector<float>{1, 5, 9}));
}

TEST(Einsum, ImplicitOutputIsSortedAndTransposes) {
    const Tensor a = Tensor::from_vector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
    auto out = einsum("ba", {a});  // implicit output "ab": a transpose
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{3, 2}));
    EXPECT_EQ(values<int64_t>(out.value()[0].tensor), (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
}

TEST(Einsum, EllipsisBroadcastsBatch) {
    const Tensor a = Tensor::from_vector<float>({2, 1, 2}, {1, 2, 3, 4});  // [2, 1(i), 2(j)]
    const Tensor b = Tensor::from_vector<float>({2, 1}, {10, 20});          // [2(j), 1(k)]
    auto out = einsum("...ij,jk->...ik", {a, b});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 1, 1}));
    EXPECT_EQ(values<float>(out.value()[0].tensor), (std::vector<float>{50, 110}));
}

TEST(Einsum, ThreeOperandsAndOuterProduct) {
    const Tensor a = Tensor::from_vector<float>({2}, {1, 2});
    const Tensor b = Tensor::from_vector<float>({3}, {1, 10, 100});
    auto outer = einsum("i,j->ij", {a, b});
    ASSERT_TRUE(outer.is_ok());
    EXPECT_EQ(values<float>(outer.value()[0].tensor), (std::vector<float>{1, 10, 100, 2, 20, 200}));
    auto three = einsum("i,i,i->", {a, a, a});
    ASSERT_TRUE(three.is_ok());
    EXPECT_EQ(three.value()[0].tensor.data<float>()[0], 9.f);
}

TEST(Einsum, EmptyContraction) {
    auto out = einsum("ij,jk->ik", {Tensor::create(DType::kFloat32, {2, 0}).value(), Tensor::create(DType::kFloat32, {0, 3}).value()});
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.shape(), (Shape{2, 3}));
    for (float v : values<float>(out.value()[0].tensor)) EXPECT_EQ(v, 0.f);
}

TEST(Einsum, RejectsTermCountMismatch) {
    EXPECT_FALSE(einsum("ij,jk->ik", {Tensor::from_vector<float>({1, 1}, {1})}).is_ok());
}

TEST(Einsum, RejectsRankMismatch) { EXPECT_FALSE(einsum("ijk->i", {Tensor::from_vector<float>({1, 1}, {1})}).is_ok()); }

TEST(Einsum, RejectsUnknownOutputLabel) { EXPECT_FALSE(einsum("ij->k", {Tensor::from_vector<float>({1, 1}, {1})}).is_ok()); }

TEST(Einsum, RejectsBadCharacters) {
    EXPECT_FALSE(einsum("i1->i", {Tensor::from_vector<float>({1, 1}, {1})}).is_ok());
    EXPECT_FALSE(einsum("i..->i", {Tensor::from_vector<float>({1}, {1})}).is_ok());
}

TEST(Einsum, RejectsSizeMismatch) {
    EXPECT_FALSE(einsum("ij,jk->ik", {Tensor::from_vector<float>({1, 2}, {1, 2}), Tensor::from_vector<float>({3, 1}, {1, 2, 3})}).is_ok());
    EXPECT_FALSE(einsum("ii->i", {Tensor::from_vector<float>({1, 2}, {1, 2})}).is_ok());
}

}  // namespace
}  // namespace nnport

// Tensor and dtype basics.
#include <gtest/gtest.h>

#include <cmath>

#include "nnport/tensor.hpp"

namespace nnport {

TEST(Tensor, CreateAndReshape) {
    auto t = Tensor::create(DType::kFloat32, {2, 3}, true);
    ASSERT_TRUE(t.is_ok());
    EXPECT_EQ(t->numel(), 6);
    EXPECT_EQ(t->nbytes(), 24u);
    Tensor r = t->reshaped({3, 2});
    EXPECT_EQ(r.raw_data(), t->raw_data());
}

TEST(Tensor, RejectsHugeAndNegativeShapes) {
    EXPECT_FALSE(Tensor::create(DType::kFloat32, {int64_t{1} << 40}).is_ok());
    EXPECT_FALSE(Tensor::create(DType::kFloat32, {-1, 2}).is_ok());
    EXPECT_FALSE(Tensor::create(DType::kFloat32, {int64_t{1} << 32, int64_t{1} << 32}).is_ok());
}

TEST(DType, HalfRoundTrip) {
    for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.1f}) {
        EXPECT_NEAR(static_cast<float>(Float16(f)), f, std::abs(f) * 1e-3f) << f;
    }
    EXPECT_TRUE(std::isinf(static_cast<float>(Float16(1e6f))));
    EXPECT_EQ(static_cast<float>(BFloat16(1.0f)), 1.0f);
}

}  // namespace nnport

// Identity / Constant edge cases.
#include <gtest/gtest.h>

#include "util/op_runner.hpp"

namespace nnport {

TEST(Identity, PassesThrough) {
    testing::OpRun r;
    r.op_type = "Identity";
    r.inputs = {Tensor::from_vector<float>({2}, {1.f, 2.f})};
    auto out = testing::run_op(r);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(out.value()[0].tensor.data<float>()[1], 2.f);
}

TEST(Constant, RejectsMissingValue) {
    testing::OpRun r;
    r.op_type = "Constant";
    auto out = testing::run_op(r);
    EXPECT_FALSE(out.is_ok());
}

}  // namespace nnport

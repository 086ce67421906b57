// The op registry: every listed op is well-formed, unique and findable.
#include <gtest/gtest.h>

#include <set>

#include "ops/op_def.hpp"

namespace nnport {
namespace {

TEST(Registry, EveryOpIsUniqueFindableAndHasAKernel) {
    std::set<std::string> seen;
    for (const OpDef* d : all_ops()) {
        ASSERT_NE(d, nullptr);
        EXPECT_FALSE(d->name.empty());
        EXPECT_TRUE(seen.insert(d->domain + ":" + d->name).second) << "listed twice: " << d->domain << ":" << d->name;
        EXPECT_EQ(find_op(d->domain, d->name), d) << d->name;
        EXPECT_NE(d->kernel, nullptr) << d->name << " has no reference kernel";
        EXPECT_NE(d->infer, nullptr) << d->name << " has no shape inference";
        EXPECT_GE(d->since_version, 1) << d->name;
        if (d->max_inputs >= 0) {
            EXPECT_LE(d->min_inputs, d->max_inputs) << d->name;
        }
        if (d->max_outputs >= 0) {
            EXPECT_LE(d->min_outputs, d->max_outputs) << d->name;
        }
        EXPECT_FALSE(d->doc.empty()) << d->name << " has no doc line";
    }
    EXPECT_EQ(find_op("ai.onnx", "Relu"), find_op("", "Relu"));
    EXPECT_EQ(find_op("", "NoSuchOp"), nullptr);
    EXPECT_EQ(find_op("com.example", "Relu"), nullptr);
}

}  // namespace
}  // namespace nnport

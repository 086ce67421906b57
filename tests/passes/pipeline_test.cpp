// Tests of the optimizer driver and pass helpers (the passes have their own test files).
#include <gtest/gtest.h>

#include "passes/pass_test_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::testing {
namespace {

onnx::GraphProto relu_chain() {
    onnx::GraphProto g;
    add_input(&g, "x", onnx::TensorProto::FLOAT, {2, 3});
    add_node(&g, "Relu", {"x"}, {"a"});
    add_node(&g, "Neg", {"a"}, {"y"});
    add_output(&g, "y");
    return g;
}

TEST(Pipeline, AllLevelsKeepResultsAndNames) {
    const auto m = make_model(relu_chain());
    for (int level = 0; level <= passes::kMaxLevel; ++level) check_pipeline(m, level);
}

TEST(Pipeline, RejectsBadLevelAndUnknownPass) {
    auto model = load_ir(make_model(relu_chain()));
    passes::OptimizeOptions o;
    o.level = 7;
    EXPECT_FALSE(passes::optimize(*model, o).is_ok());
    o.level = 1;
    o.disabled = {"no_such_pass"};
    EXPECT_FALSE(passes::optimize(*model, o).is_ok());
    passes::PassContext ctx;
    EXPECT_FALSE(passes::run_pass(*model, "no_such_pass", ctx).is_ok());
}

TEST(Pipeline, PassNamesAreUniqueAndDescribed) {
    std::set<std::string> names;
    for (const auto& p : passes::all_passes()) {
        EXPECT_TRUE(names.insert(p->name()).second) << p->name();
        EXPECT_GT(std::string(p->description()).size(), 10u) << p->name();
        EXPECT_GE(passes::pass_level(p->name()), 1);
    }
}

TEST(PassUtil, ReplaceValueKeepsGraphOutputName) {
    auto model = load_ir(make_model(relu_chain()));
    ir::Graph& g = *model->graph;
    ir::Node* neg = g.nodes()[1].get();
    ir::Value* a = neg->input(0);
    ir::Value* y = neg->output(0);
    ASSERT_TRUE(passes::replace_value(g, y, a));
    g.remove_node(neg);
    g.remove_unused_values();
    ASSERT_EQ(g.outputs().size(), 1u);
    EXPECT_EQ(g.outputs()[0]->name(), "y");
    EXPECT_EQ(g.outputs()[0], a);
    EXPECT_TRUE(ir::verify(g).is_ok());
}

TEST(PassUtil, ReplaceValueRefusesGraphInputAsOutput) {
    onnx::GraphProto gp;
    add_input(&gp, "x", onnx::TensorProto::FLOAT, {2});
    add_node(&gp, "Identity", {"x"}, {"y"});
    add_output(&gp, "y");
    auto model = load_ir(make_model(gp));
    ir::Graph& g = *model->graph;
    EXPECT_FALSE(passes::replace_value(g, g.outputs()[0], g.inputs()[0]));
    EXPECT_EQ(g.outputs()[0]->name(), "y");
}

TEST(PassUtil, MakeNodeResolvesDefAndUniqueNames) {
    auto model = load_ir(make_model(relu_chain()));
    passes::PassContext ctx;
    ctx.model = model.get();
    ir::Graph& g = *model->graph;
    auto n = passes::make_node(g, ctx, "Split", "", "a", {g.inputs()[0]}, 2);
    ASSERT_TRUE(n.is_ok()) << n.status().message();
    EXPECT_NE((*n)->def, nullptr);
    EXPECT_EQ((*n)->opset, 17);
    EXPECT_NE((*n)->output(0)->name(), (*n)->output(1)->name());
    EXPECT_FALSE(passes::make_node(g, ctx, "NoSuchOp", "", "z", {}).is_ok());
}

}  // namespace
}  // namespace nnport::testing

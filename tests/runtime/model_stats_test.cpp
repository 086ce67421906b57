// Model statistics: FLOP counts per op family, fused ops, unknown shapes, parameters.
#include "runtime/model_stats.hpp"

#include <gtest/gtest.h>

namespace nnport {
namespace {

ir::ValueType f32(const Shape& s) { return ir::ValueType::tensor(DType::kFloat32, s); }

/// Adds a value of the given shape (a graph input) to `g`.
ir::Value* input(ir::Graph& g, const std::string& name, const Shape& s) {
    ir::Value* v = g.add_value(name, f32(s)).value();
    g.inputs().push_back(v);
    return v;
}

/// Adds a node with one output of shape `out`.
ir::Node* node(ir::Graph& g, const std::string& op, const std::vector<ir::Value*>& ins, const Shape& out,
               const std::string& domain = "") {
    ir::Node* n = g.add_node(op, domain, op + std::to_string(g.nodes().size()), ins, {g.unique_name("y")}).value();
    n->output(0)->type = f32(out);
    return n;
}

TEST(ModelStats, ConvCountsTwoFlopsPerMultiplyAdd) {
    ir::Graph g("g");
    ir::Value* w = g.add_value("w", f32({4, 3, 3, 3})).value();
    w->set_initializer(Tensor::create(DType::kFloat32, {4, 3, 3, 3}).value());
    node(g, "Conv", {input(g, "x", {1, 3, 8, 8}), w}, {1, 4, 6, 6});
    const ModelStats s = compute_stats(g);
    EXPECT_EQ(s.flops, 2 * 144 * 27);  // 144 outputs, 27 multiply-adds each
    EXPECT_EQ(s.parameter_count, 108);
    EXPECT_EQ(s.op_histogram.at("Conv"), 1);
}

TEST(ModelStats, FusedOpsCostWhatTheirBaseOpCosts) {
    ir::Graph g("g");
    ir::Value* x = input(g, "x", {1, 3, 8, 8});
    ir::Value* w = input(g, "w", {4, 3, 3, 3});
    node(g, "FusedConv", {x, w}, {1, 4, 6, 6}, "com.nnport");
    node(g, "FusedMatMul", {input(g, "a", {2, 5, 7}), input(g, "b", {7, 3})}, {2, 5, 3}, "com.nnport");
    const ModelStats s = compute_stats(g);
    EXPECT_EQ(s.flops, 2 * 144 * 27 + 2 * 30 * 7);
    EXPECT_EQ(s.op_histogram.at("com.nnport.FusedConv"), 1);
}

TEST(ModelStats, MatMulAndGemm) {
    ir::Graph g("g");
    node(g, "MatMul", {input(g, "a", {2, 5, 7}), input(g, "b", {7, 3})}, {2, 5, 3});
    node(g, "Gemm", {input(g, "c", {4, 6}), input(g, "d", {6, 2})}, {4, 2});
    ir::Node* t = node(g, "Gemm", {input(g, "e", {6, 4}), input(g, "f", {6, 2})}, {4, 2});
    t->attrs["transA"] = ir::Attribute::make_int(1);
    EXPECT_EQ(compute_stats(g).flops, 2 * 30 * 7 + 2 * 8 * 6 + 2 * 8 * 6);
}

TEST(ModelStats, RecurrentOpsCountTheirGateProducts) {
    ir::Graph g("g");
    // seq 5, batch 2, input 4, hidden 3, one direction: per step 2·batch·4H·(I + H).
    ir::Node* n =
        g.add_node("LSTM", "", "lstm", {input(g, "x", {5, 2, 4}), input(g, "w", {1, 12, 4}), input(g, "r", {1, 12, 3})},
                   {"y", "y_h", "y_c"})
            .value();
    n->output(0)->type = f32({5, 1, 2, 3});
    EXPECT_EQ(compute_stats(g).flops, 5 * 2 * 2 * 12 * (4 + 3));
}

TEST(ModelStats, ElementwiseAndShapeOpsAndUnknownShapes) {
    ir::Graph g("g");
    ir::Value* x = input(g, "x", {2, 3});
    node(g, "Relu", {x}, {2, 3});
    node(g, "Reshape", {x}, {6});
    ir::Node* dyn = g.add_node("Relu", "", "dyn", {x}, {"d"}).value();
    dyn->output(0)->type = ir::ValueType::tensor(DType::kFloat32, std::vector<ir::Dim>{ir::Dim::symbol("N")});
    const ModelStats s = compute_stats(g);
    EXPECT_EQ(s.flops, 6);
    EXPECT_EQ(s.nodes_without_flops, 1);
    EXPECT_EQ(s.node_count, 3);
}

}  // namespace
}  // namespace nnport

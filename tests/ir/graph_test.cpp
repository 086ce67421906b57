// Graph IR: construction, verifier rejections, topological order.
#include <gtest/gtest.h>

#include "ir/graph.hpp"

namespace nnport::ir {

TEST(Graph, VerifierAcceptsWellFormedGraph) {
    Graph g("g");
    Value* x = g.add_value("x", ValueType::tensor(DType::kFloat32, Shape{2})).value();
    g.inputs().push_back(x);
    Node* n = g.add_node("Relu", "", "r", {x}, {"y"}).value();
    g.outputs().push_back(n->output(0));
    EXPECT_TRUE(verify(g).is_ok());
    EXPECT_EQ(x->uses().size(), 1u);
}

TEST(Graph, VerifierRejectsUndefinedInputAndDuplicateDefinition) {
    Graph g("g");
    EXPECT_FALSE(g.add_value("x").value() == nullptr);
    EXPECT_FALSE(g.add_value("x").is_ok());  // defined twice
    Graph h("h");
    Value* orphan = h.add_value("orphan").value();  // neither input, initializer nor produced
    Node* n = h.add_node("Relu", "", "r", {orphan}, {"y"}).value();
    h.outputs().push_back(n->output(0));
    Status st = verify(h);
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("not defined"), std::string::npos) << st.message();
}

TEST(Graph, TopoSortReordersAndDetectsCycles) {
    Graph g("g");
    Value* x = g.add_value("x").value();
    g.inputs().push_back(x);
    Node* b = g.add_node("Relu", "", "b", {}, {"vb"}).value();
    Node* a = g.add_node("Relu", "", "a", {x}, {"va"}).value();
    b->set_input(0, a->output(0));
    g.outputs().push_back(b->output(0));
    ASSERT_TRUE(g.topo_sort().is_ok());
    EXPECT_EQ(g.nodes()[0]->name(), "a");
    a->set_input(0, b->output(0));  // a <-> b
    Status st = g.topo_sort();
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("cycle"), std::string::npos);
}

TEST(Graph, SubgraphCapturesOuterValuesAndVerifierChecksThem) {
    auto outer = std::make_unique<Graph>("main");
    Value* c = outer->add_value("c").value();
    outer->inputs().push_back(c);
    auto body = std::make_shared<Graph>("body", outer.get());
    Value* cap = body->capture(c);
    EXPECT_EQ(cap->outer(), c);
    Node* inner = body->add_node("Identity", "", "i", {cap}, {"o"}).value();
    body->outputs().push_back(inner->output(0));
    Node* iff = outer->add_node("If", "", "if", {c}, {"r"}).value();
    iff->attrs["then_branch"] = Attribute::make_graph(body);
    outer->outputs().push_back(iff->output(0));
    EXPECT_TRUE(verify(*outer).is_ok());
    // A capture of a value from a graph that is not an enclosing scope is rejected.
    Graph other("other");
    Value* foreign = other.add_value("f").value();
    auto bad = std::make_shared<Graph>("bad", outer.get());
    Value* cap2 = bad->capture(foreign);
    Node* n2 = bad->add_node("Identity", "", "j", {cap2}, {"p"}).value();
    bad->outputs().push_back(n2->output(0));
    iff->attrs["else_branch"] = Attribute::make_graph(bad);
    Status st = verify(*outer);
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("enclosing scope"), std::string::npos) << st.message();
}

}  // namespace nnport::ir

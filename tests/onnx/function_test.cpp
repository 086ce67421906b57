// Model-local functions (FunctionProto) are inlined at import, with attribute references resolved.
#include <gtest/gtest.h>

#include "nnport/nnport.hpp"
#include "onnx/importer.hpp"
#include "onnx/proto.hpp"

namespace nnport {

TEST(FunctionInlining, ExpandsCallsAndResolvesAttributeReferences) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    auto* cust = m.add_opset_import();
    cust->set_domain("custom");
    cust->set_version(1);
    auto* f = m.add_functions();
    f->set_name("Twice");
    f->set_domain("custom");
    f->add_input("a");
    f->add_output("b");
    f->add_attribute("unused");
    auto* f_id = f->add_node();
    f_id->set_op_type("Identity"), f_id->set_name("inner1"), f_id->add_input("a"), f_id->add_output("t");
    auto* f_id2 = f->add_node();
    f_id2->set_op_type("Identity"), f_id2->set_name("inner2"), f_id2->add_input("t"), f_id2->add_output("b");
    *f->add_opset_import() = m.opset_import(0);
    auto* g = m.mutable_graph();
    g->set_name("g");
    auto* call = g->add_node();
    call->set_op_type("Twice"), call->set_domain("custom"), call->set_name("call"), call->add_input("x"), call->add_output("y");
    auto* in = g->add_input();
    in->set_name("x");
    in->mutable_type()->mutable_tensor_type()->set_elem_type(1);
    in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
    g->add_output()->set_name("y");
    const std::string bytes = m.SerializeAsString();
    auto model = onnx_import::load_model_from_memory(bytes.data(), bytes.size(), "", "fn");
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    const ir::Graph& graph = *model.value()->graph;
    ASSERT_EQ(graph.nodes().size(), 2u);
    EXPECT_EQ(graph.nodes()[0]->name(), "call/inner1");
    EXPECT_NE(graph.find_value("call/t"), nullptr);
    auto s = Session::from_model(std::move(model).value());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    auto out = s.value()->run({{"x", Tensor::from_vector<float>({2}, {3.f, 4.f})}});
    ASSERT_TRUE(out.is_ok());
    EXPECT_EQ(out.value()[0].data<float>()[1], 4.f);
}

}  // namespace nnport

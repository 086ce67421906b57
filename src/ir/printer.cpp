// Text form of a graph, for tests and `inspect --graph`.
#include <sstream>

#include "ir/graph.hpp"

namespace nnport::ir {

static void print_graph(const Graph& g, std::ostringstream& os, const std::string& indent) {
    os << indent << "graph " << g.name() << " (";
    for (size_t i = 0; i < g.inputs().size(); ++i) {
        os << (i ? ", " : "") << g.inputs()[i]->name() << ": " << g.inputs()[i]->type.to_string();
    }
    os << ") -> (";
    for (size_t i = 0; i < g.outputs().size(); ++i) os << (i ? ", " : "") << g.outputs()[i]->name();
    os << ")\n";
    for (const auto& n : g.nodes()) {
        os << indent << "  ";
        for (size_t i = 0; i < n->outputs().size(); ++i) {
            os << (i ? ", " : "") << (n->output(i) ? n->output(i)->name() : "_");
        }
        os << " = " << (n->domain().empty() ? "" : n->domain() + ".") << n->op_type() << "(";
        for (size_t i = 0; i < n->inputs().size(); ++i) {
            os << (i ? ", " : "") << (n->input(i) ? n->input(i)->name() : "_");
        }
        os << ")";
        bool first = true;
        for (const auto& [k, a] : n->attrs) {
            os << (first ? " {" : ", ") << k << "=";
            first = false;
            switch (a.type) {
                case AttrType::kInt: os << a.i; break;
                case AttrType::kFloat: os << a.f; break;
                case AttrType::kString: os << '"' << a.s << '"'; break;
                case AttrType::kInts: {
                    os << "[";
                    for (size_t i = 0; i < a.ints.size(); ++i) os << (i ? "," : "") << a.ints[i];
                    os << "]";
                    break;
                }
                case AttrType::kFloats: {
                    os << "[";
                    for (size_t i = 0; i < a.floats.size(); ++i) os << (i ? "," : "") << a.floats[i];
                    os << "]";
                    break;
                }
                case AttrType::kTensor: os << "tensor" << shape_to_string(a.t.shape()); break;
                default: os << attr_type_name(a.type); break;
            }
        }
        if (!first) os << "}";
        os << "\n";
        for (const Graph* sg : n->subgraphs()) print_graph(*sg, os, indent + "    ");
    }
}

std::string to_text(const Graph& g) {
    std::ostringstream os;
    print_graph(g, os, "");
    return os.str();
}

}  // namespace nnport::ir

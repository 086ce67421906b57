// The rewrite registry: the catalogue names mapped to their implementations (listed in rewrites/*.inc).
#include "convert/rewrite.hpp"

#include "runtime/shape_inference.hpp"

namespace nnport::convert {

const std::vector<RewriteImpl>& rewrite_impls() {
    static const std::vector<RewriteImpl> impls = {
#define NNPORT_REWRITE(name) {#name, &rewrite_##name},
#include "convert/rewrites/rewrites_elementwise.inc"
#include "convert/rewrites/rewrites_structural.inc"
#undef NNPORT_REWRITE
    };
    return impls;
}

const RewriteImpl* find_rewrite_impl(const std::string& name) {
    for (const RewriteImpl& r : rewrite_impls()) {
        if (name == r.name) return &r;
    }
    return nullptr;
}

Result<bool> apply_rewrite(ir::Model& model, ir::Graph& g, ir::Node* n, const RewriteImpl& impl, RewriteContext& ctx) {
    const std::string where = std::string("rewrite ") + impl.name + " on " + n->describe();
    ctx.pass_ctx.model = &model;
    ctx.pass_ctx.allow_custom_ops = false;
    ctx.pass_ctx.current_pass = impl.name;
    auto r = impl.fn(g, n, ctx);
    if (!r.is_ok()) return r.status().with_context(where);
    if (!*r) return false;
    model.graph->recount_captures();
    NNPORT_RETURN_IF_ERROR(g.topo_sort().with_context(where));
    g.remove_unused_values();
    if (Status st = ir::verify(*model.graph); !st.is_ok()) return internal_error(where + " broke the graph: " + st.message());
    ConstantMap consts;
    if (Status st = infer_graph(*model.graph, consts); !st.is_ok())
        return internal_error(where + " left a graph that fails type inference: " + st.message());
    return true;
}

}  // namespace nnport::convert

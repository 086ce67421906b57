// Scenario 3: cutting trailing nodes into a host post-processing model, and packing target outputs into one.
#include "convert/post_split.hpp"

#include <algorithm>
#include <sstream>

#include "convert/verify.hpp"
#include "passes/pass_util.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::convert {

namespace {

/// Removes the nodes for which `drop` holds, consumers first.
void remove_nodes(ir::Graph& g, const std::function<bool(const ir::Node&)>& drop) {
    std::vector<ir::Node*> victims;
    for (const auto& np : g.nodes()) {
        if (drop(*np)) victims.push_back(np.get());
    }
    for (auto it = victims.rbegin(); it != victims.rend(); ++it) g.remove_node(*it);
}

/// Static shape of a tensor value, or an error naming it.
Result<Shape> static_shape(const ir::Value* v, const char* why) {
    if (!v->type.is_tensor() || !v->type.is_static()) {
        return unsupported("cannot " + std::string(why) + " tensor '" + v->name() + "' of type " +
                           v->type.to_string() + ": its shape must be static (pin the input shapes)");
    }
    return v->type.static_shape();
}

Status reinfer(ir::Model& m) {
    NNPORT_RETURN_IF_ERROR(m.graph->topo_sort());
    m.graph->remove_unused_values();
    NNPORT_RETURN_IF_ERROR(ir::verify(*m.graph));
    ConstantMap consts;
    return infer_graph(*m.graph, consts);
}

}  // namespace

Result<SplitModels> split_post_processing(const ir::Model& m, const std::set<std::string>& moved, bool pack) {
    SplitModels s;
    const ir::Graph& g = *m.graph;
    auto is_moved = [&](const ir::Node* n) { return n && moved.count(n->name()); };
    for (const auto& np : g.nodes()) {
        if (!is_moved(np.get())) continue;
        s.moved.push_back(np->name());
        for (const ir::Value* o : np->outputs()) {
            if (!o) continue;
            for (const ir::Use& u : o->uses()) {
                if (!is_moved(u.node)) {
                    return invalid_argument("cannot move " + np->describe() + " to post-processing: " +
                                            u.node->describe() + " on the target reads its output");
                }
            }
        }
    }
    // Tensors the host needs from the target: original outputs computed there, then the cut tensors.
    std::vector<const ir::Value*> needed;
    auto need = [&](const ir::Value* v) {
        if (std::find(needed.begin(), needed.end(), v) == needed.end()) needed.push_back(v);
    };
    for (const ir::Value* o : g.outputs()) {
        if (o->producer() && !is_moved(o->producer())) need(o);
    }
    for (const auto& np : g.nodes()) {
        if (!is_moved(np.get())) continue;
        for (const ir::Value* v : np->inputs()) {
            if (v && v->producer() && !is_moved(v->producer()) && !passes::constant_of(v)) {
                need(v);
                s.cut.push_back(v->name());
            }
        }
    }
    std::sort(s.cut.begin(), s.cut.end());
    s.cut.erase(std::unique(s.cut.begin(), s.cut.end()), s.cut.end());
    std::vector<std::string> needed_names;
    for (const ir::Value* v : needed) needed_names.push_back(v->name());

    // The target: moved nodes removed, outputs = what the host needs.
    NNPORT_ASSIGN_OR_RETURN(s.target, clone_model(m));
    ir::Graph& tg = *s.target->graph;
    tg.outputs().clear();
    for (const std::string& n : needed_names) tg.outputs().push_back(tg.find_value(n));
    remove_nodes(tg, [&](const ir::Node& n) { return moved.count(n.name()) != 0; });
    passes::remove_dead_nodes(tg);
    NNPORT_RETURN_IF_ERROR(reinfer(*s.target));

    const bool packing = pack && needed.size() > 1;
    if (!moved.empty() || packing) {
        NNPORT_ASSIGN_OR_RETURN(s.post, clone_model(m));
        ir::Graph& pg = *s.post->graph;
        passes::PassContext ctx;
        ctx.model = s.post.get();
        ctx.allow_custom_ops = false;
        // Each needed tensor becomes a post-processing input (temporarily under a new name).
        std::vector<std::pair<ir::Value*, std::string>> renames;
        std::vector<ir::Value*> new_inputs;
        for (size_t i = 0; i < needed.size(); ++i) {
            const std::string& n = needed_names[i];
            ir::Value* v = pg.find_value(n);
            // The type comes from the (inferred) source model: the clone's intermediate values are untyped.
            NNPORT_ASSIGN_OR_RETURN(ir::Value * nv, pg.add_value(pg.unique_name(n + "_host"), needed[i]->type));
            pg.replace_all_uses(v, nv);
            new_inputs.push_back(nv);
            renames.emplace_back(nv, n);
        }
        remove_nodes(pg, [&](const ir::Node& n) { return moved.count(n.name()) == 0; });
        std::vector<ir::Value*> inputs = new_inputs;
        for (ir::Value* v : pg.inputs()) {
            if (!v->uses().empty() || v->is_graph_output()) inputs.push_back(v);
        }
        pg.inputs() = inputs;
        pg.remove_unused_values();
        for (auto& [nv, name] : renames) NNPORT_RETURN_IF_ERROR(pg.rename_value(nv, name));
        if (packing) {
            // Target: Reshape(-1) each needed tensor and Concat them; post: Slice + Reshape them back.
            passes::PassContext tctx;
            tctx.model = s.target.get();
            tctx.allow_custom_ops = false;
            std::vector<ir::Value*> flat;
            int64_t offset = 0;
            const DType dt = needed.front()->type.dtype;
            for (const std::string& n : needed_names) {
                ir::Value* v = tg.find_value(n);
                NNPORT_ASSIGN_OR_RETURN(Shape shape, static_shape(v, "pack"));
                if (v->type.dtype != dt) {
                    return unsupported("cannot pack outputs of different element types into one: '" +
                                       needed_names.front() + "' is " + dtype_name(dt) + ", '" + n + "' is " +
                                       dtype_name(v->type.dtype));
                }
                PackedTensor p{n, dt, shape, offset, shape_numel(shape)};
                offset += p.count;
                s.packed.push_back(p);
                ir::Value* minus1 = passes::add_constant(tg, n + "_flat_shape", Tensor::from_vector<int64_t>({1}, {-1}));
                NNPORT_ASSIGN_OR_RETURN(ir::Node * r, passes::make_node(tg, tctx, "Reshape", "", n + "_flat", {v, minus1}));
                flat.push_back(r->output(0));
            }
            NNPORT_ASSIGN_OR_RETURN(ir::Node * cat, passes::make_node(tg, tctx, "Concat", "", "nnport_pack", flat));
            cat->attrs["axis"] = ir::Attribute::make_int(0);
            s.packed_name = tg.unique_name("nnport_packed");
            NNPORT_RETURN_IF_ERROR(tg.rename_value(cat->output(0), s.packed_name));
            tg.outputs() = {cat->output(0)};
            NNPORT_RETURN_IF_ERROR(reinfer(*s.target));

            NNPORT_ASSIGN_OR_RETURN(ir::Value * packed_in,
                                    pg.add_value(s.packed_name, ir::ValueType::tensor(dt, Shape{offset})));
            for (const PackedTensor& p : s.packed) {
                ir::Value* v = pg.find_value(p.name);
                if (!v) continue;  // not read by post-processing (cannot happen: needed tensors are read or output)
                auto c = [&](const std::string& suffix, std::vector<int64_t> vals) {
                    const int64_t n = static_cast<int64_t>(vals.size());
                    return passes::add_constant(pg, p.name + suffix, Tensor::from_vector<int64_t>({n}, vals));
                };
                NNPORT_ASSIGN_OR_RETURN(ir::Node * sl, passes::make_node(pg, ctx, "Slice", "", p.name + "_unpack",
                                                                        {packed_in, c("_start", {p.offset}),
                                                                         c("_end", {p.offset + p.count}),
                                                                         c("_axis", {0})}));
                NNPORT_ASSIGN_OR_RETURN(ir::Node * rs, passes::make_node(pg, ctx, "Reshape", "", p.name + "_shape",
                                                                        {sl->output(0), c("_dims", p.shape)}));
                // The unpacked tensor takes the place (and name) of the post model's input.
                pg.replace_all_uses(v, rs->output(0));
                pg.inputs().erase(std::find(pg.inputs().begin(), pg.inputs().end(), v));
                pg.remove_unused_values();
                NNPORT_RETURN_IF_ERROR(pg.rename_value(rs->output(0), p.name));
            }
            pg.inputs().insert(pg.inputs().begin(), packed_in);
            s.post->metadata_props.emplace_back("nnport.packed_outputs", packed_manifest_json(s));
        }
        s.post->producer_name = "nnport";
        NNPORT_RETURN_IF_ERROR(reinfer(*s.post));
    }
    return s;
}

std::string packed_manifest_json(const SplitModels& s) {
    std::ostringstream o;
    o << "{\"packed_output\": \"" << s.packed_name << "\", \"tensors\": [";
    for (size_t i = 0; i < s.packed.size(); ++i) {
        const PackedTensor& p = s.packed[i];
        o << (i ? ", " : "") << "{\"name\": \"" << p.name << "\", \"dtype\": \"" << dtype_name(p.dtype)
          << "\", \"shape\": [";
        for (size_t k = 0; k < p.shape.size(); ++k) o << (k ? ", " : "") << p.shape[k];
        o << "], \"offset\": " << p.offset << ", \"count\": " << p.count << "}";
    }
    o << "]}";
    return o.str();
}

}  // namespace nnport::convert

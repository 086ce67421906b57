// The conversion driver: check -> rewrite rounds -> post-processing split -> export round trip -> verification.
#include "convert/convert.hpp"

#include <algorithm>
#include <set>

#include "convert/post_split.hpp"
#include "onnx/exporter.hpp"
#include "onnx/importer.hpp"
#include "onnx/proto.hpp"
#include "passes/pipeline.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::convert {

namespace {

/// Catalogue entries that are optimizer clean-up passes rather than node rewrites.
const std::map<std::string, std::vector<std::string>> kPassRewrites = {
    {"constant_folding", {"constant_folding", "shape_folding", "dead_code"}},
    {"identity_elimination", {"eliminate_noop", "dead_code"}},
    {"dropout_elimination", {"eliminate_noop", "dead_code"}},
    {"cast_elimination", {"eliminate_noop", "dead_code"}},
};

/// Gives every unnamed node of `proto` (and its subgraphs) a unique name, so issues, rewrites and reports can
/// name them.
void name_nodes(onnx::GraphProto* g, std::set<std::string>& used, int& counter) {
    for (auto& n : *g->mutable_node()) {
        if (!n.name().empty()) used.insert(n.name());
    }
    for (auto& n : *g->mutable_node()) {
        if (n.name().empty()) {
            std::string name;
            do {
                name = n.op_type() + "_" + std::to_string(counter++);
            } while (used.count(name));
            used.insert(name);
            n.set_name(name);
        }
        for (auto& a : *n.mutable_attribute()) {
            if (a.has_g()) name_nodes(a.mutable_g(), used, counter);
            for (auto& sg : *a.mutable_graphs()) name_nodes(&sg, used, counter);
        }
    }
}

/// A model round-tripped through ONNX at `opset` (0: its own): what a file written now would load as. With
/// `name`, unnamed nodes get names.
Result<std::unique_ptr<ir::Model>> round_trip(const ir::Model& m, int64_t opset, bool name) {
    onnx_export::ExportOptions o;
    o.opset = opset;
    o.value_info = false;
    NNPORT_ASSIGN_OR_RETURN(std::string bytes, onnx_export::serialize_model(m, o));
    if (name) {
        onnx::ModelProto p;
        if (!p.ParseFromString(bytes)) return internal_error(m.source + ": cannot re-read the serialized model");
        std::set<std::string> used;
        int counter = 0;
        name_nodes(p.mutable_graph(), used, counter);
        bytes = p.SerializeAsString();
    }
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> c,
                            onnx_import::load_model_from_memory(bytes.data(), bytes.size(), "", m.source));
    c->source = m.source;
    return c;
}

ir::Node* find_node(ir::Model& m, const std::string& name) {
    ir::Node* found = nullptr;
    m.graph->for_each_node_recursive([&](ir::Node& n) {
        if (!found && n.name() == name) found = &n;
    });
    return found;
}

const Rewrite* catalogue_entry(const RewriteCatalogue& cat, const std::string& name) {
    for (const Rewrite& r : cat.rewrites) {
        if (r.name == name) return &r;
    }
    return nullptr;
}

/// Pins symbolic input dims: the user's shapes, else 1.
Status pin_inputs(ir::Model& m, const std::map<std::string, std::vector<int64_t>>& shapes, bool all) {
    for (const auto& [name, dims] : shapes) {
        const bool known = std::any_of(m.graph->inputs().begin(), m.graph->inputs().end(),
                                       [&](const ir::Value* v) { return v->name() == name; });
        if (!known) return invalid_argument(m.source + ": --input-shape names '" + name + "', not an input");
    }
    for (ir::Value* v : m.graph->inputs()) {
        if (v->has_initializer() || !v->type.is_tensor()) continue;
        auto it = shapes.find(v->name());
        if (it != shapes.end()) {
            if (v->type.has_shape && v->type.dims.size() != it->second.size()) {
                return invalid_argument(m.source + ": input '" + v->name() + "' has rank " +
                                        std::to_string(v->type.dims.size()) + ", --input-shape gives " +
                                        std::to_string(it->second.size()) + " dims");
            }
            for (size_t i = 0; i < it->second.size(); ++i) {
                if (v->type.has_shape && v->type.dims[i].is_static() && v->type.dims[i].value != it->second[i]) {
                    return invalid_argument(m.source + ": input '" + v->name() + "' dim " + std::to_string(i) +
                                            " is " + std::to_string(v->type.dims[i].value));
                }
            }
            v->type = ir::ValueType::tensor(v->type.dtype, Shape(it->second));
        } else if (all && v->type.has_shape) {
            for (ir::Dim& d : v->type.dims) {
                if (!d.is_static()) d = ir::Dim(1);
            }
        }
    }
    return Status::ok();
}

bool has_dynamic_inputs(const ir::Model& m) {
    return std::any_of(m.graph->inputs().begin(), m.graph->inputs().end(), [](const ir::Value* v) {
        return !v->has_initializer() && v->type.is_tensor() && !v->type.is_static();
    });
}

}  // namespace

std::string ConvertResult::status() const {
    if (!problems.empty()) return "failed";
    if (!custom_layers.empty()) return "needs custom layers";
    if (applied.empty() && moved.empty() && manifest_json.empty()) return "runs as is";
    return exact() ? "converted exactly" : "converted approximately";
}

int ConvertResult::exit_code() const {
    if (!problems.empty()) return 1;
    return custom_layers.empty() ? 0 : 3;
}

Result<ConvertResult> convert_model(const std::string& path, const TargetProfile& profile,
                                    const RewriteCatalogue& catalogue, const ConvertOptions& options) {
    ConvertResult res;
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> loaded, onnx_import::load_model(path));
    if (loaded->source.empty()) loaded->source = path;
    // Values known at load time, keyed by Value*: refilled for every model state, since a stale entry could name a
    // freed value whose address a new value now has.
    ConstantMap consts;
    auto prepare = [&consts](ir::Model& m) {
        consts.clear();
        return prepare_model_for_check(m, consts);
    };
    NNPORT_RETURN_IF_ERROR(prepare(*loaded));
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> original, round_trip(*loaded, 0, true));
    loaded.reset();
    NNPORT_RETURN_IF_ERROR(prepare(*original));
    res.before = check_model(*original, consts, profile, catalogue);
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> work, round_trip(*original, 0, false));

    // Model level: shapes and opset.
    const bool pin = profile.static_shapes_required || !options.input_shapes.empty() ||
                     std::any_of(res.before.nodes.begin(), res.before.nodes.end(),
                                 [](const NodeIssue& i) { return i.rewrite == "fix_input_shapes"; });
    if (pin && (has_dynamic_inputs(*work) || !options.input_shapes.empty())) {
        NNPORT_RETURN_IF_ERROR(pin_inputs(*work, options.input_shapes, true));
        res.applied.push_back({"fix_input_shapes", "exact", "<inputs>", ""});
    }
    NNPORT_RETURN_IF_ERROR(prepare(*work));
    res.opset = work->opset("");
    if (profile.opset_range && (res.opset < profile.opset_range->first || res.opset > profile.opset_range->second)) {
        const int64_t to = std::clamp<int64_t>(res.opset, profile.opset_range->first, profile.opset_range->second);
        NNPORT_ASSIGN_OR_RETURN(work, round_trip(*work, to, false));
        res.applied.push_back({"opset_conversion", "exact", "<model>",
                               "opset " + std::to_string(res.opset) + " -> " + std::to_string(to)});
        res.opset = to;
        NNPORT_RETURN_IF_ERROR(prepare(*work));
    }
    NNPORT_ASSIGN_OR_RETURN(std::vector<Feeds> samples,
                            make_samples(*work, options.data_dir, options.random_samples, options.seed));
    res.samples = static_cast<int>(samples.size());

    // Scenarios 1 and 2: rewrite until nothing more applies.
    std::map<std::string, std::string> produced_by;  // tensor name -> rewrite that now computes it
    std::set<std::pair<std::string, std::string>> declined;  // (node, rewrite) that did not match
    for (int round = 0; round < options.max_rounds; ++round) {
        NNPORT_RETURN_IF_ERROR(prepare(*work));
        const CheckReport rep = check_model(*work, consts, profile, catalogue);
        bool changed = false;
        std::set<std::string> passes_to_run;
        for (const NodeIssue& issue : rep.nodes) {
            if (issue.scenario != Scenario::kExactRewrite && issue.scenario != Scenario::kSubstitution) continue;
            std::vector<std::string> candidates;
            if (!issue.rewrite.empty()) candidates.push_back(issue.rewrite);
            for (const std::string& a : issue.alternatives) candidates.push_back(a);
            for (const std::string& name : candidates) {
                if (auto p = kPassRewrites.find(name); p != kPassRewrites.end()) {
                    passes_to_run.insert(p->second.begin(), p->second.end());
                    break;
                }
                if (name == "fix_input_shapes" || name == "opset_conversion") break;  // done at model level
                const RewriteImpl* impl = find_rewrite_impl(name);
                const Rewrite* entry = catalogue_entry(catalogue, name);
                if (!impl || !entry || declined.count({issue.name, name})) continue;
                ir::Node* n = find_node(*work, issue.name);
                if (!n) break;
                std::vector<std::string> outs;
                for (const ir::Value* o : n->outputs()) {
                    if (o) outs.push_back(o->name());
                }
                RewriteContext ctx;
                ctx.profile = &profile;
                ir::Model* wm = work.get();
                ctx.samples = [wm, &samples](const ir::Value* v) -> Result<std::vector<Tensor>> {
                    NNPORT_ASSIGN_OR_RETURN(auto runs, run_samples(*wm, samples, {v->name()}));
                    std::vector<Tensor> out;
                    for (auto& r : runs) out.push_back(std::move(r.back()));
                    return out;
                };
                const std::string node_desc = n->describe();
                auto r = apply_rewrite(*work, *n->graph(), n, *impl, ctx);
                if (!r.is_ok()) return r.status().with_context(path);
                if (!*r) {
                    declined.insert({issue.name, name});
                    continue;
                }
                res.applied.push_back({name, entry->kind, issue.name, issue.op});
                for (ApproxRecord& a : ctx.approx) res.approx.push_back(std::move(a));
                if (entry->kind == "approximate" && ctx.approx.empty()) {
                    res.approx.push_back({name, issue.name, -1, -1});
                }
                for (const std::string& o : outs) produced_by[o] = name + " on " + node_desc;
                changed = true;
                break;
            }
        }
        for (const std::string& p : passes_to_run) {
            passes::PassContext pctx;
            pctx.allow_custom_ops = false;
            pctx.level = 1;
            auto r = passes::run_pass(*work, p, pctx);
            if (!r.is_ok()) return r.status().with_context(path);
            if (*r) {
                changed = true;
                res.applied.push_back({p, "exact", "<graph>", ""});
            }
        }
        if (!changed) break;
    }

    // What is left: scenario 3 tails, custom layers, and what could not be resolved.
    NNPORT_RETURN_IF_ERROR(prepare(*work));
    const CheckReport left = check_model(*work, consts, profile, catalogue);
    std::set<std::string> moved;
    for (const NodeIssue& i : left.nodes) {
        if (i.scenario == Scenario::kPostProcess) {
            moved.insert(i.moved_nodes.begin(), i.moved_nodes.end());
        } else if (i.scenario == Scenario::kCustomLayer) {
            res.custom_layers.push_back(i);
        } else {
            std::string why = i.rewrite.empty() ? "no rewrite applies" : "rewrite " + i.rewrite + " did not apply";
            if (!i.rewrite.empty() && !find_rewrite_impl(i.rewrite) && !kPassRewrites.count(i.rewrite))
                why = "rewrite " + i.rewrite + " is in the catalogue but not implemented";
            std::string v = i.violations.empty() ? "" : i.violations.front().detail;
            res.problems.push_back(i.op + " '" + i.name + "': " + v + " (" + why + ")");
        }
    }
    for (const ModelIssue& m : left.model_issues) {
        if (m.kind == "single_output" || m.kind == "opset" || m.kind == "dynamic_shape") continue;
        res.problems.push_back(m.kind + ": " + m.detail + " (" + m.resolution + ")");
    }
    // Moved nodes that a custom-layer node depends on cannot move (the custom node stays on the target).
    const bool pack = profile.single_output_only;
    std::unique_ptr<ir::Model> pre_split;
    if (!moved.empty() || (pack && work->graph->outputs().size() > 1)) {
        NNPORT_ASSIGN_OR_RETURN(pre_split, clone_model(*work));
        NNPORT_ASSIGN_OR_RETURN(SplitModels s, split_post_processing(*work, moved, pack));
        res.moved = s.moved;
        res.cut = s.cut;
        if (!s.packed.empty()) res.manifest_json = packed_manifest_json(s);
        work = std::move(s.target);
        res.post = std::move(s.post);
    }
    // What would be written: both models through ONNX at the chosen opset.
    NNPORT_ASSIGN_OR_RETURN(res.model, round_trip(*work, res.opset, false));
    if (res.post) {
        NNPORT_ASSIGN_OR_RETURN(res.post, round_trip(*res.post, res.post->opset(""), false));
    }
    NNPORT_RETURN_IF_ERROR(prepare(*res.model));
    res.after = check_model(*res.model, consts, profile, catalogue);
    if (!res.approx.empty() && !options.allow_approx) {
        res.problems.push_back("the conversion needs approximate substitutions (see their residuals); pass "
                               "--allow-approx to accept them");
    }

    // Verification: the original against the converted model (+ post-processing) on every sample.
    std::vector<std::string> names;
    for (const ir::Value* o : original->graph->outputs()) names.push_back(o->name());
    auto want = run_samples(*original, samples);
    if (!want.is_ok()) {
        res.problems.push_back("cannot run the original model for verification: " + want.status().message());
        return res;
    }
    auto got = run_pair(*res.model, res.post.get(), samples);
    if (!got.is_ok()) {
        res.problems.push_back("cannot run the converted model for verification: " + got.status().message());
        return res;
    }
    auto agree = compare_runs(*got, *want, names);
    if (!agree.is_ok()) {
        res.problems.push_back("converted outputs do not match the original's interface: " + agree.status().message());
        return res;
    }
    res.agreement = std::move(agree).value();
    double worst = 0;
    for (const OutputAgreement& a : res.agreement) worst = std::max(worst, a.max_rel);
    res.verified = res.exact() ? worst <= options.exact_tol : true;
    if (!res.verified) {
        const ir::Model& conv = pre_split ? *pre_split : *res.model;
        auto d = first_divergence(*original, conv, samples.front(), options.exact_tol);
        if (d.is_ok()) {
            res.divergence = *d;
            if (auto it = produced_by.find(d->value); it != produced_by.end()) res.divergence_rewrite = it->second;
        }
        std::string msg = "verification failed: max relative error " + std::to_string(worst) + " > " +
                          std::to_string(options.exact_tol);
        if (res.divergence.found) {
            msg += "; first diverging tensor '" + res.divergence.value + "' (" + res.divergence.node + ", error " +
                   std::to_string(res.divergence.max_rel) + ")";
            if (!res.divergence_rewrite.empty()) msg += ", computed by rewrite " + res.divergence_rewrite;
        }
        res.problems.push_back(msg);
    }
    return res;
}

}  // namespace nnport::convert

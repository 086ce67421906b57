// Sample inputs, running models on them, output comparison and first-divergence search for `nnport convert`.
#include "convert/verify.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "io/input_files.hpp"
#include "nnport/nnport.hpp"
#include "onnx/exporter.hpp"
#include "onnx/importer.hpp"
#include "runtime/metrics.hpp"

namespace nnport::convert {

namespace fs = std::filesystem;

namespace {

/// Graph inputs that must be fed (not initializer-backed), in order.
std::vector<const ir::Value*> fed_inputs(const ir::Model& m) {
    std::vector<const ir::Value*> out;
    for (const ir::Value* v : m.graph->inputs()) {
        if (!v->has_initializer()) out.push_back(v);
    }
    return out;
}

bool shape_matches(const ir::ValueType& t, const Tensor& x) {
    if (!t.is_tensor()) return false;
    if (t.dtype != DType::kUndefined && t.dtype != x.dtype()) return false;
    if (!t.has_shape) return true;
    if (static_cast<int64_t>(t.dims.size()) != x.rank()) return false;
    for (size_t i = 0; i < t.dims.size(); ++i) {
        if (t.dims[i].is_static() && t.dims[i].value != x.dim(static_cast<int64_t>(i))) return false;
    }
    return true;
}

/// One sample from the files directly in `dir`.
Result<Feeds> read_sample_dir(const ir::Model& m, const fs::path& dir) {
    const std::vector<const ir::Value*> inputs = fed_inputs(m);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".npy" || ext == ".pb")) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) return invalid_argument(dir.string() + ": no .npy or .pb input files");
    Feeds feeds;
    for (const fs::path& f : files) {
        const std::string stem = f.stem().string();
        const ir::Value* target = nullptr;
        for (const ir::Value* v : inputs) {
            if (v->name() == stem) target = v;
        }
        if (!target && stem.rfind("input_", 0) == 0) {
            const std::string idx = stem.substr(6);
            if (!idx.empty() && std::all_of(idx.begin(), idx.end(), ::isdigit)) {
                const size_t k = std::stoul(idx);
                if (k < inputs.size()) target = inputs[k];
            }
        }
        NNPORT_ASSIGN_OR_RETURN(io::LoadedValue lv, io::read_value_file(f.string(), target ? &target->type : nullptr));
        if (!target && !lv.embedded_name.empty()) {
            for (const ir::Value* v : inputs) {
                if (v->name() == lv.embedded_name) target = v;
            }
        }
        if (!target) {
            return invalid_argument(f.string() + ": matches no input of the model (name the file after an input, "
                                    "or input_<k>.pb)");
        }
        if (!lv.value.is_tensor()) return invalid_argument(f.string() + ": not a tensor");
        if (!shape_matches(target->type, lv.value.tensor)) {
            return invalid_argument(f.string() + ": " + dtype_name(lv.value.tensor.dtype()) +
                                    shape_to_string(lv.value.tensor.shape()) + " does not fit input '" +
                                    target->name() + "' of type " + target->type.to_string());
        }
        for (const auto& [name, t] : feeds) {
            if (name == target->name()) return invalid_argument(f.string() + ": input '" + name + "' given twice");
        }
        feeds.emplace_back(target->name(), std::move(lv.value.tensor));
    }
    for (const ir::Value* v : inputs) {
        if (std::none_of(feeds.begin(), feeds.end(), [&](const auto& f) { return f.first == v->name(); }))
            return invalid_argument(dir.string() + ": no file for input '" + v->name() + "'");
    }
    return feeds;
}

/// A model copy with `extra` values added as graph outputs.
Result<std::unique_ptr<ir::Model>> with_outputs(const ir::Model& m, const std::vector<std::string>& extra) {
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> c, clone_model(m));
    for (const std::string& name : extra) {
        ir::Value* v = c->graph->find_value(name);
        if (!v) return invalid_argument(m.source + ": no tensor named '" + name + "' in the main graph");
        c->graph->outputs().push_back(v);
    }
    return c;
}

}  // namespace

Result<std::vector<Feeds>> make_samples(const ir::Model& m, const std::string& data_dir, int random, uint64_t seed) {
    std::vector<Feeds> out;
    if (!data_dir.empty()) {
        std::error_code ec;
        if (!fs::is_directory(data_dir, ec)) return invalid_argument(data_dir + ": not a folder");
        std::vector<fs::path> subdirs;
        bool has_files = false;
        for (const auto& e : fs::directory_iterator(data_dir)) {
            if (e.is_directory()) subdirs.push_back(e.path());
            const std::string ext = e.path().extension().string();
            has_files |= e.is_regular_file() && (ext == ".npy" || ext == ".pb");
        }
        std::sort(subdirs.begin(), subdirs.end());
        if (has_files) {
            NNPORT_ASSIGN_OR_RETURN(Feeds f, read_sample_dir(m, data_dir));
            out.push_back(std::move(f));
        } else {
            for (const fs::path& d : subdirs) {
                NNPORT_ASSIGN_OR_RETURN(Feeds f, read_sample_dir(m, d));
                out.push_back(std::move(f));
            }
        }
        if (out.empty()) return invalid_argument(data_dir + ": no samples (.npy/.pb files or sample folders)");
    }
    for (int k = 0; k < random; ++k) {
        Feeds f;
        for (const ir::Value* v : fed_inputs(m)) {
            NNPORT_ASSIGN_OR_RETURN(RtValue rv, io::random_value(v->type, seed + static_cast<uint64_t>(k) * 7919));
            if (!rv.is_tensor()) return unsupported(v->name() + ": only tensor inputs can be sampled");
            f.emplace_back(v->name(), std::move(rv.tensor));
        }
        out.push_back(std::move(f));
    }
    return out;
}

Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& m) {
    onnx_export::ExportOptions o;
    o.value_info = false;
    NNPORT_ASSIGN_OR_RETURN(std::string bytes, onnx_export::serialize_model(m, o));
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> c,
                            onnx_import::load_model_from_memory(bytes.data(), bytes.size(), "", m.source));
    c->source = m.source;
    return c;
}

Result<std::vector<std::vector<Tensor>>> run_samples(const ir::Model& m, const std::vector<Feeds>& samples,
                                                     const std::vector<std::string>& extra) {
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<ir::Model> c, with_outputs(m, extra));
    // No graph optimization (every named tensor stays observable); the default backends, which the conformance
    // gate holds to the reference kernels, make verifying large models affordable.
    SessionOptions o;
    o.optimization_level = 0;
    NNPORT_ASSIGN_OR_RETURN(std::unique_ptr<Session> s, Session::from_model(std::move(c), o));
    std::vector<std::vector<Tensor>> out;
    for (const Feeds& f : samples) {
        Feeds feeds;
        for (const TensorInfo& in : s->inputs()) {
            for (const auto& [name, t] : f) {
                if (name == in.name) feeds.emplace_back(name, t);
            }
        }
        auto r = s->run(feeds);
        if (!r.is_ok()) return r.status().with_context(m.source);
        out.push_back(std::move(r).value());
    }
    return out;
}

Result<std::vector<std::vector<Tensor>>> run_pair(const ir::Model& main, const ir::Model* post,
                                                  const std::vector<Feeds>& samples) {
    NNPORT_ASSIGN_OR_RETURN(auto first, run_samples(main, samples));
    if (!post) return first;
    std::vector<Feeds> post_samples;
    for (size_t k = 0; k < samples.size(); ++k) {
        Feeds f;
        for (const ir::Value* v : fed_inputs(*post)) {
            bool found = false;
            for (size_t i = 0; i < main.graph->outputs().size() && !found; ++i) {
                if (main.graph->outputs()[i]->name() == v->name()) {
                    f.emplace_back(v->name(), first[k][i]);
                    found = true;
                }
            }
            for (size_t i = 0; i < samples[k].size() && !found; ++i) {
                if (samples[k][i].first == v->name()) {
                    f.emplace_back(v->name(), samples[k][i].second);
                    found = true;
                }
            }
            if (!found) {
                return invalid_argument(post->source + ": post-processing input '" + v->name() +
                                        "' is neither an output of the model nor one of its inputs");
            }
        }
        post_samples.push_back(std::move(f));
    }
    return run_samples(*post, post_samples);
}

Result<std::vector<OutputAgreement>> compare_runs(const std::vector<std::vector<Tensor>>& got,
                                                  const std::vector<std::vector<Tensor>>& want,
                                                  const std::vector<std::string>& names) {
    std::vector<OutputAgreement> out(names.size());
    for (size_t i = 0; i < names.size(); ++i) out[i].name = names[i];
    if (got.size() != want.size()) return internal_error("compare_runs: sample counts differ");
    for (size_t k = 0; k < got.size(); ++k) {
        if (got[k].size() != names.size() || want[k].size() != names.size()) {
            return invalid_argument("the converted model has " + std::to_string(got[k].size()) +
                                    " outputs, the original " + std::to_string(want[k].size()));
        }
        for (size_t i = 0; i < names.size(); ++i) {
            auto d = compare_outputs(got[k][i], want[k][i]);
            if (!d.is_ok()) return d.status().with_context("output '" + names[i] + "'");
            OutputAgreement& a = out[i];
            double max_abs = d->max_abs, max_rel = d->max_rel;
            if (d->nonfinite_mismatches > 0) max_abs = max_rel = std::numeric_limits<double>::infinity();
            a.max_abs = std::max(a.max_abs, max_abs);
            a.max_rel = std::max(a.max_rel, max_rel);
            a.min_cosine = std::min(a.min_cosine, d->cosine);
        }
    }
    return out;
}

Result<Divergence> first_divergence(const ir::Model& original, const ir::Model& converted, const Feeds& sample,
                                    double tol) {
    // Tensors produced in both graphs under the same name (rewrites keep the names of the values they replace).
    std::vector<std::string> names;
    std::vector<std::string> producers;
    for (const auto& np : original.graph->nodes()) {
        for (const ir::Value* o : np->outputs()) {
            if (!o || !o->type.is_tensor()) continue;
            const ir::Value* c = converted.graph->find_value(o->name());
            if (!c || !c->producer() || c->has_initializer()) continue;
            names.push_back(o->name());
            producers.push_back(np->describe());
        }
    }
    Divergence d;
    if (names.empty()) return d;
    NNPORT_ASSIGN_OR_RETURN(auto want, run_samples(original, {sample}, names));
    NNPORT_ASSIGN_OR_RETURN(auto got, run_samples(converted, {sample}, names));
    const size_t n_out_o = original.graph->outputs().size(), n_out_c = converted.graph->outputs().size();
    for (size_t i = 0; i < names.size(); ++i) {
        const Tensor& w = want[0][n_out_o + i];
        const Tensor& g = got[0][n_out_c + i];
        if (w.shape() != g.shape() || w.dtype() != g.dtype()) continue;
        auto diff = compare_outputs(g, w);
        if (!diff.is_ok()) continue;
        ++d.compared;
        const double rel = diff->nonfinite_mismatches ? std::numeric_limits<double>::infinity() : diff->max_rel;
        if (rel > tol) {
            d.found = true;
            d.value = names[i];
            d.node = producers[i];
            d.max_rel = rel;
            return d;
        }
    }
    return d;
}

}  // namespace nnport::convert

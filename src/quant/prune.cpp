// prune_model: the pruning driver (option checks, calibration data, unstructured magnitude pruning, structured
// pruning with refit, evaluation against the unpruned model).
#include "quant/prune.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "passes/pass_util.hpp"
#include "quant/prune_impl.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::quant {

namespace {

using prune_detail::prune_structured;
using prune_detail::prune_unstructured;
using prune_detail::refit_consumers;

/// Output agreement of the pruned model against the original on the same samples.
void compare(const std::vector<std::vector<Tensor>>& ref, const std::vector<std::vector<Tensor>>& got, PruneReport& r) {
    double signal = 0, noise = 0, dot = 0, qq = 0;
    int64_t rows = 0, agree = 0;
    for (size_t s = 0; s < ref.size() && s < got.size(); ++s) {
        for (size_t k = 0; k < ref[s].size() && k < got[s].size(); ++k) {
            const Tensor& a = ref[s][k];
            const Tensor& b = got[s][k];
            if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32 || a.numel() != b.numel()) continue;
            for (int64_t i = 0; i < a.numel(); ++i) {
                const double f = a.data<float>()[i], q = b.data<float>()[i];
                signal += f * f;
                noise += (q - f) * (q - f);
                dot += f * q;
                qq += q * q;
            }
            if (a.rank() == 2 && a.dim(1) > 1) {
                const int64_t c = a.dim(1);
                for (int64_t row = 0; row < a.dim(0); ++row) {
                    const float* pa = a.data<float>() + row * c;
                    const float* pb = b.data<float>() + row * c;
                    agree += (std::max_element(pa, pa + c) - pa) == (std::max_element(pb, pb + c) - pb);
                    ++rows;
                }
            }
        }
    }
    r.evaluated = true;
    r.relative_rms = signal > 0 ? std::sqrt(noise / signal) : (noise > 0 ? 1.0 : 0.0);
    r.cosine = signal > 0 && qq > 0 ? dot / std::sqrt(signal * qq) : (signal == qq ? 1.0 : 0.0);
    r.top1_agreement = rows > 0 ? static_cast<double>(agree) / static_cast<double>(rows) : -1.0;
}

Status check_options(const ir::Graph& g, const PruneOptions& o) {
    if (!(o.sparsity >= 0.0 && o.sparsity < 1.0)) {
        return invalid_argument("prune: sparsity must be in [0, 1), got " + std::to_string(o.sparsity));
    }
    if (!(o.ridge >= 0.0)) return invalid_argument("prune: refit ridge must be >= 0");
    if (o.calibration_data.empty() && o.data_dir.empty() && o.synthetic_samples <= 0) {
        return invalid_argument("prune: no calibration data and no synthetic samples requested");
    }
    for (const std::string& name : o.exclude) {
        const bool found =
            std::any_of(g.nodes().begin(), g.nodes().end(), [&](const auto& n) { return n->name() == name; });
        if (!found) return invalid_argument("prune: excluded node '" + name + "' is not in the model");
    }
    return Status::ok();
}

}  // namespace

namespace prune_detail {

Status prune_unstructured(ir::Graph& g, const PruneOptions& o, const std::set<std::string>& exclude, PruneReport& r) {
    struct Layer {
        ir::Node* node;
        ir::Value* weight;
        Tensor data;
    };
    std::vector<Layer> layers;
    std::set<const ir::Value*> seen;  // a weight shared by several nodes is pruned once
    for (const auto& n : g.nodes()) {
        if (!passes::is_op(n.get(), "Conv") && !passes::is_op(n.get(), "Gemm") && !passes::is_op(n.get(), "MatMul")) {
            continue;
        }
        ir::Value* wv = n->input(1);
        const Tensor* w = passes::constant_of(wv);
        if (!w) continue;
        if (w->dtype() != DType::kFloat32) {
            r.skipped.push_back({n->name(), n->op_type(), std::string("weight is ") + dtype_name(w->dtype())});
            continue;
        }
        if (exclude.count(n->name())) {
            r.skipped.push_back({n->name(), n->op_type(), "excluded"});
            continue;
        }
        if (!seen.insert(wv).second) continue;
        layers.push_back({n.get(), wv, w->clone()});
    }
    if (layers.empty()) {
        return invalid_argument("prune: no prunable layer (Conv, Gemm or MatMul with a constant float32 weight)");
    }
    using Entry = std::pair<float, int64_t>;  // magnitude, element index (global: over all layers in order)
    auto zero_smallest = [](std::vector<Entry>& e, int64_t k, const std::function<void(int64_t)>& zero) {
        if (k <= 0) return;
        std::nth_element(e.begin(), e.begin() + (k - 1), e.end(), [](const Entry& a, const Entry& b) {
            return a.first < b.first || (a.first == b.first && a.second < b.second);
        });
        for (int64_t i = 0; i < k; ++i) zero(e[static_cast<size_t>(i)].second);
    };
    if (o.global) {
        std::vector<int64_t> start;
        std::vector<Entry> all;
        for (Layer& l : layers) {
            start.push_back(static_cast<int64_t>(all.size()));
            for (int64_t i = 0; i < l.data.numel(); ++i) {
                all.push_back({std::fabs(l.data.data<float>()[i]), static_cast<int64_t>(all.size())});
            }
        }
        const int64_t k = static_cast<int64_t>(std::floor(o.sparsity * static_cast<double>(all.size())));
        zero_smallest(all, k, [&](int64_t idx) {
            const size_t li =
                static_cast<size_t>(std::upper_bound(start.begin(), start.end(), idx) - start.begin()) - 1;
            layers[li].data.data<float>()[idx - start[li]] = 0.0f;
        });
    } else {
        for (Layer& l : layers) {
            std::vector<Entry> e(static_cast<size_t>(l.data.numel()));
            for (int64_t i = 0; i < l.data.numel(); ++i)
                e[static_cast<size_t>(i)] = {std::fabs(l.data.data<float>()[i]), i};
            const int64_t k = static_cast<int64_t>(std::floor(o.sparsity * static_cast<double>(e.size())));
            zero_smallest(e, k, [&](int64_t idx) { l.data.data<float>()[idx] = 0.0f; });
        }
    }
    for (Layer& l : layers) {
        const float* p = l.data.data<float>();
        const int64_t zeros = std::count(p, p + l.data.numel(), 0.0f);
        r.layers.push_back({l.node->name(), l.node->op_type(), l.data.numel(), zeros, 0, 0, {}, {}});
        r.weights_total += l.data.numel();
        r.weights_zero += zeros;
        l.weight->set_initializer(std::move(l.data));
    }
    return Status::ok();
}

}  // namespace prune_detail

Status prune_model(ir::Model& model, const PruneOptions& o, PruneReport* report) {
    PruneReport local;
    PruneReport& r = report ? *report : local;
    r = PruneReport();
    ir::Graph& g = *model.graph;
    NNPORT_RETURN_IF_ERROR(check_options(g, o));
    const std::set<std::string> exclude(o.exclude.begin(), o.exclude.end());

    std::vector<Feeds> samples = o.calibration_data;
    const bool need_runs = o.evaluate || (o.structured && o.refit);
    if (need_runs && samples.empty()) {
        if (!o.data_dir.empty()) {
            NNPORT_ASSIGN_OR_RETURN(samples, load_calibration_dir(g, o.data_dir, o.images));
        } else {
            NNPORT_ASSIGN_OR_RETURN(samples, synthetic_samples(g, o.synthetic_samples));
            r.synthetic_data = true;
        }
    }
    r.calibration_samples = static_cast<int>(samples.size());
    RunConfig rc{o.backends, o.threads};
    std::unique_ptr<ir::Model> original;
    std::vector<std::vector<Tensor>> ref_out;
    if (need_runs) {
        NNPORT_ASSIGN_OR_RETURN(original, clone_model(model));
        if (o.evaluate) {
            auto ref = run_outputs(*original, samples, rc);
            if (!ref.is_ok()) return ref.status().with_context("prune: running the original model");
            ref_out = std::move(ref).value();
        }
    }

    r.weight_bytes_before = initializer_bytes(model);
    if (o.structured) {
        NNPORT_ASSIGN_OR_RETURN(prune_detail::StructuredResult s, prune_structured(g, o, exclude, r));
        if (o.refit && !s.consumers.empty()) {
            NNPORT_RETURN_IF_ERROR(refit_consumers(model, *original, s, samples, o, r));
        }
    } else {
        NNPORT_RETURN_IF_ERROR(prune_unstructured(g, o, exclude, r));
    }
    g.remove_unused_values();
    ConstantMap consts;  // the pruned channels change intermediate shapes
    NNPORT_RETURN_IF_ERROR(infer_graph(g, consts));
    r.weight_bytes_after = initializer_bytes(model);

    if (o.evaluate) {
        auto got = run_outputs(model, samples, rc);
        if (!got.is_ok()) return got.status().with_context("prune: running the pruned model");
        compare(ref_out, got.value(), r);
    }
    return Status::ok();
}

}  // namespace nnport::quant

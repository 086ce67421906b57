// quantize_model: the driver of float16 conversion and int8 quantization (calibration, sensitivity analysis,
// accuracy budget, evaluation against the float32 model).
#include "quant/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "quant/calibration.hpp"
#include "quant/quant_passes.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::quant {

namespace {

/// Output error of a quantized model against float32 reference outputs (float outputs only, all samples).
struct ErrorStats {
    double sqnr_db = 0, cosine = 0, relative_rms = 0;
};

ErrorStats compare_outputs(const std::vector<std::vector<Tensor>>& ref, const std::vector<std::vector<Tensor>>& got) {
    double signal = 0, noise = 0, dot = 0, qq = 0;
    for (size_t s = 0; s < ref.size() && s < got.size(); ++s) {
        for (size_t k = 0; k < ref[s].size() && k < got[s].size(); ++k) {
            const Tensor& a = ref[s][k];
            const Tensor& b = got[s][k];
            if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32 || a.numel() != b.numel()) continue;
            for (int64_t i = 0; i < a.numel(); ++i) {
                const double f = a.data<float>()[i], q = b.data<float>()[i];
                if (!std::isfinite(f)) continue;
                signal += f * f;
                noise += (q - f) * (q - f);
                dot += f * q;
                qq += q * q;
            }
        }
    }
    ErrorStats e;
    e.relative_rms = signal > 0 ? std::sqrt(noise / signal) : (noise > 0 ? 1.0 : 0.0);
    e.sqnr_db = noise > 0 ? 10.0 * std::log10(std::max(signal, 1e-300) / noise) : 200.0;
    e.cosine = signal > 0 && qq > 0 ? dot / std::sqrt(signal * qq) : (signal == qq ? 1.0 : 0.0);
    return e;
}

Status check_options(const ir::Graph& g, const QuantizeOptions& o) {
    if (o.activation_type != DType::kUInt8 && o.activation_type != DType::kInt8) {
        return invalid_argument(std::string("activation type must be uint8 or int8, not ") +
                                dtype_name(o.activation_type));
    }
    if (!(o.percentile > 50.0 && o.percentile <= 100.0)) {
        return invalid_argument("percentile must be in (50, 100], got " + std::to_string(o.percentile));
    }
    if (o.calibration_data.empty() && o.synthetic_samples <= 0) {
        return invalid_argument("no calibration data and no synthetic samples requested");
    }
    if (!(o.max_error >= 0.0)) return invalid_argument("max error must be >= 0");
    std::set<std::string> names;
    for (const auto& n : g.nodes()) names.insert(n->name());
    for (const std::string& e : o.exclude) {
        if (!names.count(e)) return invalid_argument("exclude: the model has no node named '" + e + "'");
    }
    return Status::ok();
}

std::map<std::string, TensorRange> by_name(const std::vector<TensorRange>& ranges) {
    std::map<std::string, TensorRange> m;
    for (const TensorRange& r : ranges) m[r.name] = r;
    return m;
}

/// Quantizes a copy of `original` with `enabled` nodes and returns its error against `ref`.
Result<ErrorStats> trial(const ir::Model& original, const std::set<std::string>& enabled,
                         const std::map<std::string, TensorRange>& ranges, const QuantizeOptions& o,
                         const std::vector<Feeds>& samples, const std::vector<std::vector<Tensor>>& ref) {
    NNPORT_ASSIGN_OR_RETURN(auto copy, clone_model(original));
    NNPORT_RETURN_IF_ERROR(insert_qdq(*copy, enabled, ranges, o.activation_type, false, nullptr));
    NNPORT_ASSIGN_OR_RETURN(auto got, run_outputs(*copy, samples, {o.backends, o.threads}));
    return compare_outputs(ref, got);
}

/// Static int8: calibration, optional sensitivity analysis and accuracy budget, then QDQ insertion.
Status quantize_static(ir::Model& model, const ir::Model& original, const QuantizeOptions& o,
                       const std::vector<Feeds>& samples, const std::vector<std::vector<Tensor>>& ref,
                       QuantizeReport& r) {
    const std::set<std::string> exclude(o.exclude.begin(), o.exclude.end());
    const QdqPlan plan = plan_qdq(*model.graph, exclude);
    r.kept_float = plan.declined;
    std::set<std::string> enabled(plan.compute.begin(), plan.compute.end());
    enabled.insert(plan.propagate.begin(), plan.propagate.end());
    std::vector<std::string> names = tensors_to_calibrate(*model.graph, enabled);
    if (o.sensitivity || o.max_error > 0) {
        // A layer quantized alone also quantizes its output (which the full plan leaves to a following Relu).
        for (const std::string& layer : plan.compute) {
            for (const std::string& t : tensors_to_calibrate(*model.graph, {layer})) {
                if (std::find(names.begin(), names.end(), t) == names.end()) names.push_back(t);
            }
        }
    }
    NNPORT_ASSIGN_OR_RETURN(auto ranges, calibrate(model, names, samples, o.calibration, o.percentile,
                                                   o.activation_type, {o.backends, o.threads}));
    const auto range_map = by_name(ranges);
    if (o.sensitivity || o.max_error > 0) {
        for (const std::string& layer : plan.compute) {
            NNPORT_ASSIGN_OR_RETURN(ErrorStats e, trial(original, {layer}, range_map, o, samples, ref));
            const ir::Node* n = nullptr;
            for (const auto& up : model.graph->nodes()) n = up->name() == layer ? up.get() : n;
            r.sensitivity.push_back({layer, n ? n->op_type() : "", e.sqnr_db});
        }
        std::stable_sort(r.sensitivity.begin(), r.sensitivity.end(),
                         [](const LayerSensitivity& a, const LayerSensitivity& b) { return a.sqnr_db < b.sqnr_db; });
    }
    if (o.max_error > 0) {
        // Keep the most sensitive layers in float, one more at a time, until the whole model meets the budget.
        size_t k = 0;
        for (; k <= r.sensitivity.size(); ++k) {
            std::set<std::string> trial_set = enabled;
            for (size_t i = 0; i < k; ++i) trial_set.erase(r.sensitivity[i].name);
            NNPORT_ASSIGN_OR_RETURN(ErrorStats e, trial(original, trial_set, range_map, o, samples, ref));
            if (e.relative_rms <= o.max_error) break;
        }
        if (k > r.sensitivity.size()) {
            return invalid_argument("max error " + std::to_string(o.max_error) +
                                    " cannot be met even with every layer in float");
        }
        for (size_t i = 0; i < k; ++i) {
            enabled.erase(r.sensitivity[i].name);
            r.kept_float.push_back({r.sensitivity[i].name, r.sensitivity[i].op_type,
                                    "accuracy budget (SQNR " + std::to_string(r.sensitivity[i].sqnr_db) +
                                        " dB when quantized alone)"});
        }
    }
    return insert_qdq(model, enabled, range_map, o.activation_type, false, &r);
}

}  // namespace

int64_t initializer_bytes(const ir::Model& model) {
    int64_t total = 0;
    std::function<void(const ir::Graph&)> visit = [&](const ir::Graph& g) {
        for (const ir::Value* v : g.initializers()) total += static_cast<int64_t>(v->initializer().nbytes());
        for (const auto& n : g.nodes()) {
            for (const ir::Graph* sg : n->subgraphs()) visit(*sg);
        }
    };
    visit(*model.graph);
    return total;
}

Result<QuantMode> parse_mode(const std::string& s) {
    if (s == "fp16") return QuantMode::kFp16;
    if (s == "int8-dynamic") return QuantMode::kInt8Dynamic;
    if (s == "int8-static") return QuantMode::kInt8Static;
    return invalid_argument("unknown quantization mode '" + s + "' (fp16, int8-dynamic, int8-static)");
}

Result<CalibrationMethod> parse_calibration(const std::string& s) {
    if (s == "minmax") return CalibrationMethod::kMinMax;
    if (s == "percentile") return CalibrationMethod::kPercentile;
    if (s == "entropy") return CalibrationMethod::kEntropy;
    if (s == "mse") return CalibrationMethod::kMse;
    return invalid_argument("unknown calibration method '" + s + "' (minmax, percentile, entropy, mse)");
}

Status quantize_model(ir::Model& model, const QuantizeOptions& o, QuantizeReport* report) {
    QuantizeReport local;
    QuantizeReport& r = report ? *report : local;
    r = QuantizeReport();
    ir::Graph& g = *model.graph;
    NNPORT_RETURN_IF_ERROR(check_options(g, o));
    ConstantMap consts;  // the rewrites decide by value types: infer them as a session would
    NNPORT_RETURN_IF_ERROR(infer_graph(g, consts));
    r.weight_bytes_before = initializer_bytes(model);
    std::vector<Feeds> samples = o.calibration_data;
    r.synthetic_data = samples.empty();
    if (samples.empty()) {
        NNPORT_ASSIGN_OR_RETURN(samples, synthetic_samples(g, o.synthetic_samples));
    }
    r.calibration_samples = static_cast<int>(samples.size());
    const RunConfig config{o.backends, o.threads};
    NNPORT_ASSIGN_OR_RETURN(auto original, clone_model(model));
    NNPORT_ASSIGN_OR_RETURN(auto ref, run_outputs(*original, samples, config));
    if (o.mode == QuantMode::kFp16) {
        NNPORT_ASSIGN_OR_RETURN(auto observed, calibrate(model, fp16_candidate_values(g), samples,
                                                         CalibrationMethod::kMinMax, o.percentile,
                                                         o.activation_type, config));
        r.ranges = observed;
        NNPORT_RETURN_IF_ERROR(convert_fp16(model, o, by_name(observed), &r));
    } else if (o.mode == QuantMode::kInt8Dynamic) {
        const QdqPlan plan = plan_qdq(g, std::set<std::string>(o.exclude.begin(), o.exclude.end()));
        r.kept_float = plan.declined;
        std::set<std::string> enabled;
        for (const std::string& n : plan.compute) {
            const ir::Node* node = nullptr;
            for (const auto& up : g.nodes()) node = up->name() == n ? up.get() : node;
            // Weight-only: a MatMul/Gemm of two activations has no weights to store in int8.
            if (node && node->input(1) && node->input(1)->has_initializer()) enabled.insert(n);
        }
        NNPORT_RETURN_IF_ERROR(insert_qdq(model, enabled, {}, o.activation_type, true, &r));
    } else {
        NNPORT_RETURN_IF_ERROR(quantize_static(model, *original, o, samples, ref, r));
    }
    NNPORT_RETURN_IF_ERROR(ir::verify(g).with_context("quantize"));
    consts.clear();
    NNPORT_RETURN_IF_ERROR(infer_graph(g, consts).with_context("quantize"));
    r.weight_bytes_after = initializer_bytes(model);
    NNPORT_ASSIGN_OR_RETURN(auto got, run_outputs(model, samples, config));
    const ErrorStats e = compare_outputs(ref, got);
    r.sqnr_db = e.sqnr_db;
    r.cosine = e.cosine;
    r.relative_rms = e.relative_rms;
    r.evaluated = true;
    return Status::ok();
}

}  // namespace nnport::quant

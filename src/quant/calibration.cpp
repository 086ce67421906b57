// Calibration: inputs from folders or synthetic, runs with intermediate values as outputs, range choosers.
#include "quant/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "io/input_files.hpp"
#include "nnport/nnport.hpp"
#include "onnx/exporter.hpp"
#include "onnx/importer.hpp"
#include "runtime/shape_inference.hpp"

namespace nnport::quant {

namespace fs = std::filesystem;

namespace {

/// Graph inputs that must be fed (not initializer-backed).
std::vector<const ir::Value*> fed_inputs(const ir::Graph& g) {
    std::vector<const ir::Value*> out;
    for (const ir::Value* v : g.inputs()) {
        if (!v->has_initializer()) out.push_back(v);
    }
    return out;
}

bool is_data_file(const fs::path& p) {
    return p.extension() == ".npy" || p.extension() == ".pb" || io::is_image_file(p);
}

/// Checks a loaded tensor against the input's declared type.
Status check_tensor(const ir::Value& in, const Tensor& t, const std::string& file) {
    const ir::ValueType& ty = in.type;
    if (ty.dtype != DType::kUndefined && t.dtype() != ty.dtype) {
        return invalid_argument(file + ": input '" + in.name() + "' expects dtype " + dtype_name(ty.dtype) +
                                ", the file holds " + dtype_name(t.dtype()));
    }
    if (!ty.has_shape) return Status::ok();
    bool ok = t.rank() == static_cast<int64_t>(ty.dims.size());
    for (size_t i = 0; ok && i < ty.dims.size(); ++i) ok = !ty.dims[i].is_static() || ty.dims[i].value == t.dim(i);
    if (!ok) {
        return invalid_argument(file + ": input '" + in.name() + "' expects shape " + ty.to_string() +
                                ", the file holds " + shape_to_string(t.shape()));
    }
    return Status::ok();
}

/// Reads one sample from `files` (sorted), binding each by stem, embedded name or position.
Result<Feeds> read_sample(const std::vector<const ir::Value*>& ins, const std::vector<fs::path>& files,
                          const io::ImagePreprocess& images) {
    Feeds feeds(ins.size());
    std::vector<bool> bound(ins.size(), false);
    for (size_t f = 0; f < files.size(); ++f) {
        const std::string path = files[f].string();
        size_t k = 0;
        while (k < ins.size() && ins[k]->name() != files[f].stem().string()) ++k;
        Tensor t;
        if (io::is_image_file(files[f])) {  // an image fills the input of its stem, or the only one
            if (k == ins.size() && ins.size() == 1) k = 0;
            if (k == ins.size()) return invalid_argument(path + ": the name of this image matches no model input");
            NNPORT_ASSIGN_OR_RETURN(t, io::read_image(path, ins[k]->type, images));
        } else {
            auto lv = io::read_value_file(path, k < ins.size() ? &ins[k]->type : nullptr);
            if (!lv.is_ok()) return lv.status().with_context(path);
            if (!lv->value.is_tensor()) return invalid_argument(path + ": not a tensor");
            if (k == ins.size() && !lv->embedded_name.empty()) {
                k = 0;
                while (k < ins.size() && ins[k]->name() != lv->embedded_name) ++k;
                if (k == ins.size()) {
                    return invalid_argument(path + ": the model has no input named '" + lv->embedded_name + "'");
                }
            }
            if (k == ins.size()) {
                // Positional binding only for ONNX test-data style names (input_0.pb) or single-input models.
                const std::string stem = files[f].stem().string();
                if (ins.size() != 1 && !stem.starts_with("input_")) {
                    return invalid_argument(path + ": the name '" + stem + "' matches no model input");
                }
                k = ins.size() == 1 ? 0 : f;
                if (k >= ins.size()) return invalid_argument(path + ": more files than model inputs");
            }
            t = lv->value.tensor;
        }
        if (bound[k]) return invalid_argument(path + ": input '" + ins[k]->name() + "' is given twice");
        NNPORT_RETURN_IF_ERROR(check_tensor(*ins[k], t, path));
        feeds[k] = {ins[k]->name(), std::move(t)};
        bound[k] = true;
    }
    for (size_t k = 0; k < ins.size(); ++k) {
        if (!bound[k]) {
            const std::string where = files.empty() ? std::string("<empty>") : files[0].parent_path().string();
            return invalid_argument(where + ": no file for input '" + ins[k]->name() + "'");
        }
    }
    return feeds;
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool dirs) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (dirs ? e.is_directory() : (e.is_regular_file() && is_data_file(e.path()))) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

Result<std::vector<Feeds>> load_calibration_dir(const ir::Graph& g, const std::string& dir,
                                                const io::ImagePreprocess& images) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return invalid_argument(dir + ": calibration data folder not found");
    const std::vector<const ir::Value*> ins = fed_inputs(g);
    std::vector<Feeds> samples;
    const std::vector<fs::path> files = sorted_entries(dir, false);
    if (!files.empty()) {
        if (ins.size() != 1) {
            return invalid_argument(dir + ": the model has " + std::to_string(ins.size()) +
                                    " inputs; put each sample in its own subfolder (" + files[0].string() + ")");
        }
        for (const fs::path& f : files) {
            NNPORT_ASSIGN_OR_RETURN(Feeds s, read_sample(ins, {f}, images));
            samples.push_back(std::move(s));
        }
    }
    for (const fs::path& sub : sorted_entries(dir, true)) {
        const std::vector<fs::path> sf = sorted_entries(sub, false);
        if (sf.empty()) return invalid_argument(sub.string() + ": no .npy, .pb or image files in this sample folder");
        NNPORT_ASSIGN_OR_RETURN(Feeds s, read_sample(ins, sf, images));
        samples.push_back(std::move(s));
    }
    if (samples.empty()) {
        return invalid_argument(dir + ": no calibration data (.npy, .pb or image files) in this folder");
    }
    return samples;
}

Result<std::vector<Feeds>> synthetic_samples(const ir::Graph& g, int n) {
    std::vector<Feeds> samples;
    for (int s = 0; s < n; ++s) {
        Feeds f;
        uint64_t seed = 1000 + static_cast<uint64_t>(s) * 97;
        for (const ir::Value* v : fed_inputs(g)) {
            NNPORT_ASSIGN_OR_RETURN(RtValue rv, io::random_value(v->type, seed++));
            if (!rv.is_tensor()) return unsupported("input '" + v->name() + "': calibration needs tensor inputs");
            f.emplace_back(v->name(), rv.tensor);
        }
        samples.push_back(std::move(f));
    }
    return samples;
}

Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& model) {
    onnx_export::ExportOptions eo;
    eo.value_info = false;
    NNPORT_ASSIGN_OR_RETURN(std::string bytes, onnx_export::serialize_model(model, eo));
    NNPORT_ASSIGN_OR_RETURN(auto copy, onnx_import::load_model_from_memory(bytes.data(), bytes.size(), "",
                                                                           model.source));
    copy->base_dir = model.base_dir;
    copy->source = model.source;
    ConstantMap consts;  // the copy's intermediate types, as the original has them after inference
    NNPORT_RETURN_IF_ERROR(infer_graph(*copy->graph, consts));
    return copy;
}

namespace {

Result<std::unique_ptr<Session>> make_session(std::unique_ptr<ir::Model> m, const RunConfig& config) {
    SessionOptions so;
    so.optimization_level = 0;
    so.memory_planning = false;
    so.backends = config.backends;
    so.threads = config.threads;
    return Session::from_model(std::move(m), so);
}

}  // namespace

Status run_with_outputs(const ir::Model& model, const std::vector<std::string>& names,
                        const std::vector<Feeds>& samples, const RunConfig& config,
                        const std::function<Status(size_t, size_t, const Tensor&)>& visit) {
    NNPORT_ASSIGN_OR_RETURN(auto copy, clone_model(model));
    ir::Graph& g = *copy->graph;
    std::vector<size_t> slot;  // names[k] -> graph output index
    for (const std::string& n : names) {
        ir::Value* v = g.find_value(n);
        if (!v) return invalid_argument("calibration: the model has no value named '" + n + "'");
        auto it = std::find(g.outputs().begin(), g.outputs().end(), v);
        if (it == g.outputs().end()) {
            g.outputs().push_back(v);
            it = g.outputs().end() - 1;
        }
        slot.push_back(static_cast<size_t>(it - g.outputs().begin()));
    }
    NNPORT_ASSIGN_OR_RETURN(auto session, make_session(std::move(copy), config));
    for (size_t s = 0; s < samples.size(); ++s) {
        auto outs = session->run(samples[s]);
        if (!outs.is_ok()) return outs.status().with_context("calibration sample " + std::to_string(s));
        for (size_t k = 0; k < names.size(); ++k) NNPORT_RETURN_IF_ERROR(visit(s, k, outs.value()[slot[k]]));
    }
    return Status::ok();
}

Result<std::vector<std::vector<Tensor>>> run_outputs(const ir::Model& model, const std::vector<Feeds>& samples,
                                                     const RunConfig& config) {
    NNPORT_ASSIGN_OR_RETURN(auto copy, clone_model(model));
    NNPORT_ASSIGN_OR_RETURN(auto session, make_session(std::move(copy), config));
    std::vector<std::vector<Tensor>> all;
    for (size_t s = 0; s < samples.size(); ++s) {
        auto outs = session->run(samples[s]);
        if (!outs.is_ok()) return outs.status().with_context("sample " + std::to_string(s));
        all.push_back(std::move(outs).value());
    }
    return all;
}

void Histogram::add(const float* x, int64_t n, bool absolute) {
    const double w = bin_width();
    const int64_t last = static_cast<int64_t>(counts.size()) - 1;
    for (int64_t i = 0; i < n; ++i) {
        const float v = absolute ? std::fabs(x[i]) : x[i];
        if (!std::isfinite(v)) continue;
        int64_t b = w > 0 ? static_cast<int64_t>((v - lo) / w) : 0;
        b = std::clamp<int64_t>(b, 0, last);
        counts[static_cast<size_t>(b)] += 1.0;
    }
}

void activation_params(float lo, float hi, DType type, float& scale, int32_t& zero_point) {
    lo = std::min(lo, 0.0f);
    hi = std::max(hi, 0.0f);
    if (type == DType::kInt8) {
        const float m = std::max(-lo, hi);
        scale = m > 0 ? m / 127.0f : 1.0f;
        zero_point = 0;
        return;
    }
    if (hi - lo <= 0) {
        scale = 1.0f;
        zero_point = 0;
        return;
    }
    scale = (hi - lo) / 255.0f;
    zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / scale), 0.0f, 255.0f));
}

std::pair<float, float> percentile_range(const Histogram& h, double p) {
    double total = 0;
    for (double c : h.counts) total += c;
    if (total <= 0) return {h.lo, h.hi};
    const double tail = total * (100.0 - p) / 100.0;
    const double w = h.bin_width();
    size_t a = 0;
    for (double acc = 0; a + 1 < h.counts.size() && acc + h.counts[a] <= tail; ++a) acc += h.counts[a];
    size_t b = h.counts.size() - 1;
    for (double acc = 0; b > a && acc + h.counts[b] <= tail; --b) acc += h.counts[b];
    return {static_cast<float>(h.lo + w * static_cast<double>(a)), static_cast<float>(h.lo + w * (b + 1.0))};
}

namespace {

/// ONNX Runtime's smooth_distribution: every empty bin gets `eps` of mass, taken evenly from the non-empty bins (so a
/// level the reference has mass in never has probability zero). False when every bin is empty.
bool smooth_distribution(std::vector<double>& d, double eps) {
    size_t zeros = 0;
    double min_nonzero = std::numeric_limits<double>::infinity();
    for (double x : d) {
        if (x <= 0) {
            ++zeros;
        } else {
            min_nonzero = std::min(min_nonzero, x);
        }
    }
    const size_t nonzeros = d.size() - zeros;
    if (nonzeros == 0) return false;
    if (zeros == 0) return true;
    // ORT takes eps in counts; a distribution of fractional counts (spread levels) keeps every bin positive.
    eps = std::min(eps, 0.5 * min_nonzero * static_cast<double>(nonzeros) / static_cast<double>(zeros));
    const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
    for (double& x : d) x = x <= 0 ? eps : x - eps1;
    return true;
}

}  // namespace

float entropy_threshold(const Histogram& abs_hist, int levels) {
    const size_t nbins = abs_hist.counts.size(), nq = static_cast<size_t>(std::max(levels, 1));
    if (nbins < 2) return abs_hist.hi;
    std::vector<double> hist = abs_hist.counts;
    // The first bin holds the exact zeros of Relu outputs and padding, often most of a tensor. Any threshold keeps
    // them exact, but spreading that spike over its level makes the divergence grow with the level's width, which
    // drags the threshold down towards the smallest candidates (the digits CNN's Relu outputs were cut to a sixth and
    // a quarter of their ranges, logit SQNR 4 dB). As in NVIDIA's pytorch-quantization, the spike counts as much as
    // its neighbour.
    hist[0] = std::min(hist[0], hist[1]);
    double total = 0;
    for (double c : hist) total += c;
    if (total <= 0) return abs_hist.hi;
    // Candidates from TensorRT's 128 of 2048 bins (1/16 of the largest magnitude) or half the levels, up to the
    // whole histogram.
    const size_t start = std::min(nbins, std::max<size_t>(nq / 2, nbins / 16));
    double best_kl = std::numeric_limits<double>::infinity();
    size_t best = nbins;
    std::vector<double> p, q;
    double outliers = 0;
    for (size_t j = start; j < nbins; ++j) outliers += hist[j];
    for (size_t i = start; i <= nbins; ++i) {
        if (i > start) outliers -= hist[i - 1];
        // Reference: the first i bins, everything beyond clipped into the last one.
        p.assign(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(i));
        p[i - 1] += std::max(outliers, 0.0);
        // Candidate: the first i bins merged into nq levels (or one level per bin when i <= nq), each level's count
        // spread evenly over its bins that are non-empty in the reference (ORT and MXNet).
        q.assign(i, 0.0);
        for (size_t l = 0; l < nq; ++l) {
            const size_t b0 = l * i / nq, b1 = (l + 1) * i / nq;
            double sum = 0;
            size_t nonzero = 0;
            for (size_t j = b0; j < b1; ++j) {
                sum += hist[j];
                nonzero += p[j] > 0;
            }
            if (nonzero == 0) continue;
            for (size_t j = b0; j < b1; ++j) q[j] = p[j] > 0 ? sum / static_cast<double>(nonzero) : 0.0;
        }
        // ORT's smoothing: a level left empty where the reference has mass (the clipped tail) costs a large but
        // finite divergence.
        if (!smooth_distribution(p, 1e-4) || !smooth_distribution(q, 1e-4)) continue;
        double ps = 0, qs = 0;
        for (size_t j = 0; j < i; ++j) {
            ps += p[j];
            qs += q[j];
        }
        double kl = 0;
        for (size_t j = 0; j < i; ++j) {
            const double pj = p[j] / ps, qj = q[j] / qs;
            if (pj > 0) kl += pj * std::log(pj / qj);
        }
        // Ties go to the wider range (NVIDIA's last arg-min): clipping that buys nothing is not taken.
        if (kl <= best_kl) {
            best_kl = kl;
            best = i;
        }
    }
    return static_cast<float>(abs_hist.lo + abs_hist.bin_width() * static_cast<double>(best));
}

std::pair<float, float> mse_range(const Histogram& h, DType type) {
    const double w = h.bin_width();
    double best_err = std::numeric_limits<double>::infinity();
    std::pair<float, float> best{h.lo, h.hi};
    const int32_t qlo = type == DType::kInt8 ? -128 : 0, qhi = type == DType::kInt8 ? 127 : 255;
    const float amax = std::max(std::fabs(h.lo), std::fabs(h.hi));
    constexpr int kSteps = 200;
    for (int k = kSteps; k >= 1; --k) {
        // Candidate clipping magnitude t: the range is [lo, hi] cut to [-t, t].
        const float t = amax * static_cast<float>(k) / kSteps;
        const float lo = std::max(h.lo, -t), hi = std::min(h.hi, t);
        float scale;
        int32_t zp;
        activation_params(lo, hi, type, scale, zp);
        double err = 0;
        for (size_t b = 0; b < h.counts.size(); ++b) {
            if (h.counts[b] <= 0) continue;
            const double c = h.lo + w * (static_cast<double>(b) + 0.5);
            const double q = std::clamp(std::nearbyint(c / scale) + zp, double(qlo), double(qhi));
            const double d = c - (q - zp) * scale;
            err += h.counts[b] * d * d;
        }
        if (err < best_err) {
            best_err = err;
            best = {lo, hi};
        }
    }
    return best;
}

Result<std::vector<TensorRange>> calibrate(const ir::Model& model, const std::vector<std::string>& names,
                                           const std::vector<Feeds>& samples, CalibrationMethod method,
                                           double percentile, DType activation_type, const RunConfig& config) {
    std::vector<TensorRange> ranges(names.size());
    std::vector<int64_t> counts(names.size(), 0);
    for (size_t k = 0; k < names.size(); ++k) {
        ranges[k].name = names[k];
        ranges[k].min = std::numeric_limits<float>::infinity();
        ranges[k].max = -std::numeric_limits<float>::infinity();
    }
    auto float_of = [&](size_t k, const Tensor& t) -> Status {
        if (t.dtype() != DType::kFloat32) {
            return invalid_argument("calibration: value '" + names[k] + "' is " + dtype_name(t.dtype()) +
                                    ", not float32");
        }
        return Status::ok();
    };
    NNPORT_RETURN_IF_ERROR(run_with_outputs(model, names, samples, config,
                                            [&](size_t, size_t k, const Tensor& t) -> Status {
        NNPORT_RETURN_IF_ERROR(float_of(k, t));
        const float* x = t.data<float>();
        counts[k] += t.numel();
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (!std::isfinite(x[i])) continue;
            ranges[k].min = std::min(ranges[k].min, x[i]);
            ranges[k].max = std::max(ranges[k].max, x[i]);
        }
        return Status::ok();
    }));
    for (TensorRange& r : ranges) {
        if (r.min > r.max) r.min = r.max = 0.0f;  // no finite value seen
        r.lo = r.min;
        r.hi = r.max;
    }
    if (method == CalibrationMethod::kMinMax) return ranges;
    const bool absolute = method == CalibrationMethod::kEntropy;
    std::vector<Histogram> hists;
    for (size_t k = 0; k < ranges.size(); ++k) {
        const TensorRange& r = ranges[k];
        const float amax = std::max(std::fabs(r.min), std::fabs(r.max));
        // Entropy: TensorRT's 2048 bins of |x| over [0, max|x|] whatever the tensor's size (a sparse histogram costs
        // at most the last few values of the tail, coarser bins cut more: 1000 Gaussian values keep 90% of their
        // range over 2048 bins, 83% over 256). Percentile and MSE: 2048 bins of x, or fewer for small tensors (16
        // values per bin, at least 256).
        const int bins = absolute ? 2048 : static_cast<int>(std::clamp<int64_t>(counts[k] / 16, 256, 2048));
        hists.emplace_back(absolute ? 0.0f : r.min, absolute ? amax : r.max, bins);
    }
    NNPORT_RETURN_IF_ERROR(run_with_outputs(model, names, samples, config,
                                            [&](size_t, size_t k, const Tensor& t) -> Status {
        hists[k].add(t.data<float>(), t.numel(), absolute);
        return Status::ok();
    }));
    for (size_t k = 0; k < ranges.size(); ++k) {
        TensorRange& r = ranges[k];
        if (r.max <= r.min) continue;
        if (method == CalibrationMethod::kPercentile) {
            std::tie(r.lo, r.hi) = percentile_range(hists[k], percentile);
        } else if (method == CalibrationMethod::kMse) {
            std::tie(r.lo, r.hi) = mse_range(hists[k], activation_type);
        } else {
            // Non-negative tensors (after Relu) use every level of uint8; signed ones half of them per side.
            const bool unsigned_data = r.min >= 0 && activation_type == DType::kUInt8;
            const float t = entropy_threshold(hists[k], unsigned_data ? 256 : 128);
            r.lo = std::max(r.min, -t);
            r.hi = std::min(r.max, t);
        }
    }
    return ranges;
}

}  // namespace nnport::quant

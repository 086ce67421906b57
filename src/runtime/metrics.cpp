// Benchmark metrics: latency summaries and output comparison.
#include "runtime/metrics.hpp"

#include <algorithm>
#include <cmath>

namespace nnport {

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0.0;
    const double idx = std::clamp(p, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(idx);
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - static_cast<double>(lo));
}

LatencySummary summarize_latencies(std::vector<double> values) {
    LatencySummary s;
    if (values.empty()) return s;
    std::sort(values.begin(), values.end());
    s.count = static_cast<int64_t>(values.size());
    s.min = values.front();
    s.max = values.back();
    double sum = 0.0;
    for (double v : values) sum += v;
    s.mean = sum / static_cast<double>(values.size());
    double sq = 0.0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(sq / static_cast<double>(values.size()));
    s.median = percentile(values, 0.5);
    s.p90 = percentile(values, 0.9);
    s.p99 = percentile(values, 0.99);
    return s;
}

Result<OutputDiff> compare_outputs(const Tensor& got, const Tensor& ref) {
    if (got.dtype() == DType::kString || ref.dtype() == DType::kString) {
        return unsupported("string outputs cannot be compared numerically");
    }
    if (got.dtype() != ref.dtype() && !(dtype_is_float(got.dtype()) && dtype_is_float(ref.dtype()))) {
        return invalid_argument(std::string("dtype ") + dtype_name(got.dtype()) + " but the reference is " +
                                dtype_name(ref.dtype()));
    }
    if (got.shape() != ref.shape()) {
        return invalid_argument("shape " + shape_to_string(got.shape()) + " but the reference is " +
                                shape_to_string(ref.shape()));
    }
    OutputDiff d;
    d.count = got.numel();
    double ref_scale = 0.0, dot = 0.0, gg = 0.0, rr = 0.0;
    for (int64_t i = 0; i < d.count; ++i) {
        const double a = got.item_as_double(i), b = ref.item_as_double(i);
        if (!std::isfinite(a) || !std::isfinite(b)) {
            const bool same = (std::isnan(a) && std::isnan(b)) || a == b;
            if (!same) ++d.nonfinite_mismatches;
            continue;
        }
        d.max_abs = std::max(d.max_abs, std::fabs(a - b));
        ref_scale = std::max(ref_scale, std::fabs(b));
        dot += a * b;
        gg += a * a;
        rr += b * b;
    }
    d.max_rel = d.max_abs / std::max(ref_scale, 1e-6);
    if (gg == 0.0 && rr == 0.0)
        d.cosine = 1.0;
    else if (gg == 0.0 || rr == 0.0)
        d.cosine = 0.0;
    else
        d.cosine = dot / (std::sqrt(gg) * std::sqrt(rr));
    const int64_t rank = got.rank();
    if ((rank == 1 || rank == 2) && got.shape().back() >= 2) {
        d.classifier = true;
        const int64_t classes = got.shape().back();
        const int64_t rows = d.count / classes;
        int64_t agree = 0;
        for (int64_t r = 0; r < rows; ++r) {
            int64_t ga = 0, ra = 0;
            for (int64_t c = 1; c < classes; ++c) {
                if (got.item_as_double(r * classes + c) > got.item_as_double(r * classes + ga)) ga = c;
                if (ref.item_as_double(r * classes + c) > ref.item_as_double(r * classes + ra)) ra = c;
            }
            agree += ga == ra;
        }
        d.top1_agreement = rows > 0 ? static_cast<double>(agree) / static_cast<double>(rows) : 1.0;
    }
    return d;
}

}  // namespace nnport

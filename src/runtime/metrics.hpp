// Benchmark metrics: latency summaries and the numerical difference between an output and a reference output.
#pragma once

#include <cstdint>
#include <vector>

#include "nnport/status.hpp"
#include "nnport/tensor.hpp"

namespace nnport {

/// Summary of a set of latencies (same unit as the input).
struct LatencySummary {
    int64_t count = 0;
    double min = 0.0, max = 0.0, mean = 0.0, median = 0.0, p90 = 0.0, p99 = 0.0;
    double stddev = 0.0;  ///< population standard deviation
};

/// The p-quantile (0 <= p <= 1) of ascending `sorted`, interpolating linearly between neighbours (numpy's default);
/// 0 when empty.
double percentile(const std::vector<double>& sorted, double p);

/// Summarizes latencies in any order.
LatencySummary summarize_latencies(std::vector<double> values);

/// How far an output is from a reference output of the same shape.
struct OutputDiff {
    int64_t count = 0;     ///< elements compared
    double max_abs = 0.0;  ///< max |got - ref| over elements that are finite in both, or equal non-finite
    double max_rel = 0.0;  ///< max_abs / max(max |ref|, 1e-6): relative to the reference's scale, as the zoo tests
    double cosine = 1.0;   ///< cosine similarity of the two as vectors (1 when both are all zero)
    int64_t nonfinite_mismatches = 0;  ///< elements where exactly one side is NaN/inf, or both are but differ
    bool classifier = false;           ///< rank 1 or 2 with a last dimension of at least 2: top1 is filled
    double top1_agreement = 0.0;       ///< fraction of rows whose arg-max class agrees
};

/// Compares `got` against `ref`. Fails on a shape mismatch, on string tensors, and on a dtype mismatch other than
/// between float types (a reference from another runtime may be stored at another float width).
Result<OutputDiff> compare_outputs(const Tensor& got, const Tensor& ref);

}  // namespace nnport

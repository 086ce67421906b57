// Model inputs and outputs for the CLI (`run`, `bench`): feeds from files or random data, output file names, and
// reading reference outputs back.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/graph.hpp"
#include "nnport/rt_value.hpp"
#include "nnport/status.hpp"

namespace nnport::cli {

/// How to build a run's inputs.
struct FeedOptions {
    /// `-i` specs: FILE (bound by the name stored in a .pb, else by position) or NAME=FILE; .pb or .npy.
    std::vector<std::string> inputs;
    /// `--shape` specs NAME=D1xD2x... for random inputs; a symbolic dim bound here (or by a file input) takes the same
    /// value in every random input that uses it. Other symbolic dims of random inputs are 1.
    std::vector<std::string> shapes;
    /// Print a notice on stderr for each input filled with random data.
    bool notify_random = true;
};

/// One input of a run and where it came from.
struct Feed {
    std::string name;
    RtValue value;
    std::string source;  ///< the file, or "random (seed N)"
};

/// Builds the inputs of graph `g` (loaded from `model`, named in messages): files first, then random data with fixed
/// seeds for every input not given. Errors name the file or input and the reason.
Result<std::vector<Feed>> make_feeds(const ir::Graph& g, const std::string& model, const FeedOptions& options);

/// The (name, value) pairs Session::run_values takes.
std::vector<std::pair<std::string, RtValue>> feed_pairs(const std::vector<Feed>& feeds);

/// File-name-safe form of an output name (`run -o` writes DIR/<this>.npy).
std::string output_file_stem(const std::string& name);

/// Bytes as mebibytes with two decimals ("1.50 MiB"), for reports.
std::string mib(int64_t bytes);

/// A reference output read from a folder.
struct ReferenceOutput {
    std::string file;  ///< path it was read from
    Tensor tensor;
};

/// Reads reference values for the outputs `names` (in graph output order) from `dir`: the file outputs.json lists
/// (as `nnport run -o` and tools/ort/ort_run.js write), else <stem>.npy, <name>.npy, output_<k>.npy or output_<k>.pb
/// (ONNX test data). Fails, naming the output and the files tried, when one is missing.
Result<std::vector<ReferenceOutput>> read_reference_outputs(const std::string& dir,
                                                            const std::vector<std::string>& names);

}  // namespace nnport::cli

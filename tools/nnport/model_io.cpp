// Model inputs and outputs for the CLI.
#include "model_io.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "io/input_files.hpp"

namespace nnport::cli {

namespace fs = std::filesystem;

namespace {

/// Parses "D1xD2x..." (also comma-separated); "" is a scalar.
Result<Shape> parse_dims(const std::string& text, const std::string& spec) {
    Shape dims;
    if (text.empty()) return dims;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find_first_of("x,", pos);
        if (end == std::string::npos) end = text.size();
        const std::string d = text.substr(pos, end - pos);
        if (d.empty() || d.size() > 12 || !std::all_of(d.begin(), d.end(), [](char c) { return std::isdigit(c); })) {
            return invalid_argument("--shape '" + spec +
                                    "': expected NAME=D1xD2x... with whole numbers, e.g. input=1x3x224x224");
        }
        dims.push_back(std::stoll(d));
        pos = end + 1;
    }
    return dims;
}

/// Records the values symbolic dims take in `shape` for declared type `t`; fails on static mismatches.
Status bind_symbols(const ir::Value& v, const Shape& shape, std::map<std::string, int64_t>& symbols,
                    const std::string& what) {
    const ir::ValueType& t = v.type;
    if (!t.is_tensor() || !t.has_shape) return Status::ok();
    if (shape.size() != t.dims.size()) {
        return invalid_argument(what + ": input '" + v.name() + "' has rank " + std::to_string(t.dims.size()) + " (" +
                                t.to_string() + "), got shape " + shape_to_string(shape));
    }
    for (size_t i = 0; i < shape.size(); ++i) {
        const ir::Dim& d = t.dims[i];
        if (d.is_static() && d.value != shape[i]) {
            return invalid_argument(what + ": input '" + v.name() + "' dimension " + std::to_string(i) + " must be " +
                                    std::to_string(d.value) + " (" + t.to_string() + "), got shape " +
                                    shape_to_string(shape));
        }
        if (!d.is_static() && !d.param.empty()) symbols.emplace(d.param, shape[i]);
    }
    return Status::ok();
}

}  // namespace

Result<std::vector<Feed>> make_feeds(const ir::Graph& g, const std::string& model, const FeedOptions& options) {
    std::vector<const ir::Value*> feedable;
    for (const ir::Value* v : g.inputs()) {
        if (!v->has_initializer()) feedable.push_back(v);
    }
    std::map<std::string, Feed> feeds;
    size_t position = 0;
    for (const std::string& spec : options.inputs) {
        std::string name, file = spec;
        const auto eq = spec.find('=');
        if (eq != std::string::npos && !fs::exists(spec)) {
            name = spec.substr(0, eq);
            file = spec.substr(eq + 1);
        }
        const ir::Value* target = nullptr;
        if (!name.empty()) {
            target = g.find_value(name);
            if (!target || !target->is_graph_input()) {
                return invalid_argument(model + ": the model has no input named '" + name + "'");
            }
        }
        // Read once without type knowledge to learn an embedded name; sequences need the type.
        const ir::Value* pos_target = position < feedable.size() ? feedable[position] : nullptr;
        const ir::Value* hint = target ? target : pos_target;
        NNPORT_ASSIGN_OR_RETURN(io::LoadedValue lv, io::read_value_file(file, hint ? &hint->type : nullptr));
        if (!target && !lv.embedded_name.empty()) {
            const ir::Value* by_name = g.find_value(lv.embedded_name);
            if (by_name && by_name->is_graph_input()) target = by_name;
        }
        if (!target) {
            if (!pos_target) {
                return invalid_argument(file + ": more input files than the model has inputs (" +
                                        std::to_string(feedable.size()) + ")");
            }
            target = pos_target;
        }
        if (name.empty()) ++position;
        // bfloat16 has no numpy dtype: .npy files (ours included) and some ONNX test data carry its bits as uint16.
        if (target->type.is_tensor() && target->type.dtype == DType::kBFloat16 && lv.value.is_tensor() &&
            lv.value.tensor.dtype() == DType::kUInt16) {
            const Tensor& bits = lv.value.tensor;
            lv.value = RtValue(Tensor::view(DType::kBFloat16, bits.shape(), bits.clone().storage()));
        }
        if (feeds.count(target->name()))
            return invalid_argument(file + ": input '" + target->name() + "' is given twice");
        feeds[target->name()] = Feed{target->name(), std::move(lv.value), file};
    }
    // Symbolic dims bound by the files, then by --shape; random inputs use them.
    std::map<std::string, int64_t> symbols;
    for (const auto& [name, f] : feeds) {
        if (!f.value.is_tensor()) continue;
        const ir::ValueType& t = g.find_value(name)->type;
        const Shape& s = f.value.tensor.shape();
        if (!t.has_shape || t.dims.size() != s.size()) continue;  // the session reports the mismatch
        for (size_t i = 0; i < s.size(); ++i) {
            if (!t.dims[i].is_static() && !t.dims[i].param.empty()) symbols.emplace(t.dims[i].param, s[i]);
        }
    }
    std::map<std::string, Shape> shapes;
    for (const std::string& spec : options.shapes) {
        const auto eq = spec.rfind('=');
        if (eq == std::string::npos || eq == 0) {
            return invalid_argument("--shape '" + spec + "': expected NAME=D1xD2x..., e.g. input=1x3x224x224");
        }
        const std::string name = spec.substr(0, eq);
        const ir::Value* v = g.find_value(name);
        if (!v || !v->is_graph_input() || v->has_initializer()) {
            return invalid_argument("--shape '" + spec + "': " + model + " has no input named '" + name + "'");
        }
        if (feeds.count(name))
            return invalid_argument("--shape '" + spec + "': input '" + name + "' is read from a file");
        NNPORT_ASSIGN_OR_RETURN(Shape dims, parse_dims(spec.substr(eq + 1), spec));
        NNPORT_RETURN_IF_ERROR(bind_symbols(*v, dims, symbols, "--shape '" + spec + "'"));
        shapes[name] = dims;
    }
    uint64_t seed = 0x6e6e706f7274ULL;
    for (const ir::Value* v : feedable) {
        ++seed;
        if (feeds.count(v->name())) continue;
        ir::ValueType t = v->type;
        auto given = shapes.find(v->name());
        for (size_t i = 0; i < t.dims.size(); ++i) {
            if (given != shapes.end()) {
                t.dims[i] = ir::Dim(given->second[i]);
            } else if (!t.dims[i].is_static()) {
                auto s = symbols.find(t.dims[i].param);
                t.dims[i] = ir::Dim(s != symbols.end() && !t.dims[i].param.empty() ? s->second : 1);
            }
        }
        auto rv = io::random_value(t, seed);
        if (!rv.is_ok()) return rv.status().with_context(model + ": input '" + v->name() + "'");
        if (options.notify_random) {
            std::cerr << "nnport: notice: input '" << v->name() << "' not given; using random " << t.to_string()
                      << " (seed " << seed << ")\n";
        }
        feeds[v->name()] = Feed{v->name(), std::move(rv).value(), "random (seed " + std::to_string(seed) + ")"};
    }
    std::vector<Feed> out;
    for (const ir::Value* v : feedable) {
        auto it = feeds.find(v->name());
        if (it != feeds.end()) out.push_back(std::move(it->second)), feeds.erase(it);
    }
    for (auto& [name, f] : feeds) out.push_back(std::move(f));  // overrides of initializer-backed inputs
    return out;
}

std::vector<std::pair<std::string, RtValue>> feed_pairs(const std::vector<Feed>& feeds) {
    std::vector<std::pair<std::string, RtValue>> pairs;
    pairs.reserve(feeds.size());
    for (const Feed& f : feeds) pairs.emplace_back(f.name, f.value);
    return pairs;
}

std::string mib(int64_t bytes) { return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1 << 20)); }

std::string output_file_stem(const std::string& name) {
    std::string s;
    for (char c : name)
        s += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
    if (s.empty() || s[0] == '.') s = "_" + s;
    return s;
}

Result<std::vector<ReferenceOutput>> read_reference_outputs(const std::string& dir,
                                                            const std::vector<std::string>& names) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return io_error(dir + ": no such folder (--reference takes a folder of outputs)");
    std::map<std::string, nlohmann::json> listed;
    const fs::path index = fs::path(dir) / "outputs.json";
    if (fs::is_regular_file(index, ec)) {
        std::ifstream f(index);
        const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("outputs") || !j["outputs"].is_array()) {
            return invalid_argument(index.string() + ": not an outputs index ({\"outputs\":[{\"name\",\"file\"}...]})");
        }
        for (const auto& o : j["outputs"]) {
            if (o.is_object() && o.contains("name") && o["name"].is_string()) listed[o["name"].get<std::string>()] = o;
        }
    }
    std::vector<ReferenceOutput> refs;
    for (size_t k = 0; k < names.size(); ++k) {
        const std::string& name = names[k];
        std::vector<std::string> tried;
        if (!listed.empty()) {
            auto it = listed.find(name);
            if (it == listed.end()) return invalid_argument(index.string() + ": no entry for output '" + name + "'");
            if (!it->second.contains("file") || !it->second["file"].is_string()) {
                return unsupported(index.string() + ": output '" + name +
                                   "' is not a tensor file; only tensors are compared");
            }
            tried.push_back(it->second["file"].get<std::string>());
        } else {
            const std::string kk = std::to_string(k);
            tried = {output_file_stem(name) + ".npy", name + ".npy", "output_" + kk + ".npy", "output_" + kk + ".pb"};
        }
        std::string found;
        for (const std::string& f : tried) {
            const fs::path p = fs::path(dir) / f;
            if (fs::is_regular_file(p, ec)) {
                found = p.string();
                break;
            }
        }
        if (found.empty()) {
            std::string list;
            for (const std::string& f : tried) list += (list.empty() ? "" : ", ") + f;
            return io_error(dir + ": no reference for output '" + name + "' (looked for " + list + ")");
        }
        NNPORT_ASSIGN_OR_RETURN(io::LoadedValue lv, io::read_value_file(found, nullptr));
        if (!lv.value.is_tensor()) return unsupported(found + ": not a tensor");
        refs.push_back({found, std::move(lv.value.tensor)});
    }
    return refs;
}

}  // namespace nnport::cli

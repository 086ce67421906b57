// Target profile and rewrite catalogue loading: JSON (nlohmann, no exceptions) -> validated structs.
#include "convert/target_profile.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nnport/nnport.hpp"
#include "ops/op_def.hpp"

#ifndef NNPORT_SOURCE_DIR
#define NNPORT_SOURCE_DIR ""
#endif

namespace nnport::convert {

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

/// Accumulates the first validation error with the file and field path.
class Validator {
public:
    explicit Validator(std::string source) : source_(std::move(source)) {}
    bool ok() const { return error_.empty(); }
    Status status() const { return ok() ? Status::ok() : invalid_argument(error_); }
    void fail(const std::string& field, const std::string& msg) {
        if (error_.empty()) error_ = source_ + ": " + field + ": " + msg;
    }

    std::string str(const Json& j, const std::string& field, bool required) {
        if (!j.contains(last(field))) {
            if (required) fail(field, "missing (a string is required)");
            return "";
        }
        const Json& v = j.at(last(field));
        if (!v.is_string()) {
            fail(field, "expected a string, got " + std::string(v.type_name()));
            return "";
        }
        return v.get<std::string>();
    }
    bool boolean(const Json& j, const std::string& field, bool dflt) {
        if (!j.contains(last(field)) || j.at(last(field)).is_null()) return dflt;
        const Json& v = j.at(last(field));
        if (!v.is_boolean()) {
            fail(field, "expected true or false, got " + std::string(v.type_name()));
            return dflt;
        }
        return v.get<bool>();
    }
    std::optional<int64_t> integer(const Json& j, const std::string& field, int64_t min_value) {
        if (!j.contains(last(field)) || j.at(last(field)).is_null()) return std::nullopt;
        return integer_value(j.at(last(field)), field, min_value);
    }
    std::optional<int64_t> integer_value(const Json& v, const std::string& field, int64_t min_value) {
        if (!v.is_number_integer()) {
            fail(field, "expected an integer, got " + std::string(v.type_name()));
            return std::nullopt;
        }
        const int64_t x = v.get<int64_t>();
        if (x < min_value) {
            fail(field, "must be >= " + std::to_string(min_value) + ", got " + std::to_string(x));
            return std::nullopt;
        }
        return x;
    }
    std::vector<std::string> strings(const Json& j, const std::string& field) {
        std::vector<std::string> out;
        if (!j.contains(last(field)) || j.at(last(field)).is_null()) return out;
        const Json& v = j.at(last(field));
        if (!v.is_array()) {
            fail(field, "expected an array of strings, got " + std::string(v.type_name()));
            return out;
        }
        for (size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string()) {
                fail(field + "[" + std::to_string(i) + "]", "expected a string");
                return out;
            }
            out.push_back(v[i].get<std::string>());
        }
        return out;
    }
    std::vector<int> ints(const Json& j, const std::string& field) {
        std::vector<int> out;
        if (!j.contains(last(field)) || j.at(last(field)).is_null()) return out;
        const Json& v = j.at(last(field));
        if (!v.is_array()) {
            fail(field, "expected an array of integers, got " + std::string(v.type_name()));
            return out;
        }
        for (size_t i = 0; i < v.size(); ++i) {
            auto x = integer_value(v[i], field + "[" + std::to_string(i) + "]", 0);
            if (!x) return out;
            out.push_back(static_cast<int>(*x));
        }
        return out;
    }
    /// [lo, hi] with lo <= hi; null or absent: nullopt.
    std::optional<std::pair<int64_t, int64_t>> range(const Json& j, const std::string& field, int64_t min_value) {
        if (!j.contains(last(field)) || j.at(last(field)).is_null()) return std::nullopt;
        const Json& v = j.at(last(field));
        if (!v.is_array() || v.size() != 2) {
            fail(field, "expected [min, max]");
            return std::nullopt;
        }
        auto lo = integer_value(v[0], field + "[0]", min_value);
        auto hi = integer_value(v[1], field + "[1]", min_value);
        if (!lo || !hi) return std::nullopt;
        if (*lo > *hi) {
            fail(field, "min " + std::to_string(*lo) + " is greater than max " + std::to_string(*hi));
            return std::nullopt;
        }
        return std::make_pair(*lo, *hi);
    }
    std::map<std::string, std::vector<AttrValue>> attr_values(const Json& j, const std::string& field) {
        std::map<std::string, std::vector<AttrValue>> out;
        if (!j.contains(last(field))) return out;
        const Json& v = j.at(last(field));
        if (!v.is_object()) {
            fail(field, "expected an object mapping attribute names to arrays of allowed values");
            return out;
        }
        for (const auto& [name, vals] : v.items()) {
            const std::string f = field + "." + name;
            if (!vals.is_array() || vals.empty()) {
                fail(f, "expected a non-empty array of strings or integers");
                return out;
            }
            for (const Json& x : vals) {
                AttrValue a;
                if (x.is_string()) {
                    a.is_string = true;
                    a.s = x.get<std::string>();
                } else if (x.is_number_integer()) {
                    a.i = x.get<int64_t>();
                } else {
                    fail(f, "expected strings or integers, got " + std::string(x.type_name()));
                    return out;
                }
                out[name].push_back(a);
            }
        }
        return out;
    }
    /// Rejects keys outside `allowed` so a misspelt field is an error rather than an ignored constraint.
    void only_keys(const Json& j, const std::string& where, const std::vector<std::string>& allowed) {
        for (const auto& [k, v] : j.items()) {
            (void)v;
            if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
                fail(where.empty() ? k : where + "." + k, "unknown field");
                return;
            }
        }
    }

private:
    static std::string last(const std::string& field) {
        const size_t p = field.rfind('.');
        return p == std::string::npos ? field : field.substr(p + 1);
    }
    std::string source_;
    std::string error_;
};

const std::vector<std::string> kDtypeNames = {"float32", "float16", "bfloat16",  "float64",   "int8",  "uint8",
                                              "int16",   "uint16",  "int32",     "uint32",    "int64", "uint64",
                                              "bool",    "string",  "complex64", "complex128"};

void check_dtypes(Validator& v, const std::vector<std::string>& dts, const std::string& field) {
    for (const std::string& d : dts) {
        if (std::find(kDtypeNames.begin(), kDtypeNames.end(), d) == kDtypeNames.end()) {
            v.fail(field, "unknown dtype '" + d + "' (use nnport names: float32, float16, int8, ...)");
            return;
        }
    }
}

OpConstraints parse_op(Validator& v, const Json& j, const std::string& f) {
    OpConstraints c;
    if (!j.is_object()) {
        v.fail(f, "expected an object of constraints");
        return c;
    }
    v.only_keys(j, f,
                {"opset", "dtypes", "rank", "attrs", "attr_max", "const_inputs", "static_shapes", "broadcast",
                 "max_outputs", "group", "symmetric_pads", "via", "notes", "inferred"});
    if (auto r = v.range(j, f + ".opset", 1))
        c.opset = std::make_pair(static_cast<int>(r->first), static_cast<int>(r->second));
    c.dtypes = v.strings(j, f + ".dtypes");
    check_dtypes(v, c.dtypes, f + ".dtypes");
    if (auto r = v.range(j, f + ".rank", 0))
        c.rank = std::make_pair(static_cast<int>(r->first), static_cast<int>(r->second));
    c.attrs = v.attr_values(j, f + ".attrs");
    if (j.contains("attr_max")) {
        const Json& am = j.at("attr_max");
        if (!am.is_object()) {
            v.fail(f + ".attr_max", "expected an object mapping attribute names to maximum values");
        } else {
            for (const auto& [name, x] : am.items()) {
                if (auto n = v.integer_value(x, f + ".attr_max." + name, 0)) c.attr_max[name] = *n;
            }
        }
    }
    c.const_inputs = v.ints(j, f + ".const_inputs");
    c.static_shapes = v.boolean(j, f + ".static_shapes", false);
    if (j.contains("broadcast")) {
        c.broadcast = v.str(j, f + ".broadcast", true);
        if (c.broadcast != "numpy" && c.broadcast != "scalar" && c.broadcast != "none") {
            v.fail(f + ".broadcast", "must be \"numpy\", \"scalar\" or \"none\", got \"" + c.broadcast + "\"");
        }
    }
    if (auto n = v.integer(j, f + ".max_outputs", 1)) c.max_outputs = static_cast<int>(*n);
    if (j.contains("group")) {
        c.group = v.str(j, f + ".group", true);
        if (c.group != "1_or_depthwise") v.fail(f + ".group", "must be \"1_or_depthwise\", got \"" + c.group + "\"");
    }
    c.symmetric_pads = v.boolean(j, f + ".symmetric_pads", false);
    c.via = v.str(j, f + ".via", false);
    c.notes = v.str(j, f + ".notes", false);
    c.inferred = v.boolean(j, f + ".inferred", false);
    return c;
}

Result<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return io_error(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

const OpConstraints* TargetProfile::find_op(const std::string& domain, const std::string& op_type) const {
    const std::string key = (domain.empty() || domain == "ai.onnx") ? op_type : domain + ":" + op_type;
    auto it = ops.find(key);
    return it == ops.end() ? nullptr : &it->second;
}

const std::vector<std::string>& known_rewrite_predicates() {
    static const std::vector<std::string> names = {"evaluable_at_load",
                                                   "dropout_inference",
                                                   "cast_is_noop",
                                                   "opset_violation",
                                                   "float_output",
                                                   "rank_2",
                                                   "conv_1x1_on_1x1",
                                                   "alpha_in_0_1",
                                                   "clip_is_relu",
                                                   "clip_bounds_constant",
                                                   "pow_exponent_2",
                                                   "pow_exponent_half",
                                                   "after_single_use_conv",
                                                   "batchnorm_params_constant",
                                                   "pad_zero_constant",
                                                   "consumers_are_conv",
                                                   "reduces_spatial_axes",
                                                   "static_input_rank",
                                                   "static_input_shape",
                                                   "resize_nearest_integer_upscale",
                                                   "convtranspose_2d_group1",
                                                   "conv_dilated",
                                                   "resize_linear_integer_upscale",
                                                   "conv_kernel_exceeds_max"};
    return names;
}

Result<TargetProfile> parse_profile(const std::string& json_text, const std::string& source) {
    Json j = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return invalid_argument(source + ": not valid JSON");
    Validator v(source);
    if (!j.is_object()) return invalid_argument(source + ": expected a JSON object at the top level");
    v.only_keys(j, "",
                {"name", "display_name", "version", "sources", "unknown", "opset_range", "dtypes", "single_output_only",
                 "static_shapes_required", "max_input_resolution", "max_rank", "max_batch", "ops"});
    TargetProfile p;
    p.file = source;
    p.name = v.str(j, "name", true);
    p.display_name = v.str(j, "display_name", true);
    p.version = v.str(j, "version", true);
    if (!j.contains("sources") || !j.at("sources").is_array() || j.at("sources").empty()) {
        v.fail("sources", "required: a non-empty array of {title, url, version, read}");
    } else {
        const Json& s = j.at("sources");
        for (size_t i = 0; i < s.size(); ++i) {
            const std::string f = "sources[" + std::to_string(i) + "]";
            if (!s[i].is_object()) {
                v.fail(f, "expected an object");
                break;
            }
            v.only_keys(s[i], f, {"title", "url", "version", "read"});
            ProfileSource src;
            src.title = v.str(s[i], f + ".title", true);
            src.url = v.str(s[i], f + ".url", true);
            src.version = v.str(s[i], f + ".version", true);
            src.read = v.str(s[i], f + ".read", true);
            p.sources.push_back(src);
        }
    }
    if (!j.contains("unknown")) v.fail("unknown", "required: an array saying what the sources do not document");
    p.unknown = v.strings(j, "unknown");
    if (auto r = v.range(j, "opset_range", 1)) {
        p.opset_range = std::make_pair(static_cast<int>(r->first), static_cast<int>(r->second));
    }
    p.dtypes = v.strings(j, "dtypes");
    if (p.dtypes.empty()) v.fail("dtypes", "required: a non-empty array of element types");
    check_dtypes(v, p.dtypes, "dtypes");
    p.single_output_only = v.boolean(j, "single_output_only", false);
    p.static_shapes_required = v.boolean(j, "static_shapes_required", false);
    if (j.contains("max_input_resolution") && !j.at("max_input_resolution").is_null()) {
        const Json& r = j.at("max_input_resolution");
        if (!r.is_object()) {
            v.fail("max_input_resolution", "expected {\"height\": H, \"width\": W} or null");
        } else {
            auto h = v.integer(r, "max_input_resolution.height", 1);
            auto w = v.integer(r, "max_input_resolution.width", 1);
            if (!h || !w)
                v.fail("max_input_resolution", "needs integer height and width");
            else
                p.max_input_resolution = std::make_pair(*h, *w);
        }
    }
    if (auto n = v.integer(j, "max_rank", 0)) p.max_rank = static_cast<int>(*n);
    if (auto n = v.integer(j, "max_batch", 1)) p.max_batch = *n;
    if (!j.contains("ops") || !j.at("ops").is_object()) {
        v.fail("ops", "required: an object mapping op types to constraints");
    } else {
        for (const auto& [op, c] : j.at("ops").items()) {
            if (op.empty()) {
                v.fail("ops", "empty op name");
                break;
            }
            p.ops[op] = parse_op(v, c, "ops." + op);
            if (!v.ok()) break;
        }
    }
    NNPORT_RETURN_IF_ERROR(v.status());
    return p;
}

Result<TargetProfile> load_profile_file(const std::string& path) {
    NNPORT_ASSIGN_OR_RETURN(std::string text, read_text(path));
    return parse_profile(text, path);
}

Result<RewriteCatalogue> parse_rewrites(const std::string& json_text, const std::string& source) {
    Json j = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return invalid_argument(source + ": not valid JSON");
    Validator v(source);
    if (!j.is_object() || !j.contains("rewrites") || !j.at("rewrites").is_array()) {
        return invalid_argument(source + ": rewrites: required: an array of rewrite entries");
    }
    v.only_keys(j, "", {"schema_version", "rewrites"});
    RewriteCatalogue cat;
    cat.file = source;
    const Json& rs = j.at("rewrites");
    for (size_t i = 0; i < rs.size() && v.ok(); ++i) {
        const Json& e = rs[i];
        const std::string f = "rewrites[" + std::to_string(i) + "]";
        if (!e.is_object()) {
            v.fail(f, "expected an object");
            break;
        }
        v.only_keys(e, f, {"name", "kind", "replaces", "needs", "when", "fixes", "doc"});
        Rewrite r;
        r.name = v.str(e, f + ".name", true);
        r.kind = v.str(e, f + ".kind", true);
        if (v.ok() && r.kind != "exact" && r.kind != "substitution" && r.kind != "approximate") {
            v.fail(f + ".kind", "must be \"exact\", \"substitution\" or \"approximate\", got \"" + r.kind + "\"");
        }
        r.replaces = v.str(e, f + ".replaces", true);
        r.needs = v.strings(e, f + ".needs");
        r.fixes = v.strings(e, f + ".fixes");
        r.doc = v.str(e, f + ".doc", true);
        if (e.contains("when")) {
            const Json& w = e.at("when");
            if (!w.is_object()) {
                v.fail(f + ".when", "expected an object");
            } else {
                v.only_keys(w, f + ".when", {"const_inputs", "attrs", "predicates"});
                r.when_const_inputs = v.ints(w, f + ".when.const_inputs");
                r.when_attrs = v.attr_values(w, f + ".when.attrs");
                r.when_predicates = v.strings(w, f + ".when.predicates");
                for (const std::string& pr : r.when_predicates) {
                    const auto& known = known_rewrite_predicates();
                    if (std::find(known.begin(), known.end(), pr) == known.end()) {
                        v.fail(f + ".when.predicates", "unknown predicate '" + pr + "'");
                    }
                }
            }
        }
        for (const Rewrite& other : cat.rewrites) {
            if (other.name == r.name) v.fail(f + ".name", "duplicate rewrite name '" + r.name + "'");
        }
        cat.rewrites.push_back(std::move(r));
    }
    NNPORT_RETURN_IF_ERROR(v.status());
    return cat;
}

TargetProfile nnport_profile() {
    TargetProfile p;
    p.name = "nnport";
    p.display_name = "nnport (this runtime's reference kernels)";
    p.version = version();
    p.sources.push_back(
        {"nnport op registry (src/ops/op_list.inc, all_ops())", "src/ops/registry.cpp", version(), "generated"});
    p.unknown.push_back(
        "Generated from the registry at run time: every registered inference op, from its since_version.");
    p.dtypes = {"float32", "float16", "bfloat16", "float64", "int8",   "uint8", "int16",
                "uint16",  "int32",   "uint32",   "int64",   "uint64", "bool",  "string"};
    int max_since = 1;
    for (const OpDef* d : all_ops()) {
        if (d->domain.empty()) max_since = std::max(max_since, d->since_version);
    }
    const int latest = std::max(max_since, 24);  // the importer adapts every ai.onnx opset up to the latest
    for (const OpDef* d : all_ops()) {
        if (d->training_only) continue;
        OpConstraints c;
        c.opset = std::make_pair(d->since_version, latest);
        for (DType t : d->input0_types) c.dtypes.push_back(dtype_name(t));
        const std::string key = d->domain.empty() ? d->name : d->domain + ":" + d->name;
        p.ops[key] = c;
    }
    p.opset_range = std::make_pair(1, latest);
    return p;
}

Result<std::string> find_targets_dir(const std::string& override_dir) {
    std::error_code ec;
    auto usable = [&ec](const fs::path& d) { return fs::is_directory(d, ec) && fs::exists(d / "rewrites.json", ec); };
    if (!override_dir.empty()) {
        if (!fs::is_directory(override_dir, ec))
            return io_error("targets directory '" + override_dir + "' does not exist");
        return override_dir;
    }
    if (const char* env = std::getenv("NNPORT_TARGETS_DIR"); env && *env) {
        if (!fs::is_directory(env, ec))
            return io_error("NNPORT_TARGETS_DIR='" + std::string(env) + "' is not a directory");
        return std::string(env);
    }
    std::vector<fs::path> candidates;
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = '\0';
        const fs::path exe_dir = fs::path(buf).parent_path();
        candidates.push_back(exe_dir / "targets");
        candidates.push_back(exe_dir.parent_path() / "targets");
        candidates.push_back(exe_dir.parent_path() / "share" / "nnport" / "targets");
    }
    if (std::string(NNPORT_SOURCE_DIR).size() > 0) candidates.push_back(fs::path(NNPORT_SOURCE_DIR) / "targets");
    for (const fs::path& c : candidates) {
        if (usable(c)) return c.string();
    }
    return io_error("no targets directory found (set NNPORT_TARGETS_DIR or pass --targets-dir)");
}

Result<std::vector<TargetProfile>> load_all_profiles(const std::string& dir) {
    std::vector<TargetProfile> out;
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".json" && e.path().filename() != "rewrites.json") files.push_back(e.path());
    }
    if (ec) return io_error(dir + ": cannot list: " + ec.message());
    for (const fs::path& f : files) {
        NNPORT_ASSIGN_OR_RETURN(TargetProfile p, load_profile_file(f.string()));
        if (p.name + ".json" != f.filename().string()) {
            return invalid_argument(f.string() + ": name: '" + p.name + "' does not match the file name");
        }
        if (p.name == "nnport") return invalid_argument(f.string() + ": name: 'nnport' is generated, not a file");
        out.push_back(std::move(p));
    }
    out.push_back(nnport_profile());
    std::sort(out.begin(), out.end(), [](const TargetProfile& a, const TargetProfile& b) { return a.name < b.name; });
    return out;
}

Result<TargetProfile> load_profile(const std::string& dir, const std::string& name) {
    if (name == "nnport") return nnport_profile();
    const fs::path f = fs::path(dir) / (name + ".json");
    std::error_code ec;
    const bool safe = !name.empty() && name.find('/') == std::string::npos && name.find("..") == std::string::npos;
    if (!safe || name == "rewrites" || !fs::exists(f, ec)) {
        std::string names;
        auto all = load_all_profiles(dir);
        if (all.is_ok()) {
            for (const TargetProfile& p : all.value()) names += (names.empty() ? "" : ", ") + p.name;
        }
        return invalid_argument("unknown target '" + name + "'; available: " + names);
    }
    return load_profile_file(f.string());
}

Result<RewriteCatalogue> load_rewrites(const std::string& dir) {
    const std::string path = (fs::path(dir) / "rewrites.json").string();
    NNPORT_ASSIGN_OR_RETURN(std::string text, read_text(path));
    return parse_rewrites(text, path);
}

}  // namespace nnport::convert

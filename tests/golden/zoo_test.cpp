// Model-zoo golden tests: runs every model listed in the zoo manifest (scripts/gen_zoo.py) through nnport::Session
// and compares each output with PyTorch's, by max relative error = max|a - b| / max(max|b|, 1e-6).
//
// NNPORT_ZOO_DIR overrides the zoo folder (default <source>/models/zoo). NNPORT_ZOO_REPORT=FILE appends one JSON line
// per case (model, opset, nodes, error, seconds, status) for the results table in docs/ZOO.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "nnport/nnport.hpp"

namespace nnport {
namespace {

namespace fs = std::filesystem;

struct ZooCase {
    std::string model;
    int opset = 0;
    fs::path file;
    int64_t nodes = 0;
    std::vector<std::pair<std::string, fs::path>> inputs;  ///< name, .npy
    std::vector<std::pair<std::string, fs::path>> outputs;
    double tolerance = 1e-4;
    std::string problem;  ///< set when the manifest is missing or unreadable: the case skips or fails with it
    bool missing = false;
};

/// Keeps gtest from dumping the struct's bytes in failure lines.
void PrintTo(const ZooCase& c, std::ostream* os) { *os << c.model << " opset " << c.opset; }

fs::path zoo_dir() {
    const char* env = std::getenv("NNPORT_ZOO_DIR");
    if (env && *env) return env;
    return fs::path(NNPORT_SOURCE_DIR) / "models" / "zoo";
}

/// The zoo scripts/gen_zoo.py builds, each at opsets 13 and 17. Listed here so test names (and ctest entries) do not
/// depend on which models were generated: a case whose files are absent skips. Extra manifest entries are appended.
constexpr const char* kKnownModels[] = {"resnet18",      "resnet50",        "mobilenet_v2",  "mobilenet_v3_small",
                                        "squeezenet1_1", "shufflenet_v2",   "efficientnet_b0", "densenet121",
                                        "regnet_y_400mf", "convnext_tiny",  "vit_b_16",      "transformer",
                                        "lstm"};
constexpr int kKnownOpsets[] = {13, 17};

/// Reads the manifest once. A missing manifest makes every known case skip; a broken one makes them fail.
std::vector<ZooCase> load_cases() {
    const fs::path dir = zoo_dir();
    const fs::path manifest = dir / "manifest.json";
    std::vector<ZooCase> listed;
    std::string problem;
    bool missing = false;
    double tolerance = 1e-4;
    if (!fs::exists(manifest)) {
        missing = true;
        problem = manifest.string() +
                  " not found; generate the zoo with `/usr/bin/python3 scripts/gen_zoo.py [--fast]` or set NNPORT_ZOO_DIR";
    } else {
        std::ifstream f(manifest);
        nlohmann::json j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded() || !j.contains("models") || !j["models"].is_array()) {
            problem = manifest.string() + ": not a zoo manifest (bad JSON or no \"models\" array)";
        } else {
            tolerance = j.value("tolerance", 1e-4);
            for (const auto& m : j["models"]) {
                ZooCase c;
                c.model = m.value("model", "");
                c.opset = m.value("opset", 0);
                c.file = dir / m.value("file", "");
                c.nodes = m.value("nodes", 0);
                c.tolerance = tolerance;
                for (const auto& in : m.value("inputs", nlohmann::json::array()))
                    c.inputs.emplace_back(in.value("name", ""), dir / in.value("file", ""));
                for (const auto& out : m.value("outputs", nlohmann::json::array()))
                    c.outputs.emplace_back(out.value("name", ""), dir / out.value("file", ""));
                if (c.model.empty() || c.opset <= 0 || c.outputs.empty())
                    c.problem = manifest.string() + ": malformed entry " + m.dump();
                listed.push_back(std::move(c));
            }
        }
    }
    std::vector<ZooCase> cases;
    auto take = [&](const std::string& model, int opset) -> bool {
        for (auto it = listed.begin(); it != listed.end(); ++it) {
            if (it->model == model && it->opset == opset) {
                cases.push_back(std::move(*it));
                listed.erase(it);
                return true;
            }
        }
        return false;
    };
    for (const char* model : kKnownModels) {
        for (int opset : kKnownOpsets) {
            if (take(model, opset)) continue;
            ZooCase c;
            c.model = model;
            c.opset = opset;
            c.tolerance = tolerance;
            c.missing = problem.empty() || missing;
            c.problem = problem;
            if (c.problem.empty()) {
                c.problem = std::string(model) + " opset " + std::to_string(opset) + " is not in " + manifest.string() +
                            "; generate it with `/usr/bin/python3 scripts/gen_zoo.py --models " + model + "`";
            }
            cases.push_back(std::move(c));
        }
    }
    for (auto& c : listed) cases.push_back(std::move(c));
    return cases;
}

const std::vector<ZooCase>& all_cases() {
    static const std::vector<ZooCase> cases = load_cases();
    return cases;
}

/// max|a - b| / max(max|b|, 1e-6); +inf when `a` has a NaN/Inf where `b` is finite.
double max_rel_error(const Tensor& a, const Tensor& b) {
    double max_diff = 0, max_ref = 0;
    for (int64_t i = 0; i < b.numel(); ++i) {
        const double x = a.item_as_double(i), y = b.item_as_double(i);
        if (std::isnan(x) != std::isnan(y)) return INFINITY;
        if (std::isnan(y)) continue;
        const double d = std::fabs(x - y);
        if (!std::isfinite(d)) return INFINITY;
        max_diff = std::max(max_diff, d);
        max_ref = std::max(max_ref, std::fabs(y));
    }
    return max_diff / std::max(max_ref, 1e-6);
}

void append_report(const ZooCase& c, double err, double seconds, const std::string& status) {
    const char* path = std::getenv("NNPORT_ZOO_REPORT");
    if (!path || !*path) return;
    nlohmann::json j = {{"model", c.model},  {"opset", c.opset},     {"nodes", c.nodes},
                        {"seconds", seconds}, {"status", status}};
    j["max_rel_err"] = std::isfinite(err) ? nlohmann::json(err) : nlohmann::json(nullptr);
    std::ofstream(path, std::ios::app) << j.dump() << "\n";
}

class ZooTest : public ::testing::TestWithParam<ZooCase> {};

TEST_P(ZooTest, MatchesPyTorch) {
    const ZooCase& c = GetParam();
    if (c.missing) GTEST_SKIP() << c.problem;
    ASSERT_TRUE(c.problem.empty()) << c.problem;
    ASSERT_TRUE(fs::exists(c.file)) << c.file.string() << " is listed in the manifest but missing";
    const auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    auto fail = [&](const std::string& why) {
        append_report(c, INFINITY, seconds(), why);
        return why;
    };

    // Every model twice: on the default backends (fastest first) and on the reference kernels alone.
    double worst = 0;
    std::string why;
    for (const char* backends : {"", "ref"}) {
        SessionOptions so;
        so.backends = backends;
        const std::string tag = std::string(" [backends ") + (*backends ? backends : "default") + "]";
        auto session = Session::load(c.file.string(), so);
        ASSERT_TRUE(session.is_ok()) << fail("load: " + session.status().to_string() + tag);
        std::vector<std::pair<std::string, Tensor>> feeds;
        for (const auto& [name, file] : c.inputs) {
            auto t = io::read_npy(file.string());
            ASSERT_TRUE(t.is_ok()) << fail("input: " + t.status().to_string());
            feeds.emplace_back(name, std::move(t).value());
        }
        auto outs = (*session)->run(feeds);
        ASSERT_TRUE(outs.is_ok()) << fail("run: " + outs.status().to_string() + tag);
        ASSERT_EQ(outs->size(), c.outputs.size()) << fail("wrong number of outputs" + tag);
        for (size_t k = 0; k < c.outputs.size(); ++k) {
            const auto& [name, file] = c.outputs[k];
            auto ref = io::read_npy(file.string());
            ASSERT_TRUE(ref.is_ok()) << fail("reference: " + ref.status().to_string());
            const Tensor& got = (*outs)[k];
            if (got.shape() != ref->shape() || got.dtype() != ref->dtype()) {
                why = "output '" + name + "': got " + dtype_name(got.dtype()) + shape_to_string(got.shape()) +
                      ", expected " + dtype_name(ref->dtype()) + shape_to_string(ref->shape()) + tag;
                worst = INFINITY;
                continue;
            }
            const double err = max_rel_error(got, *ref);
            EXPECT_LE(err, c.tolerance) << "output '" << name << "' (" << k << "): max relative error " << err << tag;
            if (!(err <= worst)) worst = err;
        }
    }
    const double secs = seconds();
    std::cout << "[zoo] " << c.model << " opset " << c.opset << ": " << c.nodes << " nodes, max rel err " << worst
              << ", " << secs << " s\n";
    RecordProperty("max_rel_err", std::to_string(worst));
    append_report(c, worst, secs, why.empty() ? (worst <= c.tolerance ? "pass" : "mismatch") : why);
    EXPECT_TRUE(why.empty()) << why;
}

std::string case_name(const ::testing::TestParamInfo<ZooCase>& info) {
    std::string s = info.param.model + (info.param.opset ? "_op" + std::to_string(info.param.opset) : "");
    for (char& ch : s) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    return s;
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooTest, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace nnport

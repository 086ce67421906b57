// The whole optimizer on the model zoo: every model in $NNPORT_ZOO_DIR/manifest.json runs with optimization levels
// 0 and 3 on its recorded input, and the outputs must agree (max |a - b| <= 1e-4 * max |ref| per output). Prints
// the node counts before and after. Skips without NNPORT_ZOO_DIR (ctest label: zoo). NNPORT_ZOO_MODELS=a,b limits
// the run to those models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/npy.hpp"
#include "ir/graph.hpp"
#include "nnport/nnport.hpp"

namespace nnport::testing {
namespace {

namespace fs = std::filesystem;

int64_t nodes_of(const Session& s) {
    int64_t n = 0;
    s.model().graph->for_each_node_recursive([&n](ir::Node&) { ++n; });
    return n;
}

bool selected(const std::string& model) {
    const char* only = std::getenv("NNPORT_ZOO_MODELS");
    if (!only || !*only) return true;
    std::stringstream ss(only);
    for (std::string m; std::getline(ss, m, ',');) {
        if (m == model) return true;
    }
    return false;
}

/// max |a - b| / max |b| (0 when both are all zeros); +inf on a shape/dtype mismatch or a NaN in one only.
double rel_diff(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape() || a.dtype() != b.dtype()) return INFINITY;
    double diff = 0, ref = 0;
    for (int64_t i = 0; i < b.numel(); ++i) {
        const double x = a.item_as_double(i), y = b.item_as_double(i);
        if (std::isnan(x) != std::isnan(y)) return INFINITY;
        if (std::isnan(y)) continue;
        diff = std::max(diff, std::fabs(x - y));
        ref = std::max(ref, std::fabs(y));
    }
    return ref > 0 ? diff / ref : diff;
}

TEST(ZooPipeline, OptimizedMatchesUnoptimized) {
    const char* dir_env = std::getenv("NNPORT_ZOO_DIR");
    if (!dir_env || !*dir_env) GTEST_SKIP() << "set NNPORT_ZOO_DIR to the model zoo (models/zoo)";
    const fs::path dir = dir_env;
    std::ifstream f(dir / "manifest.json");
    ASSERT_TRUE(f.good()) << (dir / "manifest.json").string() << " not found";
    const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    ASSERT_FALSE(j.is_discarded() || !j.contains("models")) << "not a zoo manifest";
    int ran = 0;
    for (const auto& m : j["models"]) {
        const std::string model = m.value("model", ""), file = m.value("file", "");
        if (!selected(model)) continue;
        SCOPED_TRACE(file);
        std::vector<std::pair<std::string, Tensor>> feeds;
        for (const auto& in : m.value("inputs", nlohmann::json::array())) {
            auto t = io::read_npy((dir / in.value("file", "")).string());
            ASSERT_TRUE(t.is_ok()) << t.status().message();
            feeds.emplace_back(in.value("name", ""), std::move(t).value());
        }
        std::vector<std::vector<Tensor>> outs;
        std::vector<int64_t> nodes;
        for (int level : {0, 3}) {
            SessionOptions o;
            o.optimization_level = level;
            auto s = Session::load((dir / file).string(), o);
            ASSERT_TRUE(s.is_ok()) << "level " << level << ": " << s.status().message();
            auto r = (*s)->run(feeds);
            ASSERT_TRUE(r.is_ok()) << "level " << level << ": " << r.status().message();
            outs.push_back(std::move(r).value());
            nodes.push_back(nodes_of(**s));
        }
        ASSERT_EQ(outs[0].size(), outs[1].size());
        double worst = 0;
        for (size_t k = 0; k < outs[0].size(); ++k) {
            const double d = rel_diff(outs[1][k], outs[0][k]);
            EXPECT_LE(d, 1e-4) << "output " << k;
            worst = std::max(worst, d);
        }
        std::cout << "[zoo-opt] " << file << ": nodes " << nodes[0] << " -> " << nodes[1] << ", max rel diff " << worst
                  << "\n";
        ++ran;
    }
    EXPECT_GT(ran, 0) << "no model of the manifest was selected";
}

}  // namespace
}  // namespace nnport::testing

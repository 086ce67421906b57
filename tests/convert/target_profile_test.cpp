// Target profiles: every shipped profile loads and validates, malformed ones fail naming file and field, the
// generated nnport profile matches the op registry, and the rewrite catalogue is consistent.
#include "convert/target_profile.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "ops/op_def.hpp"

namespace nnport::convert {
namespace {

const std::string kTargets = std::string(NNPORT_SOURCE_DIR) + "/targets";

/// Retired ONNX ops converters still accept (nnport imports them as their successors), standard ONNX ops nnport does
/// not implement, and IsFinite, which OpenVINO registers in the default domain.
const std::set<std::string> kLegacyOps = {
    "Upsample",       "Scatter",      "Affine",       "Crop",       "ImageScaler",   "ScaledTanh", "ParametricSoftplus",
    "Scale",          "ATen",         "ConstantFill", "DeformConv", "TensorScatter", "CumProd",    "ImageDecoder",
    "RegexFullMatch", "StringConcat", "StringSplit",  "IsFinite"};

TEST(TargetProfiles, EveryShippedProfileLoadsAndValidates) {
    auto all = load_all_profiles(kTargets);
    ASSERT_TRUE(all.is_ok()) << all.status().message();
    std::set<std::string> names;
    for (const TargetProfile& p : all.value()) {
        names.insert(p.name);
        EXPECT_FALSE(p.sources.empty()) << p.name;
        EXPECT_FALSE(p.ops.empty()) << p.name;
        EXPECT_FALSE(p.dtypes.empty()) << p.name;
        for (const ProfileSource& s : p.sources) {
            EXPECT_FALSE(s.title.empty() || s.url.empty() || s.version.empty() || s.read.empty()) << p.name;
        }
    }
    for (const char* want : {"tflite", "executorch", "tnn", "mnn", "ncnn", "mace", "minidnn", "caffe", "coreml",
                             "snpe_qnn", "tensorrt", "tvm", "armnn", "openvino", "onnxruntime", "nnport"}) {
        EXPECT_TRUE(names.count(want)) << want;
    }
}

TEST(TargetProfiles, OpNamesAreRealOnnxOps) {
    // A misspelt op would silently never match a node; every ai.onnx key must be an op nnport knows or a legacy one.
    auto all = load_all_profiles(kTargets);
    ASSERT_TRUE(all.is_ok()) << all.status().message();
    for (const TargetProfile& p : all.value()) {
        for (const auto& [op, c] : p.ops) {
            (void)c;
            if (op.find(':') != std::string::npos) continue;
            EXPECT_TRUE(find_op("", op) || kLegacyOps.count(op)) << p.name << ": " << op;
        }
    }
}

TEST(TargetProfiles, ProfileContentsMatchTheirSources) {
    // Spot checks against the documents: TNN lacks Cast and Dropout (the paper's example), TensorRT restricts
    // Resize modes, Arm NN's Conv is 2-D with depthwise-or-1 groups.
    auto tnn = load_profile(kTargets, "tnn");
    ASSERT_TRUE(tnn.is_ok()) << tnn.status().message();
    EXPECT_EQ(tnn.value().find_op("", "Cast"), nullptr);
    EXPECT_EQ(tnn.value().find_op("", "Dropout"), nullptr);
    EXPECT_NE(tnn.value().find_op("", "Conv"), nullptr);
    auto trt = load_profile(kTargets, "tensorrt");
    ASSERT_TRUE(trt.is_ok());
    const OpConstraints* resize = trt.value().find_op("ai.onnx", "Resize");
    ASSERT_NE(resize, nullptr);
    ASSERT_TRUE(resize->attrs.count("mode"));
    EXPECT_EQ(resize->attrs.at("mode").size(), 2u);
    auto armnn = load_profile(kTargets, "armnn");
    ASSERT_TRUE(armnn.is_ok());
    EXPECT_EQ(armnn.value().find_op("", "Conv")->group, "1_or_depthwise");
}

TEST(TargetProfiles, MalformedProfileNamesFileAndField) {
    const std::string base = R"({"name":"x","display_name":"X","version":"1",
        "sources":[{"title":"t","url":"u","version":"1","read":"2026-01-01"}],"unknown":[],"dtypes":["float32"],)";
    struct Case {
        std::string json, field;
    };
    const std::vector<Case> cases = {
        {base + R"("ops":{"Conv":{"attrs":{"auto_pad":"NOTSET"}}}})", "ops.Conv.attrs.auto_pad"},
        {base + R"("ops":{"Conv":{"attr_maxx":{"strides":2}}}})", "ops.Conv.attr_maxx"},
        {base + R"("ops":{"Conv":{"dtypes":["fp32"]}}})", "ops.Conv.dtypes"},
        {base + R"("ops":{"Conv":{"rank":[5,3]}}})", "ops.Conv.rank"},
        {base + R"("ops":{"Conv":{"broadcast":"some"}}})", "ops.Conv.broadcast"},
        {base + R"("ops":{"Relu":{}}, "max_rank":"four"})", "max_rank"},
        {R"({"name":"x","display_name":"X","version":"1","unknown":[],"dtypes":["float32"],"ops":{}})", "sources"},
        {base + R"("ops":[]})", "ops"},
    };
    for (const Case& c : cases) {
        auto p = parse_profile(c.json, "targets/x.json");
        ASSERT_FALSE(p.is_ok()) << c.json;
        const std::string& m = p.status().message();
        EXPECT_NE(m.find("targets/x.json"), std::string::npos) << m;
        EXPECT_NE(m.find(c.field + ":"), std::string::npos) << "want field " << c.field << " in: " << m;
    }
    auto bad = parse_profile("{not json", "targets/y.json");
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("targets/y.json"), std::string::npos);
}

TEST(TargetProfiles, ValidProfileParsesEveryField) {
    auto p = parse_profile(R"({"name":"x","display_name":"X","version":"1",
        "sources":[{"title":"t","url":"u","version":"1","read":"2026-01-01"}],"unknown":["u1"],
        "opset_range":[7,13],"dtypes":["float32","int8"],"single_output_only":true,"static_shapes_required":true,
        "max_input_resolution":{"height":480,"width":640},"max_rank":4,"max_batch":1,
        "ops":{"Conv":{"opset":[1,11],"dtypes":["float32"],"rank":[4,4],"attrs":{"auto_pad":["NOTSET"],"group":[1]},
        "attr_max":{"kernel_shape":7},"const_inputs":[1],"static_shapes":true,"broadcast":"none","max_outputs":1,
        "group":"1_or_depthwise","symmetric_pads":true,"via":"CONV_2D","notes":"n","inferred":true}}})",
                           "x.json");
    ASSERT_TRUE(p.is_ok()) << p.status().message();
    const TargetProfile& t = p.value();
    EXPECT_EQ(t.opset_range->second, 13);
    EXPECT_TRUE(t.single_output_only);
    EXPECT_EQ(t.max_input_resolution->second, 640);
    EXPECT_EQ(*t.max_batch, 1);
    const OpConstraints& c = t.ops.at("Conv");
    EXPECT_EQ(c.attrs.at("auto_pad")[0].s, "NOTSET");
    EXPECT_EQ(c.attrs.at("group")[0].i, 1);
    EXPECT_EQ(c.attr_max.at("kernel_shape"), 7);
    EXPECT_EQ(c.const_inputs, std::vector<int>{1});
    EXPECT_TRUE(c.inferred && c.symmetric_pads && c.static_shapes);
    EXPECT_EQ(c.max_outputs, 1);
}

TEST(TargetProfiles, NnportProfileMatchesRegistry) {
    const TargetProfile p = nnport_profile();
    size_t inference_ops = 0;
    for (const OpDef* d : all_ops()) {
        const std::string key = d->domain.empty() ? d->name : d->domain + ":" + d->name;
        if (d->training_only) {
            EXPECT_EQ(p.ops.count(key), 0u) << key;
            continue;
        }
        ++inference_ops;
        ASSERT_TRUE(p.ops.count(key)) << key;
        EXPECT_EQ(p.ops.at(key).opset->first, d->since_version) << key;
    }
    EXPECT_EQ(p.ops.size(), inference_ops);
    auto loaded = load_profile(kTargets, "nnport");
    ASSERT_TRUE(loaded.is_ok());
    EXPECT_EQ(loaded.value().ops.size(), inference_ops);
}

TEST(TargetProfiles, UnknownTargetListsAvailableOnes) {
    auto p = load_profile(kTargets, "no_such_target");
    ASSERT_FALSE(p.is_ok());
    EXPECT_NE(p.status().message().find("unknown target 'no_such_target'"), std::string::npos);
    EXPECT_NE(p.status().message().find("tflite"), std::string::npos);
    EXPECT_FALSE(load_profile(kTargets, "../targets/tflite").is_ok());
    EXPECT_FALSE(load_profile(kTargets, "rewrites").is_ok());
}

TEST(TargetProfiles, TargetsDirResolution) {
    auto d = find_targets_dir(kTargets);
    ASSERT_TRUE(d.is_ok());
    EXPECT_EQ(d.value(), kTargets);
    EXPECT_FALSE(find_targets_dir("/nonexistent/targets").is_ok());
    setenv("NNPORT_TARGETS_DIR", kTargets.c_str(), 1);
    auto e = find_targets_dir();
    unsetenv("NNPORT_TARGETS_DIR");
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(e.value(), kTargets);
}

TEST(RewriteCatalogue, LoadsAndNeedsOnlyRealOps) {
    auto cat = load_rewrites(kTargets);
    ASSERT_TRUE(cat.is_ok()) << cat.status().message();
    EXPECT_GE(cat.value().rewrites.size(), 30u);
    std::set<std::string> kinds;
    for (const Rewrite& r : cat.value().rewrites) {
        kinds.insert(r.kind);
        for (const std::string& op : r.needs) EXPECT_NE(find_op("", op), nullptr) << r.name << " needs " << op;
        if (r.replaces != "*" && r.replaces != "<model>" && r.replaces != "<outputs>") {
            EXPECT_NE(find_op("", r.replaces), nullptr) << r.name << " replaces " << r.replaces;
        }
        EXPECT_FALSE(r.doc.empty()) << r.name;
    }
    EXPECT_EQ(kinds, (std::set<std::string>{"exact", "substitution", "approximate"}));
}

TEST(RewriteCatalogue, RejectsUnknownPredicateAndKind) {
    auto a = parse_rewrites(R"({"rewrites":[{"name":"r","kind":"exact","replaces":"Sub","needs":["Add"],
        "when":{"predicates":["no_such_predicate"]},"doc":"d"}]})",
                            "rw.json");
    ASSERT_FALSE(a.is_ok());
    EXPECT_NE(a.status().message().find("rw.json: rewrites[0].when.predicates"), std::string::npos)
        << a.status().message();
    auto b = parse_rewrites(R"({"rewrites":[{"name":"r","kind":"magic","replaces":"Sub","needs":[],"doc":"d"}]})",
                            "rw.json");
    ASSERT_FALSE(b.is_ok());
    EXPECT_NE(b.status().message().find("rewrites[0].kind"), std::string::npos);
}

}  // namespace
}  // namespace nnport::convert

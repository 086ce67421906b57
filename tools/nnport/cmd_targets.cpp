// `nnport targets [T] [--json] [--targets-dir DIR]`: the deployment target profiles (targets/*.json + nnport itself).
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "convert/target_profile.hpp"

namespace nnport::cli {

namespace {

struct TargetsArgs {
    std::string name;
    std::string targets_dir;
    bool json = false;
};

nlohmann::json range_json(const std::optional<std::pair<int, int>>& r) {
    if (!r) return nullptr;
    return nlohmann::json::array({r->first, r->second});
}

nlohmann::json profile_json(const convert::TargetProfile& p) {
    nlohmann::json j;
    j["name"] = p.name;
    j["display_name"] = p.display_name;
    j["version"] = p.version;
    j["sources"] = nlohmann::json::array();
    for (const auto& s : p.sources) {
        j["sources"].push_back({{"title", s.title}, {"url", s.url}, {"version", s.version}, {"read", s.read}});
    }
    j["unknown"] = p.unknown;
    j["opset_range"] = range_json(p.opset_range);
    j["dtypes"] = p.dtypes;
    j["single_output_only"] = p.single_output_only;
    j["static_shapes_required"] = p.static_shapes_required;
    j["max_input_resolution"] = p.max_input_resolution ? nlohmann::json{{"height", p.max_input_resolution->first},
                                                                        {"width", p.max_input_resolution->second}}
                                                       : nlohmann::json(nullptr);
    j["max_rank"] = p.max_rank ? nlohmann::json(*p.max_rank) : nlohmann::json(nullptr);
    j["max_batch"] = p.max_batch ? nlohmann::json(*p.max_batch) : nlohmann::json(nullptr);
    j["ops"] = nlohmann::json::object();
    for (const auto& [op, c] : p.ops) {
        nlohmann::json o = nlohmann::json::object();
        if (c.opset) o["opset"] = range_json(c.opset);
        if (!c.dtypes.empty()) o["dtypes"] = c.dtypes;
        if (c.rank) o["rank"] = range_json(c.rank);
        for (const auto& [a, vals] : c.attrs) {
            for (const auto& v : vals) o["attrs"][a].push_back(v.is_string ? nlohmann::json(v.s) : nlohmann::json(v.i));
        }
        for (const auto& [a, m] : c.attr_max) o["attr_max"][a] = m;
        if (!c.const_inputs.empty()) o["const_inputs"] = c.const_inputs;
        if (c.static_shapes) o["static_shapes"] = true;
        if (c.broadcast != "numpy") o["broadcast"] = c.broadcast;
        if (c.max_outputs >= 0) o["max_outputs"] = c.max_outputs;
        if (!c.group.empty()) o["group"] = c.group;
        if (c.symmetric_pads) o["symmetric_pads"] = true;
        if (!c.via.empty()) o["via"] = c.via;
        if (!c.notes.empty()) o["notes"] = c.notes;
        if (c.inferred) o["inferred"] = true;
        j["ops"][op] = o;
    }
    return j;
}

std::string constraint_text(const convert::OpConstraints& c) {
    std::vector<std::string> parts;
    if (c.opset) parts.push_back(fmt::format("opset {}-{}", c.opset->first, std::to_string(c.opset->second)));
    if (!c.dtypes.empty()) parts.push_back(fmt::format("dtypes {}", fmt::join(c.dtypes, "/")));
    if (c.rank) parts.push_back(fmt::format("rank {}-{}", c.rank->first, c.rank->second));
    for (const auto& [a, vals] : c.attrs) {
        std::vector<std::string> s;
        for (const auto& v : vals) s.push_back(v.to_string());
        parts.push_back(fmt::format("{} in {{{}}}", a, fmt::join(s, ",")));
    }
    for (const auto& [a, m] : c.attr_max) parts.push_back(fmt::format("{} <= {}", a, m));
    if (!c.const_inputs.empty()) parts.push_back(fmt::format("const inputs {}", fmt::join(c.const_inputs, ",")));
    if (c.static_shapes) parts.push_back("static shapes");
    if (c.broadcast != "numpy") parts.push_back("broadcast " + c.broadcast);
    if (c.max_outputs >= 0) parts.push_back(fmt::format("outputs <= {}", c.max_outputs));
    if (!c.group.empty()) parts.push_back("group " + c.group);
    if (c.symmetric_pads) parts.push_back("symmetric pads");
    if (!c.via.empty()) parts.push_back("via " + c.via);
    if (c.inferred) parts.push_back("(inferred)");
    if (!c.notes.empty()) parts.push_back("- " + c.notes);
    return fmt::format("{}", fmt::join(parts, "; "));
}

int list_targets(const std::vector<convert::TargetProfile>& all, bool json) {
    if (json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& p : all) {
            j.push_back({{"name", p.name},
                         {"display_name", p.display_name},
                         {"version", p.version},
                         {"ops", p.ops.size()},
                         {"source", p.sources.empty() ? "" : p.sources.front().title}});
        }
        std::cout << j.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << fmt::format("{:<12} {:>4}  {:<44} {}\n", "TARGET", "OPS", "VERSION", "SOURCE");
    for (const auto& p : all) {
        std::string version = p.version.size() > 44 ? p.version.substr(0, 41) + "..." : p.version;
        std::cout << fmt::format("{:<12} {:>4}  {:<44} {}\n", p.name, p.ops.size(), version,
                                 p.sources.empty() ? "" : p.sources.front().url);
    }
    return kExitOk;
}

int show_target(const convert::TargetProfile& p, bool json) {
    if (json) {
        std::cout << profile_json(p).dump(2) << "\n";
        return kExitOk;
    }
    std::cout << fmt::format("{} - {}\nversion   {}\n", p.name, p.display_name, p.version);
    for (const auto& s : p.sources)
        std::cout << fmt::format("source    {} ({}, {}; read {})\n", s.title, s.url, s.version, s.read);
    std::cout << fmt::format("opsets    {}\n", p.opset_range
                                                   ? fmt::format("{}-{}", p.opset_range->first, p.opset_range->second)
                                                   : "not documented");
    std::cout << fmt::format("dtypes    {}\n", fmt::join(p.dtypes, ", "));
    std::cout << fmt::format(
        "limits    single output: {}; static shapes: {}; max rank: {}; max batch: {}; max input: {}\n",
        p.single_output_only ? "yes" : "no", p.static_shapes_required ? "yes" : "no",
        p.max_rank ? std::to_string(*p.max_rank) : "-", p.max_batch ? std::to_string(*p.max_batch) : "-",
        p.max_input_resolution ? fmt::format("{}x{}", p.max_input_resolution->first, p.max_input_resolution->second)
                               : "-");
    std::cout << fmt::format("ops ({})\n", p.ops.size());
    for (const auto& [op, c] : p.ops) std::cout << fmt::format("  {:<28} {}\n", op, constraint_text(c));
    if (!p.unknown.empty()) {
        std::cout << "unknown\n";
        for (const auto& u : p.unknown) std::cout << "  - " << u << "\n";
    }
    return kExitOk;
}

int targets_command(const TargetsArgs& a) {
    auto dir = convert::find_targets_dir(a.targets_dir);
    if (!dir.is_ok()) return fail(dir.status());
    if (!a.name.empty()) {
        auto p = convert::load_profile(dir.value(), a.name);
        if (!p.is_ok()) return fail(p.status());
        return show_target(p.value(), a.json);
    }
    auto all = convert::load_all_profiles(dir.value());
    if (!all.is_ok()) return fail(all.status());
    return list_targets(all.value(), a.json);
}

}  // namespace

void setup_targets(CLI::App& app, Action& action) {
    auto args = std::make_shared<TargetsArgs>();
    CLI::App* c = app.add_subcommand("targets", "List deployment target profiles, or show one (ops and constraints)");
    c->add_option("target", args->name, "Profile to show (e.g. tflite, tnn, tensorrt, nnport)");
    c->add_flag("--json", args->json, "Machine-readable output");
    c->add_option("--targets-dir", args->targets_dir,
                  "Folder of target profiles (default: $NNPORT_TARGETS_DIR or the installed targets/)");
    c->callback([args, &action] { action = [args] { return targets_command(*args); }; });
}

}  // namespace nnport::cli

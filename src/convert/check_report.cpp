// Check report rendering: JSON, text, Graphviz DOT of the graph with offending nodes, self-contained HTML.
#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "convert/checker.hpp"

namespace nnport::convert {

namespace {

const char* kVerdictKeys[] = {"runs_as_is", "convertible_exactly", "convertible_approximately", "needs_custom_layers"};

/// Fill colours per scenario (index = Scenario).
const char* kScenarioColour[] = {"#ffffff", "#b7e4c7", "#ffe8a3", "#a9d6ff", "#ffb3b3"};

std::string html_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            default:
                o += c;
        }
    }
    return o;
}

std::string dot_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        if (c == '\n') {
            o += "\\n";
            continue;
        }
        o += c;
    }
    return o;
}

}  // namespace

std::string report_to_json(const CheckReport& r) {
    nlohmann::json j;
    j["model"] = r.model;
    j["target"] = r.target;
    j["target_version"] = r.target_version;
    j["nodes_total"] = r.node_count;
    j["verdict"] = kVerdictKeys[static_cast<int>(r.verdict)];
    j["verdict_text"] = verdict_name(r.verdict);
    j["counts"] = {{"issues", r.nodes.size() + r.model_issues.size()},
                   {"exact_rewrite", r.scenario_counts[1]},
                   {"substitution", r.scenario_counts[2]},
                   {"post_processing", r.scenario_counts[3]},
                   {"custom_layer", r.scenario_counts[4]}};
    j["nodes"] = nlohmann::json::array();
    for (const NodeIssue& n : r.nodes) {
        nlohmann::json e;
        e["name"] = n.name;
        e["op"] = n.op;
        e["domain"] = n.domain;
        e["violations"] = nlohmann::json::array();
        for (const Violation& v : n.violations) e["violations"].push_back({{"kind", v.kind}, {"detail", v.detail}});
        e["scenario"] = static_cast<int>(n.scenario);
        e["scenario_name"] = scenario_name(n.scenario);
        if (!n.rewrite.empty()) {
            e["rewrite"] = n.rewrite;
            e["rewrite_kind"] = n.rewrite_kind;
        }
        e["alternatives"] = n.alternatives;
        if (n.scenario == Scenario::kPostProcess) {
            e["moved_nodes"] = n.moved_nodes;
            e["cut_tensors"] = n.cut_tensors;
        }
        e["resolution"] = n.resolution;
        if (n.in_subgraph) e["in_subgraph"] = true;
        j["nodes"].push_back(e);
    }
    j["model_issues"] = nlohmann::json::array();
    for (const ModelIssue& m : r.model_issues) {
        j["model_issues"].push_back({{"kind", m.kind},
                                     {"detail", m.detail},
                                     {"scenario", static_cast<int>(m.scenario)},
                                     {"scenario_name", scenario_name(m.scenario)},
                                     {"rewrite", m.rewrite},
                                     {"resolution", m.resolution}});
    }
    j["exit_code"] = r.exit_code();
    return j.dump(2);
}

std::string report_to_text(const CheckReport& r) {
    std::ostringstream o;
    o << fmt::format("model   {}\ntarget  {} ({})\nnodes   {}, {} need attention\n", r.model, r.target,
                     r.target_version, r.node_count, r.nodes.size());
    for (const ModelIssue& m : r.model_issues) {
        o << fmt::format("  [model] {}: {}\n      -> ({}) {}{}\n", m.kind, m.detail, static_cast<int>(m.scenario),
                         scenario_name(m.scenario), m.rewrite.empty() ? "" : " via " + m.rewrite);
    }
    for (const NodeIssue& n : r.nodes) {
        std::string why;
        for (const Violation& v : n.violations) why += (why.empty() ? "" : "; ") + v.kind + ": " + v.detail;
        o << fmt::format("  {} '{}': {}\n      -> ({}) {}{}\n", n.domain.empty() ? n.op : n.domain + ":" + n.op, n.name,
                         why, static_cast<int>(n.scenario), scenario_name(n.scenario),
                         n.rewrite.empty() ? (n.scenario == Scenario::kPostProcess
                                                  ? fmt::format(": {} node(s) to the host, {} tensor(s) cross the cut",
                                                                n.moved_nodes.size(), n.cut_tensors)
                                                  : std::string())
                                           : " via " + n.rewrite + " (" + n.rewrite_kind + ")");
    }
    o << fmt::format("verdict {}: {} exact rewrite, {} substitution, {} post-processing, {} custom layer\n",
                     verdict_name(r.verdict), r.scenario_counts[1], r.scenario_counts[2], r.scenario_counts[3],
                     r.scenario_counts[4]);
    return o.str();
}

std::string report_graph_dot(const ir::Graph& g, const CheckReport& r) {
    std::map<std::string, const NodeIssue*> by_name;
    for (const NodeIssue& n : r.nodes) {
        if (!n.in_subgraph) by_name[n.name] = &n;
    }
    std::ostringstream o;
    o << "digraph model {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", "
         "fontsize=10, fillcolor=\"#f4f4f4\"];\n";
    std::map<const ir::Node*, int> ids;
    int next = 0;
    for (const auto& np : g.nodes()) ids[np.get()] = next++;
    for (const ir::Value* v : g.inputs()) {
        if (v->has_initializer()) continue;
        o << fmt::format("  \"in:{}\" [shape=ellipse, fillcolor=\"#e8e8ff\", label=\"{}\\n{}\"];\n",
                         dot_escape(v->name()), dot_escape(v->name()), dot_escape(v->type.to_string()));
    }
    for (const auto& np : g.nodes()) {
        const ir::Node& n = *np;
        auto it = by_name.find(n.name());
        std::string label = n.op_type() + (n.name().empty() ? "" : "\n" + n.name());
        std::string extra;
        if (it != by_name.end()) {
            const NodeIssue& iss = *it->second;
            label += "\n(" + std::to_string(static_cast<int>(iss.scenario)) + ") " + scenario_name(iss.scenario);
            extra = fmt::format(", fillcolor=\"{}\", penwidth=2, color=\"#b00000\", tooltip=\"{}\"",
                                kScenarioColour[static_cast<int>(iss.scenario)],
                                dot_escape(iss.violations.empty() ? "" : iss.violations.front().detail));
        }
        o << fmt::format("  n{} [label=\"{}\"{}];\n", ids[&n], dot_escape(label), extra);
    }
    for (const auto& np : g.nodes()) {
        for (const ir::Value* v : np->inputs()) {
            if (!v || v->has_initializer()) continue;
            const std::string src = v->producer() && ids.count(v->producer())
                                        ? fmt::format("n{}", ids[v->producer()])
                                        : (v->is_graph_input() ? "\"in:" + dot_escape(v->name()) + "\"" : "");
            if (src.empty()) continue;
            o << fmt::format("  {} -> n{};\n", src, ids[np.get()]);
        }
    }
    for (const ir::Value* v : g.outputs()) {
        o << fmt::format("  \"out:{}\" [shape=ellipse, fillcolor=\"#e8ffe8\", label=\"{}\"];\n", dot_escape(v->name()),
                         dot_escape(v->name()));
        if (v->producer() && ids.count(v->producer())) {
            o << fmt::format("  n{} -> \"out:{}\";\n", ids[v->producer()], dot_escape(v->name()));
        }
    }
    o << "}\n";
    return o.str();
}

std::string report_to_html(const CheckReport& r, const std::string& svg) {
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>nnport check: " << html_escape(r.model) << " on "
      << html_escape(r.target) << "</title>\n<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em}"
      << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px "
         "8px;text-align:left;vertical-align:top}"
      << ".s1{background:" << kScenarioColour[1] << "}.s2{background:" << kScenarioColour[2]
      << "}.s3{background:" << kScenarioColour[3] << "}.s4{background:" << kScenarioColour[4]
      << "}.graph{overflow:auto;border:1px solid #ddd;margin-top:1em}</style></head><body>\n";
    o << "<h1>nnport check</h1>\n<p>Model <code>" << html_escape(r.model) << "</code> on target <b>"
      << html_escape(r.target) << "</b> (" << html_escape(r.target_version) << "): <b>" << verdict_name(r.verdict)
      << "</b>. " << r.node_count << " nodes, " << r.nodes.size() << " need attention.</p>\n";
    o << "<p>Scenarios: <span class=\"s1\">(1) exact rewrite: " << r.scenario_counts[1]
      << "</span> <span class=\"s2\">(2) substitution: " << r.scenario_counts[2]
      << "</span> <span class=\"s3\">(3) post-processing: " << r.scenario_counts[3]
      << "</span> <span class=\"s4\">(4) custom layer: " << r.scenario_counts[4] << "</span></p>\n";
    o << "<table><tr><th>Node</th><th>Op</th><th>Violated constraint</th><th>Scenario</th><th>Resolution</th></tr>\n";
    for (const ModelIssue& m : r.model_issues) {
        o << "<tr class=\"s" << static_cast<int>(m.scenario) << "\"><td>(model)</td><td></td><td>"
          << html_escape(m.kind + ": " + m.detail) << "</td><td>(" << static_cast<int>(m.scenario) << ") "
          << scenario_name(m.scenario) << "</td><td>" << html_escape(m.rewrite.empty() ? m.resolution : m.rewrite)
          << "</td></tr>\n";
    }
    for (const NodeIssue& n : r.nodes) {
        std::string why;
        for (const Violation& v : n.violations)
            why += (why.empty() ? "" : "<br>") + html_escape(v.kind + ": " + v.detail);
        o << "<tr class=\"s" << static_cast<int>(n.scenario) << "\"><td>" << html_escape(n.name) << "</td><td>"
          << html_escape(n.domain.empty() ? n.op : n.domain + ":" + n.op) << "</td><td>" << why << "</td><td>("
          << static_cast<int>(n.scenario) << ") " << scenario_name(n.scenario) << "</td><td>"
          << html_escape(n.rewrite.empty() ? n.resolution : n.rewrite + " (" + n.rewrite_kind + ")") << "</td></tr>\n";
    }
    o << "</table>\n<div class=\"graph\">\n";
    // dot's SVG starts with an XML prolog and DOCTYPE; inline SVG needs only the <svg> element.
    const size_t start = svg.find("<svg");
    o << (start == std::string::npos ? svg : svg.substr(start));
    o << "\n</div>\n</body></html>\n";
    return o.str();
}

}  // namespace nnport::convert

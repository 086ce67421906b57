// `nnport ops [--markdown]`: the operator registry (name, domain, opset range, attributes).
#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "ops/op_def.hpp"
#include "plugin_option.hpp"

namespace nnport::cli {

namespace {

int ops_command(bool markdown) {
    std::vector<const OpDef*> ops = all_ops();
    std::sort(ops.begin(), ops.end(), [](const OpDef* a, const OpDef* b) {
        return std::tie(a->domain, a->name) < std::tie(b->domain, b->name);
    });
    if (!markdown) {
        for (const OpDef* d : ops) {
            std::cout << fmt::format("{:<32} {:<10} since opset {}{}\n", d->name, d->domain.empty() ? "ai.onnx" : d->domain,
                                     d->since_version, d->training_only ? " (training only)" : "");
        }
        return kExitOk;
    }
    std::cout << "| Op | Domain | Since opset | Inputs | Outputs | Attributes | Notes |\n|---|---|---|---|---|---|---|\n";
    for (const OpDef* d : ops) {
        std::string attrs;
        for (const AttrSpec& a : d->attrs) attrs += (attrs.empty() ? "" : ", ") + a.name;
        auto range = [](int lo, int hi) { return hi < 0 ? fmt::format("{}+", lo) : lo == hi ? fmt::format("{}", lo) : fmt::format("{}-{}", lo, hi); };
        std::string doc = d->doc;
        for (char& c : doc) {
            if (c == '|' || c == '\n') c = ' ';
        }
        std::cout << fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", d->name, d->domain.empty() ? "ai.onnx" : d->domain,
                                 d->since_version, range(d->min_inputs, d->max_inputs),
                                 range(d->min_outputs, d->max_outputs), attrs,
                                 d->training_only ? "training only" : doc);
    }
    std::cout << "\n" << ops.size() << " operators.\n";
    return kExitOk;
}

}  // namespace

void setup_ops(CLI::App& app, Action& action) {
    auto markdown = std::make_shared<bool>(false);
    auto plugins = std::make_shared<std::vector<std::string>>();
    CLI::App* c = app.add_subcommand("ops", "List the operators nnport implements");
    c->add_flag("--markdown", *markdown, "Print a markdown table (docs/OPS.md is generated from this)");
    add_plugin_option(c, plugins.get());
    c->callback([markdown, plugins, &action] {
        action = [markdown, plugins] {
            Status st = load_plugins(*plugins);
            return st.is_ok() ? ops_command(*markdown) : fail(st);
        };
    });
}

}  // namespace nnport::cli

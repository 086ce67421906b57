// The table of run-time registered ops (plugins): lookup and listing next to the compiled-in registry.
#include "ops/dynamic_ops.hpp"

#include <map>
#include <mutex>

namespace nnport {

namespace {

struct DynamicTable {
    std::mutex mu;
    std::map<std::string, std::unique_ptr<OpDef>> by_key;  // "domain:op_type"
    std::vector<const OpDef*> order;                       // registration order
    std::vector<const OpDef*> listed;                      // builtin + order, rebuilt when order grows
};

DynamicTable& table() {
    static DynamicTable t;
    return t;
}

std::string normalized(const std::string& domain) { return domain == "ai.onnx" ? "" : domain; }

}  // namespace

Status register_dynamic_op(std::unique_ptr<OpDef> def) {
    if (!def || def->name.empty()) return invalid_argument("op without a name");
    def->domain = normalized(def->domain);
    const std::string shown = (def->domain.empty() ? "ai.onnx" : def->domain) + ":" + def->name;
    const std::string key = def->domain + ":" + def->name;
    // find_op takes the table's lock for its dynamic part, so ask it before locking.
    const OpDef* existing = find_op(def->domain, def->name);
    DynamicTable& t = table();
    std::lock_guard<std::mutex> lock(t.mu);
    if (t.by_key.count(key)) return invalid_argument("op " + shown + " is already defined by an earlier plugin");
    if (existing) return invalid_argument("op " + shown + " is already defined (built into nnport)");
    t.order.push_back(def.get());
    t.by_key.emplace(key, std::move(def));
    return Status::ok();
}

const OpDef* find_dynamic_op(const std::string& domain, const std::string& op_type) {
    DynamicTable& t = table();
    std::lock_guard<std::mutex> lock(t.mu);
    if (t.by_key.empty()) return nullptr;
    auto it = t.by_key.find(normalized(domain) + ":" + op_type);
    return it == t.by_key.end() ? nullptr : it->second.get();
}

const std::vector<const OpDef*>& with_dynamic_ops(const std::vector<const OpDef*>& builtin) {
    DynamicTable& t = table();
    std::lock_guard<std::mutex> lock(t.mu);
    if (t.order.empty()) return builtin;
    if (t.listed.size() != builtin.size() + t.order.size()) {
        t.listed = builtin;
        t.listed.insert(t.listed.end(), t.order.begin(), t.order.end());
    }
    return t.listed;
}

}  // namespace nnport

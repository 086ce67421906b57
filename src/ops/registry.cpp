// The operator registry: an explicit list of every op, checked by the compiler (no static constructors).
// Each family has its own list file `ops_<family>.inc` with one NNPORT_OP(Name) line per op;
// the op's file defines `const OpDef& op_def_Name()`.
#include <unordered_map>

#include "ops/dynamic_ops.hpp"
#include "ops/op_def.hpp"

namespace nnport {

#define NNPORT_OP(name) const OpDef& op_def_##name();
#include "ops/op_list.inc"
#undef NNPORT_OP

// Counting the list at compile time makes adding or dropping an op a deliberate, reviewed change (as ggml does).
constexpr size_t kOpCount = 0
#define NNPORT_OP(name) +1
#include "ops/op_list.inc"
#undef NNPORT_OP
    ;
static_assert(kOpCount == 211,
              "op list changed: update kOpCount's expected value and docs/OPS.md (scripts/gen_docs.sh)");

const std::vector<const OpDef*>& all_ops() {
    static const std::vector<const OpDef*> ops = {
#define NNPORT_OP(name) &op_def_##name(),
#include "ops/op_list.inc"
#undef NNPORT_OP
    };
    return with_dynamic_ops(ops);  // plugins' ops (src/runtime/plugin.cpp) come after the compiled-in list
}

const OpDef* find_op(const std::string& domain, const std::string& op_type) {
    static const std::unordered_map<std::string, const OpDef*> index = [] {
        std::unordered_map<std::string, const OpDef*> m;
        for (const OpDef* d : all_ops()) m[d->domain + ":" + d->name] = d;
        return m;
    }();
    const std::string dom = (domain == "ai.onnx") ? "" : domain;
    auto it = index.find(dom + ":" + op_type);
    return it == index.end() ? find_dynamic_op(dom, op_type) : it->second;
}

}  // namespace nnport

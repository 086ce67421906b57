// Backend registry and preference-list parsing.
#include "backends/backend.hpp"

#include <algorithm>
#include <mutex>

namespace nnport {

bool is_f32(const ir::Value* v) {
    return v && v->type.kind == ir::ValueType::Kind::kTensor && v->type.dtype == DType::kFloat32;
}

int64_t rank_of(const ir::Value* v) { return v && v->type.has_shape ? static_cast<int64_t>(v->type.dims.size()) : -1; }

#define NNPORT_BACKEND(name) const Backend& backend_##name();
#include "backends/backend_list.inc"
#undef NNPORT_BACKEND

const std::vector<const Backend*>& all_backends() {
    static const std::vector<const Backend*> list = [] {
        std::vector<const Backend*> v;
#define NNPORT_BACKEND(name) v.push_back(&backend_##name());
#include "backends/backend_list.inc"
#undef NNPORT_BACKEND
        v.push_back(&reference_backend());
        return v;
    }();
    return list;
}

namespace {
std::mutex g_registered_mu;
std::vector<const Backend*>& registered() {
    static std::vector<const Backend*> v;
    return v;
}
}  // namespace

const Backend* find_backend(std::string_view name) {
    for (const Backend* b : all_backends()) {
        if (b->name() == name) return b;
    }
    std::lock_guard<std::mutex> lk(g_registered_mu);
    for (const Backend* b : registered()) {
        if (b->name() == name) return b;
    }
    return nullptr;
}

Status register_backend(const Backend* backend) {
    if (!backend || backend->name().empty()) return invalid_argument("register_backend: a backend needs a name");
    if (find_backend(backend->name())) {
        return invalid_argument("register_backend: a backend named '" + std::string(backend->name()) + "' exists");
    }
    std::lock_guard<std::mutex> lk(g_registered_mu);
    registered().push_back(backend);
    return Status::ok();
}

Result<std::vector<const Backend*>> parse_backend_list(const std::string& list) {
    std::vector<const Backend*> out;
    if (list.empty() || list == "default") {
        for (const Backend* b : all_backends()) {
            if (b->available().ok) out.push_back(b);
        }
        return out;
    }
    std::string known;
    for (const Backend* b : all_backends()) known += (known.empty() ? "" : ", ") + std::string(b->name());
    {
        std::lock_guard<std::mutex> lk(g_registered_mu);
        for (const Backend* b : registered()) known += ", " + std::string(b->name());
    }
    size_t pos = 0;
    while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        const std::string name = list.substr(pos, comma - pos);
        pos = comma + 1;
        if (name.empty()) return invalid_argument("backend list '" + list + "' has an empty name");
        const Backend* b = find_backend(name);
        if (!b) return invalid_argument("unknown backend '" + name + "' (known: " + known + ")");
        const Support a = b->available();
        if (!a.ok) return invalid_argument("backend '" + name + "' is not available here: " + a.reason);
        for (const Backend* o : out) {
            if (o == b) return invalid_argument("backend '" + name + "' is listed twice");
        }
        out.push_back(b);
    }
    if (std::find(out.begin(), out.end(), &reference_backend()) == out.end()) out.push_back(&reference_backend());
    return out;
}

}  // namespace nnport

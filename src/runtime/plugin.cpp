// Plugin loading: dlopen, ABI check, nnport_plugin_init, validation of the ops it registers, and their OpDefs.
#include "runtime/plugin.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "nnport/nnport.hpp"
#include "ops/dynamic_ops.hpp"
#include "runtime/plugin_host.hpp"

namespace nnport {

namespace {

namespace fs = std::filesystem;
using plugin_detail::PluginOp;

/// An op a plugin registered during init, committed to the registry only if the whole init succeeds.
struct PendingOp {
    std::unique_ptr<OpDef> def;
    PluginOp op;
};

/// The state of one nnport_plugin_init call.
struct Registrar {
    std::string file;
    std::vector<PendingOp> ops;
    std::string first_error;  ///< the first rejected register_op, which fails the load
};

thread_local Registrar* g_active = nullptr;

struct Loaded {
    std::mutex mu;  // serializes loads
    std::vector<std::string> files;
    std::map<const OpDef*, std::string> file_of;
};

Loaded& loaded() {
    static Loaded l;
    return l;
}

Result<ir::AttrType> attr_type_of(int32_t t) {
    switch (t) {
        case NNPORT_PLUGIN_ATTR_FLOAT:
            return ir::AttrType::kFloat;
        case NNPORT_PLUGIN_ATTR_INT:
            return ir::AttrType::kInt;
        case NNPORT_PLUGIN_ATTR_STRING:
            return ir::AttrType::kString;
        case NNPORT_PLUGIN_ATTR_FLOATS:
            return ir::AttrType::kFloats;
        case NNPORT_PLUGIN_ATTR_INTS:
            return ir::AttrType::kInts;
        default:
            return invalid_argument("unknown attribute type " + std::to_string(t));
    }
}

Result<AttrSpec> attr_spec_of(const nnport_plugin_attr_spec& a) {
    if (!a.name || !*a.name) return invalid_argument("an attribute has no name");
    const std::string name = a.name;
    auto type = attr_type_of(a.type);
    if (!type.is_ok()) return type.status().with_context("attribute '" + name + "'");
    if (!a.has_default) return AttrSpec::none(name, type.value(), a.required != 0);
    if (a.required) return invalid_argument("attribute '" + name + "' is both required and has a default");
    if ((a.default_ints_count && !a.default_ints) || (a.default_floats_count && !a.default_floats)) {
        return invalid_argument("attribute '" + name + "': default array is NULL with a non-zero count");
    }
    switch (type.value()) {
        case ir::AttrType::kFloat:
            return AttrSpec::f(name, a.default_float);
        case ir::AttrType::kInt:
            return AttrSpec::i(name, a.default_int);
        case ir::AttrType::kString:
            return AttrSpec::s(name, a.default_string ? a.default_string : "");
        case ir::AttrType::kFloats:
            return AttrSpec::floats(name, {a.default_floats, a.default_floats + a.default_floats_count});
        default:
            return AttrSpec::ints(name, {a.default_ints, a.default_ints + a.default_ints_count});
    }
}

/// Checks one registered op and builds its OpDef.
Result<PendingOp> make_op(const nnport_plugin_op& o, const std::string& file) {
    if (o.struct_size < sizeof(nnport_plugin_op)) {
        return invalid_argument("nnport_plugin_op.struct_size " + std::to_string(o.struct_size) + " is smaller than " +
                                std::to_string(sizeof(nnport_plugin_op)) + " (built against another plugin.h?)");
    }
    if (!o.op_type || !*o.op_type) return invalid_argument("an op has no op_type");
    const std::string domain = o.domain && std::string(o.domain) != "ai.onnx" ? o.domain : "";
    const std::string shown = (domain.empty() ? "ai.onnx" : domain) + ":" + o.op_type;
    auto bad = [&shown](const std::string& why) { return invalid_argument("op " + shown + ": " + why); };
    if (domain == "com.nnport") return bad("domain com.nnport is reserved for nnport's own ops");
    if (o.since_version < 1) return bad("since_version must be at least 1");
    if (o.min_inputs < 0 || (o.max_inputs >= 0 && o.max_inputs < o.min_inputs) || o.max_inputs < -1) {
        return bad("invalid input counts " + std::to_string(o.min_inputs) + ".." + std::to_string(o.max_inputs));
    }
    if (o.min_outputs < 1 || (o.max_outputs >= 0 && o.max_outputs < o.min_outputs) || o.max_outputs < -1) {
        return bad("invalid output counts " + std::to_string(o.min_outputs) + ".." + std::to_string(o.max_outputs));
    }
    if (!o.infer || !o.compute) return bad("infer and compute callbacks are required");
    if (o.num_attrs && !o.attrs) return bad("attrs is NULL with num_attrs > 0");
    if (o.flags & ~NNPORT_PLUGIN_OP_NO_CONSTANT_FOLDING) return bad("unknown flags");
    PendingOp p;
    p.def = std::make_unique<OpDef>();
    OpDef& d = *p.def;
    d.name = o.op_type;
    d.domain = domain;
    d.since_version = o.since_version;
    d.min_inputs = o.min_inputs;
    d.max_inputs = o.max_inputs;
    d.min_outputs = o.min_outputs;
    d.max_outputs = o.max_outputs;
    std::set<std::string> names;
    for (size_t k = 0; k < o.num_attrs; ++k) {
        auto a = attr_spec_of(o.attrs[k]);
        if (!a.is_ok()) return bad(a.status().message());
        if (!names.insert(a.value().name).second) return bad("attribute '" + a.value().name + "' is listed twice");
        d.attrs.push_back(std::move(a).value());
    }
    d.infer = plugin_detail::infer_trampoline;
    d.kernel = plugin_detail::kernel_trampoline;
    d.foldable = (o.flags & NNPORT_PLUGIN_OP_NO_CONSTANT_FOLDING) == 0;
    d.doc = std::string(o.doc && *o.doc ? o.doc : "custom op") + " (plugin " + fs::path(file).filename().string() + ")";
    p.op = PluginOp{file, o.since_version, o.infer, o.compute, o.user};
    return p;
}

nnport_plugin_status register_op(void* registrar, const nnport_plugin_op* op) {
    auto* r = static_cast<Registrar*>(registrar);
    auto refuse = [r](const std::string& msg, nnport_plugin_status rc) {
        if (r && r->first_error.empty()) r->first_error = msg;
        return rc;
    };
    if (!r || r != g_active) return NNPORT_PLUGIN_INVALID_ARGUMENT;  // outside nnport_plugin_init: nothing to record
    if (!op) return refuse("register_op called with a NULL op", NNPORT_PLUGIN_INVALID_ARGUMENT);
    auto p = make_op(*op, r->file);
    if (!p.is_ok()) return refuse(p.status().message(), NNPORT_PLUGIN_INVALID_ARGUMENT);
    const OpDef& d = *p.value().def;
    const std::string shown = (d.domain.empty() ? "ai.onnx" : d.domain) + ":" + d.name;
    if (const OpDef* existing = find_op(d.domain, d.name)) {
        const std::string by = plugin_of(*existing);
        return refuse("op " + shown + " is already defined " + (by.empty() ? "by nnport" : "by plugin " + by),
                      NNPORT_PLUGIN_INVALID_ARGUMENT);
    }
    for (const PendingOp& q : r->ops) {
        if (q.def->domain == d.domain && q.def->name == d.name) {
            return refuse("op " + shown + " is registered twice", NNPORT_PLUGIN_INVALID_ARGUMENT);
        }
    }
    r->ops.push_back(std::move(p).value());
    return NNPORT_PLUGIN_OK;
}

}  // namespace

Status load_plugin(const std::string& path) {
    std::error_code ec;
    if (path.empty()) return invalid_argument("plugin path is empty");
    if (!fs::exists(path, ec)) return io_error(path + ": no such plugin file");
    if (!fs::is_regular_file(path, ec)) return io_error(path + ": plugin is not a regular file");
    const std::string file = fs::canonical(path, ec).string();
    if (ec) return io_error(path + ": cannot resolve the plugin's path");
    Loaded& l = loaded();
    std::lock_guard<std::mutex> lock(l.mu);
    for (const std::string& f : l.files) {
        if (f == file) return Status::ok();
    }
    dlerror();
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* e = dlerror();
        return invalid_argument(path + ": cannot load as a shared library: " + (e ? e : "unknown dlopen error"));
    }
    auto fail = [handle](Status st) {
        dlclose(handle);
        return st;
    };
    auto abi = reinterpret_cast<nnport_plugin_abi_version_fn>(dlsym(handle, NNPORT_PLUGIN_ABI_SYMBOL));
    auto init = reinterpret_cast<nnport_plugin_init_fn>(dlsym(handle, NNPORT_PLUGIN_INIT_SYMBOL));
    if (!abi || !init) {
        return fail(invalid_argument(path + ": not an nnport plugin (no " +
                                     std::string(!abi ? NNPORT_PLUGIN_ABI_SYMBOL : NNPORT_PLUGIN_INIT_SYMBOL) +
                                     " symbol; see include/nnport/plugin.h)"));
    }
    const uint32_t v = abi();
    if (v != NNPORT_PLUGIN_ABI_VERSION) {
        return fail(unsupported(path + ": plugin ABI version mismatch: the plugin was built for version " +
                                std::to_string(v) + ", this nnport supports version " +
                                std::to_string(NNPORT_PLUGIN_ABI_VERSION)));
    }
    Registrar reg;
    reg.file = file;
    static nnport_plugin_host host = [] {
        nnport_plugin_host h{};
        h.abi_version = NNPORT_PLUGIN_ABI_VERSION;
        h.struct_size = sizeof(nnport_plugin_host);
        h.nnport_version = version();
        h.register_op = register_op;
        plugin_detail::fill_host_callbacks(&h);
        return h;
    }();
    host.registrar = &reg;
    g_active = &reg;
    plugin_detail::clear_error();
    const nnport_plugin_status rc = init(&host);
    g_active = nullptr;
    host.registrar = nullptr;
    if (rc == NNPORT_PLUGIN_ABI_MISMATCH) {
        return fail(unsupported(path + ": the plugin refuses this nnport's plugin ABI version " +
                                std::to_string(NNPORT_PLUGIN_ABI_VERSION) + ": " + plugin_detail::take_error(rc)));
    }
    // A rejected register_op explains the failure better than the code init passed on from it.
    if (!reg.first_error.empty()) return fail(invalid_argument(path + ": " + reg.first_error));
    if (rc != NNPORT_PLUGIN_OK) {
        return fail(
            plugin_detail::status_of(rc, path + ": nnport_plugin_init failed: " + plugin_detail::take_error(rc)));
    }
    if (reg.ops.empty()) return fail(invalid_argument(path + ": the plugin registered no op"));
    for (PendingOp& p : reg.ops) {
        const OpDef* def = p.def.get();
        plugin_detail::bind_op(def, std::move(p.op));
        l.file_of[def] = file;
        // Checked above under the load lock; only a compiled-in clash found since could fail here.
        Status st = register_dynamic_op(std::move(p.def));
        if (!st.is_ok()) return st.with_context(path);  // earlier ops of this plugin stay: the library stays loaded
    }
    l.files.push_back(file);
    return Status::ok();
}

std::vector<std::string> loaded_plugins() {
    Loaded& l = loaded();
    std::lock_guard<std::mutex> lock(l.mu);
    return l.files;
}

std::string plugin_of(const OpDef& def) {
    const plugin_detail::PluginOp* op = plugin_detail::op_of(&def);
    return op ? op->file : std::string();
}

}  // namespace nnport

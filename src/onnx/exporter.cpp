// ONNX export.
#include "onnx/exporter.hpp"

#include <filesystem>
#include <fstream>
#include <set>

#include "onnx/proto.hpp"
#include "onnx/tensor_proto.hpp"

namespace nnport::onnx_export {

namespace fs = std::filesystem;

namespace {

constexpr size_t kProtoLimit = size_t{2000} << 20;  // stay below protobuf's 2 GiB message limit

void type_to_proto(const ir::ValueType& t, onnx::TypeProto* p) {
    switch (t.kind) {
        case ir::ValueType::Kind::kTensor: {
            auto* tt = p->mutable_tensor_type();
            tt->set_elem_type(static_cast<int32_t>(t.dtype));
            if (t.has_shape) {
                auto* s = tt->mutable_shape();
                for (const ir::Dim& d : t.dims) {
                    auto* dp = s->add_dim();
                    if (d.is_static()) dp->set_dim_value(d.value);
                    else if (!d.param.empty()) dp->set_dim_param(d.param);
                }
            }
            break;
        }
        case ir::ValueType::Kind::kSequence:
            if (t.elem) type_to_proto(*t.elem, p->mutable_sequence_type()->mutable_elem_type());
            else p->mutable_sequence_type();
            break;
        case ir::ValueType::Kind::kOptional:
            if (t.elem) type_to_proto(*t.elem, p->mutable_optional_type()->mutable_elem_type());
            else p->mutable_optional_type();
            break;
        case ir::ValueType::Kind::kUnknown: break;
    }
}

/// Ops whose input `pos` was an attribute `attr` before opset `since` (reverse of import adaptation).
struct Moved {
    const char* op;
    const char* attr;
    size_t pos;
    int since;
};
const Moved kMoved[] = {
    {"Squeeze", "axes", 1, 13},   {"Unsqueeze", "axes", 1, 13}, {"ReduceSum", "axes", 1, 13},
    {"ReduceMax", "axes", 1, 18}, {"ReduceMin", "axes", 1, 18}, {"ReduceMean", "axes", 1, 18},
    {"ReduceProd", "axes", 1, 18}, {"ReduceL1", "axes", 1, 18}, {"ReduceL2", "axes", 1, 18},
    {"ReduceLogSum", "axes", 1, 18}, {"ReduceLogSumExp", "axes", 1, 18}, {"ReduceSumSquare", "axes", 1, 18},
    {"Split", "split", 1, 13},    {"Slice", "starts", 1, 10},   {"Slice", "ends", 2, 10},
    {"Slice", "axes", 3, 10},     {"Pad", "pads", 1, 11},       {"TopK", "k", 1, 10},
};

class Writer {
public:
    Writer(const ir::Model& m, int64_t opset, const ExportOptions& o) : model_(m), opset_(opset), opts_(o) {}

    Status graph(const ir::Graph& g, onnx::GraphProto* gp, bool top) {
        gp->set_name(g.name());
        if (!g.doc_string.empty()) gp->set_doc_string(g.doc_string);
        std::set<const ir::Value*> dropped;  // constant inputs turned back into attributes
        for (const auto& n : g.nodes()) {
            auto* np = gp->add_node();
            NNPORT_RETURN_IF_ERROR(node(*n, np, dropped));
        }
        for (const ir::Value* v : g.inputs()) {
            auto* vi = gp->add_input();
            vi->set_name(v->name());
            type_to_proto(v->type, vi->mutable_type());
        }
        for (const auto& v : g.values()) {
            if (!v->has_initializer()) continue;
            bool used = !v->uses().empty() || v->is_graph_input() || v->is_graph_output();
            if (dropped.count(v.get())) {
                used = v->is_graph_input() || v->is_graph_output();
                for (const ir::Use& u : v->uses()) {
                    if (!dropped_uses_.count({u.node, u.index})) used = true;
                }
            }
            if (!used) continue;
            auto* tp = gp->add_initializer();
            onnx_import::tensor_to_proto(v->initializer(), v->name(), tp);
            if (top) pending_.push_back(tp);
        }
        for (const ir::Value* v : g.outputs()) {
            auto* vi = gp->add_output();
            vi->set_name(v->name());
            type_to_proto(v->type, vi->mutable_type());
        }
        if (opts_.value_info) {
            for (const auto& n : g.nodes()) {
                for (const ir::Value* v : n->outputs()) {
                    if (!v || v->is_graph_output() || v->type.kind == ir::ValueType::Kind::kUnknown) continue;
                    auto* vi = gp->add_value_info();
                    vi->set_name(v->name());
                    type_to_proto(v->type, vi->mutable_type());
                }
            }
        }
        return Status::ok();
    }

    std::vector<onnx::TensorProto*> pending_;  // top-level initializers (candidates for external data)

private:
    Status node(const ir::Node& n, onnx::NodeProto* np, std::set<const ir::Value*>& dropped) {
        np->set_name(n.name());
        op_type_ = n.op_type();
        if (!n.domain().empty()) np->set_domain(n.domain());
        if (!n.doc_string.empty()) np->set_doc_string(n.doc_string);
        std::vector<const ir::Value*> ins(n.inputs().begin(), n.inputs().end());
        ir::Attributes attrs = n.attrs;
        if (n.domain().empty()) NNPORT_RETURN_IF_ERROR(lower(n, ins, attrs, dropped));
        np->set_op_type(op_type_);
        while (!ins.empty() && ins.back() == nullptr) ins.pop_back();
        for (const ir::Value* v : ins) np->add_input(v ? v->name() : "");
        for (const ir::Value* v : n.outputs()) np->add_output(v ? v->name() : "");
        for (const auto& [name, a] : attrs) NNPORT_RETURN_IF_ERROR(attribute(name, a, np->add_attribute()));
        return Status::ok();
    }

    /// Turns canonical inputs back into the attributes the target opset expects.
    Status lower(const ir::Node& n, std::vector<const ir::Value*>& ins, ir::Attributes& attrs,
                 std::set<const ir::Value*>& dropped) {
        const std::string& op = n.op_type();
        for (const Moved& m : kMoved) {
            if (op != m.op || opset_ >= m.since || m.pos >= ins.size() || ins[m.pos] == nullptr) continue;
            const ir::Value* c = ins[m.pos];
            if (!c->has_initializer()) {
                return unsupported(n.describe() + ": input '" + c->name() + "' must be constant to write opset " +
                                   std::to_string(opset_) + " (attribute '" + m.attr + "')");
            }
            std::vector<int64_t> v = c->initializer().to_int_vector();
            attrs[m.attr] = (std::string(m.attr) == "k") ? ir::Attribute::make_int(v.empty() ? 0 : v[0])
                                                         : ir::Attribute::make_ints(v);
            dropped.insert(c);
            dropped_uses_.insert({&n, static_cast<int>(m.pos)});
            ins[m.pos] = nullptr;
        }
        if (op == "Pad" && opset_ < 11 && ins.size() > 2 && ins[2]) {
            const ir::Value* c = ins[2];
            if (!c->has_initializer()) return unsupported(n.describe() + ": pad value must be constant for opset < 11");
            attrs["value"] = ir::Attribute::make_float(static_cast<float>(c->initializer().item_as_double(0)));
            dropped.insert(c);
            dropped_uses_.insert({&n, 2});
            ins[2] = nullptr;
        }
        if (op == "Clip" && opset_ < 11) {
            for (size_t k = 1; k <= 2 && k < ins.size(); ++k) {
                if (!ins[k]) continue;
                if (!ins[k]->has_initializer()) return unsupported(n.describe() + ": Clip bounds must be constant for opset < 11");
                attrs[k == 1 ? "min" : "max"] = ir::Attribute::make_float(static_cast<float>(ins[k]->initializer().item_as_double(0)));
                dropped.insert(ins[k]);
                dropped_uses_.insert({&n, static_cast<int>(k)});
                ins[k] = nullptr;
            }
        }
        if (op == "ScatterElements" && opset_ < 11) {
            if (attrs.count("reduction")) return unsupported(n.describe() + ": reduction needs opset 16");
            op_type_ = "Scatter";
        }
        if (op == "Resize" && opset_ < 11) NNPORT_RETURN_IF_ERROR(lower_resize(n, ins, attrs, dropped));
        return Status::ok();
    }

    /// Resize in canonical (opset 13) form -> Resize-10 (opset 10) or Upsample (opset < 10).
    Status lower_resize(const ir::Node& n, std::vector<const ir::Value*>& ins, ir::Attributes& attrs,
                        std::set<const ir::Value*>& dropped) {
        auto str = [&](const char* k, const char* d) { return attrs.count(k) ? attrs[k].s : std::string(d); };
        const std::string mode = str("mode", "nearest");
        const bool ok = str("coordinate_transformation_mode", "half_pixel") == "asymmetric" &&
                        (mode == "linear" || str("nearest_mode", "round_prefer_floor") == "floor") && mode != "cubic" &&
                        ins.size() >= 3 && ins[2] != nullptr && (ins.size() < 4 || ins[3] == nullptr);
        if (!ok) return unsupported(n.describe() + ": this Resize cannot be written at opset " + std::to_string(opset_));
        const ir::Value* scales = ins[2];
        ins = {ins[0], scales};
        attrs.clear();
        attrs["mode"] = ir::Attribute::make_string(mode);
        if (opset_ >= 10) return Status::ok();
        op_type_ = "Upsample";
        if (opset_ < 9) {
            if (!scales->has_initializer()) return unsupported(n.describe() + ": Upsample scales must be constant for opset < 9");
            std::vector<float> f;
            for (int64_t i = 0; i < scales->initializer().numel(); ++i) {
                f.push_back(static_cast<float>(scales->initializer().item_as_double(i)));
            }
            attrs["scales"] = ir::Attribute::make_floats(f);
            dropped.insert(scales);
            dropped_uses_.insert({&n, 2});
            ins.pop_back();
        }
        return Status::ok();
    }

    Status attribute(const std::string& name, const ir::Attribute& a, onnx::AttributeProto* ap) {
        ap->set_name(name);
        ap->set_type(static_cast<onnx::AttributeProto::AttributeType>(a.type));
        switch (a.type) {
            case ir::AttrType::kFloat: ap->set_f(a.f); break;
            case ir::AttrType::kInt: ap->set_i(a.i); break;
            case ir::AttrType::kString: ap->set_s(a.s); break;
            case ir::AttrType::kFloats: for (float f : a.floats) ap->add_floats(f); break;
            case ir::AttrType::kInts: for (int64_t i : a.ints) ap->add_ints(i); break;
            case ir::AttrType::kStrings: for (const auto& s : a.strings) ap->add_strings(s); break;
            case ir::AttrType::kTensor: onnx_import::tensor_to_proto(a.t, a.t.defined() ? "" : "", ap->mutable_t()); break;
            case ir::AttrType::kTensors:
                for (const Tensor& t : a.tensors) onnx_import::tensor_to_proto(t, "", ap->add_tensors());
                break;
            case ir::AttrType::kGraph: NNPORT_RETURN_IF_ERROR(graph(*a.g, ap->mutable_g(), false)); break;
            case ir::AttrType::kGraphs:
                for (const auto& g : a.graphs) NNPORT_RETURN_IF_ERROR(graph(*g, ap->add_graphs(), false));
                break;
            case ir::AttrType::kTypeProto: type_to_proto(a.type_proto, ap->mutable_tp()); break;
            default: return unsupported("attribute '" + name + "' of type " + ir::attr_type_name(a.type) + " cannot be written");
        }
        return Status::ok();
    }

    const ir::Model& model_;
    int64_t opset_;
    const ExportOptions& opts_;
    std::set<std::pair<const ir::Node*, int>> dropped_uses_;
    std::string op_type_;  // op type written for the current node (lowering may rename it)
};

Result<onnx::ModelProto> build(const ir::Model& m, const ExportOptions& o, std::unique_ptr<Writer>& w) {
    onnx::ModelProto mp;
    mp.set_ir_version(std::max<int64_t>(m.ir_version, 7));
    mp.set_producer_name("nnport");
    mp.set_producer_version("0.1.0");
    if (!m.domain.empty()) mp.set_domain(m.domain);
    mp.set_model_version(m.model_version);
    if (!m.doc_string.empty()) mp.set_doc_string(m.doc_string);
    for (const auto& [k, v] : m.metadata_props) {
        auto* kv = mp.add_metadata_props();
        kv->set_key(k);
        kv->set_value(v);
    }
    int64_t opset = o.opset ? o.opset : std::max<int64_t>(m.opset(""), 7);
    for (const auto& [d, v] : m.opset_imports) {
        auto* os = mp.add_opset_import();
        os->set_domain(d);
        os->set_version(d.empty() ? opset : v);
    }
    if (!m.opset_imports.count("")) {
        auto* os = mp.add_opset_import();
        os->set_domain("");
        os->set_version(opset);
    }
    w = std::make_unique<Writer>(m, opset, o);
    NNPORT_RETURN_IF_ERROR(w->graph(*m.graph, mp.mutable_graph(), true));
    return mp;
}

}  // namespace

Result<std::string> serialize_model(const ir::Model& m, const ExportOptions& options) {
    std::unique_ptr<Writer> w;
    NNPORT_ASSIGN_OR_RETURN(onnx::ModelProto mp, build(m, options, w));
    if (mp.ByteSizeLong() > kProtoLimit) return out_of_range("model exceeds 2 GiB; save it to a file with external data");
    std::string out;
    if (!mp.SerializeToString(&out)) return internal_error("protobuf serialization failed");
    return out;
}

Status save_model(const ir::Model& m, const std::string& path, const ExportOptions& options) {
    std::unique_ptr<Writer> w;
    NNPORT_ASSIGN_OR_RETURN(onnx::ModelProto mp, build(m, options, w));
    std::string ext = options.external_data_file;
    if (ext.empty() && mp.ByteSizeLong() > kProtoLimit) ext = fs::path(path).filename().string() + ".data";
    if (!ext.empty()) {
        if (fs::path(ext).is_absolute() || ext.find("..") != std::string::npos) {
            return invalid_argument("external data file '" + ext + "' must be a plain relative name");
        }
        const fs::path data_path = fs::path(path).parent_path() / ext;
        std::ofstream df(data_path, std::ios::binary);
        if (!df) return io_error(data_path.string() + ": cannot write");
        uint64_t offset = 0;
        for (onnx::TensorProto* tp : w->pending_) {
            if (!tp->has_raw_data() || tp->raw_data().size() < options.external_min_bytes) continue;
            const uint64_t pad = (4096 - offset % 4096) % 4096;  // page-aligned for mapping
            df.write(std::string(pad, '\0').data(), static_cast<std::streamsize>(pad));
            offset += pad;
            const std::string& raw = tp->raw_data();
            df.write(raw.data(), static_cast<std::streamsize>(raw.size()));
            tp->set_data_location(onnx::TensorProto::EXTERNAL);
            auto add = [&](const std::string& k, const std::string& v) {
                auto* e = tp->add_external_data();
                e->set_key(k);
                e->set_value(v);
            };
            add("location", ext);
            add("offset", std::to_string(offset));
            add("length", std::to_string(raw.size()));
            offset += raw.size();
            tp->clear_raw_data();
        }
        if (!df) return io_error(data_path.string() + ": write failed");
    }
    if (mp.ByteSizeLong() > kProtoLimit) return out_of_range(path + ": model exceeds 2 GiB even with external data");
    std::ofstream f(path, std::ios::binary);
    if (!f) return io_error(path + ": cannot write");
    if (!mp.SerializeToOstream(&f)) return io_error(path + ": write failed");
    return Status::ok();
}

}  // namespace nnport::onnx_export

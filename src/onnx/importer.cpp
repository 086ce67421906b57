// ONNX import: ModelProto -> ir::Model. Names are resolved lexically (subgraphs capture outer values).
#include "onnx/importer.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "onnx/opset_adapt.hpp"
#include "onnx/proto.hpp"
#include "onnx/tensor_proto.hpp"
#include "ops/op_def.hpp"

namespace nnport::onnx_import {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 32;  // a declared dimension larger than this is refused

Result<ir::ValueType> type_from_proto(const onnx::TypeProto& t, const std::string& what) {
    switch (t.value_case()) {
        case onnx::TypeProto::kTensorType: {
            const auto& tt = t.tensor_type();
            ir::ValueType vt;
            vt.kind = ir::ValueType::Kind::kTensor;
            if (tt.elem_type() != 0 && !dtype_is_valid(tt.elem_type())) {
                return unsupported(what + ": element type " + std::to_string(tt.elem_type()) + " is not supported");
            }
            vt.dtype = static_cast<DType>(tt.elem_type());
            if (tt.has_shape()) {
                vt.has_shape = true;
                for (const auto& d : tt.shape().dim()) {
                    if (d.has_dim_value()) {
                        if (d.dim_value() < 0 || d.dim_value() > kMaxDim) {
                            return invalid_model(what + ": declared dimension " + std::to_string(d.dim_value()) +
                                                 " is out of range (0.." + std::to_string(kMaxDim) + ")");
                        }
                        vt.dims.emplace_back(d.dim_value());
                    } else if (d.has_dim_param()) {
                        vt.dims.push_back(ir::Dim::symbol(d.dim_param()));
                    } else {
                        vt.dims.emplace_back();
                    }
                }
            }
            return vt;
        }
        case onnx::TypeProto::kSequenceType: {
            ir::ValueType elem;
            if (t.sequence_type().has_elem_type()) {
                NNPORT_ASSIGN_OR_RETURN(elem, type_from_proto(t.sequence_type().elem_type(), what));
            }
            return ir::ValueType::sequence(elem);
        }
        case onnx::TypeProto::kOptionalType: {
            ir::ValueType elem;
            if (t.optional_type().has_elem_type()) {
                NNPORT_ASSIGN_OR_RETURN(elem, type_from_proto(t.optional_type().elem_type(), what));
            }
            return ir::ValueType::optional(elem);
        }
        case onnx::TypeProto::VALUE_NOT_SET: return ir::ValueType();
        default: return unsupported(what + ": map and sparse tensor values are not supported");
    }
}

class GraphImporter {
public:
    GraphImporter(const ir::Model& model, const std::string& base_dir) : model_(model), base_dir_(base_dir) {}

    Result<std::unique_ptr<ir::Graph>> convert(const onnx::GraphProto& gp, ir::Graph* parent) {
        auto g = std::make_unique<ir::Graph>(gp.name(), parent);
        g->doc_string = gp.doc_string();
        NNPORT_RETURN_IF_ERROR(declare(gp, *g));
        NNPORT_RETURN_IF_ERROR(connect(gp, *g));
        NNPORT_RETURN_IF_ERROR(g->topo_sort());
        return g;
    }

    /// External data files read so far (locations as written in the model).
    const std::set<std::string>& external_files() const { return external_files_; }

private:
    /// tensor_from_proto, remembering the external data file it reads.
    Result<Tensor> load_tensor(const onnx::TensorProto& p) {
        if (p.data_location() == onnx::TensorProto::EXTERNAL) {
            for (const auto& kv : p.external_data()) {
                if (kv.key() == "location") external_files_.insert(kv.value());
            }
        }
        return tensor_from_proto(p, base_dir_);
    }

    Status declare(const onnx::GraphProto& gp, ir::Graph& g) {
        const std::string where = "graph '" + gp.name() + "'";
        for (const auto& t : gp.initializer()) {
            if (t.name().empty()) return invalid_model(where + ": initializer without a name");
            auto tensor = load_tensor(t);
            if (!tensor.is_ok()) return tensor.status().with_context(where);
            NNPORT_ASSIGN_OR_RETURN(ir::Value * v, g.add_value(t.name(), ir::ValueType::tensor(tensor->dtype(), tensor->shape())));
            v->set_initializer(std::move(tensor).value());
        }
        for (const auto& st : gp.sparse_initializer()) {
            NNPORT_ASSIGN_OR_RETURN(Tensor dense, densify(st));
            const std::string& name = st.values().name();
            NNPORT_ASSIGN_OR_RETURN(ir::Value * v, g.add_value(name, ir::ValueType::tensor(dense.dtype(), dense.shape())));
            v->set_initializer(std::move(dense));
        }
        for (const auto& vi : gp.input()) {
            NNPORT_ASSIGN_OR_RETURN(ir::ValueType t, type_from_proto(vi.type(), where + " input '" + vi.name() + "'"));
            ir::Value* v = g.find_value(vi.name());
            if (v && v->has_initializer()) {
                // An input with an initializer: an overridable default. Keep the initializer's type.
                if (std::find(g.inputs().begin(), g.inputs().end(), v) != g.inputs().end()) {
                    return invalid_model(where + ": input '" + vi.name() + "' is listed twice");
                }
            } else {
                NNPORT_ASSIGN_OR_RETURN(v, g.add_value(vi.name(), t));
            }
            g.inputs().push_back(v);
        }
        int unnamed = 0;
        for (const auto& np : gp.node()) {
            std::vector<std::string> outs(np.output().begin(), np.output().end());
            std::string name = np.name().empty() ? np.op_type() + "_" + std::to_string(unnamed++) : np.name();
            auto r = g.add_node(np.op_type(), np.domain(), name, {}, outs);
            if (!r.is_ok()) return r.status().with_context(where);
            ir::Node* n = r.value();
            n->doc_string = np.doc_string();
            n->opset = static_cast<int>(model_.opset(np.domain()));
            n->def = find_op(np.domain(), np.op_type());
        }
        return Status::ok();
    }

    Status connect(const onnx::GraphProto& gp, ir::Graph& g) {
        const std::string where = "graph '" + gp.name() + "'";
        for (int ni = 0; ni < gp.node_size(); ++ni) {
            const auto& np = gp.node(ni);
            ir::Node* n = g.nodes()[static_cast<size_t>(ni)].get();
            for (const std::string& in : np.input()) {
                if (in.empty()) {
                    n->add_input(nullptr);
                    continue;
                }
                ir::Value* v = lookup(g, in);
                if (!v) return invalid_model(where + ": " + n->describe() + " reads '" + in + "', which is not defined");
                n->add_input(v);
            }
            // Trailing omitted optional inputs carry no meaning.
            while (!n->inputs().empty() && n->inputs().back() == nullptr) {
                std::vector<ir::Value*> trimmed(n->inputs().begin(), n->inputs().end() - 1);
                n->set_inputs(trimmed);
            }
            for (const auto& ap : np.attribute()) {
                auto a = attribute(ap, g);
                if (!a.is_ok()) return a.status().with_context(n->describe());
                n->attrs[ap.name()] = std::move(a).value();
            }
        }
        for (const auto& vi : gp.output()) {
            ir::Value* v = lookup(g, vi.name());
            if (!v) return invalid_model(where + ": output '" + vi.name() + "' is never produced");
            NNPORT_ASSIGN_OR_RETURN(ir::ValueType t, type_from_proto(vi.type(), where + " output '" + vi.name() + "'"));
            if (v->type.kind == ir::ValueType::Kind::kUnknown) v->type = t;
            g.outputs().push_back(v);
        }
        for (const auto& vi : gp.value_info()) {
            ir::Value* v = g.find_value(vi.name());
            if (!v || v->has_initializer()) continue;
            NNPORT_ASSIGN_OR_RETURN(ir::ValueType t, type_from_proto(vi.type(), where + " value '" + vi.name() + "'"));
            v->type = t;
        }
        return Status::ok();
    }

    ir::Value* lookup(ir::Graph& g, const std::string& name) {
        if (ir::Value* v = g.find_value(name)) return v;
        if (!g.parent()) return nullptr;
        ir::Value* outer = g.parent()->resolve(name);
        return outer ? g.capture(outer) : nullptr;
    }

    Result<ir::Attribute> attribute(const onnx::AttributeProto& ap, ir::Graph& g) {
        ir::Attribute a;
        a.type = static_cast<ir::AttrType>(ap.type());
        const std::string what = "attribute '" + ap.name() + "'";
        if (ap.type() == onnx::AttributeProto::UNDEFINED) {
            // Old exporters omit the type: infer it from the field that is set.
            if (ap.has_f()) a.type = ir::AttrType::kFloat;
            else if (ap.has_i()) a.type = ir::AttrType::kInt;
            else if (ap.has_s()) a.type = ir::AttrType::kString;
            else if (ap.has_t()) a.type = ir::AttrType::kTensor;
            else if (ap.has_g()) a.type = ir::AttrType::kGraph;
            else if (ap.floats_size()) a.type = ir::AttrType::kFloats;
            else if (ap.ints_size()) a.type = ir::AttrType::kInts;
            else if (ap.strings_size()) a.type = ir::AttrType::kStrings;
            else return invalid_model(what + " has no type and no value");
        }
        if (!ap.ref_attr_name().empty()) return unsupported(what + " refers to a function attribute");
        switch (a.type) {
            case ir::AttrType::kFloat: a.f = ap.f(); break;
            case ir::AttrType::kInt: a.i = ap.i(); break;
            case ir::AttrType::kString: a.s = ap.s(); break;
            case ir::AttrType::kFloats: a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
            case ir::AttrType::kInts: a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
            case ir::AttrType::kStrings: a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
            case ir::AttrType::kTensor: {
                auto t = load_tensor(ap.t());
                if (!t.is_ok()) return t.status().with_context(what);
                a.t = std::move(t).value();
                break;
            }
            case ir::AttrType::kTensors:
                for (const auto& tp : ap.tensors()) {
                    auto t = load_tensor(tp);
                    if (!t.is_ok()) return t.status().with_context(what);
                    a.tensors.push_back(std::move(t).value());
                }
                break;
            case ir::AttrType::kGraph: {
                auto sg = convert(ap.g(), &g);
                if (!sg.is_ok()) return sg.status().with_context(what);
                a.g = std::shared_ptr<ir::Graph>(std::move(sg).value().release());
                break;
            }
            case ir::AttrType::kGraphs:
                for (const auto& gp : ap.graphs()) {
                    auto sg = convert(gp, &g);
                    if (!sg.is_ok()) return sg.status().with_context(what);
                    a.graphs.push_back(std::shared_ptr<ir::Graph>(std::move(sg).value().release()));
                }
                break;
            case ir::AttrType::kSparseTensor: {
                NNPORT_ASSIGN_OR_RETURN(a.t, densify(ap.sparse_tensor()));
                a.type = ir::AttrType::kTensor;  // sparse_value of Constant is stored densified
                break;
            }
            case ir::AttrType::kTypeProto: {
                NNPORT_ASSIGN_OR_RETURN(a.type_proto, type_from_proto(ap.tp(), what));
                break;
            }
            default: return unsupported(what + ": attribute type " + std::to_string(ap.type()) + " is not supported");
        }
        return a;
    }

    Result<Tensor> densify(const onnx::SparseTensorProto& sp) {
        NNPORT_ASSIGN_OR_RETURN(Tensor values, load_tensor(sp.values()));
        NNPORT_ASSIGN_OR_RETURN(Tensor indices, load_tensor(sp.indices()));
        Shape shape(sp.dims().begin(), sp.dims().end());
        auto dense_r = Tensor::create(values.dtype(), shape, true);
        if (!dense_r.is_ok()) return dense_r.status().with_context("sparse tensor '" + sp.values().name() + "'");
        Tensor dense = std::move(dense_r).value();
        const int64_t nnz = values.numel();
        const int64_t total = dense.numel();
        const size_t es = dtype_size(values.dtype());
        const bool coords = indices.rank() == 2;
        if (values.dtype() == DType::kString) return unsupported("sparse string tensors are not supported");
        for (int64_t k = 0; k < nnz; ++k) {
            int64_t lin = 0;
            if (coords) {
                if (indices.dim(0) != nnz || indices.dim(1) != static_cast<int64_t>(shape.size())) {
                    return invalid_model("sparse tensor '" + sp.values().name() + "': indices shape mismatch");
                }
                for (size_t d = 0; d < shape.size(); ++d) {
                    lin = lin * shape[d] + indices.item_as_int(k * static_cast<int64_t>(shape.size()) + static_cast<int64_t>(d));
                }
            } else {
                if (indices.numel() != nnz) return invalid_model("sparse tensor '" + sp.values().name() + "': indices count mismatch");
                lin = indices.item_as_int(k);
            }
            if (lin < 0 || lin >= total) return invalid_model("sparse tensor '" + sp.values().name() + "': index out of range");
            std::memcpy(static_cast<char*>(dense.raw_data()) + static_cast<size_t>(lin) * es,
                        static_cast<const char*>(values.raw_data()) + static_cast<size_t>(k) * es, es);
        }
        return dense;
    }

    const ir::Model& model_;
    std::string base_dir_;
    std::set<std::string> external_files_;
};

/// Expands calls of model-local functions (FunctionProto) in a graph, recursively, renaming the body's
/// intermediate values with the calling node's name so they stay unique.
Status inline_graph(onnx::GraphProto& g, const std::map<std::string, const onnx::FunctionProto*>& fns, int depth) {
    if (depth > 16) return invalid_model("model-local functions nest deeper than 16 levels (recursion?)");
    google::protobuf::RepeatedPtrField<onnx::NodeProto> out;
    int call = 0;
    for (auto& n : *g.mutable_node()) {
        for (auto& a : *n.mutable_attribute()) {
            if (a.has_g()) NNPORT_RETURN_IF_ERROR(inline_graph(*a.mutable_g(), fns, depth + 1));
            for (auto& sg : *a.mutable_graphs()) NNPORT_RETURN_IF_ERROR(inline_graph(sg, fns, depth + 1));
        }
        auto it = fns.find(n.domain() + ":" + n.op_type());
        if (it == fns.end()) {
            *out.Add() = n;
            continue;
        }
        const onnx::FunctionProto& f = *it->second;
        const std::string prefix = (n.name().empty() ? f.name() + std::to_string(call) : n.name()) + "/";
        ++call;
        std::map<std::string, std::string> rename;
        for (int i = 0; i < f.input_size(); ++i) rename[f.input(i)] = i < n.input_size() ? n.input(i) : "";
        for (int i = 0; i < f.output_size(); ++i) rename[f.output(i)] = i < n.output_size() ? n.output(i) : "";
        std::map<std::string, const onnx::AttributeProto*> given;
        for (const auto& a : n.attribute()) given[a.name()] = &a;
        onnx::GraphProto body;
        for (const auto& bn : f.node()) {
            onnx::NodeProto c = bn;
            c.set_name(prefix + bn.name());
            for (auto& in : *c.mutable_input()) {
                if (in.empty()) continue;
                auto r = rename.find(in);
                in = r != rename.end() ? r->second : prefix + in;
            }
            for (auto& o : *c.mutable_output()) {
                if (o.empty()) continue;
                auto r = rename.find(o);
                o = r != rename.end() ? r->second : prefix + o;
            }
            google::protobuf::RepeatedPtrField<onnx::AttributeProto> attrs;
            for (const auto& a : c.attribute()) {
                if (a.ref_attr_name().empty()) {
                    *attrs.Add() = a;
                    continue;
                }
                auto gi = given.find(a.ref_attr_name());
                if (gi == given.end()) continue;  // not given by the caller: the op's default applies
                onnx::AttributeProto v = *gi->second;
                v.set_name(a.name());
                *attrs.Add() = v;
            }
            *c.mutable_attribute() = attrs;
            *body.add_node() = c;
        }
        NNPORT_RETURN_IF_ERROR(inline_graph(body, fns, depth + 1));
        for (const auto& bn : body.node()) *out.Add() = bn;
    }
    *g.mutable_node() = out;
    return Status::ok();
}

Status inline_functions(onnx::ModelProto& mp) {
    std::map<std::string, const onnx::FunctionProto*> fns;
    for (const auto& f : mp.functions()) fns[f.domain() + ":" + f.name()] = &f;
    for (const auto& f : mp.functions()) {
        for (const auto& os : f.opset_import()) {
            bool found = false;
            for (const auto& mo : mp.opset_import()) found |= mo.domain() == os.domain();
            if (!found) *mp.add_opset_import() = os;
        }
    }
    return inline_graph(*mp.mutable_graph(), fns, 0);
}

}  // namespace

Result<std::unique_ptr<ir::Model>> load_model_from_memory(const void* data, size_t size, const std::string& base_dir,
                                                          const std::string& source) {
    onnx::ModelProto mp;
    if (size > static_cast<size_t>(INT32_MAX)) {
        return invalid_model(source + ": file is larger than 2 GiB; store weights as external data");
    }
    if (!mp.ParseFromArray(data, static_cast<int>(size))) {
        return invalid_model(source + ": not a valid ONNX model (protobuf parse failed)");
    }
    if (!mp.has_graph()) return invalid_model(source + ": the model has no graph");
    auto m = std::make_unique<ir::Model>();
    m->ir_version = mp.ir_version();
    m->producer_name = mp.producer_name();
    m->producer_version = mp.producer_version();
    m->domain = mp.domain();
    m->doc_string = mp.doc_string();
    m->model_version = mp.model_version();
    m->base_dir = base_dir;
    m->source = source;
    for (const auto& kv : mp.metadata_props()) m->metadata_props.emplace_back(kv.key(), kv.value());
    for (const auto& os : mp.opset_import()) {
        const std::string dom = os.domain() == "ai.onnx" ? "" : os.domain();
        m->opset_imports[dom] = os.version();
    }
    if (m->opset_imports.empty()) m->opset_imports[""] = 1;  // IR version 1 models: opset 1
    if (mp.functions_size() > 0) {
        Status st = inline_functions(mp);
        if (!st.is_ok()) return st.with_context(source);
    }
    GraphImporter gi(*m, base_dir);
    auto g = gi.convert(mp.graph(), nullptr);
    if (!g.is_ok()) return g.status().with_context(source);
    m->graph = std::move(g).value();
    m->external_data_files.assign(gi.external_files().begin(), gi.external_files().end());
    Status st = adapt_opsets(*m);
    if (!st.is_ok()) return st.with_context(source);
    st = ir::verify(*m->graph);
    if (!st.is_ok()) return st.with_context(source);
    return m;
}

Result<std::unique_ptr<ir::Model>> load_model(const std::string& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return io_error(path + ": no such file");
    const auto size = fs::file_size(path, ec);
    if (ec) return io_error(path + ": cannot read");
    if (size > static_cast<uintmax_t>(INT32_MAX)) {
        return invalid_model(path + ": file is larger than 2 GiB; store weights as external data");
    }
    std::ifstream f(path, std::ios::binary);
    std::string bytes(static_cast<size_t>(size), '\0');
    f.read(bytes.data(), static_cast<std::streamsize>(size));
    if (!f) return io_error(path + ": read failed");
    std::string dir = fs::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    return load_model_from_memory(bytes.data(), bytes.size(), dir, path);
}

}  // namespace nnport::onnx_import

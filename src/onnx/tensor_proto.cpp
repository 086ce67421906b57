// TensorProto <-> Tensor.
#include "onnx/tensor_proto.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace nnport::onnx_import {

namespace fs = std::filesystem;

/// Resolves an external-data location, refusing absolute paths and anything outside base_dir.
static Result<fs::path> resolve_external(const std::string& base_dir, const std::string& location) {
    if (base_dir.empty()) return invalid_model("external data '" + location + "' cannot be used without a model folder");
    fs::path loc(location);
    if (loc.empty() || loc.is_absolute()) return invalid_model("external data path '" + location + "' must be relative");
    std::error_code ec;
    const fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
    const fs::path full = fs::weakly_canonical(base / loc, ec);
    if (ec) return invalid_model("external data path '" + location + "' cannot be resolved");
    auto rel = full.lexically_relative(base);
    if (rel.empty() || *rel.begin() == "..") {
        return invalid_model("external data path '" + location + "' points outside the model's folder");
    }
    return full;
}

static Status read_external(const onnx::TensorProto& p, const std::string& base_dir, void* dst, size_t bytes) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : p.external_data()) {
        try {
            if (kv.key() == "location") location = kv.value();
            else if (kv.key() == "offset") offset = std::stoll(kv.value());
            else if (kv.key() == "length") length = std::stoll(kv.value());
        } catch (...) {
            return invalid_model("tensor '" + p.name() + "': bad external data field '" + kv.key() + "'");
        }
    }
    if (location.empty()) return invalid_model("tensor '" + p.name() + "': external data without a location");
    NNPORT_ASSIGN_OR_RETURN(fs::path path, resolve_external(base_dir, location));
    std::error_code ec;
    const auto fsize = fs::file_size(path, ec);
    if (ec) return io_error("tensor '" + p.name() + "': cannot read external data file '" + location + "'");
    if (length >= 0 && static_cast<size_t>(length) != bytes) {
        return invalid_model("tensor '" + p.name() + "': external data length " + std::to_string(length) +
                             " does not match its shape (" + std::to_string(bytes) + " bytes)");
    }
    if (offset < 0 || static_cast<uint64_t>(offset) + bytes > fsize) {
        return invalid_model("tensor '" + p.name() + "': external data at offset " + std::to_string(offset) + " + " +
                             std::to_string(bytes) + " bytes runs past the end of '" + location + "' (" +
                             std::to_string(fsize) + " bytes)");
    }
    std::ifstream f(path, std::ios::binary);
    f.seekg(offset);
    f.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
    if (!f) return io_error("tensor '" + p.name() + "': failed reading external data '" + location + "'");
    return Status::ok();
}

template <typename Dst, typename Src>
static void copy_field(Tensor& t, const Src& field) {
    Dst* d = t.data<Dst>();
    int64_t i = 0;
    for (auto v : field) d[i++] = static_cast<Dst>(v);
}

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& base_dir) {
    const std::string what = "tensor '" + p.name() + "'";
    if (!dtype_is_valid(p.data_type())) {
        return unsupported(what + ": data type " + std::to_string(p.data_type()) + " is not supported");
    }
    const DType dt = static_cast<DType>(p.data_type());
    Shape shape(p.dims().begin(), p.dims().end());
    for (int64_t d : shape) {
        if (d < 0) return invalid_model(what + ": negative dimension in " + shape_to_string(shape));
    }
    const int64_t n = shape_numel(shape);
    if (n < 0) return invalid_model(what + ": shape " + shape_to_string(shape) + " is too large");
    if (p.has_segment()) return unsupported(what + ": segmented tensors are not supported");
    auto created = Tensor::create(dt, shape);
    if (!created.is_ok()) return created.status().with_context(what);
    Tensor t = std::move(created).value();
    auto mismatch = [&](size_t got) {
        return invalid_model(what + ": holds " + std::to_string(got) + " elements but its shape " +
                             shape_to_string(shape) + " needs " + std::to_string(n));
    };
    if (dt == DType::kString) {
        if (p.string_data_size() != n) return mismatch(static_cast<size_t>(p.string_data_size()));
        for (int64_t i = 0; i < n; ++i) t.strings()[i] = p.string_data(static_cast<int>(i));
        return t;
    }
    const size_t bytes = t.nbytes();
    if (p.data_location() == onnx::TensorProto::EXTERNAL) {
        NNPORT_RETURN_IF_ERROR(read_external(p, base_dir, t.raw_data(), bytes));
        return t;
    }
    if (p.has_raw_data()) {
        if (p.raw_data().size() != bytes) {
            return invalid_model(what + ": raw data has " + std::to_string(p.raw_data().size()) +
                                 " bytes but its shape " + shape_to_string(shape) + " of " + dtype_name(dt) + " needs " +
                                 std::to_string(bytes));
        }
        if (bytes) std::memcpy(t.raw_data(), p.raw_data().data(), bytes);
        return t;
    }
    switch (dt) {
        case DType::kFloat32:
            if (p.float_data_size() != n) return mismatch(static_cast<size_t>(p.float_data_size()));
            copy_field<float>(t, p.float_data());
            break;
        case DType::kComplex64:
            if (p.float_data_size() != 2 * n) return mismatch(static_cast<size_t>(p.float_data_size()) / 2);
            std::memcpy(t.raw_data(), p.float_data().data(), bytes);
            break;
        case DType::kFloat64:
            if (p.double_data_size() != n) return mismatch(static_cast<size_t>(p.double_data_size()));
            copy_field<double>(t, p.double_data());
            break;
        case DType::kComplex128:
            if (p.double_data_size() != 2 * n) return mismatch(static_cast<size_t>(p.double_data_size()) / 2);
            std::memcpy(t.raw_data(), p.double_data().data(), bytes);
            break;
        case DType::kInt64:
            if (p.int64_data_size() != n) return mismatch(static_cast<size_t>(p.int64_data_size()));
            copy_field<int64_t>(t, p.int64_data());
            break;
        case DType::kUInt32: case DType::kUInt64:
            if (p.uint64_data_size() != n) return mismatch(static_cast<size_t>(p.uint64_data_size()));
            if (dt == DType::kUInt32) copy_field<uint32_t>(t, p.uint64_data());
            else copy_field<uint64_t>(t, p.uint64_data());
            break;
        case DType::kInt32: case DType::kInt16: case DType::kInt8: case DType::kUInt16: case DType::kUInt8:
        case DType::kBool: case DType::kFloat16: case DType::kBFloat16: {
            if (p.int32_data_size() != n) return mismatch(static_cast<size_t>(p.int32_data_size()));
            switch (dt) {
                case DType::kInt32: copy_field<int32_t>(t, p.int32_data()); break;
                case DType::kInt16: copy_field<int16_t>(t, p.int32_data()); break;
                case DType::kInt8: copy_field<int8_t>(t, p.int32_data()); break;
                case DType::kUInt16: case DType::kFloat16: case DType::kBFloat16:
                    copy_field<uint16_t>(t, p.int32_data());  // half types are stored as their bits
                    break;
                case DType::kUInt8: copy_field<uint8_t>(t, p.int32_data()); break;
                default: {
                    bool* d = t.data<bool>();
                    for (int64_t i = 0; i < n; ++i) d[i] = p.int32_data(static_cast<int>(i)) != 0;
                }
            }
            break;
        }
        default: return unsupported(what + ": data type " + dtype_name(dt) + " is not supported");
    }
    return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* p) {
    p->Clear();
    p->set_name(name);
    p->set_data_type(static_cast<int32_t>(t.dtype()));
    for (int64_t d : t.shape()) p->add_dims(d);
    if (t.dtype() == DType::kString) {
        for (int64_t i = 0; i < t.numel(); ++i) p->add_string_data(t.strings()[i]);
    } else if (t.nbytes() > 0) {
        p->set_raw_data(t.raw_data(), t.nbytes());
    }
}

Result<Tensor> read_tensor_pb(const std::string& path, std::string* name_out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return io_error(path + ": cannot open");
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    onnx::TensorProto p;
    if (!p.ParseFromString(bytes)) return invalid_argument(path + ": not a valid ONNX TensorProto");
    if (name_out) *name_out = p.name();
    const std::string dir = fs::path(path).parent_path().string();
    auto t = tensor_from_proto(p, dir.empty() ? "." : dir);
    if (!t.is_ok()) return t.status().with_context(path);
    return t;
}

}  // namespace nnport::onnx_import

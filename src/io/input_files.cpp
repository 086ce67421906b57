// Input file loading.
#include "io/input_files.hpp"

#include <filesystem>
#include <fstream>
#include <random>

#include "io/npy.hpp"
#include "onnx/proto.hpp"
#include "onnx/tensor_proto.hpp"

namespace nnport::io {

namespace fs = std::filesystem;

static Result<RtValue> from_sequence(const onnx::SequenceProto& sp, const std::string& dir, const std::string& path) {
    if (sp.elem_type() != onnx::SequenceProto::TENSOR && sp.tensor_values_size() == 0 &&
        sp.elem_type() != onnx::SequenceProto::UNDEFINED) {
        return unsupported(path + ": only sequences of tensors are supported");
    }
    std::vector<Tensor> items;
    DType dt = DType::kUndefined;
    for (const auto& tp : sp.tensor_values()) {
        auto t = onnx_import::tensor_from_proto(tp, dir);
        if (!t.is_ok()) return t.status().with_context(path);
        dt = t->dtype();
        items.push_back(std::move(t).value());
    }
    return RtValue::make_sequence(std::move(items), dt);
}

Result<LoadedValue> read_value_file(const std::string& path, const ir::ValueType* expected) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return io_error(path + ": no such file");
    LoadedValue out;
    if (path.ends_with(".npy")) {
        NNPORT_ASSIGN_OR_RETURN(Tensor t, read_npy(path));
        out.value = RtValue(std::move(t));
        return out;
    }
    std::ifstream f(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string dir = fs::path(path).parent_path().string();
    if (dir.empty()) dir.assign(1, '.');
    using Kind = ir::ValueType::Kind;
    if (expected && expected->kind == Kind::kSequence) {
        onnx::SequenceProto sp;
        if (!sp.ParseFromString(bytes)) return invalid_argument(path + ": not a valid ONNX SequenceProto");
        out.embedded_name = sp.name();
        NNPORT_ASSIGN_OR_RETURN(out.value, from_sequence(sp, dir, path));
        return out;
    }
    if (expected && expected->kind == Kind::kOptional) {
        onnx::OptionalProto op;
        if (!op.ParseFromString(bytes)) return invalid_argument(path + ": not a valid ONNX OptionalProto");
        out.embedded_name = op.name();
        if (op.has_tensor_value()) {
            auto t = onnx_import::tensor_from_proto(op.tensor_value(), dir);
            if (!t.is_ok()) return t.status().with_context(path);
            out.value = RtValue(std::move(t).value());
        } else if (op.has_sequence_value()) {
            NNPORT_ASSIGN_OR_RETURN(out.value, from_sequence(op.sequence_value(), dir, path));
        }
        return out;
    }
    onnx::TensorProto tp;
    if (!tp.ParseFromString(bytes)) return invalid_argument(path + ": not a valid ONNX TensorProto or .npy file");
    out.embedded_name = tp.name();
    auto t = onnx_import::tensor_from_proto(tp, dir);
    if (!t.is_ok()) return t.status().with_context(path);
    out.value = RtValue(std::move(t).value());
    return out;
}

Result<RtValue> random_value(const ir::ValueType& type, uint64_t seed) {
    if (type.kind == ir::ValueType::Kind::kSequence) return RtValue::make_sequence({}, type.elem ? type.elem->dtype : DType::kFloat32);
    if (type.kind == ir::ValueType::Kind::kOptional) return RtValue();
    Shape shape;
    for (const ir::Dim& d : type.dims) shape.push_back(d.is_static() ? d.value : 1);
    const DType dt = type.dtype == DType::kUndefined ? DType::kFloat32 : type.dtype;
    NNPORT_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dt, shape));
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::uniform_int_distribution<int> small(0, 9);
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) {
        switch (dt) {
            case DType::kFloat32: t.data<float>()[i] = static_cast<float>(u(rng)); break;
            case DType::kFloat64: t.data<double>()[i] = u(rng); break;
            case DType::kFloat16: t.data<Float16>()[i] = Float16(static_cast<float>(u(rng))); break;
            case DType::kBFloat16: t.data<BFloat16>()[i] = BFloat16(static_cast<float>(u(rng))); break;
            case DType::kBool: t.data<bool>()[i] = small(rng) < 5; break;
            case DType::kString: t.strings()[i] = std::to_string(small(rng)); break;
            case DType::kInt8: t.data<int8_t>()[i] = static_cast<int8_t>(small(rng)); break;
            case DType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(small(rng)); break;
            case DType::kInt16: t.data<int16_t>()[i] = static_cast<int16_t>(small(rng)); break;
            case DType::kUInt16: t.data<uint16_t>()[i] = static_cast<uint16_t>(small(rng)); break;
            case DType::kInt32: t.data<int32_t>()[i] = small(rng); break;
            case DType::kUInt32: t.data<uint32_t>()[i] = static_cast<uint32_t>(small(rng)); break;
            case DType::kInt64: t.data<int64_t>()[i] = small(rng); break;
            case DType::kUInt64: t.data<uint64_t>()[i] = static_cast<uint64_t>(small(rng)); break;
            default: return unsupported(std::string("cannot make random data of dtype ") + dtype_name(dt));
        }
    }
    return RtValue(std::move(t));
}

}  // namespace nnport::io

// Element types: numbering follows ONNX TensorProto.DataType so conversion is a cast.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace nnport {

enum class DType : int32_t {
    kUndefined = 0,
    kFloat32 = 1,
    kUInt8 = 2,
    kInt8 = 3,
    kUInt16 = 4,
    kInt16 = 5,
    kInt32 = 6,
    kInt64 = 7,
    kString = 8,
    kBool = 9,
    kFloat16 = 10,
    kFloat64 = 11,
    kUInt32 = 12,
    kUInt64 = 13,
    kComplex64 = 14,
    kComplex128 = 15,
    kBFloat16 = 16,
};

/// Bytes per element (0 for undefined; sizeof(std::string) is not used: strings are stored separately).
size_t dtype_size(DType t);
/// ONNX-style lower-case name: "float32", "int64", "bool", ...
const char* dtype_name(DType t);
/// Parses names produced by dtype_name and numpy descr codes ("<f4"); kUndefined if unknown.
DType dtype_from_name(const std::string& name);
/// True for the ONNX type ids nnport knows (0..16).
bool dtype_is_valid(int32_t onnx_type);
bool dtype_is_float(DType t);    ///< float16/bfloat16/float32/float64
bool dtype_is_integer(DType t);  ///< signed or unsigned integer, not bool
bool dtype_is_signed(DType t);

/// IEEE half precision stored as bits.
struct Float16 {
    uint16_t bits = 0;
    Float16() = default;
    explicit Float16(float f) : bits(from_float(f)) {}
    operator float() const { return to_float(bits); }  // NOLINT: numeric type
    static uint16_t from_float(float f);
    static float to_float(uint16_t h);
};

/// bfloat16 stored as bits (round to nearest even on conversion).
struct BFloat16 {
    uint16_t bits = 0;
    BFloat16() = default;
    explicit BFloat16(float f) : bits(from_float(f)) {}
    operator float() const { return to_float(bits); }  // NOLINT: numeric type
    static uint16_t from_float(float f) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
        u += 0x7fffu + ((u >> 16) & 1u);
        return static_cast<uint16_t>(u >> 16);
    }
    static float to_float(uint16_t h) {
        uint32_t u = static_cast<uint32_t>(h) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
};

/// Maps a C++ type to its DType.
template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kFloat32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kFloat64; };
template <> struct DTypeOf<Float16> { static constexpr DType value = DType::kFloat16; };
template <> struct DTypeOf<BFloat16> { static constexpr DType value = DType::kBFloat16; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::kInt8; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::kInt16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kInt32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kInt64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kUInt8; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::kUInt16; };
template <> struct DTypeOf<uint32_t> { static constexpr DType value = DType::kUInt32; };
template <> struct DTypeOf<uint64_t> { static constexpr DType value = DType::kUInt64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };
template <> struct DTypeOf<std::string> { static constexpr DType value = DType::kString; };

}  // namespace nnport

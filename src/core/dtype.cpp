// DType names, sizes and half-precision conversion.
#include "nnport/dtype.hpp"

#include <string>

namespace nnport {

size_t dtype_size(DType t) {
    switch (t) {
        case DType::kFloat32: case DType::kInt32: case DType::kUInt32: return 4;
        case DType::kUInt8: case DType::kInt8: case DType::kBool: return 1;
        case DType::kUInt16: case DType::kInt16: case DType::kFloat16: case DType::kBFloat16: return 2;
        case DType::kInt64: case DType::kUInt64: case DType::kFloat64: case DType::kComplex64: return 8;
        case DType::kComplex128: return 16;
        case DType::kString: return sizeof(std::string);
        case DType::kUndefined: return 0;
    }
    return 0;
}

const char* dtype_name(DType t) {
    switch (t) {
        case DType::kUndefined: return "undefined";
        case DType::kFloat32: return "float32";
        case DType::kUInt8: return "uint8";
        case DType::kInt8: return "int8";
        case DType::kUInt16: return "uint16";
        case DType::kInt16: return "int16";
        case DType::kInt32: return "int32";
        case DType::kInt64: return "int64";
        case DType::kString: return "string";
        case DType::kBool: return "bool";
        case DType::kFloat16: return "float16";
        case DType::kFloat64: return "float64";
        case DType::kUInt32: return "uint32";
        case DType::kUInt64: return "uint64";
        case DType::kComplex64: return "complex64";
        case DType::kComplex128: return "complex128";
        case DType::kBFloat16: return "bfloat16";
    }
    return "undefined";
}

DType dtype_from_name(const std::string& name) {
    for (int i = 1; i <= 16; ++i) {
        if (name == dtype_name(static_cast<DType>(i))) return static_cast<DType>(i);
    }
    if (name == "float") return DType::kFloat32;
    if (name == "double") return DType::kFloat64;
    return DType::kUndefined;
}

bool dtype_is_valid(int32_t t) { return t >= 1 && t <= 16; }

bool dtype_is_float(DType t) {
    return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 || t == DType::kBFloat16;
}

bool dtype_is_integer(DType t) {
    switch (t) {
        case DType::kInt8: case DType::kInt16: case DType::kInt32: case DType::kInt64:
        case DType::kUInt8: case DType::kUInt16: case DType::kUInt32: case DType::kUInt64: return true;
        default: return false;
    }
}

bool dtype_is_signed(DType t) {
    switch (t) {
        case DType::kInt8: case DType::kInt16: case DType::kInt32: case DType::kInt64:
        case DType::kFloat32: case DType::kFloat64: case DType::kFloat16: case DType::kBFloat16: return true;
        default: return false;
    }
}

uint16_t Float16::from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // Inf or NaN
        return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    }
    if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf (after rounding)
    if (absx < 0x38800000u) {  // subnormal or zero in half
        if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
        const uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;  // 14 + (113 - e) ... produces half subnormal mantissa
        uint32_t half_m = m >> (shift);
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (half_m & 1u))) ++half_m;
        return static_cast<uint16_t>(sign | half_m);
    }
    uint32_t h = ((absx - 0x38000000u) >> 13);
    const uint32_t rem = absx & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
}

float Float16::to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t out;
    if (exp == 0) {
        if (man == 0) {
            out = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((man & 0x400u) == 0) { man <<= 1; --exp; }
            man &= 0x3ffu;
            out = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        out = sign | 0x7f800000u | (man << 13);
    } else {
        out = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &out, 4);
    return f;
}

}  // namespace nnport

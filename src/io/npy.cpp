// .npy I/O.
#include "io/npy.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace nnport::io {

static const char* descr_of(DType t) {
    switch (t) {
        case DType::kFloat32: return "<f4";
        case DType::kFloat64: return "<f8";
        case DType::kFloat16: return "<f2";
        case DType::kBFloat16: return "<u2";
        case DType::kInt8: return "|i1";
        case DType::kUInt8: return "|u1";
        case DType::kInt16: return "<i2";
        case DType::kUInt16: return "<u2";
        case DType::kInt32: return "<i4";
        case DType::kUInt32: return "<u4";
        case DType::kInt64: return "<i8";
        case DType::kUInt64: return "<u8";
        case DType::kBool: return "|b1";
        case DType::kComplex64: return "<c8";
        case DType::kComplex128: return "<c16";
        default: return nullptr;
    }
}

static DType dtype_of_descr(const std::string& d) {
    static const std::pair<const char*, DType> table[] = {
        {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<f2", DType::kFloat16}, {"|i1", DType::kInt8},
        {"|u1", DType::kUInt8},   {"<i2", DType::kInt16},   {"<u2", DType::kUInt16},  {"<i4", DType::kInt32},
        {"<u4", DType::kUInt32},  {"<i8", DType::kInt64},   {"<u8", DType::kUInt64},  {"|b1", DType::kBool},
        {"<c8", DType::kComplex64}, {"<c16", DType::kComplex128}, {"i1", DType::kInt8}, {"u1", DType::kUInt8},
        {"b1", DType::kBool}};
    for (const auto& [k, v] : table) {
        if (d == k) return v;
    }
    return DType::kUndefined;
}

/// Extracts the value of 'key' from the header dict (a tiny parser for numpy's fixed format).
static std::string dict_value(const std::string& h, const std::string& key) {
    auto p = h.find("'" + key + "'");
    if (p == std::string::npos) return "";
    p = h.find(':', p);
    if (p == std::string::npos) return "";
    ++p;
    while (p < h.size() && h[p] == ' ') ++p;
    if (p >= h.size()) return "";
    if (h[p] == '\'') {
        auto e = h.find('\'', p + 1);
        return e == std::string::npos ? "" : h.substr(p + 1, e - p - 1);
    }
    if (h[p] == '(') {
        auto e = h.find(')', p);
        return e == std::string::npos ? "" : h.substr(p, e - p + 1);
    }
    auto e = h.find_first_of(",}", p);
    return h.substr(p, e - p);
}

Result<Tensor> read_npy(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return io_error(path + ": cannot open");
    char magic[8];
    f.read(magic, 8);
    if (!f || std::memcmp(magic, "\x93NUMPY", 6) != 0) return invalid_argument(path + ": not a .npy file");
    const int major = static_cast<unsigned char>(magic[6]);
    uint32_t hlen = 0;
    if (major == 1) {
        unsigned char b[2];
        f.read(reinterpret_cast<char*>(b), 2);
        hlen = b[0] | (b[1] << 8);
    } else if (major == 2 || major == 3) {
        unsigned char b[4];
        f.read(reinterpret_cast<char*>(b), 4);
        hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
    } else {
        return invalid_argument(path + ": unsupported .npy version " + std::to_string(major));
    }
    if (!f || hlen > (1u << 20)) return invalid_argument(path + ": bad .npy header");
    std::string h(hlen, '\0');
    f.read(h.data(), hlen);
    if (!f) return invalid_argument(path + ": truncated .npy header");
    const std::string descr = dict_value(h, "descr");
    if (dict_value(h, "fortran_order") == "True") return unsupported(path + ": Fortran-order arrays are not supported");
    const std::string shape_s = dict_value(h, "shape");
    if (shape_s.empty()) return invalid_argument(path + ": .npy header has no shape");
    Shape shape;
    {
        std::string num;
        for (char c : shape_s) {
            if (c >= '0' && c <= '9') {
                num += c;
            } else if (!num.empty()) {
                if (num.size() > 15) return invalid_argument(path + ": dimension too large");
                shape.push_back(std::stoll(num));
                num.clear();
            }
        }
    }
    const auto pos = f.tellg();
    std::error_code ec;
    const auto fsize = std::filesystem::file_size(path, ec);
    const uint64_t avail = ec ? 0 : fsize - static_cast<uint64_t>(pos);
    if (descr.size() > 2 && (descr[0] == '<' || descr[0] == '|') && descr[1] == 'U') {
        const int64_t width = std::stoll(descr.substr(2));
        auto tr = Tensor::create(DType::kString, shape);
        if (!tr.is_ok()) return tr.status().with_context(path);
        Tensor t = std::move(tr).value();
        if (static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(width) * 4 > avail) {
            return invalid_argument(path + ": data is shorter than its shape says");
        }
        std::vector<uint32_t> buf(static_cast<size_t>(width));
        for (int64_t i = 0; i < t.numel(); ++i) {
            f.read(reinterpret_cast<char*>(buf.data()), width * 4);
            std::string s;
            for (uint32_t cp : buf) {
                if (cp == 0) break;
                if (cp < 0x80) {
                    s += static_cast<char>(cp);
                } else if (cp < 0x800) {
                    s += static_cast<char>(0xC0 | (cp >> 6));
                    s += static_cast<char>(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    s += static_cast<char>(0xE0 | (cp >> 12));
                    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                    s += static_cast<char>(0x80 | (cp & 0x3F));
                } else {
                    s += static_cast<char>(0xF0 | (cp >> 18));
                    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
                    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                    s += static_cast<char>(0x80 | (cp & 0x3F));
                }
            }
            t.strings()[i] = s;
        }
        return t;
    }
    const DType dt = dtype_of_descr(descr);
    if (dt == DType::kUndefined) return unsupported(path + ": .npy dtype '" + descr + "' is not supported");
    auto tr = Tensor::create(dt, shape);
    if (!tr.is_ok()) return tr.status().with_context(path);
    Tensor t = std::move(tr).value();
    if (t.nbytes() > avail) {
        return invalid_argument(path + ": data (" + std::to_string(avail) + " bytes) is shorter than its shape " +
                                shape_to_string(shape) + " needs");
    }
    f.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
    if (!f) return io_error(path + ": read failed");
    return t;
}

static void append_utf32(const std::string& s, std::vector<uint32_t>& out) {
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        uint32_t cp;
        int len;
        if (c < 0x80) { cp = c; len = 1; }
        else if ((c >> 5) == 6) { cp = c & 0x1F; len = 2; }
        else if ((c >> 4) == 14) { cp = c & 0x0F; len = 3; }
        else { cp = c & 0x07; len = 4; }
        for (int k = 1; k < len && i + static_cast<size_t>(k) < s.size(); ++k) {
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
        }
        out.push_back(cp);
        i += static_cast<size_t>(len);
    }
}

Status write_npy(const std::string& path, const Tensor& t) {
    std::string descr;
    std::vector<std::vector<uint32_t>> strs;
    size_t width = 1;
    if (t.dtype() == DType::kString) {
        for (int64_t i = 0; i < t.numel(); ++i) {
            strs.emplace_back();
            append_utf32(t.strings()[i], strs.back());
            width = std::max(width, strs.back().size());
        }
        descr = "<U" + std::to_string(width);
    } else {
        const char* d = descr_of(t.dtype());
        if (!d) return unsupported(std::string("cannot write dtype ") + dtype_name(t.dtype()) + " to .npy");
        descr = d;
    }
    std::string shape = "(";
    for (size_t i = 0; i < t.shape().size(); ++i) {
        shape += std::to_string(t.shape()[i]);
        shape += (t.shape().size() == 1 || i + 1 < t.shape().size()) ? "," : "";
        if (i + 1 < t.shape().size()) shape += " ";
    }
    shape += ")";
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    const size_t total = 10 + header.size() + 1;
    header += std::string((64 - total % 64) % 64, ' ') + "\n";
    std::ofstream f(path, std::ios::binary);
    if (!f) return io_error(path + ": cannot write");
    f.write("\x93NUMPY\x01\x00", 8);
    const uint16_t hl = static_cast<uint16_t>(header.size());
    const char hb[2] = {static_cast<char>(hl & 0xff), static_cast<char>(hl >> 8)};
    f.write(hb, 2);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (t.dtype() == DType::kString) {
        for (auto& s : strs) {
            s.resize(width, 0);
            f.write(reinterpret_cast<const char*>(s.data()), static_cast<std::streamsize>(width * 4));
        }
    } else {
        f.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
    }
    if (!f) return io_error(path + ": write failed");
    return Status::ok();
}

}  // namespace nnport::io

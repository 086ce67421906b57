// Cast and CastLike: conversion between all numeric types, bool, float16/bfloat16 and strings.
//
// Rules: floats to integers truncate toward zero (NaN and out-of-range values give the x86 "integer indefinite",
// as numpy and ONNX Runtime); integers narrow modulo 2^n; anything to bool is "!= 0"; conversions to float16 and
// bfloat16 round to nearest even, correctly also from float64 (via round-to-odd); strings parse decimal and
// scientific text and the case-insensitive literals "INF", "+INF", "-INF", "NaN"; numbers format to the shortest
// text that reads back to the same value.
#include <algorithm>
#include <charconv>
#include <cstring>

#include "ops/elementwise_util.hpp"

namespace nnport {

namespace {

/// float64 -> float32 rounded to odd: exact for later rounding to a type with at most 22 significant bits.
float to_float_round_odd(double d) {
    float f = static_cast<float>(d);
    if (std::isfinite(d) && static_cast<double>(f) != d) {
        if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
        uint32_t u;
        std::memcpy(&u, &f, 4);
        u |= 1u;
        std::memcpy(&f, &u, 4);
    }
    return f;
}

template <typename T>
constexpr bool is_half_v = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

/// Converts one element from S to D (neither is std::string).
template <typename D, typename S>
inline D convert(S v) {
    if constexpr (is_half_v<S>) {
        return convert<D>(static_cast<float>(v));
    } else if constexpr (is_half_v<D>) {
        if constexpr (std::is_same_v<S, float>) return D(v);
        else return D(to_float_round_odd(static_cast<double>(v)));
    } else if constexpr (std::is_same_v<D, bool>) {
        return v != S(0);
    } else if constexpr (std::is_floating_point_v<D>) {
        return static_cast<D>(v);
    } else if constexpr (std::is_floating_point_v<S>) {
        return float_to_int<D>(v);
    } else {
        return static_cast<D>(v);
    }
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// Parses number text (or INF/NaN literals, or true/false) as float64; false if it is not a number.
bool parse_double(std::string_view s, double* out) {
    s = trim(s);
    if (iequals(s, "true")) { *out = 1.0; return true; }
    if (iequals(s, "false")) { *out = 0.0; return true; }
    const bool neg = !s.empty() && s.front() == '-';
    std::string_view body = (!s.empty() && (s.front() == '+' || s.front() == '-')) ? s.substr(1) : s;
    if (iequals(body, "inf") || iequals(body, "infinity")) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return true;
    }
    if (iequals(body, "nan")) {
        *out = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    if (body.empty() || body.front() == '+' || body.front() == '-') return false;
    double v = 0;
    auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
    if (p != body.data() + body.size()) return false;
    // Out of range: from_chars leaves v alone; saturate like strtod.
    if (ec == std::errc::result_out_of_range) v = HUGE_VAL;
    else if (ec != std::errc()) return false;
    *out = neg ? -v : v;
    return true;
}

/// Parses text into numeric type D (integers exactly when the text is an integer).
template <typename D>
bool parse_as(std::string_view s, D* out) {
    if constexpr (std::is_integral_v<D> && !std::is_same_v<D, bool>) {
        std::string_view t = trim(s);
        if (!t.empty() && t.front() == '+') t.remove_prefix(1);
        using Wide = std::conditional_t<std::is_signed_v<D>, int64_t, uint64_t>;
        Wide w = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), w);
        if (ec == std::errc() && p == t.data() + t.size()) {
            *out = static_cast<D>(w);
            return true;
        }
    }
    double v = 0;
    if (!parse_double(s, &v)) return false;
    *out = convert<D>(v);
    return true;
}

/// Shortest text that reads back to the same value of type S.
template <typename S>
std::string format(S v) {
    if constexpr (std::is_same_v<S, bool>) {
        return v ? "True" : "False";
    } else if constexpr (std::is_integral_v<S>) {
        return std::to_string(v);
    } else {
        const double d = static_cast<double>(static_cast<std::conditional_t<is_half_v<S>, float, S>>(v));
        if (std::isnan(d)) return "NaN";
        if (std::isinf(d)) return d > 0 ? "INF" : "-INF";
        char buf[64];
        if constexpr (is_half_v<S>) {
            // Few digits suffice for half types: the first precision that reads back to the same bits.
            for (int prec = 1; prec < 9; ++prec) {
                auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<float>(v), std::chars_format::general, prec);
                double back = 0;
                std::from_chars(buf, r.ptr, back);
                if (S(static_cast<float>(back)).bits == v.bits) return std::string(buf, r.ptr);
            }
            auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<float>(v));
            return std::string(buf, r.ptr);
        } else {
            auto r = std::to_chars(buf, buf + sizeof(buf), v);
            return std::string(buf, r.ptr);
        }
    }
}

}  // namespace

/// Every non-string dtype with its C++ type.
#define NNPORT_CAST_DISPATCH(dt, T, ctx, ...)                                                          \
    switch (dt) {                                                                                    \
        case DType::kBool: { using T = bool; __VA_ARGS__; break; }                                    \
        case DType::kFloat16: { using T = Float16; __VA_ARGS__; break; }                              \
        case DType::kBFloat16: { using T = BFloat16; __VA_ARGS__; break; }                            \
        default: NNPORT_DISPATCH_NUMERIC(dt, T, ctx, __VA_ARGS__)                                      \
    }

/// Output 0 = x converted to `to`.
static Status cast_to(KernelContext& ctx, const Tensor& x, DType to) {
    if (x.dtype() == to) {
        ctx.set_output(0, x);  // tensors are immutable once produced: share the storage
        return Status::ok();
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, to, x.shape()));
    const int64_t n = x.numel();
    if (x.dtype() == DType::kString) {
        const std::string* in = x.strings();
        NNPORT_CAST_DISPATCH(to, D, ctx, {
            D* o = typed_data<D>(*out);
            for (int64_t i = 0; i < n; ++i) {
                if (!parse_as<D>(in[i], &o[i])) {
                    return ctx.input_error("cannot convert string '" + in[i].substr(0, 64) + "' to " + dtype_name(to));
                }
            }
        });
        return Status::ok();
    }
    if (to == DType::kString) {
        std::string* o = out->strings();
        NNPORT_CAST_DISPATCH(x.dtype(), S, ctx, {
            const S* in = typed_data<S>(x);
            for (int64_t i = 0; i < n; ++i) o[i] = format(in[i]);
        });
        return Status::ok();
    }
    NNPORT_CAST_DISPATCH(x.dtype(), S, ctx, {
        const S* in = typed_data<S>(x);
        NNPORT_CAST_DISPATCH(to, D, ctx, {
            D* o = typed_data<D>(*out);
            ew_parallel(ctx, n, 1, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) o[i] = convert<D>(in[i]);
            });
        });
    });
    return Status::ok();
}

#undef NNPORT_CAST_DISPATCH

static bool castable(DType t) {
    return t != DType::kUndefined && t != DType::kComplex64 && t != DType::kComplex128 &&
           dtype_is_valid(static_cast<int32_t>(t));
}

static Result<DType> cast_target(const AttrAccess& a) {
    const int64_t to = a.attr_int("to");
    if (to < 0 || to > 64 || !castable(static_cast<DType>(to))) {
        return a.error("unsupported target type " + std::to_string(to));
    }
    return static_cast<DType>(to);
}

static Status cast_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(DType to, cast_target(ctx));
    ir::ValueType t = ctx.input_type(0);
    if (t.kind == ir::ValueType::Kind::kUnknown) t = ir::ValueType::tensor(to);
    t.dtype = to;
    ctx.set_output(0, std::move(t));
    return Status::ok();
}

static Status cast_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_ASSIGN_OR_RETURN(DType to, cast_target(ctx));
    return cast_to(ctx, ctx.input(0), to);
}

const OpDef& op_def_Cast() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Cast";
        o.since_version = 6;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::none("to", ir::AttrType::kInt, true), AttrSpec::i("saturate", 1)};
        o.infer = cast_infer;
        o.kernel = cast_kernel;
        o.half_via_float = false;
        o.doc = "Converts to the dtype `to` (numbers, bool, float16/bfloat16, strings).";
        return o;
    }();
    return d;
}

static Status cast_like_infer(InferContext& ctx) {
    const DType to = ctx.input_type(1).dtype;
    if (to != DType::kUndefined && !castable(to)) return ctx.error(std::string("cannot cast to ") + dtype_name(to));
    ir::ValueType t = ctx.input_type(0);
    if (t.kind == ir::ValueType::Kind::kUnknown) t = ir::ValueType::tensor(to);
    t.dtype = to;
    ctx.set_output(0, std::move(t));
    return Status::ok();
}

static Status cast_like_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ew_require_tensors(ctx, 2));
    const DType to = ctx.input(1).dtype();
    if (!castable(to)) return ctx.input_error(std::string("cannot cast to ") + dtype_name(to));
    return cast_to(ctx, ctx.input(0), to);
}

const OpDef& op_def_CastLike() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "CastLike";
        o.since_version = 15;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("saturate", 1)};
        o.infer = cast_like_infer;
        o.kernel = cast_like_kernel;
        o.half_via_float = false;
        o.doc = "Converts input 0 to the dtype of input 1.";
        return o;
    }();
    return d;
}

}  // namespace nnport

// Random generators: RandomNormal/Uniform(+Like), Bernoulli, Multinomial. Not foldable; seeded runs are repeatable.
//
// The streams follow numpy's legacy RandomState (MT19937 seeded with the integer seed, 53-bit doubles, polar
// Gaussian, inversion binomial), so a seeded run reproduces numpy's np.random.seed(seed) draws.
#include <algorithm>
#include <bit>
#include <cmath>
#include <random>

#include "ops/kernel_util.hpp"
#include "ops/random_util.hpp"

namespace nnport {
namespace {

/// The `seed` attribute (a float) as an MT19937 seed; nullopt when unset.
std::optional<uint32_t> float_seed(const AttrAccess& a) {
    if (!a.has_attr("seed")) return std::nullopt;
    const double s = a.attr_float("seed");
    return s >= 0 && s < 4294967296.0 ? static_cast<uint32_t>(s) : std::bit_cast<uint32_t>(static_cast<float>(s));
}

bool is_half(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

/// Fills `t` (float/int/bool dtype; half types are produced as float32 and converted by the executor).
template <typename F>
Status fill(const KernelContext& ctx, Tensor& t, F&& next) {
    const int64_t n = t.numel();
    if (t.dtype() == DType::kBool) {
        for (int64_t i = 0; i < n; ++i) t.data<bool>()[i] = next() != 0.0;
        return Status::ok();
    }
    NNPORT_DISPATCH_NUMERIC(t.dtype(), T, ctx, for (int64_t i = 0; i < n; ++i) t.data<T>()[i] = static_cast<T>(next()));
    return Status::ok();
}

/// The output dtype: the `dtype` attribute, else `fallback`; checked against the allowed set.
Result<DType> out_dtype(const AttrAccess& a, DType fallback, bool floats_only) {
    const DType dt = a.has_attr("dtype") ? static_cast<DType>(a.attr_int("dtype")) : fallback;
    const bool ok = floats_only ? dtype_is_float(dt) : (dtype_is_float(dt) || dtype_is_integer(dt) || dt == DType::kBool);
    if (!ok) return a.error("unsupported dtype " + std::to_string(static_cast<int>(dt)));
    return dt;
}

enum class Kind { kNormal, kUniform, kNormalLike, kUniformLike, kBernoulli };

template <Kind K>
Status random_infer(InferContext& ctx) {
    if constexpr (K == Kind::kNormal || K == Kind::kUniform) {
        NNPORT_ASSIGN_OR_RETURN(DType dt, out_dtype(ctx, DType::kFloat32, true));
        const std::vector<int64_t> shape = ctx.attr_ints("shape");
        for (int64_t d : shape) {
            if (d < 0) return ctx.error("shape has a negative dim");
        }
        ctx.set_output(0, ir::ValueType::tensor(dt, Shape(shape)));
    } else {
        const ir::ValueType& in = ctx.input_type(0);
        NNPORT_ASSIGN_OR_RETURN(DType dt, out_dtype(ctx, in.dtype, K != Kind::kBernoulli));
        ir::ValueType t = in;
        t.dtype = dt;
        ctx.set_output(0, t);
    }
    return Status::ok();
}

template <Kind K>
Status random_kernel(KernelContext& ctx) {
    Shape shape;
    DType dt;
    if constexpr (K == Kind::kNormal || K == Kind::kUniform) {
        NNPORT_ASSIGN_OR_RETURN(dt, out_dtype(ctx, DType::kFloat32, true));
        shape = ctx.attr_ints("shape");
    } else {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
        // A half input reaches the kernel as float32; the inferred (half) dtype is restored by the executor.
        NNPORT_ASSIGN_OR_RETURN(dt, out_dtype(ctx, ctx.input(0).dtype(), K != Kind::kBernoulli));
        shape = ctx.input(0).shape();
    }
    if (is_half(dt)) dt = DType::kFloat32;
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, dt, shape));
    NumpyRng rng(float_seed(ctx));
    if constexpr (K == Kind::kNormal || K == Kind::kNormalLike) {
        const double mean = ctx.attr_float("mean"), scale = ctx.attr_float("scale");
        return fill(ctx, *out, [&] { return mean + scale * rng.normal(); });
    } else if constexpr (K == Kind::kUniform || K == Kind::kUniformLike) {
        const double low = ctx.attr_float("low"), high = ctx.attr_float("high");
        return fill(ctx, *out, [&] { return low + (high - low) * rng.uniform(); });
    } else {
        const Tensor& p = ctx.input(0);
        if (!dtype_is_float(p.dtype())) return ctx.input_error("Bernoulli input must be float");
        int64_t i = 0;
        if (p.dtype() == DType::kFloat64) {
            return fill(ctx, *out, [&] { return rng.bernoulli(p.data<double>()[i++]); });
        }
        return fill(ctx, *out, [&] { return rng.bernoulli(static_cast<double>(p.data<float>()[i++])); });
    }
}

template <Kind K>
OpDef make_random(const char* name, int since, const char* doc) {
    OpDef o;
    o.name = name;
    o.since_version = since;
    const bool like = K != Kind::kNormal && K != Kind::kUniform;
    o.min_inputs = o.max_inputs = like ? 1 : 0;
    o.attrs = {AttrSpec::none("dtype", ir::AttrType::kInt), AttrSpec::none("seed", ir::AttrType::kFloat)};
    if (K == Kind::kNormal || K == Kind::kNormalLike) {
        o.attrs.push_back(AttrSpec::f("mean", 0.f));
        o.attrs.push_back(AttrSpec::f("scale", 1.f));
    } else if (K == Kind::kUniform || K == Kind::kUniformLike) {
        o.attrs.push_back(AttrSpec::f("low", 0.f));
        o.attrs.push_back(AttrSpec::f("high", 1.f));
    }
    if (!like) o.attrs.push_back(AttrSpec::none("shape", ir::AttrType::kInts, true));
    o.infer = random_infer<K>;
    o.kernel = random_kernel<K>;
    o.foldable = false;
    o.doc = doc;
    return o;
}

Status multinomial_infer(InferContext& ctx) {
    const int64_t dt = ctx.attr_int("dtype");
    if (dt != static_cast<int64_t>(DType::kInt32) && dt != static_cast<int64_t>(DType::kInt64)) {
        return ctx.error("Multinomial dtype must be int32 or int64");
    }
    const ir::ValueType& in = ctx.input_type(0);
    if (in.has_shape && in.rank() != 2) return ctx.error("Multinomial input must be [batch, classes]");
    const ir::Dim batch = in.has_shape ? in.dims[0] : ctx.new_dim();
    ctx.set_output(0, ir::ValueType::tensor(static_cast<DType>(dt),
                                            std::vector<ir::Dim>{batch, ir::Dim(ctx.attr_int("sample_size"))}));
    return Status::ok();
}

Status multinomial_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (x.rank() != 2 || !dtype_is_float(x.dtype())) return ctx.input_error("input must be float [batch, classes]");
    const int64_t samples = ctx.attr_int("sample_size");
    if (samples < 0) return ctx.error("sample_size must be >= 0");
    const DType dt = static_cast<DType>(ctx.attr_int("dtype"));
    if (dt != DType::kInt32 && dt != DType::kInt64) return ctx.error("Multinomial dtype must be int32 or int64");
    const int64_t B = x.dim(0), C = x.dim(1);
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, dt, {B, samples}));
    if (C == 0 && B * samples > 0) return ctx.input_error("no classes to sample from");
    NumpyRng rng(float_seed(ctx));
    std::vector<double> cdf(static_cast<size_t>(C));
    for (int64_t b = 0; b < B; ++b) {
        double mx = -INFINITY;
        for (int64_t c = 0; c < C; ++c) mx = std::max(mx, x.item_as_double(b * C + c));
        double total = 0;
        for (int64_t c = 0; c < C; ++c) {
            total += std::isfinite(mx) ? std::exp(x.item_as_double(b * C + c) - mx) : 1.0;
            cdf[static_cast<size_t>(c)] = total;
        }
        for (int64_t s = 0; s < samples; ++s) {
            const double u = rng.uniform() * total;
            int64_t k = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
            if (k >= C) k = C - 1;
            if (dt == DType::kInt32) out->data<int32_t>()[b * samples + s] = static_cast<int32_t>(k);
            else out->data<int64_t>()[b * samples + s] = k;
        }
    }
    return Status::ok();
}

}  // namespace

const OpDef& op_def_RandomNormal() {
    static const OpDef d = make_random<Kind::kNormal>("RandomNormal", 1, "Normal samples of a given shape.");
    return d;
}
const OpDef& op_def_RandomUniform() {
    static const OpDef d = make_random<Kind::kUniform>("RandomUniform", 1, "Uniform samples in [low, high).");
    return d;
}
const OpDef& op_def_RandomNormalLike() {
    static const OpDef d = make_random<Kind::kNormalLike>("RandomNormalLike", 1, "Normal samples shaped like the input.");
    return d;
}
const OpDef& op_def_RandomUniformLike() {
    static const OpDef d =
        make_random<Kind::kUniformLike>("RandomUniformLike", 1, "Uniform samples shaped like the input.");
    return d;
}
const OpDef& op_def_Bernoulli() {
    static const OpDef d = make_random<Kind::kBernoulli>("Bernoulli", 15, "1 with the input probability, else 0.");
    return d;
}

const OpDef& op_def_Multinomial() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Multinomial";
        o.since_version = 7;
        o.min_inputs = o.max_inputs = 1;
        o.attrs = {AttrSpec::i("dtype", static_cast<int64_t>(DType::kInt32)), AttrSpec::i("sample_size", 1),
                   AttrSpec::none("seed", ir::AttrType::kFloat)};
        o.infer = multinomial_infer;
        o.kernel = multinomial_kernel;
        o.foldable = false;
        o.doc = "Class indices sampled from unnormalized log-probabilities [batch, classes].";
        return o;
    }();
    return d;
}

}  // namespace nnport

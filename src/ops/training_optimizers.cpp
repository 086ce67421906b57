// ai.onnx.preview.training optimizers: Adagrad, Adam, Momentum (one update step over several tensors).
//
// Inputs are R (learning rate), T (update count), then blocks of m tensors each: X..., G..., and the optimizer's
// state (Adagrad: H...; Momentum: V...; Adam: V..., H...). Outputs are X_new..., then the new state blocks.
#include <cmath>
#include <vector>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

constexpr const char* kTrainingDomain = "ai.onnx.preview.training";

enum class Kind { kAdagrad, kAdam, kMomentum };

/// Input blocks per optimized tensor (X, G and the state tensors).
constexpr int64_t blocks_of(Kind k) { return k == Kind::kAdam ? 4 : 3; }

/// m, the number of optimized tensors; error unless inputs and outputs have the expected block counts.
template <typename Ctx>
Result<int64_t> tensor_count(const Ctx& ctx, Kind k) {
    const int64_t nin = static_cast<int64_t>(ctx.num_inputs()), nout = static_cast<int64_t>(ctx.num_outputs());
    const int64_t b = blocks_of(k);
    if (nin < 2 + b || (nin - 2) % b != 0) {
        return ctx.error("expects R, T and " + std::to_string(b) + " inputs per optimized tensor, got " +
                         std::to_string(nin) + " inputs");
    }
    const int64_t m = (nin - 2) / b;
    if (nout != m * (b - 1)) {
        return ctx.error("expects " + std::to_string(m * (b - 1)) + " outputs for " + std::to_string(m) +
                         " optimized tensors, got " + std::to_string(nout));
    }
    return m;
}

/// Input block feeding output block `ob` (X_new <- X, state_new <- state; G has no output).
int64_t input_block_of_output(int64_t ob) { return ob == 0 ? 0 : ob + 1; }

template <Kind K>
Status optimizer_infer(InferContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(int64_t m, tensor_count(ctx, K));
    if constexpr (K == Kind::kMomentum) {
        const std::string mode = ctx.attr_string("mode");
        if (mode != "standard" && mode != "nesterov") {
            return ctx.error("mode must be 'standard' or 'nesterov', got '" + mode + "'");
        }
    }
    const ir::ValueType& r = ctx.input_type(0);
    const ir::ValueType& t = ctx.input_type(1);
    if (r.dtype != DType::kUndefined && r.dtype != DType::kFloat32 && r.dtype != DType::kFloat64) {
        return ctx.error("R must be float or double");
    }
    if (t.dtype != DType::kUndefined && t.dtype != DType::kInt64) return ctx.error("T must be int64");
    const int64_t b = blocks_of(K);
    for (int64_t j = 0; j < m; ++j) {
        const ir::ValueType& x = ctx.input_type(static_cast<size_t>(2 + j));
        if (x.dtype != DType::kUndefined && x.dtype != DType::kFloat32 && x.dtype != DType::kFloat64) {
            return ctx.error("optimized tensors must be float or double, got " + x.to_string());
        }
        for (int64_t k = 1; k < b; ++k) {
            const ir::ValueType& o = ctx.input_type(static_cast<size_t>(2 + k * m + j));
            if (o.dtype != DType::kUndefined && x.dtype != DType::kUndefined && o.dtype != x.dtype) {
                return ctx.error("input " + std::to_string(2 + k * m + j) + " " + o.to_string() +
                                 " differs in dtype from X " + x.to_string());
            }
            if (!o.has_shape || !x.has_shape) continue;
            bool clash = o.rank() != x.rank();
            for (size_t d = 0; !clash && d < x.dims.size(); ++d) {
                clash = x.dims[d].is_static() && o.dims[d].is_static() && x.dims[d].value != o.dims[d].value;
            }
            if (clash) {
                return ctx.error("input " + std::to_string(2 + k * m + j) + " " + o.to_string() +
                                 " does not match X " + x.to_string());
            }
        }
    }
    for (int64_t ob = 0; ob < b - 1; ++ob) {
        for (int64_t j = 0; j < m; ++j) {
            const size_t in = static_cast<size_t>(2 + input_block_of_output(ob) * m + j);
            const ir::ValueType& src = ctx.input_type(in);
            ctx.set_output(static_cast<size_t>(ob * m + j), src.is_tensor() ? src : ir::ValueType::tensor(src.dtype));
        }
    }
    return Status::ok();
}

/// Scalars of one step, from R, T and the attributes.
struct Step {
    double r = 0, norm = 0, norm_post = 0, alpha = 0, beta = 0, eps = 0;
    bool nesterov = false;
};

Result<Step> make_step(const KernelContext& ctx, Kind k) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& rt = ctx.input(0);
    const Tensor& tt = ctx.input(1);
    if (!dtype_is_float(rt.dtype()) || rt.numel() != 1) return ctx.input_error("R must be a float scalar");
    if (tt.dtype() != DType::kInt64 || tt.numel() != 1) return ctx.input_error("T must be an int64 scalar");
    const double r = rt.item_as_double();
    const double t = static_cast<double>(tt.data<int64_t>()[0]);
    Step s;
    s.norm = ctx.attr_float("norm_coefficient");
    if (k == Kind::kAdagrad) {
        s.r = r / (1.0 + t * ctx.attr_float("decay_factor"));
        s.eps = ctx.attr_float("epsilon");
    } else if (k == Kind::kAdam) {
        s.alpha = ctx.attr_float("alpha");
        s.beta = ctx.attr_float("beta");
        s.eps = ctx.attr_float("epsilon");
        s.norm_post = ctx.attr_float("norm_coefficient_post");
        s.r = t > 0 ? r * std::sqrt(1.0 - std::pow(s.beta, t)) / (1.0 - std::pow(s.alpha, t)) : r;
    } else {
        const std::string mode = ctx.attr_string("mode");
        if (mode != "standard" && mode != "nesterov") {
            return ctx.error("mode must be 'standard' or 'nesterov', got '" + mode + "'");
        }
        s.nesterov = mode == "nesterov";
        s.r = r;
        s.alpha = ctx.attr_float("alpha");
        s.beta = t > 0 ? ctx.attr_float("beta") : 1.0;  // the first step takes the whole gradient
    }
    return s;
}

/// One element update; `st0`/`st1` are the state (Adagrad: H; Momentum: V; Adam: V, H), updated in place.
template <Kind K>
inline double update(const Step& s, double x, double g, double& st0, double& st1) {
    const double gr = s.norm * x + g;
    if constexpr (K == Kind::kAdagrad) {
        st0 += gr * gr;
        return x - s.r * gr / (std::sqrt(st0) + s.eps);
    } else if constexpr (K == Kind::kAdam) {
        st0 = s.alpha * st0 + (1.0 - s.alpha) * gr;
        st1 = s.beta * st1 + (1.0 - s.beta) * gr * gr;
        return (1.0 - s.norm_post) * (x - s.r * st0 / (std::sqrt(st1) + s.eps));
    } else {
        st0 = s.alpha * st0 + s.beta * gr;
        return s.nesterov ? x - s.r * (gr + s.alpha * st0) : x - s.r * st0;
    }
}

template <Kind K, typename T>
void run_tensor(const KernelContext& ctx, const Step& s, const T* x, const T* g, const T* a, const T* b, T* xo,
                T* ao, T* bo, int64_t n) {
    ctx.parallel_for(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            double st0 = static_cast<double>(a[i]), st1 = b ? static_cast<double>(b[i]) : 0.0;
            const double xn = update<K>(s, static_cast<double>(x[i]), static_cast<double>(g[i]), st0, st1);
            xo[i] = static_cast<T>(xn);
            ao[i] = static_cast<T>(st0);
            if (bo) bo[i] = static_cast<T>(st1);
        }
    });
}

template <Kind K>
Status optimizer_kernel(KernelContext& ctx) {
    NNPORT_ASSIGN_OR_RETURN(int64_t m, tensor_count(ctx, K));
    NNPORT_ASSIGN_OR_RETURN(Step s, make_step(ctx, K));
    const int64_t b = blocks_of(K);
    for (int64_t j = 0; j < m; ++j) {
        const size_t xi = static_cast<size_t>(2 + j);
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(xi));
        const Tensor& x = ctx.input(xi);
        if (x.dtype() != DType::kFloat32 && x.dtype() != DType::kFloat64) {
            return ctx.input_error("optimized tensors must be float or double");
        }
        std::vector<const Tensor*> in = {&x};
        for (int64_t k = 1; k < b; ++k) {
            const size_t ii = static_cast<size_t>(2 + k * m + j);
            NNPORT_RETURN_IF_ERROR(ctx.require_tensor(ii));
            const Tensor& t = ctx.input(ii);
            if (t.dtype() != x.dtype() || t.shape() != x.shape()) {
                return ctx.input_error("input " + std::to_string(ii) + " (" + dtype_name(t.dtype()) +
                                       shape_to_string(t.shape()) + ") does not match X (" + dtype_name(x.dtype()) +
                                       shape_to_string(x.shape()) + ")");
            }
            in.push_back(&t);
        }
        // Outputs: X_new at block 0, then one per state tensor; all allocated so omitted ones still compute.
        std::vector<Tensor> scratch;
        std::vector<void*> out;
        for (int64_t ob = 0; ob < b - 1; ++ob) {
            const size_t oi = static_cast<size_t>(ob * m + j);
            if (ctx.has_output(oi)) {
                NNPORT_ASSIGN_OR_RETURN(Tensor * o, ctx.output(oi, x.dtype(), x.shape()));
                out.push_back(o->raw_data());
            } else {
                NNPORT_ASSIGN_OR_RETURN(Tensor t, Tensor::create(x.dtype(), x.shape()));
                scratch.push_back(std::move(t));
                out.push_back(scratch.back().raw_data());
            }
        }
        NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, {
            const T* st1 = b == 4 ? in[3]->data<T>() : nullptr;
            T* st1o = b == 4 ? static_cast<T*>(out[2]) : nullptr;
            run_tensor<K, T>(ctx, s, x.data<T>(), in[1]->data<T>(), in[2]->data<T>(), st1, static_cast<T*>(out[0]),
                             static_cast<T*>(out[1]), st1o, x.numel());
        });
    }
    return Status::ok();
}

template <Kind K>
OpDef make_optimizer(const char* name, std::vector<AttrSpec> attrs, const char* doc) {
    OpDef o;
    o.name = name;
    o.domain = kTrainingDomain;
    o.since_version = 1;
    o.min_inputs = static_cast<int>(2 + blocks_of(K));
    o.max_inputs = -1;
    o.min_outputs = static_cast<int>(blocks_of(K) - 1);
    o.max_outputs = -1;
    o.attrs = std::move(attrs);
    o.infer = optimizer_infer<K>;
    o.kernel = optimizer_kernel<K>;
    o.half_via_float = false;  // float and double only
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_Adagrad() {
    static const OpDef d = make_optimizer<Kind::kAdagrad>(
        "Adagrad",
        {AttrSpec::f("decay_factor", 0.f), AttrSpec::f("epsilon", 1e-6f), AttrSpec::f("norm_coefficient", 0.f)},
        "One ADAGRAD step: inputs R, T, X..., G..., H...; outputs X_new..., H_new....");
    return d;
}

const OpDef& op_def_Adam() {
    static const OpDef d = make_optimizer<Kind::kAdam>(
        "Adam",
        {AttrSpec::f("alpha", 0.9f), AttrSpec::f("beta", 0.999f), AttrSpec::f("epsilon", 1e-6f),
         AttrSpec::f("norm_coefficient", 0.f), AttrSpec::f("norm_coefficient_post", 0.f)},
        "One Adam step: inputs R, T, X..., G..., V..., H...; outputs X_new..., V_new..., H_new....");
    return d;
}

const OpDef& op_def_Momentum() {
    static const OpDef d = make_optimizer<Kind::kMomentum>(
        "Momentum",
        {AttrSpec::none("alpha", ir::AttrType::kFloat, true), AttrSpec::none("beta", ir::AttrType::kFloat, true),
         AttrSpec::none("mode", ir::AttrType::kString, true),
         AttrSpec::none("norm_coefficient", ir::AttrType::kFloat, true)},
        "One SGD-with-momentum step (standard or nesterov): inputs R, T, X..., G..., V...; "
        "outputs X_new..., V_new....");
    return d;
}

}  // namespace nnport

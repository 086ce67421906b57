// Dropout (opset-12+ form: ratio and training_mode inputs, seed attribute; older opsets are rewritten on import).
//
// Inference (training_mode absent or false) and ratio 0 are the identity with an all-true mask. In training mode the
// keep mask is drawn like numpy's legacy `np.random.seed(seed); np.random.uniform(size=shape) >= ratio` (MT19937
// seeded with the integer seed, 53-bit doubles), which is how the ONNX reference generates it.
#include "ops/kernel_util.hpp"
#include "ops/random_util.hpp"

namespace nnport {
namespace {

Status dropout_infer(InferContext& ctx) {
    const ir::ValueType& x = ctx.input_type(0);
    if (x.dtype != DType::kUndefined && !dtype_is_float(x.dtype)) {
        return ctx.error(std::string("data must be a float tensor, got ") + dtype_name(x.dtype));
    }
    if (ctx.has_input(1)) {
        const ir::ValueType& r = ctx.input_type(1);
        if (r.dtype != DType::kUndefined && !dtype_is_float(r.dtype)) return ctx.error("ratio must be a float scalar");
    }
    if (ctx.has_input(2)) {
        const ir::ValueType& t = ctx.input_type(2);
        if (t.dtype != DType::kUndefined && t.dtype != DType::kBool) return ctx.error("training_mode must be bool");
    }
    ctx.set_output(0, x.is_tensor() ? x : ir::ValueType::tensor(x.dtype));
    ir::ValueType mask = ir::ValueType::tensor(DType::kBool);
    mask.has_shape = x.has_shape;
    mask.dims = x.dims;
    ctx.set_output(1, mask);
    return Status::ok();
}

template <typename T>
void drop(const T* x, T* y, bool* mask, int64_t n, double ratio, NumpyRng& rng) {
    const T scale = static_cast<T>(1.0 / (1.0 - ratio));
    for (int64_t i = 0; i < n; ++i) {
        const bool keep = rng.uniform() >= ratio;
        y[i] = keep ? x[i] * scale : T(0);
        if (mask) mask[i] = keep;
    }
}

Status dropout_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    const Tensor& x = ctx.input(0);
    if (!dtype_is_float(x.dtype())) return ctx.input_error("data must be a float tensor");
    double ratio = 0.5;
    if (ctx.has_input(1)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
        const Tensor& r = ctx.input(1);
        if (!dtype_is_float(r.dtype()) || r.numel() != 1) return ctx.input_error("ratio must be a float scalar");
        ratio = r.item_as_double();
    }
    bool training = false;
    if (ctx.has_input(2)) {
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(2));
        const Tensor& t = ctx.input(2);
        if (t.dtype() != DType::kBool || t.numel() != 1) return ctx.input_error("training_mode must be a bool scalar");
        training = t.data<bool>()[0];
    }
    bool* mask = nullptr;
    if (ctx.has_output(1)) {
        NNPORT_ASSIGN_OR_RETURN(Tensor * m, ctx.output(1, DType::kBool, x.shape()));
        mask = m->data<bool>();
    }
    if (!training || ratio == 0.0) {
        ctx.set_output_value(0, ctx.input_value(0));
        for (int64_t i = 0; mask && i < x.numel(); ++i) mask[i] = true;
        return Status::ok();
    }
    if (!(ratio > 0.0 && ratio < 1.0)) {
        return ctx.input_error("ratio must be in [0, 1) in training mode, got " + std::to_string(ratio));
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
    NumpyRng rng(ctx.has_attr("seed") ? std::optional<uint32_t>(static_cast<uint32_t>(ctx.attr_int("seed")))
                                      : std::nullopt);
    NNPORT_DISPATCH_FLOAT(x.dtype(), T, ctx, drop<T>(x.data<T>(), y->data<T>(), mask, x.numel(), ratio, rng));
    return Status::ok();
}

}  // namespace

const OpDef& op_def_Dropout() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "Dropout";
        o.since_version = 1;
        o.min_inputs = 1;
        o.max_inputs = 3;
        o.min_outputs = 1;
        o.max_outputs = 2;
        o.attrs = {AttrSpec::none("seed", ir::AttrType::kInt)};
        o.infer = dropout_infer;
        o.kernel = dropout_kernel;
        o.input0_types = float_types();
        o.foldable = false;  // random in training mode (and unseeded runs differ)
        o.output_views_input0 = true;  // at inference output 0 is input 0 itself
        o.doc = "Identity at inference; in training mode zeroes elements with probability ratio and scales by "
                "1/(1-ratio). Optional bool mask output.";
        return o;
    }();
    return d;
}

}  // namespace nnport

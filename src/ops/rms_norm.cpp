// RMSNormalization (opset 23): Y = X / sqrt(mean(X^2 over dims >= axis) + epsilon) * scale.
#include <cmath>

#include "ops/kernel_util.hpp"

namespace nnport {

namespace {

/// True if a static `s` dim conflicts with a static `x` dim under unidirectional broadcasting (s -> x).
bool dims_conflict(const ir::Dim& s, const ir::Dim& x) {
    return s.is_static() && x.is_static() && s.value != 1 && s.value != x.value;
}

/// stash_type names the precision of the statistics; any float type is accepted and computed in double.
Status check_stash_type(const AttrAccess& a) {
    const int64_t st = a.attr_int("stash_type");
    if (st != 1 && st != 10 && st != 11 && st != 16) return a.error("stash_type must be a float type (1, 10, 11, 16)");
    return Status::ok();
}

Status rms_norm_infer(InferContext& ctx) {
    const ir::ValueType& xt = ctx.input_type(0);
    const ir::ValueType& st = ctx.input_type(1);
    NNPORT_RETURN_IF_ERROR(check_stash_type(ctx));
    // Y has the scale's element type (V in the schema).
    const DType out_dt = st.is_tensor() && st.dtype != DType::kUndefined ? st.dtype : xt.dtype;
    if (!xt.has_shape) {
        ctx.set_output(0, ir::ValueType::tensor(out_dt));
        return Status::ok();
    }
    const int64_t r = xt.rank();
    auto axis = normalize_axis(ctx.attr_int("axis"), r);
    if (!axis.is_ok()) return ctx.error(axis.status().message());
    if (st.has_shape) {
        if (st.rank() > r) return ctx.error("scale has a higher rank than X");
        for (int64_t i = 0; i < st.rank(); ++i) {
            const ir::Dim& sd = st.dims[static_cast<size_t>(i)];
            const ir::Dim& xd = xt.dims[static_cast<size_t>(r - st.rank() + i)];
            if (dims_conflict(sd, xd)) return ctx.error("scale " + st.to_string() + " does not broadcast to X");
        }
    }
    ctx.set_output(0, ir::ValueType::tensor(out_dt, xt.dims));
    return Status::ok();
}

template <typename TX, typename TS>
void rms_rows(KernelContext& ctx, const TX* x, const TS* s, TS* y, int64_t outer, int64_t inner,
              const std::vector<int64_t>& row_base, const std::vector<int64_t>& inner_off, double eps) {
    ctx.parallel_for(outer, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const TX* xr = x + r * inner;
            TS* yr = y + r * inner;
            double acc = 0.0;
            for (int64_t i = 0; i < inner; ++i) acc += static_cast<double>(xr[i]) * static_cast<double>(xr[i]);
            const double inv = 1.0 / std::sqrt(acc / static_cast<double>(inner) + eps);
            const TS* sr = s + row_base[static_cast<size_t>(r)];
            for (int64_t i = 0; i < inner; ++i) {
                yr[i] = static_cast<TS>(static_cast<double>(xr[i]) * inv *
                                        static_cast<double>(sr[inner_off[static_cast<size_t>(i)]]));
            }
        }
    });
}

Status rms_norm_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& x = ctx.input(0);
    const Tensor& s = ctx.input(1);
    auto axis_r = normalize_axis(ctx.attr_int("axis"), x.rank());
    if (!axis_r.is_ok()) return ctx.input_error(axis_r.status().message());
    const int64_t axis = axis_r.value();
    NNPORT_RETURN_IF_ERROR(check_stash_type(ctx));
    if (!dtype_is_float(x.dtype()) || !dtype_is_float(s.dtype())) return ctx.input_error("X and scale must be floats");
    if (s.rank() > x.rank()) return ctx.input_error("scale has a higher rank than X");
    auto b = broadcast_shapes(s.shape(), x.shape());
    if (!b.is_ok() || b.value() != x.shape()) {
        return ctx.input_error("scale " + shape_to_string(s.shape()) + " does not broadcast to X " +
                               shape_to_string(x.shape()));
    }
    const Shape& xs = x.shape();
    if (x.numel() == 0) return ctx.output(0, s.dtype(), xs).status();
    int64_t inner = 1;
    for (int64_t d = axis; d < x.rank(); ++d) inner *= xs[static_cast<size_t>(d)];
    const int64_t outer = inner == 0 ? 0 : x.numel() / inner;
    // Scale offsets: one base per row (outer dims) plus one per element of the normalized block.
    const std::vector<int64_t> bs = broadcast_strides(s.shape(), xs);
    std::vector<int64_t> row_base(static_cast<size_t>(outer), 0), inner_off(static_cast<size_t>(inner), 0);
    for (int64_t r = 0; r < outer; ++r) {
        int64_t rem = r, off = 0;
        for (int64_t d = axis; d-- > 0;) {
            off += (rem % xs[static_cast<size_t>(d)]) * bs[static_cast<size_t>(d)];
            rem /= xs[static_cast<size_t>(d)];
        }
        row_base[static_cast<size_t>(r)] = off;
    }
    for (int64_t i = 0; i < inner; ++i) {
        int64_t rem = i, off = 0;
        for (int64_t d = x.rank(); d-- > axis;) {
            off += (rem % xs[static_cast<size_t>(d)]) * bs[static_cast<size_t>(d)];
            rem /= xs[static_cast<size_t>(d)];
        }
        inner_off[static_cast<size_t>(i)] = off;
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, s.dtype(), xs));
    const double eps = ctx.attr_float("epsilon");
    NNPORT_DISPATCH_FLOAT(x.dtype(), TX, ctx, {
        NNPORT_DISPATCH_FLOAT(s.dtype(), TS, ctx, {
            rms_rows<TX, TS>(ctx, x.data<TX>(), s.data<TS>(), y->data<TS>(), outer, inner, row_base, inner_off, eps);
        });
    });
    return Status::ok();
}

}  // namespace

const OpDef& op_def_RMSNormalization() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "RMSNormalization";
        o.since_version = 23;
        o.min_inputs = o.max_inputs = 2;
        o.attrs = {AttrSpec::i("axis", -1), AttrSpec::f("epsilon", 1e-5f), AttrSpec::i("stash_type", 1)};
        o.infer = rms_norm_infer;
        o.kernel = rms_norm_kernel;
        o.input0_types = float_types();
        o.doc = "X / sqrt(mean(X^2 over the dims from `axis`) + epsilon) * scale; Y has scale's type.";
        return o;
    }();
    return d;
}

}  // namespace nnport

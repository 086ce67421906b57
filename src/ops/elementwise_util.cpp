// Broadcast planning and small shared helpers of the elementwise op family.
#include "ops/elementwise_util.hpp"

#include <algorithm>

namespace nnport {

Result<BroadcastPlan> make_broadcast_plan(const std::vector<const Shape*>& shapes) {
    BroadcastPlan p;
    if (shapes.empty()) return invalid_argument("no shapes to broadcast");
    Shape out = *shapes[0];
    for (size_t i = 1; i < shapes.size(); ++i) {
        NNPORT_ASSIGN_OR_RETURN(out, broadcast_shapes(out, *shapes[i]));
    }
    p.numel = shape_numel(out);
    if (p.numel < 0) return invalid_argument("broadcast shape " + shape_to_string(out) + " is invalid");
    std::vector<std::vector<int64_t>> full;
    for (const Shape* s : shapes) full.push_back(broadcast_strides(*s, out));
    p.strides.assign(shapes.size(), {});
    for (size_t d = 0; d < out.size(); ++d) {
        if (out[d] == 1) continue;
        bool merge = !p.dims.empty();
        for (size_t k = 0; k < shapes.size() && merge; ++k) {
            merge = p.strides[k].back() == full[k][d] * out[d];
        }
        if (merge) {
            p.dims.back() *= out[d];
            for (size_t k = 0; k < shapes.size(); ++k) p.strides[k].back() = full[k][d];
        } else {
            p.dims.push_back(out[d]);
            for (size_t k = 0; k < shapes.size(); ++k) p.strides[k].push_back(full[k][d]);
        }
    }
    if (p.dims.empty() || p.numel == 0) {
        // A single element, or nothing at all: one row, every input read at offset 0.
        p.dims = {p.numel == 0 ? 0 : 1};
        for (auto& s : p.strides) s = {0};
    }
    p.out_shape = std::move(out);
    return p;
}

void ew_parallel(const KernelContext& ctx, int64_t total, int64_t cost, const std::function<void(int64_t, int64_t)>& fn) {
    if (total <= 0) return;
    if (!ctx.pool() || total * std::max<int64_t>(cost, 1) < kEwParallelGrain) {
        fn(0, total);
        return;
    }
    ctx.parallel_for(total, fn);
}

Status ew_require_tensors(const KernelContext& ctx, size_t n) {
    for (size_t i = 0; i < n; ++i) NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
    return Status::ok();
}

Status ew_require_same_dtype(const KernelContext& ctx, size_t i, size_t j) {
    const DType a = ctx.input(i).dtype(), b = ctx.input(j).dtype();
    if (a == b) return Status::ok();
    return ctx.input_error(std::string("inputs ") + std::to_string(i) + " and " + std::to_string(j) +
                           " have different dtypes (" + dtype_name(a) + ", " + dtype_name(b) + ")");
}

Status ew_infer_broadcast(InferContext& ctx, DType out_dtype) {
    std::vector<const ir::ValueType*> ts;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        if (ctx.has_input(i)) ts.push_back(&ctx.input_type(i));
    }
    if (ts.empty()) return ctx.error("no inputs");
    auto r = broadcast_types(ts, out_dtype);
    if (!r.is_ok()) return ctx.error(r.status().message());
    ctx.set_output(0, std::move(r).value());
    return Status::ok();
}

Status ew_infer_same_dtype(InferContext& ctx, size_t i, size_t j) {
    const DType a = ctx.input_type(i).dtype, b = ctx.input_type(j).dtype;
    if (a == DType::kUndefined || b == DType::kUndefined || a == b) return Status::ok();
    return ctx.error(std::string("inputs ") + std::to_string(i) + " and " + std::to_string(j) +
                     " have different dtypes (" + dtype_name(a) + ", " + dtype_name(b) + ")");
}

}  // namespace nnport

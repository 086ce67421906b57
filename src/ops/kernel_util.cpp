// Shared helpers for op definitions.
#include "ops/kernel_util.hpp"

#include <algorithm>

namespace nnport {

Result<int64_t> normalize_axis(int64_t axis, int64_t rank) {
    if (axis < -rank || axis >= rank) {
        return invalid_argument("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    }
    return axis < 0 ? axis + rank : axis;
}

Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
    const size_t r = std::max(a.size(), b.size());
    Shape out(r);
    for (size_t i = 0; i < r; ++i) {
        const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
        const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
        if (da == db || db == 1) {
            out[i] = da;
        } else if (da == 1) {
            out[i] = db;
        } else {
            return invalid_argument("shapes " + shape_to_string(a) + " and " + shape_to_string(b) +
                                    " cannot be broadcast");
        }
    }
    return out;
}

Result<ir::ValueType> broadcast_types(const std::vector<const ir::ValueType*>& types, DType out_dtype) {
    size_t r = 0;
    for (const ir::ValueType* t : types) {
        if (!t->has_shape) return ir::ValueType::tensor(out_dtype);
        r = std::max(r, t->dims.size());
    }
    std::vector<ir::Dim> out(r, ir::Dim(1));
    for (size_t i = 0; i < r; ++i) {
        bool have = false;
        ir::Dim cur(1);
        bool unknown = false;
        for (const ir::ValueType* t : types) {
            const size_t off = r - t->dims.size();
            if (i < off) continue;
            const ir::Dim& d = t->dims[i - off];
            if (d.is_static() && d.value == 1) continue;
            if (!have) {
                cur = d;
                have = true;
            } else if (d.is_static() && cur.is_static()) {
                if (d.value != cur.value) {
                    return invalid_model("dimension " + std::to_string(i) + ": sizes " + std::to_string(cur.value) +
                                         " and " + std::to_string(d.value) + " cannot be broadcast");
                }
            } else if (d.is_static()) {
                cur = d;  // a static dim > 1 decides
            } else if (!cur.is_static() && !(d == cur)) {
                unknown = true;
            }
        }
        out[i] = unknown && !cur.is_static() ? ir::Dim() : cur;
    }
    return ir::ValueType::tensor(out_dtype, out);
}

std::vector<int64_t> strides_of(const Shape& shape) {
    std::vector<int64_t> s(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
    return s;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
    std::vector<int64_t> s(out.size(), 0);
    const std::vector<int64_t> own = strides_of(in);
    const size_t off = out.size() - in.size();
    for (size_t i = 0; i < in.size(); ++i) s[i + off] = (in[i] == 1 && out[i + off] != 1) ? 0 : own[i];
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == 1) s[i + off] = 0;
    }
    return s;
}

Status infer_same_as_input0(InferContext& ctx) {
    ctx.set_output(0, ctx.input_type(0));
    return Status::ok();
}

static Status infer_broadcast(InferContext& ctx, bool as_bool) {
    std::vector<const ir::ValueType*> ts;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        if (ctx.has_input(i)) ts.push_back(&ctx.input_type(i));
    }
    if (ts.empty()) return ctx.error("no inputs");
    auto r = broadcast_types(ts, as_bool ? DType::kBool : ts[0]->dtype);
    if (!r.is_ok()) return ctx.error(r.status().message());
    ctx.set_output(0, std::move(r).value());
    return Status::ok();
}

Status infer_broadcast_same_dtype(InferContext& ctx) { return infer_broadcast(ctx, false); }
Status infer_broadcast_bool(InferContext& ctx) { return infer_broadcast(ctx, true); }

ir::ValueType tensor_type_of_rank(InferContext& ctx, DType dt, int64_t rank) {
    std::vector<ir::Dim> dims;
    for (int64_t i = 0; i < rank; ++i) dims.push_back(ctx.new_dim());
    return ir::ValueType::tensor(dt, dims);
}

const std::vector<DType>& float_types() {
    static const std::vector<DType> t = {DType::kFloat16, DType::kBFloat16, DType::kFloat32, DType::kFloat64};
    return t;
}

const std::vector<DType>& numeric_types() {
    static const std::vector<DType> t = {DType::kFloat16, DType::kBFloat16, DType::kFloat32, DType::kFloat64,
                                         DType::kInt8,    DType::kInt16,    DType::kInt32,   DType::kInt64,
                                         DType::kUInt8,   DType::kUInt16,   DType::kUInt32,  DType::kUInt64};
    return t;
}

}  // namespace nnport

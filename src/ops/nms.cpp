// NonMaxSuppression: greedy per-(batch, class) box selection by score with IoU suppression.
#include <algorithm>
#include <cmath>

#include "ops/kernel_util.hpp"

namespace nnport {
namespace {

struct Box {
    float y1, x1, y2, x2, area;
};

Box make_box(const float* b, bool center) {
    Box r;
    if (center) {
        r.x1 = b[0] - b[2] / 2;
        r.x2 = b[0] + b[2] / 2;
        r.y1 = b[1] - b[3] / 2;
        r.y2 = b[1] + b[3] / 2;
    } else {
        r.y1 = std::min(b[0], b[2]);
        r.y2 = std::max(b[0], b[2]);
        r.x1 = std::min(b[1], b[3]);
        r.x2 = std::max(b[1], b[3]);
    }
    r.area = (r.x2 - r.x1) * (r.y2 - r.y1);
    return r;
}

/// True if `b` is suppressed by the selected box `a` (IoU strictly above the threshold).
bool suppressed(const Box& a, const Box& b, float iou_threshold) {
    const float ix1 = std::max(a.x1, b.x1), ix2 = std::min(a.x2, b.x2);
    const float iy1 = std::max(a.y1, b.y1), iy2 = std::min(a.y2, b.y2);
    if (ix2 <= ix1 || iy2 <= iy1) return false;
    const float inter = (ix2 - ix1) * (iy2 - iy1);
    const float uni = a.area + b.area - inter;
    if (a.area <= 0 || b.area <= 0 || uni <= 0) return false;
    return inter / uni > iou_threshold;
}

Status nms_infer(InferContext& ctx) {
    ctx.set_output(0, ir::ValueType::tensor(DType::kInt64, std::vector<ir::Dim>{ctx.new_dim(), ir::Dim(3)}));
    return Status::ok();
}

Status nms_kernel(KernelContext& ctx) {
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(0));
    NNPORT_RETURN_IF_ERROR(ctx.require_tensor(1));
    const Tensor& boxes = ctx.input(0);
    const Tensor& scores = ctx.input(1);
    if (boxes.dtype() != DType::kFloat32 || scores.dtype() != DType::kFloat32) {
        return ctx.input_error("boxes and scores must be float");
    }
    if (boxes.rank() != 3 || boxes.dim(2) != 4) return ctx.input_error("boxes must be [batches, boxes, 4]");
    if (scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1)) {
        return ctx.input_error("scores must be [batches, classes, boxes] matching boxes " +
                               shape_to_string(boxes.shape()) + ", got " + shape_to_string(scores.shape()));
    }
    int64_t max_out = 0;
    float iou_th = 0.f, score_th = 0.f;
    const bool has_score_th = ctx.has_input(4);
    for (size_t i = 2; i < 5; ++i) {
        if (!ctx.has_input(i)) continue;
        NNPORT_RETURN_IF_ERROR(ctx.require_tensor(i));
        if (ctx.input(i).numel() != 1) return ctx.input_error("input " + std::to_string(i) + " must hold one value");
    }
    if (ctx.has_input(2)) max_out = std::max<int64_t>(0, ctx.input(2).item_as_int(0));
    if (ctx.has_input(3)) iou_th = static_cast<float>(ctx.input(3).item_as_double(0));
    if (has_score_th) score_th = static_cast<float>(ctx.input(4).item_as_double(0));
    if (!(iou_th >= 0.f && iou_th <= 1.f)) return ctx.input_error("iou_threshold must be in [0, 1]");
    const bool center = ctx.attr_int("center_point_box") != 0;
    const int64_t B = boxes.dim(0), N = boxes.dim(1), C = scores.dim(1);
    const float* bx = boxes.data<float>();
    const float* sc = scores.data<float>();
    std::vector<int64_t> sel;
    std::vector<Box> bb(static_cast<size_t>(N));
    std::vector<int64_t> cand, picked;
    for (int64_t b = 0; b < B && max_out > 0; ++b) {
        for (int64_t i = 0; i < N; ++i) bb[static_cast<size_t>(i)] = make_box(bx + (b * N + i) * 4, center);
        for (int64_t c = 0; c < C; ++c) {
            const float* s = sc + (b * C + c) * N;
            cand.clear();
            for (int64_t i = 0; i < N; ++i) {
                if (!has_score_th || s[i] > score_th) cand.push_back(i);
            }
            std::stable_sort(cand.begin(), cand.end(), [s](int64_t p, int64_t q) { return s[p] > s[q]; });
            picked.clear();
            for (int64_t i : cand) {
                if (static_cast<int64_t>(picked.size()) >= max_out) break;
                bool keep = true;
                for (int64_t p : picked) {
                    if (suppressed(bb[static_cast<size_t>(p)], bb[static_cast<size_t>(i)], iou_th)) {
                        keep = false;
                        break;
                    }
                }
                if (!keep) continue;
                picked.push_back(i);
                sel.insert(sel.end(), {b, c, i});
            }
        }
    }
    NNPORT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, DType::kInt64, {static_cast<int64_t>(sel.size() / 3), 3}));
    std::copy(sel.begin(), sel.end(), out->data<int64_t>());
    return Status::ok();
}

}  // namespace

const OpDef& op_def_NonMaxSuppression() {
    static const OpDef d = [] {
        OpDef o;
        o.name = "NonMaxSuppression";
        o.since_version = 10;
        o.min_inputs = 2;
        o.max_inputs = 5;
        o.attrs = {AttrSpec::i("center_point_box", 0)};
        o.infer = nms_infer;
        o.kernel = nms_kernel;
        o.input0_types = {DType::kFloat32};
        o.doc = "Selected [batch, class, box] indices (int64), greedy by score with IoU > threshold suppressed.";
        return o;
    }();
    return d;
}

}  // namespace nnport

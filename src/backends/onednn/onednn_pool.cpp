// oneDNN pooling (pooling_v2: dilated windows): MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, answered
// channels-last and run as their Nhwc* twins on nhwc memory. ceil_mode becomes extra right padding (the output size
// comes from nnport's own window geometry, including the rule that drops a last window starting in the end
// padding); count_include_pad selects avg_include_padding. oneDNN divides an include-padding average by the whole
// window, while ONNX does not count the ceil_mode overhang past the end padding, so that one combination is declined.
#include <algorithm>

#include "backends/onednn/onednn_common.hpp"
#include "backends/onednn/onednn_kernels.hpp"
#include "ops/nn_util.hpp"

namespace nnport::onednn {

namespace {

enum class PoolKind { kMax, kAvg, kGlobalAvg, kGlobalMax };

bool kind_of(const ir::Node& n, PoolKind& k, bool& nhwc) {
    std::string op = n.op_type();
    nhwc = false;
    if (n.domain() == "com.nnport" && op.rfind("Nhwc", 0) == 0) {
        nhwc = true;
        op = op.substr(4);
    } else if (!n.domain().empty()) {
        return false;
    }
    if (op == "MaxPool") k = PoolKind::kMax;
    else if (op == "AveragePool") k = PoolKind::kAvg;
    else if (op == "GlobalAveragePool") k = PoolKind::kGlobalAvg;
    else if (op == "GlobalMaxPool") k = PoolKind::kGlobalMax;
    else return false;
    return true;
}

/// Resolved window of one input shape: oneDNN's padding_r includes the ceil_mode overhang.
struct Window {
    int64_t out[2], k[2], s[2], d[2], pl[2], pr[2];
    bool overhang = false;  ///< ceil_mode made padding_r larger than the ONNX end pads
};

Result<Window> window_for(const AttrAccess& a, PoolKind kind, int64_t h, int64_t w) {
    Window win{};
    if (kind == PoolKind::kGlobalAvg || kind == PoolKind::kGlobalMax) {
        win.out[0] = win.out[1] = 1;
        win.k[0] = h;
        win.k[1] = w;
        win.s[0] = win.s[1] = win.d[0] = win.d[1] = 1;
        return win;
    }
    if (!a.has_attr("kernel_shape")) return a.error("kernel_shape is required");
    const bool ceil_mode = a.attr_int("ceil_mode") != 0;
    NNPORT_ASSIGN_OR_RETURN(nn::Geometry g, nn::window_geometry(a, {h, w}, a.attr_ints("kernel_shape"), ceil_mode));
    const int64_t in[2] = {h, w};
    for (size_t i = 0; i < 2; ++i) {
        win.out[i] = g.out[i];
        win.k[i] = g.kernel[i];
        win.s[i] = g.strides[i];
        win.d[i] = g.dilations[i];
        win.pl[i] = g.pads_begin[i];
        const int64_t ek = (g.kernel[i] - 1) * g.dilations[i] + 1;
        const int64_t needed = (g.out[i] - 1) * g.strides[i] + ek - in[i] - g.pads_begin[i];
        win.pr[i] = std::max(g.pads_end[i], needed);
        win.overhang |= needed > g.pads_end[i];
    }
    return win;
}

struct PoolEntry {
    dnnl::pooling_v2_forward::primitive_desc pd;
    dnnl::pooling_v2_forward prim;
    dnnl::memory::desc src_md, dst_md;
    Shape out_shape;
    int threads = 1;
};

class PoolKernel final : public BackendKernel {
public:
    PoolKernel(const ir::Node& node, PoolKind kind, bool nhwc, int threads)
        : kind_(kind), nhwc_(nhwc), threads_(threads) {
        if (kind == PoolKind::kAvg) include_pad_ = AttrAccess(node, *node.def).attr_int("count_include_pad") != 0;
    }

    Status warm_up(const ir::Node& node) {
        const std::vector<int64_t> d = static_dims(node.input(0));
        if (d.size() != 4) return Status::ok();
        return entry_for(AttrAccess(node, *node.def), d).status();
    }

    Status run(KernelContext& ctx) override {
        const Tensor& x = ctx.input(0);
        if (x.dtype() != DType::kFloat32 || x.rank() != 4) {
            return ctx.input_error("X must be a rank-4 float32 tensor, got " + std::string(dtype_name(x.dtype())) +
                                   " " + shape_to_string(x.shape()));
        }
        NNPORT_ASSIGN_OR_RETURN(std::shared_ptr<const PoolEntry> e, entry_for(ctx, x.shape()));
        NNPORT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, e->out_shape));
        if (y->numel() == 0) return Status::ok();
        if (x.numel() == 0) {  // global average of an empty plane (the maximum was refused above)
            std::fill(y->data<float>(), y->data<float>() + y->numel(), 0.0f);
            return Status::ok();
        }
        try {
            set_threads(e->threads);
            execute(e->prim, e->pd,
                    {{DNNL_ARG_SRC, wrap(e->src_md, x.raw_data())}, {DNNL_ARG_DST, wrap(e->dst_md, y->raw_data())}});
        } catch (const dnnl::error& err) {
            return error_status(ctx.node(), "pooling", err);
        }
        return Status::ok();
    }

private:
    Result<std::shared_ptr<const PoolEntry>> entry_for(const AttrAccess& a, const Shape& xs) {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto e = cache_.find(xs)) return e;
        const int64_t n = xs[0], h = xs[nhwc_ ? 1 : 2], w = xs[nhwc_ ? 2 : 3], c = xs[nhwc_ ? 3 : 1];
        if ((kind_ == PoolKind::kGlobalMax || kind_ == PoolKind::kMax) && (h == 0 || w == 0) && n * c > 0) {
            return a.input_error("cannot take the maximum of an empty window");
        }
        NNPORT_ASSIGN_OR_RETURN(Window win, window_for(a, kind_, h, w));
        if (include_pad_ && win.overhang) {
            return unsupported("onednn: " + a.node().describe() +
                               ": count_include_pad with a ceil_mode window past the end padding");
        }
        auto e = std::make_shared<PoolEntry>();
        const tag t = nhwc_ ? tag::nhwc : tag::nchw;
        e->src_md = dnnl::memory::desc({n, c, h, w}, dt::f32, t);
        e->dst_md = dnnl::memory::desc({n, c, win.out[0], win.out[1]}, dt::f32, t);
        e->out_shape = nhwc_ ? Shape{n, win.out[0], win.out[1], c} : Shape{n, c, win.out[0], win.out[1]};
        if (n * c * h * w > 0) {
            dnnl::algorithm alg = dnnl::algorithm::pooling_max;
            if (kind_ == PoolKind::kAvg) {
                alg = include_pad_ ? dnnl::algorithm::pooling_avg_include_padding
                                   : dnnl::algorithm::pooling_avg_exclude_padding;
            } else if (kind_ == PoolKind::kGlobalAvg) {
                alg = dnnl::algorithm::pooling_avg_exclude_padding;
            }
            e->threads = threads_for(double(n) * c * h * w, kElemsPerThread, threads_);
            try {
                set_threads(e->threads);
                using pf = dnnl::pooling_v2_forward;
                const pf::desc d(dnnl::prop_kind::forward_inference, alg, e->src_md, e->dst_md, {win.s[0], win.s[1]},
                                 {win.k[0], win.k[1]}, {win.d[0] - 1, win.d[1] - 1}, {win.pl[0], win.pl[1]},
                                 {win.pr[0], win.pr[1]});
                e->pd = pf::primitive_desc(d, base_attr(), engine());
                e->prim = pf(e->pd);
            } catch (const dnnl::error& err) {
                return error_status(a.node(), "creating a pooling", err);
            }
        }
        std::shared_ptr<const PoolEntry> pe = e;
        cache_.put(xs, pe);
        return pe;
    }

    PoolKind kind_;
    bool nhwc_;
    int threads_;
    bool include_pad_ = false;
    std::mutex mu_;
    ShapeCache<PoolEntry> cache_;
};

}  // namespace

bool is_pool(const ir::Node& node) {
    PoolKind k;
    bool nhwc;
    return kind_of(node, k, nhwc);
}

Support pool_supports(const ir::Node& node, const ConstantFn&) {
    PoolKind kind;
    bool nhwc;
    if (!node.def || !kind_of(node, kind, nhwc)) return Support::no("not a pooling op");
    const ir::Value* x = node.input(0);
    if (!is_f32(x)) return Support::no("only float32 input");
    if (rank_of(x) != 4) return Support::no("only 2-D pooling (rank-4 input of known rank)");
    if (node.outputs().size() != 1 || !node.output(0)) return Support::no("the Indices output is not supported");
    if (kind == PoolKind::kGlobalAvg || kind == PoolKind::kGlobalMax) return Support::yes(Layout::kNHWC);
    AttrAccess a(node, *node.def);
    const std::vector<ir::Dim>& d = x->type.dims;
    const size_t hi = nhwc ? 1 : 2;
    const int64_t h = d[hi].is_static() ? d[hi].value : -1, w = d[hi + 1].is_static() ? d[hi + 1].value : -1;
    if (!a.has_attr("kernel_shape")) return Support::no("kernel_shape is required");
    if (a.attr_ints("kernel_shape").size() != 2) return Support::no("kernel_shape must have two values");
    auto g = nn::window_geometry(a, {h, w}, a.attr_ints("kernel_shape"), a.attr_int("ceil_mode") != 0);
    if (!g.is_ok()) return Support::no(g.status().message());
    if (kind == PoolKind::kAvg && a.attr_int("count_include_pad") != 0 && a.attr_int("ceil_mode") != 0) {
        // oneDNN would count the ceil_mode overhang past the end pads; fine only when there is none.
        if (h < 0 || w < 0) return Support::no("count_include_pad with ceil_mode needs static spatial sizes");
        auto win = window_for(a, kind, h, w);
        if (!win.is_ok()) return Support::no(win.status().message());
        if (win.value().overhang) return Support::no("count_include_pad with a ceil_mode window past the end padding");
    }
    return Support::yes(Layout::kNHWC);
}

Result<std::unique_ptr<BackendKernel>> pool_prepare(const ir::Node& node, const PrepareContext& ctx) {
    const Support s = pool_supports(node, ctx.constant);
    if (!s.ok) return unsupported("onednn: " + node.describe() + ": " + s.reason);
    PoolKind kind;
    bool nhwc;
    kind_of(node, kind, nhwc);
    auto k = std::make_unique<PoolKernel>(node, kind, nhwc, ctx.threads);
    NNPORT_RETURN_IF_ERROR(k->warm_up(node));
    return std::unique_ptr<BackendKernel>(std::move(k));
}

}  // namespace nnport::onednn

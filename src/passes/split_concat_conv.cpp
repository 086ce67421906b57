// split_concat_conv: a channel Concat read only by a 1x1 Conv (group 1, constant weights) disappears; the Conv is
// split along its input channels, one Conv per concatenated input, and the partial results are summed:
//   Conv(Concat(X1, ..., Xk), W, B) = Conv(X1, W[:, 0:C1], B) + Conv(X2, W[:, C1:C1+C2]) + ... + Conv(Xk, ...)
// A MaxPool or AveragePool between them (per channel) moves onto each input first. SqueezeNet's fire modules
// (expand1x1 | expand3x3 -> squeeze) are this pattern. Channels-last, the Concat is a strided copy of every pixel:
// in its place each partial Conv accumulates into the previous one's output (fuse_activation makes the Add the
// FusedConv's residual, which oneDNN sums in place), so the bytes moved drop from the Concat's input and output to
// the (smaller) Conv output. Runtime only: exported models keep their layers. Summation order changes (the channel
// groups are added at the end instead of inside one dot product): results move by a few roundings.
#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::passes {

namespace {

/// Inputs narrower than this stay concatenated: a Conv over so few channels runs far below the machine's peak.
constexpr int64_t kMinChannels = 16;
/// At most this many partial Convs per Concat.
constexpr size_t kMaxParts = 4;

/// The static channel count of a rank-4 float32 value, or -1.
int64_t channels(const ir::Value* v) {
    if (!v || v->type.dtype != DType::kFloat32 || rank_of(v) != 4 || !v->type.dims[1].is_static()) return -1;
    return v->type.dims[1].value;
}

/// Whether `n` is a 2-D MaxPool / AveragePool with one output (per-channel: it commutes with a channel Concat).
bool is_channel_pool(const ir::Node* n) {
    if (!n || !(is_op(n, "MaxPool") || is_op(n, "AveragePool"))) return false;
    return n->outputs().size() == 1 || (n->outputs().size() == 2 && n->output(1) == nullptr);
}

/// A 1x1, group-1 Conv with constant float32 weights [M, c, 1, 1] (and a constant bias, if any) reading `x` as X.
bool splittable_conv(const ir::Node* n, const ir::Value* x, int64_t c) {
    if (!n || !is_op(n, "Conv") || n->input(0) != x || n->outputs().size() != 1) return false;
    const Tensor* w = constant_of(n->input(1));
    if (!w || w->dtype() != DType::kFloat32 || w->rank() != 4 || w->dim(1) != c || w->dim(2) != 1 || w->dim(3) != 1) {
        return false;
    }
    if (n->input(2) && !constant_of(n->input(2))) return false;
    if (n->input(1) == x || n->input(2) == x) return false;
    return attrs_of(*n).attr_int("group") == 1;
}

class SplitConcatConv : public Pass {
public:
    const char* name() const override { return "split_concat_conv"; }
    const char* description() const override {
        return "channel Concat [-> Max/AveragePool] -> 1x1 Conv becomes one Conv per input, summed.";
    }

    Result<bool> run(ir::Graph& g, PassContext& ctx) override {
        // A choice for nnport's runtime: a model written for other tools keeps its layers.
        if (!ctx.allow_custom_ops) return false;
        std::vector<ir::Node*> cands;
        for (const auto& n : g.nodes()) {
            if (is_op(n.get(), "Concat")) cands.push_back(n.get());
        }
        bool changed = false;
        for (ir::Node* c : cands) {
            NNPORT_ASSIGN_OR_RETURN(bool done, split(g, ctx, c));
            changed = changed || done;
        }
        return changed;
    }

private:
    static bool single_reader(const ir::Value* v) {
        return !v->is_graph_output() && !v->is_captured() && single_use(v);
    }

    static Result<bool> split(ir::Graph& g, PassContext& ctx, ir::Node* cat) {
        ir::Value* y = cat->output(0);
        if (channels(y) < 0 || !single_reader(y)) return false;
        int64_t axis = attrs_of(*cat).attr_int("axis");
        if (axis != 1 && axis != -3) return false;
        const size_t k = cat->inputs().size();
        if (k < 2 || k > kMaxParts) return false;
        std::vector<int64_t> cs;
        int64_t total = 0;
        for (size_t i = 0; i < k; ++i) {
            ir::Value* x = cat->input(i);
            const int64_t c = channels(x);
            if (c < kMinChannels || constant_of(x)) return false;
            for (size_t j = 0; j < i; ++j) {
                if (cat->input(j) == x) return false;  // the same value twice: keep it simple
            }
            cs.push_back(c);
            total += c;
        }
        if (total != channels(y)) return false;
        ir::Node* pool = sole_consumer(y);
        ir::Node* conv = pool;
        ir::Value* conv_in = y;
        if (is_channel_pool(pool)) {
            if (pool->input(0) != y || !single_reader(pool->output(0)) || channels(pool->output(0)) != total) {
                return false;
            }
            conv_in = pool->output(0);
            conv = sole_consumer(conv_in);
        } else {
            pool = nullptr;
        }
        if (!splittable_conv(conv, conv_in, total) || conv->output(0)->is_captured()) return false;

        const Tensor& w = *constant_of(conv->input(1));
        const int64_t m = w.dim(0);
        const float* wd = w.data<float>();
        ir::Value* sum = nullptr;
        int64_t off = 0;
        for (size_t i = 0; i < k; ++i) {
            const std::string base = conv->name() + "_part" + std::to_string(i);
            ir::Value* src = cat->input(i);
            if (pool) {
                NNPORT_ASSIGN_OR_RETURN(ir::Node * p, make_node(g, ctx, pool->op_type(), "", base + "_pool", {src}));
                p->attrs = pool->attrs;
                src = p->output(0);
            }
            std::vector<float> part(static_cast<size_t>(m * cs[i]));
            for (int64_t o = 0; o < m; ++o) {
                for (int64_t c = 0; c < cs[i]; ++c) part[size_t(o * cs[i] + c)] = wd[o * total + off + c];
            }
            off += cs[i];
            ir::Value* wi = add_constant(g, base + "_w", Tensor::from_vector<float>({m, cs[i], 1, 1}, part));
            std::vector<ir::Value*> ins = {src, wi};
            if (i == 0 && conv->input(2)) ins.push_back(conv->input(2));
            NNPORT_ASSIGN_OR_RETURN(ir::Node * ci, make_node(g, ctx, "Conv", "", base, ins));
            ci->attrs = conv->attrs;
            if (!sum) {
                sum = ci->output(0);
                continue;
            }
            NNPORT_ASSIGN_OR_RETURN(ir::Node * add, make_node(g, ctx, "Add", "", base + "_sum", {ci->output(0), sum}));
            sum = add->output(0);
        }
        sum->type = conv->output(0)->type;
        if (!replace_value(g, conv->output(0), sum)) return internal_error("split_concat_conv: cannot replace output");
        ctx.record(cat->describe() + (pool ? " + " + pool->op_type() : std::string()) + " + " + conv->describe() +
                   " -> " + std::to_string(k) + " Convs summed");
        g.remove_node(conv);
        if (pool) g.remove_node(pool);
        g.remove_node(cat);
        return true;
    }
};

}  // namespace

std::unique_ptr<Pass> make_split_concat_conv_pass() { return std::make_unique<SplitConcatConv>(); }

}  // namespace nnport::passes

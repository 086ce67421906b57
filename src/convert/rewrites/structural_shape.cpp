// Structural rewrites of `nnport convert` for shape ops: Flatten, Squeeze and Unsqueeze as Reshape, Expand as Tile
// and Split as Slices, exact on statically known shapes. Axes, split sizes and slice bounds are written as constant
// inputs (the IR's canonical form); the exporter turns them into attributes for opsets that want those.
#include <algorithm>

#include "convert/rewrites/structural_util.hpp"

namespace nnport::convert {

using passes::attrs_of;
using passes::is_op;
using passes::make_node;

namespace {

/// Axes of a Squeeze/Unsqueeze: the constant `axes` input (canonical), else the attribute of an opset < 13 node;
/// nullopt when given but not constant, an empty vector when absent.
std::optional<std::vector<int64_t>> node_axes(const ir::Node* n) {
    if (n->input(1)) {
        const Tensor* t = passes::const_tensor(n->input(1));
        if (!t) return std::nullopt;
        return t->to_int_vector();
    }
    if (const ir::Attribute* a = n->attr("axes")) return a->ints;
    return std::vector<int64_t>{};
}

/// Replaces node `n` (one output) by Reshape(input 0, `shape`). Declines shapes with a 0 (Reshape would copy the
/// input's dim there instead).
Result<bool> reshape_to(ir::Graph& g, ir::Node* n, RewriteContext& ctx, const std::vector<int64_t>& shape) {
    if (std::find(shape.begin(), shape.end(), 0) != shape.end() || !rw::outputs_rewirable(n)) return false;
    NNPORT_ASSIGN_OR_RETURN(ir::Node * r, make_node(g, ctx.pass_ctx, "Reshape", "", n->name() + "_reshape",
                                                    {n->input(0), rw::i64_const(g, n->name() + "_shape", shape)}));
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), r->output(0)));
    return true;
}

}  // namespace

Result<bool> rewrite_flatten_to_reshape(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Flatten") || !n->def || !n->input(0) || !n->input(0)->type.has_shape) return false;
    const auto& dims = n->input(0)->type.dims;
    const int64_t r = static_cast<int64_t>(dims.size());
    int64_t axis = attrs_of(*n).attr_int("axis");
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r) return false;
    // Each side is a static product or one -1 (at most one side may be unknown).
    auto product = [&](int64_t lo, int64_t hi) -> int64_t {
        int64_t p = 1;
        for (int64_t i = lo; i < hi; ++i) {
            if (!dims[size_t(i)].is_static()) return -1;
            p *= dims[size_t(i)].value;
        }
        return p;
    };
    const int64_t left = product(0, axis), right = product(axis, r);
    if (left < 0 && right < 0) return false;
    return reshape_to(g, n, ctx, {left, right});
}

Result<bool> rewrite_squeeze_to_reshape(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Squeeze")) return false;
    const std::optional<Shape> xs = rw::static_shape(n->input(0));
    std::optional<std::vector<int64_t>> axes = node_axes(n);
    if (!xs || !axes) return false;
    const int64_t r = static_cast<int64_t>(xs->size());
    std::vector<bool> drop(size_t(r), false);
    if (axes->empty()) {
        for (int64_t i = 0; i < r; ++i) drop[size_t(i)] = (*xs)[size_t(i)] == 1;
    }
    for (int64_t a : *axes) {
        if (a < 0) a += r;
        if (a < 0 || a >= r || (*xs)[size_t(a)] != 1) return false;
        drop[size_t(a)] = true;
    }
    std::vector<int64_t> shape;
    for (int64_t i = 0; i < r; ++i) {
        if (!drop[size_t(i)]) shape.push_back((*xs)[size_t(i)]);
    }
    return reshape_to(g, n, ctx, shape);
}

Result<bool> rewrite_unsqueeze_to_reshape(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Unsqueeze")) return false;
    const std::optional<Shape> xs = rw::static_shape(n->input(0));
    std::optional<std::vector<int64_t>> axes = node_axes(n);
    if (!xs || !axes || axes->empty()) return false;
    const int64_t r = static_cast<int64_t>(xs->size() + axes->size());
    std::vector<bool> added(size_t(r), false);
    for (int64_t a : *axes) {
        if (a < 0) a += r;
        if (a < 0 || a >= r || added[size_t(a)]) return false;
        added[size_t(a)] = true;
    }
    std::vector<int64_t> shape;
    size_t next = 0;
    for (int64_t i = 0; i < r; ++i) shape.push_back(added[size_t(i)] ? 1 : (*xs)[next++]);
    return reshape_to(g, n, ctx, shape);
}

Result<bool> rewrite_expand_to_tile(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Expand") || !rw::outputs_rewirable(n)) return false;
    const std::optional<Shape> xs = rw::static_shape(n->input(0));
    const Tensor* st = passes::const_tensor(n->input(1));
    if (!xs || !st) return false;
    const std::vector<int64_t> want = st->to_int_vector();
    const size_t r = std::max(xs->size(), want.size());
    // Tile needs the input at the output's rank; without a Reshape that is possible only for a constant input,
    // whose data is re-shaped at conversion.
    const Tensor* xc = passes::const_tensor(n->input(0));
    if (xs->size() < r && !xc) return false;
    Shape aligned(r - xs->size(), 1);
    aligned.insert(aligned.end(), xs->begin(), xs->end());
    std::vector<int64_t> repeats(r, 1);
    for (size_t i = 0; i < r; ++i) {
        const int64_t w = i + want.size() >= r ? want[i + want.size() - r] : 1;
        const int64_t d = aligned[i];
        if (d == w || w == 1) continue;
        if (d != 1) return false;  // not broadcastable: leave the error to the kernel
        repeats[i] = w;
    }
    ir::Value* x = n->input(0);
    if (xs->size() < r) x = passes::add_constant(g, n->name() + "_aligned", xc->reshaped(aligned));
    NNPORT_ASSIGN_OR_RETURN(ir::Node * t, make_node(g, ctx.pass_ctx, "Tile", "", n->name() + "_tile",
                                                    {x, rw::i64_const(g, n->name() + "_repeats", repeats)}));
    NNPORT_RETURN_IF_ERROR(rw::rewire(g, n, n->output(0), t->output(0)));
    return true;
}

Result<bool> rewrite_split_to_slices(ir::Graph& g, ir::Node* n, RewriteContext& ctx) {
    if (!is_op(n, "Split") || !n->def || !rw::outputs_rewirable(n)) return false;
    const std::optional<Shape> xs = rw::static_shape(n->input(0));
    if (!xs || xs->empty()) return false;
    const int64_t r = static_cast<int64_t>(xs->size());
    const AttrAccess a = attrs_of(*n);
    int64_t axis = a.attr_int("axis");
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return false;
    const int64_t dim = (*xs)[size_t(axis)];
    const int64_t count = static_cast<int64_t>(n->outputs().size());
    std::vector<int64_t> sizes;
    if (n->input(1)) {
        const Tensor* t = passes::const_tensor(n->input(1));
        if (!t) return false;
        sizes = t->to_int_vector();
    } else if (const ir::Attribute* sa = n->attr("split")) {
        sizes = sa->ints;
    } else if (count > 0 && dim % count == 0) {
        sizes.assign(size_t(count), dim / count);
    } else if (count > 0 && a.has_attr("num_outputs")) {
        // Opset 18: pieces of ceil(dim / n), the last one smaller.
        const int64_t chunk = (dim + count - 1) / count;
        sizes.assign(size_t(count), chunk);
        sizes.back() = dim - chunk * (count - 1);
    }
    int64_t sum = 0;
    for (int64_t s : sizes) {
        if (s < 0) return false;
        sum += s;
    }
    if (static_cast<int64_t>(sizes.size()) != count || sum != dim) return false;
    ir::Value* axes = rw::i64_const(g, n->name() + "_axes", {axis});
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
        ir::Value* out = n->output(i);
        const int64_t end = start + sizes[i];
        if (out) {
            NNPORT_ASSIGN_OR_RETURN(ir::Node * sl,
                                    make_node(g, ctx.pass_ctx, "Slice", "", n->name() + "_slice" + std::to_string(i),
                                              {n->input(0), rw::i64_const(g, n->name() + "_starts", {start}),
                                               rw::i64_const(g, n->name() + "_ends", {end}), axes}));
            if (!passes::replace_value(g, out, sl->output(0))) {
                return internal_error("cannot hand output '" + out->name() + "' to its Slice");
            }
        }
        start = end;
    }
    g.remove_node(n);
    return true;
}

}  // namespace nnport::convert

// Helpers shared by the structural rewrites, substitutions and fitted substitutions of `nnport convert`
// (src/convert/rewrites/structural*.cpp, substitution.cpp, fitted*.cpp): constants, shapes and output rewiring.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "convert/rewrite.hpp"
#include "passes/fusion_util.hpp"
#include "passes/pass_util.hpp"

namespace nnport::convert::rw {

/// An int64 1-D constant (shapes, axes, repeats, starts/ends).
inline ir::Value* i64_const(ir::Graph& g, const std::string& base, const std::vector<int64_t>& v) {
    return passes::add_constant(g, base, Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v));
}

/// A float32 tensor converted to `dtype` (a float type) and added as a constant; nullptr if it cannot be converted.
inline ir::Value* float_const(ir::Graph& g, const std::string& base, const Tensor& f32, DType dtype) {
    std::optional<Tensor> t = passes::as_dtype(f32, dtype);
    return t ? passes::add_constant(g, base, std::move(*t)) : nullptr;
}

/// True for float element types (the rewrites that compute new weights handle these only).
inline bool is_float(DType d) { return dtype_is_float(d); }

/// The element type of value `v` (undefined if unknown).
inline DType dtype_of(const ir::Value* v) { return v ? v->type.dtype : DType::kUndefined; }

/// The static shape of `v` if every dim is known.
inline std::optional<Shape> static_shape(const ir::Value* v) { return passes::static_shape_of(v); }

/// True if no output of `n` is read by a subgraph (rewiring those would need renaming inside the subgraph).
inline bool outputs_rewirable(const ir::Node* n) {
    for (const ir::Value* o : n->outputs()) {
        if (o && o->is_captured()) return false;
    }
    return true;
}

/// Makes the uses of `from` (an output of `n`) use `to`, keeping a graph output's name, then removes `n` once none
/// of its outputs is needed. An error (the graph is already changed) if the name cannot be kept.
inline Status rewire(ir::Graph& g, ir::Node* n, ir::Value* from, ir::Value* to) {
    if (!passes::replace_value(g, from, to)) {
        return internal_error("cannot hand output '" + from->name() + "' of " + n->describe() + " to its replacement");
    }
    for (const ir::Value* o : n->outputs()) {
        if (o && (!o->uses().empty() || o->is_graph_output() || o->is_captured())) return Status::ok();
    }
    g.remove_node(n);
    return Status::ok();
}

/// Integer attribute list `name` of `n` with `count` entries, filled with `fill` when absent or empty; nullopt when
/// present with a different length.
inline std::optional<std::vector<int64_t>> ints_or(const ir::Node& n, const std::string& name, size_t count,
                                                   int64_t fill) {
    std::vector<int64_t> v = passes::attrs_of(n).attr_ints(name);
    if (v.empty()) return std::vector<int64_t>(count, fill);
    if (v.size() != count) return std::nullopt;
    return v;
}

}  // namespace nnport::convert::rw

namespace nnport::convert::rw {

/// A Resize of a static NCHW tensor by integer factors on H and W (N and C unchanged), as the nearest and linear
/// substitutions need it. Defined in substitution.cpp.
struct ResizeUpscale {
    int64_t n = 0, c = 0, h = 0, w = 0;  ///< input shape
    int64_t sh = 1, sw = 1;              ///< integer factors: output is (n, c, h * sh, w * sw)
    double scale_h = 1, scale_w = 1;     ///< the scales the kernel uses (given, or output / input for sizes)
    std::string mode, coord, nearest;    ///< mode, coordinate_transformation_mode, nearest_mode
};

/// The integer upscale done by Resize node `n` if it is one with interpolation `mode` ("nearest" or "linear"): float
/// input, constant scales or sizes, stretch policy, no tf_crop_and_resize, no antialias/exclude_outside effects that
/// depend on the data. nullopt otherwise.
std::optional<ResizeUpscale> resize_upscale(const ir::Node* n, const std::string& mode);

}  // namespace nnport::convert::rw

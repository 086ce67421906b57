// Opset adaptation: rewrites nodes of older opsets into the one form each kernel implements.
#pragma once

#include "ir/graph.hpp"

namespace nnport::onnx_import {

/// Canonicalizes every node (recursively) of the default domain:
///  - attributes that later opsets moved to inputs become constant inputs (Squeeze/Unsqueeze/Reduce* axes,
///    Split split, Slice starts/ends/axes, Pad pads/value, Clip min/max, TopK k, Reshape shape, Dropout ratio);
///  - renamed or retired ops become their successors (Upsample -> Resize, Scatter -> ScatterElements);
///  - legacy semantics are made explicit (opset<7 broadcast with axis, Softmax<13 2-D coercion,
///    Concat<4 default axis, Cast<6 string 'to').
/// Each rewritten node's `opset` is raised to the version whose form it now has.
Status adapt_opsets(ir::Model& model);

}  // namespace nnport::onnx_import

// Standard ops re-registered in nnport's own domain (com.nnport) so the optimizer can fuse into them in models whose
// opset predates the standard op: LayerNormalization (ONNX opset 17) and Gelu (opset 20). Same schema, inference
// and kernel as the standard op.
#include "ops/op_def.hpp"

namespace nnport {

const OpDef& op_def_LayerNormalization();
const OpDef& op_def_Gelu();

namespace {

OpDef alias(const OpDef& standard, const char* doc) {
    OpDef o = standard;
    o.domain = "com.nnport";
    o.since_version = 1;
    o.doc = doc;
    return o;
}

}  // namespace

const OpDef& op_def_NnportLayerNormalization() {
    static const OpDef d = alias(op_def_LayerNormalization(),
                                 "nnport domain copy of LayerNormalization (opset 17) for older models: same schema "
                                 "and kernel; written by the fuse_layernorm pass.");
    return d;
}

const OpDef& op_def_NnportGelu() {
    static const OpDef d = alias(op_def_Gelu(),
                                 "nnport domain copy of Gelu (opset 20) for older models: same schema and kernel; "
                                 "written by the fuse_gelu pass.");
    return d;
}

}  // namespace nnport

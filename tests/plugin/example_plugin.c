/* Example nnport plugin, written against include/nnport/plugin.h only (docs/PLUGINS.md walks through it):
 *   com.example:Swish2(x; beta = 1.0)      = x * sigmoid(beta * x)                 (float tensors, any shape)
 *   com.example:RowSum(x; keepdims = 1)    = sum of x over its last axis            (float32, rank >= 1)  */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nnport/plugin.h"

static const nnport_plugin_host* g_host;

static nnport_plugin_status fail(nnport_plugin_status code, const char* message) {
    g_host->set_error(message);
    return code;
}

static int is_float(int32_t dtype) {
    return dtype == NNPORT_PLUGIN_DTYPE_FLOAT32 || dtype == NNPORT_PLUGIN_DTYPE_FLOAT16 ||
           dtype == NNPORT_PLUGIN_DTYPE_BFLOAT16;
}

/* ---- Swish2 ---- */

static nnport_plugin_status swish2_infer(void* user, nnport_plugin_infer_ctx* ctx) {
    (void)user;
    nnport_plugin_value_type x;
    nnport_plugin_status st = g_host->infer_input(ctx, 0, &x);
    if (st != NNPORT_PLUGIN_OK) return st;
    if (x.dtype != NNPORT_PLUGIN_DTYPE_UNDEFINED && !is_float(x.dtype)) {
        return fail(NNPORT_PLUGIN_UNSUPPORTED, "Swish2 takes float32, float16 or bfloat16 tensors");
    }
    if (x.dtype == NNPORT_PLUGIN_DTYPE_UNDEFINED) x.dtype = NNPORT_PLUGIN_DTYPE_FLOAT32;
    return g_host->infer_set_output(ctx, 0, &x); /* same dtype and shape, symbolic dims included */
}

typedef struct {
    const float* x;
    float* y;
    float beta;
} swish2_job;

static void swish2_range(void* user, int64_t begin, int64_t end) {
    const swish2_job* j = (const swish2_job*)user;
    for (int64_t i = begin; i < end; ++i) {
        const float z = j->beta * j->x[i];
        /* sigmoid without overflow on either side */
        const float s = z >= 0 ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
        j->y[i] = j->x[i] * s;
    }
}

static nnport_plugin_status swish2_compute(void* user, nnport_plugin_compute_ctx* ctx) {
    (void)user;
    nnport_plugin_tensor x, y;
    nnport_plugin_status st = g_host->compute_input(ctx, 0, &x);
    if (st != NNPORT_PLUGIN_OK) return st;
    if (x.dtype != NNPORT_PLUGIN_DTYPE_FLOAT32) return fail(NNPORT_PLUGIN_UNSUPPORTED, "Swish2 computes in float32");
    swish2_job job;
    st = g_host->attr_float(g_host->compute_attrs(ctx), "beta", &job.beta);
    if (st != NNPORT_PLUGIN_OK) return st;
    st = g_host->compute_output(ctx, 0, NNPORT_PLUGIN_DTYPE_FLOAT32, x.dims, x.rank, &y);
    if (st != NNPORT_PLUGIN_OK) return st;
    job.x = (const float*)x.data;
    job.y = (float*)y.data;
    g_host->parallel_for(ctx, x.numel, swish2_range, &job);
    return NNPORT_PLUGIN_OK;
}

/* ---- RowSum ---- */

static nnport_plugin_status rowsum_infer(void* user, nnport_plugin_infer_ctx* ctx) {
    (void)user;
    nnport_plugin_value_type x;
    int64_t keepdims = 1;
    nnport_plugin_status st = g_host->infer_input(ctx, 0, &x);
    if (st != NNPORT_PLUGIN_OK) return st;
    st = g_host->attr_int(g_host->infer_attrs(ctx), "keepdims", &keepdims);
    if (st != NNPORT_PLUGIN_OK) return st;
    if (x.dtype != NNPORT_PLUGIN_DTYPE_FLOAT32) return fail(NNPORT_PLUGIN_UNSUPPORTED, "RowSum takes float32");
    if (x.rank == 0) return fail(NNPORT_PLUGIN_INVALID_MODEL, "RowSum needs a rank >= 1 input");
    nnport_plugin_value_type y = x;
    if (x.rank > 0) {
        int64_t dims[16];
        const char* params[16];
        if (x.rank > 16) return fail(NNPORT_PLUGIN_UNSUPPORTED, "RowSum supports rank <= 16");
        for (int32_t k = 0; k < x.rank; ++k) {
            dims[k] = x.dims[k];
            params[k] = x.dim_params ? x.dim_params[k] : "";
        }
        dims[x.rank - 1] = 1;
        params[x.rank - 1] = "";
        y.rank = keepdims ? x.rank : x.rank - 1;
        y.dims = dims;
        y.dim_params = params;
        return g_host->infer_set_output(ctx, 0, &y);
    }
    return g_host->infer_set_output(ctx, 0, &y); /* rank unknown stays unknown */
}

static nnport_plugin_status rowsum_compute(void* user, nnport_plugin_compute_ctx* ctx) {
    (void)user;
    nnport_plugin_tensor x, y;
    int64_t keepdims = 1, dims[16];
    nnport_plugin_status st = g_host->compute_input(ctx, 0, &x);
    if (st != NNPORT_PLUGIN_OK) return st;
    st = g_host->attr_int(g_host->compute_attrs(ctx), "keepdims", &keepdims);
    if (st != NNPORT_PLUGIN_OK) return st;
    if (x.dtype != NNPORT_PLUGIN_DTYPE_FLOAT32 || x.rank < 1 || x.rank > 16) {
        return fail(NNPORT_PLUGIN_INVALID_ARGUMENT, "RowSum takes a float32 tensor of rank 1 to 16");
    }
    memcpy(dims, x.dims, sizeof(int64_t) * (size_t)x.rank);
    dims[x.rank - 1] = 1;
    st = g_host->compute_output(ctx, 0, NNPORT_PLUGIN_DTYPE_FLOAT32, dims, keepdims ? x.rank : x.rank - 1, &y);
    if (st != NNPORT_PLUGIN_OK) return st;
    const int64_t cols = x.dims[x.rank - 1], rows = cols ? x.numel / cols : y.numel;
    const float* in = (const float*)x.data;
    float* out = (float*)y.data;
    for (int64_t r = 0; r < rows; ++r) {
        double s = 0;
        for (int64_t c = 0; c < cols; ++c) s += in[r * cols + c];
        out[r] = (float)s;
    }
    return NNPORT_PLUGIN_OK;
}

/* ---- registration ---- */

NNPORT_PLUGIN_DEFINE_ABI_VERSION

NNPORT_PLUGIN_EXPORT nnport_plugin_status nnport_plugin_init(const nnport_plugin_host* host) {
    if (host->abi_version != NNPORT_PLUGIN_ABI_VERSION) return NNPORT_PLUGIN_ABI_MISMATCH;
    g_host = host;

    static nnport_plugin_attr_spec swish2_attrs[1];
    memset(swish2_attrs, 0, sizeof swish2_attrs);
    swish2_attrs[0].name = "beta";
    swish2_attrs[0].type = NNPORT_PLUGIN_ATTR_FLOAT;
    swish2_attrs[0].has_default = 1;
    swish2_attrs[0].default_float = 1.0f;

    nnport_plugin_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.domain = "com.example";
    op.op_type = "Swish2";
    op.since_version = 1;
    op.min_inputs = op.max_inputs = 1;
    op.min_outputs = op.max_outputs = 1;
    op.attrs = swish2_attrs;
    op.num_attrs = 1;
    op.doc = "x * sigmoid(beta * x).";
    op.infer = swish2_infer;
    op.compute = swish2_compute;
    nnport_plugin_status st = host->register_op(host->registrar, &op);
    if (st != NNPORT_PLUGIN_OK) return st;

    static nnport_plugin_attr_spec rowsum_attrs[1];
    memset(rowsum_attrs, 0, sizeof rowsum_attrs);
    rowsum_attrs[0].name = "keepdims";
    rowsum_attrs[0].type = NNPORT_PLUGIN_ATTR_INT;
    rowsum_attrs[0].has_default = 1;
    rowsum_attrs[0].default_int = 1;

    op.op_type = "RowSum";
    op.attrs = rowsum_attrs;
    op.doc = "Sum over the last axis.";
    op.infer = rowsum_infer;
    op.compute = rowsum_compute;
    return host->register_op(host->registrar, &op);
}

/* Broken nnport plugins for the loader's error tests (tests/runtime/plugin_test.cpp), one per BAD_* definition:
 *   BAD_NO_INIT        exports the ABI version but no nnport_plugin_init
 *   BAD_ABI            built for a plugin ABI version nnport does not have (otherwise well-formed)
 *   BAD_REFUSES_HOST   init refuses the host's ABI version
 *   BAD_INIT_ERROR     init fails with a message
 *   BAD_CLASH          registers Relu in the ONNX domain (built into nnport)
 *   BAD_DUP            registers com.example:Swish2 (the example plugin's)
 *   BAD_MALFORMED      registers an op with no outputs
 *   BAD_COMPUTE        a well-formed op com.example.bad:Failing whose compute fails, and Forgetful whose compute
 *                      produces no output */
#include <string.h>

#include "nnport/plugin.h"

/* Each BAD_* kind uses only some of the helpers below. */
#define MAYBE_UNUSED __attribute__((unused))

static const nnport_plugin_host* g_host;

#if defined(BAD_ABI)
NNPORT_PLUGIN_EXPORT uint32_t nnport_plugin_abi_version(void) { return NNPORT_PLUGIN_ABI_VERSION + 41; }
#else
NNPORT_PLUGIN_DEFINE_ABI_VERSION
#endif

MAYBE_UNUSED static nnport_plugin_status same_as_input(void* user, nnport_plugin_infer_ctx* ctx) {
    (void)user;
    nnport_plugin_value_type x;
    nnport_plugin_status st = g_host->infer_input(ctx, 0, &x);
    return st != NNPORT_PLUGIN_OK ? st : g_host->infer_set_output(ctx, 0, &x);
}

MAYBE_UNUSED static nnport_plugin_status failing_compute(void* user, nnport_plugin_compute_ctx* ctx) {
    (void)user;
    (void)ctx;
    g_host->set_error("accelerator queue lost");
    return NNPORT_PLUGIN_INTERNAL;
}

MAYBE_UNUSED static nnport_plugin_status forgetful_compute(void* user, nnport_plugin_compute_ctx* ctx) {
    (void)user;
    (void)ctx;
    return NNPORT_PLUGIN_OK;
}

MAYBE_UNUSED static nnport_plugin_op unary_op(const char* domain, const char* type) {
    nnport_plugin_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.domain = domain;
    op.op_type = type;
    op.since_version = 1;
    op.min_inputs = op.max_inputs = 1;
    op.min_outputs = op.max_outputs = 1;
    op.infer = same_as_input;
    op.compute = failing_compute;
    return op;
}

#if !defined(BAD_NO_INIT)
NNPORT_PLUGIN_EXPORT nnport_plugin_status nnport_plugin_init(const nnport_plugin_host* host) {
    g_host = host;
#if defined(BAD_REFUSES_HOST)
    host->set_error("this plugin needs plugin ABI 7");
    return NNPORT_PLUGIN_ABI_MISMATCH;
#elif defined(BAD_ABI)
    /* A well-formed op: only the ABI version is wrong, so a host that ignored it would load this. */
    nnport_plugin_op op = unary_op("com.example.bad", "WrongAbi");
    return host->register_op(host->registrar, &op);
#elif defined(BAD_INIT_ERROR)
    host->set_error("license file not found");
    return NNPORT_PLUGIN_INTERNAL;
#elif defined(BAD_CLASH)
    nnport_plugin_op op = unary_op("", "Relu");
    return host->register_op(host->registrar, &op);
#elif defined(BAD_DUP)
    nnport_plugin_op op = unary_op("com.example", "Swish2");
    return host->register_op(host->registrar, &op);
#elif defined(BAD_MALFORMED)
    nnport_plugin_op op = unary_op("com.example.bad", "NoOutputs");
    op.min_outputs = op.max_outputs = 0;
    return host->register_op(host->registrar, &op);
#elif defined(BAD_COMPUTE)
    nnport_plugin_op op = unary_op("com.example.bad", "Failing");
    nnport_plugin_status st = host->register_op(host->registrar, &op);
    if (st != NNPORT_PLUGIN_OK) return st;
    op.op_type = "Forgetful";
    op.compute = forgetful_compute;
    op.flags = NNPORT_PLUGIN_OP_NO_CONSTANT_FOLDING;
    return host->register_op(host->registrar, &op);
#else
#error "define one BAD_* kind"
#endif
}
#endif

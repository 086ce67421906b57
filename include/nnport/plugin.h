/* nnport plugin ABI: custom operators (the "custom layer" of conversion scenario 4) in a shared library.
 *
 * A plugin is a shared library written against this header only (C, no C++ types, sized integers). It exports
 *
 *     NNPORT_PLUGIN_DEFINE_ABI_VERSION   (defines nnport_plugin_abi_version(): the ABI the plugin was built for)
 *     NNPORT_PLUGIN_EXPORT nnport_plugin_status nnport_plugin_init(const nnport_plugin_host* host);
 *
 * nnport first compares nnport_plugin_abi_version() with its own ABI version and refuses a plugin built for another
 * one; then it calls nnport_plugin_init once, when the library is loaded (`nnport <command> --plugin LIB.so`,
 * nnport_plugin_load(), or nnport::load_plugin()). The function checks host->abi_version, keeps the `host` pointer (it
 * stays valid until the process exits) and registers its ops with host->register_op. Each op gives its schema (domain,
 * op type, opset, input/output counts, attributes with defaults), an `infer` callback (output dtypes and shapes from
 * the input types at load time; dims may be symbolic) and a `compute` callback (the kernel: input tensors in, outputs
 * allocated through the host), plus an opaque user pointer passed back to both.
 *
 * Every callback returns NNPORT_PLUGIN_OK (0) or an error code; before returning an error it may describe it with
 * host->set_error (nnport adds the library, node and op to the message). Callbacks must not throw or longjmp.
 * compute may run on several threads at once (one session run per thread): keep it free of shared mutable state.
 *
 * Tensors are dense and row-major. float16/bfloat16 inputs reach `compute` converted to float32, and float32 outputs
 * are converted back to the dtype `infer` gave them; `infer` sees the model's own dtypes. String tensors are not
 * passed to plugins.
 *
 * Evolution: the host refuses (or, in later versions, adapts to) a plugin built for another ABI version; a plugin
 * may refuse a host by returning NNPORT_PLUGIN_ABI_MISMATCH from init. Structures carry their size (struct_size) so
 * later versions may append members. */
#ifndef NNPORT_PLUGIN_H_
#define NNPORT_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes. Bumped on any incompatible change. */
#define NNPORT_PLUGIN_ABI_VERSION 1
/* The names of the two functions every plugin exports. */
#define NNPORT_PLUGIN_INIT_SYMBOL "nnport_plugin_init"
#define NNPORT_PLUGIN_ABI_SYMBOL "nnport_plugin_abi_version"

/* Marks a function as exported from the shared library (also under -fvisibility=hidden). */
#if defined(_WIN32)
#define NNPORT_PLUGIN_EXPORT __declspec(dllexport)
#else
#define NNPORT_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Status codes (the numbering of nnport_status in nnport.h). */
#define NNPORT_PLUGIN_OK 0
#define NNPORT_PLUGIN_INVALID_ARGUMENT 1 /* bad input at run time (values, shapes) */
#define NNPORT_PLUGIN_INVALID_MODEL 2    /* bad node: attributes, input types at load time */
#define NNPORT_PLUGIN_UNSUPPORTED 3      /* valid, but the plugin cannot do it (a dtype, a rank) */
#define NNPORT_PLUGIN_OUT_OF_RANGE 4
#define NNPORT_PLUGIN_INTERNAL 6
/* Returned by nnport_plugin_init when host->abi_version is one the plugin was not written for. */
#define NNPORT_PLUGIN_ABI_MISMATCH 100

/* Element types: ONNX TensorProto.DataType numbering (as nnport_dtype in nnport.h). 0: unknown or absent. */
#define NNPORT_PLUGIN_DTYPE_UNDEFINED 0
#define NNPORT_PLUGIN_DTYPE_FLOAT32 1
#define NNPORT_PLUGIN_DTYPE_UINT8 2
#define NNPORT_PLUGIN_DTYPE_INT8 3
#define NNPORT_PLUGIN_DTYPE_UINT16 4
#define NNPORT_PLUGIN_DTYPE_INT16 5
#define NNPORT_PLUGIN_DTYPE_INT32 6
#define NNPORT_PLUGIN_DTYPE_INT64 7
#define NNPORT_PLUGIN_DTYPE_BOOL 9
#define NNPORT_PLUGIN_DTYPE_FLOAT16 10
#define NNPORT_PLUGIN_DTYPE_FLOAT64 11
#define NNPORT_PLUGIN_DTYPE_UINT32 12
#define NNPORT_PLUGIN_DTYPE_UINT64 13
#define NNPORT_PLUGIN_DTYPE_BFLOAT16 16

/* Attribute types (ONNX AttributeProto.AttributeType numbering). */
#define NNPORT_PLUGIN_ATTR_FLOAT 1
#define NNPORT_PLUGIN_ATTR_INT 2
#define NNPORT_PLUGIN_ATTR_STRING 3
#define NNPORT_PLUGIN_ATTR_FLOATS 6
#define NNPORT_PLUGIN_ATTR_INTS 7

/* Op flags. */
/* The op must not be evaluated at load time even when all its inputs are constant (random, stateful, I/O). */
#define NNPORT_PLUGIN_OP_NO_CONSTANT_FOLDING 1u

typedef int32_t nnport_plugin_status;

/* Opaque handles, valid only during the callback that received them. */
typedef struct nnport_plugin_attrs nnport_plugin_attrs;             /* a node's attributes plus schema defaults */
typedef struct nnport_plugin_infer_ctx nnport_plugin_infer_ctx;     /* one node's type inference */
typedef struct nnport_plugin_compute_ctx nnport_plugin_compute_ctx; /* one node's execution */

/* One attribute of an op's schema. */
typedef struct nnport_plugin_attr_spec {
    const char* name;
    int32_t type;        /* NNPORT_PLUGIN_ATTR_* */
    int32_t required;    /* non-zero: a node without it is rejected at load */
    int32_t has_default; /* non-zero: the default_* member of `type` applies when the node omits it */
    int32_t reserved;
    int64_t default_int;
    float default_float;
    const char* default_string;
    const int64_t* default_ints;
    size_t default_ints_count;
    const float* default_floats;
    size_t default_floats_count;
} nnport_plugin_attr_spec;

/* The static type of a value at load time. */
typedef struct nnport_plugin_value_type {
    int32_t dtype;                 /* NNPORT_PLUGIN_DTYPE_*; 0: absent (omitted optional input) or unknown */
    int32_t rank;                  /* -1: rank unknown */
    const int64_t* dims;           /* rank entries; -1 for a dimension not known at load time */
    const char* const* dim_params; /* rank entries or NULL: the symbol of a -1 dimension ("N"; "" if anonymous) */
} nnport_plugin_value_type;

/* A tensor at run time: dense, row-major. */
typedef struct nnport_plugin_tensor {
    int32_t dtype; /* NNPORT_PLUGIN_DTYPE_*; 0: an omitted optional input */
    int32_t rank;
    const int64_t* dims; /* rank entries */
    void* data;          /* the elements; an input's data must not be written */
    int64_t numel;       /* product of dims */
} nnport_plugin_tensor;

/* A parallel_for body: processes items [begin, end). */
typedef void (*nnport_plugin_range_fn)(void* user, int64_t begin, int64_t end);

/* One custom op, as passed to host->register_op. The host copies everything it needs before returning. */
typedef struct nnport_plugin_op {
    uint32_t struct_size;             /* sizeof(nnport_plugin_op) */
    uint32_t flags;                   /* NNPORT_PLUGIN_OP_* */
    const char* domain;               /* e.g. "com.example"; "" is the ONNX default domain; "com.nnport" is reserved */
    const char* op_type;              /* e.g. "Swish2" */
    int32_t since_version;            /* oldest opset version of `domain` the op accepts (>= 1) */
    int32_t min_inputs, max_inputs;   /* max -1: variadic */
    int32_t min_outputs, max_outputs; /* max -1: variadic; min >= 1 */
    const nnport_plugin_attr_spec* attrs;
    size_t num_attrs;
    const char* doc; /* one line for `nnport ops`; may be NULL */
    /* Sets every present output's type with host->infer_set_output. */
    nnport_plugin_status (*infer)(void* user, nnport_plugin_infer_ctx* ctx);
    /* Reads the inputs, allocates every present output with host->compute_output and fills it. */
    nnport_plugin_status (*compute)(void* user, nnport_plugin_compute_ctx* ctx);
    void* user;
} nnport_plugin_op;

/* The host's function table, passed to nnport_plugin_init. */
typedef struct nnport_plugin_host {
    uint32_t abi_version; /* NNPORT_PLUGIN_ABI_VERSION of the host */
    uint32_t struct_size; /* sizeof(nnport_plugin_host) of the host; later versions only append members */
    const char* nnport_version;
    void* registrar; /* pass to register_op */

    /* Registration (only during nnport_plugin_init). Fails for a malformed op or one already defined. */
    nnport_plugin_status (*register_op)(void* registrar, const nnport_plugin_op* op);
    /* Describes the error the calling thread's current callback (or init) is about to return. Copied. */
    void (*set_error)(const char* message);

    /* Attributes: the node's value, else the schema default. Non-zero from attr_has if the node sets it. A getter
     * fails (NNPORT_PLUGIN_INVALID_MODEL) when there is neither, or the type differs (int and float convert).
     * Strings and arrays stay valid for the callback's duration. */
    int32_t (*attr_has)(const nnport_plugin_attrs* attrs, const char* name);
    nnport_plugin_status (*attr_int)(const nnport_plugin_attrs* attrs, const char* name, int64_t* out);
    nnport_plugin_status (*attr_float)(const nnport_plugin_attrs* attrs, const char* name, float* out);
    nnport_plugin_status (*attr_string)(const nnport_plugin_attrs* attrs, const char* name, const char** out);
    nnport_plugin_status (*attr_ints)(const nnport_plugin_attrs* attrs, const char* name, const int64_t** values,
                                      size_t* count);
    nnport_plugin_status (*attr_floats)(const nnport_plugin_attrs* attrs, const char* name, const float** values,
                                        size_t* count);

    /* Inference. Input and output counts include omitted optional ones (dtype 0 / skipped by infer_set_output). */
    const nnport_plugin_attrs* (*infer_attrs)(const nnport_plugin_infer_ctx* ctx);
    size_t (*infer_num_inputs)(const nnport_plugin_infer_ctx* ctx);
    size_t (*infer_num_outputs)(const nnport_plugin_infer_ctx* ctx);
    /* Input i's type; pointers valid for the callback's duration. */
    nnport_plugin_status (*infer_input)(const nnport_plugin_infer_ctx* ctx, size_t i, nnport_plugin_value_type* out);
    /* Non-zero and `out` filled if input i's value is known at load time (an initializer or folded constant). */
    int32_t (*infer_input_constant)(const nnport_plugin_infer_ctx* ctx, size_t i, nnport_plugin_tensor* out);
    /* Sets output i's type: a -1 dimension with a dim_params name becomes that symbol, without one a fresh symbol. */
    nnport_plugin_status (*infer_set_output)(nnport_plugin_infer_ctx* ctx, size_t i,
                                             const nnport_plugin_value_type* type);

    /* Execution. */
    const nnport_plugin_attrs* (*compute_attrs)(const nnport_plugin_compute_ctx* ctx);
    size_t (*compute_num_inputs)(const nnport_plugin_compute_ctx* ctx);
    size_t (*compute_num_outputs)(const nnport_plugin_compute_ctx* ctx);
    /* Input i (dtype 0 and data NULL if omitted); pointers valid for the callback's duration. */
    nnport_plugin_status (*compute_input)(const nnport_plugin_compute_ctx* ctx, size_t i, nnport_plugin_tensor* out);
    /* Allocates output i (uninitialised) and describes it in `out`; its data is the plugin's to write. */
    nnport_plugin_status (*compute_output)(nnport_plugin_compute_ctx* ctx, size_t i, int32_t dtype, const int64_t* dims,
                                           int32_t rank, nnport_plugin_tensor* out);
    /* Splits [0, n) into ranges run on the session's threads; returns when all are done. */
    void (*parallel_for)(nnport_plugin_compute_ctx* ctx, int64_t n, nnport_plugin_range_fn fn, void* user);
} nnport_plugin_host;

/* The entry point every plugin exports (name: NNPORT_PLUGIN_INIT_SYMBOL). */
typedef nnport_plugin_status (*nnport_plugin_init_fn)(const nnport_plugin_host* host);
/* The ABI version the plugin was built for (name: NNPORT_PLUGIN_ABI_SYMBOL). */
typedef uint32_t (*nnport_plugin_abi_version_fn)(void);

/* Defines nnport_plugin_abi_version() from this header's NNPORT_PLUGIN_ABI_VERSION; write it once in a plugin. */
#define NNPORT_PLUGIN_DEFINE_ABI_VERSION \
    NNPORT_PLUGIN_EXPORT uint32_t nnport_plugin_abi_version(void) { return NNPORT_PLUGIN_ABI_VERSION; }

#ifdef __cplusplus
}
#endif

#endif /* NNPORT_PLUGIN_H_ */

/* nnport C API: opaque handles, nnport_<object>_<verb> names, every call returns a status code.
 *
 *   nnport_session* s; nnport_session_create("model.onnx", NULL, &s);
 *   nnport_tensor* x; nnport_tensor_create(NNPORT_FLOAT32, shape, 4, &x);  (fill nnport_tensor_data(x))
 *   const char* names[] = {"input"}; nnport_tensor* outs[1];
 *   nnport_session_run(s, names, &x, 1, outs, 1);
 *   ... nnport_tensor_destroy(outs[0]); nnport_tensor_destroy(x); nnport_session_destroy(s);
 *
 * Errors: a non-zero nnport_status; nnport_last_error() gives the message (thread-local).
 * Evolution: functions are never changed; new behaviour comes as new functions with a _v2 suffix. */
#ifndef NNPORT_H_
#define NNPORT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nnport_status {
    NNPORT_OK = 0,
    NNPORT_INVALID_ARGUMENT = 1,
    NNPORT_INVALID_MODEL = 2,
    NNPORT_UNSUPPORTED = 3,
    NNPORT_OUT_OF_RANGE = 4,
    NNPORT_IO_ERROR = 5,
    NNPORT_INTERNAL = 6
} nnport_status;

/* Element types; numbering follows ONNX TensorProto.DataType. */
typedef enum nnport_dtype {
    NNPORT_FLOAT32 = 1, NNPORT_UINT8 = 2, NNPORT_INT8 = 3, NNPORT_UINT16 = 4, NNPORT_INT16 = 5,
    NNPORT_INT32 = 6, NNPORT_INT64 = 7, NNPORT_BOOL = 9, NNPORT_FLOAT16 = 10, NNPORT_FLOAT64 = 11,
    NNPORT_UINT32 = 12, NNPORT_UINT64 = 13, NNPORT_BFLOAT16 = 16
} nnport_dtype;

typedef struct nnport_session nnport_session;
typedef struct nnport_tensor nnport_tensor;

typedef struct nnport_session_options {
    int32_t threads; /* 0 = physical cores */
} nnport_session_options;

/* Library version, e.g. "0.1.0". */
const char* nnport_version(void);
/* Message of the last failed call on this thread ("" if none). Valid until the next call on this thread. */
const char* nnport_last_error(void);

/* Loads an ONNX model file. options may be NULL. */
nnport_status nnport_session_create(const char* path, const nnport_session_options* options, nnport_session** out);
/* Loads a serialized model from memory (no external data). */
nnport_status nnport_session_create_from_memory(const void* data, size_t size, const nnport_session_options* options,
                                                nnport_session** out);
void nnport_session_destroy(nnport_session* session);
/* Number of inputs to feed (initializer-backed inputs are not counted) and of outputs. */
nnport_status nnport_session_input_count(const nnport_session* session, size_t* count);
nnport_status nnport_session_output_count(const nnport_session* session, size_t* count);
/* Name of input/output i; the string lives as long as the session. */
nnport_status nnport_session_input_name(const nnport_session* session, size_t i, const char** name);
nnport_status nnport_session_output_name(const nnport_session* session, size_t i, const char** name);
/* Declared dtype and shape of input i; dynamic dims are -1. `dims` receives up to `capacity` entries. */
nnport_status nnport_session_input_info(const nnport_session* session, size_t i, nnport_dtype* dtype, int64_t* dims,
                                        size_t capacity, size_t* rank);
/* Runs the model. outputs[k] receives a new tensor (caller destroys) for the first `num_outputs` outputs.
 * Safe to call concurrently on one session. */
nnport_status nnport_session_run(const nnport_session* session, const char* const* input_names,
                                 const nnport_tensor* const* inputs, size_t num_inputs, nnport_tensor** outputs,
                                 size_t num_outputs);

/* Creates a tensor with uninitialised data. */
nnport_status nnport_tensor_create(nnport_dtype dtype, const int64_t* dims, size_t rank, nnport_tensor** out);
void nnport_tensor_destroy(nnport_tensor* tensor);
nnport_dtype nnport_tensor_dtype(const nnport_tensor* tensor);
size_t nnport_tensor_rank(const nnport_tensor* tensor);
/* Dimension i (0 if out of range). */
int64_t nnport_tensor_dim(const nnport_tensor* tensor, size_t i);
int64_t nnport_tensor_numel(const nnport_tensor* tensor);
size_t nnport_tensor_bytes(const nnport_tensor* tensor);
/* Pointer to the elements (row-major, contiguous). */
void* nnport_tensor_data(nnport_tensor* tensor);

/* Loads a custom-op plugin (a shared library written against nnport/plugin.h, see docs/PLUGINS.md) and registers its
 * ops for every session created afterwards, until the process exits. Loading the same file again does nothing.
 * Errors name the file: NNPORT_IO_ERROR (no such file), NNPORT_INVALID_ARGUMENT (not a shared library, not an nnport
 * plugin, an op already defined), NNPORT_UNSUPPORTED (plugin ABI version mismatch), or the code the plugin's init
 * returned. Call before creating sessions that use the ops, not while other threads create sessions. */
nnport_status nnport_plugin_load(const char* path);

#ifdef __cplusplus
}
#endif

#endif /* NNPORT_H_ */

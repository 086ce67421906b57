/* C API test, compiled as C: load a model, run it, check outputs and errors. Usage: capi_test MODEL.onnx */
#include <stdio.h>
#include <string.h>

#include "nnport/nnport.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "FAILED %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, nnport_last_error()); \
            return 1;                                                        \
        }                                                                    \
    } while (0)

int main(int argc, char** argv) {
    CHECK(argc == 2);
    nnport_session* s = NULL;
    CHECK(nnport_session_create("/nonexistent/model.onnx", NULL, &s) == NNPORT_IO_ERROR);
    CHECK(strstr(nnport_last_error(), "nonexistent") != NULL);
    nnport_session_options o = {1};
    CHECK(nnport_session_create(argv[1], &o, &s) == NNPORT_OK);
    size_t n_in = 0, n_out = 0;
    CHECK(nnport_session_input_count(s, &n_in) == NNPORT_OK && n_in == 1);
    CHECK(nnport_session_output_count(s, &n_out) == NNPORT_OK && n_out == 1);
    const char* in_name = NULL;
    CHECK(nnport_session_input_name(s, 0, &in_name) == NNPORT_OK);
    nnport_dtype dt;
    int64_t dims[8];
    size_t rank = 0;
    CHECK(nnport_session_input_info(s, 0, &dt, dims, 8, &rank) == NNPORT_OK && dt == NNPORT_FLOAT32);
    nnport_tensor* x = NULL;
    CHECK(nnport_tensor_create(NNPORT_FLOAT32, dims, rank, &x) == NNPORT_OK);
    float* xd = (float*)nnport_tensor_data(x);
    for (int64_t i = 0; i < nnport_tensor_numel(x); ++i) xd[i] = (float)(i % 7) - 3.0f;
    nnport_tensor* y = NULL;
    const nnport_tensor* ins[1] = {x};
    CHECK(nnport_session_run(s, &in_name, ins, 1, &y, 1) == NNPORT_OK);
    CHECK(y != NULL && nnport_tensor_numel(y) == nnport_tensor_numel(x));
    const float* yd = (const float*)nnport_tensor_data(y);
    for (int64_t i = 0; i < nnport_tensor_numel(y); ++i) CHECK(yd[i] == (xd[i] > 0 ? xd[i] : 0.0f)); /* Relu */
    /* Wrong input name is an error, not a crash. */
    const char* bad_name = "nope";
    nnport_tensor* y2 = NULL;
    CHECK(nnport_session_run(s, &bad_name, ins, 1, &y2, 1) == NNPORT_INVALID_ARGUMENT);
    nnport_tensor_destroy(y);
    nnport_tensor_destroy(x);
    nnport_session_destroy(s);
    /* Plugins: errors name the file; the example plugin loads, and loading it again does nothing. */
    CHECK(nnport_plugin_load(NULL) == NNPORT_INVALID_ARGUMENT);
    CHECK(nnport_plugin_load("/nonexistent/libplugin.so") == NNPORT_IO_ERROR);
    CHECK(strstr(nnport_last_error(), "/nonexistent/libplugin.so") != NULL);
    CHECK(nnport_plugin_load(argv[1]) == NNPORT_INVALID_ARGUMENT); /* an ONNX file is not a shared library */
    CHECK(strstr(nnport_last_error(), "cannot load as a shared library") != NULL);
#ifdef NNPORT_EXAMPLE_PLUGIN
    CHECK(nnport_plugin_load(NNPORT_EXAMPLE_PLUGIN) == NNPORT_OK);
    CHECK(nnport_plugin_load(NNPORT_EXAMPLE_PLUGIN) == NNPORT_OK);
    CHECK(strcmp(nnport_last_error(), "") == 0);
#endif
    printf("capi: ok\n");
    return 0;
}

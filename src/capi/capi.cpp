// The C API over the C++ Session.
#include <string>

#include "nnport/nnport.h"
#include "nnport/nnport.hpp"
#include "runtime/plugin.hpp"

struct nnport_session {
    std::unique_ptr<nnport::Session> s;
};
struct nnport_tensor {
    nnport::Tensor t;
};

namespace {

thread_local std::string g_last_error;

nnport_status to_c(const nnport::Status& st) {
    g_last_error = st.is_ok() ? "" : st.message();
    switch (st.code()) {
        case nnport::StatusCode::kOk: return NNPORT_OK;
        case nnport::StatusCode::kInvalidArgument: return NNPORT_INVALID_ARGUMENT;
        case nnport::StatusCode::kInvalidModel: return NNPORT_INVALID_MODEL;
        case nnport::StatusCode::kUnsupported: return NNPORT_UNSUPPORTED;
        case nnport::StatusCode::kOutOfRange: return NNPORT_OUT_OF_RANGE;
        case nnport::StatusCode::kIoError: return NNPORT_IO_ERROR;
        case nnport::StatusCode::kInternal: return NNPORT_INTERNAL;
    }
    return NNPORT_INTERNAL;
}

nnport_status bad(const char* msg) {
    g_last_error = msg;
    return NNPORT_INVALID_ARGUMENT;
}

nnport::SessionOptions options_of(const nnport_session_options* o) {
    nnport::SessionOptions so;
    if (o) so.threads = o->threads;
    return so;
}

}  // namespace

extern "C" {

const char* nnport_version(void) { return nnport::version(); }
const char* nnport_last_error(void) { return g_last_error.c_str(); }

nnport_status nnport_session_create(const char* path, const nnport_session_options* options, nnport_session** out) {
    if (!path || !out) return bad("path and out must not be NULL");
    try {
        auto r = nnport::Session::load(path, options_of(options));
        if (!r.is_ok()) return to_c(r.status());
        *out = new nnport_session{std::move(r).value()};
        return to_c(nnport::Status::ok());
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return NNPORT_INTERNAL;
    }
}

nnport_status nnport_session_create_from_memory(const void* data, size_t size, const nnport_session_options* options,
                                                nnport_session** out) {
    if (!data || !out) return bad("data and out must not be NULL");
    try {
        auto r = nnport::Session::load_from_memory(data, size, options_of(options));
        if (!r.is_ok()) return to_c(r.status());
        *out = new nnport_session{std::move(r).value()};
        return to_c(nnport::Status::ok());
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return NNPORT_INTERNAL;
    }
}

void nnport_session_destroy(nnport_session* session) { delete session; }

nnport_status nnport_session_input_count(const nnport_session* s, size_t* count) {
    if (!s || !count) return bad("NULL argument");
    *count = s->s->inputs().size();
    return NNPORT_OK;
}

nnport_status nnport_session_output_count(const nnport_session* s, size_t* count) {
    if (!s || !count) return bad("NULL argument");
    *count = s->s->outputs().size();
    return NNPORT_OK;
}

nnport_status nnport_session_input_name(const nnport_session* s, size_t i, const char** name) {
    if (!s || !name) return bad("NULL argument");
    if (i >= s->s->inputs().size()) return bad("input index out of range");
    *name = s->s->inputs()[i].name.c_str();
    return NNPORT_OK;
}

nnport_status nnport_session_output_name(const nnport_session* s, size_t i, const char** name) {
    if (!s || !name) return bad("NULL argument");
    if (i >= s->s->outputs().size()) return bad("output index out of range");
    *name = s->s->outputs()[i].name.c_str();
    return NNPORT_OK;
}

nnport_status nnport_session_input_info(const nnport_session* s, size_t i, nnport_dtype* dtype, int64_t* dims,
                                        size_t capacity, size_t* rank) {
    if (!s || !rank) return bad("NULL argument");
    if (i >= s->s->inputs().size()) return bad("input index out of range");
    const nnport::TensorInfo& info = s->s->inputs()[i];
    if (dtype) *dtype = static_cast<nnport_dtype>(info.dtype);
    *rank = info.shape.size();
    for (size_t k = 0; k < info.shape.size() && k < capacity && dims; ++k) dims[k] = info.shape[k];
    return NNPORT_OK;
}

nnport_status nnport_session_run(const nnport_session* s, const char* const* input_names,
                                 const nnport_tensor* const* inputs, size_t num_inputs, nnport_tensor** outputs,
                                 size_t num_outputs) {
    if (!s || (num_inputs && (!input_names || !inputs)) || (num_outputs && !outputs)) return bad("NULL argument");
    try {
        std::vector<std::pair<std::string, nnport::Tensor>> feeds;
        for (size_t i = 0; i < num_inputs; ++i) {
            if (!input_names[i] || !inputs[i]) return bad("NULL input name or tensor");
            feeds.emplace_back(input_names[i], inputs[i]->t);
        }
        auto r = s->s->run(feeds);
        if (!r.is_ok()) return to_c(r.status());
        for (size_t k = 0; k < num_outputs; ++k) {
            outputs[k] = k < r->size() ? new nnport_tensor{(*r)[k]} : nullptr;
        }
        return to_c(nnport::Status::ok());
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return NNPORT_INTERNAL;
    }
}

nnport_status nnport_tensor_create(nnport_dtype dtype, const int64_t* dims, size_t rank, nnport_tensor** out) {
    if (!out || (rank && !dims)) return bad("NULL argument");
    if (!nnport::dtype_is_valid(dtype) || dtype == 8 || dtype == 14 || dtype == 15) return bad("unsupported dtype");
    auto t = nnport::Tensor::create(static_cast<nnport::DType>(dtype), nnport::Shape(dims, dims + rank));
    if (!t.is_ok()) return to_c(t.status());
    *out = new nnport_tensor{std::move(t).value()};
    return NNPORT_OK;
}

void nnport_tensor_destroy(nnport_tensor* t) { delete t; }
nnport_dtype nnport_tensor_dtype(const nnport_tensor* t) { return static_cast<nnport_dtype>(t->t.dtype()); }
size_t nnport_tensor_rank(const nnport_tensor* t) { return t->t.shape().size(); }
int64_t nnport_tensor_dim(const nnport_tensor* t, size_t i) { return i < t->t.shape().size() ? t->t.shape()[i] : 0; }
int64_t nnport_tensor_numel(const nnport_tensor* t) { return t->t.numel(); }
size_t nnport_tensor_bytes(const nnport_tensor* t) { return t->t.nbytes(); }
void* nnport_tensor_data(nnport_tensor* t) { return t->t.raw_data(); }

nnport_status nnport_plugin_load(const char* path) {
    if (!path) return bad("path must not be NULL");
    try {
        return to_c(nnport::load_plugin(path));
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return NNPORT_INTERNAL;
    }
}

}  // extern "C"

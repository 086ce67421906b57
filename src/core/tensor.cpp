// Tensor storage and helpers.
#include "nnport/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace nnport {

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) return -1;
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return -1;
        n *= d;
    }
    return n;
}

std::string shape_to_string(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ",";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

Result<std::shared_ptr<Storage>> Storage::allocate(size_t bytes, bool zero) {
    if (bytes > static_cast<size_t>(kMaxTensorBytes)) {
        return out_of_range("tensor of " + std::to_string(bytes) + " bytes exceeds the limit of " +
                            std::to_string(kMaxTensorBytes) + " bytes");
    }
    const size_t padded = ((bytes + 64) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, padded);
    if (p == nullptr) return out_of_range("out of memory allocating " + std::to_string(bytes) + " bytes");
    if (zero) {
        std::memset(p, 0, padded);
    } else {
        std::memset(static_cast<char*>(p) + bytes, 0, padded - bytes);  // keep over-read padding defined
    }
    auto s = std::shared_ptr<Storage>(new Storage());
    s->data_ = p;
    s->bytes_ = bytes;
    s->owned_ = true;
    return s;
}

std::shared_ptr<Storage> Storage::strings(size_t count) {
    auto s = std::shared_ptr<Storage>(new Storage());
    s->strings_.resize(count);
    return s;
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t bytes, std::shared_ptr<void> keep_alive) {
    auto s = std::shared_ptr<Storage>(new Storage());
    s->data_ = data;
    s->bytes_ = bytes;
    s->keep_alive_ = std::move(keep_alive);
    return s;
}

Storage::~Storage() {
    if (owned_) std::free(data_);
}

Result<Tensor> Tensor::create(DType dtype, Shape shape, bool zero) {
    if (dtype == DType::kUndefined) return invalid_argument("cannot create a tensor of undefined dtype");
    const int64_t n = shape_numel(shape);
    if (n < 0) return out_of_range("invalid tensor shape " + shape_to_string(shape));
    Tensor t;
    t.dtype_ = dtype;
    t.shape_ = std::move(shape);
    t.numel_ = n;
    if (dtype == DType::kString) {
        if (n > kMaxTensorBytes / 32) return out_of_range("string tensor too large");
        t.storage_ = Storage::strings(static_cast<size_t>(n));
        return t;
    }
    const size_t es = dtype_size(dtype);
    if (n > kMaxTensorBytes / static_cast<int64_t>(es)) {
        return out_of_range("tensor " + shape_to_string(t.shape_) + " of " + dtype_name(dtype) +
                            " exceeds the limit of " + std::to_string(kMaxTensorBytes) + " bytes");
    }
    NNPORT_ASSIGN_OR_RETURN(t.storage_, Storage::allocate(static_cast<size_t>(n) * es, zero));
    return t;
}

Tensor Tensor::view(DType dtype, Shape shape, std::shared_ptr<Storage> storage, size_t byte_offset) {
    Tensor t;
    t.dtype_ = dtype;
    t.shape_ = std::move(shape);
    t.numel_ = shape_numel(t.shape_);
    t.storage_ = std::move(storage);
    t.offset_ = byte_offset;
    return t;
}

size_t Tensor::nbytes() const {
    if (dtype_ == DType::kString || !defined()) return 0;
    return static_cast<size_t>(numel_) * dtype_size(dtype_);
}

void* Tensor::raw_data() {
    if (!storage_ || storage_->data() == nullptr) return nullptr;
    return static_cast<char*>(storage_->data()) + offset_;
}

const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

std::string* Tensor::strings() { return storage_ ? storage_->string_data().data() + offset_ : nullptr; }
const std::string* Tensor::strings() const { return const_cast<Tensor*>(this)->strings(); }

Tensor Tensor::reshaped(Shape shape) const {
    Tensor t = *this;
    t.shape_ = std::move(shape);
    t.numel_ = shape_numel(t.shape_);
    return t;
}

Tensor Tensor::clone() const {
    if (!defined()) return Tensor();
    Tensor t = std::move(create(dtype_, shape_)).value();
    if (dtype_ == DType::kString) {
        for (int64_t i = 0; i < numel_; ++i) t.strings()[i] = strings()[i];
    } else if (nbytes() > 0) {
        std::memcpy(t.raw_data(), raw_data(), nbytes());
    }
    return t;
}

template <typename F>
static auto visit_numeric(DType dt, const void* p, int64_t i, F f) {
    switch (dt) {
        case DType::kFloat32: return f(static_cast<const float*>(p)[i]);
        case DType::kFloat64: return f(static_cast<const double*>(p)[i]);
        case DType::kFloat16: return f(static_cast<float>(static_cast<const Float16*>(p)[i]));
        case DType::kBFloat16: return f(static_cast<float>(static_cast<const BFloat16*>(p)[i]));
        case DType::kInt8: return f(static_cast<const int8_t*>(p)[i]);
        case DType::kInt16: return f(static_cast<const int16_t*>(p)[i]);
        case DType::kInt32: return f(static_cast<const int32_t*>(p)[i]);
        case DType::kInt64: return f(static_cast<const int64_t*>(p)[i]);
        case DType::kUInt8: return f(static_cast<const uint8_t*>(p)[i]);
        case DType::kUInt16: return f(static_cast<const uint16_t*>(p)[i]);
        case DType::kUInt32: return f(static_cast<const uint32_t*>(p)[i]);
        case DType::kUInt64: return f(static_cast<const uint64_t*>(p)[i]);
        case DType::kBool: return f(static_cast<const bool*>(p)[i]);
        default: return f(0);
    }
}

double Tensor::item_as_double(int64_t i) const {
    return visit_numeric(dtype_, raw_data(), i, [](auto v) { return static_cast<double>(v); });
}

int64_t Tensor::item_as_int(int64_t i) const {
    return visit_numeric(dtype_, raw_data(), i, [](auto v) { return static_cast<int64_t>(v); });
}

std::vector<int64_t> Tensor::to_int_vector() const {
    std::vector<int64_t> v(static_cast<size_t>(numel_));
    for (int64_t i = 0; i < numel_; ++i) v[static_cast<size_t>(i)] = item_as_int(i);
    return v;
}

}  // namespace nnport

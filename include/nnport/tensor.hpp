// Tensor: a dense, contiguous, row-major n-d array with shared, 64-byte aligned storage.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nnport/dtype.hpp"
#include "nnport/status.hpp"

namespace nnport {

using Shape = std::vector<int64_t>;

/// Upper bound for one tensor's bytes; larger requests are refused, never attempted.
inline constexpr int64_t kMaxTensorBytes = int64_t{8} << 30;

/// Number of elements, or -1 when a dimension is negative or the product overflows int64.
int64_t shape_numel(const Shape& shape);
/// "[1,3,224,224]"
std::string shape_to_string(const Shape& shape);

/// Raw storage of a tensor. Numeric data lives in an aligned byte buffer; strings in a vector.
class Storage {
public:
    /// Allocates `bytes` (+ 64 bytes of SIMD over-read padding), uninitialised unless `zero`.
    static Result<std::shared_ptr<Storage>> allocate(size_t bytes, bool zero);
    static std::shared_ptr<Storage> strings(size_t count);
    /// Wraps memory owned by someone else (e.g. a mapped file); `keep_alive` holds the owner.
    static std::shared_ptr<Storage> borrow(void* data, size_t bytes, std::shared_ptr<void> keep_alive);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data() { return data_; }
    size_t bytes() const { return bytes_; }
    std::vector<std::string>& string_data() { return strings_; }

private:
    Storage() = default;
    void* data_ = nullptr;
    size_t bytes_ = 0;
    bool owned_ = false;
    std::shared_ptr<void> keep_alive_;
    std::vector<std::string> strings_;
};

class Tensor {
public:
    /// An undefined tensor (defined() is false).
    Tensor() = default;

    /// Allocates a tensor; fails for negative dims, overflow or more than kMaxTensorBytes.
    static Result<Tensor> create(DType dtype, Shape shape, bool zero = false);
    /// Builds a tensor from values (shape must match values.size()).
    template <typename T>
    static Tensor from_vector(Shape shape, const std::vector<T>& values);
    template <typename T>
    static Tensor scalar(T v) { return from_vector<T>({}, {v}); }
    /// Wraps existing storage (no copy).
    static Tensor view(DType dtype, Shape shape, std::shared_ptr<Storage> storage, size_t byte_offset = 0);

    bool defined() const { return dtype_ != DType::kUndefined; }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
    int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
    int64_t numel() const { return numel_; }
    /// Bytes of numeric data (numel * element size); 0 for strings.
    size_t nbytes() const;

    void* raw_data();
    const void* raw_data() const;
    template <typename T> T* data() { return static_cast<T*>(raw_data()); }
    template <typename T> const T* data() const { return static_cast<const T*>(raw_data()); }
    /// String elements (dtype kString only).
    std::string* strings();
    const std::string* strings() const;

    /// Same data, new shape with the same element count (no copy).
    Tensor reshaped(Shape shape) const;
    /// Deep copy.
    Tensor clone() const;
    const std::shared_ptr<Storage>& storage() const { return storage_; }

    /// Element i converted to double / int64 (any numeric dtype); for small tensors (shapes, scalars).
    double item_as_double(int64_t i = 0) const;
    int64_t item_as_int(int64_t i = 0) const;
    /// All elements as int64 (for shape-like inputs).
    std::vector<int64_t> to_int_vector() const;

private:
    DType dtype_ = DType::kUndefined;
    Shape shape_;
    int64_t numel_ = 0;
    std::shared_ptr<Storage> storage_;
    size_t offset_ = 0;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
    Tensor t = std::move(create(DTypeOf<T>::value, std::move(shape))).value();
    if constexpr (std::is_same_v<T, std::string>) {
        for (size_t i = 0; i < values.size() && i < static_cast<size_t>(t.numel()); ++i) t.strings()[i] = values[i];
    } else if constexpr (std::is_same_v<T, bool>) {
        for (size_t i = 0; i < values.size() && i < static_cast<size_t>(t.numel()); ++i) t.data<bool>()[i] = values[i];
    } else {
        for (size_t i = 0; i < values.size() && i < static_cast<size_t>(t.numel()); ++i) t.data<T>()[i] = values[i];
    }
    return t;
}

}  // namespace nnport

// Tensor: an owning float32 buffer with a Shape, 64-byte aligned so SIMD kernels may use
// aligned loads at the start of every tensor. Moves are cheap; copies are explicit (clone()).
// Layout for images and activations is NHWC, row-major.
#pragma once
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <span>

#include "core/tensor/shape.h"

namespace cnnlens {

// Frees a buffer from memory::allocate (core/base/memory.h), which counts its bytes.
struct AlignedFree {
    size_t bytes = 0;
    void operator()(float* p) const;
};

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(const Shape& shape) { reset(shape); }
    Tensor(const Shape& shape, float fill) {
        reset(shape);
        std::fill_n(data(), size(), fill);
    }
    Tensor(Tensor&&) noexcept = default;
    Tensor& operator=(Tensor&&) noexcept = default;
    Tensor(const Tensor&) = delete;
    Tensor& operator=(const Tensor&) = delete;

    // Reallocates only when capacity is too small; contents are unspecified afterwards.
    void reset(const Shape& shape);
    // Same elements, new shape (element count must agree).
    void reshape(const Shape& shape) {
        CNNLENS_ASSERT(shape.elements() == shape_.elements());
        shape_ = shape;
    }
    Tensor clone() const {
        Tensor t(shape_);
        if (size()) std::memcpy(t.data(), data(), sizeof(float) * size());
        return t;
    }
    // Moves the buffer into the returned Tensor (for reuse elsewhere) and leaves this one with
    // its shape and no buffer (size() 0): a tape entry of which only the shape is read.
    Tensor take_buffer() {
        Tensor t;
        t.shape_ = shape_;
        t.data_ = std::move(data_);
        t.capacity_ = capacity_;
        capacity_ = 0;
        return t;
    }
    void zero() {
        if (size()) std::memset(data(), 0, sizeof(float) * size());
    }

    const Shape& shape() const { return shape_; }
    // Element count; 0 for a default-constructed tensor (which has no buffer).
    int64_t size() const { return data_ ? shape_.elements() : 0; }
    bool empty() const { return size() == 0 || !data_; }
    // Elements the buffer holds without reallocating (0 when there is none).
    int64_t capacity() const { return data_ ? capacity_ : 0; }
    float* data() { return data_.get(); }
    const float* data() const { return data_.get(); }
    std::span<float> span() { return {data(), static_cast<size_t>(size())}; }
    std::span<const float> span() const { return {data(), static_cast<size_t>(size())}; }
    float& operator[](int64_t i) { return data_.get()[i]; }
    float operator[](int64_t i) const { return data_.get()[i]; }

private:
    Shape shape_;
    std::unique_ptr<float[], AlignedFree> data_;
    int64_t capacity_ = 0;
};

// A non-owning view used by kernels and op implementations.
struct TensorView {
    const float* data = nullptr;
    Shape shape;
    TensorView() = default;
    TensorView(const Tensor& t) : data(t.data()), shape(t.shape()) {}  // NOLINT: implicit by design
    TensorView(const float* d, const Shape& s) : data(d), shape(s) {}
};

}  // namespace cnnlens

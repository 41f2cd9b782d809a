#include "core/tensor/tensor.h"

#include "core/base/memory.h"

namespace cnnlens {

void AlignedFree::operator()(float* p) const { memory::release(p, bytes); }

void Tensor::reset(const Shape& shape) {
    shape_ = shape;
    const int64_t n = shape.elements();
    CNNLENS_ASSERT(n >= 0);
    if (n <= capacity_ && data_) return;
    // Whole 64-byte lines plus one spare line, so SIMD tails may read (never write) a little
    // past the end.
    const size_t bytes = ((static_cast<size_t>(n) * sizeof(float) + 63) / 64) * 64 + 64;
    data_.reset();  // the old buffer goes before the new one comes: the peak counts one
    void* p = memory::allocate(bytes);
    CNNLENS_ASSERT(p != nullptr);
    data_ = std::unique_ptr<float[], AlignedFree>(static_cast<float*>(p), AlignedFree{bytes});
    capacity_ = n;
}

}  // namespace cnnlens

#include "core/tensor/tensor.h"

#include <cstdlib>
#include <new>

namespace cnnlens {

void AlignedFree::operator()(float* p) const { std::free(p); }

void Tensor::reset(const Shape& shape) {
    shape_ = shape;
    const int64_t n = shape.elements();
    CNNLENS_ASSERT(n >= 0);
    if (n <= capacity_ && data_) return;
    // Round up to whole 64-byte lines (aligned_alloc requires a multiple of the alignment),
    // plus one spare line so SIMD tails may read (never write) a little past the end.
    size_t bytes = ((static_cast<size_t>(n) * sizeof(float) + 63) / 64) * 64 + 64;
    void* p = std::aligned_alloc(64, bytes);
    CNNLENS_ASSERT(p != nullptr);
    data_.reset(static_cast<float*>(p));
    capacity_ = n;
}

}  // namespace cnnlens

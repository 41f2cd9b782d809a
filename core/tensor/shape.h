// Tensor shapes: up to kMaxRank dimensions, row-major. Image tensors are NHWC.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/base/assert.h"

namespace cnnlens {

constexpr int kMaxRank = 8;

class Shape {
public:
    Shape() = default;
    Shape(std::initializer_list<int64_t> dims) {
        CNNLENS_ASSERT(static_cast<int>(dims.size()) <= kMaxRank);
        for (int64_t d : dims) dims_[rank_++] = d;
    }
    template <typename It>
    static Shape from(It begin, It end) {
        Shape s;
        for (; begin != end; ++begin) {
            CNNLENS_ASSERT(s.rank_ < kMaxRank);
            s.dims_[s.rank_++] = static_cast<int64_t>(*begin);
        }
        return s;
    }

    int rank() const { return rank_; }
    int64_t operator[](int i) const {
        CNNLENS_ASSERT(i >= 0 && i < rank_);
        return dims_[i];
    }
    int64_t& operator[](int i) {
        CNNLENS_ASSERT(i >= 0 && i < rank_);
        return dims_[i];
    }
    // Dimension counted from the end when i < 0 (dim(-1) is the last).
    int64_t dim(int i) const { return (*this)[i < 0 ? rank_ + i : i]; }
    int64_t elements() const {
        int64_t n = 1;
        for (int i = 0; i < rank_; ++i) n *= dims_[i];
        return n;
    }
    void push_back(int64_t d) {
        CNNLENS_ASSERT(rank_ < kMaxRank);
        dims_[rank_++] = d;
    }
    const int64_t* begin() const { return dims_.data(); }
    const int64_t* end() const { return dims_.data() + rank_; }

    bool operator==(const Shape& o) const {
        if (rank_ != o.rank_) return false;
        for (int i = 0; i < rank_; ++i)
            if (dims_[i] != o.dims_[i]) return false;
        return true;
    }
    bool operator!=(const Shape& o) const { return !(*this == o); }

    // "[1,64,64,1]"
    std::string str() const {
        std::string s = "[";
        for (int i = 0; i < rank_; ++i) {
            if (i) s += ',';
            s += std::to_string(dims_[i]);
        }
        return s + "]";
    }

private:
    std::array<int64_t, kMaxRank> dims_{};
    int rank_ = 0;
};

}  // namespace cnnlens

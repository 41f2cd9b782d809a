// Counts the bytes of the engine's own buffers — tensor storage (activations, gradients,
// constants), packed kernel weights and kernel scratch — so `cnnlens bench --memory` and the
// tests can state exact peaks instead of reading the allocator's or the operating system's
// figures, which include everything else the process holds (the app, the decoded model file).
//
// Every engine allocation of more than a few bytes goes through allocate()/release() or
// CountingAllocator; the counters are process-wide and atomic (executors run on pool threads).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/base/assert.h"

namespace cnnlens::memory {

// 64-byte aligned storage of `bytes` (rounded up to whole lines by the caller); null on failure.
void* allocate(size_t bytes);
// Frees a block from allocate() of the same `bytes`.
void release(void* p, size_t bytes);

// Bytes held now, and the most held at once since the last reset_peak().
int64_t live_bytes();
int64_t peak_bytes();
// Starts a new peak from what is held now.
void reset_peak();

// For allocations made elsewhere (a library's allocator hook): adds or removes `bytes`.
void note_allocated(int64_t bytes);
void note_released(int64_t bytes);

// A std::allocator for kernel buffers: 64-byte aligned (a 16-lane load or store then stays in
// one cache line) and counted.
template <typename T>
struct CountingAllocator {
    using value_type = T;
    CountingAllocator() = default;
    template <typename U>
    CountingAllocator(const CountingAllocator<U>&) {}
    T* allocate(std::size_t n) {
        void* p = memory::allocate(n * sizeof(T));
        CNNLENS_ASSERT(p != nullptr);
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t n) { memory::release(p, n * sizeof(T)); }
    template <typename U>
    bool operator==(const CountingAllocator<U>&) const {
        return true;
    }
};
template <typename T>
using CountedVector = std::vector<T, CountingAllocator<T>>;

}  // namespace cnnlens::memory

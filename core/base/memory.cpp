#include "core/base/memory.h"

#include <atomic>
#include <cstdlib>

namespace cnnlens::memory {
namespace {

std::atomic<int64_t> g_live{0}, g_peak{0};

}  // namespace

void note_allocated(int64_t bytes) {
    const int64_t now = g_live.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    int64_t peak = g_peak.load(std::memory_order_relaxed);
    while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {}
}

void note_released(int64_t bytes) { g_live.fetch_sub(bytes, std::memory_order_relaxed); }

void* allocate(size_t bytes) {
    // aligned_alloc wants a multiple of the alignment.
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (p) note_allocated(static_cast<int64_t>(bytes));
    return p;
}

void release(void* p, size_t bytes) {
    if (!p) return;
    std::free(p);
    note_released(static_cast<int64_t>(bytes));
}

int64_t live_bytes() { return g_live.load(std::memory_order_relaxed); }
int64_t peak_bytes() { return g_peak.load(std::memory_order_relaxed); }
void reset_peak() { g_peak.store(live_bytes(), std::memory_order_relaxed); }

}  // namespace cnnlens::memory

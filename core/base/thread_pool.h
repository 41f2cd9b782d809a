// Intra-op parallelism: one process-wide pool of worker threads that kernels split their loops
// over (ggml's and pthreadpool's model: the caller works too, then waits for the others).
// Written here rather than taken from pthreadpool because the wasm build needs it too and
// Debian's pthreadpool is a native library only; the xnnpack kernel set keeps its own
// pthreadpool, sized by the same count (core/kernels/kernels.h, set_kernel_threads).
//
// Results never depend on the thread count: work is split into disjoint ranges and each
// element is computed by the same code in the same order whichever thread runs it.
//
// Builds without threads (the single-threaded wasm build) compile the same API and run every
// loop on the caller.
#pragma once
#include <cstdint>
#include <type_traits>

namespace cnnlens {

// Threads that parallel_for uses, the caller included (>= 1; 1, the default, starts no worker).
// Must not be called while a parallel_for runs. Clamped to [1, max_pool_threads()].
void set_pool_threads(int n);
int pool_threads();
// 1 in builds without threads, else 64 or what limit_pool_threads() set.
int max_pool_threads();
// Caps max_pool_threads() (at least 1). The browser's threaded build calls it with the workers
// it prewarmed: a thread started later would wait for the main thread to return to the event
// loop, while the main thread waits for it.
void limit_pool_threads(int max);

// True on a thread that is running a range of a parallel_for (nested loops run inline there;
// code with its own thread pool should not start it either).
bool in_parallel_region();

namespace detail {
using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end, int thread);
// dynamic: ranges of `grain` items handed out one at a time; else one range per thread.
void parallel_for(int64_t n, int64_t grain, RangeFn fn, void* ctx, bool dynamic = false);
}  // namespace detail

// Calls f(begin, end, thread) on disjoint ranges covering [0, n), each at least `grain` items
// (except a short last one), on up to pool_threads() threads; thread is in [0, pool_threads())
// and distinct for ranges that run at the same time (index per-thread scratch with it). Returns
// when every range is done. Runs everything on the caller (one range, thread 0) when the pool
// has one thread, when n < 2 * grain, when called from inside a parallel_for, or while another
// thread is using the pool.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
    auto call = [](void* ctx, int64_t b, int64_t e, int t) {
        (*static_cast<std::remove_reference_t<F>*>(ctx))(b, e, t);
    };
    detail::parallel_for(n, grain, call, const_cast<void*>(static_cast<const void*>(&f)));
}

// As parallel_for, but the ranges are `grain` items each and threads take the next one as they
// finish: for items that take long (a whole image through the network), where one thread held
// up by the system would otherwise leave the others waiting at the end of a static split.
template <typename F>
void parallel_for_dynamic(int64_t n, int64_t grain, F&& f) {
    auto call = [](void* ctx, int64_t b, int64_t e, int t) {
        (*static_cast<std::remove_reference_t<F>*>(ctx))(b, e, t);
    };
    detail::parallel_for(n, grain, call, const_cast<void*>(static_cast<const void*>(&f)), true);
}

}  // namespace cnnlens

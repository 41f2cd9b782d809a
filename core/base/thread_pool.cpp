#include "core/base/thread_pool.h"

#include <algorithm>
#include <atomic>

#include "core/base/assert.h"

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
#define CNNLENS_POOL_HAS_THREADS 1
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#endif

namespace cnnlens {

#ifndef CNNLENS_POOL_HAS_THREADS

bool in_parallel_region() { return false; }
void set_pool_threads(int) {}
int pool_threads() { return 1; }
int max_pool_threads() { return 1; }
void limit_pool_threads(int) {}
void detail::parallel_for(int64_t n, int64_t, RangeFn fn, void* ctx, bool) {
    if (n > 0) fn(ctx, 0, n, 0);
}

#else

namespace {

// Spins before sleeping: a forward pass is a few dozen parallel loops of 10-500 us each, and a
// condition variable's wake-up (tens of microseconds) would eat the gain. Workers that find no
// work for this many polls go to sleep; in the browser they spin for a span of time instead.
#ifdef __EMSCRIPTEN__
constexpr std::chrono::microseconds kBrowserSpin{20000};
#else
constexpr int kSpinPolls = 1 << 14;

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
#endif

// Pieces per thread of a loop that is not dynamic. In the browser the threads do not finish
// equal halves together (Chromium on two cores: a layer split in two took well over half its
// one-thread time, where natively it takes about half), so with one piece each the first thread
// done waited for the other; with four each it takes over the pieces still unclaimed. Natively
// the halves keep pace, and smaller pieces cost more than they balance.
#ifdef __EMSCRIPTEN__
constexpr int kSplit = 4;
#else
constexpr int kSplit = 1;
#endif
thread_local bool t_inside = false;  // this thread is running a range of the pool

class Pool {
public:
    ~Pool() { resize(1); }

    int threads() const { return static_cast<int>(workers_.size()) + 1; }

    void resize(int n) {
        {
            std::lock_guard<std::mutex> l(m_);
            stop_ = true;
        }
        wake_.notify_all();
        for (std::thread& t : workers_) t.join();
        workers_.clear();
        stop_ = false;
        // Workers start from the current generation (read here, not in the new thread: a loop
        // may be published before a new thread gets to run).
        const uint64_t now = generation_.load(std::memory_order_acquire);
        for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, now] { work(i, now); });
    }

    void run(int64_t n, int64_t grain, detail::RangeFn fn, void* ctx, bool dynamic) {
        grain = std::max<int64_t>(grain, 1);
        const int64_t most = std::max<int64_t>(1, n / grain);
        if (workers_.empty() || most < 2 || t_inside || !use_.try_lock()) {
            fn(ctx, 0, n, 0);
            return;
        }
        int64_t pieces =
            dynamic ? (n + grain - 1) / grain : std::min<int64_t>(threads() * kSplit, most);
        pieces = std::min<int64_t>(pieces, kMaxPieces);
        fn_ = fn;
        ctx_ = ctx;
        n_ = n;
        per_ = (n + pieces - 1) / pieces;
        pieces = (n + per_ - 1) / per_;
        pending_.store(pieces, std::memory_order_relaxed);
        loop_ = (loop_ + 1) & kLoopMask;
        // Publishing the ticket (release) makes the fields above visible to whoever claims a
        // piece from it (acquire).
        ticket_.store(make_ticket(loop_, pieces, 0), std::memory_order_release);
        {
            std::lock_guard<std::mutex> l(m_);
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        t_inside = true;
        take_pieces(0);
        t_inside = false;
        // Waits for claimed pieces only: a worker that has not woken up yet (descheduled on a
        // busy machine, or a browser worker slow to wake) finds nothing left to claim later and
        // holds nobody up, where waiting for every worker to check in would stall a pass for as
        // long as the slowest worker takes to wake.
#ifdef __EMSCRIPTEN__
        const auto spin_until = std::chrono::steady_clock::now() + kBrowserSpin;
#endif
        for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
#ifdef __EMSCRIPTEN__
            if ((i & 1023) != 0 || std::chrono::steady_clock::now() < spin_until) continue;
#else
            if (i < kSpinPolls / 16) {
                relax();
                continue;
            }
            if (i < kSpinPolls) {
                std::this_thread::yield();
                continue;
            }
#endif
            std::unique_lock<std::mutex> l(m_);
            done_.wait(l, [&] { return pending_.load(std::memory_order_acquire) == 0; });
        }
        use_.unlock();
    }

private:
    // The ticket packs the loop's number, its piece count and the next unclaimed piece, so a
    // claim (compare-and-swap) succeeds only on the loop it was read from, and only while that
    // loop still has pieces, i.e. while the caller is still waiting and the fields are stable.
    static constexpr int kBits = 20;
    static constexpr int64_t kMaxPieces = (int64_t{1} << kBits) - 1;
    static constexpr uint64_t kLoopMask = (uint64_t{1} << (64 - 2 * kBits)) - 1;
    static uint64_t make_ticket(uint64_t loop, int64_t pieces, int64_t next) {
        return loop << (2 * kBits) | static_cast<uint64_t>(pieces) << kBits |
               static_cast<uint64_t>(next);
    }

    void take_pieces(int thread) {
        uint64_t t = ticket_.load(std::memory_order_acquire);
        for (;;) {
            const int64_t pieces = static_cast<int64_t>(t >> kBits & kMaxPieces);
            const int64_t i = static_cast<int64_t>(t & kMaxPieces);
            if (i >= pieces) return;
            if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel,
                                               std::memory_order_acquire))
                continue;
            fn_(ctx_, i * per_, std::min(n_, (i + 1) * per_), thread);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                std::lock_guard<std::mutex> l(m_);
                done_.notify_one();
            }
            t = ticket_.load(std::memory_order_acquire);
        }
    }

    void work(int thread, uint64_t seen) {
        t_inside = true;
        for (;;) {
            int polls = 0;
#ifdef __EMSCRIPTEN__
            // In the browser a poll is one atomic load (no pause instruction, and yield does
            // nothing), so a count of polls lasts microseconds: gaps between the loops of one
            // forward pass outlast it and every loop paid a worker's wake-up, which Chromium
            // takes its time over. Spin for a span of time instead.
            const auto spin_until = std::chrono::steady_clock::now() + kBrowserSpin;
            while (generation_.load(std::memory_order_acquire) == seen &&
                   !stop_.load(std::memory_order_relaxed) &&
                   ((++polls & 1023) != 0 || std::chrono::steady_clock::now() < spin_until)) {}
#else
            while (generation_.load(std::memory_order_acquire) == seen && polls < kSpinPolls &&
                   !stop_.load(std::memory_order_relaxed)) {
                // Pause first; then yield, so a machine with more runnable threads than cores
                // still gets to run the thread that has the work.
                if (++polls < kSpinPolls / 16)
                    relax();
                else
                    std::this_thread::yield();
            }
#endif
            if (generation_.load(std::memory_order_acquire) == seen) {
                std::unique_lock<std::mutex> l(m_);
                wake_.wait(l, [&] {
                    return stop_ || generation_.load(std::memory_order_acquire) != seen;
                });
                if (stop_) return;
            }
            seen = generation_.load(std::memory_order_acquire);
            take_pieces(thread);
        }
    }

    std::vector<std::thread> workers_;
    std::mutex use_;  // one parallel_for at a time; others run inline
    std::mutex m_;
    std::condition_variable wake_, done_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> generation_{0};
    std::atomic<int64_t> pending_{0};  // pieces of the current loop not finished yet
    std::atomic<uint64_t> ticket_{0};  // make_ticket(loop, pieces, next unclaimed piece)
    uint64_t loop_ = 0;                // the caller's count of loops (mod kLoopMask + 1)
    detail::RangeFn fn_ = nullptr;
    void* ctx_ = nullptr;
    int64_t n_ = 0, per_ = 1;
};

Pool& pool() {
    static Pool p;
    return p;
}

}  // namespace

bool in_parallel_region() { return t_inside; }

void set_pool_threads(int n) {
    n = std::clamp(n, 1, max_pool_threads());
    if (n != pool().threads()) pool().resize(n);
}
int pool_threads() { return pool().threads(); }
std::atomic<int> g_max_threads{64};
int max_pool_threads() { return g_max_threads.load(); }
void limit_pool_threads(int max) { g_max_threads = std::clamp(max, 1, 64); }

void detail::parallel_for(int64_t n, int64_t grain, RangeFn fn, void* ctx, bool dynamic) {
    if (n <= 0) return;
    pool().run(n, grain, fn, ctx, dynamic);
}

#endif

}  // namespace cnnlens

#include "core/base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <vector>

namespace cnnlens {
namespace {

// Restores one thread when a test ends, so the rest of the suite runs as it always did.
struct Threads {
    explicit Threads(int n) { set_pool_threads(n); }
    ~Threads() { set_pool_threads(1); }
};

TEST(ThreadPool, RangesCoverEveryItemOnce) {
    for (int threads : {1, 2, 3, 5}) {
        Threads t(threads);
        for (int64_t n : {0, 1, 2, 7, 64, 1001}) {
            for (int64_t grain : {1, 3, 100}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                std::atomic<int> bad_thread{0};
                parallel_for(n, grain, [&](int64_t b, int64_t e, int thread) {
                    if (thread < 0 || thread >= pool_threads()) ++bad_thread;
                    for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
                });
                for (int64_t i = 0; i < n; ++i)
                    ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n " << n << " item " << i;
                EXPECT_EQ(bad_thread.load(), 0);
            }
        }
    }
}

TEST(ThreadPool, DynamicRangesAreGrainSizedAndCoverEveryItemOnce) {
    for (int threads : {1, 2, 3}) {
        Threads t(threads);
        for (int64_t n : {0, 1, 2, 7, 50, 1001}) {
            for (int64_t grain : {1, 4}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                std::atomic<int> too_long{0};
                parallel_for_dynamic(n, grain, [&](int64_t b, int64_t e, int) {
                    // A range longer than the grain only when everything ran inline.
                    if (e - b > grain && !(b == 0 && e == n)) ++too_long;
                    for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
                });
                for (int64_t i = 0; i < n; ++i)
                    ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n " << n << " item " << i;
                EXPECT_EQ(too_long.load(), 0);
            }
        }
    }
}

TEST(ThreadPool, DynamicRangesGoToWhicheverThreadIsFree) {
    Threads t(2);
    if (max_pool_threads() == 1) GTEST_SKIP() << "this build has no threads";
    // Range 0 holds its thread until every other range has run: with a static split of two
    // halves the other thread could not take ranges from the first half, and this would hang
    // (bounded here by 20 s, then fail).
    std::atomic<int> done{0};
    std::atomic<bool> waited_out{false};
    parallel_for_dynamic(8, 1, [&](int64_t b, int64_t e, int) {
        if (b == 0) {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (done.load() < 7 && std::chrono::steady_clock::now() < deadline) {}
            if (done.load() < 7) waited_out = true;
        }
        done += static_cast<int>(e - b) - (b == 0 ? 1 : 0);
    });
    EXPECT_FALSE(waited_out.load());
}

// Many short loops in a row: workers wake late, sleep through loops, or arrive while the next
// loop is being published. Each loop must still run every item exactly once, on its own data.
TEST(ThreadPool, ManyShortLoopsWithLateWorkers) {
    for (int threads : {2, 3}) {
        Threads t(threads);
        std::vector<int> data(64);
        for (int loop = 0; loop < 20000; ++loop) {
            const int64_t n = 2 + loop % 7;
            std::atomic<int64_t> sum{0};
            parallel_for_dynamic(n, 1, [&](int64_t b, int64_t e, int) {
                for (int64_t i = b; i < e; ++i) sum += loop + i;
            });
            ASSERT_EQ(sum.load(), n * loop + n * (n - 1) / 2) << "loop " << loop;
            parallel_for(64, 8, [&](int64_t b, int64_t e, int) {
                for (int64_t i = b; i < e; ++i) data[static_cast<size_t>(i)] = loop;
            });
            ASSERT_EQ(data[63], loop);
            ASSERT_EQ(data[0], loop);
        }
    }
}

TEST(ThreadPool, UsesWorkersWhenBuiltWithThreads) {
    Threads t(2);
    if (max_pool_threads() == 1) {
        EXPECT_EQ(pool_threads(), 1);  // single-threaded build: asks are clamped
        GTEST_SKIP() << "this build has no threads";
    }
    EXPECT_EQ(pool_threads(), 2);
    // Two ranges run at once: each waits (bounded) until both have started.
    std::atomic<int> started{0};
    std::set<int> threads_seen;
    std::mutex m;
    parallel_for(2, 1, [&](int64_t, int64_t, int thread) {
        ++started;
        for (int i = 0; i < 200000000 && started.load() < 2; ++i) {}
        std::lock_guard<std::mutex> l(m);
        threads_seen.insert(thread);
    });
    EXPECT_EQ(threads_seen.size(), 2u);
}

TEST(ThreadPool, NestedLoopsRunInline) {
    Threads t(3);
    std::atomic<int64_t> sum{0};
    parallel_for(6, 1, [&](int64_t b, int64_t e, int outer) {
        for (int64_t i = b; i < e; ++i)
            parallel_for(10, 1, [&](int64_t b2, int64_t e2, int inner) {
                EXPECT_EQ(inner, 0);  // inline: one range on the calling thread
                EXPECT_EQ(b2, 0);
                EXPECT_EQ(e2, 10);
                sum += (e2 - b2) * (i + 1);
                (void)outer;
            });
    });
    EXPECT_EQ(sum.load(), 10 * (1 + 2 + 3 + 4 + 5 + 6));
}

TEST(ThreadPool, ResizingBetweenLoopsIsSafe) {
    for (int round = 0; round < 20; ++round) {
        Threads t(1 + round % 4);
        std::atomic<int64_t> sum{0};
        parallel_for(100, 1, [&](int64_t b, int64_t e, int) {
            for (int64_t i = b; i < e; ++i) sum += i;
        });
        EXPECT_EQ(sum.load(), 4950);
    }
}

}  // namespace
}  // namespace cnnlens

// wasm/app/session.cpp and session_panels.cpp under the threaded app's rule (session.h): a job
// (run_pending, step_panels) runs on its own thread while this thread, as the UI does, polls,
// reads the published results and cancels, holding the state lock. The test command runs it
// natively and under ASan; under TSan by hand: configure with clang and
// -DCMAKE_CXX_FLAGS=-fsanitize=thread, then cnnlens_tests --gtest_filter='SessionThreads*'.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "tests/test_util.h"
#include "wasm/app/session.h"
#include "wasm/app/session_panels.h"

namespace cnnlens::app {
namespace {

using StateLock = std::unique_lock<std::mutex>;

// A job on its own thread; done() turns true when it returned.
class JobThread {
public:
    template <class F>
    explicit JobThread(F job)
        : thread_([this, job]() mutable {
              job();
              done_ = true;
          }) {}
    ~JobThread() { thread_.join(); }
    bool done() const { return done_; }

private:
    std::atomic<bool> done_{false};
    std::thread thread_;
};

// Reads every value of the map, as the UI does when it draws it (a racing write shows under TSan).
float map_sum(const Explanation& e) {
    float s = 0;
    for (int64_t i = 0; i < e.map.size(); ++i) s += e.map[i];
    return s;
}

class SessionThreadsTest : public ::testing::Test {
protected:
    void SetUp() override {
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
        GTEST_SKIP() << "this build has no threads";
#endif
        ASSERT_TRUE(
            s.load_models(directory_source(test::source_path("models/fer2013-mini-xception")),
                          directory_source(test::source_path("models/blazeface"))));
        const auto photo = test::read_file(test::source_path("tests/data/astronaut.jpg"));
        ASSERT_TRUE(s.open_photo(photo, "astronaut.jpg"));
    }
    ExplainRequest lime(int samples) {
        ExplainRequest r;
        r.method = "lime";
        r.params.set("samples", samples);
        r.target.cls = s.selected_face()->top;
        r.target.score = Target::Score::kProbability;
        r.seed = 3;
        return r;
    }
    Session s;
};

TEST_F(SessionThreadsTest, LimeOnAJobThreadPublishesProgressAndPartialFitsAndIsCancelled) {
    s.set_job_batch(20);
    {
        StateLock lock(s.state_mutex());
        s.request(lime(400));
    }
    Status st;
    float last_progress = 0;
    int polls = 0, partials_seen = 0, last_version = -1;
    bool cancelled = false;
    {
        // The callback runs without the lock; a short sleep per batch gives the polling thread
        // its turns even on a loaded machine.
        JobThread job([&] {
            st = s.run_pending([](float) {
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
                return true;
            });
        });
        while (!job.done()) {
            {
                StateLock lock(s.state_mutex());
                ++polls;
                if (s.job().running) {  // (a finished job's status is reset)
                    EXPECT_GE(s.job().progress, last_progress);
                    last_progress = s.job().progress;
                }
                if (s.explanation() && s.explanation_version() != last_version) {
                    last_version = s.explanation_version();
                    EXPECT_TRUE(s.explanation_partial());
                    EXPECT_TRUE(std::isfinite(map_sum(*s.explanation())));
                    EXPECT_TRUE(s.busy());
                    ++partials_seen;
                }
                if (partials_seen >= 2 && !cancelled) {
                    s.cancel();
                    cancelled = true;
                }
            }
            std::this_thread::yield();
        }
    }
    StateLock lock(s.state_mutex());
    EXPECT_TRUE(cancelled) << "the job ended before two partial fits were seen (" << polls
                           << " polls)";
    EXPECT_EQ(st.code(), ErrorCode::kCancelled) << st.message();
    EXPECT_FALSE(s.busy());
    ASSERT_NE(s.explanation(), nullptr);
    EXPECT_TRUE(s.explanation_partial());
    EXPECT_LT(s.explanation()->stats.at("samples"), 400);
}

TEST_F(SessionThreadsTest, AJobThreadComputesWhatOneThreadComputes) {
    s.set_job_batch(25);
    s.request(lime(150));
    ASSERT_TRUE(s.run_pending());
    const Tensor alone = s.explanation()->map.clone();
    s.request(lime(151));  // something else in between, so the same request runs again
    ASSERT_TRUE(s.run_pending());
    {
        StateLock lock(s.state_mutex());
        s.request(lime(150));
    }
    Status st;
    {
        JobThread job([&] { st = s.run_pending(); });
        while (!job.done()) {
            StateLock lock(s.state_mutex());
            if (s.explanation()) map_sum(*s.explanation());
        }
    }
    ASSERT_TRUE(st) << st.message();
    StateLock lock(s.state_mutex());
    ASSERT_FALSE(s.explanation_partial());
    const Tensor& threaded = s.explanation()->map;
    ASSERT_EQ(threaded.size(), alone.size());
    float max_ref = 0, max_diff = 0;
    for (int64_t i = 0; i < alone.size(); ++i) {
        max_ref = std::max(max_ref, std::abs(alone[i]));
        max_diff = std::max(max_diff, std::abs(alone[i] - threaded[i]));
    }
    EXPECT_LE(max_diff, 1e-5f * max_ref);
}

// The platform's job loop for the extra panels (platform_web.cpp), while this thread changes
// what the panels want: results for what is no longer wanted are dropped, never shown.
TEST_F(SessionThreadsTest, PanelStepsOnAJobThreadFollowWhatTheUiWants) {
    PanelWork w;
    ExplainRequest saliency, gradcam;
    saliency.method = "saliency";
    gradcam.method = "gradcam";
    int layer = -1;
    {
        StateLock lock(s.state_mutex());
        w.grid.want(s, saliency);
        w.layers.sync(s);
        for (const LayerInfo& l : w.layers.layers)
            if (l.spatial() && layer < 0 && l.node > 3) layer = l.node;
        ASSERT_GE(layer, 0);
        w.layers.want_maps(layer);
    }
    std::atomic<bool> stop{false};
    Status first;
    {
        JobThread job([&] {
            while (!stop) {
                {
                    StateLock lock(s.state_mutex());
                    if (!panels_busy(s, w)) {
                        lock.unlock();
                        std::this_thread::yield();
                        continue;
                    }
                    s.set_background_work(true);
                }
                Status st = step_panels(s, w, [&](float) { return true; });
                StateLock lock(s.state_mutex());
                s.set_background_work(false);
                if (!st && first) first = st;
            }
        });
        bool switched = false;
        for (;;) {
            StateLock lock(s.state_mutex());
            for (const Explanation& e : w.grid.maps) {
                EXPECT_EQ(e.method, switched ? "gradcam" : e.method);
                map_sum(e);
            }
            if (!switched && w.grid.maps.size() >= 2) {
                w.grid.want(s, gradcam);
                switched = true;
            }
            if (switched && w.grid.complete(s) && w.layers.maps && !panels_busy(s, w)) break;
            lock.unlock();
            std::this_thread::yield();
        }
        stop = true;
    }
    ASSERT_TRUE(first) << first.message();
    StateLock lock(s.state_mutex());
    ASSERT_EQ(w.grid.maps.size(), s.class_names().size());
    for (const Explanation& e : w.grid.maps) EXPECT_EQ(e.method, "gradcam");
    EXPECT_EQ(w.layers.maps_node, layer);
    EXPECT_FALSE(s.busy());
}

}  // namespace
}  // namespace cnnlens::app

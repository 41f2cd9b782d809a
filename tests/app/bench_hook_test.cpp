// wasm/app/bench_hook.cpp natively: the page's forward benchmark returns a time and the thread
// count it ran, restores the previous count, times each node when asked, and refuses bad
// arguments with a message.
#include "wasm/app/bench_hook.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/kernels/kernels.h"
#include "tests/test_util.h"
#include "wasm/app/session.h"

namespace cnnlens::app {
namespace {

// The hook's thread count stays from call to call (no pool resize per sample) until
// end_bench_threads() puts the app's back.
TEST(BenchHook, TimesForwardPassesAndRestoresThreads) {
    Session s;
    EXPECT_NE(bench_forward_json(s, 1, 1, 1, false).find("\"error\":\"no model is loaded\""),
              std::string::npos);
    ASSERT_TRUE(s.load_models(directory_source(test::source_path("models/fer2013-mini-xception")),
                              directory_source(test::source_path("models/blazeface"))));
    const int before = kernel_threads();
    for (int threads : {1, 2}) {
        const auto j = nlohmann::json::parse(bench_forward_json(s, 3, 2, threads, false));
        ASSERT_FALSE(j.contains("error")) << j.dump();
        EXPECT_GT(j["ms_per_image"].get<double>(), 0.0);
        EXPECT_EQ(j["batch"], 3);
        EXPECT_EQ(j["runs"], 2);
        EXPECT_GE(j["threads"].get<int>(), 1);
        EXPECT_LE(j["threads"].get<int>(), threads);
        EXPECT_EQ(j["kernels"], std::string(s.kernels_name()));
        ASSERT_TRUE(j["passes"].is_array());
        EXPECT_EQ(j["passes"].size(), 2u);
        for (const auto& p : j["passes"]) EXPECT_GT(p.get<double>(), 0.0);
        EXPECT_EQ(kernel_threads(), j["threads"].get<int>());
    }
    // With profile, each node that ran has its ms per image, slowest first, under the whole
    // pass's time over all of them.
    const auto p = nlohmann::json::parse(bench_forward_json(s, 2, 2, 1, true));
    ASSERT_TRUE(p["nodes"].is_array()) << p.dump();
    EXPECT_GE(p["nodes"].size(), 10u);
    double sum = 0, last = 1e30;
    bool conv = false;
    for (const auto& n : p["nodes"]) {
        ASSERT_EQ(n.size(), 3u);
        EXPECT_FALSE(n[0].get<std::string>().empty());
        conv |= n[1] == "Conv2D";
        const double ms = n[2].get<double>();
        EXPECT_GT(ms, 0.0);
        EXPECT_LE(ms, last);
        last = ms;
        sum += ms;
    }
    EXPECT_TRUE(conv);
    EXPECT_LT(sum, 10 * p["ms_per_image"].get<double>() + 1.0);
    EXPECT_FALSE(nlohmann::json::parse(bench_forward_json(s, 1, 1, 1, false)).contains("nodes"));
    end_bench_threads();
    EXPECT_EQ(kernel_threads(), before);
    end_bench_threads();  // nothing left to restore
    EXPECT_EQ(kernel_threads(), before);
    EXPECT_NE(bench_forward_json(s, 0, 1, 1, false).find("batch must be 1..256, got 0"),
              std::string::npos);
    EXPECT_NE(bench_forward_json(s, 1, 0, 1, false).find("runs must be 1..1000, got 0"),
              std::string::npos);
    EXPECT_NE(bench_forward_json(s, 1, 1, 99, false).find("threads must be 1..64, got 99"),
              std::string::npos);
}

}  // namespace
}  // namespace cnnlens::app

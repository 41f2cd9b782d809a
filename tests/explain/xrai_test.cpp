// XRAI (issue 18): the regions are nested by attribution on the bundled model (ranks cover the
// image, each region shows the mean attribution of its pixels, gains fall with rank, the first
// region is the densest), the map keeps the attribution's sum, segmentations that do not fit
// are refused. The oracle comparison is in shap_oracle_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "core/explain/explain.h"
#include "core/explain/method_util.h"
#include "core/image/image.h"
#include "core/kernels/kernels.h"
#include "tests/test_util.h"

namespace cnnlens {
// A named namespace: the suite may compile as a unity build, where file-local names must not meet.
namespace xrai_test {

Tensor face() {
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    EXPECT_TRUE(img);
    return image_to_input(*img, test::default_model().spec.input);
}

TEST(Xrai, RegionsAreNestedByAttribution) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    ExplainContext ctx(probe);
    for (Target t : {Target{3}, Target{3, 4}}) {
        SCOPED_TRACE("contrast " + std::to_string(t.contrast));
        auto e = find_method("xrai")->explain(face(), t, Params().set("steps", 20), ctx);
        ASSERT_TRUE(e) << e.status().message();
        const Tensor& ranks = e->extras.at("ranks");
        const Tensor& ig = e->extras.at("ig");
        const int regions = static_cast<int>(e->stats["regions"]);
        ASSERT_GE(regions, 5);
        EXPECT_GT(e->stats["candidates"], regions);
        std::map<int, std::pair<double, int>> sum;  // rank -> (ig sum, pixels)
        std::map<int, float> value;
        double map_sum = 0, ig_sum = 0;
        for (int64_t i = 0; i < ranks.size(); ++i) {
            const int r = static_cast<int>(ranks[i]);
            ASSERT_GE(r, 1);
            ASSERT_LE(r, regions + 1);
            sum[r].first += ig[i];
            ++sum[r].second;
            if (!value.count(r)) value[r] = e->map[i];
            EXPECT_EQ(e->map[i], value[r]) << "one value per region";
            map_sum += e->map[i];
            ig_sum += ig[i];
        }
        EXPECT_NEAR(map_sum, ig_sum, 1e-4 * std::fabs(ig_sum) + 1e-6);
        float top = -INFINITY;
        for (int64_t i = 0; i < e->map.size(); ++i) top = std::max(top, e->map[i]);
        EXPECT_EQ(value.at(1), top) << "rank 1 is the densest region";
        for (const auto& [r, s] : sum) {
            EXPECT_NEAR(value.at(r), s.first / s.second, 1e-5)
                << "rank " << r << " shows its pixels' mean";
            if (r > 1 && r <= regions) {
                EXPECT_LE(value.at(r), value.at(r - 1)) << "rank " << r;
            }
        }
        EXPECT_LT(e->stats["completeness_relative_error"], 0.05);
    }
}

// A region must add min_pixel_diff pixels: at the image's size only the first region qualifies.
TEST(Xrai, MinPixelDiffAndMismatchedSegments) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    ExplainContext ctx(probe);
    auto e = find_method("xrai")->explain(
        face(), Target{3}, Params().set("steps", 4).set("min_pixel_diff", 4096), ctx);
    ASSERT_TRUE(e) << e.status().message();
    EXPECT_LE(e->stats["regions"], 1);
    Segmentation small{32, 32, 1, std::vector<int>(1024, 0)};
    auto bad = xrai_on_segments(*find_method("xrai"), face(), Target{3}, Params(), ctx,
                                std::span<const Segmentation>(&small, 1));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("32x32"), std::string::npos) << bad.status().message();
}

}  // namespace xrai_test
}  // namespace cnnlens

// Feature maps on the bundled FER2013 model: shapes, channel-major activations, colour ranges.
#include "core/explain/feature_maps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "core/import/model.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using test::layer_node;

Tensor face_input(const Model& m) {
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    EXPECT_TRUE(img.has_value());
    return image_to_input(*img, m.spec.input);
}

TEST(FeatureMaps, ShapesAndRanges) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    const Tensor x = face_input(test::default_model());
    for (const LayerInfo& l : probe.layers()) {
        if (l.op == "Input") continue;
        auto fm = feature_maps(probe, x, l.node);
        ASSERT_TRUE(fm.has_value()) << l.name << ": " << fm.status().message();
        SCOPED_TRACE(l.name);
        EXPECT_EQ(fm->layer, l.name);
        const int c = static_cast<int>(l.shape.dim(-1));
        EXPECT_EQ(fm->channels, c);
        EXPECT_EQ(fm->height, l.spatial() ? l.shape[1] : 1);
        EXPECT_EQ(fm->width, l.spatial() ? l.shape[2] : 1);
        EXPECT_EQ(fm->maps.shape(), (Shape{c, fm->height, fm->width}));
        ASSERT_EQ(fm->channel_min.size(), static_cast<size_t>(c));
        const int64_t hw = int64_t{fm->height} * fm->width;
        for (int k = 0; k < c; ++k) {
            const float* m = fm->maps.data() + k * hw;
            EXPECT_EQ(*std::min_element(m, m + hw), fm->channel_min[static_cast<size_t>(k)]);
            EXPECT_EQ(*std::max_element(m, m + hw), fm->channel_max[static_cast<size_t>(k)]);
        }
        EXPECT_EQ(fm->layer_min, *std::min_element(fm->channel_min.begin(), fm->channel_min.end()));
        EXPECT_EQ(fm->layer_max, *std::max_element(fm->channel_max.begin(), fm->channel_max.end()));
    }
}

TEST(FeatureMaps, MatchActivationsChannelMajor) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    const Tensor x = face_input(test::default_model());
    const int node = layer_node(probe, test::kFerEarlyLayer);
    auto fm = feature_maps(probe, x, node);
    ProbeRequest r;
    r.layers = {node};
    auto res = probe.run(x, r);
    ASSERT_TRUE(fm && res);
    const Tensor& a = res->activations[0];  // [1, 29, 29, 64]
    EXPECT_EQ(fm->maps[(7 * 29 + 3) * 29 + 11], a[(3 * 29 + 11) * 64 + 7]);
}

TEST(FeatureMaps, ScaleModes) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    const Tensor x = face_input(test::default_model());
    auto global = global_activation_range(probe, x);
    ASSERT_TRUE(global.has_value()) << global.status().message();
    EXPECT_LT(global->lo, global->hi);
    for (const char* name :
         {test::kFerEarlyLayer, test::kFerMidLayer, "batch_normalization_2/FusedBatchNormV3"}) {
        auto fm = feature_maps(probe, x, layer_node(probe, name));
        ASSERT_TRUE(fm.has_value());
        SCOPED_TRACE(name);
        EXPECT_LE(global->lo, fm->layer_min);
        EXPECT_GE(global->hi, fm->layer_max);
        for (int k = 0; k < fm->channels; k += 7) {
            const ValueRange per_map = map_range(*fm, k, MapScale::kPerMap);
            const ValueRange per_layer = map_range(*fm, k, MapScale::kPerLayer);
            const ValueRange all = map_range(*fm, k, MapScale::kGlobal, *global);
            EXPECT_LT(per_map.lo, per_map.hi);
            if (fm->channel_max[static_cast<size_t>(k)] > fm->channel_min[static_cast<size_t>(k)]) {
                EXPECT_EQ(per_map.lo, fm->channel_min[static_cast<size_t>(k)]);
                EXPECT_EQ(per_map.hi, fm->channel_max[static_cast<size_t>(k)]);
            }
            EXPECT_EQ(per_layer.lo, fm->layer_min);
            EXPECT_EQ(per_layer.hi, fm->layer_max);
            EXPECT_EQ(all.lo, global->lo);
            EXPECT_EQ(all.hi, global->hi);
            const ValueRange sym = map_range(*fm, k, MapScale::kPerLayer, {}, true);
            EXPECT_EQ(sym.lo, -sym.hi);
            EXPECT_EQ(sym.hi, std::max(std::fabs(fm->layer_min), std::fabs(fm->layer_max)));
        }
    }
}

TEST(FeatureMaps, ConstantMapGetsAUsableRange) {
    FeatureMaps fm;
    fm.channels = 1;
    fm.channel_min = {0.f};
    fm.channel_max = {0.f};
    const ValueRange r = map_range(fm, 0, MapScale::kPerMap);
    EXPECT_EQ(r.lo, 0.f);
    EXPECT_EQ(r.hi, 1.f);
    const ValueRange s = map_range(fm, 0, MapScale::kPerMap, {}, true);
    EXPECT_EQ(s.lo, -1.f);
    EXPECT_EQ(s.hi, 1.f);
}

TEST(FeatureMaps, RejectsABatch) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    auto fm = feature_maps(probe, Tensor(Shape{2, 64, 64, 1}, 0.5f),
                           layer_node(probe, test::kFerEarlyLayer));
    ASSERT_FALSE(fm.has_value());
    EXPECT_NE(fm.status().message().find("[1, H, W, C]"), std::string::npos);
}

}  // namespace
}  // namespace cnnlens

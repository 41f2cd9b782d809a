// On the bundled model and real faces, the trust metrics tell a real map from a random one:
// imputing the pixels a map ranks first (ROAD MoRF) lowers the class probability more than
// imputing those it ranks last (LeRF) and more than imputing a random map's first pixels, and a
// random map has no faithfulness correlation to speak of.
#include <gtest/gtest.h>

#include <cmath>

#include "core/eval/metric.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

TEST(TrustOnFaces, MapsBeatARandomMap) {
    auto model = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(model) << model.status().message();
    GraphProbe probe(*model, *select_kernel_set());
    const std::vector<float> inputs =
        test::read_f32(test::source_path("tests/data/oracle/inputs.f32"));
    ASSERT_GE(inputs.size(), size_t(3 * 4096));
    const MetricDef* metrics[] = {find_metric("road_morf"), find_metric("road_lerf"),
                                  find_metric("faithfulness_correlation")};
    const std::vector<int> faces = test::kUnderAsan ? std::vector<int>{0} : std::vector<int>{0, 2};
    for (int face : faces) {
        MetricInput in;
        in.probe = &probe;
        in.image = Tensor(Shape{1, 64, 64, 1});
        std::copy(inputs.begin() + face * 4096, inputs.begin() + (face + 1) * 4096,
                  in.image.data());
        auto pred = probe.run(in.image, ProbeRequest{});
        ASSERT_TRUE(pred);
        in.target.cls = argmax_rows(pred->probs)[0];
        Rng rng(9);
        in.map = test::random_tensor({64, 64}, rng, 0.f, 1.f);
        auto random = compute_metrics(in, metrics);
        ASSERT_TRUE(random) << random.status().message();
        for (const char* name : {"saliency", "gradcam"}) {
            SCOPED_TRACE(testing::Message() << "face " << face << " " << name);
            const ExplanationMethod* m = find_method(name);
            ExplainContext ctx(probe);
            Target t = in.target;
            t.score = m->traits().default_score;
            auto e = m->explain(in.image, t, {}, ctx);
            ASSERT_TRUE(e) << e.status().message();
            in.map = std::move(e->map);
            auto v = compute_metrics(in, metrics);
            ASSERT_TRUE(v) << v.status().message();
            EXPECT_LT((*v)[0], (*v)[1]) << "MoRF vs LeRF";
            EXPECT_LT((*v)[0], (*random)[0]) << "MoRF vs a random map's MoRF";
        }
        EXPECT_LT(std::fabs((*random)[2]), 0.3);
    }
}

}  // namespace
}  // namespace cnnlens

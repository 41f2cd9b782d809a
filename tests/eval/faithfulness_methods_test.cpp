// On the bundled model and real faces: deleting pixels in the order of an explanation lowers
// the class probability faster than deleting them in random order — for saliency, SmoothGrad,
// Integrated Gradients and LIME.
#include <gtest/gtest.h>

#include "core/eval/faithfulness.h"
#include "core/explain/explain.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

TEST(FaithfulnessOnFaces, MethodsBeatRandomDeletion) {
    auto model = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(model) << model.status().message();
    GraphProbe probe(*model, *select_kernel_set());
    const std::vector<float> inputs =
        test::read_f32(test::source_path("tests/data/oracle/inputs.f32"));
    ASSERT_GE(inputs.size(), size_t(3 * 4096));
    // The astronaut and an LFW face, both confidently happy; under ASan (a check of memory, not
    // of numbers, run once anyway) the astronaut only.
    const std::vector<int> faces = test::kUnderAsan ? std::vector<int>{0} : std::vector<int>{0, 2};
    for (int face : faces) {
        Tensor x(Shape{1, 64, 64, 1});
        std::copy(inputs.begin() + face * 4096, inputs.begin() + (face + 1) * 4096, x.data());
        auto pred = probe.run(x, ProbeRequest{});
        ASSERT_TRUE(pred);
        const int cls = argmax_rows(pred->probs)[0];
        for (const char* name : {"saliency", "smoothgrad", "ig", "lime"}) {
            SCOPED_TRACE(testing::Message() << "face " << face << " " << name);
            ExplainContext ctx(probe);
            ctx.seed = 3;
            Params p;
            if (std::string(name) == "lime") p.set("samples", 500);
            const ExplanationMethod* m = find_method(name);
            ASSERT_NE(m, nullptr);
            Target t{cls};
            t.score = m->traits().default_score;
            auto e = m->explain(x, t, p, ctx);
            ASSERT_TRUE(e) << e.status().message();
            FaithfulnessOptions o;
            o.random_orders = 3;
            auto f = deletion_insertion(probe, x, e->map, cls, o);
            ASSERT_TRUE(f) << f.status().message();
            EXPECT_LT(f->deletion.auc, f->deletion_random.auc)
                << "deletion AUC " << f->deletion.auc << " vs random " << f->deletion_random.auc;
        }
    }
}

}  // namespace
}  // namespace cnnlens

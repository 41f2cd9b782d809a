// The bundled model against the outside oracle: TF.js (cpu backend) run by node on the same
// inputs (tests/oracle/tfjs_oracle.mjs writes the expected values into CNNLENS_ORACLE_DIR).
// Probabilities must match to 1e-5 absolute, input gradients of the class-3 logit and
// probability to 1e-4 relative (L2), on every compiled kernel set, batched and one by one.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/graph/executor.h"
#include "core/import/model.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

std::string oracle_dir() {
    const char* e = std::getenv("CNNLENS_ORACLE_DIR");
    return e && *e ? e : test::source_path("build/oracle");
}

struct Oracle {
    int count = 0;
    std::vector<float> inputs, probs, logits, grad_logit3, grad_prob3;
};

Oracle read_oracle() {
    Oracle o;
    const std::string d = oracle_dir();
    o.inputs = test::read_f32(test::source_path("tests/data/oracle/inputs.f32"));
    o.probs = test::read_f32(d + "/probs.f32");
    o.logits = test::read_f32(d + "/logits.f32");
    o.grad_logit3 = test::read_f32(d + "/grad_logit3.f32");
    o.grad_prob3 = test::read_f32(d + "/grad_prob3.f32");
    o.count = static_cast<int>(o.inputs.size() / 4096);
    return o;
}

class OracleTest : public ::testing::TestWithParam<const KernelSet*> {};

TEST_P(OracleTest, MatchesTfjs) {
    const Oracle o = read_oracle();
    ASSERT_EQ(o.count, 6);
    ASSERT_EQ(o.probs.size(), size_t(6 * 7))
        << "no TF.js oracle output in " << oracle_dir()
        << "; run: node tests/oracle/tfjs_oracle.mjs --out " << oracle_dir();
    ASSERT_EQ(o.grad_logit3.size(), o.inputs.size());
    auto model = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(model) << model.status().message();
    Executor ex(model->graph, *GetParam());
    const int input = model->graph.input();

    // Batched (all cases at once) and one image at a time must both agree with the oracle.
    for (int b : {o.count, 1}) {
        SCOPED_TRACE(testing::Message() << "batch " << b);
        for (int first = 0; first < o.count; first += b) {
            Tensor x(Shape{b, 64, 64, 1});
            std::copy(o.inputs.begin() + first * 4096, o.inputs.begin() + (first + b) * 4096,
                      x.data());
            ASSERT_TRUE(ex.forward(x).is_ok());
            const Tensor& p = ex.value(model->probs);
            EXPECT_LT(test::max_abs_diff(p.data(), o.probs.data() + first * 7, b * 7), 1e-5);
            EXPECT_LT(test::max_abs_diff(ex.value(model->logits).data(),
                                         o.logits.data() + first * 7, b * 7),
                      1e-4);

            std::vector<Tensor> g;
            std::vector<Seed> seeds;
            seeds.push_back({model->logits, seed_class(ex.value(model->logits).shape(), 3)});
            ASSERT_TRUE(ex.backward(seeds, {&input, 1}, ReluRule::kStandard, g).is_ok());
            for (int k = 0; k < b; ++k)
                EXPECT_LT(test::rel_l2(g[0].data() + k * 4096,
                                       o.grad_logit3.data() + (first + k) * 4096, 4096),
                          1e-4)
                    << "logit grad, case " << first + k;

            seeds.clear();
            seeds.push_back({model->probs, seed_class(p.shape(), 3)});
            ASSERT_TRUE(ex.backward(seeds, {&input, 1}, ReluRule::kStandard, g).is_ok());
            for (int k = 0; k < b; ++k) {
                // Case 0 is 99.995 % happy: the probability gradient is ~1e-5 of the logit's
                // and float32 softmax cancellation leaves ~1e-3 relative noise in TF.js itself.
                const double tol = first + k == 0 ? 5e-3 : 1e-4;
                EXPECT_LT(test::rel_l2(g[0].data() + k * 4096,
                                       o.grad_prob3.data() + (first + k) * 4096, 4096),
                          tol)
                    << "prob grad, case " << first + k;
            }
        }
    }
}

TEST_P(OracleTest, AstronautFaceIsHappyThroughTheImagePipeline) {
    auto model = load_model(test::source_path("models/fer2013-mini-xception"));
    ASSERT_TRUE(model) << model.status().message();
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    ASSERT_TRUE(img) << img.status().message();
    Tensor x = image_to_input(*img, model->spec.input);
    // Our decode + gray + area resampling equals the NumPy preprocessing of the fixture.
    const std::vector<float> expected =
        test::read_f32(test::source_path("tests/data/oracle/inputs.f32"));
    ASSERT_GE(expected.size(), size_t(4096));
    EXPECT_LT(test::max_abs_diff(x.data(), expected.data(), 4096), 1e-5);
    Executor ex(model->graph, *GetParam());
    ASSERT_TRUE(ex.forward(x).is_ok());
    const Tensor& p = ex.value(model->probs);
    EXPECT_EQ(std::max_element(p.data(), p.data() + 7) - p.data(), 3)
        << "the astronaut must come out happy";
    EXPECT_GT(p[3], 0.99f);
}

INSTANTIATE_TEST_SUITE_P(AllSets, OracleTest,
                         ::testing::ValuesIn(compiled_kernel_sets().begin(),
                                             compiled_kernel_sets().end()),
                         [](const testing::TestParamInfo<const KernelSet*>& i) {
                             return test::kernel_test_name(*i.param);
                         });

}  // namespace
}  // namespace cnnlens

// GraphProbe: batches run in cache-sized pieces, in parallel with more than one kernel thread;
// the results must not depend on either.
#include "core/explain/probe.h"

#include <gtest/gtest.h>

#include "core/base/rng.h"
#include "core/base/thread_pool.h"
#include "core/import/model.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

const Model& fer() { return test::default_model(); }

Tensor random_batch(int n, uint64_t seed) {
    const InputSpec& in = fer().spec.input;
    Tensor x(Shape{n, in.height, in.width, in.channels});
    Rng rng(seed);
    for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(in.range_lo, in.range_hi);
    return x;
}

TEST(GraphProbe, PiecesFitTheCache) {
    // The default model's largest activation (29x29x128 floats, 430 KB) fills the budget alone.
    EXPECT_EQ(cache_chunk(fer().graph, 64), 1);
    EXPECT_GE(fer().graph.peak_node_bytes_per_image(), 29 * 29 * 128 * 4);
}

// Scores, input gradients and a layer's activations of an 11-image batch: one Executor call per
// image, then the same with 2 and 3 kernel threads (pieces in parallel), bit for bit.
TEST(GraphProbe, ResultsDoNotDependOnThreads) {
    const Tensor x = random_batch(11, 5);
    for (const KernelSet* ks : compiled_kernel_sets()) {
        if (ks == &reference_kernels()) continue;  // slow, and its loops are not split
        SCOPED_TRACE(std::string(ks->name));
        GraphProbe single(fer(), *ks);
        ProbeRequest scores;
        ProbeRequest grads;
        grads.target = Target{3};
        grads.input_gradient = true;
        grads.layers = {single.layers()[3].node};
        auto run = [&](int threads, const ProbeRequest& r) {
            set_kernel_threads(threads);
            GraphProbe probe(fer(), *ks);
            auto res = probe.run(x, r);
            set_kernel_threads(1);
            EXPECT_TRUE(res.has_value()) << res.status().message();
            return res.has_value() ? std::move(res).value() : ProbeResult{};
        };
        for (const ProbeRequest* r : {&scores, &grads}) {
            const ProbeResult one = run(1, *r);
            ASSERT_EQ(one.logits.size(), 11 * 7);
            // Piece by piece equals one image at a time.
            for (int i : {0, 6, 10}) {
                Tensor xi(Shape{1, x.shape()[1], x.shape()[2], x.shape()[3]});
                std::copy(x.data() + i * xi.size(), x.data() + (i + 1) * xi.size(), xi.data());
                auto ri = single.run(xi, *r);
                ASSERT_TRUE(ri.has_value());
                for (int c = 0; c < 7; ++c) EXPECT_EQ(ri->logits[c], one.logits[i * 7 + c]);
            }
            for (int threads : {2, 3}) {
                const ProbeResult many = run(threads, *r);
                SCOPED_TRACE(std::to_string(threads) + " threads");
                ASSERT_EQ(many.logits.size(), one.logits.size());
                for (int64_t i = 0; i < one.logits.size(); ++i)
                    ASSERT_EQ(many.logits[i], one.logits[i]);
                for (int64_t i = 0; i < one.probs.size(); ++i)
                    ASSERT_EQ(many.probs[i], one.probs[i]);
                ASSERT_EQ(many.input_grad.size(), one.input_grad.size());
                for (int64_t i = 0; i < one.input_grad.size(); ++i)
                    ASSERT_EQ(many.input_grad[i], one.input_grad[i]);
                ASSERT_EQ(many.activations.size(), one.activations.size());
                for (size_t k = 0; k < one.activations.size(); ++k) {
                    ASSERT_EQ(many.activations[k].shape(), one.activations[k].shape());
                    for (int64_t i = 0; i < one.activations[k].size(); ++i)
                        ASSERT_EQ(many.activations[k][i], one.activations[k][i]);
                    ASSERT_EQ(many.activation_grads[k].size(), one.activation_grads[k].size());
                    for (int64_t i = 0; i < one.activation_grads[k].size(); ++i)
                        ASSERT_EQ(many.activation_grads[k][i], one.activation_grads[k][i]);
                }
            }
        }
    }
}

// Replacing a layer's activations (Ablation-CAM's door): with the layer's own activations,
// every row gives the image's scores, for a layer whose residual Add reads a branch that skips
// it (block3_sepconv2_bn, node 15: add_2 also reads the 1x1 shortcut conv) and for the last
// conv; with 1 and 2 kernel threads. Zeroing a channel of the last conv, which global average
// pooling reads, lowers that class's logit by the channel's mean and leaves the others.
TEST(GraphProbe, ReplacedActivationsRunFromTheLayer) {
    const Tensor x = random_batch(1, 9);
    const Graph& g = fer().graph;
    for (const char* name : {"StatefulPartitionedCall/model_1/block3_sepconv2_bn/FusedBatchNormV3",
                             "StatefulPartitionedCall/model_1/conv2d_5/BiasAdd"}) {
        SCOPED_TRACE(name);
        const int layer = g.find(name);
        ASSERT_GE(layer, 0);
        for (int threads : {1, 2}) {
            set_kernel_threads(threads);
            GraphProbe probe(fer(), *select_kernel_set());
            ProbeRequest acts;
            acts.layers = {layer};
            auto base = probe.run(x, acts);
            ASSERT_TRUE(base) << base.status().message();
            const Tensor& A = base->activations[0];
            const int64_t per = A.size(), k = A.shape()[3];
            Tensor values(Shape{5, A.shape()[1], A.shape()[2], k});
            for (int64_t r = 0; r < 5; ++r)
                std::copy(A.data(), A.data() + per, values.data() + r * per);
            std::vector<double> mean(static_cast<size_t>(k), 0.0);
            for (int64_t i = 0; i < per; ++i)
                mean[static_cast<size_t>(i % k)] += A[i] / double(per / k);
            // Rows 3 and 4 zero channels 3 and 0 (only read below for the last conv, k = 7).
            for (int64_t i = 0; i < per; i += k)
                values[3 * per + i + 3] = 0.f, values[4 * per + i] = 0.f;
            ProbeRequest replace;
            replace.replace = ProbeRequest::Replace{layer, &values};
            auto res = probe.run(x, replace);
            set_kernel_threads(1);
            ASSERT_TRUE(res) << res.status().message();
            ASSERT_EQ(res->logits.shape(), (Shape{5, 7}));
            for (int64_t r = 0; r < 3; ++r)
                for (int c = 0; c < 7; ++c)
                    EXPECT_NEAR(res->logits[r * 7 + c], base->logits[c], 1e-5)
                        << "row " << r << " class " << c;
            if (k != 7) continue;
            for (int c = 0; c < 7; ++c) {
                EXPECT_NEAR(res->logits[3 * 7 + c], base->logits[c] - (c == 3 ? mean[3] : 0.0),
                            1e-5)
                    << "class " << c;
                EXPECT_NEAR(res->logits[4 * 7 + c], base->logits[c] - (c == 0 ? mean[0] : 0.0),
                            1e-5)
                    << "class " << c;
            }
        }
    }
}

TEST(GraphProbe, ReplaceRefusesWhatItCannotDo) {
    GraphProbe probe(fer(), *select_kernel_set());
    const Graph& g = fer().graph;
    const int layer = g.find("StatefulPartitionedCall/model_1/conv2d_5/BiasAdd");
    Tensor values(Shape{2, 8, 8, 7}, 0.f), wrong(Shape{2, 8, 8, 6}, 0.f);
    auto message = [&](const Tensor& batch, ProbeRequest r) {
        auto res = probe.run(batch, r);
        EXPECT_FALSE(res);
        return res ? std::string() : res.status().message();
    };
    ProbeRequest r;
    r.replace = ProbeRequest::Replace{layer, &values};
    EXPECT_NE(message(random_batch(2, 1), r).find("needs one image"), std::string::npos);
    ProbeRequest bad_shape = r;
    bad_shape.replace->values = &wrong;
    EXPECT_NE(message(random_batch(1, 1), bad_shape).find("[2,8,8,6] cannot replace"),
              std::string::npos)
        << message(random_batch(1, 1), bad_shape);
    ProbeRequest with_grad = r;
    with_grad.target = Target{3};
    EXPECT_NE(message(random_batch(1, 1), with_grad).find("class scores only"), std::string::npos);
    ProbeRequest after = r;
    after.replace->layer = g.find("StatefulPartitionedCall/model_1/predictions/Softmax");
    Tensor probs(Shape{2, 7}, 0.f);
    after.replace->values = &probs;
    EXPECT_NE(message(random_batch(1, 1), after).find("does not lead to the class scores"),
              std::string::npos);
}

}  // namespace
}  // namespace cnnlens

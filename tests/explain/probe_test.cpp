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
                for (int64_t i = 0; i < one.logits.size(); ++i) ASSERT_EQ(many.logits[i], one.logits[i]);
                for (int64_t i = 0; i < one.probs.size(); ++i) ASSERT_EQ(many.probs[i], one.probs[i]);
                ASSERT_EQ(many.input_grad.size(), one.input_grad.size());
                for (int64_t i = 0; i < one.input_grad.size(); ++i) ASSERT_EQ(many.input_grad[i], one.input_grad[i]);
                ASSERT_EQ(many.activations.size(), one.activations.size());
                for (size_t k = 0; k < one.activations.size(); ++k) {
                    ASSERT_EQ(many.activations[k].shape(), one.activations[k].shape());
                    for (int64_t i = 0; i < one.activations[k].size(); ++i) ASSERT_EQ(many.activations[k][i], one.activations[k][i]);
                    ASSERT_EQ(many.activation_grads[k].size(), one.activation_grads[k].size());
                    for (int64_t i = 0; i < one.activation_grads[k].size(); ++i) ASSERT_EQ(many.activation_grads[k][i], one.activation_grads[k][i]);
                }
            }
        }
    }
}

}  // namespace
}  // namespace cnnlens

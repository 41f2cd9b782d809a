// Memory of the engine on a ResNet-like graph (a stem, bottleneck blocks with projections, global
// pooling, a dense head), measured with the engine's own counter (core/base/memory.h): what
// graph_memory() measures against, an input gradient's peak against 1.5x (weights +
// activations), and a forward-only pass that keeps only what later nodes read.
#include "core/graph/memory_plan.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/base/memory.h"
#include "core/graph/executor.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

struct ResNetLike {
    Graph g;
    int input = -1, logits = -1;
};

class ResNetBuilder {
public:
    explicit ResNetBuilder(Graph& g) : g_(g), rng_(5) {}

    int conv(int x, int in_c, int out_c, int k, int stride, Activation act) {
        ConvAttrs a;
        a.padding = PaddingMode::kExplicit;
        a.stride_h = a.stride_w = stride;
        a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = k / 2;
        a.activation = act;
        const std::string n = std::to_string(next_++);
        const int w =
            g_.add_const("w" + n, test::random_tensor({k, k, in_c, out_c}, rng_, -0.2f, 0.2f));
        const int b = g_.add_const("b" + n, test::random_tensor({out_c}, rng_, -0.1f, 0.1f));
        return g_.add_node("conv" + n, OpType::kConv2D, a, {x, w, b});
    }
    // 1x1 reduce, 3x3 (strided), 1x1 expand without activation; a projection when the shape
    // changes; Add, then Relu.
    int bottleneck(int x, int in_c, int mid, int out_c, int stride) {
        const int a = conv(x, in_c, mid, 1, 1, Activation::kRelu);
        const int b = conv(a, mid, mid, 3, stride, Activation::kRelu);
        const int c = conv(b, mid, out_c, 1, 1, Activation::kNone);
        const int skip =
            stride == 1 && in_c == out_c ? x : conv(x, in_c, out_c, 1, stride, Activation::kNone);
        const std::string n = std::to_string(next_++);
        const int sum = g_.add_node("add" + n, OpType::kAdd, NoAttrs{}, {c, skip});
        return g_.add_node("relu" + n, OpType::kRelu, NoAttrs{}, {sum});
    }
    int dense(int x, int in, int out) {
        const int w = g_.add_const("fc_w", test::random_tensor({in, out}, rng_, -0.1f, 0.1f));
        const int b = g_.add_const("fc_b", test::random_tensor({out}, rng_, -0.1f, 0.1f));
        return g_.add_node("fc", OpType::kMatMul, MatMulAttrs{}, {x, w, b});
    }

private:
    Graph& g_;
    Rng rng_;
    int next_ = 0;
};

// 48x48x3 in, stages of 64, 128 and 256 channels at 48, 24 and 12 pixels, 10 classes.
ResNetLike resnet_like() {
    ResNetLike r;
    ResNetBuilder b(r.g);
    r.input = r.g.add_input("x", Shape{-1, 48, 48, 3});
    int y = b.conv(r.input, 3, 32, 3, 1, Activation::kRelu);
    y = b.bottleneck(y, 32, 16, 64, 1);
    y = b.bottleneck(y, 64, 16, 64, 1);
    y = b.bottleneck(y, 64, 32, 128, 2);
    y = b.bottleneck(y, 128, 32, 128, 1);
    y = b.bottleneck(y, 128, 64, 256, 2);
    y = r.g.add_node("pool", OpType::kMean, ReduceAttrs{{1, 2}, false}, {y});
    r.logits = b.dense(y, 256, 10);
    r.g.set_output(r.logits);
    EXPECT_TRUE(r.g.validate().is_ok());
    return r;
}

// The most bytes the engine held at once while `f` ran, beyond what it held before.
int64_t peak_during(const std::function<void()>& f) {
    const int64_t before = memory::live_bytes();
    memory::reset_peak();
    f();
    return memory::peak_bytes() - before;
}

TEST(MemoryPlan, GraphMemoryCountsConstantsOutputsAndWhatIsAliveAtOnce) {
    // y = relu(x) + x * c on [1, 4]: four outputs of 16 bytes; x and relu(x) are alive together
    // with mul, then add alone.
    Graph g;
    const int x = g.add_input("x", Shape{-1, 4});
    const int c = g.add_const("c", Tensor(Shape{4}, 0.5f));
    const int relu = g.add_node("relu", OpType::kRelu, NoAttrs{}, {x});
    const int mul = g.add_node("mul", OpType::kMul, NoAttrs{}, {x, c});
    const int add = g.add_node("add", OpType::kAdd, NoAttrs{}, {relu, mul});
    g.set_output(add);
    ASSERT_TRUE(g.validate().is_ok());
    const GraphMemory m = graph_memory(g);
    EXPECT_EQ(m.weight_bytes, 16);
    EXPECT_EQ(m.activation_bytes, 64);
    EXPECT_EQ(m.forward_plan_bytes, 48);  // x, relu and mul while mul runs
    // Relu reads its input (x), Mul its inputs (x and the constant), Add nothing: of the outputs
    // only x is read.
    const std::vector<char> read = read_by_backward(g);
    EXPECT_TRUE(read[static_cast<size_t>(x)]);
    EXPECT_FALSE(read[static_cast<size_t>(relu)]);
    EXPECT_FALSE(read[static_cast<size_t>(add)]);
    EXPECT_EQ(m.backward_tape_bytes, 16);
}

class MemoryPlanTest : public ::testing::TestWithParam<const KernelSet*> {};

// The target of issue #16 for the page: an input gradient (a fresh executor: its kernels are
// prepared within the measurement) holds at most 1.5x the weights plus one image's activations,
// and less than a pass that keeps the whole tape.
TEST_P(MemoryPlanTest, InputGradientPeakWithinOneAndAHalfWeightsPlusActivations) {
    const ResNetLike r = resnet_like();
    const GraphMemory m = graph_memory(r.g);
    Rng rng(3);
    const Tensor x = test::random_tensor({1, 48, 48, 3}, rng);
    const Seed seed{r.logits, seed_class(Shape{1, 10}, 3)};
    std::vector<Tensor> grads;
    const int64_t lean = peak_during([&] {
        Executor ex(r.g, *GetParam());
        ASSERT_TRUE(ex.forward_for_backward(x, {&r.logits, 1}).is_ok());
        ASSERT_TRUE(ex.backward({&seed, 1}, {&r.input, 1}, ReluRule::kStandard, grads).is_ok());
    });
    const int64_t full = peak_during([&] {
        Executor ex(r.g, *GetParam());
        ASSERT_TRUE(ex.forward(x).is_ok());
        ASSERT_TRUE(ex.backward({&seed, 1}, {&r.input, 1}, ReluRule::kStandard, grads).is_ok());
    });
    const double budget = 1.5 * static_cast<double>(m.weight_bytes + m.activation_bytes);
    EXPECT_LE(static_cast<double>(m.weight_bytes + lean), budget)
        << "W " << m.weight_bytes << ", A " << m.activation_bytes << ", backward tape "
        << m.backward_tape_bytes;
    EXPECT_LT(lean + (m.activation_bytes - m.backward_tape_bytes) / 2, full)
        << "the lean tape saves at least half of the values the backward does not read";
}

// A forward-only pass (LIME, occlusion) holds about the outputs alive at once, far below the
// whole tape, and a second pass allocates nothing new.
TEST_P(MemoryPlanTest, ForwardOnlyKeepsWhatLaterNodesRead) {
    const ResNetLike r = resnet_like();
    const GraphMemory m = graph_memory(r.g);
    ASSERT_LT(2 * m.forward_plan_bytes, m.activation_bytes);
    Rng rng(4);
    const Tensor x = test::random_tensor({1, 48, 48, 3}, rng);
    Executor ex(r.g, *GetParam());
    ASSERT_TRUE(ex.forward(x, {&r.logits, 1}).is_ok());
    const int64_t planned = ex.buffer_bytes();
    EXPECT_LE(planned, m.forward_plan_bytes * 5 / 4 + 4096);
    EXPECT_EQ(peak_during([&] { ASSERT_TRUE(ex.forward(x, {&r.logits, 1}).is_ok()); }), 0);
    ASSERT_TRUE(ex.forward(x).is_ok());
    EXPECT_GE(ex.buffer_bytes(), m.activation_bytes);
}

INSTANTIATE_TEST_SUITE_P(AllSets, MemoryPlanTest,
                         ::testing::ValuesIn(compiled_kernel_sets().begin(),
                                             compiled_kernel_sets().end()),
                         [](const testing::TestParamInfo<const KernelSet*>& i) {
                             return test::kernel_test_name(*i.param);
                         });

}  // namespace
}  // namespace cnnlens

// The backward sweep on randomly generated graphs: fan-out of one node to many readers, Concat
// of many inputs, pooling with asymmetric (ceil-mode-like) padding, residual Add chains, and
// convolutions of every shape the kernel sets special-case (channel counts below, at and off
// the vector width, 40-70 channels, grouped, depthwise, 1x1 stride 2). Per graph and kernel
// set, the input gradient of a random linear functional of the output is checked against
// central finite differences (along random directions and on single elements) and against the
// reference set's gradient, element by element.
//
// Kinks: a finite difference is only trusted when no ReLU changes sign and no max-pool window
// changes its winner between x - eps*v and x + eps*v (the activation pattern is compared at
// both ends with the one at x); the test requires most checks to be trusted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/graph/executor.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

constexpr int kGraphs = 60;
constexpr int kDirections = 4;  // finite differences along random directions, per graph and set
constexpr int kElements = 6;    // and on single input elements
constexpr float kEps = 2e-3f;
constexpr int kMaxConcatChannels = 96;  // keeps every graph a few ms on the reference set

// A generated graph and where its kinks are.
struct RandomGraph {
    Graph g;
    std::vector<int> relu_nodes;  // nodes whose output is a ReLU's (Relu or fused into a conv)
    std::vector<int> max_pools;
    std::string description;
};

class Generator {
public:
    explicit Generator(uint32_t seed) : rng_(seed) {}

    RandomGraph make() {
        RandomGraph r;
        g_ = &r.g;
        out_ = &r;
        const int h = 5 + int(rng_.below(8)), w = 5 + int(rng_.below(8)), c = pick({1, 2, 3, 4, 5});
        live_.clear();
        live_.push_back(g_->add_input("x", Shape{-1, h, w, c}));
        validate();
        note("in " + std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c));
        const int steps = 3 + int(rng_.below(6));
        for (int s = 0; s < steps; ++s) {
            switch (rng_.below(7)) {
                case 0:
                case 1:
                    conv(latest());
                    break;
                case 2:
                    pool(latest());
                    break;
                case 3:
                    residual_chain(latest());
                    break;
                case 4:
                    fan_out_concat(latest());
                    break;
                case 5:
                    elementwise(latest());
                    break;
                default:
                    conv(any());
                    break;
            }
        }
        // Sometimes a classifier head (global mean, dense), sometimes a spatial output; either
        // way every live tensor still feeds the output through a final Concat where shapes allow.
        int y = latest();
        if (rng_.below(2)) {
            y = add("mean", OpType::kMean, ReduceAttrs{{1, 2}, false}, {y});
            const int in = int(shape(y)[1]), out = 1 + int(rng_.below(10));
            const int wt = g_->add_const(name("w"), weights({in, out}, in));
            const int b = g_->add_const(name("b"), weights({out}, 1));
            y = add("dense", OpType::kMatMul,
                    MatMulAttrs{rng_.below(2) ? Activation::kTanh : Activation::kNone, 0.f},
                    {y, wt, b});
        }
        g_->set_output(y);
        EXPECT_TRUE(g_->validate().is_ok()) << r.description;
        return r;
    }

private:
    int pick(std::initializer_list<int> v) { return *(v.begin() + rng_.below(uint32_t(v.size()))); }
    std::string name(const char* what) {
        return std::string(what) + "_" + std::to_string(g_->size());
    }
    void note(const std::string& s) {
        out_->description += (out_->description.empty() ? "" : ", ") + s;
    }
    const Shape& shape(int node) const { return g_->node(node).shape; }
    int latest() const { return live_.back(); }
    int any() { return live_[rng_.below(uint32_t(live_.size()))]; }
    bool spatial(int node) const { return shape(node).rank() == 4; }

    void validate() {
        g_->set_output(g_->size() - 1);
        const Status s = g_->validate();
        EXPECT_TRUE(s.is_ok()) << s.message() << " in " << out_->description;
    }
    int add(const char* what, OpType op, OpAttrs attrs, std::vector<int> inputs) {
        const int n = g_->add_node(name(what), op, std::move(attrs), std::move(inputs));
        validate();
        live_.push_back(n);
        return n;
    }
    // Uniform in +-sqrt(3 / fan_in): unit-variance outputs for unit-variance inputs, so deep
    // graphs neither vanish nor blow up.
    Tensor weights(const Shape& s, int fan_in) {
        const float a = std::sqrt(3.f / float(std::max(fan_in, 1)));
        return test::random_tensor(s, rng_, -a, a);
    }

    int out_channels(int groups_multiple) {
        int c;
        switch (rng_.below(4)) {
            case 0:
                c = 1 + int(rng_.below(12));
                break;
            case 1:
                c = pick({8, 16, 32, 48, 64});
                break;
            case 2:
                c = 40 + int(rng_.below(31));
                break;
            default:
                c = pick({3, 5, 7, 17, 24, 33});
                break;
        }
        return std::max(groups_multiple, c / groups_multiple * groups_multiple);
    }

    // A convolution of a random kind reading x (a spatial tensor).
    int conv(int x) {
        if (!spatial(x)) return x;
        const Shape& s = shape(x);
        const int in_c = int(s[3]), h = int(s[1]), w = int(s[2]);
        ConvAttrs a;
        a.padding = PaddingMode::kExplicit;
        int k = pick({1, 3, 3, 5}), out_c, groups = 1;
        const int kind = int(rng_.below(6));
        if (kind == 0) {  // depthwise, multiplier 1 or 2
            groups = in_c;
            out_c = in_c * pick({1, 1, 2});
            k = pick({3, 5});
        } else if (kind == 1 && in_c >= 4) {  // grouped
            groups = in_c % 4 == 0 ? pick({2, 4}) : (in_c % 2 == 0 ? 2 : 1);
            out_c = out_channels(groups);
        } else if (kind == 2) {  // 1x1 stride 2 (a ResNet projection)
            k = 1;
            out_c = out_channels(1);
            a.stride_h = a.stride_w = 2;
        } else {
            out_c = out_channels(1);
        }
        if (kind != 2 && rng_.below(4) == 0) a.stride_h = a.stride_w = 2;
        if (k > 1) {
            a.pad_top = a.pad_left = k / 2;
            a.pad_bottom = a.pad_right = k / 2;
            if (rng_.below(3) == 0)
                a.pad_bottom = a.pad_right = k / 2 - 1 + int(rng_.below(2));  // asymmetric
        }
        if (h + a.pad_top + a.pad_bottom < k || w + a.pad_left + a.pad_right < k) return x;
        a.groups = groups;
        a.activation =
            std::vector<Activation>{Activation::kNone, Activation::kRelu, Activation::kRelu,
                                    Activation::kTanh, Activation::kSigmoid}[rng_.below(5)];
        const int fan_in = k * k * (in_c / groups);
        const int wt = g_->add_const(name("w"), weights({k, k, in_c / groups, out_c}, fan_in));
        std::vector<int> ins{x, wt};
        if (rng_.below(2)) ins.push_back(g_->add_const(name("b"), weights({out_c}, 4)));
        const int y = add("conv", OpType::kConv2D, a, ins);
        if (a.activation == Activation::kRelu) out_->relu_nodes.push_back(y);
        note("conv" + std::to_string(k) + "x" + std::to_string(k) + "/" +
             std::to_string(a.stride_h) + " " + std::to_string(in_c) + "->" +
             std::to_string(out_c) + (groups > 1 ? " g" + std::to_string(groups) : "") + " " +
             std::string(activation_name(a.activation)));
        return y;
    }

    // Max or average pooling, kernel 2 or 3, stride 1 or 2, pads up to kernel-1 with the extra
    // one at the bottom/right that ceil-mode output sizes need.
    int pool(int x) {
        if (!spatial(x)) return x;
        const Shape& s = shape(x);
        PoolAttrs a;
        a.padding = PaddingMode::kExplicit;
        a.kernel_h = a.kernel_w = pick({2, 3});
        a.stride_h = a.stride_w = pick({1, 2, 2});
        a.pad_top = a.pad_left = int(rng_.below(uint32_t(a.kernel_h)));
        a.pad_bottom = a.pad_right = std::min(a.kernel_h - 1, a.pad_top + int(rng_.below(2)));
        if (s[1] + a.pad_top + a.pad_bottom < a.kernel_h ||
            s[2] + a.pad_left + a.pad_right < a.kernel_w)
            return x;
        const bool max = rng_.below(2);
        const int y =
            add(max ? "maxpool" : "avgpool", max ? OpType::kMaxPool : OpType::kAvgPool, a, {x});
        if (max) out_->max_pools.push_back(y);
        note(std::string(max ? "maxpool" : "avgpool") + std::to_string(a.kernel_h) + "/" +
             std::to_string(a.stride_h) + " pad " + std::to_string(a.pad_top) + "," +
             std::to_string(a.pad_bottom));
        return y;
    }

    // x -> x + f(x) -> ... two or three times, f a same-shape conv (optionally followed by
    // BatchNorm), with a ReLU after some Adds.
    int residual_chain(int x) {
        if (!spatial(x)) return x;
        const int links = 2 + int(rng_.below(2));
        for (int i = 0; i < links; ++i) {
            const int c = int(shape(x)[3]);
            ConvAttrs a;
            a.padding = PaddingMode::kExplicit;
            a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 1;
            a.activation = rng_.below(2) ? Activation::kRelu : Activation::kNone;
            const int wt = g_->add_const(name("w"), weights({3, 3, c, c}, 9 * c));
            int f = add("res_conv", OpType::kConv2D, a, {x, wt});
            if (a.activation == Activation::kRelu) out_->relu_nodes.push_back(f);
            if (rng_.below(2)) {
                const int sc =
                    g_->add_const(name("scale"), test::random_tensor({c}, rng_, 0.5f, 1.5f));
                const int sh =
                    g_->add_const(name("shift"), test::random_tensor({c}, rng_, -0.3f, 0.3f));
                f = add("bn", OpType::kBatchNorm, NoAttrs{}, {f, sc, sh});
            }
            x = add("res_add", OpType::kAdd, NoAttrs{}, {x, f});
            if (rng_.below(2)) {
                x = add("relu", OpType::kRelu, NoAttrs{}, {x});
                out_->relu_nodes.push_back(x);
            }
        }
        note("residual x" + std::to_string(links));
        return x;
    }

    // One node read by 2-5 branches (1x1 conv, 3x3 conv, 3x3 stride-1 pooling, the node itself),
    // concatenated on channels, like an Inception block; sometimes other live tensors of the
    // same spatial size join the Concat.
    int fan_out_concat(int x) {
        if (!spatial(x)) return x;
        const int h = int(shape(x)[1]), w = int(shape(x)[2]);
        const int branches = 2 + int(rng_.below(4)), in_c = int(shape(x)[3]);
        std::vector<int> parts;
        int channels = 0;
        for (int b = 0; b < branches && channels + std::min(in_c, 8) <= kMaxConcatChannels; ++b) {
            const int kind =
                channels + in_c <= kMaxConcatChannels ? int(rng_.below(4)) : int(rng_.below(2));
            if (kind == 3) {
                parts.push_back(x);
                channels += in_c;
                continue;
            }
            if (kind == 2) {
                PoolAttrs a;
                a.padding = PaddingMode::kExplicit;
                a.kernel_h = a.kernel_w = 3;
                a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 1;
                const bool max = rng_.below(2);
                const int p = add(max ? "branch_maxpool" : "branch_avgpool",
                                  max ? OpType::kMaxPool : OpType::kAvgPool, a, {x});
                if (max) out_->max_pools.push_back(p);
                parts.push_back(p);
                channels += in_c;
                continue;
            }
            const int k = kind == 0 ? 1 : 3,
                      out_c = std::min(out_channels(1), kMaxConcatChannels - channels);
            channels += out_c;
            ConvAttrs a;
            a.padding = PaddingMode::kExplicit;
            a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = k / 2;
            a.activation = rng_.below(2) ? Activation::kRelu : Activation::kTanh;
            const int wt = g_->add_const(name("w"), weights({k, k, in_c, out_c}, k * k * in_c));
            const int y = add("branch_conv", OpType::kConv2D, a, {x, wt});
            if (a.activation == Activation::kRelu) out_->relu_nodes.push_back(y);
            parts.push_back(y);
        }
        for (int n : live_)
            if (parts.size() < 7 && n != x && spatial(n) && shape(n)[1] == h && shape(n)[2] == w &&
                channels + shape(n)[3] <= kMaxConcatChannels && rng_.below(3) == 0) {
                parts.push_back(n);
                channels += int(shape(n)[3]);
            }
        if (parts.size() < 2) parts.push_back(x);
        note("concat of " + std::to_string(parts.size()));
        return add("concat", OpType::kConcat, ConcatAttrs{3}, parts);
    }

    // A smooth nonlinearity, or the product of two same-shape tensors, or a Pad.
    int elementwise(int x) {
        switch (rng_.below(4)) {
            case 0:
                note("tanh");
                return add("tanh", OpType::kTanh, NoAttrs{}, {x});
            case 1:
                note("sigmoid");
                return add("sigmoid", OpType::kSigmoid, NoAttrs{}, {x});
            case 2: {
                for (int n : live_)
                    if (n != x && shape(n) == shape(x)) {
                        note("mul");
                        return add("mul", OpType::kMul, NoAttrs{}, {x, n});
                    }
                note("square");
                return add("square", OpType::kMul, NoAttrs{}, {x, x});
            }
            default: {
                if (!spatial(x)) return x;
                PadAttrs a;
                a.paddings = {{0, 0},
                              {int64_t(rng_.below(2)), int64_t(rng_.below(3))},
                              {int64_t(rng_.below(3)), 0},
                              {0, 0}};
                a.value = rng_.uniform(-0.5f, 0.5f);
                note("pad");
                return add("pad", OpType::kPad, a, {x});
            }
        }
    }

    Rng rng_;
    Graph* g_ = nullptr;
    RandomGraph* out_ = nullptr;
    std::vector<int> live_;
};

// Which side of every kink the last forward pass was on: each ReLU output's sign and each
// max-pool window's winner (the first maximal element, as the VJP routes it).
std::vector<int32_t> kink_pattern(const RandomGraph& r, const Executor& ex) {
    std::vector<int32_t> p;
    for (int n : r.relu_nodes) {
        const Tensor& v = ex.value(n);
        for (int64_t i = 0; i < v.size(); ++i) p.push_back(v[i] > 0.f);
    }
    for (int n : r.max_pools) {
        const auto& a = std::get<PoolAttrs>(r.g.node(n).attrs);
        const Tensor& in = ex.value(r.g.node(n).inputs[0]);
        const Shape& o = ex.value(n).shape();
        const int64_t H = in.shape()[1], W = in.shape()[2], C = in.shape()[3];
        for (int64_t b = 0; b < o[0]; ++b)
            for (int64_t y = 0; y < o[1]; ++y)
                for (int64_t x = 0; x < o[2]; ++x)
                    for (int64_t c = 0; c < C; ++c) {
                        int32_t best = -1;
                        float bv = -INFINITY;
                        for (int ky = 0; ky < a.kernel_h; ++ky)
                            for (int kx = 0; kx < a.kernel_w; ++kx) {
                                const int64_t iy = y * a.stride_h - a.pad_top + ky,
                                              ix = x * a.stride_w - a.pad_left + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                const float v = in[((b * H + iy) * W + ix) * C + c];
                                if (v > bv) {
                                    bv = v;
                                    best = ky * a.kernel_w + kx;
                                }
                            }
                        p.push_back(best);
                    }
    }
    return p;
}

double dot(const Tensor& a, const Tensor& b) {
    double s = 0;
    for (int64_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
    return s;
}

class RandomGraphTest : public ::testing::TestWithParam<const KernelSet*> {};

TEST_P(RandomGraphTest, BackwardMatchesFiniteDifferencesAndReference) {
    const KernelSet& set = *GetParam();
    int trusted = 0, untrusted = 0;
    for (int seed = 1; seed <= kGraphs; ++seed) {
        Generator gen(uint32_t(seed) * 7919u);
        RandomGraph r = gen.make();
        SCOPED_TRACE("graph seed " + std::to_string(seed) + ": " + r.description);
        ASSERT_TRUE(r.g.validate().is_ok());
        Rng rng{uint32_t(seed)};
        Shape in_shape = r.g.node(r.g.input()).shape;
        in_shape[0] = 1 + int(rng.below(2));
        const Tensor x = test::random_tensor(in_shape, rng);

        Executor ex(r.g, set), ref(r.g, reference_kernels());
        ASSERT_TRUE(ex.forward(x).is_ok());
        ASSERT_TRUE(ref.forward(x).is_ok());
        const Tensor& y = ex.value(r.g.output());
        const Tensor& y_ref = ref.value(r.g.output());
        // Summation order differs between sets: ~1e-6 relative per layer of a few hundred terms.
        EXPECT_LT(test::rel_l2(y.data(), y_ref.data(), y.size()), 5e-5)
            << "forward output against the reference set";
        const Tensor weights = test::random_tensor(y.shape(), rng);
        std::vector<Seed> seeds;
        seeds.push_back({r.g.output(), weights.clone()});
        const int in = r.g.input();
        std::vector<Tensor> g, g_ref;
        ASSERT_TRUE(ex.backward(seeds, {&in, 1}, ReluRule::kStandard, g).is_ok());
        ASSERT_TRUE(ref.backward(seeds, {&in, 1}, ReluRule::kStandard, g_ref).is_ok());
        double scale = 0;
        for (int64_t i = 0; i < g_ref[0].size(); ++i)
            scale = std::max(scale, double(std::fabs(g_ref[0][i])));
        const double diff = test::max_abs_diff(g[0].data(), g_ref[0].data(), g[0].size());
        EXPECT_LE(diff, 1e-4 * scale + 1e-6)
            << "input gradient against the reference set's (max |grad| " << scale << ")";

        const std::vector<int32_t> at_x = kink_pattern(r, ex);
        // f(x + t v) - f(x - t v) over 2t, trusted only when both ends keep x's kink pattern;
        // t shrinks (to 1/16 of kEps) until they do.
        auto check = [&](const Tensor& v, const std::string& what) {
            for (float eps = kEps; eps >= kEps / 16; eps /= 4) {
                Tensor xp = x.clone(), xm = x.clone();
                for (int64_t i = 0; i < x.size(); ++i) {
                    xp[i] += eps * v[i];
                    xm[i] -= eps * v[i];
                }
                ASSERT_TRUE(ex.forward(xp).is_ok());
                const double fp = dot(ex.value(r.g.output()), weights);
                if (kink_pattern(r, ex) != at_x) continue;
                ASSERT_TRUE(ex.forward(xm).is_ok());
                const double fm = dot(ex.value(r.g.output()), weights);
                if (kink_pattern(r, ex) != at_x) continue;
                ++trusted;
                const double fd = (fp - fm) / (2.0 * eps), an = dot(g[0], v);
                // The difference quotient carries the float32 rounding of the two sums (~1e-6
                // |f|) over 2 eps; the absolute term is small against the gradient's own scale.
                const double rounding = 1e-6 * (std::fabs(fp) + std::fabs(fm) + 1) / eps;
                const double tol =
                    1e-2 * std::max(std::fabs(fd), std::fabs(an)) + 10 * rounding + 1e-3 * scale;
                EXPECT_NEAR(an, fd, tol) << what << ", eps " << eps;
                return;
            }
            ++untrusted;
        };
        for (int d = 0; d < kDirections; ++d)
            check(test::random_tensor(x.shape(), rng), "random direction " + std::to_string(d));
        for (int e = 0; e < kElements; ++e) {
            // The corners first (padding and border paths), then random elements.
            const int64_t n = x.size(), corner[] = {0, n - 1};
            const int64_t i = e < 2 ? corner[e] : int64_t(rng.below(uint32_t(n)));
            Tensor v(x.shape(), 0.f);
            v[i] = 1.f;
            check(v, "element " + std::to_string(i));
        }
        ASSERT_TRUE(ex.forward(x).is_ok());
    }
    std::printf("[random graphs] %s: %d finite differences trusted, %d skipped at a kink\n",
                std::string(set.name).c_str(), trusted, untrusted);
    EXPECT_GE(trusted, 4 * untrusted) << "too many finite differences crossed a kink to mean much";
}

// A forward made for backward() alone (Executor::forward_for_backward) drops the values no VJP
// reads; the gradients, under every ReLU rule, must be those of the full tape to the bit.
TEST_P(RandomGraphTest, BackwardTapeGivesTheFullTapesGradients) {
    const KernelSet& set = *GetParam();
    int64_t dropped = 0;
    for (int seed = 1; seed <= kGraphs; ++seed) {
        Generator gen(uint32_t(seed) * 7919u);
        RandomGraph r = gen.make();
        SCOPED_TRACE("graph seed " + std::to_string(seed) + ": " + r.description);
        ASSERT_TRUE(r.g.validate().is_ok());
        Rng rng{uint32_t(seed)};
        Shape in_shape = r.g.node(r.g.input()).shape;
        in_shape[0] = 1 + int(rng.below(2));
        const Tensor x = test::random_tensor(in_shape, rng);
        Executor full(r.g, set), lean(r.g, set);
        const int out = r.g.output(), in = r.g.input();
        ASSERT_TRUE(full.forward(x).is_ok());
        ASSERT_TRUE(lean.forward_for_backward(x, {&out, 1}).is_ok());
        for (int i = 0; i < r.g.size(); ++i)
            if (r.g.node(i).op != OpType::kConst && lean.value(i).empty()) ++dropped;
        ASSERT_EQ(std::memcmp(full.value(out).data(), lean.value(out).data(),
                              sizeof(float) * full.value(out).size()),
                  0);
        std::vector<Seed> seeds;
        seeds.push_back({out, test::random_tensor(full.value(out).shape(), rng)});
        for (ReluRule rule : {ReluRule::kStandard, ReluRule::kGuided, ReluRule::kDeconvnet}) {
            std::vector<Tensor> a, b;
            ASSERT_TRUE(full.backward(seeds, {&in, 1}, rule, a).is_ok());
            ASSERT_TRUE(lean.backward(seeds, {&in, 1}, rule, b).is_ok());
            ASSERT_EQ(a[0].shape(), b[0].shape());
            EXPECT_EQ(std::memcmp(a[0].data(), b[0].data(), sizeof(float) * a[0].size()), 0)
                << "rule " << int(rule);
        }
        std::vector<Tensor> lrp;
        EXPECT_FALSE(
            lean.relevance(seeds, {&in, 1}, std::vector<LrpRule>(size_t(r.g.size())), lrp).is_ok())
            << "relevance needs the full tape";
    }
    EXPECT_GT(dropped, 0) << "no graph had a value the backward does not read";
}

INSTANTIATE_TEST_SUITE_P(AllSets, RandomGraphTest,
                         ::testing::ValuesIn(compiled_kernel_sets().begin(),
                                             compiled_kernel_sets().end()),
                         [](const testing::TestParamInfo<const KernelSet*>& i) {
                             return test::kernel_test_name(*i.param);
                         });

}  // namespace
}  // namespace cnnlens

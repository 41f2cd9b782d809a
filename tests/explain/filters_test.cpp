// Filter visualization: gradient ascent on a closed-form probe (the sign pattern of a linear
// unit) and on the bundled FER2013 model (gain, determinism, cancel, both parameterizations).
#include "core/explain/filters.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "core/import/model.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

// --- On a closed-form probe ---------------------------------------------------------------------

// Layer node 1 has two units, unit k = sum_p w_k[p] x[p]: the best picture for unit k is 1 where
// w_k > 0 and 0 where w_k < 0. The input is normalized by mean/std, so the display-to-input map
// (and its derivative 1/std) is on the path.
class LinearProbe final : public ModelProbe {
public:
    LinearProbe() {
        spec_.height = 8;
        spec_.width = 8;
        spec_.channels = 1;
        spec_.mean = {0.4f};
        spec_.std = {0.25f};
        Rng rng(11);
        for (auto& w : w_)
            for (float& v : w) v = rng.uniform(-1.f, 1.f);
    }
    Expected<ProbeResult> run(const Tensor& batch, const ProbeRequest& r) override {
        const int64_t n = batch.shape()[0];
        ProbeResult out;
        out.logits = Tensor(Shape{n, 1}, 0.f);
        out.probs = Tensor(Shape{n, 1}, 1.f);
        Tensor act(Shape{n, 2}, 0.f);
        for (int64_t i = 0; i < n; ++i)
            for (int k = 0; k < 2; ++k)
                for (int p = 0; p < 64; ++p)
                    act[i * 2 + k] +=
                        w_[static_cast<size_t>(k)][static_cast<size_t>(p)] * batch[i * 64 + p];
        for (int l : r.layers) {
            if (l != 1) return invalid_argument("no layer " + std::to_string(l));
            out.activations.push_back(act.clone());
        }
        if (r.channel && r.input_gradient) {
            if (r.channel->channel < 0 || r.channel->channel > 1)
                return invalid_argument("bad channel");
            out.input_grad.reset(batch.shape());
            for (int64_t i = 0; i < n; ++i)
                for (int p = 0; p < 64; ++p)
                    out.input_grad[i * 64 + p] =
                        w_[static_cast<size_t>(r.channel->channel)][static_cast<size_t>(p)];
        }
        return out;
    }
    const InputSpec& input_spec() const override { return spec_; }
    int num_classes() const override { return 1; }
    const std::vector<std::string>& class_names() const override { return names_; }
    float weight(int k, int p) const { return w_[static_cast<size_t>(k)][static_cast<size_t>(p)]; }

private:
    InputSpec spec_;
    std::vector<std::string> names_{"score"};
    std::array<std::array<float, 64>, 2> w_{};
};

TEST(FilterVisualization, LinearUnitGetsItsSignPattern) {
    LinearProbe probe;
    for (Parameterization kind : {Parameterization::kPixel, Parameterization::kFourier}) {
        SCOPED_TRACE(kind == Parameterization::kPixel ? "pixel" : "fourier");
        AscentParams p;
        p.parameterization = kind;
        p.steps = kind == Parameterization::kPixel ? 40 : 400;
        p.learning_rate = 0.1f;
        p.jitter = 0;
        for (int k = 0; k < 2; ++k) {
            auto pic = visualize_filter(probe, 1, k, p);
            ASSERT_TRUE(pic.has_value()) << pic.status().message();
            EXPECT_EQ(pic->layer, "node 1");
            int agree = 0;
            for (int q = 0; q < 64; ++q)
                agree += (pic->image[q] > 0.5f) == (probe.weight(k, q) > 0.f);
            // A sigmoid that saturated early on the wrong side barely moves again (Lucid alike).
            EXPECT_GE(agree, kind == Parameterization::kPixel ? 64 : 60);
            if (kind == Parameterization::kPixel) {
                for (int q = 0; q < 64; ++q)
                    EXPECT_EQ(pic->image[q], probe.weight(k, q) > 0.f ? 1.f : 0.f);
            }
            // The best score: sum_q w_q (u*_q - mean) / std with u*_q = [w_q > 0].
            double best = 0;
            for (int q = 0; q < 64; ++q)
                best += (std::max(probe.weight(k, q), 0.f) - 0.4 * probe.weight(k, q)) / 0.25;
            EXPECT_NEAR(pic->final_activation, best,
                        kind == Parameterization::kPixel ? 1e-3 : 0.1 * std::fabs(best));
            EXPECT_LT(pic->start_activation, pic->final_activation);
        }
    }
}

// --- On the bundled model --------------------------------------------------------------------

using test::layer_node;

float random_input_activation(GraphProbe& probe, int node, int channel) {
    Rng rng(99);
    const Tensor x = test::random_tensor(Shape{1, 64, 64, 1}, rng, 0.f, 1.f);
    ProbeRequest r;
    r.layers = {node};
    auto res = probe.run(x, r);
    EXPECT_TRUE(res.has_value());
    const Tensor& a = res->activations[0];
    const int64_t c = a.shape().dim(-1);
    double s = 0;
    for (int64_t p = 0; p < a.size() / c; ++p) s += a[p * c + channel];
    return static_cast<float>(s / static_cast<double>(a.size() / c));
}

AscentParams quick(int steps) {
    AscentParams p;
    p.steps = steps;
    return p;
}

TEST(FilterVisualization, RaisesChannelActivation) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    const std::pair<const char*, int> cases[] = {{test::kFerEarlyLayer, 21},
                                                 {test::kFerEarlyLayer, 33},
                                                 {test::kFerMidLayer, 5},
                                                 {test::kFerMidLayer, 40}};
    for (const auto& [name, channel] : cases) {
        const int node = layer_node(probe, name);
        auto pic = visualize_filter(probe, node, channel, quick(40));
        ASSERT_TRUE(pic.has_value()) << pic.status().message();
        const float random = random_input_activation(probe, node, channel);
        SCOPED_TRACE(std::string(name) + " channel " + std::to_string(channel));
        EXPECT_EQ(pic->layer, name);
        EXPECT_EQ(pic->image.shape(), (Shape{64, 64, 1}));
        for (int64_t i = 0; i < pic->image.size(); ++i)
            ASSERT_TRUE(pic->image[i] >= 0.f && pic->image[i] <= 1.f);
        ASSERT_EQ(pic->curve.size(), 40u);
        EXPECT_GT(pic->final_activation,
                  2.f * std::max({pic->start_activation, random, 0.f}) + 0.2f);
        EXPECT_GT(pic->curve.back(), pic->curve.front());
    }
}

TEST(FilterVisualization, PixelParameterization) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    const int node = layer_node(probe, test::kFerMidLayer);
    AscentParams p = AscentParams::uo_classic();
    p.steps = 20;
    auto pic = visualize_filter(probe, node, 5, p);
    ASSERT_TRUE(pic.has_value()) << pic.status().message();
    const float random = random_input_activation(probe, node, 5);
    EXPECT_GT(pic->final_activation, 2.f * std::max({pic->start_activation, random, 0.f}) + 0.2f);
    for (int64_t i = 0; i < pic->image.size(); ++i)
        ASSERT_TRUE(pic->image[i] >= 0.f && pic->image[i] <= 1.f);
}

double total_variation(const Tensor& img) {  // [H, W, 1]
    const int64_t h = img.shape()[0], w = img.shape()[1];
    double s = 0;
    for (int64_t y = 0; y + 1 < h; ++y)
        for (int64_t x = 0; x + 1 < w; ++x) {
            const double dx = img[y * w + x + 1] - img[y * w + x],
                         dy = img[(y + 1) * w + x] - img[y * w + x];
            s += dx * dx + dy * dy;
        }
    return s / static_cast<double>(h * w);
}

// Moderate regularization still climbs; strong total variation and blur make smoother pictures.
TEST(FilterVisualization, Regularizers) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    const int node = layer_node(probe, test::kFerMidLayer);
    for (Parameterization kind : {Parameterization::kFourier, Parameterization::kPixel}) {
        SCOPED_TRACE(kind == Parameterization::kPixel ? "pixel" : "fourier");
        AscentParams p = quick(24);
        p.parameterization = kind;
        if (kind == Parameterization::kPixel) p.learning_rate = 0.02f;
        auto plain = visualize_filter(probe, node, 5, p);
        p.blur_every = 8;
        p.blur_sigma = 0.5f;
        p.total_variation = 0.3f;
        p.l2_decay = 1e-4f;
        auto moderate = visualize_filter(probe, node, 5, p);
        p.blur_every = 2;
        p.blur_sigma = 1.f;
        p.total_variation = 20.f;
        auto strong = visualize_filter(probe, node, 5, p);
        ASSERT_TRUE(plain && moderate && strong);
        EXPECT_GT(moderate->final_activation, moderate->start_activation + 0.3f);
        EXPECT_LT(total_variation(strong->image), 0.5 * total_variation(plain->image));
    }
}

TEST(FilterVisualization, DeterministicForASeed) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    const int node = layer_node(probe, test::kFerEarlyLayer);
    AscentParams p = quick(8);
    auto a = visualize_filter(probe, node, 3, p);
    auto b = visualize_filter(probe, node, 3, p);
    p.seed = 2;
    auto c = visualize_filter(probe, node, 3, p);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(test::max_abs_diff(a->image.data(), b->image.data(), a->image.size()), 0.0);
    EXPECT_EQ(a->curve, b->curve);
    EXPECT_GT(test::max_abs_diff(a->image.data(), c->image.data(), a->image.size()), 1e-4);
}

TEST(FilterVisualization, LayerRunsEachChannelAsAlone) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    const int node = layer_node(probe, test::kFerEarlyLayer);
    const int channels[] = {4, 9};
    std::vector<float> fractions;
    auto all = visualize_layer(probe, node, quick(6), channels, [&](float f) {
        fractions.push_back(f);
        return true;
    });
    ASSERT_TRUE(all.has_value()) << all.status().message();
    ASSERT_EQ(all->size(), 2u);
    auto alone = visualize_filter(probe, node, 9, quick(6));
    ASSERT_TRUE(alone.has_value());
    EXPECT_EQ((*all)[1].channel, 9);
    EXPECT_EQ(test::max_abs_diff((*all)[1].image.data(), alone->image.data(), alone->image.size()),
              0.0);
    ASSERT_EQ(fractions.size(), 12u);
    EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end()));
    EXPECT_FLOAT_EQ(fractions.back(), 1.f);
}

TEST(FilterVisualization, AllChannelsWhenNoneGiven) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    auto all = visualize_layer(probe, layer_node(probe, "conv2d_5/BiasAdd"), quick(1));
    ASSERT_TRUE(all.has_value()) << all.status().message();
    ASSERT_EQ(all->size(), 7u);
    for (int k = 0; k < 7; ++k) EXPECT_EQ((*all)[static_cast<size_t>(k)].channel, k);
}

TEST(FilterVisualization, CancelStops) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    int calls = 0;
    auto pic = visualize_filter(probe, layer_node(probe, test::kFerEarlyLayer), 3, quick(50),
                                [&](float) { return ++calls < 3; });
    ASSERT_FALSE(pic.has_value());
    EXPECT_EQ(pic.status().code(), ErrorCode::kCancelled);
    EXPECT_EQ(calls, 3);
    EXPECT_NE(pic.status().message().find("3 of 50 steps"), std::string::npos)
        << pic.status().message();
}

TEST(FilterVisualization, ErrorsNameTheProblem) {
    GraphProbe probe(test::default_model(), *select_kernel_set());
    auto bad_channel =
        visualize_filter(probe, layer_node(probe, test::kFerEarlyLayer), 64, quick(2));
    ASSERT_FALSE(bad_channel.has_value());
    EXPECT_EQ(bad_channel.status().message(),
              "channel 64 of layer 'block1_conv2_act/Relu' does not exist (it has 64)");
    auto input = visualize_filter(probe, layer_node(probe, "input_1"), 0, quick(2));
    ASSERT_FALSE(input.has_value());
    EXPECT_EQ(input.status().code(), ErrorCode::kInvalidArgument);
}

TEST(FilterVisualization, ParamsRoundTrip) {
    AscentParams a = AscentParams::uo_classic();
    a.blur_every = 4;
    a.total_variation = 0.25f;
    const AscentParams b = ascent_params_from(ascent_params_to(a));
    EXPECT_EQ(b.parameterization, Parameterization::kPixel);
    EXPECT_EQ(b.steps, 30);
    EXPECT_FLOAT_EQ(b.learning_rate, 0.1f);
    EXPECT_FLOAT_EQ(b.l2_decay, 1e-6f);
    EXPECT_EQ(b.blur_every, 4);
    EXPECT_FLOAT_EQ(b.total_variation, 0.25f);
    for (const ParamDef& d : ascent_param_defs())
        EXPECT_TRUE(ascent_params_to(a).has(d.name)) << d.name;
}

}  // namespace
}  // namespace cnnlens

// Filter visualization and feature maps: the real DFT (inverse, adjoint, finite differences),
// gradient ascent on the bundled FER2013 model (gain, determinism, cancel, both
// parameterizations) and feature-map shapes and colour ranges.
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

std::vector<float> random_vector(size_t n, Rng& rng, float sd) {
    std::vector<float> v(n);
    for (float& x : v) x = sd * rng.normal();
    return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
    return s;
}

class Fourier : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(Fourier, InverseUndoesForward) {
    const auto [h, w] = GetParam();
    Rfft2 f(h, w);
    Rng rng(3);
    const std::vector<float> img = random_vector(static_cast<size_t>(h * w), rng, 1.f);
    std::vector<float> spec(static_cast<size_t>(f.spectrum_size())), back(img.size());
    f.forward(img.data(), spec.data());
    f.inverse(spec.data(), back.data());
    EXPECT_LT(test::max_abs_diff(back.data(), img.data(), h * w), 1e-5);
}

TEST_P(Fourier, ForwardMatchesDirectSum) {
    const auto [h, w] = GetParam();
    Rfft2 f(h, w);
    Rng rng(4);
    const std::vector<float> img = random_vector(static_cast<size_t>(h * w), rng, 1.f);
    std::vector<float> spec(static_cast<size_t>(f.spectrum_size()));
    f.forward(img.data(), spec.data());
    for (int ky = 0; ky < h; ky += 3)
        for (int kx = 0; kx < f.bins(); kx += 2) {
            double re = 0, im = 0;
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) {
                    const double a =
                        -2 * std::numbers::pi * (double(ky) * y / h + double(kx) * x / w);
                    re += img[static_cast<size_t>(y * w + x)] * std::cos(a);
                    im += img[static_cast<size_t>(y * w + x)] * std::sin(a);
                }
            EXPECT_NEAR(spec[static_cast<size_t>(2 * (ky * f.bins() + kx))], re, 1e-4);
            EXPECT_NEAR(spec[static_cast<size_t>(2 * (ky * f.bins() + kx) + 1)], im, 1e-4);
        }
}

// <inverse(s), g> == <s, inverse_adjoint(g)> for arbitrary s, including the bins irfft ignores.
TEST_P(Fourier, AdjointIsTranspose) {
    const auto [h, w] = GetParam();
    Rfft2 f(h, w);
    Rng rng(5);
    const std::vector<float> s = random_vector(static_cast<size_t>(f.spectrum_size()), rng, 1.f);
    const std::vector<float> g = random_vector(static_cast<size_t>(h * w), rng, 1.f);
    std::vector<float> img(g.size()), sg(s.size());
    f.inverse(s.data(), img.data());
    f.inverse_adjoint(g.data(), sg.data());
    const double lhs = dot(img, g), rhs = dot(s, sg);
    EXPECT_NEAR(lhs, rhs, 1e-5 * std::max(1.0, std::fabs(lhs)));
}

// The gradient the ascent uses: L(S) = sum g * sigmoid(inverse(S)); dL/dS by the adjoint of the
// image gradient, against central differences on every spectrum entry.
TEST_P(Fourier, SpectrumGradientMatchesFiniteDifferences) {
    const auto [h, w] = GetParam();
    Rfft2 f(h, w);
    Rng rng(6);
    std::vector<float> s = random_vector(static_cast<size_t>(f.spectrum_size()), rng, 3.f);
    const std::vector<float> g = random_vector(static_cast<size_t>(h * w), rng, 1.f);
    std::vector<float> img(g.size());
    auto loss = [&](const std::vector<float>& spec) {
        f.inverse(spec.data(), img.data());
        double l = 0;
        for (size_t i = 0; i < img.size(); ++i) l += g[i] / (1.0 + std::exp(-double(img[i])));
        return l;
    };
    loss(s);
    std::vector<float> gt(img.size()), analytic(s.size());
    for (size_t i = 0; i < img.size(); ++i) {
        const float u = 1.f / (1.f + std::exp(-img[i]));
        gt[i] = g[i] * u * (1.f - u);
    }
    f.inverse_adjoint(gt.data(), analytic.data());
    const float eps = 1e-2f;
    double worst = 0, scale = 0;
    const size_t stride = std::max<size_t>(1, s.size() / 300);
    for (size_t j = 0; j < s.size(); j += stride) {
        const float keep = s[j];
        s[j] = keep + eps;
        const double up = loss(s);
        s[j] = keep - eps;
        const double down = loss(s);
        s[j] = keep;
        const double numeric = (up - down) / (2 * eps);
        worst = std::max(worst, std::fabs(numeric - analytic[j]));
        scale = std::max(scale, std::fabs(numeric));
    }
    EXPECT_GT(scale, 1e-3);
    EXPECT_LT(worst, 2e-3 * scale);
}

INSTANTIATE_TEST_SUITE_P(Sizes, Fourier,
                         ::testing::Values(std::pair{8, 8}, std::pair{7, 5}, std::pair{6, 9},
                                           std::pair{12, 10}, std::pair{64, 64}));

TEST(Fourier, FrequenciesFollowFftfreq) {
    Rfft2 f(8, 8);
    EXPECT_FLOAT_EQ(f.frequency(0, 0), 0.f);
    EXPECT_FLOAT_EQ(f.frequency(1, 0), 0.125f);
    EXPECT_FLOAT_EQ(f.frequency(7, 0), 0.125f);  // fftfreq(8)[7] = -1/8
    EXPECT_FLOAT_EQ(f.frequency(4, 0), 0.5f);
    EXPECT_FLOAT_EQ(f.frequency(0, 4), 0.5f);
}

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

const Model& fer_model() { return test::default_model(); }

int layer_node(const GraphProbe& probe, const std::string& name) {
    for (const LayerInfo& l : probe.layers())
        if (l.name == name) return l.node;
    ADD_FAILURE() << "no layer " << name;
    return -1;
}

constexpr const char* kEarly = "block1_conv2_act/Relu";
constexpr const char* kMid = "block3_sepconv2_act/Relu";

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
    GraphProbe probe(fer_model(), *select_kernel_set());
    const std::pair<const char*, int> cases[] = {{kEarly, 21}, {kEarly, 33}, {kMid, 5}, {kMid, 40}};
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
    GraphProbe probe(fer_model(), *select_kernel_set());
    const int node = layer_node(probe, kMid);
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
    GraphProbe probe(fer_model(), *select_kernel_set());
    const int node = layer_node(probe, kMid);
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
    GraphProbe probe(fer_model(), *select_kernel_set());
    const int node = layer_node(probe, kEarly);
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
    GraphProbe probe(fer_model(), *select_kernel_set());
    const int node = layer_node(probe, kEarly);
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
    GraphProbe probe(fer_model(), *select_kernel_set());
    auto all = visualize_layer(probe, layer_node(probe, "conv2d_5/BiasAdd"), quick(1));
    ASSERT_TRUE(all.has_value()) << all.status().message();
    ASSERT_EQ(all->size(), 7u);
    for (int k = 0; k < 7; ++k) EXPECT_EQ((*all)[static_cast<size_t>(k)].channel, k);
}

TEST(FilterVisualization, CancelStops) {
    GraphProbe probe(fer_model(), *select_kernel_set());
    int calls = 0;
    auto pic = visualize_filter(probe, layer_node(probe, kEarly), 3, quick(50),
                                [&](float) { return ++calls < 3; });
    ASSERT_FALSE(pic.has_value());
    EXPECT_EQ(pic.status().code(), ErrorCode::kCancelled);
    EXPECT_EQ(calls, 3);
    EXPECT_NE(pic.status().message().find("3 of 50 steps"), std::string::npos)
        << pic.status().message();
}

TEST(FilterVisualization, ErrorsNameTheProblem) {
    GraphProbe probe(fer_model(), *select_kernel_set());
    auto bad_channel = visualize_filter(probe, layer_node(probe, kEarly), 64, quick(2));
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

// --- Feature maps ------------------------------------------------------------------------------

Tensor face_input(const Model& m) {
    auto img = load_image(test::source_path("tests/data/astronaut_face.png"));
    EXPECT_TRUE(img.has_value());
    return image_to_input(*img, m.spec.input);
}

TEST(FeatureMaps, ShapesAndRanges) {
    GraphProbe probe(fer_model(), *select_kernel_set());
    const Tensor x = face_input(fer_model());
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
    GraphProbe probe(fer_model(), *select_kernel_set());
    const Tensor x = face_input(fer_model());
    const int node = layer_node(probe, kEarly);
    auto fm = feature_maps(probe, x, node);
    ProbeRequest r;
    r.layers = {node};
    auto res = probe.run(x, r);
    ASSERT_TRUE(fm && res);
    const Tensor& a = res->activations[0];  // [1, 29, 29, 64]
    EXPECT_EQ(fm->maps[(7 * 29 + 3) * 29 + 11], a[(3 * 29 + 11) * 64 + 7]);
}

TEST(FeatureMaps, ScaleModes) {
    GraphProbe probe(fer_model(), *select_kernel_set());
    const Tensor x = face_input(fer_model());
    auto global = global_activation_range(probe, x);
    ASSERT_TRUE(global.has_value()) << global.status().message();
    EXPECT_LT(global->lo, global->hi);
    for (const char* name : {kEarly, kMid, "batch_normalization_2/FusedBatchNormV3"}) {
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
    GraphProbe probe(fer_model(), *select_kernel_set());
    auto fm = feature_maps(probe, Tensor(Shape{2, 64, 64, 1}, 0.5f), layer_node(probe, kEarly));
    ASSERT_FALSE(fm.has_value());
    EXPECT_NE(fm.status().message().find("[1, H, W, C]"), std::string::npos);
}

}  // namespace
}  // namespace cnnlens

// The real 2-D DFT behind the Fourier parameterization: inverse, against the direct sum,
// adjoint, finite differences through the spectrum, frequencies.
#include "core/explain/rfft2.h"

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

}  // namespace
}  // namespace cnnlens

// A closed-form ModelProbe for axiom tests: logits = W x + b (or a smooth nonlinearity of it),
// gradients exact. Layers are not modelled.
#pragma once
#include <cmath>

#include "core/explain/probe.h"
#include "tests/test_util.h"

namespace cnnlens::test {

class AnalyticProbe final : public ModelProbe {
public:
    // quadratic: logits_c = (W_c . x + b_c) + 0.5 * q * (W_c . x)^2 — not linear when q != 0.
    AnalyticProbe(int h, int w, int classes, uint64_t seed, float q = 0.f)
        : spec_{h, w, 1, 0.f, 1.f, {}, {}}, classes_(classes), q_(q) {
        Rng rng(seed);
        W_ = random_tensor({classes, h * w}, rng);
        b_ = random_tensor({classes}, rng);
        for (int c = 0; c < classes; ++c) names_.push_back("c" + std::to_string(c));
    }
    Expected<ProbeResult> run(const Tensor& x, const ProbeRequest& r) override {
        const int64_t n = x.shape()[0], d = W_.shape()[1];
        ProbeResult out;
        out.logits.reset(Shape{n, classes_});
        std::vector<double> lin(static_cast<size_t>(n * classes_));
        for (int64_t i = 0; i < n; ++i)
            for (int c = 0; c < classes_; ++c) {
                double s = 0;
                for (int64_t j = 0; j < d; ++j) s += double(W_[c * d + j]) * x[i * d + j];
                lin[static_cast<size_t>(i * classes_ + c)] = s;
                out.logits[i * classes_ + c] = static_cast<float>(s + b_[c] + 0.5 * q_ * s * s);
            }
        out.probs = softmax_rows(out.logits);
        ++calls;
        if (r.target && r.input_gradient) {
            out.input_grad.reset(x.shape());
            out.input_grad.zero();
            for (int64_t i = 0; i < n; ++i) {
                // d logit_c / dx = W_c (1 + q lin_c); probability and contrast by the chain rule.
                std::vector<double> dl(static_cast<size_t>(classes_), 0.0);
                const float* p = out.probs.data() + i * classes_;
                for (int side = 0; side < 2; ++side) {
                    const int c = side == 0 ? r.target->cls : r.target->contrast;
                    if (c < 0) continue;
                    const double sign = side ? -1 : 1;
                    if (r.target->score == Target::Score::kLogit)
                        dl[static_cast<size_t>(c)] += sign;
                    else
                        for (int j = 0; j < classes_; ++j)
                            dl[static_cast<size_t>(j)] += sign * p[c] * ((j == c) - p[j]);
                }
                for (int c = 0; c < classes_; ++c) {
                    const double f = dl[static_cast<size_t>(c)] *
                                     (1 + q_ * lin[static_cast<size_t>(i * classes_ + c)]);
                    for (int64_t j = 0; j < d; ++j)
                        out.input_grad[i * d + j] += static_cast<float>(f * W_[c * d + j]);
                }
            }
        }
        return out;
    }
    const InputSpec& input_spec() const override { return spec_; }
    int num_classes() const override { return classes_; }
    const std::vector<std::string>& class_names() const override { return names_; }
    const Tensor& weights() const { return W_; }
    int calls = 0;

private:
    InputSpec spec_;
    int classes_;
    float q_;
    Tensor W_, b_;
    std::vector<std::string> names_;
};

}  // namespace cnnlens::test

// A linear ModelProbe from given weights (logits = W x + b over the flattened HWC input), with the
// exact input gradient of a logit target, for metric tests whose expected values come from
// tests/oracle/trust_metrics.py.
#pragma once
#include <vector>

#include "core/explain/probe.h"

namespace cnnlens::test {

class LinearFixtureProbe final : public ModelProbe {
public:
    // w: [classes * h * w * c] row-major by class; b: [classes]. Inputs in [0, 1].
    LinearFixtureProbe(int h, int w, int c, std::vector<double> weights, std::vector<double> bias)
        : spec_{h, w, c, 0.f, 1.f, {}, {}}, w_(std::move(weights)), b_(std::move(bias)) {
        for (size_t k = 0; k < b_.size(); ++k) names_.push_back("c" + std::to_string(k));
    }
    Expected<ProbeResult> run(const Tensor& x, const ProbeRequest& r) override {
        const int64_t n = x.shape()[0], classes = num_classes();
        const int64_t d = static_cast<int64_t>(w_.size()) / classes;
        ProbeResult out;
        out.logits.reset(Shape{n, classes});
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < classes; ++k) {
                double s = b_[static_cast<size_t>(k)];
                for (int64_t j = 0; j < d; ++j)
                    s += w_[static_cast<size_t>(k * d + j)] * x[i * d + j];
                out.logits[i * classes + k] = static_cast<float>(s);
            }
        out.probs = softmax_rows(out.logits);
        if (r.target && r.input_gradient) {
            if (r.target->score != Target::Score::kLogit || r.target->contrast >= 0)
                return unsupported("LinearFixtureProbe: only the gradient of one logit");
            out.input_grad.reset(x.shape());
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j < d; ++j)
                    out.input_grad[i * d + j] =
                        static_cast<float>(w_[static_cast<size_t>(r.target->cls * d + j)]);
        }
        ++calls;
        return out;
    }
    const InputSpec& input_spec() const override { return spec_; }
    int num_classes() const override { return static_cast<int>(b_.size()); }
    const std::vector<std::string>& class_names() const override { return names_; }
    int calls = 0;

private:
    InputSpec spec_;
    std::vector<double> w_, b_;
    std::vector<std::string> names_;
};

}  // namespace cnnlens::test

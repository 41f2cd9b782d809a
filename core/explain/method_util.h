// Internal helpers for method implementations: a method defined by a function and a
// parameter table, and target scores read from probe results.
#pragma once
#include <vector>

#include "core/explain/explain.h"

namespace cnnlens {

class FnMethod final : public ExplanationMethod {
public:
    using Fn = Expected<Explanation> (*)(const ExplanationMethod&, const Tensor&, const Target&, const Params&, ExplainContext&);
    FnMethod(std::string_view name, std::string_view title, std::vector<ParamDef> params, Fn fn)
        : name_(name), title_(title), params_(std::move(params)), fn_(fn) {}
    std::string_view name() const override { return name_; }
    std::string_view title() const override { return title_; }
    std::span<const ParamDef> params() const override { return params_; }
    Expected<Explanation> explain(const Tensor& image, const Target& target, const Params& p, ExplainContext& ctx) const override {
        if (image.shape().rank() != 4 || image.shape()[0] != 1)
            return invalid_argument(std::string(name_) + ": expects one image [1,H,W,C], got " + image.shape().str());
        for (const ParamDef& d : params_) {
            const double v = p.get(d.name, d.def);
            if (!(v >= d.min && v <= d.max))
                return invalid_argument(std::string(name_) + ": parameter " + std::string(d.name) + " = " + std::to_string(v) + " is outside [" +
                                        std::to_string(d.min) + ", " + std::to_string(d.max) + "]");
        }
        auto e = fn_(*this, image, target, p, ctx);
        if (e) {
            e->method = std::string(name_);
            e->target = target;
            e->height = static_cast<int>(image.shape()[1]);
            e->width = static_cast<int>(image.shape()[2]);
            record_params(*this, p, ctx, *e);
        }
        return e;
    }
    // The value of parameter `name` (its default when unset).
    double param(const Params& p, std::string_view name) const {
        for (const ParamDef& d : params_)
            if (d.name == name) return p.get(name, d.def);
        return p.get(name, 0.0);
    }

private:
    std::string_view name_, title_;
    std::vector<ParamDef> params_;
    Fn fn_;
};

// The target's score for row `row` of a probe result (logit or probability, contrast applied).
inline double target_score(const ProbeResult& r, int64_t row, const Target& t) {
    const Tensor& s = t.score == Target::Score::kLogit ? r.logits : r.probs;
    const int64_t c = s.shape()[1];
    double v = s[row * c + t.cls];
    if (t.contrast >= 0) v -= s[row * c + t.contrast];
    return v;
}

// The value a "black" pixel has in model input space, per channel.
inline std::vector<float> black_value(const InputSpec& spec) {
    std::vector<float> v(static_cast<size_t>(spec.channels), spec.range_lo);
    if (!spec.mean.empty())
        for (int k = 0; k < spec.channels; ++k) {
            const size_t j = spec.mean.size() == 1 ? 0 : static_cast<size_t>(k);
            v[static_cast<size_t>(k)] = -spec.mean[j] / spec.std[j];
        }
    return v;
}

// N copies of a [1,H,W,C] image as one batch.
inline Tensor repeat_image(const Tensor& image, int64_t n) {
    Shape s = image.shape();
    s[0] = n;
    Tensor out(s);
    for (int64_t i = 0; i < n; ++i) std::copy(image.data(), image.data() + image.size(), out.data() + i * image.size());
    return out;
}

}  // namespace cnnlens

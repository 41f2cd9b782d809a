// Model-randomization sanity check: deep copies, layer re-initialisation, rank correlation, SSIM.
#include "core/eval/sanity.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/base/rng.h"

namespace cnnlens {

namespace {

std::vector<double> ranks(std::span<const float> v) {
    std::vector<int> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
        return v[static_cast<size_t>(a)] < v[static_cast<size_t>(b)];
    });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < idx.size();) {
        size_t j = i;
        while (j + 1 < idx.size() &&
               v[static_cast<size_t>(idx[j + 1])] == v[static_cast<size_t>(idx[i])])
            ++j;
        const double avg = 0.5 * static_cast<double>(i + j);
        for (size_t k = i; k <= j; ++k) r[static_cast<size_t>(idx[k])] = avg;
        i = j + 1;
    }
    return r;
}

std::vector<float> abs_values(const Tensor& m) {
    std::vector<float> v(static_cast<size_t>(m.size()));
    for (int64_t i = 0; i < m.size(); ++i) v[static_cast<size_t>(i)] = std::fabs(m[i]);
    return v;
}

}  // namespace

Tensor abs_normalized(const Tensor& m) {
    Tensor out(m.shape());
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < m.size(); ++i) {
        lo = std::min(lo, std::fabs(m[i]));
        hi = std::max(hi, std::fabs(m[i]));
    }
    const float range = hi - lo;
    for (int64_t i = 0; i < m.size(); ++i)
        out[i] = range > 0 ? (std::fabs(m[i]) - lo) / range : 0.f;
    return out;
}

Graph clone_graph(const Graph& g) {
    Graph c;
    for (const Node& n : g.nodes()) {
        if (n.op == OpType::kInput)
            c.add_input(n.name, n.shape);
        else if (n.op == OpType::kConst)
            c.add_const(n.name, n.value.clone());
        else
            c.add_node(n.name, n.op, n.attrs, n.inputs);
    }
    for (int i = 0; i < g.size(); ++i) c.node(i).shape = g.node(i).shape;
    c.set_output(g.output());
    return c;
}

Model clone_model(const Model& m) {
    Model c;
    c.graph = clone_graph(m.graph);
    c.spec = m.spec;
    c.logits = m.logits;
    c.probs = m.probs;
    return c;
}

std::vector<int> randomizable_layers(const Graph& g) {
    std::vector<int> v;
    for (int i = g.size() - 1; i >= 0; --i) {
        const Node& n = g.node(i);
        if ((n.op == OpType::kConv2D || n.op == OpType::kMatMul) && n.inputs.size() >= 2 &&
            g.node(n.inputs[1]).op == OpType::kConst)
            v.push_back(i);
    }
    return v;
}

Status randomize_layer(Graph& g, int node, uint64_t seed, bool bias) {
    if (node < 0 || node >= g.size())
        return invalid_argument("randomize: node " + std::to_string(node) + " does not exist");
    const Node& n = g.node(node);
    if ((n.op != OpType::kConv2D && n.op != OpType::kMatMul) || n.inputs.size() < 2 ||
        g.node(n.inputs[1]).op != OpType::kConst)
        return invalid_argument("randomize: node '" + n.name + "' (" + std::string(op_name(n.op)) +
                                ") is not a Conv2D or MatMul with constant weights");
    Rng rng(seed, static_cast<uint64_t>(node));
    const size_t count = bias ? std::min<size_t>(n.inputs.size(), 3) : 2;
    for (size_t k = 1; k < count; ++k) {
        Node& w = g.node(n.inputs[k]);
        if (w.op != OpType::kConst || w.value.size() == 0) continue;
        double mean = 0, sq = 0;
        for (int64_t i = 0; i < w.value.size(); ++i) mean += w.value[i];
        mean /= static_cast<double>(w.value.size());
        for (int64_t i = 0; i < w.value.size(); ++i)
            sq += (w.value[i] - mean) * (w.value[i] - mean);
        const float sd = static_cast<float>(std::sqrt(sq / static_cast<double>(w.value.size())));
        for (int64_t i = 0; i < w.value.size(); ++i) w.value[i] = sd * rng.normal();
    }
    return Status::ok();
}

Tensor signed_map(const Explanation& e) {
    if (e.signed_map()) return e.map.clone();
    if (auto it = e.extras.find("signed"); it != e.extras.end()) return it->second.clone();
    if (!e.attribution.empty() && e.attribution.shape().rank() == 3) {
        const int64_t h = e.attribution.shape()[0], w = e.attribution.shape()[1],
                      c = e.attribution.shape()[2];
        Tensor m(Shape{h, w}, 0.f);
        for (int64_t p = 0; p < h * w; ++p)
            for (int64_t k = 0; k < c; ++k) m[p] += e.attribution[p * c + k];
        return m;
    }
    return e.map.clone();
}

double spearman(std::span<const float> a, std::span<const float> b) {
    CNNLENS_ASSERT(a.size() == b.size());
    if (a.size() < 2) return 0.0;
    const std::vector<double> ra = ranks(a), rb = ranks(b);
    const double mean = 0.5 * static_cast<double>(a.size() - 1);
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        sab += (ra[i] - mean) * (rb[i] - mean);
        saa += (ra[i] - mean) * (ra[i] - mean);
        sbb += (rb[i] - mean) * (rb[i] - mean);
    }
    return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

double ssim(const Tensor& a, const Tensor& b) {
    CNNLENS_ASSERT(a.shape() == b.shape() && a.shape().rank() == 2);
    constexpr int kWin = 7, kR = kWin / 2;
    constexpr double kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03, kNp = kWin * kWin,
                     kCovNorm = kNp / (kNp - 1);
    const int h = static_cast<int>(a.shape()[0]), w = static_cast<int>(a.shape()[1]);
    if (h < kWin || w < kWin) return 0.0;
    double total = 0;
    int64_t windows = 0;
    for (int y = kR; y < h - kR; ++y)
        for (int x = kR; x < w - kR; ++x) {
            double ma = 0, mb = 0, maa = 0, mbb = 0, mab = 0;
            for (int dy = -kR; dy <= kR; ++dy)
                for (int dx = -kR; dx <= kR; ++dx) {
                    const int64_t i = static_cast<int64_t>(y + dy) * w + (x + dx);
                    const double u = a[i], v = b[i];
                    ma += u;
                    mb += v;
                    maa += u * u;
                    mbb += v * v;
                    mab += u * v;
                }
            ma /= kNp;
            mb /= kNp;
            maa /= kNp;
            mbb /= kNp;
            mab /= kNp;
            const double va = kCovNorm * (maa - ma * ma), vb = kCovNorm * (mbb - mb * mb),
                         vab = kCovNorm * (mab - ma * mb);
            total += ((2 * ma * mb + kC1) * (2 * vab + kC2)) /
                     ((ma * ma + mb * mb + kC1) * (va + vb + kC2));
            ++windows;
        }
    return total / static_cast<double>(windows);
}

Expected<std::vector<SanityStep>> model_randomization(const Model& model, const KernelSet& kernels,
                                                      const ExplanationMethod& method,
                                                      const Tensor& image, const Target& target,
                                                      const Params& params,
                                                      const SanityOptions& opt,
                                                      const std::function<bool(float)>& progress) {
    std::vector<int> layers = randomizable_layers(model.graph);
    if (layers.empty())
        return invalid_argument(
            "sanity check: the model has no Conv2D or MatMul layer with constant weights to "
            "randomize");
    if (opt.max_layers > 0 && static_cast<size_t>(opt.max_layers) < layers.size())
        layers.resize(static_cast<size_t>(opt.max_layers));
    const int steps = static_cast<int>(layers.size()) + 1;

    std::vector<SanityStep> out;
    Model work = clone_model(model);
    Tensor original, original_signed, original_norm;
    for (int s = 0; s < steps; ++s) {
        SanityStep st;
        if (s > 0) {
            st.node = layers[static_cast<size_t>(s - 1)];
            st.layer = display_name(model.graph.node(st.node).name);
            if (opt.mode == SanityMode::kIndependent) work = clone_model(model);
            CNNLENS_RETURN_IF_ERROR(
                randomize_layer(work.graph, st.node, opt.seed, opt.randomize_bias));
        }
        GraphProbe probe(work, kernels, opt.max_batch);
        ExplainContext ctx(probe);
        ctx.seed = opt.explain_seed;
        if (progress)
            ctx.progress = [&](float f) {
                return progress((static_cast<float>(s) + std::clamp(f, 0.f, 1.f)) /
                                static_cast<float>(steps));
            };
        Expected<Explanation> e = method.explain(image, target, params, ctx);
        if (!e) {
            if (e.status().code() == ErrorCode::kCancelled) return e.status();
            return Status(e.status().code(), "sanity check step " + std::to_string(s) +
                                                 (st.layer.empty() ? "" : " ('" + st.layer + "')") +
                                                 ": " + e.status().message());
        }
        Expected<ProbeResult> r = probe.run(image, ProbeRequest{});
        if (!r) return r.status();
        st.target_probability = r->probs[target.cls];
        Tensor sm = signed_map(*e);
        if (s == 0) {
            original = e->map.clone();
            original_signed = sm.clone();
            original_norm = abs_normalized(original);
        }
        if (e->map.shape() != original.shape())
            return Status(ErrorCode::kInternal, "sanity check step " + std::to_string(s) +
                                                    ": map shape " + e->map.shape().str() +
                                                    " differs from " + original.shape().str());
        const std::vector<float> a0 = abs_values(original), a1 = abs_values(e->map);
        st.spearman_abs = spearman(a0, a1);
        st.spearman_signed = spearman(original_signed.span(), sm.span());
        st.ssim = ssim(original_norm, abs_normalized(e->map));
        st.map = std::move(e->map);
        out.push_back(std::move(st));
        if (progress && !progress(static_cast<float>(s + 1) / static_cast<float>(steps)) &&
            s + 1 < steps)
            return cancelled("sanity check cancelled after " + std::to_string(s + 1) + " of " +
                             std::to_string(steps) + " steps");
    }
    return out;
}

}  // namespace cnnlens

// shap's Partition explainer with its image masker (shap.PartitionExplainer over
// shap.maskers.Image("blur(k,k)")): Owen values over a hierarchy of axis-aligned image boxes
// (Owen, "Values of games with a priori unions", 1977; Lundberg et al., shap's Partition
// explainer), refined where the model's output moves most until the evaluation budget is spent.
//
// The tree is the masker's: a box of rows x cols x channels splits its longer spatial side in
// half (rows when rows >= cols, the first half taking floor(n/2)); channels split only once a box
// is one pixel. A hidden feature takes the image blurred by a k x k box filter (OpenCV's blur,
// reflect-101 border), k = round(blur x side) per axis: shap's image notebooks use blur(128,128)
// on 224 x 224, the default fraction 128/224. f(x) and f(all hidden) cost two evaluations.
//
// A work item is (context mask m, f(m), f(m + node), node, weight w), starting with (nothing,
// f(all hidden), f(x), root, 1). Expanding it evaluates m + left and m + right and queues four
// items of weight w/2: each child with the other absent (context m) and with it present (context
// m + other), so a node's value sums (f(with) - f(without)) over contexts as Owen's formula does.
// A leaf, or an item left over when the budget `max_evals` - 2 is spent, adds
// (f(m + node) - f(m)) w to its node; each node's total is then spread evenly over its features
// (shap's lower_credit). Items are expanded in order of |f(m + node) - f(m)| w, largest first;
// ties go first in, first out (shap breaks them with numpy noise). `batch` bounds the masked
// images per round (shap's batch_size, 10 for "auto"); it is part of the algorithm, since items
// queued in one round are ordered only in the next. Every item's four children sum to its own
// contribution, so the values sum to f(x) - f(all hidden) at any budget.
//
// Outputs: map [H,W] (the values summed over channels, signed), attribution [H,W,C],
// extras["baseline"] (the blurred image summed over channels); stats score (f(x)), base (f(all
// hidden)), sum_values, efficiency_error, evaluations, expanded (items expanded). With ctx.partial
// set, the values so far (queued items counted at their node) are reported after each round.
#include <algorithm>
#include <cmath>
#include <queue>

#include "core/explain/method_util.h"

namespace cnnlens {
namespace {

struct Box {
    int x0, x1, y0, y1, z0, z1;  // rows, cols, channels, half-open
    int64_t size() const { return int64_t{x1 - x0} * (y1 - y0) * (z1 - z0); }
};

struct Node {
    Box box;
    int left = -1, right = -1;
    double value = 0;  // credit left on this node, spread over its features at the end
};

class Tree {
public:
    explicit Tree(Box root) { nodes_.push_back({root}); }
    const Node& operator[](int i) const { return nodes_[static_cast<size_t>(i)]; }
    Node& operator[](int i) { return nodes_[static_cast<size_t>(i)]; }
    size_t size() const { return nodes_.size(); }
    void split(int i) {
        if (nodes_[static_cast<size_t>(i)].left >= 0) return;
        Box l = nodes_[static_cast<size_t>(i)].box, r = l;
        const int xw = l.x1 - l.x0, yw = l.y1 - l.y0, zw = l.z1 - l.z0;
        if (xw >= yw && xw > 1) {
            l.x1 = r.x0 = l.x0 + xw / 2;
        } else if (yw > 1) {
            l.y1 = r.y0 = l.y0 + yw / 2;
        } else {
            l.z1 = r.z0 = l.z0 + zw / 2;
        }
        nodes_.push_back({l});
        nodes_.push_back({r});
        nodes_[static_cast<size_t>(i)].left = static_cast<int>(nodes_.size()) - 2;
        nodes_[static_cast<size_t>(i)].right = static_cast<int>(nodes_.size()) - 1;
    }

private:
    std::vector<Node> nodes_;
};

struct Item {
    double priority;  // -|f11 - f00| w: smallest first
    int64_t seq;
    std::vector<int> context;  // nodes present
    double f00, f11, weight;
    int node;
    bool operator>(const Item& o) const { return priority != o.priority ? priority > o.priority : seq > o.seq; }
};

// OpenCV's normalized box filter: output i averages [i - k/2, i - k/2 + k) per axis, indices
// reflected without repeating the edge (BORDER_REFLECT_101).
Tensor box_blur(const Tensor& x, int kh, int kw) {
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]), C = static_cast<int>(x.shape()[3]);
    auto reflect = [](int i, int n) {
        if (n == 1) return 0;
        const int period = 2 * n - 2;
        i %= period;
        if (i < 0) i += period;
        return i < n ? i : period - i;
    };
    Tensor rows(x.shape()), out(x.shape());
    for (int y = 0; y < H; ++y)
        for (int xx = 0; xx < W; ++xx)
            for (int c = 0; c < C; ++c) {
                double s = 0;
                for (int d = 0; d < kw; ++d) s += x[(int64_t{y} * W + reflect(xx - kw / 2 + d, W)) * C + c];
                rows[(int64_t{y} * W + xx) * C + c] = static_cast<float>(s / kw);
            }
    for (int y = 0; y < H; ++y)
        for (int xx = 0; xx < W; ++xx)
            for (int c = 0; c < C; ++c) {
                double s = 0;
                for (int d = 0; d < kh; ++d) s += rows[(int64_t{reflect(y - kh / 2 + d, H)} * W + xx) * C + c];
                out[(int64_t{y} * W + xx) * C + c] = static_cast<float>(s / kh);
            }
    return out;
}

Expected<Explanation> partition_shap(const ExplanationMethod& m, const Tensor& x, const Target& t, const Params& p,
                                     ExplainContext& ctx) {
    const int classes = ctx.probe.num_classes();
    if (t.cls < 0 || t.cls >= classes || t.contrast >= classes)
        return invalid_argument("partition_shap: target class " + std::to_string(t.cls) +
                                (t.contrast >= 0 ? " vs " + std::to_string(t.contrast) : "") +
                                " is outside the model's " + std::to_string(classes) + " classes");
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]), C = static_cast<int>(x.shape()[3]);
    const double blur = m.param(p, "blur");
    const int kh = std::max(1, static_cast<int>(std::lround(blur * H))), kw = std::max(1, static_cast<int>(std::lround(blur * W)));
    const Tensor hidden = box_blur(x, kh, kw);
    const int64_t max_evals = static_cast<int64_t>(m.param(p, "max_evals")) - 2;
    const size_t batch = static_cast<size_t>(m.param(p, "batch"));

    ProbeRequest plain;
    double f11 = 0, f00 = 0;
    {
        Tensor ends = repeat_image(x, 2);
        std::copy(hidden.data(), hidden.data() + hidden.size(), ends.data() + x.size());
        auto res = ctx.probe.run(ends, plain);
        if (!res) return res.status();
        f11 = target_score(*res, 0, t);
        f00 = target_score(*res, 1, t);
    }

    Tree tree(Box{0, H, 0, W, 0, C});
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue;
    int64_t seq = 0, evals = 0, expanded = 0;
    queue.push({0.0, seq++, {}, f00, f11, 1.0, 0});

    auto paint = [&](Tensor& img, const std::vector<int>& on) {
        for (int node : on) {
            const Box& b = tree[node].box;
            for (int y = b.x0; y < b.x1; ++y)
                for (int xx = b.y0; xx < b.y1; ++xx)
                    for (int c = b.z0; c < b.z1; ++c) {
                        const int64_t i = (int64_t{y} * W + xx) * C + c;
                        img[i] = x[i];
                    }
        }
    };
    // The values as they stand: every node's credit (and each queued item's, at its node) spread
    // evenly over the node's features.
    auto result = [&](const std::vector<const Item*>& pending) {
        std::vector<double> credit(tree.size());
        for (size_t i = 0; i < tree.size(); ++i) credit[i] = tree[static_cast<int>(i)].value;
        for (const Item* it : pending) credit[static_cast<size_t>(it->node)] += (it->f11 - it->f00) * it->weight;
        std::vector<double> a(static_cast<size_t>(x.size()), 0.0);
        for (size_t i = 0; i < tree.size(); ++i) {
            if (credit[i] == 0) continue;
            const Box& b = tree[static_cast<int>(i)].box;
            const double v = credit[i] / static_cast<double>(b.size());
            for (int y = b.x0; y < b.x1; ++y)
                for (int xx = b.y0; xx < b.y1; ++xx)
                    for (int c = b.z0; c < b.z1; ++c) a[static_cast<size_t>((int64_t{y} * W + xx) * C + c)] += v;
        }
        Tensor attr(Shape{1, H, W, C});
        double sum = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            attr[static_cast<int64_t>(i)] = static_cast<float>(a[i]);
            sum += a[i];
        }
        Explanation e;
        e.map = sum_channels(attr);
        e.extras["baseline"] = sum_channels(hidden);
        attr.reshape(Shape{H, W, C});
        e.attribution = std::move(attr);
        e.stats["score"] = f11;
        e.stats["base"] = f00;
        e.stats["sum_values"] = sum;
        e.stats["efficiency_error"] = std::fabs(sum - (f11 - f00));
        e.stats["evaluations"] = static_cast<double>(evals + 2);
        e.stats["expanded"] = static_cast<double>(expanded);
        return e;
    };

    std::vector<Item> work;
    while (!queue.empty()) {
        if (evals >= max_evals) {
            while (!queue.empty()) {
                const Item& it = queue.top();
                tree[it.node].value += (it.f11 - it.f00) * it.weight;
                queue.pop();
            }
            break;
        }
        work.clear();
        while (!queue.empty() && 2 * work.size() < batch && evals + 2 * static_cast<int64_t>(work.size()) < max_evals) {
            Item it = queue.top();
            queue.pop();
            if (tree[it.node].box.size() == 1) {
                tree[it.node].value += (it.f11 - it.f00) * it.weight;
                continue;
            }
            tree.split(it.node);
            work.push_back(std::move(it));
        }
        if (work.empty()) continue;
        Tensor b(Shape{static_cast<int64_t>(2 * work.size()), H, W, C});
        for (size_t k = 0; k < work.size(); ++k) {
            const Node& n = tree[work[k].node];
            for (int side = 0; side < 2; ++side) {
                Tensor img(Shape{1, H, W, C});
                std::copy(hidden.data(), hidden.data() + hidden.size(), img.data());
                std::vector<int> on = work[k].context;
                on.push_back(side == 0 ? n.left : n.right);
                paint(img, on);
                std::copy(img.data(), img.data() + img.size(), b.data() + static_cast<int64_t>(2 * k + side) * img.size());
            }
        }
        auto res = ctx.probe.run(b, plain);
        if (!res) return res.status();
        evals += 2 * static_cast<int64_t>(work.size());
        for (size_t k = 0; k < work.size(); ++k) {
            const Item& it = work[k];
            const int l = tree[it.node].left, r = tree[it.node].right;
            const double f10 = target_score(*res, static_cast<int64_t>(2 * k), t);
            const double f01 = target_score(*res, static_cast<int64_t>(2 * k + 1), t);
            const double w = it.weight / 2;
            std::vector<int> with_l = it.context, with_r = it.context;
            with_l.push_back(l);
            with_r.push_back(r);
            queue.push({-std::fabs(f10 - it.f00) * w, seq++, it.context, it.f00, f10, w, l});
            queue.push({-std::fabs(f01 - it.f00) * w, seq++, it.context, it.f00, f01, w, r});
            queue.push({-std::fabs(it.f11 - f01) * w, seq++, with_r, f01, it.f11, w, l});
            queue.push({-std::fabs(it.f11 - f10) * w, seq++, with_l, f10, it.f11, w, r});
            ++expanded;
        }
        if (!ctx.report(static_cast<float>(std::min(evals, max_evals)) / static_cast<float>(std::max<int64_t>(max_evals, 1))))
            return cancelled("partition_shap cancelled after " + std::to_string(evals + 2) + " of " +
                             std::to_string(max_evals + 2) + " evaluations");
        if (ctx.partial && evals < max_evals && !queue.empty()) {
            // std::priority_queue hides its items; a copy lists them.
            auto copy = queue;
            std::vector<Item> items;
            while (!copy.empty()) {
                items.push_back(copy.top());
                copy.pop();
            }
            std::vector<const Item*> pending;
            for (const Item& it : items) pending.push_back(&it);
            Explanation e = result(pending);
            stamp_explanation(m, x, t, p, ctx, e);
            ctx.partial(e);
        }
    }
    return result({});
}

}  // namespace

const ExplanationMethod& method_PartitionShap() {
    // clang-format off
    static const FnMethod m({.name = "partition_shap", .title = "Partition SHAP",
        .traits = {.cost = MethodCost::kJob, .default_score = Target::Score::kProbability, .norm = MapNorm::kSignedPercentile99},
        .params = {
        {"max_evals", 500, 4, 100000, "model evaluations, f(x) and f(all hidden) included (shap's default 500)", {}, true},
        {"blur", 128.0 / 224.0, 0.01, 1, "box blur of hidden pixels, as a fraction of the image side (shap's blur(128,128) on 224 pixels)", {}, false},
        {"batch", 10, 2, 4096, "masked images per round (shap's batch_size, 10 for auto); rounds order the work, so it changes the result", {}, true},
        },
        .explain = partition_shap});
    // clang-format on
    return m;
}

}  // namespace cnnlens

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

struct BoxNode {
    Box box;
    int left = -1, right = -1;
    double value = 0;  // credit left on this node, spread over its features at the end
};

class Tree {
public:
    explicit Tree(Box root) { nodes_.push_back({root}); }
    const BoxNode& operator[](int i) const { return nodes_[static_cast<size_t>(i)]; }
    BoxNode& operator[](int i) { return nodes_[static_cast<size_t>(i)]; }
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
    std::vector<BoxNode> nodes_;
};

struct Item {
    double priority;  // -|f11 - f00| w: smallest first
    int64_t seq;
    std::vector<int> context;  // nodes present
    double f00, f11, weight;
    int node;
    bool operator>(const Item& o) const {
        return priority != o.priority ? priority > o.priority : seq > o.seq;
    }
};

// OpenCV's normalized box filter: output i averages [i - k/2, i - k/2 + k) per axis, indices
// reflected without repeating the edge (BORDER_REFLECT_101).
Tensor box_blur(const Tensor& x, int kh, int kw) {
    const int H = static_cast<int>(x.shape()[1]), W = static_cast<int>(x.shape()[2]),
              C = static_cast<int>(x.shape()[3]);
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
                for (int d = 0; d < kw; ++d)
                    s += x[(int64_t{y} * W + reflect(xx - kw / 2 + d, W)) * C + c];
                rows[(int64_t{y} * W + xx) * C + c] = static_cast<float>(s / kw);
            }
    for (int y = 0; y < H; ++y)
        for (int xx = 0; xx < W; ++xx)
            for (int c = 0; c < C; ++c) {
                double s = 0;
                for (int d = 0; d < kh; ++d)
                    s += rows[(int64_t{reflect(y - kh / 2 + d, H)} * W + xx) * C + c];
                out[(int64_t{y} * W + xx) * C + c] = static_cast<float>(s / kh);
            }
    return out;
}

// The search's state between model calls: partition_shap's loop asks it for a round's masked
// images and hands back their scores.
class OwenSearch {
public:
    OwenSearch(const Tensor& x, Tensor hidden, double f11, double f00, int64_t budget, size_t batch)
        : x_(x),
          hidden_(std::move(hidden)),
          tree_(Box{0, dim(1), 0, dim(2), 0, dim(3)}),
          f11_(f11),
          f00_(f00),
          budget_(budget),
          batch_(batch) {
        queue_.push({0.0, seq_++, {}, f00, f11, 1.0, 0});
    }
    bool done() const { return queue_.empty(); }
    int64_t evaluations() const { return evals_ + 2; }
    bool budget_left() const { return evals_ < budget_ && !queue_.empty(); }

    // The next round's items and their masked images (2 per item), or an empty batch when the
    // budget is spent (the queue's credit then stays on its nodes).
    Tensor next_round() {
        work_.clear();
        for (;;) {
            if (queue_.empty()) return Tensor();
            if (evals_ >= budget_) {
                for (; !queue_.empty(); queue_.pop())
                    tree_[queue_.top().node].value +=
                        (queue_.top().f11 - queue_.top().f00) * queue_.top().weight;
                return Tensor();
            }
            while (!queue_.empty() && 2 * work_.size() < batch_ &&
                   evals_ + 2 * static_cast<int64_t>(work_.size()) < budget_) {
                Item it = queue_.top();
                queue_.pop();
                if (tree_[it.node].box.size() == 1) {
                    tree_[it.node].value += (it.f11 - it.f00) * it.weight;
                    continue;
                }
                tree_.split(it.node);
                work_.push_back(std::move(it));
            }
            if (!work_.empty()) break;
        }
        const int64_t per = x_.size();
        Tensor b(Shape{static_cast<int64_t>(2 * work_.size()), dim(1), dim(2), dim(3)});
        for (size_t k = 0; k < work_.size(); ++k)
            for (int side = 0; side < 2; ++side) {
                float* img = b.data() + static_cast<int64_t>(2 * k + side) * per;
                std::copy(hidden_.data(), hidden_.data() + per, img);
                const BoxNode& n = tree_[work_[k].node];
                paint(img, work_[k].context);
                paint(img, {side == 0 ? n.left : n.right});
            }
        return b;
    }

    // Queues each expanded item's four children from the round's scores (2 per item).
    void finish_round(const std::vector<double>& scores) {
        evals_ += static_cast<int64_t>(scores.size());
        for (size_t k = 0; k < work_.size(); ++k) {
            const Item& it = work_[k];
            const int l = tree_[it.node].left, r = tree_[it.node].right;
            const double f10 = scores[2 * k], f01 = scores[2 * k + 1], w = it.weight / 2;
            std::vector<int> with_l = it.context, with_r = it.context;
            with_l.push_back(l);
            with_r.push_back(r);
            queue_.push({-std::fabs(f10 - it.f00) * w, seq_++, it.context, it.f00, f10, w, l});
            queue_.push({-std::fabs(f01 - it.f00) * w, seq_++, it.context, it.f00, f01, w, r});
            queue_.push(
                {-std::fabs(it.f11 - f01) * w, seq_++, std::move(with_r), f01, it.f11, w, l});
            queue_.push(
                {-std::fabs(it.f11 - f10) * w, seq_++, std::move(with_l), f10, it.f11, w, r});
            ++expanded_;
        }
    }

    // The values as they stand: every node's credit (and each queued item's, at its node) spread
    // evenly over the node's features.
    Explanation explanation() const {
        std::vector<double> credit(tree_.size());
        for (size_t i = 0; i < tree_.size(); ++i) credit[i] = tree_[static_cast<int>(i)].value;
        for (auto copy = queue_; !copy.empty(); copy.pop())
            credit[static_cast<size_t>(copy.top().node)] +=
                (copy.top().f11 - copy.top().f00) * copy.top().weight;
        const int W = dim(2), C = dim(3);
        std::vector<double> a(static_cast<size_t>(x_.size()), 0.0);
        for (size_t i = 0; i < tree_.size(); ++i) {
            if (credit[i] == 0) continue;
            const Box& b = tree_[static_cast<int>(i)].box;
            const double v = credit[i] / static_cast<double>(b.size());
            for (int y = b.x0; y < b.x1; ++y)
                for (int xx = b.y0; xx < b.y1; ++xx)
                    for (int c = b.z0; c < b.z1; ++c)
                        a[static_cast<size_t>((int64_t{y} * W + xx) * C + c)] += v;
        }
        Tensor attr(x_.shape());
        double sum = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            attr[static_cast<int64_t>(i)] = static_cast<float>(a[i]);
            sum += a[i];
        }
        Explanation e;
        e.map = sum_channels(attr);
        e.extras["baseline"] = sum_channels(hidden_);
        attr.reshape(Shape{dim(1), W, C});
        e.attribution = std::move(attr);
        e.stats["score"] = f11_;
        e.stats["base"] = f00_;
        e.stats["sum_values"] = sum;
        e.stats["efficiency_error"] = std::fabs(sum - (f11_ - f00_));
        e.stats["evaluations"] = static_cast<double>(evaluations());
        e.stats["expanded"] = static_cast<double>(expanded_);
        return e;
    }

private:
    int dim(int i) const { return static_cast<int>(x_.shape()[i]); }
    void paint(float* img, const std::vector<int>& on) const {
        const int W = dim(2), C = dim(3);
        for (int node : on) {
            const Box& b = tree_[node].box;
            for (int y = b.x0; y < b.x1; ++y)
                for (int xx = b.y0; xx < b.y1; ++xx)
                    for (int c = b.z0; c < b.z1; ++c) {
                        const int64_t i = (int64_t{y} * W + xx) * C + c;
                        img[i] = x_[i];
                    }
        }
    }

    const Tensor& x_;
    Tensor hidden_;
    Tree tree_;
    double f11_, f00_;
    int64_t budget_;
    size_t batch_;
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;
    std::vector<Item> work_;
    int64_t seq_ = 0, evals_ = 0, expanded_ = 0;
};

Expected<Explanation> partition_shap(const ExplanationMethod& m, const Tensor& x, const Target& t,
                                     const Params& p, ExplainContext& ctx) {
    const int classes = ctx.probe.num_classes();
    if (t.cls < 0 || t.cls >= classes || t.contrast >= classes)
        return invalid_argument("partition_shap: target class " + std::to_string(t.cls) +
                                (t.contrast >= 0 ? " vs " + std::to_string(t.contrast) : "") +
                                " is outside the model's " + std::to_string(classes) + " classes");
    const double blur = m.param(p, "blur");
    Tensor hidden = box_blur(
        x, std::max(1, static_cast<int>(std::lround(blur * static_cast<double>(x.shape()[1])))),
        std::max(1, static_cast<int>(std::lround(blur * static_cast<double>(x.shape()[2])))));
    const int64_t budget = static_cast<int64_t>(m.param(p, "max_evals")) - 2;
    ProbeRequest plain;
    Tensor ends = repeat_image(x, 2);
    std::copy(hidden.data(), hidden.data() + hidden.size(), ends.data() + x.size());
    auto res = ctx.probe.run(ends, plain);
    if (!res) return res.status();
    OwenSearch search(x, std::move(hidden), target_score(*res, 0, t), target_score(*res, 1, t),
                      budget, static_cast<size_t>(m.param(p, "batch")));
    std::vector<double> scores;
    for (Tensor b = search.next_round(); !b.empty(); b = search.next_round()) {
        res = ctx.probe.run(b, plain);
        if (!res) return res.status();
        scores.resize(static_cast<size_t>(b.shape()[0]));
        for (size_t r = 0; r < scores.size(); ++r)
            scores[r] = target_score(*res, static_cast<int64_t>(r), t);
        search.finish_round(scores);
        if (!ctx.report(static_cast<float>(search.evaluations() - 2) /
                        static_cast<float>(std::max<int64_t>(budget, 1))))
            return cancelled("partition_shap cancelled after " +
                             std::to_string(search.evaluations()) + " of " +
                             std::to_string(budget + 2) + " evaluations");
        if (ctx.partial && search.budget_left()) {
            Explanation e = search.explanation();
            stamp_explanation(m, x, t, p, ctx, e);
            ctx.partial(e);
        }
    }
    return search.explanation();
}

}  // namespace

const ExplanationMethod& method_PartitionShap() {
    static const FnMethod m(
        {.name = "partition_shap",
         .title = "Partition SHAP",
         .traits = {.cost = MethodCost::kJob,
                    .default_score = Target::Score::kProbability,
                    .norm = MapNorm::kSignedPercentile99},
         .card = {.what = "Owen values over a hierarchy of image boxes: the image is halved again "
                          "and again, and the "
                          "model is asked about a box shown or blurred, in the context of its "
                          "sibling, refining first "
                          "where the score moves most, until the budget of evaluations is spent. "
                          "The values add up "
                          "to f(image) - f(all blurred) at any budget.",
                  .reading = "Rectangles of colour: red boxes raise the class score when shown, "
                             "blue lower it; "
                             "finer boxes where the model's output changed most.",
                  .passes = "{max_evals} forward passes, up to {batch} per round",
                  .paper = "Lundberg et al., shap's Partition explainer (Owen 1977, Values of "
                           "games with a priori "
                           "unions)",
                  .anchor = "shap's PartitionExplainer with its blur(128,128) image masker"},
         .params =
             {{.name = "max_evals",
               .label = "Evaluations",
               .def = 500,
               .min = 4,
               .max = 100000,
               .integer = true,
               .help = "Model evaluations, the image and the all-hidden image included: more "
                       "refines smaller "
                       "boxes.",
               .anchor = "shap's max_evals (500)"},
              {.name = "blur",
               .label = "Blur size",
               .def = 128.0 / 224.0,
               .min = 0.01,
               .max = 1,
               .help = "Box blur of hidden pixels, as a fraction of the image side.",
               .anchor = "shap's blur(128,128) on 224 pixels"},
              {.name = "batch",
               .label = "Batch size",
               .def = 10,
               .min = 2,
               .max = 4096,
               .integer = true,
               .help = "Masked images per round; rounds order the work, so it changes the result.",
               .anchor = "shap's batch_size (10 for auto)"}},
         .explain = partition_shap});
    return m;
}

}  // namespace cnnlens

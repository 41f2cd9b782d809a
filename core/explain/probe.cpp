#include "core/explain/probe.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "core/base/assert.h"
#include "core/base/limits.h"
#include "core/base/thread_pool.h"
#include "core/kernels/kernels.h"

namespace cnnlens {

Tensor softmax_rows(const Tensor& logits) {
    Tensor p(logits.shape());
    const int64_t c = logits.shape().dim(-1), rows = logits.size() / c;
    for (int64_t r = 0; r < rows; ++r) {
        const float* x = logits.data() + r * c;
        const float m = *std::max_element(x, x + c);
        double s = 0;
        for (int64_t j = 0; j < c; ++j) s += std::exp(static_cast<double>(x[j]) - m);
        for (int64_t j = 0; j < c; ++j)
            p[r * c + j] = static_cast<float>(std::exp(static_cast<double>(x[j]) - m) / s);
    }
    return p;
}

std::vector<int> argmax_rows(const Tensor& t) {
    const int64_t c = t.shape().dim(-1), rows = t.size() / c;
    std::vector<int> out(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r)
        out[static_cast<size_t>(r)] = static_cast<int>(
            std::max_element(t.data() + r * c, t.data() + (r + 1) * c) - (t.data() + r * c));
    return out;
}

int batch_that_fits(const Graph& g, int max_batch) {
    const int64_t per_image = g.tape_bytes_per_image();
    const int64_t fits = per_image > 0 ? limits::kMaxActivationBytes / per_image : max_batch;
    return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(max_batch, fits)));
}

// A model whose largest node of one image fits in kChunkBytes runs pieces that fit there too.
constexpr int64_t kChunkBytes = 512 * 1024;
bool small_model(const Graph& g) { return g.peak_node_bytes_per_image() <= kChunkBytes; }

int cache_chunk(const Graph& g, int max_batch) {
    constexpr int64_t kLargeChunkBytes = 8 << 20;
    if (small_model(g)) {
        const int64_t peak = std::max<int64_t>(g.peak_node_bytes_per_image(), 1);
        return static_cast<int>(std::min<int64_t>(kChunkBytes / peak, std::max(max_batch, 1)));
    }
    int64_t activations = 1;  // the largest node that is no constant (weights are read once)
    for (int i = 0; i < g.size(); ++i)
        if (g.node(i).op != OpType::kConst)
            activations = std::max(activations, g.node(i).shape.elements() * int64_t{4});
    const int64_t chunk = kLargeChunkBytes / activations;
    return static_cast<int>(std::clamp<int64_t>(chunk, 1, std::max(max_batch, 1)));
}

// A large model's gradient pieces hold as many images as keep a piece's tape within 256 MiB, at
// least its forward chunk: a backward pass reads every weight again, and the layers where
// weights outweigh one image's activations (resnet's 7x7 x 512) pay for reading them per piece.
// resnet18's float32 gradient took 49.6, 47.7 and 45.4 ms an image at pieces of 2, 4 and 8
// images natively. A small model keeps its chunk.
int gradient_chunk(const Graph& g, int chunk, int max_batch) {
    constexpr int64_t kPieceTapeBytes = int64_t{256} << 20;
    if (small_model(g)) return chunk;
    const int64_t tape = std::max<int64_t>(g.tape_bytes_per_image(), 1);
    return static_cast<int>(
        std::clamp<int64_t>(kPieceTapeBytes / tape, chunk, std::max(max_batch, chunk)));
}

std::vector<LrpRule> lrp_rules(const Graph& g, const LrpComposite& c) {
    std::vector<LrpRule> rules(static_cast<size_t>(g.size()));
    bool first_taken = !c.first.has_value();
    for (int i = 0; i < g.size(); ++i) {
        const OpType op = g.node(i).op;
        const bool conv = op == OpType::kConv2D || op == OpType::kConvTranspose;
        if (!conv && op != OpType::kMatMul) continue;
        LrpRule& rule = rules[static_cast<size_t>(i)];
        rule = conv ? c.conv : c.dense;
        if (!first_taken && (conv || c.first_dense)) {
            rule = *c.first;
            first_taken = true;
        }
    }
    return rules;
}

GraphProbe::GraphProbe(const Model& model, const KernelSet& kernels, int max_batch)
    : model_(model),
      kernels_(kernels),
      max_batch_(batch_that_fits(model.graph, max_batch)),
      chunk_(cache_chunk(model.graph, max_batch_)),
      gradient_chunk_(gradient_chunk(model.graph, chunk_, max_batch_)) {
    executors_.push_back(std::make_unique<Executor>(model.graph, kernels));
}

std::vector<LayerInfo> GraphProbe::layers() const {
    std::vector<LayerInfo> v;
    const Graph& g = model_.graph;
    for (int i = 0; i < g.size(); ++i) {
        const Node& n = g.node(i);
        if (n.op == OpType::kConst || n.op == OpType::kIdentity) continue;
        LayerInfo l;
        l.node = i;
        l.name = display_name(n.name);
        l.op = std::string(op_name(n.op));
        if (const auto* c = std::get_if<ConvAttrs>(&n.attrs); c && c->groups > 1)
            l.op = "DepthwiseConv";
        l.shape = n.shape;
        l.image = n.image;
        if (n.op == OpType::kInput) l.shape[0] = 1;
        v.push_back(std::move(l));
    }
    return v;
}

Status GraphProbe::run_chunk(Executor& ex, const Tensor& x, const ProbeRequest& r, ProbeResult& out,
                             int64_t first) {
    const bool objective = r.target.has_value() || r.channel.has_value();
    if (r.reference) {  // rows [0, n) the images, [n, 2n) their references (Executor::deeplift)
        const int64_t m = x.shape()[0], per = x.size() / m;
        const Tensor& ref = *r.reference;
        Shape s = x.shape();
        s[0] = 2 * m;
        Tensor both(s);
        std::copy(x.data(), x.data() + x.size(), both.data());
        for (int64_t i = 0; i < m; ++i) {
            const float* src = ref.data() + (ref.shape()[0] == 1 ? 0 : (first + i) * per);
            std::copy(src, src + per, both.data() + (m + i) * per);
        }
        CNNLENS_RETURN_IF_ERROR(ex.forward(both));
    } else {  // keep just what is read below (and by a backward sweep), recycle the rest
        std::vector<int> keep(r.layers.begin(), r.layers.end());
        keep.push_back(model_.logits);
        if (model_.probs >= 0) keep.push_back(model_.probs);
        if (r.channel) keep.push_back(r.channel->layer);
        if (!objective)
            CNNLENS_RETURN_IF_ERROR(ex.forward(x, keep));
        else if (r.lrp)  // LRP's rules read every input
            CNNLENS_RETURN_IF_ERROR(ex.forward(x));
        else
            CNNLENS_RETURN_IF_ERROR(ex.forward_for_backward(x, keep));
    }
    const int64_t n = x.shape()[0];
    const int classes = model_.num_classes();
    copy_scores(ex, n, out, first);
    const Tensor& lg = ex.value(model_.logits);
    if (r.reference)
        std::copy(lg.data() + n * classes, lg.data() + 2 * n * classes,
                  out.reference_logits.data() + first * classes);
    const Tensor& probs = out.probs;

    std::vector<Seed> seeds;
    if (r.target && r.lrp) {
        const Target& t = *r.target;
        const Tensor& score = t.score == Target::Score::kLogit ? lg : probs;
        Tensor s(lg.shape(), 0.f);
        for (int64_t i = 0; i < n; ++i) {
            const int64_t row = t.score == Target::Score::kLogit ? i : first + i;
            s[i * classes + t.cls] += score[row * classes + t.cls];
            if (t.contrast >= 0) s[i * classes + t.contrast] -= score[row * classes + t.contrast];
        }
        seeds.push_back({model_.logits, std::move(s)});
    } else if (r.target) {
        const Target& t = *r.target;
        Tensor s(lg.shape(), 0.f);
        for (int64_t i = 0; i < n; ++i) {
            float* row = s.data() + i * classes;
            const float* p = probs.data() + (first + i) * classes;
            for (int side = 0; side < 2; ++side) {
                const int c = side == 0 ? t.cls : t.contrast;
                if (c < 0) continue;
                const float sign = side == 0 ? 1.f : -1.f;
                if (t.score == Target::Score::kLogit) {
                    row[c] += sign;
                } else {  // d p_c / d logits = p_c (e_c - p)
                    for (int j = 0; j < classes; ++j)
                        row[j] += sign * p[c] * ((j == c ? 1.f : 0.f) - p[j]);
                }
            }
        }
        seeds.push_back({model_.logits, std::move(s)});
    }
    if (r.channel)
        seeds.push_back({r.channel->layer, seed_channel_mean(ex.value(r.channel->layer).shape(),
                                                             r.channel->channel)});

    auto copy_into = [&](Tensor& dst, const Tensor& src) {
        {
            // Whichever piece finishes first sizes the output; the others fill it in place.
            std::lock_guard<std::mutex> l(sizing_);
            if (dst.empty()) {
                Shape s = src.shape();
                s[0] = out.logits.shape()[0];
                dst.reset(s);
            }
        }
        // With a reference, src holds the references' rows after the images' n: not copied.
        const int64_t row = src.size() / src.shape()[0];
        CNNLENS_ASSERT(dst.size() == out.logits.shape()[0] * row);
        std::copy(src.data(), src.data() + n * row, dst.data() + first * row);
    };
    for (size_t k = 0; k < r.layers.size(); ++k)
        copy_into(out.activations[k], ex.value(r.layers[k]));
    if (!objective) return Status::ok();
    std::vector<int> wanted;
    if (r.input_gradient) wanted.push_back(model_.graph.input());
    for (int l : r.layers) wanted.push_back(l);
    std::vector<Tensor> grads;
    if (r.reference)
        CNNLENS_RETURN_IF_ERROR(ex.deeplift(seeds, wanted, grads));
    else if (r.lrp)
        CNNLENS_RETURN_IF_ERROR(
            ex.relevance(seeds, wanted, lrp_rules(model_.graph, *r.lrp), grads));
    else
        CNNLENS_RETURN_IF_ERROR(ex.backward(seeds, wanted, r.relu_rule, grads));
    size_t k = 0;
    if (r.input_gradient) copy_into(out.input_grad, grads[k++]);
    for (size_t l = 0; l < r.layers.size(); ++l) copy_into(out.activation_grads[l], grads[k++]);
    return Status::ok();
}

void GraphProbe::copy_scores(const Executor& ex, int64_t n, ProbeResult& out, int64_t first) const {
    const int classes = model_.num_classes();
    const Tensor& lg = ex.value(model_.logits);
    std::copy(lg.data(), lg.data() + n * classes, out.logits.data() + first * classes);
    if (model_.probs >= 0 && ex.value(model_.probs).shape()[0] == n) {
        const Tensor& p = ex.value(model_.probs);
        std::copy(p.data(), p.data() + n * classes, out.probs.data() + first * classes);
    } else {
        const Tensor p = softmax_rows(lg);
        std::copy(p.data(), p.data() + n * classes, out.probs.data() + first * classes);
    }
}

Status GraphProbe::check_replace(const Tensor& batch, const ProbeRequest& r) const {
    const Graph& g = model_.graph;
    const int l = r.replace->layer;
    if (l < 0 || l >= g.size() || g.node(l).op == OpType::kConst)
        return invalid_argument("layer index " + std::to_string(l) +
                                " is not a layer of the model");
    const std::string name = "layer '" + display_name(g.node(l).name) + "'";
    if (r.target || r.channel || r.input_gradient || !r.layers.empty())
        return invalid_argument("replacing the activations of " + name +
                                " gives class scores only (no gradients, no layers)");
    if (batch.shape()[0] != 1)
        return invalid_argument("replacing the activations of " + name +
                                " needs one image, got a batch of " +
                                std::to_string(batch.shape()[0]));
    if (!r.replace->values || r.replace->values->shape().rank() < 1 ||
        r.replace->values->shape()[0] < 1)
        return invalid_argument("replacing the activations of " + name + ": no values");
    const Shape& want = g.node(l).shape;
    const Shape& got = r.replace->values->shape();
    bool ok = got.rank() == want.rank();
    for (int d = 1; ok && d < want.rank(); ++d) ok = want[d] < 0 || got[d] == want[d];
    if (!ok)
        return invalid_argument("values " + got.str() + " cannot replace the output " + want.str() +
                                " of " + name);
    std::vector<char> down(static_cast<size_t>(g.size()), 0);
    down[static_cast<size_t>(l)] = 1;
    for (int i = l + 1; i < g.size(); ++i)
        for (int k : g.node(i).inputs) down[static_cast<size_t>(i)] |= down[static_cast<size_t>(k)];
    if (!down[static_cast<size_t>(model_.logits)])
        return invalid_argument(name + " does not lead to the class scores");
    return Status::ok();
}

Expected<ProbeResult> GraphProbe::run(const Tensor& batch, const ProbeRequest& r) {
    if (r.replace) CNNLENS_RETURN_IF_ERROR(check_replace(batch, r));
    const int64_t n = r.replace ? r.replace->values->shape()[0] : batch.shape()[0];
    const int classes = model_.num_classes();
    if (r.target) {
        if (r.target->cls < 0 || r.target->cls >= classes || r.target->contrast >= classes)
            return invalid_argument(
                "target class " + std::to_string(r.target->cls) +
                (r.target->contrast >= 0 ? " vs " + std::to_string(r.target->contrast) : "") +
                " is out of range (the model has " + std::to_string(classes) + " classes)");
    }
    if (r.channel) {
        const int l = r.channel->layer;
        if (l < 0 || l >= model_.graph.size() || model_.graph.node(l).shape.rank() < 2)
            return invalid_argument("layer index " + std::to_string(l) +
                                    " is not a layer of the model");
        const int64_t chans = model_.graph.node(l).shape.dim(-1);
        if (r.channel->channel < 0 || r.channel->channel >= chans)
            return invalid_argument("channel " + std::to_string(r.channel->channel) +
                                    " of layer '" + display_name(model_.graph.node(l).name) +
                                    "' does not exist (it has " + std::to_string(chans) + ")");
    }
    for (int l : r.layers)
        if (l < 0 || l >= model_.graph.size() || model_.graph.node(l).op == OpType::kConst)
            return invalid_argument("layer index " + std::to_string(l) +
                                    " is not a layer of the model");
    if (r.reference) {
        const Shape& rs = r.reference->shape();
        bool fits = rs.rank() == batch.shape().rank() && (rs[0] == 1 || rs[0] == n);
        for (int d = 1; fits && d < rs.rank(); ++d) fits = rs[d] == batch.shape()[d];
        if (!fits)
            return invalid_argument("DeepLIFT: reference " + rs.str() + " does not fit the batch " +
                                    batch.shape().str());
        if (!r.target || r.target->score != Target::Score::kLogit || r.channel || r.lrp ||
            !r.layers.empty() || r.replace)
            return invalid_argument(
                "DeepLIFT explains a logit (or a contrast of two) and returns only the input's "
                "multipliers");
    }
    ProbeResult out;
    out.logits.reset(Shape{n, classes});
    out.probs.reset(Shape{n, classes});
    if (r.reference) out.reference_logits.reset(Shape{n, classes});
    out.activations.resize(r.layers.size());
    if (r.target || r.channel) out.activation_grads.resize(r.layers.size());
    // A DeepLIFT piece runs its images and their references together: half the images per piece.
    // Pieces are of nearly equal sizes. Pieces of 4 or more images come in an even number so
    // that two threads share them evenly (smaller pieces would lose more to shrinking). The
    // layout depends on the request and the model, never on the threads: a piece's size can
    // pick a convolution's algorithm, and so its rounding.
    const int chunk = r.target || r.channel ? gradient_chunk_ : chunk_;
    const int64_t step = r.reference ? std::max(1, chunk / 2) : chunk;
    int64_t pieces = (n + step - 1) / step;
    if (step >= 4 && pieces > 1 && pieces % 2) ++pieces;
    const int64_t per = batch.size() / n;
    const size_t threads = static_cast<size_t>(pool_threads());
    while (executors_.size() < threads)
        executors_.push_back(std::make_unique<Executor>(model_.graph, kernels_));
    if (chunks_.size() < threads) chunks_.resize(threads);
    std::vector<char> has_prefix(threads, 0);  // replace: this thread's executor ran the image
    auto piece = [&](int64_t i, int thread) -> Status {
        const int64_t first = i * n / pieces, m = (i + 1) * n / pieces - first;
        Executor& ex = *executors_[static_cast<size_t>(thread)];
        if (r.replace) {
            if (!has_prefix[static_cast<size_t>(thread)]) {
                CNNLENS_RETURN_IF_ERROR(ex.forward(batch));
                has_prefix[static_cast<size_t>(thread)] = 1;
            }
            const Tensor& v = *r.replace->values;
            const int64_t row = v.size() / n;
            Shape s = v.shape();
            s[0] = m;
            Tensor& chunk = chunks_[static_cast<size_t>(thread)];
            chunk.reset(s);
            std::copy(v.data() + first * row, v.data() + (first + m) * row, chunk.data());
            CNNLENS_RETURN_IF_ERROR(ex.forward_from(r.replace->layer, chunk));
            copy_scores(ex, m, out, first);
            return Status::ok();
        }
        Shape s = batch.shape();
        s[0] = m;
        Tensor& chunk = chunks_[static_cast<size_t>(thread)];
        chunk.reset(s);  // keeps its buffer from piece to piece
        std::copy(batch.data() + first * per, batch.data() + (first + m) * per, chunk.data());
        return run_chunk(ex, chunk, r, out, first);
    };
    // Several pieces run one per thread, each thread's kernels single-threaded (kernel sets see
    // in_parallel_region()); a single piece splits its kernels across the threads instead.
    if (pieces > 1 && threads > 1) park_kernel_threads();
    std::vector<Status> failed(threads, Status::ok());
    parallel_for_dynamic(pieces, 1, [&](int64_t i0, int64_t i1, int thread) {
        for (int64_t i = i0; i < i1 && failed[static_cast<size_t>(thread)].is_ok(); ++i)
            failed[static_cast<size_t>(thread)] = piece(i, thread);
    });
    for (const Status& f : failed) CNNLENS_RETURN_IF_ERROR(f);
    return out;
}

int64_t GraphProbe::buffer_bytes() const {
    int64_t bytes = 0;
    for (const auto& ex : executors_) bytes += ex->buffer_bytes();
    for (const Tensor& c : chunks_) bytes += c.capacity() * static_cast<int64_t>(sizeof(float));
    return bytes;
}

std::string layer_name(const ModelProbe& probe, int node) {
    for (const LayerInfo& l : probe.layers())
        if (l.node == node) return l.name;
    return "node " + std::to_string(node);
}

}  // namespace cnnlens

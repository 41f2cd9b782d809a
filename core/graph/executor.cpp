#include "core/graph/executor.h"

#include "core/graph/memory_plan.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>

namespace cnnlens {

Executor::Executor(const Graph& graph, const KernelSet& kernels)
    : graph_(graph),
      kernels_(kernels),
      values_(static_cast<size_t>(graph.size())),
      states_(static_cast<size_t>(graph.size())),
      grads_(static_cast<size_t>(graph.size())),
      last_use_(static_cast<size_t>(graph.size()), -1),
      read_by_backward_(read_by_backward(graph)) {
    for (int i = 0; i < graph.size(); ++i)
        for (int k : graph.node(i).inputs)
            last_use_[static_cast<size_t>(k)] = std::max(last_use_[static_cast<size_t>(k)], i);
    fusable_ = fusable_activations(graph);
    max_pool_below_.assign(static_cast<size_t>(graph.size()), 0);
    for (int i = graph.size() - 1; i >= 0; --i)
        if (graph.node(i).op == OpType::kMaxPool || max_pool_below_[static_cast<size_t>(i)])
            for (int k : graph.node(i).inputs) max_pool_below_[static_cast<size_t>(k)] = 1;
}

namespace {
std::atomic<TapePrecision>& precision_setting() {
    static std::atomic<TapePrecision> p = [] {
        const char* e = std::getenv("CNNLENS_PRECISION");
        return e ? parse_tape_precision(e).value_or(TapePrecision::kExact) : TapePrecision::kExact;
    }();
    return p;
}
}  // namespace

TapePrecision default_tape_precision() { return precision_setting().load(); }
void set_default_tape_precision(TapePrecision p) { precision_setting().store(p); }

std::optional<TapePrecision> parse_tape_precision(std::string_view name) {
    if (name == "exact") return TapePrecision::kExact;
    if (name == "float") return TapePrecision::kFloat;
    return std::nullopt;
}

std::string_view tape_precision_name(TapePrecision p) {
    return p == TapePrecision::kFloat ? "float" : "exact";
}

namespace {

// The activation a ReLU-like node applies, for fusing it into the layer before it. Only ReLU
// and ReLU6: clamps, which every kernel set's fused epilogue computes bit for bit as the
// activation op does.
bool clamp_activation(OpType op, Activation& a) {
    if (op == OpType::kRelu)
        a = Activation::kRelu;
    else if (op == OpType::kRelu6)
        a = Activation::kRelu6;
    else
        return false;
    return true;
}

// The layer's attributes with `a` fused, or false when it has no activation slot or one in use.
bool with_activation(OpAttrs& attrs, Activation a) {
    if (auto* c = std::get_if<ConvAttrs>(&attrs); c && c->activation == Activation::kNone) {
        c->activation = a;
        return true;
    }
    if (auto* m = std::get_if<MatMulAttrs>(&attrs); m && m->activation == Activation::kNone) {
        m->activation = a;
        return true;
    }
    return false;
}

}  // namespace

std::vector<int> fusable_activations(const Graph& g) {
    std::vector<int> readers(static_cast<size_t>(g.size()), 0),
        fuse(static_cast<size_t>(g.size()), -1);
    for (int i = 0; i < g.size(); ++i)
        for (int k : g.node(i).inputs) ++readers[static_cast<size_t>(k)];
    for (int k : g.outputs()) readers[static_cast<size_t>(k)] += 2;  // an output is read outside
    for (int j = 0; j < g.size(); ++j) {
        const Node& act = g.node(j);
        Activation a;
        if (!clamp_activation(act.op, a) || act.inputs.size() != 1) continue;
        const int i = act.inputs[0];
        const Node& layer = g.node(i);
        OpAttrs attrs = layer.attrs;
        if (readers[static_cast<size_t>(i)] == 1 && layer.op != OpType::kConst &&
            layer.op != OpType::kInput && with_activation(attrs, a))
            fuse[static_cast<size_t>(i)] = j;
    }
    return fuse;
}

int64_t Executor::buffer_bytes() const {
    int64_t floats = 0;
    for (const auto* list : {&values_, &grads_, &spare_, &repeated_})
        for (const Tensor& t : *list) floats += t.capacity();
    for (const auto* list : {&states_, &fused_states_})
        for (const OpState& s : *list) floats += s.scratch.capacity();
    return floats * static_cast<int64_t>(sizeof(float));
}

void Executor::invalidate() {
    for (OpState& s : states_) s = OpState();
    for (OpState& s : fused_states_) s = OpState();
}

const Shape& Executor::output_shape(int i) const {
    // A layer a ReLU ran inside (forward_for_backward) has the ReLU's shape and no value.
    const int r = tape_fused_.empty() ? -1 : tape_fused_[static_cast<size_t>(i)];
    return value(r >= 0 ? r : i).shape();
}

const Tensor& Executor::value(int i) const {
    const Node& n = graph_.node(i);
    return n.op == OpType::kConst ? n.value : values_[static_cast<size_t>(i)];
}

Status Executor::forward(const Tensor& input) {
    return run_forward({&input, 1}, Pass::kTape, nullptr);
}

Status Executor::forward(std::span<const Tensor> inputs) {
    return run_forward(inputs, Pass::kTape, nullptr);
}

Status Executor::keep_mask(std::span<const int> keep, std::vector<char>& mask) const {
    mask.assign(static_cast<size_t>(graph_.size()), 0);
    for (int k : keep) {
        if (k < 0 || k >= graph_.size())
            return invalid_argument("forward: node index " + std::to_string(k) +
                                    " to keep does not exist");
        mask[static_cast<size_t>(k)] = 1;
    }
    return Status::ok();
}

Status Executor::forward(const Tensor& input, std::span<const int> keep) {
    std::vector<char> kept;
    CNNLENS_RETURN_IF_ERROR(keep_mask(keep, kept));
    return run_forward({&input, 1}, Pass::kPlanned, &kept);
}

Status Executor::forward_for_backward(const Tensor& input, std::span<const int> keep) {
    std::vector<char> kept;
    CNNLENS_RETURN_IF_ERROR(keep_mask(keep, kept));
    // A layer the caller did not ask for runs with its ReLU fused, as in a planned pass; the
    // backward sweep then applies the ReLU's derivative in the layer's VJP, from the ReLU's
    // output, which the pass keeps instead of the layer's own.
    tape_fused_.assign(static_cast<size_t>(graph_.size()), -1);
    for (int i = 0; i < graph_.size(); ++i) {
        const int r = fusable_[static_cast<size_t>(i)];
        if (r < 0 || kept[static_cast<size_t>(i)]) continue;
        tape_fused_[static_cast<size_t>(i)] = r;
        kept[static_cast<size_t>(r)] = 1;
    }
    for (size_t k = 0; k < kept.size(); ++k) kept[k] |= read_by_backward_[k];
    return run_forward({&input, 1}, Pass::kForBackward, &kept);
}

Status Executor::run_forward(std::span<const Tensor> inputs, Pass pass,
                             const std::vector<char>* keep) {
    const std::vector<int>& graph_inputs = graph_.inputs();
    if (inputs.size() != graph_inputs.size())
        return invalid_argument("the model has " + std::to_string(graph_inputs.size()) +
                                " inputs, " + std::to_string(inputs.size()) +
                                " tensors were given");
    for (size_t k = 0; k < inputs.size(); ++k) {
        const Node& in = graph_.node(graph_inputs[k]);
        const Shape& x = inputs[k].shape();
        bool ok = x.rank() == in.shape.rank() && x[0] >= 1;
        for (int d = 1; ok && d < x.rank(); ++d) ok = x[d] == in.shape[d];
        if (!ok)
            return invalid_argument("input batch " + x.str() + " does not match the model input '" +
                                    in.name + "' " + in.shape.str());
    }
    batch_ = 0;  // until this pass completes
    tape_complete_ = pass == Pass::kTape;
    backward_tape_ = pass != Pass::kPlanned;
    one_image_tape_ = false;
    from_ = -1;
    // A planned pass starts from every buffer spare; a full one keeps each node's own buffer
    // (kernels cache set-ups by buffer address) and fills only empty slots from the spares.
    if (keep)
        for (Tensor& v : values_)
            if (v.capacity() > 0) spare_.push_back(std::move(v)), v = Tensor();
    for (size_t k = 0; k < inputs.size(); ++k) {
        Tensor& v = values_[static_cast<size_t>(graph_inputs[k])];
        if (v.capacity() == 0)
            take_spare(spare_, v, inputs[k].size(), kept(graph_inputs[k], pass, keep));
        v.reset(inputs[k].shape());
        std::copy(inputs[k].data(), inputs[k].data() + inputs[k].size(), v.data());
    }

    const TapePrecision precision = tape_precision();
    std::vector<Shape> shapes;
    std::vector<const Tensor*> ins;
    std::vector<bool> is_const_vec;
    // A planned pass fuses a ReLU into the layer before it when nothing else reads the layer's
    // own output: the layer writes the ReLU's output, and the ReLU node does not run.
    std::vector<char> fused_away;
    if (pass != Pass::kTape) fused_away.assign(static_cast<size_t>(graph_.size()), 0);
    if (pass != Pass::kForBackward) tape_fused_.clear();
    for (int i = 0; i < graph_.size(); ++i) {
        const Node& n = graph_.node(i);
        if (n.op == OpType::kInput || n.op == OpType::kConst) continue;
        if (!fused_away.empty() && fused_away[static_cast<size_t>(i)]) continue;
        shapes.clear();
        ins.clear();
        is_const_vec.clear();
        for (int k : n.inputs) {
            ins.push_back(&value(k));
            shapes.push_back(value(k).shape());
            is_const_vec.push_back(graph_.node(k).op == OpType::kConst);
        }
        Shape out_shape;
        CNNLENS_RETURN_IF_ERROR(infer_node_shape(graph_, i, shapes, out_shape));
        const int fuse = pass == Pass::kForBackward ? tape_fused_[static_cast<size_t>(i)]
                         : !fused_away.empty() && !(*keep)[static_cast<size_t>(i)]
                             ? fusable_[static_cast<size_t>(i)]
                             : -1;
        const int into = fuse >= 0 ? fuse : i;  // the node whose value this op writes
        Tensor& out = values_[static_cast<size_t>(into)];
        if (out.capacity() == 0)
            take_spare(spare_, out, out_shape.elements(), kept(into, pass, keep));
        out.reset(out_shape);
        std::unique_ptr<bool[]> is_const(new bool[is_const_vec.size() + 1]);
        for (size_t k = 0; k < is_const_vec.size(); ++k) is_const[k] = is_const_vec[k];
        OpAttrs fused_attrs;
        if (fuse >= 0) {
            fused_attrs = n.attrs;
            Activation a = Activation::kNone;
            clamp_activation(graph_.node(fuse).op, a);
            with_activation(fused_attrs, a);
            fused_away[static_cast<size_t>(fuse)] = 1;
            if (fused_states_.empty()) fused_states_.resize(static_cast<size_t>(graph_.size()));
        }
        OpContext ctx{
            n.name,
            fuse >= 0 ? fused_attrs : n.attrs,
            ins,
            {is_const.get(), is_const_vec.size()},
            kernels_,
            fuse >= 0 ? fused_states_[static_cast<size_t>(i)] : states_[static_cast<size_t>(i)]};
        ctx.tape = pass != Pass::kPlanned;
        ctx.rounding = precision == TapePrecision::kExact        ? TapeRounding::kExact
                       : max_pool_below_[static_cast<size_t>(i)] ? TapeRounding::kUniform
                                                                 : TapeRounding::kFastest;
        const auto t0 =
            profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        op_def(n.op).forward(ctx, out);
        if (profile_) {
            profile_->resize(static_cast<size_t>(graph_.size()), 0.0);
            (*profile_)[static_cast<size_t>(i)] +=
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
        }
        if (keep)  // inputs read for the last time go back to the spares (their shapes stay)
            for (int k : n.inputs) {
                const size_t kk = static_cast<size_t>(k);
                if (last_use_[kk] == i && !(*keep)[kk] && graph_.node(k).op != OpType::kConst &&
                    values_[kk].capacity() > 0)
                    spare_.push_back(values_[kk].take_buffer());
            }
    }
    batch_ = static_cast<int>(inputs[0].shape()[0]);
    one_image_tape_ = pass == Pass::kTape;
    for (const Tensor& in : inputs) one_image_tape_ = one_image_tape_ && in.shape()[0] == 1;
    return Status::ok();
}

Status Executor::forward_from(int from, const Tensor& value) {
    if (from < 0 || from >= graph_.size())
        return invalid_argument("forward_from: node index " + std::to_string(from) +
                                " does not exist");
    const Node& f = graph_.node(from);
    if (f.op == OpType::kConst)
        return invalid_argument("forward_from: node '" + f.name + "' is a constant");
    if (!one_image_tape_)
        return invalid_argument("forward_from needs a full forward() of one image first");
    if (from_ >= 0 && from_ != from)
        return invalid_argument("forward_from: node '" + f.name + "' after '" +
                                graph_.node(from_).name +
                                "' needs a new forward() (the nodes between were overwritten)");
    const Shape& own = values_[static_cast<size_t>(from)].shape();
    bool ok = value.shape().rank() == own.rank() && value.shape()[0] >= 1;
    for (int d = 1; ok && d < own.rank(); ++d) ok = value.shape()[d] == own[d];
    if (!ok)
        return invalid_argument("forward_from: values " + value.shape().str() + " for node '" +
                                f.name + "' do not match its output " + own.str());
    from_ = from;
    tape_complete_ = backward_tape_ = false;
    const int n_nodes = graph_.size();
    const int64_t n = value.shape()[0];
    std::vector<char> down(static_cast<size_t>(n_nodes), 0);
    down[static_cast<size_t>(from)] = 1;
    for (int i = from + 1; i < n_nodes; ++i)
        for (int k : graph_.node(i).inputs)
            down[static_cast<size_t>(i)] |= down[static_cast<size_t>(k)];
    repeated_.resize(static_cast<size_t>(n_nodes));
    std::vector<char> is_repeated(static_cast<size_t>(n_nodes), 0);
    std::vector<Shape> shapes;
    std::vector<const Tensor*> ins;
    std::vector<bool> is_const_vec;
    for (int i = from + 1; i < n_nodes; ++i) {
        if (!down[static_cast<size_t>(i)]) continue;
        const Node& nd = graph_.node(i);
        shapes.clear();
        ins.clear();
        is_const_vec.clear();
        for (int k : nd.inputs) {
            const size_t kk = static_cast<size_t>(k);
            const bool is_const = graph_.node(k).op == OpType::kConst;
            const Tensor* t = k == from                ? &value
                              : (down[kk] || is_const) ? &this->value(k)
                                                       : nullptr;
            if (!t) {  // a batch-1 value read alongside the N variants
                Tensor& r = repeated_[kk];
                if (!is_repeated[kk]) {
                    const Tensor& one = values_[kk];
                    Shape s = one.shape();
                    s[0] = n;
                    r.reset(s);
                    for (int64_t row = 0; row < n; ++row)
                        std::copy(one.data(), one.data() + one.size(), r.data() + row * one.size());
                    is_repeated[kk] = 1;
                }
                t = &r;
            }
            ins.push_back(t);
            shapes.push_back(t->shape());
            is_const_vec.push_back(is_const);
        }
        Shape out_shape;
        CNNLENS_RETURN_IF_ERROR(infer_node_shape(graph_, i, shapes, out_shape));
        Tensor& out = values_[static_cast<size_t>(i)];
        out.reset(out_shape);
        std::unique_ptr<bool[]> is_const(new bool[is_const_vec.size() + 1]);
        for (size_t k = 0; k < is_const_vec.size(); ++k) is_const[k] = is_const_vec[k];
        OpContext ctx{nd.name,  nd.attrs,
                      ins,      {is_const.get(), is_const_vec.size()},
                      kernels_, states_[static_cast<size_t>(i)]};
        op_def(nd.op).forward(ctx, out);
    }
    batch_ = static_cast<int>(n);
    return Status::ok();
}

Status Executor::backward(std::span<const Seed> seeds, std::span<const int> wanted, ReluRule rule,
                          std::vector<Tensor>& grads) {
    return sweep(seeds, wanted, rule, {}, grads);
}

Status Executor::relevance(std::span<const Seed> seeds, std::span<const int> wanted,
                           std::span<const LrpRule> rules, std::vector<Tensor>& out) {
    if (static_cast<int>(rules.size()) != graph_.size())
        return invalid_argument("relevance: " + std::to_string(rules.size()) +
                                " rules for a graph of " + std::to_string(graph_.size()) +
                                " nodes");
    return sweep(seeds, wanted, ReluRule::kStandard, rules, out);
}

Status Executor::deeplift(std::span<const Seed> seeds, std::span<const int> wanted,
                          std::vector<Tensor>& out) {
    if (batch_ % 2 != 0)
        return invalid_argument("deeplift: the last forward ran " + std::to_string(batch_) +
                                " images, not inputs and references in pairs");
    return sweep(seeds, wanted, ReluRule::kStandard, {}, out, true);
}

Status Executor::sweep(std::span<const Seed> seeds, std::span<const int> wanted, ReluRule rule,
                       std::span<const LrpRule> lrp, std::vector<Tensor>& grads, bool rescale) {
    const bool relevance = !lrp.empty();
    if (batch_ == 0) return invalid_argument("backward called before forward");
    if (!tape_complete_ && !(backward_tape_ && !relevance && !rescale))
        return invalid_argument(
            "backward needs a full forward pass (the last one kept only some values)");
    const int n_nodes = graph_.size();
    // A node needs a gradient when it lies on a path from a wanted node to a seed.
    std::vector<char> from_wanted(static_cast<size_t>(n_nodes), 0),
        to_seed(static_cast<size_t>(n_nodes), 0);
    for (int w : wanted) {
        if (w < 0 || w >= n_nodes)
            return invalid_argument("gradient requested for node index " + std::to_string(w) +
                                    " which does not exist");
        if (graph_.node(w).op == OpType::kConst)
            return invalid_argument("gradient requested for constant '" + graph_.node(w).name +
                                    "'");
        from_wanted[static_cast<size_t>(w)] = 1;
    }
    for (int i = 0; i < n_nodes; ++i)
        for (int k : graph_.node(i).inputs)
            if (from_wanted[static_cast<size_t>(k)]) from_wanted[static_cast<size_t>(i)] = 1;
    for (const Seed& s : seeds) {
        if (s.node < 0 || s.node >= n_nodes)
            return invalid_argument("seed on node index " + std::to_string(s.node) +
                                    " which does not exist");
        if (s.grad.shape() != output_shape(s.node))
            return invalid_argument("seed for '" + graph_.node(s.node).name + "' has shape " +
                                    s.grad.shape().str() + ", the node's output is " +
                                    output_shape(s.node).str());
        to_seed[static_cast<size_t>(s.node)] = 1;
    }
    for (int i = n_nodes - 1; i >= 0; --i)
        if (to_seed[static_cast<size_t>(i)])
            for (int k : graph_.node(i).inputs) to_seed[static_cast<size_t>(k)] = 1;

    if (relevance)  // refuse before any work
        for (int i = 0; i < n_nodes; ++i) {
            const Node& n = graph_.node(i);
            if (!to_seed[static_cast<size_t>(i)] || !from_wanted[static_cast<size_t>(i)] ||
                n.inputs.empty())
                continue;
            if (!op_def(n.op).lrp)
                return unsupported("LRP has no rule for " + std::string(op_name(n.op)) +
                                   " (node '" + n.name + "')");
        }
    if (rescale)
        for (int i = 0; i < n_nodes; ++i) {
            const Node& n = graph_.node(i);
            if (!to_seed[static_cast<size_t>(i)] || !from_wanted[static_cast<size_t>(i)] ||
                n.inputs.empty())
                continue;
            if (!op_def(n.op).deeplift)
                return unsupported("DeepLIFT has no rule for " + std::string(op_name(n.op)) +
                                   " (node '" + n.name + "')");
        }

    std::vector<char> has_grad(static_cast<size_t>(n_nodes), 0),
        is_wanted(static_cast<size_t>(n_nodes), 0);
    for (int w : wanted) is_wanted[static_cast<size_t>(w)] = 1;
    // Every gradient buffer of the last call is free again.
    for (Tensor& g : grads_)
        if (g.capacity() > 0) spare_.push_back(std::move(g)), g = Tensor();
    for (const Seed& s : seeds) {
        Tensor& g = grads_[static_cast<size_t>(s.node)];
        if (!has_grad[static_cast<size_t>(s.node)]) {
            take_spare(spare_, g, s.grad.shape().elements());
            g.reset(s.grad.shape());
            std::copy(s.grad.data(), s.grad.data() + s.grad.size(), g.data());
            has_grad[static_cast<size_t>(s.node)] = 1;
        } else {
            for (int64_t j = 0; j < g.size(); ++j) g[j] += s.grad[j];
        }
    }

    // After forward_for_backward(): the layer each fused ReLU ran in (else -1).
    std::vector<int> fused_layer(static_cast<size_t>(n_nodes), -1);
    if (!tape_complete_)
        for (int k = 0; k < static_cast<int>(tape_fused_.size()); ++k)
            if (tape_fused_[static_cast<size_t>(k)] >= 0)
                fused_layer[static_cast<size_t>(tape_fused_[static_cast<size_t>(k)])] = k;
    std::vector<const Tensor*> ins;
    std::vector<Tensor*> gin;
    for (int i = n_nodes - 1; i >= 0; --i) {
        const Node& n = graph_.node(i);
        if (!has_grad[static_cast<size_t>(i)] || n.inputs.empty()) continue;
        if (const int layer = fused_layer[static_cast<size_t>(i)]; layer >= 0) {
            // The ReLU ran inside `layer` (its only reader): its VJP, read off its output as a
            // fused activation's, writes the layer's gradient, in place when nothing else wants
            // the ReLU's; the layer's own VJP then runs without the activation.
            const size_t l = static_cast<size_t>(layer), r = static_cast<size_t>(i);
            if (from_wanted[l] && to_seed[l]) {
                Activation a = Activation::kNone;
                clamp_activation(n.op, a);
                if (is_wanted[r]) {
                    take_spare(spare_, grads_[l], grads_[r].size());
                    grads_[l].reset(grads_[r].shape());
                } else {
                    grads_[l] = std::move(grads_[r]);
                    grads_[r] = Tensor();
                    has_grad[r] = 0;
                }
                const Tensor& g = has_grad[r] ? grads_[r] : grads_[l];
                activation_backward(a, 0.f, rule, values_[r].data(), g.data(), grads_[l].data(),
                                    g.size());
                has_grad[l] = 1;
            }
            continue;
        }
        ins.clear();
        gin.clear();
        const size_t m = n.inputs.size();
        std::unique_ptr<bool[]> accumulate(new bool[m]), is_const(new bool[m]);
        bool any = false;
        for (size_t k = 0; k < m; ++k) {
            const int in = n.inputs[k];
            ins.push_back(&value(in));
            is_const[k] = graph_.node(in).op == OpType::kConst;
            const bool need = !is_const[k] && from_wanted[static_cast<size_t>(in)] &&
                              to_seed[static_cast<size_t>(in)];
            // The same input twice (x + x): the second use must accumulate onto the first.
            bool repeated = false;
            for (size_t j = 0; j < k; ++j) repeated |= n.inputs[j] == in;
            Tensor* g = nullptr;
            if (need) {
                g = &grads_[static_cast<size_t>(in)];
                if (!has_grad[static_cast<size_t>(in)]) {
                    take_spare(spare_, *g, output_shape(in).elements());
                    g->reset(output_shape(in));
                }
                any = true;
            }
            accumulate[k] = need && (has_grad[static_cast<size_t>(in)] || repeated);
            gin.push_back(g);
            if (need) has_grad[static_cast<size_t>(in)] = 1;
        }
        if (!any) continue;
        // A layer that ran with its ReLU fused: its kernels are the fused ones (its gradient is
        // already the one before the activation).
        const bool fused =
            !tape_complete_ && !tape_fused_.empty() && tape_fused_[static_cast<size_t>(i)] >= 0;
        OpContext ctx{
            n.name,
            n.attrs,
            ins,
            {is_const.get(), m},
            kernels_,
            fused ? fused_states_[static_cast<size_t>(i)] : states_[static_cast<size_t>(i)]};
        const Tensor& out = values_[static_cast<size_t>(i)];
        if (!is_wanted[static_cast<size_t>(i)] && !relevance && !rescale)
            ctx.spent_grad = grads_[static_cast<size_t>(i)].data();
        const auto t0 = backward_profile_ ? std::chrono::steady_clock::now()
                                          : std::chrono::steady_clock::time_point{};
        if (rescale)
            CNNLENS_RETURN_IF_ERROR(op_def(n.op).deeplift(ctx, values_[static_cast<size_t>(i)],
                                                          grads_[static_cast<size_t>(i)], gin,
                                                          {accumulate.get(), m}));
        else if (relevance)
            CNNLENS_RETURN_IF_ERROR(op_def(n.op).lrp(
                ctx, values_[static_cast<size_t>(i)], grads_[static_cast<size_t>(i)], gin,
                {accumulate.get(), m}, lrp[static_cast<size_t>(i)]));
        else
            op_def(n.op).vjp(ctx, out, grads_[static_cast<size_t>(i)], gin, {accumulate.get(), m},
                             rule);
        if (backward_profile_) {
            backward_profile_->resize(static_cast<size_t>(graph_.size()), 0.0);
            (*backward_profile_)[static_cast<size_t>(i)] +=
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
        }
        // Node i's gradient is spent (its inputs' gradients are written): recycle its buffer.
        if (!is_wanted[static_cast<size_t>(i)]) {
            spare_.push_back(std::move(grads_[static_cast<size_t>(i)]));
            grads_[static_cast<size_t>(i)] = Tensor();
            has_grad[static_cast<size_t>(i)] = 0;
        }
    }

    grads.resize(wanted.size());
    for (size_t k = 0; k < wanted.size(); ++k) {
        const int w = wanted[k];
        grads[k].reset(output_shape(w));
        if (has_grad[static_cast<size_t>(w)])
            std::copy(grads_[static_cast<size_t>(w)].data(),
                      grads_[static_cast<size_t>(w)].data() + grads[k].size(), grads[k].data());
        else
            grads[k].zero();
    }
    return Status::ok();
}

bool Executor::kept(int node, Pass pass, const std::vector<char>* keep) {
    return pass == Pass::kTape ||
           (pass == Pass::kForBackward && (*keep)[static_cast<size_t>(node)]);
}

void Executor::take_spare(std::vector<Tensor>& spare, Tensor& into, int64_t elements, bool tight) {
    // Best fit: the smallest spare buffer that holds `elements`, else the largest (reset grows it).
    // A value the tape keeps to the end takes only a buffer within a quarter of its size (else a
    // new one): a small one kept in a large spare would hold the difference for the whole sweep.
    size_t best = spare.size();
    for (size_t k = 0; k < spare.size(); ++k) {
        const int64_t cap = spare[k].capacity();
        if (best == spare.size()) {
            best = k;
            continue;
        }
        const int64_t have = spare[best].capacity();
        const bool fits = cap >= elements, best_fits = have >= elements;
        if ((fits && (!best_fits || cap < have)) || (!fits && !best_fits && cap > have)) best = k;
    }
    if (best == spare.size()) return;
    const int64_t cap = spare[best].capacity();
    if (tight && cap >= elements && cap > elements + elements / 4) return;
    into = std::move(spare[best]);
    spare[best] = std::move(spare.back());
    spare.pop_back();
}

Tensor seed_class(const Shape& shape, int c) {
    Tensor t(shape, 0.f);
    const int64_t classes = shape.dim(-1);
    for (int64_t r = 0; r < shape.elements() / classes; ++r) t[r * classes + c] = 1.f;
    return t;
}

Tensor seed_contrast(const Shape& shape, int a, int b) {
    Tensor t(shape, 0.f);
    const int64_t classes = shape.dim(-1);
    for (int64_t r = 0; r < shape.elements() / classes; ++r) {
        t[r * classes + a] += 1.f;
        t[r * classes + b] -= 1.f;
    }
    return t;
}

Tensor seed_channel_mean(const Shape& shape, int k) {
    Tensor t(shape, 0.f);
    const int64_t c = shape.dim(-1), pixels = shape.elements() / (shape[0] * c);
    const float w = 1.f / static_cast<float>(pixels);
    for (int64_t i = k; i < t.size(); i += c) t[i] = w;
    return t;
}

}  // namespace cnnlens

// The extra panels' work in frame-sized steps (see session_panels.h).
#include "wasm/app/session_panels.h"

#include <algorithm>
#include <mutex>

namespace cnnlens::app {

// Steps run on the job thread in the threaded app: each takes the state lock to read what to do
// and to publish, and releases it while computing (see Session).
using StateLock = std::unique_lock<std::mutex>;

FaceKey face_key(const Session& s) { return {s.photo_version(), s.selected(), s.model_version()}; }

Expected<Explanation> explain_selected(Session& s, const ExplainRequest& r,
                                       const ProgressFn& yield) {
    StateLock lock(s.state_mutex());
    const Face* f = s.selected_face();
    if (!f) return invalid_argument("no face is selected");
    lock.unlock();
    const ExplanationMethod* m = find_method(r.method);
    if (!m)
        return invalid_argument("unknown method '" + r.method + "' (available: " + method_names() +
                                ")");
    ExplainContext ctx(s.probe());
    ctx.seed = r.seed;
    ctx.progress = yield;
    auto e = m->explain(f->input, r.target, r.params, ctx);
    if (!e) return Status(e.status().code(), r.method + ": " + e.status().message());
    return e;
}

// --- ClassGrid ---------------------------------------------------------------------------------

static bool same_but_class(ExplainRequest a, ExplainRequest b) {
    a.target.cls = b.target.cls = 0;
    return a == b;
}

void ClassGrid::want(const Session& s, const ExplainRequest& r) {
    if (key == face_key(s) && same_but_class(request, r)) return;
    request = r;
    key = face_key(s);
    maps.clear();
    classes.clear();
    const int n = static_cast<int>(s.class_names().size());
    const Face* f = s.selected_face();
    if (n <= kAllClassesUpTo || !f) {
        for (int c = 0; c < n; ++c) classes.push_back(c);
    } else {
        for (int c = 0; c < n; ++c) classes.push_back(c);
        const auto& p = f->probs;
        std::partial_sort(
            classes.begin(), classes.begin() + kTopClasses, classes.end(), [&](int a, int b) {
                return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)] ||
                       (p[static_cast<size_t>(a)] == p[static_cast<size_t>(b)] && a < b);
            });
        classes.resize(kTopClasses);
    }
    ++version;
}

bool ClassGrid::complete(const Session& s) const {
    return key == face_key(s) && maps.size() >= classes.size();
}

Status ClassGrid::step(Session& s, const ProgressFn& yield) {
    StateLock lock(s.state_mutex());
    if (key != face_key(s) || complete(s) || !s.selected_face()) return Status::ok();
    request.target.cls = classes[maps.size()];
    const ExplainRequest r = request;
    const int v0 = version;
    lock.unlock();
    auto e = explain_selected(s, r, yield);
    lock.lock();
    if (version != v0 || key != face_key(s))
        return Status::ok();  // asked for something else meanwhile
    if (!e && e.status().code() == ErrorCode::kCancelled) return Status::ok();  // redone next time
    if (!e) {
        maps.clear();
        key = {};  // not retried until asked again
        return e.status();
    }
    maps.push_back(std::move(*e));
    ++version;
    return Status::ok();
}

// --- SideMap -----------------------------------------------------------------------------------

bool SideMap::stale(const Session& s, const ExplainRequest& r) const {
    return !map || key != face_key(s) || !(request == r);
}

void SideMap::want(const Session& s, const ExplainRequest& r, bool run) {
    if (!stale(s, r) || (pending && *pending == r)) return;
    if (run || is_live(r)) pending = r;
}

Status SideMap::step(Session& s, const ProgressFn& yield) {
    StateLock lock(s.state_mutex());
    if (!pending) return Status::ok();
    const ExplainRequest r = *pending;
    const FaceKey k0 = face_key(s);
    pending.reset();
    lock.unlock();
    auto e = explain_selected(s, r, yield);
    lock.lock();
    if (pending) return Status::ok();  // a newer request came meanwhile
    if (face_key(s) != k0 || (!e && e.status().code() == ErrorCode::kCancelled)) {
        pending = r;  // redone next time, for the face selected then
        return Status::ok();
    }
    if (!e) return e.status();
    map = std::move(*e);
    request = r;
    key = face_key(s);
    ++version;
    return Status::ok();
}

// --- LayerBrowser ------------------------------------------------------------------------------

void LayerBrowser::sync(const Session& s) {
    if (model_version == s.model_version()) return;
    model_version = s.model_version();
    layers = const_cast<Session&>(s).probe().layers();
    maps.reset();
    global.reset();
    maps_key = {};
    maps_layer = maps_node = -1;
    filters.clear();
    ++filters_generation;
    filter_layer = -1;
    filter_target = 0;
    ++maps_version;
    ++filters_version;
}

const LayerInfo* LayerBrowser::find(int node) const {
    for (const LayerInfo& l : layers)
        if (l.node == node) return &l;
    return nullptr;
}

void LayerBrowser::want_filters(int layer, const AscentParams& params, int count) {
    const bool same =
        layer == filter_layer && filter_model_version == model_version &&
        ascent_params_to(params).values() == ascent_params_to(filter_params).values() &&
        params.seed == filter_params.seed;
    if (!same) {
        filters.clear();
        ++filters_generation;
        filter_layer = layer;
        filter_params = params;
        filter_model_version = model_version;
        ++filters_version;
    }
    filter_target = count;
}

Status LayerBrowser::step(Session& s, const ProgressFn& yield) {
    StateLock lock(s.state_mutex());
    sync(s);
    const Face* f = s.selected_face();
    if (f && maps_layer >= 0 && (maps_key != face_key(s) || maps_node != maps_layer)) {
        if (!find(maps_layer)) {
            maps_layer = -1;
            return Status::ok();
        }
        const FaceKey key = face_key(s);
        const int layer = maps_layer;
        const bool need_global = maps_key != key || !global;
        lock.unlock();
        std::optional<ValueRange> g;
        if (need_global) {
            auto r = global_activation_range(s.probe(), f->input);
            if (!r) return r.status();
            g = *r;
        }
        auto m = feature_maps(s.probe(), f->input, layer);
        lock.lock();
        if (face_key(s) != key || maps_layer != layer) return Status::ok();  // changed: redone
        if (g) global = *g;
        maps_key = key;
        maps_node = layer;
        ++maps_version;
        if (!m) {
            maps.reset();
            maps_layer = -1;
            return m.status();
        }
        maps = std::move(*m);
        return Status::ok();
    }
    if (filtering() && filter_layer >= 0) {
        const int gen = filters_generation;
        const size_t n = filters.size();
        const int layer = filter_layer;
        const AscentParams params = filter_params;
        lock.unlock();
        auto p = visualize_filter(s.probe(), layer, static_cast<int>(n), params, yield);
        lock.lock();
        if (gen != filters_generation || filters.size() != n || !filtering())
            return Status::ok();  // changed meanwhile
        if (!p && p.status().code() == ErrorCode::kCancelled)
            return Status::ok();  // redone next time
        if (!p) {
            stop_filters();
            return p.status();
        }
        filters.push_back(std::move(*p));
        ++filters_version;
    }
    return Status::ok();
}

// --- ConfusionRun ------------------------------------------------------------------------------

Status ConfusionRun::open(const Session& s, std::string_view text, std::string_view name) {
    DatasetOptions o;
    o.class_names = s.class_names();
    auto d = parse_csv_dataset(text, name, o);
    if (!d) return d.status();
    if (d->items.empty())
        return invalid_argument(std::string(name) + ": no labeled faces in the file");
    data = std::move(*d);
    model_version = s.model_version();
    next = 0;
    predictions.clear();
    probs.clear();
    matrix.reset();
    stopped = false;
    ++version;
    return Status::ok();
}

float ConfusionRun::progress() const {
    return data && !data->items.empty()
               ? static_cast<float>(next) / static_cast<float>(data->items.size())
               : 0.f;
}

Status ConfusionRun::step(Session& s) {
    StateLock lock(s.state_mutex());
    if (!data) return Status::ok();
    if (model_version != s.model_version()) {  // a new model: evaluate again, if its classes fit
        if (data->class_names.size() != s.class_names().size()) {
            data.reset();
            matrix.reset();
            ++version;
            return invalid_argument("the labeled set was read for " +
                                    std::to_string(s.class_names().size()) +
                                    "-class models; drop it again for this model");
        }
        data->class_names = s.class_names();
        model_version = s.model_version();
        next = 0;
        predictions.clear();
        probs.clear();
        matrix.reset();
        ++version;
    }
    if (!running()) return Status::ok();
    Dataset slice;
    slice.source = data->source;
    slice.format = data->format;
    slice.class_names = data->class_names;
    const size_t end = std::min(data->items.size(), next + kBatch);
    slice.items.assign(data->items.begin() + static_cast<std::ptrdiff_t>(next),
                       data->items.begin() + static_cast<std::ptrdiff_t>(end));
    const int v0 = version;
    lock.unlock();
    auto m = evaluate(s.probe(), slice, kBatch, {}, s.model().spec.task == ModelTask::kImage);
    lock.lock();
    if (version != v0 || next + slice.items.size() != end) return Status::ok();  // started over
    if (!m) {
        stopped = true;
        return m.status();
    }
    predictions.insert(predictions.end(), m->predictions.begin(), m->predictions.end());
    probs.insert(probs.end(), m->probs.begin(), m->probs.end());
    next = end;
    if (next == data->items.size()) {
        std::vector<int> labels;
        for (const LabeledImage& it : data->items) labels.push_back(it.label);
        matrix = make_confusion_matrix(labels, predictions, data->class_names, probs);
    }
    ++version;
    return Status::ok();
}

// --- TrustRun ----------------------------------------------------------------------------------

namespace {

// The explanation shown is final: not a partial map, and no job is about to replace it.
bool explanation_final(const Session& s) {
    return s.explanation() && !s.explanation_partial() && !s.job().running && !s.job().pending &&
           s.selected_face();
}

// The metrics of `group`, in the list's order.
std::vector<const MetricDef*> group_metrics(std::string_view group) {
    std::vector<const MetricDef*> out;
    for (const MetricDef& m : all_metrics())
        if (m.group == group) out.push_back(&m);
    return out;
}

// What one stage computed, published by step() under the lock.
struct TrustResult {
    std::vector<TrustRun::Score> scores;
    std::optional<FaithfulnessResult> curves;
    std::optional<RoadResult> road;
    std::vector<SanityStep> sanity;
};

Status add_scores(TrustResult& r, std::string_view group, const MetricInput& in,
                  const MetricOptions& opt, const ProgressFn& progress) {
    const std::vector<const MetricDef*> ms = group_metrics(group);
    auto v = compute_metrics(in, ms, opt, progress);
    if (!v) return v.status();
    for (size_t i = 0; i < ms.size(); ++i) r.scores.push_back({ms[i], (*v)[i]});
    return Status::ok();
}

Expected<TrustResult> compute_stage(TrustRun::Stage st, const Session& s, const MetricInput& in,
                                    const ExplainRequest& req, const ProgressFn& progress) {
    const MetricOptions opt = seeded_metric_options(req.seed);
    TrustResult r;
    Status status;
    switch (st) {
        case TrustRun::Stage::kNone:
            break;
        case TrustRun::Stage::kCurves: {
            // The AUCs are compute_metrics' (its "deletion_insertion" group runs this without the
            // random orders, which do not change the map's own curves).
            FaithfulnessOptions o = opt.deletion;
            o.random_orders = TrustRun::kRandomOrders;
            auto c = deletion_insertion(*in.probe, in.image, in.map, in.target.cls, o, progress);
            if (!c) return c.status();
            r.scores.push_back({find_metric("deletion_auc"), c->deletion.auc});
            r.scores.push_back({find_metric("insertion_auc"), c->insertion.auc});
            r.curves = std::move(*c);
            break;
        }
        case TrustRun::Stage::kRoad: {
            auto c = road(*in.probe, in.image, in.map, in.target.cls, opt.road, progress);
            if (!c) return c.status();
            r.scores.push_back({find_metric("road_morf"), c->morf_mean});
            r.scores.push_back({find_metric("road_lerf"), c->lerf_mean});
            r.road = std::move(*c);
            break;
        }
        case TrustRun::Stage::kCorrelation:
            status = add_scores(r, "faithfulness_correlation", in, opt, progress);
            break;
        case TrustRun::Stage::kInfidelity:
            status = add_scores(r, "infidelity", in, opt, progress);
            break;
        case TrustRun::Stage::kSensitivity:
            status = add_scores(r, "sensitivity", in, opt, progress);
            break;
        case TrustRun::Stage::kRandomLogit:
            status = add_scores(r, "random_logit", in, opt, progress);
            break;
        case TrustRun::Stage::kSanity: {
            SanityOptions so;
            so.seed = so.explain_seed = req.seed;
            auto steps = model_randomization(s.model(), s.kernels(), *in.method, in.image,
                                             in.target, in.params, so, progress);
            if (!steps) return steps.status();
            r.sanity = std::move(*steps);
            break;
        }
    }
    if (!status) return status;
    return r;
}

}  // namespace

std::string_view TrustRun::stage_label(Stage st) {
    switch (st) {
        case Stage::kNone:
            return "";
        case Stage::kCurves:
            return "deletion and insertion curves";
        case Stage::kRoad:
            return "ROAD";
        case Stage::kCorrelation:
            return "faithfulness correlation";
        case Stage::kInfidelity:
            return "infidelity";
        case Stage::kSensitivity:
            return "sensitivity";
        case Stage::kRandomLogit:
            return "random logit";
        case Stage::kSanity:
            return "randomization check";
    }
    return "";
}

void TrustRun::want(const Session& s, bool slow_too) {
    show(s);  // first: a new map resets what is wanted
    stopped = false;
    error.clear();
    if (slow_too) slow = true;
}

void TrustRun::reset(const Session& s) {
    ++generation_;
    ++version;
    key = face_key(s);
    explanation_version = s.explanation_version();
    request = s.explained();
    scores.clear();
    curves.reset();
    road.reset();
    sanity.clear();
    running = Stage::kNone;
    progress = 0.f;
    error.clear();
    slow = stopped = false;
    if (!explanation_final(s)) return;
    // The free metrics read the map only: computed here, at once.
    std::vector<const MetricDef*> free;
    for (const MetricDef& m : all_metrics())
        if (m.cost == MetricCost::kFree) free.push_back(&m);
    MetricInput in;
    in.map = s.explanation()->map.clone();
    auto v = compute_metrics(in, free);
    if (!v) {
        error = v.status().message();
        return;
    }
    for (size_t i = 0; i < free.size(); ++i) scores.push_back({free[i], (*v)[i]});
}

void TrustRun::sync(const Session& s) {
    if (!s.ready()) return;
    const bool same = key == face_key(s) && explanation_version == s.explanation_version();
    if (same && (!scores.empty() || !error.empty() || !explanation_final(s))) return;
    if (!explanation_final(s)) {  // nothing to score yet: drop what was for another map
        if (!scores.empty() || curves || road || !sanity.empty() || !error.empty()) reset(s);
        return;
    }
    reset(s);
}

TrustRun::Stage TrustRun::next(const Session& s) const {
    if (!active || !s.ready() || !explanation_final(s)) return Stage::kNone;
    if (key != face_key(s) || explanation_version != s.explanation_version())
        return Stage::kCurves;  // after the reset
    if (stopped || !error.empty()) return Stage::kNone;
    if (!curves) return Stage::kCurves;
    if (!road) return Stage::kRoad;
    if (!slow) return Stage::kNone;
    if (!find("faithfulness_correlation")) return Stage::kCorrelation;
    if (!find("infidelity")) return Stage::kInfidelity;
    if (!find("max_sensitivity")) return Stage::kSensitivity;
    if (!find("random_logit")) return Stage::kRandomLogit;
    if (sanity.empty()) return Stage::kSanity;
    return Stage::kNone;
}

bool TrustRun::complete() const {
    return curves && road &&
           (!slow || (find("faithfulness_correlation") && find("infidelity") &&
                      find("max_sensitivity") && find("random_logit") && !sanity.empty()));
}

const TrustRun::Score* TrustRun::find(std::string_view metric) const {
    for (const Score& sc : scores)
        if (sc.metric->name == metric) return &sc;
    return nullptr;
}

Status TrustRun::step(Session& s, const ProgressFn& yield) {
    StateLock lock(s.state_mutex());
    if (active) sync(s);
    const Stage st = next(s);
    if (st == Stage::kNone) return Status::ok();
    const ExplanationMethod* method = find_method(request.method);
    if (!method) {
        error = "unknown method '" + request.method + "'";
        return invalid_argument("trust scores: " + error);
    }
    MetricInput in;
    in.probe = &s.probe();
    in.image = s.selected_face()->input.clone();
    in.target = s.explanation()->target;
    in.map = s.explanation()->map.clone();
    in.method = method;
    in.params = request.params;
    in.explain_seed = request.seed;
    const ExplainRequest req = request;
    const int gen = generation_;
    running = st;
    progress = 0.f;
    lock.unlock();
    const ProgressFn report = [&](float p) {
        {
            const StateLock l(s.state_mutex());
            if (generation_ != gen || stopped) return false;
            progress = p;
        }
        return !yield || yield(p);
    };
    auto r = compute_stage(st, s, in, req, report);
    lock.lock();
    if (generation_ != gen || key != face_key(s) ||
        explanation_version != s.explanation_version()) {
        sync(s);  // another map or face meanwhile: what was computed is dropped
        return Status::ok();
    }
    running = Stage::kNone;
    progress = 0.f;
    if (!r && r.status().code() == ErrorCode::kCancelled)
        return Status::ok();  // stopped, or redone next time
    if (!r) {
        error = std::string(stage_label(st)) + ": " + r.status().message();
        return Status(r.status().code(), "trust scores, " + error);
    }
    for (Score& sc : r->scores) scores.push_back(sc);
    std::stable_sort(scores.begin(), scores.end(),
                     [](const Score& a, const Score& b) { return a.metric < b.metric; });
    if (r->curves) curves = std::move(r->curves);
    if (r->road) road = std::move(r->road);
    if (!r->sanity.empty()) sanity = std::move(r->sanity);
    ++version;
    return Status::ok();
}

// --- ReportRun ---------------------------------------------------------------------------------

Status ReportRun::start(Session& s, const PanelWork& w, ReportOptions options, bool faces) {
    if (!s.ready()) return invalid_argument("report: the models are still loading");
    const ConfusionRun& c = w.confusion;
    const bool use_set = !faces && c.data && c.model_version == s.model_version() &&
                         c.data->class_names.size() == s.class_names().size();
    Dataset data;
    if (use_set) {
        data = *c.data;
        data.skipped.clear();
    } else {
        if (s.faces().empty())
            return invalid_argument(
                "report: no labeled set and no face at hand: drop a labeled .csv or open a photo");
        data.source = s.photo_name();
        data.format = "faces at hand";
        data.class_names = s.class_names();
        for (size_t i = 0; i < s.faces().size(); ++i) {
            const Face& f = s.faces()[i];
            data.items.push_back({f.top, "face " + std::to_string(i + 1), f.crop});
        }
        options.note =
            "No labeled set: the " + std::to_string(data.items.size()) + " face" +
            (data.items.size() == 1 ? "" : "s") + " found in " + s.photo_name() +
            ", each labelled by its predicted class, so the confusion matrix shows the model "
            "agreeing with itself, not its accuracy.";
    }
    options.kernels = std::string(s.kernels_name());
    auto b = ReportBuilder::create(s.probe(), std::move(data), std::move(options));
    if (!b) return b.status();
    if (use_set && c.matrix)
        if (Status st = b->use_confusion(*c.matrix); !st) return st;
    faces_at_hand = !use_set;
    source = b->data().source + " (" + std::to_string(b->data().size()) +
             (faces_at_hand ? " faces at hand)" : " faces)");
    builder = std::make_unique<ReportBuilder>(std::move(*b));
    in_step = false;  // a step of an earlier report still computing drops its result
    stopped = false;
    error.clear();
    report.reset();
    progress = builder->progress();
    stage = builder->stage();
    model_version_ = s.model_version();
    ++generation_;
    ++version;
    return Status::ok();
}

Status ReportRun::step(Session& s, const ProgressFn& yield) {
    StateLock lock(s.state_mutex());
    if (!builder || !running()) return Status::ok();
    if (model_version_ != s.model_version()) {
        builder.reset();
        error = "the model changed while the report was built; build it again";
        ++version;
        return invalid_argument("report: " + error);
    }
    std::unique_ptr<ReportBuilder> b = std::move(builder);
    in_step = true;
    const int gen = generation_;
    lock.unlock();
    const ProgressFn report_progress = [&](float p) {
        {
            const StateLock l(s.state_mutex());
            if (generation_ != gen || stopped) return false;
            progress = p;
        }
        return !yield || yield(p);
    };
    Status st = b->step(report_progress);
    lock.lock();
    if (generation_ != gen) return Status::ok();  // started again meanwhile: this one is dropped
    in_step = false;
    progress = b->progress();
    stage = b->stage();
    ++version;
    if (!st && st.code() == ErrorCode::kCancelled) {
        builder = std::move(b);  // stopped, or redone next time
        return Status::ok();
    }
    if (!st) {
        error = st.message();
        return st;
    }
    if (b->done()) {
        report = std::make_shared<const Report>(*b->report());
        return Status::ok();
    }
    builder = std::move(b);
    return Status::ok();
}

Status step_panels(Session& s, PanelWork& w, const ProgressFn& yield) {
    if (StateLock lock(s.state_mutex()); !s.ready()) return Status::ok();
    Status first;
    auto keep = [&](Status st) {
        if (!st && first) first = std::move(st);
    };
    keep(w.grid.step(s, yield));
    keep(w.side.step(s, yield));
    keep(w.layers.step(s, yield));
    keep(w.confusion.step(s));
    keep(w.trust.step(s, yield));
    keep(w.report.step(s, yield));
    return first;
}

bool panels_busy(const Session& s, const PanelWork& w) {
    if (!s.ready()) return false;
    const bool maps_wanted =
        s.selected_face() && w.layers.maps_layer >= 0 &&
        (w.layers.maps_key != face_key(s) || w.layers.maps_node != w.layers.maps_layer);
    return maps_wanted || w.layers.filtering() || w.confusion.running() ||
           w.side.pending.has_value() || w.trust.busy(s) || w.report.running() ||
           (s.selected_face() && w.grid.key == face_key(s) && !w.grid.complete(s));
}

}  // namespace cnnlens::app

// The extra panels' work in frame-sized steps (see session_panels.h).
#include "wasm/app/session_panels.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>

#include "core/base/thread_pool.h"

namespace cnnlens::app {

// Steps run on the job thread in the threaded app: each takes the state lock to read what to do
// and to publish, and releases it while computing (see Session).
using StateLock = std::unique_lock<std::mutex>;

FaceKey face_key(const Session& s) { return {s.photo_version(), s.selected(), s.model_version()}; }

Expected<Explanation> explain_selected(Session& s, const ExplainRequest& r, const ProgressFn& yield) {
    StateLock lock(s.state_mutex());
    const Face* f = s.selected_face();
    if (!f) return invalid_argument("no face is selected");
    lock.unlock();
    const ExplanationMethod* m = find_method(r.method);
    if (!m) return invalid_argument("unknown method '" + r.method + "' (available: " + method_names() + ")");
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
        std::partial_sort(classes.begin(), classes.begin() + kTopClasses, classes.end(),
                          [&](int a, int b) { return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)] || (p[static_cast<size_t>(a)] == p[static_cast<size_t>(b)] && a < b); });
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
    if (version != v0 || key != face_key(s)) return Status::ok();  // asked for something else meanwhile
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
    const bool same = layer == filter_layer && filter_model_version == model_version &&
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
        if (gen != filters_generation || filters.size() != n || !filtering()) return Status::ok();  // changed meanwhile
        if (!p && p.status().code() == ErrorCode::kCancelled) return Status::ok();  // redone next time
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
    if (d->items.empty()) return invalid_argument(std::string(name) + ": no labeled faces in the file");
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
    return data && !data->items.empty() ? static_cast<float>(next) / static_cast<float>(data->items.size()) : 0.f;
}

Status ConfusionRun::step(Session& s) {
    StateLock lock(s.state_mutex());
    if (!data) return Status::ok();
    if (model_version != s.model_version()) {  // a new model: evaluate again, if its classes fit
        if (data->class_names.size() != s.class_names().size()) {
            data.reset();
            matrix.reset();
            ++version;
            return invalid_argument("the labeled set was read for " + std::to_string(s.class_names().size()) +
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

// --- Files ---------------------------------------------------------------------------------------

ModelMemory model_memory(const Graph& g, int threads) {
    ModelMemory m;
    for (const Node& n : g.nodes())
        if (n.op == OpType::kConst) m.weights += n.value.size() * static_cast<int64_t>(sizeof(float));
    m.tape = g.tape_bytes_per_image();
    m.threads = std::max(threads, 1);
    return m;
}

std::string megabytes(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return buf;
}

Status check_memory(std::string_view what, int64_t need, std::string_view detail, int64_t available) {
    if (available < 0 || need <= available) return Status::ok();
    return out_of_range(std::string(what) + " needs " + megabytes(need) + " (" + std::string(detail) + ") but the page can get only " +
                        megabytes(available) + " more memory; the current model stays");
}

static std::string lower_extension(std::string_view name) {
    const size_t dot = name.rfind('.');
    std::string ext(dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1));
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

FileKind file_kind(std::string_view name) {
    const std::string ext = lower_extension(name);
    if (ext == "csv") return FileKind::kDataset;
    if (ext == "json" || ext == "bin" || ext == "txt" || ext == "onnx") return FileKind::kModel;
    return FileKind::kPhoto;
}

static std::string_view as_text(const std::vector<uint8_t>& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

Status open_files(Session& s, PanelWork& w, std::vector<DroppedFile>& files) {
    Status first;
    auto keep = [&](Status st) {
        if (!st && first) first = std::move(st);
    };
    bool model = false;
    for (DroppedFile& f : files) {
        switch (file_kind(f.name)) {
            case FileKind::kPhoto:
                keep(f.width > 0 ? s.open_pixels(Image{f.width, f.height, 4, std::move(f.bytes)}, f.name) : s.open_photo(f.bytes, f.name));
                if (s.photo_name() == f.name) w.focus = "explain";
                break;
            case FileKind::kDataset: {
                Status st = w.confusion.open(s, as_text(f.bytes), f.name);
                if (st) w.focus = "confusion";
                keep(std::move(st));
                break;
            }
            case FileKind::kModel:
                if (!model) w.model.files.clear();  // a drop holds one model's files
                model = true;
                w.model.files[f.name] = std::move(f.bytes);
                break;
        }
    }
    if (model) keep(load_model_files(s, w));
    return first;
}

// Class names from a .txt (one per line) or a .json list of strings.
static Expected<std::vector<std::string>> read_class_names(const std::string& name, std::string_view text) {
    std::vector<std::string> out;
    if (lower_extension(name) == "txt") {
        size_t i = 0;
        while (i <= text.size()) {
            size_t e = text.find('\n', i);
            if (e == std::string_view::npos) e = text.size();
            std::string line(text.substr(i, e - i));
            while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
            if (!line.empty()) out.push_back(line);
            i = e + 1;
        }
        return out;
    }
    auto spec = parse_model_spec("{\"classes\": " + std::string(text) + "}");
    if (!spec) return invalid_argument(name + ": class names must be a JSON list of strings");
    return spec->classes;
}

Status load_model_files(Session& s, PanelWork& w) {
    auto& files = w.model.files;
    FileSource source = [&files](const std::string& name) -> Expected<std::vector<uint8_t>> {
        auto it = files.find(name);
        if (it == files.end()) {
            std::string have;
            for (const auto& [n, b] : files) have += (have.empty() ? "" : ", ") + n;
            return not_found("'" + name + "' is missing: drop it together with the others (dropped: " + have + ")");
        }
        // Weight files are read once: handed over, not copied, so a large model is not held twice.
        const std::string ext = lower_extension(name);
        if (ext == "onnx" || ext == "bin") return std::move(it->second);
        return it->second;
    };
    std::string main, classes_file, class_text;
    int shards = 0;
    for (const auto& [name, bytes] : files) {
        const std::string_view text = as_text(bytes);
        if (name == "cnnlens.json") main = name;
        else if (lower_extension(name) == "bin") ++shards;
        else if (lower_extension(name) == "onnx") {
            if (main != "cnnlens.json") main = name;
        } else if (name.size() > 13 && name.compare(name.size() - 13, 13, ".cnnlens.json") == 0) {
            continue;  // an ONNX model's description, read by load_model_from
        } else if (lower_extension(name) == "json" && text.find("\"modelTopology\"") != std::string_view::npos) {
            if (main.empty()) main = name;
        } else {
            classes_file = name;
            class_text.assign(text);
        }
    }
    if (main.empty())
        return invalid_argument("no model among the dropped files: drop an .onnx file, or a TF.js model.json together with its .bin files");
    const auto available = [&]() -> int64_t { return w.model.memory_available ? w.model.memory_available() : -1; };
    // Before the weights are built: they take about as much as the files that hold them (float32).
    int64_t file_bytes = 0;
    for (const auto& [name, bytes] : files) file_bytes += static_cast<int64_t>(bytes.size());
    CNNLENS_RETURN_IF_ERROR(check_memory(main, file_bytes, "its weights, about the size of its files", available()));
    auto m = load_model_from(source, main);
    if (!m) return m.status();
    files.clear();  // the weights are built: the files' bytes go before the tape is counted
    const ModelMemory need = model_memory(m->graph, pool_threads());
    CNNLENS_RETURN_IF_ERROR(check_memory(main, need.tape * need.threads,
                                         "activations and gradients of one image: " + megabytes(need.tape) + " for each of " +
                                             std::to_string(need.threads) + " thread" + (need.threads == 1 ? "" : "s") +
                                             ", besides its weights' " + megabytes(need.weights),
                                         available()));
    if (!classes_file.empty()) {
        auto names = read_class_names(classes_file, class_text);
        if (!names) return names.status();
        if (static_cast<int>(names->size()) != m->num_classes())
            return invalid_argument(classes_file + " lists " + std::to_string(names->size()) + " class names but the model has " +
                                    std::to_string(m->num_classes()) + " outputs");
        m->spec.classes = std::move(*names);
    }
    w.model.pending_source = lower_extension(main) == "onnx" ? main : main + " + " + std::to_string(shards) + " shard" + (shards == 1 ? "" : "s");
    if (!m->spec.inferred) {  // described by cnnlens.json or <name>.cnnlens.json: nothing to confirm
        w.model.pending.reset();
        CNNLENS_RETURN_IF_ERROR(s.install_model(std::move(*m)));
        w.focus = "explain";
        return Status::ok();
    }
    w.model.pending = std::move(*m);  // the input dialog confirms the value range
    w.focus = "model";
    return Status::ok();
}

Status install_pending(Session& s, PanelWork& w, const InputSpec& input, ModelTask task) {
    if (!w.model.pending) return invalid_argument("no model is waiting to be installed");
    Model& m = *w.model.pending;
    const InputSpec& g = m.spec.input;
    if (input.height != g.height || input.width != g.width || input.channels != g.channels)
        return invalid_argument("the model's input is " + std::to_string(g.height) + "x" + std::to_string(g.width) + "x" +
                                std::to_string(g.channels) + ", not " + std::to_string(input.height) + "x" +
                                std::to_string(input.width) + "x" + std::to_string(input.channels));
    if (input.mean.empty() && !(input.range_hi > input.range_lo)) return invalid_argument("the input range must have hi > lo");
    if (input.mean.size() != input.std.size() || (!input.mean.empty() && input.mean.size() != 1 &&
                                                  input.mean.size() != static_cast<size_t>(input.channels)))
        return invalid_argument("mean and std need one value, or one per channel (" + std::to_string(input.channels) + ")");
    for (float v : input.std)
        if (!(v > 0.f)) return invalid_argument("every std must be > 0, got " + std::to_string(v));
    m.spec.input = input;
    if (task != ModelTask::kAuto) m.spec.task = task;
    Status st = s.install_model(std::move(m));
    w.model.pending.reset();
    if (st) w.focus = "explain";
    return st;
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
    return first;
}

bool panels_busy(const Session& s, const PanelWork& w) {
    if (!s.ready()) return false;
    const bool maps_wanted = s.selected_face() && w.layers.maps_layer >= 0 &&
                             (w.layers.maps_key != face_key(s) || w.layers.maps_node != w.layers.maps_layer);
    return maps_wanted || w.layers.filtering() || w.confusion.running() || w.side.pending.has_value() ||
           (s.selected_face() && w.grid.key == face_key(s) && !w.grid.complete(s));
}

}  // namespace cnnlens::app

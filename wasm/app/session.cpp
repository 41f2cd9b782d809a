// Session: models, photo, faces, predictions and the explanation job (see session.h).
#include "wasm/app/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/base/limits.h"
#include "core/base/thread_pool.h"
#include "core/kernels/kernels.h"
#include "wasm/app/live.h"
#include "wasm/app/session_panels.h"

namespace cnnlens::app {

bool ExplainRequest::operator==(const ExplainRequest& o) const {
    return method == o.method && params.values() == o.params.values() &&
           target.cls == o.target.cls && target.contrast == o.target.contrast &&
           target.score == o.target.score && seed == o.seed && precision == o.precision;
}

int display_scale(const Face& f) {
    const int side = std::max(f.input_picture.width, f.input_picture.height);
    return side <= 64 ? 4 : std::max(1, 256 / std::max(side, 1));
}

bool is_live(const ExplainRequest& r) {
    const ExplanationMethod* m = find_method(r.method);
    return m && m->live();
}

Session::Session()
    : panel_work_(std::make_unique<PanelWork>()), live_(std::make_unique<LiveWork>()) {}
Session::~Session() = default;

PanelWork& Session::panel_work() { return *panel_work_; }
const PanelWork& Session::panel_work() const { return *panel_work_; }
LiveWork& Session::live() { return *live_; }
const LiveWork& Session::live() const { return *live_; }

std::string_view Session::kernels_name() const {
    return kernels_ ? kernels_->name : std::string_view("none");
}

Status Session::load_models(const FileSource& classifier, const FileSource& detector) {
    kernels_ = select_kernel_set();
    auto m = load_model_from(classifier, "cnnlens.json");
    if (!m) return m.status();
    auto d = FaceDetector::load_from(detector, *kernels_);
    if (!d) return d.status();
    model_ = std::make_unique<Model>(std::move(*m));
    probe_ = std::make_unique<GraphProbe>(*model_, *kernels_);
    detector_ = std::make_unique<FaceDetector>(std::move(*d));
    return Status::ok();
}

Status check_photo_size(std::string_view name, int64_t w, int64_t h) {
    const std::string who = "image '" + std::string(name) + "'",
                      size = std::to_string(w) + "x" + std::to_string(h);
    if (w <= 0 || h <= 0) return corrupt(who + ": " + size + " pixels (a side of zero or less)");
    if (w > limits::kMaxImageSide || h > limits::kMaxImageSide || w * h > limits::kMaxImagePixels)
        return out_of_range(who + ": " + size + " pixels exceeds the limit of " +
                            std::to_string(limits::kMaxImageSide) + " per side and " +
                            std::to_string(limits::kMaxImagePixels / 1000000) + " megapixels");
    return Status::ok();
}

namespace {

// The source pixels each output position averages along one axis, with their coverage
// weights: resample()'s area rule (core/image), flattened. Output i covers [i*scale, (i+1)*scale).
struct AreaTaps {
    std::vector<int> first, count;  // per output position: first source index, taps
    std::vector<int> offset;        // per output position: where its weights start in `weight`
    std::vector<float> weight;
};

AreaTaps area_taps(int src, int dst) {
    AreaTaps t;
    const double scale = static_cast<double>(src) / dst;
    for (int i = 0; i < dst; ++i) {
        const double a = i * scale, b = (i + 1) * scale;
        t.first.push_back(-1);
        t.count.push_back(0);
        t.offset.push_back(static_cast<int>(t.weight.size()));
        for (int s = static_cast<int>(std::floor(a));
             s < std::min(static_cast<int>(std::ceil(b)), src); ++s) {
            const double cover = std::min<double>(b, s + 1) - std::max<double>(a, s);
            if (cover <= 1e-12) continue;
            if (t.first.back() < 0) t.first.back() = s;
            t.weight.push_back(static_cast<float>(cover / scale));
            t.count.back() = s - t.first.back() + 1;
        }
    }
    return t;
}

// Output rows [y0, y1) of the downscale. Each output row first sums its source rows (weighted,
// whole rows at a time: a loop the compiler vectorises), then averages along the row, so only
// one row of floats is held and every source pixel is read once.
template <int C>
void downscale_rows(const Image& img, Image& out, const AreaTaps& tx, const AreaTaps& ty,
                    int64_t y0, int64_t y1) {
    const size_t sw = static_cast<size_t>(img.width) * C;
    std::vector<float> acc(sw);
    for (int64_t y = y0; y < y1; ++y) {
        const size_t yi = static_cast<size_t>(y);
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int j = 0; j < ty.count[yi]; ++j) {
            const float wy = ty.weight[static_cast<size_t>(ty.offset[yi] + j)];
            const uint8_t* src = &img.pixels[static_cast<size_t>(ty.first[yi] + j) * sw];
            float* a = acc.data();
            for (size_t i = 0; i < sw; ++i) a[i] += wy * static_cast<float>(src[i]);
        }
        uint8_t* dst = &out.pixels[yi * static_cast<size_t>(out.width) * C];
        for (int x = 0; x < out.width; ++x) {
            const size_t xi = static_cast<size_t>(x);
            const float* p = &acc[static_cast<size_t>(tx.first[xi]) * C];
            const float* w = &tx.weight[static_cast<size_t>(tx.offset[xi])];
            float sum[C] = {};
            for (int i = 0; i < tx.count[xi]; ++i)
                for (int k = 0; k < C; ++k) sum[k] += w[i] * p[i * C + k];
            for (int k = 0; k < C; ++k)
                dst[xi * C + k] = static_cast<uint8_t>(std::clamp(sum[k] + 0.5f, 0.f, 255.f));
        }
    }
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Image downscale_to(const Image& img, int max_side) {
    const int side = std::max(img.width, img.height);
    if (side <= max_side) return img;
    const double s = static_cast<double>(max_side) / side;
    Image out;
    out.width = std::max(1, static_cast<int>(std::lround(img.width * s)));
    out.height = std::max(1, static_cast<int>(std::lround(img.height * s)));
    out.channels = img.channels;
    out.pixels.resize(static_cast<size_t>(out.width) * out.height * out.channels);
    const AreaTaps tx = area_taps(img.width, out.width), ty = area_taps(img.height, out.height);
    parallel_for(out.height, 16, [&](int64_t y0, int64_t y1, int) {
        switch (img.channels) {
            case 1:
                downscale_rows<1>(img, out, tx, ty, y0, y1);
                break;
            case 3:
                downscale_rows<3>(img, out, tx, ty, y0, y1);
                break;
            default:
                downscale_rows<4>(img, out, tx, ty, y0, y1);
                break;
        }
    });
    return out;
}

Image shown_copy(const Image& img) {
    if (std::max(img.width, img.height) <= Session::kMaxShownSide) return {};
    const float w = static_cast<float>(img.width), h = static_cast<float>(img.height);
    return crop_frame(img, CropFrame{w / 2, h / 2, w, h, 0.f}, Session::kMaxShownSide);
}

namespace {

// Whether a photo is seen through its shown copy (see Session::kMaxDisplaySide).
bool is_large(const Image& img) {
    return std::max(img.width, img.height) > Session::kMaxDisplaySide;
}

}  // namespace

const Image& Session::photo_preview() const {
    if (!is_large(photo_)) return photo_;
    if (preview_.empty()) preview_ = downscale_to(photo_, kMaxDisplaySide);
    return preview_;
}

Expected<std::vector<Face>> Session::find_faces(const Image& img, const Image& small,
                                                const Model& model, GraphProbe& probe,
                                                StageTimes* times) {
    auto t0 = std::chrono::steady_clock::now();
    const bool large = is_large(img);
    std::vector<Face> faces;
    if (model.spec.task == ModelTask::kImage) {
        int x, y, w, h;
        const InputSpec& in = model.spec.input;
        const Image& seen = large ? small : img;
        center_crop_box(seen.width, seen.height, in.width, in.height, x, y, w, h);
        auto crop = crop_image(seen, x, y, w, h);
        if (!crop) return crop.status();
        const float sx = static_cast<float>(img.width) / static_cast<float>(seen.width);
        const float sy = static_cast<float>(img.height) / static_cast<float>(seen.height);
        Face f;
        f.whole_photo = true;
        f.box = FaceBox{x * sx, y * sy, w * sx, h * sy, 1.f, {}};
        f.frame = CropFrame{(x + w / 2.f) * sx, (y + h / 2.f) * sy, w * sx, h * sy, 0.f};
        f.crop = std::move(*crop);
        faces.push_back(std::move(f));
    } else {
        // The detector pads its image to a square and area-averages it to 256x256; averaging
        // the shown copy to kDetectSide = 2 x 256 first keeps the float copy it makes small.
        const Image seen = large ? downscale_to(small, kDetectSide) : Image{};
        FindFacesOptions o;
        o.crop = crop_options_;
        if (large) o.detect_image = &seen, o.max_crop_side = kMaxCropSide;
        auto found = cnnlens::find_faces(*detector_, img, o);
        if (!found) return found.status();
        if (times) times->emplace_back("detect", ms_since(t0));
        t0 = std::chrono::steady_clock::now();
        for (FoundFace& ff : *found) {
            Face f;
            f.box = std::move(ff.box);
            f.frame = ff.frame;
            f.whole_photo = ff.whole_photo;
            f.crop = std::move(ff.crop);
            faces.push_back(std::move(f));
        }
    }
    const auto tc = std::chrono::steady_clock::now();
    CNNLENS_RETURN_IF_ERROR(classify(faces, model, probe));
    if (!faces.empty()) {
        // The fastest classification of this model so far: the first includes packing weights.
        const double per = ms_since(tc) / static_cast<double>(faces.size());
        forward_ms_ = timed_model_ == &model ? std::min(forward_ms_, per) : per;
        timed_model_ = &model;
    }
    if (times) times->emplace_back("classify", ms_since(t0));
    return faces;
}

Status Session::classify(std::vector<Face>& faces, const Model& model, GraphProbe& probe) {
    if (faces.empty()) return Status::ok();
    std::vector<Tensor> rows;
    for (const Face& f : faces) rows.push_back(image_to_input(f.crop, model.spec.input));
    // One batch for all faces (the probe splits it where memory asks).
    auto r = probe.run(stack_batch(rows), ProbeRequest{});
    if (!r) return r.status();
    const int64_t classes = r->probs.shape().dim(-1);
    const std::vector<int> top = argmax_rows(r->probs);
    for (size_t i = 0; i < faces.size(); ++i) {
        const float* p = r->probs.data() + static_cast<int64_t>(i) * classes;
        faces[i].probs.assign(p, p + classes);
        faces[i].top = top[i];
        faces[i].input = std::move(rows[i]);
        faces[i].input_picture = display_image(faces[i].input, model.spec.input);
    }
    return Status::ok();
}

Status Session::set_align_faces(bool on) {
    if (busy())
        return invalid_argument(
            "an explanation is running; cancel it before switching face alignment");
    if (on == crop_options_.align) return Status::ok();
    CropOptions o = crop_options_;
    o.align = on;
    std::vector<Face> faces;
    for (const Face& old : faces_) {
        Face f;
        f.box = old.box;
        f.whole_photo = old.whole_photo;
        f.frame = old.frame;
        if (f.whole_photo) {
            f.crop = old.crop;
        } else {
            f.frame = face_crop_frame(f.box, o);
            f.crop =
                crop_frame(photo_, f.frame, is_large(photo_) ? kMaxCropSide : 0);  // as find_faces
        }
        faces.push_back(std::move(f));
    }
    CNNLENS_RETURN_IF_ERROR(classify(faces, *model_, *probe_));
    crop_options_ = o;
    faces_ = std::move(faces);
    ++photo_version_;  // what the panels key their results on: the faces' pixels changed
    drop_explanation();
    return Status::ok();
}

void Session::want_align_faces(bool on) {
    align_wanted_ = on;
    cancel();  // a no-op when idle
}

Status Session::apply_wanted_align() {
    if (!align_wanted_ || busy()) return Status::ok();
    const bool on = *align_wanted_;
    align_wanted_.reset();
    return set_align_faces(on);
}

void Session::drop_explanation() {
    explanation_.reset();
    explanation_partial_ = false;
    pending_.reset();
    job_.pending = false;
    ++explanation_version_;
}

Status Session::open_photo(std::span<const uint8_t> bytes, std::string_view name) {
    if (!ready()) return invalid_argument("the models are not loaded yet");
    if (busy())
        return invalid_argument(std::string(name) + ": an explanation is running; cancel it first");
    const auto t0 = std::chrono::steady_clock::now();
    auto img = decode_image(bytes, name);
    if (!img) return img.status();
    const double decode_ms = ms_since(t0);
    CNNLENS_RETURN_IF_ERROR(open_pixels(std::move(*img), name));
    photo_timings_.insert(photo_timings_.begin(), {"decode", decode_ms});
    return Status::ok();
}

Status Session::open_pixels(Image img, std::string_view name) {
    if (!ready()) return invalid_argument("the models are not loaded yet");
    if (busy())
        return invalid_argument(std::string(name) + ": an explanation is running; cancel it first");
    CNNLENS_RETURN_IF_ERROR(check_photo_size(name, img.width, img.height));
    const int c = img.channels;
    if ((c != 1 && c != 3 && c != 4) ||
        img.pixels.size() != static_cast<size_t>(img.width) * img.height * c)
        return invalid_argument("image '" + std::string(name) +
                                "': " + std::to_string(img.pixels.size()) + " bytes are not " +
                                std::to_string(img.width) + "x" + std::to_string(img.height) +
                                " pixels of 1, 3 or 4 channels");
    StageTimes times;
    auto t0 = std::chrono::steady_clock::now();
    if (c == 4) {  // in place: the photo's bytes are never held twice
        const size_t n = static_cast<size_t>(img.width) * img.height;
        uint8_t* p = img.pixels.data();
        for (size_t i = 0; i < n; ++i)
            p[3 * i] = p[4 * i], p[3 * i + 1] = p[4 * i + 1], p[3 * i + 2] = p[4 * i + 2];
        img.pixels.resize(3 * n);
        img.channels = 3;
        times.emplace_back("rgb", ms_since(t0));
        t0 = std::chrono::steady_clock::now();
    }
    Image small = shown_copy(img);
    times.emplace_back("preview", ms_since(t0));
    auto faces = find_faces(img, small.empty() ? img : small, *model_, *probe_, &times);
    if (!faces) return faces.status();
    shown_ = std::move(small);
    preview_ = Image{};
    photo_ = std::move(img);
    photo_name_ = std::string(name);
    faces_ = std::move(*faces);
    photo_timings_ = std::move(times);
    ++photo_version_;
    selected_ = faces_.empty() ? -1 : 0;
    drop_explanation();
    return Status::ok();
}

void Session::select(int face) {
    // Background panel work may run meanwhile: it holds on to the faces (not the selection) and
    // drops results of a face no longer selected.
    if (job_.running || face < 0 || face >= static_cast<int>(faces_.size()) || face == selected_)
        return;
    selected_ = face;
    explanation_.reset();
    explanation_partial_ = false;
    pending_.reset();
    job_.pending = false;
    ++explanation_version_;
}

void Session::select_step(int step) {
    const int n = static_cast<int>(faces_.size());
    if (n == 0) return;
    select(((selected_ + step) % n + n) % n);
}

const Face* Session::selected_face() const {
    return selected_ >= 0 && selected_ < static_cast<int>(faces_.size())
               ? &faces_[static_cast<size_t>(selected_)]
               : nullptr;
}

void Session::request(const ExplainRequest& r) {
    if (job_.running) return;
    if (!pending_ && explanation_ && !explanation_partial_ && r == explained_)
        return;  // already shown
    pending_ = r;
    job_.pending = true;
}

// Tensors are move-only; a partial result is owned by the method, so the session keeps a copy.
// (A default Tensor has rank 0, size() 1 and no data, so empty ones are not clone()d.)
static Explanation clone_explanation(const Explanation& e) {
    const auto copy = [](const Tensor& t) { return t.empty() ? Tensor() : t.clone(); };
    Explanation c;
    c.method = e.method;
    c.target = e.target;
    c.height = e.height;
    c.width = e.width;
    c.map = copy(e.map);
    c.norm = e.norm;
    c.attribution = copy(e.attribution);
    for (const auto& [k, v] : e.extras) c.extras.emplace(k, copy(v));
    c.stats = e.stats;
    c.params = e.params;
    c.segments = e.segments;
    c.segment_weights = e.segment_weights;
    c.layer = e.layer;
    return c;
}

Status Session::run_pending(const std::function<bool(float)>& on_progress) {
    std::unique_lock lock(state_mutex_);
    if (!pending_ || job_.running) return Status::ok();
    const ExplainRequest r = *pending_;
    pending_.reset();
    const bool dropped = job_.cancel_requested;
    job_ = JobStatus{};
    if (dropped) return cancelled(r.method + " cancelled before it started");
    const Face* f = selected_face();
    if (!f) return invalid_argument("no face is selected");
    const ExplanationMethod* m = find_method(r.method);
    if (!m)
        return invalid_argument("unknown method '" + r.method + "' (available: " + method_names() +
                                ")");
    job_.running = true;
    job_.started = std::chrono::steady_clock::now();
    Params params = r.params;
    if (job_batch_ > 0 && !params.has("batch") && m->find_param("batch"))
        params.set("batch", job_batch_);
    lock.unlock();

    // From here on the job computes without the lock and publishes under it.
    set_default_tape_precision(r.precision);
    ExplainContext ctx(*probe_);
    ctx.seed = r.seed;
    ctx.progress = [&](float p) {
        lock.lock();
        job_.progress = p;
        lock.unlock();
        const bool go_on = !on_progress || on_progress(p);  // may yield to the browser
        lock.lock();
        if (!go_on) job_.cancel_requested = true;
        const bool cancel = job_.cancel_requested;
        lock.unlock();
        return !cancel;
    };
    ctx.partial = [&](const Explanation& partial) {
        std::optional<Explanation> shown = clone_explanation(partial);
        lock.lock();
        explanation_.swap(shown);  // `shown` now holds the previous one, freed outside the lock
        explanation_partial_ = true;
        explained_ = r;
        ++explanation_version_;
        lock.unlock();
    };
    auto e = m->explain(f->input, r.target, params, ctx);
    std::optional<Explanation> previous;
    lock.lock();
    job_ = JobStatus{};
    if (!e) return e.status();  // a partial result stays shown, still marked partial
    explanation_.swap(previous);
    explanation_ = std::move(*e);
    explanation_partial_ = false;
    explained_ = r;
    ++explanation_version_;
    lock.unlock();  // before `previous` is freed
    return Status::ok();
}

}  // namespace cnnlens::app

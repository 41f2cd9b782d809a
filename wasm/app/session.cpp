// Session: models, photo, faces, predictions and the explanation job (see session.h).
#include "wasm/app/session.h"

#include <algorithm>
#include <cmath>

#include "core/kernels/kernels.h"

namespace cnnlens::app {

bool ExplainRequest::operator==(const ExplainRequest& o) const {
    return method == o.method && params.values() == o.params.values() && target.cls == o.target.cls &&
           target.contrast == o.target.contrast && target.score == o.target.score && seed == o.seed;
}

int display_scale(const Face& f) {
    const int side = std::max(f.input_picture.width, f.input_picture.height);
    return side <= 64 ? 4 : std::max(1, 256 / std::max(side, 1));
}

bool is_cheap_method(std::string_view m) {
    return m == "saliency" || m == "gradient_x_input" || m == "guided" || m == "gradcam" ||
           m == "gradcampp" || m == "guided_gradcam";
}

Session::Session() = default;
Session::~Session() = default;

std::string_view Session::kernels_name() const { return kernels_ ? kernels_->name : std::string_view("none"); }

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

static Image downscale_to(const Image& img, int max_side) {
    const int side = std::max(img.width, img.height);
    if (side <= max_side) return img;
    const double s = static_cast<double>(max_side) / side;
    Image out;
    out.width = std::max(1, static_cast<int>(std::lround(img.width * s)));
    out.height = std::max(1, static_cast<int>(std::lround(img.height * s)));
    out.channels = img.channels;
    std::vector<float> src(img.pixels.begin(), img.pixels.end());
    std::vector<float> dst(static_cast<size_t>(out.width) * out.height * out.channels);
    resample(src.data(), img.width, img.height, img.channels, dst.data(), out.width, out.height);
    out.pixels.resize(dst.size());
    for (size_t i = 0; i < dst.size(); ++i) out.pixels[i] = static_cast<uint8_t>(std::clamp(dst[i] + 0.5f, 0.f, 255.f));
    return out;
}

// The classifier's input back as 8-bit pixels (inverse of the spec's value mapping).
Image input_picture(const Tensor& input, const InputSpec& spec) {
    Image img;
    img.height = static_cast<int>(input.shape()[1]);
    img.width = static_cast<int>(input.shape()[2]);
    img.channels = static_cast<int>(input.shape()[3]);
    img.pixels.resize(static_cast<size_t>(input.size()));
    for (int64_t i = 0; i < input.size(); ++i) {
        float v;
        if (spec.mean.empty()) {
            v = (input[i] - spec.range_lo) / (spec.range_hi - spec.range_lo);
        } else {
            const size_t c = spec.mean.size() == 1 ? 0 : static_cast<size_t>(i % img.channels);
            v = input[i] * spec.std[c] + spec.mean[c];
        }
        img.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(std::clamp(v, 0.f, 1.f) * 255.f + 0.5f);
    }
    return img;
}

Expected<std::vector<Face>> Session::find_faces(const Image& img, const Model& model, GraphProbe& probe) {
    std::vector<Face> faces;
    if (model.spec.task == ModelTask::kImage) {
        int x, y, w, h;
        const InputSpec& in = model.spec.input;
        center_crop_box(img.width, img.height, in.width, in.height, x, y, w, h);
        auto crop = crop_image(img, x, y, w, h);
        if (!crop) return crop.status();
        Face f;
        f.whole_photo = true;
        f.box = FaceBox{static_cast<float>(x), static_cast<float>(y), static_cast<float>(w), static_cast<float>(h), 1.f, {}};
        f.frame = CropFrame{x + w / 2.f, y + h / 2.f, static_cast<float>(w), static_cast<float>(h), 0.f};
        f.crop = std::move(*crop);
        faces.push_back(std::move(f));
    } else {
        FindFacesOptions o;
        o.crop = crop_options_;
        auto found = cnnlens::find_faces(*detector_, img, o);
        if (!found) return found.status();
        for (FoundFace& ff : *found) {
            Face f;
            f.box = std::move(ff.box);
            f.frame = ff.frame;
            f.whole_photo = ff.whole_photo;
            f.crop = std::move(ff.crop);
            faces.push_back(std::move(f));
        }
    }
    CNNLENS_RETURN_IF_ERROR(classify(faces, model, probe));
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
        faces[i].input_picture = input_picture(faces[i].input, model.spec.input);
    }
    return Status::ok();
}

Status Session::set_align_faces(bool on) {
    if (busy()) return invalid_argument("an explanation is running; cancel it before switching face alignment");
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
            f.crop = crop_frame(photo_, f.frame);
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

void Session::drop_explanation() {
    explanation_.reset();
    explanation_partial_ = false;
    pending_.reset();
    job_.pending = false;
    ++explanation_version_;
}

Status Session::open_photo(std::span<const uint8_t> bytes, std::string_view name) {
    if (!ready()) return invalid_argument("the models are not loaded yet");
    if (busy()) return invalid_argument(std::string(name) + ": an explanation is running; cancel it first");
    auto img = decode_image(bytes, name);
    if (!img) return img.status();
    auto faces = find_faces(*img, *model_, *probe_);
    if (!faces) return faces.status();
    preview_ = downscale_to(*img, kMaxDisplaySide);
    photo_ = std::move(*img);
    photo_name_ = std::string(name);
    faces_ = std::move(*faces);
    ++photo_version_;
    selected_ = faces_.empty() ? -1 : 0;
    drop_explanation();
    return Status::ok();
}

void Session::select(int face) {
    // Background panel work may run meanwhile: it holds on to the faces (not the selection) and
    // drops results of a face no longer selected.
    if (job_.running || face < 0 || face >= static_cast<int>(faces_.size()) || face == selected_) return;
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
    return selected_ >= 0 && selected_ < static_cast<int>(faces_.size()) ? &faces_[static_cast<size_t>(selected_)] : nullptr;
}

void Session::request(const ExplainRequest& r) {
    if (job_.running) return;
    if (!pending_ && explanation_ && !explanation_partial_ && r == explained_) return;  // already shown
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
    c.signed_map = e.signed_map;
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
    if (!m) return invalid_argument("unknown method '" + r.method + "' (available: " + method_names() + ")");
    job_.running = true;
    Params params = r.params;
    if (job_batch_ > 0 && !params.has("batch"))
        for (const ParamDef& d : m->params())
            if (d.name == "batch") params.set("batch", job_batch_);
    lock.unlock();

    // From here on the job computes without the lock and publishes under it.
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

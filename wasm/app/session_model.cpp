// Session: a user's model in place of the bundled classifier, and faces opened from a labeled
// set (see session.h).
#include "wasm/app/session.h"

#include "core/image/render.h"

namespace cnnlens::app {

// The classifier's view of a face: its input row, probabilities and the picture overlays use.
static Status classify(Face& f, GraphProbe& probe, const InputSpec& spec) {
    f.input = image_to_input(f.crop, spec);
    auto r = probe.run(f.input, ProbeRequest{});
    if (!r) return r.status();
    f.probs.assign(r->probs.data(), r->probs.data() + r->probs.size());
    f.top = argmax_rows(r->probs)[0];
    f.input_picture = input_picture(f.input, spec);
    return Status::ok();
}

Status Session::install_model(Model&& m) {
    if (busy()) return invalid_argument("an explanation is running; cancel it before changing the model");
    auto model = std::make_unique<Model>(std::move(m));
    auto probe = std::make_unique<GraphProbe>(*model, *kernels_);
    std::vector<Face> faces(faces_.size());
    for (size_t i = 0; i < faces.size(); ++i) {
        faces[i].box = faces_[i].box;
        faces[i].whole_photo = faces_[i].whole_photo;
        faces[i].crop = faces_[i].crop;
        CNNLENS_RETURN_IF_ERROR(classify(faces[i], *probe, model->spec.input));
    }
    probe_ = std::move(probe);
    model_ = std::move(model);
    faces_ = std::move(faces);
    ++model_version_;
    explanation_.reset();
    explanation_partial_ = false;
    pending_.reset();
    job_ = JobStatus{};
    ++explanation_version_;
    return Status::ok();
}

Status Session::open_face(const Image& face, std::string_view name) {
    if (!ready()) return invalid_argument("the models are not loaded yet");
    if (busy()) return invalid_argument(std::string(name) + ": an explanation is running; cancel it first");
    Face f;
    f.whole_photo = true;
    f.box = FaceBox{0, 0, static_cast<float>(face.width), static_cast<float>(face.height), 1.f, {}};
    f.crop = face;
    CNNLENS_RETURN_IF_ERROR(classify(f, *probe_, model_->spec.input));
    photo_ = face;
    preview_ = face;
    photo_name_ = std::string(name);
    faces_.clear();
    faces_.push_back(std::move(f));
    ++photo_version_;
    selected_ = 0;
    explanation_.reset();
    explanation_partial_ = false;
    pending_.reset();
    job_ = JobStatus{};
    ++explanation_version_;
    return Status::ok();
}

}  // namespace cnnlens::app

// Session: a user's model in place of the bundled classifier, and faces opened from a labeled
// set (see session.h).
#include "wasm/app/session.h"

#include <algorithm>

#include "core/image/render.h"

namespace cnnlens::app {

Status Session::install_model(Model&& m) {
    if (busy()) return invalid_argument("an explanation is running; cancel it before changing the model");
    auto model = std::make_unique<Model>(std::move(m));
    auto probe = std::make_unique<GraphProbe>(*model, *kernels_);
    // The photo is seen afresh: a model of another task finds other faces (or the whole photo).
    std::vector<Face> faces;
    if (!photo_.empty()) {
        auto f = find_faces(photo_, preview_, *model, *probe);
        if (!f) return f.status();
        faces = std::move(*f);
    }
    probe_ = std::move(probe);
    model_ = std::move(model);
    faces_ = std::move(faces);
    selected_ = faces_.empty() ? -1 : std::clamp(selected_, 0, static_cast<int>(faces_.size()) - 1);
    ++model_version_;
    drop_explanation();
    job_ = JobStatus{};
    return Status::ok();
}

Status Session::set_task(ModelTask task) {
    if (!ready()) return invalid_argument("the models are not loaded yet");
    if (busy()) return invalid_argument("an explanation is running; cancel it before changing what the model looks at");
    if (task == ModelTask::kAuto || task == model_->spec.task) return Status::ok();
    const ModelTask before = model_->spec.task;
    model_->spec.task = task;
    std::vector<Face> faces;
    if (!photo_.empty()) {
        auto f = find_faces(photo_, preview_, *model_, *probe_);
        if (!f) {
            model_->spec.task = before;
            return f.status();
        }
        faces = std::move(*f);
    }
    faces_ = std::move(faces);
    selected_ = faces_.empty() ? -1 : 0;
    ++photo_version_;
    drop_explanation();
    return Status::ok();
}

Status Session::open_face(const Image& face, std::string_view name) {
    if (!ready()) return invalid_argument("the models are not loaded yet");
    if (busy()) return invalid_argument(std::string(name) + ": an explanation is running; cancel it first");
    Face f;
    f.whole_photo = true;
    f.box = FaceBox{0, 0, static_cast<float>(face.width), static_cast<float>(face.height), 1.f, {}};
    f.frame = CropFrame{face.width / 2.f, face.height / 2.f, static_cast<float>(face.width), static_cast<float>(face.height), 0.f};
    f.crop = face;
    f.input = image_to_input(f.crop, model_->spec.input);
    auto r = probe_->run(f.input, ProbeRequest{});
    if (!r) return r.status();
    f.probs.assign(r->probs.data(), r->probs.data() + r->probs.size());
    f.top = argmax_rows(r->probs)[0];
    f.input_picture = input_picture(f.input, model_->spec.input);
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

// Session: everything the app knows that is not a UI choice — the two models, the current
// photo, its faces with their predictions, and the explanation shown — and the job that
// computes it. Never includes imgui.h or GL, so it also compiles natively for unit tests.
// Results carry version numbers; the UI re-uploads a texture only when a version changes.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/explain/explain.h"
#include "core/face/face.h"
#include "core/import/model.h"

namespace cnnlens::app {

// One face of the photo: where it is, what the classifier sees and what it says. An image model
// (ModelTask::kImage) sees the whole photo: its one Face is the photo's center crop with the
// input's aspect (photo_to_input's region), found without the detector.
struct Face {
    FaceBox box;      // in photo pixels; the whole photo (or its center crop) when `whole_photo`
    CropFrame frame;  // the region `crop` shows, in photo pixels: turned when aligned
    bool whole_photo = false;  // not a detected face: an image model's view, or a photo that looks
                               // like a face crop
    Image crop;  // crop_frame(photo, frame): the face (eyes level when aligned), or the center crop
                 // (8-bit, the photo's channels)
    Tensor input;              // the classifier's input row [1, H, W, C]
    Image input_picture;       // `input` back as 8-bit pixels, what overlays are drawn on
    std::vector<float> probs;  // one per class
    int top = 0;               // argmax of probs
};

// What to explain: a method by name, its parameter values, the target and the seed.
struct ExplainRequest {
    std::string method;
    Params params;
    Target target;
    uint64_t seed = 1;
    TapePrecision precision = TapePrecision::kExact;  // of the gradients the method takes
    bool operator==(const ExplainRequest& o) const;
};

// The state of the current explanation job: set by run_pending() (under the state lock), read
// by the UI to draw the progress bar and Cancel.
struct JobStatus {
    bool pending = false;  // requested, not yet started
    bool running = false;
    float progress = 0.f;
    bool cancel_requested = false;
    std::chrono::steady_clock::time_point started{};  // when it began running
};

// Threads. The threaded web app runs jobs (run_pending(), and step_panels() of
// session_panels.h) on a job thread while the UI thread draws frames; the single-threaded one
// runs them in slices on the UI thread (the job yields from inside its progress callback). Both
// follow one rule around the state lock (state_mutex()):
//  - Whoever is not the job (the UI thread, a test's polling thread) holds the lock while it
//    calls anything on the Session or on the PanelWork (the web app holds it for a whole frame
//    and for each test-hook call). The public members below do not lock themselves.
//  - run_pending() and step_panels() take the lock themselves: to read what to compute and to
//    publish progress, partial and final results, never while computing, and never while they
//    call their progress callback. Cancel is read under it.
//  - While busy(), what a job reads without the lock does not change: the faces (and so the
//    selected face's input), the model and the probe (open_photo, open_face and install_model
//    refuse; select() is refused while an explanation runs, and panel steps check afterwards
//    that their face is still the selected one).
struct PanelWork;  // session_panels.h
struct LiveWork;   // live.h

class Session {
public:
    Session();
    ~Session();

    // The state lock (see above). Not recursive: never call run_pending() or step_panels()
    // while holding it.
    std::mutex& state_mutex() const { return state_mutex_; }

    // The extra panels' jobs and results (session_panels.h), under the state lock like the rest.
    PanelWork& panel_work();
    const PanelWork& panel_work() const;
    // Live mode's frames, tracks and results (live.h), under the state lock like the rest.
    LiveWork& live();
    const LiveWork& live() const;

    // Loads the classifier (a folder with cnnlens.json) and the detector (blazeface.json +
    // .bin) from file sources. Errors name the file.
    Status load_models(const FileSource& classifier, const FileSource& detector);
    bool ready() const { return model_ != nullptr && detector_ != nullptr; }
    const Model& model() const { return *model_; }
    const std::vector<std::string>& class_names() const { return model_->spec.classes; }
    GraphProbe& probe() { return *probe_; }
    FaceDetector& detector() { return *detector_; }
    const CropOptions& crop_options() const { return crop_options_; }
    std::string_view kernels_name() const;
    const KernelSet& kernels() const { return *kernels_; }  // once ready()

    // Decodes a photo (decode_image), then opens its pixels as open_pixels does. On error
    // nothing changes (the previous photo and its results stay) and the Status says what was
    // wrong with the file.
    Status open_photo(std::span<const uint8_t> bytes, std::string_view name);
    // Opens a photo given as 8-bit pixels, upright: what the page hands over when the browser
    // decoded the file (web/loader.js). `img` has 1 (gray), 3 (RGB) or 4 channels (RGBA: alpha is
    // dropped in place, as decode_image drops it). A photo larger than the preview is downscaled
    // once, to the preview, on which faces are detected; their crops are cut from the full
    // photo (see find_faces).
    // Refused, with nothing changed, when its size is over the limits (check_photo_size).
    Status open_pixels(Image img, std::string_view name);
    const Image& photo() const { return photo_; }
    // The photo as the photo panel draws it: shown_copy(photo()), or the photo itself when it
    // is no larger than kMaxShownSide. Made when the photo opens (a large photo's faces are
    // searched for on it).
    const Image& photo_shown() const { return shown_.empty() ? photo_ : shown_; }
    // The photo downscaled so its longest side is at most kMaxDisplaySide (what exports draw
    // on); the photo itself when it is no larger. A larger photo's is made on first use.
    const Image& photo_preview() const;
    // Milliseconds the last open_photo / open_pixels spent per stage, in order ("decode",
    // "rgb", "preview": the one pass over the photo, making photo_shown(); "detect": the faces
    // found and cut out; "classify"; a stage that did not run is absent).
    using StageTimes = std::vector<std::pair<std::string, double>>;
    const StageTimes& photo_timings() const { return photo_timings_; }
    const std::string& photo_name() const { return photo_name_; }
    int photo_version() const { return photo_version_; }
    const std::vector<Face>& faces() const { return faces_; }
    // Milliseconds per image of the model's forward pass, as its fastest classification of a
    // photo's faces took here (0 before one): what the time estimates of methods are made of.
    double forward_ms_per_image() const { return timed_model_ == model_.get() ? forward_ms_ : 0; }
    int selected() const { return selected_; }
    void select(int face);
    // Selects the face `step` places after the selected one (negative: before), wrapping around.
    void select_step(int step);
    const Face* selected_face() const;

    // Whether face crops are turned so the eyes are level (CropOptions::align; on by default).
    // Switching crops and classifies the faces again (no new detection) and drops the
    // explanation; refused while a job runs.
    bool align_faces() const { return crop_options_.align; }
    Status set_align_faces(bool on);
    // The switch as the user flips it: applied at once when idle; otherwise the running job is
    // cancelled and apply_wanted_align() (called by the platform each frame, before it starts
    // the next job) applies it once the job has stopped. align_faces_shown() is what the
    // checkbox shows meanwhile: the state asked for.
    void want_align_faces(bool on);
    Status apply_wanted_align();
    bool align_faces_shown() const { return align_wanted_.value_or(crop_options_.align); }

    // A user's model and faces from a labeled set (session_model.cpp). install_model replaces
    // the classifier (refused while a job runs); the faces are classified again and the
    // explanation is dropped. model_version() counts installs. open_face opens an 8-bit face
    // crop as a photo that is one face, without detection.
    Status install_model(Model&& m);
    int model_version() const { return model_version_; }
    // Switches what the model looks at (a detected face or the whole photo); the photo's faces
    // are found and classified again. Refused while a job runs.
    Status set_task(ModelTask task);
    Status open_face(const Image& face, std::string_view name);

    // Explanations. request() remembers what to compute; run_pending() computes it (blocking,
    // with progress and cancel through ExplainContext; takes the state lock only to start and to
    // publish); the result replaces the previous one.
    void request(const ExplainRequest& r);
    const JobStatus& job() const { return job_; }
    // Stops the running job at its next progress report, or drops a pending one; no-op when idle.
    void cancel() {
        if (job_.pending || job_.running) job_.cancel_requested = true;
    }
    // Runs the pending job if any; `on_progress` is called from inside the job, without the
    // state lock (return false to cancel). Returns the error of a failed job (cancelled jobs
    // return kCancelled).
    Status run_pending(const std::function<bool(float)>& on_progress = {});
    const Explanation* explanation() const { return explanation_ ? &*explanation_ : nullptr; }
    const ExplainRequest& explained() const { return explained_; }
    int explanation_version() const { return explanation_version_; }
    // True while explanation() is an intermediate result (LIME on the samples so far) of the
    // running job, or what a cancelled job had reached; requesting the same settings reruns it.
    bool explanation_partial() const { return explanation_partial_; }
    // True while a job runs. Frames keep drawing meanwhile (the job runs on its own thread, or
    // yields to the browser from inside its progress callback): while busy, the photo, the
    // selected face and the probe belong to the job (open_photo and select are refused).
    // The platform marks the session busy while it runs a panel step (session_panels.h) too.
    bool busy() const { return job_.running || background_; }
    void set_background_work(bool on) { background_ = on; }
    // The batch a job uses for methods with a "batch" parameter the request leaves unset
    // (0: the method's default). Progress, and so Cancel (and the single-threaded browser's
    // frames), comes once per batch, so the app asks for small ones; results do not depend on it.
    void set_job_batch(int n) { job_batch_ = n; }

    // Photos up to kMaxDisplaySide a side are seen as the CLI sees them: faces detected on the
    // photo itself, crops cut from it at full size. A larger photo is searched through
    // photo_shown() averaged further to kDetectSide (the detector's input is 256), and each face
    // crop, from the full photo, is made at most kMaxCropSide a side (crop_frame's cap: the
    // classifier's input is far smaller; a face filling a 48-megapixel photo would otherwise be
    // cut out whole first).
    static constexpr int kMaxDisplaySide = 2048;
    // The largest texture the photo panel draws: the panel shows the photo at most 45 % of the
    // window's height, so 1024 pixels cover a large screen, and its upload (under software
    // WebGL, in the frame that first shows the photo) is a quarter of a 2048-pixel one.
    static constexpr int kMaxShownSide = 1024;
    static constexpr int kDetectSide = 512;
    static constexpr int kMaxCropSide = 512;

private:
    // The faces of `img` as `model` sees them (detected faces, or the whole photo), classified.
    // `small` is what photo_shown() gives for `img` (shown_copy, or `img` itself). A photo no
    // larger than kMaxDisplaySide is seen as the CLI sees a photo; a larger one through `small`:
    // the detector looks at it downscaled further to kDetectSide, an image model's center crop is
    // cut from it, and face crops from `img` (capped at kMaxCropSide). Adds the ms of "detect"
    // and "classify" to `times` when given.
    Expected<std::vector<Face>> find_faces(const Image& img, const Image& small, const Model& model,
                                           GraphProbe& probe, StageTimes* times = nullptr);
    // Fills each face's input, probabilities and input picture, classifying all in one batch.
    static Status classify(std::vector<Face>& faces, const Model& model, GraphProbe& probe);
    void drop_explanation();

    mutable std::mutex state_mutex_;
    double forward_ms_ = 0;  // forward_ms_per_image() of timed_model_
    const Model* timed_model_ = nullptr;
    std::unique_ptr<Model> model_;
    std::unique_ptr<GraphProbe> probe_;
    std::unique_ptr<FaceDetector> detector_;
    const KernelSet* kernels_ = nullptr;

    // The photo, what the panel shows (empty: the photo itself) and the export's preview (made
    // on demand under the state lock, like every other read of the session).
    Image photo_, shown_;
    mutable Image preview_;
    std::string photo_name_;
    StageTimes photo_timings_;
    int photo_version_ = 0;
    std::vector<Face> faces_;
    int selected_ = -1;
    int model_version_ = 0;
    CropOptions crop_options_;
    std::optional<bool> align_wanted_;

    std::optional<ExplainRequest> pending_;
    ExplainRequest explained_;
    JobStatus job_;
    std::optional<Explanation> explanation_;
    int explanation_version_ = 0;
    bool explanation_partial_ = false;
    int job_batch_ = 0;
    bool background_ = false;
    // The extra panels' jobs and results (session_panels.h): session state, whatever draws it.
    std::unique_ptr<PanelWork> panel_work_;
    std::unique_ptr<LiveWork> live_;
};

// How many times the input picture is enlarged on screen: 4 for the small inputs of face models
// (up to 64 pixels a side), else about 256 pixels a side, at least 1 (a 224-pixel input: 1).
int display_scale(const Face& f);

// The photo size limits of core/base/limits.h (side, megapixels) for pixels that come without
// a file header (the page's browser decoder); the message names the photo, its size and the
// limit, as decode_image's does. Checked before the pixels are allocated.
Status check_photo_size(std::string_view name, int64_t width, int64_t height);

// `img` area-averaged (resample's rule for downscaling) so its longest side is at most
// `max_side`, 8-bit in and out, row by row (no float copy of the whole image); `img` itself
// when it is no larger. Rows are split over the kernel thread pool; the result does not depend
// on the thread count.
Image downscale_to(const Image& img, int max_side);

// What the photo panel shows of a photo larger than Session::kMaxShownSide: its means over
// k x k blocks, k the least whole factor that brings it within kMaxShownSide (so its longest
// side is between half that and that; crop_frame's cap applied to the whole photo). One pass in
// 8- and 16-bit sums, several times faster than downscale_to's exact area average, which a
// texture does not need. Empty for a photo no larger.
Image shown_copy(const Image& img);

// Whether the request's method is cheap enough to recompute while a slider moves
// (MethodCost::kLive); false for an unknown method.
bool is_live(const ExplainRequest& request);

}  // namespace cnnlens::app

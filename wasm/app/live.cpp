// Live mode's data side (see live.h): tracking, the per-frame job, the CSV.
#include "wasm/app/live.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/base/json_text.h"
#include "core/explain/probe.h"
#include "wasm/app/session.h"

namespace cnnlens::app {

namespace {

float centre_x(const FaceBox& b) { return b.x + b.width / 2; }
float centre_y(const FaceBox& b) { return b.y + b.height / 2; }

// `b` moved by (dx, dy) with its keypoints.
void shift(FaceBox& b, float dx, float dy) {
    b.x += dx;
    b.y += dy;
    for (auto& [x, y] : b.keypoints) x += dx, y += dy;
}

// The detection blended into the track's box: position and size move kBoxBlend of the way to the
// detection; keypoints are the detection's, moved with the blended box's centre.
FaceBox blend(const FaceBox& old, const FaceBox& det, float a) {
    FaceBox b = det;
    b.width = a * det.width + (1 - a) * old.width;
    b.height = a * det.height + (1 - a) * old.height;
    const float cx = a * centre_x(det) + (1 - a) * centre_x(old),
                cy = a * centre_y(det) + (1 - a) * centre_y(old);
    b.x = cx - b.width / 2;
    b.y = cy - b.height / 2;
    for (auto& [x, y] : b.keypoints) x += cx - centre_x(det), y += cy - centre_y(det);
    return b;
}

// The probe a Live explanation runs through. It keeps the class probabilities of the first pass
// it computes on exactly the face's input (the cheap methods' first pass is on the unmodified
// input), so a tracked face needs no classifying pass of its own.
class FaceProbsProbe final : public ModelProbe {
public:
    FaceProbsProbe(ModelProbe& inner, const Tensor& face) : inner_(inner), face_(face) {}
    Expected<ProbeResult> run(const Tensor& batch, const ProbeRequest& request) override {
        auto out = inner_.run(batch, request);
        if (out && probs_.empty() && batch.size() == face_.size() &&
            std::equal(batch.data(), batch.data() + batch.size(), face_.data()))
            probs_.assign(out->probs.data(), out->probs.data() + out->probs.size());
        return out;
    }
    const InputSpec& input_spec() const override { return inner_.input_spec(); }
    int num_classes() const override { return inner_.num_classes(); }
    const std::vector<std::string>& class_names() const override { return inner_.class_names(); }
    std::vector<LayerInfo> layers() const override { return inner_.layers(); }
    int max_batch() const override { return inner_.max_batch(); }
    const std::vector<float>& probs() const { return probs_; }

private:
    ModelProbe& inner_;
    const Tensor& face_;
    std::vector<float> probs_;
};

int top_class(const std::vector<float>& p) {
    return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
}

double ms_between(std::chrono::steady_clock::time_point a,
                  std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

void smooth(double& mean, double v) { smooth_ms(mean, v); }

// The method Live explains with: the chosen one when it is cheap, else the first cheap one.
const ExplanationMethod* live_method(const std::string& name) {
    const ExplanationMethod* m = find_method(name);
    if (m && m->live()) return m;
    for (const ExplanationMethod* x : all_methods())
        if (x->live()) return x;
    return nullptr;
}

}  // namespace

const std::vector<Track>& FaceTracker::update(const std::vector<FaceBox>& detections) {
    predict();
    struct Pair {
        float key;
        size_t track, det;
    };  // key: IoU, or the centres' distance
    std::vector<Pair> pairs;
    for (size_t t = 0; t < tracks_.size(); ++t)
        for (size_t d = 0; d < detections.size(); ++d)
            if (const float iou = box_iou(tracks_[t].box, detections[d]); iou >= kMinIou)
                pairs.push_back({iou, t, d});
    std::sort(pairs.begin(), pairs.end(),
              [](const Pair& a, const Pair& b) { return a.key > b.key; });
    std::vector<bool> track_done(tracks_.size()), det_done(detections.size());
    const auto match = [&](size_t ti, size_t di) {
        track_done[ti] = det_done[di] = true;
        Track& t = tracks_[ti];
        const FaceBox b = blend(t.box, detections[di], kBoxBlend);
        // predict() moved the box by its velocity on every frame since the last match; what the
        // detection corrects, spread over those frames, corrects the velocity.
        const float frames = static_cast<float>(std::max(t.since_match, 1));
        t.vx += kVelocityBlend * (centre_x(b) - centre_x(t.box)) / frames;
        t.vy += kVelocityBlend * (centre_y(b) - centre_y(t.box)) / frames;
        t.box = b;
        t.misses = 0;
        t.since_match = 0;
    };
    for (const Pair& p : pairs)
        if (!track_done[p.track] && !det_done[p.det]) match(p.track, p.det);
    std::vector<Pair> near;  // (distance in box sides, track, detection) of what is left
    for (size_t t = 0; t < tracks_.size(); ++t)
        for (size_t d = 0; d < detections.size(); ++d) {
            if (track_done[t] || det_done[d]) continue;
            const FaceBox &a = tracks_[t].box, &b = detections[d];
            const float dist = std::hypot(centre_x(a) - centre_x(b), centre_y(a) - centre_y(b)) /
                               std::max({a.width, b.width, 1.f});
            if (dist < kMaxJump) near.push_back({dist, t, d});
        }
    std::sort(near.begin(), near.end(), [](const Pair& a, const Pair& b) { return a.key < b.key; });
    for (const Pair& p : near) {
        if (track_done[p.track] || det_done[p.det]) continue;
        match(p.track, p.det);
    }
    for (size_t t = 0; t < tracks_.size(); ++t)
        if (!track_done[t]) ++tracks_[t].misses;
    std::erase_if(tracks_, [](const Track& t) { return t.misses > kMaxMisses; });
    for (size_t d = 0; d < detections.size(); ++d) {
        if (det_done[d]) continue;
        Track t;
        t.id = next_id_++;
        t.box = detections[d];
        tracks_.push_back(std::move(t));
    }
    return tracks_;
}

const std::vector<Track>& FaceTracker::predict() {
    for (Track& t : tracks_) {
        shift(t.box, t.vx, t.vy);
        t.vx *= kVelocityFade;
        t.vy *= kVelocityFade;
        ++t.since_match;
    }
    return tracks_;
}

Image to_rgb(const Image& img) {
    if (img.channels == 3) return img;
    Image out;
    out.width = img.width;
    out.height = img.height;
    out.channels = 3;
    const size_t n = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
    out.pixels.resize(3 * n);
    const uint8_t* p = img.pixels.data();
    uint8_t* q = out.pixels.data();
    const size_t c = static_cast<size_t>(img.channels);
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* s = p + i * c;
        q[3 * i] = s[0];
        q[3 * i + 1] = c >= 3 ? s[1] : s[0];
        q[3 * i + 2] = c >= 3 ? s[2] : s[0];
    }
    return out;
}

void LiveWork::frame_ready(double time_ms, double grab_ms) {
    LiveFrame f;
    display = incoming.pixels;
    ++display_version;
    display_drawn = false;
    f.pixels = std::move(incoming.pixels);
    f.id = next_frame_id++;
    f.time_ms = time_ms;
    f.grab_ms = grab_ms;
    smooth(stats.grab, grab_ms);
    pending = std::move(f);
    incoming = LiveFrame{};
}

void LiveWork::reset() {
    stop_requested = false;
    pending.reset();
    incoming = LiveFrame{};
    tracker.clear();
    since_detect = 0;
    result = LiveResult{};
    ++result_version;
    display = Image{};
    display_drawn = true;
    processed_times.clear();
    freeze_requested = false;
}

void LiveWork::start_recording(double now_ms) {
    recording = true;
    record_start_ms = now_ms;
    rows.clear();
}

Status process_live_frame(Session& session) {
    using Clock = std::chrono::steady_clock;
    std::unique_lock lock(session.state_mutex());
    LiveWork& w = session.live();
    if (!w.pending || w.state != LiveState::kOn || !session.ready()) return Status::ok();
    LiveFrame f = std::move(*w.pending);
    w.pending.reset();
    w.processing = true;
    const ExplanationMethod* m = live_method(w.method);
    const Params params = w.params;
    const bool detect = w.tracker.tracks().empty() || w.since_detect + 1 >= w.detect_every;
    FaceTracker tracker = w.tracker;
    const int version = w.result_version;  // reset() while we compute drops what we publish
    const CropOptions crop = session.crop_options();
    const Model& model = session.model();
    GraphProbe& probe = session.probe();
    FaceDetector& detector = session.detector();
    lock.unlock();

    const auto finish = [&](const Status& s) {
        lock.lock();
        w.processing = false;
        return s;
    };
    auto t0 = Clock::now();
    LiveResult r;
    r.frame_id = f.id;
    r.frame_time_ms = f.time_ms;
    r.detected = detect;
    r.frame = to_rgb(f.pixels);
    f.pixels = Image{};
    auto t1 = Clock::now();
    const double rgb_ms = ms_between(t0, t1);
    if (detect) {
        // The detector resamples what it is given to its 256-pixel input: a copy that size first
        // spares it a float copy of the whole frame. Crops are cut from the frame itself.
        const Image small = downscale_to(r.frame, kLiveDetectSide);
        auto found = detector.detect(small);
        if (!found) return finish(found.status());
        const float k = static_cast<float>(r.frame.width) / static_cast<float>(small.width);
        for (FaceBox& b : *found) {
            b.x *= k, b.y *= k, b.width *= k, b.height *= k;
            for (auto& [x, y] : b.keypoints) x *= k, y *= k;
        }
        tracker.update(*found);
    } else {
        tracker.predict();
    }
    auto t2 = Clock::now();
    const double detect_ms = ms_between(t1, t2);
    std::vector<Tensor> inputs;
    for (const Track& t : tracker.tracks()) {
        if (t.misses > 0)
            continue;  // missed by the last detection: kept a while for its id, not shown
        LiveFace lf;
        lf.id = t.id;
        lf.box = t.box;
        lf.frame = face_crop_frame(t.box, crop);
        lf.crop = crop_frame(r.frame, lf.frame, Session::kMaxCropSide);
        inputs.push_back(image_to_input(lf.crop, model.spec.input));
        r.faces.push_back(std::move(lf));
    }
    // A face the tracker already knows is explained for its class so far (its smoothed top), and
    // the explanation's own first pass classifies it; new faces, and frames without a method,
    // are classified in one batch. Should this frame's probabilities change the top class, the
    // face is explained again for the new one, so the overlay always shows the top class.
    const auto track_of = [&](int id) -> Track* {
        for (Track& t : tracker.tracks())
            if (t.id == id) return &t;
        return nullptr;
    };
    const auto explain = [&](size_t i, int cls, ModelProbe& p) -> Status {
        Target target;
        target.cls = cls;
        target.score = m->traits().default_score;
        ExplainContext ctx(p);
        auto e = m->explain(inputs[i], target, params, ctx);
        if (!e) return e.status();
        r.faces[i].map = std::move(*e);
        return Status::ok();
    };
    double explain_ms = 0;
    std::vector<Tensor> unclassified;
    std::vector<size_t> unclassified_faces;
    for (size_t i = 0; i < r.faces.size(); ++i) {
        const Track* t = track_of(r.faces[i].id);
        if (m && t && !t->probs.empty()) {
            const auto e0 = Clock::now();
            FaceProbsProbe p(probe, inputs[i]);
            if (Status s = explain(i, top_class(t->probs), p); !s) return finish(s);
            explain_ms += ms_between(e0, Clock::now());
            if (!p.probs().empty()) {
                r.faces[i].raw = p.probs();
                continue;
            }
        }
        unclassified.push_back(inputs[i].clone());
        unclassified_faces.push_back(i);
    }
    auto c0 = Clock::now();
    if (!unclassified.empty()) {
        auto out = probe.run(stack_batch(unclassified), ProbeRequest{});
        if (!out) return finish(out.status());
        const int64_t classes = out->probs.shape().dim(-1);
        for (size_t k = 0; k < unclassified_faces.size(); ++k) {
            const float* p = out->probs.data() + static_cast<int64_t>(k) * classes;
            r.faces[unclassified_faces[k]].raw.assign(p, p + classes);
        }
    }
    for (LiveFace& lf : r.faces) {
        Track* t = track_of(lf.id);
        if (t) {
            if (t->probs.size() != lf.raw.size())
                t->probs = lf.raw;
            else
                for (size_t c = 0; c < t->probs.size(); ++c)
                    t->probs[c] = kProbBlend * lf.raw[c] + (1 - kProbBlend) * t->probs[c];
            lf.probs = t->probs;
        } else {
            lf.probs = lf.raw;
        }
        lf.top = top_class(lf.probs);
    }
    auto t3 = Clock::now();
    const double classify_ms = ms_between(c0, t3);
    if (m) {
        for (size_t i = 0; i < r.faces.size(); ++i) {
            if (r.faces[i].map && r.faces[i].map->target.cls == r.faces[i].top) continue;
            if (Status s = explain(i, r.faces[i].top, probe); !s) return finish(s);
        }
    }
    auto t4 = Clock::now();
    explain_ms += ms_between(t3, t4);

    lock.lock();
    w.processing = false;
    if (w.result_version != version || w.state != LiveState::kOn) return Status::ok();
    w.tracker = std::move(tracker);
    w.since_detect = detect ? 0 : w.since_detect + 1;
    LiveStats& st = w.stats;
    smooth(st.rgb, rgb_ms);
    if (detect) smooth(st.detect, detect_ms);
    smooth(st.classify, classify_ms);
    smooth(st.explain, explain_ms);
    ++st.processed;
    if (!r.faces.empty()) ++st.with_face;
    const double now = std::chrono::duration<double, std::milli>(t4.time_since_epoch()).count();
    w.processed_times.push_back(now);
    std::erase_if(w.processed_times, [&](double t) { return now - t > 2000; });
    const size_t n = w.processed_times.size();
    st.processed_fps =
        n > 1 ? 1000.0 * static_cast<double>(n - 1) / (now - w.processed_times.front()) : 0;
    if (w.recording)
        for (const LiveFace& lf : r.faces)
            w.rows.push_back(
                {r.frame_time_ms - w.record_start_ms, r.frame_id, lf.id, lf.box, lf.raw});
    w.result = std::move(r);
    ++w.result_version;
    return Status::ok();
}

std::string live_csv(const std::vector<LiveRow>& rows, const std::vector<std::string>& classes) {
    std::string s = "time_ms,frame,face,x,y,width,height";
    for (const std::string& c : classes) s += "," + c;
    s += "\n";
    char buf[64];
    for (const LiveRow& r : rows) {
        std::snprintf(buf, sizeof buf, "%.1f,%lld,%d", r.time_ms, static_cast<long long>(r.frame),
                      r.face);
        s += buf;
        std::snprintf(buf, sizeof buf, ",%.1f,%.1f,%.1f,%.1f", r.box.x, r.box.y, r.box.width,
                      r.box.height);
        s += buf;
        for (float p : r.probs) {
            std::snprintf(buf, sizeof buf, ",%.5f", p);
            s += buf;
        }
        s += "\n";
    }
    return s;
}

}  // namespace cnnlens::app

namespace cnnlens::app {

namespace {

void json_floats(std::string& s, const std::vector<float>& v) {
    char buf[32];
    s += "[";
    for (size_t i = 0; i < v.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%s%.7g", i ? "," : "", v[i]);
        s += buf;
    }
    s += "]";
}

}  // namespace

std::string live_json(const LiveWork& l, const std::vector<std::string>& classes) {
    static constexpr const char* kStates[] = {"off", "starting", "on"};
    const LiveResult& r = l.result;
    std::string s = "{\"state\":\"" + std::string(kStates[static_cast<int>(l.state)]) +
                    "\",\"method\":" + json_quote(l.method);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  ",\"recording\":%s,\"rows\":%zu,\"version\":%d,\"frame\":{\"id\":%lld,\"time\":%."
                  "3f,\"detected\":%s,"
                  "\"width\":%d,\"height\":%d,\"video\":[%d,%d]},\"faces\":[",
                  l.recording ? "true" : "false", l.rows.size(), l.result_version,
                  static_cast<long long>(r.frame_id), r.frame_time_ms,
                  r.detected ? "true" : "false", r.frame.width, r.frame.height, l.video_width,
                  l.video_height);
    s += buf;
    for (size_t i = 0; i < r.faces.size(); ++i) {
        const LiveFace& f = r.faces[i];
        std::snprintf(buf, sizeof buf,
                      "%s{\"id\":%d,\"box\":[%.3f,%.3f,%.3f,%.3f],\"probs\":", i ? "," : "", f.id,
                      f.box.x, f.box.y, f.box.width, f.box.height);
        s += buf;
        json_floats(s, f.probs);
        s += ",\"raw\":";
        json_floats(s, f.raw);
        s += ",\"top\":" +
             json_quote(f.top >= 0 && f.top < static_cast<int>(classes.size())
                            ? classes[static_cast<size_t>(f.top)]
                            : "") +
             "}";
    }
    const LiveStats& st = l.stats;
    std::snprintf(buf, sizeof buf,
                  "],\"stats\":{\"grab\":%.3f,\"upload\":%.3f,\"rgb\":%.3f,\"detect\":%.3f,"
                  "\"classify\":%.3f,\"explain\":%.3f,"
                  "\"draw\":%.3f,\"delay\":%.3f,\"processedFps\":%.3f,\"drawFps\":%.3f,"
                  "\"processed\":%lld,\"withFace\":%lld}}",
                  st.grab, st.upload, st.rgb, st.detect, st.classify, st.explain, st.draw, st.delay,
                  st.processed_fps, st.draw_fps, static_cast<long long>(st.processed),
                  static_cast<long long>(st.with_face));
    s += buf;
    return s;
}

}  // namespace cnnlens::app

// Live mode's data side: camera frames in, faces tracked across them, each classified and
// explained by one cheap method, per-frame rows for the CSV, and the timings of every stage.
// No ImGui, no GL, no JS: the platform hands frames in and runs process_live_frame() as a job;
// panel_live.cpp draws what it publishes. Guarded by the session's state lock (session.h), like
// the rest of the session.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/explain/explain.h"
#include "core/face/face.h"

namespace cnnlens::app {

class Session;

// Faces followed from frame to frame. The detector runs on some frames only (update()); on the
// others each box moves by its velocity, which fades (predict()). A detection continues the
// track it overlaps most (greedy IoU matching, at least kMinIou); a detection and a track left
// over are still paired, nearest first, when their centres are less than kMaxJump box sides apart
// (a face that moved far between two detections: a slow machine processes few frames). A
// detection's box is blended with the track's predicted one (kBoxBlend), so boxes do not jitter
// with the detector's few-pixel noise. Unmatched detections start tracks with new ids; a track
// unmatched by kMaxMisses detections in a row is dropped, so an id stays with a face while it is
// in view.
struct Track {
    int id = 0;
    FaceBox box;               // smoothed; keypoints moved with the box since their detection
    float vx = 0, vy = 0;      // box centre's motion per processed frame, pixels
    int misses = 0;            // detections in a row that did not match this track
    int since_match = 0;       // frames since a detection last matched it
    std::vector<float> probs;  // smoothed class probabilities (empty until classified)
};

class FaceTracker {
public:
    static constexpr float kMinIou = 0.2f;
    static constexpr float kBoxBlend = 0.6f;  // weight of the new detection
    static constexpr float kVelocityBlend = 0.5f;
    static constexpr float kVelocityFade =
        0.8f;  // per predicted frame: a guess should not run away
    static constexpr float kMaxJump = 1.0f;
    static constexpr int kMaxMisses = 2;
    // Feeds one frame's detections (after moving every track as predict() does); returns the
    // tracks in view after it.
    const std::vector<Track>& update(const std::vector<FaceBox>& detections);
    // Moves every track by its velocity (a frame without detection).
    const std::vector<Track>& predict();
    std::vector<Track>& tracks() { return tracks_; }
    const std::vector<Track>& tracks() const { return tracks_; }
    void clear() { tracks_.clear(); }

private:
    std::vector<Track> tracks_;
    int next_id_ = 1;
};

// Frames are downscaled to this longest side for the detector (its input is 256 x 256).
inline constexpr int kLiveDetectSide = 256;

// Blends class probabilities over frames: kProbBlend of the new frame's, the rest of the track's.
inline constexpr float kProbBlend = 0.4f;

// One camera frame: 8-bit pixels (RGBA as the page reads them), when it was captured and what
// reading it out of the video took.
struct LiveFrame {
    Image pixels;
    int64_t id = 0;
    double time_ms = 0;  // performance.now() at capture
    double grab_ms = 0;  // the page's readout of the video frame into the app
};

// One tracked face of a processed frame.
struct LiveFace {
    int id = 0;
    FaceBox box;               // frame pixels
    CropFrame frame;           // the square the classifier saw (turned when aligned)
    Image crop;                // crop_frame(frame pixels, frame)
    std::vector<float> raw;    // this frame's probabilities
    std::vector<float> probs;  // smoothed over the track's frames
    int top = 0;               // argmax of probs: the class explained
    std::optional<Explanation> map;
};

// What one processed frame gave.
struct LiveResult {
    int64_t frame_id = 0;
    double frame_time_ms = 0;
    bool detected = false;  // the detector ran on this frame (else boxes were predicted)
    std::vector<LiveFace> faces;
    Image frame;  // the frame's RGB pixels (what Freeze opens as the photo)
};

// Milliseconds per stage, smoothed (exponential mean over about ten frames) and the rates.
struct LiveStats {
    double grab = 0, upload = 0, rgb = 0, detect = 0, classify = 0, explain = 0, draw = 0;
    double delay = 0;          // camera frame -> the first UI frame that drew its overlay
    double processed_fps = 0;  // frames processed per second, over the last second
    double draw_fps = 0;       // UI frames per second meanwhile
    int64_t processed = 0, with_face = 0;  // frames processed since Live started; with >= 1 face
};

// One CSV row per face per processed frame while recording.
struct LiveRow {
    double time_ms;  // since the recording started
    int64_t frame;
    int face;
    FaceBox box;
    std::vector<float> probs;  // this frame's (not smoothed)
};

enum class LiveState { kOff, kStarting, kOn };

// Exponential mean over about ten values (the stats' smoothing); the first value is taken as it is.
inline void smooth_ms(double& mean, double v) { mean = mean == 0 ? v : 0.9 * mean + 0.1 * v; }

struct LiveWork {
    LiveState state = LiveState::kOff;      // kStarting: the page is asking for the camera
    int video_width = 0, video_height = 0;  // the camera's (frames are read out at most 640 a side)
    bool stop_requested = false;            // a job failed: the next UI frame turns Live off
    // What to explain (only kLive methods; the UI offers no other) and its parameters.
    std::string method = "saliency";
    Params params;
    // Frames: the one the page is writing (its buffer handed out by the platform), the newest
    // one for the view to draw, and the one waiting for the job; a new frame replaces a waiting
    // one, so the job always takes the newest. The page reads a new camera frame out only once
    // the view has drawn the last one (display_drawn), so frames are read at most at the page's
    // rate and each is read once, for both the view and the job.
    LiveFrame incoming;
    Image display;
    int display_version = 0;
    bool display_drawn = true;
    std::optional<LiveFrame> pending;
    bool processing = false;  // the job holds a frame
    int64_t next_frame_id = 1;
    int detect_every =
        3;  // the detector runs on every n-th processed frame (and when no face is tracked)
    int64_t since_detect = 0;
    FaceTracker tracker;
    LiveResult result;  // the last processed frame
    int result_version = 0;
    LiveStats stats;
    std::vector<double> processed_times;  // ms of recent results (for processed_fps)
    bool recording = false;
    double record_start_ms = 0;
    std::vector<LiveRow> rows;
    bool freeze_requested = false;

    // Hands a captured frame over: to the view, and to the job (replacing one still waiting);
    // `incoming` is moved out.
    void frame_ready(double time_ms, double grab_ms);
    // Forgets frames, tracks and results (Live turned off); stats and rows stay for the hook.
    void reset();
    // Starts a recording: rows kept from now on.
    void start_recording(double now_ms);
};

// The job: takes the waiting frame, if any, and processes it (detect or predict, crop, classify
// in one batch, explain each face's smoothed top class with the chosen method), publishing a new
// LiveResult. Takes the state lock itself, as run_pending() does; computes without it.
// Returns ok with nothing done when no frame waits.
Status process_live_frame(Session& session);

// The test hook's view of Live (platform_web.cpp, cnnlens_test_live): state, method, the last
// processed frame and its faces (smoothed and raw probabilities, top class by name), the stats.
std::string live_json(const LiveWork& live, const std::vector<std::string>& classes);

// The recording's rows as CSV: time_ms,frame,face,x,y,width,height, then one column per class
// (`classes`, this frame's probabilities).
std::string live_csv(const std::vector<LiveRow>& rows, const std::vector<std::string>& classes);

// 8-bit RGBA (or RGB, or gray) to RGB.
Image to_rgb(const Image& img);

}  // namespace cnnlens::app

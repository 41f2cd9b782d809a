// BlazeFace decoding follows human's blazeface.ts and facemeshutil.ts (anchors on 16x16 and
// 8x8 grids with 2 and 6 anchors per cell; box centre = regressor + anchor, in input pixels).
#include "core/face/face.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/import/tfjs/tfjs_graph.h"

namespace cnnlens {

struct FaceDetector::Impl {
    Graph graph;
    std::unique_ptr<Executor> executor;
    int size = 256;
    std::vector<std::pair<float, float>> anchors;
    int outputs[4] = {-1, -1, -1, -1};  // scores 512, scores 384, boxes 512, boxes 384
};

FaceDetector::FaceDetector(FaceDetector&&) noexcept = default;
FaceDetector& FaceDetector::operator=(FaceDetector&&) noexcept = default;
FaceDetector::~FaceDetector() = default;

Expected<FaceDetector> FaceDetector::load(const std::string& dir, const KernelSet& kernels) {
    return load_from(directory_source(dir), kernels);
}

Expected<FaceDetector> FaceDetector::load_from(const FileSource& files, const KernelSet& kernels) {
    auto text = files("blazeface.json");
    if (!text) return text.status();
    auto g = import_tfjs_graph(
        std::string_view(reinterpret_cast<const char*>(text->data()), text->size()), files,
        "blazeface.json");
    if (!g) return g.status();
    FaceDetector d;
    d.impl_ = std::make_unique<Impl>();
    Impl& m = *d.impl_;
    m.graph = std::move(*g);
    const Shape& in = m.graph.node(m.graph.input()).shape;
    if (in.rank() != 4 || in[1] != in[2] || in[3] != 3)
        return unsupported("blazeface.json: input " + in.str() + " is not a square RGB image");
    m.size = static_cast<int>(in[1]);
    // Outputs by shape: [N, A, 1] scores and [N, A, 16] boxes for the two anchor grids.
    const int a1 = (m.size / 16) * (m.size / 16) * 2, a2 = (m.size / 32) * (m.size / 32) * 6;
    for (const char* name : {"Identity", "Identity_1", "Identity_2", "Identity_3"}) {
        const int id = m.graph.find(name);
        if (id < 0)
            return unsupported(std::string("blazeface.json: output node '") + name +
                               "' is missing");
        const Shape& s = m.graph.node(id).shape;
        if (s.rank() != 3)
            return unsupported(std::string("blazeface.json: output '") + name + "' has shape " +
                               s.str());
        const int slot = (s[2] == 1 ? 0 : 2) + (s[1] == a1 ? 0 : s[1] == a2 ? 1 : -10);
        if (slot < 0)
            return unsupported(std::string("blazeface.json: output '") + name +
                               "' has unexpected shape " + s.str());
        m.outputs[slot] = id;
    }
    for (int k = 0; k < 4; ++k)
        if (m.outputs[k] < 0)
            return unsupported("blazeface.json: the four score/box outputs were not found");
    const int strides[2] = {m.size / 16, m.size / 8};
    const int per_cell[2] = {2, 6};
    for (int i = 0; i < 2; ++i) {
        const int cells = (m.size + strides[i] - 1) / strides[i];
        for (int gy = 0; gy < cells; ++gy)
            for (int gx = 0; gx < cells; ++gx)
                for (int n = 0; n < per_cell[i]; ++n)
                    m.anchors.push_back({strides[i] * (gx + 0.5f), strides[i] * (gy + 0.5f)});
    }
    if (static_cast<int>(m.anchors.size()) != a1 + a2)
        return unsupported("blazeface.json: anchor count does not match the outputs");
    m.executor = std::make_unique<Executor>(m.graph, kernels);
    return d;
}

const Graph& FaceDetector::graph() const { return impl_->graph; }
void FaceDetector::set_profile(std::vector<double>* ms) { impl_->executor->set_profile(ms); }

Expected<std::vector<FaceBox>> FaceDetector::detect(const Image& img, const DetectOptions& opt) {
    Impl& m = *impl_;
    if (img.empty()) return invalid_argument("face detection: the image is empty");
    // Pad to a square (centred), then resample to the input size; values to [-1, 1].
    const int side = std::max(img.width, img.height);
    const int pad_x = (side - img.width) / 2, pad_y = (side - img.height) / 2;
    const float scale = static_cast<float>(side) / m.size;
    InputSpec spec{m.size, m.size, 3, -1.f, 1.f, {}, {}};
    const Tensor x = image_to_input_padded(img, side, side, pad_x, pad_y, spec);
    // Forward-only: the planned pass (buffers reused, fast kernels) keeping just the outputs.
    CNNLENS_RETURN_IF_ERROR(m.executor->forward(x, m.outputs));
    std::vector<FaceBox> cand;
    size_t anchor = 0;
    for (int grid = 0; grid < 2; ++grid) {
        const Tensor& sc = m.executor->value(m.outputs[grid]);
        const Tensor& bx = m.executor->value(m.outputs[2 + grid]);
        const int64_t n = sc.shape()[1];
        for (int64_t i = 0; i < n; ++i, ++anchor) {
            const float logit = std::clamp(sc[i], -80.f, 80.f);
            const float score = 1.f / (1.f + std::exp(-logit));
            if (score < opt.min_score) continue;
            const float* r = bx.data() + i * 16;
            const auto [ax, ay] = m.anchors[anchor];
            const float cx = r[0] + ax, cy = r[1] + ay, w = r[2], h = r[3];
            if (!(w > 0 && h > 0)) continue;
            FaceBox f;
            f.x = (cx - w / 2) * scale - pad_x;
            f.y = (cy - h / 2) * scale - pad_y;
            f.width = w * scale;
            f.height = h * scale;
            f.score = score;
            for (int k = 0; k < 6; ++k)
                f.keypoints.push_back(
                    {(r[4 + 2 * k] + ax) * scale - pad_x, (r[5 + 2 * k] + ay) * scale - pad_y});
            cand.push_back(std::move(f));
        }
    }
    std::sort(cand.begin(), cand.end(),
              [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
    std::vector<FaceBox> kept;
    for (FaceBox& c : cand) {
        bool overlaps = false;
        for (const FaceBox& k : kept) overlaps |= box_iou(c, k) > opt.iou_threshold;
        if (!overlaps) kept.push_back(std::move(c));
        if (static_cast<int>(kept.size()) >= opt.max_faces) break;
    }
    return kept;
}

float box_iou(const FaceBox& a, const FaceBox& b) {
    const float x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
    const float x1 = std::min(a.x + a.width, b.x + b.width),
                y1 = std::min(a.y + a.height, b.y + b.height);
    const float inter = std::max(0.f, x1 - x0) * std::max(0.f, y1 - y0);
    const float uni = a.width * a.height + b.width * b.height - inter;
    return uni > 0 ? inter / uni : 0.f;
}

void face_crop_box(const FaceBox& f, float scale, float& x, float& y, float& side) {
    side = std::max(f.width, f.height) * scale;
    x = f.x + f.width / 2 - side / 2;
    y = f.y + f.height / 2 - side / 2;
}

float eye_angle(const FaceBox& f) {
    if (f.keypoints.size() < 2) return 0.f;
    const auto [rx, ry] = f.keypoints[0];
    const auto [lx, ly] = f.keypoints[1];
    const float a = std::atan2(ly - ry, lx - rx);
    return std::isfinite(a) ? a : 0.f;
}

// BlazeFace's box width over the eye distance on upright faces (2.24..2.56 on the test faces,
// 2.34 on the astronaut).
constexpr float kBoxPerEyeDistance = 2.3f;

CropFrame face_crop_frame(const FaceBox& f, const CropOptions& o) {
    CropFrame frame;
    float x, y, side;
    face_crop_box(f, o.scale, x, y, side);
    frame.cx = f.x + f.width / 2;
    frame.cy = f.y + f.height / 2;
    frame.width = frame.height = side;
    if (!o.align) return frame;
    const float a = eye_angle(f);
    if (std::abs(a) * 180.f / std::numbers::pi_v<float> < o.min_angle_degrees) return frame;
    frame.angle = a;
    const float eyes = std::hypot(f.keypoints[1].first - f.keypoints[0].first,
                                  f.keypoints[1].second - f.keypoints[0].second);
    frame.width = frame.height =
        o.scale * std::max(std::max(f.width, f.height), kBoxPerEyeDistance * eyes);
    return frame;
}

Image face_crop(const Image& img, const FaceBox& f, const CropOptions& o) {
    return crop_frame(img, face_crop_frame(f, o));
}

bool looks_like_face_crop(const Image& img) {
    const int lo = std::min(img.width, img.height), hi = std::max(img.width, img.height);
    return hi <= 512 && lo * 4 >= hi * 3;
}

std::string_view face_source_name(FaceSource s) {
    switch (s) {
        case FaceSource::kAuto:
            return "auto";
        case FaceSource::kDetect:
            return "detect";
        case FaceSource::kWhole:
            return "whole";
    }
    return "auto";
}

Expected<FaceSource> face_source_from_name(std::string_view name) {
    for (FaceSource s : {FaceSource::kAuto, FaceSource::kDetect, FaceSource::kWhole})
        if (face_source_name(s) == name) return s;
    return invalid_argument("faces '" + std::string(name) + "' is not one of auto, detect, whole");
}

FoundFace whole_photo_face(const Image& img) {
    FoundFace f;
    f.whole_photo = true;
    f.box = FaceBox{0, 0, static_cast<float>(img.width), static_cast<float>(img.height), 1.f, {}};
    f.frame = CropFrame{img.width / 2.f, img.height / 2.f, static_cast<float>(img.width),
                        static_cast<float>(img.height), 0.f};
    f.crop = img;
    return f;
}

Expected<std::vector<FoundFace>> find_faces(FaceDetector& detector, const Image& img,
                                            const FindFacesOptions& o) {
    if (img.empty()) return invalid_argument("face detection: the image is empty");
    std::vector<FoundFace> faces;
    if (o.source == FaceSource::kWhole) {
        faces.push_back(whole_photo_face(img));
        return faces;
    }
    const Image& seen = o.detect_image ? *o.detect_image : img;
    auto boxes = detector.detect(seen, o.detect);
    if (!boxes) return boxes.status();
    if (&seen != &img) {  // to photo pixels, per axis (the downscaled sides are rounded separately)
        const float sx = static_cast<float>(img.width) / static_cast<float>(seen.width);
        const float sy = static_cast<float>(img.height) / static_cast<float>(seen.height);
        for (FaceBox& b : *boxes) {
            b.x *= sx, b.y *= sy, b.width *= sx, b.height *= sy;
            for (auto& [kx, ky] : b.keypoints) kx *= sx, ky *= sy;
        }
    }
    if (o.source == FaceSource::kAuto && looks_like_face_crop(img)) {
        float x, y, side = 0;
        if (!boxes->empty()) face_crop_box(boxes->front(), o.crop.scale, x, y, side);
        const bool fills = side * 4 >= 3.f * static_cast<float>(std::max(img.width, img.height));
        if (boxes->empty() || fills) {
            faces.push_back(whole_photo_face(img));
            return faces;
        }
    }
    for (FaceBox& b : *boxes) {
        FoundFace f;
        f.box = std::move(b);
        f.frame = face_crop_frame(f.box, o.crop);
        f.crop = crop_frame(img, f.frame, o.max_crop_side);
        faces.push_back(std::move(f));
    }
    return faces;
}

}  // namespace cnnlens

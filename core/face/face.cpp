// BlazeFace decoding follows human's blazeface.ts and facemeshutil.ts (anchors on 16x16 and
// 8x8 grids with 2 and 6 anchors per cell; box centre = regressor + anchor, in input pixels).
#include "core/face/face.h"

#include <algorithm>
#include <cmath>

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
    auto g = import_tfjs_graph(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()), files, "blazeface.json");
    if (!g) return g.status();
    FaceDetector d;
    d.impl_ = std::make_unique<Impl>();
    Impl& m = *d.impl_;
    m.graph = std::move(*g);
    const Shape& in = m.graph.node(m.graph.input()).shape;
    if (in.rank() != 4 || in[1] != in[2] || in[3] != 3) return unsupported("blazeface.json: input " + in.str() + " is not a square RGB image");
    m.size = static_cast<int>(in[1]);
    // Outputs by shape: [N, A, 1] scores and [N, A, 16] boxes for the two anchor grids.
    const int a1 = (m.size / 16) * (m.size / 16) * 2, a2 = (m.size / 32) * (m.size / 32) * 6;
    for (const char* name : {"Identity", "Identity_1", "Identity_2", "Identity_3"}) {
        const int id = m.graph.find(name);
        if (id < 0) return unsupported(std::string("blazeface.json: output node '") + name + "' is missing");
        const Shape& s = m.graph.node(id).shape;
        if (s.rank() != 3) return unsupported(std::string("blazeface.json: output '") + name + "' has shape " + s.str());
        const int slot = (s[2] == 1 ? 0 : 2) + (s[1] == a1 ? 0 : s[1] == a2 ? 1 : -10);
        if (slot < 0) return unsupported(std::string("blazeface.json: output '") + name + "' has unexpected shape " + s.str());
        m.outputs[slot] = id;
    }
    for (int k = 0; k < 4; ++k)
        if (m.outputs[k] < 0) return unsupported("blazeface.json: the four score/box outputs were not found");
    const int strides[2] = {m.size / 16, m.size / 8};
    const int per_cell[2] = {2, 6};
    for (int i = 0; i < 2; ++i) {
        const int cells = (m.size + strides[i] - 1) / strides[i];
        for (int gy = 0; gy < cells; ++gy)
            for (int gx = 0; gx < cells; ++gx)
                for (int n = 0; n < per_cell[i]; ++n) m.anchors.push_back({strides[i] * (gx + 0.5f), strides[i] * (gy + 0.5f)});
    }
    if (static_cast<int>(m.anchors.size()) != a1 + a2) return unsupported("blazeface.json: anchor count does not match the outputs");
    m.executor = std::make_unique<Executor>(m.graph, kernels);
    return d;
}

Expected<std::vector<FaceBox>> FaceDetector::detect(const Image& img, const DetectOptions& opt) {
    Impl& m = *impl_;
    if (img.empty()) return invalid_argument("face detection: the image is empty");
    // Pad to a square (centred), then resample to the input size; values to [-1, 1].
    const int side = std::max(img.width, img.height);
    const int pad_x = (side - img.width) / 2, pad_y = (side - img.height) / 2;
    const float scale = static_cast<float>(side) / m.size;
    InputSpec spec{m.size, m.size, 3, -1.f, 1.f, {}, {}};
    Image square;
    square.width = square.height = side;
    square.channels = img.channels;
    square.pixels.assign(static_cast<size_t>(side) * side * img.channels, 0);
    for (int y = 0; y < img.height; ++y)
        std::copy_n(&img.pixels[static_cast<size_t>(y) * img.width * img.channels], static_cast<size_t>(img.width) * img.channels,
                    &square.pixels[(static_cast<size_t>(y + pad_y) * side + pad_x) * img.channels]);
    Tensor x = image_to_input(square, spec);
    CNNLENS_RETURN_IF_ERROR(m.executor->forward(x));
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
            for (int k = 0; k < 6; ++k) f.keypoints.push_back({(r[4 + 2 * k] + ax) * scale - pad_x, (r[5 + 2 * k] + ay) * scale - pad_y});
            cand.push_back(std::move(f));
        }
    }
    std::sort(cand.begin(), cand.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
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
    const float x1 = std::min(a.x + a.width, b.x + b.width), y1 = std::min(a.y + a.height, b.y + b.height);
    const float inter = std::max(0.f, x1 - x0) * std::max(0.f, y1 - y0);
    const float uni = a.width * a.height + b.width * b.height - inter;
    return uni > 0 ? inter / uni : 0.f;
}

void face_crop_box(const FaceBox& f, float scale, float& x, float& y, float& side) {
    side = std::max(f.width, f.height) * scale;
    x = f.x + f.width / 2 - side / 2;
    y = f.y + f.height / 2 - side / 2;
}

Image face_crop(const Image& img, const FaceBox& f, float scale) {
    float fx, fy, fs;
    face_crop_box(f, scale, fx, fy, fs);
    const int x0 = static_cast<int>(std::lround(fx)), y0 = static_cast<int>(std::lround(fy));
    const int s = std::max(1, static_cast<int>(std::lround(fs)));
    Image out;
    out.width = out.height = s;
    out.channels = img.channels;
    out.pixels.resize(static_cast<size_t>(s) * s * img.channels);
    for (int y = 0; y < s; ++y) {
        const int sy = std::clamp(y0 + y, 0, img.height - 1);
        for (int x = 0; x < s; ++x) {
            const int sx = std::clamp(x0 + x, 0, img.width - 1);
            std::copy_n(&img.pixels[(static_cast<size_t>(sy) * img.width + sx) * img.channels], img.channels,
                        &out.pixels[(static_cast<size_t>(y) * s + x) * img.channels]);
        }
    }
    return out;
}

}  // namespace cnnlens

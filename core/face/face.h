// Face detection with BlazeFace (the TF.js graph model of the npm package @vladmandic/human,
// run by our own engine), anchor decoding and non-maximum suppression, and the square crop a
// classifier sees. Works on any photo size: large photos are downscaled for detection only.
#pragma once
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/graph/executor.h"
#include "core/image/image.h"
#include "core/import/model.h"

namespace cnnlens {

struct FaceBox {
    float x = 0, y = 0, width = 0, height = 0;  // in image pixels, top-left origin
    float score = 0;                            // detector confidence in [0, 1]
    std::vector<std::pair<float, float>> keypoints;  // 6 points (eyes, nose, mouth, ears), image pixels
};

struct DetectOptions {
    float min_score = 0.5f;      // human's default is 0.2; 0.5 avoids most false faces on photos
    float iou_threshold = 0.3f;  // NMS overlap above which the weaker box is dropped
    int max_faces = 20;
};

class FaceDetector {
public:
    // `dir` holds blazeface.json + blazeface.bin.
    static Expected<FaceDetector> load(const std::string& dir, const KernelSet& kernels);
    // The same from any file source (the browser serves bundled files from memory).
    static Expected<FaceDetector> load_from(const FileSource& files, const KernelSet& kernels);
    FaceDetector(FaceDetector&&) noexcept;
    FaceDetector& operator=(FaceDetector&&) noexcept;
    ~FaceDetector();

    // Faces in `img`, strongest first. The photo is padded to a square and resampled to the
    // detector's 256x256 input ([-1, 1] values), as human's blazeface.ts does.
    Expected<std::vector<FaceBox>> detect(const Image& img, const DetectOptions& options = {});

private:
    FaceDetector() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The square crop around a face a FER classifier expects: the detector's box (eyebrows to
// chin) enlarged by `scale` about its centre and made square; may extend past the image
// (the outside is filled with the nearest edge pixels).
Image face_crop(const Image& img, const FaceBox& face, float scale = 1.25f);
// The square region face_crop uses, in image pixels.
void face_crop_box(const FaceBox& face, float scale, float& x, float& y, float& side);

// Intersection over union of two boxes.
float box_iou(const FaceBox& a, const FaceBox& b);

}  // namespace cnnlens

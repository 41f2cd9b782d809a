// Face detection with BlazeFace (the TF.js graph model of the npm package @vladmandic/human,
// run by our own engine), anchor decoding and non-maximum suppression, and the square crop a
// classifier sees, turned so the eyes are level. Works on any photo size: large photos are
// downscaled for detection only.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/graph/executor.h"
#include "core/image/crop_frame.h"
#include "core/image/image.h"
#include "core/import/model.h"

namespace cnnlens {

struct FaceBox {
    float x = 0, y = 0, width = 0, height = 0;  // in image pixels, top-left origin
    float score = 0;                            // detector confidence in [0, 1]
    std::vector<std::pair<float, float>>
        keypoints;  // 6 points (eyes, nose, mouth, ears), image pixels
};

struct DetectOptions {
    float min_score = 0.5f;      // human's default is 0.2; 0.5 avoids most false faces on photos
    float iou_threshold = 0.3f;  // NMS overlap above which the weaker box is dropped
    int max_faces = 64;          // a class photo holds more than 20
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

    // The detector's graph, and a per-node timing of its forward passes (`cnnlens bench
    // --detector --profile`): see Executor::set_profile.
    const Graph& graph() const;
    void set_profile(std::vector<double>* ms);

private:
    FaceDetector() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// How a face is cut out for a classifier.
struct CropOptions {
    // The detector's box (eyebrows to chin) enlarged by this about its centre and made square.
    float scale = 1.25f;
    // Turn the square so the eyes are level, as FER2013's faces are (its crops are roughly
    // eye-aligned). Needs the detector's eye keypoints; without them the crop stays upright.
    bool align = true;
    // Tilts below this many degrees are left unturned: BlazeFace's eye points wobble by a degree
    // or two on an upright face, and an upright crop copies whole pixels where a turned one
    // resamples (blurring slightly), so upright faces give exactly the unaligned crop.
    float min_angle_degrees = 3.f;
};

// The angle of the line from the right eye to the left eye (keypoints 0 and 1: the subject's
// right eye is on the photo's left), in radians: 0 for level eyes, positive when the left eye
// (on the photo's right) is lower. 0 without keypoints or for points that are not finite.
float eye_angle(const FaceBox& face);

// The square a classifier sees of a face, in photo pixels, centred on the detector's box.
// Upright: side max(width, height) * scale. Turned by eye_angle (when aligning and the tilt
// reaches min_angle_degrees): BlazeFace's box shrinks as a head tilts (on the test faces about
// 2.3 eye distances wide upright, 2.0 at 30 degrees) while the eye distance does not, so the
// side is scale * max(box side, 2.3 eye distances).
CropFrame face_crop_frame(const FaceBox& face, const CropOptions& options = {});
// crop_frame(img, face_crop_frame(face, options)): may extend past the photo (the outside is
// filled with the nearest edge pixels).
Image face_crop(const Image& img, const FaceBox& face, const CropOptions& options = {});
// The upright square face_crop_frame starts from, as its top-left corner and side.
void face_crop_box(const FaceBox& face, float scale, float& x, float& y, float& side);

// True when a photo may be a face crop by its shape: at most 512 pixels a side and near-square
// (aspect at most 4:3), as FER crops and cropped selfies are.
bool looks_like_face_crop(const Image& img);

// Which faces of a photo a face classifier is shown.
enum class FaceSource {
    // The detector's faces, except that a photo shaped like a face crop (looks_like_face_crop)
    // is taken whole when its strongest face's crop spans at least 3/4 of its longer side (it
    // is a face crop already: a FER image, a crop the app exported) or when no face is found.
    kAuto,
    kDetect,  // the detector's faces only (none for a photo without faces)
    kWhole,   // the whole photo is one face crop
};
// "auto", "detect", "whole" (the CLI's --faces values).
std::string_view face_source_name(FaceSource source);
Expected<FaceSource> face_source_from_name(std::string_view name);

struct FindFacesOptions {
    FaceSource source = FaceSource::kAuto;
    DetectOptions detect;
    CropOptions crop;
    // A downscaled copy of the photo (same aspect) to detect on, for large photos: boxes and
    // keypoints are scaled back to the photo, and crops are cut from the photo itself.
    const Image* detect_image = nullptr;
    // Crops at most this many pixels a side (crop_frame's cap; 0: the frame's own size): for a
    // large photo, whose face would otherwise be cut out whole before being shrunk.
    int max_crop_side = 0;
};

// One face of a photo as a classifier sees it.
struct FoundFace {
    FaceBox box;      // the detector's box and keypoints; the whole photo when whole_photo
    CropFrame frame;  // the region the classifier sees, in photo pixels
    bool whole_photo = false;
    Image crop;  // crop_frame(photo, frame, max_crop_side): the photo itself when whole_photo
};

// The whole photo as one face (FaceSource::kWhole): box and frame are the photo's rectangle.
FoundFace whole_photo_face(const Image& img);
// The faces of `img`, strongest first, each cropped (see FaceSource and CropOptions).
Expected<std::vector<FoundFace>> find_faces(FaceDetector& detector, const Image& img,
                                            const FindFacesOptions& options = {});

// Intersection over union of two boxes.
float box_iou(const FaceBox& a, const FaceBox& b);

}  // namespace cnnlens

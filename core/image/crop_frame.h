// A rectangle of a photo, possibly turned about its centre: the square a face classifier sees
// of a tilted face (cut out with bilinear resampling), and the geometry that draws maps computed
// on it back onto the photo (render.h: overlay_in_frame).
#pragma once
#include <array>

#include "core/image/image.h"

namespace cnnlens {

struct PointF {
    float x = 0, y = 0;
};

// The rectangle of width x height photo pixels centred at (cx, cy) whose axes are turned by
// `angle` radians: the crop's x axis runs along (cos angle, sin angle) in the photo. Photo y
// points down, so a positive angle turns the rectangle clockwise on screen. Crop coordinates are
// in photo pixel units with (0, 0) the rectangle's top-left corner and (width, height) its
// bottom-right. Face crops are squares; a whole photo taken as the face is its own rectangle.
struct CropFrame {
    float cx = 0, cy = 0, width = 0, height = 0;
    float angle = 0;  // radians

    PointF to_photo(PointF crop) const;
    PointF to_crop(PointF photo) const;
    // Top-left, top-right, bottom-right, bottom-left, in photo pixels (for drawing the frame).
    std::array<PointF, 4> corners() const;
    // The same region of the photo resized by `k` (the app's downscaled preview).
    CropFrame scaled(float k) const;
    float angle_degrees() const;
    // True when the rectangle is not turned: crop_frame copies whole pixels.
    bool upright() const { return angle == 0.f; }
};

// The frame's pixels as an image of max(1, round(width)) x max(1, round(height)) pixels, with
// the photo's channels. An upright frame copies whole pixels from its top-left corner rounded to
// the nearest pixel; a turned one samples the photo bilinearly at the centre of each crop pixel
// (pixel centres at +0.5). Outside the photo, the nearest edge pixel is repeated.
Image crop_frame(const Image& photo, const CropFrame& frame);

// The same frame at most `max_side` pixels a side (max_side <= 0: no cap, as above), for a
// frame far larger than what looks at it (a face filling a 48-megapixel photo). Over the cap,
// the frame's bounding box is first averaged in blocks of k x k photo pixels, k = ceil(side /
// max_side) (edge pixels repeated outside the photo; 8-bit sums, no float copy), and the frame
// is cut from that as above, at round(width / k) x round(height / k). An upright frame's blocks
// start at its rounded top-left corner, so it is the plain crop area-averaged k:1.
Image crop_frame(const Image& photo, const CropFrame& frame, int max_side);

}  // namespace cnnlens

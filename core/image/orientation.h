// Photo orientation: the EXIF Orientation tag (0x0112) phones write instead of turning the
// pixels, read from a JPEG's APP1 "Exif" segment or a PNG's eXIf chunk, and the transpose/flip
// that turns the stored pixels upright. decode_image applies it, so every caller sees the photo
// as its owner does.
//
// Orientation values (EXIF 2.32, TIFF 6.0): where the stored image's first row and first column
// are in the upright picture.
//   1 top/left (as stored)      2 top/right (mirrored)      3 bottom/right (turned 180)
//   4 bottom/left (upside-down mirror)                       5 left/top (transposed)
//   6 right/top (turn 90 clockwise to view)                  7 right/bottom (transverse)
//   8 left/bottom (turn 90 counter-clockwise to view)
// 5 to 8 swap width and height.
//
// The parser is ours rather than Debian's libexif: one tag of IFD0 is a few dozen bounded
// lines, while libexif would parse every IFD and maker note of a stranger's file (more code
// facing untrusted input, and a library the wasm build would have to compile too).
#pragma once
#include <cstdint>
#include <span>

#include "core/image/image.h"

namespace cnnlens {

// The Orientation of IFD0 of a TIFF structure ("II*\0" little-endian or "MM\0*" big-endian
// header, then IFD0), as EXIF stores it. 1 when the tag is absent, not a single SHORT (as
// browsers require), outside 1..8, or anything about the structure is out of bounds or
// malformed: a bad tag never makes a photo fail.
int tiff_orientation(std::span<const uint8_t> tiff);

// The orientation of a whole image file: a JPEG's first APP1 segment that starts with
// "Exif\0\0" (before the scan), or a PNG's eXIf chunk. 1 for other formats or no tag.
int exif_orientation(std::span<const uint8_t> file);

// True for orientations 5..8, which swap width and height.
inline bool orientation_swaps_sides(int orientation) {
    return orientation >= 5 && orientation <= 8;
}

// The stored pixels turned upright for `orientation` (1..8; other values return a copy).
Image orient_image(const Image& stored, int orientation);

}  // namespace cnnlens

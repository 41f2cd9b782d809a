// The CLI's face options: which faces of an image a face model sees (see cli.h: FaceFinder).
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"

namespace cnnlens::cli {

const std::vector<std::string>& FaceFinder::option_names() {
    static const std::vector<std::string> names = {"faces", "align", "detector"};
    return names;
}

Expected<FaceFinder> FaceFinder::from_args(const Args& a, const std::string& model_path,
                                           const KernelSet& kernels) {
    FaceFinder f;
    f.kernels_ = &kernels;
    if (a.has("faces")) {
        auto s = face_source_from_name(a.get("faces"));
        if (!s) return Status(s.status().code(), "--" + s.status().message());
        f.options_.source = *s;
    }
    const std::string align = a.get("align", "on");
    if (align != "on" && align != "off")
        return invalid_argument("--align must be on or off, got '" + align + "'");
    f.options_.crop.align = align == "on";
    if (a.has("detector")) {
        f.detector_dirs_ = {a.get("detector")};
    } else {
        const std::filesystem::path model(model_path);
        const std::filesystem::path folder =
            std::filesystem::is_directory(model) ? model : model.parent_path();
        f.detector_dirs_ = {(folder.parent_path() / "blazeface").string(), "models/blazeface"};
    }
    return f;
}

Expected<std::vector<FoundFace>> FaceFinder::find(const Image& img) {
    if (!detector_ && options_.source != FaceSource::kWhole) {
        std::string tried;
        for (const std::string& dir : detector_dirs_) {
            if (!std::filesystem::exists(std::filesystem::path(dir) / "blazeface.json")) {
                tried += (tried.empty() ? "" : ", ") + dir;
                continue;
            }
            auto d = FaceDetector::load(dir, *kernels_);
            if (!d) return d.status();
            detector_ = std::make_unique<FaceDetector>(std::move(*d));
            break;
        }
        if (!detector_)
            return not_found(
                "no face detector (blazeface.json) in " + tried +
                ": pass --detector DIR, or --faces whole to take each image as a face crop");
    }
    if (options_.source == FaceSource::kWhole) return std::vector<FoundFace>{whole_photo_face(img)};
    return find_faces(*detector_, img, options_);
}

std::string found_face_json_fields(const FoundFace& f, bool align) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "\"box\":[%.6g,%.6g,%.6g,%.6g],\"score\":%.6g,\"crop\":{\"center\":[%.6g,%.6g],"
                  "\"width\":%.6g,\"height\":%.6g,"
                  "\"angle_degrees\":%.6g,\"aligned\":%s}",
                  f.box.x, f.box.y, f.box.width, f.box.height, f.box.score, f.frame.cx, f.frame.cy,
                  f.frame.width, f.frame.height, f.frame.angle_degrees(), align ? "true" : "false");
    return buf;
}

std::string found_face_text(const FoundFace& f) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "at (%.0f, %.0f) %.0fx%.0f", f.box.x, f.box.y, f.box.width,
                  f.box.height);
    std::string s = buf;
    if (f.frame.upright()) return s + ", upright";
    std::snprintf(buf, sizeof buf, ", turned %.1f deg", f.frame.angle_degrees());
    return s + buf;
}

}  // namespace cnnlens::cli

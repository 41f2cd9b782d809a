// The `cnnlens` command line: shared argument handling for the subcommands.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/json_text.h"
#include "core/base/status.h"
#include "core/eval/confusion.h"
#include "core/eval/dataset.h"
#include "core/explain/explain.h"
#include "core/explain/probe.h"
#include "core/face/face.h"
#include "core/image/image.h"
#include "core/import/model.h"
#include "core/report/report.h"

namespace cnnlens::cli {

// Flags (--name value / --name=value / --switch) and positional arguments of one subcommand.
class Args {
public:
    Args(int argc, char** argv, int first, std::vector<std::string> switches);
    bool has(std::string_view flag) const;
    std::string get(std::string_view flag, const std::string& def = "") const;
    // Every value of a flag given more than once (--input a=x.pb --input b=y.pb), in order.
    std::vector<std::string> get_all(std::string_view flag) const;
    int get_int(std::string_view flag, int def) const;
    const std::vector<std::string>& positional() const { return positional_; }
    // Flags given but not in `known` (nor --threads or --precision, which main() takes for every
    // command): reported as usage errors.
    std::string unknown(const std::vector<std::string>& known) const;
    const std::string& error() const { return error_; }

private:
    std::vector<std::pair<std::string, std::string>> flags_;
    std::vector<std::string> positional_;
    std::string error_;
};

// A progress bar on stderr when it is a terminal; silent otherwise.
class Progress {
public:
    explicit Progress(std::string label);
    ~Progress();
    bool operator()(float fraction);  // always continues
    void done();

private:
    std::string label_;
    bool tty_ = false, shown_ = false;
};

// Shared by subcommands (defined in explain.cpp). model_input, display_image and
// confusion_picture come from core/report/report.h.
Status write_text(const std::string& path, const std::string& text);

std::string stem_of(const std::string& path);
// Image models (task image) see each item center-cropped to the input's aspect, as predict does.
Expected<ConfusionMatrix> run_confusion(GraphProbe& probe, const Dataset& data, bool center_crop);

// load_model() plus the --preset NAME and --task face|image overrides (defined in predict.cpp).
Expected<Model> load_model_for(const Args& a, const std::string& path);
// The faces a face model (ModelTask::kFace) is shown in an image: --faces auto|detect|whole
// (find_faces' FaceSource; auto: a face crop is taken whole, a photo by its detected faces),
// --align on|off (turn crops so the eyes are level; on by default) and --detector DIR (the
// BlazeFace folder; default: blazeface beside the model's folder, else models/blazeface from
// the current folder). The detector is loaded when an image first needs it.
class FaceFinder {
public:
    static const std::vector<std::string>& option_names();  // faces, align, detector
    static Expected<FaceFinder> from_args(const Args& a, const std::string& model_path,
                                          const KernelSet& kernels);
    Expected<std::vector<FoundFace>> find(const Image& img);
    bool align() const { return options_.crop.align; }

private:
    FindFacesOptions options_;
    std::vector<std::string> detector_dirs_;  // tried in order
    const KernelSet* kernels_ = nullptr;
    std::unique_ptr<FaceDetector> detector_;
};
// A photo as a labeled set of its faces as `explain` sees them (FaceFinder's options; --face K
// keeps face K), or the whole photo for an image model; `path` defaults to --photo. Errors name
// `command`. Labels are unused (0). Defined in explain.cpp.
Expected<Dataset> photo_dataset(const Args& a, const Model& model, const KernelSet& ks,
                                const std::string& command, std::string path = {});
// JSON of where a found face is: "box":[x,y,w,h],"score":s,"crop":{"center":[x,y],"width":w,
// "height":h,"angle_degrees":a,"aligned":b} (fields for the caller's object; `aligned` says
// whether --align was on: tilts under CropOptions::min_angle_degrees stay at angle 0).
std::string found_face_json_fields(const FoundFace& f, bool align);
// "at (172, 74) 106x106, turned 4.9 deg" (or ", upright").
std::string found_face_text(const FoundFace& f);

// Indices of the k largest values, largest first (ties: lower index first).
std::vector<int> top_classes(std::span<const float> p, int k);

int cmd_predict(const Args& a);
int cmd_filters(const Args& a);
int cmd_featuremaps(const Args& a);
int cmd_report(const Args& a);
int cmd_confusion(const Args& a);
int cmd_explain(const Args& a);
int cmd_methods(const Args& a);
int cmd_model_info(const Args& a);
int cmd_bench(const Args& a);
int cmd_run(const Args& a);
int cmd_evaluate(const Args& a);
int cmd_merge(const Args& a);
int cmd_sanity(const Args& a);
// A class by name or number; the error lists the names (defined in explain.cpp).
Expected<int> class_index(const std::vector<std::string>& names, const std::string& s);
// A method's --<parameter> values (choice labels, layer names or numbers; defined in explain.cpp).
Expected<Params> method_params(const ExplanationMethod& m, const Args& a, const GraphProbe& probe);

// Prints "cnnlens: <message>" to stderr and returns the exit code 1.
int fail(const std::string& message);

}  // namespace cnnlens::cli

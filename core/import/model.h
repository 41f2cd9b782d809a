// load_model(): a classifier ready to run — its Graph, how images become its input, and the
// names of its classes. The description lives in a small JSON beside the model
// ("cnnlens.json"), which the same code reads for bundled and for user models:
//
//   { "format": "tfjs-graph", "model": "emotion.json",
//     "input": { "height": 64, "width": 64, "channels": 1, "range": [0, 1] },
//     "classes": ["angry", ...], "logits": "<node name>", "task": "face" }
//
// "format" is "tfjs-graph" (a TF.js graph model) or "tfjs-layers" (a Keras model converted to
// the TF.js layers format); a layers model.json is recognised by its content either way.
// "range": [lo, hi] maps pixel 0..255 linearly onto lo..hi; alternatively "mean"/"std" lists
// (per channel, applied to pixel/255). "logits" names the pre-softmax node; when absent and the
// output is a Softmax (or LogSoftmax), its input is used. "preset": "imagenet" stands for
// torchvision's ImageNet normalisation (mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]
// on pixel/255); an explicit input.mean/std wins over it. "task" says what the model looks at:
// "face" (a face the detector finds, cropped) or "image" (the whole photo); when absent it is
// inferred: 7 classes on a gray 48..64-pixel input is a FER2013-style face model, anything
// else an image model.
//
// ONNX models: "format": "onnx" (the default when "model" ends in .onnx). A path to a .onnx
// file is loaded with the description found beside it, "<name>.cnnlens.json" first, then a
// cnnlens.json whose "model" is that file; the "model" field may be left out of the former.
// Without a description the spec is inferred from the graph (size and channels from the input,
// 7 outputs are FER2013's classes, 1000 outputs ImageNet's, range [0, 1], or the ImageNet
// preset for a 1000-class RGB model) and marked `inferred` so a UI can ask the user to confirm it.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/graph/graph.h"
#include "core/image/image.h"

namespace cnnlens {

// What a model looks at in a photo: a face the detector finds (cropped around it), or the whole
// photo (photo_to_input). kAuto is resolved by complete_model().
enum class ModelTask { kAuto, kFace, kImage };
std::string_view task_name(ModelTask t);  // "auto", "face", "image"

// Named input normalisations: "imagenet" (torchvision's mean/std on pixel/255).
inline constexpr std::string_view kInputPresets[] = {"imagenet"};
// Sets `in`'s mean/std for the preset; an unknown name is an error listing the known ones.
Status apply_input_preset(InputSpec& in, std::string_view preset);

struct ModelSpec {
    std::string name;
    std::string format = "tfjs-graph";
    std::string model_file;
    InputSpec input;
    std::vector<std::string> classes;
    std::string logits_node;
    ModelTask task = ModelTask::kAuto;
    std::string preset;     // the input preset the spec named ("imagenet"), or empty
    bool inferred = false;  // no description file: input range and class names were guessed
};

struct Model {
    Graph graph;
    ModelSpec spec;
    int logits = -1;  // node with pre-softmax scores [N, classes]
    int probs = -1;   // node with probabilities, or -1 when the model ends in logits
    int num_classes() const { return static_cast<int>(spec.classes.size()); }
};

// Returns the bytes of a model file by name (relative to the model's folder). Native code
// reads the file system; the browser serves dropped files from memory.
using FileSource = std::function<Expected<std::vector<uint8_t>>(const std::string& name)>;

// Reads a file into memory; the error names the path.
Expected<std::vector<uint8_t>> read_file_bytes(const std::string& path);
FileSource directory_source(const std::string& dir);

// `path` is a folder holding cnnlens.json (or, without one, a model.json), a cnnlens.json, a
// TF.js model.json (graph or layers format) or an .onnx file (for the last two, without a
// description the spec is inferred from the graph's input shape and output size).
Expected<Model> load_model(const std::string& path);
// The same from any file source; `main` is "cnnlens.json", a model.json or a .onnx name.
Expected<Model> load_model_from(const FileSource& files, const std::string& main);

// Parses a spec JSON (errors name the field and value).
Expected<ModelSpec> parse_model_spec(std::string_view json_text);
// Fills missing spec fields from the graph (input size/channels, class count; 7 classes
// are FER2013's, 1000 ImageNet's; the task) and resolves the logits/probability nodes.
Status complete_model(Model& m);
// The task a model without a "task" field gets: kFace for 7 classes on a gray input of
// 48..64 pixels a side (the FER2013 models), else kImage.
ModelTask infer_task(const InputSpec& in, int classes);

// ImageNet-1k's class names in index order (torchvision's list; core/import/imagenet_classes.inc).
std::span<const char* const> imagenet_class_names();

// A whole photo as an image model's input row [1, H, W, C]: the photo's central region with the
// input's aspect ratio, resampled to the input size. For a square input this is torchvision's
// "resize the shorter side to the input size, then center crop" (without its extra 256/224
// margin), so nothing is stretched. The region in photo pixels is center_crop_box's.
Tensor photo_to_input(const Image& photo, const InputSpec& in);
// The largest centered box of `photo` with the aspect ratio width:height (integers, clamped).
void center_crop_box(int photo_w, int photo_h, int width, int height, int& x, int& y, int& w,
                     int& h);

// Node names as users see them: TensorFlow's wrapper prefixes ("StatefulPartitionedCall/",
// "model_1/") removed.
std::string display_name(std::string_view node_name);

}  // namespace cnnlens

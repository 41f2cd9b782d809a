// Session: a user's model in place of the bundled classifier, and faces opened from a labeled
// set (see session.h); dropped files and the installation of a dropped model
// (session_panels.h).
#include "wasm/app/session.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>

#include "core/base/thread_pool.h"
#include "core/image/render.h"
#include "wasm/app/session_panels.h"

namespace cnnlens::app {

Status Session::install_model(Model&& m) {
    if (busy())
        return invalid_argument("an explanation is running; cancel it before changing the model");
    auto model = std::make_unique<Model>(std::move(m));
    auto probe = std::make_unique<GraphProbe>(*model, *kernels_);
    // The photo is seen afresh: a model of another task finds other faces (or the whole photo).
    std::vector<Face> faces;
    if (!photo_.empty()) {
        auto f = find_faces(photo_, photo_shown(), *model, *probe);
        if (!f) return f.status();
        faces = std::move(*f);
    }
    probe_ = std::move(probe);
    model_ = std::move(model);
    faces_ = std::move(faces);
    selected_ = faces_.empty() ? -1 : std::clamp(selected_, 0, static_cast<int>(faces_.size()) - 1);
    ++model_version_;
    drop_explanation();
    job_ = JobStatus{};
    return Status::ok();
}

Status Session::set_task(ModelTask task) {
    if (!ready()) return invalid_argument("the models are not loaded yet");
    if (busy())
        return invalid_argument(
            "an explanation is running; cancel it before changing what the model looks at");
    if (task == ModelTask::kAuto || task == model_->spec.task) return Status::ok();
    const ModelTask before = model_->spec.task;
    model_->spec.task = task;
    std::vector<Face> faces;
    if (!photo_.empty()) {
        auto f = find_faces(photo_, photo_shown(), *model_, *probe_);
        if (!f) {
            model_->spec.task = before;
            return f.status();
        }
        faces = std::move(*f);
    }
    faces_ = std::move(faces);
    selected_ = faces_.empty() ? -1 : 0;
    ++photo_version_;
    drop_explanation();
    return Status::ok();
}

Status Session::open_face(const Image& face, std::string_view name) {
    if (!ready()) return invalid_argument("the models are not loaded yet");
    if (busy())
        return invalid_argument(std::string(name) + ": an explanation is running; cancel it first");
    Face f;
    f.whole_photo = true;
    f.box = FaceBox{0, 0, static_cast<float>(face.width), static_cast<float>(face.height), 1.f, {}};
    f.frame = CropFrame{face.width / 2.f, face.height / 2.f, static_cast<float>(face.width),
                        static_cast<float>(face.height), 0.f};
    f.crop = face;
    f.input = image_to_input(f.crop, model_->spec.input);
    auto r = probe_->run(f.input, ProbeRequest{});
    if (!r) return r.status();
    f.probs.assign(r->probs.data(), r->probs.data() + r->probs.size());
    f.top = argmax_rows(r->probs)[0];
    f.input_picture = display_image(f.input, model_->spec.input);
    photo_ = face;
    shown_ = shown_copy(face);
    preview_ = Image{};
    photo_name_ = std::string(name);
    faces_.clear();
    faces_.push_back(std::move(f));
    ++photo_version_;
    selected_ = 0;
    explanation_.reset();
    explanation_partial_ = false;
    pending_.reset();
    job_ = JobStatus{};
    ++explanation_version_;
    return Status::ok();
}

// --- Dropped files and models
// ---------------------------------------------------------------------------------------

ModelMemory model_memory(const Graph& g, int threads) {
    ModelMemory m;
    for (const Node& n : g.nodes())
        if (n.op == OpType::kConst)
            m.weights += n.value.size() * static_cast<int64_t>(sizeof(float));
    m.tape = g.tape_bytes_per_image();
    m.threads = std::max(threads, 1);
    return m;
}

std::string megabytes(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return buf;
}

Status check_memory(std::string_view what, int64_t need, std::string_view detail,
                    int64_t available) {
    if (available < 0 || need <= available) return Status::ok();
    return out_of_range(std::string(what) + " needs " + megabytes(need) + " (" +
                        std::string(detail) + ") but the page can get only " +
                        megabytes(available) + " more memory; the current model stays");
}

static std::string lower_extension(std::string_view name) {
    const size_t dot = name.rfind('.');
    std::string ext(dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1));
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

FileKind file_kind(std::string_view name) {
    const std::string ext = lower_extension(name);
    if (ext == "csv") return FileKind::kDataset;
    if (ext == "json" || ext == "bin" || ext == "txt" || ext == "onnx") return FileKind::kModel;
    return FileKind::kPhoto;
}

static std::string_view as_text(const std::vector<uint8_t>& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

Status open_files(Session& s, PanelWork& w, std::vector<DroppedFile>& files) {
    Status first;
    auto keep = [&](Status st) {
        if (!st && first) first = std::move(st);
    };
    bool model = false;
    for (DroppedFile& f : files) {
        switch (file_kind(f.name)) {
            case FileKind::kPhoto:
                keep(f.width > 0
                         ? s.open_pixels(Image{f.width, f.height, 4, std::move(f.bytes)}, f.name)
                         : s.open_photo(f.bytes, f.name));
                if (s.photo_name() == f.name) w.focus = "explain";
                break;
            case FileKind::kDataset: {
                Status st = w.confusion.open(s, as_text(f.bytes), f.name);
                if (st) w.focus = "confusion";
                keep(std::move(st));
                break;
            }
            case FileKind::kModel:
                if (!model) w.model.files.clear();  // a drop holds one model's files
                model = true;
                w.model.files[f.name] = std::move(f.bytes);
                break;
        }
    }
    if (model) keep(load_model_files(s, w));
    return first;
}

// Class names from a .txt (one per line) or a .json list of strings.
static Expected<std::vector<std::string>> read_class_names(const std::string& name,
                                                           std::string_view text) {
    std::vector<std::string> out;
    if (lower_extension(name) == "txt") {
        size_t i = 0;
        while (i <= text.size()) {
            size_t e = text.find('\n', i);
            if (e == std::string_view::npos) e = text.size();
            std::string line(text.substr(i, e - i));
            while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
                line.pop_back();
            if (!line.empty()) out.push_back(line);
            i = e + 1;
        }
        return out;
    }
    auto spec = parse_model_spec("{\"classes\": " + std::string(text) + "}");
    if (!spec) return invalid_argument(name + ": class names must be a JSON list of strings");
    return spec->classes;
}

Status load_model_files(Session& s, PanelWork& w) {
    auto& files = w.model.files;
    FileSource source = [&files](const std::string& name) -> Expected<std::vector<uint8_t>> {
        auto it = files.find(name);
        if (it == files.end()) {
            std::string have;
            for (const auto& [n, b] : files) have += (have.empty() ? "" : ", ") + n;
            return not_found("'" + name +
                             "' is missing: drop it together with the others (dropped: " + have +
                             ")");
        }
        // Weight files are read once: handed over, not copied, so a large model is not held twice.
        const std::string ext = lower_extension(name);
        if (ext == "onnx" || ext == "bin") return std::move(it->second);
        return it->second;
    };
    std::string main, classes_file, class_text;
    int shards = 0;
    for (const auto& [name, bytes] : files) {
        const std::string_view text = as_text(bytes);
        if (name == "cnnlens.json")
            main = name;
        else if (lower_extension(name) == "bin")
            ++shards;
        else if (lower_extension(name) == "onnx") {
            if (main != "cnnlens.json") main = name;
        } else if (name.size() > 13 && name.compare(name.size() - 13, 13, ".cnnlens.json") == 0) {
            continue;  // an ONNX model's description, read by load_model_from
        } else if (lower_extension(name) == "json" &&
                   text.find("\"modelTopology\"") != std::string_view::npos) {
            if (main.empty()) main = name;
        } else {
            classes_file = name;
            class_text.assign(text);
        }
    }
    if (main.empty())
        return invalid_argument(
            "no model among the dropped files: drop an .onnx file, or a TF.js model.json together "
            "with its .bin files");
    const auto available = [&]() -> int64_t {
        return w.model.memory_available ? w.model.memory_available() : -1;
    };
    // Before the weights are built: they take about as much as the files that hold them (float32).
    int64_t file_bytes = 0;
    for (const auto& [name, bytes] : files) file_bytes += static_cast<int64_t>(bytes.size());
    CNNLENS_RETURN_IF_ERROR(
        check_memory(main, file_bytes, "its weights, about the size of its files", available()));
    auto m = load_model_from(source, main);
    if (!m) return m.status();
    files.clear();  // the weights are built: the files' bytes go before the tape is counted
    const ModelMemory need = model_memory(m->graph, pool_threads());
    CNNLENS_RETURN_IF_ERROR(check_memory(
        main, need.tape * need.threads,
        "activations and gradients of one image: " + megabytes(need.tape) + " for each of " +
            std::to_string(need.threads) + " thread" + (need.threads == 1 ? "" : "s") +
            ", besides its weights' " + megabytes(need.weights),
        available()));
    if (!classes_file.empty()) {
        auto names = read_class_names(classes_file, class_text);
        if (!names) return names.status();
        if (static_cast<int>(names->size()) != m->num_classes())
            return invalid_argument(classes_file + " lists " + std::to_string(names->size()) +
                                    " class names but the model has " +
                                    std::to_string(m->num_classes()) + " outputs");
        m->spec.classes = std::move(*names);
    }
    w.model.pending_source =
        lower_extension(main) == "onnx"
            ? main
            : main + " + " + std::to_string(shards) + " shard" + (shards == 1 ? "" : "s");
    if (!m->spec
             .inferred) {  // described by cnnlens.json or <name>.cnnlens.json: nothing to confirm
        w.model.pending.reset();
        CNNLENS_RETURN_IF_ERROR(s.install_model(std::move(*m)));
        w.focus = "explain";
        return Status::ok();
    }
    w.model.pending = std::move(*m);  // the input dialog confirms the value range
    w.focus = "model";
    return Status::ok();
}

Status install_pending(Session& s, PanelWork& w, const InputSpec& input, ModelTask task) {
    if (!w.model.pending) return invalid_argument("no model is waiting to be installed");
    Model& m = *w.model.pending;
    const InputSpec& g = m.spec.input;
    if (input.height != g.height || input.width != g.width || input.channels != g.channels)
        return invalid_argument("the model's input is " + std::to_string(g.height) + "x" +
                                std::to_string(g.width) + "x" + std::to_string(g.channels) +
                                ", not " + std::to_string(input.height) + "x" +
                                std::to_string(input.width) + "x" + std::to_string(input.channels));
    if (input.mean.empty() && !(input.range_hi > input.range_lo))
        return invalid_argument("the input range must have hi > lo");
    if (input.mean.size() != input.std.size() ||
        (!input.mean.empty() && input.mean.size() != 1 &&
         input.mean.size() != static_cast<size_t>(input.channels)))
        return invalid_argument("mean and std need one value, or one per channel (" +
                                std::to_string(input.channels) + ")");
    for (float v : input.std)
        if (!(v > 0.f)) return invalid_argument("every std must be > 0, got " + std::to_string(v));
    m.spec.input = input;
    if (task != ModelTask::kAuto) m.spec.task = task;
    Status st = s.install_model(std::move(m));
    w.model.pending.reset();
    if (st) w.focus = "explain";
    return st;
}

}  // namespace cnnlens::app

// The report (report.h): its pictures, its steps and its two pages from one template.
#include "core/report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/base/json_text.h"
#include "core/image/encode.h"
#include "core/image/render.h"
#include "core/report/report_trust.h"

namespace cnnlens {
namespace {

constexpr int kScale = 3;   // the report's faces are shown at 3x
constexpr int kBatch = 32;  // confusion items per step

std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

std::string html_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

Image gray_tile(const Tensor& hw, float lo, float hi, Colormap cmap) {
    Tensor n(hw.shape());
    for (int64_t i = 0; i < hw.size(); ++i) n[i] = std::clamp((hw[i] - lo) / (hi - lo), 0.f, 1.f);
    return colorize(n, cmap);
}

Image picture_image(const FilterPicture& p) {
    const int64_t h = p.image.shape()[0], w = p.image.shape()[1], c = p.image.shape()[2];
    Image img;
    img.width = static_cast<int>(w);
    img.height = static_cast<int>(h);
    img.channels = static_cast<int>(c);
    for (int64_t i = 0; i < p.image.size(); ++i)
        img.pixels.push_back(static_cast<uint8_t>(std::clamp(p.image[i], 0.f, 1.f) * 255.f + 0.5f));
    return img;
}

}  // namespace

// --- Shared pictures ---------------------------------------------------------------------------

Tensor model_input(const Model& m, const Image& img) {
    return m.spec.task == ModelTask::kImage ? photo_to_input(img, m.spec.input)
                                            : image_to_input(img, m.spec.input);
}

Image confusion_picture(const ConfusionMatrix& cm, bool normalized) {
    const int n = cm.num_classes, cell = 56;
    std::vector<Image> tiles;
    GridOptions g;
    g.columns = n;
    g.pad = 1;
    for (int t = 0; t < n; ++t) {
        for (int p = 0; p < n; ++p) {
            const double v = cm.normalized(t, p);
            Image tile;
            tile.width = tile.height = cell;
            tile.channels = 4;
            const Rgba c =
                colormap_rgba(Colormap::kViridis, std::isnan(v) ? 0.f : static_cast<float>(v));
            for (int i = 0; i < cell * cell; ++i)
                tile.pixels.insert(tile.pixels.end(), c.begin(), c.end());
            char text[32];
            if (normalized)
                std::snprintf(text, sizeof text, "%.2f", std::isnan(v) ? 0.0 : v);
            else
                std::snprintf(text, sizeof text, "%lld", static_cast<long long>(cm.count(t, p)));
            const Rgba ink = (!std::isnan(v) && v > 0.6) ? kBlack : kWhite;
            draw_text(tile, (cell - text_width(text, 2)) / 2, (cell - text_height(text, 2)) / 2,
                      text, ink, 2);
            tiles.push_back(std::move(tile));
        }
        char h[64];
        std::snprintf(h, sizeof h, "%s %.0f%%", cm.class_names[static_cast<size_t>(t)].c_str(),
                      100.0 * (std::isnan(cm.recall(t)) ? 0.0 : cm.recall(t)));
        g.row_headers.push_back(h);
    }
    g.column_headers = cm.class_names;
    return grid(tiles, g);
}

int default_filter_layer(const GraphProbe& probe) {
    for (const LayerInfo& l : probe.layers())
        if (l.op == "Conv2D" && l.spatial() && l.shape[3] >= 16) return l.node;
    return probe.layers().back().node;
}

Expected<int> find_layer(const GraphProbe& probe, const std::string& name) {
    for (const LayerInfo& l : probe.layers())
        if (l.name == name || probe.model().graph.node(l.node).name == name) return l.node;
    return not_found("layer '" + name + "' is not in the model (see cnnlens model-info)");
}

Image filters_picture(std::span<const FilterPicture> pictures) {
    std::vector<Image> tiles;
    GridOptions g;
    g.columns = 8;
    for (const FilterPicture& p : pictures) {
        tiles.push_back(upscale_nearest(picture_image(p), 2));
        char cap[64];
        std::snprintf(cap, sizeof cap, "#%d %.2f", p.channel, p.final_activation);
        g.captions.push_back(cap);
    }
    return grid(tiles, g);
}

Expected<Image> featuremaps_picture(GraphProbe& probe, const Tensor& x, int layer, MapScale scale,
                                    int max_channels) {
    auto fm = feature_maps(probe, x, layer);
    if (!fm) return fm.status();
    ValueRange global;
    if (scale == MapScale::kGlobal) {
        auto g = global_activation_range(probe, x);
        if (!g) return g.status();
        global = *g;
    }
    std::vector<Image> tiles;
    GridOptions g;
    g.columns = 8;
    const int64_t hw = static_cast<int64_t>(fm->height) * fm->width;
    for (int k = 0; k < std::min(fm->channels, max_channels); ++k) {
        Tensor m(Shape{fm->height, fm->width});
        std::copy(fm->maps.data() + k * hw, fm->maps.data() + (k + 1) * hw, m.data());
        const ValueRange r = map_range(*fm, k, scale, global);
        tiles.push_back(upscale_nearest(gray_tile(m, r.lo, r.hi, Colormap::kViridis),
                                        std::max(1, 96 / std::max(fm->width, 1))));
        g.captions.push_back("#" + std::to_string(k));
    }
    return grid(tiles, g);
}

std::string data_uri(std::string_view mime, std::span<const uint8_t> bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string s = "data:" + std::string(mime) + ";base64,";
    s.reserve(s.size() + (bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const uint32_t v =
            (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        for (int k = 18; k >= 0; k -= 6) s += kAlphabet[(v >> k) & 63];
    }
    if (i < bytes.size()) {
        const bool two = i + 1 < bytes.size();
        const uint32_t v = (uint32_t{bytes[i]} << 16) | (two ? uint32_t{bytes[i + 1]} << 8 : 0);
        s += kAlphabet[(v >> 18) & 63];
        s += kAlphabet[(v >> 12) & 63];
        s += two ? kAlphabet[(v >> 6) & 63] : '=';
        s += '=';
    }
    return s;
}

// --- The builder -------------------------------------------------------------------------------

// One class's row of parts 1, 3a and 4: its image and the three maps as they are computed.
struct ReportBuilder::Row {
    int cls = 0;
    int item = 0;  // in the set
    Tensor x;      // model input [1, H, W, C]
    Image face;    // display picture, kScale x
    std::string header;
    std::optional<Explanation> saliency, smoothgrad, lime;
};

const ReportFile* Report::find(std::string_view name) const {
    for (const ReportFile& f : files)
        if (f.name == name) return &f;
    return nullptr;
}

Expected<std::vector<uint8_t>> Report::zip() const {
    std::vector<ZipEntry> entries;
    for (const ReportFile& f : files) entries.push_back({f.name, f.bytes});
    return write_zip(entries);
}

ReportBuilder::ReportBuilder(GraphProbe& probe, Dataset data, ReportOptions options)
    : probe_(&probe), data_(std::move(data)), options_(std::move(options)) {}

Expected<ReportBuilder> ReportBuilder::create(GraphProbe& probe, Dataset data,
                                              ReportOptions options) {
    const Model& model = probe.model();
    if (data.items.empty())
        return invalid_argument("report: the labeled set '" + data.source + "' has no items");
    if (data.class_names.size() != model.spec.classes.size())
        return invalid_argument("report: the labeled set '" + data.source + "' has " +
                                std::to_string(data.class_names.size()) + " classes, the model " +
                                std::to_string(model.spec.classes.size()));
    if (options.lime_samples < 1 || options.smoothgrad_samples < 1 || options.max_filters < 1)
        return invalid_argument("report: LIME samples (" + std::to_string(options.lime_samples) +
                                "), SmoothGrad samples (" +
                                std::to_string(options.smoothgrad_samples) +
                                ") and filters pictured (" + std::to_string(options.max_filters) +
                                ") must be at least 1");
    ReportBuilder b(probe, std::move(data), std::move(options));
    b.center_crop_ = model.spec.task == ModelTask::kImage;
    b.layer_ = b.options_.layer >= 0 ? b.options_.layer : default_filter_layer(probe);
    // layers() returns a copy: it must outlive the pointer into it.
    const std::vector<LayerInfo> layers = probe.layers();
    const LayerInfo* layer = nullptr;
    for (const LayerInfo& l : layers)
        if (l.node == b.layer_) layer = &l;
    if (!layer || !layer->spatial())
        return invalid_argument("report: node " + std::to_string(b.layer_) +
                                " is no layer with feature maps (see cnnlens model-info)");
    b.filter_count_ = static_cast<int>(std::min<int64_t>(layer->shape[3], b.options_.max_filters));
    return b;
}

Status ReportBuilder::use_confusion(ConfusionMatrix cm) {
    if (cm.num_classes != static_cast<int>(data_.class_names.size()) ||
        cm.total() != static_cast<int64_t>(data_.items.size()) ||
        cm.predictions.size() != data_.items.size())
        return invalid_argument("report: the confusion matrix (" + std::to_string(cm.total()) +
                                " items, " + std::to_string(cm.num_classes) +
                                " classes) is not the labeled set's");
    if (confusion_ || evaluated_ > 0) return Status::ok();  // evaluated already
    confusion_ = std::move(cm);
    evaluated_ = data_.items.size();
    pick_rows();
    return Status::ok();
}

int ReportBuilder::units_total() const {
    const int batches = static_cast<int>((data_.items.size() + kBatch - 1) / kBatch);
    const int rows =
        confusion_ ? static_cast<int>(rows_.size()) : static_cast<int>(data_.class_names.size());
    // Weights by rough cost: a confusion batch, a saliency map, a filter picture and a feature map
    // count 1; SmoothGrad and LIME their samples over 10 and 50; a trust score 4.
    const int per_row =
        1 + std::max(1, options_.smoothgrad_samples / 10) + std::max(1, options_.lime_samples / 50);
    return batches + rows * per_row + filter_count_ + 1 + rows * 4 * 4 + 1;
}

int ReportBuilder::units_done() const {
    const int batches = static_cast<int>((data_.items.size() + kBatch - 1) / kBatch);
    int done = static_cast<int>((evaluated_ + kBatch - 1) / kBatch);
    if (confusion_) done = batches;
    for (size_t e = 0; e < explained_; ++e)
        done += e % 3 == 0   ? 1
                : e % 3 == 1 ? std::max(1, options_.smoothgrad_samples / 10)
                             : std::max(1, options_.lime_samples / 50);
    done += static_cast<int>(filters_.size()) + (feature_maps_ ? 1 : 0);
    done += static_cast<int>(scored_) * 4 + (report_ ? 1 : 0);
    return done;
}

float ReportBuilder::progress() const {
    if (report_) return 1.f;
    return std::min(1.f, static_cast<float>(units_done()) / static_cast<float>(units_total()));
}

ProgressFn ReportBuilder::overall(const ProgressFn& progress) const {
    if (!progress) return {};
    const float total = static_cast<float>(units_total()), done = static_cast<float>(units_done());
    float unit = 1.f;  // the weight of the step under way
    if (confusion_ && explained_ < rows_.size() * 3)
        unit = explained_ % 3 == 0 ? 1.f
               : explained_ % 3 == 1
                   ? static_cast<float>(std::max(1, options_.smoothgrad_samples / 10))
                   : static_cast<float>(std::max(1, options_.lime_samples / 50));
    else if (confusion_ && explained_ == rows_.size() * 3 && feature_maps_ &&
             static_cast<int>(filters_.size()) == filter_count_)
        unit = 4.f;
    return [progress, total, done, unit](float f) {
        return progress(std::min(1.f, (done + unit * std::clamp(f, 0.f, 1.f)) / total));
    };
}

std::string ReportBuilder::stage() const {
    if (!error_) return "failed";
    if (report_) return "done";
    if (!confusion_)
        return "confusion matrix (" + std::to_string(evaluated_) + " of " +
               std::to_string(data_.items.size()) + " images)";
    const auto cls = [&](int c) { return data_.class_names[static_cast<size_t>(c)]; };
    if (explained_ < rows_.size() * 3) {
        const Row& r = *rows_[explained_ / 3];
        static constexpr const char* kWhat[] = {"saliency", "SmoothGrad", "LIME"};
        return std::string(kWhat[explained_ % 3]) + " for " + cls(r.cls) + " (" +
               data_.items[static_cast<size_t>(r.item)].id + ")";
    }
    if (static_cast<int>(filters_.size()) < filter_count_)
        return "filter " + std::to_string(filters_.size() + 1) + " of " +
               std::to_string(filter_count_) + " of layer " + layer_name(*probe_, layer_);
    if (!feature_maps_) return "feature maps of layer " + layer_name(*probe_, layer_);
    if (scored_ < rows_.size() * 4)
        return "trust scores of " + trust_->methods[scored_ / rows_.size()].label + " on " +
               cls(rows_[scored_ % rows_.size()]->cls);
    return "the pages";
}

Status ReportBuilder::step_confusion(const ProgressFn& progress) {
    Dataset slice;
    slice.source = data_.source;
    slice.format = data_.format;
    slice.class_names = data_.class_names;
    const size_t end = std::min(data_.items.size(), evaluated_ + kBatch);
    slice.items.assign(data_.items.begin() + static_cast<std::ptrdiff_t>(evaluated_),
                       data_.items.begin() + static_cast<std::ptrdiff_t>(end));
    auto m = evaluate(*probe_, slice, kBatch, overall(progress), center_crop_);
    if (!m) return m.status();
    predictions_.insert(predictions_.end(), m->predictions.begin(), m->predictions.end());
    probs_.insert(probs_.end(), m->probs.begin(), m->probs.end());
    evaluated_ = end;
    if (evaluated_ == data_.items.size()) {
        std::vector<int> labels;
        for (const LabeledImage& it : data_.items) labels.push_back(it.label);
        confusion_ = make_confusion_matrix(labels, predictions_, data_.class_names, probs_);
    }
    return Status::ok();
}

Status ReportBuilder::step_explain(const ProgressFn& progress) {
    Row& row = *rows_[explained_ / 3];
    ExplainContext ctx(*probe_);
    ctx.seed = options_.seed;
    ctx.progress = overall(progress);
    const int which = static_cast<int>(explained_ % 3);
    const char* name = which == 0 ? "saliency" : which == 1 ? "smoothgrad" : "lime";
    const ExplanationMethod& m = *find_method(name);
    Params p;
    if (which == 1) p.set("samples", options_.smoothgrad_samples);
    if (which == 2) p.set("samples", options_.lime_samples);
    // The score each method explains by default (LIME: the probability, as the lime package).
    const Target t{row.cls, -1, m.traits().default_score};
    auto e = m.explain(row.x, t, p, ctx);
    if (!e) return Status(e.status().code(), std::string(name) + ": " + e.status().message());
    (which == 0 ? row.saliency : which == 1 ? row.smoothgrad : row.lime) = std::move(*e);
    ++explained_;
    return Status::ok();
}

Status ReportBuilder::step_trust(const ProgressFn& progress) {
    const size_t method = scored_ / rows_.size(), image = scored_ % rows_.size();
    const Row& row = *rows_[image];
    const Explanation* e = method == 0   ? &*row.saliency
                           : method == 1 ? &*row.smoothgrad
                           : method == 2 ? &*row.lime
                                         : nullptr;
    const Tensor none;
    Status s = trust_score(*trust_, *probe_, method, image, row.x, row.cls, e ? e->map : none,
                           options_.seed, overall(progress));
    if (!s) return s;
    ++scored_;
    return Status::ok();
}

void ReportBuilder::pick_rows() {
    // One image per class: the first classified right, else the first of its row.
    const ConfusionMatrix& cm = *confusion_;
    const Model& model = probe_->model();
    for (int c = 0; c < cm.num_classes; ++c) {
        int pick = -1;
        if (!cm.cell(c, c).empty())
            pick = cm.cell(c, c).front();
        else
            for (int p = 0; p < cm.num_classes && pick < 0; ++p)
                if (!cm.cell(c, p).empty()) pick = cm.cell(c, p).front();
        if (pick < 0) continue;
        auto r = std::make_shared<Row>();
        r->cls = c;
        r->item = pick;
        const LabeledImage& li = data_.items[static_cast<size_t>(pick)];
        r->x = model_input(model, li.image);
        r->face = upscale_nearest(display_image(r->x, model.spec.input), kScale);
        r->header =
            data_.class_names[static_cast<size_t>(c)] + "\n(" + li.id + ", pred " +
            data_.class_names[static_cast<size_t>(cm.predictions[static_cast<size_t>(pick)])] + ")";
        rows_.push_back(std::move(r));
    }
    trust_ = std::make_shared<TrustScores>(trust_start(options_, rows_.size()));
}

Status ReportBuilder::step(const ProgressFn& progress) {
    if (!error_) return error_;
    if (report_) return Status::ok();
    Status s;
    if (!confusion_) {
        s = step_confusion(progress);
        if (s && confusion_) pick_rows();
    } else if (explained_ < rows_.size() * 3) {
        s = step_explain(progress);
    } else if (static_cast<int>(filters_.size()) < filter_count_) {
        auto p = visualize_filter(*probe_, layer_, static_cast<int>(filters_.size()),
                                  options_.ascent, overall(progress));
        if (p)
            filters_.push_back(std::move(*p));
        else
            s = p.status();
    } else if (!feature_maps_) {
        // The first row's image (the lowest class with one), or the set's first item.
        const Tensor x = rows_.empty() ? model_input(probe_->model(), data_.items.front().image)
                                       : rows_.front()->x.clone();
        auto f = featuremaps_picture(*probe_, x, layer_, MapScale::kPerMap, 64);
        if (f)
            feature_maps_ = std::move(*f);
        else
            s = f.status();
    } else if (scored_ < rows_.size() * 4) {
        s = step_trust(progress);
    } else {
        s = assemble();
    }
    if (!s && s.code() != ErrorCode::kCancelled) error_ = s;
    return s;
}

namespace {

// The pictures of the report and where the page finds them.
struct Parts {
    std::string model, source, format, kernels, note, layer, accuracy, trust_html;
    int items = 0, smoothgrad_samples = 0;
    uint64_t seed = 0;
};

// The page, with each picture's src given by `src(file name)`: one template for index.html and
// the self-contained report.html.
std::string page_html(const Parts& p, const std::function<std::string(const char*)>& src) {
    auto img = [&](const char* file, const char* alt) {
        return "<img src=\"" + src(file) + "\" alt=\"" + std::string(alt) + "\">";
    };
    std::string html =
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cnnlens "
        "report</title>\n<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em "
        "auto;padding:0 1em;color:#222}img{max-width:100%;image-rendering:pixelated;border:1px "
        "solid #ddd}h2{margin-top:2em}table{border-collapse:collapse}td,th{border:1px solid "
        "#ccc;padding:2px 8px;text-align:right}</style></head><body>\n";
    html += "<h1>cnnlens report</h1>\n<p>Model <b>" + html_escape(p.model) + "</b>, data <b>" +
            html_escape(p.source) + "</b> (" + html_escape(p.format) + ", " +
            std::to_string(p.items) + " images), kernels " + html_escape(p.kernels) + ", seed " +
            std::to_string(p.seed) + ".</p>\n";
    if (!p.note.empty()) html += "<p>" + html_escape(p.note) + "</p>\n";
    html +=
        "<h2>1. Saliency maps and masks, one image per class</h2>\n<p>Gradient of the class logit "
        "with respect to the pixels, |g|, clipped at the 99th percentile; the mask keeps the top "
        "30&nbsp;% of pixels.</p>\n" +
        img("1_saliency_masks.png", "saliency") + "\n";
    html += "<h2>2. What the filters of layer " + html_escape(p.layer) +
            " respond to</h2>\n<p>Inputs synthesized by gradient ascent on each filter's mean "
            "activation (captions: filter and the activation reached), then the same layer's "
            "feature maps for the first row's image.</p>\n" +
            img("2_filters.png", "filters") + "\n" + img("2_featuremaps.png", "feature maps") +
            "\n";
    html +=
        "<h2>3. LIME per class, and the confusion matrix</h2>\n<p>Superpixels (SLIC) that push the "
        "class probability up (green) or down (red); right: every segment's weight.</p>\n" +
        img("3_lime.png", "LIME") + "\n<p>Overall accuracy " + p.accuracy +
        " (rows: true label, columns: prediction; row headers give per-class accuracy).</p>\n" +
        img("3_confusion_counts.png", "confusion counts") + " " +
        img("3_confusion_normalized.png", "confusion normalized") + "\n";
    html += "<h2>4. SmoothGrad per class</h2>\n<p>" + std::to_string(p.smoothgrad_samples) +
            " noisy copies, sigma 0.15 of the image's value range: mean gradient (magnitude) and "
            "mean of squares.</p>\n" +
            img("4_smoothgrad.png", "SmoothGrad") + "\n";
    return html + p.trust_html + "</body></html>\n";
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

Status ReportBuilder::assemble() {
    const Model& model = probe_->model();
    const ConfusionMatrix& cm = *confusion_;
    std::vector<Image> sal_tiles, lime_tiles, sg_tiles;
    GridOptions sal_g, lime_g, sg_g;
    sal_g.columns = 4;
    lime_g.columns = 3;
    sg_g.columns = 3;
    sal_g.column_headers = {"image", "saliency", "mask (top 30%)", "scale"};
    lime_g.column_headers = {"image", "LIME top 5 (+ green, - red)", "segment weights"};
    sg_g.column_headers = {"image", "SmoothGrad (mean)", "SmoothGrad^2"};
    for (const auto& rp : rows_) {
        const Row& r = *rp;
        const Image& face = r.face;
        NormalizedMap nm = normalize_map(r.saliency->map, MapNorm::kPercentile99);
        sal_tiles.push_back(to_rgba(face));
        sal_tiles.push_back(overlay(face, nm.map, Colormap::kInferno, 0.7f));
        sal_tiles.push_back(to_rgba(apply_mask(face, mask_top_percent(r.saliency->map, 30.f))));
        sal_tiles.push_back(colorbar(Colormap::kInferno, nm.lo, nm.hi, 60, face.height, true));
        sal_g.row_headers.push_back(r.header);
        // LIME: the top-5 positive and negative segments painted, and every segment's weight.
        const Explanation& lime = *r.lime;
        std::vector<int> order(lime.segment_weights.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
        std::sort(order.begin(), order.end(), [&](int p, int q) {
            return std::fabs(lime.segment_weights[static_cast<size_t>(p)]) >
                   std::fabs(lime.segment_weights[static_cast<size_t>(q)]);
        });
        std::vector<int> pos, neg;
        for (int s : order) {
            const float w = lime.segment_weights[static_cast<size_t>(s)];
            if (w > 0.01f && pos.size() < 5) pos.push_back(s);
            if (w < -0.01f && neg.size() < 5) neg.push_back(s);
        }
        Image painted = paint_segments(face, lime.segments, lime.width, lime.height, pos, neg);
        draw_boundaries(painted, lime.segments, lime.width, lime.height, {255, 255, 0});
        NormalizedMap wm = normalize_map(lime.map, MapNorm::kSymmetricMaxAbs);
        Image weights = overlay(face, wm.map, Colormap::kRdBuR, 0.8f);
        draw_boundaries(weights, lime.segments, lime.width, lime.height, {40, 40, 40});
        lime_tiles.insert(lime_tiles.end(), {to_rgba(face), to_rgba(painted), weights});
        char r2[160];
        const auto it = lime.stats.find("r2");
        std::snprintf(r2, sizeof r2, "%s\nR^2 %.2f", r.header.c_str(),
                      it == lime.stats.end() ? std::nan("") : it->second);
        lime_g.row_headers.push_back(r2);
        sg_tiles.push_back(to_rgba(face));
        sg_tiles.push_back(overlay(face,
                                   normalize_map(r.smoothgrad->map, MapNorm::kPercentile99).map,
                                   Colormap::kInferno, 0.7f));
        const auto sq = r.smoothgrad->extras.find("mean_of_squares");
        if (sq == r.smoothgrad->extras.end())
            return Status(ErrorCode::kInternal, "report: SmoothGrad gave no mean_of_squares map");
        sg_tiles.push_back(overlay(face, normalize_map(sq->second, MapNorm::kPercentile99).map,
                                   Colormap::kInferno, 0.7f));
        sg_g.row_headers.push_back(r.header);
    }

    Report rep;
    rep.confusion = cm;
    rep.images = static_cast<int>(rows_.size());
    Parts parts;
    parts.trust_html = trust_html(*trust_, options_.seed, rep.trust);
    std::string trust_json = "{\"metrics\":[";
    for (size_t k = 0; k < rep.trust.metrics.size(); ++k) {
        if (k) trust_json += ',';
        trust_json += json_quote(rep.trust.metrics[k]);
    }
    trust_json += "],\"ranking\":[";
    for (size_t j = 0; j < rep.trust.rows.size(); ++j) {
        const TrustTable::Row& r = rep.trust.rows[j];
        trust_json += j ? ",{" : "{";
        trust_json += "\"method\":" + json_quote(r.method) +
                      ",\"mean_rank\":" + json_number(r.mean_rank) + ",\"means\":[";
        for (size_t k = 0; k < r.means.size(); ++k) {
            if (k) trust_json += ',';
            trust_json += json_number(r.means[k]);
        }
        trust_json += "]}";
    }
    trust_json += "]}\n";

    struct Picture {
        const char* file;
        Image img;
    };
    const Picture pictures[] = {{"1_saliency_masks.png", grid(sal_tiles, sal_g)},
                                {"2_filters.png", filters_picture(filters_)},
                                {"2_featuremaps.png", *feature_maps_},
                                {"3_lime.png", grid(lime_tiles, lime_g)},
                                {"3_confusion_counts.png", confusion_picture(cm, false)},
                                {"3_confusion_normalized.png", confusion_picture(cm, true)},
                                {"4_smoothgrad.png", grid(sg_tiles, sg_g)}};
    rep.files.push_back({"index.html", "text/html", {}});
    for (const Picture& p : pictures) {
        std::vector<uint8_t> png = encode_png(p.img);
        if (png.empty())
            return Status(ErrorCode::kInternal,
                          std::string("report: ") + p.file + " was not encoded");
        rep.files.push_back({p.file, "image/png", std::move(png)});
    }
    rep.files.push_back({"confusion.json", "application/json", bytes_of(cm.to_json())});
    rep.files.push_back({"5_trust.json", "application/json", bytes_of(trust_json)});

    char acc[64];
    std::snprintf(acc, sizeof acc, "%.1f%%", 100.0 * cm.accuracy());
    parts.model = model.spec.name;
    parts.source = data_.source;
    parts.format = data_.format;
    parts.items = data_.size();
    parts.kernels = options_.kernels;
    parts.note = options_.note;
    parts.layer = layer_name(*probe_, layer_);
    parts.accuracy = acc;
    parts.seed = options_.seed;
    parts.smoothgrad_samples = options_.smoothgrad_samples;
    rep.files.front().bytes =
        bytes_of(page_html(parts, [](const char* f) { return std::string(f); }));
    rep.html = page_html(parts, [&](const char* f) {
        const ReportFile* file = rep.find(f);
        return file ? data_uri(file->mime, file->bytes) : std::string();
    });
    report_ = std::move(rep);
    return Status::ok();
}

Expected<Report> build_report(GraphProbe& probe, Dataset data, const ReportOptions& options,
                              const ProgressFn& progress) {
    auto b = ReportBuilder::create(probe, std::move(data), options);
    if (!b) return b.status();
    while (!b->done())
        if (Status s = b->step(progress); !s) return s;
    return *b->report();
}

}  // namespace cnnlens

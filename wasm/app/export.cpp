// Export pictures and JSON (see export.h).
#include "core/explain/describe.h"
#include "wasm/app/export.h"

#include "core/base/json_text.h"
#include "wasm/app/session_panels.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace cnnlens::app {

Colormap view_colormap(const AppState& s, const Explanation& e) {
    if (s.colormap >= 0 && s.colormap < static_cast<int>(kColormaps.size()))
        return kColormaps[static_cast<size_t>(s.colormap)].colormap;
    return e.signed_map() ? Colormap::kRdBuR : Colormap::kInferno;
}

Image view_overlay(const AppState& state, const Face& face, const Explanation& e, int scale) {
    const NormalizedMap nm = normalize_map(e.map, e.norm);
    Image pic = overlay(upscale_nearest(face.input_picture, scale), nm.map, view_colormap(state, e),
                        state.opacity);
    if (state.mask_percent > 0) pic = apply_mask(pic, mask_top_percent(e.map, state.mask_percent));
    if (!e.segments.empty() && state.show_boundaries)
        draw_boundaries(pic, e.segments, e.width, e.height, {255, 255, 0});
    return pic;
}

Image view_map_rgba(const AppState& state, const Explanation& e) {
    const NormalizedMap nm = normalize_map(e.map, e.norm);
    Image pic = colorize(nm.map, view_colormap(state, e));
    const uint8_t alpha = static_cast<uint8_t>(std::clamp(state.opacity, 0.f, 1.f) * 255.f + 0.5f);
    Tensor mask;
    if (state.mask_percent > 0) mask = mask_top_percent(e.map, state.mask_percent);
    for (size_t p = 0; p < pic.pixels.size() / 4; ++p)
        pic.pixels[p * 4 + 3] =
            state.mask_percent > 0 && mask[static_cast<int64_t>(p)] < 0.5f ? 0 : alpha;
    return pic;
}

Image view_photo_overlay(const AppState& state, const Session& session) {
    const Explanation* e = session.explanation();
    const Face* f = session.selected_face();
    if (!e || !f) return {};
    const Image& preview = session.photo_preview();
    const float k =
        static_cast<float>(preview.width) / static_cast<float>(std::max(session.photo().width, 1));
    const NormalizedMap nm = normalize_map(e->map, e->norm);
    return overlay_in_frame(preview, nm.map, f->frame.scaled(k), view_colormap(state, *e),
                            state.opacity);
}

static std::string title_of(const Explanation& e, const Session& session) {
    const auto& names = session.class_names();
    const ExplanationMethod* m = find_method(e.method);
    std::string t = (m ? std::string(m->title()) : e.method) + " for " +
                    names[static_cast<size_t>(e.target.cls)];
    if (e.target.contrast >= 0) t += " minus " + names[static_cast<size_t>(e.target.contrast)];
    return t + " - " + session.photo_name();
}

const TrustRun* shown_trust(const Session& session) {
    const TrustRun& t = session.panel_work().trust;
    if (!session.explanation() || t.key != face_key(session) ||
        t.explanation_version != session.explanation_version())
        return nullptr;
    return &t;
}

// "Deletion AUC 0.399 (random 0.612, lower is better)   Insertion AUC ..." of what is computed.
static std::string trust_line(const TrustRun& t) {
    std::string line;
    char buf[128];
    const auto add = [&](std::string_view metric, const FaithCurve* random) {
        const TrustRun::Score* sc = t.find(metric);
        if (!sc) return;
        std::snprintf(buf, sizeof buf, "%s%s %.3f", line.empty() ? "" : "   ",
                      std::string(sc->metric->title).c_str(), sc->value);
        line += buf;
        if (random) {
            std::snprintf(buf, sizeof buf, " (random order %.3f)", random->auc);
            line += buf;
        }
    };
    add("deletion_auc", t.curves ? &t.curves->deletion_random : nullptr);
    add("insertion_auc", t.curves ? &t.curves->insertion_random : nullptr);
    return line;
}

Image view_picture(const AppState& state, const Session& session, int scale) {
    const Explanation* e = session.explanation();
    const Face* f = session.selected_face();
    if (!e || !f) return {};
    const Image base = to_rgba(upscale_nearest(f->input_picture, scale));
    const NormalizedMap nm = normalize_map(e->map, e->norm);
    const Image bar = colorbar(view_colormap(state, *e), nm.lo, nm.hi, 70, base.height, true);
    const Image row = grid({base, to_rgba(view_overlay(state, *f, *e, scale)), to_rgba(bar)}, 3);
    std::vector<Image> parts = {
        label_image(title_of(*e, session) + (session.explanation_partial() ? " (partial)" : "")),
        row};
    if (const TrustRun* t = shown_trust(session); t && t->curves)
        parts.push_back(label_image(trust_line(*t)));
    return grid(parts, 1);
}

Image map_picture(const Tensor& map, MapNorm norm, Colormap cmap, int scale) {
    const NormalizedMap nm = normalize_map(map, norm);
    const Image pic = to_rgba(upscale_nearest(colorize(nm.map, cmap), scale));
    return grid({pic, to_rgba(colorbar(cmap, nm.lo, nm.hi, 70, pic.height, true))}, 2);
}

namespace {

void quote(std::string& out, std::string_view s) { out += json_quote(s); }

void number(std::string& out, double v) {
    if (!std::isfinite(v)) {  // JSON has no NaN: a value its definition leaves undefined
        out += "null";
        return;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    out += buf;
}

void numbers(std::string& out, const std::map<std::string, double>& m) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : m) {
        if (!first) out += ", ";
        first = false;
        quote(out, k);
        out += ": ";
        number(out, v);
    }
    out += '}';
}

void target(std::string& out, const Target& t, const std::vector<std::string>& names) {
    out += "{\"class\": " + std::to_string(t.cls) + ", \"class_name\": ";
    quote(out, names[static_cast<size_t>(t.cls)]);
    if (t.contrast >= 0) {
        out += ", \"contrast\": " + std::to_string(t.contrast) + ", \"contrast_name\": ";
        quote(out, names[static_cast<size_t>(t.contrast)]);
    }
    out += ", \"score\": ";
    quote(out, t.score == Target::Score::kLogit ? "logit" : "probability");
    out += '}';
}

void curve(std::string& out, const FaithCurve& c) {
    out += "{\"auc\": ";
    number(out, c.auc);
    out += ", \"score\": [";
    for (size_t i = 0; i < c.score.size(); ++i) {
        if (i) out += ", ";
        number(out, c.score[i]);
    }
    out += "]}";
}

// The trust scores computed so far for the explanation shown, the curves and the
// randomization check's steps.
void trust_json(std::string& s, const TrustRun& t) {
    s += "{\n    \"scores\": [";
    for (size_t i = 0; i < t.scores.size(); ++i) {
        const MetricDef& m = *t.scores[i].metric;
        s += i ? ",\n      " : "\n      ";
        s += "{\"name\": ";
        quote(s, m.name);
        s += ", \"value\": ";
        number(s, t.scores[i].value);
        s += ", \"title\": ";
        quote(s, m.title);
        s += ", \"good\": ";
        quote(s, m.good);
        s += ", \"higher_is_better\": ";
        s += m.higher_is_better ? "true" : "false";
        s += "}";
    }
    s += "]";
    if (t.curves) {
        s += ",\n    \"curves\": {\"fraction\": [";
        for (size_t i = 0; i < t.curves->deletion.fraction.size(); ++i) {
            if (i) s += ", ";
            number(s, t.curves->deletion.fraction[i]);
        }
        s += "],\n      \"deletion\": ", curve(s, t.curves->deletion);
        s += ",\n      \"insertion\": ", curve(s, t.curves->insertion);
        s += ",\n      \"deletion_random\": ", curve(s, t.curves->deletion_random);
        s += ",\n      \"insertion_random\": ", curve(s, t.curves->insertion_random);
        s += ", \"random_orders\": " + std::to_string(TrustRun::kRandomOrders) + "}";
    }
    if (!t.sanity.empty()) {
        s += ",\n    \"randomization\": [";
        for (size_t i = 0; i < t.sanity.size(); ++i) {
            const SanityStep& st = t.sanity[i];
            s += i ? ",\n      " : "\n      ";
            s += "{\"layer\": ";
            quote(s, st.layer);
            s += ", \"node\": " + std::to_string(st.node) + ", \"spearman_abs\": ";
            number(s, st.spearman_abs);
            s += ", \"spearman_signed\": ", number(s, st.spearman_signed);
            s += ", \"ssim\": ", number(s, st.ssim);
            s += ", \"target_probability\": ", number(s, st.target_probability);
            s += "}";
        }
        s += "]";
    }
    s += "\n  }";
}

}  // namespace

std::string view_json(const AppState& state, const Session& session) {
    const auto& names = session.class_names();
    std::string s = "{\n  \"tool\": \"cnnlens\",\n  \"photo\": {\"name\": ";
    quote(s, session.photo_name());
    s += ", \"width\": " + std::to_string(session.photo().width) +
         ", \"height\": " + std::to_string(session.photo().height) + "},\n";
    s += "  \"kernels\": ";
    quote(s, session.kernels_name());
    s += ",\n  \"face\": ";
    if (const Face* f = session.selected_face()) {
        s += "{\"index\": " + std::to_string(session.selected()) + ", \"box\": [";
        number(s, f->box.x), s += ", ", number(s, f->box.y), s += ", ", number(s, f->box.width),
            s += ", ", number(s, f->box.height);
        s += "], \"whole_photo\": ";
        s += f->whole_photo ? "true" : "false";
        s += ", \"crop\": {\"center\": [";
        number(s, f->frame.cx), s += ", ", number(s, f->frame.cy);
        s += "], \"width\": ", number(s, f->frame.width),
            s += ", \"height\": ", number(s, f->frame.height);
        s += ", \"angle_degrees\": ", number(s, f->frame.angle_degrees());
        s += ", \"aligned\": ";
        s += session.align_faces() && !f->whole_photo ? "true" : "false";
        s += "}";
        s += ", \"top\": ";
        quote(s, names[static_cast<size_t>(f->top)]);
        s += ", \"probs\": {";
        for (size_t c = 0; c < f->probs.size(); ++c) {
            if (c) s += ", ";
            quote(s, names[c]);
            s += ": ";
            number(s, f->probs[c]);
        }
        s += "}}";
    } else {
        s += "null";
    }
    s += ",\n  \"result\": ";
    if (const Explanation* e = session.explanation()) {
        const ExplainRequest& r = session.explained();
        s += "{\n    \"method\": ";
        quote(s, e->method);
        s += ",\n    \"seed\": " + std::to_string(r.seed) + ",\n    \"precision\": ";
        quote(s, std::string(tape_precision_name(r.precision)));
        s += ",\n    \"target\": ";
        target(s, e->target, names);
        s += ",\n    \"params\": ";
        numbers(s, e->params);  // every parameter with its default filled in, and the seed
        s += ",\n    \"width\": " + std::to_string(e->width) +
             ", \"height\": " + std::to_string(e->height);
        s += ", \"signed_map\": ";
        s += e->signed_map() ? "true" : "false";
        s += ", \"partial\": ";
        s += session.explanation_partial() ? "true" : "false";
        if (!e->layer.empty()) {
            s += ", \"layer\": ";
            quote(s, e->layer);
        }
        if (!e->segments.empty())
            s += ", \"segments\": " + std::to_string(e->segment_weights.size());
        s += ",\n    \"stats\": ";
        numbers(s, e->stats);
        s += ",\n    \"stat_labels\": {";
        for (const auto& [k, v] : e->stats) {
            if (k != e->stats.begin()->first) s += ", ";
            quote(s, k);
            s += ": ";
            quote(s, stat_label(k));
        }
        s += "}";
        const NormalizedMap nm = normalize_map(e->map, e->norm);
        s += ",\n    \"legend\": {\"norm\": ";
        quote(s, map_norm_name(e->norm));
        s += ", \"lo\": ", number(s, nm.lo), s += ", \"hi\": ", number(s, nm.hi);
        s += "},\n    \"extras\": [";
        bool first = true;
        for (const auto& [k, v] : e->extras) {
            if (!first) s += ", ";
            first = false;
            quote(s, k);
        }
        s += "]\n  }";
    } else {
        s += "null";
    }
    s += ",\n  \"trust\": ";
    if (const TrustRun* t = shown_trust(session))
        trust_json(s, *t);
    else
        s += "null";
    s += ",\n  \"display\": {\"colormap\": ";
    quote(s, state.colormap < 0 ? std::string_view("auto")
                                : kColormaps[static_cast<size_t>(state.colormap)].name);
    s += ", \"opacity\": ", number(s, state.opacity),
        s += ", \"mask_percent\": ", number(s, state.mask_percent);
    s += ", \"superpixel_edges\": ";
    s += state.show_boundaries ? "true" : "false";
    s += "}\n}\n";
    return s;
}

std::string export_name(const Session& session, std::string_view method, std::string_view suffix) {
    std::string stem = session.photo_name();
    if (const size_t slash = stem.find_last_of("/\\"); slash != std::string::npos)
        stem = stem.substr(slash + 1);
    if (const size_t dot = stem.rfind('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
    std::string name = stem.empty() ? "cnnlens" : stem;
    if (!method.empty()) name.append("_").append(method);
    name.append(suffix);
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
            c = '_';
    return name;
}

}  // namespace cnnlens::app

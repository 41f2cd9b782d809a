// The extra panels' side of the test hook: small commands that do what a click would and
// answer JSON (web/loader.js wraps them in window.cnnlensTest; see docs/app-internals.md).
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/base/json_text.h"
#include "wasm/app/export.h"
#include "wasm/app/layout_trace.h"
#include "wasm/app/ui.h"

namespace cnnlens::app {

static std::string quoted(std::string_view s) { return json_quote(s); }

static std::string shape_json(const Shape& s) {
    std::string out = "[";
    for (int i = 0; i < s.rank(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

// NaN (an undefined score) as null.
static std::string finite(double v) { return std::isfinite(v) ? number(v) : "null"; }

// The Trust section: what it is for, its state, the scores by metric name, the curves' AUCs and
// the randomization check's steps.
static std::string trust_json(const Session& session, const AppState& state) {
    const TrustRun& t = session.panel_work().trust;
    const TrustRun::Stage next = t.next(session);
    std::string s = "{\"open\":" + std::string(state.trust_open ? "true" : "false") +
                    ",\"shown\":" + (shown_trust(session) ? "true" : "false") +
                    ",\"busy\":" + (next != TrustRun::Stage::kNone ? "true" : "false") +
                    ",\"complete\":" + (t.complete() ? "true" : "false") +
                    ",\"slow\":" + (t.slow ? "true" : "false") +
                    ",\"stopped\":" + (t.stopped ? "true" : "false") +
                    ",\"running\":" + quoted(TrustRun::stage_label(t.running)) +
                    ",\"progress\":" + number(t.progress) + ",\"error\":" + quoted(t.error) +
                    ",\"method\":" + quoted(t.request.method) +
                    ",\"class\":" + std::to_string(t.request.target.cls) +
                    ",\"seed\":" + std::to_string(t.request.seed) + ",\"scores\":{";
    for (size_t i = 0; i < t.scores.size(); ++i)
        s += (i ? "," : "") + quoted(t.scores[i].metric->name) + ":" + finite(t.scores[i].value);
    s += "},\"curves\":";
    if (t.curves) {
        s += "{\"points\":" + std::to_string(t.curves->deletion.score.size()) +
             ",\"deletion\":" + finite(t.curves->deletion.auc) +
             ",\"insertion\":" + finite(t.curves->insertion.auc) +
             ",\"deletionRandom\":" + finite(t.curves->deletion_random.auc) +
             ",\"insertionRandom\":" + finite(t.curves->insertion_random.auc) + "}";
    } else {
        s += "null";
    }
    s += ",\"sanity\":[";
    for (size_t i = 0; i < t.sanity.size(); ++i) {
        const SanityStep& st = t.sanity[i];
        s += (i ? "," : "") + std::string("{\"layer\":") + quoted(st.layer) +
             ",\"node\":" + std::to_string(st.node) + ",\"spearman\":" + finite(st.spearman_abs) +
             ",\"spearmanSigned\":" + finite(st.spearman_signed) + ",\"ssim\":" + finite(st.ssim) +
             ",\"probability\":" + finite(st.target_probability) + "}";
    }
    return s + "]}";
}

static std::string inside_json(const LayerBrowser& lb) {
    std::string s = "{\"mapsLayer\":" + std::to_string(lb.maps ? lb.maps_node : -1);
    if (lb.maps) {
        s += ",\"maps\":{\"channels\":" + std::to_string(lb.maps->channels) +
             ",\"height\":" + std::to_string(lb.maps->height) +
             ",\"width\":" + std::to_string(lb.maps->width) +
             ",\"layerMin\":" + number(lb.maps->layer_min) +
             ",\"layerMax\":" + number(lb.maps->layer_max) + "}";
    }
    s += ",\"filterLayer\":" + std::to_string(lb.filter_layer) +
         ",\"filterTarget\":" + std::to_string(lb.filter_target) + ",\"filters\":[";
    for (size_t i = 0; i < lb.filters.size(); ++i) {
        const FilterPicture& p = lb.filters[i];
        s += (i ? "," : "") + std::string("{\"channel\":") + std::to_string(p.channel) +
             ",\"start\":" + number(p.start_activation) +
             ",\"final\":" + number(p.final_activation) +
             ",\"shape\":" + shape_json(p.image.shape()) + "}";
    }
    return s + "]}";
}

std::string panels_hook_command(AppState& state, Session& session, UiCache& cache,
                                std::string_view command) {
    std::istringstream in{std::string(command)};
    std::string verb;
    in >> verb;
    PanelWork& w = session.panel_work();
    if (verb == "state") {
        const bool busy = panels_busy(session, w);
        return "{\"tab\":" + quoted(w.tab) + ",\"busy\":" + (busy ? "true" : "false") +
               ",\"modelVersion\":" + std::to_string(session.model_version()) +
               ",\"modelName\":" + quoted(session.model().spec.name) +
               ",\"modelPending\":" + (w.model.pending ? "true" : "false") +
               ",\"task\":" + quoted(std::string(task_name(session.model().spec.task))) +
               ",\"classes\":" + std::to_string(session.class_names().size()) +
               ",\"pendingPreset\":" +
               quoted(w.model.pending ? w.model.pending->spec.preset : std::string()) + "}";
    }
    if (verb == "tab") {
        in >> w.focus;
        return "{}";
    }
    if (verb == "layers") {
        w.layers.sync(session);
        std::string s = "[";
        for (const LayerInfo& l : w.layers.layers)
            s += (s.size() > 1 ? "," : "") + std::string("{\"node\":") + std::to_string(l.node) +
                 ",\"name\":" + quoted(l.name) + ",\"op\":" + quoted(l.op) +
                 ",\"shape\":" + shape_json(l.shape) + "}";
        return s + "]";
    }
    if (verb == "layer") {
        in >> state.layer;
        state.filter_channel = -1;
        w.focus = "layers";
        return "{}";
    }
    if (verb == "filters") {  // as the Compute button does, with COUNT channels of STEPS steps
        int count = 1, steps = 64;
        in >> count >> steps;
        state.filter_count = count;
        state.filter_params.set("steps", steps);
        AscentParams p = ascent_params_from(state.filter_params);
        p.seed = static_cast<uint64_t>(state.seed);
        w.layers.sync(session);
        w.layers.want_filters(state.layer, p, count);
        w.focus = "layers";
        return "{}";
    }
    if (verb == "channel") {  // as clicking a filter picture or feature map
        in >> state.filter_channel;
        return "{}";
    }
    if (verb == "install") {  // the own-model dialog's "Use this model" with range [LO, HI]
        if (!w.model.pending) return "{\"error\":\"no model is waiting for its input range\"}";
        InputSpec spec = w.model.pending->spec.input;
        in >> spec.range_lo >> spec.range_hi;
        spec.mean.clear();
        spec.std.clear();
        Status s = install_pending(session, w, spec);
        if (!s) return "{\"error\":" + quoted(s.message()) + "}";
        state.target_class = state.contrast_class = -1;
        return "{}";
    }
    if (verb == "confirm") {  // the own-model dialog's "Use this model" with what it proposes (the
                              // guessed input)
        if (!w.model.pending) return "{\"error\":\"no model is waiting for its input range\"}";
        Status s = install_pending(session, w, w.model.pending->spec.input);
        if (!s) return "{\"error\":" + quoted(s.message()) + "}";
        state.target_class = state.contrast_class = -1;
        return "{}";
    }
    if (verb == "task") {  // the model panel's "looks at" switch: face or image
        std::string t;
        in >> t;
        if (t != "face" && t != "image") return "{\"error\":\"task must be face or image\"}";
        Status s = session.set_task(t == "face" ? ModelTask::kFace : ModelTask::kImage);
        if (!s) return "{\"error\":" + quoted(s.message()) + "}";
        return "{}";
    }
    if (verb == "selection") {  // the selected face, the face count and the alignment switch
        return "{\"selected\":" + std::to_string(session.selected()) +
               ",\"faces\":" + std::to_string(session.faces().size()) +
               ",\"align\":" + (session.align_faces() ? "true" : "false") + "}";
    }
    if (verb == "align") {  // the photo panel's "Align faces" checkbox (applied once idle)
        std::string v;
        in >> v;
        if (v != "on" && v != "off") return "{\"error\":\"align must be on or off\"}";
        session.want_align_faces(v == "on");
        Status s = session.apply_wanted_align();
        if (!s) return "{\"error\":" + quoted(s.message()) + "}";
        return "{}";
    }
    if (verb == "inside") return inside_json(w.layers);
    if (verb == "layout") {  // "layout N": the layout trace of the last N frames and the zoom
        int frames = 2;
        in >> frames;
        std::string s = layout_trace_json(frames);
        float r[4];
        const bool open = map_zoom_open(r);
        s.pop_back();
        return s + ",\"zoom\":{\"open\":" + (open ? "true" : "false") + ",\"rect\":[" +
               number(r[0]) + "," + number(r[1]) + "," + number(r[2]) + "," + number(r[3]) + "]}}";
    }
    if (verb == "help") {  // what the help drew last (HelpTrace); "help close" closes the card as
                           // its x does
        std::string what;
        in >> what;
        if (what == "close")
            state.card_method.clear();
        else if (!what.empty())
            return "{\"error\":" + quoted("help: unknown command '" + what + "' (close)") + "}";
        const HelpTrace& h = cache.help;
        auto rect = [](const float(&r)[4]) {
            return "[" + number(r[0]) + "," + number(r[1]) + "," + number(r[2]) + "," +
                   number(r[3]) + "]";
        };
        std::string s = "{\"frame\":" + std::to_string(ImGui::GetFrameCount()) +
                        ",\"menu\":" + rect(h.menu_rect) +
                        ",\"cardButton\":" + rect(h.card_button_rect) +
                        ",\"menuFrame\":" + std::to_string(h.menu_frame) + ",\"menuMethods\":[";
        for (size_t i = 0; i < h.menu_methods.size(); ++i)
            s += (i ? "," : "") + quoted(h.menu_methods[i]);
        return s + "],\"open\":" + quoted(state.card_method) +
               ",\"card\":{\"method\":" + quoted(h.card_method) +
               ",\"frame\":" + std::to_string(h.card_frame) + ",\"text\":" + quoted(h.card_text) +
               "}}";
    }
    if (verb == "trust") {  // "trust": the section's state; "trust open|slow|cancel|close": as its
                            // header and buttons
        std::string what;
        in >> what;
        if (what == "open" || what == "slow") {
            state.trust_open = true;
            w.trust.want(session, what == "slow");
            w.focus = "explain";
        } else if (what == "cancel") {
            w.trust.stop();
        } else if (what == "close") {
            state.trust_open = false;
            w.trust.active = false;
        } else if (!what.empty()) {
            return "{\"error\":" +
                   quoted("trust: unknown command '" + what + "' (open, slow, cancel, close)") +
                   "}";
        }
        return trust_json(session, state);
    }
    if (verb == "report") {
        std::string what;
        in >> what;
        ReportRun& r = w.report;
        if (what == "start") {
            int seed = state.seed, lime = state.report_lime_samples,
                sg = state.report_smoothgrad_samples, steps = state.report_filter_steps;
            std::string faces;
            in >> seed >> lime >> sg >> steps >> faces;
            state.seed = seed;
            state.report_lime_samples = lime;
            state.report_smoothgrad_samples = sg;
            state.report_filter_steps = steps;
            state.report_faces_at_hand = faces == "faces";
            Status s = r.start(session, w, report_options(state),
                               state.report_faces_at_hand || !w.confusion.data);
            if (!s) return "{\"error\":" + quoted(s.message()) + "}";
            w.focus = "report";
        } else if (what == "cancel") {
            r.stop();
        } else if (what == "resume") {
            r.resume();
        } else if (what == "html" || what == "zip") {
            if (!r.report) return "{\"error\":\"the report is not ready\"}";
            download_report(r, what == "zip");
        } else if (!what.empty()) {
            return "{\"error\":" +
                   quoted("report: unknown command '" + what +
                          "' (start, cancel, resume, html, zip)") +
                   "}";
        }
        std::string s = "{\"active\":" + std::string(r.active() ? "true" : "false") +
                        ",\"running\":" + (r.running() ? "true" : "false") +
                        ",\"stopped\":" + (r.stopped ? "true" : "false") +
                        ",\"done\":" + (r.report ? "true" : "false") +
                        ",\"facesAtHand\":" + (r.faces_at_hand ? "true" : "false") +
                        ",\"progress\":" + number(r.progress) + ",\"stage\":" + quoted(r.stage) +
                        ",\"source\":" + quoted(r.source) + ",\"error\":" + quoted(r.error);
        if (r.report)
            s += ",\"images\":" + std::to_string(r.report->images) +
                 ",\"htmlBytes\":" + std::to_string(r.report->html.size()) +
                 ",\"accuracy\":" + number(r.report->confusion.accuracy());
        return s + "}";
    }
    if (verb == "grid") {
        std::string s = "{\"method\":" + quoted(w.grid.request.method) +
                        ",\"done\":" + std::to_string(w.grid.maps.size()) + ",\"classes\":[";
        for (size_t i = 0; i < w.grid.classes.size(); ++i)
            s += (i ? "," : "") + std::to_string(w.grid.classes[i]);
        s += "],\"maxAbs\":[";
        for (size_t i = 0; i < w.grid.maps.size(); ++i) {
            float m = 0;
            for (float v : w.grid.maps[i].map.span()) m = std::max(m, std::abs(v));
            s += (i ? "," : "") + number(m);
        }
        return s + "]}";
    }
    if (verb == "confusion") {
        const ConfusionRun& c = w.confusion;
        std::string s = "{\"loaded\":" + std::string(c.data ? "true" : "false") +
                        ",\"running\":" + (c.running() ? "true" : "false") +
                        ",\"done\":" + std::to_string(c.next) +
                        ",\"total\":" + std::to_string(c.data ? c.data->size() : 0);
        return s + ",\"matrix\":" + (c.matrix ? c.matrix->to_json() : "null") + "}";
    }
    if (verb == "cell" || verb == "open") {
        int t = -1, p = -1, i = 0;
        in >> t >> p >> i;
        state.confusion_truth = t;
        state.confusion_pred = p;
        const ConfusionRun& c = w.confusion;
        if (verb == "cell") {
            w.focus = "confusion";
            return "{}";
        }
        if (!c.matrix || t < 0 || p < 0 || t >= c.matrix->num_classes ||
            p >= c.matrix->num_classes || i < 0 ||
            i >= static_cast<int>(c.matrix->cell(t, p).size()))
            return "{\"error\":\"no such face in the confusion matrix\"}";
        const LabeledImage& it =
            c.data->items[static_cast<size_t>(c.matrix->cell(t, p)[static_cast<size_t>(i)])];
        Status s = session.open_face(it.image, c.data->source + " " + it.id);
        if (!s) return "{\"error\":" + quoted(s.message()) + "}";
        w.focus = "explain";
        return "{\"opened\":" + quoted(it.id) + "}";
    }
    return "{\"error\":" + quoted("unknown test command '" + verb + "'") + "}";
}

}  // namespace cnnlens::app

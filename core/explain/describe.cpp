// Words for people, assembled from the definitions (see describe.h).
#include "core/explain/describe.h"

#include <algorithm>
#include <cstdio>

namespace cnnlens {

static std::string number_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string param_value_text(const ParamDef& d, double v) {
    const double i = static_cast<double>(static_cast<long long>(v));
    if (!d.choices.empty() && v >= 0 && i == v && v < static_cast<double>(d.choices.size()))
        return std::string(d.choices[static_cast<size_t>(v)]);
    return number_text(v);
}

std::string param_range_text(const ParamDef& d) {
    if (!d.range.empty()) return std::string(d.range);
    if (!d.choices.empty()) {
        std::string s;
        for (std::string_view c : d.choices) s += (s.empty() ? "" : " | ") + std::string(c);
        return s;
    }
    return number_text(d.min) + " to " + number_text(d.max) + (d.integer ? ", whole numbers" : "");
}

std::string param_tooltip(const ParamDef& d) {
    return std::string(d.help) + "\nDefault: " + param_value_text(d, d.def) + " (" +
           std::string(d.anchor) + ").\nRange: " + param_range_text(d) + ".";
}

std::string_view map_reading(MapNorm norm) {
    switch (norm) {
        case MapNorm::kPercentile99:
            return "Unsigned: bright pixels matter most, dark ones least; it does not say whether "
                   "a pixel raises or lowers "
                   "the score. The top 1 % share the brightest colour.";
        case MapNorm::kMinMax:
            return "Unsigned, from its minimum (dark) to its maximum (bright): bright regions "
                   "raise the score most.";
        case MapNorm::kSignedPercentile99:
        case MapNorm::kSymmetricMaxAbs:
            return "Signed: red pixels raise the score, blue ones lower it, white ones change "
                   "nothing; the scale is "
                   "symmetric about 0.";
    }
    return {};
}

Expected<std::string> expand_passes(const ExplanationMethod& m, const Params& p) {
    const std::string_view t = m.card().passes;
    std::string out;
    for (size_t i = 0; i < t.size();) {
        if (t[i] != '{') {
            out += t[i++];
            continue;
        }
        const size_t close = t.find('}', i);
        if (close == std::string_view::npos)
            return invalid_argument(std::string(m.name()) + ": card passes '" + std::string(t) +
                                    "' has an unclosed '{'");
        const std::string_view name = t.substr(i + 1, close - i - 1);
        const ParamDef* d = m.find_param(name);
        if (!d)
            return invalid_argument(std::string(m.name()) + ": card passes name '{" +
                                    std::string(name) + "}', which is not a parameter");
        out += param_value_text(*d, p.get(name, d->def));
        i = close + 1;
    }
    return out;
}

CardText method_card(const ExplanationMethod& m, const Params& p) {
    const MethodCard& card = m.card();
    CardText c;
    c.title = std::string(m.title());
    c.what = std::string(card.what);
    c.colours = std::string(map_reading(m.traits().norm));
    if (!card.reading.empty()) c.colours.append(" ").append(card.reading);
    auto passes = expand_passes(m, p);
    c.cost = std::string(m.live() ? "Live (recomputed as settings change): "
                                  : "Job (runs on request, with progress): ") +
             (passes ? *passes : std::string(card.passes)) + ".";
    c.score = std::string("Explains the class's ") +
              (m.traits().default_score == Target::Score::kLogit ? "logit" : "probability") +
              " unless another score is chosen.";
    c.paper = std::string(card.paper) + ".";
    c.defaults = "Defaults follow " + std::string(card.anchor) + ".";
    return c;
}

std::string wrap_text(std::string_view text, int width, int indent) {
    std::string out;
    int column = indent;
    bool line_start = true;
    auto new_line = [&] {
        out.push_back('\n');
        out.append(static_cast<size_t>(indent), ' ');
        column = indent;
        line_start = true;
    };
    for (size_t i = 0; i < text.size();) {
        if (text[i] == '\n' || text[i] == ' ') {
            if (text[i] == '\n') new_line();
            ++i;
            continue;
        }
        const size_t end = std::min(text.find_first_of(" \n", i), text.size());
        const int len = static_cast<int>(end - i);
        if (!line_start && column + 1 + len > width) new_line();
        if (!line_start) out.push_back(' '), ++column;
        out.append(text.substr(i, end - i));
        column += len;
        line_start = false;
        i = end;
    }
    return out;
}

std::string card_text(const CardText& c, int width) {
    std::string s = c.title + "\n";
    for (const auto& [heading, body] :
         {std::pair<std::string_view, const std::string&>{"What it computes", c.what},
          {"Reading the map", c.colours},
          {"Cost", c.cost},
          {"Score", c.score},
          {"Paper", c.paper},
          {"Defaults", c.defaults}})
        s.append("\n")
            .append(heading)
            .append("\n  ")
            .append(wrap_text(body, width, 2))
            .append("\n");
    return s;
}

std::string_view stat_label(std::string_view key) {
    const StatDef* s = find_stat(key);
    return s ? s->label : key;
}

std::vector<std::string> ordered_stat_keys(const std::map<std::string, double>& stats) {
    std::vector<std::string> keys;
    for (const StatDef& s : all_stats())
        if (stats.count(std::string(s.key))) keys.emplace_back(s.key);
    for (const auto& [key, value] : stats)
        if (!find_stat(key)) keys.push_back(key);
    return keys;
}

}  // namespace cnnlens

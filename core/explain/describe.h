// Words for people about methods, their parameters and statistics, assembled from the facts on
// their definitions (ParamDef, MethodCard, MethodTraits, StatDef): the CLI's help and text, the
// app's labels, tooltips and method cards, and exports all read them here, so a sentence is
// written once, next to the thing it describes.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/explain/explain.h"

namespace cnnlens {

// A parameter value as a person writes it: a choice's label, else the number ("%g").
std::string param_value_text(const ParamDef& d, double v);
// The accepted values: "slic | quickshift", "1 to 4096, whole numbers", or d.range when set.
std::string param_range_text(const ParamDef& d);
// The tooltip: "<help>\nDefault: 100 (<anchor>).\nRange: 1 to 4096, whole numbers."
std::string param_tooltip(const ParamDef& d);

// How to read a map shown with `norm` in its default colours: signed or not, what bright means.
std::string_view map_reading(MapNorm norm);

// A method's card in sections, its cost counted for parameter values `p` (defaults where unset).
struct CardText {
    std::string title;    // "SmoothGrad"
    std::string what;     // what it computes
    std::string colours;  // how to read the map: map_reading() and the card's own note
    std::string cost;   // how it runs and its model passes: "Job (runs on request): 50 runs of ..."
    std::string score;  // the score it explains unless another is chosen
    std::string paper;  // authors, year, title
    std::string defaults;  // whose defaults it follows
};
CardText method_card(const ExplanationMethod& m, const Params& p = {});
// The card's passes with each "{name}" replaced by parameter `name`'s value in `p`; an error
// naming the placeholder when the method has no such parameter or a brace is unclosed.
Expected<std::string> expand_passes(const ExplanationMethod& m, const Params& p);
// The card as plain text: the title, then one paragraph per section with its heading, each
// wrapped at `width` columns.
std::string card_text(const CardText& c, int width = 80);
// `text` wrapped at `width` columns (words never split; a newline starts a new line), the first
// line taken to start at column `indent` and every later one indented by `indent` spaces.
std::string wrap_text(std::string_view text, int width, int indent = 0);

// A statistic's label ("Fit (R^2)" for r2), or its key when stat_list.inc has no entry.
std::string_view stat_label(std::string_view key);
// The keys of `stats` in stat_list.inc's order (the class score first), keys without an entry last.
std::vector<std::string> ordered_stat_keys(const std::map<std::string, double>& stats);

}  // namespace cnnlens

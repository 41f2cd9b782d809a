// Words for people: every parameter, statistic and method of the registry has them, and the
// tooltip and card text are assembled from the definitions as describe.h says.
#include "core/explain/describe.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/explain/filters.h"

namespace cnnlens {
namespace {

// What a parameter lacks, as one line naming it ("" when nothing).
std::string missing_words(std::string_view owner, const ParamDef& d) {
    std::string lacks;
    if (d.label.empty()) lacks += " .label";
    if (d.help.empty()) lacks += " .help";
    if (d.anchor.empty()) lacks += " .anchor";
    if (lacks.empty()) return {};
    return std::string(owner) + " parameter '" + std::string(d.name) + "' has no" + lacks +
           " (what the app shows, what it changes, where its default comes from)\n";
}

// The registry walk: every parameter of every method (and of filter visualization, which the
// app also shows) has a label, a help sentence and the anchor of its default.
TEST(Describe, EveryParameterHasALabelAndATooltip) {
    std::string missing;
    for (const ExplanationMethod* m : all_methods())
        for (const ParamDef& d : m->params())
            missing += missing_words("method '" + std::string(m->name()) + "'", d);
    for (const ParamDef& d : ascent_param_defs())
        missing += missing_words("filter visualization", d);
    EXPECT_EQ(missing, "");
}

// Every method has a card: what it computes, its cost (whose placeholders name its parameters),
// its paper and the anchor of its defaults.
TEST(Describe, EveryMethodHasACard) {
    std::string missing;
    for (const ExplanationMethod* m : all_methods()) {
        const MethodCard& c = m->card();
        std::string lacks;
        if (c.what.empty()) lacks += " .what";
        if (c.passes.empty()) lacks += " .passes";
        if (c.paper.empty()) lacks += " .paper";
        if (c.anchor.empty()) lacks += " .anchor";
        if (!lacks.empty())
            missing += "method '" + std::string(m->name()) + "' card has no" + lacks + "\n";
        if (auto p = expand_passes(*m, {}); !p) missing += p.status().message() + "\n";
    }
    EXPECT_EQ(missing, "");
}

// The statistics' list: unique keys, each with a label and a tooltip. (Which keys the methods
// write is checked where every method runs: methods_test.cpp.)
TEST(Describe, EveryStatisticEntryHasWords) {
    std::set<std::string_view> keys;
    for (const StatDef& s : all_stats()) {
        SCOPED_TRACE(std::string(s.key));
        EXPECT_TRUE(keys.insert(s.key).second) << "duplicate key";
        EXPECT_FALSE(s.label.empty());
        EXPECT_FALSE(s.help.empty());
        EXPECT_EQ(find_stat(s.key), &s);
    }
    EXPECT_EQ(find_stat("no_such_statistic"), nullptr);
    EXPECT_EQ(stat_label("r2"), "Fit (R^2)");
    EXPECT_EQ(stat_label("no_such_statistic"), "no_such_statistic");
    const std::map<std::string, double> stats = {{"r2", 0.5}, {"zz_unlisted", 1}, {"score", 2}};
    EXPECT_EQ(ordered_stat_keys(stats), (std::vector<std::string>{"score", "r2", "zz_unlisted"}));
}

TEST(Describe, TooltipSaysWhatTheDefaultAndTheRange) {
    const ParamDef d{.name = "n_segments",
                     .label = "Superpixels",
                     .def = 100,
                     .min = 1,
                     .max = 4096,
                     .integer = true,
                     .help = "SLIC seeds.",
                     .anchor = "LIME's faces notebook"};
    EXPECT_EQ(
        param_tooltip(d),
        "SLIC seeds.\nDefault: 100 (LIME's faces notebook).\nRange: 1 to 4096, whole numbers.");
    const ParamDef c{.name = "hide",
                     .label = "Hidden parts",
                     .def = 1,
                     .min = 0,
                     .max = 1,
                     .integer = true,
                     .choices = {"zero", "segment mean"},
                     .help = "What hides.",
                     .anchor = "lime"};
    EXPECT_EQ(param_tooltip(c),
              "What hides.\nDefault: segment mean (lime).\nRange: zero | segment mean.");
    EXPECT_EQ(param_value_text(c, 0), "zero");
    EXPECT_EQ(param_value_text(c, 0.5), "0.5");  // not a choice's index: the number
    const ParamDef r{.name = "noise",
                     .label = "Noise",
                     .def = 0.15,
                     .min = 0,
                     .max = 1,
                     .help = "h",
                     .anchor = "a"};
    EXPECT_EQ(param_range_text(r), "0 to 1");
    const ParamDef& layer = *find_method("gradcam")->find_param("layer");
    EXPECT_EQ(param_range_text(layer), layer.range);  // words, not "-1 to 1e+09"
}

// The card of SmoothGrad from its definition: the passes follow the parameters given, the
// reading follows its norm (unsigned), the score its traits.
TEST(Describe, CardIsAssembledFromTheDefinition) {
    const ExplanationMethod& m = *find_method("smoothgrad");
    const CardText d = method_card(m);
    EXPECT_EQ(d.title, "SmoothGrad");
    EXPECT_EQ(d.what, m.card().what);
    EXPECT_EQ(d.colours, map_reading(MapNorm::kPercentile99));
    EXPECT_EQ(d.cost.rfind("Job (", 0), 0u) << d.cost;
    EXPECT_NE(d.cost.find("50 runs of saliency, 50 copies per engine call"), std::string::npos)
        << d.cost;
    const CardText p = method_card(m, Params().set("samples", 200).set("base", 3));
    EXPECT_NE(p.cost.find("200 runs of ig"), std::string::npos) << p.cost;
    EXPECT_EQ(d.score, "Explains the class's logit unless another score is chosen.");
    EXPECT_EQ(d.paper, std::string(m.card().paper) + ".");
    EXPECT_EQ(d.defaults, "Defaults follow " + std::string(m.card().anchor) + ".");
    // A signed live method: its reading says so, and the card's own note follows it.
    const CardText g = method_card(*find_method("guided_gradcam"));
    EXPECT_EQ(g.colours.rfind(std::string(map_reading(MapNorm::kSignedPercentile99)), 0), 0u);
    EXPECT_NE(g.colours.find(find_method("guided_gradcam")->card().reading), std::string::npos);
    EXPECT_EQ(g.cost.rfind("Live (", 0), 0u);
    EXPECT_EQ(method_card(*find_method("lime")).score,
              "Explains the class's probability unless another score is chosen.");
}

TEST(Describe, CardTextWrapsEverySection) {
    const std::string t = card_text(method_card(*find_method("lime")), 60);
    EXPECT_EQ(t.rfind("LIME\n\nWhat it computes\n  Cuts the image", 0), 0u) << t;
    for (std::string_view h :
         {"\nReading the map\n", "\nCost\n", "\nScore\n", "\nPaper\n  Ribeiro", "\nDefaults\n"})
        EXPECT_NE(t.find(h), std::string::npos) << h;
    size_t start = 0;
    for (size_t end; (end = t.find('\n', start)) != std::string::npos; start = end + 1)
        EXPECT_LE(end - start, 60u) << t.substr(start, end - start);
}

TEST(Describe, WrapBreaksAtSpacesAndKeepsNewlines) {
    EXPECT_EQ(wrap_text("aaa bbb ccc", 7), "aaa bbb\nccc");
    EXPECT_EQ(wrap_text("aaa bbb ccc", 9, 2), "aaa bbb\n  ccc");
    EXPECT_EQ(wrap_text("one\ntwo", 80, 1), "one\n two");
    EXPECT_EQ(wrap_text("abcdefghij", 4), "abcdefghij");  // a word longer than the line stays whole
}

}  // namespace
}  // namespace cnnlens

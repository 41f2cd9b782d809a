// core/report/report.cpp on the bundled model and three faces of course_10.csv, with few samples:
// the files and the two pages, a self-contained page with nothing outside it, a stepped build
// that is cancelled on the way ending in the same report, and the inputs it refuses.
#include "core/report/report.h"

#include <gtest/gtest.h>

#include <string>

#include "core/explain/probe.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

Dataset small_set(size_t n = 3) {
    DatasetOptions o;
    o.class_names = test::default_model().spec.classes;
    auto d = read_dataset(test::source_path("tests/data/eval/course_10.csv"), o);
    EXPECT_TRUE(d.has_value()) << d.status().message();
    if (!d) return {};
    d->items.resize(std::min(n, d->items.size()));
    return std::move(*d);
}

ReportOptions quick_options() {
    ReportOptions o;
    o.seed = 5;
    o.lime_samples = 40;
    o.smoothgrad_samples = 3;
    o.ascent.steps = 3;
    o.ascent.seed = 5;
    o.max_filters = 3;
    o.kernels = "reference";
    return o;
}

std::string text_of(const ReportFile& f) { return {f.bytes.begin(), f.bytes.end()}; }

// The page with every src="..." emptied; the values go to `srcs`, in order.
std::string split_src(const std::string& page, std::vector<std::string>& srcs) {
    std::string out;
    size_t at = 0;
    for (;;) {
        const size_t k = page.find("src=\"", at);
        if (k == std::string::npos) break;
        const size_t end = page.find('"', k + 5);
        srcs.push_back(page.substr(k + 5, end - k - 5));
        out += page.substr(at, k + 5 - at);
        at = end;
    }
    return out + page.substr(at);
}

TEST(Report, DataUriIsBase64) {
    auto uri = [](std::string_view s) {
        return data_uri("text/plain", {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    };
    EXPECT_EQ(uri("Man"), "data:text/plain;base64,TWFu");
    EXPECT_EQ(uri("Ma"), "data:text/plain;base64,TWE=");
    EXPECT_EQ(uri("M"), "data:text/plain;base64,TQ==");
    EXPECT_EQ(uri(""), "data:text/plain;base64,");
}

class ReportTest : public ::testing::Test {
protected:
    ReportTest() : probe(test::default_model(), *select_kernel_set()) {}
    GraphProbe probe;
};

TEST_F(ReportTest, WritesItsFilesAndASelfContainedPage) {
    auto rep = build_report(probe, small_set(), quick_options());
    ASSERT_TRUE(rep.has_value()) << rep.status().message();
    std::vector<std::string> names;
    for (const ReportFile& f : rep->files) names.push_back(f.name);
    EXPECT_EQ(names, (std::vector<std::string>{
                         "index.html", "1_saliency_masks.png", "2_filters.png", "2_featuremaps.png",
                         "3_lime.png", "3_confusion_counts.png", "3_confusion_normalized.png",
                         "4_smoothgrad.png", "confusion.json", "5_trust.json"}));
    EXPECT_EQ(rep->confusion.total(), 3);
    EXPECT_GE(rep->images, 1);
    EXPECT_EQ(rep->trust.rows.size(), 4u);  // saliency, SmoothGrad, LIME, the random map

    const std::string index = text_of(*rep->find("index.html"));
    const std::string& html = rep->html;
    // The same page: index.html names the files, report.html holds their bytes.
    // (By hand: std::regex recurses per character and overflows the stack on a 4 MB page.)
    std::vector<std::string> index_src, html_src;
    const std::string a = split_src(index, index_src), b = split_src(html, html_src);
    ASSERT_EQ(index_src.size(), 7u);
    ASSERT_EQ(html_src.size(), index_src.size());
    for (size_t i = 0; i < index_src.size(); ++i) {
        const ReportFile* f = rep->find(index_src[i]);
        ASSERT_TRUE(f) << index_src[i];
        EXPECT_EQ(html_src[i], data_uri("image/png", f->bytes)) << index_src[i];
    }
    // Outside the pictures the two pages are the same text.
    EXPECT_EQ(a, b);
    // Nothing outside the file: no address, no reference but data: URIs. Searched outside the
    // pictures: base64 may spell any word.
    EXPECT_EQ(b.find("http"), std::string::npos);
    EXPECT_EQ(b.find("href"), std::string::npos);
    EXPECT_EQ(b.find("url("), std::string::npos);
    for (const char* section :
         {"<h2>1. Saliency maps", "<h2>2. What the filters", "<h2>3. LIME per class",
          "<h2>4. SmoothGrad per class", "<h2>5. How far to trust", "<svg"})
        EXPECT_NE(html.find(section), std::string::npos) << section;
    EXPECT_NE(html.find("kernels reference, seed 5"), std::string::npos);
    EXPECT_NE(text_of(*rep->find("5_trust.json")).find("\"ranking\":[{\"method\":"),
              std::string::npos);
    auto zip = rep->zip();
    ASSERT_TRUE(zip.has_value());
    EXPECT_GT(zip->size(), html.size() / 2);
}

// Cancelling a step (the page's Cancel, or a frame that needs the thread) changes nothing: the
// report built with cancels on the way is the one built straight through.
TEST_F(ReportTest, ACancelledStepIsRedoneAndTheReportIsTheSame) {
    auto straight = build_report(probe, small_set(1), quick_options());
    ASSERT_TRUE(straight.has_value()) << straight.status().message();
    auto b = ReportBuilder::create(probe, small_set(1), quick_options());
    ASSERT_TRUE(b.has_value()) << b.status().message();
    int calls = 0, cancels = 0, steps = 0;
    float last = 0.f;
    while (!b->done()) {
        const float before = b->progress();
        const std::string stage = b->stage();
        EXPECT_GE(before, last);
        last = before;
        // Every third step is stopped at its first progress report.
        const bool cancel = ++steps % 3 == 0;
        Status s = b->step([&](float f) {
            ++calls;
            EXPECT_GE(f, 0.f);
            EXPECT_LE(f, 1.f);
            return !cancel;
        });
        if (!s && s.code() == ErrorCode::kCancelled) {
            ++cancels;
            EXPECT_EQ(b->progress(), before);
            EXPECT_EQ(b->stage(), stage);
            continue;
        }
        ASSERT_TRUE(s) << s.message();
    }
    EXPECT_GT(cancels, 3);
    EXPECT_GT(calls, 10);
    EXPECT_EQ(b->progress(), 1.f);
    EXPECT_EQ(b->stage(), "done");
    EXPECT_EQ(b->report()->html, straight->html);
}

TEST_F(ReportTest, AConfusionMatrixFromElsewhereIsUsedWhenItFits) {
    Dataset d = small_set();
    auto cm = evaluate(probe, d);
    ASSERT_TRUE(cm.has_value());
    auto b = ReportBuilder::create(probe, small_set(), quick_options());
    ASSERT_TRUE(b.has_value());
    EXPECT_NE(b->stage().find("confusion matrix"), std::string::npos);
    ASSERT_TRUE(b->use_confusion(*cm));
    EXPECT_EQ(b->stage().rfind("saliency for ", 0), 0u) << b->stage();
    auto other = evaluate(probe, small_set(2));
    ASSERT_TRUE(other.has_value());
    auto b2 = ReportBuilder::create(probe, small_set(), quick_options());
    Status s = b2->use_confusion(*other);
    EXPECT_FALSE(s);
    EXPECT_NE(s.message().find("not the labeled set's"), std::string::npos) << s.message();
}

TEST_F(ReportTest, RefusesAnEmptySetOtherClassesAndNoSamples) {
    Dataset empty = small_set();
    empty.items.clear();
    auto a = ReportBuilder::create(probe, empty, quick_options());
    ASSERT_FALSE(a.has_value());
    EXPECT_NE(a.status().message().find("has no items"), std::string::npos);
    Dataset two = small_set();
    two.class_names.resize(2);
    auto b = ReportBuilder::create(probe, two, quick_options());
    ASSERT_FALSE(b.has_value());
    EXPECT_NE(b.status().message().find("has 2 classes, the model 7"), std::string::npos)
        << b.status().message();
    ReportOptions o = quick_options();
    o.lime_samples = 0;
    auto c = ReportBuilder::create(probe, small_set(), o);
    ASSERT_FALSE(c.has_value());
    EXPECT_NE(c.status().message().find("LIME samples (0)"), std::string::npos);
    o = quick_options();
    o.layer = probe.layers().back().node;  // the probabilities: no feature maps
    auto d = ReportBuilder::create(probe, small_set(), o);
    ASSERT_FALSE(d.has_value());
    EXPECT_NE(d.status().message().find("no layer with feature maps"), std::string::npos);
}

}  // namespace
}  // namespace cnnlens

// wasm/app/session_panels.cpp's ReportRun, natively: the faces at hand when no labeled set is
// open (and the report says so), the labeled set with the Confusion tab's matrix when there is
// one, and Cancel.
#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "wasm/app/session.h"
#include "wasm/app/session_panels.h"

namespace cnnlens::app {
namespace {

ReportOptions quick() {
    ReportOptions o;
    o.lime_samples = 30;
    o.smoothgrad_samples = 2;
    o.ascent.steps = 2;
    o.max_filters = 2;
    return o;
}

class SessionReportTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(
            s.load_models(directory_source(test::source_path("models/fer2013-mini-xception")),
                          directory_source(test::source_path("models/blazeface"))));
        const auto photo = test::read_file(test::source_path("tests/data/astronaut.jpg"));
        ASSERT_TRUE(s.open_photo(photo, "astronaut.jpg"));
    }
    // Steps the panels until nothing is left (each step as the platform runs it).
    void run_all() {
        for (int i = 0; i < 1000 && panels_busy(s, s.panel_work()); ++i)
            ASSERT_TRUE(step_panels(s, s.panel_work()));
    }
    Session s;
};

TEST_F(SessionReportTest, WithoutALabeledSetTheFacesAtHandAreLabelledByTheirPrediction) {
    PanelWork& w = s.panel_work();
    ASSERT_TRUE(w.report.start(s, w, quick(), false));
    EXPECT_TRUE(w.report.faces_at_hand);
    EXPECT_EQ(w.report.source, "astronaut.jpg (1 faces at hand)");
    EXPECT_TRUE(panels_busy(s, w));
    run_all();
    ASSERT_TRUE(w.report.report) << w.report.error;
    EXPECT_EQ(w.report.progress, 1.f);
    const Report& r = *w.report.report;
    EXPECT_EQ(r.images, 1);
    EXPECT_EQ(r.confusion.accuracy(), 1.0);  // its own predictions
    EXPECT_NE(r.html.find("No labeled set: the 1 face found in astronaut.jpg, each labelled by its "
                          "predicted class"),
              std::string::npos);
    EXPECT_NE(r.html.find("(faces at hand, 1 images)"), std::string::npos);
}

TEST_F(SessionReportTest, UsesTheLabeledSetAndStopsOnCancel) {
    PanelWork& w = s.panel_work();
    // The course set's first three faces (three classes): the report's work grows with them.
    const auto bytes = test::read_file(test::source_path("tests/data/eval/course_10.csv"));
    std::string csv(bytes.begin(), bytes.end());
    size_t end = 0;
    for (int line = 0; line < 4; ++line) end = csv.find('\n', end) + 1;
    csv.resize(end);
    ASSERT_TRUE(w.confusion.open(s, csv, "course_3.csv"));
    ASSERT_TRUE(w.report.start(s, w, quick(), false));
    EXPECT_FALSE(w.report.faces_at_hand);
    EXPECT_EQ(w.report.source, "course_3.csv (3 faces)");
    w.report.stop();
    EXPECT_TRUE(w.report.active());
    EXPECT_FALSE(w.report.running());
    const int v = w.report.version;
    ASSERT_TRUE(w.report.step(s));
    EXPECT_EQ(w.report.version, v) << "a stopped report does not step";
    w.report.resume();
    run_all();
    ASSERT_TRUE(w.report.report) << w.report.error;
    EXPECT_EQ(w.report.report->confusion.total(), 3);
    EXPECT_EQ(w.report.report->confusion.to_json(), w.confusion.matrix->to_json());
    EXPECT_GE(w.report.report->images, 2);
    EXPECT_NE(w.report.report->html.find("data <b>course_3.csv</b> (label,feature csv, 3 images)"),
              std::string::npos);
    // The faces at hand on request, though a set is open.
    ASSERT_TRUE(w.report.start(s, w, quick(), true));
    EXPECT_TRUE(w.report.faces_at_hand);
    EXPECT_FALSE(w.report.report);
}

}  // namespace
}  // namespace cnnlens::app

// Photos as phones and the web save them, opened the way the app opens a dropped file
// (Session::open_photo: decode, find faces, classify): the same photo stored in all eight EXIF
// orientations gives the same upright photo, face box and probabilities; WebP and AVIF photos
// open natively.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/test_util.h"
#include "wasm/app/session.h"

namespace cnnlens::app {
namespace {

class SessionPhotos : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        session = new Session;
        ASSERT_TRUE(session->load_models(
            directory_source(test::source_path("models/fer2013-mini-xception")),
            directory_source(test::source_path("models/blazeface"))));
    }
    static void TearDownTestSuite() {
        delete session;
        session = nullptr;
    }
    static Status open(const std::string& relative) {
        const auto bytes = test::read_file(test::source_path(relative));
        return session->open_photo(bytes, relative.substr(relative.find_last_of('/') + 1));
    }
    static Session* session;
};
Session* SessionPhotos::session = nullptr;

struct Seen {
    int width, height;
    FaceBox box;
    std::vector<float> probs;
};

// Each of the eight files opened, its one face and that face's probabilities.
std::vector<Seen> open_eight(Session& s, const char* ext) {
    std::vector<Seen> seen;
    for (int o = 1; o <= 8; ++o) {
        const std::string file =
            "tests/data/photos/orientation/astronaut_" + std::to_string(o) + ext;
        const Status st = s.open_photo(test::read_file(test::source_path(file)), file);
        EXPECT_TRUE(st) << st.message();
        EXPECT_EQ(s.faces().size(), 1u) << file;
        if (!st || s.faces().size() != 1) return {};
        seen.push_back({s.photo().width, s.photo().height, s.faces()[0].box, s.faces()[0].probs});
    }
    return seen;
}

// The fixtures' PNGs hold exactly the same upright pixels, so everything after decoding is the
// same computation: one box, one set of probabilities (the limit of the issue is 1e-5).
TEST_F(SessionPhotos, EightOrientationsOfAPngAreOnePhoto) {
    const std::vector<Seen> seen = open_eight(*session, ".png");
    ASSERT_EQ(seen.size(), 8u);
    EXPECT_EQ(session->class_names()[static_cast<size_t>(session->faces()[0].top)], "happy");
    for (size_t o = 0; o < 8; ++o) {
        SCOPED_TRACE("orientation " + std::to_string(o + 1));
        EXPECT_EQ(seen[o].width, 320);
        EXPECT_EQ(seen[o].height, 272);
        EXPECT_FLOAT_EQ(seen[o].box.x, seen[0].box.x);
        EXPECT_FLOAT_EQ(seen[o].box.y, seen[0].box.y);
        EXPECT_FLOAT_EQ(seen[o].box.width, seen[0].box.width);
        EXPECT_FLOAT_EQ(seen[o].box.height, seen[0].box.height);
        for (size_t k = 0; k < seen[0].probs.size(); ++k)
            EXPECT_NEAR(seen[o].probs[k], seen[0].probs[k], 1e-5) << "class " << k;
    }
    // Upright coordinates: the face sits where it is in the upright crop of astronaut.jpg
    // (x 112..432, y 32..304 of the photo; the oracle face at cols 170..286, rows 70..186).
    EXPECT_NEAR(seen[0].box.x + seen[0].box.width / 2, 228 - 112, 15);
    EXPECT_NEAR(seen[0].box.y + seen[0].box.height / 2, 128 - 32, 20);
}

// The JPEGs were turned losslessly (jpegtran), but stb_image's inverse DCT rounds differently
// on transposed and mirrored blocks: pixels differ by up to 3 levels, so boxes and
// probabilities agree closely rather than exactly (measured: 0.04 px, 2e-7).
TEST_F(SessionPhotos, EightOrientationsOfAJpegAgree) {
    const std::vector<Seen> seen = open_eight(*session, ".jpg");
    ASSERT_EQ(seen.size(), 8u);
    double box_err = 0, prob_err = 0;
    for (size_t o = 0; o < 8; ++o) {
        EXPECT_EQ(seen[o].width, 320);
        EXPECT_EQ(seen[o].height, 272);
        for (float d : {seen[o].box.x - seen[0].box.x, seen[o].box.y - seen[0].box.y,
                        seen[o].box.width - seen[0].box.width})
            box_err = std::max(box_err, static_cast<double>(std::abs(d)));
        for (size_t k = 0; k < seen[0].probs.size(); ++k)
            prob_err = std::max(prob_err,
                                static_cast<double>(std::abs(seen[o].probs[k] - seen[0].probs[k])));
    }
    std::printf("8 orientations of a JPEG: face boxes within %.3f px, probabilities within %.2e\n",
                box_err, prob_err);
    EXPECT_LT(box_err, 0.5);
    EXPECT_LT(prob_err, 1e-5);
}

TEST_F(SessionPhotos, WebPAndAvifOpenNatively) {
    for (const char* ext : {"webp", "avif"}) {
        const Status st = open(std::string("tests/data/photos/astronaut.") + ext);
        const bool here = std::string(ext) == "webp" ? test::kHaveWebp : test::kHaveAvif;
        if (!here) {
            EXPECT_NE(st.message().find("is not decodable here"), std::string::npos)
                << st.message();
            continue;
        }
        ASSERT_TRUE(st) << st.message();
        ASSERT_EQ(session->faces().size(), 1u) << ext;
        EXPECT_EQ(session->class_names()[static_cast<size_t>(session->faces()[0].top)], "happy")
            << ext;
    }
}

}  // namespace
}  // namespace cnnlens::app

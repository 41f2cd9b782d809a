// Confusion matrix on a closed-form probe that classifies by mean brightness, so every count,
// cell list and rate is known exactly; batching, cancel, errors and the JSON export.
#include "core/eval/confusion.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace cnnlens {
namespace {

// Class = floor(7 * mean brightness) (clamped): logit_c = -(7 * mean - (c + 0.5))^2.
class BrightnessProbe final : public ModelProbe {
public:
    BrightnessProbe() {
        spec_.height = spec_.width = 8;
        spec_.channels = 1;
        names_.assign(fer2013_class_names().begin(), fer2013_class_names().end());
    }
    Expected<ProbeResult> run(const Tensor& batch, const ProbeRequest&) override {
        ++runs;
        max_seen = std::max<int64_t>(max_seen, batch.shape()[0]);
        const int64_t n = batch.shape()[0], per = batch.size() / n;
        ProbeResult r;
        r.logits.reset(Shape{n, 7});
        for (int64_t i = 0; i < n; ++i) {
            double m = 0;
            for (int64_t k = 0; k < per; ++k) m += batch[i * per + k];
            m /= static_cast<double>(per);
            for (int c = 0; c < 7; ++c)
                r.logits[i * 7 + c] =
                    static_cast<float>(-(7 * m - (c + 0.5)) * (7 * m - (c + 0.5)));
        }
        r.probs = softmax_rows(r.logits);
        return r;
    }
    const InputSpec& input_spec() const override { return spec_; }
    int num_classes() const override { return 7; }
    const std::vector<std::string>& class_names() const override { return names_; }
    int max_batch() const override { return 4; }
    int runs = 0;
    int64_t max_seen = 0;

private:
    InputSpec spec_;
    std::vector<std::string> names_;
};

// A 12x12 image of one gray value (resampled to the probe's 8x8), or RGB (v, v, v).
Image flat(int v, int channels = 1) {
    Image im;
    im.width = im.height = 12;
    im.channels = channels;
    im.pixels.assign(static_cast<size_t>(12 * 12 * channels), static_cast<uint8_t>(v));
    return im;
}

// Bin centres of floor(7 * v / 255): class c for value 36.4 * (c + 0.5).
constexpr int kValue[7] = {18, 55, 91, 128, 164, 200, 237};

Dataset brightness_set() {
    // (label, predicted class) pairs.
    const int items[10][2] = {{0, 0}, {0, 1}, {1, 1}, {3, 3}, {3, 3},
                              {3, 5}, {5, 3}, {6, 6}, {2, 2}, {3, 0}};
    Dataset d;
    d.source = "brightness";
    d.class_names.assign(fer2013_class_names().begin(), fer2013_class_names().end());
    for (int i = 0; i < 10; ++i)
        d.items.push_back(
            {items[i][0], "item " + std::to_string(i), flat(kValue[items[i][1]], i == 4 ? 3 : 1)});
    return d;
}

TEST(Confusion, ClosedFormCountsCellsAndRates) {
    BrightnessProbe probe;
    auto m = evaluate(probe, brightness_set());
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_EQ(probe.max_seen, 4);  // probe.max_batch() sized batches
    EXPECT_EQ(probe.runs, 3);
    EXPECT_EQ(m->num_classes, 7);
    EXPECT_EQ(m->total(), 10);
    const std::vector<int> pred = {0, 1, 1, 3, 3, 5, 3, 6, 2, 0};
    EXPECT_EQ(m->predictions, pred);
    int64_t expected[7][7] = {};
    expected[0][0] = 1;
    expected[0][1] = 1;
    expected[1][1] = 1;
    expected[2][2] = 1;
    expected[3][3] = 2;
    expected[3][5] = 1;
    expected[3][0] = 1;
    expected[5][3] = 1;
    expected[6][6] = 1;
    for (int t = 0; t < 7; ++t)
        for (int p = 0; p < 7; ++p) EXPECT_EQ(m->count(t, p), expected[t][p]) << t << "," << p;
    EXPECT_EQ(m->cell(3, 3), (std::vector<int>{3, 4}));
    EXPECT_EQ(m->cell(3, 5), (std::vector<int>{5}));
    EXPECT_EQ(m->cell(5, 3), (std::vector<int>{6}));
    EXPECT_EQ(m->cell(3, 0), (std::vector<int>{9}));
    EXPECT_EQ(m->cell(0, 1), (std::vector<int>{1}));
    EXPECT_TRUE(m->cell(4, 4).empty());

    EXPECT_DOUBLE_EQ(m->accuracy(), 0.6);
    EXPECT_EQ(m->support(3), 4);
    EXPECT_EQ(m->predicted(3), 3);
    EXPECT_DOUBLE_EQ(m->recall(3), 0.5);
    EXPECT_DOUBLE_EQ(m->normalized(3, 5), 0.25);
    EXPECT_DOUBLE_EQ(m->precision(3), 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(m->f1(3), 2 * 0.5 * (2.0 / 3.0) / (0.5 + 2.0 / 3.0));
    EXPECT_DOUBLE_EQ(m->precision(0), 0.5);
    EXPECT_DOUBLE_EQ(m->recall(5), 0.0);
    EXPECT_DOUBLE_EQ(m->precision(5), 0.0);
    EXPECT_TRUE(std::isnan(m->precision(4)));  // nothing predicted as sad
    EXPECT_TRUE(std::isnan(m->recall(4)));     // and no sad items
    EXPECT_TRUE(std::isnan(m->f1(4)));
    EXPECT_TRUE(std::isnan(m->normalized(4, 0)));
    EXPECT_DOUBLE_EQ(m->f1(2), 1.0);
    ASSERT_EQ(m->probs.size(), 70u);
    EXPECT_GT(m->probs[3 * 7 + 3], 0.5f);
}

TEST(Confusion, BatchSizeDoesNotChangeTheResult) {
    BrightnessProbe a, b;
    auto m1 = evaluate(a, brightness_set(), 1);
    auto m3 = evaluate(b, brightness_set(), 3);
    ASSERT_TRUE(m1 && m3);
    EXPECT_EQ(a.runs, 10);
    EXPECT_EQ(b.max_seen, 3);
    EXPECT_EQ(m1->counts, m3->counts);
    EXPECT_EQ(m1->cells, m3->cells);
    EXPECT_EQ(m1->probs, m3->probs);
}

TEST(Confusion, CancelAndErrors) {
    BrightnessProbe probe;
    std::vector<float> seen;
    auto c = evaluate(probe, brightness_set(), 3, [&](float f) {
        seen.push_back(f);
        return f < 0.5f;
    });
    ASSERT_FALSE(c);
    EXPECT_EQ(c.status().code(), ErrorCode::kCancelled);
    EXPECT_EQ(c.status().message(), "evaluation cancelled after 6 of 10 items");
    EXPECT_EQ(seen.size(), 2u);

    Dataset bad = brightness_set();
    bad.items[7].label = 7;
    auto r = evaluate(probe, bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.status().message(),
              "dataset item 'item 7': label 7 is out of range (the model has 7 classes)");
    Dataset three = brightness_set();
    three.class_names.resize(3);
    auto t = evaluate(probe, three);
    ASSERT_FALSE(t);
    EXPECT_NE(t.status().message().find("has 3 classes, the model 7"), std::string::npos);
    Dataset empty;
    empty.class_names = three.class_names;
    empty.class_names.resize(7);
    EXPECT_FALSE(evaluate(probe, empty));
}

// An image model sees a photo of another aspect center-cropped (photo_to_input), as predict
// does: a 24x12 image whose middle 12x12 is class 5's brightness and whose sides are class 0's
// is class 5 when cropped, and the mean of both (class 2 or 3) when stretched.
TEST(Confusion, ImageModelsSeeTheCenterCrop) {
    Image wide;
    wide.width = 24, wide.height = 12, wide.channels = 1;
    wide.pixels.assign(24 * 12, static_cast<uint8_t>(kValue[0]));
    for (int y = 0; y < 12; ++y)
        for (int x = 6; x < 18; ++x)
            wide.pixels[static_cast<size_t>(y * 24 + x)] = static_cast<uint8_t>(kValue[5]);
    Dataset d;
    d.source = "wide";
    d.class_names.assign(fer2013_class_names().begin(), fer2013_class_names().end());
    d.items.push_back({5, "wide", wide});
    BrightnessProbe probe;
    auto cropped = evaluate(probe, d, 0, {}, true);
    ASSERT_TRUE(cropped) << cropped.status().message();
    EXPECT_EQ(cropped->predictions[0], 5);
    auto stretched = evaluate(probe, d);
    ASSERT_TRUE(stretched) << stretched.status().message();
    EXPECT_NE(stretched->predictions[0], 5);
}

TEST(Confusion, JsonExport) {
    BrightnessProbe probe;
    auto m = evaluate(probe, brightness_set());
    ASSERT_TRUE(m);
    const auto j = nlohmann::json::parse(m->to_json());
    EXPECT_EQ(j["classes"][3], "happy");
    EXPECT_EQ(j["total"], 10);
    EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 0.6);
    EXPECT_EQ(j["counts"][3][5], 1);
    EXPECT_EQ(j["counts"][3][3], 2);
    EXPECT_DOUBLE_EQ(j["normalized"][3][3].get<double>(), 0.5);
    EXPECT_TRUE(j["normalized"][4][4].is_null());
    EXPECT_EQ(j["cells"][3][3], nlohmann::json::array({3, 4}));
    EXPECT_EQ(j["per_class"][3]["name"], "happy");
    EXPECT_EQ(j["per_class"][3]["support"], 4);
    EXPECT_EQ(j["per_class"][3]["predicted"], 3);
    EXPECT_DOUBLE_EQ(j["per_class"][3]["precision"].get<double>(), 2.0 / 3.0);
    EXPECT_TRUE(j["per_class"][4]["precision"].is_null());
    EXPECT_DOUBLE_EQ(j["per_class"][5]["precision"].get<double>(), 0.0);
}

TEST(Confusion, FromLabelsAndPredictions) {
    const std::vector<std::string> names = {"a", "b"};
    ConfusionMatrix m = make_confusion_matrix({0, 0, 1, 1, 1}, {0, 1, 1, 1, 0}, names);
    EXPECT_EQ(m.count(0, 0), 1);
    EXPECT_EQ(m.count(1, 1), 2);
    EXPECT_EQ(m.cell(1, 0), (std::vector<int>{4}));
    EXPECT_DOUBLE_EQ(m.accuracy(), 0.6);
    EXPECT_TRUE(m.probs.empty());
}

}  // namespace
}  // namespace cnnlens

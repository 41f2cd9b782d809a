// Hostile input: every file of the bad-input catalogue (tests/data/bad/catalogue.json) is refused
// with its expected sentence, the limits of core/base/limits.h hold at their edges, and batches
// too large for the activation limit are split rather than refused.
#include "core/base/limits.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "core/eval/dataset.h"
#include "core/explain/probe.h"
#include "core/image/image.h"
#include "core/import/model.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;

const std::string kBad = "tests/data/bad/";

// The error of opening one catalogue entry the way the CLI and the app open that kind of file.
Status open_bad(const std::string& kind, const std::string& path) {
    if (kind == "image") return load_image(path).status();
    if (kind == "model") return load_model(path).status();
    if (kind == "csv") return read_csv_dataset(path).status();
    return invalid_argument("unknown kind '" + kind + "' in the catalogue");
}

bool decodable_here(const std::string& format) {
#if CNNLENS_HAVE_WEBP
    if (format == "WebP") return true;
#endif
#if CNNLENS_HAVE_AVIF
    if (format == "AVIF") return true;
#endif
    return false;
}

json catalogue() {
    const auto bytes = test::read_file(test::source_path(kBad + "catalogue.json"));
    return json::parse(bytes.begin(), bytes.end(), nullptr, false);
}

TEST(BadInputs, EveryCatalogueEntryFailsWithItsMessage) {
    const json cat = catalogue();
    ASSERT_TRUE(cat.is_array()) << "tests/data/bad/catalogue.json is not a JSON list";
    ASSERT_GE(cat.size(), 25u);
    std::map<std::string, int> kinds;
    for (const json& e : cat) {
        const std::string file = e.at("file"), kind = e.at("kind");
        // A format only native builds decode ("needs"): elsewhere the error names the format.
        const std::string needs = e.value("needs", "");
        const std::string expect = needs.empty() || decodable_here(needs)
                                       ? std::string(e.at("expect"))
                                       : needs + " is not decodable here";
        SCOPED_TRACE(file + " (" + e.value("what", "") + ")");
        ++kinds[kind];
        const Status st = open_bad(kind, test::source_path(kBad + file));
        ASSERT_FALSE(st.is_ok()) << "opened without an error";
        EXPECT_NE(st.message().find(expect), std::string::npos)
            << "message: " << st.message() << "\nexpected to contain: " << expect;
        // Every message names the file (a model's: its model.json), whatever else it names.
        const std::string base = file.substr(file.find_last_of('/') + 1);
        EXPECT_NE(st.message().find(base), std::string::npos)
            << "message does not name the file: " << st.message();
    }
    EXPECT_GE(kinds["image"], 8);
    EXPECT_GE(kinds["model"], 10);
    EXPECT_GE(kinds["csv"], 5);
}

// The bad models are one change away from the fuzz seed tiny.model, which must load: otherwise
// they might fail for some other reason than the one catalogued.
struct SeedModel {
    std::vector<uint8_t> json, shard;
    FileSource source() const {
        return [this](const std::string& name) -> Expected<std::vector<uint8_t>> {
            if (name == "model.json") return json;
            if (name == "weights.bin") return shard;
            return not_found("no file '" + name + "'");
        };
    }
};

SeedModel seed_model() {
    const auto bytes = test::read_file(test::source_path("fuzz/corpus/tfjs_graph/tiny.model"));
    const auto nul = std::find(bytes.begin(), bytes.end(), 0);
    SeedModel m;
    m.json.assign(bytes.begin(), nul);
    if (nul != bytes.end()) m.shard.assign(nul + 1, bytes.end());
    return m;
}

TEST(BadInputs, TheGoodSiblingOfTheBadModelsLoads) {
    const SeedModel s = seed_model();
    ASSERT_FALSE(s.shard.empty());
    auto m = load_model_from(s.source(), "model.json");
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_EQ(m->num_classes(), 3);
    EXPECT_EQ(m->graph.node(m->graph.input()).shape, (Shape{-1, 4, 4, 1}));
}

std::vector<uint8_t> png_header(uint32_t w, uint32_t h) {
    std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                              0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    for (uint32_t v : {w, h})
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
    for (uint8_t v : {8, 0, 0, 0, 0, 0, 0, 0, 0}) b.push_back(v);  // depth, gray, ..., CRC
    return b;
}

TEST(Limits, ImageSizeIsCheckedFromTheHeaderAtItsEdges) {
    auto side = decode_image(png_header(limits::kMaxImageSide + 1, 1), "wide.png");
    EXPECT_EQ(side.status().code(), ErrorCode::kOutOfRange);
    EXPECT_NE(side.status().message().find("image 'wide.png': 32769x1 pixels exceeds the limit"),
              std::string::npos)
        << side.status().message();
    auto area =
        decode_image(png_header(limits::kMaxImageSide, 3052), "big.png");  // 100.007 megapixels
    EXPECT_EQ(area.status().code(), ErrorCode::kOutOfRange) << area.status().message();
    // Exactly at the limits the header passes and the missing pixel data is the error.
    for (auto [w, h] : {std::pair{limits::kMaxImageSide, 1}, std::pair{10000, 10000}}) {
        auto ok = decode_image(png_header(static_cast<uint32_t>(w), static_cast<uint32_t>(h)),
                               "edge.png");
        EXPECT_EQ(ok.status().code(), ErrorCode::kCorrupt)
            << w << "x" << h << ": " << ok.status().message();
    }
}

TEST(Limits, PnmHeaderValuesThatOverflowAreRefused) {
    const std::string maxval = "P5 2 2 70000\n\x01\x02\x03\x04";
    auto m = decode_image(std::span(reinterpret_cast<const uint8_t*>(maxval.data()), maxval.size()),
                          "deep.pgm");
    EXPECT_NE(m.status().message().find("PNM maximum value 70000 is not in 1..65535"),
              std::string::npos)
        << m.status().message();
    const std::string ok = "P5 2 2 255\n\x01\x02\x03\x04";
    auto g =
        decode_image(std::span(reinterpret_cast<const uint8_t*>(ok.data()), ok.size()), "ok.pgm");
    ASSERT_TRUE(g) << g.status().message();
    EXPECT_EQ(g->width * g->height, 4);
}

// A TF.js model.json with `nodes` NoOp nodes after the seed model's own.
std::vector<uint8_t> with_nodes(const SeedModel& s, int64_t nodes) {
    json j = json::parse(s.json.begin(), s.json.end());
    for (int64_t k = 0; k < nodes; ++k)
        j["modelTopology"]["node"].push_back(
            {{"name", "noop" + std::to_string(k)}, {"op", "NoOp"}});
    const std::string text = j.dump();
    return {text.begin(), text.end()};
}

TEST(Limits, NodeCount) {
    SeedModel s = seed_model();
    s.json = with_nodes(s, limits::kMaxNodes);
    auto m = load_model_from(s.source(), "model.json");
    EXPECT_EQ(m.status().code(), ErrorCode::kOutOfRange);
    EXPECT_NE(m.status().message().find(
                  "model.json: the graph has 100011 nodes, over the limit of 100000"),
              std::string::npos)
        << m.status().message();
}

TEST(Limits, PlaceholderRankBeyondTheShapeLimitIsAnError) {
    SeedModel s = seed_model();
    json j = json::parse(s.json.begin(), s.json.end());
    json& dims = j["modelTopology"]["node"][0]["attr"]["shape"]["shape"]["dim"];
    while (dims.size() <= static_cast<size_t>(kMaxRank)) dims.push_back({{"size", "1"}});
    const std::string text = j.dump();
    s.json.assign(text.begin(), text.end());
    auto m = load_model_from(s.source(), "model.json");
    EXPECT_NE(m.status().message().find("Placeholder node 'input': has more than " +
                                        std::to_string(kMaxRank) + " dimensions"),
              std::string::npos)
        << m.status().message();
}

TEST(Limits, ModelFilesOverTheSizeLimitAreRefusedBeforeParsing) {
    const SeedModel s = seed_model();
    bool asked_for_weights = false;
    FileSource big = [&](const std::string& name) -> Expected<std::vector<uint8_t>> {
        if (name != "model.json") asked_for_weights = true;
        std::vector<uint8_t> b = s.json;
        b.resize(static_cast<size_t>(limits::kMaxModelFileBytes) + 1, ' ');
        return b;
    };
    auto m = load_model_from(big, "model.json");
    EXPECT_EQ(m.status().code(), ErrorCode::kOutOfRange);
    EXPECT_NE(
        m.status().message().find("model file 'model.json' is larger than 512 MiB (the limit)"),
        std::string::npos)
        << m.status().message();
    EXPECT_FALSE(asked_for_weights);
}

// Activation memory: a model whose single image fits is run in chunks that fit; the probe's
// results do not depend on the chunking.
TEST(Limits, BatchesAreSplitToFitTheActivationLimit) {
    SeedModel s = seed_model();
    auto small = load_model_from(s.source(), "model.json");
    ASSERT_TRUE(small) << small.status().message();
    EXPECT_EQ(batch_that_fits(small->graph, 64), 64);

    json j = json::parse(s.json.begin(), s.json.end());
    json& dims = j["modelTopology"]["node"][0]["attr"]["shape"]["shape"]["dim"];
    dims[1]["size"] = "4096";
    dims[2]["size"] =
        "4096";  // input 64 MiB, conv output 2 x 4095 x 4095: 256 MiB of tape per image
    std::string text = j.dump();
    s.json.assign(text.begin(), text.end());
    auto big = load_model_from(s.source(), "model.json");
    ASSERT_TRUE(big) << big.status().message();
    const int64_t per_image = big->graph.tape_bytes_per_image();
    EXPECT_GT(per_image, int64_t{256} << 20);
    EXPECT_EQ(batch_that_fits(big->graph, 64),
              static_cast<int>(limits::kMaxActivationBytes / per_image));
    EXPECT_GE(batch_that_fits(big->graph, 64), 1);
    EXPECT_LT(batch_that_fits(big->graph, 64), 64);

    // Chunked and unchunked runs of the small model agree exactly.
    Rng rng(3);
    const Tensor x = test::random_tensor({5, 4, 4, 1}, rng, 0.f, 1.f);
    ProbeRequest r;
    r.target = Target{1, -1, Target::Score::kLogit};
    r.input_gradient = true;
    GraphProbe whole(*small, reference_kernels(), 64), split(*small, reference_kernels(), 2);
    auto a = whole.run(x, r);
    auto b = split.run(x, r);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(split.max_batch(), 2);
    EXPECT_EQ(test::max_abs_diff(a->logits.data(), b->logits.data(), a->logits.size()), 0.0);
    EXPECT_EQ(test::max_abs_diff(a->input_grad.data(), b->input_grad.data(), a->input_grad.size()),
              0.0);
}

TEST(Limits, CsvLineLengthDefaultsToTheLimit) {
    const DatasetOptions o;
    EXPECT_EQ(o.max_line_bytes, limits::kMaxCsvLineBytes);
    std::string text = "label,feature\n3,";
    text.append(static_cast<size_t>(limits::kMaxCsvLineBytes), '7');
    text += "\n";
    auto ds = parse_csv_dataset(text, "long.csv");
    EXPECT_NE(
        ds.status().message().find("long.csv line 2 (row 1): line is longer than 1048576 bytes"),
        std::string::npos)
        << ds.status().message();
}

}  // namespace
}  // namespace cnnlens

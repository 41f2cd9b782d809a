// Dataset readers: the FER2013 and course CSV fixtures, header detection, Usage filter, every
// kind of bad row with its message, lenient reads, limits, and folder-per-class trees.
#include "core/eval/dataset.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace cnnlens {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
    return test::source_path("tests/data/eval/" + name);
}

std::string read_text(const std::string& path) {
    const std::vector<unsigned char> b = test::read_file(path);
    return std::string(b.begin(), b.end());
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> v;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

std::string join_lines(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& l : v) s += l + "\n";
    return s;
}

// "v v v ..." with n values.
std::string pixels(int n, int v = 7) {
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + std::to_string((v + i) % 256);
    return s;
}

#define EXPECT_HAS(status, text) \
    EXPECT_NE((status).message().find(text), std::string::npos) << (status).message()

TEST(Csv, ReadsFer2013Fixture) {
    auto ds = read_csv_dataset(fixture("fer2013_20.csv"));
    ASSERT_TRUE(ds) << ds.status().message();
    EXPECT_EQ(ds->format, "fer2013 csv");
    ASSERT_EQ(ds->size(), 20);
    EXPECT_EQ(ds->class_names.size(), 7u);
    const LabeledImage& first = ds->items[0];
    EXPECT_EQ(first.label, 3);  // the smiling astronaut
    EXPECT_EQ(first.id, "row 1");
    EXPECT_EQ(first.image.width, 48);
    EXPECT_EQ(first.image.height, 48);
    EXPECT_EQ(first.image.channels, 1);
    ASSERT_EQ(first.image.pixels.size(), 2304u);
    EXPECT_EQ(first.image.pixels[0], 125);
    EXPECT_EQ(first.image.pixels[1], 121);
    EXPECT_EQ(first.image.pixels[2], 112);
    EXPECT_EQ(ds->items[19].id, "row 20");
    EXPECT_EQ(ds->items[19].label, 18 % 7);
    const std::vector<int64_t> counts = ds->class_counts();
    EXPECT_EQ(counts[3], 4);  // astronaut + LFW rows 4 and 11 and 18
    EXPECT_TRUE(ds->skipped.empty());
}

TEST(Csv, UsageFilterKeepsRowNumbers) {
    DatasetOptions o;
    o.usage = "PublicTest";
    auto pub = read_csv_dataset(fixture("fer2013_20.csv"), o);
    ASSERT_TRUE(pub) << pub.status().message();
    ASSERT_EQ(pub->size(), 3);
    EXPECT_EQ(pub->items[0].id, "row 15");
    EXPECT_EQ(pub->items[2].id, "row 17");
    o.usage = "privatetest";  // case-insensitive
    auto priv = read_csv_dataset(fixture("fer2013_20.csv"), o);
    ASSERT_TRUE(priv);
    EXPECT_EQ(priv->size(), 3);
    o.usage = "Validation";
    auto none = read_csv_dataset(fixture("fer2013_20.csv"), o);
    ASSERT_FALSE(none);
    EXPECT_HAS(none.status(), "no row of");
    EXPECT_HAS(none.status(), "Usage 'Validation' (found: PrivateTest, PublicTest, Training)");
    auto course = read_csv_dataset(fixture("course_10.csv"), o);
    ASSERT_FALSE(course);
    EXPECT_HAS(course.status(), "has no Usage column");
}

TEST(Csv, ReadsCourseFixture) {
    auto ds = read_csv_dataset(fixture("course_10.csv"));
    ASSERT_TRUE(ds) << ds.status().message();
    EXPECT_EQ(ds->format, "label,feature csv");
    ASSERT_EQ(ds->size(), 10);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(ds->items[static_cast<size_t>(i)].label, (i + 2) % 7);
    // The last course row is the astronaut, the same pixels as the FER fixture's first row.
    auto fer = read_csv_dataset(fixture("fer2013_20.csv"));
    ASSERT_TRUE(fer);
    EXPECT_EQ(ds->items[9].image.pixels, fer->items[0].image.pixels);
}

TEST(Csv, HeaderlessAndOtherSquareSizes) {
    const std::string text = "0," + pixels(4096) + "\n5," + pixels(4096, 200) + "\n";
    auto ds = parse_csv_dataset(text, "big.csv");
    ASSERT_TRUE(ds) << ds.status().message();
    EXPECT_EQ(ds->format, "label,feature csv");
    ASSERT_EQ(ds->size(), 2);
    EXPECT_EQ(ds->items[1].image.width, 64);
    EXPECT_EQ(ds->items[1].image.pixels[0], 200);
    EXPECT_EQ(ds->items[1].id, "row 2");
    // Three fields without a header: label, pixels, usage.
    auto fer = parse_csv_dataset("1," + pixels(9) + ",Training\n2," + pixels(9) + ",PublicTest\n",
                                 "tiny.csv");
    ASSERT_TRUE(fer) << fer.status().message();
    EXPECT_EQ(fer->format, "fer2013 csv");
    EXPECT_EQ(fer->items[0].image.width, 3);
    // Every row must have the first row's size.
    auto mixed = parse_csv_dataset("0," + pixels(4096) + "\n1," + pixels(2304) + "\n", "mixed.csv");
    ASSERT_FALSE(mixed);
    EXPECT_HAS(mixed.status(),
               "mixed.csv line 2 (row 2): 2304 pixel values; expected 4096 (64x64, as in row 1)");
}

TEST(Csv, QuotesCrlfAndByteOrderMark) {
    const std::string text =
        "\xEF\xBB\xBF"
        "emotion,pixels,Usage\r\n3,\"" +
        pixels(4) + "\",Training\r\n\r\n4, " + pixels(4) + " ,PublicTest";
    auto ds = parse_csv_dataset(text, "windows.csv");
    ASSERT_TRUE(ds) << ds.status().message();
    ASSERT_EQ(ds->size(), 2);
    EXPECT_EQ(ds->items[0].label, 3);
    EXPECT_EQ(ds->items[1].label, 4);
    EXPECT_EQ(ds->items[1].image.width, 2);
}

// The fixture with one line replaced, as "bad.csv".
Expected<Dataset> with_line(int line, const std::string& replacement,
                            const DatasetOptions& o = {}) {
    std::vector<std::string> v = lines_of(read_text(fixture("fer2013_20.csv")));
    v[static_cast<size_t>(line - 1)] = replacement;
    return parse_csv_dataset(join_lines(v), "bad.csv", o);
}

TEST(Csv, BadRowsAreNamedErrors) {
    const std::vector<std::string> v = lines_of(read_text(fixture("fer2013_20.csv")));
    // Wrong pixel count: drop the last value of line 4.
    std::string short_row = v[3].substr(0, v[3].rfind(' ', v[3].rfind(',') - 1)) + ",Training";
    auto wrong = with_line(4, short_row);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.status().code(), ErrorCode::kCorrupt);
    EXPECT_HAS(wrong.status(), "bad.csv: 1 of 20 rows is bad");
    EXPECT_HAS(wrong.status(),
               "bad.csv line 4 (row 3): 2303 pixel values; expected 2304 (48x48, as in row 1)");

    auto label = with_line(6, "7," + pixels(2304) + ",Training");
    ASSERT_FALSE(label);
    EXPECT_HAS(label.status(), "bad.csv line 6 (row 5): label 7 is out of range (7 classes: 0..6)");
    auto negative = with_line(6, "-1," + pixels(2304) + ",Training");
    ASSERT_FALSE(negative);
    EXPECT_HAS(negative.status(), "label -1 is out of range");
    auto word = with_line(6, "happy," + pixels(2304) + ",Training");
    ASSERT_FALSE(word);
    EXPECT_HAS(word.status(), "bad.csv line 6 (row 5): label 'happy' is not an integer");

    std::string px = pixels(2304);
    px.replace(0, px.find(' '), "x12");
    auto nonnum = with_line(2, "3," + px + ",Training");
    ASSERT_FALSE(nonnum);
    EXPECT_HAS(nonnum.status(),
               "bad.csv line 2 (row 1): pixel 1 is 'x12' (expected an integer 0..255)");
    auto big = with_line(3, "3," + pixels(2303) + " 256,Training");
    ASSERT_FALSE(big);
    EXPECT_HAS(big.status(), "bad.csv line 3 (row 2): pixel 2304 is 256 (expected 0..255)");
    auto fields = with_line(3, "3," + pixels(2304));
    ASSERT_FALSE(fields);
    EXPECT_HAS(fields.status(), "bad.csv line 3 (row 2): 2 fields; expected 3");
    auto square = parse_csv_dataset("label,feature\n1," + pixels(2303) + "\n", "odd.csv");
    ASSERT_FALSE(square);
    EXPECT_HAS(square.status(),
               "odd.csv line 2 (row 1): 2303 pixel values do not form a square image");
    auto nopix = parse_csv_dataset("label,feature\n1,\n", "nopix.csv");
    ASSERT_FALSE(nopix);
    EXPECT_HAS(nopix.status(), "nopix.csv line 2 (row 1): the pixel field is empty");

    // Several bad rows are listed together.
    std::vector<std::string> two = v;
    two[2] = "9," + pixels(2304) + ",Training";
    two[10] = "1," + pixels(100) + ",Training";
    auto both = parse_csv_dataset(join_lines(two), "two.csv");
    ASSERT_FALSE(both);
    EXPECT_HAS(both.status(), "two.csv: 2 of 20 rows are bad");
    EXPECT_HAS(both.status(), "line 3 (row 2): label 9");
    EXPECT_HAS(both.status(), "line 11 (row 10): 100 pixel values");
}

TEST(Csv, EmptyHeaderOnlyAndMissingFiles) {
    auto empty = parse_csv_dataset("", "empty.csv");
    ASSERT_FALSE(empty);
    EXPECT_HAS(empty.status(), "empty.csv is empty");
    auto blank = parse_csv_dataset("\n \r\n", "blank.csv");
    ASSERT_FALSE(blank);
    EXPECT_HAS(blank.status(), "blank.csv is empty");
    auto header = parse_csv_dataset("emotion,pixels,Usage\n", "header.csv");
    ASSERT_FALSE(header);
    EXPECT_HAS(header.status(), "header.csv has a header but no data rows");
    auto unknown = parse_csv_dataset("emotion,image,Usage\n1,2 3 4 5,Training\n", "names.csv");
    ASSERT_FALSE(unknown);
    EXPECT_HAS(unknown.status(), "names.csv line 1: header column 2 is 'image'");
    auto missing = read_csv_dataset("no/such/dir/fer2013.csv");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
    EXPECT_HAS(missing.status(), "no/such/dir/fer2013.csv");
    auto via_file = read_dataset(fixture("course_10.csv"));
    ASSERT_TRUE(via_file);
    EXPECT_EQ(via_file->size(), 10);
}

TEST(Csv, LenientSkipsAndListsBadRows) {
    std::vector<std::string> v = lines_of(read_text(fixture("fer2013_20.csv")));
    v[2] = "9," + pixels(2304) + ",Training";
    v[10] = "1," + pixels(100) + ",Training";
    DatasetOptions o;
    o.lenient = true;
    auto ds = parse_csv_dataset(join_lines(v), "two.csv", o);
    ASSERT_TRUE(ds) << ds.status().message();
    EXPECT_EQ(ds->size(), 18);
    ASSERT_EQ(ds->skipped.size(), 2u);
    EXPECT_EQ(ds->skipped[0].where, "two.csv line 3 (row 2)");
    EXPECT_EQ(ds->skipped[0].reason, "label 9 is out of range (7 classes: 0..6)");
    EXPECT_EQ(ds->skipped[1].where, "two.csv line 11 (row 10)");
    EXPECT_EQ(ds->items[1].id, "row 3");  // ids keep the file's numbering
    // Nothing usable left is still an error.
    auto none = parse_csv_dataset("label,feature\n8,1 2 3 4\n", "none.csv", o);
    ASSERT_FALSE(none);
    EXPECT_HAS(none.status(),
               "none of its 1 rows is usable (first problem: none.csv line 2 (row 1): label 8");
}

TEST(Csv, ErrorLimitAndSizeLimits) {
    std::string text = "label,feature\n";
    for (int i = 0; i < 30; ++i) text += "9," + pixels(4) + "\n";
    DatasetOptions o;
    o.max_errors = 5;
    auto many = parse_csv_dataset(text, "many.csv", o);
    ASSERT_FALSE(many);
    EXPECT_HAS(many.status(), "many.csv: reading stopped at 5 bad rows (the error limit)");
    EXPECT_HAS(many.status(), "line 6 (row 5)");
    EXPECT_EQ(many.status().message().find("line 7 (row 6)"), std::string::npos);

    DatasetOptions rows;
    rows.max_items = 5;
    auto fer = read_csv_dataset(fixture("fer2013_20.csv"), rows);
    ASSERT_FALSE(fer);
    EXPECT_EQ(fer.status().code(), ErrorCode::kOutOfRange);
    EXPECT_HAS(fer.status(), "has more than 5 rows (the limit; raise max_items to read it)");

    DatasetOptions line;
    line.max_line_bytes = 1000;
    auto longl = read_csv_dataset(fixture("fer2013_20.csv"), line);
    ASSERT_FALSE(longl);
    EXPECT_HAS(longl.status(), "line 2 (row 1): line is longer than 1000 bytes");
    // A line exactly at the limit passes, with or without "\r\n".
    const std::string row = "1," + pixels(4);
    line.max_line_bytes = static_cast<int64_t>(row.size());
    EXPECT_TRUE(parse_csv_dataset(row + "\r\n" + row + "\n" + row, "exact.csv", line));

    DatasetOptions bytes;
    bytes.max_total_bytes = 2304 * 3;
    auto heavy = read_csv_dataset(fixture("fer2013_20.csv"), bytes);
    ASSERT_FALSE(heavy);
    EXPECT_HAS(heavy.status(), "the images take more than 6912 bytes");
}

// A temporary folder removed at the end of the test.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name) {
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path = fs::temp_directory_path() / ("cnnlens_eval_" + name + "_" + std::to_string(stamp));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    void copy(const std::string& from, const std::string& rel) const {
        fs::create_directories((path / rel).parent_path());
        fs::copy_file(from, path / rel, fs::copy_options::overwrite_existing);
    }
    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories((path / rel).parent_path());
        std::ofstream(path / rel, std::ios::binary) << text;
    }
};

TEST(Dataset, FolderPerClass) {
    TempDir d("folders");
    const std::string face = test::source_path("tests/data/astronaut_face.png");
    d.copy(face, "Happy/b.png");
    d.copy(face, "Happy/a.PNG");
    d.copy(face, "sad/x.png");
    d.copy(face, "fearful/face.png");  // a variant of FER's "fear"
    d.copy(face, "6/face.png");        // a label number
    d.write("Happy/notes.txt", "not an image");
    d.write("Happy/.DS_Store", "hidden");
    d.write("README.md", "top-level file");
    auto ds = read_folder_dataset(d.path.string());
    ASSERT_TRUE(ds) << ds.status().message();
    EXPECT_EQ(ds->format, "folders");
    ASSERT_EQ(ds->size(), 5);
    // Class order, then file name order.
    EXPECT_EQ(ds->items[0].label, 2);
    EXPECT_EQ(ds->items[1].label, 3);
    EXPECT_EQ(ds->items[1].id, (d.path / "Happy/a.PNG").generic_string());
    EXPECT_EQ(ds->items[2].id, (d.path / "Happy/b.png").generic_string());
    EXPECT_EQ(ds->items[3].label, 4);
    EXPECT_EQ(ds->items[4].label, 6);
    EXPECT_EQ(ds->items[0].image.channels, 3);
    EXPECT_EQ(ds->items[0].image.width, 116);
    ASSERT_EQ(ds->skipped.size(), 2u);  // README.md and notes.txt, not the hidden file
    EXPECT_EQ(ds->skipped[0].reason, "not inside a class folder");
    EXPECT_EQ(ds->skipped[1].reason, "not an image file (by its extension)");
    auto same = read_dataset(d.path.string());
    ASSERT_TRUE(same);
    EXPECT_EQ(same->size(), 5);
}

TEST(Dataset, FolderErrorsNameThePath) {
    TempDir d("folder_errors");
    const std::string face = test::source_path("tests/data/astronaut_face.png");
    d.copy(face, "happy/ok.png");
    d.write("happy/broken.png", "this is not a png");
    d.copy(face, "contempt/face.png");
    auto strict = read_folder_dataset(d.path.string());
    ASSERT_FALSE(strict);
    EXPECT_HAS(strict.status(), "2 of 3 entries are bad");
    EXPECT_HAS(
        strict.status(),
        (d.path / "contempt").generic_string() +
            ": folder name matches no class (angry, disgust, fear, happy, sad, surprise, neutral)");
    EXPECT_HAS(strict.status(), (d.path / "happy/broken.png").generic_string());
    DatasetOptions o;
    o.lenient = true;
    auto lenient = read_folder_dataset(d.path.string(), o);
    ASSERT_TRUE(lenient) << lenient.status().message();
    EXPECT_EQ(lenient->size(), 1);
    EXPECT_EQ(lenient->skipped.size(), 2u);

    TempDir split("split");
    split.copy(face, "train/happy/a.png");
    split.copy(face, "test/happy/a.png");
    auto nested = read_folder_dataset(split.path.string());
    ASSERT_FALSE(nested);
    EXPECT_HAS(nested.status(), "names a class (found: test, train; classes: angry, disgust");
    auto missing = read_folder_dataset((split.path / "nope").string());
    ASSERT_FALSE(missing);
    EXPECT_HAS(missing.status(), "is not a folder");
}

TEST(Dataset, FolderNamesMatchClasses) {
    const std::vector<std::string> fer(fer2013_class_names().begin(), fer2013_class_names().end());
    EXPECT_EQ(class_from_folder_name("Angry", fer), 0);
    EXPECT_EQ(class_from_folder_name("surprised", fer), 5);
    EXPECT_EQ(class_from_folder_name("NEUTRAL", fer), 6);
    EXPECT_EQ(class_from_folder_name("7", fer), -1);
    EXPECT_EQ(class_from_folder_name("contempt", fer), -1);
    // A 7-class model with its own names: FER folder names map to FER2013's labels.
    const std::vector<std::string> own = {"Anger",   "Disgust",  "Fear",   "Happiness",
                                          "Sadness", "Surprise", "Neutral"};
    EXPECT_EQ(class_from_folder_name("anger", own), 0);
    EXPECT_EQ(class_from_folder_name("happy", own), 3);
    EXPECT_EQ(class_from_folder_name("sad", own), 4);
    // Any other model: names or numbers only, and FER names when the model has that class.
    const std::vector<std::string> three = {"cat", "dog", "happy"};
    EXPECT_EQ(class_from_folder_name("Dog", three), 1);
    EXPECT_EQ(class_from_folder_name("happiness", three), 2);
    EXPECT_EQ(class_from_folder_name("angry", three), -1);
    EXPECT_EQ(class_from_folder_name("2", three), 2);
}

}  // namespace
}  // namespace cnnlens

// Labeled dataset readers: FER2013-style CSV (streamed line by line) and folder-per-class trees.
#include "core/eval/dataset.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <system_error>

namespace cnnlens {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A value as it appears in a message: quoted, cut at 24 characters.
std::string quote_value(std::string_view s) {
    if (s.size() > 24) return "'" + std::string(s.substr(0, 24)) + "...'";
    return "'" + std::string(s) + "'";
}

bool parse_int(std::string_view s, int64_t& v) {
    if (s.empty() || s.size() > 12) return false;
    size_t i = 0;
    const bool neg = s[0] == '-';
    if (neg || s[0] == '+') ++i;
    if (i == s.size()) return false;
    v = 0;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    if (neg) v = -v;
    return true;
}

// Lines of a byte stream, without their "\n" or "\r\n". A line longer than the limit is
// consumed whole but reported as too long (its text is then a prefix).
class LineReader {
public:
    using ReadFn = std::function<size_t(char*, size_t)>;
    LineReader(ReadFn read, int64_t max_line)
        : read_(std::move(read)), max_(static_cast<size_t>(max_line)), buf_(1 << 16) {}

    bool next(std::string& line, bool& too_long) {
        line.clear();
        size_t total = 0;
        bool any = false;
        for (;;) {
            if (pos_ == end_) {
                if (eof_) break;
                end_ = read_(buf_.data(), buf_.size());
                pos_ = 0;
                if (end_ == 0) {
                    eof_ = true;
                    break;
                }
            }
            any = true;
            const char* start = buf_.data() + pos_;
            const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
            const size_t len = nl ? static_cast<size_t>(nl - start) : end_ - pos_;
            // One byte over the limit is kept so that a line ending in "\r" may use it.
            line.append(start, std::min(len, max_ + 1 - line.size()));
            total += len;
            pos_ += len;
            if (nl) {
                ++pos_;
                break;
            }
        }
        if (!any) return false;
        if (total == line.size() && !line.empty() && line.back() == '\r') {
            line.pop_back();
            --total;
        }
        too_long = total > max_;
        return true;
    }

private:
    ReadFn read_;
    size_t max_;
    std::vector<char> buf_;
    size_t pos_ = 0, end_ = 0;
    bool eof_ = false;
};

// Splits on commas outside double quotes; fields are trimmed and unquoted.
void split_fields(std::string_view line, std::vector<std::string_view>& out) {
    out.clear();
    bool in_quotes = false;
    size_t start = 0;
    for (size_t i = 0; i <= line.size(); ++i) {
        if (i < line.size() && line[i] == '"') in_quotes = !in_quotes;
        if (i == line.size() || (line[i] == ',' && !in_quotes)) {
            std::string_view f = trim(line.substr(start, i - start));
            if (f.size() >= 2 && f.front() == '"' && f.back() == '"')
                f = trim(f.substr(1, f.size() - 2));
            out.push_back(f);
            start = i + 1;
        }
    }
}

struct CsvLayout {
    int label = 0, pixels = 1, usage = -1, fields = 2;
    bool header = false;
    std::string format;
};

// Recognises a header by its names; returns false (and an error) for an unknown header.
bool read_header(const std::vector<std::string_view>& f, CsvLayout& lay, std::string& err) {
    int64_t dummy;
    if (parse_int(f[0], dummy)) {
        lay.fields = static_cast<int>(f.size());
        if (lay.fields == 3) lay.usage = 2;
        if (lay.fields != 2 && lay.fields != 3) {
            err = "the first line has " + std::to_string(f.size()) +
                  " fields; expected a header or 2 (label,pixels) or 3 (label,pixels,usage)";
            return false;
        }
        lay.format = lay.fields == 3 ? "fer2013 csv" : "label,feature csv";
        return true;
    }
    lay.header = true;
    lay.fields = static_cast<int>(f.size());
    lay.label = lay.pixels = lay.usage = -1;
    bool fer_names = false;
    for (int i = 0; i < lay.fields; ++i) {
        const std::string n = lower(f[static_cast<size_t>(i)]);
        if (n == "emotion" || n == "label") {
            lay.label = i;
            fer_names |= n == "emotion";
        } else if (n == "pixels" || n == "feature" || n == "features") {
            lay.pixels = i;
            fer_names |= n == "pixels";
        } else if (n == "usage") {
            lay.usage = i;
        } else {
            err = "header column " + std::to_string(i + 1) + " is " +
                  quote_value(f[static_cast<size_t>(i)]) +
                  "; expected emotion|label, pixels|feature and optionally Usage";
            return false;
        }
    }
    if (lay.label < 0 || lay.pixels < 0) {
        err = std::string("the header has no ") +
              (lay.label < 0 ? "label (emotion|label)" : "pixel (pixels|feature)") + " column";
        return false;
    }
    lay.format = fer_names || lay.usage >= 0 ? "fer2013 csv" : "label,feature csv";
    return true;
}

// Parses space-separated 0..255 values; returns an error sentence or "".
std::string parse_pixels(std::string_view s, std::vector<uint8_t>& px) {
    px.clear();
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        if (i == s.size()) break;
        const size_t start = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
        const std::string_view tok = s.substr(start, i - start);
        int64_t v;
        if (!parse_int(tok, v))
            return "pixel " + std::to_string(px.size() + 1) + " is " + quote_value(tok) +
                   " (expected an integer 0..255)";
        if (v < 0 || v > 255)
            return "pixel " + std::to_string(px.size() + 1) + " is " + std::to_string(v) +
                   " (expected 0..255)";
        px.push_back(static_cast<uint8_t>(v));
    }
    if (px.empty()) return "the pixel field is empty";
    return "";
}

int square_side(size_t n) {
    const int s = static_cast<int>(std::lround(std::sqrt(static_cast<double>(n))));
    return static_cast<size_t>(s) * static_cast<size_t>(s) == n ? s : 0;
}

// Collects bad rows: fails after max_errors (strict) or records them as skipped (lenient).
struct Problems {
    const DatasetOptions& opt;
    Dataset& ds;
    std::vector<std::string> errors;
    bool stopped = false;

    // Returns false when reading should stop.
    bool add(std::string where, std::string reason) {
        if (opt.lenient) {
            ds.skipped.push_back({std::move(where), std::move(reason)});
            return true;
        }
        errors.push_back(where + ": " + reason);
        if (static_cast<int>(errors.size()) >= std::max(1, opt.max_errors)) stopped = true;
        return !stopped;
    }
    Status status(std::string_view source, int64_t read, std::string_view noun) const {
        const std::string n = std::to_string(errors.size());
        std::string m = std::string(source) + ": ";
        if (stopped)
            m += "reading stopped at " + n + " bad " + std::string(noun) + " (the error limit)";
        else
            m += n + " of " + std::to_string(read) + " " + std::string(noun) + " " +
                 (errors.size() == 1 ? "is" : "are") + " bad";
        for (const std::string& e : errors) m += "\n  " + e;
        return corrupt(m);
    }
};

Expected<Dataset> parse_csv(LineReader& lines, std::string_view name, const DatasetOptions& opt) {
    Dataset ds;
    ds.source = std::string(name);
    ds.class_names = opt.class_names;
    const int64_t classes = static_cast<int64_t>(opt.class_names.size());
    if (classes == 0) return invalid_argument("reading " + ds.source + ": no class names given");
    Problems problems{opt, ds, {}, false};

    std::string line;
    bool too_long = false;
    int64_t line_no = 0;
    CsvLayout lay;
    std::vector<std::string_view> f;
    bool have_first = false;
    while (!have_first && lines.next(line, too_long)) {
        ++line_no;
        if (too_long)
            return corrupt(ds.source + " line " + std::to_string(line_no) + " is longer than " +
                           std::to_string(opt.max_line_bytes) + " bytes");
        if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        if (trim(line).empty()) continue;
        have_first = true;
    }
    if (!have_first) return corrupt(ds.source + " is empty");
    split_fields(line, f);
    std::string err;
    if (!read_header(f, lay, err))
        return corrupt(ds.source + " line " + std::to_string(line_no) + ": " + err);
    ds.format = lay.format;
    if (!opt.usage.empty() && lay.usage < 0)
        return invalid_argument(ds.source +
                                " has no Usage column, so it cannot be filtered by Usage " +
                                quote_value(opt.usage));
    const std::string want_usage = lower(opt.usage);

    std::set<std::string> usages_seen;
    std::vector<uint8_t> px;
    size_t want_pixels = 0;
    int64_t want_row = 0, rows = 0, total_bytes = 0;
    bool pending = !lay.header;  // the first line is data
    for (;;) {
        if (!pending) {
            if (!lines.next(line, too_long)) break;
            ++line_no;
            if (!too_long && trim(line).empty()) continue;
        }
        pending = false;
        ++rows;
        if (rows > opt.max_items)
            return out_of_range(ds.source + " has more than " + std::to_string(opt.max_items) +
                                " rows (the limit; raise max_items to read it)");
        const std::string where =
            ds.source + " line " + std::to_string(line_no) + " (row " + std::to_string(rows) + ")";
        if (too_long) {
            if (!problems.add(
                    where, "line is longer than " + std::to_string(opt.max_line_bytes) + " bytes"))
                break;
            continue;
        }
        split_fields(line, f);
        if (static_cast<int>(f.size()) != lay.fields) {
            if (!problems.add(where, std::to_string(f.size()) + " fields; expected " +
                                         std::to_string(lay.fields)))
                break;
            continue;
        }
        if (lay.usage >= 0) {
            const std::string u(f[static_cast<size_t>(lay.usage)]);
            if (!want_usage.empty()) {
                if (usages_seen.size() < 16) usages_seen.insert(u);
                if (lower(u) != want_usage) continue;
            }
        }
        int64_t label;
        const std::string_view lt = f[static_cast<size_t>(lay.label)];
        if (!parse_int(lt, label)) {
            if (!problems.add(where, "label " + quote_value(lt) + " is not an integer")) break;
            continue;
        }
        if (label < 0 || label >= classes) {
            if (!problems.add(where, "label " + std::to_string(label) + " is out of range (" +
                                         std::to_string(classes) + " classes: 0.." +
                                         std::to_string(classes - 1) + ")"))
                break;
            continue;
        }
        err = parse_pixels(f[static_cast<size_t>(lay.pixels)], px);
        if (err.empty()) {
            if (want_pixels == 0) {
                if (square_side(px.size()) == 0)
                    err = std::to_string(px.size()) + " pixel values do not form a square image";
            } else if (px.size() != want_pixels) {
                const int s = square_side(want_pixels);
                err = std::to_string(px.size()) + " pixel values; expected " +
                      std::to_string(want_pixels) + " (" + std::to_string(s) + "x" +
                      std::to_string(s) + ", as in row " + std::to_string(want_row) + ")";
            }
        }
        if (!err.empty()) {
            if (!problems.add(where, err)) break;
            continue;
        }
        if (want_pixels == 0) {
            want_pixels = px.size();
            want_row = rows;
        }
        total_bytes += static_cast<int64_t>(px.size());
        if (total_bytes > opt.max_total_bytes)
            return out_of_range(ds.source + ": the images take more than " +
                                std::to_string(opt.max_total_bytes) +
                                " bytes (the limit; raise max_total_bytes)");
        LabeledImage item;
        item.label = static_cast<int>(label);
        item.id = "row " + std::to_string(rows);
        item.image.width = item.image.height = square_side(px.size());
        item.image.channels = 1;
        item.image.pixels = px;
        ds.items.push_back(std::move(item));
    }
    if (!problems.errors.empty()) return problems.status(ds.source, rows, "rows");
    if (ds.items.empty()) {
        if (rows == 0) return corrupt(ds.source + " has a header but no data rows");
        if (!want_usage.empty() && ds.skipped.empty()) {
            std::string seen;
            for (const std::string& u : usages_seen) seen += (seen.empty() ? "" : ", ") + u;
            return not_found("no row of " + ds.source + " has Usage " + quote_value(opt.usage) +
                             " (found: " + seen + ")");
        }
        return corrupt(ds.source + ": none of its " + std::to_string(rows) +
                       " rows is usable (first problem: " +
                       (ds.skipped.empty() ? std::string("none")
                                           : ds.skipped[0].where + ": " + ds.skipped[0].reason) +
                       ")");
    }
    return ds;
}

constexpr const char* kFerFolderNames[][2] = {
    {"angry", "angry"},       {"anger", "angry"},       {"disgust", "disgust"},
    {"disgusted", "disgust"}, {"fear", "fear"},         {"fearful", "fear"},
    {"happy", "happy"},       {"happiness", "happy"},   {"sad", "sad"},
    {"sadness", "sad"},       {"surprise", "surprise"}, {"surprised", "surprise"},
    {"neutral", "neutral"},
};

bool is_image_extension(const std::filesystem::path& p) {
    static const char* const kExt[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif",
                                       ".tga", ".psd", ".pgm",  ".ppm", ".pnm"};
    const std::string e = lower(p.extension().string());
    for (const char* x : kExt)
        if (e == x) return true;
    return false;
}

// Entries of a folder sorted by name; false on a listing error.
bool list_sorted(const std::filesystem::path& dir,
                 std::vector<std::filesystem::directory_entry>& out, std::string& err) {
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) out.push_back(*it);
    if (ec) {
        err = "cannot list " + dir.generic_string() + ": " + ec.message();
        return false;
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.path().filename() < b.path().filename();
    });
    return true;
}

}  // namespace

std::span<const std::string> fer2013_class_names() {
    static const std::string names[] = {"angry", "disgust",  "fear",   "happy",
                                        "sad",   "surprise", "neutral"};
    return names;
}

std::vector<int64_t> Dataset::class_counts() const {
    std::vector<int64_t> c(class_names.size(), 0);
    for (const LabeledImage& it : items)
        if (it.label >= 0 && static_cast<size_t>(it.label) < c.size())
            ++c[static_cast<size_t>(it.label)];
    return c;
}

Expected<Dataset> read_csv_dataset(const std::string& path, const DatasetOptions& options) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) return not_found("cannot open " + path + ": " + std::strerror(errno));
    LineReader lines([fp = f.get()](char* dst, size_t n) { return std::fread(dst, 1, n, fp); },
                     options.max_line_bytes);
    return parse_csv(lines, path, options);
}

Expected<Dataset> parse_csv_dataset(std::string_view text, std::string_view name,
                                    const DatasetOptions& options) {
    size_t at = 0;
    LineReader lines(
        [&](char* dst, size_t n) {
            const size_t k = std::min(n, text.size() - at);
            std::memcpy(dst, text.data() + at, k);
            at += k;
            return k;
        },
        options.max_line_bytes);
    return parse_csv(lines, name, options);
}

int class_from_folder_name(std::string_view folder, std::span<const std::string> class_names) {
    const std::string name = lower(trim(folder));
    const int n = static_cast<int>(class_names.size());
    for (int i = 0; i < n; ++i)
        if (lower(class_names[static_cast<size_t>(i)]) == name) return i;
    int64_t v;
    if (parse_int(name, v) && v >= 0 && v < n && name[0] != '+' && name[0] != '-')
        return static_cast<int>(v);
    for (const auto& alias : kFerFolderNames) {
        if (name != alias[0]) continue;
        for (int i = 0; i < n; ++i)
            if (lower(class_names[static_cast<size_t>(i)]) == alias[1]) return i;
        if (n != 7) return -1;
        const auto fer = fer2013_class_names();
        return static_cast<int>(std::find(fer.begin(), fer.end(), alias[1]) - fer.begin());
    }
    return -1;
}

Expected<Dataset> read_folder_dataset(const std::string& dir, const DatasetOptions& opt) {
    namespace fs = std::filesystem;
    Dataset ds;
    ds.source = dir;
    ds.format = "folders";
    ds.class_names = opt.class_names;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return not_found(dir + " is not a folder");
    std::vector<fs::directory_entry> top;
    std::string err;
    if (!list_sorted(dir, top, err)) return not_found(err);

    struct ClassDir {
        int label;
        fs::path path;
    };
    std::vector<ClassDir> class_dirs;
    std::vector<std::string> unmatched;
    Problems problems{opt, ds, {}, false};
    std::string names;
    for (const std::string& c : opt.class_names) names += (names.empty() ? "" : ", ") + c;
    for (const auto& e : top) {
        const std::string fname = e.path().filename().string();
        if (fname.empty() || fname[0] == '.') continue;
        if (!e.is_directory(ec)) {
            ds.skipped.push_back({e.path().generic_string(), "not inside a class folder"});
            continue;
        }
        const int label = class_from_folder_name(fname, opt.class_names);
        if (label < 0) {
            unmatched.push_back(fname);
            continue;
        }
        class_dirs.push_back({label, e.path()});
    }
    if (class_dirs.empty()) {
        std::string found;
        for (const std::string& u : unmatched) found += (found.empty() ? "" : ", ") + u;
        return not_found("no folder in " + dir + " names a class (" +
                         (found.empty() ? "no folders" : "found: " + found) +
                         "; classes: " + names + ")");
    }
    for (const std::string& u : unmatched)
        if (!problems.add((fs::path(dir) / u).generic_string(),
                          "folder name matches no class (" + names + ")"))
            break;
    std::stable_sort(class_dirs.begin(), class_dirs.end(),
                     [](const ClassDir& a, const ClassDir& b) { return a.label < b.label; });

    int64_t files = 0, total_bytes = 0;
    for (const ClassDir& cd : class_dirs) {
        if (problems.stopped) break;
        std::vector<fs::directory_entry> entries;
        if (!list_sorted(cd.path, entries, err)) {
            if (!problems.add(cd.path.generic_string(), err)) break;
            continue;
        }
        for (const auto& e : entries) {
            const std::string path = e.path().generic_string();
            const std::string fname = e.path().filename().string();
            if (fname.empty() || fname[0] == '.') continue;
            if (e.is_directory(ec)) {
                ds.skipped.push_back({path, "folders inside a class folder are not read"});
                continue;
            }
            if (!is_image_extension(e.path())) {
                ds.skipped.push_back({path, "not an image file (by its extension)"});
                continue;
            }
            if (++files > opt.max_items)
                return out_of_range(dir + " holds more than " + std::to_string(opt.max_items) +
                                    " images (the limit; raise max_items to read it)");
            Expected<Image> img = load_image(path);
            if (!img) {
                if (!problems.add(path, img.status().message())) break;
                continue;
            }
            total_bytes += static_cast<int64_t>(img->pixels.size());
            if (total_bytes > opt.max_total_bytes)
                return out_of_range(dir + ": the images take more than " +
                                    std::to_string(opt.max_total_bytes) +
                                    " bytes (the limit; raise max_total_bytes)");
            ds.items.push_back({cd.label, path, std::move(*img)});
        }
    }
    if (!problems.errors.empty())
        return problems.status(dir, files + static_cast<int64_t>(unmatched.size()), "entries");
    if (ds.items.empty()) return not_found("no readable image in the class folders of " + dir);
    return ds;
}

Expected<Dataset> read_dataset(const std::string& path, const DatasetOptions& options) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return read_folder_dataset(path, options);
    return read_csv_dataset(path, options);
}

}  // namespace cnnlens

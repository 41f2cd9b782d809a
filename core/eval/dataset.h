// Labeled validation sets held in memory: FER2013-style CSVs and folder-per-class image trees,
// read with precise errors (file, line, row, value) so a bad row is reported, never dropped
// unnoticed. The confusion matrix (confusion.h) runs a model over one.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/limits.h"
#include "core/base/status.h"
#include "core/image/image.h"

namespace cnnlens {

struct LabeledImage {
    int label = 0;  // index into Dataset::class_names
    std::string
        id;       // CSV: "row 17" (data rows counted from 1, header excluded); folders: file path
    Image image;  // 8-bit gray (CSV rows, gray files) or RGB, at its original size
};

// A row or file that was left out, and why. `where` is "fer.csv line 19 (row 18)" or a path.
struct SkippedItem {
    std::string where;
    std::string reason;
};

struct Dataset {
    std::string source;                    // the file or folder read
    std::string format;                    // "fer2013 csv", "label,feature csv" or "folders"
    std::vector<std::string> class_names;  // label i is class_names[i]
    std::vector<LabeledImage> items;       // in file order (CSV) or class, then file name (folders)
    // Lenient reads: the bad rows and files left out. Always: files that are not images.
    std::vector<SkippedItem> skipped;

    int size() const { return static_cast<int>(items.size()); }
    // Items per label, [class_names.size()].
    std::vector<int64_t> class_counts() const;
};

// FER2013's labels 0..6: angry, disgust, fear, happy, sad, surprise, neutral.
std::span<const std::string> fer2013_class_names();

struct DatasetOptions {
    // Labels must be < class_names.size(); folder names are matched against these names.
    // Pass the model's class names (Model::spec.classes) to read a set for that model.
    std::vector<std::string> class_names{fer2013_class_names().begin(),
                                         fer2013_class_names().end()};
    // CSV with a Usage column: keep rows whose Usage equals this, ignoring case ("PublicTest",
    // "PrivateTest", "Training"). Empty keeps every row. Fails if the file has no Usage column.
    // Rows of other Usage values are not checked.
    std::string usage;
    // false: the first max_errors bad rows are collected and the read fails listing them.
    // true: bad rows are left out and listed in Dataset::skipped; fails only if none is left.
    bool lenient = false;
    int max_errors = 20;
    // Defaults from core/base/limits.h.
    int64_t max_items = limits::kMaxCsvRows;  // data rows of a CSV, image files of a folder tree
    int64_t max_line_bytes = limits::kMaxCsvLineBytes;   // one CSV line, newline excluded
    int64_t max_total_bytes = limits::kMaxDatasetBytes;  // decoded pixels of all items
};

// CSV of 8-bit gray faces, one per line: a label and a field of space-separated pixel values
// 0..255, row-major, of a square image (48x48 = 2304 values in FER2013; any n x n is accepted,
// but every row must have the same count).
//   - FER2013 (Kaggle "fer2013.csv"): header `emotion,pixels,Usage`.
//   - The course format: `label,feature`, header optional.
// The header is recognised by its names (case-insensitive: emotion|label, pixels|feature|features,
// usage); without one, 2 fields are `label,pixels` and 3 are `label,pixels,usage`. Fields may be
// double-quoted; CRLF line ends and a UTF-8 byte-order mark are accepted; blank lines are ignored.
Expected<Dataset> read_csv_dataset(const std::string& path, const DatasetOptions& options = {});
// The same from text in memory (a dropped file); `name` stands for the file in messages.
Expected<Dataset> parse_csv_dataset(std::string_view text, std::string_view name,
                                    const DatasetOptions& options = {});

// DIR/<class>/<image>: one folder per class holding image files (png, jpg, jpeg, bmp, gif, tga,
// psd, pgm, ppm, pnm). A folder name matches a class name ignoring case, or a label number
// ("3"), or one of FER2013's folder names (angry, disgust, fear, happy, sad, surprise, neutral)
// and their common variants (anger, disgusted, fearful, happiness, sadness, surprised), which
// map to the class of that name or, for a 7-class model, to FER2013's label. Folders matching
// no class are errors (lenient: skipped). Hidden files are ignored; other non-image files and
// nested folders are listed in Dataset::skipped. Files are read in name order.
Expected<Dataset> read_folder_dataset(const std::string& dir, const DatasetOptions& options = {});

// A folder (read_folder_dataset) or a CSV file (read_csv_dataset).
Expected<Dataset> read_dataset(const std::string& path, const DatasetOptions& options = {});

// The label a class folder name stands for, or -1 (see read_folder_dataset).
int class_from_folder_name(std::string_view folder, std::span<const std::string> class_names);

}  // namespace cnnlens

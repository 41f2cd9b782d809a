// The table of `cnnlens evaluate`: per method and metric, the count, sum and sum of squares of the
// per-map values, kept so that shards of a dataset combine exactly. Sums are integers in units
// of 2^-48 (each value rounded once to that grid, its square likewise), so adding shards in any
// order gives bit for bit the sums of one process; mean and standard deviation are read from
// them the same way in both cases. The partial file is this table as text (one cell a line),
// written by `evaluate --partial` and read by `cnnlens merge`.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace cnnlens {

struct EvalCell {
    std::string method, metric;
    int64_t count = 0;  // finite values added
    int64_t nan = 0;  // values that were NaN (a correlation over constant values): not in the sums
    __int128 sum = 0, sum_squares = 0;  // in units of 2^-48
    double mean() const;                // NaN when count is 0
    double std() const;                 // sample standard deviation (n - 1); NaN when count < 2
};

struct EvalTable {
    // What was evaluated: a merge refuses partials that differ in any of these.
    std::string model, data, settings;
    int64_t items = 0;            // items of the whole run (after --limit), over all shards
    int shard = 0, shards = 1;    // this partial's slice: items i with i % shards == shard
    std::vector<EvalCell> cells;  // method-major, in the order of the run's lists

    // The cell of (method, metric), added when missing.
    EvalCell& cell(std::string_view method, std::string_view metric);
    // Adds one map's value; values of magnitude 2^20 or more are an error naming the cell.
    Status add(std::string_view method, std::string_view metric, double value);
};

// The text form (the partial file) and its reader, whose errors name `name` and the line.
std::string to_partial_text(const EvalTable& t);
Expected<EvalTable> parse_partial_text(std::string_view text, std::string_view name);

// Combines the partials of one run (same model, data, settings, shard count and cells; each shard
// once). The result has shard 0 of 1 and the sums of all. Missing shards are an error naming them.
Expected<EvalTable> merge_tables(const std::vector<EvalTable>& parts);

// mean ± std per cell as a text table (methods as rows, metrics as columns), CSV
// (method,metric,count,nan,mean,std) and JSON (with each metric's title, what a good value looks
// like and its direction); numbers with 17 significant digits in CSV and JSON.
std::string table_text(const EvalTable& t);
std::string table_csv(const EvalTable& t);
std::string table_json(const EvalTable& t);

}  // namespace cnnlens

// Exact sums per (method, metric), their text form and merge.
#include "core/eval/eval_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/base/json_text.h"
#include "core/eval/metric.h"

namespace cnnlens {

namespace {

constexpr int kFractionBits = 48;
constexpr double kMaxValue = 1048576.0;  // 2^20: squares stay below 2^88, sums of 2^38 items fit
constexpr std::string_view kMagic = "cnnlens-evaluate-partial 1";

__int128 to_fixed(double v) {
    return static_cast<__int128>(std::nearbyint(std::ldexp(v, kFractionBits)));
}
double from_fixed(__int128 v) { return std::ldexp(static_cast<double>(v), -kFractionBits); }

std::string hex128(__int128 v) {
    const unsigned __int128 u = static_cast<unsigned __int128>(v);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(u >> 64),
                  static_cast<unsigned long long>(u));
    return buf;
}

bool parse_hex128(std::string_view s, __int128& out) {
    if (s.size() != 32) return false;
    unsigned __int128 u = 0;
    for (char c : s) {
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return false;
        u = (u << 4) | static_cast<unsigned>(d);
    }
    out = static_cast<__int128>(u);
    return true;
}

bool parse_int(std::string_view s, int64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

std::vector<std::string_view> split(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        const size_t j = std::min(line.find(' ', i), line.size());
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

std::string num(double v) {
    if (std::isnan(v)) return "null";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

// Text fields of the header are one line each; a newline in a path would end them early.
std::string one_line(const std::string& s) {
    std::string o = s;
    std::replace(o.begin(), o.end(), '\n', ' ');
    std::replace(o.begin(), o.end(), '\r', ' ');
    return o;
}

}  // namespace

double EvalCell::mean() const {
    return count > 0 ? from_fixed(sum) / static_cast<double>(count) : NAN;
}

double EvalCell::std() const {
    if (count < 2) return NAN;
    const double n = static_cast<double>(count), s = from_fixed(sum), q = from_fixed(sum_squares);
    return std::sqrt(std::max(0.0, (q - s * s / n) / (n - 1)));
}

EvalCell& EvalTable::cell(std::string_view method, std::string_view metric) {
    for (EvalCell& c : cells)
        if (c.method == method && c.metric == metric) return c;
    cells.push_back(EvalCell{std::string(method), std::string(metric)});
    return cells.back();
}

Status EvalTable::add(std::string_view method, std::string_view metric, double v) {
    EvalCell& c = cell(method, metric);
    if (std::isnan(v)) {
        ++c.nan;
        return Status::ok();
    }
    if (!(std::fabs(v) < kMaxValue))
        return out_of_range(std::string(metric) + " of " + std::string(method) + " is " +
                            std::to_string(v) + ", beyond the table's range of +-2^20");
    ++c.count;
    c.sum += to_fixed(v);
    c.sum_squares += to_fixed(v * v);
    return Status::ok();
}

std::string to_partial_text(const EvalTable& t) {
    std::string s(kMagic);
    s += "\nmodel " + one_line(t.model) + "\ndata " + one_line(t.data) + "\nsettings " +
         one_line(t.settings) + "\nitems " + std::to_string(t.items) + "\nshard " +
         std::to_string(t.shard) + " " + std::to_string(t.shards) + "\n";
    for (const EvalCell& c : t.cells)
        s += "cell " + c.method + " " + c.metric + " " + std::to_string(c.count) + " " +
             std::to_string(c.nan) + " " + hex128(c.sum) + " " + hex128(c.sum_squares) + "\n";
    return s;
}

Expected<EvalTable> parse_partial_text(std::string_view text, std::string_view name) {
    EvalTable t;
    int line_no = 0;
    bool seen_shard = false;
    auto bad = [&](const std::string& why) {
        return corrupt(std::string(name) + " line " + std::to_string(line_no) + ": " + why);
    };
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (line_no == 1) {
            if (line != kMagic)
                return corrupt(std::string(name) +
                               " is not a partial of cnnlens evaluate (its first line is not '" +
                               std::string(kMagic) + "')");
            continue;
        }
        const size_t sp = line.find(' ');
        const std::string_view key = line.substr(0, sp);
        const std::string_view rest =
            sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        if (key == "model")
            t.model = rest;
        else if (key == "data")
            t.data = rest;
        else if (key == "settings")
            t.settings = rest;
        else if (key == "items") {
            if (!parse_int(rest, t.items))
                return bad("items '" + std::string(rest) + "' is not a count");
        } else if (key == "shard") {
            const auto f = split(rest);
            int64_t k = 0, n = 0;
            if (f.size() != 2 || !parse_int(f[0], k) || !parse_int(f[1], n) || n < 1 || k >= n ||
                n > 1000000)
                return bad("shard '" + std::string(rest) + "' is not 'K N' with 0 <= K < N");
            t.shard = static_cast<int>(k);
            t.shards = static_cast<int>(n);
            seen_shard = true;
        } else if (key == "cell") {
            const auto f = split(rest);
            EvalCell c;
            if (f.size() != 6 || !parse_int(f[2], c.count) || !parse_int(f[3], c.nan) ||
                !parse_hex128(f[4], c.sum) || !parse_hex128(f[5], c.sum_squares))
                return bad(
                    "a cell is 'method metric count nan sum sum_squares' (sums as 32 hex digits)");
            c.method = f[0];
            c.metric = f[1];
            for (const EvalCell& o : t.cells)
                if (o.method == c.method && o.metric == c.metric)
                    return bad("cell " + c.method + " " + c.metric + " appears twice");
            t.cells.push_back(std::move(c));
        } else if (!line.empty()) {
            return bad("unknown line '" + std::string(line.substr(0, 40)) + "'");
        }
    }
    if (line_no == 0) return corrupt(std::string(name) + " is empty");
    if (!seen_shard) return corrupt(std::string(name) + " has no shard line");
    return t;
}

Expected<EvalTable> merge_tables(const std::vector<EvalTable>& parts) {
    if (parts.empty()) return invalid_argument("merge: no partials given");
    const EvalTable& first = parts[0];
    EvalTable out = first;
    out.shard = 0;
    out.shards = 1;
    for (EvalCell& c : out.cells) c.count = c.nan = 0, c.sum = c.sum_squares = 0;
    std::set<int> seen;
    for (size_t i = 0; i < parts.size(); ++i) {
        const EvalTable& p = parts[i];
        const std::string which = "partial " + std::to_string(i + 1) + " (shard " +
                                  std::to_string(p.shard) + "/" + std::to_string(p.shards) + ")";
        if (p.model != first.model || p.data != first.data || p.settings != first.settings ||
            p.items != first.items || p.shards != first.shards)
            return invalid_argument("merge: " + which +
                                    " is of another run than partial 1 (model, data, settings, "
                                    "items or shard count differ)");
        if (!seen.insert(p.shard).second)
            return invalid_argument("merge: shard " + std::to_string(p.shard) + " is given twice");
        if (p.cells.size() != out.cells.size())
            return invalid_argument("merge: " + which + " has " + std::to_string(p.cells.size()) +
                                    " cells, partial 1 has " + std::to_string(out.cells.size()));
        for (size_t k = 0; k < p.cells.size(); ++k) {
            EvalCell& o = out.cells[k];
            const EvalCell& c = p.cells[k];
            if (c.method != o.method || c.metric != o.metric)
                return invalid_argument("merge: " + which + " cell " + std::to_string(k + 1) +
                                        " is " + c.method + " " + c.metric + ", partial 1's is " +
                                        o.method + " " + o.metric);
            o.count += c.count;
            o.nan += c.nan;
            o.sum += c.sum;
            o.sum_squares += c.sum_squares;
        }
    }
    if (static_cast<int>(seen.size()) != first.shards) {
        std::string missing;
        for (int k = 0; k < first.shards && missing.size() < 200; ++k)
            if (!seen.count(k)) missing += (missing.empty() ? "" : ", ") + std::to_string(k);
        return invalid_argument("merge: shards " + missing + " of " + std::to_string(first.shards) +
                                " are missing");
    }
    return out;
}

std::string table_text(const EvalTable& t) {
    std::vector<std::string> methods, metrics;
    for (const EvalCell& c : t.cells) {
        if (std::find(methods.begin(), methods.end(), c.method) == methods.end())
            methods.push_back(c.method);
        if (std::find(metrics.begin(), metrics.end(), c.metric) == metrics.end())
            metrics.push_back(c.metric);
    }
    std::string s;
    char buf[128];
    std::snprintf(buf, sizeof buf, "%-18s", "method");
    s += buf;
    for (const std::string& m : metrics) {
        std::snprintf(buf, sizeof buf, " %24s", m.c_str());
        s += buf;
    }
    s += "\n";
    for (const std::string& me : methods) {
        std::snprintf(buf, sizeof buf, "%-18s", me.c_str());
        s += buf;
        for (const std::string& m : metrics) {
            const EvalCell* c = nullptr;
            for (const EvalCell& x : t.cells)
                if (x.method == me && x.metric == m) c = &x;
            if (!c || c->count == 0)
                std::snprintf(buf, sizeof buf, " %24s", "-");
            else
                std::snprintf(buf, sizeof buf, " %15.4f ± %-6.4f", c->mean(),
                              std::isnan(c->std()) ? 0.0 : c->std());
            s += buf;
        }
        s += "\n";
    }
    return s;
}

std::string table_csv(const EvalTable& t) {
    std::string s = "method,metric,count,nan,mean,std\n";
    for (const EvalCell& c : t.cells)
        s += c.method + "," + c.metric + "," + std::to_string(c.count) + "," +
             std::to_string(c.nan) + "," + (c.count ? num(c.mean()) : "") + "," +
             (c.count > 1 ? num(c.std()) : "") + "\n";
    return s;
}

std::string table_json(const EvalTable& t) {
    std::string s = "{\"model\":" + json_quote(t.model) + ",\"data\":" + json_quote(t.data) +
                    ",\"settings\":" + json_quote(t.settings) +
                    ",\"items\":" + std::to_string(t.items) + ",\"shard\":[" +
                    std::to_string(t.shard) + "," + std::to_string(t.shards) + "],\"metrics\":[";
    // What each metric's numbers mean, for readers of the file alone (a report page).
    std::vector<std::string> seen;
    for (const EvalCell& c : t.cells) {
        const MetricDef* m = find_metric(c.metric);
        if (!m || std::find(seen.begin(), seen.end(), c.metric) != seen.end()) continue;
        s += std::string(seen.empty() ? "" : ",") + "{\"name\":" + json_quote(m->name) +
             ",\"title\":" + json_quote(m->title) + ",\"good\":" + json_quote(m->good) +
             ",\"higher_is_better\":" + (m->higher_is_better ? "true" : "false") + "}";
        seen.push_back(c.metric);
    }
    s += "],\"table\":[";
    for (size_t i = 0; i < t.cells.size(); ++i) {
        const EvalCell& c = t.cells[i];
        s += std::string(i ? "," : "") + "{\"method\":" + json_quote(c.method) +
             ",\"metric\":" + json_quote(c.metric) + ",\"count\":" + std::to_string(c.count) +
             ",\"nan\":" + std::to_string(c.nan) + ",\"mean\":" + num(c.mean()) +
             ",\"std\":" + num(c.std()) + "}";
    }
    return s + "]}";
}

}  // namespace cnnlens

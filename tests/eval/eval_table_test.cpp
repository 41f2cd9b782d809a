// The evaluate table: three interleaved shards merged give the one-process sums bit for bit
// (where float sums in another order would not), the partial text round-trips, and a merge of
// partials of different runs, a repeated or a missing shard is refused by name.
#include "core/eval/eval_table.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/base/rng.h"

namespace cnnlens {
namespace {

std::vector<double> values(int n) {
    Rng rng(5);
    std::vector<double> v;
    for (int i = 0; i < n; ++i)
        v.push_back(std::exp(8.0 * rng.uniform() - 4.0) * (rng.uniform() - 0.3));
    return v;
}

EvalTable run(const std::vector<double>& v, int shard, int shards) {
    EvalTable t;
    t.model = "m";
    t.data = "d";
    t.settings = "s";
    t.items = static_cast<int64_t>(v.size());
    t.shard = shard;
    t.shards = shards;
    for (size_t i = 0; i < v.size(); ++i) {
        if (static_cast<int>(i % static_cast<size_t>(shards)) != shard) continue;
        EXPECT_TRUE(t.add("saliency", "sparseness", v[i]));
        EXPECT_TRUE(t.add("saliency", "faithfulness_correlation", i % 7 == 0 ? NAN : -v[i]));
    }
    return t;
}

TEST(EvalTable, ShardsMergeExactly) {
    const std::vector<double> v = values(1000);
    const EvalTable one = run(v, 0, 1);
    std::vector<EvalTable> parts;
    for (int k : {2, 0, 1}) {  // any order
        auto p = parse_partial_text(to_partial_text(run(v, k, 3)), "part");
        ASSERT_TRUE(p) << p.status().message();
        parts.push_back(std::move(*p));
    }
    auto merged = merge_tables(parts);
    ASSERT_TRUE(merged) << merged.status().message();
    EXPECT_EQ(table_csv(*merged), table_csv(one));
    EXPECT_EQ(table_json(*merged), table_json(one));
    EXPECT_NE(table_json(one).find("{\"name\":\"sparseness\",\"title\":"), std::string::npos);
    EXPECT_NE(table_json(one).find("\"higher_is_better\":true"), std::string::npos);
    ASSERT_EQ(merged->cells.size(), 2u);
    EXPECT_TRUE(merged->cells[0].sum == one.cells[0].sum);
    EXPECT_EQ(merged->cells[1].nan, 143);
    EXPECT_EQ(merged->cells[1].count, 857);

    // The float sums of the same values in shard order differ from the one-pass sum, which is why
    // the table keeps integers.
    double a = 0, b[3] = {0, 0, 0};
    for (size_t i = 0; i < v.size(); ++i) a += v[i], b[i % 3] += v[i];
    EXPECT_NE(a, b[2] + b[0] + b[1]);

    double mean = 0, sq = 0;
    for (double x : v) mean += x;
    mean /= 1000;
    for (double x : v) sq += (x - mean) * (x - mean);
    EXPECT_NEAR(one.cells[0].mean(), mean, 1e-12 * std::fabs(mean) + 1e-13);
    EXPECT_NEAR(one.cells[0].std(), std::sqrt(sq / 999), 1e-9);
}

TEST(EvalTable, MergeRefusesOtherRunsRepeatsAndGaps) {
    const std::vector<double> v = values(30);
    std::vector<EvalTable> parts = {run(v, 0, 3), run(v, 1, 3)};
    auto gap = merge_tables(parts);
    ASSERT_FALSE(gap);
    EXPECT_NE(gap.status().message().find("shards 2 of 3 are missing"), std::string::npos)
        << gap.status().message();
    parts.push_back(run(v, 1, 3));
    auto twice = merge_tables(parts);
    ASSERT_FALSE(twice);
    EXPECT_NE(twice.status().message().find("shard 1 is given twice"), std::string::npos);
    parts.back() = run(v, 2, 3);
    parts.back().settings = "other";
    auto other = merge_tables(parts);
    ASSERT_FALSE(other);
    EXPECT_NE(other.status().message().find("partial 3 (shard 2/3) is of another run"),
              std::string::npos)
        << other.status().message();
    EvalTable t;
    EXPECT_FALSE(t.add("a", "b", 2e6));
}

TEST(EvalTable, PartialTextErrorsNameTheLine) {
    EXPECT_FALSE(parse_partial_text("", "p"));
    EXPECT_FALSE(parse_partial_text("hello\n", "p"));
    auto e = parse_partial_text("cnnlens-evaluate-partial 1\nshard 3 2\n", "p.txt");
    ASSERT_FALSE(e);
    EXPECT_NE(e.status().message().find("p.txt line 2"), std::string::npos) << e.status().message();
    auto c = parse_partial_text("cnnlens-evaluate-partial 1\nshard 0 1\ncell a b 1 0 00 00\n", "p");
    ASSERT_FALSE(c);
    EXPECT_NE(c.status().message().find("line 3"), std::string::npos);
    EXPECT_FALSE(parse_partial_text("cnnlens-evaluate-partial 1\nitems 5\n", "p"));  // no shard
}

}  // namespace
}  // namespace cnnlens

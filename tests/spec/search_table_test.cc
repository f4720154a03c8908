// A search's result tables on hand-made jobs: trials ranked by the highest
// rung reached, then the metric (mode-aware); a failed trial last; the budget
// spent counts a resumed segment's added epochs only and a segment whose
// previous one left no checkpoint in full.
#include "spec/search_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/kind.h"

namespace ladle {
namespace {

using Json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

ExperimentSpec Spec(const char* mode) {
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(absl::StrCat(
      "name: s\ntrial: {}\nsearch: {algorithm: asha, metric: val_accuracy, "
      "mode: ",
      mode,
      ", space: {train.optimizer.lr: {uniform: [0, 1]}}, max_trials: 3, "
      "budget: {param: train.epochs, min: 1, max: 9}}"));
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

JobView Segment(const std::string& id, int64_t trial, int rung, double lr,
                int epochs, double value, const std::string& resume_from = "",
                std::vector<std::string> artifacts = {"model.safetensors"}) {
  JobView j;
  j.id = id;
  j.state = std::isnan(value) ? "failed" : "succeeded";
  j.params = {{"train.optimizer.lr", lr}, {"train.epochs", epochs}};
  j.summary = {{"val_accuracy", value}, {"test_accuracy", value - 0.01}};
  j.trial = trial;
  j.rung = rung;
  j.resume_from = resume_from;
  j.search_value = value;
  j.kind = "train";
  j.artifacts = std::move(artifacts);
  return j;
}

std::vector<JobView> Jobs() {
  return {Segment("j0", 0, 0, 0.1, 1, 0.80), Segment("j1", 1, 0, 0.2, 1, 0.85),
          Segment("j2", 2, 0, 0.3, 1, NAN, "", {}),
          Segment("j3", 1, 1, 0.2, 3, 0.70, "j1"),
          // Its previous segment left no model: it started over.
          Segment("j4", 0, 1, 0.1, 3, 0.60, "j0"),
          Segment("j5", 1, 2, 0.2, 9, 0.65, "j3")};
}

TEST(SearchTable, RanksByRungThenMetricAndCountsTheBudget) {
  std::vector<JobView> jobs = Jobs();
  jobs[0].artifacts.clear();  // j0 left no model.safetensors
  const std::vector<ReportTable> tables =
      ExperimentTables(KindOrTrain("train"), Spec("max"), jobs);
  ASSERT_EQ(tables.size(), 2u);
  const ReportTable& board = tables[0];
  EXPECT_THAT(board.title, HasSubstr("asha, maximizing val_accuracy"));
  EXPECT_THAT(board.columns, ElementsAre("#", "trial", "params", "val_accuracy",
                                         "test_accuracy", "train.epochs",
                                         "segments", "state", "job"));
  ASSERT_EQ(board.rows.size(), 3u);
  // Trial 1 reached rung 2: first; trial 0 (rung 1, 0.60) next; trial 2
  // (failed, no value) last.
  EXPECT_EQ(board.rows[0][1], "1");
  EXPECT_EQ(board.rows[0][3], "0.65");
  EXPECT_EQ(board.rows[0][5], "9");
  EXPECT_EQ(board.rows[0][7], "succeeded at rung 2");
  EXPECT_EQ(board.rows[1][1], "0");
  EXPECT_EQ(board.rows[2][1], "2");
  EXPECT_EQ(board.rows[2][3], "-");
  EXPECT_EQ(board.rows[2][7], "failed");
  const ReportTable& budget = tables[1];
  // Rung 0: 1 + 1 + 1; j3 resumed j1 (+2); j4 started over (3); j5 resumed
  // j3 (+6): 14 of 3 × 9.
  EXPECT_THAT(budget.rows[0], ElementsAre("14", "27", "0.519", "3", "2", "1"));
}

TEST(SearchTable, MinimizingRanksTheLowestFirstWithinARung) {
  std::vector<JobView> jobs = {Segment("a", 0, 0, 0.1, 1, 0.3),
                               Segment("b", 1, 0, 0.2, 1, 0.1),
                               Segment("c", 2, 0, 0.3, 1, 0.2)};
  const std::vector<ReportTable> tables = SearchTables(Spec("min"), jobs, 2);
  ASSERT_EQ(tables[0].rows.size(), 2u);
  EXPECT_EQ(tables[0].rows[0][1], "1");
  EXPECT_EQ(tables[0].rows[1][1], "2");
  EXPECT_THAT(tables[0].notes.back(), HasSubstr("best 2 of 3"));
}

TEST(SearchTable, ASweepHasNoSearchTables) {
  EXPECT_TRUE(SearchTables(Spec("max"), {}).empty());
}

}  // namespace
}  // namespace ladle

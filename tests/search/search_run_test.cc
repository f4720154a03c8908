// A search as jobs: segments planned as jobs of the experiment's kind with
// consecutive indices, promotions naming the job they resume, a restore from
// stored results that continues exactly as the live run, what a lost write
// left out planned again, and a closed search starting nothing.
#include "search/search_run.h"

#include <cmath>
#include <deque>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

constexpr char kAsha[] = R"(
name: s
trial: {model: {hidden: [8]}, data: {limit: 100}, train: {epochs: 1}}
search:
  algorithm: asha
  metric: val_accuracy
  space: {train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}}
  max_trials: 9
  max_concurrent: 3
  seed: 3
  budget: {param: train.epochs, min: 1, max: 9, reduction_factor: 3}
)";

std::unique_ptr<SearchRun> NewRun(const char* text = kAsha) {
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::unique_ptr<SearchRun>> run = SearchRun::Create(*spec);
  EXPECT_TRUE(run.ok()) << run.status();
  return std::move(*run);
}

// The job's metric: best near lr = 1e-2, better with epochs (read from the
// planned job's resolved spec, as a trainer would).
double Value(const SearchSegment& s) {
  const Json spec = Json::parse(s.job.spec);
  const double lr = spec["train"]["optimizer"]["lr"].get<double>();
  return 0.9 - 0.05 * std::pow(std::log10(lr) + 2, 2) +
         0.001 * spec["train"]["epochs"].get<int>();
}

// Finishes segments oldest first, from `running`, for `steps` results (-1:
// to the end); returns every segment started and the stored view.
struct Driver {
  std::deque<SearchSegment> running;
  std::vector<SearchSegment> all;
  std::vector<StoredSegment> stored;
  void Started(std::vector<SearchSegment> segments) {
    for (SearchSegment& s : segments) {
      stored.push_back({s.job.index, s.trial, s.rung, -1, NAN, {}});
      all.push_back(s);
      running.push_back(std::move(s));
    }
  }
  void Step(SearchRun& run, int steps) {
    for (int i = 0; (steps < 0 || i < steps) && !running.empty(); ++i) {
      const SearchSegment done = running.front();
      running.pop_front();
      int64_t seq = -1;
      absl::StatusOr<std::vector<SearchSegment>> next =
          run.OnResult(done.job.index, Value(done), {}, &seq);
      ASSERT_TRUE(next.ok()) << next.status();
      ASSERT_GE(seq, 0);
      stored[done.job.index].result_seq = seq;
      stored[done.job.index].value = Value(done);
      Started(*std::move(next));
    }
  }
};

TEST(SearchRun, SegmentsAreJobsAndPromotionsResumeTheirPreviousSegment) {
  std::unique_ptr<SearchRun> run = NewRun();
  Driver d;
  absl::StatusOr<std::vector<SearchSegment>> first = run->Start();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 3u);  // max_concurrent
  d.Started(*std::move(first));
  d.Step(*run, -1);
  EXPECT_TRUE(run->finished());
  EXPECT_EQ(run->trials_started(), 9);
  int promoted = 0;
  for (size_t i = 0; i < d.all.size(); ++i) {
    const SearchSegment& s = d.all[i];
    EXPECT_EQ(s.job.index, static_cast<int>(i));
    EXPECT_EQ(s.job.kind, "train");
    const Json spec = Json::parse(s.job.spec);
    // Budget 1·3^rung, in the trial spec's epochs.
    EXPECT_EQ(spec["train"]["epochs"].get<int>(),
              static_cast<int>(std::pow(3, s.rung)));
    if (s.rung == 0) {
      EXPECT_EQ(s.resume_index, -1);
      continue;
    }
    ++promoted;
    ASSERT_GE(s.resume_index, 0);
    const SearchSegment& prev = d.all[s.resume_index];
    EXPECT_EQ(prev.trial, s.trial);
    EXPECT_EQ(prev.rung, s.rung - 1);
    EXPECT_EQ(Json::parse(prev.job.spec)["train"]["optimizer"]["lr"],
              spec["train"]["optimizer"]["lr"]);
  }
  EXPECT_GE(promoted, 3);  // at least the top third of rung 0
  // A repeated or unknown result changes nothing.
  int64_t seq = 0;
  EXPECT_TRUE(run->OnResult(0, 0.5, {}, &seq)->empty());
  EXPECT_EQ(seq, -1);
  EXPECT_TRUE(run->OnResult(999, 0.5, {}, &seq)->empty());
  EXPECT_EQ(seq, -1);
}

TEST(SearchRun, ARestoredSearchContinuesExactlyAsTheLiveOne) {
  for (int stop_after : {0, 1, 4, 9}) {
    std::unique_ptr<SearchRun> live = NewRun();
    Driver d;
    d.Started(*live->Start());
    d.Step(*live, stop_after);
    // A restart: a fresh run rebuilt from what was stored.
    std::unique_ptr<SearchRun> restored = NewRun();
    std::vector<SearchSegment> missing;
    ASSERT_TRUE(restored->Restore(d.stored, false, &missing).ok());
    EXPECT_THAT(missing, ::testing::IsEmpty()) << stop_after;
    // Both go on with the same results: the same segments, same indices.
    Driver a = d, b = d;
    a.Step(*live, -1);
    b.Step(*restored, -1);
    ASSERT_EQ(a.all.size(), b.all.size()) << stop_after;
    for (size_t i = d.all.size(); i < a.all.size(); ++i) {
      EXPECT_EQ(a.all[i].job.index, b.all[i].job.index);
      EXPECT_EQ(a.all[i].trial, b.all[i].trial);
      EXPECT_EQ(a.all[i].rung, b.all[i].rung);
      EXPECT_EQ(a.all[i].resume_index, b.all[i].resume_index);
      EXPECT_EQ(a.all[i].job.spec, b.all[i].job.spec);
    }
    EXPECT_TRUE(restored->finished());
  }
}

TEST(SearchRun, ARestoreReplansSegmentsALostWriteLeftOutUnlessClosed) {
  std::unique_ptr<SearchRun> live = NewRun();
  Driver d;
  d.Started(*live->Start());
  d.Step(*live, 5);
  // Drop the last stored segment (its write "was lost").
  const SearchSegment lost = d.all.back();
  std::vector<StoredSegment> stored = d.stored;
  stored.pop_back();
  std::vector<SearchSegment> missing;
  ASSERT_TRUE(NewRun()->Restore(stored, false, &missing).ok());
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].trial, lost.trial);
  EXPECT_EQ(missing[0].rung, lost.rung);
  EXPECT_EQ(missing[0].job.index, lost.job.index);
  EXPECT_EQ(missing[0].job.spec, lost.job.spec);
  // Closed (cancelled): nothing is added, and results start nothing.
  std::unique_ptr<SearchRun> closed = NewRun();
  ASSERT_TRUE(closed->Restore(stored, true, &missing).ok());
  EXPECT_THAT(missing, ::testing::IsEmpty());
  int64_t seq = -1;
  EXPECT_TRUE(
      closed->OnResult(d.running.front().job.index, 0.5, {}, &seq)->empty());
  EXPECT_GE(seq, 0);  // the result is still recorded
}

// Hyperband through the same path: brackets start trials at different
// budgets; a promotion always resumes the trial's previous segment with a
// larger budget; a restore halfway continues identically.
TEST(SearchRun, HyperbandSegmentsResumeWithLargerBudgetsAndRestore) {
  std::string text = kAsha;
  text.replace(text.find("algorithm: asha"), 15, "algorithm: hyperband");
  std::unique_ptr<SearchRun> live = NewRun(text.c_str());
  Driver d;
  d.Started(*live->Start());
  d.Step(*live, 6);
  std::unique_ptr<SearchRun> restored = NewRun(text.c_str());
  std::vector<SearchSegment> missing;
  ASSERT_TRUE(restored->Restore(d.stored, false, &missing).ok());
  EXPECT_TRUE(missing.empty());
  Driver a = d, b = d;
  a.Step(*live, -1);
  b.Step(*restored, -1);
  ASSERT_EQ(a.all.size(), b.all.size());
  std::set<int> first_budgets;
  for (size_t i = 0; i < a.all.size(); ++i) {
    const SearchSegment& s = a.all[i];
    EXPECT_EQ(s.job.spec, b.all[i].job.spec);
    const int epochs = Json::parse(s.job.spec)["train"]["epochs"];
    if (s.resume_index < 0) {
      first_budgets.insert(epochs);
      continue;
    }
    const SearchSegment& prev = a.all[s.resume_index];
    EXPECT_EQ(prev.trial, s.trial);
    EXPECT_LT(Json::parse(prev.job.spec)["train"]["epochs"].get<int>(), epochs);
  }
  EXPECT_GT(first_budgets.size(), 1u);  // brackets start at different budgets
  EXPECT_EQ(live->trials_started(), 9);
  EXPECT_TRUE(live->finished());
}

TEST(SearchRun, TheValueIsTheSummarysMetricElseTheCurvesLastPoint) {
  EXPECT_EQ(SearchValue(R"({"val_accuracy": 0.8})", "val_accuracy", {}), 0.8);
  EXPECT_EQ(SearchValue(R"({"loss": 1})", "val_accuracy", {{1, 0.3}, {2, 0.4}}),
            0.4);
  EXPECT_TRUE(std::isnan(SearchValue("not json", "val_accuracy", {})));
  EXPECT_TRUE(std::isnan(
      SearchValue(R"({"val_accuracy": "high"})", "val_accuracy", {})));
}

TEST(SearchRun, ASpecWithoutASearchIsRefused) {
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(
      "name: s\ntrial: {}\nsweep: {grid: {train.seed: [1, 2]}}");
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(SearchRun::Create(*spec).ok());  // no search section
}

}  // namespace
}  // namespace ladle

// The searcher as one state machine: slots kept full up to max_concurrent,
// max_trials honoured, ASHA's promotions carrying the trial's point with the
// next budget, failed segments never promoted, and the same results in the
// same order giving the same launches (what a restart replays).
#include "search/searcher.h"

#include <cmath>
#include <deque>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

SearchSpec Spec(SearchSpec::Algorithm algorithm, int64_t max_trials,
                int concurrent) {
  SearchSpec s;
  s.algorithm = algorithm;
  s.metric = "acc";
  s.space = {{"lr", SearchDimension::Kind::kLogUniform, 1e-4, 1e-1, {}},
             {"width",
              SearchDimension::Kind::kChoice,
              0,
              1,
              {Json(128), Json(256), Json(512)}}};
  s.max_trials = max_trials;
  s.max_concurrent = concurrent;
  s.seed = 5;
  if (algorithm == SearchSpec::Algorithm::kAsha ||
      algorithm == SearchSpec::Algorithm::kHyperband) {
    s.budget_param = "epochs";
    s.budget_min = 1;
    s.budget_max = 9;
  }
  return s;
}

// A trial's metric at a budget: better near lr = 1e-2, and with budget.
double Metric(const Json& params, double budget) {
  const double lr = params["lr"].get<double>();
  return -std::pow(std::log10(lr) + 2, 2) + 0.01 * budget;
}

// Runs a search to the end, finishing running segments oldest first;
// returns every launch in order.
std::vector<TrialLaunch> RunToEnd(Searcher& s, int* max_running = nullptr) {
  std::vector<TrialLaunch> all;
  std::deque<TrialLaunch> running;
  for (TrialLaunch& l : s.Start()) running.push_back(l), all.push_back(l);
  while (!running.empty()) {
    if (max_running) *max_running = std::max<int>(*max_running, running.size());
    const TrialLaunch done = running.front();
    running.pop_front();
    for (TrialLaunch& l :
         s.OnResult(done.trial, done.rung, Metric(done.params, done.budget))) {
      running.push_back(l);
      all.push_back(l);
    }
  }
  return all;
}

TEST(Searcher, RandomKeepsSlotsFullAndStopsAtMaxTrials) {
  auto s = Searcher::Create(Spec(SearchSpec::Algorithm::kRandom, 10, 3));
  ASSERT_TRUE(s.ok()) << s.status();
  int max_running = 0;
  const std::vector<TrialLaunch> all = RunToEnd(**s, &max_running);
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(max_running, 3);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].trial, static_cast<int64_t>(i));
    EXPECT_FALSE(all[i].promoted);
    const double lr = all[i].params["lr"].get<double>();
    EXPECT_TRUE(lr >= 1e-4 && lr <= 1e-1);
  }
  EXPECT_TRUE((*s)->done());
  EXPECT_TRUE((*s)->OnResult(3, 0, 1.0).empty());  // a repeat: nothing
}

TEST(Searcher, AshaPromotesWithTheNextBudgetAndTheSameParams) {
  auto s = Searcher::Create(Spec(SearchSpec::Algorithm::kAsha, 18, 3));
  ASSERT_TRUE(s.ok()) << s.status();
  const std::vector<TrialLaunch> all = RunToEnd(**s);
  std::map<int64_t, Json> first;
  std::set<std::pair<int64_t, int>> seen;
  int promotions = 0;
  for (const TrialLaunch& l : all) {
    EXPECT_TRUE(seen.insert({l.trial, l.rung}).second) << "twice: " << l.trial;
    EXPECT_EQ(l.params["epochs"],
              Json(int64_t(std::lround(std::pow(3, l.rung)))));
    Json point = l.params;
    point.erase("epochs");
    if (!l.promoted) {
      EXPECT_EQ(l.rung, 0);
      first[l.trial] = point;
    } else {
      ++promotions;
      EXPECT_EQ(point, first.at(l.trial));  // the trial's own point
      EXPECT_TRUE(seen.count({l.trial, l.rung - 1}));
    }
  }
  EXPECT_EQ(first.size(), 18u);
  // 18 results at rung 0 promote ⌊18/3⌋ = 6 at most, and those ⌊6/3⌋ = 2.
  EXPECT_GE(promotions, 4);
  EXPECT_LE(promotions, 8);
  EXPECT_TRUE((*s)->done());
}

TEST(Searcher, TheSameResultsInTheSameOrderGiveTheSameLaunches) {
  for (auto algorithm :
       {SearchSpec::Algorithm::kAsha, SearchSpec::Algorithm::kHyperband,
        SearchSpec::Algorithm::kTpe}) {
    SearchSpec spec = Spec(algorithm, 24, 4);
    spec.tpe_sampler = algorithm != SearchSpec::Algorithm::kTpe;
    spec.tpe_startup_trials = 5;
    auto a = Searcher::Create(spec), b = Searcher::Create(spec);
    ASSERT_TRUE(a.ok() && b.ok());
    const std::vector<TrialLaunch> la = RunToEnd(**a), lb = RunToEnd(**b);
    ASSERT_EQ(la.size(), lb.size()) << AlgorithmName(algorithm);
    for (size_t i = 0; i < la.size(); ++i) {
      EXPECT_EQ(la[i].trial, lb[i].trial);
      EXPECT_EQ(la[i].rung, lb[i].rung);
      EXPECT_EQ(la[i].params, lb[i].params) << AlgorithmName(algorithm);
    }
  }
}

TEST(Searcher, FailedSegmentsAreNeverPromoted) {
  auto s = Searcher::Create(Spec(SearchSpec::Algorithm::kAsha, 9, 9));
  ASSERT_TRUE(s.ok());
  std::vector<TrialLaunch> first = (*s)->Start();
  ASSERT_EQ(first.size(), 9u);
  std::vector<TrialLaunch> next;
  for (const TrialLaunch& l : first) {
    for (TrialLaunch& n : (*s)->OnResult(l.trial, 0, NAN)) next.push_back(n);
  }
  EXPECT_TRUE(next.empty());  // all failed: nothing to promote, no trials left
  EXPECT_TRUE((*s)->done());
}

TEST(Searcher, ExternalStartsNothingAndStaysOpen) {
  SearchSpec spec;
  spec.algorithm = SearchSpec::Algorithm::kExternal;
  auto s = Searcher::Create(spec);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->Start().empty());
  EXPECT_FALSE((*s)->done());
}

TEST(Searcher, RefusesBudgetsThatMakeNoRungs) {
  SearchSpec spec = Spec(SearchSpec::Algorithm::kAsha, 9, 3);
  spec.reduction_factor = 1;
  auto s = Searcher::Create(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(),
              ::testing::HasSubstr("search.budget.reduction_factor"));
}

}  // namespace
}  // namespace ladle

// ASHA's rung arithmetic and promotion order against hand-worked cases,
// Hyperband's brackets, and the median stopping rule.
#include "search/asha.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using ::testing::HasSubstr;

AshaOptions Nine() {
  AshaOptions o;
  o.min_budget = 1;
  o.max_budget = 9;
  o.reduction_factor = 3;
  return o;
}

TEST(Asha, RungsAreMinTimesEtaToTheKUpToMax) {
  Asha a(Nine());
  EXPECT_EQ(a.top_rung(), 2);
  EXPECT_DOUBLE_EQ(a.budget(0), 1);
  EXPECT_DOUBLE_EQ(a.budget(1), 3);
  EXPECT_DOUBLE_EQ(a.budget(2), 9);
  AshaOptions o = Nine();
  o.max_budget = 27;  // exactly 3^3: four rungs, not three (rounding)
  EXPECT_EQ(Asha(o).top_rung(), 3);
  o.max_budget = 26;
  EXPECT_EQ(Asha(o).top_rung(), 2);
  o.early_stopping_rate = 1;  // Hyperband's bracket 1 starts at 3
  EXPECT_EQ(Asha(o).top_rung(), 1);
  EXPECT_DOUBLE_EQ(Asha(o).budget(0), 3);
}

// Values at rung 0 (maximize): t0 .1, t1 .9, t2 .5, t3 .3, t4 .8, t5 .2,
// t6 .7, t7 .4, t8 .6, arriving three at a time.
TEST(Asha, PromotesTheTopThirdOfEachRungAsResultsArrive) {
  Asha a(Nine());
  const double rung0[] = {0.1, 0.9, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6};
  SearchWork w = a.Next();  // nothing yet: a new trial at budget 1
  EXPECT_FALSE(w.promote);
  EXPECT_DOUBLE_EQ(w.budget, 1);
  for (int t = 0; t < 3; ++t) a.Report(t, 0, rung0[t]);
  w = a.Next();  // ⌊3/3⌋ = 1: t1
  EXPECT_TRUE(w.promote);
  EXPECT_EQ(w.trial, 1);
  EXPECT_EQ(w.rung, 1);
  EXPECT_DOUBLE_EQ(w.budget, 3);
  EXPECT_FALSE(a.Next().promote);  // t1 went up already
  for (int t = 3; t < 6; ++t) a.Report(t, 0, rung0[t]);
  w = a.Next();  // ⌊6/3⌋ = 2: t1 (done), t4
  EXPECT_TRUE(w.promote);
  EXPECT_EQ(w.trial, 4);
  a.Report(1, 1, 0.95);
  a.Report(4, 1, 0.85);
  EXPECT_FALSE(a.Next().promote);  // rung 1 has 2 results: top 0
  for (int t = 6; t < 9; ++t) a.Report(t, 0, rung0[t]);
  w = a.Next();  // ⌊9/3⌋ = 3: t1, t4, t6
  EXPECT_EQ(w.trial, 6);
  EXPECT_EQ(w.rung, 1);
  a.Report(6, 1, 0.99);
  w = a.Next();  // rung 1: ⌊3/3⌋ = 1 → t6 to the top rung first
  EXPECT_TRUE(w.promote);
  EXPECT_EQ(w.trial, 6);
  EXPECT_EQ(w.rung, 2);
  EXPECT_DOUBLE_EQ(w.budget, 9);
  EXPECT_TRUE(a.InTop(6, 1));
  EXPECT_FALSE(a.InTop(4, 1));  // paused at rung 1
  EXPECT_TRUE(a.InTop(4, 0));
  EXPECT_FALSE(a.InTop(7, 0));
  EXPECT_FALSE(a.Next().promote);
}

TEST(Asha, MinimizesNaNsLastAndIgnoresRepeats) {
  AshaOptions o = Nine();
  o.maximize = false;
  Asha a(o);
  a.Report(0, 0, NAN);
  a.Report(1, 0, 5.0);
  a.Report(2, 0, 2.0);
  a.Report(2, 0, 100.0);  // a repeat of (2, 0): ignored
  const SearchWork w = a.Next();
  EXPECT_EQ(w.trial, 2);  // the smallest
  EXPECT_EQ(a.results(0), 3u);
  a.Report(3, 0, NAN);
  a.Report(4, 0, NAN);
  a.Report(5, 0, NAN);  // 6 results: t2, t1 on top; NaNs never
  EXPECT_EQ(a.Next().trial, 1);
  EXPECT_FALSE(a.Next().promote);
}

TEST(Asha, RefusesOptionsThatMakeNoRungs) {
  AshaOptions o = Nine();
  o.reduction_factor = 1;
  EXPECT_THAT(CheckAshaOptions(o).message(), HasSubstr("reduction_factor"));
  o = Nine();
  o.max_budget = 0.5;
  EXPECT_THAT(CheckAshaOptions(o).message(), HasSubstr("max_budget"));
  o = Nine();
  o.min_budget = 0;
  EXPECT_THAT(CheckAshaOptions(o).message(), HasSubstr("min_budget"));
  o = Nine();
  o.early_stopping_rate = 3;
  EXPECT_THAT(CheckAshaOptions(o).message(),
              HasSubstr("early_stopping_rate: must be in [0, 2]"));
  EXPECT_TRUE(CheckAshaOptions(Nine()).ok());
}

TEST(Hyperband, DealsNewTrialsToBracketsInTurnAndPromotesWithinEach) {
  Hyperband h(Nine());
  ASSERT_EQ(h.brackets(), 3);
  const double first_budgets[] = {1, 3, 9, 1};
  for (int t = 0; t < 4; ++t) {
    const SearchWork w = h.Next();
    EXPECT_FALSE(w.promote);
    EXPECT_EQ(w.bracket, t % 3);
    EXPECT_DOUBLE_EQ(w.budget, first_budgets[t]);
    h.Started(t, w.bracket);
  }
  // Bracket 0 holds t0 and t3; a third result there promotes its best.
  ASSERT_TRUE(h.Report(0, 0, 0.2).ok());
  ASSERT_TRUE(h.Report(3, 0, 0.7).ok());
  EXPECT_FALSE(h.Next().promote);
  h.Started(4, 1);
  h.Started(5, 0);
  ASSERT_TRUE(h.Report(5, 0, 0.1).ok());
  const SearchWork w = h.Next();
  EXPECT_TRUE(w.promote);
  EXPECT_EQ(w.bracket, 0);
  EXPECT_EQ(w.trial, 3);
  EXPECT_DOUBLE_EQ(w.budget, 3);
  EXPECT_EQ(h.Report(99, 0, 1).code(), absl::StatusCode::kInvalidArgument);
}

TEST(MedianStopping, StopsBelowTheMedianOfCompletedRunningAverages) {
  MedianStopping::Options o;
  MedianStopping m(o);
  m.Completed({{1, 0.5}, {2, 0.6}, {3, 0.7}});       // averages at 2: 0.55
  m.Completed({{1, 0.3}, {2, 0.4}, {3, 0.5}});       // 0.35
  EXPECT_FALSE(m.ShouldStop({{1, 0.0}, {2, 0.0}}));  // 2 < min_completed
  m.Completed({{1, 0.8}, {2, 0.9}, {3, 1.0}});       // 0.85: median 0.55
  EXPECT_TRUE(m.ShouldStop({{1, 0.4}, {2, 0.5}}));
  EXPECT_FALSE(m.ShouldStop({{1, 0.4}, {2, 0.6}}));
  o.grace_steps = 3;
  MedianStopping graced(o);
  for (double base : {0.5, 0.3, 0.8})
    graced.Completed({{1, base}, {2, base + 0.1}, {3, base + 0.2}});
  EXPECT_FALSE(graced.ShouldStop({{1, 0.0}, {2, 0.0}}));
  EXPECT_TRUE(graced.ShouldStop({{1, 0.0}, {2, 0.0}, {3, 0.0}}));
  o = {};
  o.maximize = false;  // a loss: stop above the median
  MedianStopping loss(o);
  for (double base : {0.5, 0.3, 0.8}) loss.Completed({{1, base}});
  EXPECT_TRUE(loss.ShouldStop({{1, 0.6}}));
  EXPECT_FALSE(loss.ShouldStop({{1, 0.4}}));
}

}  // namespace
}  // namespace ladle

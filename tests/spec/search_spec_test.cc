// The `search:` section: a full spec read back, and each bad one refused
// naming its key.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/experiment.h"
#include "spec/kind.h"

namespace ladle {
namespace {

using ::testing::HasSubstr;

constexpr char kTrain[] =
    "name: s\ntrial: {model: {hidden: [16]}, data: {limit: 100}}\n";

absl::StatusOr<ExperimentSpec> Parse(const std::string& search) {
  return ParseExperimentSpec(std::string(kTrain) + search);
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(text);
  if (spec.ok()) return "ok";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

TEST(SearchSpec, ReadsEveryKnob) {
  absl::StatusOr<ExperimentSpec> spec = Parse(R"(search:
  algorithm: asha
  metric: val_accuracy
  space:
    train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}
    model.hidden: {choice: [[256], [1024], [512, 512]]}
  max_trials: 64
  max_concurrent: 8
  seed: 7
  budget: {param: train.epochs, min: 1, max: 27, reduction_factor: 3}
  sampler: tpe
  tpe: {n_startup_trials: 5, n_ei_candidates: 48}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->has_search);
  const SearchSpec& s = spec->search;
  EXPECT_EQ(s.algorithm, SearchSpec::Algorithm::kAsha);
  EXPECT_STREQ(AlgorithmName(s.algorithm), "asha");
  EXPECT_EQ(s.metric, "val_accuracy");
  EXPECT_TRUE(s.maximize);
  ASSERT_EQ(s.space.size(), 2u);
  EXPECT_EQ(s.space[1].choices.size(), 3u);
  EXPECT_EQ(s.max_trials, 64);
  EXPECT_EQ(s.max_concurrent, 8);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.budget_param, "train.epochs");
  EXPECT_EQ(s.budget_max, 27);
  EXPECT_TRUE(s.tpe_sampler);
  EXPECT_EQ(s.tpe_startup_trials, 5);
  EXPECT_EQ(s.tpe_candidates, 48);
  // Its probe point plans; the trials come from the searcher.
  absl::StatusOr<std::vector<PlannedJob>> planned = PlanExperiment(*spec);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_TRUE(planned->empty());
}

TEST(SearchSpec, ExternalNeedsNoSpaceMetricOrLimit) {
  absl::StatusOr<ExperimentSpec> spec = Parse("search: {algorithm: external}");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->search.max_trials, 0);
  EXPECT_TRUE(ParseExperimentSpec(
                  "name: c\nkind: command\ncommand: {argv: [p]}\nsearch: "
                  "{algorithm: tpe, metric: loss, mode: min, space: {x: "
                  "{uniform: [0, 1]}}, max_trials: 10}")
                  .ok());
}

// An external search may ask Ladle to prune its trials with the median
// rule; then the metric whose curve the rule compares is required.
TEST(SearchSpec, ExternalTakesTheMedianRuleWithAMetric) {
  absl::StatusOr<ExperimentSpec> spec = Parse(
      "search: {algorithm: external, metric: acc, median_stop: "
      "{min_completed: 2}}");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->search.median_stop_rule);
  EXPECT_EQ(spec->search.median_min_completed, 2);
  EXPECT_FALSE(Parse("search: {algorithm: external}")->search.median_stop_rule);
  absl::StatusOr<ExperimentSpec> no_metric =
      Parse("search: {algorithm: external, median_stop: {}}");
  EXPECT_THAT(
      no_metric.status().message(),
      ::testing::HasSubstr("search.metric: is required with median_stop"));
}

TEST(SearchSpec, BadSearchesAreRefusedNamingTheKey) {
  const std::string space =
      "space: {train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}}";
  const std::string base = "metric: acc, " + space + ", max_trials: 8";
  struct Bad {
    std::string search, error;
  };
  for (const Bad& b : std::vector<Bad>{
           {"search: {" + base + "}", "search.algorithm: is required"},
           {"search: {algorithm: bayes, " + base + "}",
            "search.algorithm: unknown value 'bayes'"},
           {"search: {algorithm: tpe, " + space + ", max_trials: 8}",
            "search.metric: is required"},
           {"search: {algorithm: tpe, metric: acc, max_trials: 8}",
            "search.space: is required"},
           {"search: {algorithm: tpe, metric: acc, " + space + "}",
            "search.max_trials: is required"},
           {"search: {algorithm: tpe, " + base + ", mode: up}",
            "search.mode: unknown value 'up'"},
           {"search: {algorithm: asha, " + base + "}",
            "search.budget: is required for asha"},
           {"search: {algorithm: random, " + base +
                ", budget: {param: train.epochs, min: 1, max: 9}}",
            "search.budget: is for asha and hyperband only"},
           {"search: {algorithm: asha, " + base +
                ", budget: {param: train.epochs, min: 9, max: 1}}",
            "search.budget.max: must be >= min"},
           {"search: {algorithm: asha, " + base +
                ", budget: {param: train.epochs, min: 1, max: 9, "
                "reduction_factor: 1}}",
            "search.budget.reduction_factor"},
           {"search: {algorithm: asha, " + base +
                ", budget: {param: train.optimizer.lr, min: 1, max: 9}}",
            "search.space.train.optimizer.lr: is the budget parameter"},
           {"search: {algorithm: tpe, " + base + ", sampler: tpe}",
            "search.sampler: is for asha and hyperband"},
           {"search: {algorithm: random, " + base + ", tpe: {}}",
            "search.tpe: tunes TPE"},
           {"search: {algorithm: tpe, " + base + ", median_stop: {}}",
            "search.median_stop: is for algorithms median_stop and external"},
           {"search: {algorithm: tpe, " + base + ", tpe: {n_ei_candidates: 0}}",
            "search.tpe.n_ei_candidates"},
           {"search: {algorithm: tpe, metric: acc, " + space +
                ", max_trials: 99999999}",
            "search.max_trials"},
           {"search: {algorithm: tpe, " + base + ", colour: blue}",
            "search.colour: unknown key"},
           {"search: {algorithm: tpe, metric: acc, space: {x: {normal: [0, "
            "1]}}, max_trials: 8}",
            "search.space.x: unknown distribution 'normal'"},
           {"sweep: {grid: {train.seed: [1, 2]}}\nsearch: {algorithm: tpe, " +
                base + "}",
            "search: use either sweep"},
       }) {
    EXPECT_THAT(ErrorOf(std::string(kTrain) + b.search), HasSubstr(b.error))
        << b.search;
  }
  EXPECT_THAT(ErrorOf("name: f\nkind: fusion\ntrial: {}\nsearch: {algorithm: "
                      "external}"),
              HasSubstr("search: kind fusion does not take a search"));
}

// A key the trial (or program) does not take is found by planning a probe
// point; a good search then says it is not run yet.
TEST(SearchSpec, PlanningProbesTheSpace) {
  absl::StatusOr<ExperimentSpec> typo = Parse(
      "search: {algorithm: tpe, metric: acc, max_trials: 8, space: "
      "{train.optimizr.lr: {uniform: [0.01, 0.1]}}}");
  ASSERT_TRUE(typo.ok()) << typo.status();
  absl::Status st = PlanExperiment(*typo).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("search.space (a probe point"));
  EXPECT_THAT(st.message(), HasSubstr("optimizr"));
  absl::StatusOr<ExperimentSpec> command = ParseExperimentSpec(
      "name: c\nkind: command\ncommand: {argv: [p, '{lr}']}\nsearch: "
      "{algorithm: tpe, metric: loss, space: {9lr: {uniform: [0, 1]}}, "
      "max_trials: 8}");
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_THAT(PlanExperiment(*command).status().message(),
              HasSubstr("search.space.9lr: not a parameter name"));
}

}  // namespace
}  // namespace ladle

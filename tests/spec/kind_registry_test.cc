// A kind added the way a new one is: one class (here, in this file) and one
// registration. Everything else — spec parsing with its own section, `ladle
// validate`'s planning, the result tables — goes through the registry.
#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/kind.h"
#include "spec/sweep.h"
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// kind: toy — `copies` train jobs per sweep point; its table counts the
// succeeded ones per point.
class ToyKind final : public ExperimentKind {
 public:
  absl::string_view name() const override { return "toy"; }

  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) const override {
    int64_t copies = 1;
    for (auto& [key, value] : spec.kind_config.items()) {
      if (key != "copies" || !value.is_number_integer() || value < 1)
        return Invalid("toy." + key, "the only key is copies (an int >= 1)");
      copies = value.get<int64_t>();
    }
    std::vector<PlannedJob> jobs;
    for (const Json& point : SweepPoints(spec)) {
      ASSIGN_OR_RETURN(TrainSpec trial, ResolveTrial(spec, point, 0));
      for (int64_t c = 0; c < copies; ++c) {
        PlannedJob job;
        job.index = static_cast<int>(jobs.size());
        job.params = point;
        job.params["copy"] = c;
        job.spec = SpecText(trial);
        job.resources = spec.resources;
        jobs.push_back(std::move(job));
      }
    }
    return jobs;
  }

  std::vector<ReportTable> Tables(
      const ExperimentSpec& spec,
      const std::vector<JobView>& jobs) const override {
    std::map<std::string, int> succeeded;
    for (const JobView& j : jobs)
      succeeded[PointOf(j.params, {"copy"})] += j.state == "succeeded";
    ReportTable t{"toy", {"point", "succeeded"}, {}, {}};
    for (const auto& [point, n] : succeeded)
      t.rows.push_back({point, absl::StrCat(n)});
    return {t};
  }
};

TEST(KindRegistry, AToyKindIsOneClassAndOneRegistration) {
  ASSERT_TRUE(
      KindRegistry::Global().Register(std::make_unique<ToyKind>()).ok());

  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(R"(
name: toy-sweep
kind: toy
toy: {copies: 2}
trial: {model: {type: mlp, hidden: [8]}, data: {limit: 100}}
sweep: {grid: {train.optimizer.lr: [0.001, 0.01]}}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->kind_config, Json({{"copies", 2}}));
  absl::StatusOr<std::vector<PlannedJob>> jobs = PlanExperiment(*spec);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 4u);
  EXPECT_EQ((*jobs)[3].params,
            Json({{"train.optimizer.lr", 0.01}, {"copy", 1}}));

  std::vector<JobView> views(2);
  views[0].params = (*jobs)[0].params;
  views[0].state = "succeeded";
  views[1].params = (*jobs)[1].params;
  views[1].state = "failed";
  const std::vector<ReportTable> tables =
      KindOrTrain("toy").Tables(ExperimentSpec{}, views);
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_THAT(tables[0].rows,
              ElementsAre(ElementsAre(R"({"train.optimizer.lr":0.001})", "1")));

  // Its section is validated by its own planner, naming the key.
  spec = ParseExperimentSpec(
      "name: t\nkind: toy\ntoy: {copies: 0}\ntrial: {model: {type: mlp}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(std::string(PlanExperiment(*spec).status().message()),
              HasSubstr("toy.copies"));
  // The list of kinds in errors names it.
  spec = ParseExperimentSpec("name: t\nkind: nope\ntrial: {}\n");
  EXPECT_THAT(
      std::string(spec.status().message()),
      HasSubstr(
          "use one of: train, fusion, ladling, dropcompute, command, toy"));
  // A second kind of the same name is refused.
  EXPECT_EQ(KindRegistry::Global().Register(std::make_unique<ToyKind>()).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(KindRegistry, UnknownKindsAreNotFoundAndReadAsTrain) {
  absl::StatusOr<const ExperimentKind*> kind = GetKind("nope");
  EXPECT_EQ(kind.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(kind.status().message()),
              HasSubstr("known kinds: train, fusion, ladling, dropcompute"));
  EXPECT_EQ(KindOrTrain("nope").name(), "train");
  EXPECT_EQ(FindKind("fusion")->TableMetrics(),
            std::vector<std::string>{"val_accuracy"});
  EXPECT_FALSE(FindKind("train")->CsvIsTables());
}

}  // namespace
}  // namespace ladle

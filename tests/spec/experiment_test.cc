#include "spec/experiment.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/kind.h"

namespace ladle {
namespace {

using ::testing::HasSubstr;

constexpr char kSweep[] = R"(
name: lr-sweep
kind: train
trial:
  model: {type: mlp, hidden: [64]}
  data: {dataset: fashion-mnist, limit: 1000}
  train: {epochs: 1, optimizer: {name: adamw, lr: 0.01}}
sweep:
  grid: {train.optimizer.lr: [0.001, 0.003], train.seed: [1, 2, 3]}
resources: {gpus: 0, cpu_slots: 1}
max_retries: 1
priority: 5
timeout_seconds: 600
)";

std::vector<PlannedJob> Plan(const std::string& text) {
  auto spec = ParseExperimentSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto kind = GetKind(spec->kind);
  EXPECT_TRUE(kind.ok());
  auto jobs = (*kind)->Plan(*spec);
  EXPECT_TRUE(jobs.ok()) << jobs.status();
  return jobs.ok() ? *jobs : std::vector<PlannedJob>{};
}

TEST(ExperimentSpec, GridIsTheCartesianProduct) {
  auto spec = ParseExperimentSpec(kSweep);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->priority, 5);
  EXPECT_EQ(spec->max_retries, 1);
  EXPECT_EQ(spec->timeout_seconds, 600);
  const auto jobs = Plan(kSweep);
  ASSERT_EQ(jobs.size(), 6u);
  EXPECT_EQ(jobs[0].params.dump(),
            R"({"train.optimizer.lr":0.001,"train.seed":1})");
  EXPECT_EQ(jobs[5].params.dump(),
            R"({"train.optimizer.lr":0.003,"train.seed":3})");
  // The resolved trial has the point's values and every default.
  const nlohmann::json spec4 = nlohmann::json::parse(jobs[4].spec);
  EXPECT_DOUBLE_EQ(spec4["train"]["optimizer"]["lr"].get<double>(), 0.003);
  EXPECT_EQ(spec4["train"]["seed"], 2);
  EXPECT_EQ(spec4["model"]["hidden"][0], 64);
  EXPECT_TRUE(spec4["train"]["optimizer"].contains("beta2"));
}

TEST(ExperimentSpec, NamesAreFreeTextKeptAsWritten) {
  // Display text: the UI and reports escape it, so markup is just characters.
  auto spec = ParseExperimentSpec(
      "name: \"<img src=x onerror=alert(1)> lr × wd\"\ntrial: {}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "<img src=x onerror=alert(1)> lr × wd");
}

TEST(ExperimentSpec, RandomSearchIsSeededAndInBounds) {
  const std::string text = R"(
name: rnd
trial: {data: {limit: 100}}
sweep:
  random:
    count: 20
    seed: 7
    space:
      train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-2]}
      train.batch_size: {randint: [16, 64]}
      model.activation: {choice: [relu, gelu]}
  grid: {train.seed: [1, 2]}
)";
  const auto a = Plan(text), b = Plan(text);
  ASSERT_EQ(a.size(), 40u);  // 20 samples x 2 grid points
  std::set<std::string> acts;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].params, b[i].params);  // same seed, same samples
    const double lr = a[i].params["train.optimizer.lr"];
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-2);
    const int64_t bs = a[i].params["train.batch_size"];
    EXPECT_GE(bs, 16);
    EXPECT_LE(bs, 64);
    acts.insert(a[i].params["model.activation"].get<std::string>());
  }
  EXPECT_EQ(acts.size(), 2u);
  EXPECT_EQ(a[0].params["train.optimizer.lr"],
            a[1].params["train.optimizer.lr"]);  // crossed
}

struct Bad {
  const char* yaml;
  const char* mention;
};
class BadExperimentTest : public ::testing::TestWithParam<Bad> {};
void PrintTo(const Bad& b, std::ostream* os) { *os << b.mention; }

TEST_P(BadExperimentTest, RejectedNamingTheField) {
  auto spec = ParseExperimentSpec(GetParam().yaml);
  absl::Status st = spec.status();
  if (spec.ok()) {
    auto kind = GetKind(spec->kind);
    st = kind.ok() ? (*kind)->Plan(*spec).status() : kind.status();
  }
  ASSERT_FALSE(st.ok()) << GetParam().yaml;
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr(GetParam().mention));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadExperimentTest,
    ::testing::Values(
        Bad{"trial: {}\n", "name: is required"},
        Bad{"name: \"a\\tb\"\ntrial: {}\n", "name: use 1-128"},
        Bad{"name: ' x'\ntrial: {}\n", "name: use 1-128"},
        Bad{"name: x\nkind: magic\ntrial: {}\n", "kind: unknown value 'magic'"},
        Bad{"name: x\n", "trial: is required"},
        Bad{"name: x\ntrial: {}\nsweep: {grid: {train.seed: []}}\n",
            "sweep.grid.train.seed"},
        Bad{"name: x\ntrial: {}\nsweep: {grdi: {}}\n",
            "sweep.grdi: unknown key"},
        Bad{"name: x\ntrial: {}\nsweep: {random: {space: {a: {uniform: [0, "
            "1]}}}}\n",
            "sweep.random.count"},
        Bad{"name: x\ntrial: {}\nsweep: {random: {count: 2, space: {a: "
            "{normal: [0, 1]}}}}\n",
            "unknown distribution 'normal'"},
        Bad{"name: x\ntrial: {}\nsweep: {random: {count: 2, space: {a: "
            "{loguniform: [0, 1]}}}}\n",
            "bounds must be > 0"},
        Bad{"name: x\ntrial: {}\nresources: {gpus: 0, cpu_slots: 0}\n",
            "resources"},
        Bad{"name: x\ntrial: {}\nresources: {gpus: 1.5}\n",
            "resources.gpus: a whole number of GPUs, or a fraction"},
        Bad{"name: x\ntrial: {}\nresources: {gpus: 0.0001}\n",
            "resources.gpus: a whole number of GPUs, or a fraction"},
        Bad{"name: x\ntrial: {}\nmax_retries: -1\n", "max_retries"},
        Bad{"name: x\ntrial: {}\ntimeout_seconds: -5\n", "timeout_seconds"},
        Bad{"name: x\ntrial: {}\ntimeout_seconds: 1e12\n", "timeout_seconds"},
        Bad{"name: x\ntrial: {train: {optimizer: {lr: .nan}}}\n",
            "train.optimizer.lr: must be a finite number"},
        Bad{"name: x\ntrial: {}\nsweep: {grid: {train.optimizr.lr: [0.1]}}\n",
            "sweep point 0"},
        Bad{"name: x\ntrial: {}\nsweep: {grid: {train.optimizer.lr: [0.1, "
            "-1]}}\n",
            "trial.train.optimizer.lr"},
        Bad{"name: x\ntrial: {train: {epochs: 1}}\nsweep: {grid: "
            "{train.epochs.x: [1]}}\n",
            "'epochs' is not a mapping"},
        Bad{"name: x\ntrial: {model: {type: gcn}}\n",
            "gcn needs a graph dataset"}));

TEST(ExperimentSpec, ExplodingGridIsRejectedBeforeExpansion) {
  std::string text = "name: big\ntrial: {}\nsweep:\n  grid:\n";
  for (int k = 0; k < 4; ++k) {
    text += "    k" + std::to_string(k) + ": [";
    for (int v = 0; v < 100; ++v) text += (v ? ", " : "") + std::to_string(v);
    text += "]\n";
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto spec = ParseExperimentSpec(text);  // 100^4 = 10^8 points
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
  ASSERT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("more than 10000 jobs"));
  EXPECT_LT(ms, 1000) << "must not expand the grid to find out";
  ParseOptions big;
  big.max_jobs = 200'000'000;
  EXPECT_TRUE(ParseExperimentSpec(text, big).ok());
}

TEST(SetPath, CreatesMappingsAndRefusesScalars) {
  nlohmann::json doc = {{"train", {{"epochs", 1}}}};
  ASSERT_TRUE(SetPath(doc, "train.optimizer.lr", 0.5).ok());
  EXPECT_EQ(doc["train"]["optimizer"]["lr"], 0.5);
  EXPECT_FALSE(SetPath(doc, "train.epochs.x", 1).ok());
  EXPECT_FALSE(SetPath(doc, "a..b", 1).ok());
}

}  // namespace
}  // namespace ladle

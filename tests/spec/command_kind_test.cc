// kind: command — parsing, templates, sweeps over parameters, the errors a
// user sees, and the result tables over users' summary keys.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/command_job.h"
#include "spec/kind.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

absl::StatusOr<std::vector<PlannedJob>> Plan(const std::string& text) {
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(text);
  if (!spec.ok()) return spec.status();
  return PlanExperiment(*spec);
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<std::vector<PlannedJob>> jobs = Plan(text);
  if (jobs.ok()) return "ok";
  EXPECT_EQ(jobs.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(jobs.status().message());
}

constexpr char kSpec[] = R"(
name: torch-lr
kind: command
command:
  argv: [python3, train.py, --lr, "{lr}", "--seed={seed}", "{{literal}}"]
  env: {OMP_NUM_THREADS: "2", TAG: "w{width}"}
  code: .
  outputs: out/
params: {lr: 0.001, seed: 1, width: 256}
sweep:
  grid: {lr: [0.001, 0.003], seed: [1, 2]}
seed_param: seed
resources: {cpu_slots: 2, memory_bytes: 4GiB}
)";

TEST(CommandKind, ExpandsTemplatesPerSweepPoint) {
  absl::StatusOr<std::vector<PlannedJob>> jobs = Plan(kSpec);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 4u);
  const PlannedJob& last = jobs->back();
  EXPECT_EQ(last.kind, "command");
  EXPECT_EQ(last.params, Json({{"lr", 0.003}, {"seed", 2}}));
  absl::StatusOr<CommandJob> job = CommandJobFromJson(Json::parse(last.spec));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_THAT(job->argv, ElementsAre("python3", "train.py", "--lr", "0.003",
                                     "--seed=2", "{literal}"));
  EXPECT_EQ(job->env.at("TAG"), "w256");
  EXPECT_EQ(job->env.at("OMP_NUM_THREADS"), "2");
  EXPECT_EQ(job->params, Json({{"lr", 0.003}, {"seed", 2}, {"width", 256}}));
  EXPECT_EQ(job->outputs, "out");
  EXPECT_EQ(job->memory_bytes, int64_t{4} << 30);
  EXPECT_EQ(last.resources.cpu_slots, 2);
  EXPECT_EQ(last.resources.ranks, 1);
}

TEST(CommandKind, AFractionOfAGpuIsAShare) {
  absl::StatusOr<std::vector<PlannedJob>> jobs = Plan(
      "name: small\nkind: command\ncommand: {argv: [p]}\n"
      "resources: {gpus: 0.25, cpu_slots: 1}");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->front().resources.gpus, 0);
  EXPECT_EQ(jobs->front().resources.gpu_share_milli, 250);
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p]}\n"
                      "ranks: 2\nresources: {gpus: 0.5}"),
              HasSubstr("resources.gpus: a gang's ranks take whole GPUs"));
}

TEST(CommandKind, RanksMakeEachJobAGang) {
  absl::StatusOr<std::vector<PlannedJob>> jobs = Plan(
      "name: ddp\nkind: command\ncommand: {argv: [p]}\nranks: 4\n"
      "resources: {cpu_slots: 2}");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(jobs->front().resources.ranks, 4);
  EXPECT_EQ(jobs->front().resources.cpu_slots, 2);  // per rank
  absl::StatusOr<CommandJob> job =
      CommandJobFromJson(Json::parse(jobs->front().spec));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->ranks, 4);
}

TEST(CommandKind, RandomSearchAddsParameters) {
  absl::StatusOr<std::vector<PlannedJob>> jobs = Plan(R"(
name: r
kind: command
command: {argv: [prog, "{width}"]}
sweep: {random: {count: 5, seed: 3, space: {width: {choice: [128, 512]}}}}
)");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 5u);
  for (const PlannedJob& j : *jobs) {
    const Json argv = Json::parse(j.spec)["argv"];
    EXPECT_TRUE(argv[1] == "128" || argv[1] == "512") << argv;
  }
}

TEST(CommandKind, RefusesWhatCannotRunNamingTheKey) {
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p, '{nope}']}"
                      "\nparams: {x: 1}"),
              HasSubstr("command.argv[1]: '{nope}' names no parameter"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p, '{x']}"),
              HasSubstr("command.argv[1]: unclosed '{'"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: []}"),
              HasSubstr("command.argv: must be a list"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command"),
              HasSubstr("command: is required"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p], cwd: x}"),
              HasSubstr("command.cwd: unknown key"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p], "
                      "outputs: ../up}"),
              HasSubstr("command.outputs: must be a directory inside"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p], "
                      "env: {LADLE_PARAMS: x}}"),
              HasSubstr("command.env.LADLE_PARAMS: is set by the worker"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p]}\n"
                      "seed_param: seed"),
              HasSubstr("seed_param: must name a parameter"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p]}\n"
                      "ranks: 0"),
              HasSubstr("ranks: must be an integer in [1, 1024]"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p], env: "
                      "{MASTER_PORT: 1}}\nranks: 2"),
              HasSubstr("command.env.MASTER_PORT: is set by the worker"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p]}\n"
                      "trial: {}"),
              HasSubstr("trial"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p]}\n"
                      "resources: {memory_bytes: 12 parsecs}"),
              HasSubstr("resources.memory_bytes: must be a size"));
  EXPECT_THAT(ErrorOf("name: a\nkind: command\ncommand: {argv: [p]}\n"
                      "params: {'9lives': 1}"),
              HasSubstr("params.9lives: not a parameter name"));
  // Other kinds do not take command's keys.
  EXPECT_THAT(ErrorOf("name: a\ntrial: {data: {name: synthetic}}\n"
                      "params: {x: 1}"),
              HasSubstr("params"));
}

TEST(CommandKind, TablesShowSummaryKeysAndMeanStdOverTheSeed) {
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(kSpec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::vector<JobView> jobs;
  const double acc[] = {0.8, 0.9, 0.5, 0.7};
  int i = 0;
  for (double lr : {0.001, 0.003}) {
    for (int seed : {1, 2}) {
      JobView j;
      j.id = "job-" + std::to_string(i);
      j.state = "succeeded";
      j.params = {{"lr", lr}, {"seed", seed}};
      j.summary = {{"accuracy", acc[i++]}, {"note", "text is skipped"}};
      jobs.push_back(j);
    }
  }
  const ExperimentKind& kind = KindOrTrain("command");
  EXPECT_TRUE(kind.HasJobTable());
  const std::vector<ReportTable> tables = kind.Tables(*spec, jobs);
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_THAT(tables[0].columns,
              ElementsAre("job", "state", "params", "accuracy"));
  EXPECT_EQ(tables[0].rows[1][3], "0.9");
  EXPECT_EQ(tables[1].title, "per configuration, over seed");
  ASSERT_EQ(tables[1].rows.size(), 2u);
  EXPECT_EQ(tables[1].rows[0][0], R"({"lr":0.001})");
  EXPECT_EQ(tables[1].rows[0][1], "2");
  EXPECT_EQ(tables[1].rows[0][2], "0.85 ± 0.071");
  EXPECT_EQ(tables[1].rows[1][2], "0.6 ± 0.14");
}

TEST(CommandJobJson, RoundTrips) {
  CommandJob job;
  job.argv = {"/bin/echo", "hi"};
  job.env = {{"A", "1"}};
  job.params = {{"x", 1}};
  job.outputs = "results";
  job.memory_bytes = 1 << 30;
  job.code_sha256 = std::string(64, 'a');
  absl::StatusOr<CommandJob> back = CommandJobFromJson(CommandJobToJson(job));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->argv, job.argv);
  EXPECT_EQ(back->env, job.env);
  EXPECT_EQ(back->params, job.params);
  EXPECT_EQ(back->outputs, job.outputs);
  EXPECT_EQ(back->memory_bytes, job.memory_bytes);
  EXPECT_EQ(back->code_sha256, job.code_sha256);
  EXPECT_FALSE(CommandJobFromJson(Json{{"argv", Json::array()}}).ok());
  EXPECT_FALSE(CommandJobFromJson(Json{{"argv", {1, 2}}}).ok());
}

}  // namespace
}  // namespace ladle

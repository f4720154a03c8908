// ladle-slurm's configuration, its sbatch line and its reading of squeue.
#include "slurm/slurm_client.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slurm/config.h"

namespace ladle::slurm {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"(
coordinator: login1:7070
token_file: /etc/ladle/admin
worker_token_file: /etc/ladle/worker token
worker: /opt/ladle/bin/ladle-worker
work_dir: /scratch/ladle
max_pilots: 6
idle_grace_seconds: 30
drain_margin_seconds: 300
sbatch: {partition: gpu, account: lab, qos: normal, time_limit: "1-02:00:00", args: [--exclusive]}
pilots:
  - {name: gpu, gpus: 2, cpus: 8, memory: 32GiB}
  - {name: cpu, cpus: 4}
)";

TEST(SlurmConfig, ParsesEveryKey) {
  absl::StatusOr<Config> c = ParseConfig(kConfig);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->coordinator, "login1:7070");
  EXPECT_EQ(c->autoscaler.max_pilots, 6);
  EXPECT_EQ(c->autoscaler.idle_grace_ms, 30'000);
  EXPECT_EQ(c->autoscaler.drain_margin_ms, 300'000);
  EXPECT_EQ(c->sbatch.time_limit_seconds, 26 * 3600);
  ASSERT_EQ(c->autoscaler.types.size(), 2u);
  EXPECT_EQ(c->autoscaler.types[0].memory_bytes, int64_t{32} << 30);
  EXPECT_EQ(c->autoscaler.types[1].cpu_slots, 4);
}

TEST(SlurmConfig, RefusesBadInputNamingTheKey) {
  for (const auto& [text, want] :
       std::vector<std::pair<std::string, std::string>>{
           {"worker: w\nwork_dir: d\npilots: [{name: c}]\n",
            "coordinator: is required"},
           {"coordinator: c\nworker: w\nwork_dir: d\npilots: []\n", "pilots:"},
           {"coordinator: c\nworker: w\nwork_dir: d\npilots: [{name: c, cpus: "
            "0}]\n",
            "pilots[0].cpus"},
           {"coordinator: c\nworker: w\nwork_dir: d\npilots: [{name: c}, "
            "{name: c}]\n",
            "named twice"},
           {"coordinator: c\nworker: w\nwork_dir: d\npilots: [{name: c, gpu: "
            "1}]\n",
            "gpu"},
           {"coordinator: c\nworker: w\nwork_dir: d\nsbatch: {time_limit: "
            "soon}\n"
            "pilots: [{name: c}]\n",
            "sbatch.time_limit"},
           {"coordinator: c\nworker: w\nwork_dir: d\nmax_pilot: 3\npilots: "
            "[{name: c}]\n",
            "max_pilot"}}) {
    absl::StatusOr<Config> c = ParseConfig(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(want)) << text;
  }
}

TEST(SlurmConfig, TheShippedExampleParses) {
  std::ifstream in(std::string(LADLE_SOURCE_DIR) +
                   "/deploy/slurm/ladle-slurm.example.yaml");
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Config> c = ParseConfig(text.str());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->autoscaler.types.size(), 2u);
  EXPECT_EQ(c->sbatch.time_limit_seconds, 4 * 3600);
}

TEST(SlurmConfig, SlurmDurations) {
  EXPECT_EQ(SlurmDurationSeconds("30"), 30 * 60);
  EXPECT_EQ(SlurmDurationSeconds("30:15"), 30 * 60 + 15);
  EXPECT_EQ(SlurmDurationSeconds("04:00:00"), 4 * 3600);
  EXPECT_EQ(SlurmDurationSeconds("2-00:00:00"), 48 * 3600);
  EXPECT_EQ(SlurmDurationSeconds("1-12"), 36 * 3600);
  EXPECT_EQ(SlurmDurationSeconds("UNLIMITED"), 0);
  EXPECT_EQ(SlurmDurationSeconds("1:2:3:4"), -1);
  EXPECT_EQ(SlurmDurationSeconds("x"), -1);
}

TEST(SlurmClient, ThePilotsSbatchLineRunsOneWorkerWithItsResources) {
  absl::StatusOr<Config> c = ParseConfig(kConfig);
  ASSERT_TRUE(c.ok());
  const std::vector<std::string> a = SbatchArgv(*c, c->autoscaler.types[0]);
  EXPECT_THAT(a, Contains("--job-name=ladle-pilot-gpu"));
  EXPECT_THAT(a, Contains("--cpus-per-task=8"));
  EXPECT_THAT(a, Contains("--gres=gpu:2"));
  EXPECT_THAT(a, Contains("--mem=32768M"));
  EXPECT_THAT(a, Contains("--partition=gpu"));
  EXPECT_THAT(a, Contains("--time=1-02:00:00"));
  EXPECT_THAT(a, Contains("--signal=B:TERM@300"));  // drains before the limit
  EXPECT_THAT(a, Contains("--exclusive"));
  const std::string wrap = a.back();
  EXPECT_THAT(wrap, HasSubstr("--wrap=exec '/opt/ladle/bin/ladle-worker' "
                              "'--coordinator=login1:7070' "
                              "--work_dir='/scratch/ladle'/pilot-$SLURM_JOB_ID "
                              "--cpu_slots=8 --gpus=auto"));
  EXPECT_THAT(wrap, HasSubstr("'--token_file=/etc/ladle/worker token'"));
  const std::vector<std::string> cpu = SbatchArgv(*c, c->autoscaler.types[1]);
  EXPECT_THAT(cpu.back(), HasSubstr("--gpus=none"));
}

TEST(SlurmClient, SqueueLinesBecomePilotsOtherJobsAreSkipped) {
  absl::StatusOr<std::vector<Pilot>> p = ParseSqueue(
      "12|ladle-pilot-gpu|RUNNING|2026-12-03T18:00:00|1:00:00\n"
      "13|ladle-pilot-cpu|PENDING|N/A|UNLIMITED\n"
      "14|somebodys-job|RUNNING|2026-12-03T18:00:00|30:00\n");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].slurm_job_id, "12");
  EXPECT_EQ((*p)[0].type, "gpu");
  EXPECT_TRUE((*p)[0].running);
  EXPECT_GT((*p)[0].started_ms, 0);
  EXPECT_EQ((*p)[0].time_limit_ms, 3'600'000);
  EXPECT_FALSE((*p)[1].running);
  EXPECT_EQ((*p)[1].time_limit_ms, 0);
  EXPECT_FALSE(ParseSqueue("garbage\n").ok());
}

}  // namespace
}  // namespace ladle::slurm

// How attempts are laid out and started: the protocol's variables, the
// defaults a job's env may override, PYTHONPATH's order, ladle-exec in front.
#include "worker/attempt_launch.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

TEST(AttemptLaunch, CommandJobsGetTheProtocolAndLadleExec) {
  setenv("PYTHONPATH", "/site", 1);
  CommandJob job;
  job.argv = {"python3", "train.py", "--lr", "0.1"};
  job.env = {{"PYTHONPATH", "/mine"}, {"TAG", "x"}};
  job.params = {{"lr", 0.1}};
  job.outputs = "results";
  const AttemptLayout l = CommandLayout("/w/attempts/7", job);
  EXPECT_EQ(l.work_dir, "/w/attempts/7/work");
  EXPECT_EQ(l.output_dir, "/w/attempts/7/work/results");
  EXPECT_EQ(l.output_prefix, "results/");
  EXPECT_EQ(l.program, "train.py");  // the script, not the interpreter
  v1::Assignment a;
  a.set_attempt_id(7);
  a.set_job_id("e-0001");
  a.set_attempt_number(2);
  LaunchContext ctx;
  ctx.gpu_ordinals = {3};
  ctx.cpu_slots = 2;
  ctx.gpu_share_milli = 250;
  ctx.exec_helper = "/bin/ladle-exec";
  ctx.python_dir = "/ladle/python";
  ctx.parent_pid = 42;
  const SpawnOptions s = CommandSpawn(a, job, l, ctx);
  EXPECT_THAT(s.argv, ElementsAre("/bin/ladle-exec", "--parent_pid=42", "--",
                                  "python3", "train.py", "--lr", "0.1"));
  EXPECT_EQ(s.working_dir, l.work_dir);
  EXPECT_TRUE(s.new_process_group);
  for (const char* var :
       {"CUDA_VISIBLE_DEVICES=3", "LADLE_GPU_SHARE=0.25", "OMP_NUM_THREADS=2",
        "PYTHONUNBUFFERED=1", "LADLE_METRICS_FILE=/w/attempts/7/metrics.jsonl",
        "LADLE_SUMMARY_FILE=/w/attempts/7/summary.json",
        "LADLE_OUTPUT_DIR=/w/attempts/7/work/results",
        "LADLE_CHECKPOINT_DIR=/w/attempts/7/checkpoint",
        "LADLE_PARAMS={\"lr\":0.1}", "LADLE_ATTEMPT=2", "TAG=x",
        "PYTHONPATH=/mine:/ladle/python:/site"}) {
    EXPECT_THAT(s.env, Contains(std::string(var)));
  }
  EXPECT_THAT(s.env, Not(Contains(std::string("PYTHONPATH=/site"))));
}

TEST(AttemptLaunch, AJobsOwnEnvOverridesTheDefaults) {
  CommandJob job;
  job.argv = {"/bin/prog"};
  job.env = {{"OMP_NUM_THREADS", "8"}};
  LaunchContext ctx;
  ctx.cpu_slots = 2;
  const SpawnOptions s = CommandSpawn({}, job, CommandLayout("/a", job), ctx);
  EXPECT_THAT(s.env, Contains(std::string("OMP_NUM_THREADS=8")));
  EXPECT_THAT(s.env, Not(Contains(std::string("OMP_NUM_THREADS=2"))));
}

TEST(AttemptLaunch, AGangsRanksGetTorchrunsEnvironment) {
  CommandJob job;
  job.argv = {"/bin/prog"};
  v1::Assignment a;
  v1::GangRank* g = a.mutable_gang();
  g->set_rank(3);
  g->set_world_size(4);
  g->set_local_rank(1);
  g->set_local_world_size(2);
  g->set_master_addr("10.0.0.1");
  const SpawnOptions s = CommandSpawn(a, job, CommandLayout("/a", job), {});
  for (const char* var : {"RANK=3", "WORLD_SIZE=4", "LOCAL_RANK=1",
                          "LOCAL_WORLD_SIZE=2", "MASTER_ADDR=10.0.0.1"}) {
    EXPECT_THAT(s.env, Contains(std::string(var)));
  }
  // A single process gets none of them.
  const SpawnOptions single =
      CommandSpawn({}, job, CommandLayout("/a", job), {});
  for (const std::string& e : single.env)
    EXPECT_NE(e.rfind("WORLD_SIZE=", 0), 0u) << e;
}

TEST(AttemptLaunch, PicksAPortNobodyListensOn) {
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

TEST(AttemptLaunch, LadleTrainWritesItsOutputsWhereTheProtocolSays) {
  const AttemptLayout l = TrainLayout("/w/attempts/9");
  EXPECT_EQ(l.work_dir, "/w/attempts/9");  // specs name inputs/<index>/...
  EXPECT_EQ(l.metrics_file, "/w/attempts/9/out/metrics.jsonl");
  EXPECT_EQ(l.output_prefix, "");  // model.safetensors, as dependents read it
  const SpawnOptions s = TrainSpawn(
      "/bin/ladle-train", "/w/attempts/9/spec.json", l, LaunchContext{});
  EXPECT_THAT(s.argv, ElementsAre("/bin/ladle-train", "--spec",
                                  "/w/attempts/9/spec.json", "--out",
                                  "/w/attempts/9/out"));
  EXPECT_THAT(s.env, Contains(std::string("LADLE_EXIT_WITH_PARENT=1")));
  EXPECT_THAT(
      s.env,
      Contains(std::string("LADLE_CHECKPOINT_DIR=/w/attempts/9/checkpoint")));
}

}  // namespace
}  // namespace ladle

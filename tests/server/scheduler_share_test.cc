// Fractions of a GPU in the scheduler (`gpus: 0.25`): shares are packed onto
// one device, a device never holds more than all of itself, whole-GPU jobs
// get only devices nobody shares, and a restart keeps the shares in use.
#include <map>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/scheduler.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

JobRequest Share(std::string id, int milli, int gpus = 0) {
  JobRequest r;
  r.id = std::move(id);
  r.experiment_id = "e1";
  r.resources = {gpus, 1};
  r.resources.gpu_share_milli = milli;
  return r;
}

class ShareTest : public ::testing::Test {
 protected:
  ShareTest() : sched_(Scheduler::Options{10'000, 1'000, 8'000}, &clock_) {}
  std::vector<Assignment> Run() {
    std::vector<JobEvent> events;
    return sched_.Schedule(&events);
  }
  void Submit(std::vector<JobRequest> jobs) {
    auto st = sched_.Submit(jobs);
    ASSERT_TRUE(st.ok()) << st.status();
  }
  void Succeed(const Assignment& a) {
    ASSERT_TRUE(
        sched_.Complete(a.attempt_id, AttemptOutcome::kSucceeded, "").ok());
  }
  FakeClock clock_;
  Scheduler sched_;
};

std::vector<int> Gpus(const std::vector<Assignment>& as) {
  std::vector<int> g;
  for (const Assignment& a : as) g.push_back(a.gpu_indices.at(0));
  return g;
}

TEST_F(ShareTest, FourQuartersShareOneGpuAndAFifthWaits) {
  ASSERT_TRUE(sched_.AddWorker("w", {1, 8}).ok());
  Submit({Share("q1", 250), Share("q2", 250), Share("q3", 250),
          Share("q4", 250), Share("q5", 250), Share("whole", 0, 1)});
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 4u);
  EXPECT_THAT(Gpus(as), ElementsAre(0, 0, 0, 0));
  Succeed(as[0]);
  const std::vector<Assignment> fifth = Run();
  ASSERT_EQ(fifth.size(), 1u);
  EXPECT_EQ(fifth[0].job_id, "q5");
  for (size_t i = 1; i < as.size(); ++i) Succeed(as[i]);
  EXPECT_THAT(Run(), IsEmpty());  // q5 still shares the GPU
  Succeed(fifth[0]);
  const std::vector<Assignment> whole = Run();
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].job_id, "whole");
}

TEST_F(ShareTest, PacksTheFullestGpuAndKeepsWholeOnesFree) {
  ASSERT_TRUE(sched_.AddWorker("w", {2, 8}).ok());
  Submit({Share("half", 500), Share("quarter", 250)});
  EXPECT_THAT(Gpus(Run()), ElementsAre(0, 0));
  Submit({Share("whole", 0, 1)});  // GPU 1 is still wholly free
  EXPECT_THAT(Gpus(Run()), ElementsAre(1));
  Submit({Share("another-half", 500), Share("tenth", 100)});
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 1u);  // GPU 0 has 250 left, GPU 1 none
  EXPECT_EQ(as[0].job_id, "tenth");
}

TEST_F(ShareTest, RefusesSharesWithWholeGpusOrGangs) {
  JobRequest bad = Share("a", 250, 1);
  EXPECT_EQ(sched_.Submit({bad}).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = Share("b", 1000);
  EXPECT_EQ(sched_.Submit({bad}).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = Share("c", 250);
  bad.resources.ranks = 2;
  EXPECT_EQ(sched_.Submit({bad}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ShareTest, ARestoredShareStillHoldsItsPartOfTheGpu) {
  ASSERT_TRUE(
      sched_.Restore(Share("running", 600), JobState::kRunning, 1, 7, "w", {0})
          .ok());
  ASSERT_TRUE(sched_.AddWorker("w", {1, 8}).ok());
  Submit({Share("too-big", 500), Share("fits", 400)});
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].job_id, "fits");
}

// Random shares and whole GPUs arriving and ending on three 2-GPU workers:
// at every step each GPU's running shares sum to at most 1000, and a
// whole-GPU job's device runs nothing else.
TEST_F(ShareTest, NeverOversubscribesAGpuUnderChurn) {
  for (const char* w : {"w1", "w2", "w3"})
    ASSERT_TRUE(sched_.AddWorker(w, {2, 64}).ok());
  std::mt19937 rng(7);
  std::vector<Assignment> running;
  std::map<std::string, int> milli_of;
  int next = 0, placed = 0;
  for (int step = 0; step < 400; ++step) {
    const int kind = static_cast<int>(rng() % 5);
    const std::string id = "j" + std::to_string(next++);
    const int milli = kind == 0 ? 0 : 100 * static_cast<int>(1 + rng() % 9);
    milli_of[id] = milli == 0 ? 1000 : milli;
    Submit({Share(id, milli, milli == 0 ? 1 : 0)});
    for (Assignment& a : Run()) running.push_back(a);
    while (!running.empty() && rng() % 3 == 0) {
      const size_t i = rng() % running.size();
      Succeed(running[i]);
      running.erase(running.begin() + static_cast<long>(i));
      for (Assignment& a : Run()) running.push_back(a);
    }
    std::map<std::pair<std::string, int>, int> used;
    for (const Assignment& a : running) {
      ASSERT_EQ(a.gpu_indices.size(), 1u);
      used[{a.worker_id, a.gpu_indices[0]}] += milli_of.at(a.job_id);
    }
    for (const auto& [gpu, milli] : used)
      ASSERT_LE(milli, 1000) << gpu.first << " GPU " << gpu.second;
    placed = std::max<int>(placed, static_cast<int>(running.size()));
  }
  EXPECT_GT(placed, 6);  // more jobs than GPUs ran at once: shares packed
}

}  // namespace
}  // namespace ladle

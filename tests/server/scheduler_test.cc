// Scheduler unit tests with a fake clock: placement, priorities, DAG, leases,
// retries, fencing, cancellation and restart recovery.
#include "server/scheduler.h"

#include <algorithm>
#include <map>
#include <random>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

JobRequest Job(std::string id, int gpus = 0, int cpu = 1, int priority = 0,
               std::vector<std::string> deps = {}, int retries = 0,
               std::string exp = "e1") {
  JobRequest r;
  r.id = std::move(id);
  r.experiment_id = std::move(exp);
  r.resources = {gpus, cpu};
  r.priority = priority;
  r.deps = std::move(deps);
  r.max_retries = retries;
  return r;
}

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() : sched_(Scheduler::Options{10'000, 1'000, 8'000}, &clock_) {}

  std::vector<Assignment> Run() {
    std::vector<JobEvent> events;
    return sched_.Schedule(&events);
  }
  void Submit(std::vector<JobRequest> jobs) {
    auto st = sched_.Submit(jobs);
    ASSERT_TRUE(st.ok()) << st.status();
  }
  JobState State(const std::string& id) { return *sched_.state(id); }
  static std::vector<std::string> Ids(const std::vector<Assignment>& as) {
    std::vector<std::string> ids;
    for (const auto& a : as) ids.push_back(a.job_id);
    return ids;
  }

  FakeClock clock_;
  Scheduler sched_;
};

TEST_F(SchedulerTest, PriorityThenFifo) {
  ASSERT_TRUE(sched_.AddWorker("w1", {0, 1}).ok());
  Submit(
      {Job("a"), Job("b", 0, 1, /*priority=*/5), Job("c"), Job("d", 0, 1, 5)});
  EXPECT_THAT(Ids(Run()),
              ElementsAre("b"));  // one slot: highest priority first
  ASSERT_TRUE(sched_.Complete(1, AttemptOutcome::kSucceeded, "").ok());
  EXPECT_THAT(Ids(Run()), ElementsAre("d"));  // same priority: submission order
  ASSERT_TRUE(sched_.Complete(2, AttemptOutcome::kSucceeded, "").ok());
  EXPECT_THAT(Ids(Run()), ElementsAre("a"));
}

TEST_F(SchedulerTest, PlacesByResourcesWithAllGpusOnOneWorker) {
  ASSERT_TRUE(sched_.AddWorker("small", {1, 4}).ok());
  ASSERT_TRUE(sched_.AddWorker("big", {4, 8}).ok());
  Submit({Job("needs3", 3, 1), Job("needs2", 2, 1), Job("needs1", 1, 1)});
  auto as = Run();
  ASSERT_EQ(as.size(), 2u);
  EXPECT_EQ(as[0].job_id, "needs3");
  EXPECT_EQ(as[0].worker_id, "big");
  EXPECT_THAT(as[0].gpu_indices, ElementsAre(0, 1, 2));
  // needs2 cannot fit anywhere now (big has 1 GPU left, small has 1); needs1
  // backfills small (best fit: the worker with the fewest spare GPUs... both
  // have 1; deterministic by name).
  EXPECT_EQ(as[1].job_id, "needs1");
  EXPECT_EQ(State("needs2"), JobState::kQueued);
  ASSERT_TRUE(
      sched_.Complete(as[0].attempt_id, AttemptOutcome::kSucceeded, "").ok());
  auto next = Run();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].job_id, "needs2");
  EXPECT_EQ(next[0].worker_id, "big");
  EXPECT_EQ(next[0].gpu_indices.size(), 2u);
}

TEST_F(SchedulerTest, BestFitKeepsBigHolesForBigJobs) {
  ASSERT_TRUE(sched_.AddWorker("a8", {8, 8}).ok());
  ASSERT_TRUE(sched_.AddWorker("b2", {2, 8}).ok());
  Submit({Job("one", 1, 1)});
  auto as = Run();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].worker_id, "b2");
}

TEST_F(SchedulerTest, DagRunsInOrderAndFailureFailsDependents) {
  ASSERT_TRUE(sched_.AddWorker("w", {0, 4}).ok());
  Submit({Job("train1"), Job("train2"),
          Job("soup", 0, 1, 0, {"train1", "train2"}),
          Job("eval", 0, 1, 0, {"soup"})});
  EXPECT_EQ(State("soup"), JobState::kPending);
  EXPECT_THAT(Ids(Run()), UnorderedElementsAre("train1", "train2"));
  ASSERT_TRUE(sched_.Complete(1, AttemptOutcome::kSucceeded, "").ok());
  EXPECT_THAT(Run(), IsEmpty());  // soup still waits for train2
  ASSERT_TRUE(sched_.Complete(2, AttemptOutcome::kSucceeded, "").ok());
  EXPECT_THAT(Ids(Run()), ElementsAre("soup"));
  auto ev = sched_.Complete(3, AttemptOutcome::kFailed, "exit code 1");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(State("soup"), JobState::kFailed);
  EXPECT_EQ(State("eval"), JobState::kFailed);
  const auto it = std::find_if(ev->begin(), ev->end(), [](const JobEvent& e) {
    return e.job_id == "eval";
  });
  ASSERT_NE(it, ev->end());
  EXPECT_EQ(it->reason, "dependency soup failed");
  EXPECT_TRUE(sched_.progress("e1").done());
  EXPECT_EQ(sched_.progress("e1").succeeded, 2);
  EXPECT_EQ(sched_.progress("e1").failed, 2);
}

TEST_F(SchedulerTest, RejectsBadBatchesAtomically) {
  EXPECT_EQ(sched_.Submit({Job("a"), Job("a")}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(sched_.Submit({Job("x", 0, 1, 0, {"nope"})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sched_.Submit({Job("p", 0, 1, 0, {"q"}), Job("q", 0, 1, 0, {"p"})})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sched_.Submit({Job("z", 0, 0)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sched_.state("a").status().code(),
            absl::StatusCode::kNotFound);  // nothing stored
  EXPECT_EQ(sched_.progress("e1").total, 0);
}

TEST_F(SchedulerTest, LostLeaseRetriesOnAnotherWorkerWithBackoff) {
  ASSERT_TRUE(sched_.AddWorker("w1", {0, 1}).ok());
  ASSERT_TRUE(sched_.AddWorker("w2", {0, 1}).ok());
  Submit({Job("j", 0, 1, 0, {}, /*retries=*/2)});
  auto first = Run();
  ASSERT_EQ(first.size(), 1u);
  const std::string w_first = first[0].worker_id;
  const std::string w_other = w_first == "w1" ? "w2" : "w1";
  // Only the other worker keeps heartbeating.
  clock_.Advance(6'000);
  ASSERT_TRUE(sched_.Heartbeat(w_other).ok());
  clock_.Advance(6'000);
  ASSERT_TRUE(sched_.Heartbeat(w_other).ok());
  auto ev = sched_.Tick();
  ASSERT_FALSE(ev.empty());
  EXPECT_TRUE(ev[0].retry_scheduled);
  EXPECT_EQ(State("j"), JobState::kQueued);
  EXPECT_THAT(Run(), IsEmpty());  // backing off for 1 s
  clock_.Advance(1'001);
  ASSERT_TRUE(sched_.Heartbeat(w_other).ok());
  sched_.Tick();
  auto second = Run();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].worker_id, w_other);
  EXPECT_EQ(second[0].attempt_number, 2);
  EXPECT_GT(second[0].attempt_id, first[0].attempt_id);
  // The stale first attempt reports success late: fencing rejects it.
  EXPECT_EQ(sched_.Complete(first[0].attempt_id, AttemptOutcome::kSucceeded, "")
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(State("j"), JobState::kRunning);
  ASSERT_TRUE(
      sched_.Complete(second[0].attempt_id, AttemptOutcome::kSucceeded, "")
          .ok());
  EXPECT_EQ(State("j"), JobState::kSucceeded);
  EXPECT_EQ(
      sched_.Complete(second[0].attempt_id, AttemptOutcome::kSucceeded, "")
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);  // never recorded twice
}

TEST_F(SchedulerTest, FailuresExhaustRetriesWithGrowingBackoff) {
  ASSERT_TRUE(sched_.AddWorker("w", {0, 1}).ok());
  Submit({Job("j", 0, 1, 0, {}, /*retries=*/2)});
  // Advances time in 100 ms steps until the job is placed again; returns the
  // placement.
  auto wait_for_placement = [&](int64_t* waited) {
    const int64_t t0 = clock_.NowMillis();
    for (int i = 0; i < 1000; ++i) {
      sched_.Tick();
      auto as = Run();
      if (!as.empty()) {
        *waited = clock_.NowMillis() - t0;
        return as[0];
      }
      clock_.Advance(100);
      EXPECT_TRUE(sched_.Heartbeat("w").ok());
    }
    ADD_FAILURE() << "never placed";
    return Assignment{};
  };
  int64_t waited = 0;
  Assignment a = wait_for_placement(&waited);
  EXPECT_EQ(waited, 0);
  ASSERT_TRUE(
      sched_.Complete(a.attempt_id, AttemptOutcome::kFailed, "exit code 1")
          .ok());
  a = wait_for_placement(&waited);
  EXPECT_EQ(waited, 1'000);  // first retry after the base backoff
  EXPECT_EQ(a.attempt_number, 2);
  ASSERT_TRUE(
      sched_.Complete(a.attempt_id, AttemptOutcome::kFailed, "exit code 1")
          .ok());
  a = wait_for_placement(&waited);
  EXPECT_EQ(waited, 2'000);  // doubled
  EXPECT_EQ(a.attempt_number, 3);
  auto ev =
      sched_.Complete(a.attempt_id, AttemptOutcome::kFailed, "exit code 1");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(State("j"), JobState::kFailed);
  EXPECT_NE(ev->back().reason.find("3 of 3 attempts used"), std::string::npos)
      << ev->back().reason;
}

TEST_F(SchedulerTest, CancelStopsRunningAndDropsQueued) {
  ASSERT_TRUE(sched_.AddWorker("w", {0, 1}).ok());
  Submit({Job("a"), Job("b"), Job("c", 0, 1, 0, {"a"})});
  auto as = Run();
  ASSERT_EQ(as.size(), 1u);
  std::vector<Assignment> stop;
  auto ev = sched_.Cancel("e1", &stop);
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(stop[0].job_id, "a");
  EXPECT_EQ(State("b"), JobState::kCancelled);
  EXPECT_EQ(State("c"), JobState::kCancelled);
  EXPECT_EQ(State("a"), JobState::kRunning);  // until the worker confirms
  ASSERT_TRUE(
      sched_.Complete(as[0].attempt_id, AttemptOutcome::kFailed, "killed")
          .ok());
  EXPECT_EQ(State("a"), JobState::kCancelled);  // not retried: cancel was asked
  EXPECT_TRUE(sched_.progress("e1").done());
  EXPECT_THAT(Run(), IsEmpty());
}

TEST_F(SchedulerTest, ForgetsOnlyEndedExperiments) {
  ASSERT_TRUE(sched_.AddWorker("w", {0, 1}).ok());
  Submit({Job("a"), Job("b", 0, 1, 0, {}, 0, "e2")});
  auto as = Run();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(sched_.Forget("e1").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(
      sched_.Complete(as[0].attempt_id, AttemptOutcome::kSucceeded, "").ok());
  EXPECT_EQ(sched_.totals().succeeded, 1);
  ASSERT_TRUE(sched_.Forget("e1").ok());
  EXPECT_EQ(sched_.state("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(sched_.progress("e1").done());
  EXPECT_EQ(sched_.totals().total, 1);  // only e2's job is left
  EXPECT_EQ(sched_.totals().succeeded, 0);
  EXPECT_THAT(Ids(Run()), ElementsAre("b"));
}

TEST(SchedulerStall, ACoordinatorStallDoesNotExpireLeases) {
  FakeClock clock;
  Scheduler::Options o{10'000, 1'000, 8'000};
  o.stall_ms = 3'000;
  Scheduler s(o, &clock);
  ASSERT_TRUE(s.AddWorker("w", {0, 1}).ok());
  ASSERT_TRUE(s.Submit({Job("a")}).ok());
  std::vector<JobEvent> ev;
  ASSERT_EQ(s.Schedule(&ev).size(), 1u);
  s.Tick();
  clock.Advance(2'000);  // ordinary ticking, worker heartbeats
  ASSERT_TRUE(s.Heartbeat("w").ok());
  s.Tick();
  clock.Advance(30'000);  // the coordinator was frozen for 30 s
  EXPECT_TRUE(s.Tick().empty());
  EXPECT_EQ(*s.state("a"), JobState::kRunning);
  EXPECT_EQ(s.stalled_ms(), 30'000);
  // Time passing normally afterwards still expires a silent worker.
  for (int i = 0; i < 12; ++i) {
    clock.Advance(1'000);
    s.Tick();
  }
  EXPECT_NE(*s.state("a"), JobState::kRunning);
}

TEST_F(SchedulerTest, RestartRestoresRunningAttemptsAndReconciles) {
  // Before the "restart": one job done, one running on w1 as attempt 7, one
  // queued.
  Scheduler fresh(Scheduler::Options{10'000, 1'000, 8'000}, &clock_);
  ASSERT_TRUE(fresh.Restore(Job("done"), JobState::kSucceeded, 1).ok());
  ASSERT_TRUE(fresh
                  .Restore(Job("run", 1, 1, 0, {"done"}), JobState::kRunning, 1,
                           7, "w1", {1})
                  .ok());
  ASSERT_TRUE(fresh.Restore(Job("wait"), JobState::kQueued, 0).ok());
  fresh.SetNextAttemptId(8);
  // w1 reconnects with attempt 7 still running and a stale attempt 3 it should
  // stop.
  ASSERT_TRUE(fresh.AddWorker("w1", {2, 2}).ok());
  std::vector<JobEvent> events;
  EXPECT_THAT(fresh.Reconcile("w1", {7, 3}, &events), ElementsAre(3));
  EXPECT_THAT(events, IsEmpty());
  std::vector<JobEvent> ev;
  auto as = fresh.Schedule(&ev);
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].job_id, "wait");
  EXPECT_EQ(as[0].attempt_id, 8);
  // GPU 1 stayed reserved for the restored attempt: a new 1-GPU job gets GPU 0.
  ASSERT_TRUE(fresh.Submit({Job("gpu", 1, 1)}).ok());
  as = fresh.Schedule(&ev);
  ASSERT_EQ(as.size(), 0u);  // cpu slots full (run + wait)
  ASSERT_TRUE(fresh.Complete(8, AttemptOutcome::kSucceeded, "").ok());
  as = fresh.Schedule(&ev);
  ASSERT_EQ(as.size(), 1u);
  EXPECT_THAT(as[0].gpu_indices, ElementsAre(0));
  ASSERT_TRUE(fresh.Complete(7, AttemptOutcome::kSucceeded, "").ok());
  EXPECT_EQ(*fresh.state("run"), JobState::kSucceeded);
}

TEST_F(SchedulerTest, RestoredAttemptWhoseWorkerNeverReturnsIsRetried) {
  Scheduler fresh(Scheduler::Options{10'000, 1'000, 8'000}, &clock_);
  ASSERT_TRUE(
      fresh
          .Restore(Job("run", 0, 1, 0, {}, 1), JobState::kRunning, 1, 4, "gone")
          .ok());
  ASSERT_TRUE(fresh.AddWorker("w2", {0, 1}).ok());
  clock_.Advance(5'000);
  ASSERT_TRUE(fresh.Heartbeat("w2").ok());
  EXPECT_THAT(fresh.Tick(), IsEmpty());
  clock_.Advance(6'000);
  ASSERT_TRUE(fresh.Heartbeat("w2").ok());
  auto ev = fresh.Tick();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].retry_scheduled);
  clock_.Advance(1'001);
  fresh.Tick();
  std::vector<JobEvent> e2;
  auto as = fresh.Schedule(&e2);
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].worker_id, "w2");
  EXPECT_EQ(as[0].attempt_number, 2);
}

}  // namespace
}  // namespace ladle

namespace ladle {
namespace {

// The free-capacity index against a brute-force model, under random churn on
// a mixed fleet (workers join, leave, lose their lease; attempts end): every
// placement fits its worker, is the best fit a scan of all workers finds
// (smallest free GPUs, then free CPU slots, then id; another worker than the
// previous attempt's first), and after each pass no queued head fits anywhere.
TEST(SchedulerIndex, BestFitMatchesAScanOfTheFleetUnderChurn) {
  FakeClock clock;
  Scheduler sched(Scheduler::Options{10'000, 1'000, 8'000}, &clock);
  std::mt19937 rng(42);
  struct Free {
    int gpus, cpu;
    bool alive;
  };
  std::map<std::string, Resources> capacity;
  std::map<std::string, Free> model;  // what each worker has free
  std::map<int64_t, std::pair<std::string, Resources>> running;
  std::map<std::string, std::string> last_worker;
  int next_job = 0;
  auto add_worker = [&](const std::string& id) {
    const Resources r{static_cast<int>(rng() % 3),
                      1 + static_cast<int>(rng() % 4)};
    ASSERT_TRUE(sched.AddWorker(id, r).ok());
    capacity[id] = r;
    model[id] = {r.gpus, r.cpu_slots, true};
  };
  for (int w = 0; w < 40; ++w) add_worker(absl::StrCat("w", w));
  std::map<std::string, Resources> need;
  for (int round = 0; round < 300; ++round) {
    std::vector<JobRequest> jobs;
    for (int k = 0; k < 8; ++k) {
      const std::string id = absl::StrCat("j", next_job++);
      const int gpus = static_cast<int>(rng() % 3 == 0 ? rng() % 3 : 0);
      const int cpu = gpus > 0 ? static_cast<int>(rng() % 2)
                               : 1 + static_cast<int>(rng() % 3);
      need[id] = {gpus, cpu};
      jobs.push_back(Job(id, gpus, cpu, 0, {}, /*retries=*/5));
    }
    ASSERT_TRUE(sched.Submit(jobs).ok());
    std::vector<JobEvent> events;
    for (const Assignment& a : sched.Schedule(&events)) {
      const Resources n = need.at(a.job_id);
      // The brute-force best fit over the model, before this placement.
      const std::string* best = nullptr;
      std::tuple<bool, int, int, std::string> best_key;
      for (const auto& [id, f] : model) {
        if (!f.alive || f.gpus < n.gpus || f.cpu < n.cpu_slots) continue;
        const auto key =
            std::make_tuple(id == last_worker[a.job_id], f.gpus, f.cpu, id);
        if (best == nullptr || key < best_key) {
          best = &id;
          best_key = key;
        }
      }
      ASSERT_NE(best, nullptr) << a.job_id << " placed where nothing fits";
      EXPECT_EQ(a.worker_id, *best) << a.job_id;
      Free& f = model[a.worker_id];
      f.gpus -= n.gpus;
      f.cpu -= n.cpu_slots;
      ASSERT_GE(f.gpus, 0);
      ASSERT_GE(f.cpu, 0);
      running[a.attempt_id] = {a.worker_id, n};
      last_worker[a.job_id] = a.worker_id;
    }
    // End a random third of the running attempts (success or failure).
    for (auto it = running.begin(); it != running.end();) {
      if (rng() % 3 != 0) {
        ++it;
        continue;
      }
      const auto outcome =
          rng() % 4 == 0 ? AttemptOutcome::kFailed : AttemptOutcome::kSucceeded;
      ASSERT_TRUE(sched.Complete(it->first, outcome, "").ok());
      Free& f = model[it->second.first];
      f.gpus += it->second.second.gpus;
      f.cpu += it->second.second.cpu_slots;
      it = running.erase(it);
    }
    // Now and then a worker leaves (its attempts are lost) and comes back.
    if (round % 25 == 24) {
      const std::string id = absl::StrCat("w", rng() % 40);
      sched.RemoveWorker(id);
      for (auto it = running.begin(); it != running.end();) {
        it = it->second.first == id ? running.erase(it) : std::next(it);
      }
      add_worker(id);
    }
  }
  EXPECT_GT(next_job, 2000);
}

}  // namespace
}  // namespace ladle

namespace ladle {
namespace {

// A drain: nothing new goes to the draining worker, an attempt that stops
// when asked runs again elsewhere at once without using a retry, and the
// worker takes work again once it registers anew.
TEST(SchedulerDrain, StoppedAttemptsRunAgainWithoutUsingARetry) {
  FakeClock clock;
  Scheduler s(Scheduler::Options{10'000, 1'000, 8'000}, &clock);
  ASSERT_TRUE(s.AddWorker("a", {0, 1}).ok());
  JobRequest job = Job("j");  // max_retries 0
  ASSERT_TRUE(s.Submit({job}).ok());
  std::vector<JobEvent> events;
  std::vector<Assignment> as = s.Schedule(&events);
  ASSERT_EQ(as.size(), 1u);
  ASSERT_TRUE(s.DrainWorker("a").ok());
  ASSERT_TRUE(s.AddWorker("b", {0, 1}).ok());
  ASSERT_TRUE(s.Submit({Job("other")}).ok());
  std::vector<Assignment> next = s.Schedule(&events);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].worker_id, "b");
  auto ended = s.Complete(as[0].attempt_id, AttemptOutcome::kStopped, "");
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*s.state("j"), JobState::kQueued);
  EXPECT_THAT(ended->front().reason, ::testing::HasSubstr("no retry used"));
  EXPECT_THAT(s.Schedule(&events), IsEmpty());  // b is busy, a drains
  ASSERT_TRUE(
      s.Complete(next[0].attempt_id, AttemptOutcome::kSucceeded, "").ok());
  as = s.Schedule(&events);  // no backoff: at once
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].worker_id, "b");
  EXPECT_EQ(as[0].attempt_number, 2);
  // Its one attempt is still its own: a failure now ends it.
  ASSERT_TRUE(s.Complete(as[0].attempt_id, AttemptOutcome::kFailed, "x").ok());
  EXPECT_EQ(*s.state("j"), JobState::kFailed);
  // Back from its drain, a takes work again.
  ASSERT_TRUE(s.AddWorker("a", {0, 1}).ok());
  ASSERT_TRUE(s.Submit({Job("later1"), Job("later2")}).ok());
  EXPECT_EQ(s.Schedule(&events).size(), 2u);
}

}  // namespace
}  // namespace ladle

namespace ladle {
namespace {

// The demand an autoscaler reads: queued jobs (a retry's backoff included)
// and running ones per shape, each job once, with the oldest wait and the most
// memory asked.
TEST_F(SchedulerTest, DemandCountsQueuedAndRunningJobsPerShape) {
  JobRequest big = Job("g1", /*gpus=*/2, /*cpu=*/4);
  big.resources.memory_bytes = 8 << 20;
  JobRequest big2 = Job("g2", 2, 4);
  big2.resources.memory_bytes = 16 << 20;
  const int64_t t0 = clock_.NowMillis();
  Submit({Job("c1"), Job("c2"), Job("c3", 0, 1, 0, {}, /*retries=*/1), big});
  clock_.Advance(5'000);
  Submit({big2});
  ASSERT_TRUE(sched_.AddWorker("w1", {0, 2}).ok());
  const std::vector<Assignment> placed = Run();  // c1, c2 run; c3 waits
  ASSERT_EQ(placed.size(), 2u);
  EXPECT_EQ(sched_.AttemptsPerWorker().at("w1"), 2);  // ListWorkers shows it
  std::vector<ShapeDemand> d = sched_.Demand();
  ASSERT_EQ(d.size(), 2u);  // shape order: CPU (0 GPUs) first
  EXPECT_EQ(d[0].shape.gpus, 0);
  EXPECT_EQ(d[0].shape.cpu_slots, 1);
  EXPECT_EQ(d[0].queued, 1);
  EXPECT_EQ(d[0].running, 2);
  EXPECT_EQ(d[1].shape.gpus, 2);
  EXPECT_EQ(d[1].shape.cpu_slots, 4);
  EXPECT_EQ(d[1].queued, 2);
  EXPECT_EQ(d[1].running, 0);
  EXPECT_EQ(d[1].max_memory_bytes, 16 << 20);
  EXPECT_EQ(d[1].oldest_queued_ms, t0);  // g1's, not g2's (t0 + 5 s)
  EXPECT_EQ(d[0].oldest_queued_ms, t0);
  // A failed attempt waiting out its backoff still counts as queued.
  for (const Assignment& a : placed)
    ASSERT_TRUE(
        sched_.Complete(a.attempt_id, AttemptOutcome::kSucceeded, "").ok());
  const std::vector<Assignment> c3 = Run();
  ASSERT_EQ(c3.size(), 1u);
  ASSERT_TRUE(
      sched_.Complete(c3[0].attempt_id, AttemptOutcome::kFailed, "boom").ok());
  d = sched_.Demand();
  EXPECT_EQ(d[0].queued, 1);  // c3, in its retry backoff
  EXPECT_EQ(d[0].running, 0);
}

}  // namespace
}  // namespace ladle

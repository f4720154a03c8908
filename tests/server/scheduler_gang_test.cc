// Gang jobs in the scheduler: all-or-nothing placement across workers, the
// torchrun ranks of each attempt, a failed or lost rank ending the gang (its
// peers stopped, the job retried whole, fencing by rank 0's attempt), cancel,
// restart recovery, and the reservation that keeps a gang from starving
// behind a stream of small jobs.
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/scheduler.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

JobRequest Gang(std::string id, int ranks, int cpu, int retries = 0,
                int priority = 0) {
  JobRequest r;
  r.id = std::move(id);
  r.experiment_id = "e1";
  r.resources = {0, cpu, 0, ranks};
  r.max_retries = retries;
  r.priority = priority;
  return r;
}

JobRequest Small(std::string id, int priority = 0) {
  return Gang(std::move(id), 1, 1, 0, priority);
}

class GangTest : public ::testing::Test {
 protected:
  GangTest() : sched_(Scheduler::Options{10'000, 1'000, 8'000}, &clock_) {}

  std::vector<Assignment> Run() {
    events_.clear();
    return sched_.Schedule(&events_);
  }
  void Submit(std::vector<JobRequest> jobs) {
    auto st = sched_.Submit(jobs);
    ASSERT_TRUE(st.ok()) << st.status();
  }
  std::vector<JobEvent> Complete(int64_t attempt, AttemptOutcome outcome) {
    auto st = sched_.Complete(attempt, outcome, "exit 1");
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? *st : std::vector<JobEvent>{};
  }
  JobState State(const std::string& id) { return *sched_.state(id); }
  void Workers(std::vector<std::pair<std::string, int>> cpus) {
    for (const auto& [id, cpu] : cpus)
      ASSERT_TRUE(sched_.AddWorker(id, {0, cpu}).ok());
  }

  FakeClock clock_;
  Scheduler sched_;
  std::vector<JobEvent> events_;
};

std::vector<std::string> WorkersOf(const std::vector<Assignment>& as) {
  std::vector<std::string> w;
  for (const Assignment& a : as) w.push_back(a.worker_id);
  return w;
}

TEST_F(GangTest, PlacesEveryRankAtOnceOrNone) {
  Workers({{"w1", 2}, {"w2", 2}});
  Submit({Gang("g", 3, 2)});
  EXPECT_THAT(Run(), IsEmpty());  // two of three ranks fit: none placed
  EXPECT_EQ(sched_.running_attempts(), 0u);
  EXPECT_EQ(State("g"), JobState::kQueued);
  Workers({{"w3", 2}});
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 3u);
  EXPECT_THAT(WorkersOf(as), ElementsAre("w1", "w2", "w3"));
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(as[r].rank, r);
    EXPECT_EQ(as[r].world_size, 3);
    EXPECT_EQ(as[r].local_rank, 0);
    EXPECT_EQ(as[r].local_world_size, 1);
    EXPECT_EQ(as[r].attempt_id, as[0].attempt_id + r);  // consecutive
    EXPECT_EQ(as[r].gang_attempt_id, as[0].attempt_id);
    EXPECT_EQ(as[r].attempt_number, 1);
  }
  // One job event (rank 0's attempt), then a start per other rank.
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_FALSE(events_[0].rank_only);
  EXPECT_EQ(events_[0].state, JobState::kRunning);
  EXPECT_EQ(events_[0].attempt_id, as[0].attempt_id);
  EXPECT_TRUE(events_[1].rank_only && events_[2].rank_only);
  EXPECT_EQ(events_[2].attempt_id, as[2].attempt_id);
}

TEST_F(GangTest, PacksRanksOntoTheFewestWorkers) {
  Workers({{"small", 2}, {"big", 6}});
  Submit({Gang("g", 4, 2)});
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 4u);
  EXPECT_THAT(WorkersOf(as), ElementsAre("big", "big", "big", "small"));
  EXPECT_EQ(as[2].local_rank, 2);
  EXPECT_EQ(as[2].local_world_size, 3);
  EXPECT_EQ(as[3].local_rank, 0);
  EXPECT_EQ(as[3].local_world_size, 1);
}

TEST_F(GangTest, EveryRankMustSucceed) {
  Workers({{"w1", 1}, {"w2", 1}});
  Submit({Gang("g", 2, 1)});
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 2u);
  std::vector<JobEvent> e =
      Complete(as[0].attempt_id, AttemptOutcome::kSucceeded);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e[0].rank_only && e[0].attempt_ended);
  EXPECT_EQ(State("g"), JobState::kRunning);
  e = Complete(as[1].attempt_id, AttemptOutcome::kSucceeded);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(e[0].rank_only);
  EXPECT_TRUE(e[0].attempt_ended);
  EXPECT_EQ(e[0].state, JobState::kSucceeded);
  EXPECT_EQ(State("g"), JobState::kSucceeded);
  EXPECT_EQ(sched_.running_attempts(), 0u);
}

TEST_F(GangTest, AFailedRankStopsItsPeersAndTheGangIsRetriedWhole) {
  Workers({{"w1", 1}, {"w2", 1}});
  Submit({Gang("g", 2, 1, /*retries=*/1)});
  const std::vector<Assignment> first = Run();
  ASSERT_EQ(first.size(), 2u);
  std::vector<JobEvent> e =
      Complete(first[1].attempt_id, AttemptOutcome::kFailed);
  ASSERT_FALSE(e.empty());
  EXPECT_TRUE(e[0].retry_scheduled);
  EXPECT_THAT(e[0].reason, ::testing::HasSubstr("rank 1 of 2 (worker w2)"));
  const std::vector<Assignment> stops = sched_.TakeStops();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].attempt_id, first[0].attempt_id);
  EXPECT_EQ(stops[0].worker_id, "w1");
  EXPECT_THAT(sched_.TakeStops(), IsEmpty());
  // Rank 0 still holds w1 until it reports: the retry cannot start.
  clock_.Advance(2'000);
  sched_.Tick();
  EXPECT_THAT(Run(), IsEmpty());
  // Its report ends only its own attempt.
  e = Complete(first[0].attempt_id, AttemptOutcome::kCancelled);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e[0].rank_only);
  EXPECT_THAT(e[0].reason, ::testing::HasSubstr("gang stopped: rank 1"));
  const std::vector<Assignment> second = Run();
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].attempt_number, 2);
  EXPECT_GT(second[0].attempt_id, first[1].attempt_id);
  // Fencing: the old gang's ranks are not running any more.
  EXPECT_EQ(sched_.Complete(first[1].attempt_id, AttemptOutcome::kSucceeded, "")
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // The second attempt's failure uses the last retry: the job fails.
  Complete(second[0].attempt_id, AttemptOutcome::kFailed);
  EXPECT_EQ(State("g"), JobState::kFailed);
  ASSERT_EQ(sched_.TakeStops().size(), 1u);
  // The experiment has ended and is forgotten while rank 1 still stops; its
  // worker re-registers with it, then it reports: it ends on its own.
  ASSERT_TRUE(sched_.Forget("e1").ok());
  ASSERT_TRUE(sched_.AddWorker("w2", {0, 1}).ok());
  std::vector<JobEvent> late =
      Complete(second[1].attempt_id, AttemptOutcome::kCancelled);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_TRUE(late[0].rank_only && late[0].attempt_ended);
  EXPECT_EQ(late[0].job_id, "g");
  EXPECT_EQ(sched_.running_attempts(), 0u);
  Submit({Gang("next", 2, 1)});
  EXPECT_EQ(Run().size(), 2u);  // both slots are free again
}

TEST_F(GangTest, ALostWorkerLosesTheGang) {
  Workers({{"w1", 1}, {"w2", 1}});
  Submit({Gang("g", 2, 1, /*retries=*/1)});
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 2u);
  clock_.Advance(6'000);
  ASSERT_TRUE(sched_.Heartbeat("w1").ok());  // w2 is silent
  clock_.Advance(6'000);
  std::vector<JobEvent> e = sched_.Tick();
  ASSERT_FALSE(e.empty());
  EXPECT_THAT(e[0].reason, ::testing::HasSubstr("attempt lost"));
  EXPECT_EQ(State("g"), JobState::kQueued);
  const std::vector<Assignment> stops = sched_.TakeStops();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].worker_id, "w1");
}

TEST_F(GangTest, CancelStopsEveryRank) {
  Workers({{"w1", 1}, {"w2", 1}});
  Submit({Gang("g", 2, 1)});
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 2u);
  std::vector<Assignment> to_stop;
  sched_.Cancel("e1", &to_stop);
  ASSERT_EQ(to_stop.size(), 2u);
  Complete(as[1].attempt_id, AttemptOutcome::kCancelled);
  EXPECT_EQ(State("g"), JobState::kCancelled);
  EXPECT_THAT(sched_.TakeStops(), IsEmpty());  // already asked by the cancel
  std::vector<JobEvent> e =
      Complete(as[0].attempt_id, AttemptOutcome::kCancelled);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e[0].rank_only);
  EXPECT_EQ(sched_.running_attempts(), 0u);
}

TEST_F(GangTest, ARestoredGangEndsWhenAWorkerReturnsWithoutItsRank) {
  ASSERT_TRUE(sched_
                  .Restore(Gang("g", 2, 1), JobState::kRunning, 1, 40,
                           {{40, "w1", {}, 0}, {41, "w2", {}, 1}})
                  .ok());
  Workers({{"w1", 1}, {"w2", 1}});
  std::vector<JobEvent> events;
  // Reconnecting w1 still runs rank 0; w2 lost rank 1: the gang ends.
  EXPECT_THAT(sched_.Reconcile("w1", {40}, &events), IsEmpty());
  EXPECT_TRUE(events.empty());
  EXPECT_THAT(sched_.Reconcile("w2", {}, &events), IsEmpty());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(State("g"), JobState::kFailed);
  const std::vector<Assignment> stops = sched_.TakeStops();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].attempt_id, 40);
  // w1 reconnects again before the stop reached it: it is told to stop.
  EXPECT_THAT(sched_.Reconcile("w1", {40}, &events), ElementsAre(40));
  EXPECT_EQ(sched_
                .Restore(Gang("bad", 2, 1), JobState::kRunning, 1, 50,
                         {{52, "w1", {}, 1}})
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// Two 2-slot workers busy with 1-slot jobs, a gang wanting both whole, and a
// new 1-slot job submitted whenever one ends: without the reservation each
// freed slot goes to a small job and the gang never starts.
TEST_F(GangTest, AReservationKeepsAGangFromStarvingBehindSmallJobs) {
  Workers({{"w1", 2}, {"w2", 2}, {"side", 1}});
  Submit({Small("s0"), Small("s1"), Small("s2"), Small("s3"), Small("s4")});
  std::vector<Assignment> running = Run();
  ASSERT_EQ(running.size(), 5u);
  Submit({Gang("g", 2, 2)});
  int next = 5;
  std::set<std::string> small_on_reserved;
  std::vector<Assignment> gang;
  for (int round = 0; round < 10 && gang.empty(); ++round) {
    // The oldest running small job ends; another small job arrives.
    Assignment done = running.front();
    running.erase(running.begin());
    Complete(done.attempt_id, AttemptOutcome::kSucceeded);
    Submit({Small("s" + std::to_string(next++))});
    for (Assignment& a : Run()) {
      if (a.job_id == "g") {
        gang.push_back(a);
      } else {
        if (a.worker_id != "side") small_on_reserved.insert(a.job_id);
        running.push_back(a);
      }
    }
    if (gang.empty()) EXPECT_EQ(sched_.reserved_workers(), 2u);
  }
  ASSERT_EQ(gang.size(), 2u);
  EXPECT_THAT(WorkersOf(gang), ElementsAre("w1", "w2"));
  EXPECT_THAT(small_on_reserved, IsEmpty());
  // Small jobs kept running beside it on the unreserved worker.
  bool side_used = false;
  for (const Assignment& a : running) side_used |= a.worker_id == "side";
  EXPECT_TRUE(side_used);
}

TEST_F(GangTest, JobsOrderedBeforeTheGangStillUseReservedWorkers) {
  Workers({{"w1", 2}});
  Submit({Small("s0")});
  std::vector<Assignment> first = Run();
  ASSERT_EQ(first.size(), 1u);
  Submit({Gang("g", 1 + 1, 2)});  // can never fit on one 2-slot worker: no
  Submit({Small("s1")});          // reservation, small jobs run
  EXPECT_EQ(Run().size(), 1u);
  EXPECT_EQ(sched_.reserved_workers(), 0u);
  Workers({{"w2", 2}});
  Submit({Small("urgent", /*priority=*/5), Small("later")});
  // The gang fits nowhere now (w1 busy): w1 and w2 are reserved; the urgent
  // job outranks the gang and may take a reserved slot, the later may not.
  const std::vector<Assignment> as = Run();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].job_id, "urgent");
  EXPECT_EQ(sched_.reserved_workers(), 2u);
}

}  // namespace
}  // namespace ladle

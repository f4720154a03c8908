// The coordinator core end to end without gRPC: real store (":memory:" or a
// file), real scheduler, fake clock, fake worker sinks.
#include "server/coordinator.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/fault_store.h"

namespace ladle {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kSweep[] = R"(
name: six
trial: {model: {hidden: [16]}, data: {limit: 100}}
sweep: {grid: {train.seed: [1, 2, 3], train.optimizer.lr: [0.001, 0.002]}}
resources: {cpu_slots: 1}
max_retries: 1
)";

// Commands arrive on the coordinator's writer thread once stored; Take() syncs
// with it first.
struct FakeWorker {
  explicit FakeWorker(std::string worker_id) : id(std::move(worker_id)) {}
  std::string id;
  Coordinator* coordinator = nullptr;
  std::vector<WorkerCommand> inbox;
  Coordinator::WorkerSink Sink() {
    return [this](const WorkerCommand& c) { inbox.push_back(c); };
  }
  std::vector<WorkerCommand> Take() {
    coordinator->Sync();
    return std::exchange(inbox, {});
  }
};

Coordinator::Options Opts() {
  Coordinator::Options o;
  o.scheduler = {10'000, 1'000, 8'000};
  return o;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*OpenSqliteStore(":memory:"));
    coord_ = std::make_unique<Coordinator>(Opts(), store_.get(), &clock_);
    ASSERT_TRUE(coord_->Recover().ok());
  }
  void Connect(FakeWorker& w, int cpu) {
    w.coordinator = coord_.get();
    auto st = coord_->ConnectWorker({w.id, w.id, {0, cpu}, "{}"}, {}, w.Sink());
    ASSERT_TRUE(st.ok()) << st.status();
  }
  // Reports success for every assignment in the worker's inbox.
  int SucceedAll(FakeWorker& w) {
    int n = 0;
    for (const WorkerCommand& c : w.Take()) {
      if (c.type != WorkerCommand::Type::kAssign) continue;
      EXPECT_TRUE(coord_
                      ->ReportResult(w.id, c.assignment.attempt_id,
                                     AttemptOutcome::kSucceeded, 0, "",
                                     R"({"test_accuracy": 0.5})")
                      .ok());
      ++n;
    }
    return n;
  }

  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Coordinator> coord_;
};

TEST_F(CoordinatorTest, SubmitAsyncAnswersOnceStoredAndQueued) {
  FakeWorker w{"w"};
  Connect(w, 1);
  absl::Notification answered;
  absl::StatusOr<Coordinator::SubmitResult> got;
  bool stored_when_answered = false;
  coord_->SubmitAsync(
      kSweep, "alice", false, [&](absl::StatusOr<Coordinator::SubmitResult> r) {
        stored_when_answered =
            r.ok() && store_->GetExperiment(r->experiment_id).ok();
        got = std::move(r);
        answered.Notify();
      });
  answered.WaitForNotification();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->jobs.size(), 6u);
  EXPECT_TRUE(stored_when_answered);
  // Queued in the scheduler by then: the worker's one slot was assigned.
  EXPECT_EQ(w.Take().size(), 1u);
}

// Blocks in OnTotals, which runs with the coordinator's lock held, while armed.
class GateObserver : public CoordinatorObserver {
 public:
  void OnTotals(const ExperimentProgress&, int, int) override {
    if (!armed.exchange(false)) return;
    entered.Notify();
    release.WaitForNotification();
  }
  std::atomic<bool> armed{false};
  absl::Notification entered, release;
};

TEST_F(CoordinatorTest,
       SubmitAsyncIsAdmittedByTheAdmissionThreadWhenTheLockIsBusy) {
  GateObserver gate;
  auto coord =
      std::make_unique<Coordinator>(Opts(), store_.get(), &clock_, &gate);
  ASSERT_TRUE(coord->Recover().ok());
  gate.armed = true;
  std::thread holder([&] { coord->Tick(); });  // holds the lock in OnTotals
  gate.entered.WaitForNotification();
  absl::Notification answered;
  absl::StatusOr<Coordinator::SubmitResult> got;
  std::thread::id answered_on;
  coord->SubmitAsync(kSweep, "alice", false,
                     [&](absl::StatusOr<Coordinator::SubmitResult> r) {
                       answered_on = std::this_thread::get_id();
                       got = std::move(r);
                       answered.Notify();
                     });
  coord->Sync();  // committed; the committer found the lock busy
  EXPECT_FALSE(answered.HasBeenNotified());
  gate.release.Notify();
  holder.join();
  answered.WaitForNotification();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NE(answered_on, std::this_thread::get_id());
  // Admitted, so queued: a worker that joins now gets one of its jobs.
  FakeWorker w{"w"};
  w.coordinator = coord.get();
  ASSERT_TRUE(
      coord->ConnectWorker({"w", "w", {0, 1}, "{}"}, {}, w.Sink()).ok());
  EXPECT_EQ(w.Take().size(), 1u);
}

TEST_F(CoordinatorTest, SubmitAsyncAnswersRefusalsAndDryRunsOnTheCaller) {
  std::vector<std::thread::id> threads;
  coord_->SubmitAsync("name: x\n", "alice", false,
                      [&](absl::StatusOr<Coordinator::SubmitResult> r) {
                        threads.push_back(std::this_thread::get_id());
                        ASSERT_FALSE(r.ok());
                        EXPECT_THAT(r.status().message(), HasSubstr("trial"));
                      });
  coord_->SubmitAsync(kSweep, "alice", true,
                      [&](absl::StatusOr<Coordinator::SubmitResult> r) {
                        threads.push_back(std::this_thread::get_id());
                        ASSERT_TRUE(r.ok()) << r.status();
                        EXPECT_EQ(r->jobs.size(), 6u);
                        EXPECT_EQ(r->experiment_id, "dry-run");
                      });
  ASSERT_EQ(threads.size(), 2u);  // both answered before SubmitAsync returned
  EXPECT_EQ(threads[0], std::this_thread::get_id());
  EXPECT_EQ(threads[1], std::this_thread::get_id());
  EXPECT_FALSE(store_->GetExperiment("dry-run").ok());
}

TEST_F(CoordinatorTest, SweepRunsToCompletionOnTwoWorkers) {
  FakeWorker w1{"w1"}, w2{"w2"};
  Connect(w1, 1);
  Connect(w2, 1);
  std::vector<WatchEvent> seen;
  auto sub = coord_->Submit(kSweep, "alice", false);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_EQ(sub->jobs.size(), 6u);
  coord_->Watch(sub->experiment_id,
                [&](const WatchEvent& e) { seen.push_back(e); });
  coord_->Sync();
  EXPECT_EQ(w1.inbox.size() + w2.inbox.size(),
            2u);  // one slot each, pushed at once
  int done = 0;
  for (int round = 0; round < 6 && done < 6; ++round)
    done += SucceedAll(w1) + SucceedAll(w2);
  EXPECT_EQ(done, 6);
  coord_->Sync();
  auto e = store_->GetExperiment(sub->experiment_id);
  EXPECT_EQ(e->state, "succeeded");
  auto jobs = store_->ListJobs(sub->experiment_id);
  for (const JobRecord& j : *jobs) {
    EXPECT_EQ(j.state, "succeeded") << j.id;
    EXPECT_EQ(j.summary, R"({"test_accuracy": 0.5})");
    auto attempts = store_->ListAttempts(j.id);
    ASSERT_EQ(attempts->size(), 1u);
    EXPECT_EQ((*attempts)[0].outcome, "succeeded");
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().type, WatchEvent::Type::kFinished);
  EXPECT_EQ(seen.back().experiment.state, "succeeded");
}

TEST_F(CoordinatorTest, LostWorkerRetriesElsewhereAndFencesItsLateReport) {
  FakeWorker w1{"w1"}, w2{"w2"};
  Connect(w1, 1);
  auto sub = coord_->Submit(
      "name: one\ntrial: {data: {limit: 100}}\nmax_retries: 1\n", "bob", false);
  ASSERT_TRUE(sub.ok());
  auto first = w1.Take();
  ASSERT_EQ(first.size(), 1u);
  Connect(w2, 1);
  // w1 goes silent; w2 keeps heartbeating.
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(1'000);
    ASSERT_TRUE(coord_->Heartbeat("w2").ok());
    coord_->Tick();
  }
  auto second = w2.Take();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].assignment.attempt_number, 2);
  const absl::Status late =
      coord_->ReportResult("w1", first[0].assignment.attempt_id,
                           AttemptOutcome::kSucceeded, 0, "", "{}");
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(coord_
                  ->ReportResult("w2", second[0].assignment.attempt_id,
                                 AttemptOutcome::kSucceeded, 0, "", "{}")
                  .ok());
  coord_->Sync();
  const JobRecord j = *store_->GetJob(sub->jobs[0].id);
  EXPECT_EQ(j.state, "succeeded");
  auto attempts = *store_->ListAttempts(j.id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, "lost");
  EXPECT_EQ(attempts[1].outcome, "succeeded");
}

TEST_F(CoordinatorTest, CancelSendsStopToRunningAttempts) {
  FakeWorker w{"w"};
  Connect(w, 1);
  auto sub = coord_->Submit(kSweep, "alice", false);
  ASSERT_TRUE(sub.ok());
  auto running = w.Take();
  ASSERT_EQ(running.size(), 1u);
  auto e = coord_->Cancel(sub->experiment_id);
  ASSERT_TRUE(e.ok());
  auto cmds = w.Take();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].type, WorkerCommand::Type::kCancel);
  EXPECT_EQ(cmds[0].assignment.attempt_id, running[0].assignment.attempt_id);
  ASSERT_TRUE(coord_
                  ->ReportResult("w", cmds[0].assignment.attempt_id,
                                 AttemptOutcome::kCancelled, -15, "stopped", "")
                  .ok());
  coord_->Sync();
  EXPECT_EQ(store_->GetExperiment(sub->experiment_id)->state, "cancelled");
  EXPECT_THAT(w.Take(), IsEmpty());  // nothing else is dispatched
}

TEST_F(CoordinatorTest, BadSpecsAndDryRunsStoreNothing) {
  auto bad =
      coord_->Submit("name: x\ntrial: {train: {epochs: 0}}\n", "a", false);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("train.epochs"));
  auto dry = coord_->Submit(kSweep, "a", true);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->jobs.size(), 6u);
  EXPECT_TRUE(store_->ListExperiments({})->experiments.empty());
}

TEST(CoordinatorFaults,
     AnAssignmentThatCannotBeStoredIsNeverDeliveredButRetried) {
  FakeClock clock;
  auto base = std::move(*OpenSqliteStore(":memory:"));
  FaultStore faults(base.get());
  Coordinator c(Opts(), &faults, &clock);
  ASSERT_TRUE(c.Recover().ok());
  auto sub = c.Submit(
      "name: one\ntrial: {data: {limit: 100}}\nmax_retries: 1\n", "bob", false);
  ASSERT_TRUE(sub.ok()) << sub.status();
  // The disk fills up just as a worker arrives and gets the job.
  faults.FailCommits(1000, absl::ResourceExhaustedError("disk full"));
  FakeWorker w{"w1"};
  w.coordinator = &c;
  ASSERT_TRUE(c.ConnectWorker({"w1", "w1", {0, 1}, "{}"}, {}, w.Sink()).ok());
  EXPECT_THAT(w.Take(), IsEmpty());         // not stored, so not sent
  faults.FailCommits(0, absl::OkStatus());  // space is back
  std::vector<WorkerCommand> got;
  for (int i = 0; i < 20 && got.empty(); ++i) {
    clock.Advance(500);
    ASSERT_TRUE(c.Heartbeat("w1").ok());
    c.Tick();
    got = w.Take();
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].assignment.attempt_number, 2);
  ASSERT_TRUE(c.ReportResult("w1", got[0].assignment.attempt_id,
                             AttemptOutcome::kSucceeded, 0, "", "{}")
                  .ok());
  c.Sync();
  EXPECT_EQ(base->GetExperiment(sub->experiment_id)->state, "succeeded");
  const std::vector<AttemptRecord> attempts =
      *base->ListAttempts(sub->jobs[0].id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, "lost");
  EXPECT_THAT(attempts[0].reason, HasSubstr("could not be stored"));
  EXPECT_EQ(attempts[1].outcome, "succeeded");
}

TEST(CoordinatorRestart, ResumesRunningAttemptsAndFinishesEachJobOnce) {
  const std::string path = ::testing::TempDir() + "/coord_restart.db";
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
  FakeClock clock;
  std::string exp_id;
  int64_t running_attempt = 0;
  {
    auto store = std::move(*OpenSqliteStore(path));
    Coordinator c(Opts(), store.get(), &clock);
    ASSERT_TRUE(c.Recover().ok());
    FakeWorker w{"w1"};
    w.coordinator = &c;
    ASSERT_TRUE(c.ConnectWorker({"w1", "w1", {0, 1}, "{}"}, {}, w.Sink()).ok());
    auto sub = c.Submit(kSweep, "alice", false);
    ASSERT_TRUE(sub.ok());
    exp_id = sub->experiment_id;
    auto cmds = w.Take();
    ASSERT_EQ(cmds.size(), 1u);
    ASSERT_TRUE(c.ReportResult("w1", cmds[0].assignment.attempt_id,
                               AttemptOutcome::kSucceeded, 0, "", "{}")
                    .ok());
    cmds = w.Take();
    ASSERT_EQ(cmds.size(), 1u);
    running_attempt =
        cmds[0]
            .assignment.attempt_id;  // the server "crashes" with this running
    c.Sync();
  }
  auto store = std::move(*OpenSqliteStore(path));
  Coordinator c(Opts(), store.get(), &clock);
  ASSERT_TRUE(c.Recover().ok());
  FakeWorker w{"w1"};
  w.coordinator = &c;
  // The worker reconnects still running the attempt: it keeps it (nothing to
  // stop).
  auto stop = c.ConnectWorker({"w1", "w1", {0, 1}, "{}"},
                              {running_attempt, 999}, w.Sink());
  ASSERT_TRUE(stop.ok());
  EXPECT_EQ(*stop, std::vector<int64_t>{999});
  EXPECT_THAT(w.Take(),
              IsEmpty());  // its only slot is busy with the resumed attempt
  ASSERT_TRUE(c.ReportResult("w1", running_attempt, AttemptOutcome::kSucceeded,
                             0, "", "{}")
                  .ok());
  for (int i = 0; i < 10; ++i) {
    for (const WorkerCommand& cmd : w.Take()) {
      EXPECT_GT(cmd.assignment.attempt_id,
                running_attempt);  // ids continue after the restart
      ASSERT_TRUE(c.ReportResult("w1", cmd.assignment.attempt_id,
                                 AttemptOutcome::kSucceeded, 0, "", "{}")
                      .ok());
    }
  }
  c.Sync();
  EXPECT_EQ(store->GetExperiment(exp_id)->state, "succeeded");
  const std::vector<JobRecord> jobs = *store->ListJobs(exp_id);
  ASSERT_EQ(jobs.size(), 6u);
  for (const JobRecord& j : jobs) {
    auto attempts = *store->ListAttempts(j.id);
    int succeeded = 0;
    for (const auto& a : attempts) succeeded += a.outcome == "succeeded";
    EXPECT_EQ(succeeded, 1) << j.id;
  }
}

}  // namespace
}  // namespace ladle

namespace ladle {
namespace {

// `ladle rerun --failed`: a new experiment with the failed jobs only (same
// params), linked to the original; refused while it runs and when nothing
// failed. A whole rerun has every job again.
TEST_F(CoordinatorTest,
       RerunFailedSubmitsOnlyTheFailedJobsLinkedToTheOriginal) {
  constexpr char kSpec[] =
      "name: r\nkind: command\ncommand: {argv: [/bin/true]}\n"
      "sweep: {grid: {x: [1, 2, 3]}}\nmax_retries: 0\n";
  auto rerun = [&](const std::string& id, bool failed_only) {
    absl::StatusOr<Coordinator::SubmitResult> out;
    absl::Notification answered;
    coord_->RerunAsync(id, "alice", failed_only, "",
                       [&](absl::StatusOr<Coordinator::SubmitResult> r) {
                         out = std::move(r);
                         answered.Notify();
                       });
    answered.WaitForNotification();
    return out;
  };
  FakeWorker w{"w"};
  Connect(w, 1);
  auto sub = coord_->Submit(kSpec, "alice", false);
  ASSERT_TRUE(sub.ok()) << sub.status();
  coord_->Sync();
  EXPECT_EQ(rerun(sub->experiment_id, true).status().code(),
            absl::StatusCode::kFailedPrecondition);  // still running
  for (int done = 0; done < 3;) {                    // the job with x = 2 fails
    for (const WorkerCommand& c : w.Take()) {
      if (c.type != WorkerCommand::Type::kAssign) continue;
      const bool fail = c.spec_json.find("\"x\":2") != std::string::npos;
      ASSERT_TRUE(coord_
                      ->ReportResult("w", c.assignment.attempt_id,
                                     fail ? AttemptOutcome::kFailed
                                          : AttemptOutcome::kSucceeded,
                                     fail ? 1 : 0, "", "{}")
                      .ok());
      ++done;
    }
    coord_->Sync();
  }
  auto failed = rerun(sub->experiment_id, true);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->job_count, 1);
  auto jobs = store_->ListJobs(failed->experiment_id);
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].params, R"({"x":2})");
  EXPECT_EQ(store_->GetExperiment(failed->experiment_id)->rerun_of,
            sub->experiment_id);
  auto whole = rerun(sub->experiment_id, false);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->job_count, 3);
  // Nothing failed in the rerun of the whole, once it succeeds.
  for (int done = 0; done < 4;) {
    done += SucceedAll(w);
    coord_->Sync();
  }
  EXPECT_THAT(std::string(rerun(whole->experiment_id, true).status().message()),
              ::testing::HasSubstr("failed or was cancelled"));
}

}  // namespace
}  // namespace ladle

namespace ladle {
namespace {

constexpr char kGang[] = R"(
name: ddp
kind: command
command: {argv: [train]}
ranks: 2
resources: {cpu_slots: 1}
max_retries: 1
)";

std::vector<WorkerCommand> OfType(std::vector<WorkerCommand> in,
                                  WorkerCommand::Type type) {
  std::vector<WorkerCommand> out;
  for (WorkerCommand& c : in)
    if (c.type == type) out.push_back(std::move(c));
  return out;
}

// A gang across two workers: both ranks' assignments carry rank 0's worker
// address; rank 0's port reaches rank 1's worker only through Rendezvous; a
// failed rank stops its peer; after a coordinator restart the running ranks
// are restored and the job succeeds once both report, with rank 0's summary.
TEST(CoordinatorGang, RendezvousStopsAndRestart) {
  const std::string path = ::testing::TempDir() + "/coord_gang.db";
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
  FakeClock clock;
  std::string exp_id;
  int64_t rank0 = 0;
  {
    auto store = std::move(*OpenSqliteStore(path));
    Coordinator c(Opts(), store.get(), &clock);
    ASSERT_TRUE(c.Recover().ok());
    FakeWorker a{"wa"}, b{"wb"};
    a.coordinator = b.coordinator = &c;
    WorkerInfo ia{"wa", "wa", {0, 1}, "{}", "10.0.0.1"};
    WorkerInfo ib{"wb", "wb", {0, 1}, "{}", "10.0.0.2"};
    ASSERT_TRUE(c.ConnectWorker(ia, {}, a.Sink()).ok());
    auto sub = c.Submit(kGang, "alice", false);
    ASSERT_TRUE(sub.ok()) << sub.status();
    exp_id = sub->experiment_id;
    EXPECT_THAT(a.Take(), IsEmpty());  // one worker cannot hold two ranks
    ASSERT_TRUE(c.ConnectWorker(ib, {}, b.Sink()).ok());
    std::vector<WorkerCommand> ca = a.Take(), cb = b.Take();
    ASSERT_EQ(ca.size(), 1u);
    ASSERT_EQ(cb.size(), 1u);
    EXPECT_EQ(ca[0].assignment.rank, 0);
    EXPECT_EQ(cb[0].assignment.rank, 1);
    EXPECT_EQ(cb[0].assignment.world_size, 2);
    EXPECT_EQ(ca[0].master_addr, "10.0.0.1");
    EXPECT_EQ(cb[0].master_addr, "10.0.0.1");
    rank0 = ca[0].assignment.attempt_id;
    EXPECT_EQ(c.Rendezvous("wb", cb[0].assignment.attempt_id, 4000).code(),
              absl::StatusCode::kFailedPrecondition);  // not rank 0
    EXPECT_EQ(c.Rendezvous("wa", rank0, 70000).code(),
              absl::StatusCode::kInvalidArgument);
    ASSERT_TRUE(c.Rendezvous("wa", rank0, 29500).ok());
    cb = b.Take();
    ASSERT_EQ(cb.size(), 1u);
    EXPECT_EQ(cb[0].type, WorkerCommand::Type::kRendezvous);
    EXPECT_EQ(cb[0].assignment.attempt_id, rank0 + 1);
    EXPECT_EQ(cb[0].master_port, 29500);
    // Rank 1's worker reconnects (the telling may have found it away): it is
    // told again.
    FakeWorker b2{"wb"};
    b2.coordinator = &c;
    ASSERT_TRUE(c.ConnectWorker(ib, {rank0 + 1}, b2.Sink()).ok());
    std::vector<WorkerCommand> again =
        OfType(b2.Take(), WorkerCommand::Type::kRendezvous);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].master_port, 29500);
    // Rank 1 fails: rank 0 is told to stop; once it reports, the retry runs.
    ASSERT_TRUE(c.ReportResult("wb", rank0 + 1, AttemptOutcome::kFailed, 1,
                               "exit 1", "")
                    .ok());
    ca = OfType(a.Take(), WorkerCommand::Type::kCancel);
    ASSERT_EQ(ca.size(), 1u);
    EXPECT_EQ(ca[0].assignment.attempt_id, rank0);
    ASSERT_TRUE(
        c.ReportResult("wa", rank0, AttemptOutcome::kCancelled, -15, "", "")
            .ok());
    clock.Advance(1'500);  // the retry's backoff
    c.Tick();
    ca = OfType(a.Take(), WorkerCommand::Type::kAssign);
    cb = OfType(b2.Take(), WorkerCommand::Type::kAssign);  // wb's new session
    ASSERT_EQ(ca.size() + cb.size(), 2u);
    const WorkerCommand& first =
        ca.empty() || (!cb.empty() && cb[0].assignment.rank == 0) ? cb[0]
                                                                  : ca[0];
    rank0 = first.assignment.attempt_id;
    EXPECT_EQ(first.assignment.attempt_number, 2);
    c.Sync();  // the server "crashes" with the second gang running
  }
  auto store = std::move(*OpenSqliteStore(path));
  Coordinator c(Opts(), store.get(), &clock);
  ASSERT_TRUE(c.Recover().ok());
  const std::vector<JobRecord> jobs = *store->ListJobs(exp_id);
  ASSERT_EQ(jobs.size(), 1u);
  const std::vector<AttemptRecord> rows = *store->ListAttempts(jobs[0].id);
  std::map<int64_t, AttemptRecord> by_id;
  for (const AttemptRecord& r : rows) by_id[r.id] = r;
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_EQ(by_id.at(rank0 - 2).outcome, "cancelled");
  EXPECT_THAT(by_id.at(rank0 - 2).reason, HasSubstr("gang stopped: rank 1"));
  EXPECT_EQ(by_id.at(rank0 - 1).outcome, "failed");
  EXPECT_EQ(by_id.at(rank0 + 1).rank, 1);
  const std::string rank1_worker = by_id.at(rank0 + 1).worker_id;
  const std::string rank0_worker = by_id.at(rank0).worker_id;
  FakeWorker a{rank0_worker}, b{rank1_worker};
  a.coordinator = b.coordinator = &c;
  ASSERT_TRUE(
      c.ConnectWorker({a.id, a.id, {0, 1}, "{}"}, {rank0}, a.Sink()).ok());
  ASSERT_TRUE(
      c.ConnectWorker({b.id, b.id, {0, 1}, "{}"}, {rank0 + 1}, b.Sink()).ok());
  ASSERT_TRUE(c.ReportResult(b.id, rank0 + 1, AttemptOutcome::kSucceeded, 0, "",
                             R"({"loss": 9})")
                  .ok());
  ASSERT_TRUE(c.ReportResult(a.id, rank0, AttemptOutcome::kSucceeded, 0, "",
                             R"({"loss": 1})")
                  .ok());
  c.Sync();
  EXPECT_EQ(store->GetExperiment(exp_id)->state, "succeeded");
  EXPECT_EQ(store->GetJob(jobs[0].id)->summary, R"({"loss": 1})");
  EXPECT_EQ(store->GetJob(jobs[0].id)->ranks, 2);
}

}  // namespace
}  // namespace ladle

namespace ladle {
namespace {

// A gang without retries whose rank 1 fails: the experiment ends (and is
// dropped from memory) while rank 0 is still being stopped; rank 0's late
// report is taken and its attempt row ends, no crash.
TEST(CoordinatorGang, APeerReportingAfterItsExperimentEndedIsRecorded) {
  FakeClock clock;
  auto store = std::move(*OpenSqliteStore(":memory:"));
  Coordinator c(Opts(), store.get(), &clock);
  ASSERT_TRUE(c.Recover().ok());
  FakeWorker a{"wa"}, b{"wb"};
  a.coordinator = b.coordinator = &c;
  ASSERT_TRUE(c.ConnectWorker({"wa", "wa", {0, 1}, "{}"}, {}, a.Sink()).ok());
  ASSERT_TRUE(c.ConnectWorker({"wb", "wb", {0, 1}, "{}"}, {}, b.Sink()).ok());
  std::string spec = kGang;
  spec.replace(spec.find("max_retries: 1"), 14, "max_retries: 0");
  auto sub = c.Submit(spec, "alice", false);
  ASSERT_TRUE(sub.ok()) << sub.status();
  std::vector<WorkerCommand> ca = a.Take(), cb = b.Take();
  ASSERT_EQ(ca.size() + cb.size(), 2u);
  const WorkerCommand& r0 = ca[0].assignment.rank == 0 ? ca[0] : cb[0];
  const WorkerCommand& r1 = ca[0].assignment.rank == 0 ? cb[0] : ca[0];
  ASSERT_TRUE(c.ReportResult(r1.assignment.worker_id, r1.assignment.attempt_id,
                             AttemptOutcome::kFailed, 1, "exit 1", "")
                  .ok());
  c.Sync();
  EXPECT_EQ(store->GetExperiment(sub->experiment_id)->state, "failed");
  ASSERT_TRUE(c.ReportResult(r0.assignment.worker_id, r0.assignment.attempt_id,
                             AttemptOutcome::kCancelled, -15, "", "")
                  .ok());
  c.Sync();
  const std::vector<JobRecord> jobs = *store->ListJobs(sub->experiment_id);
  for (const AttemptRecord& row : *store->ListAttempts(jobs[0].id)) {
    EXPECT_EQ(row.outcome, row.rank == 0 ? "cancelled" : "failed") << row.id;
  }
}

}  // namespace
}  // namespace ladle

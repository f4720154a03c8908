// Searches in the coordinator, without gRPC: real store, real scheduler, fake
// clock, a fake worker that "trains" each segment by reading its resolved
// spec. A search runs to its end with promoted segments resuming their
// previous segment's model; a coordinator restarted at any point mid-search
// (the store reopened from its file) ends with exactly the jobs of an
// uninterrupted run; a cancelled search starts nothing more, after a restart
// too; a commit that fails does not lose the search.
#include <cmath>
#include <deque>
#include <filesystem>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator.h"
#include "server/testing/fault_store.h"

namespace ladle {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

constexpr char kAsha[] = R"(
name: asha
trial: {model: {hidden: [8]}, data: {limit: 100}, train: {epochs: 1}}
search:
  algorithm: asha
  metric: val_accuracy
  space:
    train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}
    model.hidden: {choice: [[8], [16]]}
  max_trials: 9
  max_concurrent: 3
  seed: 11
  budget: {param: train.epochs, min: 1, max: 9, reduction_factor: 3}
  sampler: tpe
  tpe: {n_startup_trials: 3}
resources: {cpu_slots: 1}
)";

Coordinator::Options Opts() {
  Coordinator::Options o;
  o.scheduler = {10'000, 1'000, 8'000};
  return o;
}

// What the fake trainer reports for a segment: best near lr = 1e-2, better
// with epochs.
double Accuracy(const std::string& spec_json) {
  const Json spec = Json::parse(spec_json);
  const double lr = spec["train"]["optimizer"]["lr"].get<double>();
  return 0.9 - 0.05 * std::pow(std::log10(lr) + 2, 2) +
         0.001 * spec["train"]["epochs"].get<int>();
}

// One worker with 3 slots that finishes its attempts oldest first, one per
// Step, uploading the model each run leaves.
class Cluster {
 public:
  Cluster(Store* store, FakeClock* clock, std::deque<WorkerCommand> running)
      : store_(store), running_(std::move(running)) {
    coord_ = std::make_unique<Coordinator>(Opts(), store, clock);
    EXPECT_TRUE(coord_->Recover().ok());
    std::vector<int64_t> ids;
    for (const WorkerCommand& c : running_)
      ids.push_back(c.assignment.attempt_id);
    auto stop = coord_->ConnectWorker(
        {"w", "w", {0, 3}, "{}"}, ids,
        [this](const WorkerCommand& c) { inbox_.push_back(c); });
    EXPECT_TRUE(stop.ok() && stop->empty());
    Collect();
  }
  Coordinator& coordinator() { return *coord_; }
  std::deque<WorkerCommand>& running() { return running_; }
  std::vector<WorkerCommand>& assigned() { return assigned_; }

  // Finishes the oldest running attempt; false when none runs.
  bool Step() {
    if (running_.empty()) return false;
    const WorkerCommand c = running_.front();
    running_.pop_front();
    const std::string& job = c.assignment.job_id;
    // (Fails while a test fills the disk; the promoted segments' checks
    // see whether it was stored.)
    store_->AddArtifact({job, "model.safetensors", std::string(64, 'a'), 1})
        .IgnoreError();
    const Json summary = {{"val_accuracy", Accuracy(c.spec_json)}};
    EXPECT_TRUE(coord_
                    ->ReportResult("w", c.assignment.attempt_id,
                                   AttemptOutcome::kSucceeded, 0, "",
                                   summary.dump())
                    .ok());
    Collect();
    return true;
  }

  // Takes the assignments sent so far (after a submit).
  void Collect() {
    coord_->Sync();
    for (WorkerCommand& c : std::exchange(inbox_, {})) {
      if (c.type != WorkerCommand::Type::kAssign) continue;
      assigned_.push_back(c);
      running_.push_back(std::move(c));
    }
  }

 private:
  Store* store_;
  std::unique_ptr<Coordinator> coord_;
  std::deque<WorkerCommand> running_;
  std::vector<WorkerCommand> inbox_;
  std::vector<WorkerCommand> assigned_;
};

std::string FreshFile(const std::string& name) {
  const std::string path = ::testing::TempDir() + "/" + name;
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
  return path;
}

// (index, trial, rung, resume_from, params, result_seq) of every job.
using JobKey = std::tuple<int, int64_t, int, std::string, std::string, int64_t>;
std::vector<JobKey> Keys(Store* store, const std::string& id) {
  std::vector<JobKey> keys;
  const std::vector<JobRecord> jobs = *store->ListJobs(id);
  for (const JobRecord& j : jobs) {
    keys.emplace_back(
        j.index, j.trial, j.rung,
        j.resume_from.empty() ? "" : j.resume_from.substr(id.size()), j.params,
        j.result_seq);
  }
  return keys;
}

TEST(CoordinatorSearch, AshaRunsToTheEndAndPromotedSegmentsResume) {
  FakeClock clock;
  auto store = std::move(*OpenSqliteStore(":memory:"));
  Cluster cluster(store.get(), &clock, {});
  auto sub = cluster.coordinator().Submit(kAsha, "alice", false);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->job_count, 3);  // the first segments
  cluster.Collect();
  EXPECT_EQ(cluster.running().size(), 3u);
  while (cluster.Step()) {
  }
  const ExperimentRecord e = *store->GetExperiment(sub->experiment_id);
  EXPECT_EQ(e.state, "succeeded") << e.message;
  EXPECT_EQ(e.search_state, kSearchOpen);  // it ended on its own
  EXPECT_THAT(e.message, HasSubstr("9 trials"));
  const std::vector<JobRecord> jobs = *store->ListJobs(sub->experiment_id);
  std::set<int64_t> trials, seqs;
  int promoted = 0;
  for (const JobRecord& j : jobs) {
    EXPECT_EQ(j.state, "succeeded") << j.id;
    trials.insert(j.trial);
    seqs.insert(j.result_seq);
    EXPECT_FALSE(std::isnan(j.result_value)) << j.id;
    const int epochs = Json::parse(*store->GetJobSpec(j.id))["train"]["epochs"];
    EXPECT_EQ(epochs, static_cast<int>(std::pow(3, j.rung))) << j.id;
    if (j.rung == 0) {
      EXPECT_EQ(j.resume_from, "");
      continue;
    }
    ++promoted;
    const JobRecord prev = *store->GetJob(j.resume_from);
    EXPECT_EQ(prev.trial, j.trial);
    EXPECT_EQ(prev.rung, j.rung - 1);
  }
  EXPECT_EQ(trials.size(), 9u);
  EXPECT_GE(promoted, 3);
  // Every result was given to the searcher once, in a sequence.
  EXPECT_EQ(seqs.size(), jobs.size());
  EXPECT_EQ(*seqs.begin(), 0);
  EXPECT_EQ(*seqs.rbegin(), static_cast<int64_t>(jobs.size()) - 1);
  // A promoted segment was sent its previous segment's model to resume.
  int resumed = 0;
  for (const WorkerCommand& c : cluster.assigned()) {
    const JobRecord j = *store->GetJob(c.assignment.job_id);
    if (j.resume_from.empty()) {
      EXPECT_TRUE(c.checkpoint.path.empty());
      continue;
    }
    ++resumed;
    EXPECT_EQ(c.checkpoint.artifact.job_id, j.resume_from);
    EXPECT_EQ(c.checkpoint.artifact.name, "model.safetensors");
  }
  EXPECT_EQ(resumed, promoted);
}

TEST(CoordinatorSearch, ARestartAnywhereEndsWithTheJobsOfAnUninterruptedRun) {
  FakeClock clock;
  std::vector<JobKey> expected;
  int total_steps = 0;
  {
    auto store = std::move(*OpenSqliteStore(FreshFile("search_a.db")));
    Cluster cluster(store.get(), &clock, {});
    auto sub = cluster.coordinator().Submit(kAsha, "alice", false);
    ASSERT_TRUE(sub.ok());
    cluster.Collect();
    while (cluster.Step()) ++total_steps;
    expected = Keys(store.get(), sub->experiment_id);
    ASSERT_EQ(store->GetExperiment(sub->experiment_id)->state, "succeeded");
  }
  for (int crash_at : {0, 1, 5, total_steps / 2, total_steps - 1}) {
    const std::string path = FreshFile("search_b.db");
    std::string id;
    std::deque<WorkerCommand> running;
    {
      auto store = std::move(*OpenSqliteStore(path));
      Cluster cluster(store.get(), &clock, {});
      auto sub = cluster.coordinator().Submit(kAsha, "alice", false);
      ASSERT_TRUE(sub.ok());
      id = sub->experiment_id;
      cluster.Collect();
      for (int i = 0; i < crash_at; ++i) ASSERT_TRUE(cluster.Step());
      running = cluster.running();  // the worker keeps running these
    }
    auto store = std::move(*OpenSqliteStore(path));
    Cluster cluster(store.get(), &clock, running);
    while (cluster.Step()) {
    }
    const ExperimentRecord e = *store->GetExperiment(id);
    EXPECT_EQ(e.state, "succeeded") << crash_at << ": " << e.message;
    // (Experiment ids differ; keys hold job ids without them.)
    EXPECT_EQ(Keys(store.get(), id), expected) << "crash after " << crash_at;
  }
}

TEST(CoordinatorSearch, ACancelledSearchStartsNothingMoreEvenAfterARestart) {
  FakeClock clock;
  const std::string path = FreshFile("search_cancel.db");
  std::string id;
  std::deque<WorkerCommand> running;
  size_t jobs_at_cancel = 0;
  {
    auto store = std::move(*OpenSqliteStore(path));
    Cluster cluster(store.get(), &clock, {});
    auto sub = cluster.coordinator().Submit(kAsha, "alice", false);
    ASSERT_TRUE(sub.ok());
    cluster.Collect();
    id = sub->experiment_id;
    ASSERT_TRUE(cluster.Step());
    ASSERT_TRUE(cluster.coordinator().Cancel(id).ok());
    jobs_at_cancel = store->ListJobs(id)->size();
    EXPECT_EQ(store->GetExperiment(id)->search_state, kSearchCancelled);
    running = cluster.running();  // cancel commands sent; not yet stopped
    ASSERT_FALSE(running.empty());
  }
  auto store = std::move(*OpenSqliteStore(path));
  Cluster cluster(store.get(), &clock, running);
  // The attempts that were being stopped finish (they ignored the cancel).
  while (cluster.Step()) {
  }
  EXPECT_EQ(store->ListJobs(id)->size(), jobs_at_cancel);
  const ExperimentRecord e = *store->GetExperiment(id);
  EXPECT_EQ(e.state, "cancelled");
  EXPECT_THAT(e.message, HasSubstr("cancelled after"));
}

TEST(CoordinatorSearch, ADryRunShowsTheFirstSegmentsAndBadSearchesAreRefused) {
  FakeClock clock;
  auto store = std::move(*OpenSqliteStore(":memory:"));
  Coordinator c(Opts(), store.get(), &clock);
  ASSERT_TRUE(c.Recover().ok());
  auto dry = c.Submit(kAsha, "alice", true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  ASSERT_EQ(dry->jobs.size(), 3u);
  EXPECT_EQ(dry->jobs[0].trial, 0);
  EXPECT_EQ(Json::parse(dry->jobs[0].spec)["train"]["epochs"], 1);
  std::string typo = kAsha;
  typo.replace(typo.find("train.optimizer.lr"), 18, "train.optimizer.rl");
  auto bad = c.Submit(typo, "alice", false);
  EXPECT_THAT(bad.status().message(), HasSubstr("search.space"));
  EXPECT_TRUE(store->ListExperiments({})->experiments.empty());
}

TEST(CoordinatorSearch, AResultWhoseCommitFailsIsNotLostAfterARestart) {
  FakeClock clock;
  const std::string path = FreshFile("search_fault.db");
  std::string id;
  std::deque<WorkerCommand> running;
  {
    auto base = std::move(*OpenSqliteStore(path));
    FaultStore store(base.get());
    Cluster cluster(&store, &clock, {});
    auto sub = cluster.coordinator().Submit(kAsha, "alice", false);
    ASSERT_TRUE(sub.ok());
    cluster.Collect();
    id = sub->experiment_id;
    ASSERT_TRUE(cluster.Step());
    // The disk fills: the next result and the segments it starts are not
    // stored. The coordinator then "crashes".
    store.FailCommits(1000, absl::ResourceExhaustedError("disk full"));
    running = cluster.running();
    ASSERT_TRUE(cluster.Step());
  }
  auto store = std::move(*OpenSqliteStore(path));
  // The worker still runs the segment whose result was lost: as the store
  // has it, running; it reports again after the restart.
  Cluster cluster(store.get(), &clock, running);
  while (cluster.Step()) {
  }
  const ExperimentRecord e = *store->GetExperiment(id);
  EXPECT_EQ(e.state, "succeeded") << e.message;
  std::set<int64_t> trials;
  const std::vector<JobRecord> jobs = *store->ListJobs(id);
  for (const JobRecord& j : jobs) {
    trials.insert(j.trial);
    EXPECT_GE(j.result_seq, 0) << j.id;
  }
  EXPECT_EQ(trials.size(), 9u);
}

// The disk fills mid-search and frees up again, without a restart: the
// searcher's writes that failed (a result and the segments it started) are
// written again on the next ticks, the attempts whose assignment failed are
// retried, and the search ends with every trial stored and every result in
// the store once.
TEST(CoordinatorSearch, ASearchWriteThatFailedIsWrittenAgainOnceTheDiskFrees) {
  FakeClock clock;
  auto base = std::move(*OpenSqliteStore(":memory:"));
  FaultStore store(base.get());
  std::string text = kAsha;
  text.replace(text.find("resources: {cpu_slots: 1}"), 25,
               "resources: {cpu_slots: 1}\nmax_retries: 5");
  Cluster cluster(&store, &clock, {});
  auto sub = cluster.coordinator().Submit(text, "alice", false);
  ASSERT_TRUE(sub.ok()) << sub.status();
  cluster.Collect();
  ASSERT_TRUE(cluster.Step());
  store.FailCommits(2, absl::ResourceExhaustedError("disk full"));
  for (int i = 0;
       i < 200 && store.GetExperiment(sub->experiment_id)->state == "running";
       ++i) {
    if (!cluster.Step()) {
      clock.Advance(2'000);  // past retry backoffs
      cluster.coordinator().Tick();
      cluster.Collect();
    }
  }
  const ExperimentRecord e = *store.GetExperiment(sub->experiment_id);
  EXPECT_EQ(e.state, "succeeded") << e.message;
  const std::vector<JobRecord> jobs = *store.ListJobs(sub->experiment_id);
  std::set<int64_t> trials, seqs;
  for (const JobRecord& j : jobs) {
    EXPECT_EQ(j.state, "succeeded") << j.id;
    trials.insert(j.trial);
    seqs.insert(j.result_seq);
  }
  EXPECT_EQ(trials.size(), 9u);
  EXPECT_EQ(seqs.size(), jobs.size());
  EXPECT_EQ(*seqs.begin(), 0);
}

// Median stopping: once three trials completed, a running trial whose
// reported curve is below their median is told to stop, ends cancelled with
// the rule as its reason, and its last point is its result; the search goes
// on and ends succeeded.
TEST(CoordinatorSearch, MedianStoppingStopsATrialBehindTheMedian) {
  FakeClock clock;
  auto store = std::move(*OpenSqliteStore(":memory:"));
  Coordinator c(Opts(), store.get(), &clock);
  ASSERT_TRUE(c.Recover().ok());
  std::vector<WorkerCommand> inbox;
  ASSERT_TRUE(
      c.ConnectWorker({"w", "w", {0, 1}, "{}"}, {},
                      [&](const WorkerCommand& cmd) { inbox.push_back(cmd); })
          .ok());
  auto sub = c.Submit(R"(
name: median
trial: {model: {hidden: [8]}, data: {limit: 100}}
search:
  algorithm: median_stop
  metric: val_accuracy
  space: {train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}}
  max_trials: 5
  max_concurrent: 1
  median_stop: {min_completed: 3}
)",
                      "alice", false);
  ASSERT_TRUE(sub.ok()) << sub.status();
  // Trial t reports val_accuracy 0.5, 0.6, 0.7 at steps 1..3 (trial 3:
  // 0.1, 0.2 — far behind), then succeeds.
  std::string stopped_reason;
  for (int t = 0; t < 5; ++t) {
    c.Sync();
    ASSERT_EQ(inbox.size(), 1u) << t;
    const WorkerCommand a = std::exchange(inbox, {}).front();
    ASSERT_EQ(a.type, WorkerCommand::Type::kAssign);
    const int64_t id = a.assignment.attempt_id;
    const bool laggard = t == 3;
    for (int step = 1; step <= 3; ++step) {
      const double v = laggard ? 0.1 * step : 0.4 + 0.1 * step;
      ASSERT_TRUE(
          c.IngestMetrics(id, {{"", 0, step, "val_accuracy", v, 0}}).ok());
      c.Sync();
      if (!inbox.empty()) break;
    }
    if (laggard) {
      ASSERT_EQ(inbox.size(), 1u);
      EXPECT_EQ(inbox[0].type, WorkerCommand::Type::kCancel);
      stopped_reason = inbox[0].reason;
      inbox.clear();
      ASSERT_TRUE(c.ReportResult("w", id, AttemptOutcome::kCancelled, 143,
                                 "cancelled", "")
                      .ok());
      continue;
    }
    EXPECT_TRUE(inbox.empty()) << t;
    ASSERT_TRUE(c.ReportResult("w", id, AttemptOutcome::kSucceeded, 0, "",
                               R"({"val_accuracy": 0.7})")
                    .ok());
  }
  c.Sync();
  EXPECT_THAT(stopped_reason, HasSubstr("median stopping rule"));
  const ExperimentRecord e = *store->GetExperiment(sub->experiment_id);
  EXPECT_EQ(e.state, "succeeded") << e.message;
  EXPECT_THAT(e.message, HasSubstr("1 stopped"));
  const std::vector<JobRecord> jobs = *store->ListJobs(sub->experiment_id);
  ASSERT_EQ(jobs.size(), 5u);
  EXPECT_EQ(jobs[3].state, "cancelled");
  EXPECT_THAT(jobs[3].reason, HasSubstr("stopped early at step 1"));
  EXPECT_DOUBLE_EQ(jobs[3].result_value, 0.1);  // its last point
}

constexpr char kExternal[] = R"(
name: ask-tell
trial: {model: {hidden: [8]}, data: {limit: 100}, train: {epochs: 1}}
search: {algorithm: external, metric: val_accuracy, max_trials: 30}
resources: {cpu_slots: 1}
)";

// Ask/tell: two clients add trials at once to one external search; every
// trial gets its own number and job; after a restart (even with no job yet)
// the numbering goes on; a retried call adds nothing; bad points, closed
// searches and searches that are not external are refused naming why; closing
// ends it once its jobs have.
TEST(CoordinatorSearch, TwoClientsAddTrialsAcrossARestartThenClose) {
  FakeClock clock;
  const std::string path = FreshFile("search_external.db");
  std::string id;
  std::deque<WorkerCommand> running;
  {
    auto store = std::move(*OpenSqliteStore(path));
    Cluster cluster(store.get(), &clock, {});
    auto sub = cluster.coordinator().Submit(kExternal, "alice", false);
    ASSERT_TRUE(sub.ok()) << sub.status();
    EXPECT_EQ(sub->job_count, 0);
    id = sub->experiment_id;
  }
  // Restarted before any trial: the search comes back on its first call.
  auto store = std::move(*OpenSqliteStore(path));
  auto cluster = std::make_unique<Cluster>(store.get(), &clock,
                                           std::deque<WorkerCommand>{});
  std::vector<std::string> added[2];
  std::vector<std::thread> clients;
  for (int c = 0; c < 2; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 5; ++i) {
        const Json point = {{"train.optimizer.lr", 0.001 * (1 + i + 5 * c)}};
        auto jobs = cluster->coordinator().AddTrials(id, {point.dump()});
        ASSERT_TRUE(jobs.ok()) << jobs.status();
        ASSERT_EQ(jobs->size(), 1u);
        added[c].push_back((*jobs)[0].id);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  cluster->Collect();
  std::set<std::string> ids(added[0].begin(), added[0].end());
  ids.insert(added[1].begin(), added[1].end());
  EXPECT_EQ(ids.size(), 10u);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(cluster->Step());
  running = cluster->running();
  cluster.reset();  // a restart with trials running
  cluster = std::make_unique<Cluster>(store.get(), &clock, running);
  auto more = cluster->coordinator().AddTrials(
      id,
      {R"({"train.optimizer.lr": 0.05})", R"({"train.optimizer.lr": 0.06})"});
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ((*more)[0].trial, 10);
  EXPECT_EQ((*more)[1].trial, 11);
  cluster->Collect();
  // A retried call (same request id) gets the first call's jobs and adds
  // nothing, after a restart too; another number of trials is refused.
  auto first = cluster->coordinator().AddTrials(
      id, {R"({"train.optimizer.lr": 0.07})"}, "req-1");
  ASSERT_TRUE(first.ok()) << first.status();
  cluster->Collect();
  running = cluster->running();
  cluster.reset();
  cluster = std::make_unique<Cluster>(store.get(), &clock, running);
  auto again = cluster->coordinator().AddTrials(
      id, {R"({"train.optimizer.lr": 0.07})"}, "req-1");
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].id, (*first)[0].id);
  EXPECT_EQ(cluster->coordinator()
                .AddTrials(id, {"{}", "{}"}, "req-1")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // All or none: one bad point adds nothing.
  auto bad = cluster->coordinator().AddTrials(
      id, {R"({"train.optimizer.lr": 0.01})", R"({"train.optimizer.rl": 1})"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("params[1]"));
  EXPECT_EQ(cluster->coordinator().AddTrials(id, {"[1]"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ListJobs(id)->size(), 13u);
  while (cluster->Step()) {
  }
  // Open until closed, though every trial ended.
  EXPECT_EQ(store->GetExperiment(id)->state, "running");
  auto closed = cluster->coordinator().CloseSearch(id);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->state, "succeeded") << closed->message;
  EXPECT_EQ(closed->search_state, kSearchClosed);
  EXPECT_THAT(closed->message, HasSubstr("13 trials"));
  EXPECT_EQ(cluster->coordinator()
                .AddTrials(id, {R"({"train.optimizer.lr": 0.01})"})
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // A search that is not external takes no trials from outside. (Ids are
  // unique across restarts by time: a new server's counter starts over.)
  clock.Advance(1);
  auto asha = cluster->coordinator().Submit(kAsha, "alice", false);
  ASSERT_TRUE(asha.ok()) << asha.status();
  auto refused = cluster->coordinator().AddTrials(
      asha->experiment_id, {R"({"train.optimizer.lr": 0.01})"});
  EXPECT_THAT(refused.status().message(), HasSubstr("only an external one"));
  const std::vector<JobRecord> jobs = *store->ListJobs(id);
  for (const JobRecord& j : jobs) {
    EXPECT_EQ(j.state, "succeeded");
    EXPECT_GE(j.result_seq, 0);
  }
}

}  // namespace
}  // namespace ladle

// The SQLite store on ":memory:" and on a file: round trips, atomicity,
// pagination, restart queries, durability across reopen, and migration from an
// older schema version.
#include "server/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;

ExperimentRecord Exp(const std::string& id, const std::string& owner = "alice",
                     const std::string& state = "running") {
  ExperimentRecord e;
  e.id = id;
  e.name = "sweep-" + id;
  e.kind = "train";
  e.owner = owner;
  e.spec = "name: x\nkind: train\n";
  e.state = state;
  e.created_ms = 1000;
  return e;
}

JobRecord JobOf(const std::string& exp, const std::string& id, int index,
                std::vector<std::string> deps = {}) {
  JobRecord j;
  j.id = id;
  j.experiment_id = exp;
  j.index = index;
  j.kind = "train";
  j.spec = R"({"train":{"seed":1}})";
  j.deps = std::move(deps);
  j.gpus = 1;
  j.max_retries = 2;
  return j;
}

std::string TempPath(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/store_test";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + name;
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path + suffix);
  return path;
}

// Runs SQL on the file through a connection of its own (foreign keys off, as
// a hand edit or an older server would), as rows written by an older version.
void RunSql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err != nullptr ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class StoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    path_ = GetParam() ? TempPath(name + ".db") : ":memory:";
    auto s = OpenSqliteStore(path_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, ExperimentAndJobsRoundTrip) {
  ASSERT_TRUE(
      store_
          ->CreateExperiment(Exp("e1"), {JobOf("e1", "e1-0", 0),
                                         JobOf("e1", "e1-1", 1, {"e1-0"})})
          .ok());
  auto e = store_->GetExperiment("e1");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, "sweep-e1");
  EXPECT_EQ(e->spec, "name: x\nkind: train\n");
  auto jobs = store_->ListJobs("e1");
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_THAT((*jobs)[1].deps, ElementsAre("e1-0"));
  EXPECT_EQ((*jobs)[1].spec, R"({"train":{"seed":1}})");
  EXPECT_EQ(store_->GetExperiment("nope").status().code(),
            absl::StatusCode::kNotFound);
}

// A search adds jobs to its experiment as it goes (in the experiment's range
// of keys, so they list in index order), and stores each result's sequence
// number and value (none: NULL, read back as NaN) and the search's state.
TEST_P(StoreTest, ASearchAddsJobsAndStoresResultsInOrder) {
  ASSERT_TRUE(
      store_->CreateExperiment(Exp("e1"), {JobOf("e1", "e1-0", 0)}).ok());
  ASSERT_TRUE(
      store_->CreateExperiment(Exp("e2"), {JobOf("e2", "e2-0", 0)}).ok());
  WriteBatch b;
  JobRecord done = JobOf("e1", "e1-0", 0);
  done.state = "succeeded";
  done.result_seq = 0;
  done.result_value = 0.75;
  b.job_updates.push_back(done);
  for (int i : {2, 1}) {
    JobRecord j = JobOf("e1", absl::StrCat("e1-", i), i);
    j.trial = i;
    j.rung = 1;
    j.resume_from = "e1-0";
    b.new_jobs.push_back(j);
  }
  b.search_states.push_back({"e1", kSearchCancelled});
  ASSERT_TRUE(store_->Write(b).ok());
  const std::vector<JobRecord> jobs = *store_->ListJobs("e1");
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].result_seq, 0);
  EXPECT_EQ(jobs[0].result_value, 0.75);
  EXPECT_EQ(jobs[1].id, "e1-1");
  EXPECT_EQ(jobs[1].trial, 1);
  EXPECT_EQ(jobs[1].rung, 1);
  EXPECT_EQ(jobs[1].resume_from, "e1-0");
  EXPECT_EQ(jobs[1].result_seq, -1);
  EXPECT_TRUE(std::isnan(jobs[1].result_value));
  EXPECT_EQ(store_->ListJobs("e2")->size(), 1u);
  EXPECT_EQ(store_->GetExperiment("e1")->search_state, kSearchCancelled);
  EXPECT_EQ(store_->GetExperiment("e2")->search_state, kSearchNone);
  // A failed search's NaN is stored as none.
  done.result_value = std::nan("");
  ASSERT_TRUE(store_->UpdateJobs({done}, {}).ok());
  EXPECT_TRUE(std::isnan(store_->GetJob("e1-0")->result_value));
  // A job of an experiment that does not exist is refused, alone.
  WriteBatch orphan;
  orphan.new_jobs.push_back(JobOf("nope", "nope-0", 0));
  EXPECT_EQ(store_->Write(orphan).code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreTest, CreateIsAllOrNothing) {
  // The second job repeats an id: the whole experiment must be absent
  // afterwards.
  auto st = store_->CreateExperiment(
      Exp("e1"), {JobOf("e1", "j", 0), JobOf("e1", "j", 1)});
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(store_->GetExperiment("e1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListJobs("e1")->empty());
  EXPECT_EQ(
      store_->CreateExperiment(Exp("e2"), {JobOf("other", "k", 0)}).code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, JobUpdatesAndAttemptsAreAtomic) {
  ASSERT_TRUE(store_
                  ->CreateExperiment(Exp("e1"),
                                     {JobOf("e1", "a", 0), JobOf("e1", "b", 1)})
                  .ok());
  JobRecord a = *store_->GetJob("a");
  a.state = "running";
  a.attempts = 1;
  a.current_attempt = 5;
  a.worker_id = "w1";
  a.gpu_indices = {0, 3};
  AttemptRecord at{5, "a", "w1", 1, "", 100, 0, 0, ""};
  ASSERT_TRUE(store_->UpdateJobs({a}, {at}).ok());
  EXPECT_THAT(store_->GetJob("a")->gpu_indices, ElementsAre(0, 3));
  EXPECT_EQ(*store_->MaxAttemptId(), 5);
  // An update naming an unknown job rolls back the whole call.
  JobRecord a2 = a;
  a2.state = "succeeded";
  JobRecord ghost = JobOf("e1", "ghost", 9);
  at.outcome = "succeeded";
  EXPECT_EQ(store_->UpdateJobs({a2, ghost}, {at}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetJob("a")->state, "running");
  EXPECT_EQ((*store_->ListAttempts("a"))[0].outcome, "");
  // The attempt row is updated in place when it ends.
  at.ended_ms = 200;
  at.exit_code = 0;
  ASSERT_TRUE(store_->UpdateJobs({a2}, {at}).ok());
  auto attempts = store_->ListAttempts("a");
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].outcome, "succeeded");
  EXPECT_EQ((*attempts)[0].ended_ms, 200);
}

TEST_P(StoreTest, ListPagesNewestFirstWithFilters) {
  for (int i = 0; i < 7; ++i) {
    const std::string id = "e" + std::to_string(i);
    ASSERT_TRUE(store_
                    ->CreateExperiment(Exp(id, i % 2 ? "bob" : "alice",
                                           i < 2 ? "succeeded" : "running"),
                                       {})
                    .ok());
  }
  ExperimentFilter f;
  f.page_size = 3;
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto p = store_->ListExperiments(f);
    ASSERT_TRUE(p.ok()) << p.status();
    for (const auto& e : p->experiments) seen.push_back(e.id);
    if (p->next_page_token.empty()) break;
    f.page_token = p->next_page_token;
  }
  EXPECT_THAT(seen, ElementsAre("e6", "e5", "e4", "e3", "e2", "e1", "e0"));
  ExperimentFilter bob;
  bob.owner = "bob";
  bob.state = "running";
  auto p = store_->ListExperiments(bob);
  std::vector<std::string> ids;
  for (const auto& e : p->experiments) ids.push_back(e.id);
  EXPECT_THAT(ids, ElementsAre("e5", "e3"));
  f.page_token = "garbage";
  EXPECT_EQ(store_->ListExperiments(f).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, ActiveJobsAreThoseOfRunningExperiments) {
  ASSERT_TRUE(
      store_->CreateExperiment(Exp("old"), {JobOf("old", "o1", 0)}).ok());
  ASSERT_TRUE(store_
                  ->CreateExperiment(Exp("new"), {JobOf("new", "n1", 0),
                                                  JobOf("new", "n2", 1)})
                  .ok());
  ASSERT_TRUE(store_->UpdateExperimentState("old", "succeeded", "", 5).ok());
  auto jobs = store_->ListActiveJobs();
  ASSERT_TRUE(jobs.ok());
  std::vector<std::string> ids;
  for (const auto& j : *jobs) ids.push_back(j.id);
  EXPECT_THAT(ids, ElementsAre("n1", "n2"));
  EXPECT_EQ(store_->UpdateExperimentState("zzz", "failed", "", 1).code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StoreTest, MetricsArtifactsWorkers) {
  ASSERT_TRUE(store_->CreateExperiment(Exp("e1"), {JobOf("e1", "j", 0)}).ok());
  std::vector<MetricPoint> pts;
  for (int s = 3; s >= 1; --s)
    pts.push_back({"j", 1, s, "train_loss", 1.0 / s, 10});
  pts.push_back({"j", 1, 3, "val_accuracy", 0.8, 11});
  ASSERT_TRUE(store_->AppendMetrics(pts).ok());
  auto m = store_->GetMetrics("j");
  ASSERT_EQ(m->size(), 4u);
  EXPECT_EQ((*m)[0].name, "train_loss");
  EXPECT_EQ((*m)[0].step, 1);
  EXPECT_DOUBLE_EQ((*m)[3].value, 0.8);
  ASSERT_TRUE(store_->AddArtifact({"j", "model.safetensors", "ab12", 42}).ok());
  ASSERT_TRUE(store_->AddArtifact({"j", "model.safetensors", "cd34", 43}).ok());
  auto arts = store_->ListArtifacts("j");
  ASSERT_EQ(arts->size(), 1u);
  EXPECT_EQ((*arts)[0].sha256, "cd34");
  EXPECT_EQ(store_->AddArtifact({"missing-job", "x", "ff", 1}).code(),
            absl::StatusCode::kAlreadyExists)
      << "foreign key: artifacts belong to known jobs";
  ASSERT_TRUE(
      store_->UpsertWorker({"w1", "host-a", 2, 8, "{}", "alive", 5}).ok());
  ASSERT_TRUE(
      store_->UpsertWorker({"w1", "host-a", 2, 8, "{}", "lost", 9}).ok());
  auto ws = store_->ListWorkers();
  ASSERT_EQ(ws->size(), 1u);
  EXPECT_EQ((*ws)[0].state, "lost");
}

// The bulk read behind `ladle results`: jobs by index, attempts, artifacts
// and (on request) named, thinned metric series, each attached to its job;
// another experiment's rows stay out; the spec read for dispatch.
TEST_P(StoreTest, ExperimentResultsInBulkWithNamedThinnedSeries) {
  ASSERT_TRUE(store_
                  ->CreateExperiment(Exp("e1"), {JobOf("e1", "e1-1", 1),
                                                 JobOf("e1", "e1-0", 0)})
                  .ok());
  ASSERT_TRUE(
      store_->CreateExperiment(Exp("e2"), {JobOf("e2", "e2-0", 0)}).ok());
  JobRecord running = JobOf("e1", "e1-0", 0);
  running.state = "running";
  AttemptRecord a{7, "e1-0", "w1", 1, "", 100, 0, 0, ""};
  ASSERT_TRUE(store_->UpdateJobs({running}, {a}).ok());
  ASSERT_TRUE(store_->AddArtifact({"e1-0", "summary.json", "aa", 3}).ok());
  ASSERT_TRUE(store_->AddArtifact({"e2-0", "summary.json", "bb", 3}).ok());
  std::vector<MetricPoint> pts;
  for (int step = 0; step < 1000; ++step) {
    pts.push_back({"e1-0", 7, step, "train_loss", 1.0 / (1 + step), 1});
    pts.push_back({"e1-0", 7, step, "val_accuracy", step / 1000.0, 1});
  }
  pts.push_back({"e2-0", 9, 0, "val_accuracy", 0.5, 1});
  ASSERT_TRUE(store_->AppendMetrics(pts).ok());

  auto plain = store_->GetExperimentResults("e1", {});
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_EQ(plain->jobs.size(), 2u);
  EXPECT_EQ(plain->jobs[0].id, "e1-0");  // by index
  ASSERT_EQ(plain->attempts.size(), 1u);
  EXPECT_EQ(plain->attempts[0].id, 7);
  ASSERT_EQ(plain->artifacts.size(), 1u);
  EXPECT_EQ(plain->artifacts[0].job_id, "e1-0");
  EXPECT_TRUE(plain->metrics.empty());

  Store::MetricsQuery q;
  q.include = true;
  q.names = {"val_accuracy"};
  q.max_points_per_series = 101;
  auto thin = store_->GetExperimentResults("e1", q);
  ASSERT_TRUE(thin.ok()) << thin.status();
  ASSERT_EQ(thin->metrics.size(), 101u);
  EXPECT_EQ(thin->metrics.front().step, 0);
  EXPECT_EQ(thin->metrics.back().step, 999);  // the last point is kept
  for (const MetricPoint& p : thin->metrics) EXPECT_EQ(p.name, "val_accuracy");
  q.names.clear();
  q.max_points_per_series = 0;
  q.list_names = true;
  auto all = store_->GetExperimentResults("e1", q);
  EXPECT_EQ(all->metrics.size(), 2000u);
  EXPECT_EQ(all->metric_names,
            (std::vector<std::string>{"train_loss", "val_accuracy"}));
  // Thinned in the store (the index picks the rows) = ThinSeries over all.
  for (int max_points : {1, 2, 3, 7, 101, 999, 1000, 5000}) {
    q.max_points_per_series = max_points;
    auto thinned = store_->GetExperimentResults("e1", q);
    ASSERT_TRUE(thinned.ok()) << thinned.status();
    const std::vector<MetricPoint> want = ThinSeries(all->metrics, max_points);
    ASSERT_EQ(thinned->metrics.size(), want.size()) << max_points;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(thinned->metrics[i].name, want[i].name);
      EXPECT_EQ(thinned->metrics[i].step, want[i].step);
      EXPECT_EQ(thinned->metrics[i].value, want[i].value);
    }
  }
  EXPECT_EQ(*store_->GetJobSpec("e1-1"), JobOf("e1", "e1-1", 1).spec);
  EXPECT_EQ(store_->GetJobSpec("nope").status().code(),
            absl::StatusCode::kNotFound);
}

// Thinning over steps logged unevenly, repeated (a retried attempt logs the
// same steps again) and in several series: the store's index seeks keep
// exactly the points ThinSeries keeps of the full read.
TEST_P(StoreTest, ThinnedSeriesKeepTheShapeOverUnevenAndRepeatedSteps) {
  ASSERT_TRUE(store_
                  ->CreateExperiment(Exp("e1"), {JobOf("e1", "e1-0", 0),
                                                 JobOf("e1", "e1-1", 1)})
                  .ok());
  std::vector<MetricPoint> pts;
  for (int64_t step : {0, 0, 1, 1, 2, 5, 5, 5, 100, 1000, 1000, 1001}) {
    pts.push_back({"e1-0", 1, step, "loss", 1.0 / (step + 1), 1});
  }
  for (int i = 0; i < 300; ++i) {  // dense early, sparse late
    const int64_t step = i < 250 ? i : 250 + (i - 250) * 1000;
    pts.push_back({"e1-1", 2, step, "acc", i / 300.0, 1});
    pts.push_back({"e1-1", 2, step, "loss", 1 - i / 300.0, 1});
  }
  ASSERT_TRUE(store_->AppendMetrics(pts).ok());
  Store::MetricsQuery q;
  q.include = true;
  auto all = store_->GetExperimentResults("e1", q);
  ASSERT_TRUE(all.ok()) << all.status();
  for (int max_points : {1, 2, 3, 4, 5, 11, 12, 13, 50, 299, 300, 301}) {
    for (std::vector<std::string> names :
         {std::vector<std::string>{}, std::vector<std::string>{"loss"}}) {
      q.max_points_per_series = max_points;
      q.names = names;
      auto thin = store_->GetExperimentResults("e1", q);
      ASSERT_TRUE(thin.ok()) << thin.status();
      std::vector<MetricPoint> named;
      for (const MetricPoint& p : all->metrics)
        if (names.empty() || p.name == names[0]) named.push_back(p);
      const std::vector<MetricPoint> want = ThinSeries(named, max_points);
      ASSERT_EQ(thin->metrics.size(), want.size()) << max_points;
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(thin->metrics[i].job_id, want[i].job_id) << i;
        EXPECT_EQ(thin->metrics[i].name, want[i].name) << i;
        EXPECT_EQ(thin->metrics[i].step, want[i].step)
            << max_points << " " << i;
        EXPECT_EQ(thin->metrics[i].value, want[i].value) << i;
      }
    }
  }
  // The late, sparse steps keep their share of points: half the kept points
  // of e1-1's 'acc' (11 kept of 300) lie past step 250.
  q.names = {"acc"};
  q.max_points_per_series = 11;
  auto thin = store_->GetExperimentResults("e1", q);
  int late = 0;
  for (const MetricPoint& p : thin->metrics) late += p.step > 250;
  EXPECT_GE(late, 5);
  EXPECT_EQ(thin->metrics.back().step, 250 + 49 * 1000);
}

TEST_P(StoreTest, CommitKeepsEachBatchAtomicInsideOneTransaction) {
  WriteBatch create, bad, finish;
  create.new_experiments.push_back({Exp("e1"), {JobOf("e1", "j1", 0)}});
  JobRecord ghost = JobOf("e1", "ghost", 1);
  bad.job_updates.push_back(ghost);
  bad.workers.push_back({"w-bad", "x", 0, 1, "{}", "alive", 1});
  finish.experiment_states.push_back({"e1", "succeeded", "", 7});
  WriteBatch empty;
  std::vector<absl::Status> each;
  ASSERT_TRUE(store_->Commit({&create, &bad, &empty, &finish}, &each).ok());
  ASSERT_EQ(each.size(), 4u);
  EXPECT_TRUE(each[0].ok());
  EXPECT_EQ(each[1].code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(each[2].ok());
  EXPECT_TRUE(each[3].ok()) << each[3];
  EXPECT_EQ(store_->GetExperiment("e1")->state, "succeeded");
  EXPECT_TRUE(store_->ListWorkers()->empty());  // the bad batch left nothing
  EXPECT_EQ(create.rows(), 2);
  EXPECT_TRUE(empty.empty());
}

INSTANTIATE_TEST_SUITE_P(MemoryAndFile, StoreTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "file" : "memory";
                         });

TEST(StoreFile, SurvivesReopenAndMigratesFromV1) {
  const std::string path = TempPath("migrate.db");
  ASSERT_TRUE(OpenSqliteStore(path, /*target_version=*/1).ok());
  EXPECT_EQ(*StoreSchemaVersion(path), 1);
  // Rows as a v1 server wrote them (this code writes the newest schema).
  RunSql(path,
         "INSERT INTO experiments VALUES('e1', 1, 'sweep-e1', 'train', 'u', "
         "'{}', 0, 'running', '', 1, 0);"
         "INSERT INTO jobs VALUES('j', 'e1', 0, 'train', '{}', '{}', '[]', 0, "
         "1, 0, 2, 'queued', 0, 0, '', '[]', '', '', 1);");
  auto latest = OpenSqliteStore(path);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*StoreSchemaVersion(path), kStoreSchemaVersion);
  EXPECT_EQ((*latest)->GetExperiment("e1")->name, "sweep-e1");
  const JobRecord j = *(*latest)->GetJob("j");
  EXPECT_EQ(j.max_retries, 2);
  EXPECT_EQ(j.timeout_seconds, 0);  // v3 column, defaulted
  ASSERT_TRUE(
      (*latest)->AppendMetrics({{"j", 1, 1, "loss", 0.5, 1}}).ok());  // v2
  ASSERT_TRUE(
      (*latest)->CreateExperiment(Exp("e2"), {JobOf("e2", "k", 0)}).ok());
  latest->reset();
  auto reopened = OpenSqliteStore(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->ListJobs("e2")->size(), 1u);
}

// v5 rebuilds the experiments table around seq and v6 the jobs table around
// (seq, index): every row, its seq (gaps included) and the list order
// survive, new experiments continue after the largest seq, and jobs still
// reference experiments.
TEST(StoreFile, MigratesV4ToTablesKeyedBySeq) {
  const std::string path = TempPath("migrate-v4.db");
  ASSERT_TRUE(OpenSqliteStore(path, /*target_version=*/4).ok());
  RunSql(path,
         "INSERT INTO experiments(id, seq, name, kind, owner, spec, priority, "
         "state, message, created_ms, finished_ms) VALUES"
         "('e3', 3, 'c', 'train', 'bob', 'name: c', 1, 'succeeded', '', 3, 4),"
         "('e1', 1, 'a', 'train', 'alice', 'name: a', 0, 'running', '', 1, 0),"
         "('e7', 7, 'b', 'soup', 'alice', 'name: b', 2, 'failed', 'm', 7, 8);"
         "INSERT INTO jobs VALUES('e7-0000', 'e7', 0, 'train', '{}', '{}', "
         "'[]', 0, 1, 0, 2, 'failed', 1, 0, 'w', '[]', 'r', '', 1, 5);");
  auto store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*StoreSchemaVersion(path), kStoreSchemaVersion);
  ExperimentFilter all;
  all.page_size = 10;
  auto page = (*store)->ListExperiments(all);
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<std::string> ids;
  for (const ExperimentRecord& e : page->experiments) ids.push_back(e.id);
  EXPECT_THAT(ids, ElementsAre("e7", "e3", "e1"));
  const ExperimentRecord e7 = *(*store)->GetExperiment("e7");
  EXPECT_EQ(e7.kind, "soup");
  EXPECT_EQ(e7.priority, 2);
  EXPECT_EQ(e7.message, "m");
  EXPECT_EQ(e7.finished_ms, 8);
  EXPECT_EQ((*store)->GetJob("e7-0000")->timeout_seconds, 5);
  ExperimentFilter bobs;
  bobs.page_size = 10;
  bobs.owner = "bob";
  EXPECT_EQ((*store)->ListExperiments(bobs)->experiments.size(), 1u);
  // v6: jobs come back in index order whatever order they were written in.
  ASSERT_TRUE((*store)
                  ->CreateExperiment(Exp("e9"), {JobOf("e9", "j9-2", 2),
                                                 JobOf("e9", "j9-0", 0),
                                                 JobOf("e9", "j9-1", 1)})
                  .ok());
  std::vector<std::string> job_ids;
  auto listed = (*store)->ListJobs("e9");
  ASSERT_TRUE(listed.ok()) << listed.status();
  for (const JobRecord& j : *listed) job_ids.push_back(j.id);
  EXPECT_THAT(job_ids, ElementsAre("j9-0", "j9-1", "j9-2"));
  ASSERT_EQ((*store)->ListJobs("e7")->size(), 1u);
  EXPECT_EQ((*store)->ListJobs("e7")->front().state, "failed");
  EXPECT_TRUE((*store)->ListJobs("e3")->empty());
  ExperimentFilter newest;
  newest.page_size = 1;
  page = (*store)->ListExperiments(newest);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->experiments.size(), 1u);
  EXPECT_EQ(page->experiments[0].id, "e9");
  EXPECT_EQ(page->next_page_token, "8");  // seq 8: after the largest, 7
  store->reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* fk = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(db, "PRAGMA foreign_key_list(jobs)", -1, &fk, nullptr),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_step(fk), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(fk, 2)),
               "experiments");
  sqlite3_finalize(fk);
  sqlite3_close(db);
}

// A file whose rows already point nowhere (edited outside ladle-server) is
// not migrated: the error names the table, and the file stays at v4.
TEST(StoreFile, MigrationRefusesDanglingReferences) {
  const std::string path = TempPath("dangling.db");
  ASSERT_TRUE(OpenSqliteStore(path, /*target_version=*/4).ok());
  RunSql(path,
         "INSERT INTO jobs VALUES('x-0000', 'x', 0, 'train', '{}', '{}', '[]', "
         "0, 1, 0, 2, 'queued', 0, 0, '', '[]', '', '', 1, 0);");
  auto store = OpenSqliteStore(path);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_THAT(std::string(store.status().message()),
              ::testing::HasSubstr("migration to schema v5 failed: a row of "
                                   "jobs"));
  EXPECT_EQ(*StoreSchemaVersion(path), 4);
}

TEST(StoreFile, RefusesNewerSchemaAndCorruptFiles) {
  const std::string path = TempPath("future.db");
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  RunSql(path, "PRAGMA user_version = 99");  // as if a newer server wrote it
  auto s = OpenSqliteStore(path);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition)
      << s.status();
  EXPECT_NE(s.status().message().find("upgrade ladle-server"),
            std::string::npos);
  const std::string junk = TempPath("junk.db");
  std::ofstream(junk) << std::string(4096, 'x');
  EXPECT_EQ(OpenSqliteStore(junk).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ladle

// SqliteStore: the Store on one SQLite file (see store.h).
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/sqlite_schema.h"
#include "server/sqlite_util.h"
#include "server/store.h"

namespace ladle {
namespace {

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override {
    statements_.clear();  // finalized before the connection closes
    spec_by_id_.reset();
    request_by_id_.reset();
    if (read_db_ != nullptr) sqlite3_close_v2(read_db_);
    sqlite3_close_v2(db_);
  }

  // A second connection, read-only, for reads that must not wait behind a
  // commit (WAL lets it read the last committed state meanwhile).
  void SetReadConnection(sqlite3* db) {
    absl::MutexLock lock(&read_mu_);
    read_db_ = db;
  }

  absl::StatusOr<std::string> GetJobSpec(const std::string& id) override {
    {
      absl::MutexLock lock(&read_mu_);
      if (read_db_ != nullptr) {
        if (spec_by_id_ == nullptr) {
          spec_by_id_ = std::make_unique<Stmt>(
              read_db_, "SELECT spec FROM jobs WHERE id = ?");
        }
        return ReadSpec(*spec_by_id_, id);
      }
    }
    absl::MutexLock lock(&mu_);  // in memory: one connection
    return ReadSpec(Cached("SELECT spec FROM jobs WHERE id = ?"), id);
  }

  absl::Status Migrate(int target) {
    absl::MutexLock lock(&mu_);
    int version = 0;
    {
      Stmt s(db_, "PRAGMA user_version");
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (row) version = static_cast<int>(s.Int(0));
    }
    if (version > kStoreSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("store: schema version ", version,
                       " is newer than this ladle-server (",
                       kStoreSchemaVersion, "); upgrade ladle-server"));
    }
    if (version >= target) return absl::OkStatus();
    // Rebuilding tables of an existing file takes a while (v5 and v6: ~45 s
    // per million jobs here): say so rather than look hung.
    const auto started = std::chrono::steady_clock::now();
    if (version > 0) {
      LOG(INFO) << "store: upgrading the schema from v" << version << " to v"
                << target << " (once; large stores take a while)";
    }
    // Tables are rebuilt with foreign keys off (SQLite's procedure for
    // changing a table: the pragma is a no-op inside a transaction), and
    // every reference is checked before each migration commits.
    RETURN_IF_ERROR(Exec(db_, "PRAGMA foreign_keys = OFF"));
    absl::Status st = absl::OkStatus();
    for (int v = version + 1; st.ok() && v <= target; ++v) {
      // Each migration and its version bump commit together.
      st = Exec(db_, "BEGIN IMMEDIATE");
      if (!st.ok()) break;
      st = Exec(db_, kMigrations[v - 1]);
      if (st.ok()) st = CheckForeignKeys();
      if (st.ok())
        st = Exec(db_, absl::StrCat("PRAGMA user_version = ", v).c_str());
      if (st.ok()) st = Exec(db_, "COMMIT");
      if (!st.ok()) {
        Exec(db_, "ROLLBACK").IgnoreError();
        st =
            absl::Status(st.code(), absl::StrCat("store: migration to schema v",
                                                 v, " failed: ", st.message()));
      }
    }
    absl::Status on = Exec(db_, "PRAGMA foreign_keys = ON");
    if (st.ok() && version > 0) {
      LOG(INFO) << "store: schema v" << target << " after "
                << std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - started)
                       .count()
                << " s";
    }
    return st.ok() ? on : st;
  }

  // A row whose reference points nowhere, as an error naming it.
  absl::Status CheckForeignKeys() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stmt s(db_, "PRAGMA foreign_key_check");
    ASSIGN_OR_RETURN(bool row, s.Next());
    if (!row) return absl::OkStatus();
    return absl::DataLossError(
        absl::StrCat("a row of ", s.Text(0), " (rowid ", s.Int(1),
                     ") refers to a missing row of ", s.Text(2),
                     "; the file was changed outside ladle-server: restore a "
                     "backup, or delete that row with the sqlite3 shell"));
  }

  absl::Status Commit(const std::vector<const WriteBatch*>& batches,
                      std::vector<absl::Status>* each) override {
    each->assign(batches.size(), absl::OkStatus());
    bool any = false;
    for (const WriteBatch* b : batches) any |= !b->empty();
    if (!any) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    // Prepared once: sqlite3_exec would compile these four for every batch.
    absl::Status st = Cached("BEGIN IMMEDIATE").Run();
    // Batches almost never fail, so the group goes in without a savepoint
    // per batch first (two statements less per batch); if one fails, the
    // whole transaction rolls back and the group is applied again with the
    // savepoints that keep the others.
    bool failed = false;
    for (size_t i = 0; st.ok() && i < batches.size(); ++i) {
      if (batches[i]->empty()) continue;
      if (!ApplyBatch(*batches[i]).ok()) {
        failed = true;
        break;
      }
    }
    if (!failed) {
      if (st.ok()) st = Cached("COMMIT").Run();
      if (!st.ok()) {  // BEGIN or COMMIT: the transaction itself failed
        Exec(db_, "ROLLBACK").IgnoreError();
        each->assign(batches.size(), st);
      }
      return st;
    }
    Exec(db_, "ROLLBACK").IgnoreError();
    st = Cached("BEGIN IMMEDIATE").Run();
    for (size_t i = 0; st.ok() && i < batches.size(); ++i) {
      if (batches[i]->empty()) continue;
      // A savepoint per batch keeps batches atomic one by one inside the
      // shared transaction.
      st = Cached("SAVEPOINT batch").Run();
      if (!st.ok()) break;
      absl::Status bs = ApplyBatch(*batches[i]);
      if (bs.ok()) {
        st = Cached("RELEASE batch").Run();
      } else {
        (*each)[i] = bs;
        st = Exec(db_, "ROLLBACK TO batch");
        if (st.ok()) st = Cached("RELEASE batch").Run();
      }
    }
    if (st.ok()) st = Cached("COMMIT").Run();
    if (!st.ok()) {
      Exec(db_, "ROLLBACK").IgnoreError();
      each->assign(batches.size(), st);
    }
    return st;
  }

  absl::StatusOr<ExperimentRecord> GetExperiment(
      const std::string& id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, absl::StrCat("SELECT ", kExperimentColumns,
                             " FROM experiments WHERE id = ?")
                    .c_str());
    s.Bind(1, id);
    ASSIGN_OR_RETURN(bool row, s.Next());
    if (!row)
      return absl::NotFoundError(absl::StrCat("experiment ", id, " not found"));
    return ReadExperiment(s);
  }

  // On the read connection (not behind commits), like GetJobSpec: a
  // committed submit is visible to it; ones in flight are the coordinator's.
  absl::StatusOr<std::string> FindSubmitRequest(
      const std::string& owner, const std::string& request_id) override {
    static constexpr char kSql[] =
        "SELECT experiment_id FROM submit_requests WHERE owner = ? AND "
        "request_id = ?";
    {
      absl::MutexLock lock(&read_mu_);
      if (read_db_ != nullptr) {
        if (request_by_id_ == nullptr)
          request_by_id_ = std::make_unique<Stmt>(read_db_, kSql);
        return ReadRequest(*request_by_id_, owner, request_id);
      }
    }
    absl::MutexLock lock(&mu_);  // in memory: one connection
    return ReadRequest(Cached(kSql), owner, request_id);
  }

  absl::StatusOr<ExperimentPage> ListExperiments(
      const ExperimentFilter& f) override {
    if (f.page_size <= 0 || f.page_size > 1000) {
      return absl::InvalidArgumentError("page_size: must be in [1, 1000]");
    }
    int64_t before = INT64_MAX;
    if (!f.page_token.empty() && !absl::SimpleAtoi(f.page_token, &before)) {
      return absl::InvalidArgumentError(
          "page_token: not a token from a previous page");
    }
    absl::MutexLock lock(&mu_);
    // Only the filters that are set, so an owner's list walks the owner
    // index newest first instead of every experiment stored.
    Stmt s(db_, absl::StrCat("SELECT ", kExperimentColumns,
                             " FROM experiments WHERE seq < ?",
                             f.owner.empty() ? "" : " AND owner = ?",
                             f.state.empty() ? "" : " AND state = ?",
                             " ORDER BY seq DESC LIMIT ?")
                    .c_str());
    int param = 1;
    s.Bind(param++, before);
    if (!f.owner.empty()) s.Bind(param++, f.owner);
    if (!f.state.empty()) s.Bind(param++, f.state);
    s.Bind(param, f.page_size + 1);
    ExperimentPage page;
    int64_t last_seq = 0;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      if (static_cast<int>(page.experiments.size()) == f.page_size) {
        page.next_page_token = absl::StrCat(last_seq);
        break;
      }
      page.experiments.push_back(ReadExperiment(s));
      last_seq = s.Int(10);
    }
    return page;
  }

  absl::StatusOr<JobRecord> GetJob(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, absl::StrCat("SELECT ", kJobColumns, " FROM jobs WHERE id = ?")
                    .c_str());
    s.Bind(1, id);
    ASSIGN_OR_RETURN(bool row, s.Next());
    if (!row)
      return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
    return ReadJob(s);
  }

  absl::StatusOr<std::vector<JobRecord>> ListJobs(
      const std::string& experiment_id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_,
           absl::StrCat("SELECT ", kJobColumns, kJobsOfExperiment).c_str());
    s.Bind(1, experiment_id);
    return ReadJobs(s);
  }

  absl::StatusOr<std::vector<JobRecord>> ListActiveJobs() override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_,
           absl::StrCat(
               "SELECT ", kJobColumns,
               " FROM jobs WHERE experiment_id IN (SELECT id FROM experiments "
               "WHERE "
               "state = 'running') ORDER BY pos")
               .c_str());
    return ReadJobs(s);
  }

  absl::StatusOr<std::vector<AttemptRecord>> ListAttempts(
      const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, absl::StrCat("SELECT ", kAttemptColumns,
                             " FROM attempts WHERE job_id = ? ORDER BY id")
                    .c_str());
    s.Bind(1, job_id);
    std::vector<AttemptRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      out.push_back(ReadAttempt(s));
    }
    return out;
  }

  absl::StatusOr<int64_t> MaxAttemptId() override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, "SELECT IFNULL(MAX(id), 0) FROM attempts");
    ASSIGN_OR_RETURN(bool row, s.Next());
    return row ? s.Int(0) : 0;
  }

  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_,
           "SELECT id, name, gpus, cpu_slots, labels, state, last_seen_ms FROM "
           "workers ORDER BY id");
    std::vector<WorkerRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      WorkerRecord w;
      w.id = s.Text(0);
      w.name = s.Text(1);
      w.gpus = static_cast<int>(s.Int(2));
      w.cpu_slots = static_cast<int>(s.Int(3));
      w.labels = s.Text(4);
      w.state = s.Text(5);
      w.last_seen_ms = s.Int(6);
      out.push_back(std::move(w));
    }
    return out;
  }

  absl::StatusOr<std::vector<MetricPoint>> GetMetrics(
      const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_,
           "SELECT job_id, attempt_id, step, name, value, time_ms FROM metrics "
           "WHERE job_id = ? "
           "ORDER BY name, step");
    s.Bind(1, job_id);
    std::vector<MetricPoint> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      out.push_back(
          {s.Text(0), s.Int(1), s.Int(2), s.Text(3), s.Real(4), s.Int(5)});
    }
    return out;
  }

  absl::StatusOr<std::map<std::string, std::map<std::string, int>>>
  CountJobStates(const std::vector<std::string>& experiment_ids) override {
    auto run = [&](sqlite3* db)
        -> absl::StatusOr<std::map<std::string, std::map<std::string, int>>> {
      std::map<std::string, std::map<std::string, int>> out;
      constexpr size_t kChunk = 500;  // under SQLite's bound-variable limit
      for (size_t at = 0; at < experiment_ids.size(); at += kChunk) {
        const size_t n = std::min(kChunk, experiment_ids.size() - at);
        std::string marks;
        for (size_t i = 0; i < n; ++i) absl::StrAppend(&marks, i ? ", ?" : "?");
        Stmt s(db, absl::StrCat("SELECT experiment_id, state, COUNT(*) FROM "
                                "jobs INDEXED BY jobs_by_experiment_state "
                                "WHERE experiment_id IN (",
                                marks, ") GROUP BY experiment_id, state")
                       .c_str());
        for (size_t i = 0; i < n; ++i)
          s.Bind(static_cast<int>(i) + 1, experiment_ids[at + i]);
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Next());
          if (!row) break;
          out[s.Text(0)][s.Text(1)] = static_cast<int>(s.Int(2));
        }
      }
      return out;
    };
    {
      absl::MutexLock lock(&read_mu_);
      if (read_db_ != nullptr) return run(read_db_);
    }
    absl::MutexLock lock(&mu_);
    return run(db_);
  }

  absl::StatusOr<ExperimentResultsData> GetExperimentResults(
      const std::string& experiment_id, const MetricsQuery& metrics) override {
    {
      absl::MutexLock lock(&read_mu_);
      if (read_db_ != nullptr) {
        // One read transaction: every table from the same snapshot.
        RETURN_IF_ERROR(Exec(read_db_, "BEGIN"));
        absl::StatusOr<ExperimentResultsData> r =
            ReadResults(read_db_, experiment_id, metrics);
        (void)Exec(read_db_, "COMMIT");
        return r;
      }
    }
    absl::MutexLock lock(&mu_);
    return ReadResults(db_, experiment_id, metrics);
  }

  absl::StatusOr<std::vector<ArtifactRecord>> ListArtifacts(
      const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_,
           "SELECT job_id, name, sha256, size FROM artifacts WHERE job_id = ? "
           "ORDER BY name");
    s.Bind(1, job_id);
    std::vector<ArtifactRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Int(3)});
    }
    return out;
  }

 private:
  // A prepared statement kept for the store's lifetime (writes are hot).
  Stmt& Cached(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::unique_ptr<Stmt>& s = statements_[sql];
    if (s == nullptr) s = std::make_unique<Stmt>(db_, sql);
    s->Reset();
    return *s;
  }

  // An experiment, its request id and all its jobs (keyed by its seq).
  absl::Status InsertExperiment(const NewExperiment& ne)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const ExperimentRecord& e = ne.experiment;
    Stmt& ins = Cached(
        // seq, the rowid, is one past the largest.
        "INSERT INTO experiments(id, name, kind, owner, spec, priority, "
        "state, message, created_ms, finished_ms, code_sha256, rerun_of, "
        "search_state) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ins.BindView(1, e.id).BindView(2, e.name).BindView(3, e.kind).BindView(
        4, e.owner);
    ins.BindView(5, e.spec).Bind(6, e.priority).BindView(7, e.state);
    ins.BindView(8, e.message).Bind(9, e.created_ms).Bind(10, e.finished_ms);
    ins.BindView(11, e.code_sha256).BindView(12, e.rerun_of);
    ins.Bind(13, e.search_state);
    RETURN_IF_ERROR(ins.Run());
    const int64_t seq = sqlite3_last_insert_rowid(db_);
    if (!e.request_id.empty()) {
      Stmt& req = Cached(
          "INSERT INTO submit_requests(owner, request_id, experiment_id) "
          "VALUES(?, ?, ?)");
      req.BindView(1, e.owner).BindView(2, e.request_id).BindView(3, e.id);
      RETURN_IF_ERROR(req.Run());
    }
    for (const JobRecord& j : ne.jobs) {
      if (j.experiment_id != e.id) {
        return absl::InvalidArgumentError(absl::StrCat(
            "job ", j.id, " belongs to ", j.experiment_id, ", not ", e.id));
      }
      RETURN_IF_ERROR(InsertJob(j, seq));
    }
    return absl::OkStatus();
  }

  // A job of the experiment numbered `seq`, at its index in that range.
  absl::Status InsertJob(const JobRecord& j, int64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (j.index < 0 || j.index >= (1 << kJobIndexBits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("job ", j.id, ": index ", j.index, " is outside [0, 2^",
                       kJobIndexBits, ")"));
    }
    Stmt& job = Cached(kInsertJob);
    BindJob(job, j, (seq << kJobIndexBits) | j.index);
    return job.Run();
  }

  // A job added to an experiment already stored (a search's next trial).
  absl::Status InsertLaterJob(const JobRecord& j)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stmt& q = Cached("SELECT seq FROM experiments WHERE id = ?");
    q.BindView(1, j.experiment_id);
    ASSIGN_OR_RETURN(bool row, q.Next());
    if (!row) {
      return absl::NotFoundError(absl::StrCat("job ", j.id, ": experiment ",
                                              j.experiment_id, " not found"));
    }
    const int64_t seq = q.Int(0);
    q.Reset();
    return InsertJob(j, seq);
  }

  absl::Status UpdateJob(const JobRecord& j)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stmt& up = Cached(
        "UPDATE jobs SET state = ?, attempts = ?, current_attempt = ?, "
        "worker_id = ?, gpu_indices = ?, reason = ?, summary = ?, "
        "updated_ms = ?, result_seq = ?, result_value = ? WHERE id = ?");
    up.BindView(1, j.state).Bind(2, j.attempts).Bind(3, j.current_attempt);
    up.BindView(4, j.worker_id).Bind(5, JoinJson(j.gpu_indices));
    up.BindView(6, j.reason).BindView(7, j.summary).Bind(8, j.updated_ms);
    up.Bind(9, j.result_seq).Bind(10, j.result_value);  // NaN: NULL
    up.BindView(11, j.id);
    RETURN_IF_ERROR(up.Run());
    if (sqlite3_changes(db_) != 1)
      return absl::NotFoundError(absl::StrCat("job ", j.id, " not found"));
    return absl::OkStatus();
  }

  absl::Status ApplyBatch(const WriteBatch& b)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const NewExperiment& ne : b.new_experiments)
      RETURN_IF_ERROR(InsertExperiment(ne));
    for (const JobRecord& j : b.new_jobs) RETURN_IF_ERROR(InsertLaterJob(j));
    for (const JobRecord& j : b.job_updates) RETURN_IF_ERROR(UpdateJob(j));
    for (const AttemptRecord& a : b.attempts) {
      Stmt& at = Cached(
          "INSERT INTO attempts(id, job_id, worker_id, number, outcome, "
          "started_ms, ended_ms, exit_code, reason, rank, gpu_indices) "
          "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT(id) DO UPDATE SET outcome = excluded.outcome, "
          "ended_ms = excluded.ended_ms, exit_code = excluded.exit_code, "
          "reason = excluded.reason");
      at.Bind(1, a.id).BindView(2, a.job_id).BindView(3, a.worker_id);
      at.Bind(4, a.number).BindView(5, a.outcome).Bind(6, a.started_ms);
      at.Bind(7, a.ended_ms).Bind(8, a.exit_code).BindView(9, a.reason);
      at.Bind(10, a.rank).Bind(11, JoinJson(a.gpu_indices));
      RETURN_IF_ERROR(at.Run());
    }
    for (const ExperimentStateChange& c : b.experiment_states) {
      Stmt& s = Cached(
          "UPDATE experiments SET state = ?, message = ?, finished_ms = ? "
          "WHERE id = ?");
      s.BindView(1, c.state).BindView(2, c.message).Bind(3, c.finished_ms);
      s.BindView(4, c.id);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(db_) != 1) {
        return absl::NotFoundError(
            absl::StrCat("experiment ", c.id, " not found"));
      }
    }
    for (const auto& [id, state] : b.search_states) {
      Stmt& s = Cached("UPDATE experiments SET search_state = ? WHERE id = ?");
      s.Bind(1, state).BindView(2, id);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(db_) != 1)
        return absl::NotFoundError(
            absl::StrCat("experiment ", id, " not found"));
    }
    for (const WorkerRecord& w : b.workers) {
      Stmt& s = Cached(
          "INSERT INTO workers(id, name, gpus, cpu_slots, labels, state, "
          "last_seen_ms) VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO "
          "UPDATE SET name = excluded.name, gpus = excluded.gpus, cpu_slots = "
          "excluded.cpu_slots, labels = excluded.labels, state = "
          "excluded.state, last_seen_ms = excluded.last_seen_ms");
      s.BindView(1, w.id).BindView(2, w.name).Bind(3, w.gpus).Bind(4,
                                                                   w.cpu_slots);
      s.BindView(5, w.labels).BindView(6, w.state).Bind(7, w.last_seen_ms);
      RETURN_IF_ERROR(s.Run());
    }
    for (const MetricPoint& p : b.metrics) {
      Stmt& s = Cached(
          "INSERT INTO metrics(job_id, attempt_id, step, name, value, "
          "time_ms) VALUES(?, ?, ?, ?, ?, ?)");
      s.BindView(1, p.job_id).Bind(2, p.attempt_id).Bind(3, p.step);
      s.BindView(4, p.name).Bind(5, p.value).Bind(6, p.time_ms);
      RETURN_IF_ERROR(s.Run());
    }
    for (const ArtifactRecord& a : b.artifacts) {
      Stmt& s = Cached(
          "INSERT INTO artifacts(job_id, name, sha256, size) VALUES(?, ?, ?, "
          "?) ON CONFLICT(job_id, name) DO UPDATE SET sha256 = "
          "excluded.sha256, size = excluded.size");
      s.BindView(1, a.job_id)
          .BindView(2, a.name)
          .BindView(3, a.sha256)
          .Bind(4, a.size);
      RETURN_IF_ERROR(s.Run());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<JobRecord>> ReadJobs(Stmt& s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<JobRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      out.push_back(ReadJob(s));
    }
    return out;
  }

  static absl::StatusOr<std::string> ReadRequest(
      Stmt& s, const std::string& owner, const std::string& request_id) {
    s.Reset();
    s.Bind(1, owner).Bind(2, request_id);
    ASSIGN_OR_RETURN(bool row, s.Next());
    if (!row) {
      s.Reset();
      return absl::NotFoundError(absl::StrCat("no submit of ", owner,
                                              " with request id ", request_id));
    }
    std::string id = s.Text(0);
    s.Reset();
    return id;
  }

  static absl::StatusOr<std::string> ReadSpec(Stmt& s, const std::string& id) {
    s.Reset();
    s.Bind(1, id);
    ASSIGN_OR_RETURN(bool row, s.Next());
    if (!row)
      return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
    std::string spec = s.Text(0);
    s.Reset();
    return spec;
  }

  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
  absl::Mutex read_mu_;
  sqlite3* read_db_ ABSL_GUARDED_BY(read_mu_) = nullptr;
  std::unique_ptr<Stmt> spec_by_id_ ABSL_GUARDED_BY(read_mu_);
  std::unique_ptr<Stmt> request_by_id_ ABSL_GUARDED_BY(read_mu_);
  // Keyed by the SQL text's address: every caller passes a literal.
  std::unordered_map<const char*, std::unique_ptr<Stmt>> statements_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                       int target_version) {
  if (target_version < 1 || target_version > kStoreSchemaVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("store: no schema version ", target_version));
  }
  ASSIGN_OR_RETURN(sqlite3 * db, OpenDb(path));
  auto store = std::make_unique<SqliteStore>(db);
  // WAL: readers never block the writer; FULL: a commit is on disk before it
  // returns.
  if (path != ":memory:")
    RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode = WAL"));
  RETURN_IF_ERROR(
      Exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON"));
  {
    Stmt check(db, "PRAGMA quick_check");
    ASSIGN_OR_RETURN(bool row, check.Next());
    if (row && check.Text(0) != "ok") {
      return absl::DataLossError(
          absl::StrCat("store ", path, " is corrupt: ", check.Text(0)));
    }
  }
  RETURN_IF_ERROR(store->Migrate(target_version));
  if (path != ":memory:") {
    sqlite3* reader = nullptr;
    if (sqlite3_open_v2(path.c_str(), &reader,
                        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(reader, 5000);
      // The reader serves the bulk reads (results, curves, the UI): mapped,
      // a page is read where the OS caches it instead of copied by a read()
      // per page, and a 64 MiB page cache keeps hot index pages across
      // requests (copies were most of a 1,000-job sweep's thinned curves).
      Exec(reader, "PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -65536")
          .IgnoreError();
      store->SetReadConnection(reader);
    } else {
      sqlite3_close_v2(reader);  // reads then share the main connection
    }
  }
  return std::unique_ptr<Store>(std::move(store));
}

absl::StatusOr<int> StoreSchemaVersion(const std::string& path) {
  ASSIGN_OR_RETURN(sqlite3 * db, OpenDb(path));
  int version = 0;
  {
    Stmt s(db, "PRAGMA user_version");
    auto row = s.Next();
    if (row.ok() && *row) version = static_cast<int>(s.Int(0));
  }
  sqlite3_close_v2(db);
  return version;
}

}  // namespace ladle

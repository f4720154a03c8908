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
#include "server/store.h"

namespace ladle {
namespace {

// The SQLite checker: turns a result code into a Status naming the call site
// and the error.
absl::Status SqliteStatus(int rc, sqlite3* db, const char* what,
                          const char* file, int line) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
    return absl::OkStatus();
  const std::string msg =
      absl::StrCat(file, ":", line, ": sqlite ", what, ": ",
                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    default:
      return absl::InternalError(msg);
  }
}
#define SQLITE_RETURN_IF_ERROR(db, rc, what) \
  RETURN_IF_ERROR(SqliteStatus((rc), (db), (what), __FILE__, __LINE__))

// A prepared statement; binds by position (1-based) and steps.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  absl::Status status() const {
    return SqliteStatus(rc_, db_, "prepare", __FILE__, __LINE__);
  }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  // Binds without a copy: `v` must stay alive and unchanged until the
  // statement has run (the fields of the batch being applied). A copy per
  // text column and row was a tenth of the cost of storing a submit.
  Stmt& BindView(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_STATIC);
    return *this;
  }
  Stmt& BindView(int i, std::string&& v) = delete;  // would dangle
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // Runs to completion (no rows expected).
  absl::Status Run() {
    RETURN_IF_ERROR(status());
    const int rc = sqlite3_step(stmt_);
    absl::Status st = SqliteStatus(rc, db_, "step", __FILE__, __LINE__);
    sqlite3_reset(stmt_);
    return st;
  }
  // Steps once: true with a row, false when done.
  absl::StatusOr<bool> Next() {
    RETURN_IF_ERROR(status());
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    RETURN_IF_ERROR(SqliteStatus(rc, db_, "step", __FILE__, __LINE__));
    return false;
  }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           sqlite3_column_bytes(stmt_, col))
             : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  void Reset() {
    if (stmt_ == nullptr) return;  // prepare failed: Run/Next report it
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status st = SqliteStatus(rc, db, "exec", __FILE__, __LINE__);
    const std::string detail = err ? err : "";
    sqlite3_free(err);
    return absl::Status(st.code(),
                        absl::StrCat(st.message(), " (", detail, ")"));
  }
  return absl::OkStatus();
}

// Schema migrations: kMigrations[v - 1] takes a file from version v - 1 to v.
const char* const kMigrations[] = {
    // v1: experiments, jobs, attempts, workers.
    R"sql(
CREATE TABLE experiments(
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, name TEXT NOT NULL, kind TEXT NOT NULL,
  owner TEXT NOT NULL, spec TEXT NOT NULL, priority INTEGER NOT NULL, state TEXT NOT NULL,
  message TEXT NOT NULL, created_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL);
CREATE TABLE jobs(
  id TEXT PRIMARY KEY, experiment_id TEXT NOT NULL REFERENCES experiments(id), idx INTEGER NOT NULL,
  kind TEXT NOT NULL, spec TEXT NOT NULL, params TEXT NOT NULL, deps TEXT NOT NULL,
  gpus INTEGER NOT NULL,
  cpu_slots INTEGER NOT NULL, priority INTEGER NOT NULL, max_retries INTEGER NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL, current_attempt INTEGER NOT NULL,
  worker_id TEXT NOT NULL, gpu_indices TEXT NOT NULL, reason TEXT NOT NULL, summary TEXT NOT NULL,
  updated_ms INTEGER NOT NULL);
CREATE INDEX jobs_by_experiment ON jobs(experiment_id, idx);
CREATE TABLE attempts(
  id INTEGER PRIMARY KEY, job_id TEXT NOT NULL REFERENCES jobs(id), worker_id TEXT NOT NULL,
  number INTEGER NOT NULL, outcome TEXT NOT NULL, started_ms INTEGER NOT NULL,
  ended_ms INTEGER NOT NULL, exit_code INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE INDEX attempts_by_job ON attempts(job_id);
CREATE TABLE workers(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, gpus INTEGER NOT NULL, cpu_slots INTEGER NOT NULL,
  labels TEXT NOT NULL, state TEXT NOT NULL, last_seen_ms INTEGER NOT NULL);
)sql",
    // v2: metric series, the artifact index, and the list query's index.
    R"sql(
CREATE TABLE metrics(
  job_id TEXT NOT NULL, attempt_id INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL,
  value REAL NOT NULL, time_ms INTEGER NOT NULL);
CREATE INDEX metrics_by_job ON metrics(job_id, name, step);
CREATE TABLE artifacts(
  job_id TEXT NOT NULL REFERENCES jobs(id), name TEXT NOT NULL, sha256 TEXT NOT NULL,
  size INTEGER NOT NULL, PRIMARY KEY(job_id, name));
CREATE INDEX experiments_by_owner_state ON experiments(owner, state, seq);
)sql",
    // v3: per-attempt timeouts.
    R"sql(
ALTER TABLE jobs ADD COLUMN timeout_seconds INTEGER NOT NULL DEFAULT 0;
)sql",
    // v4: job counts by state per experiment from the index alone (listing
    // big sweeps read every job row before).
    R"sql(
CREATE INDEX jobs_by_experiment_state ON jobs(experiment_id, state);
)sql",
    // v5: experiments keyed by their sequence number (the rowid): the UNIQUE
    // index on seq was one b-tree more to write per submitted experiment,
    // and seq is assigned by the insert itself. The list index becomes
    // (owner[, seq]): lists filtered by owner (every non-admin's) read it in
    // seq order; (owner, state, seq) was never used by the list query, and
    // its entries moved with every state change. (Foreign keys are off while
    // migrations run: dropping the old table would otherwise check jobs.)
    R"sql(
CREATE TABLE experiments_v5(
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, kind TEXT NOT NULL,
  owner TEXT NOT NULL, spec TEXT NOT NULL, priority INTEGER NOT NULL, state TEXT NOT NULL,
  message TEXT NOT NULL, created_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL);
INSERT INTO experiments_v5(seq, id, name, kind, owner, spec, priority, state, message,
                           created_ms, finished_ms)
  SELECT seq, id, name, kind, owner, spec, priority, state, message, created_ms, finished_ms
  FROM experiments;
DROP TABLE experiments;
ALTER TABLE experiments_v5 RENAME TO experiments;
CREATE INDEX experiments_by_owner ON experiments(owner);
)sql",
    // v6: jobs kept in (experiment, index) order under an explicit key,
    // pos = experiment seq << 24 | index: the index on (experiment_id, idx)
    // was one b-tree more to write per job, and an experiment's jobs now
    // read as one range of the table. (A LEFT JOIN: a job without its
    // experiment gets some pos, and the foreign key check refuses the file.)
    R"sql(
CREATE TABLE jobs_v6(
  pos INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE, experiment_id TEXT NOT NULL REFERENCES experiments(id),
  idx INTEGER NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL, params TEXT NOT NULL,
  deps TEXT NOT NULL, gpus INTEGER NOT NULL, cpu_slots INTEGER NOT NULL,
  priority INTEGER NOT NULL, max_retries INTEGER NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL, current_attempt INTEGER NOT NULL, worker_id TEXT NOT NULL,
  gpu_indices TEXT NOT NULL, reason TEXT NOT NULL, summary TEXT NOT NULL,
  updated_ms INTEGER NOT NULL, timeout_seconds INTEGER NOT NULL DEFAULT 0);
INSERT INTO jobs_v6(pos, id, experiment_id, idx, kind, spec, params, deps, gpus,
                    cpu_slots, priority, max_retries, state, attempts, current_attempt,
                    worker_id, gpu_indices, reason, summary, updated_ms, timeout_seconds)
  SELECT (e.seq << 24) | j.idx, j.id, j.experiment_id, j.idx, j.kind, j.spec, j.params,
         j.deps, j.gpus, j.cpu_slots, j.priority, j.max_retries, j.state, j.attempts,
         j.current_attempt, j.worker_id, j.gpu_indices, j.reason, j.summary, j.updated_ms,
         j.timeout_seconds
  FROM jobs j LEFT JOIN experiments e ON e.id = j.experiment_id;
DROP TABLE jobs;
ALTER TABLE jobs_v6 RENAME TO jobs;
CREATE INDEX jobs_by_experiment_state ON jobs(experiment_id, state);
)sql",
    // v7: the request ids of submits, so a submit retried after a lost reply
    // finds the experiment it created instead of creating a second one.
    R"sql(
CREATE TABLE submit_requests(
  owner TEXT NOT NULL, request_id TEXT NOT NULL,
  experiment_id TEXT NOT NULL REFERENCES experiments(id),
  PRIMARY KEY(owner, request_id)) WITHOUT ROWID;
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) ==
              kStoreSchemaVersion);

// (Most jobs have no deps and no GPUs: "[]" without building a JSON value.)
std::string JoinJson(const std::vector<std::string>& v) {
  return v.empty() ? "[]" : nlohmann::json(v).dump();
}
std::string JoinJson(const std::vector<int>& v) {
  return v.empty() ? "[]" : nlohmann::json(v).dump();
}
template <typename T>
std::vector<T> SplitJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<T> out;
  if (j.is_array()) {
    for (const auto& e : j) {
      if constexpr (std::is_same_v<T, int>) {
        if (e.is_number_integer()) out.push_back(e.get<int>());
      } else {
        if (e.is_string()) out.push_back(e.get<std::string>());
      }
    }
  }
  return out;
}

// Columns of a job row, in this order, for every SELECT of jobs.
constexpr char kJobColumns[] =
    "id, experiment_id, idx, kind, spec, params, deps, gpus, cpu_slots, "
    "priority, max_retries, state, attempts, current_attempt, worker_id, "
    "gpu_indices, reason, summary, updated_ms, timeout_seconds";

constexpr char kInsertJob[] =
    "INSERT INTO jobs(id, experiment_id, idx, kind, spec, params, deps, gpus, "
    "cpu_slots, priority, max_retries, state, attempts, current_attempt, "
    "worker_id, gpu_indices, reason, summary, updated_ms, timeout_seconds, "
    "pos) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?)";

// A job's key: its experiment's seq, then its index in 24 bits (the server
// accepts at most 10,000,000 jobs per experiment).
constexpr int kJobIndexBits = 24;
// The jobs of the experiment whose id is ?1, as a range of keys (in index
// order; 24 is kJobIndexBits).
constexpr char kJobsOfExperiment[] =
    " FROM jobs WHERE pos >= (SELECT seq << 24 FROM experiments WHERE id = ?1) "
    "AND pos < (SELECT (seq + 1) << 24 FROM experiments WHERE id = ?1) ORDER "
    "BY pos";

// Columns of an attempt row, in this order, for every SELECT of attempts.
constexpr char kAttemptColumns[] =
    "id, job_id, worker_id, number, outcome, started_ms, ended_ms, "
    "exit_code, reason";

AttemptRecord ReadAttempt(const Stmt& s) {
  AttemptRecord a;
  a.id = s.Int(0);
  a.job_id = s.Text(1);
  a.worker_id = s.Text(2);
  a.number = static_cast<int>(s.Int(3));
  a.outcome = s.Text(4);
  a.started_ms = s.Int(5);
  a.ended_ms = s.Int(6);
  a.exit_code = static_cast<int>(s.Int(7));
  a.reason = s.Text(8);
  return a;
}

JobRecord ReadJob(const Stmt& s) {
  JobRecord j;
  j.id = s.Text(0);
  j.experiment_id = s.Text(1);
  j.index = static_cast<int>(s.Int(2));
  j.kind = s.Text(3);
  j.spec = s.Text(4);
  j.params = s.Text(5);
  j.deps = SplitJson<std::string>(s.Text(6));
  j.gpus = static_cast<int>(s.Int(7));
  j.cpu_slots = static_cast<int>(s.Int(8));
  j.priority = static_cast<int>(s.Int(9));
  j.max_retries = static_cast<int>(s.Int(10));
  j.state = s.Text(11);
  j.attempts = static_cast<int>(s.Int(12));
  j.current_attempt = s.Int(13);
  j.worker_id = s.Text(14);
  j.gpu_indices = SplitJson<int>(s.Text(15));
  j.reason = s.Text(16);
  j.summary = s.Text(17);
  j.updated_ms = s.Int(18);
  j.timeout_seconds = s.Int(19);
  return j;
}

constexpr char kExperimentColumns[] =
    "id, name, kind, owner, spec, priority, state, message, created_ms, "
    "finished_ms, seq";

ExperimentRecord ReadExperiment(const Stmt& s) {
  ExperimentRecord e;
  e.id = s.Text(0);
  e.name = s.Text(1);
  e.kind = s.Text(2);
  e.owner = s.Text(3);
  e.spec = s.Text(4);
  e.priority = static_cast<int>(s.Int(5));
  e.state = s.Text(6);
  e.message = s.Text(7);
  e.created_ms = s.Int(8);
  e.finished_ms = s.Int(9);
  return e;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override {
    statements_.clear();  // finalized before the connection closes
    spec_by_id_.reset();
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

  absl::StatusOr<std::string> FindSubmitRequest(
      const std::string& owner, const std::string& request_id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(db_,
           "SELECT experiment_id FROM submit_requests WHERE owner = ? AND "
           "request_id = ?");
    s.Bind(1, owner).Bind(2, request_id);
    ASSIGN_OR_RETURN(bool row, s.Next());
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("no submit of ", owner, " with request id ", request_id));
    }
    return s.Text(0);
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

  absl::Status ApplyBatch(const WriteBatch& b)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const NewExperiment& ne : b.new_experiments) {
      const ExperimentRecord& e = ne.experiment;
      Stmt& ins = Cached(
          // seq, the rowid, is one past the largest.
          "INSERT INTO experiments(id, name, kind, owner, spec, priority, "
          "state, message, created_ms, finished_ms) VALUES(?, ?, ?, ?, ?, ?, "
          "?, ?, ?, ?)");
      ins.BindView(1, e.id).BindView(2, e.name).BindView(3, e.kind).BindView(
          4, e.owner);
      ins.BindView(5, e.spec).Bind(6, e.priority).BindView(7, e.state);
      ins.BindView(8, e.message).Bind(9, e.created_ms).Bind(10, e.finished_ms);
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
        if (j.index < 0 || j.index >= (1 << kJobIndexBits)) {
          return absl::InvalidArgumentError(
              absl::StrCat("job ", j.id, ": index ", j.index,
                           " is outside [0, 2^", kJobIndexBits, ")"));
        }
        Stmt& job = Cached(kInsertJob);
        BindJob(job, j, (seq << kJobIndexBits) | j.index);
        RETURN_IF_ERROR(job.Run());
      }
    }
    for (const JobRecord& j : b.job_updates) {
      Stmt& up = Cached(
          "UPDATE jobs SET state = ?, attempts = ?, current_attempt = ?, "
          "worker_id = ?, gpu_indices = ?, reason = ?, summary = ?, "
          "updated_ms = ? WHERE id = ?");
      up.BindView(1, j.state).Bind(2, j.attempts).Bind(3, j.current_attempt);
      up.BindView(4, j.worker_id).Bind(5, JoinJson(j.gpu_indices));
      up.BindView(6, j.reason).BindView(7, j.summary).Bind(8, j.updated_ms);
      up.BindView(9, j.id);
      RETURN_IF_ERROR(up.Run());
      if (sqlite3_changes(db_) != 1)
        return absl::NotFoundError(absl::StrCat("job ", j.id, " not found"));
    }
    for (const AttemptRecord& a : b.attempts) {
      Stmt& at = Cached(
          "INSERT INTO attempts(id, job_id, worker_id, number, outcome, "
          "started_ms, ended_ms, exit_code, reason) VALUES(?, ?, ?, ?, ?, ?, "
          "?, ?, ?) ON CONFLICT(id) DO UPDATE SET outcome = excluded.outcome, "
          "ended_ms = excluded.ended_ms, exit_code = excluded.exit_code, "
          "reason = excluded.reason");
      at.Bind(1, a.id).BindView(2, a.job_id).BindView(3, a.worker_id);
      at.Bind(4, a.number).BindView(5, a.outcome).Bind(6, a.started_ms);
      at.Bind(7, a.ended_ms).Bind(8, a.exit_code).BindView(9, a.reason);
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

  static void BindJob(Stmt& s, const JobRecord& j, int64_t pos) {
    s.BindView(1, j.id)
        .BindView(2, j.experiment_id)
        .Bind(3, j.index)
        .BindView(4, j.kind)
        .BindView(5, j.spec);
    s.BindView(6, j.params)
        .Bind(7, JoinJson(j.deps))
        .Bind(8, j.gpus)
        .Bind(9, j.cpu_slots);
    s.Bind(10, j.priority)
        .Bind(11, j.max_retries)
        .BindView(12, j.state)
        .Bind(13, j.attempts);
    s.Bind(14, j.current_attempt)
        .BindView(15, j.worker_id)
        .Bind(16, JoinJson(j.gpu_indices));
    s.BindView(17, j.reason).BindView(18, j.summary).Bind(19, j.updated_ms);
    s.Bind(20, j.timeout_seconds).Bind(21, pos);
  }

  static absl::StatusOr<ExperimentResultsData> ReadResults(
      sqlite3* db, const std::string& experiment_id,
      const MetricsQuery& metrics) {
    ExperimentResultsData out;
    constexpr char kOfExperiment[] =
        " IN (SELECT id FROM jobs WHERE experiment_id = ?)";
    {
      Stmt s(db,
             absl::StrCat("SELECT ", kJobColumns, kJobsOfExperiment).c_str());
      s.Bind(1, experiment_id);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Next());
        if (!row) break;
        out.jobs.push_back(ReadJob(s));
      }
    }
    {
      Stmt s(db, absl::StrCat("SELECT ", kAttemptColumns,
                              " FROM attempts WHERE job_id", kOfExperiment,
                              " ORDER BY job_id, id")
                     .c_str());
      s.Bind(1, experiment_id);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Next());
        if (!row) break;
        out.attempts.push_back(ReadAttempt(s));
      }
    }
    {
      Stmt s(db, absl::StrCat("SELECT job_id, name, sha256, size FROM "
                              "artifacts WHERE job_id",
                              kOfExperiment, " ORDER BY job_id, name")
                     .c_str());
      s.Bind(1, experiment_id);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Next());
        if (!row) break;
        out.artifacts.push_back({s.Text(0), s.Text(1), s.Text(2), s.Int(3)});
      }
    }
    if (metrics.include) {
      std::string names;
      for (size_t i = 0; i < metrics.names.size(); ++i)
        absl::StrAppend(&names, i ? ", ?" : "?");
      Stmt s(db,
             absl::StrCat("SELECT job_id, attempt_id, step, name, value, "
                          "time_ms FROM metrics WHERE job_id",
                          kOfExperiment, names.empty() ? "" : " AND name IN (",
                          names, names.empty() ? "" : ")",
                          " ORDER BY job_id, name, step")
                 .c_str());
      s.Bind(1, experiment_id);
      for (size_t i = 0; i < metrics.names.size(); ++i)
        s.Bind(static_cast<int>(i) + 2, metrics.names[i]);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Next());
        if (!row) break;
        out.metrics.push_back(
            {s.Text(0), s.Int(1), s.Int(2), s.Text(3), s.Real(4), s.Int(5)});
      }
      out.metrics =
          ThinSeries(std::move(out.metrics), metrics.max_points_per_series);
    }
    return out;
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
  // Keyed by the SQL text's address: every caller passes a literal.
  std::unordered_map<const char*, std::unique_ptr<Stmt>> statements_
      ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<sqlite3*> OpenDb(const std::string& path) {
  // Memory statistics take a process-wide mutex on every SQLite malloc and
  // free, and nothing here reads them. The setting is only accepted before
  // SQLite initializes; if something else initialized it first, statistics
  // stay on (slower, same results).
  static const bool kNoMemStatus [[maybe_unused]] =
      sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    absl::Status st = SqliteStatus(rc, db, "open", __FILE__, __LINE__);
    sqlite3_close_v2(db);
    return absl::Status(st.code(),
                        absl::StrCat("store ", path, ": ", st.message()));
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

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

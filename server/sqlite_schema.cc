#include "server/sqlite_schema.h"

#include <type_traits>

#include "nlohmann/json.hpp"

namespace ladle {
namespace {

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

}  // namespace

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
    // v8: the code archive of kind command experiments; reruns' originals.
    R"sql(
ALTER TABLE experiments ADD COLUMN code_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN rerun_of TEXT NOT NULL DEFAULT '';
)sql",
    // v9: gang jobs (ranks per job; each rank an attempt with its GPUs) and
    // fractions of a GPU.
    R"sql(
ALTER TABLE jobs ADD COLUMN ranks INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN gpu_share_milli INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN gpu_indices TEXT NOT NULL DEFAULT '[]';
)sql",
    // v10: adaptive searches: each job's trial, rung and the segment it
    // resumes; the results in the order the searcher saw them (replayed
    // after a restart; result_value NULL: none); the AddTrials request that
    // added an external search's trial; searches closed or cancelled.
    R"sql(
ALTER TABLE jobs ADD COLUMN trial INTEGER NOT NULL DEFAULT -1;
ALTER TABLE jobs ADD COLUMN rung INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN resume_from TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN result_seq INTEGER NOT NULL DEFAULT -1;
ALTER TABLE jobs ADD COLUMN result_value REAL;
ALTER TABLE jobs ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN search_state INTEGER NOT NULL DEFAULT 0;
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
  a.rank = static_cast<int>(s.Int(9));
  a.gpu_indices = SplitJson<int>(s.Text(10));
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
  j.ranks = static_cast<int>(s.Int(20));
  j.gpu_share_milli = static_cast<int>(s.Int(21));
  j.trial = s.Int(22);
  j.rung = static_cast<int>(s.Int(23));
  j.resume_from = s.Text(24);
  j.result_seq = s.Int(25);
  if (!s.IsNull(26)) j.result_value = s.Real(26);
  j.request_id = s.Text(27);
  return j;
}

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
  e.code_sha256 = s.Text(11);  // 10: seq
  e.rerun_of = s.Text(12);
  e.search_state = static_cast<int>(s.Int(13));
  return e;
}

void BindJob(Stmt& s, const JobRecord& j, int64_t pos) {
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
  s.Bind(20, j.timeout_seconds).Bind(21, pos).Bind(22, j.ranks);
  s.Bind(23, j.gpu_share_milli).Bind(24, j.trial).Bind(25, j.rung);
  s.BindView(26, j.resume_from).Bind(27, j.result_seq);
  s.Bind(28, j.result_value);  // NaN binds as NULL
  s.BindView(29, j.request_id);
}

}  // namespace ladle

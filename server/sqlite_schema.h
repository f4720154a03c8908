// The store's SQLite schema and how its rows map to records: the migrations
// that take a file from each version to the next, the column lists every
// query reads in order, and the readers and binders of rows.
#ifndef LADLE_SERVER_SQLITE_SCHEMA_H_
#define LADLE_SERVER_SQLITE_SCHEMA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/sqlite_util.h"
#include "server/store.h"

namespace ladle {

// kMigrations[v - 1] takes a file from version v - 1 to v (kStoreSchemaVersion
// of them).
extern const char* const kMigrations[];

// Columns of a job row, in this order, for every SELECT of jobs.
inline constexpr char kJobColumns[] =
    "id, experiment_id, idx, kind, spec, params, deps, gpus, cpu_slots, "
    "priority, max_retries, state, attempts, current_attempt, worker_id, "
    "gpu_indices, reason, summary, updated_ms, timeout_seconds, ranks, "
    "gpu_share_milli, trial, rung, resume_from, result_seq, result_value, "
    "request_id";
inline constexpr char kInsertJob[] =
    "INSERT INTO jobs(id, experiment_id, idx, kind, spec, params, deps, gpus, "
    "cpu_slots, priority, max_retries, state, attempts, current_attempt, "
    "worker_id, gpu_indices, reason, summary, updated_ms, timeout_seconds, "
    "pos, ranks, gpu_share_milli, trial, rung, resume_from, result_seq, "
    "result_value, request_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
// A job's key: its experiment's seq, then its index in 24 bits (the server
// accepts at most 10,000,000 jobs per experiment).
inline constexpr int kJobIndexBits = 24;
// The jobs of the experiment whose id is ?1, as a range of keys (in index
// order; 24 is kJobIndexBits).
inline constexpr char kJobsOfExperiment[] =
    " FROM jobs WHERE pos >= (SELECT seq << 24 FROM experiments WHERE id = ?1) "
    "AND pos < (SELECT (seq + 1) << 24 FROM experiments WHERE id = ?1) ORDER "
    "BY pos";
// Columns of an attempt row, in this order, for every SELECT of attempts.
inline constexpr char kAttemptColumns[] =
    "id, job_id, worker_id, number, outcome, started_ms, ended_ms, "
    "exit_code, reason, rank, gpu_indices";
inline constexpr char kExperimentColumns[] =
    "id, name, kind, owner, spec, priority, state, message, created_ms, "
    "finished_ms, seq, code_sha256, rerun_of, search_state";

AttemptRecord ReadAttempt(const Stmt& s);
JobRecord ReadJob(const Stmt& s);
ExperimentRecord ReadExperiment(const Stmt& s);
// Binds kInsertJob's parameters for `j` at key `pos`.
void BindJob(Stmt& s, const JobRecord& j, int64_t pos);
// GetExperimentResults on connection `db`: the experiment's jobs, attempts,
// artifacts and the metric series `metrics` asks for, read in bulk.
absl::StatusOr<Store::ExperimentResultsData> ReadResults(
    sqlite3* db, const std::string& experiment_id,
    const Store::MetricsQuery& metrics);

// A JSON list as stored ("[]" without building a JSON value for the common
// empty case).
std::string JoinJson(const std::vector<std::string>& v);
std::string JoinJson(const std::vector<int>& v);

}  // namespace ladle

#endif  // LADLE_SERVER_SQLITE_SCHEMA_H_

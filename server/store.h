// The coordinator's durable state: experiments, jobs, attempts, workers, metric
// series and the artifact index. `Store` is the interface the server uses;
// SqliteStore implements it on one SQLite file (WAL, synchronous=FULL: a
// returned write survives a crash or power loss) or on
// ":memory:" for tests.
//
// Writes go in WriteBatches. Commit applies many batches in one transaction
// (one fsync: group commit) while keeping each batch atomic on its own: a batch
// that fails is rolled back alone (a savepoint) and the others still commit.
// The single-purpose write methods are one-batch Commits. Thread safety:
// SqliteStore serialises all calls on an internal mutex.
#ifndef LADLE_SERVER_STORE_H_
#define LADLE_SERVER_STORE_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spec/metric.h"

namespace ladle {

struct ExperimentRecord {
  std::string id;
  std::string name;
  std::string kind;
  std::string owner;
  std::string spec;  // the submitted spec, verbatim
  int priority = 0;
  std::string state = "running";  // running | succeeded | failed | cancelled
  std::string message;            // why it failed or was cancelled
  int64_t created_ms = 0;
  int64_t finished_ms = 0;
  // The client's SubmitExperiment request id (empty: none). Written with the
  // experiment, so a retried submit finds it (FindSubmitRequest); not read
  // back into this record.
  std::string request_id;
  std::string code_sha256;  // the code archive its jobs run in; empty: none
  std::string rerun_of;     // the experiment it reruns; empty: none
  // kSearchNone for a sweep; a search's: kSearchOpen, or it starts no more
  // trials (kSearchClosed: closed by a client, or its searcher could not
  // go on; kSearchCancelled): what already runs ends, then the experiment.
  int search_state = 0;
};

inline constexpr int kSearchNone = 0;
inline constexpr int kSearchOpen = 1;
inline constexpr int kSearchClosed = 2;
inline constexpr int kSearchCancelled = 3;

struct JobRecord {
  std::string id;
  std::string experiment_id;
  int index = 0;              // position in the experiment's expansion
  std::string kind;           // train | soup | fuse | eval | ...
  std::string spec;           // resolved trial spec (JSON)
  std::string params = "{}";  // the sweep point (JSON object)
  std::vector<std::string> deps;
  int gpus = 0;             // per rank
  int cpu_slots = 1;        // per rank
  int ranks = 1;            // > 1: a gang job, an attempt per rank
  int gpu_share_milli = 0;  // a fraction of one GPU (Resources), gpus 0
  int priority = 0;
  int max_retries = 0;
  int64_t timeout_seconds = 0;    // per attempt; 0: none
  std::string state = "pending";  // JobStateName()
  int attempts = 0;               // attempts started
  // Running attempt id, 0 if none (a gang's: rank 0's).
  int64_t current_attempt = 0;
  std::string worker_id;         // worker of the current or last attempt
  std::vector<int> gpu_indices;  // of the current attempt
  std::string reason;
  std::string summary;  // trial summary JSON once succeeded
  int64_t updated_ms = 0;
  // A search's segment (search/searcher.h): its trial (-1: not a search job)
  // and rung, and the job whose checkpoint it resumes (empty: none).
  int64_t trial = -1;
  int rung = 0;
  std::string resume_from;
  // Once it ended: the order in which the searcher was told its result
  // (-1: not yet) and the metric it reported (NaN: none). Replayed in that
  // order after a restart.
  int64_t result_seq = -1;
  double result_value = std::numeric_limits<double>::quiet_NaN();
  // An external search's trial: the AddTrials request id that added it
  // (empty: none), so a retried call finds it instead of adding it again.
  std::string request_id;
};

struct AttemptRecord {
  int64_t id = 0;
  std::string job_id;
  std::string worker_id;
  int number = 0;
  std::string
      outcome;  // "" while running; succeeded | failed | lost | cancelled
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  int exit_code = 0;
  std::string reason;
  int rank = 0;                  // its rank in a gang job; 0 otherwise
  std::vector<int> gpu_indices;  // worker-local GPU ordinals it holds
};

struct WorkerRecord {
  std::string id;
  std::string name;
  int gpus = 0;
  int cpu_slots = 0;
  std::string labels;           // JSON object
  std::string state = "alive";  // alive | draining | drained | lost
  int64_t last_seen_ms = 0;
};

struct ArtifactRecord {
  std::string job_id;
  std::string name;    // e.g. model.safetensors
  std::string sha256;  // content address
  int64_t size = 0;
};

struct ExperimentFilter {
  std::string owner;  // empty: any
  std::string state;  // empty: any
  int page_size = 50;
  std::string page_token;  // from the previous page; empty for the first
};

struct ExperimentPage {
  std::vector<ExperimentRecord> experiments;
  std::string next_page_token;  // empty on the last page
};

struct NewExperiment {
  ExperimentRecord experiment;
  std::vector<JobRecord> jobs;  // all of experiment.id
};

struct ExperimentStateChange {
  std::string id;
  std::string state;
  std::string message;
  int64_t finished_ms = 0;
};

// Writes applied together, all or none, in this order: new experiments (with
// their jobs), new jobs of existing experiments (a search's next trials;
// NOT_FOUND if the experiment is missing), job updates (by id: state,
// attempts, current attempt, worker, GPUs, reason, summary, updated_ms,
// result_seq, result_value; NOT_FOUND if a job is missing), attempts
// (upserted by id), experiment state changes (NOT_FOUND if missing), search
// states (experiment id -> kSearch*; NOT_FOUND if missing), workers (upserted),
// metric points (appended), artifacts (upserted by job and name).
struct WriteBatch {
  std::vector<NewExperiment> new_experiments;
  std::vector<JobRecord> new_jobs;
  std::vector<JobRecord> job_updates;
  std::vector<AttemptRecord> attempts;
  std::vector<ExperimentStateChange> experiment_states;
  std::vector<std::pair<std::string, int>> search_states;
  std::vector<WorkerRecord> workers;
  std::vector<MetricPoint> metrics;
  std::vector<ArtifactRecord> artifacts;

  // Rows written (an experiment's jobs count one each).
  int64_t rows() const;
  bool empty() const { return rows() == 0; }
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies `batches` in order in one transaction. (*each)[i] is batch i's
  // outcome: a failed batch left nothing behind and the others are unaffected.
  // A non-OK return means the transaction itself failed (disk full, I/O
  // error): then nothing was stored and every (*each)[i] carries that error.
  // Empty batches succeed without touching the file.
  virtual absl::Status Commit(const std::vector<const WriteBatch*>& batches,
                              std::vector<absl::Status>* each) = 0;
  // One batch, one transaction.
  absl::Status Write(const WriteBatch& batch);

  // An experiment and all its jobs, atomically.
  absl::Status CreateExperiment(const ExperimentRecord& experiment,
                                const std::vector<JobRecord>& jobs);
  absl::Status UpdateExperimentState(const std::string& id,
                                     const std::string& state,
                                     const std::string& message,
                                     int64_t finished_ms);
  virtual absl::StatusOr<ExperimentRecord> GetExperiment(
      const std::string& id) = 0;
  // The experiment an owner's submit with `request_id` created; NOT_FOUND
  // when none did.
  virtual absl::StatusOr<std::string> FindSubmitRequest(
      const std::string& owner, const std::string& request_id) = 0;
  // Newest first.
  virtual absl::StatusOr<ExperimentPage> ListExperiments(
      const ExperimentFilter& filter) = 0;

  // Job state changes and the attempt rows they imply, in one transaction.
  absl::Status UpdateJobs(const std::vector<JobRecord>& jobs,
                          const std::vector<AttemptRecord>& attempts);
  virtual absl::StatusOr<JobRecord> GetJob(const std::string& id) = 0;
  // A job's resolved spec. Does not wait for a commit in progress (on a file,
  // SQLite serves it from its own read connection): the coordinator reads it
  // when it dispatches, instead of holding every queued job's spec in memory.
  virtual absl::StatusOr<std::string> GetJobSpec(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<JobRecord>> ListJobs(
      const std::string& experiment_id) = 0;
  // Jobs of experiments still running, in submission order (restart recovery).
  virtual absl::StatusOr<std::vector<JobRecord>> ListActiveJobs() = 0;
  virtual absl::StatusOr<std::vector<AttemptRecord>> ListAttempts(
      const std::string& job_id) = 0;
  virtual absl::StatusOr<int64_t> MaxAttemptId() = 0;

  absl::Status UpsertWorker(const WorkerRecord& worker);
  virtual absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() = 0;

  absl::Status AppendMetrics(const std::vector<MetricPoint>& points);
  // All points of a job, by (name, step).
  virtual absl::StatusOr<std::vector<MetricPoint>> GetMetrics(
      const std::string& job_id) = 0;

  absl::Status AddArtifact(const ArtifactRecord& artifact);
  virtual absl::StatusOr<std::vector<ArtifactRecord>> ListArtifacts(
      const std::string& job_id) = 0;

  // Everything `ladle results` shows of an experiment, read in a few bulk
  // queries from one consistent snapshot (SQLite: its read connection, so not
  // behind a commit in progress). Metrics only when `metrics.include`:
  // only the series named (all when empty), each thinned to at most
  // `max_points_per_series` points (0: all) as ThinSeries does.
  struct MetricsQuery {
    bool include = false;
    std::vector<std::string> names;
    int max_points_per_series = 0;
    // Also the names of the series the experiment's jobs have (sorted),
    // found without reading their points.
    bool list_names = false;
  };
  struct ExperimentResultsData {
    std::vector<JobRecord> jobs;            // by index
    std::vector<AttemptRecord> attempts;    // by job id, then attempt id
    std::vector<ArtifactRecord> artifacts;  // by job id, then name
    std::vector<MetricPoint> metrics;       // by job id, name, step
    std::vector<std::string> metric_names;  // with list_names
  };
  // experiment id -> job state -> count, for the experiments given (those
  // without jobs are absent). Index-only, from the read connection.
  virtual absl::StatusOr<std::map<std::string, std::map<std::string, int>>>
  CountJobStates(const std::vector<std::string>& experiment_ids) = 0;

  virtual absl::StatusOr<ExperimentResultsData> GetExperimentResults(
      const std::string& experiment_id, const MetricsQuery& metrics) = 0;
};

// Thins each (job, name) series of `points` (sorted by job, name, step) to at
// most `max_points` (0: all). A series of more keeps, for steps spread evenly
// from its first to its last (ThinTarget), the first point at or after each
// (and after the previous kept one): the first and last points are kept, and
// a curve keeps its shape over steps however unevenly they were logged. The
// store picks the same points by seeking its index, without reading the rest.
std::vector<MetricPoint> ThinSeries(std::vector<MetricPoint> points,
                                    int max_points);
// Target k (0..slots) of a series from step `first` to `last`, slots =
// max(max_points - 1, 1).
int64_t ThinTarget(int64_t first, int64_t last, int k, int slots);

// Current schema version; Open migrates older files up to it.
inline constexpr int kStoreSchemaVersion = 10;

// Opens (creating if needed) the store at `path`, or an in-memory one for
// ":memory:", and migrates its schema to `target_version` (tests pass an older
// version to build old files).
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    const std::string& path, int target_version = kStoreSchemaVersion);
// The schema version of an open file, and its `PRAGMA integrity_check` result
// ("ok").
absl::StatusOr<int> StoreSchemaVersion(const std::string& path);

}  // namespace ladle

#endif  // LADLE_SERVER_STORE_H_

// The coordinator's domain core: experiments in, assignments out. Ties the
// planner (spec -> jobs), the Store (durable state) and the Scheduler
// (placement, leases, retries) together and knows nothing of gRPC: the service
// layer converts protos, calls these methods, and delivers what they emit to
// workers (commands) and watchers (events) through sinks.
//
// Durability: all writes go through one StoreWriter that group-commits them
// (many RPCs share one SQLite transaction). A submitted experiment and its
// jobs are durable, and then queued in the scheduler (a committed group at a
// time, by the committing thread right after the commit, or by the admission
// thread when the scheduling lock is busy), before Submit returns or
// SubmitAsync calls back. Scheduler decisions are durable before they are
// delivered: worker commands and watch events are sent by the committing thread
// (the writer's, or a caller's inside Sync) after the commit that records them,
// in order. So a restart (Recover) resumes from what workers may have seen:
// running attempts keep their ids (fencing) and get a lease to reconnect.
//
// Thread safety: all methods may be called from any thread; one mutex
// serialises the scheduling state, and RPCs wait for their commit outside it.
// Sinks are called on the committing thread (never with that mutex held) and
// must not call back into the Coordinator (queue instead).
#ifndef LADLE_SERVER_COORDINATOR_H_
#define LADLE_SERVER_COORDINATOR_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/artifact_name.h"  // kCheckpointArtifact
#include "common/clock.h"
#include "search/search_run.h"
#include "server/observer.h"
#include "server/scheduler.h"
#include "server/store.h"
#include "server/store_writer.h"
#include "spec/experiment.h"

namespace ladle {

// An artifact of a finished dependency that an attempt needs.
// What a rerun submits again: the original experiment and, when not all, the
// indices of its jobs to run (in the original's expansion).
struct RerunOf {
  std::string experiment_id;
  std::vector<int> job_indices;  // empty: every job
};

struct InputFile {
  ArtifactRecord artifact;
  std::string path;  // relative to the attempt directory
};

// Something a worker must do.
struct WorkerCommand {
  enum class Type { kAssign, kCancel, kRendezvous };
  Type type = Type::kAssign;
  Assignment assignment;  // kAssign: what to run; kCancel: attempt_id (and job)
                          // to stop
  std::string spec_json;  // kAssign: the resolved trial spec
  std::string kind;
  int cpu_slots = 0;              // kAssign: ladle-train threads
  int gpu_share_milli = 0;        // kAssign: a fraction of its GPU
  int64_t timeout_seconds = 0;    // kAssign: 0 = none
  int64_t queued_at_us = 0;       // kAssign: when the job became runnable
  std::vector<InputFile> inputs;  // kAssign: dependencies' artifacts
  // kAssign: the job's latest checkpoint.tar.gz from an earlier attempt, if
  // any (path empty: none).
  InputFile checkpoint;
  std::string reason;  // kCancel
  // kAssign of a gang's rank: rank 0's worker address; kRendezvous: rank 0's
  // port (the rank may start).
  std::string master_addr;
  int master_port = 0;
};

// Something a watcher of an experiment sees.
struct WatchEvent {
  enum class Type { kJob, kMetric, kFinished };
  Type type = Type::kJob;
  JobRecord job;                // kJob
  MetricPoint metric;           // kMetric
  ExperimentRecord experiment;  // kFinished
};

struct WorkerInfo {
  std::string id;
  std::string name;
  Resources capacity;
  std::string labels_json = "{}";
  // How other workers reach it (gangs' MASTER_ADDR).
  std::string address;
};

class Coordinator {
 public:
  struct Options {
    Scheduler::Options scheduler;
    ParseOptions parse;
    StoreWriter::Options writer;
  };
  using WorkerSink = std::function<void(const WorkerCommand&)>;
  using WatchSink = std::function<void(const WatchEvent&)>;

  // `observer` (may be null) must outlive the Coordinator.
  Coordinator(Options options, Store* store, const Clock* clock,
              CoordinatorObserver* observer = nullptr);
  // Commits and admits everything accepted so far, then stops its threads.
  ~Coordinator();

  // Loads running experiments from the store into the scheduler. Call once,
  // before serving.
  absl::Status Recover();

  // --- Users
  // -------------------------------------------------------------------------------
  struct SubmitResult {
    std::string experiment_id;
    int job_count = 0;
    // The planned jobs. A dry run's carry their resolved specs; a stored
    // experiment's do not (the store has them: Store::GetJob), so the
    // specs are not copied through admission.
    std::vector<JobRecord> jobs;
  };
  // A non-empty `request_id` makes the submit idempotent per owner: a submit
  // with the id of an earlier one (stored, or still in flight) creates nothing
  // and answers with that one's experiment; with another spec it is
  // INVALID_ARGUMENT.
  // `code_sha256`: the stored code archive a kind command experiment runs in
  // (checked to exist by the caller); empty: none.
  absl::StatusOr<SubmitResult> Submit(const std::string& spec,
                                      const std::string& owner, bool dry_run,
                                      const std::string& request_id = "",
                                      const std::string& code_sha256 = "");
  // Submit without blocking the caller (an RPC thread): the spec is parsed and
  // planned on the calling thread; `done` runs exactly once, with no lock
  // held — on the calling thread for a dry run or a refused spec, else once
  // the experiment is durable and its jobs are queued: on the thread that
  // committed it or on the admission thread.
  using SubmitDone = std::function<void(absl::StatusOr<SubmitResult>)>;
  void SubmitAsync(const std::string& spec, const std::string& owner,
                   bool dry_run, SubmitDone done,
                   const std::string& request_id = "",
                   const std::string& code_sha256 = "",
                   const RerunOf* rerun = nullptr);
  // Submits experiment `id` again as a new one (its spec and code archive),
  // linked to it; with `failed_only`, only its failed and cancelled jobs.
  // FAILED_PRECONDITION when failed_only finds nothing to run, the experiment
  // still runs, or its jobs depend on each other. `done` as SubmitAsync's.
  void RerunAsync(const std::string& id, const std::string& owner,
                  bool failed_only, const std::string& request_id,
                  SubmitDone done);
  // Cancels queued jobs now and sends cancel commands for running attempts.
  absl::StatusOr<ExperimentRecord> Cancel(const std::string& id);

  // --- Searches (coordinator_search.cc)
  // An external search's new trials (ask/tell: each a JSON object of params
  // over the spec's trial, from an outside optimizer), stored before it
  // returns; their jobs in order. FAILED_PRECONDITION when the experiment is
  // not a running search that takes them (SearchRun::AddTrials) or they would
  // pass the jobs-per-experiment limit; INVALID_ARGUMENT names the point.
  // A non-empty `request_id` makes the call idempotent: a retry with the id
  // of an earlier call answers with that call's jobs and adds nothing (with
  // another number of trials: INVALID_ARGUMENT).
  absl::StatusOr<std::vector<JobRecord>> AddTrials(
      const std::string& id, const std::vector<std::string>& params_json,
      const std::string& request_id = "");
  // The search starts (an external one: takes) no more trials; it ends once
  // its running jobs have. FAILED_PRECONDITION for an experiment that is not
  // a running search.
  absl::StatusOr<ExperimentRecord> CloseSearch(const std::string& id);

  // Watch: `sink` receives every job change (and metric) of the experiment
  // until Unwatch.
  int Watch(const std::string& experiment_id, WatchSink sink);
  void Unwatch(int token);

  // Queued and running jobs by resource shape (Scheduler::Demand): counts
  // only, for autoscalers.
  std::vector<ShapeDemand> QueueDemand() ABSL_LOCKS_EXCLUDED(mu_);
  // Attempts running on each worker the scheduler knows (ListWorkers).
  std::map<std::string, int> RunningAttempts() ABSL_LOCKS_EXCLUDED(mu_);

  // --- Workers
  // -----------------------------------------------------------------------------
  // A worker's session opened. Returns the attempts (from `running`) it must
  // stop.
  // `*session` (may be null) identifies this session for DisconnectWorker.
  absl::StatusOr<std::vector<int64_t>> ConnectWorker(
      const WorkerInfo& info, const std::vector<int64_t>& running,
      WorkerSink sink, uint64_t* session = nullptr);
  // Session `session` closed: commands are no longer delivered to it; its
  // leases run out unless the worker returns. A newer session of the same
  // worker (a reconnect that overtook the old stream's end) is left alone.
  void DisconnectWorker(const std::string& worker_id, uint64_t session);
  // The worker drains (it was asked to stop): no new work goes there; its
  // attempts that stop when asked run again elsewhere without using a retry.
  absl::Status DrainWorker(const std::string& worker_id);
  absl::Status Heartbeat(const std::string& worker_id);
  // FAILED_PRECONDITION for a stale attempt (fencing): the result is not
  // recorded.
  absl::Status ReportResult(const std::string& worker_id, int64_t attempt_id,
                            AttemptOutcome outcome, int exit_code,
                            const std::string& reason,
                            const std::string& summary_json);
  // Rank 0 of a gang (`attempt_id`, on `worker_id`) listens on `port`: the
  // other ranks' workers are told to start them. FAILED_PRECONDITION when
  // the attempt is not a running rank 0 of that worker.
  absl::Status Rendezvous(const std::string& worker_id, int64_t attempt_id,
                          int port);
  // Stores points of a running attempt (job and attempt ids are filled in
  // here).
  absl::Status IngestMetrics(int64_t attempt_id,
                             std::vector<MetricPoint> points);

  // The job of a running attempt; FAILED_PRECONDITION when the attempt is not
  // running.
  absl::StatusOr<std::string> JobOfRunningAttempt(int64_t attempt_id);

  // Expires leases, ends backoffs, dispatches. Call periodically (and it is
  // cheap).
  void Tick();

  // Waits until every write issued so far is committed and what it delivers
  // (commands, events) has been delivered. For tests and orderly shutdown.
  void Sync();

 private:
  // Persists scheduler events (job rows + attempt rows) and the final state of
  // experiments whose jobs all ended; after the commit, delivers `commands` and
  // notifies watchers.
  void Apply(const std::vector<JobEvent>& events,
             std::vector<WorkerCommand> commands = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One event into its job's record (and attempt rows) in `batch`; the job,
  // or null when it is not known.
  // A search's segment that ended gives its result to the searcher; the
  // segments that starts are added to `batch` and `search_requests`.
  const JobRecord* RecordEvent(const JobEvent& e, int64_t now_us,
                               WriteBatch* batch,
                               std::vector<std::string>* stopped,
                               std::vector<JobRequest>* search_requests)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After Apply's commit (on the writer's thread): delivers the commands and
  // notifies watchers; when the commit failed, holds the assignments back
  // for a retry and delivers only the cancels.
  void AfterApplied(const absl::Status& st, const WriteBatch& batch,
                    const std::vector<std::string>& finished,
                    const std::vector<WorkerCommand>& commands,
                    const std::vector<std::string>& stopped)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Places queued jobs and sends the assignments; whether it placed any.
  bool Dispatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The command that starts scheduler assignment `a` (its job's spec,
  // inputs and checkpoint; a gang rank's master address).
  WorkerCommand AssignCommand(const Assignment& a)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells a gang's rank its rank 0's port.
  static WorkerCommand RendezvousCommand(const AttemptRecord& rank, int port);
  // Ends attempts whose assignment could not be stored (they were never
  // delivered): lost, so the scheduler retries them.
  void RetryUndelivered() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps what a failed commit held of searches for RetrySearchWrites.
  void KeepSearchWrites(const WriteBatch& failed)
      ABSL_LOCKS_EXCLUDED(delivery_mu_);
  // Writes them again (each failure keeps them again).
  void RetrySearchWrites() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const std::string& experiment_id, const WatchEvent& e)
      ABSL_LOCKS_EXCLUDED(delivery_mu_);
  void Deliver(const std::vector<WorkerCommand>& commands)
      ABSL_LOCKS_EXCLUDED(delivery_mu_);
  // Whether anyone watches the experiment now.
  bool Watched(const std::string& experiment_id)
      ABSL_LOCKS_EXCLUDED(delivery_mu_);
  std::string NewExperimentId() ABSL_LOCKS_EXCLUDED(id_mu_);
  // Drops an ended experiment from memory (coordinator and scheduler).
  void ForgetExperiment(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void ReportTotals() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the worker's state (alive | draining | drained) in the store.
  void WriteWorkerState(const WorkerInfo& info, const std::string& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // For a submit with a request id: true when it is a retry, of a stored
  // submit (`done` answered now) or of one in flight (answered with its
  // outcome). Otherwise the request is marked in flight and `done` wrapped
  // to answer the retries that arrive meanwhile.
  bool AnswerRetriedSubmit(const std::string& spec_text,
                           const std::string& owner,
                           const std::string& request_id, SubmitDone* done)
      ABSL_LOCKS_EXCLUDED(requests_mu_);
  // Parses and plans a spec (with its code archive, if any);
  // INVALID_ARGUMENT names the field (or the server's job limit).
  // A search also gets its searcher and its first segments (one per
  // planned job).
  absl::Status ParseAndPlan(const std::string& spec_text,
                            const std::string& code_sha256,
                            ExperimentSpec* spec,
                            std::vector<PlannedJob>* planned,
                            std::vector<std::string>* params,
                            std::unique_ptr<SearchRun>* search,
                            std::vector<SearchSegment>* segments);
  // A job's request to the scheduler.
  static JobRequest RequestOf(const JobRecord& j);
  // A planned job as stored (without its spec, and, for a search's segment,
  // with its trial, rung and the job it resumes).
  static JobRecord JobOf(const PlannedJob& p, const ExperimentSpec& spec,
                         const std::string& experiment_id, std::string params,
                         int64_t now_ms, const SearchSegment* segment);
  // The first segments of a search, as planned jobs (`segments` alike).
  static absl::Status PlanSearch(const ExperimentSpec& spec,
                                 std::unique_ptr<SearchRun>* search,
                                 std::vector<PlannedJob>* planned,
                                 std::vector<SearchSegment>* segments);

  // --- Searches (coordinator_search.cc)
  // A search's segment `j` ended (its record updated in `batch`): its result
  // goes to the searcher, with the sequence number and value stored in `j`;
  // the segments it starts are added to `batch` and `requests` (to queue).
  void RecordSearchResult(JobRecord& j, WriteBatch* batch,
                          std::vector<JobRequest>* requests)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // New segments of experiment `e` into jobs_, `batch` and `requests`.
  void AddSegments(const std::string& e, std::vector<SearchSegment> segments,
                   WriteBatch* batch, std::vector<JobRequest>* requests)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a search's new segments (added by AddSegments) in the scheduler;
  // their events into `batch`.
  void QueueSegments(const std::vector<JobRequest>& requests, int64_t now_us,
                     WriteBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AddTrials' write: the trials as jobs of `id`, queued, and their write
  // enqueued (`committed` notified, `stored` set, once it committed).
  absl::Status AddTrialsLocked(const std::string& id, SearchRun* run,
                               const std::vector<nlohmann::json>& points,
                               const std::string& request_id,
                               std::shared_ptr<absl::Notification> committed,
                               std::shared_ptr<absl::Status> stored,
                               std::vector<JobRecord>* added)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The jobs an earlier AddTrials with `request_id` added to `id` (none:
  // empty); INVALID_ARGUMENT when they are not `count`.
  absl::StatusOr<std::vector<JobRecord>> AddedBefore(
      const std::string& id, const std::string& request_id, size_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The searcher of running search experiment `id` (brought back from the
  // store for an external search without jobs after a restart).
  absl::StatusOr<SearchRun*> RunningSearch(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether experiment `id` starts nothing more (true unless a search that
  // is not finished).
  bool SearchFinished(const std::string& id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stored end of a search experiment whose jobs all ended.
  ExperimentStateChange SearchFinalState(const std::string& id,
                                         const ExperimentProgress& p,
                                         int64_t now_ms) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RecoverSearch for each of `experiments` that has a search's segments.
  absl::Status RecoverSearches(const std::set<std::string>& experiments,
                               int64_t now_us, WriteBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds the searcher of a running search experiment from its stored
  // jobs (`jobs`: all of them), replaying its results; what the replay finds
  // missing and results not yet given to it go into `batch` and `requests`.
  absl::Status RecoverSearch(const ExperimentRecord& e,
                             const std::vector<const JobRecord*>& jobs,
                             WriteBatch* batch,
                             std::vector<JobRequest>* requests)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Median stopping: running segment `j` reported `points`; stops it when
  // its curve falls behind the completed trials' median.
  void WatchSearchCurve(const JobRecord& j,
                        const std::vector<MetricPoint>& points)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The metric curve of job `job_id` as stored.
  MetricCurve StoredCurve(const std::string& job_id, const std::string& metric);
  // The checkpoint a promoted segment resumes from: the previous segment's
  // (ladle-train: its model.safetensors; a program: its checkpoint.tar.gz).
  InputFile ResumeCheckpoint(const JobRecord& j);
  // The stored experiment of a request id; NOT_FOUND when there is none.
  absl::StatusOr<SubmitResult> StoredSubmit(const std::string& spec_text,
                                            const std::string& owner,
                                            const std::string& request_id);
  // Ends a request in flight: its waiting retries, to answer.
  std::vector<SubmitDone> EndRequest(const std::string& key)
      ABSL_LOCKS_EXCLUDED(requests_mu_);

  // A stored (or unstorable) experiment on its way into the scheduler.
  struct Admission {
    SubmitResult result;
    std::vector<JobRequest> requests;
    absl::Status stored;
    SubmitDone done;
    std::shared_ptr<SearchRun> search;  // a search's searcher; else null
  };
  // The writer's hook after each group: admits the group's committed
  // experiments on the committing thread (no switch to another thread) when
  // mu_ is free; when it is not, wakes the admission thread instead (the
  // writer must never wait for mu_: its holders may wait for the writer).
  // Replies go out on the same thread, unless the admission placed jobs: then
  // the admission thread sends them while the writer commits the assignments
  // (a worker's dispatch latency does not wait for the replies).
  void AdmitCommitted() ABSL_LOCKS_EXCLUDED(mu_, admit_mu_);
  // The admission thread: admits what AdmitCommitted could not, and sends
  // the replies it hands over.
  void AdmitLoop();
  // Queues a group's jobs in the scheduler (one lock and one dispatch pass for
  // all); each one's outcome for its caller, and whether jobs were placed.
  std::vector<absl::StatusOr<SubmitResult>> AdmitGroup(
      std::deque<Admission>& group, bool* placed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Answers each admission's caller with its outcome.
  static void Answer(std::deque<Admission>& group,
                     std::vector<absl::StatusOr<SubmitResult>>& outcomes);
  // Queues one experiment's jobs; its outcome for the caller.
  absl::StatusOr<SubmitResult> Admit(Admission& a)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Options options_;
  Store* store_;
  const Clock* clock_;
  CoordinatorObserver default_observer_;
  CoordinatorObserver* observer_;
  absl::Mutex mu_ ABSL_ACQUIRED_BEFORE(delivery_mu_);
  // When each queued job became runnable, in microseconds (for the
  // scheduling-latency histogram and the assignment's queued_at).
  std::unordered_map<std::string, int64_t> queued_since_us_
      ABSL_GUARDED_BY(mu_);
  Scheduler scheduler_ ABSL_GUARDED_BY(mu_);
  // Jobs of running experiments, as stored (without their specs, except a
  // search's new segments until their first dispatch: they may be placed
  // before the write that adds them commits).
  std::unordered_map<std::string, JobRecord> jobs_ ABSL_GUARDED_BY(mu_);
  // Median stopping: the search metric's curve of each running segment, as
  // ingested (seeded from the store after a restart).
  std::unordered_map<std::string, MetricCurve> live_curves_
      ABSL_GUARDED_BY(mu_);
  // The searcher of each running search experiment.
  std::unordered_map<std::string, std::shared_ptr<SearchRun>> searches_
      ABSL_GUARDED_BY(mu_);
  // Job ids of each running experiment (to drop them when it ends).
  std::unordered_map<std::string, std::vector<std::string>> experiment_jobs_
      ABSL_GUARDED_BY(mu_);
  std::unordered_map<int64_t, AttemptRecord> attempts_ ABSL_GUARDED_BY(mu_);
  // Each worker as it last connected (its address: gangs' MASTER_ADDR).
  std::unordered_map<std::string, WorkerInfo> workers_ ABSL_GUARDED_BY(mu_);
  // Workers draining now, and those that left after a drain (their lapsing
  // heartbeats are not a loss).
  std::set<std::string> draining_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> drained_ ABSL_GUARDED_BY(mu_);
  // MASTER_PORT of each running gang whose rank 0 reported it, by rank 0's
  // attempt id.
  std::unordered_map<int64_t, int> gang_ports_ ABSL_GUARDED_BY(mu_);
  // Its own lock: submitters must not queue behind the admission thread's
  // (longer) hold of mu_ just to number an experiment.
  // Submits with a request id in flight (key: owner, '\0', request id), each
  // with the retries waiting for its outcome.
  absl::Mutex requests_mu_;
  absl::flat_hash_map<std::string, std::vector<SubmitDone>> requests_in_flight_
      ABSL_GUARDED_BY(requests_mu_);
  absl::Mutex id_mu_;
  uint64_t id_counter_ ABSL_GUARDED_BY(id_mu_) = 0;

  // Delivery state, touched by the writer thread: never wait for mu_ here.
  absl::Mutex delivery_mu_;
  struct SinkEntry {
    uint64_t session = 0;
    WorkerSink sink;
  };
  std::unordered_map<std::string, SinkEntry> sinks_
      ABSL_GUARDED_BY(delivery_mu_);
  uint64_t next_session_ ABSL_GUARDED_BY(delivery_mu_) = 1;
  std::multimap<std::string, std::pair<int, WatchSink>> watchers_
      ABSL_GUARDED_BY(delivery_mu_);
  int next_watch_token_ ABSL_GUARDED_BY(delivery_mu_) = 1;
  // Attempts whose assignment was not stored (so not delivered).
  std::vector<int64_t> undelivered_ ABSL_GUARDED_BY(delivery_mu_);
  // A search's writes whose commit failed (its new segments, the results
  // that started them, its state): written again on the next Tick, until
  // stored, so a full disk that frees up does not leave the searcher ahead of
  // the store.
  std::vector<WriteBatch> search_retries_ ABSL_GUARDED_BY(delivery_mu_);

  // Filled by the writer's callbacks (which never wait for mu_), drained by
  // AdmitCommitted or, when it asks (admit_wanted_), by admit_thread_.
  absl::Mutex admit_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::deque<Admission> admissions_ ABSL_GUARDED_BY(admit_mu_);
  bool admit_wanted_ ABSL_GUARDED_BY(admit_mu_) = false;
  // Admitted groups whose replies AdmitCommitted left to admit_thread_.
  struct Admitted {
    std::deque<Admission> group;
    std::vector<absl::StatusOr<SubmitResult>> outcomes;
  };
  std::vector<Admitted> to_answer_ ABSL_GUARDED_BY(admit_mu_);
  bool admit_stopping_ ABSL_GUARDED_BY(admit_mu_) = false;
  std::thread admit_thread_;

  std::unique_ptr<StoreWriter> writer_;
};

}  // namespace ladle

#endif  // LADLE_SERVER_COORDINATOR_H_

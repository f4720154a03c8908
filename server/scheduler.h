// The scheduler: which queued job runs on which worker, and what happens when
// attempts end, fail, lose their lease or are cancelled. Pure domain logic: no
// gRPC, no storage, time from a Clock. Every state change comes back as a
// JobEvent, which the server persists and publishes.
//
// Policy:
// - Priority (higher first), then FIFO by submission. Jobs wait in one queue
// per resource shape
//   (gpus, cpu_slots); a shape's head is the only candidate of that shape, so a
//   decision looks at a handful of heads, not the whole queue. A head that fits
//   nowhere does not block other shapes (backfill); a big job can therefore
//   wait while small ones run.
// - A job runs on one worker that has all its GPUs and CPU slots free; among
// those, the one with
//   the fewest free GPUs (then CPU slots) that still fits (best fit, keeps big
//   holes for big jobs). A retry avoids the worker of the previous attempt when
//   another fits.
// - Gangs (resources.ranks > 1): every rank is placed in the same decision or
//   none is (never a partial gang holding slots), packed onto as few workers
//   as fit (most ranks first). Each rank is an attempt of its own with
//   consecutive ids; the job's current attempt is rank 0's, and fencing is by
//   it: when a rank fails, is lost or cancelled, the gang ends, its other
//   ranks are stopped (TakeStops) and keep their resources until they report
//   or their lease runs out, and the job is retried as a whole.
// - Reservation against gang starvation: when the best-ordered queued gang
//   fits nowhere, enough workers to hold it (those that could take most of
//   it now first) are reserved: jobs ordered after it are not placed there,
//   so the gang starts once their running jobs end, while a stream of small
//   jobs still backfills the other workers.
// - DAG: a job whose dependencies have not all succeeded is pending; when one
// fails or is
//   cancelled, its dependents fail with a reason naming it.
// - Leases: a running attempt holds a lease renewed by its worker's heartbeats.
// When it expires
//   the attempt is lost. Lost and failed attempts are retried up to max_retries
//   times with exponential backoff; then the job fails.
// - Fencing: attempt ids only grow. A report for an attempt that is not its
// job's current
//   running attempt is rejected (FAILED_PRECONDITION), so a stale worker can
//   never overwrite a newer attempt's result.
//
// Thread safety: none; the server serialises calls.
#ifndef LADLE_SERVER_SCHEDULER_H_
#define LADLE_SERVER_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "spec/resources.h"

namespace ladle {

enum class JobState {
  kPending,
  kQueued,
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled
};
const char* JobStateName(JobState state);
bool IsTerminal(JobState state);

// kStopped: its worker drained and it stopped when asked (after saving a
// checkpoint): the job is queued again at once, without using a retry.
enum class AttemptOutcome { kSucceeded, kFailed, kLost, kCancelled, kStopped };

struct JobRequest {
  std::string id;
  std::string experiment_id;
  int priority = 0;
  Resources resources;
  int max_retries = 0;
  std::vector<std::string> deps;  // job ids that must succeed first
  // Restore only: earlier attempts that ended stopped (not retries).
  int stopped_attempts = 0;
};

// A decision to start `job_id` on `worker_id` as attempt `attempt_id`.
struct Assignment {
  std::string job_id;
  std::string experiment_id;
  int64_t attempt_id = 0;
  int attempt_number = 0;  // 1 for the first try
  std::string worker_id;
  std::vector<int> gpu_indices;  // worker-local GPU ordinals
  // A gang's rank (ranks > 1; else 0 of 1): among its ranks on this worker,
  // local_rank of local_world_size; gang_attempt_id is rank 0's attempt.
  int rank = 0, world_size = 1, local_rank = 0, local_world_size = 1;
  int64_t gang_attempt_id = 0;
};

// A job's state change, to persist and publish.
struct JobEvent {
  std::string job_id;
  std::string experiment_id;
  JobState state = JobState::kPending;
  int64_t attempt_id = 0;  // the attempt that caused it, if any
  std::string worker_id;
  std::string reason;  // why it failed, was retried or cancelled
  int64_t time_ms = 0;
  // An attempt ended and the job went back to the queue.
  bool retry_scheduled = false;
  // Set by Complete on the event of the job whose attempt (attempt_id) ended.
  bool attempt_ended = false;
  AttemptOutcome attempt_outcome = AttemptOutcome::kFailed;
  // Only one rank's attempt (attempt_id) of a gang job started or ended; the
  // job's own record did not change.
  bool rank_only = false;
};

// What waits for and runs on workers, per resource shape (Demand()).
struct ShapeDemand {
  Resources shape;  // per rank: gpus, cpu_slots, ranks, gpu_share_milli
  int queued = 0;   // jobs waiting for workers (a retry's backoff included)
  int running = 0;  // jobs with an attempt running
  int64_t max_memory_bytes = 0;  // the most any queued job of it may use
  int64_t oldest_queued_ms = 0;  // when the longest-waiting one was queued
};

struct ExperimentProgress {
  int total = 0, pending = 0, queued = 0, running = 0, succeeded = 0,
      failed = 0, cancelled = 0;
  bool done() const {
    return total > 0 && succeeded + failed + cancelled == total;
  }
};

class Scheduler {
 public:
  struct Options {
    int64_t lease_ms =
        15'000;  // an attempt without heartbeats for this long is lost
    int64_t retry_backoff_ms = 1'000;  // first retry delay, doubled per retry
    int64_t max_backoff_ms = 60'000;
    // A gap between two Ticks longer than this means the coordinator itself
    // was not running (frozen, paused, starved): leases and heartbeats are
    // shifted by the gap instead of blaming the workers. 0 disables.
    int64_t stall_ms = 0;
  };

  Scheduler(Options options, const Clock* clock);

  // --- Workers
  // ------------------------------------------------------------------------------
  // Registers (or re-registers after a reconnect) a worker. Attempts already
  // running on it (restored after a server restart) keep their resources.
  absl::Status AddWorker(const std::string& worker_id, Resources capacity);
  // The worker is gone: its running attempts are lost now.
  std::vector<JobEvent> RemoveWorker(const std::string& worker_id);
  // The worker drains: nothing new is placed on it; its running attempts
  // end as they report (stopped, if they save and exit when asked). A later
  // AddWorker (it comes back) ends the drain.
  absl::Status DrainWorker(const std::string& worker_id);
  // Renews the worker and the leases of all its running attempts.
  absl::Status Heartbeat(const std::string& worker_id);
  // A reconnecting worker lists the attempts it still runs. Returns the ones it
  // must stop (unknown or superseded: fencing) and marks attempts the scheduler
  // had on it but the worker no longer runs as lost (events appended to
  // `events`).
  std::vector<int64_t> Reconcile(const std::string& worker_id,
                                 const std::vector<int64_t>& running_attempts,
                                 std::vector<JobEvent>* events);

  // --- Jobs
  // ---------------------------------------------------------------------------------
  // Adds jobs, all or none: ids must be new and unique, dependencies must name
  // known jobs or jobs of the same batch, and the dependency graph must be
  // acyclic.
  absl::StatusOr<std::vector<JobEvent>> Submit(
      const std::vector<JobRequest>& jobs);
  // Re-creates a job after a restart in the state the store recorded. For
  // kRunning, the attempt is restored on `worker_id` with a fresh lease (its
  // worker has that long to reconnect). `attempts_used` counts attempts already
  // started.
  absl::Status Restore(const JobRequest& job, JobState state, int attempts_used,
                       int64_t running_attempt_id = 0,
                       const std::string& worker_id = "",
                       const std::vector<int>& gpu_indices = {});
  // The same for a gang: `gang_attempt_id` is rank 0's attempt, `ranks` the
  // ranks still running (kRunning only).
  struct RunningRank {
    int64_t attempt_id = 0;
    std::string worker_id;
    std::vector<int> gpu_indices;
    int rank = 0;
  };
  absl::Status Restore(const JobRequest& job, JobState state, int attempts_used,
                       int64_t gang_attempt_id,
                       const std::vector<RunningRank>& ranks);
  // Attempt ids continue after this (call with the store's largest id after a
  // restart).
  void SetNextAttemptId(int64_t next) {
    next_attempt_id_ = std::max(next_attempt_id_, next);
  }

  // Places as many queued jobs as fit. Each assignment comes with a kRunning
  // event.
  std::vector<Assignment> Schedule(std::vector<JobEvent>* events);

  // An attempt ended. FAILED_PRECONDITION for a stale or unknown attempt
  // (fencing).
  absl::StatusOr<std::vector<JobEvent>> Complete(int64_t attempt_id,
                                                 AttemptOutcome outcome,
                                                 const std::string& reason);

  // Attempts to stop since the last call: ranks of gangs that ended because
  // another rank failed, was lost or cancelled. They keep their resources
  // until Complete (any outcome) or their lease runs out.
  std::vector<Assignment> TakeStops();

  // Expires leases and workers whose heartbeats stopped; moves retry-delayed
  // jobs whose backoff passed back to the queue. After a stall (see
  // Options::stall_ms) it first extends every lease by the stall.
  std::vector<JobEvent> Tick();
  // Workers found lost (missed heartbeats) since the last call.
  std::vector<std::string> TakeLostWorkers();
  // Milliseconds of coordinator stalls forgiven so far.
  int64_t stalled_ms() const { return stalled_ms_; }

  // Cancels an experiment: pending and queued jobs now; running attempts are
  // returned in `to_stop` and their jobs end cancelled when
  // Complete(kCancelled) (or a lost lease) arrives.
  std::vector<JobEvent> Cancel(const std::string& experiment_id,
                               std::vector<Assignment>* to_stop);
  // The same for one job (a search stopping a trial early), ending it
  // cancelled with `reason`. Nothing for an unknown, ended or already
  // cancelled job.
  std::vector<JobEvent> CancelJob(const std::string& job_id,
                                  const std::string& reason,
                                  std::vector<Assignment>* to_stop);

  // Drops a finished experiment's jobs (memory stays bounded by the live
  // ones); FAILED_PRECONDITION while any of its jobs has not ended. Its
  // progress then reads as empty.
  absl::Status Forget(const std::string& experiment_id);

  // --- Queries
  // ------------------------------------------------------------------------------
  absl::StatusOr<JobState> state(const std::string& job_id) const;
  ExperimentProgress progress(const std::string& experiment_id) const;
  size_t queued_jobs() const { return queued_count_; }
  // Queued and running jobs by resource shape, in shape order (the demand an
  // autoscaler provisions workers for). O(queued + running attempts).
  std::vector<ShapeDemand> Demand() const;
  // Attempts (ranks) running on each known worker.
  std::map<std::string, int> AttemptsPerWorker() const;
  // Jobs by state over all experiments this scheduler holds.
  const ExperimentProgress& totals() const { return totals_; }
  int known_workers() const { return static_cast<int>(workers_.size()); }
  size_t running_attempts() const { return attempts_.size(); }
  // Workers held back for the best-ordered gang that does not fit (as of the
  // last Schedule).
  size_t reserved_workers() const { return reserved_workers_; }
  int alive_workers() const;

 private:
  // Checks a batch before anything of it is applied: valid requests, new and
  // distinct ids, existing dependencies, no cycle. Fills `in_batch`.
  absl::Status ValidateBatch(
      const std::vector<JobRequest>& batch,
      absl::flat_hash_set<absl::string_view>* in_batch) const;
  struct Job {
    JobRequest req;
    JobState state = JobState::kPending;
    int attempts_used = 0;
    int64_t current_attempt = 0;
    int64_t seq = 0;  // submission order, for FIFO
    int64_t not_before_ms = 0;
    int64_t queued_since_ms = 0;  // when it last became queued
    int remaining_deps = 0;
    std::vector<std::string> dependents;
    std::string last_worker;
    bool cancel_requested = false;
    std::string cancel_reason;  // what its end says once it stops
    int gang_live = 0;          // ranks of the current attempt still running
    int stopped_attempts = 0;   // attempts that ended stopped: not retries
  };
  // An attempt holds what it needs to end on its own: a gang's stopping
  // rank may outlive its job (ended and forgotten) by a kill grace.
  struct Attempt {
    std::string job_id;
    std::string experiment_id;
    std::string worker_id;
    std::vector<int> gpus;
    int cpu_slots = 0;
    int milli_per_gpu = 1000;  // a GPU share's thousandths, else all
    int64_t lease_expiry_ms = 0;
    int64_t gang = 0;  // rank 0's attempt id (its own for a single job)
    int rank = 0;
    // Its gang ended: it was told to stop and only frees its resources.
    bool stopping = false;
    std::string stop_reason;
  };
  struct Worker {
    Resources capacity;
    int free_cpu = 0;
    std::vector<bool> gpu_free;  // wholly free (no job, no share on it)
    int free_gpus = 0;
    std::vector<int> gpu_used_milli;  // thousandths of each GPU in use
    int64_t last_heartbeat_ms = 0;
    bool alive = false;
    bool draining = false;
    std::set<int64_t> attempts;
  };
  // (gpus, cpu_slots, ranks, GPU share)
  using Shape = std::tuple<int, int, int, int>;
  using QueueKey =
      std::tuple<int, int64_t, std::string>;  // (-priority, seq, job id)
  using Order = std::pair<int, int64_t>;      // (-priority, seq)
  static Order OrderOf(const Job& job) { return {-job.req.priority, job.seq}; }
  static Shape ShapeOf(const JobRequest& r) {
    return {r.resources.gpus, r.resources.cpu_slots, r.resources.ranks,
            r.resources.gpu_share_milli};
  }
  // Workers held for the gang `job`: jobs ordered after `order` skip them.
  struct Reservation {
    bool active = false;
    Order order;
    std::string job;
    std::set<std::string> workers;
  };
  using Placement = std::vector<const std::string*>;  // a worker per rank

  // Enqueue marks the job queued and makes it schedulable; InsertIntoQueue only
  // does the latter (for a job already marked queued that waited out a retry
  // backoff).
  void Enqueue(Job& job);
  void InsertIntoQueue(Job& job);
  void Dequeue(const Job& job);
  // Cancels `job`: now when queued or pending, else asks its ranks to stop.
  void CancelOne(Job& job, const std::string& reason,
                 std::vector<Assignment>* to_stop,
                 std::vector<JobEvent>* events);
  // Ends `attempt_id` (frees resources) and returns its record.
  Attempt EndAttempt(int64_t attempt_id);
  // Retries or fails the job after a failed or lost attempt.
  void AfterUnsuccessfulAttempt(Job& job, int64_t attempt_id,
                                const std::string& worker,
                                const std::string& reason,
                                std::vector<JobEvent>* events);
  void Finish(Job& job, JobState state, int64_t attempt_id,
              const std::string& worker, const std::string& reason,
              std::vector<JobEvent>* events);
  void SetState(Job& job, JobState state);
  JobEvent MakeEvent(const Job& job, int64_t attempt_id,
                     const std::string& worker,
                     const std::string& reason) const;
  // Best-fit worker for `job` outside `skip` (may be null), or null.
  const std::string* PickWorker(const Job& job,
                                const std::set<std::string>* skip) const;
  // For a job with a GPU share: the worker whose fullest GPU that still
  // holds the share is fullest (packs shares, keeps whole GPUs free), outside
  // `skip`; null when none.
  const std::string* PickShare(const Job& job,
                               const std::set<std::string>* skip) const;
  // That GPU of `w` for `milli` thousandths; -1 when none holds them.
  static int ShareGpu(const Worker& w, int milli);
  // `milli` thousandths of GPU `g` taken or given back (1000: all of it).
  static void TakeGpu(Worker& w, int g, int milli);
  static void ReleaseGpu(Worker& w, int g, int milli);
  // Workers for every rank of a gang outside `skip`, most ranks per worker
  // first; false (and `out` untouched) when not all fit now.
  bool PickGang(const Job& job, const std::set<std::string>* skip,
                Placement* out) const;
  // Where `job` fits now, honouring `reservation`.
  bool Fit(const Job& job, const Reservation& reservation,
           Placement* out) const;
  // The reservation for the best-ordered queued gang that fits nowhere now.
  Reservation Reserve() const;
  // Starts `job`'s next attempt on `placement` (a rank each).
  void Place(Job& job, const Placement& placement, std::vector<Assignment>* out,
             std::vector<JobEvent>* events);
  // The end of an attempt of the job (its gang's, for a gang): succeeded,
  // cancelled, retried or failed; events appended.
  void EndJobAttempt(Job& job, int64_t attempt_id, const std::string& worker,
                     AttemptOutcome outcome, const std::string& reason,
                     std::vector<JobEvent>* events);
  // One rank of a gang ended; the gang ends with it unless it succeeded and
  // others still run.
  std::vector<JobEvent> CompleteRank(Job& job, int64_t attempt_id,
                                     AttemptOutcome outcome,
                                     const std::string& reason);
  // Marks the still running ranks of `gang` stopping (queued in stops_
  // unless a cancel already asked them).
  void StopGang(Job& job, int64_t gang, const std::string& reason);
  JobEvent RankEvent(const Attempt& attempt, int64_t attempt_id,
                     AttemptOutcome outcome, const std::string& reason) const;
  // A new attempt's record for `job` on `worker_id`.
  static Attempt NewAttempt(const Job& job, const std::string& worker_id);
  // free_index_ upkeep: call Unindex before changing a worker's free
  // resources or liveness, Index after.
  void Index(const std::string& id, const Worker& w);
  void Unindex(const std::string& id, const Worker& w);
  void LoseWorker(const std::string& worker_id, Worker& w,
                  const std::string& reason, std::vector<JobEvent>* events);

  Options options_;
  const Clock* clock_;
  std::unordered_map<std::string, Job> jobs_;
  std::map<Shape, std::set<QueueKey>> queues_;
  std::set<std::pair<int64_t, std::string>> delayed_;  // (not_before, job id)
  std::unordered_map<int64_t, Attempt> attempts_;
  std::map<std::string, Worker> workers_;
  // Alive workers with something free, by (free GPUs, free CPU slots, id):
  // the best fit for a job is found in O(log workers) instead of a scan of
  // the fleet (at 1,000 workers the scan cost ~200 us a decision).
  std::set<std::tuple<int, int, std::string>> free_index_;
  std::unordered_map<std::string, ExperimentProgress> experiments_;
  // Job ids of each experiment, in submission order.
  std::unordered_map<std::string, std::vector<std::string>> experiment_jobs_;
  ExperimentProgress totals_;
  std::vector<Assignment> stops_;
  std::vector<std::string> lost_workers_;
  size_t reserved_workers_ = 0;
  size_t queued_count_ = 0;
  int64_t next_seq_ = 0;
  int64_t next_attempt_id_ = 1;
  int64_t last_tick_ms_ = 0;
  int64_t stalled_ms_ = 0;
};

}  // namespace ladle

#endif  // LADLE_SERVER_SCHEDULER_H_

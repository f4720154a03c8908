#include "server/scheduler.h"

#include <algorithm>
#include <climits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace ladle {

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kPending:
      return "pending";
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed ||
         s == JobState::kCancelled;
}

namespace {

constexpr int kMaxRanks = 1 << 16;

int& Count(ExperimentProgress& p, JobState s) {
  switch (s) {
    case JobState::kPending:
      return p.pending;
    case JobState::kQueued:
      return p.queued;
    case JobState::kRunning:
      return p.running;
    case JobState::kSucceeded:
      return p.succeeded;
    case JobState::kFailed:
      return p.failed;
    case JobState::kCancelled:
      return p.cancelled;
  }
  return p.pending;
}

absl::Status ValidateRequest(const JobRequest& r) {
  if (r.id.empty())
    return absl::InvalidArgumentError("job: id must not be empty");
  if (r.experiment_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", r.id, ": experiment_id is empty"));
  }
  if (r.resources.gpus < 0 || r.resources.cpu_slots < 0 ||
      r.resources.gpus + r.resources.cpu_slots + r.resources.gpu_share_milli ==
          0) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", r.id,
                     ": resources need gpus >= 0, cpu_slots >= 0 and at least "
                     "one of them > 0"));
  }
  const int share = r.resources.gpu_share_milli;
  if (share < 0 || share > 999 ||
      (share > 0 && (r.resources.gpus > 0 || r.resources.ranks > 1))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "job ", r.id,
        ": a GPU share is 1-999 thousandths of one GPU, for a single-rank job "
        "asking no whole GPUs"));
  }
  if (r.resources.ranks < 1 || r.resources.ranks > kMaxRanks) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", r.id, ": ranks must be in [1, ", kMaxRanks, "]"));
  }
  if (r.max_retries < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", r.id, ": max_retries must be >= 0"));
  }
  return absl::OkStatus();
}

// Whether the dependencies among `batch` (ids in `in_batch`) form a cycle:
// Kahn's order. Cycles can only run through one batch (old jobs never depend
// on new ones).
bool HasCycle(const std::vector<JobRequest>& batch,
              const absl::flat_hash_set<absl::string_view>& in_batch) {
  std::unordered_map<std::string, int> indegree;
  std::unordered_map<std::string, std::vector<std::string>> out;
  for (const JobRequest& r : batch) {
    indegree[r.id];
    for (const std::string& d : r.deps) {
      if (in_batch.count(d)) {
        ++indegree[r.id];
        out[d].push_back(r.id);
      }
    }
  }
  std::vector<std::string> ready;
  for (auto& [id, deg] : indegree) {
    if (deg == 0) ready.push_back(id);
  }
  size_t seen = 0;
  while (!ready.empty()) {
    const std::string id = ready.back();
    ready.pop_back();
    ++seen;
    for (const std::string& n : out[id]) {
      if (--indegree[n] == 0) ready.push_back(n);
    }
  }
  return seen != batch.size();
}

}  // namespace

Scheduler::Scheduler(Options options, const Clock* clock)
    : options_(options), clock_(clock) {}

// --- Workers
// --------------------------------------------------------------------------------

void Scheduler::SetState(Job& job, JobState state) {
  if (state == JobState::kQueued && job.state != JobState::kQueued)
    job.queued_since_ms = clock_->NowMillis();
  ExperimentProgress& p = experiments_[job.req.experiment_id];
  --Count(p, job.state);
  ++Count(p, state);
  --Count(totals_, job.state);
  ++Count(totals_, state);
  job.state = state;
}

JobEvent Scheduler::MakeEvent(const Job& job, int64_t attempt_id,
                              const std::string& worker,
                              const std::string& reason) const {
  JobEvent e;
  e.job_id = job.req.id;
  e.experiment_id = job.req.experiment_id;
  e.state = job.state;
  e.attempt_id = attempt_id;
  e.worker_id = worker;
  e.reason = reason;
  e.time_ms = clock_->NowMillis();
  return e;
}

std::vector<ShapeDemand> Scheduler::Demand() const {
  std::map<Shape, ShapeDemand> by_shape;
  auto entry = [&](const Job& job) -> ShapeDemand& {
    ShapeDemand& d = by_shape[ShapeOf(job.req)];
    d.shape = job.req.resources;
    d.shape.memory_bytes = 0;  // not part of the shape: max_memory_bytes
    return d;
  };
  auto add_queued = [&](const Job& job) {
    ShapeDemand& d = entry(job);
    ++d.queued;
    d.max_memory_bytes =
        std::max(d.max_memory_bytes, job.req.resources.memory_bytes);
    if (d.oldest_queued_ms == 0 || job.queued_since_ms < d.oldest_queued_ms)
      d.oldest_queued_ms = job.queued_since_ms;
  };
  for (const auto& [shape, queue] : queues_) {
    for (const QueueKey& key : queue) add_queued(jobs_.at(std::get<2>(key)));
  }
  for (const auto& [not_before, id] : delayed_) add_queued(jobs_.at(id));
  for (const auto& [id, a] : attempts_) {
    // A job once, by its current attempt (rank 0's for a gang).
    auto j = jobs_.find(a.job_id);
    if (j != jobs_.end() && j->second.current_attempt == id && !a.stopping)
      ++entry(j->second).running;
  }
  std::vector<ShapeDemand> out;
  for (auto& [shape, d] : by_shape) out.push_back(d);
  return out;
}

std::map<std::string, int> Scheduler::AttemptsPerWorker() const {
  std::map<std::string, int> out;
  for (const auto& [id, w] : workers_)
    out[id] = static_cast<int>(w.attempts.size());
  return out;
}

void Scheduler::Enqueue(Job& job) {
  SetState(job, JobState::kQueued);
  InsertIntoQueue(job);
}

void Scheduler::InsertIntoQueue(Job& job) {
  queues_[ShapeOf(job.req)].emplace(-job.req.priority, job.seq, job.req.id);
  ++queued_count_;
}

void Scheduler::Dequeue(const Job& job) {
  auto q = queues_.find(ShapeOf(job.req));
  if (q != queues_.end() &&
      q->second.erase({-job.req.priority, job.seq, job.req.id}) > 0) {
    --queued_count_;
    if (q->second.empty()) queues_.erase(q);
  }
}

absl::Status Scheduler::ValidateBatch(
    const std::vector<JobRequest>& batch,
    absl::flat_hash_set<absl::string_view>* in_batch) const {
  in_batch->reserve(batch.size());
  for (const JobRequest& r : batch) {
    RETURN_IF_ERROR(ValidateRequest(r));
    if (jobs_.count(r.id) > 0 || !in_batch->insert(r.id).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("job ", r.id, " already exists"));
    }
  }
  bool deps_in_batch = false;
  for (const JobRequest& r : batch) {
    for (const std::string& d : r.deps) {
      if (d == r.id)
        return absl::InvalidArgumentError(
            absl::StrCat("job ", r.id, " depends on itself"));
      const bool in = in_batch->contains(d);
      deps_in_batch |= in;
      if (!in && jobs_.count(d) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("job ", r.id, ": dependency ", d, " does not exist"));
      }
    }
  }
  if (deps_in_batch && HasCycle(batch, *in_batch)) {
    return absl::InvalidArgumentError("jobs: the dependency graph has a cycle");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JobEvent>> Scheduler::Submit(
    const std::vector<JobRequest>& batch) {
  // (Views of the batch's ids: most batches are one job without deps, and
  // this runs on the commit path of every submit.)
  absl::flat_hash_set<absl::string_view> in_batch;
  RETURN_IF_ERROR(ValidateBatch(batch, &in_batch));
  std::vector<JobEvent> events;
  for (const JobRequest& r : batch) {
    Job& job = jobs_[r.id];
    job.req = r;
    job.seq = next_seq_++;
    experiment_jobs_[r.experiment_id].push_back(r.id);
    ExperimentProgress& progress = experiments_[r.experiment_id];
    ++progress.total;
    ++progress.pending;
    ++totals_.total;
    ++totals_.pending;
  }
  // Wire dependencies, then decide each job's starting state (in batch order).
  std::vector<std::string> failed_deps(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    Job& job = jobs_.at(batch[i].id);
    for (const std::string& d : batch[i].deps) {
      Job& dep = jobs_.at(d);
      if (dep.state == JobState::kSucceeded) continue;
      if (dep.state == JobState::kFailed || dep.state == JobState::kCancelled) {
        failed_deps[i] = d;
        continue;
      }
      dep.dependents.push_back(job.req.id);
      ++job.remaining_deps;
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Job& job = jobs_.at(batch[i].id);
    if (!failed_deps[i].empty()) {
      Finish(job, JobState::kFailed, 0, "",
             absl::StrCat("dependency ", failed_deps[i], " did not succeed"),
             &events);
    } else if (job.state == JobState::kPending && job.remaining_deps == 0) {
      Enqueue(job);
      events.push_back(MakeEvent(job, 0, "", ""));
    } else if (job.state == JobState::kPending) {
      events.push_back(MakeEvent(job, 0, "", ""));
    }
  }
  return events;
}

absl::Status Scheduler::Restore(const JobRequest& r, JobState state,
                                int attempts_used, int64_t running_attempt_id,
                                const std::string& worker_id,
                                const std::vector<int>& gpu_indices) {
  std::vector<RunningRank> ranks;
  if (state == JobState::kRunning)
    ranks.push_back({running_attempt_id, worker_id, gpu_indices, 0});
  return Restore(r, state, attempts_used, running_attempt_id, ranks);
}

absl::Status Scheduler::Restore(const JobRequest& r, JobState state,
                                int attempts_used, int64_t gang_attempt_id,
                                const std::vector<RunningRank>& ranks) {
  RETURN_IF_ERROR(ValidateRequest(r));
  if (jobs_.count(r.id))
    return absl::AlreadyExistsError(
        absl::StrCat("job ", r.id, " already exists"));
  Job& job = jobs_[r.id];
  job.req = r;
  job.seq = next_seq_++;
  job.attempts_used = attempts_used;
  job.stopped_attempts = r.stopped_attempts;
  experiment_jobs_[r.experiment_id].push_back(r.id);
  ExperimentProgress& p = experiments_[r.experiment_id];
  ++p.total;
  ++p.pending;
  ++totals_.total;
  ++totals_.pending;
  for (const std::string& d : r.deps) {
    auto it = jobs_.find(d);
    if (it == jobs_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "restore job ", r.id, ": dependency ", d, " must be restored first"));
    }
    if (!IsTerminal(it->second.state)) {
      it->second.dependents.push_back(r.id);
      ++job.remaining_deps;
    }
  }
  switch (state) {
    case JobState::kPending:
    case JobState::kQueued:
      if (job.remaining_deps == 0) Enqueue(job);
      break;
    case JobState::kRunning: {
      if (gang_attempt_id <= 0 || ranks.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "restore job ", r.id, ": running needs an attempt and a worker"));
      }
      for (const RunningRank& rank : ranks) {
        if (rank.attempt_id < gang_attempt_id || rank.worker_id.empty() ||
            rank.attempt_id - gang_attempt_id != rank.rank) {
          return absl::InvalidArgumentError(absl::StrCat(
              "restore job ", r.id, ": attempt ", rank.attempt_id,
              " needs a worker and the id of rank 0's plus its rank"));
        }
      }
      SetState(job, JobState::kRunning);
      job.current_attempt = gang_attempt_id;
      job.last_worker = ranks.front().worker_id;
      job.gang_live = static_cast<int>(ranks.size());
      for (const RunningRank& rank : ranks) {
        Attempt& a = attempts_[rank.attempt_id];
        a = NewAttempt(job, rank.worker_id);
        a.gpus = rank.gpu_indices;
        a.lease_expiry_ms = clock_->NowMillis() + options_.lease_ms;
        a.gang = gang_attempt_id;
        a.rank = rank.rank;
        // Not alive until it registers again.
        workers_[rank.worker_id].attempts.insert(rank.attempt_id);
        next_attempt_id_ = std::max(next_attempt_id_, rank.attempt_id + 1);
      }
      break;
    }
    default:
      SetState(job, state);
  }
  return absl::OkStatus();
}

std::vector<Assignment> Scheduler::Schedule(std::vector<JobEvent>* events) {
  std::vector<Assignment> out;
  Reservation reservation = Reserve();
  while (true) {
    // The best head (priority, then FIFO) among the shapes that fit somewhere.
    Job* pick = nullptr;
    Placement placement;
    for (auto& [shape, queue] : queues_) {
      Job& head = jobs_.at(std::get<2>(*queue.begin()));
      if (pick != nullptr && OrderOf(*pick) < OrderOf(head)) continue;
      if (Fit(head, reservation, &placement)) pick = &head;
    }
    if (pick == nullptr) break;
    if (reservation.active && reservation.job == pick->req.id)
      reservation = Reservation();
    Dequeue(*pick);
    Place(*pick, placement, &out, events);
  }
  reserved_workers_ = reservation.workers.size();
  return out;
}

bool Scheduler::Fit(const Job& job, const Reservation& reservation,
                    Placement* out) const {
  const std::set<std::string>* skip =
      reservation.active && reservation.order < OrderOf(job)
          ? &reservation.workers
          : nullptr;
  if (job.req.resources.ranks > 1) return PickGang(job, skip, out);
  const std::string* worker = job.req.resources.gpu_share_milli > 0
                                  ? PickShare(job, skip)
                                  : PickWorker(job, skip);
  if (worker == nullptr) return false;
  *out = {worker};
  return true;
}

void Scheduler::Place(Job& job, const Placement& placement,
                      std::vector<Assignment>* out,
                      std::vector<JobEvent>* events) {
  const int ranks = static_cast<int>(placement.size());
  const int64_t gang = next_attempt_id_;
  next_attempt_id_ += ranks;
  const int number = ++job.attempts_used;
  std::map<std::string, int> on_worker, next_local;
  for (const std::string* w : placement) ++on_worker[*w];
  for (int r = 0; r < ranks; ++r) {
    const std::string& id = *placement[r];
    Worker& w = workers_.at(id);
    Unindex(id, w);
    Assignment a;
    a.job_id = job.req.id;
    a.experiment_id = job.req.experiment_id;
    a.attempt_id = gang + r;
    a.attempt_number = number;
    a.worker_id = id;
    a.rank = r;
    a.world_size = ranks;
    a.local_rank = next_local[id]++;
    a.local_world_size = on_worker[id];
    a.gang_attempt_id = gang;
    if (const int share = job.req.resources.gpu_share_milli; share > 0) {
      a.gpu_indices.push_back(ShareGpu(w, share));
      TakeGpu(w, a.gpu_indices.back(), share);
    }
    for (int g = 0;
         g < w.capacity.gpus &&
         static_cast<int>(a.gpu_indices.size()) < job.req.resources.gpus;
         ++g) {
      if (w.gpu_free[g]) {
        TakeGpu(w, g, 1000);
        a.gpu_indices.push_back(g);
      }
    }
    w.free_cpu -= job.req.resources.cpu_slots;
    Index(id, w);
    w.attempts.insert(a.attempt_id);
    Attempt& at = attempts_[a.attempt_id];
    at = NewAttempt(job, id);
    at.gpus = a.gpu_indices;
    at.lease_expiry_ms = clock_->NowMillis() + options_.lease_ms;
    at.gang = gang;
    at.rank = r;
    out->push_back(std::move(a));
  }
  job.current_attempt = gang;
  job.last_worker = *placement.front();
  job.gang_live = ranks;
  SetState(job, JobState::kRunning);
  events->push_back(MakeEvent(job, gang, job.last_worker, ""));
  for (int r = 1; r < ranks; ++r) {
    JobEvent e = MakeEvent(job, gang + r, *placement[r], "");
    e.rank_only = true;
    events->push_back(std::move(e));
  }
}

Scheduler::Attempt Scheduler::EndAttempt(int64_t attempt_id) {
  auto it = attempts_.find(attempt_id);
  Attempt a = std::move(it->second);
  attempts_.erase(it);
  auto wit = workers_.find(a.worker_id);
  if (wit != workers_.end()) {
    Worker& w = wit->second;
    Unindex(a.worker_id, w);
    w.attempts.erase(attempt_id);
    w.free_cpu += a.cpu_slots;
    for (int g : a.gpus) {
      if (g >= 0 && g < static_cast<int>(w.gpu_free.size()))
        ReleaseGpu(w, g, a.milli_per_gpu);
    }
    Index(a.worker_id, w);
  }
  return a;
}

absl::StatusOr<std::vector<JobEvent>> Scheduler::Complete(
    int64_t attempt_id, AttemptOutcome outcome, const std::string& reason) {
  auto it = attempts_.find(attempt_id);
  if (it == attempts_.end() ||
      (!it->second.stopping &&
       jobs_.at(it->second.job_id).current_attempt != it->second.gang)) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", attempt_id,
                     " is not running (finished, superseded or unknown); "
                     "its report is ignored"));
  }
  if (it->second.stopping) {  // a rank of a gang that already ended
    const Attempt a = EndAttempt(attempt_id);
    return std::vector<JobEvent>{
        RankEvent(a, attempt_id, outcome, a.stop_reason)};
  }
  Job& job = jobs_.at(it->second.job_id);
  if (job.req.resources.ranks > 1)
    return CompleteRank(job, attempt_id, outcome, reason);
  std::vector<JobEvent> events;
  const Attempt a = EndAttempt(attempt_id);
  job.current_attempt = 0;
  EndJobAttempt(job, attempt_id, a.worker_id, outcome, reason, &events);
  return events;
}

void Scheduler::EndJobAttempt(Job& job, int64_t attempt_id,
                              const std::string& worker, AttemptOutcome outcome,
                              const std::string& reason,
                              std::vector<JobEvent>* events) {
  const size_t first = events->size();
  if (job.cancel_requested) {
    const bool succeeded = outcome == AttemptOutcome::kSucceeded;
    Finish(job, succeeded ? JobState::kSucceeded : JobState::kCancelled,
           attempt_id, worker, succeeded ? "" : job.cancel_reason, events);
  } else {
    switch (outcome) {
      case AttemptOutcome::kSucceeded:
        Finish(job, JobState::kSucceeded, attempt_id, worker, "", events);
        break;
      case AttemptOutcome::kCancelled:
        Finish(job, JobState::kCancelled, attempt_id, worker,
               reason.empty() ? "cancelled" : reason, events);
        break;
      case AttemptOutcome::kStopped: {
        ++job.stopped_attempts;
        SetState(job, JobState::kQueued);
        InsertIntoQueue(job);  // at once: its checkpoint waits for it
        JobEvent e = MakeEvent(
            job, attempt_id, worker,
            "stopped on worker " + worker +
                " (drained); runs again from its checkpoint, no retry used");
        e.retry_scheduled = true;
        events->push_back(std::move(e));
        break;
      }
      case AttemptOutcome::kFailed:
      case AttemptOutcome::kLost:
        AfterUnsuccessfulAttempt(
            job, attempt_id, worker,
            (outcome == AttemptOutcome::kLost ? "attempt lost: "
                                              : "attempt failed: ") +
                reason,
            events);
        break;
    }
  }
  // The job's own event comes first; mark it as the end of this attempt.
  if (events->size() > first) {
    (*events)[first].attempt_ended = true;
    (*events)[first].attempt_outcome = outcome;
  }
}

std::vector<JobEvent> Scheduler::CompleteRank(Job& job, int64_t attempt_id,
                                              AttemptOutcome outcome,
                                              const std::string& reason) {
  const Attempt a = EndAttempt(attempt_id);
  --job.gang_live;
  std::vector<JobEvent> events;
  if (outcome == AttemptOutcome::kSucceeded && job.gang_live > 0) {
    events.push_back(RankEvent(a, attempt_id, outcome, ""));
    return events;
  }
  std::string why;
  if (outcome != AttemptOutcome::kSucceeded) {
    why = absl::StrCat("rank ", a.rank, " of ", job.req.resources.ranks,
                       " (worker ", a.worker_id, "): ", reason);
    StopGang(job, a.gang,
             absl::StrCat("gang stopped: rank ", a.rank, " ended ",
                          outcome == AttemptOutcome::kLost ? "lost" : "first",
                          ": ", reason));
  }
  job.current_attempt = 0;
  job.gang_live = 0;
  EndJobAttempt(job, attempt_id, a.worker_id, outcome, why, &events);
  return events;
}

void Scheduler::StopGang(Job& job, int64_t gang, const std::string& reason) {
  for (int r = 0; r < job.req.resources.ranks; ++r) {
    auto it = attempts_.find(gang + r);
    if (it == attempts_.end() || it->second.gang != gang) continue;
    Attempt& at = it->second;
    at.stopping = true;
    at.stop_reason = reason;
    if (job.cancel_requested) continue;  // Cancel asked it already
    Assignment s;
    s.job_id = job.req.id;
    s.experiment_id = job.req.experiment_id;
    s.attempt_id = gang + r;
    s.worker_id = at.worker_id;
    s.gpu_indices = at.gpus;
    s.rank = r;
    s.gang_attempt_id = gang;
    stops_.push_back(std::move(s));
  }
}

Scheduler::Attempt Scheduler::NewAttempt(const Job& job,
                                         const std::string& worker_id) {
  Attempt a;
  a.job_id = job.req.id;
  a.experiment_id = job.req.experiment_id;
  a.worker_id = worker_id;
  a.cpu_slots = job.req.resources.cpu_slots;
  if (job.req.resources.gpu_share_milli > 0)
    a.milli_per_gpu = job.req.resources.gpu_share_milli;
  return a;
}

JobEvent Scheduler::RankEvent(const Attempt& attempt, int64_t attempt_id,
                              AttemptOutcome outcome,
                              const std::string& reason) const {
  JobEvent e;
  e.job_id = attempt.job_id;
  e.experiment_id = attempt.experiment_id;
  auto job = jobs_.find(attempt.job_id);  // gone once forgotten
  e.state = job != jobs_.end() ? job->second.state : JobState::kCancelled;
  e.attempt_id = attempt_id;
  e.worker_id = attempt.worker_id;
  e.reason = reason;
  e.time_ms = clock_->NowMillis();
  e.rank_only = true;
  e.attempt_ended = true;
  e.attempt_outcome = outcome;
  return e;
}

std::vector<std::string> Scheduler::TakeLostWorkers() {
  std::vector<std::string> out;
  out.swap(lost_workers_);
  return out;
}

std::vector<Assignment> Scheduler::TakeStops() {
  std::vector<Assignment> out;
  out.swap(stops_);
  return out;
}

void Scheduler::AfterUnsuccessfulAttempt(Job& job, int64_t attempt_id,
                                         const std::string& worker,
                                         const std::string& reason,
                                         std::vector<JobEvent>* events) {
  const int retries_done = job.attempts_used - 1 - job.stopped_attempts;
  if (retries_done >= job.req.max_retries) {
    Finish(job, JobState::kFailed, attempt_id, worker,
           absl::StrCat(reason, " (", retries_done + 1, " of ",
                        job.req.max_retries + 1, " attempts used",
                        job.stopped_attempts > 0
                            ? absl::StrCat(", and ", job.stopped_attempts,
                                           " stopped by drains")
                            : "",
                        ")"),
           events);
    return;
  }
  int64_t backoff = options_.retry_backoff_ms;
  for (int i = 0; i < retries_done && backoff < options_.max_backoff_ms; ++i)
    backoff *= 2;
  backoff = std::min(backoff, options_.max_backoff_ms);
  job.not_before_ms = clock_->NowMillis() + backoff;
  SetState(
      job,
      JobState::kQueued);  // counted as queued while it waits out the backoff
  delayed_.emplace(job.not_before_ms, job.req.id);
  JobEvent e =
      MakeEvent(job, attempt_id, worker,
                absl::StrCat(reason, "; retry ", retries_done + 1, " of ",
                             job.req.max_retries, " in ", backoff, " ms"));
  e.retry_scheduled = true;
  events->push_back(std::move(e));
}

void Scheduler::Finish(Job& job, JobState state, int64_t attempt_id,
                       const std::string& worker, const std::string& reason,
                       std::vector<JobEvent>* events) {
  SetState(job, state);
  events->push_back(MakeEvent(job, attempt_id, worker, reason));
  for (const std::string& d : job.dependents) {
    Job& dep = jobs_.at(d);
    if (dep.state != JobState::kPending) continue;
    if (state == JobState::kSucceeded) {
      if (--dep.remaining_deps == 0) {
        Enqueue(dep);
        events->push_back(MakeEvent(dep, 0, "", ""));
      }
    } else {
      Finish(dep, JobState::kFailed, 0, "",
             absl::StrCat("dependency ", job.req.id, " ", JobStateName(state)),
             events);
    }
  }
}

std::vector<JobEvent> Scheduler::Tick() {
  std::vector<JobEvent> events;
  const int64_t now = clock_->NowMillis();
  if (options_.stall_ms > 0 && last_tick_ms_ > 0 &&
      now - last_tick_ms_ > options_.stall_ms) {
    // The coordinator was not running: nobody could heartbeat to it. Shift
    // the clocks of leases and heartbeats by the gap.
    const int64_t gap = now - last_tick_ms_;
    stalled_ms_ += gap;
    for (auto& [id, w] : workers_) w.last_heartbeat_ms += gap;
    for (auto& [id, a] : attempts_) a.lease_expiry_ms += gap;
  }
  last_tick_ms_ = now;
  // Workers whose heartbeats stopped lose their attempts.
  for (auto& [id, w] : workers_) {
    if (w.alive && now - w.last_heartbeat_ms > options_.lease_ms) {
      lost_workers_.push_back(id);
      LoseWorker(
          id, w,
          "worker " + id + " missed heartbeats for longer than the lease",
          &events);
    }
  }
  // Attempts whose lease ran out (e.g. restored ones whose worker never came
  // back).
  std::vector<int64_t> expired;
  for (const auto& [id, a] : attempts_) {
    if (a.lease_expiry_ms < now) expired.push_back(id);
  }
  std::sort(expired.begin(), expired.end());
  for (int64_t id : expired) {
    auto st = Complete(id, AttemptOutcome::kLost, "lease expired");
    if (st.ok()) events.insert(events.end(), st->begin(), st->end());
  }
  // Backoffs that ended.
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    Job& job = jobs_.at(delayed_.begin()->second);
    delayed_.erase(delayed_.begin());
    if (job.state == JobState::kQueued)
      InsertIntoQueue(job);  // already counted as queued
  }
  return events;
}

std::vector<JobEvent> Scheduler::Cancel(const std::string& experiment_id,
                                        std::vector<Assignment>* to_stop) {
  std::vector<JobEvent> events;
  std::vector<Job*> jobs;
  auto ids = experiment_jobs_.find(experiment_id);
  if (ids != experiment_jobs_.end()) {
    for (const std::string& id : ids->second) jobs.push_back(&jobs_.at(id));
  }
  for (Job* job : jobs) CancelOne(*job, "cancelled", to_stop, &events);
  return events;
}

std::vector<JobEvent> Scheduler::CancelJob(const std::string& job_id,
                                           const std::string& reason,
                                           std::vector<Assignment>* to_stop) {
  std::vector<JobEvent> events;
  auto it = jobs_.find(job_id);
  if (it != jobs_.end() && !it->second.cancel_requested)
    CancelOne(it->second, reason, to_stop, &events);
  return events;
}

void Scheduler::CancelOne(Job& job, const std::string& reason,
                          std::vector<Assignment>* to_stop,
                          std::vector<JobEvent>* events) {
  switch (job.state) {
    case JobState::kRunning: {
      job.cancel_requested = true;
      job.cancel_reason = reason;
      const int64_t gang = job.current_attempt;
      for (int r = 0; r < job.req.resources.ranks; ++r) {
        auto it = attempts_.find(gang + r);
        if (it == attempts_.end() || it->second.gang != gang) continue;
        Assignment s;
        s.job_id = job.req.id;
        s.experiment_id = job.req.experiment_id;
        s.attempt_id = gang + r;
        s.worker_id = it->second.worker_id;
        s.gpu_indices = it->second.gpus;
        s.rank = r;
        s.gang_attempt_id = gang;
        to_stop->push_back(std::move(s));
      }
      break;
    }
    case JobState::kQueued:
      Dequeue(job);
      delayed_.erase({job.not_before_ms, job.req.id});
      Finish(job, JobState::kCancelled, 0, "", reason, events);
      break;
    case JobState::kPending:
      Finish(job, JobState::kCancelled, 0, "", reason, events);
      break;
    default:
      break;
  }
}

absl::Status Scheduler::Forget(const std::string& experiment_id) {
  auto it = experiments_.find(experiment_id);
  if (it == experiments_.end()) return absl::OkStatus();
  const ExperimentProgress& p = it->second;
  if (!p.done()) {
    return absl::FailedPreconditionError(
        absl::StrCat("experiment ", experiment_id, " still has jobs to run"));
  }
  totals_.total -= p.total;
  totals_.succeeded -= p.succeeded;
  totals_.failed -= p.failed;
  totals_.cancelled -= p.cancelled;
  auto ids = experiment_jobs_.find(experiment_id);
  if (ids != experiment_jobs_.end()) {
    for (const std::string& id : ids->second) jobs_.erase(id);
    experiment_jobs_.erase(ids);
  }
  experiments_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<JobState> Scheduler::state(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end())
    return absl::NotFoundError(absl::StrCat("job ", job_id, " not found"));
  return it->second.state;
}

ExperimentProgress Scheduler::progress(const std::string& experiment_id) const {
  auto it = experiments_.find(experiment_id);
  return it == experiments_.end() ? ExperimentProgress{} : it->second;
}

}  // namespace ladle

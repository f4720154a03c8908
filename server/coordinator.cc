#include "server/coordinator.h"

#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace ladle {
namespace {

absl::StatusOr<JobState> ParseJobState(const std::string& s) {
  for (JobState st :
       {JobState::kPending, JobState::kQueued, JobState::kRunning,
        JobState::kSucceeded, JobState::kFailed, JobState::kCancelled}) {
    if (s == JobStateName(st)) return st;
  }
  return absl::DataLossError(
      absl::StrCat("store: unknown job state '", s, "'"));
}

const char* OutcomeName(AttemptOutcome o) {
  switch (o) {
    case AttemptOutcome::kSucceeded:
      return "succeeded";
    case AttemptOutcome::kFailed:
      return "failed";
    case AttemptOutcome::kLost:
      return "lost";
    case AttemptOutcome::kCancelled:
      return "cancelled";
  }
  return "failed";
}

JobRequest RequestOf(const JobRecord& j) {
  JobRequest r;
  r.id = j.id;
  r.experiment_id = j.experiment_id;
  r.priority = j.priority;
  r.resources = {j.gpus, j.cpu_slots};
  r.max_retries = j.max_retries;
  r.deps = j.deps;
  return r;
}

}  // namespace

Coordinator::Coordinator(Options options, Store* store, const Clock* clock,
                         CoordinatorObserver* observer)
    : options_(options),
      store_(store),
      clock_(clock),
      observer_(observer != nullptr ? observer : &default_observer_),
      scheduler_(options.scheduler, clock) {}

std::string Coordinator::NewExperimentId() {
  // Time-ordered and unique across restarts of one server: ms timestamp + a
  // counter.
  return absl::StrFormat("exp-%011x-%04x", clock_->NowMillis(),
                         (id_counter_++) & 0xffff);
}

absl::Status Coordinator::Recover() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, store_->ListActiveJobs());
  ASSIGN_OR_RETURN(int64_t max_attempt, store_->MaxAttemptId());
  std::set<std::string> experiments;
  for (JobRecord& j : jobs) {
    ASSIGN_OR_RETURN(JobState state, ParseJobState(j.state));
    if (state == JobState::kRunning) {
      ASSIGN_OR_RETURN(std::vector<AttemptRecord> attempts,
                       store_->ListAttempts(j.id));
      for (const AttemptRecord& a : attempts) {
        if (a.id == j.current_attempt) attempts_[a.id] = a;
      }
    }
    RETURN_IF_ERROR(scheduler_.Restore(RequestOf(j), state, j.attempts,
                                       j.current_attempt, j.worker_id,
                                       j.gpu_indices));
    experiments.insert(j.experiment_id);
    jobs_[j.id] = std::move(j);
  }
  scheduler_.SetNextAttemptId(max_attempt + 1);
  // Experiments whose last job ended just before a crash still need their final
  // state.
  for (const std::string& e : experiments) {
    if (scheduler_.progress(e).done()) {
      // Apply() finishes experiments only for events it sees; do it directly
      // here.
      const ExperimentProgress p = scheduler_.progress(e);
      const std::string state = p.failed      ? "failed"
                                : p.cancelled ? "cancelled"
                                              : "succeeded";
      RETURN_IF_ERROR(
          store_->UpdateExperimentState(e, state, "", clock_->NowMillis()));
    }
  }
  LOG(INFO) << "recovered " << jobs_.size() << " jobs of " << experiments.size()
            << " running experiments; next attempt id " << max_attempt + 1;
  return absl::OkStatus();
}

absl::StatusOr<Coordinator::SubmitResult> Coordinator::Submit(
    const std::string& spec_text, const std::string& owner, bool dry_run) {
  ASSIGN_OR_RETURN(ExperimentSpec spec,
                   ParseExperimentSpec(spec_text, options_.parse));
  ASSIGN_OR_RETURN(std::unique_ptr<Planner> planner, PlannerFor(spec.kind));
  ASSIGN_OR_RETURN(std::vector<PlannedJob> planned, planner->Plan(spec));

  absl::MutexLock lock(&mu_);
  SubmitResult result;
  result.experiment_id = dry_run ? "dry-run" : NewExperimentId();
  const int64_t now = clock_->NowMillis();
  std::vector<JobRequest> requests;
  for (const PlannedJob& p : planned) {
    JobRecord j;
    j.id = absl::StrFormat("%s-%04d", result.experiment_id, p.index);
    j.experiment_id = result.experiment_id;
    j.index = p.index;
    j.kind = p.kind;
    j.spec = p.spec.dump();
    j.params = p.params.dump();
    for (int d : p.deps)
      j.deps.push_back(absl::StrFormat("%s-%04d", result.experiment_id, d));
    j.gpus = p.resources.gpus;
    j.cpu_slots = p.resources.cpu_slots;
    j.priority = spec.priority;
    j.max_retries = spec.max_retries;
    j.updated_ms = now;
    requests.push_back(RequestOf(j));
    result.jobs.push_back(std::move(j));
  }
  if (dry_run) return result;

  ExperimentRecord e;
  e.id = result.experiment_id;
  e.name = spec.name;
  e.kind = spec.kind;
  e.owner = owner;
  e.spec = spec_text;
  e.priority = spec.priority;
  e.created_ms = now;
  RETURN_IF_ERROR(
      store_->CreateExperiment(e, result.jobs));  // durable before the reply
  for (const JobRecord& j : result.jobs) jobs_[j.id] = j;
  absl::StatusOr<std::vector<JobEvent>> events = scheduler_.Submit(requests);
  if (!events.ok()) {
    // Stored but not schedulable: record why instead of leaving it running
    // forever.
    store_
        ->UpdateExperimentState(e.id, "failed",
                                std::string(events.status().message()), now)
        .IgnoreError();
    for (const JobRecord& j : result.jobs) jobs_.erase(j.id);
    return events.status();
  }
  observer_->OnExperimentSubmitted(static_cast<int>(result.jobs.size()));
  Apply(*events);
  Dispatch();
  return result;
}

absl::StatusOr<ExperimentRecord> Coordinator::Cancel(const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(ExperimentRecord e, store_->GetExperiment(id));
  if (e.state != "running") return e;  // already ended: nothing to do
  std::vector<Assignment> to_stop;
  std::vector<JobEvent> events = scheduler_.Cancel(id, &to_stop);
  Apply(events);
  for (const Assignment& a : to_stop) {
    auto sink = sinks_.find(a.worker_id);
    if (sink == sinks_.end())
      continue;  // not connected: its lease will end the attempt
    WorkerCommand c;
    c.type = WorkerCommand::Type::kCancel;
    c.assignment = a;
    c.reason = "experiment cancelled";
    sink->second(c);
  }
  return store_->GetExperiment(id);
}

int Coordinator::Watch(const std::string& experiment_id, WatchSink sink) {
  absl::MutexLock lock(&mu_);
  const int token = next_watch_token_++;
  watchers_.emplace(experiment_id, std::make_pair(token, std::move(sink)));
  return token;
}

void Coordinator::Unwatch(int token) {
  absl::MutexLock lock(&mu_);
  for (auto it = watchers_.begin(); it != watchers_.end(); ++it) {
    if (it->second.first == token) {
      watchers_.erase(it);
      return;
    }
  }
}

void Coordinator::Notify(const std::string& experiment_id,
                         const WatchEvent& e) {
  auto [begin, end] = watchers_.equal_range(experiment_id);
  for (auto it = begin; it != end; ++it) it->second.second(e);
}

absl::StatusOr<std::vector<int64_t>> Coordinator::ConnectWorker(
    const WorkerInfo& info, const std::vector<int64_t>& running,
    WorkerSink sink) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(scheduler_.AddWorker(info.id, info.capacity));
  RETURN_IF_ERROR(store_->UpsertWorker(
      {info.id, info.name, info.capacity.gpus, info.capacity.cpu_slots,
       info.labels_json, "alive", clock_->NowMillis()}));
  std::vector<JobEvent> events;
  std::vector<int64_t> stop = scheduler_.Reconcile(info.id, running, &events);
  Apply(events);
  sinks_[info.id] = std::move(sink);
  Dispatch();
  return stop;
}

void Coordinator::DisconnectWorker(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  sinks_.erase(worker_id);
}

absl::Status Coordinator::Heartbeat(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  return scheduler_.Heartbeat(worker_id);
}

absl::Status Coordinator::ReportResult(const std::string& worker_id,
                                       int64_t attempt_id,
                                       AttemptOutcome outcome, int exit_code,
                                       const std::string& reason,
                                       const std::string& summary_json) {
  absl::MutexLock lock(&mu_);
  auto at = attempts_.find(attempt_id);
  if (at == attempts_.end() || at->second.worker_id != worker_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", attempt_id, " is not running on worker ",
                     worker_id, "; result ignored"));
  }
  at->second.exit_code = exit_code;
  const std::string job_id = at->second.job_id;
  ASSIGN_OR_RETURN(std::vector<JobEvent> events,
                   scheduler_.Complete(attempt_id, outcome, reason));
  if (outcome == AttemptOutcome::kSucceeded)
    jobs_[job_id].summary = summary_json;
  Apply(events);
  Dispatch();
  return absl::OkStatus();
}

absl::Status Coordinator::IngestMetrics(int64_t attempt_id,
                                        std::vector<MetricPoint> points) {
  absl::MutexLock lock(&mu_);
  auto at = attempts_.find(attempt_id);
  if (at == attempts_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "attempt ", attempt_id, " is not running; metrics ignored"));
  }
  for (MetricPoint& p :
       points) {  // the worker names the attempt; the job follows from it
    p.job_id = at->second.job_id;
    p.attempt_id = attempt_id;
  }
  RETURN_IF_ERROR(store_->AppendMetrics(points));
  observer_->OnMetricPoints(static_cast<int64_t>(points.size()));
  auto job = jobs_.find(at->second.job_id);
  if (job != jobs_.end()) {
    for (const MetricPoint& p : points) {
      WatchEvent e;
      e.type = WatchEvent::Type::kMetric;
      e.metric = p;
      Notify(job->second.experiment_id, e);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Coordinator::JobOfRunningAttempt(
    int64_t attempt_id) {
  absl::MutexLock lock(&mu_);
  auto at = attempts_.find(attempt_id);
  if (at == attempts_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", attempt_id, " is not running"));
  }
  return at->second.job_id;
}

void Coordinator::Tick() {
  absl::MutexLock lock(&mu_);
  Apply(scheduler_.Tick());
  Dispatch();
  ReportTotals();
}

void Coordinator::ReportTotals() {
  observer_->OnTotals(scheduler_.totals(), scheduler_.alive_workers(),
                      scheduler_.known_workers());
}

void Coordinator::Dispatch() {
  std::vector<JobEvent> events;
  const std::vector<Assignment> assignments = scheduler_.Schedule(&events);
  if (assignments.empty()) return;
  for (const Assignment& a : assignments) {
    JobRecord& j = jobs_[a.job_id];
    j.attempts = a.attempt_number;
    j.current_attempt = a.attempt_id;
    j.worker_id = a.worker_id;
    j.gpu_indices = a.gpu_indices;
    AttemptRecord& at = attempts_[a.attempt_id];
    at.id = a.attempt_id;
    at.job_id = a.job_id;
    at.worker_id = a.worker_id;
    at.number = a.attempt_number;
    at.started_ms = clock_->NowMillis();
  }
  Apply(events);  // persisted before any worker hears of it
  for (const Assignment& a : assignments) {
    auto sink = sinks_.find(a.worker_id);
    if (sink == sinks_.end())
      continue;  // the lease will expire and the job be retried
    WorkerCommand c;
    c.type = WorkerCommand::Type::kAssign;
    c.assignment = a;
    c.spec_json = jobs_[a.job_id].spec;
    c.kind = jobs_[a.job_id].kind;
    c.cpu_slots = jobs_[a.job_id].cpu_slots;
    sink->second(c);
  }
}

void Coordinator::Apply(const std::vector<JobEvent>& events) {
  std::vector<JobRecord> changed;
  std::vector<AttemptRecord> attempts;
  std::set<std::string> experiments;
  for (const JobEvent& e : events) {
    auto it = jobs_.find(e.job_id);
    if (it == jobs_.end()) continue;
    JobRecord& j = it->second;
    if (e.state == JobState::kQueued) {
      queued_since_ms_[e.job_id] = e.time_ms;
    } else if (e.state == JobState::kRunning) {
      auto q = queued_since_ms_.find(e.job_id);
      if (q != queued_since_ms_.end()) {
        observer_->OnDispatched(static_cast<double>(e.time_ms - q->second) /
                                1e3);
        queued_since_ms_.erase(q);
      }
    } else {
      queued_since_ms_.erase(e.job_id);
    }
    if (e.attempt_ended) observer_->OnAttemptEnded(e.attempt_outcome);
    j.state = JobStateName(e.state);
    j.reason = e.reason;
    j.updated_ms = e.time_ms;
    if (e.attempt_ended) {
      j.current_attempt = 0;
      auto at = attempts_.find(e.attempt_id);
      if (at != attempts_.end()) {
        at->second.outcome = OutcomeName(e.attempt_outcome);
        at->second.ended_ms = e.time_ms;
        at->second.reason = e.reason;
        attempts.push_back(at->second);
        attempts_.erase(at);
      }
    } else if (e.state == JobState::kRunning) {
      auto at = attempts_.find(e.attempt_id);
      if (at != attempts_.end()) attempts.push_back(at->second);
    }
    changed.push_back(j);
    experiments.insert(j.experiment_id);
  }
  if (!changed.empty()) {
    const auto t0 = std::chrono::steady_clock::now();
    absl::Status st = store_->UpdateJobs(changed, attempts);
    observer_->OnStoreWrite(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count(),
        static_cast<int64_t>(changed.size() + attempts.size()));
    if (!st.ok()) {
      // The scheduler is ahead of the store; a restart resumes from the store,
      // which is safe: unrecorded successes run again, nothing is recorded
      // twice.
      LOG(ERROR) << "store: cannot record " << changed.size()
                 << " job changes: " << st;
    }
  }
  for (const JobRecord& j : changed) {
    WatchEvent w;
    w.type = WatchEvent::Type::kJob;
    w.job = j;
    Notify(j.experiment_id, w);
  }
  for (const std::string& id : experiments) {
    const ExperimentProgress p = scheduler_.progress(id);
    if (!p.done()) continue;
    const std::string state = p.failed      ? "failed"
                              : p.cancelled ? "cancelled"
                                            : "succeeded";
    const std::string message =
        p.failed      ? absl::StrCat(p.failed, " of ", p.total, " jobs failed")
        : p.cancelled ? "cancelled"
                      : "";
    absl::Status st =
        store_->UpdateExperimentState(id, state, message, clock_->NowMillis());
    if (!st.ok())
      LOG(ERROR) << "store: cannot finish experiment " << id << ": " << st;
    absl::StatusOr<ExperimentRecord> e = store_->GetExperiment(id);
    if (e.ok()) {
      WatchEvent w;
      w.type = WatchEvent::Type::kFinished;
      w.experiment = *e;
      Notify(id, w);
    }
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      it = it->second.experiment_id == id ? jobs_.erase(it) : std::next(it);
    }
  }
}

}  // namespace ladle

#include "server/coordinator.h"

#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "spec/kind.h"

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
    case AttemptOutcome::kStopped:
      return "stopped";
  }
  return "failed";
}

// The stored end of an experiment whose jobs have all ended.
ExperimentStateChange FinalState(const std::string& id,
                                 const ExperimentProgress& p, int64_t now_ms) {
  if (p.failed) {
    return {id, "failed",
            absl::StrCat(p.failed, " of ", p.total, " jobs failed"), now_ms};
  }
  if (p.cancelled) return {id, "cancelled", "cancelled", now_ms};
  return {id, "succeeded", "", now_ms};
}

}  // namespace

JobRequest Coordinator::RequestOf(const JobRecord& j) {
  JobRequest r;
  r.id = j.id;
  r.experiment_id = j.experiment_id;
  r.priority = j.priority;
  r.resources = {j.gpus, j.cpu_slots, 0, j.ranks, j.gpu_share_milli};
  r.max_retries = j.max_retries;
  r.deps = j.deps;
  return r;
}

Coordinator::Coordinator(Options options, Store* store, const Clock* clock,
                         CoordinatorObserver* observer)
    : options_(options),
      store_(store),
      clock_(clock),
      observer_(observer != nullptr ? observer : &default_observer_),
      scheduler_(options.scheduler, clock) {
  CoordinatorObserver* obs = observer_;
  writer_ = std::make_unique<StoreWriter>(
      store, options.writer,
      [obs](double seconds, int64_t rows, int batches) {
        obs->OnStoreWrite(seconds, rows, batches);
      },
      [this] { AdmitCommitted(); });
  admit_thread_ = std::thread([this] { AdmitLoop(); });
}

Coordinator::~Coordinator() {
  writer_->Sync();  // every accepted experiment is stored and handed over...
  {
    absl::MutexLock lock(&admit_mu_);
    admit_stopping_ = true;
  }
  admit_thread_.join();  // ...and admitted (AdmitLoop drains before it ends)
  writer_.reset();       // what admitting wrote is committed
  // A submit that raced the shutdown is stored but was not admitted: its
  // caller still gets an answer (recovery schedules it on the next start).
  std::deque<Admission> late;
  std::vector<Admitted> admitted;  // by commits after admit_thread_ ended
  {
    absl::MutexLock lock(&admit_mu_);
    late.swap(admissions_);
    admitted.swap(to_answer_);
  }
  for (Admitted& a : admitted) Answer(a.group, a.outcomes);
  for (Admission& a : late) {
    a.done(a.stored.ok()
               ? absl::UnavailableError(
                     "ladle-server is shutting down; the experiment is "
                     "stored and runs when the server is back")
               : a.stored);
  }
}

std::string Coordinator::NewExperimentId() {
  absl::MutexLock lock(&id_mu_);
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
  const int64_t now_us = clock_->NowMicros();
  for (JobRecord& j : jobs) {
    ASSIGN_OR_RETURN(JobState state, ParseJobState(j.state));
    std::vector<Scheduler::RunningRank> ranks;
    JobRequest request = RequestOf(j);
    std::vector<AttemptRecord> attempts;
    if (j.attempts > 0) {
      ASSIGN_OR_RETURN(attempts, store_->ListAttempts(j.id));
      for (const AttemptRecord& a : attempts)
        request.stopped_attempts += a.outcome == "stopped";
    }
    if (state == JobState::kRunning) {
      // The current attempt's ranks that had not ended (a gang's are
      // rank 0's id + rank).
      for (const AttemptRecord& a : attempts) {
        if (j.ranks <= 1 && a.id == j.current_attempt) attempts_[a.id] = a;
        if (j.ranks <= 1 || a.id < j.current_attempt ||
            a.id >= j.current_attempt + j.ranks || !a.outcome.empty())
          continue;
        attempts_[a.id] = a;
        ranks.push_back({a.id, a.worker_id, a.gpu_indices, a.rank});
      }
      if (j.ranks <= 1)
        ranks.push_back({j.current_attempt, j.worker_id, j.gpu_indices, 0});
    }
    if (state == JobState::kQueued) queued_since_us_[j.id] = now_us;
    RETURN_IF_ERROR(scheduler_.Restore(request, state, j.attempts,
                                       j.current_attempt, ranks));
    experiments.insert(j.experiment_id);
    experiment_jobs_[j.experiment_id].push_back(j.id);
    std::string().swap(j.spec);  // read from the store at dispatch
    jobs_[j.id] = std::move(j);
  }
  scheduler_.SetNextAttemptId(max_attempt + 1);
  WriteBatch finished;
  RETURN_IF_ERROR(RecoverSearches(experiments, now_us, &finished));
  // Experiments whose last job ended just before a crash still need their final
  // state.
  for (const std::string& e : experiments) {
    const ExperimentProgress p = scheduler_.progress(e);
    if (!p.done() || !SearchFinished(e)) continue;
    finished.experiment_states.push_back(
        searches_.count(e) ? SearchFinalState(e, p, clock_->NowMillis())
                           : FinalState(e, p, clock_->NowMillis()));
    ForgetExperiment(e);
  }
  RETURN_IF_ERROR(writer_->Write(std::move(finished)));
  LOG(INFO) << "recovered " << jobs_.size() << " jobs of " << experiments.size()
            << " running experiments; next attempt id " << max_attempt + 1;
  return absl::OkStatus();
}

absl::StatusOr<ExperimentRecord> Coordinator::Cancel(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(ExperimentRecord e, store_->GetExperiment(id));
    if (e.state != "running") return e;  // already ended: nothing to do
    if (auto run = searches_.find(id); run != searches_.end()) {
      run->second->Cancel();  // starts nothing more, after a restart too
      WriteBatch cancelled;
      cancelled.search_states.push_back({id, kSearchCancelled});
      writer_->Enqueue(std::move(cancelled));
    }
    std::vector<Assignment> to_stop;
    std::vector<JobEvent> events = scheduler_.Cancel(id, &to_stop);
    std::vector<WorkerCommand> commands;
    for (const Assignment& a : to_stop) {
      WorkerCommand c;
      c.type = WorkerCommand::Type::kCancel;
      c.assignment = a;
      c.reason = "experiment cancelled";
      commands.push_back(std::move(c));
    }
    Apply(events, std::move(commands));
  }
  writer_->Sync();  // the reply shows the stored outcome
  return store_->GetExperiment(id);
}

std::vector<ShapeDemand> Coordinator::QueueDemand() {
  absl::MutexLock lock(&mu_);
  return scheduler_.Demand();
}

std::map<std::string, int> Coordinator::RunningAttempts() {
  absl::MutexLock lock(&mu_);
  return scheduler_.AttemptsPerWorker();
}

int Coordinator::Watch(const std::string& experiment_id, WatchSink sink) {
  absl::MutexLock lock(&delivery_mu_);
  const int token = next_watch_token_++;
  watchers_.emplace(experiment_id, std::make_pair(token, std::move(sink)));
  return token;
}

void Coordinator::Unwatch(int token) {
  absl::MutexLock lock(&delivery_mu_);
  for (auto it = watchers_.begin(); it != watchers_.end(); ++it) {
    if (it->second.first == token) {
      watchers_.erase(it);
      return;
    }
  }
}

void Coordinator::Notify(const std::string& experiment_id,
                         const WatchEvent& e) {
  absl::MutexLock lock(&delivery_mu_);
  auto [begin, end] = watchers_.equal_range(experiment_id);
  for (auto it = begin; it != end; ++it) it->second.second(e);
}

bool Coordinator::Watched(const std::string& experiment_id) {
  absl::MutexLock lock(&delivery_mu_);
  return watchers_.count(experiment_id) > 0;
}

void Coordinator::Deliver(const std::vector<WorkerCommand>& commands) {
  absl::MutexLock lock(&delivery_mu_);
  for (const WorkerCommand& c : commands) {
    auto sink = sinks_.find(c.assignment.worker_id);
    // Not connected: a lease ends the attempt (assign) or it is gone (cancel).
    if (sink != sinks_.end()) sink->second.sink(c);
  }
}

absl::StatusOr<std::vector<int64_t>> Coordinator::ConnectWorker(
    const WorkerInfo& info, const std::vector<int64_t>& running,
    WorkerSink sink, uint64_t* session) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(scheduler_.AddWorker(info.id, info.capacity));
  workers_[info.id] = info;
  draining_.erase(info.id);
  drained_.erase(info.id);
  WriteWorkerState(info, "alive");
  std::vector<JobEvent> events;
  std::vector<int64_t> stop = scheduler_.Reconcile(info.id, running, &events);
  Apply(events);
  {
    absl::MutexLock delivery(&delivery_mu_);
    const uint64_t id = next_session_++;
    sinks_[info.id] = SinkEntry{id, std::move(sink)};
    if (session != nullptr) *session = id;
  }
  // Ranks it still runs whose gang's port is known: told again (the first
  // telling may have found the worker away).
  std::vector<WorkerCommand> ports;
  for (int64_t a : running) {
    auto at = attempts_.find(a);
    if (at == attempts_.end() || at->second.rank == 0 ||
        at->second.worker_id != info.id)
      continue;
    auto port = gang_ports_.find(a - at->second.rank);
    if (port != gang_ports_.end())
      ports.push_back(RendezvousCommand(at->second, port->second));
  }
  if (!ports.empty()) Apply({}, std::move(ports));
  Dispatch();
  return stop;
}

void Coordinator::DisconnectWorker(const std::string& worker_id,
                                   uint64_t session) {
  {
    absl::MutexLock lock(&delivery_mu_);
    auto it = sinks_.find(worker_id);
    if (it == sinks_.end() || it->second.session != session) return;
    sinks_.erase(it);
  }
  absl::MutexLock lock(&mu_);
  auto w = workers_.find(worker_id);
  if (draining_.erase(worker_id) > 0 && w != workers_.end()) {
    drained_.insert(worker_id);
    WriteWorkerState(w->second, "drained");  // it left after its drain
  }
}

absl::Status Coordinator::DrainWorker(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(scheduler_.DrainWorker(worker_id));
  auto w = workers_.find(worker_id);
  if (w == workers_.end()) return absl::OkStatus();
  draining_.insert(worker_id);
  WriteWorkerState(w->second, "draining");
  LOG(INFO) << "worker " << worker_id << " drains: nothing new is placed there";
  return absl::OkStatus();
}

void Coordinator::WriteWorkerState(const WorkerInfo& info,
                                   const std::string& state) {
  WriteBatch batch;
  batch.workers.push_back({info.id, info.name, info.capacity.gpus,
                           info.capacity.cpu_slots, info.labels_json, state,
                           clock_->NowMillis()});
  writer_->Enqueue(std::move(batch));
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
  const int rank = at->second.rank;
  ASSIGN_OR_RETURN(std::vector<JobEvent> events,
                   scheduler_.Complete(attempt_id, outcome, reason));
  // A gang's summary is rank 0's (the job may be gone: a late peer).
  auto job = jobs_.find(job_id);
  if (outcome == AttemptOutcome::kSucceeded && rank == 0 && job != jobs_.end())
    job->second.summary = summary_json;
  Apply(events);
  Dispatch();
  return absl::OkStatus();
}

absl::Status Coordinator::IngestMetrics(int64_t attempt_id,
                                        std::vector<MetricPoint> points) {
  std::string experiment_id;
  {
    absl::MutexLock lock(&mu_);
    auto at = attempts_.find(attempt_id);
    if (at == attempts_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "attempt ", attempt_id, " is not running; metrics ignored"));
    }
    // The worker names the attempt; the job follows from it.
    for (MetricPoint& p : points) {
      p.job_id = at->second.job_id;
      p.attempt_id = attempt_id;
    }
    auto job = jobs_.find(at->second.job_id);
    if (job != jobs_.end()) {
      experiment_id = job->second.experiment_id;
      if (!searches_.empty()) WatchSearchCurve(job->second, points);
    }
  }
  if (points.empty()) return absl::OkStatus();
  // Not awaited: a metric batch is acknowledged by nobody, and waiting would
  // only slow the worker's stream. Watchers see points once stored.
  auto batch = std::make_shared<WriteBatch>();
  batch->metrics = std::move(points);
  WriteBatch to_store = *batch;  // the callback keeps its own copy to publish
  writer_->Enqueue(std::move(to_store), [this, batch, experiment_id](
                                            const absl::Status& st) {
    if (!st.ok()) {
      LOG(ERROR) << "store: cannot record " << batch->metrics.size()
                 << " metric points: " << st;
      return;
    }
    observer_->OnMetricPoints(static_cast<int64_t>(batch->metrics.size()));
    if (!experiment_id.empty() && !batch->metrics.empty()) {
      observer_->OnJobMetrics(experiment_id, batch->metrics.front().job_id,
                              batch->metrics);
    }
    if (experiment_id.empty()) return;
    absl::MutexLock lock(&delivery_mu_);
    auto [begin, end] = watchers_.equal_range(experiment_id);
    if (begin == end) return;
    for (const MetricPoint& p : batch->metrics) {
      WatchEvent e;
      e.type = WatchEvent::Type::kMetric;
      e.metric = p;
      for (auto it = begin; it != end; ++it) it->second.second(e);
    }
  });
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
  RetrySearchWrites();
  RetryUndelivered();
  Apply(scheduler_.Tick());
  for (const std::string& id : scheduler_.TakeLostWorkers()) {
    auto w = workers_.find(id);
    if (w == workers_.end()) continue;
    draining_.erase(id);
    // A drained worker that left stays recorded drained, not lost.
    if (drained_.erase(id) == 0) WriteWorkerState(w->second, "lost");
  }
  Dispatch();
  ReportTotals();
}

void Coordinator::Sync() { writer_->Sync(); }

void Coordinator::ForgetExperiment(const std::string& id) {
  auto ids = experiment_jobs_.find(id);
  if (ids != experiment_jobs_.end()) {
    for (const std::string& j : ids->second) {
      jobs_.erase(j);
      queued_since_us_.erase(j);
      live_curves_.erase(j);
    }
    experiment_jobs_.erase(ids);
  }
  searches_.erase(id);
  absl::Status st = scheduler_.Forget(id);
  if (!st.ok()) LOG(ERROR) << "forget " << id << ": " << st;
}

void Coordinator::RetryUndelivered() {
  std::vector<int64_t> undelivered;
  {
    absl::MutexLock lock(&delivery_mu_);
    undelivered.swap(undelivered_);
  }
  for (int64_t id : undelivered) {
    absl::StatusOr<std::vector<JobEvent>> events = scheduler_.Complete(
        id, AttemptOutcome::kLost, "its assignment could not be stored");
    if (events.ok()) Apply(*events);
  }
}

void Coordinator::ReportTotals() {
  observer_->OnTotals(scheduler_.totals(), scheduler_.alive_workers(),
                      scheduler_.known_workers());
}

bool Coordinator::Dispatch() {
  std::vector<JobEvent> events;
  const auto pass_start = std::chrono::steady_clock::now();
  const std::vector<Assignment> assignments = scheduler_.Schedule(&events);
  if (assignments.empty()) return false;
  observer_->OnSchedulingPass(std::chrono::duration<double>(
                                  std::chrono::steady_clock::now() - pass_start)
                                  .count(),
                              static_cast<int>(assignments.size()));
  std::vector<WorkerCommand> commands;
  commands.reserve(assignments.size());
  for (const Assignment& a : assignments) {
    JobRecord& j = jobs_[a.job_id];
    if (a.rank == 0) {  // the job's record follows rank 0
      j.attempts = a.attempt_number;
      j.current_attempt = a.attempt_id;
      j.worker_id = a.worker_id;
      j.gpu_indices = a.gpu_indices;
    }
    AttemptRecord& at = attempts_[a.attempt_id];
    at.id = a.attempt_id;
    at.job_id = a.job_id;
    at.worker_id = a.worker_id;
    at.number = a.attempt_number;
    at.started_ms = clock_->NowMillis();
    at.rank = a.rank;
    at.gpu_indices = a.gpu_indices;
    // A gang's ranks come in a row and differ only in their assignment: its
    // spec, inputs and checkpoint are read once.
    if (a.rank > 0 && !commands.empty() &&
        commands.back().assignment.job_id == a.job_id) {
      WorkerCommand c = commands.back();
      c.assignment = a;
      commands.push_back(std::move(c));
    } else {
      commands.push_back(AssignCommand(a));
    }
  }
  Apply(events, std::move(commands));  // durable before any worker hears of it
  return true;
}

WorkerCommand Coordinator::AssignCommand(const Assignment& a) {
  JobRecord& j = jobs_[a.job_id];
  WorkerCommand c;
  c.type = WorkerCommand::Type::kAssign;
  c.assignment = a;
  if (!j.spec.empty()) {  // a search's new segment (maybe not committed yet)
    c.spec_json = std::move(j.spec);
    j.spec.clear();
  } else if (absl::StatusOr<std::string> spec = store_->GetJobSpec(j.id);
             spec.ok()) {
    c.spec_json = std::move(*spec);
  } else {
    // The child then fails on an empty spec and the attempt is retried.
    LOG(ERROR) << "dispatch of " << j.id
               << ": cannot read its spec: " << spec.status();
  }
  c.kind = j.kind;
  c.cpu_slots = j.cpu_slots;
  c.gpu_share_milli = j.gpu_share_milli;
  c.timeout_seconds = j.timeout_seconds;
  auto q = queued_since_us_.find(a.job_id);
  if (q != queued_since_us_.end()) c.queued_at_us = q->second;
  if (a.world_size > 1) {
    // Rank 0's worker as the others reach it (every rank's is alive: the
    // scheduler just placed the gang).
    auto w = workers_.find(j.worker_id);
    c.master_addr = w != workers_.end() ? w->second.address : "127.0.0.1";
  }
  // Outputs of the dependencies (they succeeded, so their uploads are
  // stored), placed under inputs/<dependency index>/.
  for (const std::string& dep : j.deps) {
    auto d = jobs_.find(dep);
    absl::StatusOr<std::vector<ArtifactRecord>> artifacts =
        store_->ListArtifacts(dep);
    if (d == jobs_.end() || !artifacts.ok()) continue;
    for (ArtifactRecord& art : *artifacts) {
      c.inputs.push_back(
          {art, absl::StrFormat("inputs/%04d/%s", d->second.index, art.name)});
    }
  }
  // A retry resumes from the latest checkpoint its job uploaded.
  if (a.attempt_number > 1) {
    absl::StatusOr<std::vector<ArtifactRecord>> own =
        store_->ListArtifacts(j.id);
    for (ArtifactRecord& art : own.ok() ? *own : std::vector<ArtifactRecord>{})
      if (art.name == kCheckpointArtifact)
        c.checkpoint = {std::move(art), kCheckpointArtifact};
  }
  // A promoted segment of a search continues its trial's previous one.
  if (c.checkpoint.path.empty() && !j.resume_from.empty())
    c.checkpoint = ResumeCheckpoint(j);
  return c;
}

absl::Status Coordinator::Rendezvous(const std::string& worker_id,
                                     int64_t attempt_id, int port) {
  absl::MutexLock lock(&mu_);
  auto at = attempts_.find(attempt_id);
  if (at == attempts_.end() || at->second.worker_id != worker_id ||
      at->second.rank != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", attempt_id, " is not a running rank 0 on ",
                     worker_id, "; rendezvous ignored"));
  }
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("rendezvous.port: ", port, " is not in [1, 65535]"));
  }
  const JobRecord& j = jobs_[at->second.job_id];
  gang_ports_[attempt_id] = port;  // for ranks whose worker reconnects later
  std::vector<WorkerCommand> commands;
  for (int r = 1; r < j.ranks; ++r) {
    auto peer = attempts_.find(attempt_id + r);
    if (peer == attempts_.end() || peer->second.job_id != j.id) continue;
    commands.push_back(RendezvousCommand(peer->second, port));
  }
  Apply({}, std::move(commands));  // in order after the ranks' assignments
  return absl::OkStatus();
}

WorkerCommand Coordinator::RendezvousCommand(const AttemptRecord& rank,
                                             int port) {
  WorkerCommand c;
  c.type = WorkerCommand::Type::kRendezvous;
  c.assignment.attempt_id = rank.id;
  c.assignment.job_id = rank.job_id;
  c.assignment.worker_id = rank.worker_id;
  c.master_port = port;
  return c;
}

const JobRecord* Coordinator::RecordEvent(
    const JobEvent& e, int64_t now_us, WriteBatch* batch,
    std::vector<std::string>* stopped,
    std::vector<JobRequest>* search_requests) {
  if (e.rank_only) {  // one rank of a gang started or ended; the job is as
                      // it was (or ended and forgotten: a stopped peer)
    auto at = attempts_.find(e.attempt_id);
    if (at == attempts_.end()) return nullptr;
    if (e.attempt_ended) {
      observer_->OnAttemptEnded(e.attempt_outcome);
      at->second.outcome = OutcomeName(e.attempt_outcome);
      at->second.ended_ms = e.time_ms;
      at->second.reason = e.reason;
      batch->attempts.push_back(at->second);
      attempts_.erase(at);
    } else {
      batch->attempts.push_back(at->second);
    }
    return nullptr;
  }
  auto it = jobs_.find(e.job_id);
  if (it == jobs_.end()) return nullptr;
  JobRecord& j = it->second;
  if (e.state == JobState::kQueued) {
    queued_since_us_[e.job_id] = now_us;
  } else if (e.state == JobState::kRunning) {
    auto q = queued_since_us_.find(e.job_id);
    if (q != queued_since_us_.end()) {
      observer_->OnDispatched(static_cast<double>(now_us - q->second) / 1e6);
      queued_since_us_.erase(q);
    }
  } else {
    queued_since_us_.erase(e.job_id);
  }
  if (e.attempt_ended) {
    observer_->OnAttemptEnded(e.attempt_outcome);
    stopped->push_back(e.job_id);
  }
  // A job submitted without dependencies was stored as queued already.
  const bool stored_as_is = !e.attempt_ended && e.state != JobState::kRunning &&
                            j.state == JobStateName(e.state) &&
                            j.reason == e.reason;
  j.state = JobStateName(e.state);
  j.reason = e.reason;
  j.updated_ms = e.time_ms;
  if (e.attempt_ended) {
    gang_ports_.erase(j.current_attempt);  // the gang (if one) ended
    j.current_attempt = 0;
    auto at = attempts_.find(e.attempt_id);
    if (at != attempts_.end()) {
      at->second.outcome = OutcomeName(e.attempt_outcome);
      at->second.ended_ms = e.time_ms;
      at->second.reason = e.reason;
      batch->attempts.push_back(at->second);
      attempts_.erase(at);
    }
  } else if (e.state == JobState::kRunning) {
    auto at = attempts_.find(e.attempt_id);
    if (at != attempts_.end()) batch->attempts.push_back(at->second);
  }
  if (j.trial >= 0 && IsTerminal(e.state))
    RecordSearchResult(j, batch, search_requests);
  if (!stored_as_is) batch->job_updates.push_back(j);
  return &j;
}

void Coordinator::AfterApplied(const absl::Status& st, const WriteBatch& batch,
                               const std::vector<std::string>& finished,
                               const std::vector<WorkerCommand>& commands,
                               const std::vector<std::string>& stopped) {
  for (const std::string& job : stopped) observer_->OnJobStopped(job);
  if (!st.ok()) {
    // The scheduler is ahead of the store. Assignments that
    // were not stored are not delivered (their attempt ids
    // could be reused after a restart) and get retried;
    // other changes are re-derived on restart, which is
    // safe: unrecorded successes run again, nothing is
    // recorded twice.
    LOG(ERROR) << "store: cannot record " << batch.rows()
               << " job changes: " << st;
    KeepSearchWrites(batch);
    std::vector<WorkerCommand> cancels;
    {
      absl::MutexLock lock(&delivery_mu_);
      for (const WorkerCommand& c : commands) {
        if (c.type == WorkerCommand::Type::kAssign) {
          undelivered_.push_back(c.assignment.attempt_id);
        } else {
          cancels.push_back(c);  // stopping is always safe
        }
      }
    }
    Deliver(cancels);
    return;
  }
  Deliver(commands);
  // Events are built (and finished experiments read back)
  // only for watched experiments: most have no watcher.
  for (const JobRecord& j : batch.job_updates) {
    if (!Watched(j.experiment_id)) continue;
    WatchEvent w;
    w.type = WatchEvent::Type::kJob;
    w.job = j;
    Notify(j.experiment_id, w);
  }
  for (const std::string& id : finished) {
    if (!Watched(id)) continue;
    absl::StatusOr<ExperimentRecord> e = store_->GetExperiment(id);
    if (!e.ok()) continue;
    WatchEvent w;
    w.type = WatchEvent::Type::kFinished;
    w.experiment = *e;
    Notify(id, w);
  }
}

void Coordinator::Apply(const std::vector<JobEvent>& events,
                        std::vector<WorkerCommand> commands) {
  // Ranks of gangs that ended with these events: stopped like a cancel.
  for (Assignment& stop : scheduler_.TakeStops()) {
    WorkerCommand c;
    c.type = WorkerCommand::Type::kCancel;
    c.reason = "another rank of its gang ended";
    c.assignment = std::move(stop);
    commands.push_back(std::move(c));
  }
  auto batch = std::make_shared<WriteBatch>();
  std::set<std::string> experiments;
  // Jobs whose attempt ended: their live metrics are dropped after the
  // commit, so after any metric batch queued before (writer-thread order).
  std::vector<std::string> stopped;
  const int64_t now_us = clock_->NowMicros();
  std::vector<JobRequest> search_requests;  // segments the results started
  for (const JobEvent& e : events) {
    if (const JobRecord* j =
            RecordEvent(e, now_us, batch.get(), &stopped, &search_requests))
      experiments.insert(j->experiment_id);
  }
  QueueSegments(search_requests, now_us, batch.get());
  std::vector<std::string> finished;
  for (const std::string& id : experiments) {
    const ExperimentProgress p = scheduler_.progress(id);
    if (!p.done() || !SearchFinished(id)) continue;
    batch->experiment_states.push_back(
        searches_.count(id) ? SearchFinalState(id, p, clock_->NowMillis())
                            : FinalState(id, p, clock_->NowMillis()));
    finished.push_back(id);
    ForgetExperiment(id);
  }
  if (batch->empty() && commands.empty()) return;
  WriteBatch to_store = *batch;
  writer_->Enqueue(std::move(to_store),
                   [this, batch, finished = std::move(finished),
                    commands = std::move(commands),
                    stopped = std::move(stopped)](const absl::Status& st) {
                     AfterApplied(st, *batch, finished, commands, stopped);
                   });
}

}  // namespace ladle

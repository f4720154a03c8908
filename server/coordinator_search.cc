// The coordinator's searches: results in, new segments out, in the same
// durable write (see coordinator.h and search/search_run.h).
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "server/coordinator.h"
#include "spec/kind.h"
#include "spec/search_table.h"

namespace ladle {

void Coordinator::RecordSearchResult(JobRecord& j, WriteBatch* batch,
                                     std::vector<JobRequest>* requests) {
  auto run = searches_.find(j.experiment_id);
  if (run == searches_.end() || j.result_seq >= 0) return;
  const std::string& metric = run->second->search().metric;
  MetricCurve curve;
  const bool median = run->second->stops_early();
  const double from_summary =
      j.state == "succeeded" ? SearchValue(j.summary, metric, {}) : NAN;
  if (auto live = live_curves_.find(j.id); live != live_curves_.end()) {
    curve = std::move(live->second);  // all it reported, stored or in flight
    live_curves_.erase(live);
  } else if (median || (j.state == "succeeded" && std::isnan(from_summary))) {
    curve = StoredCurve(j.id, metric);
  }
  // A failed segment has no value; one stopped early, its last point.
  const double value = j.state == "failed"         ? NAN
                       : !std::isnan(from_summary) ? from_summary
                       : curve.empty()             ? NAN
                                                   : curve.back().second;
  int64_t seq = -1;
  absl::StatusOr<std::vector<SearchSegment>> next =
      run->second->OnResult(j.index, value, curve, &seq);
  if (seq < 0) return;  // not a segment of it
  j.result_seq = seq;
  j.result_value = value;
  if (!next.ok()) {
    // The searcher's next point does not plan (a kind's check the probe point
    // passed): stop the search rather than loop on it.
    LOG(ERROR) << "search " << j.experiment_id
               << ": cannot plan its next trials, so it starts no more: "
               << next.status();
    run->second->Close();
    batch->search_states.push_back({j.experiment_id, kSearchClosed});
    return;
  }
  AddSegments(j.experiment_id, *std::move(next), batch, requests);
}

void Coordinator::AddSegments(const std::string& e,
                              std::vector<SearchSegment> segments,
                              WriteBatch* batch,
                              std::vector<JobRequest>* requests) {
  auto run = searches_.find(e);
  if (segments.empty() || run == searches_.end()) return;
  const ExperimentSpec& spec = run->second->spec();
  std::vector<std::string>& ids = experiment_jobs_[e];
  const int64_t now = clock_->NowMillis();
  for (SearchSegment& s : segments) {
    JobRecord j = JobOf(s.job, spec, e, s.job.params.dump(), now, &s);
    j.spec = std::move(s.job.spec);
    requests->push_back(RequestOf(j));
    batch->new_jobs.push_back(j);
    ids.push_back(j.id);
    // Keeps its spec until dispatched: the write that adds it may not have
    // committed when the scheduler places it.
    jobs_[j.id] = std::move(j);
  }
}

void Coordinator::QueueSegments(const std::vector<JobRequest>& requests,
                                int64_t now_us, WriteBatch* batch) {
  if (requests.empty()) return;
  absl::StatusOr<std::vector<JobEvent>> events = scheduler_.Submit(requests);
  std::vector<std::string> stopped;
  std::vector<JobRequest> none;
  if (events.ok()) {
    for (const JobEvent& e : *events)
      RecordEvent(e, now_us, batch, &stopped, &none);
    return;
  }
  // Never expected (the ids are new): stored failed rather than left queued
  // where nothing runs them.
  LOG(ERROR) << "search: cannot queue " << requests.size()
             << " segments: " << events.status();
  for (JobRecord& j : batch->new_jobs) {
    for (const JobRequest& r : requests) {
      if (r.id != j.id) continue;
      j.state = "failed";
      j.reason = absl::StrCat("cannot be queued: ", events.status().message());
      jobs_.erase(j.id);
    }
  }
}

absl::StatusOr<SearchRun*> Coordinator::RunningSearch(const std::string& id) {
  if (auto run = searches_.find(id); run != searches_.end())
    return run->second.get();
  ASSIGN_OR_RETURN(const ExperimentRecord e, store_->GetExperiment(id));
  if (e.state != "running") {
    return absl::FailedPreconditionError(
        absl::StrCat("experiment ", id, " has ended (", e.state, ")"));
  }
  if (experiment_jobs_.count(id) == 0) {
    // Running without a job: an external search that no trial was added to
    // before a restart. Its searcher comes back now.
    WriteBatch unused;
    std::vector<JobRequest> none;
    absl::StatusOr<ExperimentSpec> spec =
        ParseExperimentSpec(e.spec, options_.parse);
    if (spec.ok() && spec->has_search) {
      RETURN_IF_ERROR(RecoverSearch(e, {}, &unused, &none));
      return searches_.at(id).get();
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "experiment ", id, " is not a search (it has no search: section)"));
}

absl::StatusOr<std::vector<JobRecord>> Coordinator::AddedBefore(
    const std::string& id, const std::string& request_id, size_t count) {
  std::vector<JobRecord> found;
  if (request_id.empty()) return found;
  for (const std::string& j : experiment_jobs_[id]) {
    const JobRecord& job = jobs_.at(j);
    if (job.request_id != request_id) continue;
    found.push_back(job);
    found.back().spec.clear();
  }
  if (!found.empty() && found.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request_id: '", request_id, "' added ", found.size(), " trials to ",
        id, ", not ", count,
        "; a retry must send the same trials, and a new call a new id"));
  }
  return found;
}

absl::StatusOr<std::vector<JobRecord>> Coordinator::AddTrials(
    const std::string& id, const std::vector<std::string>& params_json,
    const std::string& request_id) {
  if (params_json.empty())
    return absl::InvalidArgumentError("params: give at least one trial");
  std::vector<nlohmann::json> points;
  for (size_t i = 0; i < params_json.size(); ++i) {
    points.push_back(nlohmann::json::parse(params_json[i], nullptr, false));
    if (points.back().is_discarded()) {
      return absl::InvalidArgumentError(
          absl::StrCat("params_json[", i, "]: not valid JSON"));
    }
  }
  auto committed = std::make_shared<absl::Notification>();
  auto stored = std::make_shared<absl::Status>();
  std::vector<JobRecord> added;
  bool retry = false;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(SearchRun * run, RunningSearch(id));
    ASSIGN_OR_RETURN(added, AddedBefore(id, request_id, points.size()));
    retry = !added.empty();
    if (!retry) {
      RETURN_IF_ERROR(AddTrialsLocked(id, run, points, request_id, committed,
                                      stored, &added));
    }
  }
  if (retry) {  // the first call's trials, once stored
    writer_->Sync();
    return added;
  }
  committed->WaitForNotification();  // durable before the reply
  RETURN_IF_ERROR(*stored);
  return added;
}

absl::Status Coordinator::AddTrialsLocked(
    const std::string& id, SearchRun* run,
    const std::vector<nlohmann::json>& points, const std::string& request_id,
    std::shared_ptr<absl::Notification> committed,
    std::shared_ptr<absl::Status> stored, std::vector<JobRecord>* added) {
  const size_t jobs = experiment_jobs_[id].size();
  if (static_cast<int64_t>(jobs + points.size()) > options_.parse.max_jobs) {
    return absl::FailedPreconditionError(absl::StrCat(
        "params_json: ", jobs, " jobs plus ", points.size(),
        " would pass the server's limit of ", options_.parse.max_jobs,
        " per experiment (--max_jobs_per_experiment)"));
  }
  ASSIGN_OR_RETURN(std::vector<SearchSegment> segments, run->AddTrials(points));
  WriteBatch batch;
  std::vector<JobRequest> requests;
  AddSegments(id, std::move(segments), &batch, &requests);
  for (JobRecord& j : batch.new_jobs) {
    j.request_id = request_id;
    jobs_.at(j.id).request_id = request_id;
  }
  QueueSegments(requests, clock_->NowMicros(), &batch);
  for (const JobRecord& j : batch.new_jobs) {
    added->push_back(j);
    added->back().spec.clear();
  }
  writer_->Enqueue(std::move(batch),
                   [committed, stored](const absl::Status& st) {
                     *stored = st;
                     committed->Notify();
                   });
  Dispatch();
  return absl::OkStatus();
}

absl::StatusOr<ExperimentRecord> Coordinator::CloseSearch(
    const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(SearchRun * run, RunningSearch(id));
    WriteBatch batch;
    if (!run->closed()) {
      run->Close();
      batch.search_states.push_back({id, kSearchClosed});
    }
    // Nothing runs: it ends now (else with its last job).
    const ExperimentProgress p = scheduler_.progress(id);
    if (p.total == 0 || p.done()) {
      batch.experiment_states.push_back(
          SearchFinalState(id, p, clock_->NowMillis()));
      ForgetExperiment(id);
    }
    writer_->Enqueue(std::move(batch));
  }
  writer_->Sync();  // the reply shows the stored outcome
  return store_->GetExperiment(id);
}

bool Coordinator::SearchFinished(const std::string& id) const {
  auto run = searches_.find(id);
  return run == searches_.end() || run->second->finished();
}

ExperimentStateChange Coordinator::SearchFinalState(const std::string& id,
                                                    const ExperimentProgress& p,
                                                    int64_t now_ms) const {
  auto run = searches_.find(id);
  const int64_t trials = run->second->trials_started();
  const std::string counts = absl::StrCat(
      trials, " trials in ", p.total, " segments: ", p.succeeded, " succeeded",
      p.failed ? absl::StrCat(", ", p.failed, " failed") : "",
      p.cancelled ? absl::StrCat(", ", p.cancelled, " stopped") : "");
  if (run->second->cancelled()) {
    return {id, "cancelled", absl::StrCat("cancelled after ", counts), now_ms};
  }
  if (p.succeeded == 0)
    return {id, "failed", absl::StrCat("no trial succeeded: ", counts), now_ms};
  return {id, "succeeded", counts, now_ms};
}

namespace {

// Appends `step, value`; a retried attempt repeats steps: the latest point of
// a step counts.
void AddPoint(MetricCurve* curve, int64_t step, double value) {
  while (!curve->empty() && curve->back().first >= step) curve->pop_back();
  curve->emplace_back(step, value);
}

}  // namespace

void Coordinator::WatchSearchCurve(const JobRecord& j,
                                   const std::vector<MetricPoint>& points) {
  if (j.trial < 0 || j.state != "running") return;
  auto run = searches_.find(j.experiment_id);
  if (run == searches_.end() || !run->second->stops_early()) return;
  const std::string& metric = run->second->search().metric;
  auto [curve, fresh] = live_curves_.try_emplace(j.id);
  if (fresh) curve->second = StoredCurve(j.id, metric);  // after a restart
  bool added = false;
  for (const MetricPoint& p : points) {
    if (p.name != metric) continue;
    AddPoint(&curve->second, p.step, p.value);
    added = true;
  }
  if (!added || !run->second->ShouldStop(curve->second)) return;
  const std::string reason = absl::StrFormat(
      "stopped early at step %d: its %s is %s the median of the completed "
      "trials' (median stopping rule)",
      curve->second.back().first, metric,
      run->second->search().maximize ? "below" : "above");
  std::vector<Assignment> to_stop;
  std::vector<JobEvent> events = scheduler_.CancelJob(j.id, reason, &to_stop);
  std::vector<WorkerCommand> commands;
  for (const Assignment& a : to_stop) {
    WorkerCommand c;
    c.type = WorkerCommand::Type::kCancel;
    c.assignment = a;
    c.reason = reason;
    commands.push_back(std::move(c));
  }
  LOG(INFO) << "search " << j.experiment_id << ": " << j.id << " " << reason;
  Apply(events, std::move(commands));
}

MetricCurve Coordinator::StoredCurve(const std::string& job_id,
                                     const std::string& metric) {
  MetricCurve curve;
  absl::StatusOr<std::vector<MetricPoint>> points = store_->GetMetrics(job_id);
  if (!points.ok()) {
    LOG(WARNING) << "search: cannot read the metrics of " << job_id << ": "
                 << points.status();
    return curve;
  }
  for (const MetricPoint& p : *points)
    if (p.name == metric) AddPoint(&curve, p.step, p.value);
  return curve;
}

absl::Status Coordinator::RecoverSearches(
    const std::set<std::string>& experiments, int64_t now_us,
    WriteBatch* batch) {
  std::vector<JobRequest> requests;
  for (const std::string& id : experiments) {
    std::vector<const JobRecord*> jobs;
    bool search = false;
    for (const std::string& j : experiment_jobs_[id]) {
      jobs.push_back(&jobs_.at(j));
      search = search || jobs.back()->trial >= 0;
    }
    if (!search) continue;
    ASSIGN_OR_RETURN(const ExperimentRecord e, store_->GetExperiment(id));
    if (absl::Status st = RecoverSearch(e, jobs, batch, &requests); !st.ok()) {
      // Its jobs still run and end; it starts no more (and says why).
      LOG(ERROR) << "search " << id << " cannot resume its searcher: " << st;
    }
  }
  QueueSegments(requests, now_us, batch);
  return absl::OkStatus();
}

absl::Status Coordinator::RecoverSearch(
    const ExperimentRecord& e, const std::vector<const JobRecord*>& jobs,
    WriteBatch* batch, std::vector<JobRequest>* requests) {
  ASSIGN_OR_RETURN(ExperimentSpec spec,
                   ParseExperimentSpec(e.spec, options_.parse));
  spec.code_sha256 = e.code_sha256;
  ASSIGN_OR_RETURN(std::unique_ptr<SearchRun> run, SearchRun::Create(spec));
  const bool median =
      spec.search.algorithm == SearchSpec::Algorithm::kMedianStop ||
      spec.search.median_stop_rule;
  std::vector<StoredSegment> stored;
  for (const JobRecord* j : jobs) {
    if (j->trial < 0) continue;
    StoredSegment s;
    s.index = j->index;
    s.trial = j->trial;
    s.rung = j->rung;
    s.result_seq = j->result_seq;
    s.value = j->result_value;
    s.params = nlohmann::json::parse(j->params, nullptr, false);
    if (median && j->result_seq >= 0)
      s.curve = StoredCurve(j->id, spec.search.metric);
    stored.push_back(std::move(s));
  }
  std::vector<SearchSegment> missing;
  RETURN_IF_ERROR(run->Restore(
      stored,
      e.search_state == kSearchClosed || e.search_state == kSearchCancelled,
      &missing));
  if (e.search_state == kSearchCancelled) run->Cancel();
  searches_[e.id] = std::move(run);
  if (!missing.empty()) {
    LOG(WARNING) << "search " << e.id << ": " << missing.size()
                 << " segments its results started were not stored; adding "
                    "them now";
  }
  AddSegments(e.id, std::move(missing), batch, requests);
  // Segments that ended without their result reaching the searcher.
  std::vector<const JobRecord*> unreported;
  for (const JobRecord* j : jobs) {
    if (j->trial >= 0 && j->result_seq < 0 &&
        (j->state == "succeeded" || j->state == "failed" ||
         j->state == "cancelled"))
      unreported.push_back(j);
  }
  for (const JobRecord* j : unreported) {
    JobRecord& live = jobs_.at(j->id);
    RecordSearchResult(live, batch, requests);
    batch->job_updates.push_back(live);
  }
  return absl::OkStatus();
}

void Coordinator::KeepSearchWrites(const WriteBatch& failed) {
  WriteBatch keep;
  keep.new_jobs = failed.new_jobs;
  for (const JobRecord& j : failed.job_updates)
    if (j.result_seq >= 0) keep.job_updates.push_back(j);
  keep.search_states = failed.search_states;
  if (keep.empty()) return;
  absl::MutexLock lock(&delivery_mu_);
  search_retries_.push_back(std::move(keep));
}

void Coordinator::RetrySearchWrites() {
  std::vector<WriteBatch> retries;
  {
    absl::MutexLock lock(&delivery_mu_);
    retries.swap(search_retries_);
  }
  for (WriteBatch& b : retries) {
    auto copy = std::make_shared<WriteBatch>(b);
    writer_->Enqueue(std::move(b), [this, copy](const absl::Status& st) {
      if (st.ok()) {
        LOG(INFO) << "store: recorded " << copy->rows()
                  << " search changes written again";
        return;
      }
      absl::MutexLock lock(&delivery_mu_);
      search_retries_.push_back(std::move(*copy));
    });
  }
}

InputFile Coordinator::ResumeCheckpoint(const JobRecord& j) {
  const std::string name = ResumeArtifactName(j.kind);
  absl::StatusOr<std::vector<ArtifactRecord>> artifacts =
      store_->ListArtifacts(j.resume_from);
  for (ArtifactRecord& a :
       artifacts.ok() ? *artifacts : std::vector<ArtifactRecord>{}) {
    if (a.name == name) return {std::move(a), name};
  }
  return {};  // none: the segment starts over (a program without checkpoints)
}

}  // namespace ladle

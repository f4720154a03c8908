#include "server/experiment_api.h"

#include <algorithm>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "proto/api_util.h"
#include "proto/result_views.h"
#include "spec/kind.h"

namespace ladle {
namespace {

void FillJobCounts(const std::map<std::string, int>& by_state,
                   v1::JobCounts* c) {
  int total = 0;
  for (const auto& [state, n] : by_state) {
    total += n;
    switch (ApiJobState(state)) {
      case v1::JOB_STATE_PENDING:
        c->set_pending(c->pending() + n);
        break;
      case v1::JOB_STATE_QUEUED:
        c->set_queued(c->queued() + n);
        break;
      case v1::JOB_STATE_RUNNING:
        c->set_running(c->running() + n);
        break;
      case v1::JOB_STATE_SUCCEEDED:
        c->set_succeeded(c->succeeded() + n);
        break;
      case v1::JOB_STATE_FAILED:
        c->set_failed(c->failed() + n);
        break;
      case v1::JOB_STATE_CANCELLED:
        c->set_cancelled(c->cancelled() + n);
        break;
      default:
        break;
    }
  }
  c->set_total(total);
}

}  // namespace

absl::Status CheckRequestId(const std::string& id) {
  const bool ok =
      id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
               c == '_' || c == ':' || c == '-';
      });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "request_id: use at most 128 letters, digits, '.', '_', ':' or '-' "
      "(e.g. a random UUID)");
}

absl::StatusOr<Principal> ApiCaller(const Authenticator& auth,
                                    const std::string& authorization) {
  ASSIGN_OR_RETURN(Principal p, auth.Authenticate(authorization));
  if (p.role == Principal::Role::kWorker) {
    return absl::PermissionDeniedError(
        "worker tokens may only use the WorkerService");
  }
  return p;
}

void FillJob(const JobRecord& j, v1::Job* out) {
  out->set_id(j.id);
  out->set_experiment_id(j.experiment_id);
  out->set_index(j.index);
  out->set_kind(j.kind);
  out->set_state(ApiJobState(j.state));
  out->set_params_json(j.params);
  out->set_spec_json(j.spec);
  for (const std::string& d : j.deps) out->add_depends_on(d);
  out->set_attempts(j.attempts);
  out->set_worker_id(j.worker_id);
  out->set_ranks(j.ranks);
  out->set_gpus(j.gpu_share_milli > 0 ? j.gpu_share_milli / 1000.0 : j.gpus);
  out->set_cpu_slots(j.cpu_slots);
  out->set_reason(j.reason);
  out->set_summary_json(j.summary);
  out->set_updated_unix_ms(j.updated_ms);
  if (j.trial >= 0) {
    v1::SearchSegment* s = out->mutable_search();
    s->set_trial(j.trial);
    s->set_rung(j.rung);
    s->set_resume_from(j.resume_from);
    s->set_result_seq(j.result_seq);
    s->set_value(j.result_value);
  }
}

void FillAttempt(const AttemptRecord& a, v1::Attempt* out) {
  out->set_id(a.id);
  out->set_job_id(a.job_id);
  out->set_worker_id(a.worker_id);
  out->set_number(a.number);
  out->set_outcome(a.outcome);
  out->set_started_unix_ms(a.started_ms);
  out->set_ended_unix_ms(a.ended_ms);
  out->set_exit_code(a.exit_code);
  out->set_reason(a.reason);
  out->set_rank(a.rank);
}

void FillArtifact(const ArtifactRecord& a, v1::ArtifactInfo* out) {
  out->set_name(a.name);
  out->set_sha256(a.sha256);
  out->set_size_bytes(a.size);
}

void AddMetric(const MetricPoint& p, bool as_series, v1::JobResult* out) {
  if (!as_series) return FillMetric(p, out->add_metrics());
  if (out->series().empty() || out->series().rbegin()->name() != p.name)
    out->add_series()->set_name(p.name);
  v1::MetricSeries* s = out->mutable_series(out->series_size() - 1);
  s->add_steps(p.step);
  s->add_values(p.value);
}

void FillMetric(const MetricPoint& p, v1::MetricPoint* out) {
  out->set_job_id(p.job_id);
  out->set_attempt_id(p.attempt_id);
  out->set_step(p.step);
  out->set_name(p.name);
  out->set_value(p.value);
  out->set_unix_ms(p.time_ms);
}

absl::Status ExperimentApi::FillExperiment(
    const ExperimentRecord& e, v1::Experiment* out,
    const std::map<std::string, int>* counts) const {
  out->set_id(e.id);
  out->set_name(e.name);
  out->set_kind(e.kind);
  out->set_owner(e.owner);
  out->set_state(ApiExperimentState(e.state));
  out->set_message(e.message);
  out->set_spec(e.spec);
  out->set_priority(e.priority);
  out->set_created_unix_ms(e.created_ms);
  out->set_finished_unix_ms(e.finished_ms);
  out->set_code_sha256(e.code_sha256);
  out->set_rerun_of(e.rerun_of);
  // kSearch* share the API's numbering.
  out->set_search(static_cast<v1::SearchState>(e.search_state));
  if (counts != nullptr) {
    FillJobCounts(*counts, out->mutable_job_counts());
  } else {
    ASSIGN_OR_RETURN(auto read, store_->CountJobStates({e.id}));
    FillJobCounts(read[e.id], out->mutable_job_counts());
  }
  return absl::OkStatus();
}

absl::StatusOr<ExperimentRecord> ExperimentApi::Visible(
    const Principal& p, const std::string& id) const {
  ASSIGN_OR_RETURN(ExperimentRecord e, store_->GetExperiment(id));
  if (!CanAccess(p, e.owner)) {
    return absl::PermissionDeniedError(
        absl::StrCat("experiment ", id, " belongs to another user"));
  }
  return e;
}

absl::Status ExperimentApi::CheckJobVisible(const Principal& caller,
                                            const std::string& job_id) const {
  ASSIGN_OR_RETURN(JobRecord j, store_->GetJob(job_id));
  return Visible(caller, j.experiment_id).status();
}

void ExperimentApi::SubmitAsync(const Principal& caller,
                                const v1::SubmitExperimentRequest& req,
                                v1::SubmitExperimentResponse* resp,
                                std::function<void(absl::Status)> done) {
  if (req.spec().empty())
    return done(
        absl::InvalidArgumentError("spec: empty; send the experiment YAML"));
  constexpr size_t kMaxSpecBytes = 1 << 20;
  if (req.spec().size() > kMaxSpecBytes) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("spec: ", req.spec().size(),
                     " bytes; an experiment spec is at most 1 MiB (use a "
                     "sweep instead of listing jobs)")));
  }
  if (absl::Status st = CheckRequestId(req.request_id()); !st.ok())
    return done(st);
  if (absl::Status st = CheckCodeArchive(artifacts_, req.code_sha256());
      !st.ok())
    return done(st);
  const bool dry_run = req.dry_run();
  coordinator_->SubmitAsync(
      req.spec(), caller.name, dry_run,
      [resp, dry_run,
       done = std::move(done)](absl::StatusOr<Coordinator::SubmitResult> r) {
        if (!r.ok()) return done(r.status());
        resp->set_experiment_id(r->experiment_id);
        resp->set_job_count(r->job_count);
        if (dry_run) {
          for (const JobRecord& j : r->jobs)
            FillJob(j, resp->add_planned_jobs());
        }
        done(absl::OkStatus());
      },
      req.request_id(), req.code_sha256());
}

absl::Status ExperimentApi::Submit(const Principal& caller,
                                   const v1::SubmitExperimentRequest& req,
                                   v1::SubmitExperimentResponse* resp) {
  absl::Notification finished;
  absl::Status result;
  SubmitAsync(caller, req, resp, [&](absl::Status st) {
    result = std::move(st);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

absl::Status ExperimentApi::RerunExperiment(
    const Principal& caller, const v1::RerunExperimentRequest& req,
    v1::SubmitExperimentResponse* resp) {
  RETURN_IF_ERROR(Visible(caller, req.experiment_id()).status());
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  absl::Notification finished;
  absl::StatusOr<Coordinator::SubmitResult> result;
  coordinator_->RerunAsync(req.experiment_id(), caller.name, req.failed_only(),
                           req.request_id(),
                           [&](absl::StatusOr<Coordinator::SubmitResult> r) {
                             result = std::move(r);
                             finished.Notify();
                           });
  finished.WaitForNotification();
  if (!result.ok()) return result.status();
  resp->set_experiment_id(result->experiment_id);
  resp->set_job_count(result->job_count);
  return absl::OkStatus();
}

absl::Status ExperimentApi::GetExperiment(const Principal& caller,
                                          const v1::GetExperimentRequest& req,
                                          v1::Experiment* resp) {
  auto e = Visible(caller, req.experiment_id());
  if (!e.ok()) return e.status();
  return FillExperiment(*e, resp);
}

absl::Status ExperimentApi::ListExperiments(
    const Principal& caller, const v1::ListExperimentsRequest& req,
    v1::ListExperimentsResponse* resp) {
  ExperimentFilter f;
  f.owner = req.owner();
  if (caller.role != Principal::Role::kAdmin) {
    if (!f.owner.empty() && f.owner != caller.name) {
      return absl::PermissionDeniedError(
          "only admins list other users' experiments");
    }
    f.owner = caller.name;
  }
  f.state = req.state() == v1::EXPERIMENT_STATE_UNSPECIFIED
                ? ""
                : ApiStateName(req.state());
  f.page_size = req.page_size() == 0 ? 50 : req.page_size();
  f.page_token = req.page_token();
  auto page = store_->ListExperiments(f);
  if (!page.ok()) return page.status();
  std::vector<std::string> ids;
  for (const ExperimentRecord& e : page->experiments) ids.push_back(e.id);
  auto counts = store_->CountJobStates(ids);  // one query for the page
  if (!counts.ok()) return counts.status();
  for (const ExperimentRecord& e : page->experiments) {
    absl::Status st =
        FillExperiment(e, resp->add_experiments(), &(*counts)[e.id]);
    if (!st.ok()) return st;
  }
  resp->set_next_page_token(page->next_page_token);
  return absl::OkStatus();
}

absl::Status ExperimentApi::CancelExperiment(
    const Principal& caller, const v1::CancelExperimentRequest& req,
    v1::Experiment* resp) {
  if (auto v = Visible(caller, req.experiment_id()); !v.ok()) return v.status();
  auto e = coordinator_->Cancel(req.experiment_id());
  if (!e.ok()) return e.status();
  return FillExperiment(*e, resp);
}

absl::Status ExperimentApi::AddTrials(const Principal& caller,
                                      const v1::AddTrialsRequest& req,
                                      v1::AddTrialsResponse* resp) {
  if (auto v = Visible(caller, req.experiment_id()); !v.ok()) return v.status();
  if (absl::Status st = CheckRequestId(req.request_id()); !st.ok()) return st;
  std::vector<std::string> params(req.params_json().begin(),
                                  req.params_json().end());
  auto jobs =
      coordinator_->AddTrials(req.experiment_id(), params, req.request_id());
  if (!jobs.ok()) return jobs.status();
  for (const JobRecord& j : *jobs) FillJob(j, resp->add_jobs());
  return absl::OkStatus();
}

absl::Status ExperimentApi::CloseExperiment(
    const Principal& caller, const v1::CloseExperimentRequest& req,
    v1::Experiment* resp) {
  if (auto v = Visible(caller, req.experiment_id()); !v.ok()) return v.status();
  auto e = coordinator_->CloseSearch(req.experiment_id());
  if (!e.ok()) return e.status();
  return FillExperiment(*e, resp);
}

absl::Status ExperimentApi::GetResults(const Principal& caller,
                                       const v1::GetResultsRequest& req,
                                       v1::ExperimentResults* resp) {
  auto e = Visible(caller, req.experiment_id());
  if (!e.ok()) return e.status();
  absl::Status st = FillExperiment(*e, resp->mutable_experiment());
  if (!st.ok()) return st;
  if (req.max_points_per_series() < 0) {
    return absl::InvalidArgumentError(
        "max_points_per_series: must be >= 0 (0 = all)");
  }
  if (req.metric_names_size() > 100) {
    return absl::InvalidArgumentError("metric_names: at most 100 names");
  }
  Store::MetricsQuery query;
  query.include = req.include_metrics();
  query.names.assign(req.metric_names().begin(), req.metric_names().end());
  query.max_points_per_series = req.max_points_per_series();
  query.list_names = req.include_metric_names();
  auto data = store_->GetExperimentResults(req.experiment_id(), query);
  if (!data.ok()) return data.status();
  // The bulk rows come sorted by job id; jobs by index: match by id.
  std::unordered_map<std::string, v1::JobResult*> by_id;
  for (const JobRecord& j : data->jobs) {
    v1::JobResult* r = resp->add_jobs();
    FillJob(j, r->mutable_job());
    by_id[j.id] = r;
  }
  for (const AttemptRecord& a : data->attempts) {
    auto it = by_id.find(a.job_id);
    if (it == by_id.end()) continue;
    FillAttempt(a, it->second->add_attempts());
  }
  for (const ArtifactRecord& a : data->artifacts) {
    auto it = by_id.find(a.job_id);
    if (it == by_id.end()) continue;
    FillArtifact(a, it->second->add_artifacts());
  }
  for (const MetricPoint& p : data->metrics) {
    auto it = by_id.find(p.job_id);
    if (it != by_id.end()) AddMetric(p, req.metrics_as_series(), it->second);
  }
  for (const std::string& n : data->metric_names) resp->add_metric_names(n);
  if (req.include_tables()) return FillResultTables(req, resp);
  return absl::OkStatus();
}

absl::Status ExperimentApi::FillResultTables(const v1::GetResultsRequest& req,
                                             v1::ExperimentResults* resp) {
  const ExperimentKind& kind = KindOrTrain(resp->experiment().kind());
  std::vector<JobView> views = JobViews(*resp);
  if (!kind.TableMetrics().empty()) {
    // Tables that read curves (fusion: time to target) get those series,
    // whatever the request asked to include.
    Store::MetricsQuery query;
    query.include = true;
    query.names = kind.TableMetrics();
    ASSIGN_OR_RETURN(Store::ExperimentResultsData data,
                     store_->GetExperimentResults(req.experiment_id(), query));
    std::unordered_map<std::string, JobView*> by_id;
    for (JobView& v : views) {
      v.metrics.clear();
      by_id[v.id] = &v;
    }
    for (const MetricPoint& p : data.metrics) {
      auto it = by_id.find(p.job_id);
      if (it != by_id.end()) it->second->metrics.push_back(p);
    }
  }
  const ExperimentSpec spec =
      SpecForTables(resp->experiment().spec(), resp->experiment().kind());
  FillTables(ExperimentTables(kind, spec, views), resp->mutable_tables());
  return absl::OkStatus();
}

absl::Status ExperimentApi::GetQueueSummary(const Principal& caller,
                                            const v1::GetQueueSummaryRequest&,
                                            v1::QueueSummary* resp) {
  if (caller.role != Principal::Role::kAdmin) {
    return absl::PermissionDeniedError(
        "the queue summary counts every user's jobs: it needs an admin token");
  }
  for (const ShapeDemand& d : coordinator_->QueueDemand()) {
    v1::ShapeDemand* out = resp->add_shapes();
    out->mutable_shape()->set_gpus(d.shape.gpus);
    out->mutable_shape()->set_cpu_slots(d.shape.cpu_slots);
    out->mutable_shape()->set_ranks(d.shape.ranks);
    out->mutable_shape()->set_gpu_share_milli(d.shape.gpu_share_milli);
    out->set_queued_jobs(d.queued);
    out->set_running_jobs(d.running);
    out->set_max_memory_bytes(d.max_memory_bytes);
    out->set_oldest_queued_unix_ms(d.queued > 0 ? d.oldest_queued_ms : 0);
  }
  resp->set_unix_ms(absl::ToUnixMillis(absl::Now()));
  return absl::OkStatus();
}

absl::Status ExperimentApi::ListWorkers(const Principal& caller,
                                        const v1::ListWorkersRequest&,
                                        v1::ListWorkersResponse* resp) {
  auto workers = store_->ListWorkers();
  if (!workers.ok()) return workers.status();
  const std::map<std::string, int> running = coordinator_->RunningAttempts();
  for (const WorkerRecord& w : *workers) {
    v1::Worker* out = resp->add_workers();
    out->set_id(w.id);
    out->set_name(w.name);
    out->set_gpus(w.gpus);
    out->set_cpu_slots(w.cpu_slots);
    out->set_state(w.state);
    out->set_last_seen_unix_ms(w.last_seen_ms);
    if (auto it = running.find(w.id); it != running.end())
      out->set_running_attempts(it->second);
    const nlohmann::json labels =
        nlohmann::json::parse(w.labels, nullptr, false);
    if (labels.is_object()) {
      for (const auto& [k, v] : labels.items()) {
        if (v.is_string()) (*out->mutable_labels())[k] = v.get<std::string>();
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace ladle

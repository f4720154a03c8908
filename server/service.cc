#include "server/service.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <thread>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "proto/api_util.h"

namespace ladle {
namespace {

using grpc::ServerContext;
using grpc::StatusCode;

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

void FillMetric(const MetricPoint& p, v1::MetricPoint* out) {
  out->set_job_id(p.job_id);
  out->set_attempt_id(p.attempt_id);
  out->set_step(p.step);
  out->set_name(p.name);
  out->set_value(p.value);
  out->set_unix_ms(p.time_ms);
}

}  // namespace

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<StatusCode>(s.code()),
                      std::string(s.message()));
}

std::vector<MetricPoint> ParseMetricLine(const std::string& line,
                                         int64_t now_ms) {
  std::vector<MetricPoint> out;
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer())
    return out;
  const int64_t step = j["step"].get<int64_t>();
  for (const auto& [key, value] : j.items()) {
    if (key == "step" || !value.is_number()) continue;
    MetricPoint p;
    p.step = step;
    p.name = key;
    p.value = value.get<double>();
    p.time_ms = now_ms;
    out.push_back(std::move(p));
  }
  return out;
}

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

absl::Status ExperimentServiceImpl::FillExperiment(
    const ExperimentRecord& e, v1::Experiment* out,
    const std::map<std::string, int>* counts) {
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

absl::StatusOr<Principal> CallerOf(const Authenticator& auth,
                                   grpc::ServerContextBase* ctx) {
  // Without tokens nobody's metadata is read: gRPC builds the map of it on
  // first access (an allocation per header, on every call).
  if (!auth.enabled()) return auth.Authenticate(std::string());
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  return auth.Authenticate(
      it == md.end() ? std::string()
                     : std::string(it->second.data(), it->second.size()));
}

absl::StatusOr<Principal> ExperimentServiceImpl::User(
    grpc::ServerContextBase* ctx) const {
  ASSIGN_OR_RETURN(Principal p, CallerOf(*auth_, ctx));
  if (p.role == Principal::Role::kWorker) {
    return absl::PermissionDeniedError(
        "worker tokens may only use the WorkerService");
  }
  return p;
}

absl::StatusOr<ExperimentRecord> ExperimentServiceImpl::Visible(
    grpc::ServerContext* ctx, const std::string& id) const {
  ASSIGN_OR_RETURN(Principal p, User(ctx));
  ASSIGN_OR_RETURN(ExperimentRecord e, store_->GetExperiment(id));
  if (!CanAccess(p, e.owner)) {
    return absl::PermissionDeniedError(
        absl::StrCat("experiment ", id, " belongs to another user"));
  }
  return e;
}

absl::Status ExperimentServiceImpl::CheckJobVisible(
    grpc::ServerContext* ctx, const std::string& job_id) const {
  ASSIGN_OR_RETURN(JobRecord j, store_->GetJob(job_id));
  return Visible(ctx, j.experiment_id).status();
}

namespace {

// A client's request id: at most 128 of [A-Za-z0-9._:-] (empty: none).
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

}  // namespace

grpc::ServerUnaryReactor* ExperimentServiceImpl::SubmitExperiment(
    grpc::CallbackServerContext* ctx, const v1::SubmitExperimentRequest* req,
    v1::SubmitExperimentResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // This method records its own RPC metrics (no interceptor runs for it).
  auto finish = [reactor, metrics = rpc_metrics_,
                 start =
                     std::chrono::steady_clock::now()](const grpc::Status& st) {
    if (metrics != nullptr) {
      metrics->Record(kSubmitMethod, st.error_code(),
                      std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    reactor->Finish(st);
  };
  auto caller = User(ctx);
  if (!caller.ok()) {
    finish(ToGrpc(caller.status()));
    return reactor;
  }
  if (req->spec().empty()) {
    finish(grpc::Status(StatusCode::INVALID_ARGUMENT,
                        "spec: empty; send the experiment YAML"));
    return reactor;
  }
  constexpr size_t kMaxSpecBytes = 1 << 20;
  if (req->spec().size() > kMaxSpecBytes) {
    finish(grpc::Status(
        StatusCode::INVALID_ARGUMENT,
        absl::StrCat("spec: ", req->spec().size(),
                     " bytes; an experiment spec is at most 1 MiB (use a "
                     "sweep instead of listing jobs)")));
    return reactor;
  }
  if (absl::Status st = CheckRequestId(req->request_id()); !st.ok()) {
    finish(ToGrpc(st));
    return reactor;
  }
  if (absl::Status st = CheckCodeArchive(artifacts_, req->code_sha256());
      !st.ok()) {
    finish(ToGrpc(st));
    return reactor;
  }
  // `req` and `resp` live until Finish.
  const bool dry_run = req->dry_run();
  coordinator_->SubmitAsync(
      req->spec(), caller->name, dry_run,
      [this, finish, resp,
       dry_run](absl::StatusOr<Coordinator::SubmitResult> result) {
        if (!result.ok()) {
          finish(ToGrpc(result.status()));
          return;
        }
        if (!dry_run && exit_before_reply_.load() > 0 &&
            exit_before_reply_.fetch_sub(1) == 1) {
          std::cerr << "ladle-server: --testing_exit_before_reply: exiting "
                       "after the commit of "
                    << result->experiment_id << ", before its reply\n";
          _exit(137);
        }
        resp->set_experiment_id(result->experiment_id);
        resp->set_job_count(result->job_count);
        if (dry_run) {
          for (const JobRecord& j : result->jobs)
            FillJob(j, resp->add_planned_jobs());
        }
        finish(grpc::Status::OK);
      },
      req->request_id(), req->code_sha256());
  return reactor;
}

grpc::Status ExperimentServiceImpl::RerunExperiment(
    ServerContext* ctx, const v1::RerunExperimentRequest* req,
    v1::SubmitExperimentResponse* resp) {
  auto caller = User(ctx);
  if (!caller.ok()) return ToGrpc(caller.status());
  if (auto e = Visible(ctx, req->experiment_id()); !e.ok())
    return ToGrpc(e.status());
  if (absl::Status st = CheckRequestId(req->request_id()); !st.ok())
    return ToGrpc(st);
  absl::Notification finished;
  absl::StatusOr<Coordinator::SubmitResult> result;
  coordinator_->RerunAsync(req->experiment_id(), caller->name,
                           req->failed_only(), req->request_id(),
                           [&](absl::StatusOr<Coordinator::SubmitResult> r) {
                             result = std::move(r);
                             finished.Notify();
                           });
  finished.WaitForNotification();
  if (!result.ok()) return ToGrpc(result.status());
  resp->set_experiment_id(result->experiment_id);
  resp->set_job_count(result->job_count);
  return grpc::Status::OK;
}

grpc::Status ExperimentServiceImpl::GetExperiment(
    ServerContext* ctx, const v1::GetExperimentRequest* req,
    v1::Experiment* resp) {
  auto e = Visible(ctx, req->experiment_id());
  if (!e.ok()) return ToGrpc(e.status());
  return ToGrpc(FillExperiment(*e, resp));
}

grpc::Status ExperimentServiceImpl::ListExperiments(
    ServerContext* ctx, const v1::ListExperimentsRequest* req,
    v1::ListExperimentsResponse* resp) {
  auto caller = User(ctx);
  if (!caller.ok()) return ToGrpc(caller.status());
  ExperimentFilter f;
  f.owner = req->owner();
  if (caller->role != Principal::Role::kAdmin) {
    if (!f.owner.empty() && f.owner != caller->name) {
      return grpc::Status(StatusCode::PERMISSION_DENIED,
                          "only admins list other users' experiments");
    }
    f.owner = caller->name;
  }
  f.state = req->state() == v1::EXPERIMENT_STATE_UNSPECIFIED
                ? ""
                : ApiStateName(req->state());
  f.page_size = req->page_size() == 0 ? 50 : req->page_size();
  f.page_token = req->page_token();
  auto page = store_->ListExperiments(f);
  if (!page.ok()) return ToGrpc(page.status());
  std::vector<std::string> ids;
  for (const ExperimentRecord& e : page->experiments) ids.push_back(e.id);
  auto counts = store_->CountJobStates(ids);  // one query for the page
  if (!counts.ok()) return ToGrpc(counts.status());
  for (const ExperimentRecord& e : page->experiments) {
    absl::Status st =
        FillExperiment(e, resp->add_experiments(), &(*counts)[e.id]);
    if (!st.ok()) return ToGrpc(st);
  }
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ExperimentServiceImpl::CancelExperiment(
    ServerContext* ctx, const v1::CancelExperimentRequest* req,
    v1::Experiment* resp) {
  if (auto v = Visible(ctx, req->experiment_id()); !v.ok())
    return ToGrpc(v.status());
  auto e = coordinator_->Cancel(req->experiment_id());
  if (!e.ok()) return ToGrpc(e.status());
  return ToGrpc(FillExperiment(*e, resp));
}

grpc::Status ExperimentServiceImpl::AddTrials(ServerContext* ctx,
                                              const v1::AddTrialsRequest* req,
                                              v1::AddTrialsResponse* resp) {
  if (auto v = Visible(ctx, req->experiment_id()); !v.ok())
    return ToGrpc(v.status());
  if (absl::Status st = CheckRequestId(req->request_id()); !st.ok())
    return ToGrpc(st);
  std::vector<std::string> params(req->params_json().begin(),
                                  req->params_json().end());
  auto jobs =
      coordinator_->AddTrials(req->experiment_id(), params, req->request_id());
  if (!jobs.ok()) return ToGrpc(jobs.status());
  for (const JobRecord& j : *jobs) FillJob(j, resp->add_jobs());
  return grpc::Status::OK;
}

grpc::Status ExperimentServiceImpl::CloseExperiment(
    ServerContext* ctx, const v1::CloseExperimentRequest* req,
    v1::Experiment* resp) {
  if (auto v = Visible(ctx, req->experiment_id()); !v.ok())
    return ToGrpc(v.status());
  auto e = coordinator_->CloseSearch(req->experiment_id());
  if (!e.ok()) return ToGrpc(e.status());
  return ToGrpc(FillExperiment(*e, resp));
}

grpc::Status ExperimentServiceImpl::WatchExperiment(
    ServerContext* ctx, const v1::WatchExperimentRequest* req,
    grpc::ServerWriter<v1::ExperimentEvent>* writer) {
  if (auto v = Visible(ctx, req->experiment_id()); !v.ok())
    return ToGrpc(v.status());
  // Events queue up here from the coordinator's thread; this handler thread
  // writes them.
  struct Queue {
    absl::Mutex mu;
    std::deque<v1::ExperimentEvent> events ABSL_GUARDED_BY(mu);
    bool finished ABSL_GUARDED_BY(mu) = false;
  };
  auto q = std::make_shared<Queue>();
  const bool metrics = req->include_metrics();
  const int token = coordinator_->Watch(
      req->experiment_id(), [q, metrics](const WatchEvent& e) {
        v1::ExperimentEvent ev;
        switch (e.type) {
          case WatchEvent::Type::kJob:
            FillJob(e.job, ev.mutable_job());
            break;
          case WatchEvent::Type::kMetric:
            if (!metrics) return;
            FillMetric(e.metric, ev.mutable_metric());
            break;
          case WatchEvent::Type::kFinished:
            ev.mutable_finished()->set_id(e.experiment.id);
            ev.mutable_finished()->set_state(
                ApiExperimentState(e.experiment.state));
            ev.mutable_finished()->set_message(e.experiment.message);
            break;
        }
        absl::MutexLock lock(&q->mu);
        q->events.push_back(std::move(ev));
        if (e.type == WatchEvent::Type::kFinished) q->finished = true;
      });
  // The snapshot is taken after subscribing, so no change falls between the
  // two.
  auto e = store_->GetExperiment(req->experiment_id());
  if (!e.ok()) {
    coordinator_->Unwatch(token);
    return ToGrpc(e.status());
  }
  v1::ExperimentEvent snapshot;
  absl::Status st = FillExperiment(*e, snapshot.mutable_snapshot());
  bool done = e->state != "running";
  if (st.ok() && !writer->Write(snapshot)) done = true;
  if (st.ok() && done && e->state != "running") {
    v1::ExperimentEvent fin;
    *fin.mutable_finished() = snapshot.snapshot();
    writer->Write(fin);
  }
  while (st.ok() && !done && !ctx->IsCancelled()) {
    std::deque<v1::ExperimentEvent> batch;
    bool finished = false;
    {
      absl::MutexLock lock(&q->mu);
      auto ready = [q]() ABSL_SHARED_LOCKS_REQUIRED(q->mu) {
        return !q->events.empty();
      };
      q->mu.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(200));
      batch.swap(q->events);
      finished = q->finished;
    }
    for (v1::ExperimentEvent& ev : batch) {
      if (!writer->Write(ev)) {
        done = true;
        break;
      }
    }
    if (finished) {  // done once nothing came after the end (read locked:
                     // the clang thread-safety analysis found it unlocked)
      absl::MutexLock lock(&q->mu);
      if (q->events.empty()) done = true;
    }
  }
  coordinator_->Unwatch(token);
  return ToGrpc(st);
}

grpc::Status ExperimentServiceImpl::GetResults(ServerContext* ctx,
                                               const v1::GetResultsRequest* req,
                                               v1::ExperimentResults* resp) {
  auto e = Visible(ctx, req->experiment_id());
  if (!e.ok()) return ToGrpc(e.status());
  absl::Status st = FillExperiment(*e, resp->mutable_experiment());
  if (!st.ok()) return ToGrpc(st);
  if (req->max_points_per_series() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "max_points_per_series: must be >= 0 (0 = all)");
  }
  if (req->metric_names_size() > 100) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "metric_names: at most 100 names");
  }
  Store::MetricsQuery query;
  query.include = req->include_metrics();
  query.names.assign(req->metric_names().begin(), req->metric_names().end());
  query.max_points_per_series = req->max_points_per_series();
  auto data = store_->GetExperimentResults(req->experiment_id(), query);
  if (!data.ok()) return ToGrpc(data.status());
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
    v1::Attempt* out = it->second->add_attempts();
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
  for (const ArtifactRecord& a : data->artifacts) {
    auto it = by_id.find(a.job_id);
    if (it == by_id.end()) continue;
    v1::ArtifactInfo* info = it->second->add_artifacts();
    info->set_name(a.name);
    info->set_sha256(a.sha256);
    info->set_size_bytes(a.size);
  }
  for (const MetricPoint& p : data->metrics) {
    auto it = by_id.find(p.job_id);
    if (it != by_id.end()) FillMetric(p, it->second->add_metrics());
  }
  return grpc::Status::OK;
}

grpc::Status ExperimentServiceImpl::ListWorkers(ServerContext* ctx,
                                                const v1::ListWorkersRequest*,
                                                v1::ListWorkersResponse* resp) {
  if (auto caller = User(ctx); !caller.ok()) return ToGrpc(caller.status());
  auto workers = store_->ListWorkers();
  if (!workers.ok()) return ToGrpc(workers.status());
  for (const WorkerRecord& w : *workers) {
    v1::Worker* out = resp->add_workers();
    out->set_id(w.id);
    out->set_name(w.name);
    out->set_gpus(w.gpus);
    out->set_cpu_slots(w.cpu_slots);
    out->set_state(w.state);
    out->set_last_seen_unix_ms(w.last_seen_ms);
    const nlohmann::json labels =
        nlohmann::json::parse(w.labels, nullptr, false);
    if (labels.is_object()) {
      for (const auto& [k, v] : labels.items()) {
        if (v.is_string()) (*out->mutable_labels())[k] = v.get<std::string>();
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status ExperimentServiceImpl::GetLogs(
    ServerContext* ctx, const v1::GetLogsRequest* req,
    grpc::ServerWriter<v1::LogChunk>* writer) {
  if (absl::Status st = CheckJobVisible(ctx, req->job_id()); !st.ok())
    return ToGrpc(st);
  std::map<std::string, int64_t> offsets;
  while (!ctx->IsCancelled()) {
    auto chunks = logs_->ReadNew(req->job_id(), &offsets, 1 << 20);
    if (!chunks.ok()) return ToGrpc(chunks.status());
    for (auto& c : *chunks) {
      v1::LogChunk out;
      out.set_attempt_id(c.attempt_id);
      out.set_stream(c.stream);
      out.set_data(std::move(c.data));
      if (!writer->Write(out)) return grpc::Status::OK;
    }
    if (!chunks->empty()) continue;  // more may be waiting
    if (!req->follow()) break;
    // Following: stop once the job has ended and its logs are drained.
    auto j = store_->GetJob(req->job_id());
    if (!j.ok()) return ToGrpc(j.status());
    if (j->state == "succeeded" || j->state == "failed" ||
        j->state == "cancelled") {
      auto rest = logs_->ReadNew(req->job_id(), &offsets, 1 << 20);
      if (rest.ok() && rest->empty()) break;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return grpc::Status::OK;
}

grpc::Status SendArtifact(Store* store, ArtifactStore* artifacts,
                          const std::string& job_id, const std::string& name,
                          grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  auto list = store->ListArtifacts(job_id);
  if (!list.ok()) return ToGrpc(list.status());
  for (const ArtifactRecord& a : *list) {
    if (a.name != name) continue;
    auto path = artifacts->PathOf(a.sha256);
    if (!path.ok()) return ToGrpc(path.status());
    std::FILE* f = std::fopen(path->c_str(), "rb");
    if (f == nullptr)
      return grpc::Status(StatusCode::INTERNAL, "artifact file unreadable");
    v1::ArtifactHeader header;
    header.set_name(a.name);
    header.set_size_bytes(a.size);
    header.set_sha256(a.sha256);
    WriteFileChunks(f, header,
                    writer);  // a broken stream is the client's to report
    std::fclose(f);
    return grpc::Status::OK;
  }
  return grpc::Status(
      StatusCode::NOT_FOUND,
      absl::StrCat("job ", job_id, " has no artifact named ", name));
}

grpc::Status ExperimentServiceImpl::DownloadArtifact(
    ServerContext* ctx, const v1::DownloadArtifactRequest* req,
    grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  if (absl::Status st = CheckJobVisible(ctx, req->job_id()); !st.ok())
    return ToGrpc(st);
  return SendArtifact(store_, artifacts_, req->job_id(), req->name(), writer);
}

}  // namespace ladle

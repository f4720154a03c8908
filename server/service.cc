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

namespace {

// The call's `authorization` metadata; empty without one.
std::string AuthorizationOf(const Authenticator& auth,
                            grpc::ServerContextBase* ctx) {
  // Without tokens nobody's metadata is read: gRPC builds the map of it on
  // first access (an allocation per header, on every call).
  if (!auth.enabled()) return std::string();
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  return it == md.end() ? std::string()
                        : std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::StatusOr<Principal> CallerOf(const Authenticator& auth,
                                   grpc::ServerContextBase* ctx) {
  return auth.Authenticate(AuthorizationOf(auth, ctx));
}

absl::StatusOr<Principal> ExperimentServiceImpl::User(
    grpc::ServerContextBase* ctx) const {
  return ApiCaller(*auth_, AuthorizationOf(*auth_, ctx));
}

absl::StatusOr<ExperimentRecord> ExperimentServiceImpl::Visible(
    grpc::ServerContextBase* ctx, const std::string& id) const {
  ASSIGN_OR_RETURN(Principal p, User(ctx));
  return api_.Visible(p, id);
}

absl::Status ExperimentServiceImpl::CheckJobVisible(
    grpc::ServerContextBase* ctx, const std::string& job_id) const {
  ASSIGN_OR_RETURN(Principal p, User(ctx));
  return api_.CheckJobVisible(p, job_id);
}

template <typename Request, typename Response>
grpc::Status ExperimentServiceImpl::Call(
    grpc::ServerContextBase* ctx,
    absl::Status (ExperimentApi::*method)(const Principal&, const Request&,
                                          Response*),
    const Request& req, Response* resp) {
  absl::StatusOr<Principal> caller = User(ctx);
  if (!caller.ok()) return ToGrpc(caller.status());
  return ToGrpc((api_.*method)(*caller, req, resp));
}

grpc::Status ExperimentServiceImpl::GetExperiment(
    ServerContext* ctx, const v1::GetExperimentRequest* req,
    v1::Experiment* resp) {
  return Call(ctx, &ExperimentApi::GetExperiment, *req, resp);
}

grpc::Status ExperimentServiceImpl::ListExperiments(
    ServerContext* ctx, const v1::ListExperimentsRequest* req,
    v1::ListExperimentsResponse* resp) {
  return Call(ctx, &ExperimentApi::ListExperiments, *req, resp);
}

grpc::Status ExperimentServiceImpl::CancelExperiment(
    ServerContext* ctx, const v1::CancelExperimentRequest* req,
    v1::Experiment* resp) {
  return Call(ctx, &ExperimentApi::CancelExperiment, *req, resp);
}

grpc::Status ExperimentServiceImpl::AddTrials(ServerContext* ctx,
                                              const v1::AddTrialsRequest* req,
                                              v1::AddTrialsResponse* resp) {
  return Call(ctx, &ExperimentApi::AddTrials, *req, resp);
}

grpc::Status ExperimentServiceImpl::CloseExperiment(
    ServerContext* ctx, const v1::CloseExperimentRequest* req,
    v1::Experiment* resp) {
  return Call(ctx, &ExperimentApi::CloseExperiment, *req, resp);
}

grpc::Status ExperimentServiceImpl::GetResults(ServerContext* ctx,
                                               const v1::GetResultsRequest* req,
                                               v1::ExperimentResults* resp) {
  return Call(ctx, &ExperimentApi::GetResults, *req, resp);
}

grpc::Status ExperimentServiceImpl::ListWorkers(
    ServerContext* ctx, const v1::ListWorkersRequest* req,
    v1::ListWorkersResponse* resp) {
  return Call(ctx, &ExperimentApi::ListWorkers, *req, resp);
}

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
  // `req` and `resp` live until Finish.
  const bool dry_run = req->dry_run();
  api_.SubmitAsync(
      *caller, *req, resp,
      [this, finish, resp, dry_run](const absl::Status& st) {
        if (st.ok() && !dry_run && exit_before_reply_.load() > 0 &&
            exit_before_reply_.fetch_sub(1) == 1) {
          std::cerr << "ladle-server: --testing_exit_before_reply: exiting "
                       "after the commit of "
                    << resp->experiment_id() << ", before its reply\n";
          _exit(137);
        }
        finish(ToGrpc(st));
      });
  return reactor;
}

grpc::Status ExperimentServiceImpl::RerunExperiment(
    ServerContext* ctx, const v1::RerunExperimentRequest* req,
    v1::SubmitExperimentResponse* resp) {
  return Call(ctx, &ExperimentApi::RerunExperiment, *req, resp);
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
  absl::Status st = api_.FillExperiment(*e, snapshot.mutable_snapshot());
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

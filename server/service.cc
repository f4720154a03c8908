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

// Returns the error of a StatusOr as a grpc::Status; else assigns its value.
#define ASSIGN_OR_RETURN_GRPC(lhs, expr)                       \
  auto LADLE_CONCAT_(grpc_or_, __LINE__) = (expr);             \
  if (!LADLE_CONCAT_(grpc_or_, __LINE__).ok())                 \
    return ToGrpc(LADLE_CONCAT_(grpc_or_, __LINE__).status()); \
  lhs = std::move(*LADLE_CONCAT_(grpc_or_, __LINE__))

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

grpc::Status ExperimentServiceImpl::GetQueueSummary(
    ServerContext* ctx, const v1::GetQueueSummaryRequest* req,
    v1::QueueSummary* resp) {
  return Call(ctx, &ExperimentApi::GetQueueSummary, *req, resp);
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

grpc::Status ExperimentServiceImpl::GetJob(ServerContext* ctx,
                                           const v1::GetJobRequest* req,
                                           v1::JobResult* resp) {
  return Call(ctx, &ExperimentApi::GetJob, *req, resp);
}

grpc::Status ExperimentServiceImpl::WatchExperiment(
    ServerContext* ctx, const v1::WatchExperimentRequest* req,
    grpc::ServerWriter<v1::ExperimentEvent>* writer) {
  ASSIGN_OR_RETURN_GRPC(Principal p, User(ctx));
  return ToGrpc(api_.WatchExperiment(
      p, *req,
      [writer](const v1::ExperimentEvent& e) { return writer->Write(e); },
      [ctx] { return ctx->IsCancelled(); }));
}

grpc::Status ExperimentServiceImpl::GetLogs(
    ServerContext* ctx, const v1::GetLogsRequest* req,
    grpc::ServerWriter<v1::LogChunk>* writer) {
  ASSIGN_OR_RETURN_GRPC(Principal p, User(ctx));
  return ToGrpc(api_.GetLogs(
      p, *req, [writer](const v1::LogChunk& c) { return writer->Write(c); },
      [ctx] { return ctx->IsCancelled(); }));
}

grpc::Status SendArtifact(const absl::StatusOr<ArtifactFile>& file,
                          grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  if (!file.ok()) return ToGrpc(file.status());
  std::FILE* f = std::fopen(file->path.c_str(), "rb");
  if (f == nullptr)
    return grpc::Status(StatusCode::INTERNAL, "artifact file unreadable");
  // A broken stream is the client's to report.
  WriteFileChunks(f, file->header, writer);
  std::fclose(f);
  return grpc::Status::OK;
}

grpc::Status ExperimentServiceImpl::DownloadArtifact(
    ServerContext* ctx, const v1::DownloadArtifactRequest* req,
    grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  ASSIGN_OR_RETURN_GRPC(Principal p, User(ctx));
  return SendArtifact(api_.FindArtifact(p, req->job_id(), req->name()), writer);
}

}  // namespace ladle

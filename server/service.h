// gRPC handlers of ladle-server: convert proto <-> domain, call the
// Coordinator, map absl::Status to grpc::Status. No scheduling or storage logic
// lives here.
#ifndef LADLE_SERVER_SERVICE_H_
#define LADLE_SERVER_SERVICE_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "code/archive.h"
#include "ladle/v1/experiments.grpc.pb.h"
#include "ladle/v1/workers.grpc.pb.h"
#include "server/artifact_store.h"
#include "server/auth.h"
#include "server/coordinator.h"
#include "server/experiment_api.h"
#include "server/log_store.h"
#include "server/rpc_metrics.h"
#include "server/store.h"

namespace ladle {

grpc::Status ToGrpc(const absl::Status& s);

// SubmitExperiment uses gRPC's callback API: a submit waits for its group
// commit without holding an RPC thread (with the sync API, blocked handler
// threads and their wake-ups cost more CPU than the submit itself).
class ExperimentServiceImpl final
    : public ladle::v1::ExperimentService::WithCallbackMethod_SubmitExperiment<
          ladle::v1::ExperimentService::Service> {
 public:
  // Name of the method that records its own RPC metrics (see RpcMetrics).
  static constexpr char kSubmitMethod[] =
      "/ladle.v1.ExperimentService/SubmitExperiment";

  // `rpc_metrics` (may be null) receives kSubmitMethod's calls.
  ExperimentServiceImpl(Coordinator* coordinator, Store* store, LogStore* logs,
                        ArtifactStore* artifacts, const Authenticator* auth,
                        RpcMetrics* rpc_metrics = nullptr)
      : api_(coordinator, store, logs, artifacts),
        coordinator_(coordinator),
        store_(store),
        logs_(logs),
        artifacts_(artifacts),
        auth_(auth),
        rpc_metrics_(rpc_metrics) {}

  // Fault injection for tests (ladle-server --testing_exit_before_reply):
  // the n-th stored submit ends the process with _exit(137) — as kill -9
  // would — after the experiment is committed and queued, before its reply.
  void ExitBeforeSubmitReplyForTesting(int n) { exit_before_reply_ = n; }

  grpc::ServerUnaryReactor* SubmitExperiment(
      grpc::CallbackServerContext* ctx, const v1::SubmitExperimentRequest* req,
      v1::SubmitExperimentResponse* resp) override;
  grpc::Status GetExperiment(grpc::ServerContext* ctx,
                             const v1::GetExperimentRequest* req,
                             v1::Experiment* resp) override;
  grpc::Status ListExperiments(grpc::ServerContext* ctx,
                               const v1::ListExperimentsRequest* req,
                               v1::ListExperimentsResponse* resp) override;
  grpc::Status AddTrials(grpc::ServerContext* ctx,
                         const v1::AddTrialsRequest* req,
                         v1::AddTrialsResponse* resp) override;
  grpc::Status CloseExperiment(grpc::ServerContext* ctx,
                               const v1::CloseExperimentRequest* req,
                               v1::Experiment* resp) override;
  grpc::Status CancelExperiment(grpc::ServerContext* ctx,
                                const v1::CancelExperimentRequest* req,
                                v1::Experiment* resp) override;
  grpc::Status RerunExperiment(grpc::ServerContext* ctx,
                               const v1::RerunExperimentRequest* req,
                               v1::SubmitExperimentResponse* resp) override;
  grpc::Status WatchExperiment(
      grpc::ServerContext* ctx, const v1::WatchExperimentRequest* req,
      grpc::ServerWriter<v1::ExperimentEvent>* writer) override;
  grpc::Status GetResults(grpc::ServerContext* ctx,
                          const v1::GetResultsRequest* req,
                          v1::ExperimentResults* resp) override;
  grpc::Status ListWorkers(grpc::ServerContext* ctx,
                           const v1::ListWorkersRequest* req,
                           v1::ListWorkersResponse* resp) override;
  grpc::Status GetQueueSummary(grpc::ServerContext* ctx,
                               const v1::GetQueueSummaryRequest* req,
                               v1::QueueSummary* resp) override;
  grpc::Status GetJob(grpc::ServerContext* ctx, const v1::GetJobRequest* req,
                      v1::JobResult* resp) override;
  grpc::Status GetLogs(grpc::ServerContext* ctx, const v1::GetLogsRequest* req,
                       grpc::ServerWriter<v1::LogChunk>* writer) override;
  grpc::Status DownloadArtifact(
      grpc::ServerContext* ctx, const v1::DownloadArtifactRequest* req,
      grpc::ServerWriter<v1::ArtifactChunk>* writer) override;
  // code_service.cc
  grpc::Status UploadCode(grpc::ServerContext* ctx,
                          grpc::ServerReader<v1::CodeChunk>* reader,
                          v1::CodeArchive* resp) override;
  grpc::Status GetCodeArchive(grpc::ServerContext* ctx,
                              const v1::GetCodeArchiveRequest* req,
                              v1::CodeArchive* resp) override;

  // Limits on uploaded code (--max_code_bytes, --max_code_files); set before
  // serving.
  void set_code_limits(const CodeLimits& limits) { code_limits_ = limits; }

 private:
  // The caller, who must hold a user or admin token.
  absl::StatusOr<Principal> User(grpc::ServerContextBase* ctx) const;
  // A unary call: the caller, then ExperimentApi's `method`.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::ServerContextBase* ctx,
                    absl::Status (ExperimentApi::*method)(const Principal&,
                                                          const Request&,
                                                          Response*),
                    const Request& req, Response* resp);

  ExperimentApi api_;
  Coordinator* coordinator_;
  Store* store_;
  LogStore* logs_;
  ArtifactStore* artifacts_;
  const Authenticator* auth_;
  RpcMetrics* rpc_metrics_;
  std::atomic<int> exit_before_reply_{0};  // 0: off
  CodeLimits code_limits_;
};

// Writes the data of an upload's first chunk (`first`, which carried the
// header) and of every chunk after it into `upload`; a second header is
// INVALID_ARGUMENT. Shared by artifact and code uploads.
template <typename Chunk>
absl::Status ReceiveChunks(grpc::ServerReader<Chunk>* reader, Chunk& first,
                           ArtifactStore::Upload* upload) {
  absl::Status st = upload->Write(first.data());
  Chunk chunk;
  while (st.ok() && reader->Read(&chunk)) {
    if (chunk.has_header()) {
      return absl::InvalidArgumentError(
          "upload: only the first chunk may carry a header");
    }
    st = upload->Write(chunk.data());
  }
  return st;
}

// Streams an artifact found by FindArtifactFile (shared by both services),
// or its lookup's error.
grpc::Status SendArtifact(const absl::StatusOr<ArtifactFile>& file,
                          grpc::ServerWriter<v1::ArtifactChunk>* writer);

class WorkerServiceImpl final : public ladle::v1::WorkerService::Service {
 public:
  WorkerServiceImpl(Coordinator* coordinator, Store* store, LogStore* logs,
                    ArtifactStore* artifacts, const Authenticator* auth,
                    int64_t heartbeat_interval_ms, int64_t lease_ms)
      : auth_(auth),
        coordinator_(coordinator),
        store_(store),
        logs_(logs),
        artifacts_(artifacts),
        heartbeat_interval_ms_(heartbeat_interval_ms),
        lease_ms_(lease_ms) {}

  grpc::Status Session(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>*
          stream) override;
  grpc::Status UploadArtifact(grpc::ServerContext* ctx,
                              grpc::ServerReader<v1::ArtifactChunk>* reader,
                              v1::UploadArtifactResponse* resp) override;
  grpc::Status DownloadArtifact(
      grpc::ServerContext* ctx, const v1::DownloadArtifactRequest* req,
      grpc::ServerWriter<v1::ArtifactChunk>* writer) override {
    if (absl::Status st = CheckWorker(ctx); !st.ok()) return ToGrpc(st);
    return SendArtifact(
        FindArtifactFile(store_, artifacts_, req->job_id(), req->name()),
        writer);
  }
  grpc::Status DownloadCode(
      grpc::ServerContext* ctx, const v1::DownloadCodeRequest* req,
      grpc::ServerWriter<v1::ArtifactChunk>* writer) override;  // code_service

 private:
  absl::Status CheckWorker(grpc::ServerContext* ctx) const;
  // One message of `worker_id`'s session; ABORTED ends the session.
  grpc::Status Handle(const std::string& worker_id,
                      const v1::WorkerMessage& msg);
  const Authenticator* auth_;
  Coordinator* coordinator_;
  Store* store_;
  LogStore* logs_;
  ArtifactStore* artifacts_;
  int64_t heartbeat_interval_ms_;
  int64_t lease_ms_;
};

// The caller of an RPC, from its `authorization` metadata.
absl::StatusOr<Principal> CallerOf(const Authenticator& auth,
                                   grpc::ServerContextBase* ctx);

// Converts a ladle-train metrics.jsonl line into metric points (every numeric
// field but step).
std::vector<MetricPoint> ParseMetricLine(const std::string& line,
                                         int64_t now_ms);

}  // namespace ladle

#endif  // LADLE_SERVER_SERVICE_H_

// The experiment API's unary calls, transport-neutral: each takes the caller
// (a Principal the transport authenticated) and the request message, fills the
// response and returns an absl::Status. The gRPC handlers (service.h) call
// them, and so does the HTTP/JSON API (http_api.h): the owner checks and
// validation live here once. Streams (watch, logs) hand each message to a
// transport's `write`, which returns false once its client is gone.
//
// Thread safety: all methods may be called from any thread.
#ifndef LADLE_SERVER_EXPERIMENT_API_H_
#define LADLE_SERVER_EXPERIMENT_API_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ladle/v1/experiments.pb.h"
#include "server/artifact_store.h"
#include "server/auth.h"
#include "server/coordinator.h"
#include "server/log_store.h"
#include "server/store.h"

namespace ladle {

// Proto from domain records.
void FillJob(const JobRecord& j, v1::Job* out);
void FillMetric(const MetricPoint& p, v1::MetricPoint* out);
void FillAttempt(const AttemptRecord& a, v1::Attempt* out);
void FillArtifact(const ArtifactRecord& a, v1::ArtifactInfo* out);
// A job's point (points come by name, then step) into `out`: as a
// MetricPoint, or appended to its series (`as_series`).
void AddMetric(const MetricPoint& p, bool as_series, v1::JobResult* out);

// Where a job's artifact `name` lies in `artifacts`, with its header; no
// caller check (workers fetch their inputs through it). NOT_FOUND naming
// both when the job has none of that name.
struct ArtifactFile {
  std::string path;  // in the artifact store; read-only
  v1::ArtifactHeader header;
};
absl::StatusOr<ArtifactFile> FindArtifactFile(Store* store,
                                              ArtifactStore* artifacts,
                                              const std::string& job_id,
                                              const std::string& name);

// The caller of the experiment API from its `authorization` header value
// ("Bearer TOKEN"; empty: none): UNAUTHENTICATED without a valid token when
// tokens are on, PERMISSION_DENIED for a worker token. Every transport uses it.
absl::StatusOr<Principal> ApiCaller(const Authenticator& auth,
                                    const std::string& authorization);

// A client's request id: at most 128 of [A-Za-z0-9._:-] (empty: none);
// INVALID_ARGUMENT naming `request_id` otherwise.
absl::Status CheckRequestId(const std::string& id);

// OK for an empty hash or one the artifact store holds; INVALID_ARGUMENT for
// a malformed one, FAILED_PRECONDITION for an unknown one.
absl::Status CheckCodeArchive(ArtifactStore* artifacts,
                              const std::string& sha256);

class ExperimentApi {
 public:
  // All must outlive it.
  ExperimentApi(Coordinator* coordinator, Store* store, LogStore* logs,
                ArtifactStore* artifacts)
      : coordinator_(coordinator),
        store_(store),
        logs_(logs),
        artifacts_(artifacts) {}

  // Checks the request, then submits without blocking: `done` runs once,
  // with `resp` filled when OK — on this thread for a refusal or a dry run,
  // else once the experiment is stored and queued (Coordinator::SubmitAsync).
  // `req` and `resp` must live until then.
  void SubmitAsync(const Principal& caller,
                   const v1::SubmitExperimentRequest& req,
                   v1::SubmitExperimentResponse* resp,
                   std::function<void(absl::Status)> done);
  // The same, waiting for it.
  absl::Status Submit(const Principal& caller,
                      const v1::SubmitExperimentRequest& req,
                      v1::SubmitExperimentResponse* resp);
  absl::Status RerunExperiment(const Principal& caller,
                               const v1::RerunExperimentRequest& req,
                               v1::SubmitExperimentResponse* resp);

  absl::Status GetExperiment(const Principal& caller,
                             const v1::GetExperimentRequest& req,
                             v1::Experiment* resp);
  // Non-admins list their own experiments only.
  absl::Status ListExperiments(const Principal& caller,
                               const v1::ListExperimentsRequest& req,
                               v1::ListExperimentsResponse* resp);
  absl::Status CancelExperiment(const Principal& caller,
                                const v1::CancelExperimentRequest& req,
                                v1::Experiment* resp);
  absl::Status AddTrials(const Principal& caller,
                         const v1::AddTrialsRequest& req,
                         v1::AddTrialsResponse* resp);
  absl::Status CloseExperiment(const Principal& caller,
                               const v1::CloseExperimentRequest& req,
                               v1::Experiment* resp);
  absl::Status GetResults(const Principal& caller,
                          const v1::GetResultsRequest& req,
                          v1::ExperimentResults* resp);
  absl::Status ListWorkers(const Principal& caller,
                           const v1::ListWorkersRequest& req,
                           v1::ListWorkersResponse* resp);
  // PERMISSION_DENIED unless `caller` is an admin (tokens off: everyone is).
  absl::Status GetQueueSummary(const Principal& caller,
                               const v1::GetQueueSummaryRequest& req,
                               v1::QueueSummary* resp);

  // Streams: `write` returns false when the client is gone, `cancelled`
  // says so without a write; both are called on this thread.
  using Cancelled = std::function<bool()>;
  // A snapshot of the experiment, then its job changes (and metric points
  // with include_metrics) as they happen, until it ends (a `finished` event)
  // or the client leaves.
  absl::Status WatchExperiment(
      const Principal& caller, const v1::WatchExperimentRequest& req,
      const std::function<bool(const v1::ExperimentEvent&)>& write,
      const Cancelled& cancelled);
  // A job's logs so far; with follow, then as they arrive until the job has
  // ended and its logs are drained.
  absl::Status GetLogs(const Principal& caller, const v1::GetLogsRequest& req,
                       const std::function<bool(const v1::LogChunk&)>& write,
                       const Cancelled& cancelled);
  // FindArtifactFile, for a job `caller` may see.
  absl::StatusOr<ArtifactFile> FindArtifact(const Principal& caller,
                                            const std::string& job_id,
                                            const std::string& name) const;
  // A job of an experiment `caller` may see, with its attempts, artifacts
  // and (include_metrics) metric series.
  absl::Status GetJob(const Principal& caller, const v1::GetJobRequest& req,
                      v1::JobResult* resp);

  // The experiment, if `caller` may see it (PERMISSION_DENIED otherwise).
  absl::StatusOr<ExperimentRecord> Visible(const Principal& caller,
                                           const std::string& id) const;
  absl::Status CheckJobVisible(const Principal& caller,
                               const std::string& job_id) const;
  // `counts` (job state -> count) when already read for a whole page; else
  // read here.
  absl::Status FillExperiment(
      const ExperimentRecord& e, v1::Experiment* out,
      const std::map<std::string, int>* counts = nullptr) const;

 private:
  // GetResults' include_tables: the kind's tables over `resp`'s jobs.
  absl::Status FillResultTables(const v1::GetResultsRequest& req,
                                v1::ExperimentResults* resp);

  Coordinator* coordinator_;
  Store* store_;
  LogStore* logs_;
  ArtifactStore* artifacts_;
};

}  // namespace ladle

#endif  // LADLE_SERVER_EXPERIMENT_API_H_

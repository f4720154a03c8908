// ExperimentApi's streams (watch, logs), one job, and artifact lookup: shared
// by the gRPC handlers and the HTTP/JSON API.
#include <chrono>
#include <deque>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "proto/api_util.h"
#include "server/experiment_api.h"

namespace ladle {
namespace {

// The watch event of a coordinator event; false for a metric point the
// watcher did not ask for.
bool ToEvent(const WatchEvent& e, bool metrics, v1::ExperimentEvent* ev) {
  switch (e.type) {
    case WatchEvent::Type::kJob:
      FillJob(e.job, ev->mutable_job());
      return true;
    case WatchEvent::Type::kMetric:
      if (!metrics) return false;
      FillMetric(e.metric, ev->mutable_metric());
      return true;
    case WatchEvent::Type::kFinished:
      ev->mutable_finished()->set_id(e.experiment.id);
      ev->mutable_finished()->set_state(ApiExperimentState(e.experiment.state));
      ev->mutable_finished()->set_message(e.experiment.message);
      return true;
  }
  return false;
}

// Events queue up here from the coordinator's thread; the stream's thread
// writes them.
struct EventQueue {
  absl::Mutex mu;
  std::deque<v1::ExperimentEvent> events ABSL_GUARDED_BY(mu);
  bool finished ABSL_GUARDED_BY(mu) = false;
};

// Writes queued events until the experiment has finished and the queue is
// drained, the client is gone or cancelled.
void Drain(EventQueue& q,
           const std::function<bool(const v1::ExperimentEvent&)>& write,
           const ExperimentApi::Cancelled& cancelled) {
  bool done = false;
  while (!done && !cancelled()) {
    std::deque<v1::ExperimentEvent> batch;
    bool finished = false;
    {
      absl::MutexLock lock(&q.mu);
      auto ready = [&q]() ABSL_SHARED_LOCKS_REQUIRED(q.mu) {
        return !q.events.empty();
      };
      q.mu.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(200));
      batch.swap(q.events);
      finished = q.finished;
    }
    for (v1::ExperimentEvent& ev : batch) {
      if (!write(ev)) return;
    }
    if (finished) {  // done once nothing came after the end
      absl::MutexLock lock(&q.mu);
      if (q.events.empty()) done = true;
    }
  }
}

}  // namespace

absl::Status ExperimentApi::WatchExperiment(
    const Principal& caller, const v1::WatchExperimentRequest& req,
    const std::function<bool(const v1::ExperimentEvent&)>& write,
    const Cancelled& cancelled) {
  RETURN_IF_ERROR(Visible(caller, req.experiment_id()).status());
  auto q = std::make_shared<EventQueue>();
  const bool metrics = req.include_metrics();
  const int token = coordinator_->Watch(
      req.experiment_id(), [q, metrics](const WatchEvent& e) {
        v1::ExperimentEvent ev;
        if (!ToEvent(e, metrics, &ev)) return;
        absl::MutexLock lock(&q->mu);
        q->events.push_back(std::move(ev));
        if (e.type == WatchEvent::Type::kFinished) q->finished = true;
      });
  // The snapshot is taken after subscribing, so no change falls between the
  // two.
  auto e = store_->GetExperiment(req.experiment_id());
  absl::Status st = e.status();
  v1::ExperimentEvent snapshot;
  if (st.ok()) st = FillExperiment(*e, snapshot.mutable_snapshot());
  if (st.ok() && write(snapshot)) {
    if (e->state != "running") {
      v1::ExperimentEvent fin;
      *fin.mutable_finished() = snapshot.snapshot();
      write(fin);
    } else {
      Drain(*q, write, cancelled);
    }
  }
  coordinator_->Unwatch(token);
  return st;
}

absl::Status ExperimentApi::GetLogs(
    const Principal& caller, const v1::GetLogsRequest& req,
    const std::function<bool(const v1::LogChunk&)>& write,
    const Cancelled& cancelled) {
  RETURN_IF_ERROR(CheckJobVisible(caller, req.job_id()));
  std::map<std::string, int64_t> offsets;
  bool ended = false;
  while (!cancelled()) {
    ASSIGN_OR_RETURN(std::vector<LogStore::Chunk> chunks,
                     logs_->ReadNew(req.job_id(), &offsets, 1 << 20));
    for (auto& c : chunks) {
      v1::LogChunk out;
      out.set_attempt_id(c.attempt_id);
      out.set_stream(c.stream);
      out.set_data(std::move(c.data));
      if (!write(out)) return absl::OkStatus();
    }
    if (!chunks.empty()) continue;  // more may be waiting
    if (!req.follow() || ended) break;
    // Following: once the job has ended, one more pass reads what it wrote
    // before its end (the last bytes were once read here and dropped).
    ASSIGN_OR_RETURN(JobRecord j, store_->GetJob(req.job_id()));
    ended =
        j.state == "succeeded" || j.state == "failed" || j.state == "cancelled";
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return absl::OkStatus();
}

absl::StatusOr<ArtifactFile> FindArtifactFile(Store* store,
                                              ArtifactStore* artifacts,
                                              const std::string& job_id,
                                              const std::string& name) {
  ASSIGN_OR_RETURN(std::vector<ArtifactRecord> list,
                   store->ListArtifacts(job_id));
  for (const ArtifactRecord& a : list) {
    if (a.name != name) continue;
    ArtifactFile f;
    ASSIGN_OR_RETURN(f.path, artifacts->PathOf(a.sha256));
    f.header.set_name(a.name);
    f.header.set_size_bytes(a.size);
    f.header.set_sha256(a.sha256);
    return f;
  }
  return absl::NotFoundError(
      absl::StrCat("job ", job_id, " has no artifact named ", name));
}

absl::StatusOr<ArtifactFile> ExperimentApi::FindArtifact(
    const Principal& caller, const std::string& job_id,
    const std::string& name) const {
  RETURN_IF_ERROR(CheckJobVisible(caller, job_id));
  return FindArtifactFile(store_, artifacts_, job_id, name);
}

absl::Status ExperimentApi::GetJob(const Principal& caller,
                                   const v1::GetJobRequest& req,
                                   v1::JobResult* resp) {
  if (req.max_points_per_series() < 0) {
    return absl::InvalidArgumentError(
        "max_points_per_series: must be >= 0 (0 = all)");
  }
  ASSIGN_OR_RETURN(JobRecord j, store_->GetJob(req.job_id()));
  RETURN_IF_ERROR(Visible(caller, j.experiment_id).status());
  FillJob(j, resp->mutable_job());
  ASSIGN_OR_RETURN(std::vector<AttemptRecord> attempts,
                   store_->ListAttempts(j.id));
  for (const AttemptRecord& a : attempts) FillAttempt(a, resp->add_attempts());
  ASSIGN_OR_RETURN(std::vector<ArtifactRecord> artifacts,
                   store_->ListArtifacts(j.id));
  for (const ArtifactRecord& a : artifacts)
    FillArtifact(a, resp->add_artifacts());
  if (req.include_metrics()) {
    ASSIGN_OR_RETURN(std::vector<MetricPoint> points, store_->GetMetrics(j.id));
    for (const MetricPoint& p :
         ThinSeries(std::move(points), req.max_points_per_series()))
      AddMetric(p, req.metrics_as_series(), resp);
  }
  return absl::OkStatus();
}

}  // namespace ladle

#include "server/store.h"

namespace ladle {

int64_t WriteBatch::rows() const {
  int64_t n = 0;
  for (const NewExperiment& e : new_experiments) n += 1 + e.jobs.size();
  return n + job_updates.size() + attempts.size() + experiment_states.size() +
         workers.size() + metrics.size() + artifacts.size();
}

absl::Status Store::Write(const WriteBatch& batch) {
  std::vector<absl::Status> each;
  absl::Status st = Commit({&batch}, &each);
  if (!st.ok()) return st;
  return each.at(0);
}

absl::Status Store::CreateExperiment(const ExperimentRecord& experiment,
                                     const std::vector<JobRecord>& jobs) {
  WriteBatch b;
  b.new_experiments.push_back({experiment, jobs});
  return Write(b);
}

absl::Status Store::UpdateExperimentState(const std::string& id,
                                          const std::string& state,
                                          const std::string& message,
                                          int64_t finished_ms) {
  WriteBatch b;
  b.experiment_states.push_back({id, state, message, finished_ms});
  return Write(b);
}

absl::Status Store::UpdateJobs(const std::vector<JobRecord>& jobs,
                               const std::vector<AttemptRecord>& attempts) {
  WriteBatch b;
  b.job_updates = jobs;
  b.attempts = attempts;
  return Write(b);
}

absl::Status Store::UpsertWorker(const WorkerRecord& worker) {
  WriteBatch b;
  b.workers.push_back(worker);
  return Write(b);
}

absl::Status Store::AppendMetrics(const std::vector<MetricPoint>& points) {
  WriteBatch b;
  b.metrics = points;
  return Write(b);
}

absl::Status Store::AddArtifact(const ArtifactRecord& artifact) {
  WriteBatch b;
  b.artifacts.push_back(artifact);
  return Write(b);
}

}  // namespace ladle

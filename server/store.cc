#include "server/store.h"

#include <algorithm>
#include <cstdint>

namespace ladle {

int64_t WriteBatch::rows() const {
  int64_t n = 0;
  for (const NewExperiment& e : new_experiments) n += 1 + e.jobs.size();
  return n + new_jobs.size() + job_updates.size() + attempts.size() +
         experiment_states.size() + search_states.size() + workers.size() +
         metrics.size() + artifacts.size();
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

int64_t ThinTarget(int64_t first, int64_t last, int k, int slots) {
  // 128-bit: (last - first) * k must not overflow for any int64 steps.
  const __int128 span = static_cast<__int128>(last) - first;
  return static_cast<int64_t>(first + span * k / slots);
}

std::vector<MetricPoint> ThinSeries(std::vector<MetricPoint> points,
                                    int max_points) {
  if (max_points <= 0) return points;
  std::vector<MetricPoint> out;
  size_t begin = 0;
  while (begin < points.size()) {
    size_t end = begin + 1;
    while (end < points.size() && points[end].job_id == points[begin].job_id &&
           points[end].name == points[begin].name)
      ++end;
    if (end - begin <= static_cast<size_t>(max_points)) {
      for (size_t i = begin; i < end; ++i) out.push_back(std::move(points[i]));
      begin = end;
      continue;
    }
    const int slots = std::max(max_points - 1, 1);
    const int64_t first = points[begin].step, last = points[end - 1].step;
    size_t next = begin;  // the first point not yet passed
    for (int k = 0; k <= slots && next < end; ++k) {
      const int64_t target = ThinTarget(first, last, k, slots);
      while (next < end && points[next].step < target) ++next;
      if (next < end) out.push_back(std::move(points[next++]));
    }
    begin = end;
  }
  return out;
}

}  // namespace ladle

// Hooks through which the coordinator reports what it does, so metrics
// (Prometheus in ladle-server) stay out of the domain logic. Called from RPC
// threads with the coordinator's lock held, or from its store writer thread
// (OnStoreWrite, OnMetricPoints): keep them cheap, thread-safe, and never call
// back into the Coordinator.
#ifndef LADLE_SERVER_OBSERVER_H_
#define LADLE_SERVER_OBSERVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/scheduler.h"
#include "server/store.h"

namespace ladle {

class CoordinatorObserver {
 public:
  virtual ~CoordinatorObserver() = default;
  // A job went from queued to running after waiting `seconds`.
  virtual void OnDispatched(double seconds) {}
  // One scheduling pass placed `placements` jobs in `seconds` (the
  // scheduler's own time, without the store or the network).
  virtual void OnSchedulingPass(double seconds, int placements) {}
  virtual void OnAttemptEnded(AttemptOutcome outcome) {}
  virtual void OnExperimentSubmitted(int jobs) {}
  virtual void OnMetricPoints(int64_t count) {}
  // The latest training metrics of a running job (after they are stored).
  virtual void OnJobMetrics(const std::string& experiment_id,
                            const std::string& job_id,
                            const std::vector<MetricPoint>& points) {}
  // A job's attempt ended: its live metrics go away.
  virtual void OnJobStopped(const std::string& job_id) {}
  // One store transaction (a group commit of `batches` write batches) took
  // `seconds` and wrote `rows` rows.
  virtual void OnStoreWrite(double seconds, int64_t rows, int batches) {}
  // Current totals, after every change: jobs of running experiments by state,
  // and workers.
  virtual void OnTotals(const ExperimentProgress& jobs, int workers_alive,
                        int workers_known) {}
};

}  // namespace ladle

#endif  // LADLE_SERVER_OBSERVER_H_

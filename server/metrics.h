// Prometheus metrics of ladle-server (prometheus-cpp), fed through
// CoordinatorObserver. Names: `ladle_` prefix, base units, `_total` counters,
// low-cardinality labels.
#ifndef LADLE_SERVER_METRICS_H_
#define LADLE_SERVER_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/observer.h"

namespace ladle {

class ServerMetrics final : public CoordinatorObserver {
 public:
  explicit ServerMetrics(prometheus::Registry& registry);

  void OnDispatched(double seconds) override;
  void OnSchedulingPass(double seconds, int placements) override;
  void OnAttemptEnded(AttemptOutcome outcome) override;
  void OnExperimentSubmitted(int jobs) override;
  void OnMetricPoints(int64_t count) override;
  void OnStoreWrite(double seconds, int64_t rows, int batches) override;
  void OnTotals(const ExperimentProgress& jobs, int workers_alive,
                int workers_known) override;
  void OnJobMetrics(const std::string& experiment_id, const std::string& job_id,
                    const std::vector<MetricPoint>& points) override;
  void OnJobStopped(const std::string& job_id) override;

 private:
  prometheus::Gauge* jobs_pending_;
  prometheus::Gauge* jobs_queued_;
  prometheus::Gauge* jobs_running_;
  prometheus::Gauge* workers_alive_;
  prometheus::Gauge* workers_lost_;
  prometheus::Histogram* scheduling_latency_;
  prometheus::Histogram* decision_seconds_;
  prometheus::Counter* attempts_[5];  // by AttemptOutcome
  prometheus::Counter* experiments_submitted_;
  prometheus::Counter* jobs_submitted_;
  prometheus::Counter* metric_points_;
  prometheus::Histogram* store_write_seconds_;
  prometheus::Histogram* store_write_rows_;
  prometheus::Histogram* store_write_batches_;
  // Live training metrics of running jobs: one series per running job and
  // metric, removed when its attempt ends (bounded by the running jobs).
  struct JobSeries {
    std::vector<
        std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>>
        gauges;
    std::map<std::string, prometheus::Gauge*> by_name;
  };
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> job_families_;
  absl::Mutex job_mu_;
  std::map<std::string, JobSeries> job_series_ ABSL_GUARDED_BY(job_mu_);
};

}  // namespace ladle

#endif  // LADLE_SERVER_METRICS_H_

// Prometheus metrics of ladle-server (prometheus-cpp), fed through
// CoordinatorObserver. Names: `ladle_` prefix, base units, `_total` counters,
// low-cardinality labels.
#ifndef LADLE_SERVER_METRICS_H_
#define LADLE_SERVER_METRICS_H_

#include <memory>

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
  void OnAttemptEnded(AttemptOutcome outcome) override;
  void OnExperimentSubmitted(int jobs) override;
  void OnMetricPoints(int64_t count) override;
  void OnStoreWrite(double seconds, int64_t rows, int batches) override;
  void OnTotals(const ExperimentProgress& jobs, int workers_alive,
                int workers_known) override;

 private:
  prometheus::Gauge* jobs_pending_;
  prometheus::Gauge* jobs_queued_;
  prometheus::Gauge* jobs_running_;
  prometheus::Gauge* workers_alive_;
  prometheus::Gauge* workers_lost_;
  prometheus::Histogram* scheduling_latency_;
  prometheus::Counter* attempts_[4];
  prometheus::Counter* experiments_submitted_;
  prometheus::Counter* jobs_submitted_;
  prometheus::Counter* metric_points_;
  prometheus::Histogram* store_write_seconds_;
  prometheus::Histogram* store_write_rows_;
  prometheus::Histogram* store_write_batches_;
};

}  // namespace ladle

#endif  // LADLE_SERVER_METRICS_H_

// HTTP metrics of --http_listen: ladle_http_requests_total{route,method,status}
// and ladle_http_request_duration_seconds{route}. Labels stay bounded: routes
// are the API's own (RouteOf: about 15), methods GET/POST/OPTIONS/other and
// statuses the few the server answers. Streams (events, followed logs) are
// timed until they end, as streaming RPCs are.
//
// Thread safety: Record may be called from any thread.
#ifndef LADLE_SERVER_HTTP_METRICS_H_
#define LADLE_SERVER_HTTP_METRICS_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ladle {

// The route label of a request path: "experiments", "experiment", "results",
// "events", "trials", "cancel", "close", "rerun", "job", "logs", "artifact",
// "workers", "queue", "ui", "healthz" or "other".
const char* RouteOf(absl::string_view path);

class HttpMetrics {
 public:
  // Registers the two families in `registry`, which must outlive this.
  explicit HttpMetrics(prometheus::Registry& registry);
  HttpMetrics(const HttpMetrics&) = delete;
  HttpMetrics& operator=(const HttpMetrics&) = delete;

  void Record(absl::string_view path, absl::string_view method, int status,
              double seconds) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  prometheus::Family<prometheus::Counter>* const requests_;
  prometheus::Family<prometheus::Histogram>* const duration_;
  absl::Mutex mu_;
  // Series by (route, method, status) and by route; few, kept for life.
  absl::flat_hash_map<std::string, prometheus::Counter*> counters_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> histograms_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ladle

#endif  // LADLE_SERVER_HTTP_METRICS_H_

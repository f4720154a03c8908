#include "server/http_metrics.h"

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ladle {

const char* RouteOf(absl::string_view path) {
  if (path == "/" || absl::StartsWith(path, "/ui/")) return "ui";
  if (path == "/api/v1/experiments") return "experiments";
  if (path == "/api/v1/workers") return "workers";
  if (path == "/healthz") return "healthz";
  if (path == "/api/v1/queue") return "queue";
  static const std::regex kExperiment(
      R"(/api/v1/experiments/[^/:]+(/results|/events|/trials|:cancel|:close|:rerun)?)");
  static const std::regex kJob(
      R"(/api/v1/jobs/[^/]+(/logs|/artifacts/[^/]+)?)");
  std::cmatch m;
  const std::string p(path);
  if (std::regex_match(p.c_str(), m, kExperiment)) {
    const std::string tail = m[1].str();
    if (tail.empty()) return "experiment";
    for (const char* r :
         {"results", "events", "trials", "cancel", "close", "rerun"})
      if (tail.substr(1) == r) return r;
  }
  if (std::regex_match(p.c_str(), m, kJob)) {
    const std::string tail = m[1].str();
    if (tail.empty()) return "job";
    return tail == "/logs" ? "logs" : "artifact";
  }
  return "other";
}

HttpMetrics::HttpMetrics(prometheus::Registry& registry)
    : requests_(&prometheus::BuildCounter()
                     .Name("ladle_http_requests_total")
                     .Help("HTTP requests to --http_listen (UI and JSON API)")
                     .Register(registry)),
      duration_(&prometheus::BuildHistogram()
                     .Name("ladle_http_request_duration_seconds")
                     .Help("HTTP request duration (streams: until they end)")
                     .Register(registry)) {}

void HttpMetrics::Record(absl::string_view path, absl::string_view method,
                         int status, double seconds) {
  const char* route = RouteOf(path);
  const char* verb = method == "GET"       ? "GET"
                     : method == "POST"    ? "POST"
                     : method == "OPTIONS" ? "OPTIONS"
                                           : "other";
  const std::string code = absl::StrCat(status);
  const std::string key = absl::StrCat(route, " ", verb, " ", code);
  absl::MutexLock lock(&mu_);
  prometheus::Counter*& c = counters_[key];
  if (c == nullptr) {
    c = &requests_->Add({{"route", route}, {"method", verb}, {"status", code}});
  }
  c->Increment();
  prometheus::Histogram*& h = histograms_[route];
  if (h == nullptr) {
    h = &duration_->Add({{"route", route}},
                        prometheus::Histogram::BucketBoundaries{
                            0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3,
                            1, 3, 10, 60, 600});
  }
  h->Observe(seconds);
}

}  // namespace ladle

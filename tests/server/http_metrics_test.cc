#include "server/http_metrics.h"

#include <gtest/gtest.h>

#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace ladle {
namespace {

TEST(HttpMetrics, RoutesAreTheApisOwnWhateverThePath) {
  EXPECT_STREQ(RouteOf("/"), "ui");
  EXPECT_STREQ(RouteOf("/ui/app.js"), "ui");
  EXPECT_STREQ(RouteOf("/api/v1/experiments"), "experiments");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/exp-1"), "experiment");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/exp-1/results"), "results");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/exp-1/events"), "events");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/exp-1/trials"), "trials");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/exp-1:cancel"), "cancel");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/exp-1:close"), "close");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/exp-1:rerun"), "rerun");
  EXPECT_STREQ(RouteOf("/api/v1/jobs/j-1"), "job");
  EXPECT_STREQ(RouteOf("/api/v1/jobs/j-1/logs"), "logs");
  EXPECT_STREQ(RouteOf("/api/v1/jobs/j-1/artifacts/model.safetensors"),
               "artifact");
  EXPECT_STREQ(RouteOf("/api/v1/workers"), "workers");
  EXPECT_STREQ(RouteOf("/healthz"), "healthz");
  EXPECT_STREQ(RouteOf("/api/v1/queue"), "queue");
  // Anything else is one label, so scanners cannot grow the series.
  EXPECT_STREQ(RouteOf("/wp-admin/x.php"), "other");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/a/b/c"), "other");
  EXPECT_STREQ(RouteOf("/api/v1/experiments/exp-1:explode"), "other");
}

TEST(HttpMetrics, CountsByRouteMethodAndStatus) {
  prometheus::Registry registry;
  HttpMetrics m(registry);
  m.Record("/api/v1/experiments/e1", "GET", 200, 0.002);
  m.Record("/api/v1/experiments/e2", "GET", 200, 0.004);
  m.Record("/api/v1/experiments/e3", "GET", 404, 0.001);
  m.Record("/nope/1", "DELETE", 404, 0.001);
  const std::string text =
      prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(
      text.find(
          R"(ladle_http_requests_total{method="GET",route="experiment",status="200"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(ladle_http_requests_total{method="GET",route="experiment",status="404"} 1)"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          R"(ladle_http_requests_total{method="other",route="other",status="404"} 1)"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          R"(ladle_http_request_duration_seconds_count{route="experiment"} 3)"),
      std::string::npos);
}

}  // namespace
}  // namespace ladle

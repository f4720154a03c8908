#include "server/rpc_metrics.h"

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"

namespace ladle {
namespace {

const char* CodeName(grpc::StatusCode c) {
  static const char* names[] = {"OK",
                                "CANCELLED",
                                "UNKNOWN",
                                "INVALID_ARGUMENT",
                                "DEADLINE_EXCEEDED",
                                "NOT_FOUND",
                                "ALREADY_EXISTS",
                                "PERMISSION_DENIED",
                                "RESOURCE_EXHAUSTED",
                                "FAILED_PRECONDITION",
                                "ABORTED",
                                "OUT_OF_RANGE",
                                "UNIMPLEMENTED",
                                "INTERNAL",
                                "UNAVAILABLE",
                                "DATA_LOSS",
                                "UNAUTHENTICATED"};
  const int i = static_cast<int>(c);
  return i >= 0 && i < 17 ? names[i] : "UNKNOWN";
}

}  // namespace

// The series of one method, looked up once: per call only the increments
// remain (building label maps and bucket lists for every call cost more than
// the rest of the interceptor).
class RpcMetrics::MethodSeries {
 public:
  MethodSeries(prometheus::Family<prometheus::Counter>* rpcs,
               prometheus::Histogram* duration, std::string method)
      : rpcs_(rpcs), duration_(duration), method_(std::move(method)) {}

  void Record(grpc::StatusCode code, double seconds) {
    const int i = static_cast<int>(code);
    const int slot = i >= 0 && i < kCodes ? i : static_cast<int>(grpc::UNKNOWN);
    prometheus::Counter* c = by_code_[slot].load(std::memory_order_acquire);
    if (c == nullptr) {
      absl::MutexLock lock(&mu_);
      c = &rpcs_->Add({{"method", method_}, {"code", CodeName(code)}});
      by_code_[slot].store(c, std::memory_order_release);
    }
    c->Increment();
    duration_->Observe(seconds);
  }

 private:
  static constexpr int kCodes = 17;
  prometheus::Family<prometheus::Counter>* const rpcs_;
  prometheus::Histogram* const duration_;
  const std::string method_;
  absl::Mutex mu_;
  std::array<std::atomic<prometheus::Counter*>, kCodes> by_code_{};
};

namespace {

class Interceptor final : public grpc::experimental::Interceptor {
 public:
  explicit Interceptor(RpcMetrics::MethodSeries* series)
      : series_(series), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    using H = grpc::experimental::InterceptionHookPoints;
    if (m->QueryInterceptionHookPoint(H::PRE_SEND_STATUS)) {
      series_->Record(m->GetSendStatus().error_code(),
                      std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start_)
                          .count());
    }
    m->Proceed();
  }

 private:
  RpcMetrics::MethodSeries* const series_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

class RpcMetricsFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RpcMetricsFactory(
      std::function<RpcMetrics::MethodSeries*(absl::string_view)> series_of,
      std::vector<std::string> self_recorded)
      : series_of_(std::move(series_of)),
        self_recorded_(std::move(self_recorded)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const absl::string_view method =
        info->method() ? info->method() : "unknown";
    for (const std::string& m : self_recorded_) {
      // No interceptor at all: gRPC then skips its interception machinery.
      if (m == method) return nullptr;
    }
    return new Interceptor(series_of_(method));
  }

 private:
  std::function<RpcMetrics::MethodSeries*(absl::string_view)> series_of_;
  const std::vector<std::string> self_recorded_;
};

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : rpcs_(&prometheus::BuildCounter()
                 .Name("ladle_rpcs_total")
                 .Help("gRPC calls handled, by method and status code")
                 .Register(registry)),
      duration_(
          &prometheus::BuildHistogram()
               .Name("ladle_rpc_duration_seconds")
               .Help("gRPC call duration (streams: until their final status)")
               .Register(registry)) {}

RpcMetrics::~RpcMetrics() = default;

RpcMetrics::MethodSeries* RpcMetrics::SeriesOf(absl::string_view method) {
  absl::MutexLock lock(&mu_);
  auto it = by_method_.find(method);
  if (it != by_method_.end()) return it->second.get();
  const std::string name(method);
  auto series = std::make_unique<MethodSeries>(
      rpcs_,
      &duration_->Add({{"method", name}},
                      prometheus::Histogram::BucketBoundaries{
                          0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1,
                          3, 10, 60, 600}),
      name);
  MethodSeries* raw = series.get();
  by_method_.emplace(name, std::move(series));
  return raw;
}

void RpcMetrics::Record(absl::string_view method, grpc::StatusCode code,
                        double seconds) {
  SeriesOf(method)->Record(code, seconds);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::MakeInterceptorFactory(std::vector<std::string> self_recorded) {
  return std::make_unique<RpcMetricsFactory>(
      [this](absl::string_view m) { return SeriesOf(m); },
      std::move(self_recorded));
}

}  // namespace ladle

#include "server/rpc_metrics.h"

#include <array>
#include <atomic>
#include <chrono>
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

// The series of one method, looked up once: per call only the increments
// remain (building label maps and bucket lists for every call cost more than
// the rest of the interceptor).
class MethodSeries {
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

class Interceptor final : public grpc::experimental::Interceptor {
 public:
  explicit Interceptor(MethodSeries* series)
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
  MethodSeries* const series_;
  const std::chrono::steady_clock::time_point start_;
};

class Factory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  Factory(prometheus::Family<prometheus::Counter>* rpcs,
          prometheus::Family<prometheus::Histogram>* duration)
      : rpcs_(rpcs), duration_(duration) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // gRPC's method names are static strings: the pointer is the key (a
    // second pointer to the same name only adds an entry for the same
    // series).
    const char* key = info->method() ? info->method() : "unknown";
    absl::MutexLock lock(&mu_);
    std::unique_ptr<MethodSeries>& series = by_method_[key];
    if (series == nullptr) {
      const std::string method = key;
      series = std::make_unique<MethodSeries>(
          rpcs_,
          &duration_->Add({{"method", method}},
                          prometheus::Histogram::BucketBoundaries{
                              0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1,
                              0.3, 1, 3, 10, 60, 600}),
          method);
    }
    return new Interceptor(series.get());
  }

 private:
  prometheus::Family<prometheus::Counter>* const rpcs_;
  prometheus::Family<prometheus::Histogram>* const duration_;
  absl::Mutex mu_;
  // Methods are few and fixed (the services' own); entries live as long as
  // the server.
  absl::flat_hash_map<const char*, std::unique_ptr<MethodSeries>> by_method_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcMetricsInterceptor(prometheus::Registry& registry) {
  auto* rpcs = &prometheus::BuildCounter()
                    .Name("ladle_rpcs_total")
                    .Help("gRPC calls handled, by method and status code")
                    .Register(registry);
  auto* duration =
      &prometheus::BuildHistogram()
           .Name("ladle_rpc_duration_seconds")
           .Help("gRPC call duration (streams: until their final status)")
           .Register(registry);
  return std::make_unique<Factory>(rpcs, duration);
}

}  // namespace ladle

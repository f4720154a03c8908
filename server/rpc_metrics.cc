#include "server/rpc_metrics.h"

#include <chrono>
#include <string>

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

struct Families {
  prometheus::Family<prometheus::Counter>* rpcs;
  prometheus::Family<prometheus::Histogram>* duration;
};

class Interceptor final : public grpc::experimental::Interceptor {
 public:
  Interceptor(Families f, grpc::experimental::ServerRpcInfo* info)
      : f_(f),
        method_(info->method() ? info->method() : "unknown"),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    using H = grpc::experimental::InterceptionHookPoints;
    if (m->QueryInterceptionHookPoint(H::PRE_SEND_STATUS)) {
      const grpc::Status st = m->GetSendStatus();
      f_.rpcs->Add({{"method", method_}, {"code", CodeName(st.error_code())}})
          .Increment();
      f_.duration
          ->Add({{"method", method_}},
                prometheus::Histogram::BucketBoundaries{0.0001, 0.0003, 0.001,
                                                        0.003, 0.01, 0.03, 0.1,
                                                        0.3, 1, 3, 10, 60, 600})
          .Observe(std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start_)
                       .count());
    }
    m->Proceed();
  }

 private:
  Families f_;
  std::string method_;
  std::chrono::steady_clock::time_point start_;
};

class Factory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(Families f) : f_(f) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new Interceptor(f_, info);
  }

 private:
  Families f_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcMetricsInterceptor(prometheus::Registry& registry) {
  Families f;
  f.rpcs = &prometheus::BuildCounter()
                .Name("ladle_rpcs_total")
                .Help("gRPC calls handled, by method and status code")
                .Register(registry);
  f.duration =
      &prometheus::BuildHistogram()
           .Name("ladle_rpc_duration_seconds")
           .Help("gRPC call duration (streams: until their final status)")
           .Register(registry);
  return std::make_unique<Factory>(f);
}

}  // namespace ladle

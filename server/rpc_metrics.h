// RPC metrics: ladle_rpcs_total{method,code} and
// ladle_rpc_duration_seconds{method}. Labels stay bounded: methods are the
// services' own (about 15), codes the 17 gRPC codes. Streaming RPCs are timed
// from their start to their final status (a watch lasts as long as its
// experiment).
//
// Most methods are recorded by a server interceptor. A hot method can record
// itself instead (SubmitExperiment does): gRPC's interception machinery alone
// cost ~10% of the server's CPU per submit, measured by running without it.
//
// Thread safety: Record and the factory may be used from any thread.
#ifndef LADLE_SERVER_RPC_METRICS_H_
#define LADLE_SERVER_RPC_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ladle {

class RpcMetrics {
 public:
  // Registers the two families in `registry`, which must outlive this.
  explicit RpcMetrics(prometheus::Registry& registry);
  ~RpcMetrics();
  RpcMetrics(const RpcMetrics&) = delete;
  RpcMetrics& operator=(const RpcMetrics&) = delete;

  // One finished call of `method` (its full name: "/ladle.v1.X/Method").
  void Record(absl::string_view method, grpc::StatusCode code, double seconds);

  // An interceptor factory that records every method but `self_recorded`
  // (their handlers call Record). Must not outlive this.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  MakeInterceptorFactory(std::vector<std::string> self_recorded);

  class MethodSeries;

 private:
  MethodSeries* SeriesOf(absl::string_view method) ABSL_LOCKS_EXCLUDED(mu_);

  prometheus::Family<prometheus::Counter>* const rpcs_;
  prometheus::Family<prometheus::Histogram>* const duration_;
  absl::Mutex mu_;
  // Methods are few and fixed; entries live as long as this.
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> by_method_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ladle

#endif  // LADLE_SERVER_RPC_METRICS_H_

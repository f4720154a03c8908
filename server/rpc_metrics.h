// A gRPC server interceptor that counts RPCs by method and status code and
// times them: ladle_rpcs_total{method,code} and
// ladle_rpc_duration_seconds{method}. Labels stay bounded: methods are the
// services' own (about 15), codes the 17 gRPC codes. Streaming RPCs are timed
// from their start to their final status (a watch lasts as long as its
// experiment).
#ifndef LADLE_SERVER_RPC_METRICS_H_
#define LADLE_SERVER_RPC_METRICS_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"
#include "prometheus/registry.h"

namespace ladle {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcMetricsInterceptor(prometheus::Registry& registry);

}  // namespace ladle

#endif  // LADLE_SERVER_RPC_METRICS_H_

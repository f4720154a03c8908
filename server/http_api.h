// ladle-server's HTTP/JSON transport (--http_listen): the experiment API's
// calls as JSON over HTTP, for tools that speak HTTP rather than gRPC (curl,
// notebooks, CI scripts, the web UI). Requests and responses are the proto
// messages of proto/ladle/v1 in protobuf's JSON mapping; every handler calls
// the same ExperimentApi method as the gRPC handler, with the same caller
// checks (`Authorization: Bearer TOKEN`). Errors: the HTTP status of the
// status code (as grpc-gateway maps them) and {"code", "status", "message"}.
//
//   POST /api/v1/experiments[?request_id=&dry_run=true]   body: the spec (or a
//        SubmitExperimentRequest as application/json)
//   POST /api/v1/experiments/{id}:rerun   body: {"failedOnly": true,
//   "requestId": ...} GET
//   /api/v1/experiments[?owner=&state=&page_size=&page_token=] GET
//   /api/v1/experiments/{id} GET
//   /api/v1/experiments/{id}/results[?include_metrics=true&metric_names=a,b&max_points_per_series=N]
//   POST /api/v1/experiments/{id}:cancel
//   POST /api/v1/experiments/{id}:close
//   POST /api/v1/experiments/{id}/trials   body: {"paramsJson": [...],
//   "requestId": "..."} GET  /api/v1/workers
//
// Thread safety: Start once; handlers run on the HTTP server's own threads.
#ifndef LADLE_SERVER_HTTP_API_H_
#define LADLE_SERVER_HTTP_API_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "server/auth.h"
#include "server/experiment_api.h"

namespace httplib {
class Server;
}

namespace ladle {

// The HTTP status for a status code (OK: 200, INVALID_ARGUMENT: 400,
// NOT_FOUND: 404, ...).
int HttpStatusOf(absl::StatusCode code);

class HttpApi {
 public:
  // Both must outlive it.
  HttpApi(ExperimentApi* api, const Authenticator* auth);
  // Stops serving.
  ~HttpApi();

  // Listens on `listen` (HOST:PORT; port 0 picks a free one) and serves on
  // a thread of its own. INVALID_ARGUMENT naming --http_listen when it cannot.
  absl::Status Start(const std::string& listen);
  int port() const { return port_; }

 private:
  void Routes();

  ExperimentApi* api_;
  const Authenticator* auth_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace ladle

#endif  // LADLE_SERVER_HTTP_API_H_

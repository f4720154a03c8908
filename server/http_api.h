// ladle-server's HTTP transport (--http_listen): the web UI and the
// experiment API's calls as JSON over HTTP, for tools that speak HTTP rather
// than gRPC (curl, notebooks, CI scripts, the UI itself). Requests and
// responses are the proto messages of proto/ladle/v1 in protobuf's JSON
// mapping; every handler calls the same ExperimentApi method as the gRPC
// handler, with the same caller checks (`Authorization: Bearer TOKEN`).
// Errors: the HTTP status of the status code (as grpc-gateway maps them) and
// {"code", "status", "message"}. docs/SERVER.md lists the endpoints:
//
//   POST /api/v1/experiments[?request_id=&dry_run=true]  (body: the spec)
//   GET  /api/v1/experiments[?owner=&state=&page_size=&page_token=]
//   GET  /api/v1/experiments/{id}[/results]
//   GET  /api/v1/experiments/{id}/events   (Server-Sent Events)
//   POST /api/v1/experiments/{id}:cancel | :close | :rerun, .../{id}/trials
//   GET  /api/v1/jobs/{id}, /api/v1/jobs/{id}/logs[?follow=true],
//        /api/v1/jobs/{id}/artifacts/{name}
//   GET  /api/v1/workers
//   GET  /  (the UI; its assets are compiled in: ui/)
//
// Thread safety: Start once; handlers run on the HTTP server's own threads.
#ifndef LADLE_SERVER_HTTP_API_H_
#define LADLE_SERVER_HTTP_API_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "server/auth.h"
#include "server/experiment_api.h"
#include "server/http_metrics.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace ladle {

// The HTTP status for a status code (OK: 200, INVALID_ARGUMENT: 400,
// NOT_FOUND: 404, ...).
int HttpStatusOf(absl::StatusCode code);

// An --http_cors_origin: empty, or scheme://host[:port] (http or https, no
// path, not "*"); INVALID_ARGUMENT naming the flag otherwise.
absl::Status CheckCorsOrigin(const std::string& origin);

class HttpApi {
 public:
  // Both must outlive it.
  // `cors_origin` (--http_cors_origin): the one origin whose pages may call
  // the API from a browser; empty: none (no CORS headers at all).
  // `metrics` (may be null) records every request.
  HttpApi(ExperimentApi* api, const Authenticator* auth,
          std::string cors_origin = "", HttpMetrics* metrics = nullptr);
  // Stops serving.
  ~HttpApi();

  // Listens on `listen` (HOST:PORT; port 0 picks a free one) and serves on
  // a thread of its own. INVALID_ARGUMENT naming --http_listen when it cannot.
  absl::Status Start(const std::string& listen);
  int port() const { return port_; }

 private:
  using Handler = std::function<absl::Status(
      const Principal&, const httplib::Request&, std::string* json)>;
  // An httplib handler that authenticates, runs `h` and replies with its
  // JSON or its error.
  std::function<void(const httplib::Request&, httplib::Response&)> Serve(
      Handler h);
  void ExperimentRoutes();
  void ControlRoutes();
  void StreamRoutes();  // http_streams.cc
  void UiRoutes();      // http_streams.cc
  // CORS for --http_cors_origin, security headers on every reply.
  void Headers();

  ExperimentApi* api_;
  const Authenticator* auth_;
  const std::string cors_origin_;
  HttpMetrics* const metrics_;
  // Set when stopping: open streams (events, log follows) end.
  std::atomic<bool> stopping_{false};
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace ladle

#endif  // LADLE_SERVER_HTTP_API_H_

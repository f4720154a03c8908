// The CLI's connection to ladle-server: address, TLS, bearer token, and calls
// that ride out a coordinator restart — while it is unreachable, a call waits
// for it (reconnecting with backoff) and tries again, up to
// --wait_for_coordinator seconds in all.
#ifndef LADLE_CLIENT_CONNECTION_H_
#define LADLE_CLIENT_CONNECTION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "ladle/v1/experiments.grpc.pb.h"

namespace ladle {

struct ConnectionOptions {
  std::string addr = "127.0.0.1:7070";  // --addr or LADLE_ADDR
  std::string token_file;               // --token_file; else LADLE_TOKEN
  std::string tls_ca;                   // --tls_ca or LADLE_TLS_CA
  double wait_seconds = 30;             // --wait_for_coordinator
};

class Connection {
 public:
  // Reads the token and CA files; INVALID_ARGUMENT names the flag.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const ConnectionOptions& options);

  v1::ExperimentService::Stub& stub() { return *stub_; }

  // A unary call (`rpc` gets a fresh, authorized context each try), tried
  // again while the coordinator is unavailable, within the wait. Only for
  // calls that are safe to repeat (reads, cancel, submits with a request id).
  grpc::Status Call(
      const std::function<grpc::Status(grpc::ClientContext*)>& rpc);
  // A server stream, opened again while a coordinator restart breaks it:
  // `read` opens it on the (fresh, authorized) context, reads it to its end
  // and returns its Finish status, setting `*resumable` when reading on from
  // a new stream makes sense (something arrived and the end was not seen).
  // Gives up when the coordinator is not back within the wait.
  grpc::Status Follow(const std::function<grpc::Status(grpc::ClientContext*,
                                                       bool* resumable)>& read);
  // Waits until the channel is connected or the wait from now is over.
  bool WaitForCoordinator();
  // The bearer token on a context (streams set up their own).
  void Authorize(grpc::ClientContext* ctx) const;

  // Prints "ladle: <message>" with a hint for an unreachable coordinator;
  // returns the exit code: 2 for INVALID_ARGUMENT, else 1.
  int Fail(const grpc::Status& st) const;

 private:
  Connection(ConnectionOptions options, std::string token,
             std::shared_ptr<grpc::Channel> channel);
  bool WaitUntil(std::chrono::system_clock::time_point deadline);

  ConnectionOptions options_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ExperimentService::Stub> stub_;
};

}  // namespace ladle

#endif  // LADLE_CLIENT_CONNECTION_H_

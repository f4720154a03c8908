// Client channels to ladle-server, shared by the worker and the CLI: TLS from
// a CA file, bearer tokens from a token file, quick reconnects.
#ifndef LADLE_PROTO_CHANNEL_H_
#define LADLE_PROTO_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace ladle {

struct ChannelOptions {
  std::string address;     // host:port
  std::string tls_ca_pem;  // PEM CA certificate: TLS; empty: plaintext
  // Largest reply accepted (gRPC's default is 4 MiB).
  int max_receive_bytes = 4 << 20;
};

// Reconnects after a coordinator restart within 0.2-2 s (gRPC's default
// backoff starts at 1 s and grows to 2 min, which would leave a worker's
// leases to expire and a CLI waiting long after the server is back).
std::shared_ptr<grpc::Channel> OpenChannel(const ChannelOptions& options);

// The whole of a PEM file (--tls_ca); INVALID_ARGUMENT naming `flag` and the
// path when it cannot be read or is empty.
absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        const std::string& flag);
// The first line of a token file (--token_file); INVALID_ARGUMENT naming
// `flag` and the path when it cannot be read or is empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          const std::string& flag);

// "authorization: Bearer <token>" on the call (nothing for an empty token).
void AddBearerToken(grpc::ClientContext* ctx, const std::string& token);

}  // namespace ladle

#endif  // LADLE_PROTO_CHANNEL_H_

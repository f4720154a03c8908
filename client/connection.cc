#include "client/connection.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/strings/str_format.h"
#include "proto/channel.h"

namespace ladle {

using Clock = std::chrono::system_clock;

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const ConnectionOptions& options) {
  std::string token;
  if (const char* env = std::getenv("LADLE_TOKEN")) token = env;
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> t =
        ReadTokenFile(options.token_file, "--token_file");
    if (!t.ok()) return t.status();
    token = *t;
  }
  ChannelOptions channel;
  channel.address = options.addr;
  // Results of big sweeps are large (each job carries its resolved spec).
  channel.max_receive_bytes = 512 << 20;
  if (!options.tls_ca.empty()) {
    absl::StatusOr<std::string> pem = ReadPemFile(options.tls_ca, "--tls_ca");
    if (!pem.ok()) return pem.status();
    channel.tls_ca_pem = *pem;
  }
  return std::unique_ptr<Connection>(
      new Connection(options, std::move(token), OpenChannel(channel)));
}

Connection::Connection(ConnectionOptions options, std::string token,
                       std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      token_(std::move(token)),
      channel_(std::move(channel)),
      stub_(v1::ExperimentService::NewStub(channel_)) {}

void Connection::Authorize(grpc::ClientContext* ctx) const {
  AddBearerToken(ctx, token_);
}

bool Connection::WaitUntil(Clock::time_point deadline) {
  // The first try connects (an idle channel only does when asked to).
  return channel_->WaitForConnected(std::max(deadline, Clock::now()));
}

bool Connection::WaitForCoordinator() {
  return WaitUntil(Clock::now() +
                   std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(options_.wait_seconds)));
}

grpc::Status Connection::Call(
    const std::function<grpc::Status(grpc::ClientContext*)>& rpc) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(options_.wait_seconds));
  bool told = false;
  while (true) {
    WaitUntil(deadline);
    grpc::ClientContext ctx;
    Authorize(&ctx);
    grpc::Status st = rpc(&ctx);
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE ||
        Clock::now() >= deadline) {
      return st;
    }
    if (!told) {
      std::cerr << "ladle: the coordinator at " << options_.addr
                << " is unavailable (" << st.error_message()
                << "); waiting for it up to "
                << absl::StrFormat("%g", options_.wait_seconds)
                << " s (--wait_for_coordinator)\n";
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

grpc::Status Connection::Follow(
    const std::function<grpc::Status(grpc::ClientContext*, bool*)>& read) {
  while (true) {
    // Not back within the wait: this try fails and ends it.
    const bool up = WaitForCoordinator();
    grpc::ClientContext ctx;
    Authorize(&ctx);
    bool resumable = false;
    grpc::Status st = read(&ctx, &resumable);
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE || !resumable || !up)
      return st;
    std::cerr << "ladle: lost the coordinator (" << st.error_message()
              << "); following again once it is back\n";
  }
}

int Connection::Fail(const grpc::Status& st) const {
  std::cerr << "ladle: " << st.error_message();
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << " (is ladle-server running at " << options_.addr
              << "? set --addr or LADLE_ADDR)";
  }
  std::cerr << "\n";
  return st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
}

}  // namespace ladle

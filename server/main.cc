// ladle-server: the coordinator. Flags are copied into Options; the work
// happens in Coordinator (domain) and the gRPC services (server/service.h).
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "server/coordinator.h"
#include "server/http_api.h"
#include "server/metrics.h"
#include "server/rpc_metrics.h"
#include "server/service.h"

namespace {

struct Options {
  std::string listen = "127.0.0.1:7070";  // gRPC address
  std::string data_dir = "./ladle-data";  // SQLite file and artifacts
  std::string metrics_listen = "127.0.0.1:9464";
  // The HTTP/JSON API (server/http_api.h); empty: off. Loopback-only without
  // --token_file, as --listen.
  std::string http_listen;
  // The one origin whose pages may call the HTTP API from a browser (CORS);
  // empty: none, no CORS headers at all.
  std::string http_cors_origin;
  std::string token_file;         // bearer tokens; required beyond loopback  //
  std::string tls_cert, tls_key;  // PEM files: serve TLS when both are set
                                  // Prometheus /metrics; empty: off
  int64_t lease_ms =
      15'000;  // attempts without heartbeats for this long are lost
  int64_t heartbeat_ms = 3'000;      // what workers are told to send
  int64_t max_jobs = 10'000;         // per experiment
  int64_t log_cap_bytes = 16 << 20;  // per attempt and stream
  int64_t max_artifact_bytes = int64_t{64} << 30;  // largest upload accepted
  int64_t max_code_bytes = int64_t{64} << 20;      // a code archive, packed
  int64_t max_code_files = 10'000;                 // files in a code archive
  int testing_exit_before_reply = 0;  // fault injection for tests; 0: off
};

// Parses the flags into `o`; returns -1 to go on, else the exit code.
int ParseFlags(int argc, char** argv, Options* out) {
  Options& o = *out;
  CLI::App app{"ladle-server: the Ladle coordinator"};
  app.add_option("--listen", o.listen, "gRPC address (host:port)");
  app.add_option("--data_dir", o.data_dir,
                 "directory for ladle.db and artifacts");
  app.add_option("--tls_cert", o.tls_cert,
                 "PEM certificate chain (with --tls_key: TLS on)");
  app.add_option("--tls_key", o.tls_key, "PEM private key");
  app.add_option("--token_file", o.token_file,
                 "bearer tokens: lines '<token> <user|worker|admin> [<name>]'");
  app.add_option("--metrics_listen", o.metrics_listen,
                 "Prometheus /metrics address (host:port; empty: off)");
  app.add_option("--http_listen", o.http_listen,
                 "web UI and HTTP/JSON API address (host:port; empty, the "
                 "default: off)");
  app.add_option("--http_cors_origin", o.http_cors_origin,
                 "allow browser pages of this origin (e.g. "
                 "https://notebooks.example.org) to call the HTTP API; "
                 "empty, the default: none");
  app.add_option("--lease_ms", o.lease_ms,
                 "attempt lease; a worker silent this long loses its attempts")
      ->check(CLI::Range(int64_t{1000}, int64_t{3'600'000}));
  app.add_option("--heartbeat_ms", o.heartbeat_ms,
                 "heartbeat interval asked of workers")
      ->check(CLI::Range(int64_t{100}, int64_t{600'000}));
  app.add_option("--max_jobs_per_experiment", o.max_jobs,
                 "largest sweep accepted")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  app.add_option("--log_cap_bytes", o.log_cap_bytes,
                 "log bytes kept per attempt and stream")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 34));
  app.add_option("--max_code_bytes", o.max_code_bytes,
                 "largest code archive (kind command) accepted, packed; it "
                 "may unpack to 16 times this")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 34));
  app.add_option("--max_code_files", o.max_code_files,
                 "most files in a code archive")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  app.add_option("--testing_exit_before_reply", o.testing_exit_before_reply,
                 "fault injection for tests: the N-th stored submit exits the "
                 "process (as kill -9) between its commit and its reply")
      ->check(CLI::Range(0, 1'000'000))
      ->group("Testing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.heartbeat_ms * 2 > o.lease_ms) {
    std::cerr
        << "ladle-server: --heartbeat_ms must be at most half of --lease_ms\n";
    return 2;
  }
  return -1;
}

// Tokens from --token_file; without them, only a loopback address is allowed.
absl::StatusOr<ladle::Authenticator> MakeAuthenticator(const Options& o) {
  if (!o.token_file.empty())
    return ladle::Authenticator::FromFile(o.token_file);
  auto loopback = [](const std::string& a) {
    return a.rfind("127.", 0) == 0 || a.rfind("localhost:", 0) == 0 ||
           a.rfind("[::1]:", 0) == 0;
  };
  for (const auto& [flag, address] :
       {std::pair<const char*, const std::string&>{"--listen", o.listen},
        {"--http_listen", o.http_listen}}) {
    if (address.empty() || loopback(address)) continue;
    return absl::InvalidArgumentError(
        std::string(flag) + " " + address +
        " is reachable beyond this machine: pass --token_file (auth is only "
        "optional on a loopback address)");
  }
  LOG(WARNING) << "no --token_file: authentication is off (loopback only)";
  return ladle::Authenticator();
}

// TLS from --tls_cert and --tls_key, else plaintext.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const Options& o) {
  if (o.tls_cert.empty() != o.tls_key.empty())
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  if (o.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto read = [](const std::string& path, std::string* out) {
    std::ifstream in(path);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    return true;
  };
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  if (!read(o.tls_key, &pair.private_key) ||
      !read(o.tls_cert, &pair.cert_chain)) {
    return absl::InvalidArgumentError("cannot read --tls_cert/--tls_key");
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back(pair);
  return grpc::SslServerCredentials(ssl);
}

// The gRPC server on --listen with both services; null (after saying why)
// when it cannot listen.
std::unique_ptr<grpc::Server> StartGrpc(
    const Options& o, std::shared_ptr<grpc::ServerCredentials> creds,
    ladle::ExperimentServiceImpl* experiments,
    ladle::WorkerServiceImpl* workers, ladle::RpcMetrics* rpc_metrics) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(o.listen, creds, &port);
  builder.RegisterService(experiments);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      creators;
  creators.push_back(rpc_metrics->MakeInterceptorFactory(
      {ladle::ExperimentServiceImpl::kSubmitMethod}));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  builder.RegisterService(workers);
  builder.SetMaxReceiveMessageSize(16 << 20);
  // Keep a pool of polling threads instead of letting gRPC's sync server
  // start and join a thread whenever every poller is busy in a handler (a
  // Submit waits for its group commit): thread churn cost ~5% of the CPU
  // under 32 concurrent submitters.
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "ladle-server: cannot listen on " << o.listen
              << " (in use, or not an address of this host?)\n";
    return nullptr;
  }
  LOG(INFO) << "ladle-server listening on " << o.listen << " (port " << port
            << "), data in " << o.data_dir;
  return server;
}

// Ticks the coordinator every 100 ms until SIGTERM/SIGINT (blocked in
// `signals`) shuts the server down.
void ServeUntilSignal(grpc::Server* server, ladle::Coordinator* coordinator,
                      const sigset_t& signals) {
  std::atomic<bool> stopping{false};
  std::thread ticker([&] {
    while (!stopping.load()) {
      coordinator->Tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    LOG(INFO) << "signal " << sig << ": shutting down";
    stopping.store(true);
    server->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::seconds(2));
  });
  server->Wait();
  stopping.store(true);
  ticker.join();
  signal_waiter
      .detach();  // blocked in sigwait if the server stopped another way
}

// The Prometheus endpoint on --metrics_listen (null when off); INVALID_ARGUMENT
// when it cannot listen.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartExposer(
    const Options& o, std::shared_ptr<prometheus::Registry> registry) {
  if (o.metrics_listen.empty()) return nullptr;
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(o.metrics_listen);
    exposer->RegisterCollectable(registry);
    return exposer;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError("--metrics_listen " + o.metrics_listen +
                                      ": " + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex lock (gRPC's
  // locks are absl::Mutex too) records lock order for deadlock reports: a
  // debugging aid that the tests keep and a serving process does not need.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Signals go to one thread (see ladle-train's main for why compute threads
  // must not get them).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Options o;
  if (int rc = ParseFlags(argc, argv, &o); rc >= 0) return rc;
  auto fail = [](const absl::Status& st, int code) {
    std::cerr << "ladle-server: " << st.message() << "\n";
    return code;
  };
  absl::StatusOr<ladle::Authenticator> auth = MakeAuthenticator(o);
  if (!auth.ok()) return fail(auth.status(), 2);
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) {
    std::cerr << "ladle-server: --data_dir " << o.data_dir << ": "
              << ec.message() << "\n";
    return 2;
  }
  const std::string db =
      (std::filesystem::path(o.data_dir) / "ladle.db").string();
  auto store = ladle::OpenSqliteStore(db);
  if (!store.ok()) {
    std::cerr << "ladle-server: " << store.status().message() << "\n";
    return 1;
  }
  ladle::Coordinator::Options copts;
  copts.scheduler.lease_ms = o.lease_ms;
  // Ticks run every 100 ms; a gap past a third of the lease is a stall of
  // this process, not of the workers.
  copts.scheduler.stall_ms = std::max<int64_t>(1000, o.lease_ms / 3);
  copts.parse.max_jobs = o.max_jobs;
  auto registry = std::make_shared<prometheus::Registry>();
  ladle::ServerMetrics metrics(*registry);
  auto exposer = StartExposer(o, registry);
  if (!exposer.ok()) return fail(exposer.status(), 2);
  ladle::Coordinator coordinator(copts, store->get(), ladle::SystemClock::Get(),
                                 &metrics);
  if (absl::Status st = coordinator.Recover(); !st.ok()) {
    std::cerr << "ladle-server: recovery from " << db
              << " failed: " << st.message() << "\n";
    return 1;
  }
  ladle::LogStore logs((std::filesystem::path(o.data_dir) / "logs").string(),
                       o.log_cap_bytes);
  ladle::ArtifactStore artifacts(
      (std::filesystem::path(o.data_dir) / "artifacts").string(),
      o.max_artifact_bytes);
  ladle::RpcMetrics rpc_metrics(*registry);
  ladle::ExperimentServiceImpl experiments(&coordinator, store->get(), &logs,
                                           &artifacts, &*auth, &rpc_metrics);
  experiments.ExitBeforeSubmitReplyForTesting(o.testing_exit_before_reply);
  ladle::CodeLimits code_limits;
  code_limits.max_archive_bytes = o.max_code_bytes;
  code_limits.max_files = o.max_code_files;
  code_limits.max_unpacked_bytes = 16 * o.max_code_bytes;
  experiments.set_code_limits(code_limits);
  ladle::WorkerServiceImpl workers(&coordinator, store->get(), &logs,
                                   &artifacts, &*auth, o.heartbeat_ms,
                                   o.lease_ms);
  ladle::ExperimentApi api(&coordinator, store->get(), &logs, &artifacts);
  ladle::HttpMetrics http_metrics(*registry);
  ladle::HttpApi http(&api, &*auth, o.http_cors_origin, &http_metrics);
  if (absl::Status st = ladle::CheckCorsOrigin(o.http_cors_origin); !st.ok())
    return fail(st, 2);
  if (!o.http_listen.empty()) {
    if (absl::Status st = http.Start(o.http_listen); !st.ok())
      return fail(st, 2);
    LOG(INFO) << "web UI and HTTP/JSON API on http://" << o.http_listen
              << "/ (port " << http.port() << ")";
  }
  auto creds = ServerCredentials(o);
  if (!creds.ok()) return fail(creds.status(), 2);
  std::unique_ptr<grpc::Server> server =
      StartGrpc(o, *creds, &experiments, &workers, &rpc_metrics);
  if (server == nullptr) return 1;
  ServeUntilSignal(server.get(), &coordinator, signals);
  return 0;
}

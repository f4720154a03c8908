// ladle-slurm: workers as autoscaled Slurm pilot jobs. Watches the
// coordinator's queue (an admin token) and submits pilots that run
// ladle-worker, cancels idle ones, drains them before their time limit.
//
//   ladle-slurm --config=ladle-slurm.yaml [--interval_ms=5000]
//               [--metrics_listen=127.0.0.1:9466]
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/log.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "proto/channel.h"
#include "slurm/config.h"
#include "slurm/daemon.h"
#include "slurm/slurm_client.h"

namespace {

struct Options {
  std::string config;  // the YAML file (slurm/config.h)
  int64_t interval_ms = 5000;
  std::string metrics_listen = "127.0.0.1:9466";  // empty: off
};

int Fail(const std::string& what) {
  std::cerr << "ladle-slurm: " << what << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"ladle-slurm: Ladle workers as autoscaled Slurm pilot jobs"};
  app.add_option("--config", o.config, "configuration file (YAML)")->required();
  app.add_option("--interval_ms", o.interval_ms, "time between rounds")
      ->check(CLI::Range(int64_t{100}, int64_t{600'000}));
  app.add_option("--metrics_listen", o.metrics_listen,
                 "Prometheus /metrics address (host:port; empty: off)");
  CLI11_PARSE(app, argc, argv);
  std::ifstream in(o.config);
  if (!in) return Fail("--config " + o.config + ": cannot read it");
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ladle::slurm::Config> config =
      ladle::slurm::ParseConfig(text.str());
  if (!config.ok())
    return Fail(o.config + ": " + std::string(config.status().message()));
  std::string token;
  if (!config->token_file.empty()) {
    absl::StatusOr<std::string> t =
        ladle::ReadTokenFile(config->token_file, "token_file");
    if (!t.ok()) return Fail(std::string(t.status().message()));
    token = *t;
  }
  ladle::ChannelOptions channel;
  channel.address = config->coordinator;
  if (!config->tls_ca.empty()) {
    absl::StatusOr<std::string> pem =
        ladle::ReadPemFile(config->tls_ca, "tls_ca");
    if (!pem.ok()) return Fail(std::string(pem.status().message()));
    channel.tls_ca_pem = *pem;
  }
  auto stub =
      ladle::v1::ExperimentService::NewStub(ladle::OpenChannel(channel));
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!o.metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(o.metrics_listen);
      exposer->RegisterCollectable(registry);
    } catch (const std::exception& e) {
      return Fail("--metrics_listen " + o.metrics_listen + ": " + e.what());
    }
  }
  ladle::slurm::CommandSlurm slurm(*config);
  ladle::slurm::Daemon daemon(*config, &slurm, stub.get(), token,
                              registry.get());
  // SIGTERM/SIGINT end the loop; the pilots go on serving (a restarted
  // ladle-slurm finds them in squeue).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    daemon.Stop();
  });
  LOG(INFO) << "ladle-slurm: coordinator " << config->coordinator << ", "
            << config->autoscaler.types.size() << " pilot types, at most "
            << config->autoscaler.max_pilots << " pilots";
  daemon.Run(o.interval_ms);
  waiter.join();
  return 0;
}

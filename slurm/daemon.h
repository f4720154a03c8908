// ladle-slurm's loop: every round it reads the coordinator's queue summary
// and workers (public gRPC API, an admin token) and Slurm's pilots, asks the
// Autoscaler what to do and does it. A failing Slurm or coordinator is
// logged, counted (ladle_slurm_errors_total{op}) and retried with backoff;
// the pilots already running go on serving.
//
// Thread safety: Run on one thread; Stop from any.
#ifndef LADLE_SLURM_DAEMON_H_
#define LADLE_SLURM_DAEMON_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "ladle/v1/experiments.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "slurm/autoscaler.h"
#include "slurm/config.h"
#include "slurm/slurm_client.h"

namespace ladle::slurm {

class Daemon {
 public:
  // All must outlive it; `registry` may be null (no metrics).
  Daemon(const Config& config, SlurmClient* slurm,
         v1::ExperimentService::StubInterface* coordinator, std::string token,
         prometheus::Registry* registry);

  // One round at `now_ms`: observe, decide, act. The first error of an
  // observation stops the round (nothing is decided on half a picture);
  // actions that fail are counted and the rest go on.
  absl::Status Round(int64_t now_ms);
  // Rounds every `interval_ms` (doubling up to 60 s while they fail) until
  // Stop.
  void Run(int64_t interval_ms);
  void Stop() { stop_ = true; }

 private:
  void Count(const std::string& op);

  const Config& config_;
  SlurmClient* slurm_;
  v1::ExperimentService::StubInterface* coordinator_;
  const std::string token_;
  Autoscaler autoscaler_;
  std::atomic<bool> stop_{false};
  prometheus::Family<prometheus::Counter>* errors_ = nullptr;
  prometheus::Counter* submitted_ = nullptr;
  prometheus::Counter* cancelled_ = nullptr;
  prometheus::Counter* drained_ = nullptr;
  prometheus::Gauge* pending_ = nullptr;
  prometheus::Gauge* running_ = nullptr;
  prometheus::Gauge* up_ = nullptr;
};

}  // namespace ladle::slurm

#endif  // LADLE_SLURM_DAEMON_H_

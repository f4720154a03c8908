// ladle-worker: runs Ladle jobs on this host for a coordinator.
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/worker_labels.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "proto/channel.h"
#include "worker/gpu_probe.h"
#include "worker/worker.h"

namespace {

// What the flags say beyond WorkerOptions.
struct Flags {
  std::string gpus = "auto";  // auto | none | 0,1
  std::string metrics_listen, token_file, tls_ca;
  std::vector<std::string> labels;  // KEY=VALUE
};

// Parses the flags into `o` and `f`; returns -1 to go on, else the exit code.
int ParseFlags(int argc, char** argv, ladle::WorkerOptions* out, Flags* f) {
  ladle::WorkerOptions& o = *out;
  std::string& gpus = f->gpus;
  std::string& metrics_listen = f->metrics_listen;
  std::string& token_file = f->token_file;
  std::string& tls_ca = f->tls_ca;
  CLI::App app{"ladle-worker: runs Ladle jobs on this host"};
  app.add_option("--coordinator", o.coordinator,
                 "ladle-server address (host:port)");
  app.add_option("--work_dir", o.work_dir,
                 "directory for attempts and the worker id");
  app.add_option("--cpu_slots", o.cpu_slots,
                 "CPU slots offered (default: cores)")
      ->check(CLI::Range(0, 4096));
  app.add_option("--gpus", gpus, "auto, none, or a list of ordinals like 0,1");
  app.add_option("--name", o.name,
                 "name shown in `ladle workers` (default: hostname)");
  app.add_option("--label", f->labels,
                 "KEY=VALUE shown in `ladle workers` and the UI (repeatable); "
                 "in a Slurm job also slurm_job_id and node, from its "
                 "environment");
  app.add_option("--worker_id", o.worker_id,
                 "stable id (default: kept in work_dir/worker_id)");
  app.add_option("--trainer", o.trainer, "path of ladle-train");
  app.add_option("--exec_helper", o.exec_helper,
                 "path of ladle-exec, which starts users' programs "
                 "(default: beside this binary)");
  app.add_option("--python_dir", o.python_dir,
                 "directory with the `ladle` Python module, put on users' "
                 "PYTHONPATH (default: ../python beside this binary, if "
                 "there)");
  app.add_option("--log_cap_bytes", o.log_cap_bytes,
                 "stdout/stderr bytes relayed per attempt and stream; the rest "
                 "stays in the attempt directory")
      ->check(CLI::Range(int64_t{4096}, int64_t{1} << 40));
  app.add_option("--log_file_cap_bytes", o.log_file_cap_bytes,
                 "stdout/stderr bytes kept on disk per attempt and stream "
                 "(at least 2 x --log_cap_bytes); past it the file keeps its "
                 "start, a notice and the latest output")
      ->check(CLI::Range(int64_t{8192}, int64_t{1} << 42));
  app.add_option("--advertise_address", o.address,
                 "How other workers reach this host: MASTER_ADDR of gang jobs "
                 "whose rank 0 runs here (default: the address the "
                 "coordinator sees)");
  app.add_option("--rendezvous_timeout_ms", o.rendezvous_timeout_ms,
                 "How long a gang's rank waits for rank 0's port before it "
                 "fails")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1000}, int64_t{86'400'000}));
  app.add_option("--kill_grace_ms", o.kill_grace_ms,
                 "after SIGTERM (cancel, timeout, drain) a child gets this "
                 "long to checkpoint before SIGKILL")
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  app.add_option("--tls_ca", tls_ca,
                 "PEM CA certificate: connect to the coordinator with TLS");
  app.add_option("--token_file", token_file,
                 "file holding this worker's bearer token");
  app.add_option("--metrics_listen", metrics_listen,
                 "Prometheus /metrics address (host:port)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

// The labels of --label, over those a Slurm job's environment gives
// (slurm_job_id, node); INVALID_ARGUMENT names a bad one.
absl::StatusOr<std::map<std::string, std::string>> Labels(
    const std::vector<std::string>& flags) {
  std::map<std::string, std::string> out;
  for (const auto& [env, key] :
       {std::pair<const char*, const char*>{"SLURM_JOB_ID", "slurm_job_id"},
        {"SLURMD_NODENAME", "node"}}) {
    if (const char* v = std::getenv(env); v != nullptr && *v != '\0')
      out[key] = v;
  }
  for (const std::string& f : flags) {
    const size_t eq = f.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError("--label " + f +
                                        ": use KEY=VALUE, e.g. rack=a3");
    }
    out[f.substr(0, eq)] = f.substr(eq + 1);
  }
  RETURN_IF_ERROR(ladle::CheckWorkerLabels(out, "--label"));
  return out;
}

// The GPU ordinals of --gpus; INVALID_ARGUMENT names a bad one.
absl::StatusOr<std::vector<int>> ParseGpus(const std::string& gpus) {
  std::vector<int> out;
  if (gpus == "auto") {
    for (const ladle::GpuDevice& g : ladle::ProbeGpus()) out.push_back(g.index);
  } else if (gpus != "none") {
    for (absl::string_view part : absl::StrSplit(gpus, ',')) {
      int g;
      if (!absl::SimpleAtoi(part, &g) || g < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--gpus: '", part,
                         "' is not a GPU ordinal; use auto, none or 0,1"));
      }
      out.push_back(g);
    }
  }
  return out;
}

// Checks the options and reads the token, CA and GPUs into `o`.
absl::Status Complete(const Flags& f, ladle::WorkerOptions* o) {
  if (o->log_file_cap_bytes < 2 * o->log_cap_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log_file_cap_bytes (", o->log_file_cap_bytes,
        ") must be at least 2 x --log_cap_bytes (", o->log_cap_bytes,
        "): what is relayed must still be on disk; raise it or lower "
        "--log_cap_bytes"));
  }
  if (!f.token_file.empty()) {
    absl::StatusOr<std::string> token =
        ladle::ReadTokenFile(f.token_file, "--token_file");
    if (!token.ok()) return token.status();
    o->token = *token;
  }
  if (!f.tls_ca.empty()) {
    absl::StatusOr<std::string> pem = ladle::ReadPemFile(f.tls_ca, "--tls_ca");
    if (!pem.ok()) return pem.status();
    o->tls_ca_pem = *pem;
  }
  absl::StatusOr<std::vector<int>> gpus = ParseGpus(f.gpus);
  if (!gpus.ok()) return gpus.status();
  o->gpus = *gpus;
  absl::StatusOr<std::map<std::string, std::string>> labels = Labels(f.labels);
  if (!labels.ok()) return labels.status();
  o->labels = *labels;
  if (o->cpu_slots == 0 && o->gpus.empty()) {
    return absl::InvalidArgumentError(
        "nothing to offer: --cpu_slots is 0 and no GPUs");
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  // As in ladle-server: Debian's Abseil records lock order on every
  // absl::Mutex lock (a debugging aid); a serving process does without.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ladle::WorkerOptions o;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe");
  o.trainer = (self.parent_path() / "ladle-train").string();
  o.exec_helper = (self.parent_path() / "ladle-exec").string();
  if (std::filesystem::exists(self.parent_path() / "../python/ladle"))
    o.python_dir = (self.parent_path() / "../python").lexically_normal();
  o.cpu_slots =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Flags f;
  if (int rc = ParseFlags(argc, argv, &o, &f); rc >= 0) return rc;
  if (absl::Status st = Complete(f, &o); !st.ok()) {
    std::cerr << "ladle-worker: " << st.message() << "\n";
    return 2;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  ladle::WorkerMetrics metrics(*registry);
  metrics.SetPlacement(*registry, o.labels);
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!f.metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(f.metrics_listen);
    } catch (const std::exception& e) {
      std::cerr << "ladle-worker: --metrics_listen " << f.metrics_listen << ": "
                << e.what() << "\n";
      return 2;
    }
    exposer->RegisterCollectable(registry);
  }
  ladle::Worker worker(o, &metrics);
  std::thread signal_waiter([&] {
    for (int n = 0;; ++n) {  // the first signal drains, a second stops now
      int sig = 0;
      sigwait(&signals, &sig);
      LOG(INFO) << "signal " << sig << (n == 0 ? ": draining" : ": stopping");
      worker.Stop();
    }
  });
  absl::Status st = worker.Run();
  signal_waiter.detach();
  if (!st.ok()) {
    std::cerr << "ladle-worker: " << st.message() << "\n";
    return 2;
  }
  return 0;
}

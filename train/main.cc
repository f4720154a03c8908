// ladle-train: runs one training trial from a spec file.
//
// Exit codes: 0 done; 1 runtime failure; 2 bad flags or spec (message names the
// key); 3 stopped by SIGTERM/SIGINT after writing OUT/checkpoint.safetensors
// (resume with --resume).
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "spec/experiment.h"
#include "spec/kind.h"
#include "train/fusion.h"
#include "train/soup.h"
#include "train/trainer.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitPreempted = 3;

std::atomic<bool> g_stop{false};
void OnStopSignal(int) { g_stop.store(true); }

// SIGTERM/SIGINT must never interrupt the compute threads: with a plain
// handler, a SIGTERM that landed while dnnl_sgemm (oneDNN 2.6 JIT) ran
// corrupted the heap in 4 of 5 runs (abort inside dnnl_sgemm's free); routed as
// below, 6 of 6 runs stopped cleanly. So the signals are blocked in main before
// any thread starts (OpenMP and oneDNN threads inherit the mask) and a
// dedicated thread takes them with sigwait. The handler covers threads that
// libraries start before main (OpenBLAS's pool), which then only set the flag.
void RouteStopSignalsToWatcher() {
  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGINT, OnStopSignal);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0) g_stop.store(true);
  }).detach();
}

struct Options {
  std::string spec_path;    // required
  std::string out_dir;      // required unless --check
  std::string resume_from;  // optional checkpoint
  std::string device;       // overrides the spec's device when set
  int threads = -1;         // overrides the spec's threads when >= 0
  bool check_only = false;  // validate and print the resolved spec
  bool quiet = false;
};

}  // namespace

// Under ladle-worker (LADLE_EXIT_WITH_PARENT=1) a trial must not outlive its
// worker: if the worker dies (kill -9, crash) this process is re-parented, and
// it then stops like on SIGTERM (checkpoint, exit 3) instead of running on
// unsupervised.
void StopWhenOrphaned() {
  const char* env = std::getenv("LADLE_EXIT_WITH_PARENT");
  if (env == nullptr || std::string(env) != "1") return;
  const pid_t parent = getppid();
  std::thread([parent] {
    while (!g_stop.load()) {
      if (getppid() != parent) {
        g_stop.store(true);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }).detach();
}

// When `path` is an experiment spec rather than a trial spec (a common
// mix-up), a line saying so: its kind (from the registry) and job count, and
// which command takes it. Empty otherwise.
static std::string ExperimentHint(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ladle::ExperimentSpec> e =
      ladle::ParseExperimentSpec(text.str());
  if (!e.ok()) return "";
  absl::StatusOr<std::vector<ladle::PlannedJob>> jobs =
      ladle::PlanExperiment(*e);
  return absl::StrCat(
      "  (", path, " is an experiment spec, kind ", e->kind,
      jobs.ok() ? absl::StrCat(", ", jobs->size(), " jobs") : std::string(),
      ": check it with `ladle validate`, run it with `ladle "
      "submit`; ladle-train takes one trial spec, its trial: "
      "section)\n");
}

int main(int argc, char** argv) {
  RouteStopSignalsToWatcher();
  StopWhenOrphaned();
  Options opts;
  CLI::App app{"ladle-train: train one model from a spec (docs/TRAIN_SPEC.md)"};
  app.add_option("--spec", opts.spec_path, "trial spec (YAML)")->required();
  app.add_option("--out", opts.out_dir,
                 "output directory for metrics, summary and model");
  app.add_option("--resume", opts.resume_from, "checkpoint to continue from");
  app.add_option("--device", opts.device,
                 "override the spec's device (auto, cpu, cuda, cuda:N)");
  app.add_option("--threads", opts.threads,
                 "override the spec's CPU threads (0 = all cores)");
  app.add_flag("--check", opts.check_only,
               "validate the spec, print it resolved, and exit");
  app.add_flag("--quiet", opts.quiet, "no progress lines on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }

  absl::StatusOr<ladle::TrainSpec> spec = ladle::LoadTrainSpec(opts.spec_path);
  if (!spec.ok()) {
    std::cerr << "ladle-train: " << opts.spec_path << ": "
              << spec.status().message() << "\n"
              << ExperimentHint(opts.spec_path);
    return kExitBadInput;
  }
  if (!opts.device.empty()) spec->device = opts.device;
  if (opts.threads >= 0) spec->threads = opts.threads;
  if (opts.check_only) {
    std::cout << ladle::SpecToJson(*spec).dump(2) << "\n";
    return 0;
  }
  if (opts.out_dir.empty()) {
    std::cerr << "ladle-train: --out is required (directory for metrics.jsonl, "
                 "summary.json, "
                 "model.safetensors)\n";
    return kExitBadInput;
  }

  ladle::TrainOptions options;
  options.out_dir = opts.out_dir;
  options.resume_from = opts.resume_from;
  // Under ladle-worker, the checkpoint protocol: a stop checkpoints into
  // LADLE_CHECKPOINT_DIR (then uploaded), and a retry, which finds the latest
  // one restored there, resumes from it.
  const char* checkpoint_dir = std::getenv("LADLE_CHECKPOINT_DIR");
  const char* saved_file = std::getenv("LADLE_CHECKPOINT_SAVED_FILE");
  if (checkpoint_dir != nullptr && *checkpoint_dir != '\0') {
    options.checkpoint_path =
        (std::filesystem::path(checkpoint_dir) / "checkpoint.safetensors")
            .string();
    if (options.resume_from.empty() &&
        std::filesystem::exists(options.checkpoint_path)) {
      options.resume_from = options.checkpoint_path;
      std::cerr << "ladle-train: resuming from the job's checkpoint "
                << options.checkpoint_path << "\n";
    }
  }
  options.stop_requested = &g_stop;
  options.log_progress = !opts.quiet;
  absl::StatusOr<ladle::TrainResult> result =
      spec->task == ladle::TrainTask::kFuse   ? ladle::RunFuse(*spec, options)
      : spec->task == ladle::TrainTask::kSoup ? ladle::RunSoup(*spec, options)
                                              : ladle::RunTrial(*spec, options);
  if (!result.ok()) {
    std::cerr << "ladle-train: " << result.status().message() << "\n";
    return absl::IsInvalidArgument(result.status()) ||
                   absl::IsFailedPrecondition(result.status()) ||
                   absl::IsNotFound(result.status())
               ? kExitBadInput
               : kExitFailure;
  }
  if (result->preempted) {
    if (saved_file != nullptr && *saved_file != '\0')
      std::ofstream(saved_file) << result->checkpoint_path << "\n";
    std::cerr << "ladle-train: stopped; checkpoint written to "
              << result->checkpoint_path << " (continue with --resume "
              << result->checkpoint_path << ")\n";
    return kExitPreempted;
  }
  std::cout << result->summary.dump(2) << "\n";
  return 0;
}

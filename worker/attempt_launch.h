// How an attempt runs: where its files live (AttemptLayout) and the process
// that runs it (SpawnOptions), for ladle-train jobs and users' programs
// (kind command) alike. Both speak one protocol, set in the environment:
//
//   LADLE_METRICS_FILE     JSON lines {"step": N, "name": value, ...}, tailed
//   LADLE_SUMMARY_FILE     the final summary (a JSON object)
//   LADLE_OUTPUT_DIR       files uploaded when the attempt succeeds
//   LADLE_CHECKPOINT_DIR   the program's checkpoints
//   LADLE_CHECKPOINT_SAVED_FILE  touched after a checkpoint is complete
//   LADLE_STOP_FILE        exists once the worker asked the program to stop
//   LADLE_PARAMS           the job's parameters as JSON (also params.json)
//   LADLE_GPU_SHARE        its fraction of a shared GPU (gpus: 0.25), if any
//
// Builds paths, files' contents and spawn options (on top of this process's
// environment) and touches nothing; the worker creates the directories and
// starts the process.
#ifndef LADLE_WORKER_ATTEMPT_LAUNCH_H_
#define LADLE_WORKER_ATTEMPT_LAUNCH_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/process.h"
#include "ladle/v1/workers.pb.h"
#include "spec/command_job.h"

namespace ladle {

struct AttemptLayout {
  std::string dir;         // the attempt's own directory
  std::string work_dir;    // the child's working directory
  std::string output_dir;  // LADLE_OUTPUT_DIR
  std::string metrics_file, summary_file, checkpoint_dir;
  // Touched by the program after it saved a complete checkpoint (then
  // uploaded); created by the worker before it sends SIGTERM.
  std::string checkpoint_saved_file, stop_file;
  std::string stdout_log, stderr_log;
  // Output files upload as artifacts named this prefix + their path under
  // output_dir ("" for ladle-train: model.safetensors; "out/" for a program
  // whose outputs are out/).
  std::string output_prefix;
  std::string program;  // as reasons name it: "ladle-train", "train.py"
};

// ladle-train: the attempt directory is its working directory (specs name
// inputs/<job index>/<file>), out/ holds its metrics, summary and model.
AttemptLayout TrainLayout(const std::string& attempt_dir);
// A user's program: work/ is its working directory (its code is unpacked
// there), the protocol's files sit beside it.
AttemptLayout CommandLayout(const std::string& attempt_dir,
                            const CommandJob& job);

// What the launcher needs from the worker.
struct LaunchContext {
  std::vector<int> gpu_ordinals;  // this worker's ordinals for the assignment
  int cpu_slots = 0;
  int gpu_share_milli = 0;  // a fraction of its one GPU; 0: whole GPUs
  std::string exec_helper;  // ladle-exec: runs the program as a tied child
  std::string python_dir;   // holds the `ladle` module; empty: none
  int parent_pid = 0;       // the worker's pid, for ladle-exec
};

// The process of a ladle-train attempt, given its written spec file.
SpawnOptions TrainSpawn(const std::string& trainer,
                        const std::string& spec_path,
                        const AttemptLayout& layout,
                        const LaunchContext& context);

// The process of a command attempt: the program under ladle-exec, with the
// job's environment on top of the worker's and the protocol's variables;
// for a gang's rank, torchrun's (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR; MASTER_PORT is added once known).
SpawnOptions CommandSpawn(const v1::Assignment& assignment,
                          const CommandJob& job, const AttemptLayout& layout,
                          const LaunchContext& context);

// A free TCP port on this host (bound once to port 0, then released): a
// gang's MASTER_PORT.
absl::StatusOr<int> PickFreePort();

// The protocol's variables for `layout`, and the CUDA devices.
std::vector<std::pair<std::string, std::string>> ProtocolEnv(
    const AttemptLayout& layout, const LaunchContext& context);

}  // namespace ladle

#endif  // LADLE_WORKER_ATTEMPT_LAUNCH_H_

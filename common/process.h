// Child processes: start one with posix_spawn (argv, environment, output
// files, working directory, process group) and stop one (SIGTERM, then
// SIGKILL after a grace period). Used by the worker (one child per attempt),
// `ladle local up` and the load bench. Thread-safe: no shared state.
#ifndef LADLE_COMMON_PROCESS_H_
#define LADLE_COMMON_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ladle {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0]: the program's path
  // "NAME=value" entries; empty: this process's environment.
  std::vector<std::string> env;
  // Files for the child's stdout and stderr (empty: inherited). The same path
  // for both: one file, stderr a copy of stdout's descriptor.
  std::string stdout_path, stderr_path;
  bool truncate = false;    // O_TRUNC the output files
  bool append = true;       // O_APPEND: writes land at the end, whoever else
                            // writes or truncates the file
  std::string working_dir;  // empty: this process's
  bool new_process_group = false;  // its own group: kill(-pid) reaches its
                                   // children too
};

// Starts the child with an empty signal mask (a parent that blocks signals
// for sigwait must not pass that on). INTERNAL names the program and errno's
// text when it cannot start.
absl::StatusOr<pid_t> Spawn(const SpawnOptions& options);

// This process's environment with `name` removed and "name=value" added for
// each of `set`.
std::vector<std::string> EnvironmentWith(
    const std::vector<std::pair<std::string, std::string>>& set);

// SIGTERM, then SIGKILL when it has not exited within `grace_ms`; reaps it.
// Returns its wait status (-1 when it was not our child).
int StopAndReap(pid_t pid, int grace_ms);

}  // namespace ladle

#endif  // LADLE_COMMON_PROCESS_H_

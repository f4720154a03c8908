#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace ladle {
namespace {

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings)
    out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

void AddOutputs(const SpawnOptions& o, posix_spawn_file_actions_t* files) {
  const int flags = O_WRONLY | O_CREAT | (o.truncate ? O_TRUNC : 0) |
                    (o.append ? O_APPEND : 0);
  if (!o.stdout_path.empty())
    posix_spawn_file_actions_addopen(files, 1, o.stdout_path.c_str(), flags,
                                     0644);
  if (o.stderr_path.empty()) return;
  if (o.stderr_path == o.stdout_path) {
    posix_spawn_file_actions_adddup2(files, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(files, 2, o.stderr_path.c_str(), flags,
                                     0644);
  }
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return absl::InvalidArgumentError("spawn: empty argv");
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  AddOutputs(o, &files);
  if (!o.working_dir.empty())
    posix_spawn_file_actions_addchdir_np(&files, o.working_dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  short flags = POSIX_SPAWN_SETSIGMASK;
  if (o.new_process_group) {
    posix_spawnattr_setpgroup(&attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr, flags);
  std::vector<char*> argv = Pointers(o.argv);
  std::vector<char*> envp = Pointers(o.env);
  pid_t pid = -1;
  const int rc =
      posix_spawn(&pid, o.argv[0].c_str(), &files, &attr, argv.data(),
                  o.env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", o.argv[0], ": ", std::strerror(rc)));
  }
  return pid;
}

std::vector<std::string> EnvironmentWith(
    const std::vector<std::pair<std::string, std::string>>& set) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const auto& [name, value] : set)
      replaced = replaced || entry.rfind(name + "=", 0) == 0;
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [name, value] : set) env.push_back(name + "=" + value);
  return env;
}

int StopAndReap(pid_t pid, int grace_ms) {
  if (pid <= 0) return -1;
  kill(pid, SIGTERM);
  int status = 0;
  for (int waited = 0; waited < grace_ms; waited += 20) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  return waitpid(pid, &status, 0) == pid ? status : -1;
}

}  // namespace ladle

#include "worker/attempt_launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;

AttemptLayout Common(const std::string& dir) {
  AttemptLayout l;
  l.dir = dir;
  l.stdout_log = dir + "/stdout.log";
  l.stderr_log = dir + "/stderr.log";
  l.checkpoint_dir = dir + "/checkpoint";
  l.checkpoint_saved_file = dir + "/checkpoint.saved";
  l.stop_file = dir + "/stop";
  return l;
}

}  // namespace

AttemptLayout TrainLayout(const std::string& attempt_dir) {
  AttemptLayout l = Common(attempt_dir);
  l.work_dir = attempt_dir;
  l.output_dir = attempt_dir + "/out";
  l.metrics_file = l.output_dir + "/metrics.jsonl";
  l.summary_file = l.output_dir + "/summary.json";
  l.program = "ladle-train";
  return l;
}

AttemptLayout CommandLayout(const std::string& attempt_dir,
                            const CommandJob& job) {
  AttemptLayout l = Common(attempt_dir);
  l.work_dir = attempt_dir + "/work";
  l.output_dir = l.work_dir + "/" + job.outputs;
  l.metrics_file = attempt_dir + "/metrics.jsonl";
  l.summary_file = attempt_dir + "/summary.json";
  l.output_prefix = job.outputs + "/";
  l.program = fs::path(job.argv.front()).filename().string();
  if (l.program == "python3" || l.program == "python" || l.program == "sh" ||
      l.program == "bash") {
    // "train.py exited with code 1" says more than "python3 exited ...".
    if (job.argv.size() > 1 && job.argv[1].rfind('-', 0) != 0)
      l.program = fs::path(job.argv[1]).filename().string();
  }
  return l;
}

std::vector<std::pair<std::string, std::string>> ProtocolEnv(
    const AttemptLayout& layout, const LaunchContext& context) {
  // CUDA_VISIBLE_DEVICES: the assigned GPUs; empty hides all.
  std::vector<std::string> visible;
  for (int g : context.gpu_ordinals) visible.push_back(std::to_string(g));
  std::vector<std::pair<std::string, std::string>> env = {
      {"CUDA_VISIBLE_DEVICES", absl::StrJoin(visible, ",")},
      {"LADLE_METRICS_FILE", layout.metrics_file},
      {"LADLE_SUMMARY_FILE", layout.summary_file},
      {"LADLE_OUTPUT_DIR", layout.output_dir},
      {"LADLE_CHECKPOINT_DIR", layout.checkpoint_dir},
      {"LADLE_CHECKPOINT_SAVED_FILE", layout.checkpoint_saved_file},
      {"LADLE_STOP_FILE", layout.stop_file}};
  // Its part of a shared GPU, e.g. for torch's
  // set_per_process_memory_fraction.
  if (context.gpu_share_milli > 0) {
    env.emplace_back("LADLE_GPU_SHARE",
                     absl::StrFormat("%.3g", context.gpu_share_milli / 1000.0));
  }
  return env;
}

absl::StatusOr<int> PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return absl::UnavailableError("no free port for the gang's rank 0: " + why);
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

SpawnOptions TrainSpawn(const std::string& trainer,
                        const std::string& spec_path,
                        const AttemptLayout& layout,
                        const LaunchContext& context) {
  SpawnOptions spawn;
  spawn.argv = {trainer, "--spec", spec_path, "--out", layout.output_dir};
  auto env = ProtocolEnv(layout, context);
  env.emplace_back("LADLE_EXIT_WITH_PARENT", "1");  // stops if the worker dies
  spawn.env = EnvironmentWith(env);
  spawn.stdout_path = layout.stdout_log;
  spawn.stderr_path = layout.stderr_log;
  spawn.truncate = true;
  spawn.working_dir = layout.work_dir;
  spawn.new_process_group = true;  // a cancel stops it and its threads
  return spawn;
}

SpawnOptions CommandSpawn(const v1::Assignment& a, const CommandJob& job,
                          const AttemptLayout& layout,
                          const LaunchContext& context) {
  std::vector<std::pair<std::string, std::string>> env =
      ProtocolEnv(layout, context);
  const std::string params = job.params.dump();
  env.insert(env.end(), {{"LADLE_PARAMS", params},
                         {"LADLE_JOB_ID", a.job_id()},
                         {"LADLE_EXPERIMENT_ID", a.experiment_id()},
                         {"LADLE_ATTEMPT", absl::StrCat(a.attempt_number())},
                         {"LADLE_ATTEMPT_ID", absl::StrCat(a.attempt_id())}});
  if (const v1::GangRank& g = a.gang(); g.world_size() > 1) {
    env.insert(env.end(),
               {{"RANK", absl::StrCat(g.rank())},
                {"WORLD_SIZE", absl::StrCat(g.world_size())},
                {"LOCAL_RANK", absl::StrCat(g.local_rank())},
                {"LOCAL_WORLD_SIZE", absl::StrCat(g.local_world_size())},
                {"MASTER_ADDR", g.master_addr()}});
  }
  // Defaults the job's own env may override: threads as many as its slots,
  // Python output unbuffered so logs stream live.
  if (!job.env.count("OMP_NUM_THREADS") && context.cpu_slots > 0)
    env.emplace_back("OMP_NUM_THREADS", absl::StrCat(context.cpu_slots));
  if (!job.env.count("PYTHONUNBUFFERED"))
    env.emplace_back("PYTHONUNBUFFERED", "1");
  // PYTHONPATH: the job's own entries first, then the ladle module's
  // directory, then what the worker was started with.
  std::vector<std::string> pythonpath;
  for (const auto& [name, value] : job.env) {
    if (name == "PYTHONPATH") {
      pythonpath.push_back(value);
    } else {
      env.emplace_back(name, value);
    }
  }
  if (!context.python_dir.empty()) pythonpath.push_back(context.python_dir);
  if (const char* inherited = std::getenv("PYTHONPATH");
      inherited != nullptr && *inherited != '\0')
    pythonpath.push_back(inherited);
  if (!pythonpath.empty())
    env.emplace_back("PYTHONPATH", absl::StrJoin(pythonpath, ":"));
  SpawnOptions spawn;
  spawn.argv = {context.exec_helper};
  if (context.parent_pid > 0)
    spawn.argv.push_back(absl::StrCat("--parent_pid=", context.parent_pid));
  spawn.argv.push_back("--");
  spawn.argv.insert(spawn.argv.end(), job.argv.begin(), job.argv.end());
  spawn.env = EnvironmentWith(env);
  spawn.stdout_path = layout.stdout_log;
  spawn.stderr_path = layout.stderr_log;
  spawn.truncate = true;
  spawn.working_dir = layout.work_dir;
  spawn.new_process_group = true;
  return spawn;
}

}  // namespace ladle

#include "slurm/slurm_client.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/process.h"

namespace ladle::slurm {
namespace {

// `s` as one word of a /bin/sh command line.
std::string ShellQuote(const std::string& s) {
  return "'" + absl::StrReplaceAll(s, {{"'", "'\\''"}}) + "'";
}

// "2026-12-03T18:58:38" in this host's time zone -> Unix ms; 0 otherwise.
int64_t SlurmTimeMs(const std::string& t) {
  std::tm tm{};
  if (strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm)) * 1000;
}

// `name` found on PATH (posix_spawn takes a path); `name` itself when it
// has a slash or is nowhere (the spawn then names it).
std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (name.find('/') != std::string::npos || path == nullptr) return name;
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<std::string> SbatchArgv(const Config& c, const PilotType& t) {
  std::vector<std::string> a = {
      "sbatch", "--parsable", absl::StrCat("--job-name=", kPilotPrefix, t.name),
      absl::StrCat("--cpus-per-task=", t.cpu_slots),
      absl::StrCat("--output=", c.work_dir, "/pilot-%j.log")};
  if (t.gpus > 0) a.push_back(absl::StrCat("--gres=gpu:", t.gpus));
  if (t.memory_bytes > 0)
    a.push_back(
        absl::StrCat("--mem=", (t.memory_bytes + (1 << 20) - 1) >> 20, "M"));
  if (!c.sbatch.partition.empty())
    a.push_back("--partition=" + c.sbatch.partition);
  if (!c.sbatch.account.empty()) a.push_back("--account=" + c.sbatch.account);
  if (!c.sbatch.qos.empty()) a.push_back("--qos=" + c.sbatch.qos);
  if (c.sbatch.time_limit_seconds > 0) {
    a.push_back("--time=" + c.sbatch.time_limit);
    // Slurm itself sends the worker SIGTERM this long before the limit: it
    // drains, its attempts checkpoint and run again elsewhere.
    a.push_back(
        absl::StrCat("--signal=B:TERM@", c.autoscaler.drain_margin_ms / 1000));
  }
  a.insert(a.end(), c.sbatch.args.begin(), c.sbatch.args.end());
  std::vector<std::string> worker = {
      "exec",
      ShellQuote(c.worker),
      ShellQuote("--coordinator=" + c.coordinator),
      "--work_dir=" + ShellQuote(c.work_dir) + "/pilot-$SLURM_JOB_ID",
      absl::StrCat("--cpu_slots=", t.cpu_slots),
      t.gpus > 0 ? "--gpus=auto" : "--gpus=none",
      "--name=pilot-$SLURM_JOB_ID"};
  if (!c.worker_token_file.empty())
    worker.push_back(ShellQuote("--token_file=" + c.worker_token_file));
  if (!c.tls_ca.empty()) worker.push_back(ShellQuote("--tls_ca=" + c.tls_ca));
  a.push_back("--wrap=" + absl::StrJoin(worker, " "));
  return a;
}

absl::StatusOr<std::vector<Pilot>> ParseSqueue(const std::string& out) {
  std::vector<Pilot> pilots;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, '|');
    if (f.size() != 5) {
      return absl::InternalError(
          absl::StrCat("squeue: unexpected line '", line, "'"));
    }
    if (!absl::StartsWith(f[1], kPilotPrefix)) continue;
    Pilot p;
    p.slurm_job_id = f[0];
    p.type = f[1].substr(sizeof(kPilotPrefix) - 1);
    p.running = f[2] == "RUNNING" || f[2] == "COMPLETING";
    p.started_ms = p.running ? SlurmTimeMs(f[3]) : 0;
    const int64_t limit = SlurmDurationSeconds(f[4]);
    p.time_limit_ms = limit > 0 ? limit * 1000 : 0;
    pilots.push_back(p);
  }
  return pilots;
}

absl::StatusOr<std::string> CommandSlurm::Run(
    const std::vector<std::string>& argv) const {
  char dir[] = "/tmp/ladle-slurm-XXXXXX";
  if (mkdtemp(dir) == nullptr) return absl::InternalError("mkdtemp failed");
  SpawnOptions o;
  o.argv = argv;
  o.argv[0] = OnPath(argv[0]);
  o.stdout_path = std::string(dir) + "/out";
  o.stderr_path = std::string(dir) + "/err";
  absl::StatusOr<pid_t> pid = Spawn(o);
  std::string out, err;
  int status = -1;
  if (pid.ok()) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(timeout_ms_);
    while (waitpid(*pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        status = StopAndReap(*pid, 1000);
        err = "timed out";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    out = ReadAll(o.stdout_path);
    if (err.empty()) err = ReadAll(o.stderr_path);
  }
  std::filesystem::remove_all(dir);
  if (!pid.ok()) return pid.status();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  std::string last(absl::StripAsciiWhitespace(err));
  if (const size_t nl = last.rfind('\n'); nl != std::string::npos)
    last = last.substr(nl + 1);
  return absl::UnavailableError(absl::StrCat(argv[0], " failed: ", last));
}

absl::StatusOr<std::string> CommandSlurm::Submit(const PilotType& type) {
  std::error_code ec;
  std::filesystem::create_directories(config_.work_dir, ec);
  absl::StatusOr<std::string> out = Run(SbatchArgv(config_, type));
  if (!out.ok()) return out.status();
  // --parsable: "<job id>[;<cluster>]".
  std::string id(absl::StripAsciiWhitespace(*out));
  return id.substr(0, id.find(';'));
}

absl::StatusOr<std::vector<Pilot>> CommandSlurm::ListPilots() {
  const char* user = std::getenv("USER");
  std::vector<std::string> argv = {"squeue", "-h", "-o", "%i|%j|%T|%S|%l"};
  if (user != nullptr && *user != '\0')
    argv.push_back(std::string("--user=") + user);
  absl::StatusOr<std::string> out = Run(argv);
  if (!out.ok()) return out.status();
  return ParseSqueue(*out);
}

absl::Status CommandSlurm::Cancel(const std::string& job_id) {
  return Run({"scancel", job_id}).status();
}

absl::Status CommandSlurm::Drain(const std::string& job_id) {
  return Run({"scancel", "--batch", "--signal=TERM", job_id}).status();
}

}  // namespace ladle::slurm

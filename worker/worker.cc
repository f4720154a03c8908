#include "worker/worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "code/archive.h"
#include "common/artifact_name.h"
#include "common/log.h"
#include "common/process.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "proto/api_util.h"
#include "proto/channel.h"
#include "spec/command_job.h"
#include "worker/gpu_probe.h"
#include "worker/log_relay.h"
#include "worker/proc_memory.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;

// How often a running child's metrics, logs and checkpoint marker are read.
constexpr int64_t kRelayIntervalMs = 100;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Worker::Worker(WorkerOptions options, WorkerMetrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

Worker::~Worker() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

absl::Status Worker::Setup() {
  std::error_code ec;
  // Children run in their attempt directories: every path handed to them
  // must be absolute.
  options_.work_dir = fs::absolute(options_.work_dir, ec).lexically_normal();
  if (!options_.trainer.empty())
    options_.trainer = fs::absolute(options_.trainer, ec).string();
  if (!options_.exec_helper.empty())
    options_.exec_helper = fs::absolute(options_.exec_helper, ec).string();
  if (!options_.python_dir.empty())
    options_.python_dir = fs::absolute(options_.python_dir, ec).string();
  fs::create_directories(fs::path(options_.work_dir) / "attempts", ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--work_dir ", options_.work_dir, ": ", ec.message()));
  }
  if (options_.worker_id.empty()) {
    // A stable id across restarts of this daemon on this work dir.
    const std::string id_file =
        (fs::path(options_.work_dir) / "worker_id").string();
    options_.worker_id = ReadFile(id_file);
    while (!options_.worker_id.empty() &&
           std::isspace(options_.worker_id.back())) {
      options_.worker_id.pop_back();
    }
    if (options_.worker_id.empty()) {
      std::random_device rd;
      options_.worker_id = absl::StrCat("w-", absl::Hex(rd(), absl::kZeroPad8));
      std::ofstream(id_file) << options_.worker_id << "\n";
    }
  }
  if (options_.name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    options_.name = host;
  }
  if (!fs::exists(options_.trainer)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trainer ", options_.trainer, " not found (set --trainer)"));
  }
  if (!fs::exists(options_.exec_helper)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ladle-exec ", options_.exec_helper, " not found (set --exec_helper)"));
  }
  return absl::OkStatus();
}

absl::Status Worker::Run() {
  if (absl::Status st = Setup(); !st.ok()) return st;
  nvml_ = Nvml::Open();  // null without a driver: no GPU usage then
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  LOG(INFO) << "worker " << options_.worker_id << " (" << options_.name
            << "): " << options_.cpu_slots << " CPU slots, "
            << options_.gpus.size() << " GPUs, "
            << "coordinator " << options_.coordinator;
  channel_ = OpenChannel({options_.coordinator, options_.tls_ca_pem});
  std::thread poller([this] {
    while (!stopping_.load()) {
      Poll();
      if (drain_wanted_.load()) AdvanceDrain();
      WaitForChildren(100);  // a child's exit ends the wait at once
    }
  });
  // Heartbeats on their own thread: a long upload in Poll must not cost the
  // leases.
  std::thread heartbeats([this] {
    while (!stopping_.load()) {
      Send(Heartbeat());
      for (int64_t waited = 0;
           waited < heartbeat_ms_.load() && !stopping_.load(); waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });
  int64_t backoff_ms = 200;
  while (!stopping_.load()) {
    const int64_t started = NowMs();
    Session();
    if (stopping_.load()) break;
    if (NowMs() - started > 10'000)
      backoff_ms = 200;  // it had been working: retry soon
    LOG(WARNING) << "session with " << options_.coordinator
                 << " ended; reconnecting in " << backoff_ms << " ms";
    for (int64_t waited = 0; waited < backoff_ms && !stopping_.load();
         waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 5'000);
  }
  DrainChildren();
  poller.join();
  heartbeats.join();
  return absl::OkStatus();
}

v1::WorkerMessage Worker::Heartbeat() {
  v1::WorkerMessage hb;
  hb.mutable_heartbeat();
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, a] : attempts_) {
      if (!a.finished) hb.mutable_heartbeat()->add_running_attempt_ids(id);
    }
  }
  // GPU usage (NVML) rides on the heartbeat and feeds this worker's gauges.
  if (!nvml_) return hb;
  for (const GpuUsageSample& g : nvml_->Sample()) {
    v1::GpuUsage* u = hb.mutable_heartbeat()->add_gpu_usage();
    u->set_index(g.index);
    u->set_memory_used_bytes(g.memory_used_bytes);
    u->set_utilization_ratio(g.utilization_ratio);
    if (metrics_) {
      const std::string gpu = std::to_string(g.index);
      metrics_->gpu_memory_used.Add({{"gpu", gpu}})
          .Set(static_cast<double>(g.memory_used_bytes));
      metrics_->gpu_utilization.Add({{"gpu", gpu}}).Set(g.utilization_ratio);
    }
  }
  return hb;
}

void Worker::DrainChildren() {
  // Children get SIGTERM (ladle-train checkpoints), then SIGKILL after the
  // grace.
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, a] : attempts_) {
      if (a.finished || a.pid <= 0) continue;
      a.timers.drain_requested = true;
      RequestStop(a);
    }
  }
  const int64_t deadline = NowMs() + options_.kill_grace_ms;
  while (NowMs() < deadline) {
    Poll();
    bool any = false;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, a] : attempts_) any |= !a.finished;
    }
    if (!any) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  absl::MutexLock lock(&mu_);
  for (auto& [id, a] : attempts_) {
    if (!a.finished && a.pid > 0) kill(-a.pid, SIGKILL);
  }
}

void Worker::Stop() {
  if (!drain_wanted_.exchange(true)) {  // the poller drains
    const uint64_t one = 1;
    ::write(wake_fd_, &one, sizeof(one));
    return;
  }
  stopping_.store(true);
  absl::MutexLock lock(&mu_);
  if (context_) context_->TryCancel();
}

void Worker::AdvanceDrain() {
  if (drain_deadline_ms_ == 0) {
    drain_deadline_ms_ = NowMs() + options_.kill_grace_ms + 5'000;
    LOG(INFO) << "draining: stopping " << [&] {
      absl::MutexLock lock(&mu_);
      return attempts_.size();
    }() << " attempts";
    v1::WorkerMessage m;
    m.mutable_draining();
    Send(m);
    absl::MutexLock lock(&mu_);
    for (auto& [id, a] : attempts_) {
      if (a.finished) continue;
      if (a.waiting) {
        EndUnstarted(a, v1::AttemptResult::OUTCOME_STOPPED,
                     "not started: the worker drains");
        continue;
      }
      a.timers.drain_requested = true;
      RequestStop(a);
      a.timers.term_sent_ms = NowMs();  // SIGKILL after the grace
    }
    return;
  }
  bool done = NowMs() > drain_deadline_ms_;
  {
    absl::MutexLock lock(&mu_);
    done |= attempts_.empty();  // every result went out
  }
  if (!done) return;
  stopping_.store(true);
  absl::MutexLock lock(&mu_);
  if (context_) context_->TryCancel();
}

bool Worker::Send(const v1::WorkerMessage& m) {
  absl::MutexLock lock(&mu_);
  return stream_ != nullptr && stream_->Write(m);
}

void Worker::Session() {
  auto stub = v1::WorkerService::NewStub(channel_);
  grpc::ClientContext* ctx = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_.load()) return;
    context_ = std::make_unique<grpc::ClientContext>();
    // Wait for the coordinator instead of failing fast while it (re)starts;
    // Stop() cancels.
    context_->set_wait_for_ready(true);
    AddBearerToken(context_.get(), options_.token);
    ctx = context_.get();
  }
  auto stream = stub->Session(ctx);
  v1::WorkerMessage hello;
  v1::WorkerHello* h = hello.mutable_hello();
  h->set_worker_id(options_.worker_id);
  h->set_name(options_.name);
  h->set_gpus(static_cast<int>(options_.gpus.size()));
  h->set_cpu_slots(options_.cpu_slots);
  h->set_version("ladle-worker 0.1");
  h->set_address(options_.address);
  for (const auto& [k, v] : options_.labels) (*h->mutable_labels())[k] = v;
  if (nvml_) {
    for (const GpuDevice& d : nvml_->Devices()) {
      v1::GpuInfo* g = h->add_gpu_info();
      g->set_index(d.index);
      g->set_name(d.name);
      g->set_memory_total_bytes(d.memory_total_bytes);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    // Finished-but-unreported attempts count as running so their results are
    // still accepted.
    for (const auto& [id, a] : attempts_) h->add_running_attempt_ids(id);
  }
  if (!stream->Write(hello)) {
    stream->Finish().ok();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    stream_ = stream.get();
    // Gangs whose rank 0 runs here: their ranks may still wait for the port.
    for (const auto& [id, a] : attempts_) {
      if (a.finished || a.master_port == 0) continue;
      v1::WorkerMessage m;
      m.mutable_rendezvous()->set_attempt_id(id);
      m.mutable_rendezvous()->set_port(a.master_port);
      stream->Write(m);
    }
  }
  if (metrics_) metrics_->connected.Set(1);
  v1::CoordinatorMessage m;
  while (stream->Read(&m)) {
    if (m.has_welcome()) {
      heartbeat_ms_.store(
          std::max<int64_t>(100, m.welcome().heartbeat_interval_ms()));
      for (int64_t id : m.welcome().stop_attempt_ids())
        Cancel(id, "superseded (coordinator)");
      LOG(INFO) << "session open as " << m.welcome().worker_id();
    } else if (m.has_assignment()) {
      Start(m.assignment());
    } else if (m.has_rendezvous()) {
      StartRank(m.rendezvous().attempt_id(), m.rendezvous().master_port());
    } else if (m.has_cancel()) {
      Cancel(m.cancel().attempt_id(), m.cancel().reason());
    }
  }
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }
  if (metrics_) metrics_->connected.Set(0);
  grpc::Status st = stream->Finish();
  if (!st.ok() && !stopping_.load())
    LOG(WARNING) << "session: " << st.error_message();
  absl::MutexLock lock(&mu_);
  context_.reset();
}

void Worker::Start(const v1::Assignment& a) {
  Attempt at;
  at.id = a.attempt_id();
  at.job_id = a.job_id();
  at.rank = a.gang().rank();
  at.timers.timeout_seconds = a.timeout_seconds();
  at.dir = (fs::path(options_.work_dir) / "attempts" /
            std::to_string(a.attempt_id()))
               .string();
  auto fail = [&](absl::string_view why) {
    KeepUnstarted(std::move(at), v1::AttemptResult::OUTCOME_FAILED,
                  std::string(why));
  };
  if (drain_wanted_.load()) {  // sent before the coordinator heard
    return KeepUnstarted(std::move(at), v1::AttemptResult::OUTCOME_STOPPED,
                         "not started: the worker drains");
  }
  absl::StatusOr<SpawnOptions> spawn = Prepare(a, &at);
  if (!spawn.ok()) return fail(spawn.status().message());
  if (a.gang().world_size() > 1 && a.gang().rank() > 0) {
    // Its environment is complete once rank 0 has a port.
    at.waiting = *std::move(spawn);
    at.wait_deadline_ms = NowMs() + options_.rendezvous_timeout_ms;
    absl::MutexLock lock(&mu_);
    attempts_[at.id] = std::move(at);
    return;
  }
  if (a.gang().world_size() > 1) {  // rank 0: pick the port, tell the others
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return fail(port.status().message());
    spawn->env.push_back(absl::StrCat("MASTER_PORT=", *port));
    at.master_port = *port;
    v1::WorkerMessage m;
    m.mutable_rendezvous()->set_attempt_id(a.attempt_id());
    m.mutable_rendezvous()->set_port(*port);
    Send(m);  // lost with the session: the gang's lease then ends it
  }
  Launch(std::move(at), *spawn);
}

void Worker::Launch(Attempt at, const SpawnOptions& spawn) {
  if (drain_wanted_.load()) {  // the drain began while it was prepared
    return KeepUnstarted(std::move(at), v1::AttemptResult::OUTCOME_STOPPED,
                         "not started: the worker drains");
  }
  absl::StatusOr<pid_t> started = Spawn(spawn);
  if (!started.ok()) {
    return KeepUnstarted(std::move(at), v1::AttemptResult::OUTCOME_FAILED,
                         std::string(started.status().message()));
  }
  at.pid = *started;
  // Readable when it exits: the poller wakes then rather than at its next
  // tick (-1 on kernels before 5.3: the tick alone).
  at.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, at.pid, 0));
  if (at.timers.timeout_seconds > 0)
    at.timers.deadline_ms = NowMs() + at.timers.timeout_seconds * 1000;
  LOG(INFO) << "attempt " << at.id << " (job " << at.job_id
            << ") started as pid " << at.pid;
  {
    absl::MutexLock lock(&mu_);
    attempts_[at.id] = std::move(at);
  }
  const uint64_t one = 1;
  ::write(wake_fd_, &one, sizeof(one));
}

void Worker::StartRank(int64_t attempt_id, int port) {
  Attempt at;
  {
    absl::MutexLock lock(&mu_);
    auto it = attempts_.find(attempt_id);
    if (it == attempts_.end() || !it->second.waiting) return;
    at = std::move(it->second);
    attempts_.erase(it);
  }
  SpawnOptions spawn = *std::move(at.waiting);
  at.waiting.reset();
  spawn.env.push_back(absl::StrCat("MASTER_PORT=", port));
  Launch(std::move(at), spawn);
}

void Worker::KeepUnstarted(Attempt a, v1::AttemptResult::Outcome outcome,
                           const std::string& reason) {
  EndUnstarted(a, outcome, reason);
  absl::MutexLock lock(&mu_);
  attempts_[a.id] = std::move(a);
}

void Worker::EndUnstarted(Attempt& a, v1::AttemptResult::Outcome outcome,
                          const std::string& reason) {
  a.waiting.reset();
  a.finished = true;
  a.result.set_attempt_id(a.id);
  a.result.set_outcome(outcome);
  a.result.set_exit_code(-1);
  a.result.set_reason(reason);
}

absl::StatusOr<SpawnOptions> Worker::Prepare(const v1::Assignment& a,
                                             Attempt* at) {
  LaunchContext context;
  for (int g : a.gpu_indices()) {
    if (g >= 0 && g < static_cast<int>(options_.gpus.size()))
      context.gpu_ordinals.push_back(options_.gpus[g]);
  }
  context.cpu_slots = a.cpu_slots();
  context.gpu_share_milli = a.gpu_share_milli();
  context.exec_helper = options_.exec_helper;
  context.python_dir = options_.python_dir;
  context.parent_pid = getpid();
  nlohmann::json spec = nlohmann::json::parse(a.spec_json(), nullptr, false);
  if (!spec.is_object())
    return absl::InvalidArgumentError("the job's spec is not a JSON object");
  std::optional<CommandJob> command;
  if (a.kind() == "command") {
    absl::StatusOr<CommandJob> job = CommandJobFromJson(spec);
    if (!job.ok()) return job.status();
    command = *std::move(job);
    at->layout = CommandLayout(at->dir, *command);
    at->timers.memory_limit_bytes = command->memory_bytes;
  } else {
    at->layout = TrainLayout(at->dir);
  }
  const AttemptLayout& l = at->layout;
  std::error_code ec;
  if (command && !command->code_sha256.empty()) {
    // The code first: the working directory starts as its contents.
    ASSIGN_OR_RETURN(const std::string archive,
                     FetchCode(command->code_sha256));
    // The coordinator enforced its limits; this check is for the entries.
    if (absl::Status st = UnpackArchive(archive, l.work_dir, UnlimitedCode());
        !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot unpack the code: ", st.message()));
    }
  }
  for (const std::string& d : {l.work_dir, l.output_dir, l.checkpoint_dir}) {
    fs::create_directories(d, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("worker cannot create the attempt directory ", d, ": ",
                       ec.message()));
    }
  }
  if (absl::Status st = DownloadInputs(a, l.work_dir); !st.ok())
    return absl::UnavailableError(
        absl::StrCat("cannot fetch the inputs: ", st.message()));
  if (a.has_checkpoint()) {
    if (absl::Status st = RestoreCheckpoint(a, l); !st.ok()) {
      return absl::UnavailableError(
          absl::StrCat("cannot restore the checkpoint: ", st.message()));
    }
  }
  if (command) {
    std::ofstream(l.work_dir + "/params.json") << command->params.dump(2);
    return CommandSpawn(a, *command, l, context);
  }
  if (spec.value("threads", 0) == 0 && a.cpu_slots() > 0)
    spec["threads"] = a.cpu_slots();
  const std::string spec_path = at->dir + "/spec.json";
  std::ofstream(spec_path) << spec.dump(2);
  return TrainSpawn(options_.trainer, spec_path, l, context);
}

void Worker::Cancel(int64_t attempt_id, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  auto it = attempts_.find(attempt_id);
  if (it == attempts_.end()) return;
  Attempt& a = it->second;
  a.timers.cancel_requested = true;
  if (a.waiting) {
    EndUnstarted(a, v1::AttemptResult::OUTCOME_CANCELLED,
                 "cancelled before it started: " + reason);
    return;
  }
  if (!a.finished && a.pid > 0 && a.timers.term_sent_ms == 0) {
    LOG(INFO) << "attempt " << attempt_id << ": stopping (" << reason << ")";
    RequestStop(a);
    a.timers.term_sent_ms = NowMs();
  }
}

void Worker::PollChild(int64_t id, Attempt& a,
                       std::vector<v1::WorkerMessage>* out) {
  if (a.waiting) {
    if (NowMs() > a.wait_deadline_ms) {
      EndUnstarted(a, v1::AttemptResult::OUTCOME_FAILED,
                   absl::StrCat("rank 0 of its gang reported no port within ",
                                options_.rendezvous_timeout_ms, " ms"));
    }
    return;
  }
  // Reap first, read after: once the child has exited, this read sees all it
  // wrote.
  int status = 0;
  const bool exited = a.pid > 0 && waitpid(a.pid, &status, WNOHANG) == a.pid;
  if (!exited && a.pid > 0) {
    switch (NextSignal(a.timers, NowMs(), options_.kill_grace_ms)) {
      case ChildSignal::kTerm:
        LOG(INFO) << "attempt " << id << ": timed out after "
                  << a.timers.timeout_seconds << " s; stopping";
        RequestStop(a);
        break;
      case ChildSignal::kKill:  // it ignored SIGTERM (or hangs in it)
        LOG(WARNING) << "attempt " << id << ": still running "
                     << options_.kill_grace_ms << " ms after SIGTERM; SIGKILL";
        kill(-a.pid, SIGKILL);
        break;
      case ChildSignal::kNone:
        break;
    }
  }
  // Between ticks the poller wakes for starts and exits: the other running
  // children's memory and files wait for the next tick (100 ms).
  const int64_t now = NowMs();
  if (!exited && now - a.last_relay_ms < kRelayIntervalMs) return;
  a.last_relay_ms = now;
  if (!exited) EnforceMemoryLimit(a);
  RelayMetrics(a, out);
  RelayLogs(a, exited, out);
  NoteCheckpoint(a);
  if (!exited) return;
  a.finished = true;
  if (a.pidfd >= 0) ::close(a.pidfd);
  a.pidfd = -1;
  a.result = ExitResult(id, status, a.timers, a.layout);
  LOG(INFO) << "attempt " << id << " ended with code " << a.result.exit_code();
  if (metrics_) {
    const auto o = a.result.outcome();
    (o == v1::AttemptResult::OUTCOME_SUCCEEDED   ? metrics_->succeeded
     : o == v1::AttemptResult::OUTCOME_CANCELLED ? metrics_->cancelled
                                                 : metrics_->failed)
        .Increment();
  }
}

void Worker::EnforceMemoryLimit(Attempt& a) {
  const int64_t limit = a.timers.memory_limit_bytes;
  if (limit <= 0 || a.timers.memory_exceeded_bytes > 0) return;
  const int64_t resident = GroupResidentBytes(a.pid);
  if (resident <= limit) return;
  LOG(WARNING) << "attempt " << a.id << ": " << resident
               << " bytes resident, over memory_bytes = " << limit
               << "; SIGKILL";
  a.timers.memory_exceeded_bytes = resident;
  kill(-a.pid, SIGKILL);
}

void Worker::RelayLogs(Attempt& a, bool exited,
                       std::vector<v1::WorkerMessage>* out) {
  // Each stream is relayed up to --log_cap_bytes (a flooding child cannot
  // swamp the coordinator) and kept on disk under --log_file_cap_bytes.
  for (auto [stream, offset] : {std::pair{"stdout", &a.stdout_offset},
                                std::pair{"stderr", &a.stderr_offset}}) {
    const std::string& path = std::string(stream) == "stdout"
                                  ? a.layout.stdout_log
                                  : a.layout.stderr_log;
    const int64_t dropped = CapLogFile(path, options_.log_file_cap_bytes);
    if (dropped > 0 && metrics_)
      metrics_->log_bytes_dropped.Increment(static_cast<double>(dropped));
    for (v1::WorkerMessage& m : ReadLogChunks(
             a.id, stream, path, options_.log_cap_bytes, exited, offset)) {
      if (metrics_)
        metrics_->log_bytes.Increment(
            static_cast<double>(m.logs().data().size()));
      out->push_back(std::move(m));
    }
  }
}

void Worker::NoteCheckpoint(Attempt& a) {
  if (a.rank > 0) return;  // a gang's checkpoint is rank 0's
  struct stat marker;
  if (::stat(a.layout.checkpoint_saved_file.c_str(), &marker) != 0) return;
  const int64_t ns =
      marker.st_mtim.tv_sec * 1'000'000'000LL + marker.st_mtim.tv_nsec;
  if (ns == a.checkpoint_marker_ns) return;
  a.checkpoint_marker_ns = ns;
  a.checkpoint_pending = true;
}

void Worker::RelayMetrics(Attempt& a, std::vector<v1::WorkerMessage>* out) {
  if (a.rank > 0) return;     // a gang's metrics are rank 0's
  constexpr int kQuoted = 5;  // malformed lines quoted per attempt
  std::vector<std::string> malformed;
  if (auto m = ReadMetricLines(a.id, a.layout.metrics_file, &a.metrics_offset,
                               &malformed)) {
    if (metrics_)
      metrics_->metric_lines.Increment(m->metrics().jsonl_lines_size());
    out->push_back(std::move(*m));
  }
  if (malformed.empty()) return;
  if (metrics_) metrics_->metric_lines_skipped.Increment(malformed.size());
  std::string notice;
  for (const std::string& line : malformed) {
    if (++a.malformed_metric_lines > kQuoted) break;
    absl::StrAppend(&notice,
                    "[ladle-worker] skipped a metrics line (not a JSON object "
                    "with an integer \"step\" >= 0): ",
                    line.substr(0, 200), line.size() > 200 ? "..." : "", "\n");
    if (a.malformed_metric_lines == kQuoted) {
      notice +=
          "[ladle-worker] further malformed metrics lines are skipped "
          "without notice\n";
    }
  }
  if (notice.empty()) return;
  v1::WorkerMessage m;
  m.mutable_logs()->set_attempt_id(a.id);
  m.mutable_logs()->set_stream("stderr");
  m.mutable_logs()->set_data(std::move(notice));
  out->push_back(std::move(m));
}

void Worker::WaitForChildren(int timeout_ms) {
  // A new child's start rings wake_fd_: it is then polled too.
  std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, a] : attempts_)
      if (!a.finished && a.pidfd >= 0) fds.push_back({a.pidfd, POLLIN, 0});
  }
  // A descriptor closed meanwhile (its child was reaped) at worst ends the
  // wait early.
  ::poll(fds.data(), fds.size(), timeout_ms);
  uint64_t rings;
  if (fds[0].revents & POLLIN) ::read(wake_fd_, &rings, sizeof(rings));
}

void Worker::RequestStop(Attempt& a) {
  // Programs that poll (the ladle module's should_stop) see the file; the
  // others get SIGTERM.
  std::ofstream(a.layout.stop_file) << "stop\n";
  kill(-a.pid, SIGTERM);
}

void Worker::UploadCheckpoints() {
  std::vector<std::tuple<int64_t, AttemptLayout, int64_t>> todo;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, a] : attempts_) {
      if (a.checkpoint_pending)
        todo.emplace_back(id, a.layout, a.checkpoint_marker_ns);
    }
  }
  for (const auto& [id, layout, marker] : todo) {
    const std::string archive = layout.dir + "/checkpoint-upload.tar.gz";
    absl::Status st =
        PackDirectory(layout.checkpoint_dir, archive, UnlimitedCode()).status();
    if (st.ok()) st = UploadFile(id, archive, kCheckpointArtifact);
    std::remove(archive.c_str());
    // Unreachable coordinator, or the program rewrote it meanwhile: retry.
    if (absl::IsUnavailable(st) || absl::IsAborted(st)) continue;
    if (!st.ok()) {
      LOG(WARNING) << "attempt " << id << ": checkpoint not uploaded: " << st;
    } else {
      LOG(INFO) << "attempt " << id << ": checkpoint uploaded";
    }
    absl::MutexLock lock(&mu_);
    auto it = attempts_.find(id);
    if (it != attempts_.end() && it->second.checkpoint_marker_ns == marker)
      it->second.checkpoint_pending = false;
  }
}

absl::Status Worker::RestoreCheckpoint(const v1::Assignment& a,
                                       const AttemptLayout& layout) {
  const v1::InputArtifact& ck = a.checkpoint();
  if (absl::EndsWith(ck.name(), ".safetensors")) {
    // A promoted search segment of ladle-train: the previous segment's
    // model, which ladle-train resumes from as the job's checkpoint.
    ASSIGN_OR_RETURN(
        v1::ArtifactHeader header,
        DownloadArtifactTo(ck.job_id(), ck.name(),
                           layout.checkpoint_dir + "/checkpoint.safetensors"));
    LOG(INFO) << "attempt " << a.attempt_id() << ": resumes " << ck.job_id()
              << "'s " << ck.name() << " (" << header.size_bytes() << " bytes)";
    return absl::OkStatus();
  }
  const std::string archive = layout.dir + "/restored-checkpoint.tar.gz";
  ASSIGN_OR_RETURN(v1::ArtifactHeader header,
                   DownloadArtifactTo(ck.job_id(), ck.name(), archive));
  RETURN_IF_ERROR(
      UnpackArchive(archive, layout.checkpoint_dir, UnlimitedCode()));
  std::remove(archive.c_str());
  LOG(INFO) << "attempt " << a.attempt_id()
            << ": restored the job's latest checkpoint (" << header.size_bytes()
            << " bytes packed)";
  return absl::OkStatus();
}

void Worker::Poll() {
  std::vector<v1::WorkerMessage> out;
  {
    absl::MutexLock lock(&mu_);
    int running = 0;
    for (auto& [id, a] : attempts_) {
      if (!a.finished) PollChild(id, a, &out);
      running += !a.finished;
    }
    if (metrics_) metrics_->running.Set(running);
  }
  for (const auto& m : out) Send(m);
  UploadCheckpoints();
  UploadFinished();
  DeliverResults();
}

void Worker::UploadFinished() {
  std::vector<std::pair<int64_t, AttemptLayout>> to_upload;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, a] : attempts_) {
      if (!a.finished || a.uploaded) continue;
      if (a.rank > 0) {
        a.uploaded = true;  // a gang's outputs are rank 0's
      } else if (a.result.outcome() == v1::AttemptResult::OUTCOME_SUCCEEDED) {
        to_upload.emplace_back(id, a.layout);
      }
    }
  }
  for (const auto& [id, layout] : to_upload) {
    absl::Status st = UploadOutputs(id, layout);
    absl::MutexLock lock(&mu_);
    auto it = attempts_.find(id);
    if (it == attempts_.end()) continue;
    if (st.ok()) {
      it->second.uploaded = true;
    } else if (absl::IsUnavailable(st)) {
      continue;  // coordinator unreachable: try again next poll
    } else {
      it->second.uploaded = true;
      it->second.result.set_outcome(v1::AttemptResult::OUTCOME_FAILED);
      it->second.result.set_reason(
          absl::StrCat("uploading outputs failed: ", st.message()));
    }
  }
}

void Worker::DeliverResults() {
  // Results go out once there is a session to take them.
  absl::MutexLock lock(&mu_);
  if (stream_ == nullptr) return;
  std::vector<int64_t> delivered;
  for (auto& [id, a] : attempts_) {
    if (!a.finished || a.checkpoint_pending) continue;
    if (a.result.outcome() == v1::AttemptResult::OUTCOME_SUCCEEDED &&
        !a.uploaded)
      continue;
    v1::WorkerMessage m;
    *m.mutable_result() = a.result;
    if (stream_->Write(m)) delivered.push_back(id);
  }
  for (int64_t id : delivered) attempts_.erase(id);
}

absl::StatusOr<std::string> Worker::FetchCode(const std::string& sha256) {
  const fs::path cache = fs::path(options_.work_dir) / "code";
  const std::string path = (cache / (sha256 + ".tar.gz")).string();
  std::error_code ec;
  if (fs::exists(path, ec)) return path;  // verified when it was fetched
  fs::create_directories(cache, ec);
  auto stub = v1::WorkerService::NewStub(channel_);
  grpc::ClientContext ctx;
  AddBearerToken(&ctx, options_.token);
  v1::DownloadCodeRequest req;
  req.set_sha256(sha256);
  auto reader = stub->DownloadCode(&ctx, req);
  // ReadChunksToFile checks size and hash before the file takes its name.
  absl::StatusOr<v1::ArtifactHeader> header =
      ReadChunksToFile(reader.get(), path);
  grpc::Status st = reader->Finish();
  if (!st.ok()) {
    std::remove((path + ".part").c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot fetch the code archive: ", st.error_message()));
  }
  if (!header.ok()) return header.status();
  if (header->sha256() != sha256) {
    std::remove(path.c_str());
    return absl::DataLossError("the code archive sent is not the one asked");
  }
  return path;
}

absl::StatusOr<v1::ArtifactHeader> Worker::DownloadArtifactTo(
    const std::string& job_id, const std::string& name,
    const std::string& path) {
  auto stub = v1::WorkerService::NewStub(channel_);
  grpc::ClientContext ctx;
  AddBearerToken(&ctx, options_.token);
  v1::DownloadArtifactRequest req;
  req.set_job_id(job_id);
  req.set_name(name);
  auto reader = stub->DownloadArtifact(&ctx, req);
  absl::StatusOr<v1::ArtifactHeader> header =
      ReadChunksToFile(reader.get(), path);
  grpc::Status st = reader->Finish();
  if (!st.ok()) {
    return absl::UnavailableError(
        absl::StrCat(job_id, "/", name, ": ", st.error_message()));
  }
  return header;
}

absl::Status Worker::DownloadInputs(const v1::Assignment& a,
                                    const std::string& dir) {
  for (const v1::InputArtifact& in : a.inputs()) {
    const fs::path rel(in.path());
    bool safe = !in.path().empty() && rel.is_relative();
    for (const auto& part : rel) safe &= part != ".." && part != ".";
    if (!safe) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input path '", in.path(), "' is not a plain relative path"));
    }
    const fs::path dest = fs::path(dir) / rel;
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    ASSIGN_OR_RETURN(v1::ArtifactHeader header,
                     DownloadArtifactTo(in.job_id(), in.name(), dest.string()));
    if (header.sha256() != in.sha256()) {
      return absl::DataLossError(absl::StrCat(in.job_id(), "/", in.name(),
                                              ": not the artifact assigned"));
    }
  }
  return absl::OkStatus();
}

absl::Status Worker::UploadOutputs(int64_t attempt_id,
                                   const AttemptLayout& layout) {
  // The protocol's files first, then the outputs by their relative paths
  // (in name order; links are not followed: they may point anywhere).
  std::vector<std::pair<std::string, std::string>> files = {
      {layout.metrics_file, "metrics.jsonl"},
      {layout.summary_file, "summary.json"}};
  std::vector<std::pair<std::string, std::string>> outputs;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(layout.output_dir, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    const std::string path = it->path().string();
    if (path == layout.metrics_file || path == layout.summary_file) continue;
    const std::string name =
        layout.output_prefix +
        fs::relative(it->path(), layout.output_dir, ec).generic_string();
    if (!IsValidArtifactName(name)) {
      LOG(WARNING) << "attempt " << attempt_id << ": output " << path
                   << " not uploaded: its name is not an artifact name";
      continue;
    }
    outputs.emplace_back(path, name);
  }
  std::sort(outputs.begin(), outputs.end());
  files.insert(files.end(), outputs.begin(), outputs.end());
  for (const auto& [path, name] : files) {
    if (!fs::exists(path)) continue;  // not every run writes every file
    RETURN_IF_ERROR(UploadFile(attempt_id, path, name));
  }
  return absl::OkStatus();
}

absl::Status Worker::UploadFile(int64_t attempt_id, const std::string& path,
                                const std::string& name) {
  // Pass 1: size and hash; pass 2: send.
  int64_t size = 0;
  const std::string sha256 = Sha256OfFile(path, &size);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (sha256.empty() || f == nullptr) {  // gone meanwhile
    if (f != nullptr) std::fclose(f);
    return absl::OkStatus();
  }
  auto stub = v1::WorkerService::NewStub(channel_);
  grpc::ClientContext ctx;
  AddBearerToken(&ctx, options_.token);
  v1::UploadArtifactResponse resp;
  auto writer = stub->UploadArtifact(&ctx, &resp);
  v1::ArtifactHeader header;
  header.set_attempt_id(attempt_id);
  header.set_name(name);
  header.set_size_bytes(size);
  header.set_sha256(sha256);
  WriteFileChunks(f, header, writer.get());  // Finish() reports a broken stream
  std::fclose(f);
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat(name, ": ", st.error_message()));
  }
  if (metrics_) metrics_->upload_bytes.Increment(static_cast<double>(size));
  return absl::OkStatus();
}

}  // namespace ladle
